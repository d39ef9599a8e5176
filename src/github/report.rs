//! Reporting a run to GitHub (docs/contract.md, "Report"): a deployment with statuses that follow the
//! run, and the sticky PR comment. GitHub is told, never asked: after the checks at the start
//! (a token GitHub rejects fails the run before anything changed), a failing GitHub call is a
//! warning naming the permission to add, never a failed deploy.

use octocrab::models::repos::DeploymentStatusState;

use super::api::{self, ApiFailure, GitHubApi};
use super::context::GitHubContext;
use super::render::RunFacts;
use super::{comment, deployments, workflow};
use crate::cli::CommentMode;
use crate::error::{Error, Result};
use crate::output::{DeployReport, TeardownReport};

/// What a run reports, and where.
pub(crate) struct Reporter {
    active: Option<Active>,
    app: String,
    stage: String,
    function_name: String,
    facts: RunFacts,
}

struct Active {
    api: GitHubApi,
    /// The PR the event is about.
    pr: Option<u64>,
    comment: CommentMode,
    /// The deployment this run created.
    deployment: Option<u64>,
    /// The login the token writes as (`check`); only its comments are ours to edit.
    author: Option<String>,
}

impl Active {
    /// The token's login, once `check` ran; the Actions bot before.
    fn author(&self) -> &str {
        self.author.as_deref().unwrap_or(api::ACTIONS_BOT)
    }
}

/// Which part of the reporting failed, for the permission in the warning.
#[derive(Clone, Copy)]
enum Part {
    Deployments,
    Comment,
}

impl Part {
    fn permission(self) -> &'static str {
        match self {
            Part::Deployments => "deployments: write",
            Part::Comment => "pull-requests: write",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Part::Deployments => "the GitHub deployment",
            Part::Comment => "the PR comment",
        }
    }
}

/// Log a failed GitHub call as a warning; the run goes on.
fn warn(part: Part, doing: &str, failure: &ApiFailure) {
    let text = match failure {
        ApiFailure::Forbidden(m) => format!(
            "deploy-action could not {doing} ({m}): add `permissions: {}` to the job to get {}. The deploy itself is not affected.",
            part.permission(),
            part.what()
        ),
        ApiFailure::Unauthorized(m) => format!(
            "deploy-action could not {doing} ({m}): GitHub rejected the token; check --github-token. The deploy itself is not affected."
        ),
        ApiFailure::Other(m) => format!(
            "deploy-action could not {doing} ({m}); {} may be out of date. The deploy itself is not affected.",
            part.what()
        ),
    };
    workflow::warning(&text);
}

impl Reporter {
    /// `new` for a command's target stage (rollback, promote, teardown, gc).
    #[must_use]
    pub(crate) fn for_target(
        ctx: &GitHubContext,
        target: &crate::config::Target,
        comment: CommentMode,
    ) -> Reporter {
        Reporter::new(
            ctx,
            target.github_token.as_deref(),
            &target.app,
            &target.stage,
            &target.function_name,
            comment,
        )
    }

    /// Decide what to report. Nothing without a token or outside a repository's workflow.
    #[must_use]
    pub(crate) fn new(
        ctx: &GitHubContext,
        token: Option<&str>,
        app: &str,
        stage: &str,
        function_name: &str,
        comment: CommentMode,
    ) -> Reporter {
        let mut reporter = Reporter {
            active: None,
            app: app.to_string(),
            stage: stage.to_string(),
            function_name: function_name.to_string(),
            facts: RunFacts::from_context(ctx),
        };
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            if ctx.in_actions {
                tracing::info!(
                    "no GitHub token (--github-token, DEPLOY_GITHUB_TOKEN or GITHUB_TOKEN): skipping the PR comment and the GitHub deployment"
                );
            }
            return reporter;
        };
        let Some(repository) = ctx.repository.as_deref() else {
            tracing::info!("GITHUB_REPOSITORY is not set: skipping GitHub reporting");
            return reporter;
        };
        match GitHubApi::new(&ctx.api_url, token, repository) {
            Ok(api) => {
                reporter.active = Some(Active {
                    api,
                    pr: ctx.pull_request().map(|pr| pr.number),
                    comment,
                    deployment: None,
                    author: None,
                });
            }
            Err(e) => workflow::warning(&format!(
                "skipping GitHub reporting: {e}{}",
                e.help_text().map(|h| format!(" ({h})")).unwrap_or_default()
            )),
        }
        reporter
    }

    /// Report about `pr` instead of the event's PR (`gc` tears down previews of closed PRs from
    /// a scheduled run, which has no PR of its own).
    #[must_use]
    pub(crate) fn for_pr(mut self, pr: u64) -> Reporter {
        if let Some(active) = &mut self.active {
            active.pr = Some(pr);
        }
        self
    }

    /// Before anything changes: ask GitHub who the token is. A token GitHub rejects (401)
    /// fails the run here with exit 2; any other failure is a warning, and the comment is then
    /// looked for as the Actions token's (`github-actions[bot]`).
    pub(crate) async fn check(&mut self) -> Result<()> {
        let Some(active) = self.active.as_mut() else {
            return Ok(());
        };
        if active.author.is_some() {
            return Ok(());
        }
        match active.api.identity().await {
            Ok(login) => {
                tracing::info!("GitHub token acts as {login}");
                active.author = Some(login);
                Ok(())
            }
            Err(e) => match ApiFailure::classify(&e) {
                ApiFailure::Unauthorized(m) => {
                    self.active = None;
                    Err(api::unauthorized("check the token", &m))
                }
                failure => {
                    tracing::warn!(
                        "could not ask GitHub who the token is ({}); assuming {}",
                        failure.message(),
                        api::ACTIONS_BOT
                    );
                    active.author = Some(api::ACTIONS_BOT.to_string());
                    Ok(())
                }
            },
        }
    }

    /// Before the deploy: check the token, create the deployment and mark it in progress. A
    /// token GitHub rejects (401) fails the run here, before anything changed; a missing
    /// permission is a warning.
    pub(crate) async fn start(&mut self) -> Result<()> {
        self.check().await?;
        let Some(active) = self.active.as_mut() else {
            return Ok(());
        };
        let Some(sha) = self.facts.commit.as_deref() else {
            tracing::info!("no commit sha (GITHUB_SHA): skipping the GitHub deployment");
            return Ok(());
        };
        let created = deployments::create(
            &active.api,
            sha,
            &self.stage,
            &self.app,
            &self.function_name,
        )
        .await;
        let id = match created {
            Ok(id) => id,
            Err(e) => {
                return match ApiFailure::classify(&e) {
                    ApiFailure::Unauthorized(m) => {
                        // Nothing else can work with this token: stop before deploying.
                        self.active = None;
                        Err(api::unauthorized("create deployment", &m))
                    }
                    failure => {
                        warn(Part::Deployments, "create a deployment", &failure);
                        Ok(())
                    }
                };
            }
        };
        tracing::info!("GitHub deployment {id} for environment {}", self.stage);
        active.deployment = Some(id);
        let status = deployments::Status {
            environment_url: None,
            log_url: self.facts.run_url.as_deref(),
            description: Some(format!("deploying {}", self.function_name)),
        };
        if let Err(e) =
            deployments::set_status(&active.api, id, DeploymentStatusState::InProgress, &status)
                .await
        {
            warn(
                Part::Deployments,
                "set the deployment in progress",
                &ApiFailure::classify(&e),
            );
        }
        Ok(())
    }

    /// After a deploy: the deployment's final status and the PR comment, side by side.
    pub(crate) async fn deployed(&self, report: &DeployReport) {
        let Some(active) = &self.active else {
            return;
        };
        workflow::group("report to GitHub");
        let status = async {
            let Some(id) = active.deployment else {
                return;
            };
            let (state, description) = if report.superseded {
                // This run's deployment never went live; the newer run's is the live one.
                (
                    DeploymentStatusState::Inactive,
                    format!(
                        "superseded: a newer run is live (version {})",
                        report.version
                    ),
                )
            } else {
                (
                    DeploymentStatusState::Success,
                    format!("{} version {}", report.function_name, report.version),
                )
            };
            let status = deployments::Status {
                environment_url: report.url.as_deref(),
                log_url: self.facts.run_url.as_deref(),
                description: Some(description),
            };
            match deployments::set_status(&active.api, id, state, &status).await {
                Ok(()) => tracing::info!("GitHub deployment {id}: {state:?}"),
                Err(e) => warn(
                    Part::Deployments,
                    "set the deployment status",
                    &ApiFailure::classify(&e),
                ),
            }
        };
        let comment = async {
            if report.superseded {
                // The live run's comment is the true one; don't overwrite it with older news.
                tracing::info!("superseded: leaving the PR comment to the run that is live");
                return;
            }
            let body = report.comment_markdown(&self.facts);
            for pr in self.comment_targets(active).await {
                match comment::upsert(&active.api, pr, &self.app, active.author(), &body).await {
                    Ok(outcome @ comment::Outcome::Created { .. }) => {
                        tracing::info!("PR #{pr}: comment created {}", outcome.html_url());
                    }
                    Ok(outcome) => {
                        tracing::info!("PR #{pr}: comment updated {}", outcome.html_url());
                    }
                    Err(e) => warn(
                        Part::Comment,
                        &format!("comment on PR #{pr}"),
                        &ApiFailure::classify(&e),
                    ),
                }
            }
        };
        tokio::join!(status, comment);
        workflow::end_group();
    }

    /// After a failed deploy: the deployment fails (the comment keeps the last good deploy).
    pub(crate) async fn failed(&self, error: &Error) {
        let Some(active) = &self.active else {
            return;
        };
        let Some(id) = active.deployment else {
            return;
        };
        let status = deployments::Status {
            environment_url: None,
            log_url: self.facts.run_url.as_deref(),
            description: Some(format!("deploy failed ({}): see the run log", error.kind())),
        };
        if let Err(e) =
            deployments::set_status(&active.api, id, DeploymentStatusState::Failure, &status).await
        {
            warn(
                Part::Deployments,
                "mark the deployment failed",
                &ApiFailure::classify(&e),
            );
        }
    }

    /// After a teardown: the stage's deployments go inactive, and an existing PR comment says
    /// the preview was removed.
    pub(crate) async fn torn_down(&self, report: &TeardownReport) {
        let Some(active) = &self.active else {
            return;
        };
        workflow::group("report to GitHub");
        let inactive = async {
            match deployments::deactivate(
                &active.api,
                &self.stage,
                &self.app,
                self.facts.run_url.as_deref(),
            )
            .await
            {
                Ok(n) => tracing::info!(
                    "{n} GitHub deployment(s) of environment {} marked inactive",
                    self.stage
                ),
                Err(e) => warn(
                    Part::Deployments,
                    "mark the stage's deployments inactive",
                    &ApiFailure::classify(&e),
                ),
            }
        };
        let comment = async {
            let body = report.comment_markdown(&self.facts);
            for pr in self.comment_targets(active).await {
                match comment::update_existing(&active.api, pr, &self.app, active.author(), &body)
                    .await
                {
                    Ok(Some(outcome)) => {
                        tracing::info!(
                            "PR #{pr}: comment says the preview was removed {}",
                            outcome.html_url()
                        );
                    }
                    Ok(None) => tracing::info!("PR #{pr}: no deploy-action comment to update"),
                    Err(e) => warn(
                        Part::Comment,
                        &format!("update the comment on PR #{pr}"),
                        &ApiFailure::classify(&e),
                    ),
                }
            }
        };
        tokio::join!(inactive, comment);
        workflow::end_group();
    }

    /// The PRs to comment on: the event's PR (`auto`, `always`), or for other events with
    /// `always` the open PRs whose head is this commit.
    async fn comment_targets(&self, active: &Active) -> Vec<u64> {
        match (active.comment, active.pr) {
            (CommentMode::Never, _) => Vec::new(),
            (_, Some(pr)) => vec![pr],
            (CommentMode::Auto, None) => Vec::new(),
            (CommentMode::Always, None) => {
                let Some(sha) = self.facts.commit.as_deref().filter(|s| {
                    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_hexdigit())
                }) else {
                    return Vec::new();
                };
                match open_pulls_of(&active.api, sha).await {
                    Ok(prs) => {
                        if prs.is_empty() {
                            tracing::info!("--comment always: no open pull request has {sha}");
                        }
                        prs
                    }
                    Err(e) => {
                        warn(
                            Part::Comment,
                            &format!("find the pull requests of {sha}"),
                            &ApiFailure::classify(&e),
                        );
                        Vec::new()
                    }
                }
            }
        }
    }
}

#[derive(serde::Deserialize)]
struct PullRef {
    number: u64,
    state: String,
}

/// Open PRs associated with commit `sha` (`GET /repos/{o}/{r}/commits/{sha}/pulls`).
async fn open_pulls_of(api: &GitHubApi, sha: &str) -> Result<Vec<u64>, octocrab::Error> {
    let pulls: Vec<PullRef> = api
        .crab
        .get(
            api.route(&format!("/commits/{sha}/pulls")),
            Some(&[("per_page", "100")]),
        )
        .await?;
    Ok(pulls
        .into_iter()
        .filter(|p| p.state == "open")
        .map(|p| p.number)
        .collect())
}
