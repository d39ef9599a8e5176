//! What users read, pinned: help texts, the text report, the step summary, and errors.
//! ARNs, hashes, URLs and temp paths are redacted.

use crate::support::{BUCKET, World};

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("snapshots");
    s.set_prepend_module_to_snapshot(false);
    for (re, with) in [
        (
            r"https://[a-z0-9]+\.lambda-url\.[a-z0-9-]+\.on\.aws/",
            "https://[url-id].lambda-url.[region].on.aws/",
        ),
        (r"[A-Za-z0-9+/]{43}=", "[code-sha256]"),
        (r"[0-9a-f]{64}", "[sha256]"),
        (r"/tmp/deploy-action-test-[A-Za-z0-9]+", "[tmp]"),
        (r"deploy-action \d+\.\d+\.\d+", "deploy-action [version]"),
    ] {
        s.add_filter(re, with);
    }
    s
}

#[test]
fn help_texts() {
    let world = World::moto_only();
    let mut all = String::new();
    for args in [
        vec!["--help"],
        vec!["deploy", "--help"],
        vec!["package", "--help"],
        vec!["teardown", "--help"],
    ] {
        let out = world.cmd(&args).run().success();
        all.push_str(&format!(
            "$ deploy-action {}\n{}\n",
            args.join(" "),
            out.stdout
        ));
    }
    settings().bind(|| insta::assert_snapshot!("help", all));
}

#[test]
fn text_report_and_step_summary_of_a_deploy() {
    let world = World::new();
    let app = world.python_app("app", "Hello World");
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
            "--execution-role",
            &World::exec_role(),
        ])
        .env(
            "GITHUB_OUTPUT",
            world.dir().join("out").display().to_string(),
        )
        .env(
            "GITHUB_STEP_SUMMARY",
            world.dir().join("summary.md").display().to_string(),
        )
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_RUN_ID", "42")
        .run()
        .success();
    let summary = std::fs::read_to_string(world.dir().join("summary.md")).unwrap();
    let outputs = std::fs::read_to_string(world.dir().join("out")).unwrap();
    let outputs: String = outputs
        .lines()
        .map(|l| {
            if l.starts_with("ghadelimiter_") {
                "[delimiter]"
            } else {
                l
            }
        })
        .map(|l| {
            l.split_once("<<ghadelimiter_")
                .map_or_else(|| l.to_string(), |(k, _)| format!("{k}<<[delimiter]"))
        })
        .collect::<Vec<_>>()
        .join("\n");
    settings().bind(|| {
        insta::assert_snapshot!("deploy_text_report", out.stdout);
        insta::assert_snapshot!("deploy_step_summary", summary);
        insta::assert_snapshot!("deploy_github_output", outputs);
    });
}

#[test]
fn a_user_facing_error() {
    let world = World::moto_only();
    let out = world
        .cmd(&[
            "deploy",
            "--app",
            "hello",
            "--artifact",
            ".",
            "--s3-bucket",
            BUCKET,
            "--memory",
            "99999",
        ])
        .run()
        .failure(2);
    settings().bind(|| insta::assert_snapshot!("error_memory", out.stderr));
}
