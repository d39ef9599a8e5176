//! GitHub OIDC token → temporary role credentials.

use aws_config::SdkConfig;
use aws_credential_types::Credentials;

use super::errors::wrap;
use crate::error::{Error, Result};

/// A role session name from the repository and run: `[\w+=,.@-]`, at most 64 characters.
#[must_use]
pub fn session_name(repository: Option<&str>, run_id: Option<u64>) -> String {
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

/// AssumeRoleWithWebIdentity with the OIDC token; the call needs no AWS credentials.
pub async fn assume_role_with_web_identity(
    base: &SdkConfig,
    role: &str,
    token: &str,
) -> Result<Credentials> {
    let github = crate::github::context::GitHubContext::from_env()?;
    let session = session_name(github.repository.as_deref(), github.run_id);
    let sts = aws_sdk_sts::Client::new(base);
    let out = sts
        .assume_role_with_web_identity()
        .role_arn(role)
        .role_session_name(&session)
        .web_identity_token(token)
        .duration_seconds(3600)
        .send()
        .await
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
