//! The deploy spine against moto: first deploy, no-op, code change, drift, superseded,
//! ownership, validation, determinism, and real-Lambda behaviour through the fault proxy.

use serde_json::{Value, json};

use crate::support::{BUCKET, World};

const ROLE_FLAG: &str = "--execution-role";

fn deploy_args<'a>(artifact: &'a str, role: &'a str) -> Vec<&'a str> {
    vec![
        "deploy",
        "--app",
        "hello",
        "--stage",
        "main",
        "--artifact",
        artifact,
        "--handler",
        "app.handler",
        "--runtime",
        "python3.13",
        "--s3-bucket",
        BUCKET,
        ROLE_FLAG,
        role,
        "--output",
        "json",
    ]
}

fn deploy(world: &World, artifact: &std::path::Path, extra: &[&str], run_id: u64) -> Value {
    let role = World::exec_role();
    let path = artifact.display().to_string();
    let mut args = deploy_args(&path, &role);
    args.extend_from_slice(extra);
    world
        .cmd(&args)
        .env("GITHUB_RUN_ID", run_id.to_string())
        .run()
        .success()
        .json()
}

#[test]
fn first_deploy_creates_function_version_alias_and_public_url() {
    let world = World::new();
    let app = world.python_app("app", "Hello World");
    let report = deploy(&world, &app, &[], 10);

    assert_eq!(report["app"], "hello");
    assert_eq!(report["stage"], "main");
    assert_eq!(report["function_name"], "hello-main");
    assert_eq!(report["alias"], "live");
    assert_eq!(report["version"], "1");
    assert_eq!(report["previous_version"], Value::Null);
    assert_eq!(report["changed"], true);
    assert_eq!(report["superseded"], false);
    let url = report["url"].as_str().unwrap();
    assert!(
        url.starts_with("https://") && url.ends_with(".lambda-url.us-east-1.on.aws/"),
        "{url}"
    );
    assert!(
        report["function_arn"]
            .as_str()
            .unwrap()
            .ends_with(":function:hello-main:live")
    );
    let artifact = report["artifact"].as_str().unwrap();
    assert!(
        artifact.starts_with("s3://artifacts/deploy-action/hello/") && artifact.ends_with(".zip")
    );

    assert_eq!(world.alias_version("hello-main").as_deref(), Some("1"));
    let versions = world.versions("hello-main");
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].1, report["code_sha256"].as_str().unwrap());
    assert!(
        versions[0].2.contains("run=10"),
        "provenance: {}",
        versions[0].2
    );

    let tags = world
        .block_on(
            world
                .lambda_client()
                .get_function()
                .function_name("hello-main")
                .send(),
        )
        .unwrap()
        .tags()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        tags.get("deploy-action:app").map(String::as_str),
        Some("hello")
    );
    assert_eq!(
        tags.get("deploy-action:stage").map(String::as_str),
        Some("main")
    );

    let policy = world
        .block_on(
            world
                .lambda_client()
                .get_policy()
                .function_name("hello-main")
                .qualifier("live")
                .send(),
        )
        .unwrap();
    let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    let sids: Vec<&str> = statements
        .iter()
        .filter_map(|s| s["Sid"].as_str())
        .collect();
    assert!(sids.contains(&"deploy-action-url"), "{policy}");
    assert!(sids.contains(&"deploy-action-url-invoke"), "{policy}");
    let keys = world.s3_keys();
    assert_eq!(keys.len(), 1, "{keys:?}");
}

#[test]
fn second_identical_deploy_is_a_no_op() {
    let world = World::new();
    let app = world.python_app("app", "Hello World");
    let first = deploy(&world, &app, &[], 10);
    let second = deploy(&world, &app, &[], 11);
    assert_eq!(second["changed"], false);
    assert_eq!(second["version"], first["version"]);
    assert_eq!(second["url"], first["url"]);
    assert_eq!(second["code_sha256"], first["code_sha256"]);
    assert_eq!(world.versions("hello-main").len(), 1, "no new version");
    assert_eq!(world.s3_keys().len(), 1, "no new object");
}

#[test]
fn code_change_publishes_a_new_version_and_moves_live() {
    let world = World::new();
    let v1 = world.python_app("v1", "one");
    let v2 = world.python_app("v2", "two");
    let first = deploy(&world, &v1, &[], 10);
    let second = deploy(&world, &v2, &[], 11);
    assert_eq!(second["changed"], true);
    assert_eq!(second["version"], "2");
    assert_eq!(second["previous_version"], "1");
    assert_ne!(second["code_sha256"], first["code_sha256"]);
    assert_eq!(
        second["url"], first["url"],
        "the URL is stable across versions"
    );
    assert_eq!(world.alias_version("hello-main").as_deref(), Some("2"));
    let live = world.config("hello-main", Some("live"));
    assert_eq!(live.code_sha256(), second["code_sha256"].as_str());
    assert_eq!(world.s3_keys().len(), 2);
}

#[test]
fn configuration_drift_is_applied_and_published() {
    let world = World::new();
    let app = world.python_app("app", "Hello World");
    deploy(&world, &app, &[], 10);
    let report = deploy(
        &world,
        &app,
        &[
            "--memory",
            "1024",
            "--timeout",
            "60",
            "--env",
            "GREETING=hi",
            "--architecture",
            "x86_64",
        ],
        11,
    );
    assert_eq!(report["changed"], true);
    assert_eq!(report["version"], "2");
    let live = world.config("hello-main", Some("live"));
    assert_eq!(live.memory_size(), Some(1024));
    assert_eq!(live.timeout(), Some(60));
    assert_eq!(
        live.environment()
            .and_then(|e| e.variables())
            .and_then(|v| v.get("GREETING"))
            .map(String::as_str),
        Some("hi")
    );
    assert_eq!(
        live.architectures().first().map(|a| a.as_str()),
        Some("x86_64")
    );
    assert_eq!(world.s3_keys().len(), 1, "same code, no new upload");

    let again = deploy(
        &world,
        &app,
        &[
            "--memory",
            "1024",
            "--timeout",
            "60",
            "--env",
            "GREETING=hi",
            "--architecture",
            "x86_64",
        ],
        12,
    );
    assert_eq!(again["changed"], false);
}

#[test]
fn an_older_run_is_superseded_and_does_not_move_live() {
    let world = World::new();
    let new = world.python_app("new", "new");
    let old = world.python_app("old", "old");
    deploy(&world, &new, &[], 20);
    let report = deploy(&world, &old, &[], 19);
    assert_eq!(report["superseded"], true);
    assert_eq!(report["changed"], false);
    assert_eq!(report["version"], "1");
    assert_eq!(world.alias_version("hello-main").as_deref(), Some("1"));
    assert_eq!(world.versions("hello-main").len(), 1, "nothing published");

    let forced = deploy(&world, &old, &["--force"], 19);
    assert_eq!(forced["superseded"], false);
    assert_eq!(forced["version"], "2");
    assert_eq!(world.alias_version("hello-main").as_deref(), Some("2"));
}

#[test]
fn an_untagged_function_is_refused_unless_adopted() {
    let world = World::new();
    let app = world.python_app("app", "mine");
    // Someone else's function with the same name.
    world.create_untagged_function("hello-main");
    let role = World::exec_role();
    let path = app.display().to_string();
    let refused = world.cmd(&deploy_args(&path, &role)).run().failure(2);
    assert!(refused.stderr.contains("--adopt"), "{}", refused.stderr);
    assert_eq!(world.versions("hello-main").len(), 0, "nothing published");
    assert_eq!(world.alias_version("hello-main"), None);

    let adopted = deploy(&world, &app, &["--adopt"], 1);
    assert_eq!(adopted["changed"], true);
    assert_eq!(world.alias_version("hello-main").as_deref(), Some("1"));
}

#[test]
fn a_first_deploy_without_execution_role_changes_nothing() {
    let world = World::with_proxy();
    let app = world.python_app("app", "x");
    let out = world
        .cmd(&[
            "deploy",
            "--app",
            "hello",
            "--stage",
            "main",
            "--artifact",
            app.to_str().unwrap(),
            "--handler",
            "app.handler",
            "--s3-bucket",
            BUCKET,
        ])
        .run()
        .failure(2);
    assert!(out.stderr.contains("--execution-role"), "{}", out.stderr);
    assert!(!world.exists("hello-main"));
    assert!(world.s3_keys().is_empty());
    for op in world.proxy().operations() {
        assert!(is_read(&op), "write made: {op}");
    }
}

#[test]
fn bad_input_exits_2_with_a_fix_and_makes_no_aws_request() {
    let world = World::with_proxy();
    let app = world.python_app("app", "x");
    let app = app.to_str().unwrap();
    let role = World::exec_role();
    let missing = world.dir().join("nope.zip");
    let missing = missing.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--app", "bad app!", "--artifact", app], "--app"),
        (
            vec![
                "--app",
                "hello",
                "--stage",
                "feature/Login",
                "--artifact",
                app,
            ],
            "feature-login",
        ),
        (
            vec!["--app", "hello", "--artifact", app, "--memory", "99999"],
            "128 to 10240",
        ),
        (
            vec!["--app", "hello", "--artifact", app, "--timeout", "0"],
            "1 to 900",
        ),
        (
            vec!["--app", "hello", "--artifact", app, "--env", "1BAD=x"],
            "1BAD",
        ),
        (
            vec!["--app", "hello", "--artifact", app, "--env", "AWS_REGION=x"],
            "reserved",
        ),
        (
            vec!["--app", "hello", "--artifact", missing],
            "does not exist",
        ),
        (
            vec!["--app", "hello", "--artifact", app, "--runtime", "nodejs99"],
            "python3.13",
        ),
        (
            vec![
                "--app",
                "hello",
                "--artifact",
                app,
                "--execution-role",
                "lambda-role",
            ],
            "arn:aws:iam::",
        ),
        (vec!["--artifact", app], "--app"),
        (
            vec![
                "--app",
                "hello",
                "--artifact",
                app,
                "--s3-bucket",
                "Bad_Bucket",
            ],
            "bucket",
        ),
        (
            vec![
                "--app",
                "hello",
                "--artifact",
                app,
                "--architecture",
                "sparc",
            ],
            "arm64",
        ),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["deploy"];
        args.extend(extra.iter().copied());
        if !extra.contains(&"--s3-bucket") {
            args.extend(["--s3-bucket", BUCKET]);
        }
        if !extra.contains(&"--execution-role") {
            args.extend(["--execution-role", &role]);
        }
        let out = world.cmd(&args).run();
        assert_eq!(out.code, 2, "{extra:?} exited {}: {}", out.code, out.stderr);
        assert!(
            out.stderr.contains(needle),
            "{extra:?}: expected {needle:?} in\n{}",
            out.stderr
        );
    }
    let no_bucket = world
        .cmd(&[
            "deploy",
            "--app",
            "hello",
            "--artifact",
            app,
            "--execution-role",
            &role,
        ])
        .run()
        .failure(2);
    assert!(
        no_bucket.stderr.contains("--s3-bucket"),
        "{}",
        no_bucket.stderr
    );
    assert_eq!(
        world.proxy().log(),
        Vec::<Value>::new(),
        "no AWS request for bad input"
    );
}

#[test]
fn json_errors_are_one_object_on_stdout() {
    let world = World::new();
    let out = world
        .cmd(&[
            "deploy",
            "--app",
            "hello",
            "--artifact",
            "/nonexistent",
            "--s3-bucket",
            BUCKET,
            "--output",
            "json",
        ])
        .run()
        .failure(2);
    let v = out.json();
    assert_eq!(v["error"]["exit_code"], 2);
    assert_eq!(v["error"]["kind"], "invalid_input");
    assert!(
        v["error"]["help"].as_str().unwrap().contains("--artifact")
            || v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("does not exist")
    );
}

#[test]
fn the_same_tree_with_other_mtimes_packages_to_the_same_sha256() {
    let world = World::new();
    let files = [
        ("app.py", "print('hi')\n"),
        ("lib/util.py", "X = 1\n"),
        ("static/a.css", "body{}"),
    ];
    let a = world.write_dir("a", &files);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let b = world.write_dir("b", &files);
    let package = |dir: &std::path::Path, out: &str| {
        world
            .cmd(&[
                "package",
                "--artifact",
                dir.to_str().unwrap(),
                "--out",
                out,
                "--output",
                "json",
            ])
            .run()
            .success()
            .json()
    };
    let ra = package(&a, "a.zip");
    let rb = package(&b, "b.zip");
    assert_eq!(ra["sha256"], rb["sha256"]);
    assert_eq!(ra["files"], 3);
    assert_eq!(ra["runtime"], "python3.13");
    let bytes = std::fs::read(world.dir().join("a.zip")).unwrap();
    assert_eq!(bytes, std::fs::read(world.dir().join("b.zip")).unwrap());
}

/// Zip `files` with Python's zipfile (another tool than ours), entries in the given order,
/// all stamped with `date`.
fn foreign_zip(path: &std::path::Path, files: &[(&str, &str)], date: &str) {
    let spec = serde_json::to_string(files).unwrap();
    let status = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys,json,zipfile\nz=zipfile.ZipFile(sys.argv[1],'w',zipfile.ZIP_DEFLATED)\nd=tuple(int(x) for x in sys.argv[3].split('-'))+(12,0,0)\nfor n,b in json.loads(sys.argv[2]):\n  i=zipfile.ZipInfo(n,d); i.external_attr=0o600<<16; z.writestr(i,b)\nz.close()",
            path.to_str().unwrap(),
            &spec,
            date,
        ])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_prebuilt_zip_is_deployed_and_normalised() {
    let world = World::new();
    let handler = "def handler(e, c):\n    return {'statusCode': 200, 'body': 'zip'}\n";
    let a = world.dir().join("a.zip");
    let b = world.dir().join("b.zip");
    foreign_zip(
        &a,
        &[("app.py", handler), ("lib/x.py", "X=1")],
        "2024-01-02",
    );
    foreign_zip(
        &b,
        &[("lib/x.py", "X=1"), ("app.py", handler)],
        "2025-06-07",
    );
    let report = deploy(&world, &a, &[], 1);
    assert_eq!(report["changed"], true);
    // Other order, other timestamps, same files: the same artifact, so a no-op.
    let again = deploy(&world, &b, &[], 2);
    assert_eq!(again["changed"], false, "normalised zips are equal");
    assert_eq!(again["code_sha256"], report["code_sha256"]);
}

#[test]
fn teardown_deletes_the_stage_and_is_idempotent() {
    let world = World::new();
    let app = world.python_app("app", "x");
    deploy(&world, &app, &[], 1);
    let out = world
        .cmd(&[
            "teardown", "--app", "hello", "--stage", "main", "--output", "json",
        ])
        .run()
        .success()
        .json();
    assert_eq!(out["deleted"], true);
    assert!(!world.exists("hello-main"));
    let again = world
        .cmd(&[
            "teardown", "--app", "hello", "--stage", "main", "--output", "json",
        ])
        .run()
        .success()
        .json();
    assert_eq!(again["deleted"], false);
}

#[test]
fn old_versions_are_pruned_but_live_is_kept() {
    let world = World::new();
    for i in 0..4 {
        let app = world.python_app(&format!("v{i}"), &format!("body {i}"));
        deploy(&world, &app, &["--keep-versions", "2"], 100 + i);
    }
    let versions: Vec<String> = world
        .versions("hello-main")
        .into_iter()
        .map(|v| v.0)
        .collect();
    assert_eq!(versions, vec!["3", "4"]);
    assert_eq!(world.alias_version("hello-main").as_deref(), Some("4"));
}

/// Through the proxy: real Lambda's Pending/InProgress windows with 409s, throttling, 5xx and
/// the CodeSha256 precondition. Ten deploys of changing artifacts all succeed, and live ends
/// on the last artifact.
#[test]
fn deploys_succeed_through_throttling_errors_and_busy_windows() {
    let world = World::with_proxy();
    world.proxy().configure(json!({
        "throttle": 0.15,
        "error5xx": 0.05,
        "busy_seconds": 2,
        "enforce_code_sha256": true,
        "enforce_revision_id": true,
        "seed": 7,
    }));
    let mut last = Value::Null;
    for i in 0..10u64 {
        let app = world.python_app(&format!("v{i}"), &format!("body {i}"));
        last = deploy(&world, &app, &["--keep-versions", "20"], 1000 + i);
        assert_eq!(last["changed"], true, "deploy {i}");
    }
    let live = world.config("hello-main", Some("live"));
    assert_eq!(live.code_sha256(), last["code_sha256"].as_str());
    assert_eq!(
        world.alias_version("hello-main").as_deref(),
        last["version"].as_str()
    );
    let log = world.proxy().log();
    let injected: Vec<&str> = log.iter().filter_map(|e| e["injected"].as_str()).collect();
    assert!(
        injected.iter().any(|i| i.contains("throttle")),
        "faults were injected: {injected:?}"
    );
    assert!(
        injected.iter().any(|i| i.contains("error5xx")),
        "5xx were injected: {injected:?}"
    );
}

#[test]
fn a_no_op_redeploy_makes_at_most_seven_requests_and_uploads_nothing() {
    let world = World::with_proxy();
    let app = world.python_app("app", "x");
    deploy(&world, &app, &[], 1);
    world.proxy().clear_log();
    let report = deploy(&world, &app, &[], 2);
    assert_eq!(report["changed"], false);
    let ops = world.proxy().operations();
    // GetAlias, GetFunction(live) and the artifact's HEAD (sent with them so that a deploy
    // that writes needs no second round trip first), the URL and its policy, and (production
    // settings) the log group's retention and the reserved concurrency: all reads, in two
    // round trips.
    assert!(ops.len() <= 7, "{ops:?}");
    assert!(
        ops.iter()
            .all(|o| !o.starts_with("s3:") || o == "s3:HeadObject"),
        "{ops:?}"
    );
}

#[test]
fn every_flag_reads_its_deploy_env_var_and_empty_ones_count_as_unset() {
    let world = World::new();
    let app = world.python_app("app", "from env");
    let report = world
        .cmd(&["deploy"])
        .env("DEPLOY_APP", "envapp")
        .env("DEPLOY_STAGE", "")
        .env("DEPLOY_ARTIFACT", app.display().to_string())
        .env("DEPLOY_HANDLER", "app.handler")
        .env("DEPLOY_S3_BUCKET", BUCKET)
        .env("DEPLOY_EXECUTION_ROLE", World::exec_role())
        .env("DEPLOY_MEMORY", "")
        .env("DEPLOY_TIMEOUT", "45")
        .env("DEPLOY_ENV", "A=1\nB=two words")
        .env("DEPLOY_ADOPT", "false")
        .env("DEPLOY_FORCE", "")
        .env("DEPLOY_OUTPUT", "json")
        .run()
        .success()
        .json();
    assert_eq!(
        report["function_name"], "envapp-dev",
        "empty DEPLOY_STAGE: the default stage"
    );
    let live = world.config("envapp-dev", Some("live"));
    assert_eq!(
        live.memory_size(),
        Some(512),
        "empty DEPLOY_MEMORY: the default"
    );
    assert_eq!(live.timeout(), Some(45));
    let vars = live
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    assert_eq!(vars.get("B").map(String::as_str), Some("two words"));
    assert_eq!(vars.len(), 2);
}

/// Operations that change nothing (what a plan may do).
fn is_read(operation: &str) -> bool {
    operation.starts_with("lambda:Get")
        || operation.starts_with("lambda:List")
        || operation == "s3:HeadObject"
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let world = World::new();
    let v1 = world.python_app("v1", "one");
    let v2 = world.python_app("v2", "two");
    deploy(&world, &v1, &[], 1);
    world.proxy().clear_log();
    let plan = deploy(&world, &v2, &["--dry-run", "--memory", "1024"], 2);
    assert_eq!(plan["action"], "update");
    assert_eq!(plan["code"], true);
    assert_eq!(plan["configuration"], json!(["memory"]));
    assert_eq!(plan["live_version"], "1");
    assert!(plan["provenance"].as_str().unwrap().contains("run=2"));
    assert_eq!(plan["upload"], true, "v2 is not in S3 yet");
    for op in world.proxy().operations() {
        assert!(is_read(&op), "a write in dry-run: {op}");
    }
    assert_eq!(world.versions("hello-main").len(), 1);
    assert_eq!(world.s3_keys().len(), 1);

    // The live code with other settings: nothing to upload.
    let plan = deploy(&world, &v1, &["--dry-run", "--memory", "1024"], 3);
    assert_eq!(plan["code"], false);
    assert_eq!(plan["upload"], false);
}

#[test]
fn a_package_written_inside_the_source_is_not_packaged_next_time() {
    let world = World::moto_only();
    let app = world.python_app("app", "x");
    let out = app.join("dist/app.zip");
    let run = || {
        world
            .cmd(&[
                "package",
                "--artifact",
                app.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--output",
                "json",
            ])
            .run()
            .success()
            .json()
    };
    let first = run();
    let second = run();
    assert_eq!(first["sha256"], second["sha256"]);
    assert_eq!(second["files"], 1);
}
