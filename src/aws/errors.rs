//! Turning SDK errors into our `Error`, and the typed checks on them. Never match on
//! message strings: the error code is the contract.

use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::error::Error;

/// The service error code, if the service answered.
pub(crate) fn code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    }
}

pub(crate) fn is_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>, want: &str) -> bool {
    code(err) == Some(want)
}

pub(crate) fn is_not_found<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(
        code(err),
        Some("ResourceNotFoundException" | "NotFound" | "NoSuchKey" | "NoSuchBucket" | "404")
    )
}

pub(crate) fn is_conflict<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    is_code(err, "ResourceConflictException")
}

pub(crate) fn is_precondition_failed<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    is_code(err, "PreconditionFailedException")
}

/// The service's message, if it answered.
fn message<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> &str {
    match err {
        SdkError::ServiceError(e) => e.err().message().unwrap_or_default(),
        _ => "",
    }
}

/// PublishVersion's CodeSha256 precondition failed: another run changed `$LATEST`. Real Lambda
/// answers this with 400 InvalidParameterValueException "CodeSHA256 (X) is different from
/// current CodeSHA256 in $LATEST (Y). Please try again with the current CodeSHA256."
/// (transcripts in serverless/serverless#3696 and floci-io/floci#2822), not with
/// PreconditionFailedException. The code is shared with every other bad value, so this one
/// check has to read the message.
pub(crate) fn is_code_sha256_mismatch<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    is_code(err, "InvalidParameterValueException")
        && message(err).contains("is different from current CodeSHA256")
}

/// CreateFunction / UpdateFunctionConfiguration with an execution role IAM has not finished
/// propagating: 400 InvalidParameterValueException "The role defined for the function cannot
/// be assumed by Lambda." for several seconds after the role is created (AWS Lambda developer
/// guide, "Troubleshoot deployment issues in Lambda"; aws/aws-cdk#3823 and
/// hashicorp/terraform-provider-aws#8080 quote it). The same answer stays for good when the
/// role's trust policy doesn't allow lambda.amazonaws.com, so it is retried only for a while.
pub(crate) fn is_role_not_assumable<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    is_code(err, "InvalidParameterValueException")
        && message(err).contains("cannot be assumed by Lambda")
}

/// Wrap an SDK error with the step and resource it happened on, and a hint where the code
/// says what to do.
pub(crate) fn wrap<E>(
    step: &'static str,
    operation: &'static str,
    resource: impl Into<String>,
    err: SdkError<E, HttpResponse>,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let resource = resource.into();
    let code = code(&err).map(str::to_string);
    let message = match &err {
        SdkError::ServiceError(e) => {
            let meta = e.err();
            format!(
                "{}: {}",
                meta.code().unwrap_or("error"),
                meta.message().unwrap_or("no message")
            )
        }
        other => {
            // Show the whole chain: "dispatch failure" alone helps nobody.
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    };
    let help = match code.as_deref() {
        Some("AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation") => Some(format!(
            "the deploy role may not call {operation}; generate its policy with `deploy-action policy` and attach it"
        )),
        Some("InvalidParameterValueException")
            if matches!(operation, "CreateFunction" | "UpdateFunctionConfiguration") =>
        {
            Some(
            "check --execution-role (it must exist and trust lambda.amazonaws.com; a new role can take a few seconds to become usable), --runtime and --handler".into(),
        )
        }
        Some("InvalidParameterValueException") => {
            Some("Lambda rejected a value: check the flags named in the message".into())
        }
        Some("CodeStorageExceededException") => Some(
            "the account's code storage is full: lower --keep-versions or delete unused functions".into(),
        ),
        Some("NoSuchBucket") => {
            Some("create the bucket first, or fix --s3-bucket (and --region)".into())
        }
        Some("ExpiredToken" | "ExpiredTokenException" | "InvalidClientTokenId") => Some(
            "the AWS credentials are expired or invalid: check the role and the OIDC set-up".into(),
        ),
        Some("TooManyRequestsException" | "ThrottlingException" | "SlowDown") => Some(
            "AWS kept throttling after all retries; try again, or ask for a higher limit".into(),
        ),
        _ => None,
    };
    let rejected = matches!(&err, SdkError::ServiceError(e) if {
        let status = e.raw().status().as_u16();
        (400..500).contains(&status) && status != 429 && status != 409
    });
    Error::Aws {
        step,
        operation,
        resource,
        message,
        help,
        rejected,
    }
}
