//! What real AWS does that moto doesn't, for the parts of issue #15 outside the deploy
//! pipeline: an artifact bucket in another region (S3 answers 301 with
//! `x-amz-bucket-region`), SSE-KMS default encryption on the bucket, and a role whose
//! MaxSessionDuration is shorter than a long canary needs. The fault proxy models each
//! (tests/support/README.md: `bucket_regions`, `fail_ops`).

use serde_json::{Value, json};

use crate::ops::{deploy, deploy_cmd, strict_world};
use crate::support::{self, BUCKET, World};

/// Lambda and S3 writes the binary made (the harness's inspection is not logged).
fn writes(world: &World) -> Vec<String> {
    world
        .proxy()
        .log()
        .iter()
        .filter(|e| {
            let m = e["method"].as_str().unwrap_or_default();
            e["status"].as_u64().is_some_and(|s| s < 300) && matches!(m, "PUT" | "POST" | "DELETE")
        })
        .filter_map(|e| e["operation"].as_str().map(String::from))
        .collect()
}

/// A bucket in another region than the function: exit 2 before any write, naming the
/// bucket's region and the fix; a deploy that does nothing still succeeds.
#[test]
fn an_artifact_bucket_in_another_region_is_bad_input_before_any_write() {
    let world = strict_world();
    let v1 = world.python_app("v1", "one");
    // First a deploy while the bucket is (still) in the function's region: it works.
    deploy(&world, "main", &v1, &[], 1);
    world
        .proxy()
        .configure(json!({"bucket_regions": {BUCKET: "eu-west-1"}}));
    // Nothing to do: no write, so the bucket's region doesn't matter (the artifact's HEAD,
    // which goes out with the first reads, says where it is, and nothing needs it).
    world.proxy().clear_log();
    deploy(&world, "main", &v1, &[], 2);
    let ops = world.proxy().operations();
    assert!(
        ops.iter()
            .all(|o| !o.starts_with("s3:") || o == "s3:HeadObject"),
        "{ops:?}"
    );

    // New code: the plan's HEAD of the artifact finds the bucket elsewhere.
    let v2 = world.python_app("v2", "two");
    world.proxy().clear_log();
    let out = deploy_cmd(&world, "main", &v2, &[], 3).run().failure(2);
    assert!(out.stderr.contains("eu-west-1"), "{}", out.stderr);
    assert!(out.stderr.contains("us-east-1"), "{}", out.stderr);
    assert!(out.stderr.contains("--s3-bucket"), "{}", out.stderr);
    assert!(out.stderr.contains("--region eu-west-1"), "{}", out.stderr);
    assert_eq!(writes(&world), Vec::<String>::new(), "no write");
    assert_eq!(world.alias_version("hello-main").as_deref(), Some("1"));

    // A new stage (no function yet) the same.
    world.proxy().clear_log();
    deploy_cmd(&world, "pr-3", &v2, &[], 4).run().failure(2);
    assert!(!world.exists("hello-pr-3"));
    assert_eq!(writes(&world), Vec::<String>::new());
}

/// The bucket encrypts with SSE-KMS by default: the upload needs nothing special (no
/// encryption headers of ours that could disagree), the object is stored encrypted, and a
/// second deploy of the same artifact recognises the encrypted object by its checksum.
#[test]
fn a_bucket_with_default_sse_kms_takes_the_artifact() {
    let world = strict_world();
    let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let status = std::process::Command::new("python3")
        .args([
            "-c",
            "import boto3,sys; boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='t', aws_secret_access_key='t').put_bucket_encryption(Bucket=sys.argv[2], ServerSideEncryptionConfiguration={'Rules': [{'ApplyServerSideEncryptionByDefault': {'SSEAlgorithm': 'aws:kms', 'KMSMasterKeyID': sys.argv[3]}, 'BucketKeyEnabled': True}]})",
            &world.moto_url(),
            BUCKET,
            key,
        ])
        .status()
        .unwrap();
    assert!(status.success(), "put-bucket-encryption at moto");
    let v1 = world.python_app("v1", "one");
    let first = deploy(&world, "main", &v1, &[], 1);
    let puts: Vec<Value> = world
        .proxy()
        .log()
        .into_iter()
        .filter(|e| e["operation"] == "s3:PutObject")
        .collect();
    assert_eq!(puts.len(), 1, "{puts:?}");
    let object = puts[0]["key"].as_str().unwrap().to_string();
    let head = world
        .block_on(
            aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::new()
                    .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
                    .region(aws_sdk_s3::config::Region::new("us-east-1"))
                    .endpoint_url(world.moto_url())
                    .force_path_style(true)
                    .credentials_provider(aws_sdk_s3::config::Credentials::new(
                        "OBSERVER0000000000",
                        "x",
                        None,
                        None,
                        "t",
                    ))
                    .build(),
            )
            .head_object()
            .bucket(BUCKET)
            .key(&object)
            .send(),
        )
        .unwrap();
    assert_eq!(
        head.server_side_encryption().map(|s| s.as_str()),
        Some("aws:kms"),
        "{head:?}"
    );
    assert_eq!(head.ssekms_key_id(), Some(key));
    assert_eq!(world.alias_version("hello-main").as_deref(), Some("1"));
    // Another stage, same artifact: found in S3, not uploaded again.
    world.proxy().clear_log();
    let second = deploy(&world, "pr-1", &v1, &[], 2);
    assert_eq!(second["code_sha256"], first["code_sha256"]);
    assert!(
        !world
            .proxy()
            .operations()
            .contains(&"s3:PutObject".to_string()),
        "{:?}",
        world.proxy().operations()
    );
}

/// A long canary with `--role-to-assume` asks STS for a session that outlives it; a role
/// whose MaxSessionDuration is shorter is refused up front (exit 2, nothing changed), with
/// the role's maximum and the fix.
#[test]
fn a_role_session_shorter_than_the_canary_is_refused_before_any_change() {
    let mut world = strict_world();
    world.start_github();
    let v1 = world.python_app("v1", "one");
    let role = "arn:aws:iam::123456789012:role/deployer";
    let with_role = |extra: &[&str], run: u64| {
        let mut args = vec!["--role-to-assume", role, "--comment", "never"];
        args.extend_from_slice(extra);
        deploy_cmd(&world, "main", &v1, &args, run)
            .github_event("push", &support::event("push.branch.json"), run)
            .oidc()
    };
    // STS refuses the first (long) request as it does for a role with a 2-hour maximum; the
    // probes that follow succeed (fail_ops counts one refusal).
    world.proxy().configure(json!({"fail_ops": {"sts:AssumeRoleWithWebIdentity": {
        "status": 400, "type": "ValidationError", "count": 1,
        "message": "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."}}}));
    let out = with_role(&["--canary", "10", "--canary-minutes", "150"], 1)
        .run()
        .failure(2);
    assert!(out.stderr.contains("MaxSessionDuration"), "{}", out.stderr);
    assert!(out.stderr.contains("--canary-minutes"), "{}", out.stderr);
    assert!(
        out.stderr.contains("--max-session-duration 10800"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("it allows 2 h"), "{}", out.stderr);
    let log = world.proxy().log();
    let sts: Vec<&Value> = log
        .iter()
        .filter(|e| e["operation"] == "sts:AssumeRoleWithWebIdentity")
        .collect();
    // 150 min + 30 min margin = 10800 s (refused), then a search by the hour: 1 h and 2 h
    // are allowed, so the role's maximum is 2 h (3 h was refused).
    let durations: Vec<&str> = sts
        .iter()
        .map(|e| e["params"]["DurationSeconds"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(durations, vec!["10800", "3600", "7200"], "{sts:?}");
    assert!(
        log.iter()
            .all(|e| !matches!(e["service"].as_str(), Some("lambda" | "s3"))),
        "no Lambda or S3 request"
    );
    assert!(!world.exists("hello-main"));

    // Without a canary the session is the default hour, which every role allows.
    world.proxy().clear_log();
    with_role(&[], 2).run().success();
    let sts: Vec<Value> = world
        .proxy()
        .log()
        .into_iter()
        .filter(|e| e["operation"] == "sts:AssumeRoleWithWebIdentity")
        .collect();
    assert_eq!(sts[0]["params"]["DurationSeconds"], "3600");
    // A canary longer than STS can ever grant (12 h) is bad input before any request.
    world.proxy().clear_log();
    let out = with_role(&["--canary", "10", "--canary-minutes", "720"], 3)
        .run()
        .failure(2);
    assert!(out.stderr.contains("--canary-minutes"), "{}", out.stderr);
    assert!(world.proxy().log().is_empty());
}
