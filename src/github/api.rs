//! The GitHub REST client for one repository (octocrab, base URL from `GITHUB_API_URL`), and
//! how its failures are classified: a rejected token is an error, a missing permission is a
//! warning that names the permission to add.

use std::time::Duration;

use octocrab::Octocrab;

use crate::error::{Error, Result};

/// The login of the Actions `GITHUB_TOKEN` (an installation token of the GitHub Actions app).
pub(crate) const ACTIONS_BOT: &str = "github-actions[bot]";

/// A client bound to `owner/repo`.
#[derive(Clone)]
pub(crate) struct GitHubApi {
    pub(crate) crab: Octocrab,
    pub owner: String,
    pub repo: String,
}

impl std::fmt::Debug for GitHubApi {
    // Octocrab holds the token; never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GitHubApi({}/{})", self.owner, self.repo)
    }
}

impl GitHubApi {
    /// A client for `repository` (`owner/repo`) at `api_url`, authenticated with `token`.
    pub(crate) fn new(api_url: &str, token: &str, repository: &str) -> Result<GitHubApi> {
        let (owner, repo) = split_repository(repository).ok_or_else(|| Error::GitHubContext {
            message: format!("GITHUB_REPOSITORY is {repository:?}, not OWNER/REPO"),
            help: Some("let the runner set GITHUB_REPOSITORY; don't override it".into()),
        })?;
        let crab = Octocrab::builder()
            .base_uri(api_url)
            .map_err(|_| Error::GitHubContext {
                message: format!("GITHUB_API_URL is {api_url:?}, not a URL"),
                help: Some(
                    "let the runner set GITHUB_API_URL (https://api.github.com, or your GitHub Enterprise API)"
                        .into(),
                ),
            })?
            .personal_token(token.to_string())
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(30)))
            .build()
            .map_err(|e| Error::GitHub {
                step: "report",
                operation: "client set-up",
                message: super::oidc::octocrab_message(&e),
                help: None,
            })?;
        Ok(GitHubApi {
            crab,
            owner: owner.to_string(),
            repo: repo.to_string(),
        })
    }

    /// The login the token writes as: comments it creates carry it as `user.login`. A user's
    /// token answers GET /user. An installation token (the Actions `GITHUB_TOKEN` is one)
    /// can't call it and gets 403 "Resource not accessible by integration"; GITHUB_TOKEN
    /// writes as `github-actions[bot]` (user.type `Bot`). A 401 means the token is rejected.
    pub(crate) async fn identity(&self) -> Result<String, octocrab::Error> {
        #[derive(serde::Deserialize)]
        struct Me {
            login: String,
        }
        match self.crab.get::<Me, _, ()>("/user", None).await {
            Ok(me) => Ok(me.login),
            Err(octocrab::Error::GitHub { source, .. }) if source.status_code.as_u16() == 403 => {
                Ok(ACTIONS_BOT.to_string())
            }
            Err(e) => Err(e),
        }
    }

    /// `/repos/{owner}/{repo}` followed by `rest`.
    #[must_use]
    pub(crate) fn route(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", self.owner, self.repo)
    }
}

/// `owner/repo`, each part of GitHub's characters, else `None`.
#[must_use]
pub(crate) fn split_repository(repository: &str) -> Option<(&str, &str)> {
    let (owner, repo) = repository.split_once('/')?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 100
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    (ok(owner) && ok(repo) && owner != "." && repo != "." && repo != "..").then_some((owner, repo))
}

/// What a failed GitHub call means for the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApiFailure {
    /// 401: the token is wrong or expired.
    Unauthorized(String),
    /// 403 or 404: the token lacks a permission (GitHub answers 404 for resources a token may
    /// not see).
    Forbidden(String),
    /// Anything else: 5xx after retries, a network failure, an unexpected answer.
    Other(String),
}

impl ApiFailure {
    #[must_use]
    pub(crate) fn classify(e: &octocrab::Error) -> ApiFailure {
        let message = super::oidc::octocrab_message(e);
        match e {
            octocrab::Error::GitHub { source, .. } => match source.status_code.as_u16() {
                401 => ApiFailure::Unauthorized(message),
                403 | 404 => ApiFailure::Forbidden(message),
                _ => ApiFailure::Other(message),
            },
            _ => ApiFailure::Other(message),
        }
    }

    #[must_use]
    pub(crate) fn message(&self) -> &str {
        match self {
            ApiFailure::Unauthorized(m) | ApiFailure::Forbidden(m) | ApiFailure::Other(m) => m,
        }
    }
}

/// The error for a token GitHub rejected (401): nothing else can work with it. Bad input
/// (exit 2): it is checked before anything changed.
#[must_use]
pub(crate) fn unauthorized(operation: &'static str, message: &str) -> Error {
    Error::InvalidInput {
        flag: "--github-token",
        message: format!("GitHub rejected the token ({operation}: {message})"),
        help: Some(
            "GitHub rejected the token: pass a valid --github-token (input `github-token`, default ${{ github.token }}), or leave it empty to skip the PR comment and deployments"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_are_owner_slash_repo() {
        assert_eq!(
            split_repository("Codertocat/Hello-World"),
            Some(("Codertocat", "Hello-World"))
        );
        assert_eq!(
            split_repository("octo-org/my.repo_1"),
            Some(("octo-org", "my.repo_1"))
        );
        assert_eq!(split_repository("nope"), None);
        assert_eq!(split_repository("a/b/c"), None);
        assert_eq!(split_repository("a/.."), None);
        assert_eq!(split_repository("a/b?x=1"), None);
        assert_eq!(split_repository("/b"), None);
    }
}
