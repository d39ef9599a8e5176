//! Issue 20: a deploy looks at its code update tightly once it may be done, and makes the
//! reads that don't depend on it while it runs. What must hold whatever the timing: a
//! version holds exactly the code of the run its description names, and `live` moves only
//! to such a version.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{BUCKET, World};

fn deploy_cmd(world: &World, dir: &Path, run: u64) -> crate::support::Cmd {
    let role = World::exec_role();
    world
        .cmd(&[
            "deploy",
            "--app",
            "hello",
            "--stage",
            "main",
            "--artifact",
            dir.to_str().unwrap(),
            "--handler",
            "app.handler",
            "--s3-bucket",
            BUCKET,
            "--execution-role",
            &role,
            "--output",
            "json",
        ])
        .env("GITHUB_RUN_ID", run.to_string())
}

/// A zip of `dir` (as `package` makes it) and its CodeSha256.
fn package(world: &World, dir: &Path) -> (Vec<u8>, String) {
    let out = world.dir().join(format!(
        "{}.zip",
        dir.file_name().unwrap().to_string_lossy()
    ));
    let report = world
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
        .json();
    (
        std::fs::read(&out).unwrap(),
        report["code_sha256"].as_str().unwrap().to_string(),
    )
}

fn statuses(log: &[Value], operation: &str) -> Vec<u64> {
    log.iter()
        .filter(|e| e["operation"] == operation)
        .filter_map(|e| e["status"].as_u64())
        .collect()
}

/// Another writer (a script, or a tool without our preconditions) waits out our update window
/// with its own code update, retrying its 409s, and lands right after the window ends: as our
/// last look at the update comes back, or (as timed here) while our PublishVersion is on its
/// way, held by the proxy for a second, where the publish preconditions refuse it. Either way
/// the deploy goes again: no version under run 2 may hold the other code, and `live` ends on
/// run 2's code.
#[test]
fn an_update_landing_after_our_window_is_never_published_as_ours() {
    let world = World::new();
    let one = world.python_app("one", "one");
    let two = world.python_app("two", "two");
    let other = world.python_app("other", "someone else's");
    let (_, sha_two) = package(&world, &two);
    let (other_zip, sha_other) = package(&world, &other);
    deploy_cmd(&world, &one, 1).run().success();

    world.proxy().configure(json!({
        "busy_seconds": 1.0,
        "publish_delay": 1.0,
        "enforce_code_sha256": true,
        "enforce_revision_id": true,
    }));
    world.proxy().clear_log();
    let mut child = deploy_cmd(&world, &two, 2).spawn();

    // Our code update is in: its window runs for a second from about now.
    let deadline = Instant::now() + Duration::from_secs(60);
    while statuses(&world.proxy().log(), "lambda:UpdateFunctionCode") != [200] {
        assert!(
            Instant::now() < deadline,
            "the deploy never updated the code"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the deploy ended early"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // 150 ms after the window: the deploy's looks (every 25 ms) have seen it end and its
    // PublishVersion is held by the proxy. The other writer's update lands now; were it
    // refused with 409 (a slow machine), it tries again every 20 ms.
    std::thread::sleep(Duration::from_millis(1150));
    let lambda = world.lambda_client();
    loop {
        let sent = world.block_on(
            lambda
                .update_function_code()
                .function_name("hello-main")
                .zip_file(aws_sdk_lambda::primitives::Blob::new(other_zip.clone()))
                .send(),
        );
        match sent {
            Ok(_) => break,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_conflict_exception()) =>
            {
                assert!(Instant::now() < deadline, "the window never ended");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("the other update failed: {e:?}"),
        }
    }

    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = world.proxy().log();
    // The other update landed after our window: whether our last look at the update or our
    // publish met it, the deploy went again with its own code (the proxy logs our requests
    // only, not the other writer's).
    let updates = statuses(&log, "lambda:UpdateFunctionCode");
    assert!(
        updates.len() >= 2,
        "the deploy met the other update and applied its code again: {updates:?}"
    );
    for (version, sha, desc) in world.versions("hello-main") {
        if desc.split_whitespace().any(|w| w == "run=2") {
            assert_eq!(
                sha, sha_two,
                "version {version} ({desc}) holds run 2's code"
            );
        }
        assert!(
            !(sha == sha_other && desc.contains("run=")),
            "version {version} holds the other writer's code under a run: {desc}"
        );
    }
    // Every alias write pointed at a version of run 2's code.
    for e in log
        .iter()
        .filter(|e| e["operation"] == "lambda:UpdateAlias")
    {
        let version = e["request"]["FunctionVersion"].as_str().unwrap_or_default();
        let c = world.config("hello-main", Some(version));
        assert_eq!(
            c.code_sha256(),
            Some(sha_two.as_str()),
            "live was moved to version {version}"
        );
    }
    let live = world.config("hello-main", Some("live"));
    assert_eq!(live.code_sha256(), Some(sha_two.as_str()), "run 2 is live");
}

/// A warm update of a small zip writes first: after the one round trip of reads (`live`, its
/// version and the artifact's HEAD), the zip goes inside UpdateFunctionCode, and its S3 copy
/// (under its sha256, where promote and later runs look) is made while Lambda applies it.
#[test]
fn a_warm_update_sends_a_small_zip_inline_and_stores_it_during_the_window() {
    let world = World::new();
    let one = world.python_app("one", "one");
    let two = world.python_app("two", "two");
    let (zip_two, sha_two) = package(&world, &two);
    deploy_cmd(&world, &one, 1).run().success();
    // The upload takes half a second here: the code update must not wait for it.
    world
        .proxy()
        .configure(json!({"busy_seconds": 0.5, "op_delay": {"s3:PutObject": 0.5}}));
    world.proxy().clear_log();

    let report = deploy_cmd(&world, &two, 2).run().success().json();
    assert_eq!(report["changed"], true);
    let log = world.proxy().log();
    let ops: Vec<&str> = log.iter().filter_map(|e| e["operation"].as_str()).collect();
    let at = |op: &str| {
        ops.iter()
            .position(|o| *o == op)
            .unwrap_or_else(|| panic!("no {op}: {ops:?}"))
    };
    let update = at("lambda:UpdateFunctionCode");
    // Before it: `live` and its version (and the artifact's HEAD), read together; not
    // $LATEST. The upload goes out with the code update, which doesn't wait for its answer.
    let before = &ops[..update];
    for read in ["lambda:GetAlias", "lambda:GetFunction", "s3:HeadObject"] {
        assert!(
            before.contains(&read),
            "{read} before the code update: {ops:?}"
        );
    }
    assert!(
        !before.contains(&"lambda:GetFunctionConfiguration"),
        "$LATEST is not read first: {ops:?}"
    );
    let arrived = |i: usize| log[i]["t"].as_f64().unwrap();
    let put = at("s3:PutObject");
    assert!(
        arrived(update) < arrived(put) + 0.4,
        "the code update went out while the upload was under way: {ops:?}"
    );
    let request = &log[update]["request"];
    // The proxy logs the zip's size (from its base64: up to 2 bytes of padding more).
    let logged: usize = request["ZipFile"]
        .as_str()
        .and_then(|s| s.strip_prefix('<')?.strip_suffix(" bytes>")?.parse().ok())
        .unwrap_or_else(|| panic!("the zip went inline: {request}"));
    assert!(
        (zip_two.len()..zip_two.len() + 3).contains(&logged),
        "{logged} bytes inline, the zip has {}",
        zip_two.len()
    );
    assert!(request.get("S3Key").is_none(), "{request}");
    assert!(
        put < at("lambda:PublishVersion"),
        "stored before the version is published: {ops:?}"
    );
    let digest = {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&sha_two)
            .unwrap();
        raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    assert!(
        world
            .s3_keys()
            .iter()
            .any(|k| k.ends_with(&format!("{digest}.zip"))),
        "the S3 copy is stored under the zip's sha256: {:?}",
        world.s3_keys()
    );
    let live = world.config("hello-main", Some("live"));
    assert_eq!(live.code_sha256(), Some(sha_two.as_str()));
}

/// The inline update presumes $LATEST is what `live` runs. When it isn't (here: memory
/// changed on $LATEST and never published, as a crashed run or an edit in the console
/// leaves it), what the update's wait reads shows it, and it is put right before the
/// version is published: the version holds the configuration the deploy asked for.
#[test]
fn configuration_left_on_latest_is_put_right_before_publishing() {
    let world = World::new();
    let one = world.python_app("one", "one");
    let two = world.python_app("two", "two");
    deploy_cmd(&world, &one, 1).run().success();
    let asked = world.config("hello-main", Some("live")).memory_size();
    world
        .block_on(
            world
                .lambda_client()
                .update_function_configuration()
                .function_name("hello-main")
                .memory_size(1536)
                .send(),
        )
        .expect("update $LATEST");
    world.proxy().configure(json!({"busy_seconds": 0.3}));
    world.proxy().clear_log();

    let report = deploy_cmd(&world, &two, 2).run().success().json();
    let ops = world.proxy().operations();
    let update = ops.iter().position(|o| o == "lambda:UpdateFunctionCode");
    let configure = ops
        .iter()
        .position(|o| o == "lambda:UpdateFunctionConfiguration");
    assert!(
        matches!((update, configure), (Some(u), Some(c)) if u < c),
        "the configuration is put right after the code update: {ops:?}"
    );
    let version = report["version"].as_str().unwrap();
    assert_eq!(
        world.config("hello-main", Some(version)).memory_size(),
        asked,
        "version {version} holds the memory the deploy asked for"
    );
}

/// Looks at an update in its likely end go out on their own schedule, 25 ms apart, not one
/// answer after another: with each look answered in 150 ms here, several are out at once
/// (at most four), so the update's end is seen soon after it comes.
#[test]
fn looks_at_an_update_do_not_wait_for_each_others_answers() {
    let world = World::new();
    let one = world.python_app("one", "one");
    let two = world.python_app("two", "two");
    deploy_cmd(&world, &one, 1).run().success();
    world.proxy().configure(json!({
        "busy_seconds": 1.0,
        "op_delay": {"lambda:GetFunction": 0.15},
    }));
    world.proxy().clear_log();
    deploy_cmd(&world, &two, 2).run().success();

    let log = world.proxy().log();
    let update = log
        .iter()
        .position(|e| e["operation"] == "lambda:UpdateFunctionCode")
        .expect("a code update");
    let looks: Vec<f64> = log[update..]
        .iter()
        .filter(|e| e["operation"] == "lambda:GetFunction")
        .map(|e| e["t"].as_f64().unwrap())
        .collect();
    assert!(looks.len() >= 8, "looks through the window: {looks:?}");
    let gaps: Vec<f64> = looks.windows(2).map(|w| w[1] - w[0]).collect();
    let overlapping = gaps.iter().filter(|g| **g < 0.1).count();
    assert!(
        overlapping * 2 > gaps.len(),
        "most looks went out before the previous one's answer (150 ms): gaps {gaps:?}"
    );
    // Never more than four unanswered: some gap waits for an answer.
    assert!(
        gaps.iter().any(|g| *g > 0.05),
        "at most four looks in flight: gaps {gaps:?}"
    );
}
