//! Resolving and installing the dependencies for the function's platform, with uv when it is
//! available (fast; reads `pyproject.toml` and exports `uv.lock`) or pip of the host's python3.
//!
//! Both steps run for the target, not the host: `--python-platform`/`--platform` with the
//! runtime's manylinux level and architecture, `--python-version` of the runtime, and wheels only
//! (a source build here would produce binaries for this machine). Resolution comes first and
//! reports the whole set with what requires what, so the runtime's own packages can be left out
//! (`deps::prune_runtime_provided`); then exactly the kept set is installed with `--no-deps`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::Target;
use super::deps::{self, Declaration, Resolved};
use crate::error::{Error, IoContext, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Installer {
    Uv(PathBuf),
    /// pip, run as `python -m pip`.
    Pip(PathBuf),
}

/// The folder for deploy-action's tools and caches.
#[must_use]
pub(crate) fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DEPLOY_ACTION_TOOLS").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| OsString::from("."));
    PathBuf::from(home).join(".cache/deploy-action")
}

/// An executable called `name` on `path`.
pub(crate) fn which(name: &str, path: &std::ffi::OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

impl Installer {
    /// uv on PATH, else the uv of deploy-action's tools venv (scripts/install-tools.sh), else
    /// pip of python3 on PATH.
    pub(crate) fn find() -> Result<Installer> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        if let Some(uv) = which("uv", &path) {
            return Ok(Installer::Uv(uv));
        }
        let venv_uv = tools_dir().join("venv/bin/uv");
        if is_executable(&venv_uv) {
            return Ok(Installer::Uv(venv_uv));
        }
        if let Some(python) = which("python3", &path).or_else(|| which("python", &path)) {
            return Ok(Installer::Pip(python));
        }
        Err(Error::Build {
            message: "building a Python app needs uv or pip, and neither uv nor python3 is on PATH"
                .into(),
            help: Some(
                "install uv (`pip install uv`, or astral-sh/setup-uv in a workflow) or Python 3 with pip"
                    .into(),
            ),
            bad_input: true,
        })
    }

    #[must_use]
    pub(crate) fn describe(&self) -> String {
        match self {
            Installer::Uv(p) => format!("uv ({})", p.display()),
            Installer::Pip(p) => format!("pip ({} -m pip)", p.display()),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Installer::Uv(_) => "uv",
            Installer::Pip(_) => "pip",
        }
    }

    fn command(&self, source: &Path) -> Command {
        let mut cmd = match self {
            Installer::Uv(uv) => {
                let mut c = Command::new(uv);
                c.arg("--no-progress").args(["--color", "never"]);
                if std::env::var_os("UV_CACHE_DIR").is_none() {
                    c.env("UV_CACHE_DIR", tools_dir().join("uv-cache"));
                }
                if std::env::var_os("UV_PYTHON_DOWNLOADS").is_none() {
                    // Only wheels are installed, so no interpreter of the target's version is
                    // needed; without this uv tries to download one and waits on the network.
                    c.env("UV_PYTHON_DOWNLOADS", "never");
                }
                c
            }
            Installer::Pip(python) => {
                let mut c = Command::new(python);
                c.args(["-m", "pip"]);
                c.env("PIP_DISABLE_PIP_VERSION_CHECK", "1");
                if std::env::var_os("PIP_CACHE_DIR").is_none() {
                    c.env("PIP_CACHE_DIR", tools_dir().join("pip-cache"));
                }
                c
            }
        };
        // Relative paths in requirement files are relative to the app's directory.
        cmd.current_dir(source).stdin(Stdio::null());
        cmd
    }

    /// The platform and wheels-only flags of both steps.
    fn target_args(&self, target: &Target) -> Vec<String> {
        let mut args = Vec::new();
        match self {
            Installer::Uv(_) => {
                args.extend(["--python-platform".into(), target.uv_platform()]);
                args.extend(["--python-version".into(), target.python_version()]);
            }
            Installer::Pip(_) => {
                for platform in target.pip_platforms() {
                    args.extend(["--platform".into(), platform]);
                }
                args.extend(["--python-version".into(), target.python_version()]);
                args.extend(["--implementation".into(), "cp".into()]);
            }
        }
        args.extend(["--only-binary".into(), ":all:".into()]);
        args
    }

    /// Resolve what `decl` declares plus `extra` requirement lines (the adapter) for `target`.
    /// Returns index options to repeat at install time and the resolved packages.
    pub(crate) fn resolve(
        &self,
        decl: &Declaration,
        extra: &[String],
        target: &Target,
        source: &Path,
        work: &Path,
    ) -> Result<(Vec<String>, Vec<Resolved>)> {
        let mut inputs: Vec<PathBuf> = Vec::new();
        let mut constraints: Vec<PathBuf> = Vec::new();
        let write = |name: &str, lines: &[String]| -> Result<PathBuf> {
            let path = work.join(name);
            let mut text = lines.join("\n");
            text.push('\n');
            std::fs::write(&path, text).at("can't write", &path)?;
            Ok(path)
        };
        let mut options = Vec::new();
        match (decl, self) {
            (Declaration::Requirements(p), _) => {
                options = index_options(p)?;
                inputs.push(p.clone());
            }
            (Declaration::UvLock { pyproject, lock }, Installer::Uv(_)) => {
                let exported = work.join("uv-lock.txt");
                let mut cmd = self.command(source);
                cmd.args(["export", "--frozen", "--no-hashes", "--no-dev"])
                    .args(["--no-emit-project", "--no-header", "--no-annotate"])
                    .args(["--format", "requirements.txt", "--output-file"])
                    .arg(&exported);
                run(cmd, "uv export").map_err(|out| {
                    Error::package(
                        format!(
                            "can't read {}: uv export failed:\n{}",
                            lock.display(),
                            excerpt(&out)
                        ),
                        "run `uv lock` in the app's directory so uv.lock matches pyproject.toml",
                    )
                })?;
                inputs.push(pyproject.clone());
                constraints.push(exported);
            }
            (Declaration::UvLock { pyproject, .. }, Installer::Pip(_)) => {
                tracing::warn!(
                    "uv is not installed: installing pyproject.toml's dependencies without uv.lock's pins"
                );
                inputs.push(write(
                    "pyproject-requirements.txt",
                    &deps::pyproject_dependencies(pyproject)?,
                )?);
            }
            (Declaration::Pyproject(p), Installer::Uv(_)) => inputs.push(p.clone()),
            (Declaration::Pyproject(p), Installer::Pip(_)) => {
                inputs.push(write(
                    "pyproject-requirements.txt",
                    &deps::pyproject_dependencies(p)?,
                )?);
            }
            (Declaration::PipfileLock(p), _) => {
                inputs.push(write(
                    "pipfile-requirements.txt",
                    &deps::pipfile_lock_requirements(p)?,
                )?);
            }
            (Declaration::Nothing, _) => {}
        }
        inputs.push(write("adapter-requirements.txt", extra)?);

        let mut cmd = self.command(source);
        match self {
            Installer::Uv(_) => {
                let resolved = work.join("resolved.txt");
                cmd.args([
                    "pip",
                    "compile",
                    "--no-header",
                    "--annotation-style",
                    "line",
                ])
                .args(["--emit-index-url", "--emit-find-links", "--output-file"])
                .arg(&resolved)
                .args(self.target_args(target));
                for c in &constraints {
                    cmd.arg("--constraints").arg(c);
                }
                cmd.args(&inputs);
                run(cmd, "uv pip compile").map_err(|out| self.failure("resolve", &out, target))?;
                let text = std::fs::read_to_string(&resolved).at("can't read", &resolved)?;
                let (emitted, packages) = deps::parse_uv_compile(&text);
                Ok((emitted, packages))
            }
            Installer::Pip(_) => {
                let report = work.join("pip-report.json");
                cmd.args(["install", "--dry-run", "--quiet", "--no-input", "--report"])
                    .arg(&report)
                    .arg("--target")
                    .arg(work.join("pip-dry-run"))
                    .args(self.target_args(target));
                for input in &inputs {
                    cmd.arg("--requirement").arg(input);
                }
                run(cmd, "pip install --dry-run")
                    .map_err(|out| self.failure("resolve", &out, target))?;
                let text = std::fs::read_to_string(&report).at("can't read", &report)?;
                Ok((options, deps::parse_pip_report(&text)?))
            }
        }
    }

    /// Install exactly `packages` (no dependencies of their own) into `dest`.
    pub(crate) fn install(
        &self,
        options: &[String],
        packages: &[Resolved],
        target: &Target,
        source: &Path,
        work: &Path,
        dest: &Path,
    ) -> Result<()> {
        if packages.is_empty() {
            return Ok(());
        }
        let list = work.join("install.txt");
        let mut text: Vec<&str> = options.iter().map(String::as_str).collect();
        text.extend(packages.iter().map(|p| p.line.as_str()));
        std::fs::write(&list, text.join("\n") + "\n").at("can't write", &list)?;
        let mut cmd = self.command(source);
        match self {
            Installer::Uv(_) => {
                // Copies, not hard links into uv's cache: the bundle is later trimmed in place.
                cmd.args([
                    "pip",
                    "install",
                    "--no-deps",
                    "--link-mode",
                    "copy",
                    "--target",
                ]);
            }
            Installer::Pip(_) => {
                cmd.args([
                    "install",
                    "--quiet",
                    "--no-input",
                    "--no-deps",
                    "--no-compile",
                    "--target",
                ]);
            }
        }
        cmd.arg(dest)
            .args(self.target_args(target))
            .arg("--requirement")
            .arg(&list);
        run(cmd, "install").map_err(|out| self.failure("install", &out, target))?;
        Ok(())
    }

    fn failure(&self, step: &str, output: &str, target: &Target) -> Error {
        let tool = self.name();
        let text = excerpt(output);
        let missing = missing_wheels(output);
        if !missing.is_empty() {
            let names = missing.join(", ");
            let first = &missing[0];
            return Error::Build {
                message: format!(
                    "no wheel of {names} for {}: deploy-action installs prebuilt wheels only (a source build here would make binaries for this machine, not the function). {tool} said:\n{text}",
                    target.describe()
                ),
                help: Some(format!(
                    "pin a version of {first} that publishes {} wheels (see https://pypi.org/project/{first}/#files), or replace it with a pure-Python alternative",
                    target.wheel_tag()
                )),
                bad_input: true,
            };
        }
        // The user's requirements can't be met (conflict, unknown package): fix the input. A
        // network or tool failure is a failed build.
        let unsatisfiable = [
            "No solution found",
            "No matching distribution",
            "Could not find a version",
            "not found in the package registry",
            "ResolutionImpossible",
            "Invalid requirement",
            "Failed to parse",
        ]
        .iter()
        .any(|s| output.contains(s));
        Error::Build {
            message: format!(
                "{tool} could not {step} the dependencies for {}:\n{text}",
                target.describe()
            ),
            help: Some(if unsatisfiable {
                "fix the app's requirements so they can be met on the target platform".into()
            } else {
                "check the network access to the package index, then rerun".into()
            }),
            bad_input: unsatisfiable,
        }
    }
}

/// Run a command to completion; its combined output, or on failure that output as the error.
fn run(mut cmd: Command, what: &str) -> std::result::Result<String, String> {
    tracing::debug!("running {cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| format!("can't run {what} ({:?}): {e}", cmd.get_program()))?;
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    for line in text.lines().filter(|l| !is_noise(l)) {
        tracing::debug!("{what}: {line}");
    }
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

/// uv's note that it will use the host's interpreter to build (it builds nothing: wheels only).
fn is_noise(line: &str) -> bool {
    line.contains("will be used to build dependencies instead") || line.trim().is_empty()
}

/// The last lines of a tool's output, without noise.
fn excerpt(output: &str) -> String {
    let lines: Vec<&str> = output.lines().filter(|l| !is_noise(l)).collect();
    let start = lines.len().saturating_sub(25);
    lines[start..]
        .iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Packages a resolver said have no wheel for the target, in order of mention.
#[must_use]
pub(crate) fn missing_wheels(output: &str) -> Vec<String> {
    static PATTERNS: std::sync::LazyLock<Vec<regex::Regex>> = std::sync::LazyLock::new(|| {
        [
            // uv: "Because docopt==0.6.2 has no usable wheels", "all versions of x have no
            // usable wheels", "x==1.0 has no wheels with a matching platform tag".
            r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:(?:===|==|>=|<=|!=|~=|<|>)[^\s,]*)? (?:has|have) no (?:usable wheels|wheels with a matching)",
            // uv's hint: "Wheels are required for `docopt` because building from source is
            // disabled".
            r"Wheels are required for `([^`]+)`",
            // pip: "No matching distribution found for docopt==0.6.2".
            r"No matching distribution found for ([A-Za-z0-9][A-Za-z0-9._-]*)",
        ]
        .iter()
        .map(|p| regex::Regex::new(p).expect("valid regex"))
        .collect()
    });
    let mut found: Vec<String> = Vec::new();
    for pattern in PATTERNS.iter() {
        for cap in pattern.captures_iter(output) {
            let name = cap[1].to_string();
            if !found
                .iter()
                .any(|f| deps::normalize(f) == deps::normalize(&name))
            {
                found.push(name);
            }
        }
    }
    found
}

/// Index options of a requirements file (`--index-url`, `--extra-index-url`, `--find-links`,
/// ...): pip's install report doesn't carry them to the install step.
fn index_options(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).at("can't read", path)?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| {
            [
                "--index-url",
                "-i ",
                "--extra-index-url",
                "--find-links",
                "-f ",
                "--trusted-host",
                "--no-index",
            ]
            .iter()
            .any(|o| l.starts_with(o))
        })
        .map(String::from)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_packages_without_wheels_from_uv_and_pip() {
        let uv = "error: No solution found when resolving dependencies\n  cause: Because docopt==0.6.2 has no usable wheels and you require docopt==0.6.2, we can conclude that your requirements are unsatisfiable.\n\nhint: Wheels are required for `docopt` because building from source is disabled for all packages (i.e., with `--no-build`)";
        assert_eq!(missing_wheels(uv), vec!["docopt"]);
        let all = "Because all versions of pycrypto have no usable wheels and you require pycrypto";
        assert_eq!(missing_wheels(all), vec!["pycrypto"]);
        let platform = "Because foo-bar==1.0 has no wheels with a matching platform tag (e.g., `manylinux_2_34_aarch64`) and you require foo-bar==1.0";
        assert_eq!(missing_wheels(platform), vec!["foo-bar"]);
        let pip = "ERROR: Could not find a version that satisfies the requirement docopt==0.6.2 (from versions: none)\nERROR: No matching distribution found for docopt==0.6.2";
        assert_eq!(missing_wheels(pip), vec!["docopt"]);
        assert!(missing_wheels("error: network unreachable").is_empty());
    }

    #[test]
    fn finds_executables_on_a_path() {
        let dir = tempfile::tempdir().unwrap();
        let uv = dir.path().join("uv");
        std::fs::write(&uv, "#!/bin/sh\n").unwrap();
        assert_eq!(
            which("uv", dir.path().as_os_str()),
            None,
            "not executable yet"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&uv, std::fs::Permissions::from_mode(0o755)).unwrap();
            assert_eq!(which("uv", dir.path().as_os_str()), Some(uv));
        }
    }
}
