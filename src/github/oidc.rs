//! The GitHub Actions OIDC token (for AssumeRoleWithWebIdentity).

use http::header::AUTHORIZATION;

use crate::error::{Error, Result};

/// The JSON GitHub answers with.
#[derive(serde::Deserialize)]
struct TokenResponse {
    value: String,
}

/// The runner's token service: `ACTIONS_ID_TOKEN_REQUEST_URL` and its bearer token. GitHub
/// sets them only for jobs with `permissions: id-token: write`, and never for PRs from forks.
pub(crate) fn request_variables() -> Result<(String, String)> {
    let url = std::env::var("ACTIONS_ID_TOKEN_REQUEST_URL")
        .ok()
        .filter(|v| !v.is_empty());
    let bearer = std::env::var("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        .ok()
        .filter(|v| !v.is_empty());
    match (url, bearer) {
        (Some(url), Some(bearer)) => Ok((url, bearer)),
        _ => Err(Error::GitHubContext {
            message: "--role-to-assume needs a GitHub OIDC token, but ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set".into(),
            help: Some(
                "add `permissions: id-token: write` to the job (or workflow); outside GitHub Actions, drop --role-to-assume and use the standard AWS credentials"
                    .into(),
            ),
        }),
    }
}

/// Request an ID token for `audience` from the runner's token service.
pub(crate) async fn request_token(audience: &str) -> Result<String> {
    let (url, bearer) = request_variables()?;
    super::workflow::mask(&bearer);
    let full = format!(
        "{url}{}audience={audience}",
        if url.contains('?') { "&" } else { "?" }
    );
    let uri: http::Uri = full.parse().map_err(|_| Error::GitHubContext {
        message: "ACTIONS_ID_TOKEN_REQUEST_URL is not a URL".into(),
        help: Some("let the runner set ACTIONS_ID_TOKEN_REQUEST_URL; don't override it".into()),
    })?;
    let base = format!(
        "{}://{}",
        uri.scheme_str().unwrap_or("https"),
        uri.authority().map(ToString::to_string).unwrap_or_default()
    );
    let client = octocrab::Octocrab::builder()
        .base_uri(base)
        .and_then(|b| {
            b.add_header(AUTHORIZATION, format!("bearer {bearer}"))
                .build()
        })
        .map_err(|e| Error::GitHub {
            step: "credentials",
            operation: "OIDC token request",
            message: e.to_string(),
            help: None,
        })?;
    let path = uri
        .path_and_query()
        .map_or_else(|| "/".to_string(), ToString::to_string);
    let response: TokenResponse =
        client
            .get(path, None::<&()>)
            .await
            .map_err(|e| Error::GitHub {
                step: "credentials",
                operation: "OIDC token request",
                message: octocrab_message(&e),
                help: Some("check `permissions: id-token: write` on the job".into()),
            })?;
    super::workflow::mask(&response.value);
    Ok(response.value)
}

/// A readable message from an octocrab error, without request details that could hold
/// tokens.
#[must_use]
pub(crate) fn octocrab_message(e: &octocrab::Error) -> String {
    match e {
        octocrab::Error::GitHub { source, .. } => {
            format!("{} ({})", source.message, source.status_code)
        }
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}
