//! Operating a live app (docs/contract.md, "Model" and "Commands"): `rollback` and `promote` move `live` without
//! building, `status` reads every stage, and `teardown` removes one.

pub(crate) mod cost;
pub(crate) mod fleet;
pub(crate) mod gc;
pub(crate) mod invoke;
pub(crate) mod logs;
pub(crate) mod promote;
pub(crate) mod rollback;
pub(crate) mod status;
pub(crate) mod teardown;

/// `arn:aws:lambda:<region>:<account>:function:<name>` without a `:<qualifier>` (tags are
/// set on the function, and TagResource wants its plain ARN).
#[must_use]
pub(crate) fn unqualified_arn(arn: &str) -> String {
    arn.split(':').take(7).collect::<Vec<_>>().join(":")
}

/// The hex sha256 of an artifact from Lambda's base64 `CodeSha256`, which names its S3 key
/// (`naming::artifact_key`).
pub(crate) fn code_sha256_hex(code_sha256: &str) -> Option<String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(code_sha256)
        .ok()?;
    (bytes.len() == 32).then(|| hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_lose_their_qualifier() {
        let plain = "arn:aws:lambda:us-east-1:123456789012:function:hello-main";
        assert_eq!(unqualified_arn(plain), plain);
        assert_eq!(unqualified_arn(&format!("{plain}:live")), plain);
        assert_eq!(unqualified_arn(&format!("{plain}:$LATEST")), plain);
    }

    #[test]
    fn code_sha256_to_hex() {
        // sha256("") in both encodings.
        assert_eq!(
            code_sha256_hex("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=").as_deref(),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        assert_eq!(code_sha256_hex("not base64!"), None);
        assert_eq!(code_sha256_hex("AAAA"), None);
    }
}
