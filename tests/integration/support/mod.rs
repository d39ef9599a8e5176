//! The test harness: a fresh moto per test (optionally behind the fault proxy), the fake
//! GitHub server, and a builder that runs the real binary in a sealed environment.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";
pub const BUCKET: &str = "artifacts";
pub const GITHUB_TOKEN: &str = "ghs_TestToken0123456789abcdefSECRET";
pub const OIDC_REQUEST_TOKEN: &str = "oidc-request-token-0123456789SECRET";
/// Keys the sealed environment gives the binary; tests check they never leak.
pub const AWS_SECRET: &str = "testing-secret-key-SECRET";
/// The ID token the fake GitHub hands out (a JWT-shaped string).
pub const OIDC_ID_TOKEN: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOm9jdG8vYXBwIn0.SECRETsignature0123";

/// The repository root.
#[must_use]
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture app under `fixtures/`.
#[must_use]
pub fn fixture(name: &str) -> PathBuf {
    root().join("fixtures").join(name)
}

/// Builds of fixtures/rust-hello share its `target/` directory; when two run at once,
/// cargo-lambda in the one that waited for the lock finds its binary already built by the
/// other and reports "no binaries found". Tests that build it take turns.
pub fn rust_fixture_turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A GitHub webhook payload from `fixtures/events/` (see its README for where each comes from).
#[must_use]
pub fn event(name: &str) -> PathBuf {
    root().join("fixtures/events").join(name)
}

/// What a sealed run keeps of the test process's environment: where the tools are, plus
/// `REGISTRY_ENV`.
pub const HOST_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "DEPLOY_ACTION_TOOLS",
    "DEPLOY_ARM64_ROOT",
    "DEPLOY_ARM64_ROOT_PY314",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "PYENV_ROOT",
];

/// How this machine reaches the package registries (a proxy with its own CA: pip, uv and cargo
/// need these to download anything), and where temporary files and the uv cache go. Every
/// sealed environment keeps these, the act runner's included.
pub const REGISTRY_ENV: &[&str] = &[
    "TMPDIR",
    "UV_CACHE_DIR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "PIP_CERT",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_DEFAULT_TIMEOUT",
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
];

/// The kept variables that are set, plus `NO_COLOR`.
#[must_use]
pub fn host_env() -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = HOST_ENV
        .iter()
        .chain(REGISTRY_ENV)
        .filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_string(), v)))
        .collect();
    env.insert("NO_COLOR".into(), "1".into());
    env
}

fn python() -> String {
    std::env::var("DEPLOY_ACTION_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn wait_for_port(port: u16, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on {port} within 60 s");
}

/// Start moto on a port of its own choosing (`-p 0`: the kernel picks it while moto binds,
/// so no other process can take it between a probe and the bind) and learn the port from
/// werkzeug's `Running on http://127.0.0.1:<port>` line in its log. Then check that the socket
/// listening there belongs to this child (its /proc fd table), so the tests never talk to
/// another test's moto.
fn start_moto(log_path: &Path) -> (Child, u16) {
    let log = std::fs::File::create(log_path).expect("moto log");
    let mut child = Command::new(python())
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"])
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start moto (python3 -m moto.server; run scripts/install-tools.sh)");
    let deadline = Instant::now() + Duration::from_secs(60);
    let port = loop {
        let text = std::fs::read_to_string(log_path).unwrap_or_default();
        if let Some(port) = text
            .split("Running on http://127.0.0.1:")
            .nth(1)
            .and_then(|rest| {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse::<u16>().ok()
            })
        {
            break port;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("moto exited before listening: {status}\n{text}");
        }
        assert!(
            Instant::now() < deadline,
            "moto did not say where it listens within 60 s:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    wait_for_port(port, "moto", &mut child);
    assert!(
        listens_on(child.id(), port),
        "port {port} is not held by our moto (pid {})",
        child.id()
    );
    (child, port)
}

/// Does process `pid` hold the socket listening on 127.0.0.1:`port`? (Linux /proc.)
fn listens_on(pid: u32, port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let wanted = format!("0100007F:{port:04X}");
    let inodes: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // local_address, st (0A = LISTEN), inode
            (cols.len() > 9 && cols[1] == wanted && cols[3] == "0A").then(|| cols[9].to_string())
        })
        .collect();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(Result::ok)
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .any(|target| {
            inodes
                .iter()
                .any(|inode| target.to_string_lossy() == format!("socket:[{inode}]"))
        })
}

/// A child process killed on drop.
struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start a `tests/support/*.py` server that prints `PORT <n>` on stdout.
fn start_support_server(script: &str, args: &[String], log: &Path) -> (Server, u16) {
    let log_file = std::fs::File::create(log).expect("server log");
    let mut child = Command::new(python())
        .arg(root().join("tests/support").join(script))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(log_file)
        .spawn()
        .unwrap_or_else(|e| panic!("can't start {script}: {e}"));
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("server's first line");
    let port: u16 = line
        .trim()
        .strip_prefix("PORT ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "{script} printed {line:?} instead of `PORT n`; log: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        });
    (Server { child }, port)
}

fn http_json(method: &str, url: &str, body: Option<&Value>) -> Value {
    let client = reqwest::blocking::Client::new();
    let mut req = client.request(method.parse().expect("method"), url);
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req.send().unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = resp.status();
    let text = resp.text().unwrap_or_default();
    assert!(status.is_success(), "{method} {url}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// The fault-injecting proxy in front of moto.
pub struct FaultProxy {
    _server: Server,
    pub port: u16,
}

impl FaultProxy {
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Merge settings into the proxy's configuration (see tests/support/README.md).
    pub fn configure(&self, config: Value) {
        http_json(
            "POST",
            &format!("{}/__proxy/config", self.url()),
            Some(&config),
        );
    }

    pub fn reset(&self) {
        http_json(
            "POST",
            &format!("{}/__proxy/reset", self.url()),
            Some(&Value::Null),
        );
    }

    /// Every request that went through, in order.
    #[must_use]
    pub fn log(&self) -> Vec<Value> {
        match http_json("GET", &format!("{}/__proxy/log", self.url()), None) {
            Value::Array(v) => v,
            other => panic!("proxy log is not a list: {other}"),
        }
    }

    pub fn clear_log(&self) {
        http_json("DELETE", &format!("{}/__proxy/log", self.url()), None);
    }

    /// The operations of the log (`lambda:UpdateFunctionCode`, `s3:PutObject`, ...).
    #[must_use]
    pub fn operations(&self) -> Vec<String> {
        self.log()
            .iter()
            .filter_map(|e| e.get("operation").and_then(Value::as_str).map(String::from))
            .collect()
    }
}

/// The fake GitHub API (+ OIDC token endpoint).
pub struct FakeGitHub {
    _server: Server,
    pub port: u16,
}

impl FakeGitHub {
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    #[must_use]
    pub fn state(&self) -> Value {
        http_json("GET", &format!("{}/__fake/state", self.url()), None)
    }

    pub fn post(&self, path: &str, body: Value) -> Value {
        http_json("POST", &format!("{}{path}", self.url()), Some(&body))
    }
}

/// SDK config for inspecting and seeding state through the proxy (which also translates
/// CloudWatch's CBOR for moto). Its access key starts with OBSERVER, which the fault proxy never
/// faults or logs.
fn observer_config(runtime: &tokio::runtime::Runtime, endpoint: &str) -> aws_config::SdkConfig {
    runtime.block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(endpoint)
            .credentials_provider(aws_credential_types::Credentials::new(
                "OBSERVER0000000000",
                "observer",
                None,
                None,
                "tests",
            ))
            .load(),
    )
}

/// SDK clients for inspecting state. Their access key starts with OBSERVER, which the
/// fault proxy never faults or logs.
fn inspection_clients(
    runtime: &tokio::runtime::Runtime,
    endpoint: &str,
) -> (aws_sdk_lambda::Client, aws_sdk_s3::Client) {
    let config = observer_config(runtime, endpoint);
    let lambda = aws_sdk_lambda::Client::new(&config);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    (lambda, s3)
}

/// One test's world: moto, maybe the proxy and the fake GitHub, a temp dir.
pub struct World {
    dir: tempfile::TempDir,
    _moto: Server,
    pub moto_port: u16,
    proxy: Option<FaultProxy>,
    github: Option<FakeGitHub>,
    runtime: tokio::runtime::Runtime,
    lambda: aws_sdk_lambda::Client,
    s3: aws_sdk_s3::Client,
}

impl World {
    /// A fresh moto with the bucket and the execution role, behind the fault proxy with no
    /// faults on: the proxy still makes moto answer like Lambda (RevisionIds, version
    /// numbers, architectures; see tests/support/README.md).
    #[must_use]
    pub fn new() -> World {
        World::with_proxy()
    }

    /// moto alone, as it answers.
    #[must_use]
    pub fn moto_only() -> World {
        let dir = tempfile::Builder::new()
            .prefix("deploy-action-test-")
            .tempdir()
            .expect("temp dir");
        let (child, port) = start_moto(&dir.path().join("moto.log"));
        let moto = Server { child };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (lambda, s3) = inspection_clients(&runtime, &format!("http://127.0.0.1:{port}"));
        let world = World {
            dir,
            _moto: moto,
            moto_port: port,
            proxy: None,
            github: None,
            runtime,
            lambda,
            s3,
        };
        world
            .runtime
            .block_on(world.s3.create_bucket().bucket(BUCKET).send())
            .expect("create bucket");
        // moto checks that the execution role exists in its IAM.
        let status = Command::new(python())
            .args([
                "-c",
                "import boto3,sys; boto3.client('iam', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='t', aws_secret_access_key='t').create_role(RoleName='lambda-exec', AssumeRolePolicyDocument='{}')",
                &format!("http://127.0.0.1:{port}"),
            ])
            .status()
            .expect("python3 with boto3");
        assert!(status.success(), "creating the IAM role in moto failed");
        world
    }

    /// moto behind the fault proxy; the binary talks to the proxy.
    #[must_use]
    pub fn with_proxy() -> World {
        let mut world = World::moto_only();
        let (server, port) = start_support_server(
            "fault_proxy.py",
            &[
                "--upstream".into(),
                format!("http://127.0.0.1:{}", world.moto_port),
                "--port".into(),
                "0".into(),
            ],
            &world.dir.path().join("proxy.log"),
        );
        world.proxy = Some(FaultProxy {
            _server: server,
            port,
        });
        // Inspect through the proxy too, so tests see what Lambda would answer.
        let (lambda, s3) = inspection_clients(&world.runtime, &format!("http://127.0.0.1:{port}"));
        world.lambda = lambda;
        world.s3 = s3;
        world
    }

    /// Start the fake GitHub server.
    pub fn start_github(&mut self) -> &FakeGitHub {
        let (server, port) = start_support_server(
            "fake_github.py",
            &[
                "--port".into(),
                "0".into(),
                "--token".into(),
                GITHUB_TOKEN.into(),
                "--oidc-request-token".into(),
                OIDC_REQUEST_TOKEN.into(),
                "--oidc-token".into(),
                OIDC_ID_TOKEN.into(),
            ],
            &self.dir.path().join("github.log"),
        );
        self.github = Some(FakeGitHub {
            _server: server,
            port,
        });
        self.github.as_ref().expect("just set")
    }

    #[must_use]
    pub fn github(&self) -> &FakeGitHub {
        self.github.as_ref().expect("call start_github() first")
    }

    #[must_use]
    pub fn proxy(&self) -> &FaultProxy {
        self.proxy.as_ref().expect("use World::with_proxy()")
    }

    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    #[must_use]
    pub fn exec_role() -> String {
        format!("arn:aws:iam::{ACCOUNT}:role/lambda-exec")
    }

    #[must_use]
    pub fn bucket() -> &'static str {
        BUCKET
    }

    /// The endpoint the binary uses.
    #[must_use]
    /// SDK config with the observer's keys (`observer_config`), for any service's client.
    pub fn observer_config(&self) -> aws_config::SdkConfig {
        observer_config(&self.runtime, &self.endpoint())
    }

    pub fn endpoint(&self) -> String {
        match &self.proxy {
            Some(p) => p.url(),
            None => format!("http://127.0.0.1:{}", self.moto_port),
        }
    }

    /// moto itself (bypassing the proxy).
    #[must_use]
    pub fn moto_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.moto_port)
    }

    /// Write files into a new directory under the temp dir.
    pub fn write_dir(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let d = self.dir.path().join(name);
        for (path, body) in files {
            let p = d.join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, body).expect("write");
        }
        d
    }

    /// A small Python app directory whose handler returns `body`.
    pub fn python_app(&self, name: &str, body: &str) -> PathBuf {
        self.write_dir(
            name,
            &[(
                "app.py",
                &format!(
                    "def handler(event, context):\n    return {{'statusCode': 200, 'body': {body:?}}}\n"
                ),
            )],
        )
    }

    /// Someone else's function named `name`: created directly in Lambda, without our tags.
    pub fn create_untagged_function(&self, name: &str) {
        let dir = self.python_app(&format!("untagged-{name}"), "someone else's");
        let zip = self.dir().join(format!("untagged-{name}.zip"));
        self.cmd(&[
            "package",
            "--artifact",
            dir.to_str().unwrap(),
            "--out",
            zip.to_str().unwrap(),
        ])
        .run()
        .success();
        self.block_on(
            self.lambda_client()
                .create_function()
                .function_name(name)
                .runtime(aws_sdk_lambda::types::Runtime::Python313)
                .role(World::exec_role())
                .handler("app.handler")
                .code(
                    aws_sdk_lambda::types::FunctionCode::builder()
                        .zip_file(aws_sdk_lambda::primitives::Blob::new(
                            std::fs::read(&zip).unwrap(),
                        ))
                        .build(),
                )
                .send(),
        )
        .expect("create an untagged function");
    }

    /// `deploy-action` with a sealed environment pointing at this world.
    pub fn cmd(&self, args: &[&str]) -> Cmd {
        let mut env = host_env();
        for (k, v) in [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "AKIATESTINGKEY000001".into()),
            ("AWS_SECRET_ACCESS_KEY", AWS_SECRET.into()),
            ("AWS_REGION", REGION.into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_CONFIG_FILE", "/nonexistent".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".into()),
            ("DEPLOY_ACTION_TEST_BACKOFF_MS", "20".into()),
            ("NO_COLOR", "1".into()),
        ] {
            env.insert(k.into(), v);
        }
        Cmd {
            args: args.iter().map(|s| (*s).to_string()).collect(),
            env,
            cwd: self.dir.path().to_path_buf(),
            dir: self.dir.path().to_path_buf(),
            github_url: self.github.as_ref().map(FakeGitHub::url),
            proxy_url: self.proxy.as_ref().map(FaultProxy::url),
        }
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    #[must_use]
    pub fn lambda_client(&self) -> &aws_sdk_lambda::Client {
        &self.lambda
    }

    #[must_use]
    pub fn s3_client(&self) -> &aws_sdk_s3::Client {
        &self.s3
    }

    /// The version `live` points at, if the alias exists.
    #[must_use]
    pub fn alias_version(&self, function: &str) -> Option<String> {
        self.alias(function).map(|a| a.0)
    }

    /// `live`'s version and routing weights.
    #[must_use]
    pub fn alias(
        &self,
        function: &str,
    ) -> Option<(String, std::collections::HashMap<String, f64>)> {
        let r = self.block_on(
            self.lambda
                .get_alias()
                .function_name(function)
                .name("live")
                .send(),
        );
        r.ok().map(|a| {
            (
                a.function_version().unwrap_or_default().to_string(),
                a.routing_config()
                    .and_then(|r| r.additional_version_weights())
                    .cloned()
                    .unwrap_or_default(),
            )
        })
    }

    /// Published versions (number, CodeSha256, description), oldest first.
    #[must_use]
    pub fn versions(&self, function: &str) -> Vec<(String, String, String)> {
        let out = self
            .block_on(
                self.lambda
                    .list_versions_by_function()
                    .function_name(function)
                    .send(),
            )
            .expect("list versions");
        let mut v: Vec<_> = out
            .versions()
            .iter()
            .filter(|c| c.version() != Some("$LATEST"))
            .map(|c| {
                (
                    c.version().unwrap_or_default().to_string(),
                    c.code_sha256().unwrap_or_default().to_string(),
                    c.description().unwrap_or_default().to_string(),
                )
            })
            .collect();
        v.sort_by_key(|(n, _, _)| n.parse::<u64>().unwrap_or(0));
        v
    }

    #[must_use]
    pub fn exists(&self, function: &str) -> bool {
        self.block_on(self.lambda.get_function().function_name(function).send())
            .is_ok()
    }

    /// GetFunctionConfiguration of a qualifier.
    #[must_use]
    pub fn config(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput {
        self.block_on(
            self.lambda
                .get_function_configuration()
                .function_name(function)
                .set_qualifier(qualifier.map(String::from))
                .send(),
        )
        .expect("function configuration")
    }

    /// Object keys in the artifact bucket.
    #[must_use]
    pub fn s3_keys(&self) -> Vec<String> {
        let out = self
            .block_on(self.s3.list_objects_v2().bucket(BUCKET).send())
            .expect("list objects");
        out.contents()
            .iter()
            .filter_map(|o| o.key().map(String::from))
            .collect()
    }

    /// Download an object.
    #[must_use]
    pub fn s3_get(&self, key: &str) -> Vec<u8> {
        self.block_on(async {
            let out = self
                .s3
                .get_object()
                .bucket(BUCKET)
                .key(key)
                .send()
                .await
                .expect("get object");
            out.body
                .collect()
                .await
                .expect("body")
                .into_bytes()
                .to_vec()
        })
    }
}

/// A run of the binary being prepared.
#[must_use]
pub struct Cmd {
    args: Vec<String>,
    env: BTreeMap<String, String>,
    cwd: PathBuf,
    dir: PathBuf,
    github_url: Option<String>,
    proxy_url: Option<String>,
}

impl Cmd {
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn args(mut self, a: &[&str]) -> Self {
        self.args.extend(a.iter().map(|s| (*s).to_string()));
        self
    }

    pub fn env(mut self, k: &str, v: impl Into<String>) -> Self {
        self.env.insert(k.into(), v.into());
        self
    }

    pub fn env_remove(mut self, k: &str) -> Self {
        self.env.remove(k);
        self
    }

    pub fn current_dir(mut self, d: impl Into<PathBuf>) -> Self {
        self.cwd = d.into();
        self
    }

    /// Run as a step of a GitHub Actions workflow triggered by `event_name` with this payload:
    /// GITHUB_* set, outputs and summary written to files in the temp dir.
    pub fn github_event(mut self, event_name: &str, payload: &Path, run_id: u64) -> Self {
        let payload_json: Value =
            serde_json::from_str(&std::fs::read_to_string(payload).expect("payload"))
                .unwrap_or(Value::Null);
        let repo = payload_json
            .pointer("/repository/full_name")
            .and_then(Value::as_str)
            .unwrap_or("octo/app")
            .to_string();
        let git_ref = payload_json
            .get("ref")
            .and_then(Value::as_str)
            .map(String::from)
            .or_else(|| {
                payload_json
                    .pointer("/pull_request/number")
                    .and_then(Value::as_u64)
                    .map(|n| format!("refs/pull/{n}/merge"))
            })
            .unwrap_or_else(|| "refs/heads/main".into());
        for (k, v) in [
            ("GITHUB_ACTIONS", "true".to_string()),
            ("CI", "true".into()),
            ("GITHUB_EVENT_NAME", event_name.into()),
            ("GITHUB_EVENT_PATH", payload.display().to_string()),
            ("GITHUB_REPOSITORY", repo),
            (
                "GITHUB_SHA",
                "0123456789abcdef0123456789abcdef01234567".into(),
            ),
            ("GITHUB_REF", git_ref),
            ("GITHUB_RUN_ID", run_id.to_string()),
            ("GITHUB_SERVER_URL", "https://github.com".into()),
            (
                "GITHUB_OUTPUT",
                self.dir.join("github_output").display().to_string(),
            ),
            (
                "GITHUB_STEP_SUMMARY",
                self.dir.join("step_summary.md").display().to_string(),
            ),
        ] {
            self.env.insert(k.into(), v);
        }
        if let Some(url) = &self.github_url {
            self.env.insert("GITHUB_API_URL".into(), url.clone());
            self.env.insert("GITHUB_TOKEN".into(), GITHUB_TOKEN.into());
        }
        self
    }

    /// The OIDC token endpoint of the fake GitHub server.
    pub fn oidc(mut self) -> Self {
        let url = self.github_url.clone().expect("start_github() first");
        self.env.insert(
            "ACTIONS_ID_TOKEN_REQUEST_URL".into(),
            format!("{url}/_apis/oidc/token?api-version=2.0"),
        );
        self.env.insert(
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN".into(),
            OIDC_REQUEST_TOKEN.into(),
        );
        self
    }

    /// Start without waiting (for races and crash tests).
    pub fn spawn(self) -> Child {
        self.command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn deploy-action")
    }

    fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_deploy-action"));
        c.args(&self.args)
            .env_clear()
            .envs(&self.env)
            .current_dir(&self.cwd)
            .stdin(Stdio::null());
        c
    }

    pub fn run(self) -> RunResult {
        let out = self.command().output().expect("run deploy-action");
        let result = RunResult {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            args: self.args.join(" "),
        };
        self.assert_no_secrets(&result);
        result
    }

    /// Every run of every test checks that no secret reached stdout, stderr, the step
    /// outputs or the step summary (issue 8): the GitHub token, the OIDC request token, the
    /// ID token, the AWS secret key, and any credentials STS issued through the proxy.
    #[track_caller]
    pub fn assert_no_secrets(&self, result: &RunResult) {
        let mut secrets: Vec<String> = vec![
            GITHUB_TOKEN.into(),
            OIDC_REQUEST_TOKEN.into(),
            OIDC_ID_TOKEN.into(),
            AWS_SECRET.into(),
        ];
        if let Some(url) = &self.proxy_url
            && let Value::Array(issued) = http_json("GET", &format!("{url}/__proxy/secrets"), None)
        {
            secrets.extend(issued.iter().filter_map(|v| v.as_str().map(String::from)));
        }
        // `::add-mask::<secret>` is consumed by the runner, never shown: the one place a
        // secret may be written.
        let without_masks = |text: &str| {
            text.lines()
                .filter(|l| !l.starts_with("::add-mask::"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let mut places = vec![
            ("stdout", without_masks(&result.stdout)),
            ("stderr", without_masks(&result.stderr)),
        ];
        for file in ["github_output", "step_summary.md"] {
            if let Ok(text) = std::fs::read_to_string(self.dir.join(file)) {
                places.push((file, text));
            }
        }
        for (place, text) in &places {
            for secret in &secrets {
                assert!(
                    !text.contains(secret.as_str()),
                    "a secret ({}…) leaked into {place} of `deploy-action {}`",
                    &secret[..6],
                    self.args.join(" ")
                );
            }
        }
    }
}

/// What a run printed and returned.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    args: String,
}

impl RunResult {
    #[track_caller]
    pub fn success(self) -> Self {
        self.failure(0)
    }

    #[track_caller]
    pub fn failure(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "deploy-action {} exited {} (expected {code})\n--- stdout\n{}\n--- stderr\n{}",
            self.args, self.code, self.stdout, self.stderr
        );
        self
    }

    /// stdout as the one JSON object it must be.
    #[track_caller]
    #[must_use]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON object ({e}):\n{}\n--- stderr\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// stdout and stderr together.
    #[must_use]
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}
