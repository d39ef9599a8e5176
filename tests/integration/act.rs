//! Issue 11: the workflows users copy from `examples/`, run by a real runner (nektos/act in
//! host mode) through `uses: org/deploy-action@v1` = this repository's action.yml, against
//! moto (through the fault proxy) and the fake GitHub server. Credentials come only from the
//! OIDC exchange; no token or key ever shows in act's log (checked after every run).
//!
//! One scenario by hand, with its act logs kept: `scripts/act-scenario.sh pr-preview`
//! (see tests/support/README.md).

mod harness;

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::Digest as _;

use harness::ActWorld;
// Payloads read `event::pull_request(...)`.
use harness as event;

const REPO: &str = "Codertocat/Hello-World";

fn github_state(aw: &ActWorld) -> Value {
    aw.world.github().state()
}

/// deploy-action's comments of `app` on PR `n`.
fn preview_comments(aw: &ActWorld, n: u64) -> Vec<Value> {
    let marker = format!("<!-- deploy-action:{} -->", aw.example.var("APP_NAME"));
    github_state(aw)["comments"][REPO][n.to_string()]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c["body"].as_str().unwrap_or_default().contains(&marker))
        .collect()
}

fn deployments(aw: &ActWorld, environment: &str) -> Vec<Value> {
    github_state(aw)["deployments"][REPO]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|d| d["environment"] == environment)
        .collect()
}

/// PR #2: opened → synchronize → synchronize → closed, each a run of examples/pr-preview.yml.
#[test]
fn pr_preview() {
    let aw = ActWorld::new("pr-preview", "pr-preview");
    let function = aw.example.function("pr-2");

    let mut shas = Vec::new();
    let mut urls = Vec::new();
    for (i, action) in ["opened", "synchronize", "synchronize"].iter().enumerate() {
        let sha = aw.commit_app(&format!("preview {}", i + 1));
        let payload = event::pull_request(action, &sha, shas.last().map(String::as_str));
        aw.act("pull_request", payload).run().succeeded();
        let version = (i + 1).to_string();
        assert_eq!(
            aw.world.alias_version(&function).as_deref(),
            Some(version.as_str()),
            "after {action} #{i}, live is version {version}"
        );
        let versions = aw.world.versions(&function);
        assert!(
            versions
                .last()
                .is_some_and(|v| v.2.contains(&format!("sha={sha}"))),
            "the version records the PR's head commit: {versions:?}"
        );
        let url = aw.live_url(&function);

        // One sticky comment, edited in place, showing this run's URL, version and commit.
        let comments = preview_comments(&aw, 2);
        assert_eq!(comments.len(), 1, "one preview comment: {comments:?}");
        let comment = &comments[0];
        assert_eq!(comment["edits"], i, "edited in place, never re-posted");
        let body = comment["body"].as_str().unwrap_or_default();
        assert!(body.contains(&url), "the comment shows the URL: {body}");
        assert!(
            body.contains(&sha[..7]),
            "the comment shows the commit: {body}"
        );

        // A deployment of environment pr-2 with the URL.
        let deployment = deployments(&aw, "pr-2")
            .pop()
            .expect("a deployment for pr-2");
        assert_eq!(deployment["state"], "success", "{deployment}");
        let last = deployment["statuses"]
            .as_array()
            .and_then(|s| s.last().cloned())
            .unwrap_or_default();
        assert_eq!(last["environment_url"], url.as_str());
        shas.push(sha);
        urls.push(url);
    }

    // closed: the preview is torn down; the comment says so; its deployments are inactive.
    let payload = event::pull_request("closed", shas.last().expect("a head"), None);
    aw.act("pull_request", payload).run().succeeded();
    assert!(
        !aw.world.exists(&function),
        "{function} is gone after close"
    );
    let comments = preview_comments(&aw, 2);
    assert_eq!(comments.len(), 1, "still exactly one comment: {comments:?}");
    assert_eq!(comments[0]["edits"], 3);
    let body = comments[0]["body"].as_str().unwrap_or_default();
    assert!(
        !body.contains(urls.last().expect("a URL")),
        "the comment no longer offers the URL: {body}"
    );
    let ds = deployments(&aw, "pr-2");
    assert!(!ds.is_empty());
    for d in &ds {
        assert_eq!(d["state"], "inactive", "{d}");
    }
    aw.assert_credentials_only_from_oidc();
}

/// examples/deploy-main.yml on a push to main: stage `main`, and the next step of the job prints
/// `steps.deploy.outputs.url`, which is the URL of the function's `live` alias.
#[test]
fn push_to_main() {
    let aw = ActWorld::new("push-to-main", "deploy-main");
    let sha = aw.commit_app("main 1");
    let run = aw
        .act("push", event::push_main(&sha, &"0".repeat(40)))
        .run()
        .succeeded();
    let function = aw.example.function("main");
    assert_eq!(aw.world.alias_version(&function).as_deref(), Some("1"));
    let url = aw.live_url(&function);
    assert!(url.starts_with("https://"), "{url}");
    assert_eq!(run.printed_after("deployed url: "), url);
    assert_eq!(run.printed_after("live version: "), "1 (changed: true)");
    let deployment = deployments(&aw, "main")
        .pop()
        .expect("a deployment of main");
    assert_eq!(deployment["state"], "success", "{deployment}");
    assert_eq!(deployment["ref"], sha.as_str());
    let versions = aw.world.versions(&function);
    assert!(
        versions[0].2.contains(&format!("sha={sha}"))
            && versions[0].2.contains("ref=refs/heads/main"),
        "{versions:?}"
    );
    aw.assert_credentials_only_from_oidc();
}

/// examples/manual.yml, "Run workflow" with stage `staging`: deploy, deploy, rollback, teardown.
#[test]
fn manual_dispatch() {
    let aw = ActWorld::new("manual-dispatch", "manual");
    aw.commit_app("staging 1");
    let run = aw
        .act(
            "workflow_dispatch",
            event::workflow_dispatch(json!({"stage": "staging", "command": "deploy"})),
        )
        .run()
        .succeeded();
    let function = aw.example.function("staging");
    assert_eq!(aw.world.alias_version(&function).as_deref(), Some("1"));
    let url = aw.live_url(&function);
    assert_eq!(
        run.printed_after("stage staging: "),
        format!("{url} (live version 1)")
    );
    assert!(
        !aw.world.exists(&aw.example.function("main")),
        "only the chosen stage is deployed"
    );

    // A second deploy, then "rollback" moves live back to version 1.
    aw.commit_app("staging 2");
    aw.act(
        "workflow_dispatch",
        event::workflow_dispatch(json!({"stage": "staging", "command": "deploy"})),
    )
    .run()
    .succeeded();
    assert_eq!(aw.world.alias_version(&function).as_deref(), Some("2"));
    let run = aw
        .act(
            "workflow_dispatch",
            event::workflow_dispatch(json!({"stage": "staging", "command": "rollback"})),
        )
        .run()
        .succeeded();
    assert_eq!(aw.world.alias_version(&function).as_deref(), Some("1"));
    assert_eq!(
        run.printed_after("stage staging: "),
        format!("{url} (live version 1)")
    );

    // The same workflow tears the stage down (no checkout for that command).
    let run = aw
        .act(
            "workflow_dispatch",
            event::workflow_dispatch(json!({"stage": "staging", "command": "teardown"})),
        )
        .run()
        .succeeded();
    assert!(
        !run.ran_step("actions/checkout"),
        "teardown needs no source"
    );
    assert!(
        !run.ran_step("Show the result"),
        "nothing to show after a teardown"
    );
    assert!(!aw.world.exists(&function), "{function} is gone");
    aw.assert_credentials_only_from_oidc();
}

/// A PR from a fork gets no OIDC token and a read-only token: the preview job succeeds with a
/// notice and touches neither AWS nor the PR.
#[test]
fn fork_pull_request() {
    let aw = ActWorld::new("fork-pull-request", "pr-preview");
    aw.world.github().post(
        "/__fake/config",
        json!({"comments_forbidden": true, "deployments_forbidden": true}),
    );
    let sha = aw.commit_app("from a fork");
    let run = aw
        .act("pull_request", event::fork_pull_request(&sha))
        .without_oidc()
        .run()
        .succeeded();
    let notices = run.annotations("notice");
    assert!(
        notices.iter().any(|n| n.contains("fork")),
        "a notice explains the skip: {notices:?}\n{}",
        run.log
    );
    assert!(run.annotations("error").is_empty(), "{}", run.log);
    assert!(!aw.world.exists(&aw.example.function("pr-7")));
    let calls = aw.world.proxy().log();
    assert!(calls.is_empty(), "a fork PR makes no AWS call: {calls:?}");
    let state = github_state(&aw);
    assert_eq!(state["comments"], json!({}), "no comment on the PR");
    assert_eq!(state["deployments"], json!({}), "no deployment");
    assert_eq!(state["oidc_requests"], json!([]));
}

/// Failing deploys of examples/deploy-main.yml fail the job with an `::error::` naming the
/// pipeline step, and never move `live`.
#[test]
fn failing_deploy() {
    let aw = ActWorld::without_execution_role("failing-deploy", "deploy-main");
    let function = aw.example.function("main");
    let zeros = "0".repeat(40);

    // 1. The execution role does not exist (yet): Lambda refuses to create the function.
    let sha1 = aw.commit_app("main 1");
    let run = aw
        .act("push", event::push_main(&sha1, &zeros))
        .run()
        .failed();
    let errors = run.annotations("error");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with(&format!("function: CreateFunction on {function} failed"))),
        "the error names the step and the function: {errors:?}\n{}",
        run.log
    );
    assert!(run.log.contains("Failure - Main org/deploy-action@v1"));
    assert!(
        !run.ran_step("Show the deployed URL"),
        "later steps do not run"
    );
    assert!(!aw.world.exists(&function));

    // 2. With the role in place the same workflow deploys version 1.
    aw.create_execution_role();
    aw.act("push", event::push_main(&sha1, &zeros))
        .run()
        .succeeded();
    assert_eq!(aw.world.alias_version(&function).as_deref(), Some("1"));

    // 3. New code with the example's EXECUTION_ROLE pointed at a role Lambda cannot assume.
    //    moto 5.2.1 accepts any role in UpdateFunctionConfiguration, so the proxy answers as
    //    Lambda does.
    aw.world
        .proxy()
        .configure(json!({"fail_ops": {"lambda:UpdateFunctionConfiguration": {
        "status": 400, "type": "InvalidParameterValueException",
        "message": "The role defined for the function cannot be assumed by Lambda."}}}));
    let sha2 = aw.commit_app("main 2");
    let bad_role = format!(
        "{}/does-not-exist",
        aw.example
            .var("EXECUTION_ROLE")
            .rsplit_once('/')
            .expect("role ARN")
            .0
    );
    let run = aw
        .act("push", event::push_main(&sha2, &sha1))
        .env("EXECUTION_ROLE", &bad_role)
        // The run waits out a propagating role (90 s on AWS); this one never propagates.
        .env("DEPLOY_ACTION_TEST_ROLE_BUDGET_S", "2")
        .run()
        .failed();
    let errors = run.annotations("error");
    assert!(
        errors.iter().any(|e| e.starts_with(&format!(
            "function: UpdateFunctionConfiguration on {function} failed"
        )) && e.contains("cannot be assumed")),
        "{errors:?}\n{}",
        run.log
    );
    assert_eq!(
        aw.world.alias_version(&function).as_deref(),
        Some("1"),
        "live did not move"
    );
    assert_eq!(
        aw.world.versions(&function).len(),
        1,
        "nothing was published"
    );
    let role = aw.world.config(&function, None);
    assert_eq!(role.role(), Some(aw.example.var("EXECUTION_ROLE")));
    aw.assert_credentials_only_from_oidc();
}

/// Issue 21: release.yml on a version tag (act, host mode, the fake GitHub's releases API): the
/// tag check, the x86_64 Linux build (the release binary CI built once), archive and checksums,
/// the provenance attestation, a release published from a draft, and the major tag moved; then a
/// pre-release that leaves the major tag alone. Then, as a user: a fresh runner installs the
/// action at the major tag from that release (download, checksum, tool cache), the next run hits
/// the cache, and a replaced asset is refused without a fallback build.
#[test]
fn release_and_install() {
    use harness::{RELEASE_REPO, RELEASE_TARGET, ReleaseWorld};
    let rw = ReleaseWorld::new("release-and-install");
    let version = env!("CARGO_PKG_VERSION");
    let tag = format!("v{version}");
    let major = tag.split('.').next().expect("major").to_string();
    let asset = format!("deploy-action-{RELEASE_TARGET}.tar.xz");
    let github = || rw.world.github().state();

    // 1. The release.
    let sha = rw.tag(&tag, None);
    let run = rw.release(&tag).succeeded();
    assert!(
        run.ran_step("Tag matches the package version"),
        "{}",
        run.log
    );
    assert_eq!(
        rw.cargo_calls(),
        [format!(
            "zigbuild --release --locked --bin deploy-action --target {RELEASE_TARGET}.{}",
            harness::GLIBC_FLOOR
        )],
        "one release build, as scripts/release/build.sh runs it"
    );
    let state = github();
    let releases = state["releases"][RELEASE_REPO]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(releases.len(), 1, "{releases:?}");
    let release = &releases[0];
    assert_eq!(release["tag_name"], tag.as_str());
    assert_eq!(release["draft"], false, "published");
    assert_eq!(
        release["request"]["draft"], true,
        "created as a draft, published last"
    );
    assert_eq!(release["prerelease"], false);
    let assets: BTreeMap<String, Value> = release["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .map(|a| (a["name"].as_str().expect("name").to_string(), a.clone()))
        .collect();
    assert_eq!(
        assets.keys().cloned().collect::<Vec<_>>(),
        [
            "SHA256SUMS".to_string(),
            asset.clone(),
            format!("{asset}.sha256")
        ],
    );
    assert_eq!(assets[&asset]["content_type"], "application/x-xz");
    assert!(
        assets[&format!("{asset}.sha256")]["content_type"]
            .as_str()
            .is_some_and(|t| t.starts_with("text/plain")),
        "{assets:?}"
    );
    // The asset: its checksum files agree, it holds exactly the binary, within the size goal.
    let tarball = rw.download(&tag, &asset);
    let digest = hex::encode(sha2::Sha256::digest(&tarball));
    let sum_line = format!("{digest}  {asset}");
    assert_eq!(
        String::from_utf8(rw.download(&tag, &format!("{asset}.sha256")))
            .expect("utf-8")
            .trim(),
        sum_line
    );
    assert!(
        String::from_utf8(rw.download(&tag, "SHA256SUMS"))
            .expect("utf-8")
            .lines()
            .any(|l| l == sum_line)
    );
    // Size is a goal (<= 8 MB), measured by bench/release-profile.sh, not asserted here.
    println!("release asset {asset}: {} bytes", tarball.len());
    let unpacked = rw.world.dir().join("unpacked");
    std::fs::create_dir_all(&unpacked).expect("dir");
    std::fs::write(unpacked.join("asset.tar.xz"), &tarball).expect("write");
    let listed = std::process::Command::new("tar")
        .args(["-tJf", "asset.tar.xz"])
        .current_dir(&unpacked)
        .output()
        .expect("tar");
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).trim(),
        "deploy-action"
    );
    // The provenance attestation covers the asset as published.
    let attestations = state["attestations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(attestations.len(), 1, "{attestations:?}");
    assert_eq!(
        attestations[0]["subjects"],
        json!([{"name": asset, "sha256": digest}])
    );
    assert_eq!(
        attestations[0]["predicate_type"],
        "https://slsa.dev/provenance/v1"
    );
    // The major tag points at the release's commit.
    assert_eq!(
        state["refs"][RELEASE_REPO][format!("refs/tags/{major}")],
        sha.as_str()
    );
    assert_eq!(state["ref_updates"].as_array().map(Vec::len), Some(1));

    // 2. A pre-release is published as such and does not move the major tag.
    let (maj, rest) = version.split_once('.').expect("x.y.z");
    let (min, patch) = rest.split_once('.').expect("x.y.z");
    let patch: u64 = patch.parse().expect("patch");
    let rc_version = format!("{maj}.{min}.{}-rc.1", patch + 1);
    let rc = format!("v{rc_version}");
    rw.tag(&rc, Some(&rc_version));
    let run = rw.release(&rc).succeeded();
    assert!(!run.ran_step("Move the major tag"), "{}", run.log);
    let state = github();
    let pre = state["releases"][RELEASE_REPO]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["tag_name"] == rc.as_str()).cloned())
        .expect("the pre-release");
    assert_eq!(pre["prerelease"], true);
    assert_eq!(pre["draft"], false);
    assert_eq!(pre["make_latest"], "false");
    assert_eq!(
        state["refs"][RELEASE_REPO][format!("refs/tags/{major}")],
        sha.as_str(),
        "{major} still points at {tag}"
    );
    assert_eq!(state["ref_updates"].as_array().map(Vec::len), Some(1));

    // 3. A fresh runner installs the action at the major tag from the release.
    let action = rw.action_at(&tag);
    let downloads = |name: &str| {
        github()["releases"][RELEASE_REPO][0]["assets"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["name"] == name).cloned())
            .map(|a| a["downloads"].as_u64().unwrap_or_default())
    };
    let before = downloads(&asset).expect("downloads");
    let home = rw.world.dir().join("runner");
    let first = rw.install(&home, &major, &action).succeeded();
    assert_eq!(downloads(&asset), Some(before + 1), "downloaded once");
    assert_eq!(
        first.printed_after("installed: "),
        format!("deploy-action {version}")
    );
    let notices = first.annotations("notice");
    assert!(
        notices.iter().any(|n| n.contains(&format!(
            "verified {asset} against the SHA-256 checksum of release {tag} only; its build provenance attestation was not checked (gh is not on this runner)"
        ))),
        "it says plainly what it verified: {notices:?}"
    );
    let cached = ReleaseWorld::tool_cache(&home)
        .join("deploy-action")
        .join(version);
    assert!(cached.join("x64.complete").is_file(), "tool-cache marker");
    assert_eq!(
        std::fs::read(cached.join("x64/deploy-action")).expect("cached binary"),
        std::fs::read(harness::release_binary()).expect("release binary"),
        "the cached binary is the released one"
    );

    // 4. The next job on that runner takes it from the tool cache.
    let second = rw.install(&home, &major, &action).succeeded();
    assert!(second.log.contains("from the tool cache"), "{}", second.log);
    assert_eq!(downloads(&asset), Some(before + 1), "no second download");

    // 5. The asset replaced in the release (its .sha256 left alone): refused, no fallback build.
    let evil = rw.world.dir().join("evil");
    std::fs::create_dir_all(&evil).expect("dir");
    std::fs::write(evil.join("deploy-action"), "#!/bin/sh\necho evil\n").expect("write");
    let status = std::process::Command::new("tar")
        .args(["-cJf", "evil.tar.xz", "deploy-action"])
        .current_dir(&evil)
        .status()
        .expect("tar");
    assert!(status.success());
    rw.replace_asset(
        &tag,
        &asset,
        std::fs::read(evil.join("evil.tar.xz")).expect("read"),
    );
    let fresh = rw.world.dir().join("runner-2");
    let run = rw.install(&fresh, &major, &action).failed();
    let errors = run.annotations("error");
    assert!(
        errors.iter().any(|e| e.starts_with(&format!(
            "deploy-action install: checksum mismatch for {asset} from release {tag}"
        ))),
        "{errors:?}\n{}",
        run.log
    );
    assert!(
        !run.log.contains("building deploy-action"),
        "no fallback build"
    );
    assert!(
        !ReleaseWorld::tool_cache(&fresh)
            .join("deploy-action")
            .join(version)
            .join("x64.complete")
            .exists()
    );
}

/// scripts/act-scenario.sh offers exactly the scenarios of this module.
#[test]
fn act_scenario_script_lists_every_scenario() {
    let root = crate::support::root();
    let script = std::fs::read_to_string(root.join("scripts/act-scenario.sh")).expect("script");
    let listed: Vec<String> = script
        .lines()
        .find_map(|l| l.strip_prefix("scenarios=("))
        .expect("a scenarios=(...) line")
        .trim_end_matches(')')
        .split_whitespace()
        .map(|s| s.replace('-', "_"))
        .collect();
    let source = std::fs::read_to_string(root.join("tests/integration/act.rs")).expect("act.rs");
    let tests: Vec<String> = source
        .split("#[test]\nfn ")
        .skip(1)
        .filter_map(|rest| rest.split_once('(').map(|(name, _)| name.to_string()))
        .filter(|name| name != "act_scenario_script_lists_every_scenario")
        .collect();
    assert_eq!(
        listed, tests,
        "scripts/act-scenario.sh's list vs. the tests here"
    );
}
