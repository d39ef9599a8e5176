//! `deploy-action import zappa` (issue 17): zappa's settings (written from zappa's README,
//! "Advanced Settings") carried over key by key, the files it writes, its errors, and an
//! imported Flask project deployed to moto with the settings the zappa file had.

use std::path::Path;

use serde_json::Value;

use crate::settings::Run;
use crate::support::{BUCKET, World, fixture, root};

fn snapshots() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("snapshots");
    s.set_prepend_module_to_snapshot(false);
    s.add_filter(r"/tmp/deploy-action-test-[A-Za-z0-9]+", "[tmp]");
    s
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("walk");
        let rel = entry.path().strip_prefix(from).expect("under");
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy");
        }
    }
}

/// flask-hello with the Flask zappa settings, in a temp dir.
fn flask_project() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("deploy-action-test-")
        .tempdir()
        .expect("temp dir");
    copy_dir(&fixture("flask-hello"), dir.path());
    std::fs::copy(
        root().join("fixtures/zappa/flask/zappa_settings.json"),
        dir.path().join("zappa_settings.json"),
    )
    .expect("copy settings");
    dir
}

fn row<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no row for {key}: {report:#}"))
}

#[test]
fn every_flask_key_is_carried_over_or_explained() {
    let dir = flask_project();
    let report = Run::new(dir.path(), &["import", "zappa", "--output", "json"]).json();
    assert_eq!(
        report["stages"],
        serde_json::json!(["dev", "production", "staging"])
    );
    assert_eq!(report["production_stage"], "production");

    // Each key's mapping, pinned.
    for (key, outcome, to) in [
        (
            "app_function",
            "carried_over",
            Some("python-app = \"run:app\""),
        ),
        ("aws_region", "carried_over", Some("region")),
        ("s3_bucket", "carried_over", Some("s3-bucket")),
        ("project_name", "carried_over", Some("app")),
        ("runtime", "carried_over", Some("runtime")),
        ("memory_size", "carried_over", Some("memory")),
        ("timeout_seconds", "carried_over", Some("timeout")),
        ("environment_variables", "carried_over", Some("env")),
        ("aws_environment_variables", "carried_over", Some("env")),
        ("exclude", "carried_over", Some("exclude")),
        ("keep_warm_expression", "carried_over", Some("keep-warm")),
        ("domain", "carried_over", Some("domain")),
        ("certificate_arn", "carried_over", Some("certificate-arn")),
        (
            "vpc_config",
            "carried_over",
            Some("vpc-subnets, vpc-security-groups"),
        ),
        ("layers", "carried_over", Some("layers")),
        ("role_arn", "carried_over", Some("execution-role")),
        ("log_level", "carried_over", Some("env.LOG_LEVEL")),
        ("lambda_description", "carried_over", Some("description")),
        ("events[0] run.index", "carried_over", Some("schedule")),
        ("events[1] run.index", "carried_over", Some("schedule")),
        ("events[2] run.index", "not_supported", None),
        ("cors", "not_supported", None),
        ("remote_env", "not_supported", None),
        ("slim_handler", "not_needed", None),
        ("use_precompiled_packages", "not_needed", None),
        ("binary_support", "not_needed", None),
        ("profile_name", "not_needed", None),
        ("route53_enabled", "not_needed", None),
        ("extends", "not_needed", None),
    ] {
        let r = row(&report, key);
        assert_eq!(r["outcome"], outcome, "{key}: {r}");
        assert_eq!(r["to"].as_str(), to, "{key}: {r}");
    }
    // keep_warm and xray_tracing differ per stage: one row per outcome, naming the stages.
    let rows = report["keys"].as_array().unwrap();
    let warm: Vec<&Value> = rows.iter().filter(|r| r["key"] == "keep_warm").collect();
    assert_eq!(warm.len(), 2, "{warm:?}");
    assert!(warm.iter().any(
        |r| r["outcome"] == "carried_over" && r["stages"] == serde_json::json!(["production"])
    ));
    let xray: Vec<&Value> = rows.iter().filter(|r| r["key"] == "xray_tracing").collect();
    assert!(xray.iter().any(|r| r["to"] == "tracing = \"active\""));
    // Never silently dropped: every key of every stage has a row.
    let settings: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("zappa_settings.json")).unwrap(),
    )
    .unwrap();
    for stage in settings.as_object().unwrap().values() {
        for key in stage.as_object().unwrap().keys() {
            assert!(
                rows.iter().any(|r| r["key"]
                    .as_str()
                    .is_some_and(|k| k == key || k.starts_with(&format!("{key}[")))),
                "zappa key {key} has no row"
            );
        }
    }

    // The files, as written.
    let toml = std::fs::read_to_string(dir.path().join("deploy-action.toml")).unwrap();
    let workflow =
        std::fs::read_to_string(dir.path().join(".github/workflows/deploy.yml")).unwrap();
    let (code, text, _) = Run::new(dir.path(), &["import", "zappa", "--dry-run"]).run();
    assert_eq!(code, 0);
    snapshots().bind(|| {
        insta::assert_snapshot!("zappa_flask_toml", toml);
        insta::assert_snapshot!("zappa_flask_workflow", workflow);
        insta::assert_snapshot!("zappa_flask_report", text);
    });
    // The workflow is YAML with the triggers of examples/.
    let yaml: Value = serde_yaml_ng::from_str(&workflow).expect("workflow is YAML");
    assert!(yaml["on"]["pull_request"].is_object() && yaml["on"]["push"].is_object());

    // The file it wrote is read back by every command: config for production.
    let r = Run::new(
        dir.path(),
        &["config", "--stage", "production", "--output", "json"],
    )
    .json();
    assert_eq!(r["settings"]["memory"]["value"], "1024");
    assert_eq!(r["settings"]["timeout"]["value"], "60");
    assert_eq!(r["settings"]["app"]["value"], "flask-hello");
    assert_eq!(r["settings"]["python-app"]["value"], "run:app");
    assert_eq!(
        r["settings"]["execution-role"]["value"],
        "arn:aws:iam::123456789012:role/flask-hello-production"
    );
    // zappa's rule: environment_variables win over aws_environment_variables.
    let r = Run::new(
        dir.path(),
        &["config", "--stage", "production", "--output", "json"],
    )
    .json();
    assert_eq!(r["settings"]["env"]["source"], "file");
    let toml_prod = toml
        .split("[stages.production.env]")
        .nth(1)
        .unwrap_or_default();
    assert!(
        toml_prod.contains("GREETING = \"hello from production\""),
        "{toml}"
    );
    assert!(
        toml.contains("exclude = [\"**/*.gz\", \"**/*.rar\", \"tests/*\"]"),
        "{toml}"
    );
    // Previews are modelled on dev (not production), without its domain or schedules.
    let r = Run::new(
        dir.path(),
        &["config", "--stage", "pr-3", "--output", "json"],
    )
    .json();
    assert_eq!(r["settings"]["memory"]["value"], "256");
    assert_eq!(r["settings"]["s3-bucket"]["value"], "zappa-flask-hello-dev");
    assert!(
        r["pending"]
            .as_array()
            .is_none_or(|p| p.iter().all(|k| k["key"] != "domain")),
        "{r}"
    );
}

#[test]
fn django_yaml_settings_and_arm64_wheels() {
    let dir = tempfile::Builder::new()
        .prefix("deploy-action-test-")
        .tempdir()
        .unwrap();
    copy_dir(&root().join("fixtures/zappa/django"), dir.path());
    let report = Run::new(
        dir.path(),
        &["import", "zappa", "--dry-run", "--output", "json"],
    )
    .json();
    assert_eq!(
        report["settings_file"].as_str().unwrap().rsplit('/').next(),
        Some("zappa_settings.yml")
    );
    let django = row(&report, "django_settings");
    assert_eq!(
        django["to"],
        "env.DJANGO_SETTINGS_MODULE, python-app = \"mysite.wsgi:application\""
    );
    assert_eq!(
        row(&report, "role_name")["to"],
        "execution-role (commented out)"
    );
    assert_eq!(row(&report, "manage_roles")["outcome"], "not_supported");
    assert_eq!(
        row(&report, "lambda_concurrency")["to"],
        "reserved-concurrency"
    );
    assert_eq!(row(&report, "ephemeral_storage")["to"], "ephemeral-storage");
    assert_eq!(row(&report, "snap_start")["to"], "snapstart");
    assert_eq!(row(&report, "touch_path")["to"], "smoke-path");
    assert_eq!(row(&report, "num_retained_versions")["to"], "keep-versions");
    assert_eq!(row(&report, "tags")["outcome"], "not_supported");
    // x86_64 → arm64: the requirements that won't install are named.
    assert_eq!(
        row(&report, "architecture")["to"],
        "arm64 (deploy-action's default)"
    );
    let rows = report["keys"].as_array().unwrap();
    let wheels: Vec<&str> = rows
        .iter()
        .filter_map(|r| r["key"].as_str())
        .filter(|k| k.starts_with("requirements.txt"))
        .collect();
    assert_eq!(
        wheels,
        [
            "requirements.txt:2 psycopg2==2.9.10",
            "requirements.txt:3 https://example.com/wheels/pillow-11.0.0-cp311-cp311-manylinux_2_28_x86_64.whl",
            "requirements.txt:4 zappa==0.60.2",
        ]
    );
    // Dry run: nothing written.
    assert!(!dir.path().join("deploy-action.toml").exists());
    let toml = &report["files"][0]["content"];
    snapshots().bind(|| insta::assert_snapshot!("zappa_django_toml", toml.as_str().unwrap()));
}

#[test]
fn zappa_toml_settings_are_read_too() {
    let dir = flask_project();
    std::fs::remove_file(dir.path().join("zappa_settings.json")).unwrap();
    std::fs::write(
        dir.path().join("zappa_settings.toml"),
        "[dev]\napp_function = \"run.app\"\nproject_name = \"hello\"\nmemory_size = 384\n",
    )
    .unwrap();
    let report = Run::new(dir.path(), &["import", "zappa", "--output", "json"]).json();
    assert_eq!(row(&report, "memory_size")["to"], "memory");
    let toml = std::fs::read_to_string(dir.path().join("deploy-action.toml")).unwrap();
    assert!(toml.contains("memory = 384"), "{toml}");
}

#[test]
fn existing_files_are_kept_without_force() {
    let dir = flask_project();
    std::fs::write(dir.path().join("deploy-action.toml"), "app = \"mine\"\n").unwrap();
    let err = Run::new(dir.path(), &["import", "zappa"]).bad_input();
    assert!(err.contains("deploy-action.toml already exists"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("deploy-action.toml")).unwrap(),
        "app = \"mine\"\n"
    );
    assert!(
        !dir.path().join(".github").exists(),
        "nothing is written when one file exists"
    );
    let (code, out, _) = Run::new(dir.path(), &["import", "zappa", "--dry-run"]).run();
    assert_eq!(code, 0);
    assert!(out.contains("would write deploy-action.toml:"), "{out}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("deploy-action.toml")).unwrap(),
        "app = \"mine\"\n"
    );
    Run::new(
        dir.path(),
        &["import", "zappa", "--force", "--output", "json"],
    )
    .json();
    let toml = std::fs::read_to_string(dir.path().join("deploy-action.toml")).unwrap();
    assert!(toml.contains("app = \"flask-hello\""), "{toml}");
}

#[test]
fn bad_zappa_settings_exit_2_with_the_position() {
    let mut all = String::new();
    for name in [
        "invalid.json",
        "invalid.yml",
        "missing_parent.json",
        "cycle.json",
        "no_module.json",
        "no_attr.json",
    ] {
        let dir = flask_project();
        let target = if name.ends_with(".yml") {
            "zappa_settings.yml"
        } else {
            "zappa_settings.json"
        };
        std::fs::remove_file(dir.path().join("zappa_settings.json")).unwrap();
        std::fs::copy(
            root().join("fixtures/zappa/bad").join(name),
            dir.path().join(target),
        )
        .unwrap();
        let err = Run::new(dir.path(), &["import", "zappa"]).bad_input();
        assert!(
            !dir.path().join("deploy-action.toml").exists(),
            "{name}: wrote a file"
        );
        all.push_str(&format!("## {name}\n{err}\n"));
    }
    snapshots().bind(|| insta::assert_snapshot!("zappa_errors", all));
}

/// The imported project deploys to moto with the zappa stage's memory, timeout and env: dev
/// and staging (which extends dev). The bucket and role come as action inputs would (DEPLOY_*
/// variables), overriding the file's zappa bucket: inputs beat the file.
#[test]
fn an_imported_flask_project_deploys_with_zappas_settings() {
    let world = World::new();
    let dir = flask_project();
    Run::new(dir.path(), &["import", "zappa", "--output", "json"]).json();
    // staging's zappa domain names a certificate of zappa's account, which moto doesn't have:
    // the domain itself is covered by domains::. Deploy the stage without its front door.
    let settings = dir.path().join("deploy-action.toml");
    let text = std::fs::read_to_string(&settings).unwrap();
    let without_domain: String = text
        .lines()
        .filter(|l| !l.starts_with("domain =") && !l.starts_with("certificate-arn ="))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&settings, without_domain).unwrap();
    let source = dir.path().display().to_string();
    for (stage, memory, timeout, greeting, log_level) in [
        ("dev", 256, 20, "hello from dev", "DEBUG"),
        ("staging", 512, 20, "hello from staging", "INFO"),
    ] {
        let payload = world.dir().join(format!("push-{stage}.json"));
        std::fs::write(
            &payload,
            r#"{"ref": "refs/heads/main", "after": "0123456789abcdef0123456789abcdef01234567",
                "repository": {"full_name": "octo/app"}}"#,
        )
        .unwrap();
        let out = world
            .cmd(&["deploy", "--source", &source, "--output", "json"])
            .env("DEPLOY_STAGE", stage)
            .env("DEPLOY_S3_BUCKET", BUCKET)
            .env("DEPLOY_EXECUTION_ROLE", World::exec_role())
            .github_event("push", &payload, 1)
            .run()
            .success();
        let report = out.json();
        let function = format!("flask-hello-{stage}");
        assert_eq!(report["function_name"], function.as_str());
        let config = world
            .block_on(
                world
                    .lambda_client()
                    .get_function_configuration()
                    .function_name(&function)
                    .send(),
            )
            .expect("function");
        assert_eq!(config.memory_size(), Some(memory), "{stage}");
        assert_eq!(config.timeout(), Some(timeout), "{stage}");
        assert_eq!(config.runtime().map(|r| r.as_str()), Some("python3.12"));
        let env = config
            .environment()
            .and_then(|e| e.variables())
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            env.get("GREETING").map(String::as_str),
            Some(greeting),
            "{stage}"
        );
        assert_eq!(env.get("FEATURE_FLAGS").map(String::as_str), Some("beta"));
        assert_eq!(env.get("LOG_LEVEL").map(String::as_str), Some(log_level));
        assert!(
            out.stderr
                .contains(&format!("deploy-action.toml (top level, [stages.{stage}])")),
            "{}",
            out.stderr
        );
        let summary = std::fs::read_to_string(world.dir().join("step_summary.md")).unwrap();
        assert!(
            summary.contains(&format!(
                "deploy-action.toml` (`top level`, `[stages.{stage}]`)"
            )),
            "{summary}"
        );
    }
}
