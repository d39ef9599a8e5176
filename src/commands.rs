//! One function per command: validated config in, report out.

use crate::cli::{
    Command, DeployArgs, OutputFormat, PackageArgs, PolicyArgs, PromoteArgs, RollbackArgs,
    StatusArgs, TeardownArgs,
};
use crate::config;
use crate::error::{Error, Result};
use crate::github::context::{EventAction, GitHubContext};
use crate::github::workflow;
use crate::output::{Report, SkipReport, TeardownReport};
use crate::{aws, deploy, ops, package, policy};

/// The output format a command was asked for (errors use it too).
#[must_use]
pub fn output_format(command: &Command) -> OutputFormat {
    match command {
        Command::Deploy(a) => a.target.output,
        Command::Package(a) => a.output,
        Command::Teardown(a) => a.target.output,
        Command::Rollback(a) => a.target.output,
        Command::Promote(a) => a.target.output,
        Command::Status(a) => a.target.output,
        Command::Policy(a) => a.output,
        Command::Serve(_) => OutputFormat::Text,
    }
}

pub async fn dispatch(command: Command) -> Result<Report> {
    match command {
        Command::Deploy(args) => deploy_command(&args).await,
        Command::Package(args) => package_command(&args),
        Command::Teardown(args) => teardown_command(&args).await,
        Command::Rollback(args) => rollback_command(&args).await,
        Command::Promote(args) => promote_command(&args).await,
        Command::Status(args) => status_command(&args).await,
        Command::Policy(args) => policy_command(&args),
        Command::Serve(_) => Err(Error::Internal(
            "this command is not implemented yet".into(),
        )),
    }
}

async fn deploy_command(args: &DeployArgs) -> Result<Report> {
    let github = GitHubContext::from_env()?;
    match github.event_action() {
        EventAction::Teardown if args.target.stage.is_none() => {
            let target = config::resolve_target(&args.target, &github)?;
            tracing::info!("pull request closed: tearing down stage {}", target.stage);
            return teardown(&target).await;
        }
        EventAction::Skip if args.target.stage.is_none() => {
            let reason = "the push deleted its branch or tag: nothing to deploy".to_string();
            workflow::notice(&reason);
            return Ok(Report::Skip(SkipReport {
                app: args.target.app.clone(),
                stage: None,
                skipped: true,
                reason,
            }));
        }
        _ => {}
    }
    let cfg = config::resolve_deploy(args, &github)?;
    let artifact = {
        workflow::group("package");
        let a = package::build(&cfg.build, None);
        workflow::end_group();
        a?
    };
    tracing::info!(
        "artifact {} bytes, sha256 {}",
        artifact.size,
        artifact.sha256_hex
    );
    let aws = aws::connect(&cfg.aws).await?;
    if cfg.dry_run {
        let key = crate::naming::artifact_key(&cfg.store.prefix, &cfg.app, &artifact.sha256_hex);
        let reference = deploy::ArtifactRef {
            bucket: &cfg.store.bucket,
            key,
            code_sha256: artifact.code_sha256.clone(),
            local: Some(&artifact),
        };
        let (plan, _) = deploy::plan(&aws, &cfg, &reference).await?;
        let value = serde_json::to_value(&plan).map_err(|e| Error::Internal(e.to_string()))?;
        let text = format!(
            "plan for {}:\n{}",
            plan.function_name,
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return Ok(Report::Json { value, text });
    }
    let report = deploy::run(&aws, &cfg, &artifact).await?;
    workflow::append_summary(&report.summary_markdown())?;
    Ok(Report::Deploy(report))
}

fn package_command(args: &PackageArgs) -> Result<Report> {
    let settings = config::resolve_build(&args.build)?;
    let artifact = package::build(&settings, Some(&args.out))?;
    Ok(Report::Package(artifact.report()))
}

async fn teardown_command(args: &TeardownArgs) -> Result<Report> {
    let github = GitHubContext::from_env()?;
    let target = config::resolve_target(&args.target, &github)?;
    teardown(&target).await
}

async fn teardown(target: &config::Target) -> Result<Report> {
    let aws = aws::connect(&target.aws).await?;
    let function = aws::lambda::Function::new(&aws.lambda, &target.function_name);
    let deleted = function.delete().await?;
    Ok(Report::Teardown(TeardownReport {
        app: target.app.clone(),
        stage: target.stage.clone(),
        function_name: target.function_name.clone(),
        deleted,
    }))
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
    let aws = aws::connect(&target.aws).await?;
    let report = ops::rollback::run(&aws, &target, to, store.as_ref()).await?;
    Ok(Report::Deploy(report))
}

async fn promote_command(args: &PromoteArgs) -> Result<Report> {
    let github = GitHubContext::from_env()?;
    let report = ops::promote::run(args, &github).await?;
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
