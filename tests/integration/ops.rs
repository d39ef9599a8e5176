//! Operating a live app against moto behind the fault proxy (real Lambda's RevisionId and
//! routing checks on): rollback, promote, status, smoke checks and canaries.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{BUCKET, World};

/// A world whose proxy enforces what real Lambda enforces.
pub fn strict_world() -> World {
    let world = World::with_proxy();
    world.proxy().configure(json!({
        "enforce_revision_id": true,
        "enforce_code_sha256": true,
    }));
    world
}

/// `deploy --app hello --stage STAGE` of `artifact` as run `run_id`, JSON report.
pub fn deploy_cmd(
    world: &World,
    stage: &str,
    artifact: &Path,
    extra: &[&str],
    run_id: u64,
) -> crate::support::Cmd {
    let role = World::exec_role();
    let mut args: Vec<String> = [
        "deploy",
        "--app",
        "hello",
        "--stage",
        stage,
        "--artifact",
        artifact.to_str().unwrap(),
        "--handler",
        "app.handler",
        "--runtime",
        "python3.13",
        "--s3-bucket",
        BUCKET,
        "--execution-role",
        &role,
        "--output",
        "json",
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect();
    args.extend(extra.iter().map(|s| (*s).to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    world.cmd(&args).env("GITHUB_RUN_ID", run_id.to_string())
}

pub fn deploy(world: &World, stage: &str, artifact: &Path, extra: &[&str], run_id: u64) -> Value {
    deploy_cmd(world, stage, artifact, extra, run_id)
        .run()
        .success()
        .json()
}

fn rollback(world: &World, extra: &[&str]) -> crate::support::RunResult {
    let mut args = vec![
        "rollback", "--app", "hello", "--stage", "main", "--output", "json",
    ];
    args.extend_from_slice(extra);
    world.cmd(&args).run()
}

fn alias_description(world: &World, function: &str) -> String {
    world
        .block_on(
            world
                .lambda_client()
                .get_alias()
                .function_name(function)
                .name("live")
                .send(),
        )
        .unwrap()
        .description()
        .unwrap_or_default()
        .to_string()
}

fn tags(world: &World, function: &str) -> HashMap<String, String> {
    world
        .block_on(
            world
                .lambda_client()
                .get_function()
                .function_name(function)
                .send(),
        )
        .unwrap()
        .tags()
        .cloned()
        .unwrap_or_default()
}

/// Every write a run made (Lambda and S3 operations other than reads).
fn writes(ops: &[String]) -> Vec<String> {
    ops.iter()
        .filter(|o| {
            let name = o.split(':').nth(1).unwrap_or_default();
            !(name.starts_with("Get") || name.starts_with("List") || name.starts_with("Head"))
        })
        .cloned()
        .collect()
}

#[test]
fn rollback_moves_live_back_and_a_later_deploy_moves_it_forward() {
    let world = strict_world();
    let mut reports = Vec::new();
    for (i, body) in ["one", "two", "three"].iter().enumerate() {
        let app = world.python_app(body, body);
        reports.push(deploy(&world, "main", &app, &[], 10 + i as u64));
    }
    assert_eq!(world.alias_version("hello-main").as_deref(), Some("3"));
    let keys_before = world.s3_keys();

    world.proxy().clear_log();
    let back = rollback(&world, &[]).success().json();
    assert_eq!(back["version"], "2");
    assert_eq!(back["previous_version"], "3");
    assert_eq!(back["changed"], true);
    assert_eq!(back["superseded"], false);
    assert_eq!(back["alias"], "live");
    assert_eq!(back["code_sha256"], reports[1]["code_sha256"]);
    assert_eq!(back["url"], reports[2]["url"], "the URL stays");
    assert_eq!(back["artifact"], "", "no bucket given: no artifact named");
    assert!(
        back["function_arn"]
            .as_str()
            .unwrap()
            .ends_with(":function:hello-main:live")
    );
    assert_eq!(
        world.alias("hello-main"),
        Some(("2".into(), HashMap::new()))
    );
    let live = world.config("hello-main", Some("live"));
    assert_eq!(live.code_sha256(), reports[1]["code_sha256"].as_str());
    // Instant: no build, no upload, no new version; one alias write and the record.
    let ops = world.proxy().operations();
    assert!(ops.iter().all(|o| o.starts_with("lambda:")), "{ops:?}");
    assert_eq!(
        writes(&ops),
        vec!["lambda:UpdateAlias", "lambda:TagResource"],
        "{ops:?}"
    );
    assert_eq!(world.versions("hello-main").len(), 3);
    assert_eq!(world.s3_keys(), keys_before);
    let described = alias_description(&world, "hello-main");
    assert!(
        described.contains("run=11") && described.contains("rolled-back-from=3"),
        "{described}"
    );
    assert_eq!(
        tags(&world, "hello-main")
            .get("deploy-action:rolled-back")
            .map(String::as_str),
        Some("3")
    );

    let to_one = rollback(&world, &["--to", "1", "--s3-bucket", BUCKET])
        .success()
        .json();
    assert_eq!(to_one["version"], "1");
    assert_eq!(
        to_one["artifact"], reports[0]["artifact"],
        "named from the CodeSha256"
    );
    assert_eq!(to_one["previous_version"], "2");
    assert_eq!(world.alias_version("hello-main").as_deref(), Some("1"));

    // A new artifact after the rollbacks: a new version, and live moves to it (run 13 is
    // newer than the live run 10, so it is not superseded).
    let four = world.python_app("four", "four");
    let fourth = deploy(&world, "main", &four, &[], 13);
    assert_eq!(fourth["version"], "4");
    assert_eq!(fourth["previous_version"], "1");
    assert_eq!(fourth["changed"], true);
    assert_eq!(world.alias_version("hello-main").as_deref(), Some("4"));

    // Versions 3 and 2 were rolled back from: the next rollback skips both.
    let skip = rollback(&world, &[]).success().json();
    assert_eq!(skip["version"], "1", "{skip}");
    assert_eq!(skip["previous_version"], "4");
}

#[test]
fn rollback_twice_in_a_row_skips_the_versions_rolled_back_from() {
    let world = strict_world();
    for (i, body) in ["one", "two", "three"].iter().enumerate() {
        let app = world.python_app(body, body);
        deploy(&world, "main", &app, &[], 10 + i as u64);
    }
    assert_eq!(rollback(&world, &[]).success().json()["version"], "2");
    let four = world.python_app("four", "four");
    assert_eq!(deploy(&world, "main", &four, &[], 20)["version"], "4");

    // From 4: 3 was rolled back from, so 2; then from 2: 1.
    let first = rollback(&world, &[]).success().json();
    assert_eq!(
        (
            first["previous_version"].as_str(),
            first["version"].as_str()
        ),
        (Some("4"), Some("2"))
    );
    let second = rollback(&world, &[]).success().json();
    assert_eq!(
        (
            second["previous_version"].as_str(),
            second["version"].as_str()
        ),
        (Some("2"), Some("1"))
    );
    assert_eq!(
        tags(&world, "hello-main")
            .get("deploy-action:rolled-back")
            .map(String::as_str),
        Some("2 3 4")
    );

    // Nothing older is left: exit 2, live stays, and the error says what to do.
    world.proxy().clear_log();
    let none = rollback(&world, &[]).failure(2);
    assert!(none.stderr.contains("--to"), "{}", none.stderr);
    assert_eq!(world.alias_version("hello-main").as_deref(), Some("1"));
    assert_eq!(writes(&world.proxy().operations()), Vec::<String>::new());

    // An explicit --to may pick a version rolled back from, and clears its mark.
    assert_eq!(
        rollback(&world, &["--to", "3"]).success().json()["version"],
        "3"
    );
    assert_eq!(
        tags(&world, "hello-main")
            .get("deploy-action:rolled-back")
            .map(String::as_str),
        Some("1 2 4")
    );
}

#[test]
fn rollback_to_a_missing_version_exits_2_and_changes_nothing() {
    let world = strict_world();
    let app = world.python_app("one", "one");
    deploy(&world, "main", &app, &[], 1);
    world.proxy().clear_log();
    let out = rollback(&world, &["--to", "9"]).failure(2);
    assert!(out.stderr.contains("no version 9"), "{}", out.stderr);
    assert!(out.stderr.contains("published: 1"), "{}", out.stderr);
    assert_eq!(writes(&world.proxy().operations()), Vec::<String>::new());
    assert_eq!(world.alias_version("hello-main").as_deref(), Some("1"));

    // Not a number: exit 2 before any AWS call.
    world.proxy().clear_log();
    let bad = rollback(&world, &["--to", "live"]).failure(2);
    assert!(bad.stderr.contains("--to"), "{}", bad.stderr);
    assert!(world.proxy().log().is_empty());

    // A stage that was never deployed.
    let out = world
        .cmd(&["rollback", "--app", "hello", "--stage", "nope"])
        .run()
        .failure(2);
    assert!(
        out.stderr.contains("hello-nope does not exist"),
        "{}",
        out.stderr
    );

    // JSON errors are one object on stdout.
    let json_err = rollback(&world, &["--to", "9"]).failure(2).json();
    assert_eq!(json_err["error"]["exit_code"], 2);
}

#[test]
fn rollback_clears_canary_weights() {
    let world = strict_world();
    for (i, body) in ["one", "two"].iter().enumerate() {
        let app = world.python_app(body, body);
        deploy(&world, "main", &app, &[], 10 + i as u64);
    }
    // A canary left behind (say, by a cancelled job): 2 is live, 1 takes 30%.
    let current = world
        .block_on(
            world
                .lambda_client()
                .get_alias()
                .function_name("hello-main")
                .name("live")
                .send(),
        )
        .unwrap();
    world
        .block_on(
            world
                .lambda_client()
                .update_alias()
                .function_name("hello-main")
                .name("live")
                .function_version("2")
                .routing_config(
                    aws_sdk_lambda::types::AliasRoutingConfiguration::builder()
                        .additional_version_weights("1", 0.3)
                        .build(),
                )
                .set_revision_id(current.revision_id().map(String::from))
                .send(),
        )
        .unwrap();
    let out = rollback(&world, &[]).success().json();
    assert_eq!(out["version"], "1");
    assert_eq!(
        world.alias("hello-main"),
        Some(("1".into(), HashMap::new()))
    );
}

#[test]
fn promote_deploys_the_same_artifact_without_uploading() {
    let world = strict_world();
    let app = world.python_app("pr", "preview build");
    let source = deploy(&world, "pr-7", &app, &[], 7);
    let keys = world.s3_keys();
    assert_eq!(keys.len(), 1);

    world.proxy().clear_log();
    let role = World::exec_role();
    let promoted = world
        .cmd(&[
            "promote",
            "--app",
            "hello",
            "--from",
            "pr-7",
            "--to",
            "main",
            "--s3-bucket",
            BUCKET,
            "--execution-role",
            &role,
            "--memory",
            "1024",
            "--output",
            "json",
        ])
        .env("GITHUB_RUN_ID", "30")
        .run()
        .success()
        .json();
    assert_eq!(promoted["stage"], "main");
    assert_eq!(promoted["function_name"], "hello-main");
    assert_eq!(promoted["version"], "1");
    assert_eq!(promoted["changed"], true);
    assert_eq!(promoted["code_sha256"], source["code_sha256"]);
    assert_eq!(promoted["artifact"], source["artifact"]);
    assert_ne!(promoted["url"], source["url"]);

    // No new object, no upload; the object was only looked at.
    assert_eq!(world.s3_keys(), keys);
    let ops = world.proxy().operations();
    assert!(!ops.iter().any(|o| o == "s3:PutObject"), "{ops:?}");
    assert!(ops.iter().any(|o| o == "s3:HeadObject"), "{ops:?}");

    let live = world.config("hello-main", Some("live"));
    assert_eq!(live.code_sha256(), source["code_sha256"].as_str());
    // The target's configuration from the flags; runtime and handler from the source.
    assert_eq!(live.memory_size(), Some(1024));
    assert_eq!(live.runtime().map(|r| r.as_str()), Some("python3.13"));
    assert_eq!(live.handler(), Some("app.handler"));
    let description = live.description().unwrap_or_default();
    assert!(
        description.contains("promoted-from=pr-7@1"),
        "{description}"
    );
    assert!(description.contains("run=30"), "{description}");
    let tags = tags(&world, "hello-main");
    assert_eq!(
        tags.get("deploy-action:stage").map(String::as_str),
        Some("main")
    );

    // Promoting again changes nothing.
    let again = world
        .cmd(&[
            "promote",
            "--app",
            "hello",
            "--from",
            "pr-7",
            "--to",
            "main",
            "--s3-bucket",
            BUCKET,
            "--memory",
            "1024",
            "--output",
            "json",
        ])
        .env("GITHUB_RUN_ID", "31")
        .run()
        .success()
        .json();
    assert_eq!(again["changed"], false);
    assert_eq!(world.versions("hello-main").len(), 1);
}

#[test]
fn promote_refuses_what_it_cannot_find() {
    let world = strict_world();
    let app = world.python_app("pr", "preview build");
    deploy(&world, "pr-7", &app, &[], 7);
    let role = World::exec_role();
    let promote = |extra: &[&str]| {
        let mut args = vec![
            "promote",
            "--app",
            "hello",
            "--to",
            "main",
            "--s3-bucket",
            BUCKET,
            "--execution-role",
            &role,
        ];
        args.extend_from_slice(extra);
        world.cmd(&args).run()
    };
    // Nothing live on the source: bad input.
    let out = promote(&["--from", "pr-8"]).failure(2);
    assert!(
        out.stderr.contains("pr-8 has nothing live"),
        "{}",
        out.stderr
    );
    // The artifact isn't under that prefix: exit 1 naming the object and the fix.
    let out = promote(&["--from", "pr-7", "--s3-prefix", "elsewhere"]).failure(1);
    assert!(
        out.stderr.contains("s3://artifacts/elsewhere/hello/"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--s3-prefix"), "{}", out.stderr);
    assert!(!world.exists("hello-main"), "nothing was created");
    // Same stage twice: bad input before any call.
    world.proxy().clear_log();
    let out = promote(&["--from", "main"]).failure(2);
    assert!(out.stderr.contains("--to"), "{}", out.stderr);
    assert!(world.proxy().log().is_empty());
}

#[test]
fn status_lists_the_stages_of_the_app_by_tag() {
    let world = strict_world();
    let one = world.python_app("one", "one");
    let two = world.python_app("two", "two");
    deploy(&world, "main", &one, &[], 10);
    let main2 = deploy(&world, "main", &two, &[], 11);
    let pr = deploy(&world, "pr-7", &one, &[], 12);
    // Another app whose functions also start with `hello-`.
    let role = World::exec_role();
    world
        .cmd(&[
            "deploy",
            "--app",
            "hello-world",
            "--stage",
            "main",
            "--artifact",
            one.to_str().unwrap(),
            "--handler",
            "app.handler",
            "--s3-bucket",
            BUCKET,
            "--execution-role",
            &role,
        ])
        .run()
        .success();

    let status = world
        .cmd(&["status", "--app", "hello", "--output", "json"])
        .run()
        .success()
        .json();
    assert_eq!(status["app"], "hello");
    let stages = status["stages"].as_array().unwrap();
    let names: Vec<&str> = stages
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["main", "pr-7"], "{status}");
    let main = &stages[0];
    assert_eq!(main["function_name"], "hello-main");
    assert_eq!(main["live_version"], "2");
    assert_eq!(
        main["commit"],
        Value::Null,
        "outside Actions there is no commit"
    );
    assert_eq!(main["run_id"], 11);
    assert_eq!(main["url"], main2["url"]);
    assert_eq!(main["code_sha256"], main2["code_sha256"]);
    assert!(main["code_size"].as_i64().unwrap() > 0);
    assert!(
        main["deployed_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("20")),
        "{main}"
    );
    assert_eq!(main["versions"], json!(["1", "2"]));
    assert_eq!(main["canary"], Value::Null);
    assert_eq!(stages[1]["url"], pr["url"]);

    let text = world
        .cmd(&["status", "--app", "hello"])
        .run()
        .success()
        .stdout;
    assert!(text.contains("STAGE"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("main ") && l.contains(main2["url"].as_str().unwrap())),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("pr-7 ")), "{text}");
    assert!(!text.contains("hello-world"), "{text}");

    // One stage: no ListFunctions.
    world.proxy().clear_log();
    let one_stage = world
        .cmd(&[
            "status", "--app", "hello", "--stage", "pr-7", "--output", "json",
        ])
        .run()
        .success()
        .json();
    assert_eq!(one_stage["stages"].as_array().unwrap().len(), 1);
    let ops = world.proxy().operations();
    assert!(!ops.iter().any(|o| o == "lambda:ListFunctions"), "{ops:?}");
    assert!(writes(&ops).is_empty(), "{ops:?}");

    let none = world
        .cmd(&["status", "--app", "nothing", "--output", "json"])
        .run()
        .success()
        .json();
    assert_eq!(none["stages"], json!([]));
}

/// Invoke entries of the proxy log: (qualifier, rawPath of the event).
fn invocations(world: &World) -> Vec<(String, String)> {
    world
        .proxy()
        .log()
        .iter()
        .filter(|e| e["operation"] == "lambda:Invoke")
        .map(|e| {
            (
                e["qualifier"].as_str().unwrap_or_default().to_string(),
                e["payload"]["rawPath"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn a_failing_smoke_check_keeps_all_traffic_on_the_old_version() {
    let world = strict_world();
    let one = world.python_app("one", "one");
    let two = world.python_app("two", "two");
    deploy(&world, "main", &one, &[], 1);
    world.proxy().configure(json!({"invoke": {
        "hello-main:2": {"statusCode": 500, "body": "database unreachable"},
    }}));
    world.proxy().clear_log();
    let out = deploy_cmd(
        &world,
        "main",
        &two,
        &[
            "--canary",
            "10",
            "--canary-minutes",
            "0",
            "--smoke-path",
            "/healthz",
        ],
        2,
    )
    .run()
    .failure(1);
    assert!(
        out.stderr.contains("answered 500, expected 200"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("database unreachable"),
        "{}",
        out.stderr
    );
    let err = out.json();
    assert_eq!(err["error"]["kind"], "smoke_failed");
    // 100% on the old version; the new one was published but got no traffic.
    assert_eq!(
        world.alias("hello-main"),
        Some(("1".into(), HashMap::new()))
    );
    assert_eq!(world.versions("hello-main").len(), 2);
    assert_eq!(
        invocations(&world),
        vec![("2".to_string(), "/healthz".to_string())]
    );
    assert!(
        !world
            .proxy()
            .operations()
            .iter()
            .any(|o| o == "lambda:UpdateAlias"),
        "the weight was never given"
    );
}

#[test]
fn a_function_error_fails_the_smoke_check_and_a_first_deploy_creates_no_live() {
    let world = strict_world();
    world.proxy().configure(json!({"invoke": {
        "hello-main:*": {"function_error": "Unhandled", "payload": {"errorMessage": "KeyError: 'DATABASE_URL'"}},
    }}));
    let app = world.python_app("one", "one");
    let out = deploy_cmd(&world, "main", &app, &["--smoke-path", "/"], 1)
        .run()
        .failure(1);
    assert!(
        out.stderr.contains("Unhandled") && out.stderr.contains("DATABASE_URL"),
        "{}",
        out.stderr
    );
    assert_eq!(
        world.alias_version("hello-main"),
        None,
        "no live without a passing check"
    );

    // Fixed: the same stage deploys once the check passes.
    world
        .proxy()
        .configure(json!({"invoke": {"hello-main:*": null}}));
    let fixed = world.python_app("fixed", "fixed");
    let report = deploy(&world, "main", &fixed, &["--smoke-path", "/"], 2);
    assert_eq!(
        world.alias_version("hello-main").as_deref(),
        report["version"].as_str()
    );
}

/// Poll `live` until `pred` holds (or panic after `within`).
fn wait_for_alias(
    world: &World,
    within: Duration,
    pred: impl Fn(&(String, HashMap<String, f64>)) -> bool,
) -> (String, HashMap<String, f64>) {
    let deadline = Instant::now() + within;
    loop {
        if let Some(a) = world.alias("hello-main")
            && pred(&a)
        {
            return a;
        }
        assert!(
            Instant::now() < deadline,
            "live never got there: {:?}",
            world.alias("hello-main")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn finish(child: std::process::Child) -> (i32, String, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_passing_canary_takes_its_share_then_all_traffic() {
    let world = strict_world();
    let one = world.python_app("one", "one");
    let two = world.python_app("two", "two");
    deploy(&world, "main", &one, &[], 1);
    world.proxy().clear_log();
    let child = deploy_cmd(
        &world,
        "main",
        &two,
        &["--canary", "10", "--smoke-path", "/healthz"],
        2,
    )
    .env("DEPLOY_ACTION_TEST_CANARY_SECONDS", "3")
    .spawn();
    // While it holds: 1 is primary, 2 takes 10%.
    let during = wait_for_alias(&world, Duration::from_secs(30), |a| !a.1.is_empty());
    assert_eq!(during.0, "1");
    assert_eq!(during.1, HashMap::from([("2".to_string(), 0.1)]));
    let (code, stdout, stderr) = finish(child);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["version"], "2");
    assert_eq!(report["previous_version"], "1");
    assert_eq!(
        world.alias("hello-main"),
        Some(("2".into(), HashMap::new()))
    );
    // Checked before the weight and again after holding it.
    assert_eq!(
        invocations(&world),
        vec![
            ("2".to_string(), "/healthz".to_string()),
            ("2".to_string(), "/healthz".to_string())
        ]
    );
}

#[test]
fn a_canary_that_fails_while_holding_its_share_gives_it_back() {
    let world = strict_world();
    let one = world.python_app("one", "one");
    let two = world.python_app("two", "two");
    deploy(&world, "main", &one, &[], 1);
    let child = deploy_cmd(
        &world,
        "main",
        &two,
        &["--canary", "25", "--canary-minutes", "1"],
        2,
    )
    .env("DEPLOY_ACTION_TEST_CANARY_SECONDS", "4")
    .spawn();
    // The first check passed and the canary holds 25%; now the new version starts failing.
    let during = wait_for_alias(&world, Duration::from_secs(30), |a| !a.1.is_empty());
    assert_eq!(
        during,
        ("1".to_string(), HashMap::from([("2".to_string(), 0.25)]))
    );
    world.proxy().configure(json!({"invoke": {
        "hello-main:2": {"statusCode": 502, "body": "upstream timed out"},
    }}));
    let (code, _, stderr) = finish(child);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("GET / answered 502, expected 200: upstream timed out"),
        "{stderr}"
    );
    assert_eq!(
        world.alias("hello-main"),
        Some(("1".into(), HashMap::new()))
    );
}

#[test]
fn smoke_path_without_canary_checks_before_live_moves() {
    let world = strict_world();
    let one = world.python_app("one", "one");
    let two = world.python_app("two", "two");
    deploy(&world, "main", &one, &[], 1);
    world
        .proxy()
        .configure(json!({"invoke": {"hello-main:2": {"statusCode": 204}}}));
    world.proxy().clear_log();
    let report = deploy(
        &world,
        "main",
        &two,
        &["--smoke-path", "/ready?deep=1", "--smoke-status", "204"],
        2,
    );
    assert_eq!(report["version"], "2");
    assert_eq!(
        world.alias("hello-main"),
        Some(("2".into(), HashMap::new()))
    );
    let log = world.proxy().log();
    let invoke = log
        .iter()
        .find(|e| e["operation"] == "lambda:Invoke")
        .unwrap();
    assert_eq!(invoke["qualifier"], "2");
    let event = &invoke["payload"];
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["rawPath"], "/ready");
    assert_eq!(event["rawQueryString"], "deep=1");
    assert_eq!(event["requestContext"]["http"]["method"], "GET");
    // The check came before live moved.
    let pos = |op: &str| log.iter().position(|e| e["operation"] == op).unwrap();
    assert!(pos("lambda:Invoke") < pos("lambda:UpdateAlias"));

    // Without checks, no Invoke at all.
    world.proxy().clear_log();
    let three = world.python_app("three", "three");
    deploy(&world, "main", &three, &[], 3);
    assert!(invocations(&world).is_empty());
}
