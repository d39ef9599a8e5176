//! GitHub OIDC token → temporary role credentials.

use aws_config::SdkConfig;
use aws_credential_types::Credentials;

use super::errors::wrap;
use crate::error::{Error, Result};

/// A role session name from the repository and run: `[\w+=,.@-]`, at most 64 characters.
#[must_use]
pub(crate) fn session_name(repository: Option<&str>, run_id: Option<u64>) -> String {
    let repo = repository.unwrap_or("local").replace('/', "@");
    let mut name: String = format!("deploy-action@{repo}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let suffix = run_id.map(|r| format!("@{r}")).unwrap_or_default();
    let room = 64usize.saturating_sub(suffix.len());
    name.truncate(room);
    name + &suffix
}

/// The session length when the command asks for none: an hour, the default
/// MaxSessionDuration of a role (so every role allows it).
pub(crate) const DEFAULT_SESSION_SECONDS: i32 = 3600;

/// STS's answer when DurationSeconds is longer than the role allows (ValidationError, "The
/// requested DurationSeconds exceeds the MaxSessionDuration set for this role.", STS API
/// reference, AssumeRoleWithWebIdentity / AssumeRole: DurationSeconds).
fn exceeds_max_session<E: aws_sdk_sts::error::ProvideErrorMetadata, R>(
    e: &aws_sdk_sts::error::SdkError<E, R>,
) -> bool {
    e.as_service_error().is_some_and(|s| {
        s.code() == Some("ValidationError")
            && s.message()
                .is_some_and(|m| m.contains("exceeds the MaxSessionDuration"))
    })
}

/// AssumeRoleWithWebIdentity with the OIDC token; the call needs no AWS credentials. The
/// session lasts `seconds` (`None`: an hour), so that it outlives the command. A role whose
/// MaxSessionDuration is shorter fails here, before any change, with exit 2.
pub(crate) async fn assume_role_with_web_identity(
    base: &SdkConfig,
    role: &str,
    token: &str,
    seconds: Option<i32>,
) -> Result<Credentials> {
    let github = crate::github::context::GitHubContext::from_env()?;
    let session = session_name(github.repository.as_deref(), github.run_id);
    let sts = aws_sdk_sts::Client::new(base);
    let seconds = seconds.unwrap_or(DEFAULT_SESSION_SECONDS);
    let assume = |duration: i32| {
        sts.assume_role_with_web_identity()
            .role_arn(role)
            .role_session_name(&session)
            .web_identity_token(token)
            .duration_seconds(duration)
            .send()
    };
    let out = match assume(seconds).await {
        Err(e) if seconds > DEFAULT_SESSION_SECONDS && exceeds_max_session(&e) => {
            // STS doesn't say the role's maximum: find it to the hour (at most four more
            // sign-ins with the same token, only on this failure path).
            let (mut lo, mut hi) = (0, (seconds + 3599) / 3600);
            let mut known = true;
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                match assume(mid * 3600).await {
                    Ok(_) => lo = mid,
                    Err(e) if exceeds_max_session(&e) => hi = mid,
                    Err(_) => {
                        known = false;
                        break;
                    }
                }
            }
            return Err(session_too_short(role, seconds, known.then_some(lo)));
        }
        other => other,
    };
    let out = out
        .map_err(|e| {
            let mut err = wrap("credentials", "AssumeRoleWithWebIdentity", role, e);
            if let Error::Aws { help, .. } = &mut err {
                *help = Some(
                    "check the role's trust policy (`deploy-action policy` prints one) allows this repository and ref, and that the OIDC provider token.actions.githubusercontent.com exists in the account".into(),
                );
            }
            err
        })?;
    let c = out
        .credentials()
        .ok_or_else(|| Error::Internal("STS returned no credentials".into()))?;
    crate::github::workflow::mask(c.access_key_id());
    crate::github::workflow::mask(c.secret_access_key());
    crate::github::workflow::mask(c.session_token());
    Ok(Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        std::time::SystemTime::try_from(*c.expiration()).ok(),
        "github-oidc",
    ))
}

/// Exit 2: the role's MaxSessionDuration is shorter than the command needs.
fn session_too_short(role: &str, wanted: i32, allowed_hours: Option<i32>) -> Error {
    let allowed = match allowed_hours {
        Some(0) => "it refused even an hour".to_string(),
        Some(h) => format!("it allows {h} h"),
        None => "STS did not let us find it out".to_string(),
    };
    let name = role.rsplit('/').next().unwrap_or(role);
    Error::InvalidInput {
        flag: "--role-to-assume",
        message: format!(
            "role {role}: this command needs a {wanted}-second session (the canary's hold plus {} min), longer than the role's MaxSessionDuration ({allowed}); nothing was changed",
            1800 / 60
        ),
        help: Some(format!(
            "raise the role's maximum: `aws iam update-role --role-name {name} --max-session-duration {wanted}` (up to 43200), or shorten --canary-minutes (input `canary-minutes`)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_are_valid() {
        assert_eq!(
            session_name(Some("octo/my repo"), Some(42)),
            "deploy-action@octo@my-repo@42"
        );
        let long = session_name(Some(&"x".repeat(100)), Some(123_456_789_012));
        assert!(long.len() <= 64);
        assert!(long.ends_with("@123456789012"));
    }
}
