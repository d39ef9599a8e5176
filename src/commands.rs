//! One function per command: validated config in, report out.

use std::collections::BTreeSet;

use crate::cli::{
    Command, CommentMode, DeployArgs, OutputFormat, PackageArgs, PolicyArgs, PromoteArgs,
    RollbackArgs, StatusArgs, TeardownArgs,
};
use crate::config;
use crate::error::{Error, Result};
use crate::github::context::{EventAction, GitHubContext};
use crate::github::report::Reporter;
use crate::github::{oidc, workflow};
use crate::output::{DeployReport, Report, SkipReport};
use crate::{aws, deploy, domain, ops, package, policy};

/// The output format a command was asked for (errors use it too).
#[must_use]
pub(crate) fn output_format(command: &Command) -> OutputFormat {
    match command {
        Command::Deploy(a) => a.target.output,
        Command::Package(a) => a.output,
        Command::Teardown(a) => a.target.output,
        Command::Rollback(a) => a.target.output,
        Command::Promote(a) => a.target.output,
        Command::Status(a) => a.target.output,
        Command::Policy(a) => a.output,
        Command::Serve(_) => OutputFormat::Text,
        Command::Config(a) => a.deploy.target.output,
        Command::Import(a) => match &a.from {
            crate::import::ImportFrom::Zappa(z) => z.output,
        },
        Command::Invoke(a) => a.target.output,
        Command::Gc(a) => a.target.output,
        Command::Logs(a) => a.target.output,
        Command::Cost(a) => a.target.output,
    }
}

pub(crate) async fn dispatch(command: Command) -> Result<Report> {
    mask_secrets(&command);
    match command {
        Command::Deploy(args) => deploy_command(&args).await,
        Command::Package(args) => package_command(&args),
        Command::Teardown(args) => teardown_command(&args).await,
        Command::Rollback(args) => rollback_command(&args).await,
        Command::Promote(args) => promote_command(&args).await,
        Command::Status(args) => status_command(&args).await,
        Command::Policy(args) => policy_command(&args),
        Command::Serve(args) => crate::serve::run(args).await,
        Command::Config(args) => crate::settings::config_command(&args),
        Command::Import(args) => crate::import::run(&args),
        Command::Invoke(args) => ops::invoke::command(&args).await.map(Report::Invoke),
        Command::Gc(args) => ops::gc::command(&args).await,
        Command::Logs(args) => ops::logs::command(&args).await,
        Command::Cost(args) => ops::cost::command(&args).await,
    }
}

/// Ask the runner to mask every secret we were given, before anything could print one. The
/// OIDC ID token and the STS session keys are masked where they are obtained
/// (`github::oidc`, `aws::sts`).
fn mask_secrets(command: &Command) {
    let flag = match command {
        Command::Deploy(a) => a.target.github_token.clone(),
        Command::Teardown(a) => a.target.github_token.clone(),
        Command::Rollback(a) => a.target.github_token.clone(),
        Command::Promote(a) => a.target.github_token.clone(),
        Command::Status(a) => a.target.github_token.clone(),
        Command::Config(a) => a.deploy.target.github_token.clone(),
        Command::Invoke(a) => a.target.github_token.clone(),
        Command::Gc(a) => a.target.github_token.clone(),
        Command::Logs(a) => a.target.github_token.clone(),
        Command::Cost(a) => a.target.github_token.clone(),
        Command::Package(_) | Command::Policy(_) | Command::Serve(_) | Command::Import(_) => None,
    };
    let from_env = [
        "GITHUB_TOKEN",
        "DEPLOY_GITHUB_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ]
    .into_iter()
    .filter_map(|k| std::env::var(k).ok());
    let secrets: BTreeSet<String> = flag
        .into_iter()
        .chain(from_env)
        .filter(|s| !s.is_empty())
        .collect();
    for secret in &secrets {
        workflow::mask(secret);
    }
}

/// A PR from a fork gets no OIDC token (and no secrets): with `--role-to-assume` there are no
/// credentials to deploy with. Skip with a notice, or fail with `--fail-on-fork`.
fn fork_skip(
    github: &GitHubContext,
    app: &str,
    stage: &str,
    role_to_assume: bool,
    fail_on_fork: bool,
) -> Result<Option<Report>> {
    let Some(pr) = github.pull_request().filter(|pr| pr.is_fork()) else {
        return Ok(None);
    };
    if !role_to_assume {
        return Ok(None);
    }
    let head = pr.head_repo.as_deref().unwrap_or("a deleted repository");
    let reason = format!(
        "pull request #{} comes from the fork {head}: GitHub gives workflows of fork PRs no OIDC token, so --role-to-assume has no credentials; stage {stage} was not deployed",
        pr.number
    );
    if fail_on_fork {
        return Err(Error::GitHubContext {
            message: reason,
            help: Some(
                "drop --fail-on-fork (input `fail-on-fork`) to skip fork PRs with a notice, or deploy them from a workflow that runs after review"
                    .into(),
            ),
        });
    }
    workflow::notice(&reason);
    let report = SkipReport {
        app: Some(app.to_string()),
        stage: Some(stage.to_string()),
        skipped: true,
        reason,
    };
    workflow::append_summary(&report.summary_markdown())?;
    Ok(Some(Report::Skip(report)))
}

async fn deploy_command(args: &DeployArgs) -> Result<Report> {
    let github = GitHubContext::from_env()?;
    match github.event_action() {
        EventAction::Teardown if args.target.stage.is_none() => {
            let target = config::resolve_target(&args.target, &github)?;
            if let Some(skip) = fork_skip(
                &github,
                &target.app,
                &target.stage,
                target.aws.role_to_assume.is_some(),
                args.fail_on_fork,
            )? {
                return Ok(skip);
            }
            tracing::info!("pull request closed: tearing down stage {}", target.stage);
            return teardown(&target, &github, args.comment, args.adopt, args.keep_logs).await;
        }
        EventAction::Skip if args.target.stage.is_none() => {
            let reason = "the push deleted its branch or tag: nothing to deploy".to_string();
            workflow::notice(&reason);
            let report = SkipReport {
                app: args.target.app.clone(),
                stage: None,
                skipped: true,
                reason,
            };
            workflow::append_summary(&report.summary_markdown())?;
            return Ok(Report::Skip(report));
        }
        _ => {}
    }
    let cfg = config::resolve_deploy(args, &github)?;
    if let Some(skip) = fork_skip(
        &github,
        &cfg.app,
        &cfg.stage,
        cfg.aws.role_to_assume.is_some(),
        cfg.fail_on_fork,
    )? {
        return Ok(skip);
    }
    if cfg.aws.role_to_assume.is_some() {
        // Local check: fail before building when the job can't get an OIDC token.
        oidc::request_variables()?;
    }
    if cfg.dry_run {
        return dry_run(&cfg).await;
    }
    let reporter = Reporter::new(
        &github,
        cfg.github_token.as_deref(),
        &cfg.app,
        &cfg.stage,
        &cfg.function_name,
        cfg.comment,
    );
    // Local validation and the build first: bad input (exit 2) leaves no GitHub deployment.
    let checked = build_checked(&cfg)?;
    // Waited for only after the report reached GitHub (when this goes out of scope).
    let _staging = checked.discard_staging();
    let report = reported(reporter, build_and_deploy(&cfg, checked)).await?;
    workflow::append_summary(&report.summary_markdown())?;
    Ok(Report::Deploy(report))
}

/// Run an operation that changes what `live` runs (deploy, rollback, promote) as a GitHub
/// deployment of the stage: in progress first, then success or failure, with the PR comment
/// where `reporter` comments. The environment's history on GitHub then shows what is live.
async fn reported(
    mut reporter: Reporter,
    operation: impl std::future::Future<Output = Result<DeployReport>>,
) -> Result<DeployReport> {
    reporter.start().await?;
    match operation.await {
        Ok(mut report) => {
            crate::domain::finish_report(&mut report);
            reporter.deployed(&report).await;
            Ok(report)
        }
        // `live` moved before a later step failed: GitHub shows what is live, and the run
        // still fails.
        Err(Error::AfterLive {
            step,
            source,
            report,
        }) => {
            reporter.deployed(&report).await;
            workflow::append_summary(&report.summary_markdown())?;
            Err(Error::AfterLive {
                step,
                source,
                report,
            })
        }
        Err(e) => {
            reporter.failed(&e).await;
            Err(e)
        }
    }
}

/// The reporter of rollback and promote: a deployment of the target stage; the PR comment
/// only when run on a pull_request event.
fn stage_reporter(github: &GitHubContext, target: &config::Target) -> Reporter {
    Reporter::for_target(github, target, CommentMode::Auto)
}

/// The build and its checks, in the "package" log group: every local error comes out here,
/// before any request. The zip is not hashed yet.
fn build_checked(cfg: &config::DeployConfig) -> Result<package::Checked> {
    workflow::group("package");
    let checked = package::build_checked(&cfg.build, None);
    workflow::end_group();
    checked
}

async fn build_and_deploy(
    cfg: &config::DeployConfig,
    checked: package::Checked,
) -> Result<DeployReport> {
    // Hashing (the slow part left for a large zip) runs while the credentials and the first
    // reads are under way.
    let hashing = tokio::task::spawn_blocking(move || checked.hash());
    let aws = aws::connect(&cfg.aws).await?;
    // Secrets are read (and masked) while `live` is read, and the front door's checks
    // (certificate, zone, mappings) are made: all before any write. The artifact's HEAD goes
    // out as soon as it is hashed, in the same round trip for a zip that hashes quickly.
    let hashed_and_looked = async {
        let artifact = hashing
            .await
            .map_err(|e| Error::Internal(format!("hashing the artifact: {e}")))??;
        log_artifact(&artifact);
        let stored = deploy::look_for_artifact(&aws, cfg, &artifact).await;
        Ok::<_, Error>((artifact, stored))
    };
    let (first, resolved, front_door, hashed) = tokio::join!(
        deploy::read_live(&aws, cfg),
        crate::production::secrets::resolve(&aws, cfg),
        domain::plan(&aws, cfg),
        hashed_and_looked,
    );
    let (first, cfg, front_door) = (first?, &*resolved?, front_door?);
    let (artifact, stored) = hashed?;
    let first = first.with_artifact_look(stored);
    let mut report = deploy::run_from(&aws, cfg, &artifact, first).await?;
    domain::sync(&aws, cfg, &front_door, &mut report).await?;
    Ok(report)
}

fn log_artifact(artifact: &package::Artifact) {
    tracing::info!(
        "artifact {} bytes, sha256 {}",
        artifact.size,
        artifact.sha256_hex
    );
}

async fn dry_run(cfg: &config::DeployConfig) -> Result<Report> {
    let artifact = build_checked(cfg)?.hash()?;
    log_artifact(&artifact);
    let aws = aws::connect(&cfg.aws).await?;
    let resolved = crate::production::secrets::resolve(&aws, cfg).await?;
    let cfg = &*resolved;
    let key = crate::naming::artifact_key(&cfg.store.prefix, &cfg.app, &artifact.sha256_hex);
    let reference = deploy::ArtifactRef {
        bucket: &cfg.store.bucket,
        key,
        code_sha256: artifact.code_sha256.clone(),
        local: Some(&artifact),
    };
    let (plan, _) = deploy::plan(&aws, cfg, &reference).await?;
    let mut value = serde_json::to_value(&plan).map_err(|e| Error::Internal(e.to_string()))?;
    if cfg.front_door.http_api {
        let front_door = domain::plan(&aws, cfg).await?;
        value["front_door"] =
            serde_json::to_value(&front_door).map_err(|e| Error::Internal(e.to_string()))?;
    }
    let text = format!(
        "plan for {}:\n{}",
        plan.function_name,
        serde_json::to_string_pretty(&value).unwrap_or_default()
    );
    Ok(Report::Json { value, text })
}

fn package_command(args: &PackageArgs) -> Result<Report> {
    let settings = config::resolve_build(&args.build)?;
    let artifact = package::build(&settings, Some(&args.out))?;
    Ok(Report::Package(artifact.report()))
}

async fn teardown_command(args: &TeardownArgs) -> Result<Report> {
    let github = GitHubContext::from_env()?;
    let target = config::resolve_target(&args.target, &github)?;
    if let Some(skip) = fork_skip(
        &github,
        &target.app,
        &target.stage,
        target.aws.role_to_assume.is_some(),
        false,
    )? {
        return Ok(skip);
    }
    teardown(&target, &github, args.comment, args.adopt, args.keep_logs).await
}

/// Delete the stage's function (idempotent), then tell GitHub: its deployments go inactive
/// and the PR comment says the preview was removed.
async fn teardown(
    target: &config::Target,
    github: &GitHubContext,
    comment: CommentMode,
    adopt: bool,
    keep_logs: bool,
) -> Result<Report> {
    let mut reporter = Reporter::for_target(github, target, comment);
    // A token GitHub rejects fails here, before the function is deleted.
    reporter.check().await?;
    let aws = aws::connect(&target.aws).await?;
    let report =
        ops::teardown::stage(&aws, target, github, comment, None, adopt, keep_logs).await?;
    workflow::append_summary(&report.summary_markdown())?;
    Ok(Report::Teardown(report))
}

async fn rollback_command(args: &RollbackArgs) -> Result<Report> {
    let github = GitHubContext::from_env()?;
    let target = config::resolve_target(&args.target, &github)?;
    let to = args
        .to
        .as_deref()
        .map(ops::rollback::validate_to)
        .transpose()?;
    let store = match &args.store.s3_bucket {
        Some(_) => Some(config::resolve_store(&args.store)?),
        None => None,
    };
    let rollback = async {
        let aws = aws::connect(&target.aws).await?;
        let mut report = ops::rollback::run(&aws, &target, to, store.as_ref()).await?;
        domain::attach(&aws, &target.app, &target.stage, &mut report).await?;
        Ok(report)
    };
    let report = reported(stage_reporter(&github, &target), rollback).await?;
    workflow::append_summary(&report.summary_markdown())?;
    Ok(Report::Deploy(report))
}

async fn promote_command(args: &PromoteArgs) -> Result<Report> {
    let github = GitHubContext::from_env()?;
    let checked = ops::promote::check(args, &github)?;
    let target = checked.target.clone();
    let promote = ops::promote::run(args, &github, checked);
    let report = reported(stage_reporter(&github, &target), promote).await?;
    workflow::append_summary(&report.summary_markdown())?;
    Ok(Report::Deploy(report))
}

async fn status_command(args: &StatusArgs) -> Result<Report> {
    let github = GitHubContext::from_env()?;
    let app = args.target.app.clone().ok_or_else(|| {
        Error::missing(
            "--app",
            "no app name given",
            "pass --app NAME (env DEPLOY_APP): status lists the stages of one app",
        )
    })?;
    crate::naming::validate_app(&app)?;
    if let Some(stage) = &args.target.stage {
        crate::naming::validate_stage(stage)?;
    }
    // Only the AWS settings of the target matter: status reads every stage unless --stage.
    let mut target_args = args.target.clone();
    target_args.stage = Some(args.target.stage.clone().unwrap_or_else(|| "status".into()));
    let target = config::resolve_target(&target_args, &github)?;
    let aws = aws::connect(&target.aws).await?;
    let status = ops::status::run(&aws, &app, args.target.stage.as_deref()).await?;
    let value = serde_json::to_value(&status).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Report::Json {
        value,
        text: status.text(),
    })
}

fn policy_command(args: &PolicyArgs) -> Result<Report> {
    let github = GitHubContext::from_env()?;
    let input = policy::resolve(args, &github)?;
    let report = policy::report(&input);
    let value = serde_json::to_value(&report).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Report::Json {
        value,
        text: report.text(),
    })
}
