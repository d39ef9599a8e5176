//! Tearing a stage down (a PR closed, `teardown`, or `gc` removing a stage): the function and
//! what hangs on it (front door, schedules, log group), only when it is this stage's, then the
//! report to GitHub.

use crate::aws;
use crate::cli::CommentMode;
use crate::config;
use crate::domain;
use crate::error::{Error, Result};
use crate::github::context::GitHubContext;
use crate::github::report::Reporter;
use crate::github::workflow;
use crate::output::TeardownReport;

/// The teardown of one stage, also run by `gc` for each stage it removes (with the PR the
/// stage previews, since a scheduled run has none of its own).
pub(crate) async fn stage(
    aws: &aws::Aws,
    target: &config::Target,
    github: &GitHubContext,
    comment: CommentMode,
    pr: Option<u64>,
    adopt: bool,
    keep_logs: bool,
) -> Result<TeardownReport> {
    let function = aws::lambda::Function::new(&aws.lambda, &target.function_name);
    let deleted = {
        workflow::group("teardown");
        let d = async {
            let deleted = delete_if_ours(aws, &function, target, adopt).await?;
            crate::production::teardown(aws, &target.function_name, keep_logs).await?;
            Ok::<_, Error>(deleted)
        }
        .await;
        workflow::end_group();
        d?
    };
    let report = TeardownReport {
        app: target.app.clone(),
        stage: target.stage.clone(),
        function_name: target.function_name.clone(),
        deleted,
    };
    let mut reporter = Reporter::for_target(github, target, comment);
    if let Some(pr) = pr {
        reporter = reporter.for_pr(pr);
    }
    reporter.torn_down(&report).await;
    Ok(report)
}

/// Delete the function only when it is this stage's (its tags; `--adopt` for an untagged
/// one). `false` when there was none.
async fn delete_if_ours(
    aws: &aws::Aws,
    function: &aws::lambda::Function<'_>,
    target: &config::Target,
    adopt: bool,
) -> Result<bool> {
    let Some((_, tags)) = function.get(None).await? else {
        tracing::info!(
            "{} does not exist: nothing to tear down",
            target.function_name
        );
        return Ok(false);
    };
    crate::ownership::check(
        &target.function_name,
        &target.app,
        &target.stage,
        &tags,
        adopt,
    )?;
    // The front door first: its API would answer 500 without the function.
    domain::teardown(aws, &target.app, &target.stage, &tags).await?;
    // Its schedules' rules (its tags name them) go first, while the tags can be read.
    crate::production::schedule::teardown(aws, &target.function_name, &tags).await?;
    function.delete().await
}
