//! Unzipping the artifact into the function's directory, as Lambda does into `/var/task`:
//! the zip's permission bits are kept (a `bootstrap` stays executable), and no entry may
//! land outside the directory.

use std::io;
use std::path::Path;

use crate::error::{Error, IoContext, Result};

/// Extract `zip` into `dest` (which must exist). Returns the number of files.
pub(crate) fn unpack(zip: &Path, dest: &Path) -> Result<usize> {
    let mut archive = crate::package::zip::open_zip(zip)?;
    let mut files = 0;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| {
            Error::package(
                format!("can't read entry {i} of {}: {e}", zip.display()),
                "rebuild the artifact",
            )
        })?;
        let Some(rel) = entry.enclosed_name() else {
            return Err(Error::package(
                format!(
                    "{} holds an entry that would land outside the function's directory: {:?}",
                    zip.display(),
                    entry.name().map(|n| n.into_owned()).unwrap_or_default()
                ),
                "rebuild the zip with paths relative to the function root",
            ));
        };
        let path = dest.join(&rel);
        if entry.is_dir() {
            std::fs::create_dir_all(&path).at("can't create", &path)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).at("can't create", parent)?;
        }
        let mut out = std::fs::File::create(&path).at("can't write", &path)?;
        io::copy(&mut entry, &mut out).at("can't unzip into", &path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let name = rel.to_string_lossy();
            let mode = if crate::package::zip::is_executable(&name, entry.unix_mode()) {
                0o755
            } else {
                0o644
            };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .at("can't set the mode of", &path)?;
        }
        files += 1;
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::zip::{Entry, write_zip};

    #[test]
    fn keeps_executable_bits_and_layout() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("bootstrap"), "#!/bin/sh\n").unwrap();
        std::fs::create_dir_all(src.path().join("pkg")).unwrap();
        std::fs::write(src.path().join("pkg/mod.py"), "x = 1\n").unwrap();
        let zip = src.path().join("a.zip");
        write_zip(
            vec![
                Entry {
                    name: "bootstrap".into(),
                    source: src.path().join("bootstrap"),
                    executable: true,
                },
                Entry {
                    name: "pkg/mod.py".into(),
                    source: src.path().join("pkg/mod.py"),
                    executable: false,
                },
            ],
            &zip,
        )
        .unwrap();
        let dest = tempfile::tempdir().unwrap();
        assert_eq!(unpack(&zip, dest.path()).unwrap(), 2);
        assert_eq!(
            std::fs::read_to_string(dest.path().join("pkg/mod.py")).unwrap(),
            "x = 1\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &str| {
                std::fs::metadata(dest.path().join(p))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777
            };
            assert_eq!(mode("bootstrap"), 0o755);
            assert_eq!(mode("pkg/mod.py"), 0o644);
        }
    }
}
