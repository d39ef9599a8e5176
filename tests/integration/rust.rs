//! Rust apps: cargo-lambda builds of fixtures/rust-hello for x86_64 and arm64, run through a
//! one-shot Lambda Runtime API (natively, and under qemu-user for arm64).

use std::io::Read;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::{World, fixture, root};

/// Package the Rust fixture for `arch` and return (report, unpacked dir).
fn package(world: &World, arch: &str) -> (Value, std::path::PathBuf) {
    let _turn = crate::support::rust_fixture_turn();
    let out = world.dir().join(format!("rust-{arch}.zip"));
    let report = world
        .cmd(&[
            "package",
            "--source",
            fixture("rust-hello").to_str().unwrap(),
            "--architecture",
            arch,
            "--out",
            out.to_str().unwrap(),
            "--output",
            "json",
        ])
        .run()
        .success()
        .json();
    let dir = world.dir().join(format!("unpacked-{arch}"));
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    archive.extract(&dir).unwrap();
    let names: Vec<String> = archive
        .file_names()
        .map(|n| n.unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["bootstrap"], "only the bootstrap at the root");
    let mode = archive.by_name("bootstrap").unwrap().unix_mode().unwrap();
    assert_eq!(mode & 0o777, 0o755);
    (report, dir)
}

fn elf_machine(path: &Path) -> u16 {
    let mut header = [0u8; 20];
    std::fs::File::open(path)
        .unwrap()
        .read_exact(&mut header)
        .unwrap();
    assert_eq!(&header[..4], b"\x7fELF");
    u16::from_le_bytes([header[18], header[19]])
}

/// Run `cmd` against a one-shot Runtime API with a function URL GET of `path`; the response.
fn invoke_once(cmd: &[&str], path: &str) -> Value {
    let out = Command::new("python3")
        .arg(root().join("scripts/dev/runtime_api_once.py"))
        .args(["--path", path, "--timeout", "120", "--"])
        .args(cmd)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "runtime_api_once failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(line.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

fn response_body(v: &Value) -> String {
    // runtime_api_once prints {"response": <what the function posted>} or the payload itself.
    let payload = v.get("response").unwrap_or(v);
    payload["body"].as_str().unwrap_or_default().to_string()
}

#[test]
fn rust_hello_builds_for_x86_64_and_answers() {
    let world = World::moto_only();
    let (report, dir) = package(&world, "x86_64");
    assert_eq!(report["runtime"], "provided.al2023");
    assert_eq!(report["handler"], "bootstrap");
    assert_eq!(report["architecture"], "x86_64");
    let bootstrap = dir.join("bootstrap");
    assert_eq!(elf_machine(&bootstrap), 0x3E, "x86-64 ELF");
    let v = invoke_once(&[bootstrap.to_str().unwrap()], "/");
    assert_eq!(response_body(&v), "Hello World", "{v}");
}

#[test]
fn rust_hello_builds_for_arm64_and_answers_under_qemu() {
    let world = World::moto_only();
    let (report, dir) = package(&world, "arm64");
    assert_eq!(report["architecture"], "arm64");
    let bootstrap = dir.join("bootstrap");
    assert_eq!(elf_machine(&bootstrap), 0xB7, "aarch64 ELF");
    let root = std::env::var("DEPLOY_ARM64_ROOT")
        .expect("DEPLOY_ARM64_ROOT (scripts/install-tools.sh makes it; scripts/env.sh exports it)");
    let v = invoke_once(
        &[
            "qemu-aarch64-static",
            "-L",
            &root,
            bootstrap.to_str().unwrap(),
        ],
        "/",
    );
    assert_eq!(response_body(&v), "Hello World", "{v}");
}

#[test]
fn a_rustc_without_the_target_std_is_a_clear_error() {
    let world = World::moto_only();
    // A rustc whose sysroot has only the host's std, whatever toolchains this machine has: a
    // wrapper that answers `--print sysroot` with a directory holding lib/rustlib/<host> only
    // (where the packager looks for the target's std) and runs rustup's rustc for the rest.
    let rustup_rustc = Command::new("rustup")
        .args(["which", "rustc"])
        .output()
        .unwrap();
    let real = String::from_utf8_lossy(&rustup_rustc.stdout)
        .trim()
        .to_string();
    let real_sysroot = Command::new(&real)
        .args(["--print", "sysroot"])
        .output()
        .unwrap();
    let host_std = Path::new(String::from_utf8_lossy(&real_sysroot.stdout).trim())
        .join("lib/rustlib/x86_64-unknown-linux-gnu");
    assert!(host_std.is_dir(), "{}", host_std.display());
    let sysroot = world.dir().join("host-only-sysroot");
    std::fs::create_dir_all(sysroot.join("lib/rustlib")).unwrap();
    std::os::unix::fs::symlink(
        &host_std,
        sysroot.join("lib/rustlib/x86_64-unknown-linux-gnu"),
    )
    .unwrap();
    let rustc = world.dir().join("rustc-host-only");
    std::fs::write(
        &rustc,
        format!(
            "#!/bin/sh\nif [ \"$1 $2\" = \"--print sysroot\" ]; then echo '{}'; exit 0; fi\nexec '{real}' \"$@\"\n",
            sysroot.display()
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&rustc).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&rustc, perms).unwrap();
    let _turn = crate::support::rust_fixture_turn();
    let out = world
        .cmd(&[
            "package",
            "--source",
            fixture("rust-hello").to_str().unwrap(),
            "--architecture",
            "arm64",
            "--out",
            "x.zip",
        ])
        .env("RUSTC", rustc.display().to_string())
        .run()
        .failure(2);
    assert!(
        out.stderr
            .contains("rustup target add aarch64-unknown-linux-gnu"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("libstd-rust-web-dev"), "{}", out.stderr);
}
