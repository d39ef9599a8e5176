//! Deterministic zips: sorted entries, a fixed timestamp, fixed permissions (0755 for
//! executables, 0644 otherwise), no directory entries. The same files give the same bytes,
//! so the same sha256, so the same S3 key, so a re-run uploads nothing.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

use crate::error::{Error, IoContext, Result};

/// Permission bits of an executable entry.
pub(crate) const MODE_EXEC: u32 = 0o755;
/// Permission bits of any other entry.
pub(crate) const MODE_FILE: u32 = 0o644;

/// A file to put into the zip: its name inside the archive and where to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// `/`-separated path inside the archive.
    pub name: String,
    pub source: PathBuf,
    pub executable: bool,
}

/// Whether an entry must be executable: it has an executable bit, or it is a `bootstrap`
/// (Lambda execs it; a zip made on Windows loses the bit).
#[must_use]
pub(crate) fn is_executable(name: &str, mode: Option<u32>) -> bool {
    name == "bootstrap" || name.ends_with("/bootstrap") || mode.is_some_and(|m| m & 0o111 != 0)
}

fn options(executable: bool) -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::default())
        .unix_permissions(if executable { MODE_EXEC } else { MODE_FILE })
        .large_file(false)
}

/// Write `entries` (sorted here by name) into a deterministic zip at `out`.
pub(crate) fn write_zip(mut entries: Vec<Entry>, out: &Path) -> Result<()> {
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    entries.dedup_by(|a, b| a.name == b.name);
    let file = File::create(out).at("can't create", out)?;
    let mut zip = ZipWriter::new(BufWriter::with_capacity(1 << 20, file));
    for entry in &entries {
        zip.start_file(entry.name.as_str(), options(entry.executable))
            .map_err(|e| zip_error(out, &e))?;
        let mut src = File::open(&entry.source).at("can't read", &entry.source)?;
        io::copy(&mut src, &mut zip).at("can't read", &entry.source)?;
    }
    let mut w = zip.finish().map_err(|e| zip_error(out, &e))?;
    w.flush().at("can't write", out)?;
    Ok(())
}

/// Every regular file below `dir` (following symlinks), as entries named relative to it.
pub(crate) fn dir_entries(dir: &Path, exclude: &globset::GlobSet) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for item in walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
    {
        let item = item.map_err(|e| {
            Error::io(
                format!("can't read {}", dir.display()),
                e.into_io_error()
                    .unwrap_or_else(|| io::Error::other("filesystem loop")),
            )
        })?;
        if !item.file_type().is_file() {
            continue;
        }
        let rel = item
            .path()
            .strip_prefix(dir)
            .map_err(|_| Error::Internal("walkdir left its root".into()))?;
        let name = archive_name(rel);
        if exclude.is_match(&name) {
            continue;
        }
        let mode = file_mode(item.path())?;
        entries.push(Entry {
            executable: is_executable(&name, mode),
            name,
            source: item.path().to_path_buf(),
        });
    }
    Ok(entries)
}

/// `a/b/c` with forward slashes whatever the platform.
#[must_use]
pub(crate) fn archive_name(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(unix)]
fn file_mode(path: &Path) -> Result<Option<u32>> {
    use std::os::unix::fs::PermissionsExt;
    Ok(Some(
        std::fs::metadata(path)
            .at("can't stat", path)?
            .permissions()
            .mode(),
    ))
}

#[cfg(not(unix))]
fn file_mode(_path: &Path) -> Result<Option<u32>> {
    Ok(None)
}

/// Rewrite a zip deterministically without recompressing: entries sorted, timestamps and
/// permissions fixed, directory entries and `exclude` matches dropped. Returns `false`
/// (and writes nothing) when `src` is already in that form, so it can be used as is.
pub(crate) fn normalize_zip(src: &Path, out: &Path, exclude: &globset::GlobSet) -> Result<bool> {
    let mut archive = open_zip(src)?;
    let mut names: Vec<(String, usize)> = Vec::with_capacity(archive.len());
    let mut already_normal = true;
    let mut previous: Option<String> = None;
    for i in 0..archive.len() {
        let file = archive.by_index_raw(i).map_err(|e| zip_error(src, &e))?;
        let name = file.name().map_err(|e| zip_error(src, &e))?.to_string();
        if file.is_dir() || exclude.is_match(&name) {
            already_normal = false;
            continue;
        }
        check_entry_name(src, &name)?;
        let exec = is_executable(&name, file.unix_mode());
        let want = if exec { MODE_EXEC } else { MODE_FILE };
        if file.unix_mode().map(|m| m & 0o7777) != Some(want)
            || file.last_modified() != Some(DateTime::default())
            || previous.as_deref().is_some_and(|p| p >= name.as_str())
            || !file.extra_data().is_none_or(|d| d.is_empty())
        {
            already_normal = false;
        }
        previous = Some(name.clone());
        names.push((name, i));
    }
    if already_normal {
        return Ok(false);
    }
    names.sort();
    names.dedup_by(|a, b| a.0 == b.0);
    let file = File::create(out).at("can't create", out)?;
    let mut zip = ZipWriter::new(BufWriter::with_capacity(1 << 20, file));
    for (name, i) in &names {
        let entry = archive.by_index_raw(*i).map_err(|e| zip_error(src, &e))?;
        let mode = if is_executable(name, entry.unix_mode()) {
            MODE_EXEC
        } else {
            MODE_FILE
        };
        zip.raw_copy_file_touch(entry, DateTime::default(), Some(mode))
            .map_err(|e| zip_error(out, &e))?;
    }
    let mut w = zip.finish().map_err(|e| zip_error(out, &e))?;
    w.flush().at("can't write", out)?;
    Ok(true)
}

/// Entry names that would escape the function's directory are refused.
fn check_entry_name(zip: &Path, name: &str) -> Result<()> {
    if name.starts_with('/') || name.split('/').any(|part| part == "..") || name.contains('\\') {
        return Err(Error::package(
            format!("{} holds an unsafe entry name {name:?}", zip.display()),
            "rebuild the zip with paths relative to the function root",
        ));
    }
    Ok(())
}

pub(crate) fn open_zip(path: &Path) -> Result<ZipArchive<BufReader<File>>> {
    let file = File::open(path).at("can't open", path)?;
    ZipArchive::new(BufReader::new(file)).map_err(|e| {
        Error::package(
            format!("{} is not a readable zip: {e}", path.display()),
            "pass a .zip made by `zip`, cargo-lambda or `deploy-action package`, or a directory",
        )
    })
}

fn zip_error(path: &Path, e: &zip::result::ZipError) -> Error {
    Error::package(
        format!("zip error on {}: {e}", path.display()),
        "check the artifact and the disk space of the temporary directory",
    )
}

/// sha256 of a file, streamed.
pub(crate) fn sha256_file(path: &Path) -> Result<[u8; 32]> {
    let mut file = File::open(path).at("can't read", path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).at("can't read", path)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}

/// One file of a zip as seen by the checks: name, unzipped size, and its first bytes.
#[derive(Debug, Clone)]
pub(crate) struct ScannedEntry {
    pub name: String,
    pub size: u64,
    pub header: Vec<u8>,
}

/// List a zip's files with their sizes and first 20 bytes (enough for an ELF header).
pub(crate) fn scan<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    path: &Path,
) -> Result<Vec<ScannedEntry>> {
    let mut out = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).map_err(|e| zip_error(path, &e))?;
        if file.is_dir() {
            continue;
        }
        let name = file.name().map_err(|e| zip_error(path, &e))?.to_string();
        let size = file.size();
        let mut header = Vec::with_capacity(20);
        (&mut file).take(20).read_to_end(&mut header).map_err(|e| {
            Error::package(
                format!("can't read {name} in {}: {e}", path.display()),
                "the zip is damaged; rebuild it",
            )
        })?;
        out.push(ScannedEntry { name, size, header });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(root: &Path, files: &[(&str, &str)]) {
        for (name, body) in files {
            let p = root.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, body).unwrap();
        }
    }

    fn none() -> globset::GlobSet {
        globset::GlobSet::empty()
    }

    #[test]
    fn same_files_same_bytes_whatever_the_mtimes() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        tree(
            a.path(),
            &[("b.txt", "B"), ("a/x.py", "print(1)"), ("bootstrap", "#!")],
        );
        std::thread::sleep(std::time::Duration::from_millis(1100));
        tree(
            b.path(),
            &[("bootstrap", "#!"), ("a/x.py", "print(1)"), ("b.txt", "B")],
        );
        let out = tempfile::tempdir().unwrap();
        let za = out.path().join("a.zip");
        let zb = out.path().join("b.zip");
        write_zip(dir_entries(a.path(), &none()).unwrap(), &za).unwrap();
        write_zip(dir_entries(b.path(), &none()).unwrap(), &zb).unwrap();
        assert_eq!(sha256_file(&za).unwrap(), sha256_file(&zb).unwrap());

        let mut archive = open_zip(&za).unwrap();
        let names: Vec<String> = archive
            .file_names()
            .map(|n| n.unwrap().to_string())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        let boot = archive.by_name("bootstrap").unwrap();
        assert_eq!(boot.unix_mode().unwrap() & 0o777, 0o755);
    }

    #[test]
    fn normalizing_is_idempotent() {
        let a = tempfile::tempdir().unwrap();
        tree(a.path(), &[("z.txt", "Z"), ("bootstrap", "#!")]);
        let out = tempfile::tempdir().unwrap();
        // An unsorted zip with real timestamps, as `zip` makes.
        let messy = out.path().join("messy.zip");
        {
            let mut zip = ZipWriter::new(File::create(&messy).unwrap());
            let opts = SimpleFileOptions::default()
                .last_modified_time(DateTime::from_date_and_time(2024, 5, 6, 7, 8, 10).unwrap())
                .unix_permissions(0o600);
            zip.start_file("z.txt", opts).unwrap();
            zip.write_all(b"Z").unwrap();
            zip.add_directory("dir/", opts).unwrap();
            zip.start_file("bootstrap", opts).unwrap();
            zip.write_all(b"#!").unwrap();
            zip.finish().unwrap();
        }
        let clean = out.path().join("clean.zip");
        assert!(normalize_zip(&messy, &clean, &none()).unwrap());
        let again = out.path().join("again.zip");
        assert!(
            !normalize_zip(&clean, &again, &none()).unwrap(),
            "already normal"
        );
        let mut archive = open_zip(&clean).unwrap();
        assert_eq!(
            archive
                .file_names()
                .map(|n| n.unwrap().to_string())
                .collect::<Vec<_>>(),
            vec!["bootstrap", "z.txt"]
        );
        assert_eq!(
            archive.by_name("bootstrap").unwrap().unix_mode().unwrap() & 0o777,
            0o755
        );
        assert_eq!(
            archive.by_name("z.txt").unwrap().unix_mode().unwrap() & 0o777,
            0o644
        );
    }

    #[test]
    fn unsafe_names_are_refused() {
        let out = tempfile::tempdir().unwrap();
        let evil = out.path().join("evil.zip");
        {
            let mut zip = ZipWriter::new(File::create(&evil).unwrap());
            zip.start_file("../etc/passwd", SimpleFileOptions::default())
                .unwrap();
            zip.write_all(b"x").unwrap();
            zip.finish().unwrap();
        }
        let err = normalize_zip(&evil, &out.path().join("o.zip"), &none()).unwrap_err();
        assert!(err.to_string().contains("unsafe entry"), "{err}");
    }
}
