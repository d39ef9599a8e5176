//! Artifacts in S3, stored once under their sha256.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ChecksumMode;

use super::errors::{is_not_found, wrap};
use crate::error::{Error, Result};
use crate::package::Artifact;

const STEP: &str = "upload";

/// Read size for streaming the artifact into PutObject. The SDK's default (4 KiB) costs a
/// blocking-pool round trip per 4 KiB: 7,700 of them for a 30 MiB zip.
const UPLOAD_BUFFER: usize = 1 << 20;

/// Whether `s3://bucket/key` already holds the artifact: an object with that key and size,
/// and its sha256 as S3's checksum or in the metadata we write with it (an object copied or
/// uploaded in parts has no whole-object sha256 checksum).
pub async fn is_stored(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    artifact: &Artifact,
) -> Result<bool> {
    let resource = format!("s3://{bucket}/{key}");
    match s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
    {
        Ok(head) => {
            let by_checksum = head.checksum_sha256() == Some(artifact.code_sha256.as_str());
            let by_metadata = head
                .metadata()
                .and_then(|m| m.get("sha256"))
                .is_some_and(|v| v == &artifact.sha256_hex);
            let by_size = head.content_length() == i64::try_from(artifact.size).ok();
            if (by_checksum || by_metadata) && by_size {
                return Ok(true);
            }
            tracing::warn!("{resource} exists but does not match the artifact; uploading again");
            Ok(false)
        }
        Err(e) if is_not_found(&e) => Ok(false),
        // Without s3:ListBucket (the policy `deploy-action policy` prints doesn't grant it)
        // S3 answers a HEAD of a missing key with 403: upload, and let PutObject say whether
        // we really may not write there.
        Err(aws_sdk_s3::error::SdkError::ServiceError(e)) if e.raw().status().as_u16() == 403 => {
            tracing::info!("{resource}: HEAD answered 403 (no s3:ListBucket): uploading");
            Ok(false)
        }
        Err(e) => Err(wrap(STEP, "HeadObject", resource, e)),
    }
}

/// Upload the artifact to `s3://bucket/key`, streamed from disk, with its sha256 for S3 to
/// check (the plan has looked with `is_stored` whether it must).
pub async fn upload(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    artifact: &Artifact,
) -> Result<()> {
    let resource = format!("s3://{bucket}/{key}");
    let body = ByteStream::read_from()
        .path(&artifact.path)
        .buffer_size(UPLOAD_BUFFER)
        .build()
        .await
        .map_err(|e| {
            Error::io(
                format!("can't read {}", artifact.path.display()),
                std::io::Error::other(e),
            )
        })?;
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(body)
        .content_length(i64::try_from(artifact.size).unwrap_or(i64::MAX))
        .content_type("application/zip")
        .checksum_sha256(&artifact.code_sha256)
        .metadata("sha256", &artifact.sha256_hex)
        .send()
        .await
        .map_err(|e| wrap(STEP, "PutObject", resource.clone(), e))?;
    tracing::info!("uploaded {} bytes to {resource}", artifact.size);
    Ok(())
}

/// Whether an object exists (for promote, which must not rebuild).
pub async fn exists(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<bool> {
    match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(wrap(
            "promote",
            "HeadObject",
            format!("s3://{bucket}/{key}"),
            e,
        )),
    }
}
