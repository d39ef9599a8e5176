//! Python on the host: finding an interpreter of the runtime's version, and awslambdaric (the
//! runtime interface client of Lambda's own Python images) in a cached virtualenv.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The awslambdaric release serve installs (a wheel exists for CPython 3.10+ on manylinux
/// x86_64 and aarch64, so no compiler is needed).
pub(crate) const AWSLAMBDARIC_PIN: &str = "awslambdaric==4.2.2";

/// A Python interpreter on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostPython {
    /// The real executable (`sys.executable`), not a shim.
    pub executable: PathBuf,
    pub version: (u32, u32),
}

impl HostPython {
    #[must_use]
    pub(crate) fn version_text(&self) -> String {
        format!("{}.{}", self.version.0, self.version.1)
    }
}

/// `python3.13` → (3, 13).
#[must_use]
pub(crate) fn runtime_version(runtime: &str) -> Option<(u32, u32)> {
    let rest = runtime.strip_prefix("python")?;
    let (major, minor) = rest.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Where deploy-action keeps its tools and caches.
#[must_use]
pub(crate) fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DEPLOY_ACTION_TOOLS").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home).join(".cache/deploy-action"),
        None => std::env::temp_dir().join("deploy-action"),
    }
}

/// Ask an interpreter what it is. Shims (pyenv) that can't run that version fail here.
fn probe(program: &OsStr) -> Option<HostPython> {
    let out = Command::new(program)
        .args([
            "-c",
            "import sys; print(sys.executable); print('%d.%d' % sys.version_info[:2])",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let executable = PathBuf::from(lines.next()?.trim());
    let (major, minor) = lines.next()?.trim().split_once('.')?;
    Some(HostPython {
        executable,
        version: (major.parse().ok()?, minor.parse().ok()?),
    })
}

/// The host's Python for a runtime: `python3.X` of exactly that version if there is one (on
/// PATH, or installed by pyenv), else `python3` of whatever version (the caller warns).
#[must_use]
pub(crate) fn find_host_python(want: (u32, u32)) -> Option<HostPython> {
    let exact = format!("python{}.{}", want.0, want.1);
    if let Some(p) = probe(OsStr::new(&exact)).filter(|p| p.version == want) {
        return Some(p);
    }
    let pyenv_root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")));
    if let Some(root) = pyenv_root
        && let Ok(entries) = std::fs::read_dir(root.join("versions"))
    {
        let prefix = format!("{}.{}.", want.0, want.1);
        let mut versions: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .map(|e| e.path().join("bin").join(&exact))
            .collect();
        versions.sort();
        for candidate in versions.iter().rev() {
            if let Some(p) = probe(candidate.as_os_str()).filter(|p| p.version == want) {
                return Some(p);
            }
        }
    }
    probe(OsStr::new("python3"))
}

/// Native extensions in the bundle built for another CPython than `version`
/// (`*.cpython-313-*.so` on a 3.11 host), as `(file, tag)` pairs.
#[must_use]
pub(crate) fn foreign_extensions(task_root: &Path, version: (u32, u32)) -> Vec<(String, String)> {
    let want = format!("cpython-{}{}", version.0, version.1);
    walkdir::WalkDir::new(task_root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let tag = name
                .split('.')
                .find(|part| part.starts_with("cpython-3"))?
                .split('-')
                .take(2)
                .collect::<Vec<_>>()
                .join("-");
            (name.ends_with(".so") && tag != want).then(|| {
                let rel = e
                    .path()
                    .strip_prefix(task_root)
                    .unwrap_or(e.path())
                    .display()
                    .to_string();
                (rel, tag)
            })
        })
        .collect()
}

/// The venv's Python with awslambdaric installed, creating the venv on first use under
/// `tools/serve-venv-<version>`. `Err` says why it can't be had (no wheel for this
/// interpreter, no network, no venv module), for the caller to fall back or report.
pub(crate) fn ensure_awslambdaric(python: &HostPython, tools: &Path) -> Result<PathBuf, String> {
    if python.version < (3, 10) {
        return Err(format!(
            "{AWSLAMBDARIC_PIN} needs Python 3.10 or newer; this is {}",
            python.version_text()
        ));
    }
    let dir = tools.join(format!("serve-venv-{}", python.version_text()));
    let stamp_text = format!("{AWSLAMBDARIC_PIN}\n");
    let venv_python = |d: &Path| d.join("bin").join("python");
    // The pin matches and the venv still works (its base interpreter may have gone away).
    let ready = |d: &Path| {
        std::fs::read_to_string(d.join(STAMP)).is_ok_and(|s| s == stamp_text)
            && Command::new(venv_python(d))
                .args(["-c", "import awslambdaric"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    };
    if ready(&dir) {
        return Ok(venv_python(&dir));
    }
    std::fs::create_dir_all(tools).map_err(|e| format!("can't create {}: {e}", tools.display()))?;
    // Built aside and renamed into place: a concurrent serve never sees half a venv.
    let tmp = tools.join(format!(
        ".serve-venv-{}.tmp-{}",
        python.version_text(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    tracing::info!(
        "installing {AWSLAMBDARIC_PIN} into {} (first use; Python {})",
        dir.display(),
        python.version_text()
    );
    let result = (|| {
        run(
            Command::new(&python.executable)
                .arg("-m")
                .arg("venv")
                .arg(&tmp),
            "python -m venv",
        )?;
        // Binary wheels only: awslambdaric's source build needs a C++ compiler and cmake.
        run(
            Command::new(venv_python(&tmp)).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                "--only-binary=:all:",
                AWSLAMBDARIC_PIN,
            ]),
            "pip install",
        )?;
        std::fs::write(tmp.join(STAMP), &stamp_text).map_err(|e| e.to_string())?;
        if dir.exists() && !ready(&dir) {
            let _ = std::fs::remove_dir_all(&dir);
        }
        match std::fs::rename(&tmp, &dir) {
            Ok(()) => Ok(()),
            // Another serve finished first: use its venv.
            Err(_) if ready(&dir) => Ok(()),
            Err(e) => Err(format!("can't move the venv into {}: {e}", dir.display())),
        }
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result.map(|()| venv_python(&dir))
}

const STAMP: &str = ".deploy-action-serve";

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
    Err(format!(
        "{what} failed ({}): {}",
        out.status,
        tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_versions() {
        assert_eq!(runtime_version("python3.13"), Some((3, 13)));
        assert_eq!(runtime_version("python3.9"), Some((3, 9)));
        assert_eq!(runtime_version("provided.al2023"), None);
    }

    #[test]
    fn finds_extensions_of_other_versions() {
        let dir = tempfile::tempdir().unwrap();
        let pkg = dir.path().join("markupsafe");
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::write(pkg.join("_speedups.cpython-313-x86_64-linux-gnu.so"), b"").unwrap();
        std::fs::write(pkg.join("_native.cpython-311-x86_64-linux-gnu.so"), b"").unwrap();
        std::fs::write(pkg.join("__init__.py"), b"").unwrap();
        std::fs::write(pkg.join("plain.so"), b"").unwrap();
        let found = foreign_extensions(dir.path(), (3, 11));
        assert_eq!(
            found,
            vec![(
                "markupsafe/_speedups.cpython-313-x86_64-linux-gnu.so".to_string(),
                "cpython-313".to_string()
            )]
        );
    }
}
