//! How to run an unpacked artifact: which program, under which emulator, with which
//! environment. Decided once, before anything starts, so every "can't run this here" is a clear
//! error up front rather than a 502 later.
//!
//! - `provided.*`: exec `bootstrap`. A foreign-architecture ELF runs under qemu-user
//!   (`qemu-aarch64-static -L <aarch64 root>`); a script runs natively (its interpreter is the
//!   host's).
//! - `python3.x` for the host's architecture: the host's Python (of the runtime's version when
//!   there is one) running awslambdaric from a cached venv, or the built-in loop.
//! - `python3.x` for arm64 on x86_64: the aarch64 root's own CPython under qemu-user, running the
//!   built-in loop (`runtime_loop.py`).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::RuntimeInterfaceArg;
use crate::config::Architecture;
use crate::error::{Error, Result};

use super::python;
use super::worker::Launch;

/// Everything the decision depends on.
#[derive(Debug, Clone)]
pub(crate) struct Target<'a> {
    pub task_root: &'a Path,
    /// Where `runtime_loop.py` is (Lambda's `LAMBDA_RUNTIME_DIR`).
    pub runtime_dir: &'a Path,
    pub runtime: &'a str,
    pub handler: &'a str,
    pub architecture: Architecture,
    pub host: Option<Architecture>,
    pub arm64_root: Option<&'a Path>,
    pub interface: RuntimeInterfaceArg,
    pub function_name: &'a str,
    pub memory: i64,
    pub timeout: Duration,
    pub region: &'a str,
    pub user_env: &'a BTreeMap<String, String>,
}

/// The launch and a short description for the "Serving" line.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub launch: Launch,
    /// e.g. `arm64 via qemu-aarch64-static, built-in runtime loop`.
    pub how: String,
}

/// A Lambda init may take 10 s; locally a cold Python import or an emulated start can take
/// longer, and nothing is billed, so the wait for a worker is more patient.
const NATIVE_INIT: Duration = Duration::from_secs(30);
const EMULATED_INIT: Duration = Duration::from_secs(180);

pub(crate) const RUNTIME_LOOP_FILE: &str = "runtime_loop.py";

pub(crate) fn plan(t: &Target<'_>) -> Result<Plan> {
    if t.runtime.starts_with("provided") {
        plan_custom(t)
    } else if let Some(version) = python::runtime_version(t.runtime) {
        plan_python(t, version)
    } else {
        Err(Error::invalid(
            "--runtime",
            format!("serve can't run the {} runtime", t.runtime),
            "serve runs provided.al2023/provided.al2 (a bootstrap) and python3.x artifacts",
        ))
    }
}

fn plan_custom(t: &Target<'_>) -> Result<Plan> {
    let bootstrap = t.task_root.join("bootstrap");
    let header = read_header(&bootstrap).map_err(|_| {
        Error::package(
            format!(
                "the artifact has no bootstrap at its root (runtime {})",
                t.runtime
            ),
            "a provided.* function needs an executable named bootstrap at the root of the zip; for a Python app pass --runtime python3.x and --handler module.function",
        )
    })?;
    let mut env = base_env(t);
    env.push((
        "LD_LIBRARY_PATH".into(),
        format!(
            "{}:{}",
            t.task_root.join("lib").display(),
            t.task_root.display()
        )
        .into(),
    ));
    let machine = crate::package::checks::elf_machine(&header);
    let elf_arch = match machine {
        Some(0xB7) => Some(Architecture::Arm64),
        Some(0x3E) => Some(Architecture::X86_64),
        Some(other) => {
            return Err(Error::package(
                format!(
                    "bootstrap is an ELF for {}, which Lambda does not run",
                    crate::package::checks::machine_name(other)
                ),
                "build it for arm64 or x86_64",
            ));
        }
        None => None,
    };
    let launch_native = |env| Launch {
        program: bootstrap.clone(),
        args: Vec::new(),
        env,
        cwd: t.task_root.to_path_buf(),
        init_timeout: NATIVE_INIT.max(t.timeout),
    };
    let Some(arch) = elf_arch else {
        // A script: its interpreter is the host's, whatever the declared architecture.
        return Ok(Plan {
            launch: launch_native(env),
            how: format!("{}, bootstrap script", t.architecture),
        });
    };
    if Some(arch) == t.host {
        return Ok(Plan {
            launch: launch_native(env),
            how: arch.to_string(),
        });
    }
    let qemu = find_emulator(arch, t.host)?;
    let root = if arch == Architecture::Arm64 {
        arm64_root(t.arm64_root)?
    } else {
        None
    };
    let dynamic = elf_interpreter(&bootstrap);
    if root.is_none() && dynamic {
        return Err(Error::Build {
            message: format!(
                "bootstrap is a dynamically linked {arch} program; running it under {} needs an {arch} root with its C library, and none was found",
                qemu.display()
            ),
            help: Some(
                "pass --arm64-root DIR (env DEPLOY_ARM64_ROOT) or run scripts/install-arm64-toolchain.sh, which makes one; apt-get install libc6-arm64-cross also works (/usr/aarch64-linux-gnu)".into(),
            ),
            bad_input: true,
        });
    }
    let mut args: Vec<OsString> = Vec::new();
    if let Some(root) = &root {
        args.push("-L".into());
        args.push(root.clone().into_os_string());
    }
    args.push(bootstrap.clone().into_os_string());
    Ok(Plan {
        launch: Launch {
            program: qemu.clone(),
            args,
            env,
            cwd: t.task_root.to_path_buf(),
            init_timeout: EMULATED_INIT.max(t.timeout),
        },
        how: format!("{arch} via {}", file_name(&qemu)),
    })
}

fn plan_python(t: &Target<'_>, version: (u32, u32)) -> Result<Plan> {
    let loop_path = t.runtime_dir.join(RUNTIME_LOOP_FILE);
    let mut env = base_env(t);
    env.push(("PYTHONPATH".into(), t.task_root.as_os_str().to_owned()));
    env.push((
        "AWS_EXECUTION_ENV".into(),
        format!("AWS_Lambda_{}", t.runtime).into(),
    ));
    if Some(t.architecture) != t.host {
        return plan_python_emulated(t, version, env, &loop_path);
    }
    let Some(host_python) = python::find_host_python(version) else {
        return Err(Error::Build {
            message: format!(
                "serving a {} artifact needs Python on this machine, and neither python{}.{} nor python3 runs",
                t.runtime, version.0, version.1
            ),
            help: Some(format!(
                "install Python {}.{} (or any python3)",
                version.0, version.1
            )),
            bad_input: true,
        });
    };
    if host_python.version != version {
        let foreign = python::foreign_extensions(t.task_root, host_python.version);
        let detail = if foreign.is_empty() {
            String::new()
        } else {
            let shown: Vec<String> = foreign
                .iter()
                .take(3)
                .map(|(f, tag)| format!("{f} ({tag})"))
                .collect();
            format!(
                "; native extensions built for another version may fail to import: {}",
                shown.join(", ")
            )
        };
        tracing::warn!(
            "no Python {}.{} here: running the {} artifact with Python {} ({}){detail}",
            version.0,
            version.1,
            t.runtime,
            host_python.version_text(),
            host_python.executable.display()
        );
    }
    let builtin = |env: Vec<(String, OsString)>, note: &str| -> Plan {
        let mut env = env;
        env.push(("PYTHONUNBUFFERED".into(), "1".into()));
        Plan {
            launch: Launch {
                program: host_python.executable.clone(),
                args: vec![loop_path.clone().into_os_string(), t.handler.into()],
                env,
                cwd: t.task_root.to_path_buf(),
                init_timeout: NATIVE_INIT.max(t.timeout),
            },
            how: format!(
                "{}, Python {}, built-in runtime loop{note}",
                t.architecture,
                host_python.version_text()
            ),
        }
    };
    if t.interface == RuntimeInterfaceArg::Builtin {
        return Ok(builtin(env, ""));
    }
    match python::ensure_awslambdaric(&host_python, &python::tools_dir()) {
        Ok(venv_python) => Ok(Plan {
            launch: Launch {
                program: venv_python,
                args: vec!["-m".into(), "awslambdaric".into(), t.handler.into()],
                env,
                cwd: t.task_root.to_path_buf(),
                init_timeout: NATIVE_INIT.max(t.timeout),
            },
            how: format!(
                "{}, Python {}, awslambdaric",
                t.architecture,
                host_python.version_text()
            ),
        }),
        Err(reason) if t.interface == RuntimeInterfaceArg::Auto => {
            tracing::warn!(
                "awslambdaric is not available ({reason}); using deploy-action's built-in runtime loop"
            );
            Ok(builtin(env, ""))
        }
        Err(reason) => Err(Error::Build {
            message: format!("can't install {}: {reason}", python::AWSLAMBDARIC_PIN),
            help: Some(
                "check the network access to PyPI, or pass --runtime-interface builtin".into(),
            ),
            bad_input: false,
        }),
    }
}

fn plan_python_emulated(
    t: &Target<'_>,
    version: (u32, u32),
    mut env: Vec<(String, OsString)>,
    loop_path: &Path,
) -> Result<Plan> {
    if t.interface == RuntimeInterfaceArg::Awslambdaric {
        return Err(Error::invalid(
            "--runtime-interface",
            format!(
                "awslambdaric can't run an {} bundle on this {} machine (its C extension can't be installed into the emulated Python)",
                t.architecture,
                host_name(t.host)
            ),
            "drop --runtime-interface (the built-in loop runs emulated bundles), or package for this machine with --architecture",
        ));
    }
    let qemu = find_emulator(t.architecture, t.host)?;
    let root = if t.architecture == Architecture::Arm64 {
        arm64_root(t.arm64_root)?
    } else {
        None
    };
    let exe = format!("python{}.{}", version.0, version.1);
    let Some(root) = root.filter(|r| r.join("usr/bin").join(&exe).is_file()) else {
        return Err(Error::Build {
            message: format!(
                "running a {} {} bundle on this {} machine needs an {} root with {exe} (run under {}), and none was found",
                t.architecture,
                t.runtime,
                host_name(t.host),
                t.architecture,
                file_name(&qemu)
            ),
            help: Some(format!(
                "pass --arm64-root DIR (env DEPLOY_ARM64_ROOT) pointing at a root with usr/bin/{exe} (scripts/install-arm64-toolchain.sh makes one), or package for this machine: --architecture {}",
                host_name(t.host)
            )),
            bad_input: true,
        });
    };
    env.push(("PYTHONUNBUFFERED".into(), "1".into()));
    Ok(Plan {
        launch: Launch {
            program: qemu.clone(),
            args: vec![
                "-L".into(),
                root.clone().into_os_string(),
                root.join("usr/bin").join(&exe).into_os_string(),
                loop_path.as_os_str().to_owned(),
                t.handler.into(),
            ],
            env,
            cwd: t.task_root.to_path_buf(),
            init_timeout: EMULATED_INIT.max(t.timeout),
        },
        how: format!(
            "{} via {}, Python {}.{} from {}, built-in runtime loop",
            t.architecture,
            file_name(&qemu),
            version.0,
            version.1,
            root.display()
        ),
    })
}

/// The environment Lambda gives a function, plus the caller's AWS credentials and endpoint
/// (a function run locally reaches AWS, or moto, as its role would), plus `--env`.
fn base_env(t: &Target<'_>) -> Vec<(String, OsString)> {
    let mut env: Vec<(String, OsString)> = Vec::new();
    let mut set = |k: &str, v: OsString| env.push((k.to_string(), v));
    set(
        "PATH",
        std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()),
    );
    set("LANG", "en_US.UTF-8".into());
    set("TZ", ":UTC".into());
    set("LAMBDA_TASK_ROOT", t.task_root.as_os_str().to_owned());
    set("LAMBDA_RUNTIME_DIR", t.runtime_dir.as_os_str().to_owned());
    set("_HANDLER", t.handler.into());
    set("AWS_LAMBDA_FUNCTION_NAME", t.function_name.into());
    set("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into());
    set(
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        t.memory.to_string().into(),
    );
    set(
        "AWS_LAMBDA_LOG_GROUP_NAME",
        format!("/aws/lambda/{}", t.function_name).into(),
    );
    set(
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "local/[$LATEST]deployactionserve".into(),
    );
    set("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into());
    set("AWS_REGION", t.region.into());
    set("AWS_DEFAULT_REGION", t.region.into());
    for (key, value) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if matches!(
            key,
            "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" | "AWS_SESSION_TOKEN"
        ) || key.starts_with("AWS_ENDPOINT_URL")
        {
            set(key, value);
        }
    }
    for (k, v) in t.user_env {
        set(k, v.into());
    }
    env
}

/// qemu-user for `arch` on this host: `qemu-<arch>-static`, else `qemu-<arch>`, on PATH.
fn find_emulator(arch: Architecture, host: Option<Architecture>) -> Result<PathBuf> {
    let base = match arch {
        Architecture::Arm64 => "qemu-aarch64",
        Architecture::X86_64 => "qemu-x86_64",
    };
    for name in [format!("{base}-static"), base.to_string()] {
        if let Some(path) = which(&name) {
            return Ok(path);
        }
    }
    let other = host_name(host);
    Err(Error::Build {
        message: format!(
            "the artifact is for {arch} and this machine is {other}: running it needs qemu-user ({base}-static), which is not installed"
        ),
        help: Some(format!(
            "install the emulator (apt-get install qemu-user-static, or scripts/install-arm64-toolchain.sh), or build for this machine: pass --architecture {other} (deploy-action package --architecture {other} ...)"
        )),
        bad_input: true,
    })
}

fn host_name(host: Option<Architecture>) -> String {
    host.map_or_else(|| std::env::consts::ARCH.to_string(), |h| h.to_string())
}

/// The aarch64 root: `--arm64-root`/`DEPLOY_ARM64_ROOT`, else the one
/// scripts/install-arm64-toolchain.sh makes, else Debian's cross libc.
fn arm64_root(flag: Option<&Path>) -> Result<Option<PathBuf>> {
    if let Some(root) = flag.filter(|r| !r.as_os_str().is_empty()) {
        if root.is_dir() {
            return Ok(Some(root.to_path_buf()));
        }
        return Err(Error::invalid(
            "--arm64-root",
            format!("{} is not a directory", root.display()),
            "point --arm64-root (env DEPLOY_ARM64_ROOT) at an aarch64 root filesystem (scripts/install-arm64-toolchain.sh makes one)",
        ));
    }
    let cached = python::tools_dir().join("arm64-root");
    if cached.is_dir() {
        return Ok(Some(cached));
    }
    let cross = Path::new("/usr/aarch64-linux-gnu");
    Ok(cross.is_dir().then(|| cross.to_path_buf()))
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn read_header(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::with_capacity(64);
    std::fs::File::open(path)?.take(64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Whether an ELF file asks for a program interpreter (is dynamically linked). Unreadable or
/// unusual files count as dynamic: the emulator then needs a root, which is the safe guess.
fn elf_interpreter(path: &Path) -> bool {
    let Ok(data) = std::fs::read(path) else {
        return true;
    };
    elf_has_interp(&data).unwrap_or(true)
}

/// ELF64 little-endian only (what Lambda runs); `None` for anything else.
fn elf_has_interp(data: &[u8]) -> Option<bool> {
    const PT_INTERP: u32 = 3;
    if data.get(..4)? != b"\x7fELF" || *data.get(4)? != 2 || *data.get(5)? != 1 {
        return None;
    }
    let u16_at = |o: usize| data.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| {
        data.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |o: usize| {
        data.get(o..o + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_le_bytes)
    };
    let phoff = usize::try_from(u64_at(0x20)?).ok()?;
    let phentsize = usize::from(u16_at(0x36)?);
    let phnum = usize::from(u16_at(0x38)?);
    for i in 0..phnum {
        if u32_at(phoff + i * phentsize)? == PT_INTERP {
            return Some(true);
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elf(interp: bool) -> Vec<u8> {
        let mut d = vec![0u8; 0x40 + 2 * 56];
        d[..4].copy_from_slice(b"\x7fELF");
        d[4] = 2;
        d[5] = 1;
        d[0x20..0x28].copy_from_slice(&0x40u64.to_le_bytes());
        d[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        d[0x38..0x3a].copy_from_slice(&2u16.to_le_bytes());
        d[0x40..0x44].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        let second = if interp { 3u32 } else { 1u32 };
        d[0x40 + 56..0x40 + 60].copy_from_slice(&second.to_le_bytes());
        d
    }

    #[test]
    fn detects_dynamic_elves() {
        assert_eq!(elf_has_interp(&elf(true)), Some(true));
        assert_eq!(elf_has_interp(&elf(false)), Some(false));
        assert_eq!(elf_has_interp(b"#!/bin/sh\n"), None);
    }

    #[test]
    fn the_running_binary_is_dynamic_or_static_consistently() {
        // The test binary itself is an ELF of the host: parsing it must not fail.
        let me = std::env::current_exe().unwrap();
        if cfg!(all(
            target_os = "linux",
            target_endian = "little",
            target_pointer_width = "64"
        )) {
            assert!(elf_has_interp(&std::fs::read(me).unwrap()).is_some());
        }
    }

    fn target<'a>(
        root: &'a Path,
        runtime: &'a str,
        arch: Architecture,
        env: &'a BTreeMap<String, String>,
    ) -> Target<'a> {
        Target {
            task_root: root,
            runtime_dir: root,
            runtime,
            handler: "bootstrap",
            architecture: arch,
            host: Some(Architecture::X86_64),
            arm64_root: None,
            interface: RuntimeInterfaceArg::Auto,
            function_name: "f",
            memory: 512,
            timeout: Duration::from_secs(3),
            region: "us-east-1",
            user_env: env,
        }
    }

    #[test]
    fn script_bootstraps_run_natively_with_lambda_env() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bootstrap"), "#!/bin/sh\n").unwrap();
        let env = BTreeMap::from([("GREETING".to_string(), "hi".to_string())]);
        let plan = plan(&target(
            dir.path(),
            "provided.al2023",
            Architecture::Arm64,
            &env,
        ))
        .unwrap();
        assert_eq!(plan.launch.program, dir.path().join("bootstrap"));
        let get = |k: &str| {
            plan.launch
                .env
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.to_string_lossy().into_owned())
        };
        assert_eq!(
            get("AWS_LAMBDA_FUNCTION_VERSION").as_deref(),
            Some("$LATEST")
        );
        assert_eq!(
            get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").as_deref(),
            Some("512")
        );
        assert_eq!(get("TZ").as_deref(), Some(":UTC"));
        assert_eq!(get("_HANDLER").as_deref(), Some("bootstrap"));
        assert_eq!(get("GREETING").as_deref(), Some("hi"));
    }

    #[test]
    fn missing_bootstrap_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let env = BTreeMap::new();
        let err = plan(&target(
            dir.path(),
            "provided.al2023",
            Architecture::X86_64,
            &env,
        ))
        .unwrap_err();
        assert!(err.to_string().contains("no bootstrap"), "{err}");
    }
}
