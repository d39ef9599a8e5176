//! Safe on real AWS: what a real account does that moto doesn't, through the fault proxy.
//! Ownership by tags (never touch what isn't ours), `live` that never lies when a later step
//! fails, the two meanings of 409, a new execution role that Lambda can't assume yet, and
//! PublishVersion's CodeSha256 precondition answered the way real Lambda answers it.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::support::{BUCKET, World};

fn deploy_args(app: &str, stage: &str, artifact: &str, role: &str) -> Vec<String> {
    [
        "deploy",
        "--app",
        app,
        "--stage",
        stage,
        "--artifact",
        artifact,
        "--handler",
        "app.handler",
        "--runtime",
        "python3.13",
        "--s3-bucket",
        BUCKET,
        "--execution-role",
        role,
        "--output",
        "json",
    ]
    .iter()
    .map(ToString::to_string)
    .collect()
}

fn deploy_cmd(
    world: &World,
    app: &str,
    stage: &str,
    artifact: &std::path::Path,
    extra: &[&str],
    run_id: u64,
) -> crate::support::Cmd {
    let role = World::exec_role();
    let mut args = deploy_args(app, stage, &artifact.display().to_string(), &role);
    args.extend(extra.iter().map(ToString::to_string));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    world.cmd(&refs).env("GITHUB_RUN_ID", run_id.to_string())
}

fn deploy(world: &World, app: &str, stage: &str, body: &str, extra: &[&str], run: u64) -> Value {
    let dir = world.python_app(&format!("{app}-{stage}-{run}"), body);
    deploy_cmd(world, app, stage, &dir, extra, run)
        .run()
        .success()
        .json()
}

fn tags(world: &World, function: &str) -> HashMap<String, String> {
    let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{function}");
    world
        .block_on(world.lambda_client().list_tags().resource(arn).send())
        .expect("ListTags")
        .tags()
        .cloned()
        .unwrap_or_default()
}

fn writes(world: &World) -> Vec<String> {
    world
        .proxy()
        .operations()
        .into_iter()
        .filter(|o| {
            let name = o.split(':').nth(1).unwrap_or_default();
            !(name.starts_with("Get") || name.starts_with("List") || name.starts_with("Head"))
        })
        .collect()
}

// --- Ownership -------------------------------------------------------------------------

/// App `hello-world` stage `main` and app `hello` stage `world-main` are both the function
/// `hello-world-main`. Tearing down the second must not delete the first, even with --adopt.
#[test]
fn teardown_of_a_colliding_name_leaves_the_other_apps_function_alone() {
    let world = World::new();
    deploy(&world, "hello-world", "main", "theirs", &[], 1);
    for extra in [&[][..], &["--adopt"][..]] {
        world.proxy().clear_log();
        let mut args = vec!["teardown", "--app", "hello", "--stage", "world-main"];
        args.extend_from_slice(extra);
        let out = world.cmd(&args).run().failure(2);
        assert!(
            out.stderr.contains("\"hello-world\"") && out.stderr.contains("\"world-main\""),
            "names both owners: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("choose another --app or --stage"),
            "{}",
            out.stderr
        );
        assert!(world.exists("hello-world-main"), "still there");
        assert_eq!(writes(&world), Vec::<String>::new(), "nothing written");
    }
}

#[test]
fn deploy_to_a_colliding_name_is_refused_even_with_adopt() {
    let world = World::new();
    deploy(&world, "hello-world", "main", "theirs", &[], 1);
    let before = world.alias_version("hello-world-main");
    let dir = world.python_app("mine", "mine");
    let out = deploy_cmd(&world, "hello", "world-main", &dir, &["--adopt"], 2)
        .run()
        .failure(2);
    assert!(out.stderr.contains("hello-world-main"), "{}", out.stderr);
    assert_eq!(world.alias_version("hello-world-main"), before);
    assert_eq!(
        tags(&world, "hello-world-main")["deploy-action:app"],
        "hello-world"
    );
}

/// `--adopt` writes our tags, so every later command treats the function as ours without it.
#[test]
fn adopt_takes_a_function_over_for_good() {
    let world = World::new();
    world.create_untagged_function("hello-main");
    deploy(&world, "hello", "main", "adopted", &["--adopt"], 1);
    let t = tags(&world, "hello-main");
    assert_eq!(t["deploy-action:app"], "hello");
    assert_eq!(t["deploy-action:stage"], "main");

    let again = deploy(&world, "hello", "main", "second", &[], 2);
    assert_eq!(again["changed"], true);
    world
        .cmd(&["rollback", "--app", "hello", "--stage", "main"])
        .run()
        .success();
    world
        .cmd(&["teardown", "--app", "hello", "--stage", "main"])
        .run()
        .success();
    assert!(!world.exists("hello-main"));
}

#[test]
fn teardown_of_an_untagged_function_needs_adopt() {
    let world = World::new();
    world.create_untagged_function("hello-main");
    let out = world
        .cmd(&["teardown", "--app", "hello", "--stage", "main"])
        .run()
        .failure(2);
    assert!(out.stderr.contains("--adopt"), "{}", out.stderr);
    assert!(world.exists("hello-main"));
    world
        .cmd(&["teardown", "--app", "hello", "--stage", "main", "--adopt"])
        .run()
        .success();
    assert!(!world.exists("hello-main"));
}

/// Without lambda:ListTags, GetFunction answers without tags and with TagsError: that must
/// fail the command naming the permission, never read as "not ours" (or "ours").
#[test]
fn tags_that_cannot_be_read_fail_naming_the_permission() {
    let world = World::new();
    deploy(&world, "hello", "main", "one", &[], 1);
    world.proxy().configure(json!({"deny_list_tags": true}));
    world.proxy().clear_log();
    let dir = world.python_app("two", "two");
    let out = deploy_cmd(&world, "hello", "main", &dir, &[], 2)
        .run()
        .failure(1);
    assert!(out.stderr.contains("lambda:ListTags"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("--adopt"),
        "not 'unmanaged': {}",
        out.stderr
    );
    assert_eq!(writes(&world), Vec::<String>::new(), "nothing written");
    assert_eq!(world.alias_version("hello-main").as_deref(), Some("1"));
    let teardown = world
        .cmd(&["teardown", "--app", "hello", "--stage", "main"])
        .run()
        .failure(1);
    assert!(
        teardown.stderr.contains("lambda:ListTags"),
        "{}",
        teardown.stderr
    );
    assert!(world.exists("hello-main"));
}

// --- `live` never lies ---------------------------------------------------------------------

/// The URL step fails fast while the alias write is slow: the alias write still completes,
/// and the run says which version is live (exit 1), in stderr, the JSON and GITHUB_OUTPUT.
#[test]
fn a_failing_step_beside_the_alias_move_does_not_hide_where_live_is() {
    let world = World::new();
    deploy(&world, "hello", "main", "one", &[], 1);
    world.proxy().configure(json!({
        "op_delay": {"lambda:UpdateAlias": 1.0},
        "fail_ops": {"lambda:GetPolicy": {"status": 403, "type": "AccessDeniedException",
            "message": "User is not authorized to perform: lambda:GetPolicy"}},
    }));
    let output = world.dir().join("github_output");
    std::fs::write(&output, "").unwrap();
    let dir = world.python_app("two", "two");
    let out = deploy_cmd(&world, "hello", "main", &dir, &[], 2)
        .env("GITHUB_OUTPUT", output.display().to_string())
        .run()
        .failure(1);
    assert_eq!(world.alias_version("hello-main").as_deref(), Some("2"));
    assert!(
        out.stderr
            .contains("live is now version 2; function URL failed"),
        "{}",
        out.stderr
    );
    let json = out.json();
    assert_eq!(json["error"]["kind"], "after_live");
    assert_eq!(json["report"]["version"], "2");
    let outputs = std::fs::read_to_string(&output).unwrap();
    assert!(outputs.contains("version<<"), "{outputs}");
    assert!(outputs.contains("\n2\n"), "{outputs}");
}

#[test]
fn a_failed_prune_after_the_move_reports_the_live_version() {
    let world = World::new();
    deploy(&world, "hello", "main", "one", &["--keep-versions", "1"], 1);
    world.proxy().configure(json!({
        "fail_ops": {"lambda:DeleteFunction": {"status": 403, "type": "AccessDeniedException",
            "message": "User is not authorized to perform: lambda:DeleteFunction"}},
    }));
    let dir = world.python_app("two", "two");
    let out = deploy_cmd(&world, "hello", "main", &dir, &["--keep-versions", "1"], 2)
        .run()
        .failure(1);
    assert!(
        out.stderr
            .contains("live is now version 2; pruning old versions failed"),
        "{}",
        out.stderr
    );
    assert_eq!(world.alias_version("hello-main").as_deref(), Some("2"));
}

// --- 409 means two things ----------------------------------------------------------------

/// "An update is in progress" on AddPermission is not "done": without a retry the public URL
/// would answer 403 while the run reports success.
#[test]
fn add_permission_busy_is_retried_until_both_statements_exist() {
    let world = World::new();
    world.proxy().configure(json!({
        "fail_ops": {"lambda:AddPermission": {"status": 409, "type": "ResourceConflictException",
            "message": "The operation cannot be performed at this time. An update is in progress for resource: arn:aws:lambda:us-east-1:123456789012:function:hello-main",
            "count": 2}},
    }));
    deploy(&world, "hello", "main", "one", &[], 1);
    let sids = policy_sids(&world, "hello-main");
    assert!(sids.contains(&"deploy-action-url".to_string()), "{sids:?}");
    assert!(
        sids.contains(&"deploy-action-url-invoke".to_string()),
        "{sids:?}"
    );
}

fn policy(world: &World, function: &str) -> Vec<Value> {
    let out = world
        .block_on(
            world
                .lambda_client()
                .get_policy()
                .function_name(function)
                .qualifier("live")
                .send(),
        )
        .expect("GetPolicy");
    let doc: Value = serde_json::from_str(out.policy().unwrap()).unwrap();
    doc["Statement"].as_array().cloned().unwrap_or_default()
}

fn policy_sids(world: &World, function: &str) -> Vec<String> {
    policy(world, function)
        .iter()
        .filter_map(|s| s["Sid"].as_str().map(String::from))
        .collect()
}

/// A statement under our id that grants something else (here: no InvokedViaFunctionUrl
/// condition, another principal) is replaced, not taken for ours.
#[test]
fn a_different_statement_under_our_id_is_replaced() {
    let world = World::new();
    deploy(&world, "hello", "main", "one", &[], 1);
    world
        .block_on(
            world
                .lambda_client()
                .remove_permission()
                .function_name("hello-main")
                .qualifier("live")
                .statement_id("deploy-action-url-invoke")
                .send(),
        )
        .expect("remove");
    world
        .block_on(
            world
                .lambda_client()
                .add_permission()
                .function_name("hello-main")
                .qualifier("live")
                .statement_id("deploy-action-url-invoke")
                .action("lambda:InvokeFunction")
                .principal("123456789012")
                .send(),
        )
        .expect("add someone else's statement");
    deploy(&world, "hello", "main", "one", &[], 2);
    let statement = policy(&world, "hello-main")
        .into_iter()
        .find(|s| s["Sid"] == "deploy-action-url-invoke")
        .expect("statement");
    assert!(
        statement
            .to_string()
            .contains("lambda:InvokedViaFunctionUrl"),
        "{statement}"
    );
}

#[test]
fn update_alias_busy_is_waited_out() {
    let world = World::new();
    deploy(&world, "hello", "main", "one", &[], 1);
    world.proxy().configure(json!({
        "fail_ops": {"lambda:UpdateAlias": {"status": 409, "type": "ResourceConflictException",
            "message": "The operation cannot be performed at this time. An update is in progress for resource: arn:aws:lambda:us-east-1:123456789012:function:hello-main",
            "count": 2}},
    }));
    let report = deploy(&world, "hello", "main", "two", &[], 2);
    assert_eq!(report["version"], "2");
    assert_eq!(world.alias_version("hello-main").as_deref(), Some("2"));
}

// --- A new execution role ------------------------------------------------------------------

#[test]
fn a_new_role_is_retried_until_lambda_can_assume_it() {
    let world = World::new();
    world.proxy().configure(json!({
        "role_propagation": {World::exec_role(): 2.5},
    }));
    let dir = world.python_app("one", "one");
    let out = deploy_cmd(&world, "hello", "main", &dir, &[], 1)
        .run()
        .success();
    assert!(
        out.stderr.contains("can't assume the execution role"),
        "progress is logged: {}",
        out.stderr
    );
    assert_eq!(world.alias_version("hello-main").as_deref(), Some("1"));
}

#[test]
fn a_role_lambda_never_can_assume_fails_with_the_trust_policy_hint() {
    let world = World::new();
    world.proxy().configure(json!({
        "fail_ops": {"lambda:CreateFunction": {"status": 400, "type": "InvalidParameterValueException",
            "message": "The role defined for the function cannot be assumed by Lambda."}},
    }));
    let dir = world.python_app("one", "one");
    let out = deploy_cmd(&world, "hello", "main", &dir, &[], 1)
        .env("DEPLOY_ACTION_TEST_ROLE_BUDGET_S", "2")
        .run()
        .failure(1);
    assert!(out.stderr.contains("trust policy"), "{}", out.stderr);
    assert!(!world.exists("hello-main"));
}

// --- PublishVersion's CodeSha256 as real Lambda answers it ------------------------------------

/// Another run's code lands on $LATEST between our update and our publish: real Lambda
/// answers 400 InvalidParameterValueException. That is "go again", not a failed deploy.
#[test]
fn a_code_sha256_mismatch_on_publish_is_another_run_not_a_failure() {
    let world = World::new();
    deploy(&world, "hello", "main", "one", &[], 1);
    world.proxy().configure(json!({
        "enforce_code_sha256": true,
        "fail_ops": {"lambda:PublishVersion": {"status": 400, "type": "InvalidParameterValueException",
            "message": "CodeSHA256 (abc) is different from current CodeSHA256 in $LATEST (def). Please try again with the current CodeSHA256.",
            "count": 1}},
    }));
    world.proxy().clear_log();
    let report = deploy(&world, "hello", "main", "two", &[], 2);
    assert_eq!(report["version"], "2");
    let publishes: Vec<i64> = world
        .proxy()
        .log()
        .iter()
        .filter(|e| e["operation"] == "lambda:PublishVersion")
        .filter_map(|e| e["status"].as_i64())
        .collect();
    assert_eq!(publishes, vec![400, 201], "refused once, then published");
}
