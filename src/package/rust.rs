//! Rust apps: built with cargo-lambda for the function's architecture (docs/contract.md, "Build";
//! issues 3 and 10).
//!
//! Before anything runs, this module checks that the build can work and says how to fix it when it
//! can't: cargo-lambda on PATH, zig (its linker), and a `rustc` whose sysroot has the target's
//! standard library. The default `rustc` (rustup's, as cargo would pick it) comes first; when it
//! lacks the target, Debian's `/usr/bin/rustc` (rustc-web with `libstd-rust-web-dev:<arch>`) is
//! used by setting `RUSTC` for the child. A `RUSTC` the user set is honoured, never replaced.
//!
//! cargo-lambda runs with `--skip-target-check` because that choice is made here: left alone it
//! runs `rustup target add` (network, and a change to the user's toolchain) even when `RUSTC`
//! points at another compiler.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::config::Architecture;
use crate::error::{Error, Result};

/// The cargo-lambda release deploy-action is tested with (scripts/install-tools.sh pins it too).
pub(crate) const CARGO_LAMBDA_PIN: &str = "cargo-lambda==1.9.2";
/// Where Debian's rustc-web puts its compiler; its std for other architectures comes from the
/// multiarch `libstd-rust-web-dev:<arch>` packages.
const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
pub(crate) struct RustBuildRequest<'a> {
    pub source: &'a Path,
    pub bin: Option<&'a str>,
    pub architecture: Architecture,
    /// A fresh directory for cargo-lambda's output (`--lambda-dir`): private to this build,
    /// so concurrent builds of one package (both architectures, two deploys) can't see each
    /// other's `bootstrap`, and a user's own `cargo lambda build` output never ends up in the
    /// bundle. Cargo's own target directory stays shared (and locked by cargo).
    pub out_dir: &'a Path,
}

/// The Rust target triple of a Lambda architecture.
#[must_use]
pub(crate) fn target_triple(architecture: Architecture) -> &'static str {
    match architecture {
        Architecture::Arm64 => "aarch64-unknown-linux-gnu",
        Architecture::X86_64 => "x86_64-unknown-linux-gnu",
    }
}

/// Build the package and return the directory that holds `bootstrap` (and nothing else).
pub(crate) fn build(req: &RustBuildRequest<'_>) -> Result<PathBuf> {
    if !req.source.join("Cargo.toml").is_file() {
        return Err(Error::package(
            format!("{} has no Cargo.toml", req.source.display()),
            "point --source at the Rust package (the directory with Cargo.toml)",
        ));
    }
    // cargo-lambda runs in the source directory, so every path handed to it must be absolute.
    let source = req
        .source
        .canonicalize()
        .map_err(|e| Error::io_path("can't resolve", req.source, e))?;
    let manifest = source.join("Cargo.toml");
    let target = target_triple(req.architecture);
    let cargo_lambda = find_cargo_lambda(&std::env::var_os("PATH").unwrap_or_default())?;
    let zig_env = zig_env(&cargo_lambda)?;
    let metadata = CargoMetadata::read(&manifest)?;
    let bin = choose_bin(&metadata.bins, req.bin)?;
    let rustc = select_rustc(
        target,
        std::env::var_os("RUSTC").filter(|v| !v.is_empty()),
        &[Path::new(DEBIAN_RUSTC)],
        &|rustc| rustc_sysroot(rustc, &source),
    )?;

    let lambda_dir = req.out_dir.to_path_buf();
    let dir = lambda_dir.join(&bin);

    let arch_flag = match req.architecture {
        Architecture::Arm64 => "--arm64",
        Architecture::X86_64 => "--x86-64",
    };
    let mut cmd = Command::new(&cargo_lambda);
    cmd.args(["lambda", "build", "--release", arch_flag])
        .args([
            "--output-format",
            "binary",
            "--skip-target-check",
            "--bin",
            &bin,
        ])
        .arg("--lambda-dir")
        .arg(&lambda_dir)
        .arg("--manifest-path")
        .arg(&manifest)
        .current_dir(&source)
        // No prompts (cargo-lambda asks when something is missing and stdin is a terminal).
        // Its output is progress for the user; stdout belongs to the report.
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()));
    if let Some(rustc) = &rustc.set_for_child {
        cmd.env("RUSTC", rustc);
    }
    if let Some((key, value)) = &zig_env {
        cmd.env(key, value);
    }
    tracing::info!(
        "building {bin} for {target} with cargo lambda build --release {arch_flag} ({})",
        rustc.describe()
    );
    let status = cmd
        .status()
        .map_err(|e| Error::io_path("can't run", &cargo_lambda, e))?;
    if !status.success() {
        return Err(Error::Build {
            message: format!(
                "cargo lambda build of {} for {target} failed ({status}); cargo's output is above",
                manifest.display()
            ),
            help: Some("fix the build error above and try again".into()),
            bad_input: false,
        });
    }
    let bootstrap = dir.join("bootstrap");
    if !bootstrap.is_file() {
        return Err(Error::Build {
            message: format!(
                "cargo lambda build succeeded but left no {}",
                bootstrap.display()
            ),
            help: Some(format!(
                "check that `cargo lambda build --release {arch_flag} --bin {bin}` works in {}",
                req.source.display()
            )),
            bad_input: false,
        });
    }
    Ok(dir)
}

/// A missing tool or toolchain: bad input, nothing was changed (exit 2).
fn setup_error(message: String, help: String) -> Error {
    Error::Build {
        message,
        help: Some(help),
        bad_input: true,
    }
}

fn find_cargo_lambda(path_var: &OsStr) -> Result<PathBuf> {
    find_on_path(OsStr::new("cargo-lambda"), path_var).ok_or_else(|| {
        setup_error(
            "cargo-lambda is not installed (no cargo-lambda on PATH); Rust apps are built with it"
                .into(),
            format!(
                "pip install {CARGO_LAMBDA_PIN} (it brings zig, its linker), or run \
                 scripts/install-tools.sh and source scripts/env.sh"
            ),
        )
    })
}

/// The package's binaries.
#[derive(Debug)]
struct CargoMetadata {
    bins: Vec<String>,
}

impl CargoMetadata {
    fn read(manifest: &Path) -> Result<Self> {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(&cargo)
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--manifest-path",
            ])
            .arg(manifest)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                setup_error(
                    format!("can't run {}: {e}", Path::new(&cargo).display()),
                    "install Rust with rustup (https://rustup.rs) so that cargo is on PATH".into(),
                )
            })?;
        if !out.status.success() {
            return Err(Error::package(
                format!(
                    "cargo metadata can't read {}: {}",
                    manifest.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
                "fix Cargo.toml so that `cargo metadata` accepts it",
            ));
        }
        Self::parse(&out.stdout, manifest).map_err(|detail| {
            Error::Internal(format!(
                "unexpected cargo metadata output for {}: {detail}",
                manifest.display()
            ))
        })
    }

    /// Binaries of the package at `manifest`, or of every member when it is a virtual workspace.
    fn parse(json: &[u8], manifest: &Path) -> std::result::Result<Self, String> {
        let v: serde_json::Value = serde_json::from_slice(json).map_err(|e| e.to_string())?;
        let packages = v["packages"].as_array().ok_or("no packages")?;
        let manifest = manifest
            .canonicalize()
            .unwrap_or_else(|_| manifest.to_owned());
        let own: Vec<&serde_json::Value> = packages
            .iter()
            .filter(|p| p["manifest_path"].as_str().map(Path::new) == Some(manifest.as_path()))
            .collect();
        let chosen = if own.is_empty() {
            packages.iter().collect()
        } else {
            own
        };
        let mut bins: Vec<String> = chosen
            .iter()
            .flat_map(|p| p["targets"].as_array().into_iter().flatten())
            .filter(|t| {
                t["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "bin"))
            })
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect();
        bins.sort();
        bins.dedup();
        Ok(Self { bins })
    }
}

/// The binary to ship: the requested one, else the only one.
fn choose_bin(bins: &[String], requested: Option<&str>) -> Result<String> {
    let list = || bins.join(", ");
    match (requested, bins) {
        (Some(name), _) if bins.iter().any(|b| b == name) => Ok(name.to_owned()),
        (Some(name), []) => Err(Error::invalid(
            "--bin",
            format!("the package has no binaries, so none is called {name:?}"),
            "add a src/main.rs or a [[bin]] target to Cargo.toml",
        )),
        (Some(name), _) => Err(Error::invalid(
            "--bin",
            format!(
                "the package has no binary {name:?}; its binaries: {}",
                list()
            ),
            format!("pass one of them: --bin {}", bins[0]),
        )),
        (None, [only]) => Ok(only.clone()),
        (None, []) => Err(Error::package(
            "the Rust package has no binary target to deploy",
            "add a src/main.rs (or a [[bin]] target) that runs lambda_http::run",
        )),
        (None, _) => Err(Error::missing(
            "--bin",
            format!(
                "the package has several binaries ({}); which one is the function?",
                list()
            ),
            format!("pass --bin NAME (env DEPLOY_BIN), e.g. --bin {}", bins[0]),
        )),
    }
}

/// The compiler chosen for a target.
#[derive(Debug, PartialEq, Eq)]
struct RustcChoice {
    /// The compiler, when it is not the default `rustc`.
    path: Option<PathBuf>,
    /// To set as `RUSTC` for cargo-lambda (a `RUSTC` from the environment is inherited anyway).
    set_for_child: Option<PathBuf>,
}

impl RustcChoice {
    fn describe(&self) -> String {
        self.path.as_ref().map_or_else(
            || "rustc on PATH".to_owned(),
            |p| format!("RUSTC={}", p.display()),
        )
    }
}

/// Pick a `rustc` whose sysroot has `target`'s std: `RUSTC` if set (it must have it), else the
/// default `rustc`, else the first of `fallbacks` that exists and has it.
fn select_rustc(
    target: &'static str,
    env_rustc: Option<OsString>,
    fallbacks: &[&Path],
    sysroot_of: &dyn Fn(&Path) -> std::result::Result<PathBuf, String>,
) -> Result<RustcChoice> {
    if let Some(rustc) = env_rustc {
        let rustc = PathBuf::from(rustc);
        let detail = match sysroot_of(&rustc) {
            Ok(sysroot) if has_std(&sysroot, target) => {
                return Ok(RustcChoice {
                    path: Some(rustc),
                    set_for_child: None,
                });
            }
            Ok(sysroot) => format!(
                "its sysroot {} has no std in lib/rustlib/{target}",
                sysroot.display()
            ),
            Err(detail) => detail,
        };
        return Err(setup_error(
            format!(
                "RUSTC={} can't build for {target}: {detail}",
                rustc.display()
            ),
            format!(
                "unset RUSTC to let deploy-action pick a compiler that has the {target} std, or \
                 point it at one; {}",
                install_std_help(target)
            ),
        ));
    }
    let mut tried = Vec::new();
    match sysroot_of(Path::new("rustc")) {
        Ok(sysroot) if has_std(&sysroot, target) => {
            return Ok(RustcChoice {
                path: None,
                set_for_child: None,
            });
        }
        Ok(sysroot) => tried.push(format!("rustc on PATH (sysroot {})", sysroot.display())),
        Err(detail) => tried.push(format!("rustc on PATH ({detail})")),
    }
    for &candidate in fallbacks {
        if !candidate.is_file() {
            tried.push(format!("{} (not installed)", candidate.display()));
            continue;
        }
        match sysroot_of(candidate) {
            Ok(sysroot) if has_std(&sysroot, target) => {
                return Ok(RustcChoice {
                    path: Some(candidate.to_owned()),
                    set_for_child: Some(candidate.to_owned()),
                });
            }
            Ok(_) => tried.push(format!("{} (no {target} std)", candidate.display())),
            Err(detail) => tried.push(format!("{} ({detail})", candidate.display())),
        }
    }
    Err(setup_error(
        format!(
            "no Rust compiler here has the standard library for {target} (tried {})",
            tried.join("; ")
        ),
        install_std_help(target),
    ))
}

/// The two ways to get a target's std: rustup's component, or Debian's multiarch packages.
fn install_std_help(target: &str) -> String {
    let debian_arch = if target.starts_with("aarch64") {
        "arm64"
    } else {
        "amd64"
    };
    format!(
        "either `rustup target add {target}`, or on Debian install rustc-web with its {target} std \
         (`dpkg --add-architecture {debian_arch} && apt-get update && apt-get install rustc-web \
         libstd-rust-web-dev:{debian_arch}`, as scripts/install-arm64-toolchain.sh does), which \
         deploy-action then uses through {DEBIAN_RUSTC}"
    )
}

/// Whether a sysroot holds the compiled standard library for `target`. rustup and Debian both put
/// `libstd-<hash>.rlib` in `lib/rustlib/<target>/lib`; the directory alone proves nothing (a
/// toolchain keeps its host's tools under `lib/rustlib/<host>` too).
fn has_std(sysroot: &Path, target: &str) -> bool {
    let dir = sysroot.join("lib/rustlib").join(target).join("lib");
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("libstd-") && name.ends_with(".rlib")
        })
    })
}

/// `rustc --print sysroot`, run where cargo will run (rustup honours `rust-toolchain.toml` there).
fn rustc_sysroot(rustc: &Path, dir: &Path) -> std::result::Result<PathBuf, String> {
    let out = Command::new(rustc)
        .args(["--print", "sysroot"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("can't run {}: {e}", rustc.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("`--print sysroot` failed: {}", err.trim()));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// cargo-lambda links with zig, found the way cargo-zigbuild looks for it: `python3 -m ziglang`
/// (or `$CARGO_ZIGBUILD_PYTHON_PATH`), then `zig` (or `$CARGO_ZIGBUILD_ZIG_PATH`). A cargo-lambda
/// that pip installed into a virtualenv that isn't on PATH gets that venv's python passed on. This
/// is checked here because cargo-lambda, missing zig, may install it by itself with a global
/// `pip3 install` or `npm install -g`.
fn zig_env(cargo_lambda: &Path) -> Result<Option<(&'static str, PathBuf)>> {
    if std::env::var("CARGO_LAMBDA_COMPILER").is_ok_and(|c| c == "cargo") {
        return Ok(None);
    }
    let runs = |program: &OsStr, args: &[&str]| {
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let python = std::env::var_os("CARGO_ZIGBUILD_PYTHON_PATH").unwrap_or_else(|| "python3".into());
    let zig = std::env::var_os("CARGO_ZIGBUILD_ZIG_PATH").unwrap_or_else(|| "zig".into());
    if runs(&python, &["-m", "ziglang", "version"]) || runs(&zig, &["version"]) {
        return Ok(None);
    }
    if let Some(sibling) = cargo_lambda.parent().map(|d| d.join("python3"))
        && sibling.is_file()
        && runs(sibling.as_os_str(), &["-m", "ziglang", "version"])
    {
        return Ok(Some(("CARGO_ZIGBUILD_PYTHON_PATH", sibling)));
    }
    Err(setup_error(
        "zig, the linker cargo-lambda uses, is missing (neither `python3 -m ziglang` nor `zig` runs)"
            .into(),
        format!(
            "pip install ziglang next to cargo-lambda ({CARGO_LAMBDA_PIN} brings it), or run \
             scripts/install-tools.sh and source scripts/env.sh"
        ),
    ))
}

/// The first executable file called `name` in the directories of `path_var`.
fn find_on_path(name: &OsStr, path_var: &OsStr) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    std::env::split_paths(path_var)
        .map(|dir| dir.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const ARM: &str = "aarch64-unknown-linux-gnu";

    /// A fake sysroot under `root`, with the std of each of `targets`.
    fn sysroot(root: &Path, name: &str, targets: &[&str]) -> PathBuf {
        let sysroot = root.join(name);
        // Host tools only: the directory exists but holds no std.
        std::fs::create_dir_all(sysroot.join("lib/rustlib/x86_64-unknown-linux-gnu/bin")).unwrap();
        for t in targets {
            let lib = sysroot.join("lib/rustlib").join(t).join("lib");
            std::fs::create_dir_all(&lib).unwrap();
            std::fs::write(lib.join("libstd-0123abcd.rlib"), b"").unwrap();
        }
        sysroot
    }

    /// `sysroot_of` answering from a table; a missing entry fails as an absent program does.
    fn table(
        entries: Vec<(&str, PathBuf)>,
    ) -> impl Fn(&Path) -> std::result::Result<PathBuf, String> {
        let map: HashMap<PathBuf, PathBuf> = entries
            .into_iter()
            .map(|(k, v)| (PathBuf::from(k), v))
            .collect();
        move |p: &Path| {
            map.get(p)
                .cloned()
                .ok_or_else(|| format!("can't run {}: not found", p.display()))
        }
    }

    /// An existing file standing in for Debian's /usr/bin/rustc.
    fn fake_debian_rustc(root: &Path) -> PathBuf {
        let p = root.join("usr-bin-rustc");
        std::fs::write(&p, b"").unwrap();
        p
    }

    fn message(e: &Error) -> String {
        format!("{e} | {}", e.help_text().unwrap_or_default())
    }

    #[test]
    fn has_std_needs_the_rlib_not_just_the_directory() {
        let t = tempfile::tempdir().unwrap();
        let s = sysroot(t.path(), "s", &[ARM]);
        assert!(has_std(&s, ARM));
        assert!(!has_std(&s, "x86_64-unknown-linux-gnu"));
        assert!(!has_std(&t.path().join("nowhere"), ARM));
    }

    #[test]
    fn default_rustc_with_the_std_wins() {
        let t = tempfile::tempdir().unwrap();
        let debian = fake_debian_rustc(t.path());
        let probe = table(vec![
            ("rustc", sysroot(t.path(), "rustup", &[ARM])),
            (
                debian.to_str().unwrap(),
                sysroot(t.path(), "debian", &[ARM]),
            ),
        ]);
        let choice = select_rustc(ARM, None, &[&debian], &probe).unwrap();
        assert_eq!(
            choice,
            RustcChoice {
                path: None,
                set_for_child: None
            }
        );
    }

    #[test]
    fn falls_back_to_debian_rustc_and_sets_rustc_for_the_child() {
        let t = tempfile::tempdir().unwrap();
        let debian = fake_debian_rustc(t.path());
        let probe = table(vec![
            ("rustc", sysroot(t.path(), "rustup", &[])),
            (
                debian.to_str().unwrap(),
                sysroot(t.path(), "debian", &[ARM]),
            ),
        ]);
        let choice = select_rustc(ARM, None, &[&debian], &probe).unwrap();
        assert_eq!(choice.set_for_child.as_deref(), Some(debian.as_path()));
        assert_eq!(choice.path.as_deref(), Some(debian.as_path()));
    }

    #[test]
    fn falls_back_when_the_default_rustc_does_not_run() {
        let t = tempfile::tempdir().unwrap();
        let debian = fake_debian_rustc(t.path());
        let probe = table(vec![(
            debian.to_str().unwrap(),
            sysroot(t.path(), "debian", &[ARM]),
        )]);
        let choice = select_rustc(ARM, None, &[&debian], &probe).unwrap();
        assert_eq!(choice.set_for_child.as_deref(), Some(debian.as_path()));
    }

    #[test]
    fn no_std_anywhere_names_both_fixes() {
        let t = tempfile::tempdir().unwrap();
        let debian = fake_debian_rustc(t.path());
        let missing = t.path().join("not-installed");
        let probe = table(vec![
            ("rustc", sysroot(t.path(), "rustup", &[])),
            (debian.to_str().unwrap(), sysroot(t.path(), "debian", &[])),
        ]);
        let err = select_rustc(ARM, None, &[&missing, &debian], &probe).unwrap_err();
        assert_eq!(err.code(), crate::error::EXIT_BAD_INPUT);
        let m = message(&err);
        assert!(
            m.contains(
                "no Rust compiler here has the standard library for aarch64-unknown-linux-gnu"
            ),
            "{m}"
        );
        assert!(
            m.contains("rustup target add aarch64-unknown-linux-gnu"),
            "{m}"
        );
        assert!(m.contains("libstd-rust-web-dev:arm64"), "{m}");
        assert!(m.contains("scripts/install-arm64-toolchain.sh"), "{m}");
        assert!(m.contains("not-installed (not installed)"), "{m}");
    }

    #[test]
    fn rustc_from_the_environment_is_honoured() {
        let t = tempfile::tempdir().unwrap();
        let probe = table(vec![
            ("/opt/rust/bin/rustc", sysroot(t.path(), "opt", &[ARM])),
            ("rustc", sysroot(t.path(), "rustup", &[ARM])),
        ]);
        let choice = select_rustc(ARM, Some("/opt/rust/bin/rustc".into()), &[], &probe).unwrap();
        // Used as given; cargo-lambda inherits it, nothing to set.
        assert_eq!(
            choice.path.as_deref(),
            Some(Path::new("/opt/rust/bin/rustc"))
        );
        assert_eq!(choice.set_for_child, None);
    }

    #[test]
    fn rustc_from_the_environment_without_the_std_is_an_error_not_replaced() {
        let t = tempfile::tempdir().unwrap();
        let debian = fake_debian_rustc(t.path());
        let probe = table(vec![
            ("/opt/rust/bin/rustc", sysroot(t.path(), "opt", &[])),
            (
                debian.to_str().unwrap(),
                sysroot(t.path(), "debian", &[ARM]),
            ),
        ]);
        let err =
            select_rustc(ARM, Some("/opt/rust/bin/rustc".into()), &[&debian], &probe).unwrap_err();
        let m = message(&err);
        assert!(
            m.starts_with("RUSTC=/opt/rust/bin/rustc can't build for aarch64-unknown-linux-gnu"),
            "{m}"
        );
        assert!(m.contains("unset RUSTC"), "{m}");
        assert!(
            m.contains("rustup target add aarch64-unknown-linux-gnu"),
            "{m}"
        );
    }

    #[test]
    fn the_real_default_rustc_has_the_host_std() {
        // The toolchain that builds these tests has its own target's std.
        let host = if cfg!(target_arch = "aarch64") {
            Architecture::Arm64
        } else {
            Architecture::X86_64
        };
        let sysroot = rustc_sysroot(Path::new("rustc"), Path::new(".")).unwrap();
        assert!(
            has_std(&sysroot, target_triple(host)),
            "{}",
            sysroot.display()
        );
        assert!(rustc_sysroot(Path::new("/nonexistent/rustc"), Path::new(".")).is_err());
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn bin_choice() {
        assert_eq!(choose_bin(&names(&["hello"]), None).unwrap(), "hello");
        assert_eq!(
            choose_bin(&names(&["api", "worker"]), Some("worker")).unwrap(),
            "worker"
        );

        let err = choose_bin(&names(&["api", "worker"]), None).unwrap_err();
        assert_eq!(err.code(), crate::error::EXIT_BAD_INPUT);
        let m = message(&err);
        assert!(m.contains("several binaries (api, worker)"), "{m}");
        assert!(m.contains("--bin NAME"), "{m}");

        let m = message(&choose_bin(&names(&["api", "worker"]), Some("web")).unwrap_err());
        assert!(
            m.contains("no binary \"web\"; its binaries: api, worker"),
            "{m}"
        );

        let err = choose_bin(&[], None).unwrap_err();
        assert_eq!(err.code(), crate::error::EXIT_BAD_INPUT);
        assert!(message(&err).contains("no binary target"));
    }

    #[test]
    fn metadata_of_the_fixture_lists_its_binary() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/rust-hello");
        let m = CargoMetadata::read(&dir.join("Cargo.toml")).unwrap();
        assert_eq!(m.bins, ["rust-hello"]);
    }

    #[test]
    fn metadata_of_a_virtual_workspace_lists_every_members_binaries() {
        let t = tempfile::tempdir().unwrap();
        let manifest = t.path().join("Cargo.toml");
        std::fs::write(&manifest, "[workspace]\n").unwrap();
        let json = serde_json::json!({
            "target_directory": "/w/target",
            "packages": [
                {"manifest_path": "/w/a/Cargo.toml", "targets": [
                    {"name": "api", "kind": ["bin"]}, {"name": "a", "kind": ["lib"]}]},
                {"manifest_path": "/w/b/Cargo.toml", "targets": [
                    {"name": "worker", "kind": ["bin"]}, {"name": "build-script-build", "kind": ["custom-build"]}]}
            ]
        });
        let m = CargoMetadata::parse(json.to_string().as_bytes(), &manifest).unwrap();
        assert_eq!(m.bins, ["api", "worker"]);
    }

    #[test]
    fn cargo_lambda_is_looked_up_on_path() {
        use std::os::unix::fs::PermissionsExt as _;
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        // Not executable in a: skipped; executable in b: found.
        std::fs::write(a.join("cargo-lambda"), b"").unwrap();
        let exe = b.join("cargo-lambda");
        std::fs::write(&exe, b"").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([&a, &b]).unwrap();
        assert_eq!(find_cargo_lambda(&path).unwrap(), exe);

        let err = find_cargo_lambda(&std::env::join_paths([&a]).unwrap()).unwrap_err();
        assert_eq!(err.code(), crate::error::EXIT_BAD_INPUT);
        let m = message(&err);
        assert!(m.contains("cargo-lambda is not installed"), "{m}");
        assert!(m.contains("pip install cargo-lambda==1.9.2"), "{m}");
    }

    #[test]
    fn a_directory_without_cargo_toml_is_bad_input() {
        let t = tempfile::tempdir().unwrap();
        let err = build(&RustBuildRequest {
            source: t.path(),
            bin: None,
            architecture: Architecture::Arm64,
            out_dir: t.path(),
        })
        .unwrap_err();
        assert_eq!(err.code(), crate::error::EXIT_BAD_INPUT);
        assert!(message(&err).contains("has no Cargo.toml"));
    }
}
