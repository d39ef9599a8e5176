//! Python apps: the Flask, FastAPI and Sanic fixtures packaged for arm64 (checked file by file,
//! then run under qemu-user in an emulated CPython 3.13) and for this machine (run in the host's
//! CPython), the dependency declarations (requirements.txt, uv.lock, Pipfile.lock, pip without
//! uv), the runtime's boto3 left out, bad inputs, and a deploy of the Flask fixture to moto.
//!
//! Handlers run through tests/support/invoke_handler.py: the bundle and the standard library
//! only, one process, one thread (qemu-user here can't start a second one).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use serde_json::{Value, json};

use crate::support::{BUCKET, World, fixture, root};

const MIB: u64 = 1024 * 1024;

fn python() -> String {
    std::env::var("DEPLOY_ACTION_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn tools_dir() -> PathBuf {
    std::env::var_os("DEPLOY_ACTION_TOOLS")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/deploy-action")
        })
}

/// What package installs need from the caller's environment: the tools, and the TLS and proxy
/// settings a network between here and the package index may require.
/// `deploy-action` for a local command (`package`): no AWS, the caller's tool settings.
struct Run {
    args: Vec<String>,
    env: BTreeMap<String, String>,
}

impl Run {
    fn new(args: &[&str]) -> Run {
        let env = crate::support::host_env();
        Run {
            args: args.iter().map(|s| (*s).to_string()).collect(),
            env,
        }
    }

    fn env(mut self, k: &str, v: impl Into<String>) -> Run {
        self.env.insert(k.into(), v.into());
        self
    }

    /// Exit code, stdout, stderr.
    fn run(self) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_deploy-action"))
            .args(&self.args)
            .env_clear()
            .envs(&self.env)
            .stdin(Stdio::null())
            .output()
            .expect("run deploy-action");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    #[track_caller]
    fn success(self) -> Value {
        let args = self.args.join(" ");
        let (code, stdout, stderr) = self.run();
        assert_eq!(code, 0, "deploy-action {args} failed\n{stdout}\n{stderr}");
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
    }

    /// Exit 2, and the message (stdout's JSON error, or stderr).
    #[track_caller]
    fn bad_input(self) -> String {
        let args = self.args.join(" ");
        let (code, stdout, stderr) = self.run();
        assert_eq!(
            code, 2,
            "deploy-action {args}: expected exit 2\n{stdout}\n{stderr}"
        );
        format!("{stdout}\n{stderr}")
    }
}

/// `package --source SRC --out OUT --output json` plus `extra`; the report.
fn package(source: &Path, out: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "package",
        "--source",
        source.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    Run::new(&args).success()
}

/// The host's CPython minor version (the host bundles are built for it).
fn host_python_minor() -> u32 {
    let out = Command::new(python())
        .args(["-c", "import sys; print(sys.version_info[1])"])
        .output()
        .expect("python3");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("python3 version")
}

struct Bundle {
    names: Vec<String>,
    /// (name, e_machine) of every ELF file.
    elfs: Vec<(String, u16)>,
}

fn read_bundle(zip: &Path) -> Bundle {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let mut names = Vec::new();
    let mut elfs = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().unwrap().to_string();
        let mut header = Vec::new();
        (&mut entry).take(20).read_to_end(&mut header).unwrap();
        if header.len() == 20 && header.starts_with(b"\x7fELF") {
            elfs.push((name.clone(), u16::from_le_bytes([header[18], header[19]])));
        }
        names.push(name);
    }
    Bundle { names, elfs }
}

impl Bundle {
    fn has(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    fn has_prefix(&self, prefix: &str) -> bool {
        self.names.iter().any(|n| n.starts_with(prefix))
    }

    #[track_caller]
    fn assert_common(&self) {
        assert!(self.has("deploy_action_handler.py"), "{:?}", self.names);
        assert!(self.has_prefix("apig_wsgi/") && self.has_prefix("mangum/"));
        for gone in ["boto3/", "botocore/", "s3transfer/", "bin/"] {
            assert!(!self.has_prefix(gone), "{gone} in the bundle");
        }
        // Bytecode only as deploy-action writes it: `__pycache__/<module>.cpython-3XY.pyc` next to
        // its source (the sources stay; an installer's stray bytecode is trimmed).
        let stray: Vec<&String> = self
            .names
            .iter()
            .filter(|n| n.ends_with(".pyc") || n.ends_with(".pyo"))
            .filter(|n| {
                let Some((dir, file)) = n.rsplit_once("__pycache__/") else {
                    return true;
                };
                let Some((stem, _)) = file.split_once(".cpython-3") else {
                    return true;
                };
                !self.has(&format!("{dir}{stem}.py"))
            })
            .collect();
        assert!(stray.is_empty(), "bytecode without its source: {stray:?}");
        assert!(
            self.names
                .iter()
                .any(|n| n.ends_with(".dist-info/METADATA")),
            "importlib.metadata needs the dist-info"
        );
    }

    #[track_caller]
    fn assert_elfs(&self, machine: u16, must_have: &[&str]) {
        let wrong: Vec<_> = self.elfs.iter().filter(|(_, m)| *m != machine).collect();
        assert!(wrong.is_empty(), "ELF files for another machine: {wrong:?}");
        for prefix in must_have {
            assert!(
                self.elfs.iter().any(|(n, _)| n.starts_with(prefix)),
                "no native extension under {prefix}: {:?}",
                self.elfs
            );
        }
    }
}

/// Unpack `zip` into a directory named after its sha256 (made once, never changed), so the
/// emulated CPython's bytecode cache (`-X pycache_prefix`) stays valid across runs: an import
/// of FastAPI compiles for a minute and a half under qemu, and loads in seconds once compiled.
fn unpack_once(zip: &Path, sha256: &str) -> PathBuf {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-bundles");
    let dir = base.join(sha256);
    if dir.is_dir() {
        return dir;
    }
    std::fs::create_dir_all(&base).unwrap();
    let staging = tempfile::tempdir_in(&base).unwrap();
    zip::ZipArchive::new(std::fs::File::open(zip).unwrap())
        .unwrap()
        .extract(staging.path())
        .unwrap();
    // Another test may have unpacked the same zip meanwhile: either copy will do.
    let _ = std::fs::rename(staging.keep(), &dir);
    assert!(dir.is_dir());
    dir
}

/// Call the bundle's handler with `events` in `python` (a command line); the responses.
fn invoke(python: &[&str], bundle: &Path, events: &[String]) -> Vec<Value> {
    let out = Command::new(python[0])
        .args(&python[1..])
        .args(["-I", "-S"])
        .arg(root().join("tests/support/invoke_handler.py"))
        .arg(bundle)
        .args(events)
        .stdin(Stdio::null())
        .output()
        .expect("run the handler");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the handler failed ({})\n{stdout}\n{stderr}",
        out.status
    );
    let responses: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(responses.len(), events.len(), "{stdout}\n{stderr}");
    responses
}

/// The emulated CPython 3.13 (issue 10): qemu-user with the aarch64 root made by
/// scripts/install-arm64-toolchain.sh. Never skipped: without it the arm64 tests can't prove
/// that the native extensions load.
fn qemu_python(pycache: &Path) -> Vec<String> {
    let root = std::env::var_os("DEPLOY_ARM64_ROOT")
        .filter(|r| !r.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| tools_dir().join("arm64-root"));
    let python = root.join("usr/bin/python3.13");
    assert!(
        python.exists(),
        "no aarch64 CPython 3.13 at {}: run scripts/install-arm64-toolchain.sh (it makes the root; scripts/env.sh exports DEPLOY_ARM64_ROOT)",
        python.display()
    );
    vec![
        "qemu-aarch64-static".into(),
        "-L".into(),
        root.display().to_string(),
        python.display().to_string(),
        "-X".into(),
        format!("pycache_prefix={}", pycache.display()),
    ]
}

fn get(path: &str) -> String {
    format!("GET {path}")
}

/// A function URL event (payload 2.0) with a body, cookies, a query and headers.
fn echo_event(body: &[u8]) -> String {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/echo",
        "rawQueryString": "a=1&a=2&q=hello%20world",
        "cookies": ["session=abc123", "theme=dark"],
        "headers": {
            "host": "abcdefghij.lambda-url.us-east-1.on.aws",
            "content-type": "application/octet-stream",
            "x-custom": "yes",
            "x-forwarded-proto": "https",
            "x-forwarded-port": "443",
        },
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghij",
            "domainName": "abcdefghij.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefghij",
            "http": {
                "method": "POST",
                "path": "/echo",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "test",
            },
            "requestId": "r1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1_767_225_600_000_u64,
        },
        "body": base64::engine::general_purpose::STANDARD.encode(body),
        "isBase64Encoded": true,
    })
    .to_string()
}

fn body_bytes(response: &Value) -> Vec<u8> {
    let body = response["body"].as_str().unwrap_or_default();
    if response["isBase64Encoded"].as_bool().unwrap_or(false) {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    } else {
        body.as_bytes().to_vec()
    }
}

/// The fixture's routes, through the handler: hello, binary, cookies, echo, 404.
#[track_caller]
fn assert_routes(framework: &str, r: &[Value]) {
    assert_eq!(r[0]["statusCode"], 200, "{framework} /: {}", r[0]);
    assert_eq!(body_bytes(&r[0]), b"Hello World", "{framework}");

    assert_eq!(r[1]["statusCode"], 200, "{framework} /bin: {}", r[1]);
    assert_eq!(r[1]["isBase64Encoded"], true, "{framework} /bin");
    assert_eq!(
        body_bytes(&r[1]),
        (0..=255u8).collect::<Vec<_>>(),
        "{framework}"
    );

    let cookies: Vec<&str> = r[2]["cookies"]
        .as_array()
        .unwrap_or_else(|| panic!("{framework} /cookie has no cookies list: {}", r[2]))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        cookies.iter().any(|c| c.starts_with("session=abc123"))
            && cookies.iter().any(|c| c.starts_with("theme=dark")),
        "{framework} /cookie: {cookies:?}"
    );

    assert_eq!(r[3]["statusCode"], 200, "{framework} /echo: {}", r[3]);
    let echo: Value = serde_json::from_slice(&body_bytes(&r[3])).unwrap();
    assert_eq!(echo["method"], "POST", "{framework}");
    assert_eq!(echo["path"], "/echo", "{framework}");
    assert_eq!(echo["query"]["a"], json!(["1", "2"]), "{framework}");
    assert_eq!(echo["query"]["q"], json!(["hello world"]), "{framework}");
    assert_eq!(echo["headers"]["x-custom"], "yes", "{framework}");
    assert_eq!(echo["cookies"]["session"], "abc123", "{framework}");
    assert_eq!(echo["cookies"]["theme"], "dark", "{framework}");
    let sent: Vec<u8> = (0..=255u8).rev().collect();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(echo["body_base64"].as_str().unwrap())
            .unwrap(),
        sent,
        "{framework}: the binary request body"
    );

    assert_eq!(r[4]["statusCode"], 404, "{framework} /nope: {}", r[4]);
}

fn route_events() -> Vec<String> {
    vec![
        get("/"),
        get("/bin"),
        get("/cookie"),
        echo_event(&(0..=255u8).rev().collect::<Vec<_>>()),
        get("/nope"),
    ]
}

/// Package `name` for arm64 + python3.13 and check its files.
fn package_arm64(dir: &Path, name: &str, native: &[&str]) -> (Value, PathBuf, Bundle) {
    let out = dir.join(format!("{name}-arm64.zip"));
    let report = package(&fixture(name), &out, &[]);
    assert_eq!(report["runtime"], "python3.13");
    assert_eq!(report["architecture"], "arm64");
    assert_eq!(report["handler"], "deploy_action_handler.handler");
    let bundle = read_bundle(&out);
    bundle.assert_common();
    bundle.assert_elfs(0xB7, native);
    (report, out, bundle)
}

/// Package for arm64, check, and run the routes in the emulated CPython 3.13.
fn arm64_fixture(name: &str, native: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let (report, zip, _) = package_arm64(dir.path(), name, native);
    let unpacked = unpack_once(&zip, report["sha256"].as_str().unwrap());
    let pycache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-pycache-aarch64");
    let python = qemu_python(&pycache);
    let python: Vec<&str> = python.iter().map(String::as_str).collect();
    let responses = invoke(&python, &unpacked, &route_events());
    assert_routes(name, &responses);
}

/// Package for this machine and its CPython, and run the routes there.
fn host_fixture(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(format!("{name}-host.zip"));
    let runtime = format!("python3.{}", host_python_minor());
    let report = package(
        &fixture(name),
        &out,
        &["--architecture", "x86_64", "--runtime", &runtime],
    );
    assert_eq!(report["architecture"], "x86_64");
    let bundle = read_bundle(&out);
    bundle.assert_common();
    bundle.assert_elfs(0x3E, &[]);
    let unpacked = dir.path().join("bundle");
    zip::ZipArchive::new(std::fs::File::open(&out).unwrap())
        .unwrap()
        .extract(&unpacked)
        .unwrap();
    let python = python();
    let mut events = route_events();
    events.push(get("/raise"));
    events.push(get("/sleep?s=0.2"));
    let responses = invoke(&[python.as_str()], &unpacked, &events);
    assert_routes(name, &responses);
    // An exception in a view is the framework's 500, not a crash of the handler.
    assert_eq!(
        responses[5]["statusCode"], 500,
        "{name} /raise: {}",
        responses[5]
    );
    assert_eq!(
        responses[6]["statusCode"], 200,
        "{name} /sleep: {}",
        responses[6]
    );
    assert_eq!(body_bytes(&responses[6]), b"slept 0.2", "{name}");
}

#[test]
fn flask_arm64_is_small_aarch64_only_reproducible_and_answers_under_qemu() {
    let dir = tempfile::tempdir().unwrap();
    let (first, zip, bundle) = package_arm64(dir.path(), "flask-hello", &["markupsafe/"]);
    assert!(bundle.has("run.py") && bundle.has_prefix("flask/"));
    let size = first["size"].as_u64().unwrap();
    assert!(
        size <= 3 * MIB / 2,
        "the Flask hello is {size} bytes; at most 1.5 MiB"
    );
    eprintln!("flask-hello arm64: {size} bytes, {} files", first["files"]);

    let again = dir.path().join("again.zip");
    let second = package(&fixture("flask-hello"), &again, &[]);
    assert_eq!(first["sha256"], second["sha256"]);
    assert_eq!(std::fs::read(&zip).unwrap(), std::fs::read(&again).unwrap());

    let unpacked = unpack_once(&zip, first["sha256"].as_str().unwrap());
    let pycache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-pycache-aarch64");
    let python = qemu_python(&pycache);
    let python: Vec<&str> = python.iter().map(String::as_str).collect();
    let responses = invoke(&python, &unpacked, &route_events());
    assert_routes("flask-hello", &responses);
}

#[test]
fn fastapi_arm64_loads_pydantic_core_under_qemu() {
    arm64_fixture("fastapi-hello", &["pydantic_core/"]);
}

#[test]
fn sanic_arm64_loads_its_native_extensions_under_qemu() {
    arm64_fixture(
        "sanic-hello",
        &["httptools/", "multidict/", "ujson", "uvloop/"],
    );
}

#[test]
fn flask_for_the_host_answers_function_url_events() {
    host_fixture("flask-hello");
}

#[test]
fn fastapi_for_the_host_answers_function_url_events() {
    host_fixture("fastapi-hello");
}

#[test]
fn sanic_for_the_host_answers_function_url_events() {
    host_fixture("sanic-hello");
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

const HELLO: &str = "from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.route('/')\ndef index():\n    return 'Hello World'\n";

#[test]
fn boto3_is_left_out_unless_pinned_and_so_is_what_only_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    write(
        &app,
        &[
            ("app.py", HELLO),
            (
                "requirements.txt",
                "flask==3.1.2\nrequests==2.32.5\nboto3\n",
            ),
        ],
    );
    package(&app, &dir.path().join("a.zip"), &[]);
    let bundle = read_bundle(&dir.path().join("a.zip"));
    for kept in ["flask/", "requests/", "urllib3/", "certifi/"] {
        assert!(bundle.has_prefix(kept), "{kept} missing");
    }
    for gone in [
        "boto3",
        "botocore",
        "s3transfer",
        "jmespath",
        "dateutil",
        "six.py",
    ] {
        assert!(!bundle.has_prefix(gone), "{gone} bundled");
    }

    write(
        &app,
        &[("requirements.txt", "flask==3.1.2\nboto3==1.40.0\n")],
    );
    package(&app, &dir.path().join("b.zip"), &[]);
    let bundle = read_bundle(&dir.path().join("b.zip"));
    assert!(bundle.has_prefix("boto3-1.40.0.dist-info/"));
    for kept in ["botocore/", "s3transfer/", "jmespath/"] {
        assert!(bundle.has_prefix(kept), "{kept} missing with boto3 pinned");
    }
}

#[test]
fn uv_lock_pins_win_over_newer_releases() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    write(
        &app,
        &[
            ("app.py", HELLO),
            (
                "pyproject.toml",
                "[project]\nname = \"hello\"\nversion = \"0.1.0\"\nrequires-python = \">=3.11\"\ndependencies = [\"flask>=3\", \"six\"]\n",
            ),
        ],
    );
    // Lock an older six than the newest (1.17.0), as a lock does once time passes.
    let uv = which_uv();
    let status = Command::new(&uv)
        .args(["lock", "--no-progress", "--upgrade-package", "six==1.16.0"])
        .current_dir(&app)
        .env("UV_PYTHON_DOWNLOADS", "never")
        .status()
        .unwrap();
    assert!(status.success(), "uv lock");
    assert!(
        std::fs::read_to_string(app.join("uv.lock"))
            .unwrap()
            .contains("1.16.0")
    );
    package(&app, &dir.path().join("a.zip"), &[]);
    let bundle = read_bundle(&dir.path().join("a.zip"));
    assert!(
        bundle.has_prefix("six-1.16.0.dist-info/"),
        "{:?}",
        bundle.names
    );
    assert!(bundle.has_prefix("flask/"));
}

fn which_uv() -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("uv"))
        .chain([tools_dir().join("venv/bin/uv")])
        .find(|p| p.is_file())
        .expect("uv (scripts/install-tools.sh installs it)")
}

#[test]
fn pipfile_lock_default_section_is_installed() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    write(
        &app,
        &[
            ("main.py", HELLO),
            (
                "Pipfile.lock",
                r#"{"_meta": {"sources": []}, "default": {
                    "flask": {"version": "==3.1.2"}, "werkzeug": {"version": "==3.1.9"},
                    "jinja2": {"version": "==3.1.6"}, "markupsafe": {"version": "==3.0.4"},
                    "itsdangerous": {"version": "==2.2.0"}, "click": {"version": "==8.5.1"},
                    "blinker": {"version": "==1.9.0"}
                }, "develop": {"pytest": {"version": "==8.3.0"}}}"#,
            ),
        ],
    );
    package(&app, &dir.path().join("a.zip"), &[]);
    let bundle = read_bundle(&dir.path().join("a.zip"));
    assert!(bundle.has_prefix("flask-3.1.2.dist-info/"));
    assert!(
        !bundle.has_prefix("pytest"),
        "develop packages are not bundled"
    );
    assert!(bundle.has("main.py"));
}

#[test]
fn pip_builds_the_same_bundle_when_uv_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    write(
        &app,
        &[
            ("run.py", HELLO),
            ("requirements.txt", "flask==3.1.2\nboto3\n"),
        ],
    );
    // A PATH without uv, and a tools folder without the venv's uv.
    let path: Vec<PathBuf> = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .filter(|d| !d.join("uv").exists())
        .collect();
    let path = std::env::join_paths(path).unwrap();
    let (code, stdout, stderr) = Run::new(&[
        "package",
        "--source",
        app.to_str().unwrap(),
        "--out",
        dir.path().join("pip.zip").to_str().unwrap(),
        "--output",
        "json",
    ])
    .env("PATH", path.to_str().unwrap())
    .env(
        "DEPLOY_ACTION_TOOLS",
        dir.path().join("tools").to_str().unwrap(),
    )
    .run();
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stderr.contains("with pip"), "{stderr}");
    let bundle = read_bundle(&dir.path().join("pip.zip"));
    bundle.assert_common();
    bundle.assert_elfs(0xB7, &["markupsafe/"]);
    assert!(bundle.has_prefix("flask-3.1.2.dist-info/"));
    assert!(!bundle.has_prefix("jmespath") && !bundle.has_prefix("dateutil"));
}

#[test]
fn a_directory_without_an_app_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    write(
        &app,
        &[
            ("requirements.txt", "flask==3.1.2\n"),
            (
                "main.py",
                "from flask import Flask\napplication = Flask(__name__)\n",
            ),
        ],
    );
    let out = dir.path().join("x.zip");
    let message = Run::new(&[
        "package",
        "--source",
        app.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .bad_input();
    assert!(message.contains("no Python app found"), "{message}");
    assert!(
        message.contains("main.py do(es) not define `app`"),
        "{message}"
    );
    assert!(message.contains("--python-app module:attr"), "{message}");
    assert!(!out.exists());

    // Named explicitly, it builds; a module that isn't there is refused.
    package(&app, &out, &["--python-app", "main:application"]);
    let message = Run::new(&[
        "package",
        "--source",
        app.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--python-app",
        "web.server:app",
    ])
    .bad_input();
    assert!(message.contains("module web.server"), "{message}");
}

#[test]
fn a_dependency_without_an_aarch64_wheel_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    // docopt 0.6.2 is published as a source distribution only.
    write(
        &app,
        &[
            ("run.py", HELLO),
            ("requirements.txt", "flask==3.1.2\ndocopt==0.6.2\n"),
        ],
    );
    let message = Run::new(&[
        "package",
        "--source",
        app.to_str().unwrap(),
        "--out",
        dir.path().join("x.zip").to_str().unwrap(),
    ])
    .bad_input();
    assert!(
        message.contains("no wheel of docopt for CPython 3.13"),
        "{message}"
    );
    assert!(message.contains("aarch64"), "{message}");
    assert!(message.contains("pin a version of docopt"), "{message}");
}

#[test]
fn an_x86_64_extension_in_an_arm64_bundle_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    write(
        &app,
        &[("run.py", HELLO), ("requirements.txt", "flask==3.1.2\n")],
    );
    // A real x86-64 extension module of this machine's Python, vendored by hand.
    let out = Command::new(python())
        .args(["-c", "import _ctypes; print(_ctypes.__file__)"])
        .output()
        .unwrap();
    let so = String::from_utf8_lossy(&out.stdout).trim().to_string();
    std::fs::create_dir_all(app.join("vendor")).unwrap();
    std::fs::copy(
        &so,
        app.join("vendor/_fast.cpython-313-x86_64-linux-gnu.so"),
    )
    .unwrap();
    let message = Run::new(&[
        "package",
        "--source",
        app.to_str().unwrap(),
        "--out",
        dir.path().join("x.zip").to_str().unwrap(),
    ])
    .bad_input();
    assert!(
        message.contains("vendor/_fast.cpython-313-x86_64-linux-gnu.so (x86-64)"),
        "{message}"
    );
}

#[test]
fn source_files_leave_out_tooling_and_honour_exclude() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    write(
        &app,
        &[
            ("run.py", HELLO),
            ("requirements.txt", "flask==3.1.2\n"),
            ("templates/index.html", "<p>hi</p>"),
            ("tests/test_run.py", "def test(): pass\n"),
            (".github/workflows/ci.yml", "on: push\n"),
            (".venv/pyvenv.cfg", "home = /usr\n"),
            ("env/pyvenv.cfg", "home = /usr\n"),
            ("env/lib/site.py", ""),
            ("__pycache__/run.cpython-313.pyc", ""),
            ("secrets.env", "TOKEN=x"),
            (".gitignore", "*.env\n"),
            ("docs/guide.md", "# guide"),
        ],
    );
    let out = dir.path().join("a.zip");
    // Without start-up bytecode: a __pycache__ in the bundle can only be the source tree's.
    package(&app, &out, &["--exclude", "docs", "--no-compile"]);
    let bundle = read_bundle(&out);
    assert!(bundle.has("run.py") && bundle.has("templates/index.html"));
    for gone in [
        "tests/",
        ".github/",
        ".venv/",
        "env/",
        "__pycache__/",
        "secrets.env",
        "docs/",
    ] {
        assert!(!bundle.has_prefix(gone), "{gone} bundled");
    }
}

#[test]
fn deploy_of_the_flask_fixture_to_moto_ships_the_packaged_bytes() {
    let world = World::new();
    let cmd = world.cmd(&[
        "deploy",
        "--app",
        "flask",
        "--stage",
        "main",
        "--source",
        fixture("flask-hello").to_str().unwrap(),
        "--s3-bucket",
        BUCKET,
        "--execution-role",
        &World::exec_role(),
        "--output",
        "json",
    ]);
    let report = cmd.run().success().json();
    assert_eq!(report["function_name"], "flask-main");
    assert_eq!(report["version"], "1");
    let config = world.config("flask-main", Some("live"));
    assert_eq!(config.handler(), Some("deploy_action_handler.handler"));
    assert_eq!(config.runtime().map(|r| r.as_str()), Some("python3.13"));
    assert_eq!(
        config
            .architectures()
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>(),
        vec!["arm64"]
    );

    // What S3 holds is what `package` builds, byte for byte.
    let key = report["artifact"]
        .as_str()
        .unwrap()
        .strip_prefix(&format!("s3://{BUCKET}/"))
        .unwrap()
        .to_string();
    let stored = world.s3_get(&key);
    let local = world.dir().join("local.zip");
    let packaged = package(&fixture("flask-hello"), &local, &[]);
    assert!(key.ends_with(&format!("{}.zip", packaged["sha256"].as_str().unwrap())));
    assert_eq!(stored, std::fs::read(&local).unwrap());
    let bundle = read_bundle(&local);
    bundle.assert_common();
}

/// The `.pyc` entries of a zip: (name, the 16-byte header).
fn pyc_headers(zip: &Path) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let mut found = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().unwrap().to_string();
        if name.ends_with(".pyc") {
            let mut header = Vec::new();
            (&mut entry).take(16).read_to_end(&mut header).unwrap();
            found.push((name, header));
        }
    }
    found
}

/// Issue 20 §2: a Python bundle ships bytecode for the runtime's CPython (3.13: magic number
/// 3571, `importlib.util.MAGIC_NUMBER == b'\xf3\r\r\n'`), `unchecked-hash` (PEP 552 flags = 1:
/// hash-based, source not checked), for the modules imported at start-up, sources kept; the
/// same from build to build (the size and identity checks of the Flask test above hold with
/// bytecode); `--no-compile` and DEPLOY_NO_COMPILE ship none and keep the bundle at ≤ 0.75 MiB.
#[test]
fn python_bundles_ship_start_up_bytecode_for_the_runtime_unless_no_compile() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("flask.zip");
    let report = package(&fixture("flask-hello"), &zip, &[]);
    let size = report["size"].as_u64().unwrap();
    assert!(
        size <= 3 * MIB / 2,
        "Flask hello with bytecode: {size} bytes"
    );
    let pycs = pyc_headers(&zip);
    for (name, header) in &pycs {
        assert_eq!(
            &header[..4],
            b"\xf3\r\r\n",
            "{name}: not CPython 3.13 bytecode"
        );
        assert_eq!(&header[4..8], &[1, 0, 0, 0], "{name}: not unchecked-hash");
    }
    let names: Vec<&str> = pycs.iter().map(|(n, _)| n.as_str()).collect();
    for imported in [
        "__pycache__/deploy_action_handler.cpython-313.pyc",
        "__pycache__/run.cpython-313.pyc",
        "flask/__pycache__/__init__.cpython-313.pyc",
        "flask/__pycache__/app.cpython-313.pyc",
        "werkzeug/routing/__pycache__/map.cpython-313.pyc",
        "jinja2/__pycache__/environment.cpython-313.pyc",
        "apig_wsgi/__pycache__/__init__.cpython-313.pyc",
    ] {
        assert!(names.contains(&imported), "no {imported} in {names:?}");
    }
    // Only what start-up imports: a WSGI app's bundle has no bytecode for mangum (ASGI), nor for
    // modules only imported inside functions (werkzeug's debugger).
    assert!(!names.iter().any(|n| n.starts_with("mangum/")), "{names:?}");
    assert!(
        !names.iter().any(|n| n.starts_with("werkzeug/debug/")),
        "{names:?}"
    );
    let bundle = read_bundle(&zip);
    bundle.assert_common();
    assert!(
        bundle.has("run.py") && bundle.has("flask/app.py"),
        "sources kept"
    );

    for (extra, env) in [(&["--no-compile"][..], None), (&[][..], Some("true"))] {
        let out = dir.path().join("plain.zip");
        let source = fixture("flask-hello");
        let mut args = vec![
            "package",
            "--source",
            source.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--output",
            "json",
        ];
        args.extend_from_slice(extra);
        let mut run = Run::new(&args);
        if let Some(v) = env {
            run = run.env("DEPLOY_NO_COMPILE", v);
        }
        let plain = run.success();
        assert!(pyc_headers(&out).is_empty(), "{extra:?} {env:?}: bytecode");
        let size = plain["size"].as_u64().unwrap();
        assert!(
            size <= 3 * MIB / 4,
            "Flask hello without bytecode: {size} bytes"
        );
    }
}

/// An ASGI app's bundle compiles mangum, the adapter its handler imports.
#[test]
fn an_asgi_bundle_compiles_its_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("fastapi.zip");
    package(&fixture("fastapi-hello"), &zip, &[]);
    let names: Vec<String> = pyc_headers(&zip).into_iter().map(|(n, _)| n).collect();
    for imported in [
        "mangum/__pycache__/adapter.cpython-313.pyc",
        "fastapi/__pycache__/applications.cpython-313.pyc",
        "pydantic/__pycache__/main.cpython-313.pyc",
    ] {
        assert!(
            names.iter().any(|n| n == imported),
            "no {imported} in {names:?}"
        );
    }
}

/// Without a CPython of the runtime's version the bundle ships without bytecode, says so, and
/// still builds.
#[test]
fn without_a_matching_python_the_bundle_has_no_bytecode_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("flask.zip");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (code, stdout, stderr) = Run::new(&[
        "package",
        "--source",
        fixture("flask-hello").to_str().unwrap(),
        "--out",
        zip.to_str().unwrap(),
        "--output",
        "json",
        "--runtime",
        "python3.12",
    ])
    .env("PATH", "/usr/bin:/bin")
    .env("PYENV_ROOT", empty.to_str().unwrap())
    .env("DEPLOY_ARM64_ROOT", empty.to_str().unwrap())
    .run();
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(
        stderr.matches("no CPython 3.12 found").count(),
        1,
        "{stderr}"
    );
    assert!(pyc_headers(&zip).is_empty());
}

/// The emulated CPython 3.14 (issue 18): qemu-user with the second aarch64 root of
/// scripts/install-arm64-toolchain.sh (Debian forky's python3.14; scripts/env.sh exports
/// DEPLOY_ARM64_ROOT_PY314). Never skipped: the script makes it.
fn qemu_python314(pycache: &Path) -> Vec<String> {
    let root = std::env::var_os("DEPLOY_ARM64_ROOT_PY314")
        .filter(|r| !r.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| tools_dir().join("arm64-root-py314"));
    let python = root.join("usr/bin/python3.14");
    assert!(
        python.exists(),
        "no aarch64 CPython 3.14 at {}: run scripts/install-arm64-toolchain.sh (it makes the root; scripts/env.sh exports DEPLOY_ARM64_ROOT_PY314)",
        python.display()
    );
    vec![
        "qemu-aarch64-static".into(),
        "-L".into(),
        root.display().to_string(),
        python.display().to_string(),
        "-X".into(),
        format!("pycache_prefix={}", pycache.display()),
    ]
}

/// Issue 18: `--runtime python3.14` end to end on arm64. The bundle is packaged the real way
/// (cp314 manylinux aarch64 wheels, the adapter, the ELF check, start-up bytecode made by the
/// emulated 3.14), then its routes are answered by the handler in the emulated CPython 3.14,
/// whose interpreter, bytecode magic and loaded native extension are checked too.
fn arm64_py314_fixture(name: &str, native: &str) {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join(format!("{name}-arm64-py314.zip"));
    let report = package(&fixture(name), &zip, &["--runtime", "python3.14"]);
    assert_eq!(report["runtime"], "python3.14");
    assert_eq!(report["architecture"], "arm64");
    let bundle = read_bundle(&zip);
    bundle.assert_common();
    bundle.assert_elfs(0xB7, &[native]);
    let extension = bundle
        .elfs
        .iter()
        .map(|(n, _)| n.as_str())
        .find(|n| n.starts_with(native) && n.contains(".cpython-314-aarch64-linux-gnu."))
        .unwrap_or_else(|| {
            panic!(
                "no cp314 aarch64 extension under {native}: {:?}",
                bundle.elfs
            )
        })
        .to_string();
    let pycs = pyc_headers(&zip);
    assert!(!pycs.is_empty(), "{name}: no start-up bytecode");
    assert!(
        pycs.iter().all(|(n, _)| n.ends_with(".cpython-314.pyc")),
        "{name}: bytecode for another CPython: {:?}",
        pycs.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );

    let unpacked = unpack_once(&zip, report["sha256"].as_str().unwrap());
    let pycache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-pycache-aarch64-py314");
    let python = qemu_python314(&pycache);
    let python: Vec<&str> = python.iter().map(String::as_str).collect();

    // The interpreter is CPython 3.14 on aarch64, the bundle's bytecode is its, and the
    // bundle's cp314 extension loads in it (an optional speed-up would otherwise fall back).
    let module = extension
        .trim_end_matches(".so")
        .split(".cpython-")
        .next()
        .unwrap()
        .replace('/', ".");
    let probe = format!(
        "import sys, platform, importlib, importlib.util\n\
         sys.path.insert(0, {bundle:?})\n\
         m = importlib.import_module({module:?})\n\
         print(platform.machine(), '%d.%d' % sys.version_info[:2], importlib.util.MAGIC_NUMBER.hex(), m.__file__)",
        bundle = unpacked.display().to_string(),
    );
    let out = Command::new(python[0])
        .args(&python[1..])
        .args(["-I", "-S", "-c", &probe])
        .stdin(Stdio::null())
        .output()
        .expect("run the emulated CPython 3.14");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fields: Vec<&str> = stdout.split_whitespace().collect();
    assert_eq!(fields[..2], ["aarch64", "3.14"], "{stdout}");
    let magic = hex::encode(&pycs[0].1[..4]);
    assert_eq!(fields[2], magic, "{name}: the bytecode's magic number");
    assert!(fields[3].ends_with(&extension), "{stdout}");

    let responses = invoke(&python, &unpacked, &route_events());
    assert_routes(name, &responses);
}

#[test]
fn flask_python314_arm64_answers_under_qemu_in_cpython_314() {
    arm64_py314_fixture("flask-hello", "markupsafe/");
}

#[test]
fn fastapi_python314_arm64_answers_under_qemu_in_cpython_314() {
    arm64_py314_fixture("fastapi-hello", "pydantic_core/");
}
