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

/// Above this size the artifact goes up in parts, several at once (`s3_multipart`); below it one
/// PutObject is fewer round trips.
pub(crate) const MULTIPART_THRESHOLD: u64 = 16 << 20;

/// Whether `s3://bucket/key` already holds the artifact: an object with that key and size,
/// and its sha256 as S3's checksum or in the metadata we write with it (an object copied or
/// uploaded in parts has no whole-object sha256 checksum).
pub(crate) async fn is_stored(
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
        Err(e) if in_other_region(&e) => Err(region_error(s3, bucket, &e)
            .await
            .unwrap_or_else(|| wrap(STEP, "HeadObject", resource, e))),
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
pub(crate) async fn upload(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    artifact: &Artifact,
) -> Result<()> {
    if artifact.size > MULTIPART_THRESHOLD {
        return super::s3_multipart::upload(s3, bucket, key, artifact).await;
    }
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

/// The region requests go to (the function's: one configuration serves Lambda and S3).
fn region_of(s3: &aws_sdk_s3::Client) -> &str {
    s3.config().region().map_or("us-east-1", |r| r.as_ref())
}

/// The bucket's region when S3 answered that the bucket lives in another region than `ours`.
/// S3 puts `x-amz-bucket-region` on such answers: 301 PermanentRedirect from a regional
/// endpoint, 400 AuthorizationHeaderMalformed when the signature names the wrong region, and
/// even 403 (S3 API reference, GetBucketLocation: "calls to the HeadBucket operation always
/// return the bucket's location through an HTTP response header, whether access to the
/// bucket is authorized or not"). botocore's S3RegionRedirector reads the same header. The
/// Rust SDK follows no redirect, so without this the deploy would fail later with a bare
/// "301" (or, from Lambda, "The bucket is in this region: ...").
fn bucket_elsewhere<E>(
    err: &aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
    ours: &str,
) -> Option<String> {
    let raw = err.raw_response()?;
    if raw.status().is_success() {
        return None;
    }
    let region = raw.headers().get("x-amz-bucket-region")?;
    (!region.is_empty() && region != ours).then(|| region.to_string())
}

/// Whether an error may mean "the bucket is in another region": the region header on any
/// error, or a 301 (S3's redirect to the bucket's regional endpoint).
fn in_other_region<E>(
    err: &aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> bool {
    err.raw_response().is_some_and(|r| {
        r.status().as_u16() == 301 || r.headers().get("x-amz-bucket-region").is_some()
    })
}

/// The wrong-region error for `err`, from its header or, for a 301 without one, from a
/// HeadBucket; `None` when the bucket is in our region after all.
async fn region_error<E>(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    err: &aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> Option<Error> {
    let ours = region_of(s3);
    match bucket_elsewhere(err, ours) {
        Some(theirs) => Some(wrong_region(bucket, theirs, ours)),
        None => check_bucket_region(s3, bucket).await.err(),
    }
}

/// Bad input (exit 2, before any write): Lambda reads code only from a bucket in its own
/// region (Lambda API reference, FunctionCode.S3Bucket: "An Amazon S3 bucket in the same
/// AWS Region as your function").
fn wrong_region(bucket: &str, theirs: String, ours: &str) -> Error {
    Error::InvalidInput {
        flag: "--s3-bucket",
        message: format!(
            "bucket {bucket} is in {theirs}, but the function is deployed to {ours}: Lambda can only read code from a bucket in its own region"
        ),
        help: Some(format!(
            "use a bucket in {ours} (--s3-bucket, input `s3-bucket`), or deploy to {theirs} (--region {theirs})"
        )),
    }
}

/// Check that `bucket` is in the region the clients use (one HeadBucket): exit 2 with the
/// bucket's region and the fix when it is not. A bucket we can't see (403 without the
/// region header, 404) passes: the upload or Lambda then says what is wrong. A deploy
/// spends no extra request on it: the plan's HeadObject of the artifact, its first S3
/// request and before any write, carries the same header and is checked the same way; this
/// HeadBucket only runs when that answer is a 301 without the header.
pub(crate) async fn check_bucket_region(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<()> {
    let ours = region_of(s3);
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(out) => match out.bucket_region() {
            Some(theirs) if theirs != ours => Err(wrong_region(bucket, theirs.to_string(), ours)),
            _ => Ok(()),
        },
        Err(e) => match bucket_elsewhere(&e, ours) {
            Some(theirs) => Err(wrong_region(bucket, theirs, ours)),
            None => Ok(()),
        },
    }
}
