//! One function per command: validated config in, report out.

use crate::cli::{Command, DeployArgs, OutputFormat, PackageArgs, TeardownArgs};
use crate::config;
use crate::error::{Error, Result};
use crate::github::context::{EventAction, GitHubContext};
use crate::github::workflow;
use crate::output::{Report, SkipReport, TeardownReport};
use crate::{aws, deploy, package};

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
        Command::Serve(args) => crate::serve::run(args).await,
        Command::Rollback(_) | Command::Promote(_) | Command::Status(_) | Command::Policy(_) => {
            Err(Error::Internal(
                "this command is not implemented yet".into(),
            ))
        }
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
