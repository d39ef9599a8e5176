//! The settings file (issue 17, docs/contract.md, "The settings file"): where it is found, precedence (flag, then
//! DEPLOY_*, matching stage table, top level, default), `config`'s report, and the errors.
//! These runs need no AWS: `config` only reads, and the errors come before any request.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::host_env;

/// A sealed run of the binary in `dir`, outside GitHub Actions unless `github` is called.
pub struct Run {
    args: Vec<String>,
    env: BTreeMap<String, String>,
    dir: PathBuf,
}

impl Run {
    pub fn new(dir: &Path, args: &[&str]) -> Run {
        Run {
            args: args.iter().map(|s| (*s).to_string()).collect(),
            env: host_env(),
            dir: dir.to_path_buf(),
        }
    }

    pub fn env(mut self, k: &str, v: &str) -> Run {
        self.env.insert(k.into(), v.into());
        self
    }

    /// As a step of a pull_request workflow for PR `number`.
    pub fn pull_request(mut self, number: u64) -> Run {
        let payload = self.dir.join(format!("pr-{number}.json"));
        std::fs::write(
            &payload,
            format!(
                r#"{{"action": "synchronize", "number": {number},
                   "pull_request": {{"number": {number}, "head": {{"sha": "0123456789abcdef0123456789abcdef01234567", "ref": "feature", "repo": {{"full_name": "octo/app"}}}},
                                    "base": {{"ref": "main", "repo": {{"full_name": "octo/app"}}}}}},
                   "repository": {{"full_name": "octo/app"}}}}"#
            ),
        )
        .expect("payload");
        for (k, v) in [
            ("GITHUB_ACTIONS", "true".to_string()),
            ("GITHUB_EVENT_NAME", "pull_request".into()),
            ("GITHUB_EVENT_PATH", payload.display().to_string()),
            ("GITHUB_REPOSITORY", "octo/app".into()),
            ("GITHUB_REF", format!("refs/pull/{number}/merge")),
            ("GITHUB_RUN_ID", "1".into()),
        ] {
            self.env.insert(k.into(), v);
        }
        self
    }

    /// Exit code, stdout, stderr.
    pub fn run(self) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_deploy-action"))
            .args(&self.args)
            .env_clear()
            .envs(&self.env)
            .current_dir(&self.dir)
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
    pub fn json(self) -> Value {
        let args = self.args.join(" ");
        let (code, stdout, stderr) = self.run();
        assert_eq!(code, 0, "deploy-action {args} failed\n{stdout}\n{stderr}");
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
    }

    /// Exit 2; stderr.
    #[track_caller]
    pub fn bad_input(self) -> String {
        let args = self.args.join(" ");
        let (code, stdout, stderr) = self.run();
        assert_eq!(
            code, 2,
            "deploy-action {args}: expected exit 2\n{stdout}\n{stderr}"
        );
        stderr
    }
}

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("deploy-action-test-")
        .tempdir()
        .expect("temp dir");
    for (name, body) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, body).expect("write");
    }
    dir
}

/// `config --output json`'s entry for `key`: (value, source, location).
fn setting(report: &Value, key: &str) -> (Value, String, Option<String>) {
    let s = &report["settings"][key];
    assert!(!s.is_null(), "config reports no {key}: {report:#}");
    (
        s["value"].clone(),
        s["source"].as_str().unwrap_or_default().to_string(),
        s["location"].as_str().map(String::from),
    )
}

const LAYERED: &str = r#"# top level
app = "hello"
memory = 256
timeout = 10
exclude = ["*.md"]
env = { A = "top", B = "top" }

[stages."pr-*"]
memory = 384
env = { B = "preview" }

[stages.pr-7]
timeout = 15

[stages.main]
memory = 2048
"#;

#[test]
fn precedence_flag_env_stage_table_top_level_default() {
    let dir = project(&[("deploy-action.toml", LAYERED), ("app.py", "app = None\n")]);
    let d = dir.path();

    // Stage tables: the glob, then the exact name; tables merge per key.
    let r = Run::new(d, &["config", "--stage", "pr-7", "--output", "json"]).json();
    assert_eq!(r["file"], "deploy-action.toml");
    assert_eq!(
        r["sections"],
        serde_json::json!(["top level", "[stages.\"pr-*\"]", "[stages.pr-7]"])
    );
    assert_eq!(
        setting(&r, "memory"),
        (
            "384".into(),
            "file".into(),
            Some("deploy-action.toml:9".into())
        )
    );
    assert_eq!(
        setting(&r, "timeout"),
        (
            "15".into(),
            "file".into(),
            Some("deploy-action.toml:13".into())
        )
    );
    assert_eq!(
        setting(&r, "app"),
        (
            "hello".into(),
            "file".into(),
            Some("deploy-action.toml:2".into())
        )
    );
    // env values may be secrets: config shows names only.
    assert_eq!(setting(&r, "env").0, serde_json::json!(["A=***", "B=***"]));
    assert_eq!(setting(&r, "exclude").0, serde_json::json!(["*.md"]));
    assert_eq!(
        setting(&r, "keep-versions"),
        ("5".into(), "default".into(), None)
    );

    // Another stage: only the top level and its own table.
    let r = Run::new(d, &["config", "--stage", "main", "--output", "json"]).json();
    assert_eq!(setting(&r, "memory").0, "2048");
    assert_eq!(setting(&r, "timeout").0, "10");
    let r = Run::new(d, &["config", "--stage", "feature-x", "--output", "json"]).json();
    assert_eq!(r["sections"], serde_json::json!(["top level"]));
    assert_eq!(setting(&r, "memory").0, "256");

    // A DEPLOY_* variable (an action input) beats every table; a flag beats the variable.
    let r = Run::new(d, &["config", "--stage", "pr-7", "--output", "json"])
        .env("DEPLOY_MEMORY", "999")
        .json();
    assert_eq!(
        setting(&r, "memory"),
        ("999".into(), "env".into(), Some("DEPLOY_MEMORY".into()))
    );
    let r = Run::new(
        d,
        &[
            "config", "--stage", "pr-7", "--memory", "1111", "--output", "json",
        ],
    )
    .env("DEPLOY_MEMORY", "999")
    .json();
    assert_eq!(setting(&r, "memory"), ("1111".into(), "flag".into(), None));
}

#[test]
fn env_tables_merge_with_the_flags_pairs() {
    let dir = project(&[("deploy-action.toml", LAYERED)]);
    let d = dir.path();
    let r = Run::new(
        d,
        &[
            "config", "--stage", "pr-7", "--env", "B=flag", "--output", "json",
        ],
    )
    .env("DEPLOY_ENV", "C=ignored")
    .json();
    // The flag's B wins, the file's A stays; the variable is overridden by the flag as usual.
    let (value, source, location) = setting(&r, "env");
    assert_eq!(value, serde_json::json!(["B=***", "A=***"]));
    assert_eq!(source, "flag+file");
    assert_eq!(location.as_deref(), Some("deploy-action.toml:10"));
    let r = Run::new(d, &["config", "--stage", "pr-7", "--output", "json"])
        .env("DEPLOY_ENV", "C=env\nB=env")
        .json();
    assert_eq!(
        setting(&r, "env").0,
        serde_json::json!(["C=***", "B=***", "A=***"])
    );
}

#[test]
fn the_stage_comes_from_the_pull_request_event() {
    let dir = project(&[("deploy-action.toml", LAYERED)]);
    let r = Run::new(dir.path(), &["config", "--output", "json"])
        .pull_request(7)
        .json();
    assert_eq!(r["stage"], "pr-7");
    assert_eq!(r["stage_from"], "the GitHub event");
    assert_eq!(setting(&r, "memory").0, "384");
    assert_eq!(setting(&r, "timeout").0, "15");
    // Outside Actions the stage is dev: the top level only.
    let r = Run::new(dir.path(), &["config", "--output", "json"]).json();
    assert_eq!(r["stage"], "dev");
    assert_eq!(setting(&r, "memory").0, "256");
}

#[test]
fn pyproject_cargo_toml_and_config_path_are_read() {
    let dir = project(&[(
        "pyproject.toml",
        "[project]\nname = \"x\"\n\n[tool.deploy-action]\napp = \"py\"\nmemory = 640\n\n[tool.deploy-action.stages.main]\nmemory = 768\n",
    )]);
    let r = Run::new(
        dir.path(),
        &["config", "--stage", "main", "--output", "json"],
    )
    .json();
    assert_eq!(r["file"], "pyproject.toml [tool.deploy-action]");
    assert_eq!(
        setting(&r, "memory"),
        ("768".into(), "file".into(), Some("pyproject.toml:9".into()))
    );

    let dir = project(&[(
        "Cargo.toml",
        "[package]\nname = \"x\"\nversion = \"0.1.0\"\n\n[package.metadata.deploy-action]\napp = \"rs\"\ntimeout = 7\n",
    )]);
    let r = Run::new(dir.path(), &["config", "--output", "json"]).json();
    assert_eq!(r["file"], "Cargo.toml [package.metadata.deploy-action]");
    assert_eq!(setting(&r, "timeout").0, "7");
    assert_eq!(setting(&r, "app").0, "rs");

    // --config (DEPLOY_CONFIG, input `config`) points elsewhere; --source decides the default.
    let dir = project(&[
        ("ops/prod.toml", "app = \"elsewhere\"\n"),
        ("svc/deploy-action.toml", "app = \"svc\"\n"),
    ]);
    let r = Run::new(dir.path(), &["config", "--output", "json"])
        .env("DEPLOY_CONFIG", "ops/prod.toml")
        .json();
    assert_eq!(setting(&r, "app").0, "elsewhere");
    let r = Run::new(
        dir.path(),
        &["config", "--source", "svc", "--output", "json"],
    )
    .json();
    assert_eq!(setting(&r, "app").0, "svc");
    assert_eq!(r["file"], "svc/deploy-action.toml");
    // No file: defaults, and config says where it looked.
    let (code, out, _) = Run::new(dir.path(), &["config"]).run();
    assert_eq!(code, 0);
    assert!(out.starts_with("settings file: none"), "{out}");
}

#[test]
fn switches_lists_and_enums_from_the_file() {
    let dir = project(&[(
        "deploy-action.toml",
        "adopt = true\nfail-on-fork = false\nfunction-url = \"iam\"\nexclude = \"docs/**\"\ncanary = 10\n",
    )]);
    let r = Run::new(dir.path(), &["config", "--output", "json"]).json();
    assert_eq!(setting(&r, "adopt").0, "true");
    assert_eq!(setting(&r, "fail-on-fork").1, "file");
    assert_eq!(setting(&r, "function-url").0, "iam");
    assert_eq!(setting(&r, "exclude").0, serde_json::json!(["docs/**"]));
    assert_eq!(setting(&r, "canary").0, "10");
}

/// One settings error per case, as users read it (stderr), with exit 2.
#[test]
fn settings_errors_name_the_file_line_and_key() {
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: &[Case] = &[
        (
            "unknown key, with the nearest valid one",
            &[("deploy-action.toml", "app = \"x\"\nmemroy = 1024\n")],
            &["config"],
        ),
        (
            "a zappa-style key",
            &[(
                "deploy-action.toml",
                "[stages.main]\npython_app = \"run:app\"\n",
            )],
            &["config", "--stage", "main"],
        ),
        (
            "no near key",
            &[("deploy-action.toml", "colour = \"blue\"\n")],
            &["config"],
        ),
        (
            "wrong type for a number",
            &[(
                "deploy-action.toml",
                "app = \"x\"\n\n[stages.main]\nmemory = \"lots\"\n",
            )],
            &["config", "--stage", "main"],
        ),
        (
            "a switch needs a boolean",
            &[("deploy-action.toml", "adopt = \"yes\"\n")],
            &["config"],
        ),
        (
            "not one of the values",
            &[("deploy-action.toml", "function-url = \"private\"\n")],
            &["config"],
        ),
        (
            "a list where one value goes",
            &[("deploy-action.toml", "memory = [1, 2]\n")],
            &["config"],
        ),
        (
            "out of range (checked where flags are)",
            &[(
                "deploy-action.toml",
                "app = \"x\"\ns3-bucket = \"b-1\"\nmemory = 99999\n",
            )],
            &["deploy", "--stage", "main", "--artifact", "."],
        ),
        (
            "a value the variable would split",
            &[(
                "deploy-action.toml",
                "env = { CERT = \"line one\\nline two\" }\n",
            )],
            &["config"],
        ),
        (
            "a key that makes no sense in a file",
            &[("deploy-action.toml", "dry-run = true\n")],
            &["config"],
        ),
        (
            "the stage can't be fixed in the file",
            &[("deploy-action.toml", "stage = \"prod\"\n")],
            &["config"],
        ),
        (
            "a secret in the file",
            &[("deploy-action.toml", "github-token = \"ghp_x\"\n")],
            &["config"],
        ),
        (
            "not TOML",
            &[("deploy-action.toml", "memory = = 3\n")],
            &["config"],
        ),
        (
            "two settings files",
            &[
                ("deploy-action.toml", "app = \"a\"\n"),
                ("pyproject.toml", "[tool.deploy-action]\napp = \"b\"\n"),
            ],
            &["config"],
        ),
        (
            "two globs equally specific",
            &[(
                "deploy-action.toml",
                "[stages.\"p*\"]\nmemory = 256\n[stages.\"*7\"]\nmemory = 512\n",
            )],
            &["config", "--stage", "pr-7"],
        ),
        (
            "--config that doesn't exist",
            &[],
            &["config", "--config", "nope.toml"],
        ),
    ];
    let mut all = String::new();
    for (what, files, args) in cases {
        let dir = project(files);
        let stderr = Run::new(dir.path(), args).bad_input();
        all.push_str(&format!(
            "## {what}\n$ deploy-action {}\n{stderr}\n",
            args.join(" ")
        ));
    }
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("snapshots");
    s.set_prepend_module_to_snapshot(false);
    s.add_filter(r"/tmp/deploy-action-test-[A-Za-z0-9]+", "[tmp]");
    s.bind(|| insta::assert_snapshot!("settings_errors", all));
}

#[test]
fn config_text_report() {
    let dir = project(&[("deploy-action.toml", LAYERED)]);
    let (code, out, err) = Run::new(
        dir.path(),
        &["config", "--stage", "pr-7", "--s3-bucket", "b"],
    )
    .env("DEPLOY_REGION", "eu-west-1")
    .run();
    assert_eq!(code, 0, "{err}");
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("snapshots");
    s.set_prepend_module_to_snapshot(false);
    s.bind(|| insta::assert_snapshot!("settings_config_text", out));
}

/// Keys for flags this build lacks (docs/contract.md, "Production settings") are accepted and
/// reported as pending, so a file written for a newer deploy-action (or by `import zappa`)
/// still works; once the flag exists the key applies like any other.
#[test]
fn planned_keys_are_pending_until_their_flag_exists() {
    let planned: Vec<&str> = deploy_action::settings::PLANNED
        .iter()
        .copied()
        .filter(|k| !deploy_action::settings::is_key(k))
        .collect();
    match planned.first() {
        Some(key) => {
            let dir = project(&[("deploy-action.toml", &format!("{key} = \"x\"\n"))]);
            let r = Run::new(dir.path(), &["config", "--output", "json"]).json();
            assert_eq!(r["pending"][0]["key"], *key);
            assert_eq!(r["pending"][0]["location"], "deploy-action.toml:1");
        }
        // Every planned flag exists in this build: they are plain keys, none pending.
        None => assert!(deploy_action::settings::is_key("domain")),
    }
}

#[test]
fn settings_errors_are_one_json_object_with_output_json() {
    let dir = project(&[("deploy-action.toml", "memroy = 1\n")]);
    let (code, out, err) = Run::new(dir.path(), &["config", "--output", "json"]).run();
    assert_eq!(code, 2, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["error"]["kind"], "settings");
    assert_eq!(v["error"]["exit_code"], 2);
    assert_eq!(
        v["error"]["message"],
        "deploy-action.toml:1: unknown key `memroy` in top level"
    );
}
