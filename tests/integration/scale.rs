//! Issue #19, operating at scale: `status` by tags (GetResources) with two reads per stage and
//! the account's code storage; a deploy's request count independent of sibling stages; `gc`
//! of closed, stale, foreign and untagged stages and of unused artifacts; `logs` merged, paged
//! and followed; `cost` against hand-computed numbers.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write as _};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::support::{BUCKET, World};

const TAG_APP: &str = "deploy-action:app";
const TAG_STAGE: &str = "deploy-action:stage";

/// Metrics as CloudWatch would have them from an hour ago: (name, dimension, its value, value).
fn put_metrics(world: &World, namespace: &str, data: &[(&str, &str, &str, f64)]) {
    let cw = aws_sdk_cloudwatch::Client::new(&world.observer_config());
    let at = SystemTime::now() - Duration::from_secs(3600);
    let mut put = cw.put_metric_data().namespace(namespace);
    for (name, dimension, value, v) in data {
        put = put.metric_data(
            aws_sdk_cloudwatch::types::MetricDatum::builder()
                .metric_name(*name)
                .dimensions(
                    aws_sdk_cloudwatch::types::Dimension::builder()
                        .name(*dimension)
                        .value(*value)
                        .build(),
                )
                .timestamp(at.into())
                .value(*v)
                .build(),
        );
    }
    world.block_on(put.send()).expect("put metrics");
}

fn zip_of(body: &str) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        z.start_file("app.py", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(body.as_bytes()).unwrap();
        z.finish().unwrap();
    }
    buf.into_inner()
}

/// A function as a deploy leaves it: tagged, one published version, `live` on it. `tags`
/// replaces ours when given (foreign and untagged functions).
fn seed_function(world: &World, name: &str, tags: Option<&[(&str, &str)]>, code: &str) -> String {
    let lambda = world.lambda_client();
    let mut create = lambda
        .create_function()
        .function_name(name)
        .runtime(aws_sdk_lambda::types::Runtime::Python313)
        .role(World::exec_role())
        .handler("app.handler")
        .memory_size(512)
        .architectures(aws_sdk_lambda::types::Architecture::Arm64)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_smithy_types::Blob::new(zip_of(code)))
                .build(),
        );
    for (k, v) in tags.unwrap_or(&[]) {
        create = create.tags(*k, *v);
    }
    world.block_on(create.send()).expect("create function");
    let v = world
        .block_on(
            lambda
                .publish_version()
                .function_name(name)
                .description("sha=abc run=1 ref=refs/heads/main")
                .send(),
        )
        .expect("publish");
    let version = v.version().unwrap().to_string();
    world
        .block_on(
            lambda
                .create_alias()
                .function_name(name)
                .name("live")
                .function_version(&version)
                .send(),
        )
        .expect("alias");
    v.code_sha256().unwrap().to_string()
}

fn seed_stage(world: &World, app: &str, stage: &str, url_tag: Option<&str>) -> String {
    let name = format!("{app}-{stage}");
    let mut tags = vec![(TAG_APP, app), (TAG_STAGE, stage)];
    if let Some(u) = url_tag {
        tags.push(("deploy-action:url", u));
    }
    seed_function(world, &name, Some(&tags), &format!("# {name}\n"))
}

fn ops_of(log: &[Value]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for e in log {
        let op = e["operation"]
            .as_str()
            .map_or_else(|| format!("{}:?", e["service"]), str::to_string);
        *m.entry(op).or_default() += 1;
    }
    m
}

#[test]
fn status_finds_stages_by_tag_and_reads_two_per_stage() {
    let world = World::new();
    seed_stage(&world, "hello", "main", Some("https://main.example/"));
    seed_stage(&world, "hello", "pr-1", Some("none"));
    seed_stage(&world, "hello", "pr-2", None); // deployed before the URL tag: one more read
    seed_stage(&world, "hello-world", "main", Some("none")); // named hello-*, another app
    seed_function(&world, "hello-untagged", None, "# untagged\n");
    world.proxy().clear_log();

    let run = world
        .cmd(&["status", "--app", "hello", "--output", "json"])
        .run()
        .success();
    let report = run.json();
    let stages: Vec<&str> = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["main", "pr-1", "pr-2"]);
    assert_eq!(report["stages"][0]["url"], "https://main.example/");
    assert_eq!(report["stages"][1]["url"], Value::Null);
    assert_eq!(report["stages"][0]["live_version"], "1");
    assert_eq!(report["stages"][0]["commit"], "abc");
    let storage = &report["code_storage"];
    assert_eq!(storage["limit"], 80_530_636_800_i64);
    assert!(storage["used"].as_i64().unwrap() > 0, "{storage}");

    let ops = ops_of(&world.proxy().log());
    assert_eq!(ops.get("tagging:GetResources"), Some(&1), "{ops:?}");
    assert_eq!(ops.get("lambda:GetAccountSettings"), Some(&1), "{ops:?}");
    assert_eq!(ops.get("lambda:GetAlias"), Some(&3), "{ops:?}");
    assert_eq!(
        ops.get("lambda:ListVersionsByFunction"),
        Some(&3),
        "{ops:?}"
    );
    assert_eq!(
        ops.get("lambda:GetFunctionUrlConfig"),
        Some(&1),
        "pr-2 only: {ops:?}"
    );
    for never in [
        "lambda:ListFunctions",
        "lambda:ListTags",
        "lambda:GetFunction",
    ] {
        assert!(!ops.contains_key(never), "{never}: {ops:?}");
    }
    assert_eq!(ops.values().sum::<usize>(), 2 + 3 * 2 + 1, "{ops:?}");
}

#[test]
fn status_warns_when_code_storage_is_80_percent_full() {
    let world = World::new();
    seed_stage(&world, "hello", "main", Some("none"));
    world
        .proxy()
        .configure(json!({"account_code_size_limit": 200}));
    let run = world
        .cmd(&["status", "--app", "hello"])
        .env("GITHUB_ACTIONS", "true")
        .run()
        .success();
    let out = run.all_output();
    assert!(out.contains("::warning"), "{out}");
    assert!(out.contains("code storage is"), "{out}");
    assert!(out.contains("WARNING: 80% or more used"), "{out}");
}

#[test]
fn status_pauses_every_read_on_throttling_and_still_answers() {
    let world = World::new();
    for i in 0..6 {
        seed_stage(&world, "hello", &format!("pr-{i}"), Some("none"));
    }
    world.proxy().configure(json!({
        "throttle": 0.3, "throttle_retry_after": null, "seed": 7,
        "only_ops": ["lambda:GetAlias", "lambda:ListVersionsByFunction"]
    }));
    world.proxy().clear_log();
    let report = world
        .cmd(&["status", "--app", "hello", "--output", "json"])
        .run()
        .success()
        .json();
    assert_eq!(report["stages"].as_array().unwrap().len(), 6);
    let log = world.proxy().log();
    let throttled = log.iter().filter(|e| e["injected"] == "throttle").count();
    assert!(throttled > 0, "the seed throttles some reads");
}

fn deploy_cmd(world: &World, stage: &str, app_dir: &str, run: u64) -> crate::support::RunResult {
    let role = World::exec_role();
    world
        .cmd(&[
            "deploy",
            "--app",
            "hello",
            "--stage",
            stage,
            "--artifact",
            app_dir,
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
        ])
        .env("GITHUB_RUN_ID", run.to_string())
        .run()
        .success()
}

#[test]
fn a_deploy_makes_the_same_requests_with_50_sibling_stages() {
    let world = World::new();
    let app = world.python_app("app", "hi");
    let app = app.display().to_string();
    // Stage b's code differs (same size), so its first deploy uploads too.
    let app_b = world.python_app("app-b", "ho").display().to_string();
    world.proxy().clear_log();
    deploy_cmd(&world, "a", &app, 1);
    let first_alone = ops_of(&world.proxy().log());
    world.proxy().clear_log();
    deploy_cmd(&world, "a", &app, 2);
    let noop_alone = ops_of(&world.proxy().log());

    for i in 0..50 {
        seed_stage(&world, "hello", &format!("pr-{i}"), Some("none"));
    }
    world.proxy().clear_log();
    deploy_cmd(&world, "b", &app_b, 3);
    let first_crowded = ops_of(&world.proxy().log());
    world.proxy().clear_log();
    deploy_cmd(&world, "b", &app_b, 4);
    let noop_crowded = ops_of(&world.proxy().log());

    assert_eq!(first_alone, first_crowded, "first deploy");
    assert_eq!(noop_alone, noop_crowded, "no-op deploy");
    for ops in [&first_crowded, &noop_crowded] {
        for listing in ["lambda:ListFunctions", "tagging:GetResources"] {
            assert!(!ops.contains_key(listing), "{listing}: {ops:?}");
        }
    }
}

fn put_artifact(world: &World, key: &str, bytes: &[u8]) {
    let config = world.observer_config();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    world
        .block_on(
            s3.put_object()
                .bucket(BUCKET)
                .key(key)
                .body(bytes.to_vec().into())
                .send(),
        )
        .expect("put object");
}

fn hex_of(code_sha256: &str) -> String {
    use base64::Engine as _;
    hex::encode(
        base64::engine::general_purpose::STANDARD
            .decode(code_sha256)
            .unwrap(),
    )
}

/// pr-1 (PR closed), pr-2 (PR open), main; a foreign app's preview and an untagged function
/// named like one of ours; artifacts of pr-1, pr-2 and an unknown one, and another app's.
fn gc_world() -> (World, String, String) {
    let mut world = World::new();
    world.start_github();
    let closed = seed_stage(&world, "hello", "pr-1", Some("none"));
    let open = seed_stage(&world, "hello", "pr-2", Some("none"));
    seed_stage(&world, "hello", "main", Some("none"));
    seed_stage(&world, "other", "pr-1", Some("none"));
    seed_function(&world, "hello-pr-9", None, "# untagged\n");
    world.github().post(
        "/__fake/pulls",
        json!({"pulls": [
            {"repo": "octo-org/octo-repo", "number": 1, "head_sha": "a1", "state": "closed"},
            {"repo": "octo-org/octo-repo", "number": 2, "head_sha": "a2", "state": "open"},
        ]}),
    );
    world.github().post(
        "/__fake/seed",
        json!({"repo": "octo-org/octo-repo", "issue": 1, "comments": 1,
               "user": "github-actions[bot]",
               "bodies": ["<!-- deploy-action:hello -->\npreview at https://x/"]}),
    );
    let closed_hex = hex_of(&closed);
    let open_hex = hex_of(&open);
    put_artifact(
        &world,
        &format!("deploy-action/hello/{closed_hex}.zip"),
        b"closed",
    );
    put_artifact(
        &world,
        &format!("deploy-action/hello/{open_hex}.zip"),
        b"open",
    );
    put_artifact(
        &world,
        &format!("deploy-action/hello/{}.zip", "0".repeat(64)),
        b"orphan",
    );
    put_artifact(
        &world,
        &format!("deploy-action/other/{}.zip", "1".repeat(64)),
        b"x",
    );
    (world, closed_hex, open_hex)
}

fn gc(world: &World, extra: &[&str]) -> crate::support::RunResult {
    let mut args = vec![
        "gc",
        "--app",
        "hello",
        "--s3-bucket",
        BUCKET,
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    world
        .cmd(&args)
        .env("GITHUB_REPOSITORY", "octo-org/octo-repo")
        .env("GITHUB_API_URL", world.github().url())
        .env("GITHUB_TOKEN", crate::support::GITHUB_TOKEN)
        .env("DEPLOY_ACTION_TEST_ARTIFACT_GRACE_S", "0")
        .run()
}

#[test]
fn gc_deletes_closed_pr_stages_and_unused_artifacts_only() {
    let (world, closed_hex, open_hex) = gc_world();

    // Dry run: says what, changes nothing.
    let dry = gc(&world, &["--dry-run"]).success().json();
    assert_eq!(dry["deleted_stages"].as_array().unwrap().len(), 1, "{dry}");
    assert!(world.exists("hello-pr-1"));
    assert_eq!(world.s3_keys().len(), 4);

    let report = gc(&world, &[]).success().json();
    let stages: Vec<&str> = report["deleted_stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["pr-1"], "{report}");
    assert_eq!(report["deleted_stages"][0]["reason"], "pr_closed");
    assert!(report["code_storage_freed"].as_i64().unwrap() > 0);
    assert!(!world.exists("hello-pr-1"));
    for kept in ["hello-pr-2", "hello-main", "other-pr-1", "hello-pr-9"] {
        assert!(world.exists(kept), "{kept} must stay");
    }
    let keys = world.s3_keys();
    assert!(!keys.iter().any(|k| k.contains(&closed_hex)), "{keys:?}");
    assert!(
        !keys.iter().any(|k| k.contains(&"0".repeat(64))),
        "{keys:?}"
    );
    assert!(
        keys.iter().any(|k| k.contains(&open_hex)),
        "used: kept {keys:?}"
    );
    assert!(
        keys.iter().any(|k| k.starts_with("deploy-action/other/")),
        "{keys:?}"
    );
    assert_eq!(report["s3_bytes_freed"], 6 + 6);

    // GitHub heard about it: one GET per distinct PR, the comment says the preview is gone.
    let state = world.github().state();
    let gets: Vec<&Value> = state["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"].as_str().unwrap_or("").contains("/pulls/"))
        .collect();
    assert_eq!(gets.len(), 2 * 2, "two PRs, dry run and real run: {gets:?}");
    let comment = &state["comments"]["octo-org/octo-repo"]["1"][0];
    assert_eq!(comment["edits"], 1, "{comment}");

    // Nothing left to do: exit 0 and says so.
    let again = gc(&world, &[]).success();
    assert!(
        again.json()["deleted_stages"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn gc_older_than_deletes_stale_previews_never_other_stages() {
    let (world, _, _) = gc_world();
    let report = gc(&world, &["--older-than", "0s"]).success().json();
    let mut stages: Vec<&str> = report["deleted_stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    stages.sort_unstable();
    assert_eq!(stages, ["pr-1", "pr-2"], "{report}");
    assert!(world.exists("hello-main"));
    assert!(world.exists("other-pr-1"));
    assert!(world.exists("hello-pr-9"));
}

#[test]
fn gc_keeps_unused_artifacts_younger_than_a_day() {
    let (world, _, _) = gc_world();
    let report = world
        .cmd(&[
            "gc",
            "--app",
            "hello",
            "--s3-bucket",
            BUCKET,
            "--output",
            "json",
        ])
        .run()
        .success()
        .json();
    assert!(
        report["deleted_artifacts"].as_array().unwrap().is_empty(),
        "{report}"
    );
    assert_eq!(world.s3_keys().len(), 4);
    // Without a GitHub token nothing is known about PRs: nothing deleted, and it says why.
    assert!(report["deleted_stages"].as_array().unwrap().is_empty());
    assert!(
        report["notes"]
            .to_string()
            .contains("PR states not checked")
    );
}

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

fn put_events(world: &World, group: &str, stream: &str, events: &[(i64, &str)]) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(&world.observer_config());
    let _ = world.block_on(logs.create_log_group().log_group_name(group).send());
    let _ = world.block_on(
        logs.create_log_stream()
            .log_group_name(group)
            .log_stream_name(stream)
            .send(),
    );
    let mut put = logs
        .put_log_events()
        .log_group_name(group)
        .log_stream_name(stream);
    for (ts, msg) in events {
        put = put.log_events(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(*ts)
                .message(*msg)
                .build()
                .unwrap(),
        );
    }
    world.block_on(put.send()).expect("put log events");
}

const RID_A: &str = "11111111-2222-4333-8444-555555555555";
const RID_B: &str = "99999999-2222-4333-8444-555555555555";

#[test]
fn logs_merge_streams_in_time_order_across_pages() {
    let world = World::new();
    let t = now_ms() - 60_000;
    let group = "/aws/lambda/hello-main";
    put_events(
        &world,
        group,
        "s1",
        &[
            (t, &format!("START RequestId: {RID_A} Version: 1")),
            (t + 2, "print from a"),
            (t + 4, &format!("REPORT RequestId: {RID_A}\tDuration: 3 ms")),
        ],
    );
    put_events(
        &world,
        group,
        "s2",
        &[
            (t + 1, &format!("START RequestId: {RID_B} Version: 1")),
            (t + 3, "print from b"),
            (t + 5, &format!("REPORT RequestId: {RID_B}\tDuration: 3 ms")),
        ],
    );
    let run = world
        .cmd(&[
            "logs", "--app", "hello", "--stage", "main", "--output", "json",
        ])
        .env("DEPLOY_ACTION_TEST_LOG_PAGE", "2")
        .run()
        .success();
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let ts: Vec<i64> = lines
        .iter()
        .map(|l| l["timestamp_ms"].as_i64().unwrap())
        .collect();
    assert_eq!(ts, (0..6).map(|i| t + i).collect::<Vec<_>>(), "{lines:?}");
    assert_eq!(lines[2]["message"], "print from a");
    assert_eq!(lines[2]["request_id"], RID_A);
    assert_eq!(lines[3]["request_id"], RID_B);

    let only_b = world
        .cmd(&[
            "logs",
            "--app",
            "hello",
            "--stage",
            "main",
            "--request-id",
            RID_B,
        ])
        .run()
        .success();
    assert_eq!(only_b.stdout.lines().count(), 3, "{}", only_b.stdout);
    assert!(!only_b.stdout.contains("print from a"));
    assert!(
        !only_b.stdout.contains('\u{1b}'),
        "no colours off a terminal"
    );
}

#[test]
fn logs_of_a_stage_never_invoked_say_so() {
    let world = World::new();
    let run = world
        .cmd(&["logs", "--app", "hello", "--stage", "main"])
        .run()
        .success();
    assert!(
        run.stderr.contains("has not been invoked yet"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.trim().is_empty());
}

/// `logs --follow --output json` running in the background, its lines read as they come.
struct Follow {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    got: Vec<String>,
}

impl Follow {
    fn start(world: &World, page: Option<&str>) -> Follow {
        let mut cmd = world.cmd(&[
            "logs", "--app", "hello", "--stage", "main", "--follow", "--output", "json",
        ]);
        if let Some(page) = page {
            cmd = cmd.env("DEPLOY_ACTION_TEST_LOG_PAGE", page);
        }
        let mut child = cmd.spawn();
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Follow {
            child,
            lines: rx,
            got: Vec::new(),
        }
    }

    /// Wait (at most 30 s) until `n` lines were printed.
    fn wait(&mut self, n: usize) {
        while self.got.len() < n {
            match self.lines.recv_timeout(Duration::from_secs(30)) {
                Ok(l) => self.got.push(l),
                Err(_) => break,
            }
        }
    }

    /// Let it run a little longer (a few polls or live tail updates), stop it; the messages
    /// printed and its stderr.
    fn finish(mut self, settle: Duration) -> (Vec<String>, String) {
        std::thread::sleep(settle);
        while let Ok(l) = self.lines.try_recv() {
            self.got.push(l);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut stderr = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
        }
        let messages = self
            .got
            .iter()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["message"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        (messages, stderr)
    }
}

fn count_op(world: &World, op: &str) -> usize {
    world
        .proxy()
        .log()
        .iter()
        .filter(|e| e["operation"] == op)
        .count()
}

#[test]
fn logs_follow_prints_new_events_once() {
    // moto has no StartLiveTail (its server answers 500): `--follow` says so once and polls.
    let world = World::new();
    let group = "/aws/lambda/hello-main";
    let t = now_ms() - 5_000;
    put_events(&world, group, "s1", &[(t, "one"), (t + 1, "two")]);
    let mut follow = Follow::start(&world, Some("1"));
    follow.wait(2);
    put_events(&world, group, "s2", &[(t + 2, "three")]);
    follow.wait(3);
    // A few more polls: nothing is printed twice.
    let (messages, stderr) = follow.finish(Duration::from_millis(2500));
    assert_eq!(messages, ["one", "two", "three"]);
    assert_eq!(
        stderr
            .matches("live tail unavailable (the endpoint does not support StartLiveTail)")
            .count(),
        1,
        "{stderr}"
    );
    assert!(count_op(&world, "logs:StartLiveTail") == 1);
}

#[test]
fn logs_follow_uses_live_tail_without_gaps_or_duplicates() {
    let world = World::new();
    // Sessions of 3 s, so that this test also sees a session end (SessionTimeoutException)
    // and the next one start.
    world
        .proxy()
        .configure(json!({"live_tail": true, "live_tail_session_seconds": 3}));
    let group = "/aws/lambda/hello-main";
    let t = now_ms() - 5_000;
    put_events(&world, group, "s1", &[(t, "one"), (t + 1, "two")]);
    let mut follow = Follow::start(&world, None);
    follow.wait(2);
    // Ingested while the session runs: Live Tail brings these (the catch-up read may too).
    put_events(
        &world,
        group,
        "s2",
        &[(t + 2, "three"), (t + 3, "same"), (t + 3, "same")],
    );
    follow.wait(5);
    // After the first session timed out (3 s) and the next one started (1 s later, then its
    // catch-up read): Live Tail alone brings this.
    std::thread::sleep(Duration::from_secs(5));
    put_events(&world, group, "s1", &[(now_ms(), "four")]);
    follow.wait(6);
    let last: Value = serde_json::from_str(follow.got.last().unwrap()).unwrap();
    assert_eq!(last["message"], "four");
    assert!(last.get("event_id").is_none(), "came by Live Tail: {last}");
    assert_eq!(last["stream"], "s1");
    let (messages, stderr) = follow.finish(Duration::from_millis(2500));
    assert_eq!(
        messages,
        ["one", "two", "three", "same", "same", "four"],
        "{stderr}"
    );
    assert!(!stderr.contains("live tail unavailable"), "{stderr}");
    assert!(
        count_op(&world, "logs:StartLiveTail") >= 2,
        "a new session after the timeout"
    );
    // History, then one catch-up per session: no polling every second.
    let filters = count_op(&world, "logs:FilterLogEvents");
    assert!(filters <= 4, "{filters} FilterLogEvents: it polled");
}

#[test]
fn logs_follow_without_live_tail_permission_says_which_and_polls() {
    let world = World::new();
    // What CloudWatch Logs answers a role without the permission (AccessDeniedException, 400;
    // StartLiveTail "Errors").
    world.proxy().configure(json!({
        "live_tail": true,
        "fail_ops": {"logs:StartLiveTail": {"status": 400, "type": "AccessDeniedException",
            "message": "User is not authorized to perform: logs:StartLiveTail"}}
    }));
    let group = "/aws/lambda/hello-main";
    let t = now_ms() - 5_000;
    put_events(&world, group, "s1", &[(t, "one")]);
    let mut follow = Follow::start(&world, None);
    follow.wait(1);
    put_events(&world, group, "s1", &[(t + 1, "two")]);
    follow.wait(2);
    let (messages, stderr) = follow.finish(Duration::from_millis(1500));
    assert_eq!(messages, ["one", "two"]);
    assert!(
        stderr.contains("may not call logs:StartLiveTail on arn:aws:logs:us-east-1:")
            && stderr.contains(":log-group:/aws/lambda/hello-main")
            && stderr.contains("policy --operate"),
        "{stderr}"
    );
}

#[test]
fn cost_matches_hand_computed_numbers() {
    let world = World::new();
    seed_stage(&world, "hello", "main", Some("none"));
    seed_stage(&world, "hello", "pr-1", Some("none"));
    // main: 1,000,000 requests of 200 ms in total 200,000,000 ms; 2 GB of logs.
    put_metrics(
        &world,
        "AWS/Lambda",
        &[
            ("Invocations", "FunctionName", "hello-main", 1e6),
            ("Duration", "FunctionName", "hello-main", 2e8),
        ],
    );
    put_metrics(
        &world,
        "AWS/Logs",
        &[(
            "IncomingBytes",
            "LogGroupName",
            "/aws/lambda/hello-main",
            2.0 * 1024.0 * 1024.0 * 1024.0,
        )],
    );
    let report = world
        .cmd(&["cost", "--app", "hello", "--output", "json"])
        .run()
        .success()
        .json();
    let main = &report["stages"][0];
    assert_eq!(main["stage"], "main");
    let f = |v: &Value| v.as_f64().unwrap();
    // 200,000 s × 0.5 GB = 100,000 GB-s; × $0.0000133334 = $1.33334.
    assert!((f(&main["gb_seconds"]) - 100_000.0).abs() < 1e-6, "{main}");
    assert!(
        (f(&main["lambda_compute"]) - 1.33334).abs() < 1e-9,
        "{main}"
    );
    assert!((f(&main["lambda_requests"]) - 0.20).abs() < 1e-9, "{main}");
    assert!((f(&main["logs_ingestion"]) - 1.00).abs() < 1e-9, "{main}");
    assert!((f(&main["total"]) - 2.53334).abs() < 1e-9, "{main}");
    let pr = &report["stages"][1];
    assert_eq!(f(&pr["requests"]), 0.0);
    // Free tier over 30 days: every request ($0.20), every GB-s ($1.33334), 2 of 5 free GB
    // of logs ($1.00).
    assert!((f(&report["free_tier"]) - 2.53334).abs() < 1e-9, "{report}");
    assert!(f(&report["total_after_free_tier"]).abs() < 1e-9);
    // Fargate 0.25 vCPU / 0.5 GB for 720 h: (0.008095 + 0.00178) × 720 = $7.11.
    assert!((f(&report["fargate"]["cost"]) - 7.11).abs() < 1e-9);
    // Per request: $0.0000002 + 0.2 s × 0.5 GB × $0.0000133334 + $1.00/1e6 = $0.00000253334;
    // Fargate per second 7.11 / 2,592,000; break-even ≈ 1.0828 requests/s.
    let per_request = 0.000_000_2 + 0.1 * 0.000_013_333_4 + 0.000_001;
    let breakeven = 7.11 / 2_592_000.0 / per_request;
    assert!(
        (f(&main["fargate_breakeven_rps"]) - breakeven).abs() < 1e-9,
        "{main}"
    );
    let text = world
        .cmd(&["cost", "--app", "hello"])
        .run()
        .success()
        .stdout;
    assert!(
        text.contains("Fargate is cheaper above 1.1 requests/s; you are at 0.4"),
        "{text}"
    );
}

#[test]
fn cost_counts_http_api_requests_of_stages_behind_one() {
    let world = World::new();
    // main's front door is an HTTP API (what a deploy with `--front-door http-api` leaves: the
    // function tagged deploy-action:front-door, the API tagged with app and stage); pr-1 has a
    // function URL only.
    let tags = [
        (TAG_APP, "hello"),
        (TAG_STAGE, "main"),
        ("deploy-action:front-door", "http-api"),
    ];
    seed_function(&world, "hello-main", Some(&tags), "# main\n");
    seed_stage(&world, "hello", "pr-1", Some("none"));
    let apis = aws_sdk_apigatewayv2::Client::new(&world.observer_config());
    let api = |app: &str, stage: &str| {
        world
            .block_on(
                apis.create_api()
                    .name(format!("{app}-{stage}"))
                    .protocol_type(aws_sdk_apigatewayv2::types::ProtocolType::Http)
                    .tags(TAG_APP, app)
                    .tags(TAG_STAGE, stage)
                    .send(),
            )
            .expect("create api")
            .api_id()
            .unwrap()
            .to_string()
    };
    let other_app = api("other", "main");
    let ours = api("hello", "main");
    // main: 3,000,000 requests of 100 ms (300,000,000 ms), all through its API; another
    // app's API had traffic too, which is not ours.
    put_metrics(
        &world,
        "AWS/Lambda",
        &[
            ("Invocations", "FunctionName", "hello-main", 3e6),
            ("Duration", "FunctionName", "hello-main", 3e8),
        ],
    );
    put_metrics(
        &world,
        "AWS/ApiGateway",
        &[
            ("Count", "ApiId", &ours, 3e6),
            ("Count", "ApiId", &other_app, 7e6),
        ],
    );
    world.proxy().clear_log();
    let report = world
        .cmd(&["cost", "--app", "hello", "--output", "json"])
        .run()
        .success()
        .json();
    let f = |v: &Value| v.as_f64().unwrap();
    let main = &report["stages"][0];
    assert_eq!(main["stage"], "main");
    assert_eq!(main["front_door"], "http-api");
    assert_eq!(f(&main["http_api_requests"]), 3e6);
    // 3M × $1.00 per million = $3.00.
    assert!((f(&main["http_api"]) - 3.0).abs() < 1e-9, "{main}");
    // 300,000 s × 0.5 GB = 150,000 GB-s × $0.0000133334 = $2.00001; requests $0.60.
    assert!(
        (f(&main["lambda_compute"]) - 2.000_01).abs() < 1e-9,
        "{main}"
    );
    assert!((f(&main["total"]) - 5.600_01).abs() < 1e-9, "{main}");
    let pr = &report["stages"][1];
    assert_eq!(pr["front_door"], "url");
    assert_eq!(f(&pr["http_api"]), 0.0);
    // HTTP API free tier apart: 1M calls ($1.00), not in `free_tier` (Lambda: 1M requests
    // $0.20 + 150,000 GB-s $2.00001).
    assert!(
        (f(&report["http_api_free_tier"]) - 1.0).abs() < 1e-9,
        "{report}"
    );
    assert!(
        (f(&report["free_tier"]) - 2.200_01).abs() < 1e-9,
        "{report}"
    );
    // Fargate with an ALB, the HTTP API's counterpart: (0.009875 + 0.0225 + 0.008) × 720.
    assert_eq!(report["fargate"]["alb"], true);
    assert!((f(&report["fargate"]["cost"]) - 29.07).abs() < 1e-9);
    // Per request: $0.0000002 + 0.1 s × 0.5 GB × $0.0000133334 + $0.000001 (HTTP API).
    let per_request = 0.000_000_2 + 0.05 * 0.000_013_333_4 + 0.000_001;
    let breakeven = 29.07 / 2_592_000.0 / per_request;
    assert!(
        (f(&main["fargate_breakeven_rps"]) - breakeven).abs() < 1e-9,
        "{main}"
    );
    // Every metric, the API's included, in one GetMetricData; one GetApis listing.
    let log = world.proxy().log();
    let count = |suffix: &str| {
        log.iter()
            .filter(|e| e["operation"].as_str().is_some_and(|o| o.ends_with(suffix)))
            .count()
    };
    assert_eq!(count("GetMetricData"), 1, "{:?}", ops_of(&log));
    let text = world
        .cmd(&["cost", "--app", "hello"])
        .run()
        .success()
        .stdout;
    assert!(text.contains("HTTP API"), "{text}");
    assert!(text.contains("$3.00"), "{text}");
    assert!(text.contains("first 12 months"), "{text}");
}
