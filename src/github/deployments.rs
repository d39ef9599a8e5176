//! GitHub deployments: one per deploy run, environment = stage, with statuses that follow the
//! run (in_progress → success / failure / inactive), and `inactive` for the stage's deployments
//! when it is torn down.

use octocrab::models::repos::{Deployment, DeploymentStatusState};
use serde_json::json;
use tokio::task::JoinSet;

use super::api::GitHubApi;

/// Pages of 100 deployments read at teardown at most.
const MAX_PAGES: usize = 20;
/// Deployments handled at once at teardown.
const PARALLEL: usize = 8;

/// Preview stages are transient: they go away when the PR closes.
#[must_use]
pub(crate) fn is_transient(stage: &str) -> bool {
    stage.starts_with("pr-")
}

/// The stages end users reach.
#[must_use]
pub(crate) fn is_production(stage: &str) -> bool {
    matches!(stage, "main" | "master" | "production")
}

/// GitHub truncates nothing; it refuses descriptions over 140 characters.
fn short(text: &str) -> String {
    if text.chars().count() <= 140 {
        text.to_string()
    } else {
        text.chars().take(139).collect::<String>() + "…"
    }
}

/// Create a deployment of `sha` to the `stage` environment (no merge, no required checks:
/// the workflow already decided to deploy).
pub(crate) async fn create(
    api: &GitHubApi,
    sha: &str,
    stage: &str,
    app: &str,
    function_name: &str,
) -> Result<u64, octocrab::Error> {
    let d = api
        .crab
        .repos(&api.owner, &api.repo)
        .deployments()
        .create(sha)
        .task("deploy")
        .auto_merge(false)
        .required_contexts(Vec::<String>::new())
        .environment(stage)
        .transient_environment(is_transient(stage))
        .production_environment(is_production(stage))
        .description(short(&format!("deploy-action: {app} to {function_name}")))
        .payload(json!({ "app": app, "function_name": function_name, "tool": "deploy-action" }))
        .send()
        .await?;
    Ok(d.id.into_inner())
}

/// A status for deployment `id`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Status<'a> {
    pub environment_url: Option<&'a str>,
    pub log_url: Option<&'a str>,
    pub description: Option<String>,
}

pub(crate) async fn set_status(
    api: &GitHubApi,
    id: u64,
    state: DeploymentStatusState,
    status: &Status<'_>,
) -> Result<(), octocrab::Error> {
    let deployments = api.crab.repos(&api.owner, &api.repo);
    let deployments = deployments.deployments();
    let statuses = deployments.statuses(id);
    let mut b = statuses.create(state);
    if let Some(u) = status.environment_url {
        b = b.environment_url(u);
    }
    if let Some(u) = status.log_url {
        b = b.log_url(u);
    }
    if let Some(d) = &status.description {
        b = b.description(short(d));
    }
    b.send().await.map(drop)
}

/// Whether deployment `d` was made by deploy-action for `app`.
fn is_ours(d: &Deployment, app: &str) -> bool {
    d.payload.get("app").and_then(serde_json::Value::as_str) == Some(app)
}

/// Mark every deployment of `app` to `stage` inactive that is not already. Returns how many
/// were changed.
pub(crate) async fn deactivate(
    api: &GitHubApi,
    stage: &str,
    app: &str,
    log_url: Option<&str>,
) -> Result<usize, octocrab::Error> {
    let mut page = api
        .crab
        .repos(&api.owner, &api.repo)
        .deployments()
        .list()
        .environment(stage)
        .per_page(100u8)
        .send()
        .await?;
    let mut ids = Vec::new();
    for _ in 0..MAX_PAGES {
        ids.extend(
            page.items
                .iter()
                .filter(|d| is_ours(d, app))
                .map(|d| d.id.into_inner()),
        );
        match api.crab.get_page::<Deployment>(&page.next).await? {
            Some(next) => page = next,
            None => break,
        }
    }
    let mut changed = 0;
    for chunk in ids.chunks(PARALLEL) {
        let mut set = JoinSet::new();
        for &id in chunk {
            let api = api.clone();
            let log_url = log_url.map(String::from);
            set.spawn(async move { deactivate_one(&api, id, log_url.as_deref()).await });
        }
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(Ok(true)) => changed += 1,
                Ok(Ok(false)) => {}
                Ok(Err(e)) => return Err(e),
                Err(e) => tracing::warn!("deployment task failed: {e}"),
            }
        }
    }
    Ok(changed)
}

/// Mark deployment `id` inactive unless its latest status already says so.
async fn deactivate_one(
    api: &GitHubApi,
    id: u64,
    log_url: Option<&str>,
) -> Result<bool, octocrab::Error> {
    let latest = api
        .crab
        .repos(&api.owner, &api.repo)
        .deployments()
        .statuses(id)
        .list()
        .per_page(1u8)
        .send()
        .await?;
    if latest
        .items
        .first()
        .is_some_and(|s| s.state == DeploymentStatusState::Inactive)
    {
        return Ok(false);
    }
    set_status(
        api,
        id,
        DeploymentStatusState::Inactive,
        &Status {
            environment_url: None,
            log_url,
            description: Some("preview removed by deploy-action teardown".into()),
        },
    )
    .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_by_stage() {
        assert!(is_transient("pr-42"));
        assert!(!is_transient("main"));
        assert!(!is_transient("preview"));
        assert!(is_production("main"));
        assert!(is_production("master"));
        assert!(!is_production("pr-1"));
        assert!(!is_production("staging"));
    }

    #[test]
    fn descriptions_fit_githubs_limit() {
        assert_eq!(short("ok"), "ok");
        let long = "x".repeat(300);
        assert_eq!(short(&long).chars().count(), 140);
    }
}
