//! Big artifacts go up to S3 in parts, several at once, and a failed multipart upload is aborted
//! (issue 20 §3): a ~40 MiB zip through moto and the fault proxy.

use std::io::Write;

use serde_json::{Value, json};

use crate::support::{BUCKET, World};

/// A ~40 MiB zip Lambda could run: a handler plus incompressible filler (a fixed xorshift
/// stream, stored, so the zip stays ~40 MiB after deploy-action rewrites it deterministically).
fn big_zip(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("big.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("app.py", opts).unwrap();
    zip.write_all(b"def handler(event, context):\n    return {'statusCode': 200}\n")
        .unwrap();
    zip.start_file("filler.bin", opts).unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut buf = Vec::with_capacity(1 << 20);
    for _ in 0..40 {
        buf.clear();
        for _ in 0..(1 << 17) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf.extend_from_slice(&x.to_le_bytes());
        }
        zip.write_all(&buf).unwrap();
    }
    zip.finish().unwrap();
    path
}

fn deploy(world: &World, artifact: &std::path::Path, run_id: u64) -> crate::support::RunResult {
    let role = World::exec_role();
    world
        .cmd(&[
            "deploy",
            "--app",
            "big",
            "--stage",
            "main",
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
        ])
        .env("GITHUB_RUN_ID", run_id.to_string())
        .run()
}

fn s3_ops(world: &World) -> Vec<String> {
    world
        .proxy()
        .log()
        .iter()
        .filter_map(|e| e.get("operation").and_then(Value::as_str).map(String::from))
        .filter(|op| op.starts_with("s3:"))
        .collect()
}

fn open_uploads(world: &World) -> usize {
    let out = world
        .block_on(
            world
                .s3_client()
                .list_multipart_uploads()
                .bucket(BUCKET)
                .send(),
        )
        .unwrap();
    out.uploads().len()
}

#[test]
fn a_big_artifact_goes_up_in_parts_and_is_recognised_next_time() {
    let world = World::with_proxy();
    let dir = tempfile::tempdir().unwrap();
    let zip = big_zip(dir.path());
    let first = deploy(&world, &zip, 1);
    if first.code != 0 {
        let log = world.proxy().log();
        let s3: Vec<&Value> = log
            .iter()
            .filter(|e| {
                e["operation"]
                    .as_str()
                    .is_some_and(|o| o.starts_with("s3:"))
            })
            .collect();
        panic!("deploy failed: {}\n{}\n{s3:#?}", first.stdout, first.stderr);
    }
    let report = first.json();
    let ops = s3_ops(&world);
    let parts = ops.iter().filter(|o| *o == "s3:UploadPart").count();
    assert!(
        ops.contains(&"s3:CreateMultipartUpload".to_string()),
        "{ops:?}"
    );
    assert!(
        ops.contains(&"s3:CompleteMultipartUpload".to_string()),
        "{ops:?}"
    );
    assert!(!ops.contains(&"s3:PutObject".to_string()), "{ops:?}");
    let size = std::fs::metadata(&zip).unwrap().len();
    assert_eq!(
        parts as u64,
        size.div_ceil(8 << 20),
        "{size} bytes in 8 MiB parts: {ops:?}"
    );
    assert_eq!(open_uploads(&world), 0);
    // The object is the zip, byte for byte, and Lambda runs it.
    let key = report["artifact"]
        .as_str()
        .unwrap()
        .strip_prefix(&format!("s3://{BUCKET}/"))
        .unwrap()
        .to_string();
    let stored = world.s3_get(&key);
    let sent = std::fs::read(&zip).unwrap();
    assert_eq!(stored.len(), sent.len());
    assert!(stored == sent, "the stored object differs from the zip");
    assert!(world.alias_version("big-main").is_some());

    // The next deploy of the same zip finds it by its sha256 metadata: no upload.
    world.proxy().clear_log();
    deploy(&world, &zip, 2).success();
    let ops = s3_ops(&world);
    assert!(
        !ops.iter()
            .any(|o| o.contains("Upload") || o == "s3:PutObject"),
        "{ops:?}"
    );
}

#[test]
fn a_failed_multipart_upload_is_aborted_and_live_stays() {
    let world = World::with_proxy();
    let dir = tempfile::tempdir().unwrap();
    // A first, small deploy makes `live`.
    let small = dir.path().join("small.zip");
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&small).unwrap());
        z.start_file("app.py", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(b"def handler(event, context):\n    return 1\n")
            .unwrap();
        z.finish().unwrap();
    }
    deploy(&world, &small, 1).success();
    let live = world.alias_version("big-main");
    assert!(live.is_some());

    let zip = big_zip(dir.path());
    for (case, faults) in [
        // Every UploadPart answers 500 (the SDK retries, then gives up).
        (
            "failing parts",
            json!({"fail_ops": {"s3:UploadPart": {"status": 500, "type": "InternalError"}}}),
        ),
        // Every upload's connection is cut mid-body.
        ("dropped parts", json!({"drop_upload": 1.0})),
    ] {
        world.proxy().reset();
        world.proxy().clear_log();
        world.proxy().configure(faults);
        let out = deploy(&world, &zip, 2);
        assert_ne!(out.code, 0, "{case}: the deploy succeeded\n{}", out.stdout);
        world.proxy().reset();
        let ops = s3_ops(&world);
        assert!(
            ops.contains(&"s3:CreateMultipartUpload".to_string()),
            "{case}: {ops:?}"
        );
        assert!(
            ops.contains(&"s3:AbortMultipartUpload".to_string()),
            "{case}: {ops:?}"
        );
        assert!(
            !ops.contains(&"s3:CompleteMultipartUpload".to_string()),
            "{case}: {ops:?}"
        );
        assert_eq!(open_uploads(&world), 0, "{case}: parts left behind");
        assert_eq!(world.alias_version("big-main"), live, "{case}: live moved");
    }
}
