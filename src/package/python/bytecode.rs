//! Bytecode for the runtime's exact CPython (issue 20 §2): Lambda's `/var/task` is read-only, so
//! a bundle without `__pycache__/*.cpython-3XY.pyc` compiles every module it imports again on
//! every cold start (24.3 s → 9.5 s for the Flask hello under the emulated CPython 3.13 when all
//! of it is compiled). Bytecode is platform-independent but not version-independent, so it is
//! made by a CPython of the runtime's minor version: `python3.X` on PATH, a pyenv one, one in a
//! GitHub-hosted runner's tool cache, else the aarch64 root's (scripts/install-arm64-toolchain.sh)
//! under qemu-user. Without one the bundle ships without bytecode, and the build says so. What gets compiled, and how, is
//! `compile_bytecode.py`'s business (the modules imported at start-up, `unchecked-hash`,
//! reproducible).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::Target;
use super::installer::{tools_dir, which};
use crate::error::{Error, IoContext, Result};

const HELPER: &str = include_str!("compile_bytecode.py");

/// A CPython that can be run here: `program args... script...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Interpreter {
    program: PathBuf,
    args: Vec<OsString>,
    describe: String,
}

impl Interpreter {
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        // The helper is stdlib-only; the caller's Python settings must not change its output.
        for var in [
            "PYTHONPATH",
            "PYTHONHOME",
            "PYTHONSTARTUP",
            "PYTHONPYCACHEPREFIX",
            "PYTHONOPTIMIZE",
            "PYTHONSAFEPATH",
        ] {
            cmd.env_remove(var);
        }
        // Set constants (frozensets) are marshalled in hash order: a fixed seed keeps the
        // bytecode the same from build to build.
        cmd.env("PYTHONHASHSEED", "0");
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Whether this is CPython 3.`minor`.
    fn is_minor(&self, minor: u32) -> bool {
        let mut cmd = self.command();
        cmd.args([
            "-S",
            "-c",
            "import sys; print(sys.implementation.name, *sys.version_info[:2])",
        ]);
        cmd.stderr(Stdio::null());
        cmd.output().is_ok_and(|out| {
            out.status.success()
                && String::from_utf8_lossy(&out.stdout).trim() == format!("cpython 3 {minor}")
        })
    }
}

/// Candidates for CPython 3.`minor`, in order of preference (native before emulated).
fn candidates(minor: u32) -> Vec<Interpreter> {
    let exe = format!("python3.{minor}");
    let mut found = Vec::new();
    let path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(p) = which(&exe, &path) {
        found.push(Interpreter {
            describe: p.display().to_string(),
            program: p,
            args: Vec::new(),
        });
    }
    // pyenv's shims only answer for the selected version; its installs all work.
    let pyenv = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")));
    if let Some(versions) = pyenv.map(|p| p.join("versions")) {
        found.extend(installs(&versions, minor, Path::new("bin")));
    }
    // GitHub-hosted runners keep several CPythons in the tool cache without putting them on
    // PATH (actions/setup-python, docs/advanced-usage.md "Hosted tool cache":
    // RUNNER_TOOL_CACHE/Python/<version>/<arch>); the runtime's is usually among them.
    if let Some(cache) = std::env::var_os("RUNNER_TOOL_CACHE").filter(|c| !c.is_empty()) {
        let arch = if cfg!(target_arch = "aarch64") {
            "arm64"
        } else {
            "x64"
        };
        let versions = PathBuf::from(cache).join("Python");
        found.extend(installs(&versions, minor, &Path::new(arch).join("bin")));
    }
    // The aarch64 root's CPython under qemu-user (on an aarch64 host it needs no emulator, but
    // its libraries are the root's: still run through qemu's -L).
    let root = std::env::var_os("DEPLOY_ARM64_ROOT")
        .filter(|r| !r.is_empty())
        .map_or_else(|| tools_dir().join("arm64-root"), PathBuf::from);
    let python = root.join("usr/bin").join(&exe);
    if python.is_file()
        && let Some(qemu) = ["qemu-aarch64-static", "qemu-aarch64"]
            .iter()
            .find_map(|q| which(q, &path))
    {
        found.push(Interpreter {
            describe: format!(
                "{} under {}",
                python.display(),
                qemu.file_name().unwrap_or_default().to_string_lossy()
            ),
            program: qemu,
            args: vec!["-L".into(), root.into_os_string(), python.into_os_string()],
        });
    }
    found
}

/// `python3.<minor>` of every install `<versions>/3.<minor>.<patch>/<bin>/`, newest patch first.
fn installs(versions: &Path, minor: u32, bin: &Path) -> Vec<Interpreter> {
    let Ok(dir) = std::fs::read_dir(versions) else {
        return Vec::new();
    };
    let prefix = format!("3.{minor}.");
    let mut names: Vec<String> = dir
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    let patch = |n: &str| {
        n[prefix.len()..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0)
    };
    names.sort_by_key(|n| std::cmp::Reverse(patch(n)));
    names
        .iter()
        .map(|name| {
            versions
                .join(name)
                .join(bin)
                .join(format!("python3.{minor}"))
        })
        .filter(|p| p.is_file())
        .map(|p| Interpreter {
            describe: p.display().to_string(),
            program: p,
            args: Vec::new(),
        })
        .collect()
}

/// The first CPython 3.`minor` that runs here.
#[must_use]
pub(crate) fn find(target: &Target) -> Option<Interpreter> {
    candidates(target.minor)
        .into_iter()
        .find(|i| i.is_minor(target.minor))
}

/// Compile what the bundle in `staging` imports at start-up from `roots` (module names); the
/// number of `.pyc` written, or 0 (and one log line) when there is no CPython 3.X to do it.
pub(crate) fn compile(
    staging: &Path,
    roots: &[&str],
    target: &Target,
    work: &Path,
) -> Result<usize> {
    let Some(python) = find(target) else {
        tracing::warn!(
            "no CPython {} found (python3.{} on PATH, pyenv, the runner's tool cache, or the aarch64 root of scripts/install-arm64-toolchain.sh): the bundle ships without bytecode, so each cold start compiles the modules it imports; install python3.{} here (on GitHub: actions/setup-python with python-version 3.{}) to ship it, or pass --no-compile to silence this",
            target.python_version(),
            target.minor,
            target.minor,
            target.minor
        );
        return Ok(0);
    };
    let helper = work.join("compile_bytecode.py");
    std::fs::write(&helper, HELPER).at("can't write", &helper)?;
    let mut cmd = python.command();
    cmd.args(["-S", "-s", "-X", "no_debug_ranges"])
        .arg(&helper)
        .arg(staging)
        .args(roots);
    tracing::debug!("running {cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| Error::io(format!("can't run {}", python.describe), e))?;
    if !out.status.success() {
        return Err(Error::Build {
            message: format!(
                "compiling the bundle's bytecode with {} failed:\n{}",
                python.describe,
                String::from_utf8_lossy(&out.stderr).trim_end()
            ),
            help: Some("pass --no-compile (DEPLOY_NO_COMPILE=true) to ship the bundle without bytecode, and report this".into()),
            bad_input: false,
        });
    }
    let count = String::from_utf8_lossy(&out.stdout).lines().count();
    tracing::info!(
        "compiled {count} modules imported at start-up to bytecode for CPython {} with {}",
        target.python_version(),
        python.describe
    );
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installs_are_found_newest_patch_first_in_pyenv_and_tool_cache_layouts() {
        let root = tempfile::tempdir().unwrap();
        for (version, bin) in [
            ("3.13.1", "x64/bin"),
            ("3.13.10", "x64/bin"),
            ("3.12.9", "x64/bin"),
            ("3.13.2", "arm64/bin"),
        ] {
            let dir = root.path().join(version).join(bin);
            std::fs::create_dir_all(&dir).unwrap();
            let minor = version.split('.').nth(1).unwrap();
            std::fs::write(dir.join(format!("python3.{minor}")), "").unwrap();
        }
        let found: Vec<_> = installs(root.path(), 13, Path::new("x64/bin"))
            .into_iter()
            .map(|i| i.program.strip_prefix(root.path()).unwrap().to_path_buf())
            .collect();
        assert_eq!(
            found,
            vec![
                PathBuf::from("3.13.10/x64/bin/python3.13"),
                PathBuf::from("3.13.1/x64/bin/python3.13"),
            ]
        );
        assert!(installs(&root.path().join("missing"), 13, Path::new("bin")).is_empty());
    }
}
