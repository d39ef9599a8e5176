//! Issue 8: a bad day in AWS, two pushes a second apart, or a cancelled job never leave
//! production broken. Faults come from the proxy in front of moto.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{BUCKET, World};

fn args<'a>(app: &'a str, stage: &'a str, artifact: &'a str, role: &'a str) -> Vec<&'a str> {
    vec![
        "deploy",
        "--app",
        app,
        "--stage",
        stage,
        "--artifact",
        artifact,
        "--handler",
        "app.handler",
        "--s3-bucket",
        BUCKET,
        "--execution-role",
        role,
        "--output",
        "json",
        "--keep-versions",
        "50",
    ]
}

/// The CodeSha256 Lambda will report for `dir`, from `package`.
fn code_sha(world: &World, dir: &Path) -> String {
    let out = world.dir().join(format!(
        "{}.zip",
        dir.file_name().unwrap().to_string_lossy()
    ));
    world
        .cmd(&[
            "package",
            "--artifact",
            dir.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--output",
            "json",
        ])
        .run()
        .success()
        .json()["code_sha256"]
        .as_str()
        .unwrap()
        .to_string()
}

fn deploy(world: &World, stage: &str, dir: &Path, run: u64) -> crate::support::RunResult {
    let role = World::exec_role();
    let path = dir.display().to_string();
    world
        .cmd(&args("hello", stage, &path, &role))
        .env("GITHUB_RUN_ID", run.to_string())
        .run()
}

/// live's version and its CodeSha256.
fn live(world: &World, function: &str) -> (String, String) {
    let c = world.config(function, Some("live"));
    (
        c.version().unwrap_or_default().to_string(),
        c.code_sha256().unwrap_or_default().to_string(),
    )
}

/// Each fault alone, then all together: every deploy either succeeds with its code live, or
/// fails with exit 1 and live unchanged. The proxy draws its faults per request from the
/// seed (tests/support/README.md, "Deterministic faults"), so each scenario's outcome is
/// fixed: the exit code it must end with is part of the scenario.
#[test]
fn each_fault_leaves_live_either_new_or_unchanged() {
    let scenarios: Vec<(&str, Value, i32)> = vec![
        ("throttling", json!({"throttle": 0.35}), 0),
        ("5xx before the call", json!({"error5xx": 0.25}), 0),
        ("5xx after the call", json!({"error5xx_after": 0.2}), 0),
        ("dropped uploads", json!({"drop_upload": 0.6}), 0),
        ("busy windows", json!({"busy_seconds": 2.5}), 0),
        (
            "preconditions",
            json!({"enforce_code_sha256": true, "enforce_revision_id": true}),
            0,
        ),
        (
            "all together",
            json!({"throttle": 0.2, "error5xx": 0.1, "error5xx_after": 0.1, "drop_upload": 0.3,
                   "busy_seconds": 1.5, "enforce_code_sha256": true, "enforce_revision_id": true}),
            0,
        ),
    ];
    let mut wrong = Vec::new();
    for (name, faults, expected) in scenarios {
        let world = World::new();
        world
            .proxy()
            .configure(json!({"enforce_code_sha256": true, "enforce_revision_id": true}));
        let v1 = world.python_app("v1", "one");
        let v2 = world.python_app("v2", "two");
        let sha2 = code_sha(&world, &v2);
        deploy(&world, "main", &v1, 1).success();
        let before = live(&world, "hello-main");
        let mut cfg = faults.clone();
        cfg["seed"] = json!(1);
        world.proxy().configure(cfg);
        let out = deploy(&world, "main", &v2, 2);
        world.proxy().reset();
        if out.code != expected {
            wrong.push(format!(
                "{name}: exit {} (seed 1 gives {expected})\n{}",
                out.code, out.stderr
            ));
        }
        match out.code {
            0 => {
                let report = out.json();
                let now = live(&world, "hello-main");
                assert_eq!(now.1, sha2, "{name}: live runs the new code");
                assert_eq!(report["version"].as_str(), Some(now.0.as_str()), "{name}");
            }
            1 => assert_eq!(
                live(&world, "hello-main"),
                before,
                "{name}: live unchanged on failure"
            ),
            other => panic!("{name}: exit {other}\n{}", out.stderr),
        }
        // Whatever happened, the versions carry the code their provenance claims.
        for (_, sha, desc) in world.versions("hello-main") {
            if desc.contains("run=2") {
                assert_eq!(sha, sha2, "{name}: version of run 2 holds run 2's code");
            }
        }
        let injected: Vec<String> = world
            .proxy()
            .log()
            .iter()
            .filter_map(|e| e["injected"].as_str().map(String::from))
            .collect();
        if name != "preconditions" && name != "busy windows" {
            assert!(!injected.is_empty(), "{name}: the proxy injected nothing");
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

/// Three deploys of different artifacts to one stage, started together with increasing run
/// ids, interleaved by a slow PublishVersion: no version carries another run's code, and the
/// highest run ends live.
#[test]
fn concurrent_deploys_to_one_stage_end_with_the_newest_run_live() {
    let world = World::new();
    world.proxy().configure(json!({
        "enforce_code_sha256": true,
        "enforce_revision_id": true,
        "publish_delay": 0.7,
        "busy_seconds": 0.5,
    }));
    let role = World::exec_role();
    let mut shas: HashMap<u64, String> = HashMap::new();
    let mut children = Vec::new();
    let dirs: Vec<(u64, PathBuf)> = (101..=103)
        .map(|run| {
            (
                run,
                world.python_app(&format!("run{run}"), &format!("run {run}")),
            )
        })
        .collect();
    for (run, dir) in &dirs {
        shas.insert(*run, code_sha(&world, dir));
    }
    for (run, dir) in &dirs {
        let path = dir.display().to_string();
        let child = world
            .cmd(&args("hello", "main", &path, &role))
            .env("GITHUB_RUN_ID", run.to_string())
            .spawn();
        children.push((*run, child));
    }
    for (run, child) in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "run {run} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for (version, sha, desc) in world.versions("hello-main") {
        let run: u64 = desc
            .split_whitespace()
            .find_map(|w| w.strip_prefix("run="))
            .and_then(|r| r.parse().ok())
            .unwrap_or_else(|| panic!("version {version} has no run: {desc}"));
        assert_eq!(
            &sha, &shas[&run],
            "version {version} holds run {run}'s code"
        );
    }
    let (_, live_sha) = live(&world, "hello-main");
    assert_eq!(live_sha, shas[&103], "the newest run is live");
}

#[test]
fn two_preview_stages_deployed_at_once_do_not_interfere() {
    let world = World::new();
    world
        .proxy()
        .configure(json!({"busy_seconds": 0.5, "publish_delay": 0.3}));
    let role = World::exec_role();
    let a = world.python_app("a", "pr one");
    let b = world.python_app("b", "pr two");
    let (sha_a, sha_b) = (code_sha(&world, &a), code_sha(&world, &b));
    let (pa, pb) = (a.display().to_string(), b.display().to_string());
    let ca = world.cmd(&args("hello", "pr-1", &pa, &role)).spawn();
    let cb = world.cmd(&args("hello", "pr-2", &pb, &role)).spawn();
    for c in [ca, cb] {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(live(&world, "hello-pr-1").1, sha_a);
    assert_eq!(live(&world, "hello-pr-2").1, sha_b);
}

/// Kill the process (SIGKILL) while it waits on the step after `after`; live must still be
/// the old version, and the next run completes and reuses what the killed run left.
fn crash_after(after: &str, hold: &str) {
    let world = World::new();
    world
        .proxy()
        .configure(json!({"enforce_code_sha256": true, "enforce_revision_id": true}));
    let v1 = world.python_app("v1", "one");
    let v2 = world.python_app("v2", "two");
    let sha2 = code_sha(&world, &v2);
    deploy(&world, "main", &v1, 1).success();
    let before = live(&world, "hello-main");
    world.proxy().configure(json!({"op_delay": {hold: 30}}));
    world.proxy().clear_log();
    let role = World::exec_role();
    let path = v2.display().to_string();
    let mut child = world
        .cmd(&args("hello", "main", &path, &role))
        .env("GITHUB_RUN_ID", "2")
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = world
            .proxy()
            .log()
            .iter()
            .any(|e| e["operation"] == after && e["status"].as_u64().is_some_and(|s| s < 300));
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "never reached {after}");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the deploy ended before {after}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Let it enter the held call, then kill it mid-flight.
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        live(&world, "hello-main"),
        before,
        "after a crash past {after}, live is unchanged"
    );

    world.proxy().configure(json!({"op_delay": {}}));
    world.proxy().clear_log();
    let report = deploy(&world, "main", &v2, 3).success().json();
    assert_eq!(live(&world, "hello-main").1, sha2, "the next run completes");
    assert_eq!(report["changed"], true);
    let ops = world.proxy().operations();
    assert!(
        !ops.iter().any(|o| o == "s3:PutObject"),
        "no second upload: {ops:?}"
    );
    let published = ops.iter().filter(|o| *o == "lambda:PublishVersion").count();
    if after == "lambda:PublishVersion" {
        assert_eq!(published, 0, "the killed run's version is reused: {ops:?}");
    }
    let with_code: Vec<_> = world
        .versions("hello-main")
        .into_iter()
        .filter(|(_, sha, _)| sha == &sha2)
        .collect();
    assert_eq!(
        with_code.len(),
        1,
        "one version of the new code: {with_code:?}"
    );
}

#[test]
fn a_crash_after_upload_leaves_live_and_the_next_run_reuses_the_object() {
    crash_after("s3:PutObject", "lambda:UpdateFunctionCode");
}

#[test]
fn a_crash_after_the_code_update_leaves_live_and_the_next_run_publishes() {
    crash_after("lambda:UpdateFunctionCode", "lambda:PublishVersion");
}

#[test]
fn a_crash_after_publish_leaves_live_and_the_next_run_reuses_the_version() {
    crash_after("lambda:PublishVersion", "lambda:UpdateAlias");
}

/// Bad input of every kind: exit 2 with a message naming the problem and the fix, and no
/// AWS request (the deploy table in deploy.rs covers names and numbers).
#[test]
fn bad_events_paths_and_zips_exit_2_without_aws_requests() {
    let world = World::new();
    let role = World::exec_role();
    let app = world.python_app("app", "x");
    let app = app.to_str().unwrap();
    let broken_pr = world.dir().join("broken-pr.json");
    std::fs::write(
        &broken_pr,
        r#"{"action":"opened","number":5,"pull_request":{"number":5}}"#,
    )
    .unwrap();
    let not_json = world.dir().join("not-json.json");
    std::fs::write(&not_json, "{oops").unwrap();
    let evil_zip = world.dir().join("evil.zip");
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&evil_zip).unwrap());
        z.start_file(
            "../../etc/cron.d/x",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        std::io::Write::write_all(&mut z, b"x").unwrap();
        z.finish().unwrap();
    }
    let empty_dir = world.write_dir("empty", &[]);
    std::fs::create_dir_all(&empty_dir).unwrap();
    let not_a_zip = world.dir().join("app.tar");
    std::fs::write(&not_a_zip, "x").unwrap();
    let fake_zip = world.dir().join("fake.zip");
    std::fs::write(&fake_zip, "not a zip at all").unwrap();

    let common = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "deploy",
            "--app",
            "hello",
            "--s3-bucket",
            BUCKET,
            "--execution-role",
            &role,
        ]
        .iter()
        .map(|s| (*s).to_string())
        .collect();
        v.extend(extra.iter().map(|s| (*s).to_string()));
        v
    };
    type Case<'a> = (Vec<String>, Vec<(&'a str, String)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            common(&["--artifact", app]),
            vec![
                ("GITHUB_EVENT_NAME", "pull_request".into()),
                ("GITHUB_EVENT_PATH", broken_pr.display().to_string()),
            ],
            "pull_request.head",
        ),
        (
            common(&["--artifact", app]),
            vec![
                ("GITHUB_EVENT_NAME", "push".into()),
                (
                    "GITHUB_EVENT_PATH",
                    world.dir().join("missing.json").display().to_string(),
                ),
            ],
            "can't read the event payload",
        ),
        (
            common(&["--artifact", app]),
            vec![
                ("GITHUB_EVENT_NAME", "push".into()),
                ("GITHUB_EVENT_PATH", not_json.display().to_string()),
            ],
            "not valid JSON",
        ),
        (
            common(&["--artifact", app]),
            vec![("GITHUB_RUN_ID", "12abc".into())],
            "GITHUB_RUN_ID",
        ),
        (
            common(&["--artifact", evil_zip.to_str().unwrap()]),
            vec![],
            "unsafe entry",
        ),
        (
            common(&["--artifact", empty_dir.to_str().unwrap()]),
            vec![],
            "no files",
        ),
        (
            common(&["--artifact", not_a_zip.to_str().unwrap()]),
            vec![],
            "neither a .zip nor a directory",
        ),
        (
            common(&["--artifact", fake_zip.to_str().unwrap()]),
            vec![],
            "not a readable zip",
        ),
        (
            common(&["--artifact", app, "--keep-versions", "0"]),
            vec![],
            "--keep-versions",
        ),
        (
            common(&["--artifact", app, "--canary", "150"]),
            vec![],
            "1 to 99",
        ),
        (
            common(&["--artifact", app, "--smoke-path", "healthz"]),
            vec![],
            "/healthz",
        ),
        (
            common(&["--build", "python", "--source", app, "--python-app", "app"]),
            vec![],
            "module:attr",
        ),
        (
            common(&["--artifact", app, "--env", "NOEQUALS"]),
            vec![],
            "KEY=VALUE",
        ),
        (
            common(&["--artifact", app, "--region", "mars"]),
            vec![],
            "us-east-1",
        ),
        (
            common(&["--artifact", app, "--build", "rust"]),
            vec![],
            "--artifact",
        ),
        (
            common(&["--source", "/nonexistent-dir"]),
            vec![],
            "--source",
        ),
        (
            common(&["--source", empty_dir.to_str().unwrap()]),
            vec![],
            "no app to build",
        ),
    ];
    assert!(cases.len() >= 15);
    for (argv, env, needle) in cases {
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        let mut cmd = world.cmd(&refs);
        for (k, v) in &env {
            cmd = cmd.env(k, v.clone());
        }
        let out = cmd.run();
        assert_eq!(
            out.code, 2,
            "{argv:?} {env:?}: exit {}\n{}",
            out.code, out.stderr
        );
        assert!(
            out.stderr.contains(needle),
            "{argv:?}: expected {needle:?} in\n{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("help:"),
            "{argv:?}: no fix offered\n{}",
            out.stderr
        );
    }
    assert_eq!(
        world.proxy().log(),
        Vec::<Value>::new(),
        "no AWS request for bad input"
    );
}

/// A remote rejection (Lambda refuses a value) is exit 1, names the step and resource, and
/// leaves live where it was.
#[test]
fn a_remote_rejection_exits_1_naming_the_step_and_leaves_live() {
    let world = World::new();
    let v1 = world.python_app("v1", "one");
    let v2 = world.python_app("v2", "two");
    deploy(&world, "main", &v1, 1).success();
    let before = live(&world, "hello-main");
    world
        .proxy()
        .configure(json!({"fail_ops": {"lambda:UpdateFunctionCode": {
        "status": 400, "type": "InvalidParameterValueException",
        "message": "Unzipped size must be smaller than 262144000 bytes"}}}));
    let out = deploy(&world, "main", &v2, 2).failure(1);
    assert!(
        out.stderr.contains("UpdateFunctionCode on hello-main"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("function:"),
        "names the step: {}",
        out.stderr
    );
    assert_eq!(live(&world, "hello-main"), before);
}

/// Lambda takes a code update, then fails it (LastUpdateStatus Failed, seen only on later
/// reads): the deploy exits 1 with Lambda's reason and live unchanged; the next deploy of the
/// same code applies it again instead of publishing the failed $LATEST or refusing to start.
#[test]
fn a_failed_update_leaves_live_and_the_next_deploy_applies_the_code_again() {
    let world = World::new();
    let v1 = world.python_app("v1", "one");
    let v2 = world.python_app("v2", "two");
    deploy(&world, "main", &v1, 1).success();
    let before = live(&world, "hello-main");
    let versions_before = world.versions("hello-main").len();

    world.proxy().configure(json!({"busy_seconds": 0.3,
        "fail_updates": "The function could not be updated: an internal error occurred"}));
    let out = deploy(&world, "main", &v2, 2).failure(1);
    assert!(out.stderr.contains("update failed"), "{}", out.stderr);
    assert!(
        out.stderr.contains("an internal error occurred"),
        "{}",
        out.stderr
    );
    assert_eq!(live(&world, "hello-main"), before);
    assert_eq!(world.versions("hello-main").len(), versions_before);

    world.proxy().configure(json!({"fail_updates": null}));
    world.proxy().clear_log();
    let report = deploy(&world, "main", &v2, 3).success().json();
    let ops = world.proxy().operations();
    assert!(
        ops.iter().any(|op| op == "lambda:UpdateFunctionCode"),
        "the failed update is applied again: {ops:?}"
    );
    assert!(
        !ops.iter().any(|op| op == "s3:PutObject"),
        "the artifact was stored by the failed run: {ops:?}"
    );
    let (version, sha) = live(&world, "hello-main");
    assert_eq!(version, report["version"].as_str().unwrap());
    assert_eq!(sha, code_sha(&world, &v2));
}
