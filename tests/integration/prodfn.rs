//! Production settings (issue 18): secrets from SSM and Secrets Manager, the log group with
//! its retention, networking and runtime options, reserved concurrency. Each option's first
//! deploy, its no-op redeploy (nothing written, from the fault proxy's request log), drift
//! correction, removal and teardown, against moto behind the fault proxy.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::support::{self, BUCKET, RunResult, World};

const PR_REPO: &str = "Codertocat/Hello-World";
const DB_PASSWORD: &str = "db-Passw0rd-FROM-SSM-4711";
const API_TOKEN: &str = "api-token-FROM-SECRETS-MANAGER-0815";

/// Run a boto3 snippet against moto directly (set-up and tampering a test does behind the
/// tool's back); `moto` is the endpoint, the snippet gets `c(service)`.
fn boto(world: &World, code: &str) -> String {
    let script = format!(
        "import boto3, json, sys\n\
         def c(s): return boto3.client(s, endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='OBSERVER0000000000', aws_secret_access_key='t')\n\
         {code}\n"
    );
    let python = std::env::var("DEPLOY_ACTION_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(python)
        .args(["-c", &script, &world.moto_url()])
        .output()
        .expect("python3 with boto3");
    assert!(
        out.status.success(),
        "boto3 snippet failed:\n{code}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn args<'a>(artifact: &'a str, role: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    stage_args("main", artifact, role, extra)
}

fn stage_args<'a>(
    stage: &'a str,
    artifact: &'a str,
    role: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut v = vec![
        "deploy",
        "--app",
        "hello",
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
    ];
    v.extend_from_slice(extra);
    v
}

fn run(world: &World, artifact: &Path, extra: &[&str], run_id: u64) -> RunResult {
    let role = World::exec_role();
    let path = artifact.display().to_string();
    world
        .cmd(&args(&path, &role, extra))
        .env("GITHUB_RUN_ID", run_id.to_string())
        .run()
}

fn deploy(world: &World, artifact: &Path, extra: &[&str], run_id: u64) -> Value {
    run(world, artifact, extra, run_id).success().json()
}

/// Operations that write (anything but Get/List/Describe/Head).
fn writes(world: &World) -> Vec<String> {
    world
        .proxy()
        .operations()
        .into_iter()
        .filter(|op| {
            let name = op.split(':').nth(1).unwrap_or_default();
            !(name.starts_with("Get")
                || name.starts_with("List")
                || name.starts_with("Describe")
                || name.starts_with("Head"))
        })
        .collect()
}

/// `(exists, retention)` of the function's log group, read from moto.
fn log_group(world: &World) -> (bool, Option<i64>) {
    let out = boto(
        world,
        "g = [x for x in c('logs').describe_log_groups(logGroupNamePrefix='/aws/lambda/hello-main')['logGroups'] if x['logGroupName'] == '/aws/lambda/hello-main']\n\
         print(json.dumps([bool(g), g[0].get('retentionInDays') if g else None]))",
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    (v[0].as_bool().unwrap(), v[1].as_i64())
}

fn put_secrets(world: &World, db: &str) {
    boto(
        world,
        &format!(
            "c('ssm').put_parameter(Name='/hello/db', Value={db:?}, Type='SecureString', Overwrite=True)\n\
             try:\n    c('secretsmanager').create_secret(Name='hello/api', SecretString=json.dumps({{'token': {API_TOKEN:?}, 'other': 'x'}}))\n\
             except Exception as e:\n    if 'ResourceExists' not in str(e): raise"
        ),
    );
}

/// Every place a run may write to: stdout, stderr (without the runner's mask commands), the
/// step outputs and summary, and the PR comments of the fake GitHub.
#[track_caller]
fn assert_never_shown(world: &World, result: &RunResult, secrets: &[&str]) {
    let mut places = vec![
        ("stdout".to_string(), result.stdout.clone()),
        (
            "stderr".to_string(),
            result
                .stderr
                .lines()
                .filter(|l| !l.starts_with("::add-mask::"))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
    ];
    for file in ["github_output", "step_summary.md"] {
        if let Ok(text) = std::fs::read_to_string(world.dir().join(file)) {
            places.push((file.to_string(), text));
        }
    }
    let comments = world.github().state()["comments"][PR_REPO].to_string();
    places.push(("the PR comments".into(), comments));
    for (place, text) in &places {
        for s in secrets {
            assert!(!text.contains(s), "secret {s} in {place}:\n{text}");
        }
    }
}

#[test]
fn secrets_are_resolved_masked_never_shown_and_a_new_value_is_a_new_version() {
    let mut world = World::new();
    world.start_github();
    put_secrets(&world, DB_PASSWORD);
    let app = world.python_app("app", "secret");
    let role = World::exec_role();
    let path = app.display().to_string();
    let refs = [
        "--env",
        "DB_PASSWORD=ssm:/hello/db",
        "--env",
        "API_TOKEN=secretsmanager:hello/api#token",
        "--env",
        "PLAIN=visible",
        "--comment",
        "always",
    ];
    let pr = |run_id: u64| {
        world
            .cmd(&stage_args("pr-2", &path, &role, &refs))
            .github_event(
                "pull_request",
                &support::event("pull_request.opened.json"),
                run_id,
            )
            .run()
    };
    let first = pr(10).success();
    assert_never_shown(&world, &first, &[DB_PASSWORD, API_TOKEN]);
    // Masked before anything else could print them.
    assert!(
        first.stderr.contains(&format!("::add-mask::{DB_PASSWORD}")),
        "{}",
        first.stderr
    );
    assert!(first.stderr.contains(&format!("::add-mask::{API_TOKEN}")));
    let env = world
        .config("hello-pr-2", Some("live"))
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    assert_eq!(env["DB_PASSWORD"], DB_PASSWORD);
    assert_eq!(env["API_TOKEN"], API_TOKEN);
    assert_eq!(env["PLAIN"], "visible");
    let comment = world.github().state()["comments"][PR_REPO]["2"].to_string();
    assert!(
        comment.contains("hello"),
        "a comment was written: {comment}"
    );

    // Same values: a no-op that writes nothing.
    world.proxy().clear_log();
    let again = pr(11).success();
    assert_eq!(again.json()["changed"], false);
    assert_eq!(writes(&world), Vec::<String>::new());
    assert_never_shown(&world, &again, &[DB_PASSWORD, API_TOKEN]);

    // The dry-run plan names the references, never the values.
    let plan = world
        .cmd(&stage_args("pr-2", &path, &role, &refs))
        .arg("--dry-run")
        .github_event(
            "pull_request",
            &support::event("pull_request.opened.json"),
            12,
        )
        .run()
        .success();
    assert_eq!(
        plan.json()["secrets"],
        json!([
            "API_TOKEN=secretsmanager:hello/api#token",
            "DB_PASSWORD=ssm:/hello/db"
        ])
    );
    assert_never_shown(&world, &plan, &[DB_PASSWORD, API_TOKEN]);

    // A rotated parameter is a configuration change: a new version with the new value.
    let rotated = "db-Rotated-Passw0rd-0042";
    put_secrets(&world, rotated);
    let third = pr(13).success();
    let report = third.json();
    assert_eq!(report["changed"], true);
    assert_eq!(report["version"], "2");
    assert_never_shown(&world, &third, &[DB_PASSWORD, API_TOKEN, rotated]);
    let env = world
        .config("hello-pr-2", Some("live"))
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    assert_eq!(env["DB_PASSWORD"], rotated);
}

#[test]
fn a_missing_parameter_fails_naming_it_and_changes_nothing() {
    let world = World::new();
    put_secrets(&world, DB_PASSWORD);
    let app = world.python_app("app", "x");
    world.proxy().clear_log();
    let out = run(
        &world,
        &app,
        &["--env", "A=ssm:/hello/db", "--env", "B=ssm:/hello/missing"],
        1,
    )
    .failure(1);
    assert!(out.stderr.contains("ssm:/hello/missing"), "{}", out.stderr);
    assert!(!out.all_output().contains(DB_PASSWORD));
    assert_eq!(writes(&world), Vec::<String>::new());
    assert!(!world.exists("hello-main"));

    let out = run(
        &world,
        &app,
        &["--env", "B=secretsmanager:hello/api#nokey"],
        2,
    )
    .failure(1);
    assert!(out.stderr.contains("nokey"), "{}", out.stderr);
    assert!(!out.all_output().contains(API_TOKEN));
    assert!(!world.exists("hello-main"));
}

#[test]
fn malformed_references_and_unknown_stores_exit_2_before_any_request() {
    let world = World::new();
    let app = world.python_app("app", "x");
    world.proxy().clear_log();
    for bad in [
        "A=ssm:",
        "A=vault:secret/db",
        "A=secretsmanager:x#",
        "A=ssm:/a b",
    ] {
        let out = run(&world, &app, &["--env", bad], 1).failure(2);
        assert!(out.stderr.contains("--env"), "{bad}: {}", out.stderr);
    }
    assert_eq!(world.proxy().operations(), Vec::<String>::new());
}

#[test]
fn the_log_group_is_created_with_its_retention_kept_and_deleted_on_teardown() {
    let world = World::new();
    let app = world.python_app("app", "x");
    deploy(&world, &app, &[], 1);
    assert_eq!(log_group(&world), (true, Some(30)), "default 30 days");
    let ops = world.proxy().operations();
    let created = ops.iter().position(|o| o == "logs:CreateLogGroup").unwrap();
    let function = ops
        .iter()
        .position(|o| o == "lambda:CreateFunction")
        .unwrap();
    assert!(
        created < function,
        "the group exists before the function: {ops:?}"
    );

    // No-op: nothing written.
    world.proxy().clear_log();
    deploy(&world, &app, &[], 2);
    assert_eq!(writes(&world), Vec::<String>::new());

    // Drift (someone set "never expire") is corrected, without a new version.
    boto(
        &world,
        "c('logs').delete_retention_policy(logGroupName='/aws/lambda/hello-main')",
    );
    let report = deploy(&world, &app, &[], 3);
    assert_eq!(report["changed"], false);
    assert_eq!(log_group(&world), (true, Some(30)));

    // Another retention.
    deploy(&world, &app, &["--log-retention-days", "14"], 4);
    assert_eq!(log_group(&world), (true, Some(14)));

    // Values CloudWatch doesn't offer: exit 2.
    let out = run(&world, &app, &["--log-retention-days", "10"], 5).failure(2);
    assert!(
        out.stderr.contains("--log-retention-days"),
        "{}",
        out.stderr
    );

    // Teardown with --keep-logs keeps it; without, it goes.
    world
        .cmd(&[
            "teardown",
            "--app",
            "hello",
            "--stage",
            "main",
            "--keep-logs",
        ])
        .run()
        .success();
    assert!(log_group(&world).0);
    deploy(&world, &app, &[], 6);
    world
        .cmd(&["teardown", "--app", "hello", "--stage", "main"])
        .run()
        .success();
    assert!(!log_group(&world).0);
    assert!(!world.exists("hello-main"));
}

fn publish_layer(world: &World) -> String {
    boto(
        world,
        "import io, zipfile\n\
         b = io.BytesIO()\n\
         z = zipfile.ZipFile(b, 'w'); z.writestr('python/lib.py', 'x = 1'); z.close()\n\
         print(c('lambda').publish_layer_version(LayerName='deps', Content={'ZipFile': b.getvalue()}, CompatibleRuntimes=['python3.13'])['LayerVersionArn'])",
    )
}

#[test]
fn networking_and_runtime_options_are_applied_kept_and_removed() {
    let world = World::new();
    let app = world.python_app("app", "x");
    let layer = publish_layer(&world);
    deploy(&world, &app, &[], 1);
    let settings = [
        "--vpc-subnets",
        "subnet-0123abcd,subnet-4567ef01",
        "--vpc-security-groups",
        "sg-0123abcd",
        "--layers",
        &layer,
        "--tracing",
        "active",
        "--ephemeral-storage",
        "1024",
        "--reserved-concurrency",
        "5",
        "--description",
        "Hello in production",
    ];
    let report = deploy(&world, &app, &settings, 2);
    assert_eq!(report["changed"], true);
    assert_eq!(report["version"], "2");
    let live = world.config("hello-main", Some("live"));
    let vpc = live.vpc_config().unwrap();
    let mut subnets = vpc.subnet_ids().to_vec();
    subnets.sort();
    assert_eq!(subnets, vec!["subnet-0123abcd", "subnet-4567ef01"]);
    assert_eq!(vpc.security_group_ids(), ["sg-0123abcd"]);
    assert_eq!(
        live.layers()
            .iter()
            .filter_map(|l| l.arn())
            .collect::<Vec<_>>(),
        vec![layer.as_str()]
    );
    assert_eq!(
        live.tracing_config()
            .and_then(|t| t.mode())
            .map(|m| m.as_str()),
        Some("Active")
    );
    assert_eq!(live.ephemeral_storage().map(|e| e.size()), Some(1024));
    assert!(
        live.description().unwrap_or_default().contains("run=2"),
        "the version keeps its provenance: {:?}",
        live.description()
    );
    let latest = world.config("hello-main", None);
    assert_eq!(latest.description(), Some("Hello in production"));
    let concurrency = world
        .block_on(
            world
                .lambda_client()
                .get_function_concurrency()
                .function_name("hello-main")
                .send(),
        )
        .unwrap();
    assert_eq!(concurrency.reserved_concurrent_executions(), Some(5));

    // The same settings again: nothing written.
    world.proxy().clear_log();
    let again = deploy(&world, &app, &settings, 3);
    assert_eq!(again["changed"], false);
    assert_eq!(writes(&world), Vec::<String>::new());

    // Reserved concurrency changed behind our back: corrected, no new version.
    world
        .block_on(
            world
                .lambda_client()
                .put_function_concurrency()
                .function_name("hello-main")
                .reserved_concurrent_executions(9)
                .send(),
        )
        .unwrap();
    let fixed = deploy(&world, &app, &settings, 4);
    assert_eq!(fixed["changed"], false);
    let concurrency = world
        .block_on(
            world
                .lambda_client()
                .get_function_concurrency()
                .function_name("hello-main")
                .send(),
        )
        .unwrap();
    assert_eq!(concurrency.reserved_concurrent_executions(), Some(5));

    // All of them dropped: a new version without them, concurrency no longer reserved.
    let removed = deploy(&world, &app, &[], 5);
    assert_eq!(removed["changed"], true);
    let live = world.config("hello-main", Some("live"));
    assert!(
        live.vpc_config()
            .is_none_or(|v| v.subnet_ids().is_empty() && v.security_group_ids().is_empty()),
        "{:?}",
        live.vpc_config()
    );
    assert!(live.layers().is_empty());
    assert_eq!(
        live.tracing_config()
            .and_then(|t| t.mode())
            .map(|m| m.as_str()),
        Some("PassThrough")
    );
    assert_eq!(live.ephemeral_storage().map(|e| e.size()), Some(512));
    let latest = world.config("hello-main", None);
    assert_eq!(latest.description(), Some("managed by deploy-action"));
    let concurrency = world
        .block_on(
            world
                .lambda_client()
                .get_function_concurrency()
                .function_name("hello-main")
                .send(),
        )
        .unwrap();
    assert_eq!(concurrency.reserved_concurrent_executions(), None);
    // And again: nothing written.
    world.proxy().clear_log();
    deploy(&world, &app, &[], 6);
    assert_eq!(writes(&world), Vec::<String>::new());
}

#[test]
fn a_description_alone_changes_latest_without_a_version() {
    let world = World::new();
    let app = world.python_app("app", "x");
    deploy(&world, &app, &[], 1);
    let report = deploy(&world, &app, &["--description", "the shop"], 2);
    assert_eq!(report["changed"], false);
    assert_eq!(world.versions("hello-main").len(), 1);
    assert_eq!(
        world.config("hello-main", None).description(),
        Some("the shop")
    );
}

#[test]
fn bad_production_settings_exit_2_before_any_request() {
    let world = World::new();
    let app = world.python_app("app", "x");
    world.proxy().clear_log();
    for (bad, flag) in [
        (
            vec!["--vpc-subnets", "subnet-0123abcd"],
            "--vpc-security-groups",
        ),
        (
            vec!["--vpc-security-groups", "sg-0123abcd"],
            "--vpc-subnets",
        ),
        (
            vec![
                "--vpc-subnets",
                "mysubnet",
                "--vpc-security-groups",
                "sg-0123abcd",
            ],
            "--vpc-subnets",
        ),
        (
            vec!["--layers", "arn:aws:lambda:us-east-1:1:layer:x"],
            "--layers",
        ),
        (vec!["--ephemeral-storage", "100"], "--ephemeral-storage"),
        (vec!["--ephemeral-storage", "20000"], "--ephemeral-storage"),
        (vec!["--reserved-concurrency=-1"], "--reserved-concurrency"),
        (vec!["--log-retention-days", "0"], "--log-retention-days"),
    ] {
        let out = run(&world, &app, &bad, 1).failure(2);
        assert!(out.stderr.contains(flag), "{bad:?}: {}", out.stderr);
    }
    assert_eq!(world.proxy().operations(), Vec::<String>::new());
}

#[test]
fn settings_read_their_deploy_env_vars_with_newline_lists() {
    let world = World::new();
    let app = world.python_app("app", "x");
    let role = World::exec_role();
    world
        .cmd(&["deploy", "--output", "json"])
        .env("DEPLOY_APP", "hello")
        .env("DEPLOY_STAGE", "main")
        .env("DEPLOY_ARTIFACT", app.display().to_string())
        .env("DEPLOY_HANDLER", "app.handler")
        .env("DEPLOY_S3_BUCKET", BUCKET)
        .env("DEPLOY_EXECUTION_ROLE", role)
        .env("DEPLOY_VPC_SUBNETS", "subnet-0123abcd\nsubnet-4567ef01")
        .env("DEPLOY_VPC_SECURITY_GROUPS", "sg-0123abcd")
        .env("DEPLOY_LOG_RETENTION_DAYS", "7")
        .env("DEPLOY_TRACING", "active")
        .env("DEPLOY_EPHEMERAL_STORAGE", "")
        .run()
        .success();
    let live = world.config("hello-main", Some("live"));
    assert_eq!(live.vpc_config().unwrap().subnet_ids().len(), 2);
    assert_eq!(log_group(&world), (true, Some(7)));
    assert_eq!(live.ephemeral_storage().map(|e| e.size()), Some(512));
}

/// A Python app whose module `jobs` has the scheduled functions.
fn app_with_jobs(world: &World, name: &str) -> std::path::PathBuf {
    world.write_dir(
        name,
        &[
            (
                "app.py",
                "def handler(event, context):\n    return {'statusCode': 200, 'body': 'x'}\n",
            ),
            (
                "jobs.py",
                "def nightly(event, context):\n    return 'ran'\n\n\ndef hourly(event, context):\n    return 'ran'\n",
            ),
        ],
    )
}

/// `(expression, state, target arn, input)` of a rule, or `None`.
fn rule(world: &World, name: &str) -> Option<(String, String, String, Value)> {
    let out = boto(
        world,
        &format!(
            "e = c('events')\n\
             try:\n    r = e.describe_rule(Name={name:?})\n\
             except e.exceptions.ResourceNotFoundException:\n    print('null'); sys.exit(0)\n\
             t = e.list_targets_by_rule(Rule={name:?})['Targets']\n\
             print(json.dumps([r['ScheduleExpression'], r['State'], t[0]['Arn'], json.loads(t[0]['Input'])]))"
        ),
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    if v.is_null() {
        return None;
    }
    Some((
        v[0].as_str().unwrap().into(),
        v[1].as_str().unwrap().into(),
        v[2].as_str().unwrap().into(),
        v[3].clone(),
    ))
}

/// The statement ids on `live` with their SourceArn.
fn live_statements(world: &World) -> Vec<(String, String)> {
    let Ok(policy) = world.block_on(
        world
            .lambda_client()
            .get_policy()
            .function_name("hello-main")
            .qualifier("live")
            .send(),
    ) else {
        return Vec::new();
    };
    let doc: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["Sid"].as_str().unwrap_or_default().to_string(),
                s["Condition"]["ArnLike"]["AWS:SourceArn"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn schedules_and_keep_warm_are_rules_on_live_kept_and_removed() {
    let world = World::new();
    let app = app_with_jobs(&world, "app");
    let settings = [
        "--schedule",
        "nightly=cron(0 3 * * ? *)=jobs:nightly",
        "--schedule",
        "hourly=rate(1 hour)=jobs:hourly",
        "--keep-warm",
        "rate(5 minutes)",
    ];
    let report = deploy(&world, &app, &settings, 1);
    let alias_arn = report["function_arn"].as_str().unwrap().to_string();
    let (expr, state, target, input) = rule(&world, "hello-main.nightly").unwrap();
    assert_eq!(expr, "cron(0 3 * * ? *)");
    assert_eq!(state, "ENABLED");
    assert_eq!(target, alias_arn, "rules target live");
    assert_eq!(input["deploy-action"], "schedule");
    assert_eq!(input["function"], "jobs:nightly");
    let (_, _, _, warm) = rule(&world, "hello-main.keep-warm").unwrap();
    assert_eq!(warm, json!({"deploy-action": "keep-warm"}));
    let statements = live_statements(&world);
    for name in ["nightly", "hourly", "keep-warm"] {
        let sid = format!("deploy-action-events-{name}");
        let source = statements
            .iter()
            .find(|(s, _)| *s == sid)
            .unwrap_or_else(|| panic!("no {sid}: {statements:?}"));
        assert!(
            source.1.ends_with(&format!(":rule/hello-main.{name}")),
            "the permission is scoped to the rule: {source:?}"
        );
    }

    // No-op: nothing written.
    world.proxy().clear_log();
    let again = deploy(&world, &app, &settings, 2);
    assert_eq!(again["changed"], false);
    assert_eq!(writes(&world), Vec::<String>::new());

    // Drift: someone changed the expression and pointed the target elsewhere.
    boto(
        &world,
        "e = c('events')\n\
         e.put_rule(Name='hello-main.hourly', ScheduleExpression='rate(2 hours)', State='DISABLED')\n\
         e.put_targets(Rule='hello-main.hourly', Targets=[{'Id': 'live', 'Arn': 'arn:aws:lambda:us-east-1:123456789012:function:other', 'Input': '{}'}])",
    );
    deploy(&world, &app, &settings, 3);
    let (expr, state, target, _) = rule(&world, "hello-main.hourly").unwrap();
    assert_eq!((expr.as_str(), state.as_str()), ("rate(1 hour)", "ENABLED"));
    assert_eq!(target, alias_arn);

    // One schedule dropped, keep-warm dropped: their rules and permissions go.
    deploy(
        &world,
        &app,
        &["--schedule", "nightly=cron(0 3 * * ? *)=jobs:nightly"],
        4,
    );
    assert!(rule(&world, "hello-main.hourly").is_none());
    assert!(rule(&world, "hello-main.keep-warm").is_none());
    assert!(rule(&world, "hello-main.nightly").is_some());
    let sids: Vec<String> = live_statements(&world).into_iter().map(|s| s.0).collect();
    assert!(
        !sids.contains(&"deploy-action-events-hourly".to_string()),
        "{sids:?}"
    );
    assert!(
        sids.contains(&"deploy-action-events-nightly".to_string()),
        "{sids:?}"
    );

    // Teardown removes the rest.
    world
        .cmd(&["teardown", "--app", "hello", "--stage", "main"])
        .run()
        .success();
    assert!(rule(&world, "hello-main.nightly").is_none());
}

#[test]
fn bad_schedules_exit_2_before_any_request() {
    let world = World::new();
    let app = app_with_jobs(&world, "app");
    world.proxy().clear_log();
    for (bad, what) in [
        ("n=rate(1 hours)=jobs:nightly", "singular"),
        ("n=rate(5 minute)=jobs:nightly", "plural"),
        ("n=cron(0 3 * * *)=jobs:nightly", "6 fields"),
        ("n=cron(0 3 * * * *)=jobs:nightly", "`?`"),
        ("n=rate(1 hour)=jobs:missing", "missing"),
        ("n=rate(1 hour)=nomodule:f", "nomodule"),
        ("n=rate(1 hour)", "NAME=EXPRESSION=module:function"),
    ] {
        let out = run(&world, &app, &["--schedule", bad], 1).failure(2);
        assert!(
            out.stderr.contains("--schedule") && out.stderr.contains(what),
            "{bad}: {}",
            out.stderr
        );
    }
    run(&world, &app, &["--keep-warm", "every 5 minutes"], 1).failure(2);
    assert_eq!(world.proxy().operations(), Vec::<String>::new());
}

#[test]
fn snapstart_waits_for_the_snapshot_before_moving_live() {
    let world = World::new();
    world.proxy().configure(json!({"snapstart_seconds": 2}));
    let app = world.python_app("app", "x");
    deploy(&world, &app, &[], 1);
    let out = run(&world, &app, &["--snapstart"], 2).success();
    let report = out.json();
    assert_eq!(report["changed"], true);
    // Allowed: the plan read the (absent) provisioned concurrency once, for --snapstart only.
    let pc_reads = world
        .proxy()
        .operations()
        .iter()
        .filter(|op| *op == "lambda:ListProvisionedConcurrencyConfigs")
        .count();
    assert_eq!(pc_reads, 1);
    assert_eq!(report["version"], "2");
    assert!(out.stderr.contains("SnapStart snapshot"), "{}", out.stderr);
    let live = world.config("hello-main", Some("live"));
    let snap = live.snap_start().unwrap();
    assert_eq!(
        snap.apply_on().map(|a| a.as_str()),
        Some("PublishedVersions")
    );
    assert_eq!(live.state().map(|s| s.as_str()), Some("Active"));
    // live moved only after the version's snapshot was ready: the version was read Pending
    // first, and the alias write came after a read that found it Active.
    let log = world.proxy().log();
    let alias_write = log
        .iter()
        .position(|e| e["operation"] == "lambda:UpdateAlias")
        .unwrap();
    let version_reads = log[..alias_write]
        .iter()
        .filter(|e| e["operation"] == "lambda:GetFunctionConfiguration" && e["qualifier"] == "2")
        .count();
    assert!(
        version_reads >= 2,
        "waited on version 2: {version_reads} reads"
    );

    world.proxy().clear_log();
    let again = deploy(&world, &app, &["--snapstart"], 3);
    assert_eq!(again["changed"], false);
    assert_eq!(writes(&world), Vec::<String>::new());

    // Dropped: a new version without it.
    deploy(&world, &app, &[], 4);
    let live = world.config("hello-main", Some("live"));
    assert_eq!(
        live.snap_start()
            .and_then(|s| s.apply_on())
            .map(|a| a.as_str()),
        Some("None")
    );

    // Refused where Lambda can't: a custom runtime, more /tmp than 512 MB; locally, before
    // any request.
    world.proxy().clear_log();
    for (bad, why) in [
        (
            vec!["--snapstart", "--runtime", "provided.al2023"],
            "doesn't support the runtime provided.al2023",
        ),
        (
            vec!["--snapstart", "--ephemeral-storage", "1024"],
            "ephemeral storage above 512 MB",
        ),
    ] {
        let out = run(&world, &app, &bad, 5).failure(2);
        assert!(
            out.stderr.contains("--snapstart") && out.stderr.contains(why),
            "{}",
            out.stderr
        );
    }
    assert_eq!(world.proxy().operations(), Vec::<String>::new());
}

/// SnapStart can't be used with provisioned concurrency (AWS "Improving startup performance
/// with Lambda SnapStart", Supported features and limitations). deploy-action never sets it,
/// but someone may have: with `--snapstart` the plan reads the function's provisioned
/// concurrency configs and refuses (exit 2) before any write; a deploy without `--snapstart`
/// never reads them.
#[test]
fn snapstart_is_refused_up_front_on_a_function_with_provisioned_concurrency() {
    let world = World::new();
    let app = world.python_app("app", "x");
    deploy(&world, &app, &[], 1);
    let noop = deploy(&world, &app, &[], 2);
    assert_eq!(noop["changed"], false);
    assert!(
        !world
            .proxy()
            .operations()
            .contains(&"lambda:ListProvisionedConcurrencyConfigs".to_string()),
        "read without --snapstart"
    );

    // Provisioned concurrency on live, set outside deploy-action.
    world
        .block_on(
            world
                .lambda_client()
                .put_provisioned_concurrency_config()
                .function_name("hello-main")
                .qualifier("live")
                .provisioned_concurrent_executions(2)
                .send(),
        )
        .expect("PutProvisionedConcurrencyConfig");
    let live = world.alias_version("hello-main");
    let versions = world.versions("hello-main").len();

    // New code and --snapstart: refused after the plan's reads, nothing written.
    let changed = world.python_app("app2", "y");
    world.proxy().clear_log();
    let out = run(&world, &changed, &["--snapstart"], 3).failure(2);
    assert!(
        out.stderr.contains("--snapstart")
            && out.stderr.contains("provisioned concurrency on live (2)")
            && out.stderr.contains(
                "delete-provisioned-concurrency-config --function-name hello-main --qualifier live"
            ),
        "{}",
        out.stderr
    );
    assert!(
        world
            .proxy()
            .operations()
            .contains(&"lambda:ListProvisionedConcurrencyConfigs".to_string())
    );
    assert_eq!(writes(&world), Vec::<String>::new());
    assert_eq!(world.alias_version("hello-main"), live, "live stays");
    assert_eq!(world.versions("hello-main").len(), versions);

    // Without --snapstart the same code deploys (provisioned concurrency is not ours to judge).
    let report = deploy(&world, &changed, &[], 4);
    assert_eq!(report["changed"], true);
}

/// The generated adapter, run on the host for a Flask and a FastAPI app: schedule events go
/// to the named function, keep-warm pings are answered without the app, HTTP events reach
/// the app.
fn adapter_dispatches(fixture: &str, arm64: bool) {
    let world = World::new();
    let src = world.dir().join(fixture);
    let copy = Command::new("cp")
        .args(["-r"])
        .arg(support::fixture(fixture))
        .arg(&src)
        .status()
        .unwrap();
    assert!(copy.success());
    std::fs::write(
        src.join("jobs.py"),
        "def nightly(event, context):\n    return {'ran': event['schedule'], 'request': context.aws_request_id}\n",
    )
    .unwrap();
    let python = std::env::var("DEPLOY_ACTION_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let minor = String::from_utf8(
        Command::new(&python)
            .args(["-c", "import sys; print(sys.version_info[1])"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    // The host's CPython, or the emulated aarch64 CPython 3.13 of the arm64 root
    // (scripts/install-arm64-toolchain.sh) under qemu-user.
    let (arch, runtime, interpreter) = if arm64 {
        let root = std::env::var_os("DEPLOY_ARM64_ROOT")
            .filter(|r| !r.is_empty())
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::PathBuf::from(std::env::var("HOME").unwrap())
                    .join(".cache/deploy-action/arm64-root")
            });
        let python = root.join("usr/bin/python3.13");
        assert!(
            python.exists(),
            "no aarch64 CPython at {}: run scripts/install-arm64-toolchain.sh",
            python.display()
        );
        (
            "arm64",
            "python3.13".to_string(),
            vec![
                "qemu-aarch64-static".to_string(),
                "-L".into(),
                root.display().to_string(),
                python.display().to_string(),
            ],
        )
    } else {
        (
            "x86_64",
            format!("python3.{}", minor.trim()),
            vec![python.clone()],
        )
    };
    let zip = world.dir().join("bundle.zip");
    world
        .cmd(&[
            "package",
            "--source",
            src.to_str().unwrap(),
            "--out",
            zip.to_str().unwrap(),
            "--architecture",
            arch,
            "--runtime",
            &runtime,
            "--output",
            "json",
        ])
        .run()
        .success();
    let bundle = world.dir().join("bundle");
    zip::ZipArchive::new(std::fs::File::open(&zip).unwrap())
        .unwrap()
        .extract(&bundle)
        .unwrap();
    let out = Command::new(&interpreter[0])
        .args(&interpreter[1..])
        .args(["-I", "-S"])
        .arg(support::root().join("tests/support/invoke_handler.py"))
        .arg(&bundle)
        .arg(r#"{"deploy-action": "keep-warm"}"#)
        .arg(r#"{"deploy-action": "schedule", "schedule": "nightly", "function": "jobs:nightly"}"#)
        .arg("GET /")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers[0], json!({"deploy-action": "warm"}));
    assert_eq!(answers[1], json!({"ran": "nightly", "request": "req-1"}));
    assert_eq!(answers[2]["statusCode"], 200, "{}", answers[2]);
}

#[test]
fn the_flask_adapter_dispatches_schedules_and_warm_ups() {
    adapter_dispatches("flask-hello", false);
}

#[test]
fn the_fastapi_adapter_dispatches_schedules_and_warm_ups() {
    adapter_dispatches("fastapi-hello", false);
}

#[test]
fn the_flask_adapter_dispatches_schedules_and_warm_ups_on_emulated_arm64() {
    adapter_dispatches("flask-hello", true);
}

/// A deploy role made from an older `policy` (no logs permissions, no
/// lambda:GetFunctionConcurrency) still deploys, with a warning that names the fix.
#[test]
fn a_role_without_the_new_read_permissions_deploys_with_a_warning() {
    let world = World::new();
    let denied =
        json!({"status": 400, "type": "AccessDeniedException", "message": "not authorized"});
    world.proxy().configure(json!({"fail_ops": {
        "logs:DescribeLogGroups": denied,
        "lambda:GetFunctionConcurrency": denied,
    }}));
    let app = world.python_app("app", "x");
    deploy(&world, &app, &[], 1);
    let out = run(&world, &app, &["--memory", "1024"], 2).success();
    assert_eq!(out.json()["changed"], true);
    assert!(
        out.stderr.contains("deploy-action policy"),
        "{}",
        out.stderr
    );
    // Asked for explicitly, a setting that can't be read is an error, before live moves.
    let live = world.alias_version("hello-main");
    run(&world, &app, &["--reserved-concurrency", "3"], 3).failure(1);
    assert_eq!(world.alias_version("hello-main"), live, "live stays");
}
