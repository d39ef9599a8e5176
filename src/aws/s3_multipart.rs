//! Big artifacts in parts (issue 20 §3): an ML-ish Python app's zip can be 200 MiB, and one
//! PutObject of it is one TCP stream at one stream's speed. Here the zip goes up as 8 MiB parts,
//! four in flight at once, each hashed from disk just before it is sent (its SHA-256 goes with
//! it for S3 to check, `x-amz-checksum-sha256`) and then streamed from the file, so memory holds
//! a few 1 MiB buffers per part in flight, whatever the artifact's size.
//!
//! The object gets the same `sha256` metadata as a single PutObject, which is what `is_stored`
//! recognises a multipart object by (its checksum is a checksum of the part checksums, S3 user
//! guide "Checking object integrity": "full object checksums ... composite checksums").
//!
//! A failed upload is aborted (AbortMultipartUpload): S3 keeps, and bills, the parts of an
//! upload that is neither completed nor aborted until a lifecycle rule removes them (S3 user
//! guide, "Uploading and copying objects using multipart upload": "you are charged for all
//! storage associated with uploaded parts" until you complete or abort).

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use base64::Engine;
use sha2::{Digest, Sha256};

use super::errors::wrap;
use crate::error::{Error, Result};
use crate::package::Artifact;

const STEP: &str = "upload";

/// Part size: S3's minimum is 5 MiB (all but the last part), the maximum 10,000 parts; 8 MiB is
/// the AWS CLI's default (`multipart_chunksize`).
pub(crate) const PART_SIZE: u64 = 8 << 20;

/// Parts sent at once (the AWS CLI's `max_concurrent_requests` is 10; four keep the memory
/// bound at ~32 MiB and fill a CI runner's uplink).
pub(crate) const IN_FLIGHT: usize = 4;

/// Upload `artifact` to `s3://bucket/key` in parts; abort the upload if any step fails.
pub(crate) async fn upload(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    artifact: &Artifact,
) -> Result<()> {
    let resource = format!("s3://{bucket}/{key}");
    let created = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .content_type("application/zip")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .metadata("sha256", &artifact.sha256_hex)
        .send()
        .await
        .map_err(|e| wrap(STEP, "CreateMultipartUpload", resource.clone(), e))?;
    let Some(upload_id) = created.upload_id().map(str::to_string) else {
        return Err(Error::io(
            format!("CreateMultipartUpload for {resource} answered without an UploadId"),
            std::io::Error::other("no UploadId"),
        ));
    };
    let parts = artifact.size.div_ceil(PART_SIZE);
    tracing::info!(
        "uploading {} bytes to {resource} in {parts} parts of {} MiB, {IN_FLIGHT} at a time",
        artifact.size,
        PART_SIZE >> 20
    );
    let result = match send_parts(s3, bucket, key, &upload_id, &artifact.path, artifact.size).await
    {
        Ok(done) => s3
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(done))
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| wrap(STEP, "CompleteMultipartUpload", resource.clone(), e)),
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        abort(s3, bucket, key, &upload_id).await;
        return Err(e);
    }
    tracing::info!("uploaded {} bytes to {resource}", artifact.size);
    Ok(())
}

/// Every part, `IN_FLIGHT` at a time; the completed parts in order.
async fn send_parts(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
    path: &Path,
    size: u64,
) -> Result<Vec<CompletedPart>> {
    let count = size.div_ceil(PART_SIZE);
    let mut next = 0u64;
    let mut running = tokio::task::JoinSet::new();
    let mut done = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    loop {
        while running.len() < IN_FLIGHT && next < count {
            let offset = next * PART_SIZE;
            let len = PART_SIZE.min(size - offset);
            let number = i32::try_from(next + 1).unwrap_or(i32::MAX);
            running.spawn(send_part(
                s3.clone(),
                bucket.to_string(),
                key.to_string(),
                upload_id.to_string(),
                path.to_path_buf(),
                number,
                offset,
                len,
            ));
            next += 1;
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        // A failed part ends the upload: the others in flight are dropped (JoinSet aborts them
        // when it goes out of scope) and the caller aborts the multipart upload.
        let part =
            joined.map_err(|e| Error::io("an upload task failed", std::io::Error::other(e)))??;
        done.push(part);
    }
    done.sort_by_key(|p| p.part_number());
    Ok(done)
}

#[allow(clippy::too_many_arguments)]
async fn send_part(
    s3: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    upload_id: String,
    path: PathBuf,
    number: i32,
    offset: u64,
    len: u64,
) -> Result<CompletedPart> {
    // Hash the part (streamed, 1 MiB at a time), then send it streamed from the file: the part
    // is read twice (the second time from the page cache) but never held in memory whole.
    let read_path = path.clone();
    let sha = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let mut file = std::fs::File::open(&read_path)?;
        file.seek(SeekFrom::Start(offset))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut left = len;
        while left > 0 {
            let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
            file.read_exact(&mut buf[..want])?;
            hasher.update(&buf[..want]);
            left -= want as u64;
        }
        Ok(base64::engine::general_purpose::STANDARD.encode(hasher.finalize()))
    })
    .await
    .map_err(|e| Error::io("a read task failed", std::io::Error::other(e)))?
    .map_err(|e| Error::io(format!("can't read {}", path.display()), e))?;
    let body = ByteStream::read_from()
        .path(&path)
        .offset(offset)
        .length(aws_smithy_types::byte_stream::Length::Exact(len))
        .buffer_size(1 << 20)
        .build()
        .await
        .map_err(|e| {
            Error::io(
                format!("can't read {}", path.display()),
                std::io::Error::other(e),
            )
        })?;
    let out = s3
        .upload_part()
        .bucket(&bucket)
        .key(&key)
        .upload_id(&upload_id)
        .part_number(number)
        .content_length(i64::try_from(len).unwrap_or(i64::MAX))
        .checksum_sha256(&sha)
        .body(body)
        .send()
        .await
        .map_err(|e| {
            wrap(
                STEP,
                "UploadPart",
                format!("s3://{bucket}/{key} part {number}"),
                e,
            )
        })?;
    Ok(CompletedPart::builder()
        .part_number(number)
        .set_e_tag(out.e_tag().map(str::to_string))
        .checksum_sha256(sha)
        .build())
}

/// Abort the upload so that no part stays stored (and billed); a failure here is only logged,
/// with what removes the parts later.
async fn abort(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, upload_id: &str) {
    match s3
        .abort_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await
    {
        Ok(_) => tracing::info!("aborted the multipart upload of s3://{bucket}/{key}"),
        Err(e) => tracing::warn!(
            "could not abort the multipart upload {upload_id} of s3://{bucket}/{key} ({}): its parts stay stored until `aws s3api abort-multipart-upload --bucket {bucket} --key {key} --upload-id {upload_id}` or a lifecycle rule with AbortIncompleteMultipartUpload removes them",
            aws_sdk_s3::error::DisplayErrorContext(&e)
        ),
    }
}
