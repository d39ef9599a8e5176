//! `promote --from STAGE --to STAGE`: deploy exactly the artifact that is live on one stage
//! to another, without rebuilding (docs/contract.md, "Model": the artifact is stored once, by sha256).
//!
//! The source's `live` version names its code by CodeSha256 (base64 of the zip's sha256),
//! which is the artifact's S3 key (`<prefix>/<app>/<hex>.zip`). The target gets that object
//! through the ordinary deploy pipeline (plan → execute, with no local copy, so nothing is
//! uploaded) and the target's own configuration from the flags; runtime, handler and
//! architecture default to the source's, since they belong to the build. The new version
//! records where it came from: `promoted-from=<stage>@<version>`.

use std::path::PathBuf;

use aws_sdk_s3::error::SdkError;

use crate::aws::Aws;
use crate::aws::errors::{is_not_found, wrap};
use crate::aws::lambda::Function;
use crate::cli::{CommentMode, PromoteArgs};
use crate::config::{
    self, Architecture, ArtifactSource, BuildSettings, DeployConfig, FunctionSettings, Rollout,
};
use crate::deploy::{self, ArtifactRef};
use crate::error::{Error, Result};
use crate::github::context::GitHubContext;
use crate::naming::{self, LIVE_ALIAS, Provenance};
use crate::output::DeployReport;

/// The provenance word a promoted version carries.
pub(crate) const PROMOTED_FROM: &str = "promoted-from";

/// The checked flags of a promote (all local, exit 2 on any error).
pub(crate) struct Checked {
    /// The stage promoted to.
    pub target: config::Target,
    from: String,
    from_function: String,
    store: config::Store,
}

/// Check every flag of a promote (local only).
pub(crate) fn check(args: &PromoteArgs, github: &GitHubContext) -> Result<Checked> {
    naming::validate_stage(&args.from).map_err(|e| rename_flag(e, "--from"))?;
    naming::validate_stage(&args.to).map_err(|e| rename_flag(e, "--to"))?;
    if args.from == args.to {
        return Err(Error::invalid(
            "--to",
            format!("--from and --to are both {:?}", args.from),
            "promote from one stage to another, e.g. --from pr-7 --to main",
        ));
    }
    if let Some(stage) = &args.target.stage
        && stage != &args.to
    {
        return Err(Error::invalid(
            "--stage",
            format!(
                "--stage {stage} contradicts --to {}: promote deploys to --to",
                args.to
            ),
            "drop --stage (and DEPLOY_STAGE) for promote",
        ));
    }
    let mut target_args = args.target.clone();
    target_args.stage = Some(args.to.clone());
    let target = config::resolve_target(&target_args, github)?;
    let store = config::resolve_store(&args.store)?;
    if let Some(runtime) = &args.runtime {
        config::validate_runtime(runtime)?;
    }
    if let Some(handler) = &args.handler {
        validate_handler(handler)?;
    }
    // The rest of the function flags, checked now with stand-ins for what the source decides.
    config::resolve_function(
        &args.function,
        "provided.al2023".into(),
        "bootstrap".into(),
        Architecture::Arm64,
    )?;
    Ok(Checked {
        from_function: naming::function_name(&target.app, &args.from),
        from: args.from.clone(),
        target,
        store,
    })
}

/// Errors of the stage check name `--stage`; here the stage came from `--from` / `--to`.
fn rename_flag(e: Error, flag: &'static str) -> Error {
    match e {
        Error::InvalidInput { message, help, .. } => Error::InvalidInput {
            flag,
            message,
            help: help.map(|h| h.replace("--stage", flag)),
        },
        other => other,
    }
}

fn validate_handler(handler: &str) -> Result<()> {
    if handler.is_empty() || handler.len() > 128 || handler.contains(char::is_whitespace) {
        return Err(Error::invalid(
            "--handler",
            format!("{handler:?} is not a valid handler"),
            "use up to 128 characters without spaces, e.g. bootstrap or app.handler",
        ));
    }
    Ok(())
}

fn architecture(name: Option<&str>) -> Architecture {
    match name {
        Some("x86_64") => Architecture::X86_64,
        _ => Architecture::Arm64,
    }
}

/// Validate, read the source, deploy its artifact to the target.
pub(crate) async fn run(
    args: &PromoteArgs,
    github: &GitHubContext,
    checked: Checked,
) -> Result<DeployReport> {
    let aws = crate::aws::connect(&checked.target.aws).await?;
    promote(&aws, args, github, checked).await
}

async fn promote(
    aws: &Aws,
    args: &PromoteArgs,
    github: &GitHubContext,
    checked: Checked,
) -> Result<DeployReport> {
    let Checked {
        target,
        from,
        from_function,
        store,
    } = checked;
    let source = Function::new(&aws.lambda, &from_function);
    let live = match source.alias(LIVE_ALIAS).await? {
        Some(_) => source.get(Some(LIVE_ALIAS)).await?.map(|(c, _)| c),
        None => None,
    };
    let Some(live) = live else {
        return Err(Error::invalid(
            "--from",
            format!("stage {from} has nothing live ({from_function} has no `{LIVE_ALIAS}` alias)"),
            "deploy the source stage first, or check --app and --from (`deploy-action status` lists the stages)",
        ));
    };
    let hex = super::code_sha256_hex(&live.code_sha256).ok_or_else(|| {
        Error::Internal(format!(
            "{from_function}:{LIVE_ALIAS} reports CodeSha256 {:?}, not a base64 sha256",
            live.code_sha256
        ))
    })?;
    let key = naming::artifact_key(&store.prefix, &target.app, &hex);
    check_artifact(aws, &store.bucket, &key, &from_function, &live.version).await?;
    tracing::info!(
        "promoting {from_function} version {} (s3://{}/{key}) to {}",
        live.version,
        store.bucket,
        target.function_name
    );

    let runtime = args
        .runtime
        .clone()
        .or(live.runtime.clone())
        .unwrap_or_else(|| "provided.al2023".into());
    let handler = args
        .handler
        .clone()
        .or(live.handler.clone())
        .unwrap_or_else(|| "bootstrap".into());
    let arch = args
        .architecture
        .map_or_else(|| architecture(live.architecture.as_deref()), Into::into);
    let function: FunctionSettings =
        config::resolve_function(&args.function, runtime.clone(), handler.clone(), arch)?;

    // The code is the source's commit; the run is this one (it orders deploys on the target).
    let source_provenance = Provenance::parse(&live.description);
    let provenance = Provenance {
        sha: source_provenance.sha.clone(),
        run_id: github.run_id,
        git_ref: source_provenance.git_ref.clone(),
        extra: vec![(PROMOTED_FROM.into(), format!("{from}@{}", live.version))],
    };
    let cfg = DeployConfig {
        app: target.app.clone(),
        stage: target.stage.clone(),
        function_name: target.function_name.clone(),
        build: BuildSettings {
            source: ArtifactSource::Prebuilt {
                path: PathBuf::from(format!("s3://{}/{key}", store.bucket)),
            },
            architecture: arch,
            runtime,
            handler,
            exclude: Vec::new(),
        },
        function,
        store: store.clone(),
        aws: target.aws.clone(),
        provenance,
        adopt: args.adopt,
        force: args.force,
        dry_run: false,
        fail_on_fork: false,
        comment: CommentMode::Never,
        github_token: target.github_token.clone(),
        rollout: Rollout {
            canary_percent: None,
            canary_minutes: 0,
            smoke_path: None,
            smoke_status: 200,
        },
        // The target's front door (if any) points at its `live` alias: nothing to change.
        front_door: crate::domain::FrontDoor::default(),
        release_command: None,
    };
    let reference = ArtifactRef {
        bucket: &store.bucket,
        key,
        code_sha256: live.code_sha256.clone(),
        local: None,
    };
    let cfg = crate::production::secrets::resolve(aws, &cfg).await?;
    let (plan, observed) = deploy::plan(aws, &cfg, &reference).await?;
    let mut report = deploy::execute(aws, &cfg, &reference, &plan, observed).await?;
    crate::domain::attach(aws, &cfg.app, &cfg.stage, &mut report).await?;
    Ok(report)
}

/// The artifact must be in the bucket: promotion never rebuilds. Without s3:ListBucket (the
/// generated policy does not grant it) S3 answers a HEAD of a missing key with 403, so 403
/// counts as missing too, and the message says both.
async fn check_artifact(
    aws: &Aws,
    bucket: &str,
    key: &str,
    source: &str,
    version: &str,
) -> Result<()> {
    let missing = |detail: &str| {
        Error::Aws {
        step: "promote",
        operation: "HeadObject",
        resource: format!("s3://{bucket}/{key}"),
        message: format!(
            "the artifact of {source} version {version} is not there ({detail})"
        ),
        help: Some(
            "promote needs the artifact the source was deployed from: pass the same --s3-bucket and --s3-prefix as its deploy, or deploy the source stage again (its artifact may have been deleted)".into(),
        ),
        rejected: true,
    }
    };
    match aws.s3.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Err(missing("404 Not Found")),
        Err(SdkError::ServiceError(e)) if e.raw().status().as_u16() == 403 => Err(missing(
            "403 Forbidden: missing, or the deploy role may not read it",
        )),
        Err(e) => Err(wrap(
            "promote",
            "HeadObject",
            format!("s3://{bucket}/{key}"),
            e,
        )),
    }
}
