//! GitHub: the PR preview flow (sticky comment, deployments, teardown on close), OIDC
//! credentials, fork PRs, permission warnings, a rejected token and masking, with the real
//! binary against moto (behind the fault proxy) and the fake GitHub server, driven by real
//! webhook payloads (fixtures/events/).

use std::path::Path;

use serde_json::{Value, json};

use crate::support::{
    self, AWS_SECRET, BUCKET, GITHUB_TOKEN, OIDC_REQUEST_TOKEN, RunResult, World,
};

const REPO: &str = "Codertocat/Hello-World";
/// `pull_request.head.sha` of the PR payloads.
const HEAD_SHA: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
/// The role the deploy assumes with the OIDC token (moto's STS accepts any).
const DEPLOY_ROLE: &str = "arn:aws:iam::123456789012:role/deployer";
/// The access key the sealed environment hands the binary.
const STATIC_KEY: &str = "AKIATESTINGKEY000001";
/// The key the harness inspects moto with; its requests are not the binary's.
const OBSERVER_KEY: &str = "OBSERVER0000000000";

fn world() -> World {
    let mut w = World::new();
    w.start_github();
    w
}

/// `deploy` of app `app` from a prebuilt directory, stage from the event; `extra` may
/// replace the execution role.
fn deploy_args(app: &str, artifact: &Path, extra: &[&str]) -> Vec<String> {
    let role = if extra.contains(&"--execution-role") {
        Vec::new()
    } else {
        vec!["--execution-role".to_string(), World::exec_role()]
    };
    let mut args: Vec<String> = [
        "deploy",
        "--app",
        app,
        "--artifact",
        &artifact.display().to_string(),
        "--handler",
        "app.handler",
        "--s3-bucket",
        BUCKET,
        "--output",
        "json",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    args.extend(role);
    args.extend(extra.iter().map(ToString::to_string));
    args
}

/// Run `deploy` for `app` as a step of a workflow triggered by `event` with `payload`.
fn on_event(
    world: &World,
    app: &str,
    event: &str,
    payload: &str,
    run_id: u64,
    artifact: &Path,
    extra: &[&str],
) -> RunResult {
    let args = deploy_args(app, artifact, extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    world
        .cmd(&args)
        .github_event(event, &support::event(payload), run_id)
        .run()
}

fn state(world: &World) -> Value {
    world.github().state()
}

/// All comments on issue `n`, oldest first.
fn comments(world: &World, n: u64) -> Vec<Value> {
    state(world)["comments"][REPO][n.to_string()]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The deploy-action comments of `app` on issue `n`: written by the Actions token's bot user
/// and carrying the app's marker.
fn ours(world: &World, n: u64, app: &str) -> Vec<Value> {
    let marker = format!("<!-- deploy-action:{app} -->");
    comments(world, n)
        .into_iter()
        .filter(|c| {
            c["user"] == "github-actions[bot]"
                && c["body"].as_str().unwrap_or_default().contains(&marker)
        })
        .collect()
}

/// Deployments of the repository, oldest first.
fn deployments(world: &World) -> Vec<Value> {
    state(world)["deployments"][REPO]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn read(world: &World, file: &str) -> String {
    std::fs::read_to_string(world.dir().join(file)).unwrap_or_default()
}

/// Requests the binary made through the proxy (the harness's own inspection excluded).
fn binary_aws_requests(world: &World) -> Vec<Value> {
    world
        .proxy()
        .log()
        .into_iter()
        .filter(|e| e["access_key_id"].as_str() != Some(OBSERVER_KEY))
        .collect()
}

/// Values the run asked the runner to mask.
fn masked(run: &RunResult) -> Vec<String> {
    run.stderr
        .lines()
        .filter_map(|l| l.strip_prefix("::add-mask::"))
        .map(String::from)
        .collect()
}

/// No secret appears in what the runner would show or keep: stdout, stderr (the
/// `::add-mask::` lines are consumed by the runner, never shown), GITHUB_OUTPUT and the
/// step summary.
#[track_caller]
fn assert_no_secrets(world: &World, runs: &[&RunResult], secrets: &[String]) {
    let files = format!(
        "{}\n{}",
        read(world, "github_output"),
        read(world, "step_summary.md")
    );
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        assert!(
            !files.contains(secret.as_str()),
            "a secret leaked into GITHUB_OUTPUT or the step summary"
        );
        for run in runs {
            assert!(
                !run.stdout.contains(secret.as_str()),
                "a secret leaked on stdout:\n{}",
                run.stdout
            );
            for line in run.stderr.lines() {
                assert!(
                    line.starts_with("::add-mask::") || !line.contains(secret.as_str()),
                    "a secret leaked on stderr: {line}"
                );
            }
        }
    }
}

#[test]
fn pr_preview_flow_keeps_one_comment_and_tears_down_on_close() {
    let world = world();
    // A busy PR: more than one page of other people's comments before ours, two of which
    // quote or mention the marker (they are not ours and must stay untouched).
    let seeded = world.github().post(
        "/__fake/seed",
        json!({"repo": REPO, "issue": 2, "comments": 120, "bodies": [
            "> <!-- deploy-action:hello -->\n> quoting the preview comment",
            "how does the `<!-- deploy-action:hello -->` marker work?",
        ]}),
    );
    let lookalikes = &seeded["ids"].as_array().unwrap()[..2];
    let v1 = world.python_app("v1", "one");
    let v2 = world.python_app("v2", "two");
    let v3 = world.python_app("v3", "three");

    // opened → one comment with the URL.
    let opened = on_event(
        &world,
        "hello",
        "pull_request",
        "pull_request.opened.json",
        101,
        &v1,
        &[],
    )
    .success();
    let report = opened.json();
    assert_eq!(report["stage"], "pr-2");
    assert_eq!(report["function_name"], "hello-pr-2");
    assert_eq!(report["version"], "1");
    let url = report["url"].as_str().expect("a URL").to_string();
    let mine = ours(&world, 2, "hello");
    assert_eq!(mine.len(), 1, "one deploy-action comment");
    let id = mine[0]["id"].clone();
    let body = mine[0]["body"].as_str().unwrap();
    assert!(body.starts_with("<!-- deploy-action:hello -->"), "{body}");
    assert!(body.contains(&url), "{body}");
    assert!(body.contains("| Version | `1` |"), "{body}");
    assert!(body.contains(&HEAD_SHA[..7]), "{body}");
    assert!(
        body.contains("https://github.com/Codertocat/Hello-World/actions/runs/101"),
        "{body}"
    );
    assert!(body.contains(" UTC |"), "{body}");
    assert_eq!(comments(&world, 2).len(), 121);
    // It looked for an existing comment on every page, 100 at a time.
    let listed: Vec<Value> = state(&world)["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "GET" && r["path"] == format!("/repos/{REPO}/issues/2/comments"))
        .cloned()
        .collect();
    assert!(
        listed.iter().all(|r| r["query"]["per_page"] == "100"),
        "{listed:?}"
    );
    assert!(
        listed.iter().any(|r| r["query"]["page"] == "2"),
        "{listed:?}"
    );

    // The deployment: transient PR environment at the head commit, success with the URL.
    let ds = deployments(&world);
    assert_eq!(ds.len(), 1, "{ds:?}");
    let d = &ds[0];
    assert_eq!(d["environment"], "pr-2");
    assert_eq!(d["ref"], HEAD_SHA);
    assert_eq!(d["transient_environment"], true);
    assert_eq!(d["production_environment"], false);
    assert_eq!(d["request"]["required_contexts"], json!([]));
    assert_eq!(d["request"]["auto_merge"], false);
    assert_eq!(d["payload"]["app"], "hello");
    assert_eq!(d["state"], "success");
    let states: Vec<&str> = d["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["in_progress", "success"]);
    let success = d["statuses"].as_array().unwrap().last().unwrap();
    assert_eq!(success["environment_url"], url.as_str());
    assert_eq!(
        success["log_url"],
        "https://github.com/Codertocat/Hello-World/actions/runs/101"
    );

    // synchronize, twice → the same comment, edited, never a second one.
    let sync1 = on_event(
        &world,
        "hello",
        "pull_request",
        "pull_request.synchronize.json",
        102,
        &v2,
        &[],
    )
    .success();
    assert_eq!(sync1.json()["version"], "2");
    let sync2 = on_event(
        &world,
        "hello",
        "pull_request",
        "pull_request.synchronize.json",
        103,
        &v3,
        &[],
    )
    .success();
    assert_eq!(sync2.json()["version"], "3");
    let mine = ours(&world, 2, "hello");
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["id"], id);
    assert_eq!(mine[0]["edits"], 2);
    let body = mine[0]["body"].as_str().unwrap();
    assert!(body.contains("| Version | `3` (was `2`) |"), "{body}");
    assert!(body.contains("actions/runs/103"), "{body}");
    assert_eq!(world.alias_version("hello-pr-2").as_deref(), Some("3"));

    // closed → the function is gone, the comment says so, the deployments are inactive.
    let closed = on_event(
        &world,
        "hello",
        "pull_request",
        "pull_request.closed.json",
        104,
        &v3,
        &[],
    )
    .success();
    let teardown = closed.json();
    assert_eq!(teardown["function_name"], "hello-pr-2");
    assert_eq!(teardown["deleted"], true);
    assert!(!world.exists("hello-pr-2"));
    let mine = ours(&world, 2, "hello");
    assert_eq!(mine.len(), 1, "exactly one deploy-action comment");
    assert_eq!(mine[0]["id"], id);
    assert_eq!(mine[0]["edits"], 3, "edited three times");
    let body = mine[0]["body"].as_str().unwrap();
    assert!(body.contains("removed"), "{body}");
    assert!(!body.contains(&url), "{body}");
    assert_eq!(
        comments(&world, 2).len(),
        121,
        "no comment added or deleted"
    );
    for c in comments(&world, 2) {
        if lookalikes.contains(&c["id"]) {
            assert_eq!(c["edits"], 0, "{c}");
        }
    }
    let ds = deployments(&world);
    assert_eq!(ds.len(), 3, "one deployment per deploy run");
    for d in &ds {
        assert_eq!(d["state"], "inactive", "{d}");
    }

    // GitHub's formats: heredoc outputs with dashed names, a Markdown summary.
    let outputs = read(&world, "github_output");
    assert!(
        outputs.contains("function-name<<ghadelimiter_"),
        "{outputs}"
    );
    assert!(outputs.contains("\nurl<<ghadelimiter_"), "{outputs}");
    assert!(outputs.contains(&format!("\n{url}\n")), "{outputs}");
    let summary = read(&world, "step_summary.md");
    assert!(
        summary.contains("### deploy-action: `hello-pr-2` deployed"),
        "{summary}"
    );
    assert!(summary.contains("| URL |"), "{summary}");
    assert!(summary.contains("`hello-pr-2` deleted"), "{summary}");

    // The token is masked before anything else is printed, and never shown.
    let first = opened.stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("::add-mask::"), "{}", opened.stderr);
    assert!(masked(&opened).contains(&GITHUB_TOKEN.to_string()));
    assert!(opened.stderr.contains("::group::"), "{}", opened.stderr);
    let secrets = [GITHUB_TOKEN.to_string(), AWS_SECRET.to_string()];
    assert_no_secrets(&world, &[&opened, &sync1, &sync2, &closed], &secrets);

    // reopened → a new preview, reported in the same comment.
    let reopened = on_event(
        &world,
        "hello",
        "pull_request",
        "pull_request.reopened.json",
        105,
        &v3,
        &[],
    )
    .success();
    let url = reopened.json()["url"].as_str().unwrap().to_string();
    assert!(world.exists("hello-pr-2"));
    let mine = ours(&world, 2, "hello");
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["id"], id);
    assert!(mine[0]["body"].as_str().unwrap().contains(&url));
}

#[test]
fn oidc_credentials_are_used_for_every_aws_call_and_never_shown() {
    let world = world();
    let app = world.python_app("app", "hi");
    let args = deploy_args("hello", &app, &["--role-to-assume", DEPLOY_ROLE]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // A push to a branch with slashes and capitals; no AWS keys: only the OIDC exchange.
    let run = world
        .cmd(&args)
        .github_event("push", &support::event("push.branch.json"), 300)
        .oidc()
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .run()
        .success();
    let report = run.json();
    assert_eq!(report["stage"], "feature-login-page");
    assert_eq!(report["function_name"], "hello-feature-login-page");

    // The token request: audience, bearer, api-version.
    let st = state(&world);
    let oidc = st["oidc_requests"].as_array().unwrap();
    assert_eq!(oidc.len(), 1, "{oidc:?}");
    assert_eq!(oidc[0]["audience"], "sts.amazonaws.com");
    assert_eq!(oidc[0]["auth_ok"], true);
    assert_eq!(oidc[0]["api_version"], "2.0");
    let id_token = oidc[0]["token"].as_str().unwrap().to_string();

    // STS got that token for the role, with a valid session name.
    let log = binary_aws_requests(&world);
    let sts: Vec<&Value> = log
        .iter()
        .filter(|e| e["operation"] == "sts:AssumeRoleWithWebIdentity")
        .collect();
    assert_eq!(sts.len(), 1, "{log:?}");
    assert_eq!(sts[0]["resource"], DEPLOY_ROLE);
    assert_eq!(
        sts[0]["params"]["WebIdentityToken_sha256"],
        oidc[0]["token_sha256"]
    );
    let session = sts[0]["params"]["RoleSessionName"].as_str().unwrap();
    assert!(
        (2..=64).contains(&session.len())
            && session
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)),
        "{session}"
    );
    assert!(session.contains("300"), "the run id is in {session}");

    // Every Lambda and S3 call carries the assumed key.
    let keys: std::collections::BTreeSet<&str> = log
        .iter()
        .filter(|e| e["service"] == "lambda" || e["service"] == "s3")
        .map(|e| e["access_key_id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(keys.len(), 1, "one key for all calls: {keys:?}");
    let assumed = *keys.iter().next().unwrap();
    assert_ne!(assumed, STATIC_KEY);
    assert!(!assumed.is_empty());
    assert!(
        log.iter()
            .any(|e| e["operation"] == "lambda:CreateFunction"),
        "{log:?}"
    );

    // Masked: the GitHub token, the request token, the ID token, the session keys.
    let masks = masked(&run);
    for expected in [GITHUB_TOKEN, OIDC_REQUEST_TOKEN, id_token.as_str(), assumed] {
        assert!(
            masks.iter().any(|m| m == expected),
            "{expected:.12}… not masked"
        );
    }
    // The secret key and session token STS issued (the proxy saw its answer).
    let issued: Vec<String> =
        reqwest::blocking::get(format!("{}/__proxy/secrets", world.proxy().url()))
            .and_then(reqwest::blocking::Response::json)
            .expect("the proxy's issued secrets");
    assert_eq!(
        issued.len(),
        2,
        "secret key and session token: {}",
        issued.len()
    );
    for secret in &issued {
        assert!(masks.contains(secret), "an STS secret was not masked");
    }
    let mut secrets = masks.clone();
    secrets.extend([
        GITHUB_TOKEN.to_string(),
        OIDC_REQUEST_TOKEN.to_string(),
        id_token,
    ]);
    assert_no_secrets(&world, &[&run], &secrets);

    // A push: a deployment of the branch's stage, no PR comment.
    let ds = deployments(&world);
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0]["environment"], "feature-login-page");
    assert_eq!(ds[0]["ref"], "5e1f1c3a7b9d2c4e6f8a0b1c2d3e4f5a6b7c8d9e");
    assert_eq!(ds[0]["transient_environment"], false);
    assert_eq!(ds[0]["production_environment"], false);
    assert_eq!(ds[0]["state"], "success");
    assert_eq!(state(&world)["comments"], json!({}));
}

#[test]
fn missing_id_token_permission_is_bad_input_with_the_fix() {
    let world = world();
    let app = world.python_app("app", "hi");
    let run = on_event(
        &world,
        "hello",
        "pull_request",
        "pull_request.opened.json",
        500,
        &app,
        &["--role-to-assume", DEPLOY_ROLE],
    )
    .failure(2);
    assert!(
        run.stderr.contains("permissions: id-token: write"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("::error"), "{}", run.stderr);
    assert!(binary_aws_requests(&world).is_empty(), "no AWS request");
    assert!(deployments(&world).is_empty(), "nothing reported");
    assert!(ours(&world, 2, "hello").is_empty());
}

#[test]
fn a_fork_pr_skips_with_a_notice_or_fails_on_request() {
    let world = world();
    let app = world.python_app("app", "hi");
    let args = deploy_args("hello", &app, &["--role-to-assume", DEPLOY_ROLE]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // act passes the token variables to every job; a fork still must not deploy.
    let run = world
        .cmd(&args)
        .github_event(
            "pull_request",
            &support::event("pull_request.fork.json"),
            600,
        )
        .oidc()
        .run()
        .success();
    let report = run.json();
    assert_eq!(report["skipped"], true);
    assert_eq!(report["stage"], "pr-7");
    assert!(
        report["reason"]
            .as_str()
            .unwrap()
            .contains("forker/Hello-World"),
        "{report}"
    );
    assert!(run.stderr.contains("::notice::"), "{}", run.stderr);
    assert!(!world.exists("hello-pr-7"));
    assert!(binary_aws_requests(&world).is_empty());
    let st = state(&world);
    assert_eq!(st["oidc_requests"], json!([]));
    assert_eq!(st["deployments"], json!({}));
    assert_eq!(st["comments"], json!({}));
    assert!(read(&world, "github_output").contains("skipped<<"));
    assert!(read(&world, "step_summary.md").contains("skipped"));

    let mut strict = args.clone();
    strict.push("--fail-on-fork");
    let run = world
        .cmd(&strict)
        .github_event(
            "pull_request",
            &support::event("pull_request.fork.json"),
            601,
        )
        .oidc()
        .run()
        .failure(2);
    assert!(run.stderr.contains("fork"), "{}", run.stderr);
    assert!(run.stderr.contains("--fail-on-fork"), "{}", run.stderr);
    assert!(!world.exists("hello-pr-7"));
    assert!(binary_aws_requests(&world).is_empty());
}

#[test]
fn missing_permissions_are_warnings_not_failures() {
    let world = world();
    let app = world.python_app("app", "hi");
    world
        .github()
        .post("/__fake/config", json!({"deployments_forbidden": true}));
    let run = on_event(
        &world,
        "hello",
        "pull_request",
        "pull_request.opened.json",
        700,
        &app,
        &[],
    )
    .success();
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("::warning::"))
        .collect();
    assert_eq!(warnings.len(), 1, "warned once: {}", run.stderr);
    assert!(
        warnings[0].contains("deployments: write"),
        "{}",
        warnings[0]
    );
    assert_eq!(world.alias_version("hello-pr-2").as_deref(), Some("1"));
    assert_eq!(ours(&world, 2, "hello").len(), 1, "the comment still works");

    world.github().post(
        "/__fake/config",
        json!({"deployments_forbidden": false, "comments_forbidden": true}),
    );
    let v2 = world.python_app("v2", "two");
    let run = on_event(
        &world,
        "hello",
        "pull_request",
        "pull_request.synchronize.json",
        701,
        &v2,
        &[],
    )
    .success();
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("::warning::") && l.contains("pull-requests: write")),
        "{}",
        run.stderr
    );
    assert_eq!(run.json()["version"], "2");
    let ds = deployments(&world);
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0]["state"], "success");
}

#[test]
fn a_token_github_rejects_fails_before_anything_changes() {
    let world = world();
    let app = world.python_app("app", "hi");
    let args = deploy_args("hello", &app, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = world
        .cmd(&args)
        .github_event(
            "pull_request",
            &support::event("pull_request.opened.json"),
            800,
        )
        .env("GITHUB_TOKEN", "ghs_NotTheRightToken000000000")
        .run()
        .failure(2);
    assert!(run.stderr.contains("--github-token"), "{}", run.stderr);
    assert!(run.stderr.contains("401"), "{}", run.stderr);
    assert!(!world.exists("hello-pr-2"));
    assert!(binary_aws_requests(&world).is_empty());
    assert_no_secrets(&world, &[&run], &["ghs_NotTheRightToken000000000".into()]);
}

#[test]
fn a_failed_deploy_fails_its_deployment_and_names_the_step() {
    let world = world();
    let app = world.python_app("app", "hi");
    // moto refuses an execution role it does not know.
    let run = on_event(
        &world,
        "hello",
        "pull_request",
        "pull_request.opened.json",
        900,
        &app,
        &[
            "--execution-role",
            "arn:aws:iam::123456789012:role/no-such-role",
        ],
    )
    .failure(1);
    let error = run
        .stderr
        .lines()
        .find(|l| l.starts_with("::error"))
        .unwrap_or_else(|| panic!("no ::error:: line:\n{}", run.stderr));
    // The step (`function`), the operation and the resource.
    assert!(
        error.contains("function: CreateFunction on hello-pr-2 failed"),
        "{error}"
    );
    let ds = deployments(&world);
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0]["state"], "failure");
    let last = ds[0]["statuses"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        last["log_url"],
        "https://github.com/Codertocat/Hello-World/actions/runs/900"
    );
    assert!(
        ours(&world, 2, "hello").is_empty(),
        "no comment for a failure"
    );
}

#[test]
fn two_apps_on_one_pr_keep_their_own_comments_and_deployments() {
    let world = world();
    let app = world.python_app("app", "hi");
    for name in ["hello", "api"] {
        on_event(
            &world,
            name,
            "pull_request",
            "pull_request.opened.json",
            1000,
            &app,
            &[],
        )
        .success();
    }
    assert_eq!(ours(&world, 2, "hello").len(), 1);
    assert_eq!(ours(&world, 2, "api").len(), 1);

    // `teardown` of one app, twice: idempotent, and the other app is untouched.
    for (run_id, deleted) in [(1001, true), (1002, false)] {
        let run = world
            .cmd(&["teardown", "--app", "hello", "--output", "json"])
            .github_event(
                "pull_request",
                &support::event("pull_request.closed.json"),
                run_id,
            )
            .run()
            .success();
        assert_eq!(run.json()["deleted"], deleted);
    }
    assert!(!world.exists("hello-pr-2"));
    assert!(world.exists("api-pr-2"));
    let hello = ours(&world, 2, "hello");
    assert!(hello[0]["body"].as_str().unwrap().contains("removed"));
    let api = ours(&world, 2, "api");
    assert_eq!(api[0]["edits"], 0, "the other app's comment is untouched");
    for d in deployments(&world) {
        let expected = if d["payload"]["app"] == "api" {
            "success"
        } else {
            "inactive"
        };
        assert_eq!(d["state"], expected, "{d}");
    }
}

#[test]
fn comment_never_and_non_pr_events_leave_no_comment() {
    let world = world();
    let app = world.python_app("app", "hi");
    on_event(
        &world,
        "hello",
        "pull_request",
        "pull_request.opened.json",
        1100,
        &app,
        &["--comment", "never"],
    )
    .success();
    // A tag push and a manual run with a stage input.
    let tag = on_event(&world, "hello", "push", "push.tag.json", 1101, &app, &[]).success();
    assert_eq!(tag.json()["stage"], "tag-v1-2-0");
    let dispatch = on_event(
        &world,
        "hello",
        "workflow_dispatch",
        "workflow_dispatch.stage.json",
        1102,
        &app,
        &[],
    );
    // workflow_dispatch.json belongs to another repository (octo-org/octo-repo).
    let dispatch = dispatch.success();
    assert_eq!(dispatch.json()["stage"], "staging");
    assert_eq!(state(&world)["comments"], json!({}));
    let envs: Vec<String> = state(&world)["deployments"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|v| v.as_array().unwrap().clone())
        .map(|d| d["environment"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(envs, ["pr-2", "tag-v1-2-0", "staging"]);

    // No token: the deploy goes on, GitHub hears nothing, and the log says why.
    let before = deployments(&world).len();
    let v2 = world.python_app("v2", "two");
    let args = deploy_args("hello", &v2, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = world
        .cmd(&args)
        .github_event(
            "pull_request",
            &support::event("pull_request.synchronize.json"),
            1103,
        )
        .env_remove("GITHUB_TOKEN")
        .run()
        .success();
    assert_eq!(run.json()["version"], "2");
    assert!(run.stderr.contains("no GitHub token"), "{}", run.stderr);
    assert_eq!(deployments(&world).len(), before, "no new deployment");
    assert_eq!(state(&world)["comments"], json!({}));
}

/// `--comment always` on a push: the open PRs whose head is the pushed commit get the app's
/// sticky comment (kept to one across deploys); a closed PR, or one at another commit, gets
/// none; the default (`auto`) comments on nothing for a push.
#[test]
fn comment_always_on_a_push_comments_on_the_open_prs_of_that_commit() {
    let world = world();
    let sha = "5e1f1c3a7b9d2c4e6f8a0b1c2d3e4f5a6b7c8d9e"; // push.branch.json's `after`
    world.github().post(
        "/__fake/pulls",
        json!({"pulls": [
            {"repo": REPO, "number": 11, "head_sha": sha},
            {"repo": REPO, "number": 12, "head_sha": sha, "state": "closed"},
            {"repo": REPO, "number": 13, "head_sha": "0".repeat(39) + "1"},
        ]}),
    );
    let v1 = world.python_app("v1", "one");
    on_event(&world, "hello", "push", "push.branch.json", 1200, &v1, &[]).success();
    assert_eq!(
        state(&world)["comments"],
        json!({}),
        "auto: no comment on a push"
    );

    let push_commenting = |dir: &Path, run: u64| {
        let extra = ["--comment", "always"];
        on_event(
            &world,
            "hello",
            "push",
            "push.branch.json",
            run,
            dir,
            &extra,
        )
        .success()
    };
    let v2 = world.python_app("v2", "two");
    let run = push_commenting(&v2, 1201);
    let url = run.json()["url"].as_str().unwrap().to_string();
    let on_open = ours(&world, 11, "hello");
    assert_eq!(on_open.len(), 1, "{on_open:?}");
    assert!(on_open[0]["body"].as_str().unwrap().contains(&url));
    assert!(comments(&world, 12).is_empty(), "closed PR");
    assert!(comments(&world, 13).is_empty(), "PR at another commit");

    let v3 = world.python_app("v3", "three");
    let third = push_commenting(&v3, 1202);
    let version = third.json()["version"].as_str().unwrap().to_string();
    let on_open = ours(&world, 11, "hello");
    assert_eq!(on_open.len(), 1, "one sticky comment: {on_open:?}");
    let body = on_open[0]["body"].as_str().unwrap();
    assert!(body.contains(&format!("`{version}` (was")), "{body}");
}

/// Rollback and promote change what `live` runs, so each is a GitHub deployment of its stage
/// as a deploy is: the environment's newest deployment ends in success with the URL and the
/// version now live; a rollback that can't be done fails its deployment.
#[test]
fn rollback_and_promote_are_deployments_of_their_stage() {
    let world = world();
    let v1 = world.python_app("v1", "one");
    let v2 = world.python_app("v2", "two");
    let first = on_event(&world, "hello", "push", "push.branch.json", 1300, &v1, &[]).success();
    let stage = first.json()["stage"].as_str().unwrap().to_string();
    on_event(&world, "hello", "push", "push.branch.json", 1301, &v2, &[]).success();
    let newest = |environment: &str| {
        deployments(&world)
            .into_iter()
            .rfind(|d| d["environment"] == environment)
            .unwrap_or_else(|| panic!("no deployment of {environment}"))
    };
    let before = deployments(&world).len();

    let rolled = world
        .cmd(&[
            "rollback", "--app", "hello", "--stage", &stage, "--output", "json",
        ])
        .github_event("push", &support::event("push.branch.json"), 1302)
        .run()
        .success()
        .json();
    assert_eq!(rolled["version"], "1");
    assert_eq!(deployments(&world).len(), before + 1);
    let d = newest(&stage);
    assert_eq!(d["state"], "success", "{d}");
    let last = d["statuses"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["environment_url"], rolled["url"]);
    assert!(
        last["description"].as_str().unwrap().ends_with("version 1"),
        "{last}"
    );

    let promoted = world
        .cmd(&[
            "promote",
            "--app",
            "hello",
            "--from",
            &stage,
            "--to",
            "main",
            "--s3-bucket",
            BUCKET,
            "--execution-role",
            &World::exec_role(),
            "--output",
            "json",
        ])
        .github_event("push", &support::event("push.branch.json"), 1303)
        .run()
        .success()
        .json();
    let d = newest("main");
    assert_eq!(d["state"], "success", "{d}");
    let last = d["statuses"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["environment_url"], promoted["url"]);

    // Rolling back past the oldest version is refused remotely: the deployment fails.
    world
        .cmd(&[
            "rollback", "--app", "hello", "--stage", "main", "--output", "json",
        ])
        .github_event("push", &support::event("push.branch.json"), 1304)
        .run()
        .failure(2);
    let d = newest("main");
    assert_eq!(d["state"], "failure", "{d}");
}

#[test]
fn an_oidc_request_token_github_rejects_fails_without_touching_aws() {
    let world = world();
    let app = world.python_app("app", "hi");
    let args = deploy_args("hello", &app, &["--role-to-assume", DEPLOY_ROLE]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = world
        .cmd(&args)
        .github_event("push", &support::event("push.branch.json"), 1200)
        .oidc()
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "not-the-request-token")
        .run()
        .failure(1);
    assert!(run.stderr.contains("OIDC token request"), "{}", run.stderr);
    assert!(run.stderr.contains("id-token: write"), "{}", run.stderr);
    let st = state(&world);
    assert_eq!(st["oidc_requests"][0]["auth_ok"], false);
    assert!(binary_aws_requests(&world).is_empty(), "no AWS request");
    let ds = deployments(&world);
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0]["state"], "failure", "the deployment says it failed");
    assert_no_secrets(&world, &[&run], &["not-the-request-token".into()]);
}

#[test]
fn a_superseded_run_leaves_the_comment_to_the_live_run() {
    let world = world();
    let newer = world.python_app("newer", "newer");
    let older = world.python_app("older", "older");
    on_event(
        &world,
        "hello",
        "pull_request",
        "pull_request.opened.json",
        1301,
        &newer,
        &[],
    )
    .success();
    let body = ours(&world, 2, "hello")[0]["body"].clone();
    // A slower run of an older workflow run finishes after it.
    let run = on_event(
        &world,
        "hello",
        "pull_request",
        "pull_request.synchronize.json",
        1300,
        &older,
        &[],
    )
    .success();
    assert_eq!(run.json()["superseded"], true);
    let mine = ours(&world, 2, "hello");
    assert_eq!(mine[0]["edits"], 0, "the live run's comment stays");
    assert_eq!(mine[0]["body"], body);
    let ds = deployments(&world);
    assert_eq!(ds.len(), 2);
    assert_eq!(ds[0]["state"], "success", "the live run's deployment");
    assert_eq!(
        ds[1]["state"], "inactive",
        "the superseded run's deployment"
    );
}

/// The sticky comment is ours only when our token wrote it: a marker pasted into someone
/// else's comment is left alone (a new comment is made), and a token acting as a user edits
/// only that user's comment, never the Actions bot's.
#[test]
fn a_marker_in_someone_elses_comment_is_never_edited() {
    let world = world();
    let pasted = world.github().post(
        "/__fake/seed",
        json!({"repo": REPO, "issue": 2, "comments": 1, "user": "mallory",
               "bodies": ["<!-- deploy-action:hello -->\nclick [here](https://evil.example)"]}),
    );
    let pasted = pasted["ids"][0].clone();
    let v1 = world.python_app("v1", "one");
    on_event(
        &world,
        "hello",
        "pull_request",
        "pull_request.opened.json",
        1401,
        &v1,
        &[],
    )
    .success();
    let all = comments(&world, 2);
    let theirs = all.iter().find(|c| c["id"] == pasted).unwrap();
    assert_eq!(theirs["edits"], 0, "mallory's comment untouched: {theirs}");
    let mine = ours(&world, 2, "hello");
    assert_eq!(mine.len(), 1, "{all:?}");
    assert_ne!(mine[0]["id"], pasted);

    // A personal token (GET /user answers it) writes as its user: the bot's comment is not its.
    world.github().post(
        "/__fake/tokens",
        json!({"token": "ghp_PersonalToken0000000000", "login": "deployer", "type": "User"}),
    );
    let v2 = world.python_app("v2", "two");
    let args = deploy_args("hello", &v2, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let as_user = || {
        world
            .cmd(&args)
            .github_event(
                "pull_request",
                &support::event("pull_request.synchronize.json"),
                1402,
            )
            .env("GITHUB_TOKEN", "ghp_PersonalToken0000000000")
            .run()
            .success()
    };
    as_user();
    let bot = ours(&world, 2, "hello");
    assert_eq!(
        bot[0]["edits"], 0,
        "the bot's comment is not the user's: {bot:?}"
    );
    let by_user: Vec<Value> = comments(&world, 2)
        .into_iter()
        .filter(|c| c["user"] == "deployer")
        .collect();
    assert_eq!(by_user.len(), 1, "{by_user:?}");
    as_user();
    let by_user: Vec<Value> = comments(&world, 2)
        .into_iter()
        .filter(|c| c["user"] == "deployer")
        .collect();
    assert_eq!(by_user.len(), 1, "still one comment of the user");
    assert_eq!(by_user[0]["edits"], 1, "edited in place: {by_user:?}");
    assert_eq!(by_user[0]["edited_by"], json!(["deployer"]));
}

/// Bad input found while building (exit 2) leaves no failed GitHub deployment behind.
#[test]
fn bad_input_leaves_no_github_deployment() {
    let world = world();
    let fake_zip = world.dir().join("fake.zip");
    std::fs::write(&fake_zip, "not a zip at all").unwrap();
    let run = on_event(
        &world,
        "hello",
        "pull_request",
        "pull_request.opened.json",
        1501,
        &fake_zip,
        &[],
    )
    .failure(2);
    assert!(run.stderr.contains("not a readable zip"), "{}", run.stderr);
    assert!(deployments(&world).is_empty(), "{:?}", deployments(&world));
    assert!(binary_aws_requests(&world).is_empty());
}

/// A token GitHub rejects stops a teardown before the function is deleted (exit 2).
#[test]
fn a_token_github_rejects_stops_a_teardown_before_anything_changes() {
    let world = world();
    let app = world.python_app("app", "hi");
    on_event(
        &world,
        "hello",
        "pull_request",
        "pull_request.opened.json",
        1601,
        &app,
        &[],
    )
    .success();
    world.proxy().clear_log();
    let args = deploy_args("hello", &app, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = world
        .cmd(&args)
        .github_event(
            "pull_request",
            &support::event("pull_request.closed.json"),
            1602,
        )
        .env("GITHUB_TOKEN", "ghs_NotTheRightToken000000000")
        .run()
        .failure(2);
    assert!(run.stderr.contains("--github-token"), "{}", run.stderr);
    assert!(world.exists("hello-pr-2"), "the function is still there");
    assert!(binary_aws_requests(&world).is_empty(), "no AWS request");
}
