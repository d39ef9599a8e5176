//! Validated settings. Everything here is checked locally, before any network call: an
//! error from this module means exit 2 and nothing changed (docs/contract.md, "Resolve and validate").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::cli::{self, ArchitectureArg, BuildKind, CommentMode, FunctionUrlArg, OutputFormat};
use crate::error::{Error, Result};
use crate::github::context::GitHubContext;
use crate::naming::{self, Provenance};

/// Lambda's instruction sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    Arm64,
    X86_64,
}

impl Architecture {
    /// The name Lambda uses.
    #[must_use]
    pub fn lambda_name(self) -> &'static str {
        match self {
            Architecture::Arm64 => "arm64",
            Architecture::X86_64 => "x86_64",
        }
    }

    /// ELF `e_machine` of binaries for this architecture.
    #[must_use]
    pub fn elf_machine(self) -> u16 {
        match self {
            Architecture::Arm64 => 0xB7,
            Architecture::X86_64 => 0x3E,
        }
    }

    /// The architecture of the machine we run on, if Lambda has it.
    #[must_use]
    pub fn host() -> Option<Architecture> {
        match std::env::consts::ARCH {
            "aarch64" => Some(Architecture::Arm64),
            "x86_64" => Some(Architecture::X86_64),
            _ => None,
        }
    }
}

impl std::fmt::Display for Architecture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.lambda_name())
    }
}

impl From<ArchitectureArg> for Architecture {
    fn from(a: ArchitectureArg) -> Self {
        match a {
            ArchitectureArg::Arm64 => Architecture::Arm64,
            ArchitectureArg::X86_64 => Architecture::X86_64,
        }
    }
}

/// Function URL mode on the `live` alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum UrlMode {
    Public,
    Iam,
    None,
}

impl From<FunctionUrlArg> for UrlMode {
    fn from(a: FunctionUrlArg) -> Self {
        match a {
            FunctionUrlArg::Public => UrlMode::Public,
            FunctionUrlArg::Iam => UrlMode::Iam,
            FunctionUrlArg::None => UrlMode::None,
        }
    }
}

/// What the artifact is made from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum ArtifactSource {
    /// A prebuilt zip or directory, packaged as is (deterministically).
    Prebuilt { path: PathBuf },
    /// A Rust package built with cargo-lambda.
    Rust {
        source: PathBuf,
        bin: Option<String>,
    },
    /// A Python WSGI/ASGI app with its dependencies.
    Python {
        source: PathBuf,
        app: Option<String>,
        /// `--no-compile`: ship no bytecode (left out of the JSON when false).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        no_compile: bool,
    },
}

/// How to make the artifact.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct BuildSettings {
    pub source: ArtifactSource,
    pub architecture: Architecture,
    pub runtime: String,
    pub handler: String,
    pub exclude: Vec<String>,
}

/// The function's configuration as we want it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct FunctionSettings {
    pub runtime: String,
    pub handler: String,
    pub architecture: Architecture,
    pub memory: i32,
    pub timeout: i32,
    pub env: BTreeMap<String, String>,
    pub execution_role: Option<String>,
    pub function_url: UrlMode,
    pub keep_versions: u32,
    /// `--env NAME=ssm:...` / `NAME=secretsmanager:...`: resolved into `env` at deploy time
    /// (`production::secrets`), never printed.
    pub secrets: BTreeMap<String, crate::production::secrets::SecretRef>,
    /// Production settings (README "Production settings").
    pub production: crate::production::Settings,
}

/// Where artifacts live.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Store {
    pub bucket: String,
    pub prefix: String,
}

/// AWS access.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AwsSettings {
    pub region: Option<String>,
    pub role_to_assume: Option<String>,
    /// How long the `--role-to-assume` session must last (`None`: an hour): long enough for
    /// the whole command, so that no step meets ExpiredToken half-way.
    pub session_seconds: Option<i32>,
}

/// An STS role session lasts at most 12 hours (AssumeRoleWithWebIdentity, DurationSeconds:
/// "from 900 seconds (15 minutes) up to the maximum session duration setting for the role",
/// which is at most 43200 seconds).
pub(crate) const MAX_SESSION_SECONDS: i32 = 43_200;
/// What a session needs besides the canary's hold: build, upload, the function's updates,
/// the smoke checks and the report.
const SESSION_MARGIN_SECONDS: i32 = 1800;

/// The session a deploy with a canary held `canary_minutes` needs: at least an hour (the
/// default, which every role allows), else the hold plus a margin. Too long for STS: exit 2.
pub(crate) fn session_seconds(canary_minutes: u32) -> Result<i32> {
    let needed = i64::from(canary_minutes) * 60 + i64::from(SESSION_MARGIN_SECONDS);
    if needed > i64::from(MAX_SESSION_SECONDS) {
        return Err(Error::invalid(
            "--canary-minutes",
            format!(
                "a {canary_minutes}-minute canary outlasts the longest role session STS grants (12 h, with {} min for the rest of the deploy)",
                SESSION_MARGIN_SECONDS / 60
            ),
            format!(
                "hold the canary for at most {} minutes",
                (MAX_SESSION_SECONDS - SESSION_MARGIN_SECONDS) / 60
            ),
        ));
    }
    Ok(i32::try_from(needed)
        .unwrap_or(MAX_SESSION_SECONDS)
        .max(3600))
}

/// Canary and smoke-check settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Rollout {
    pub canary_percent: Option<u8>,
    pub canary_minutes: u32,
    pub smoke_path: Option<String>,
    pub smoke_status: u16,
}

/// Everything a deploy needs, checked.
#[derive(Debug, Clone)]
pub(crate) struct DeployConfig {
    pub app: String,
    pub stage: String,
    pub function_name: String,
    pub build: BuildSettings,
    pub function: FunctionSettings,
    pub store: Store,
    pub aws: AwsSettings,
    pub provenance: Provenance,
    pub adopt: bool,
    pub force: bool,
    pub dry_run: bool,
    pub fail_on_fork: bool,
    pub comment: CommentMode,
    pub github_token: Option<String>,
    pub rollout: Rollout,
    /// Function URL or HTTP API, and the custom domain (`crate::domain`).
    pub front_door: crate::domain::FrontDoor,
    /// `--release-command`: runs on the new version before `live` moves (`ops::invoke`).
    pub release_command: Option<crate::ops::invoke::Payload>,
}

/// App, stage and function of a command that targets one stage.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub app: String,
    pub stage: String,
    pub function_name: String,
    pub aws: AwsSettings,
    pub github_token: Option<String>,
    pub output: OutputFormat,
}

const RUNTIMES: &[&str] = &[
    "provided.al2023",
    "provided.al2",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
];

/// Environment variables Lambda sets itself and refuses in a function's configuration.
const RESERVED_ENV: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// Resolve app and stage (explicit, else from the event) and the function name.
pub(crate) fn resolve_target(args: &cli::TargetArgs, github: &GitHubContext) -> Result<Target> {
    let app = args.app.clone().ok_or_else(|| {
        Error::missing(
            "--app",
            "no app name given",
            "pass --app NAME (input `app`, env DEPLOY_APP); the function is named <app>-<stage>",
        )
    })?;
    naming::validate_app(&app)?;
    let stage = match &args.stage {
        Some(s) => s.clone(),
        None => github.default_stage()?,
    };
    naming::validate_stage(&stage)?;
    let aws = aws_settings(args)?;
    Ok(Target {
        function_name: naming::function_name(&app, &stage),
        app,
        stage,
        aws,
        github_token: github_token(args.github_token.as_ref()),
        output: args.output,
    })
}

fn github_token(flag: Option<&String>) -> Option<String> {
    flag.cloned()
        .or_else(|| std::env::var("GITHUB_TOKEN").ok())
        .filter(|t| !t.is_empty())
}

fn aws_settings(args: &cli::TargetArgs) -> Result<AwsSettings> {
    if let Some(region) = &args.region {
        validate_region(region)?;
    }
    if let Some(role) = &args.role_to_assume {
        validate_role_arn("--role-to-assume", role)?;
    }
    Ok(AwsSettings {
        region: args.region.clone(),
        role_to_assume: args.role_to_assume.clone(),
        session_seconds: None,
    })
}

pub(crate) fn validate_region(region: &str) -> Result<()> {
    let ok = region.split('-').count() >= 3
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "--region",
            format!("{region:?} is not an AWS region name"),
            "use a region such as us-east-1 or eu-west-1",
        ))
    }
}

pub(crate) fn validate_role_arn(flag: &'static str, arn: &str) -> Result<()> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5].starts_with("role/")
        && parts[5].len() > "role/".len();
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            flag,
            format!("{arn:?} is not an IAM role ARN"),
            "use the form arn:aws:iam::123456789012:role/NAME",
        ))
    }
}

/// Resolve how the artifact is built (detecting the kind for `--build auto`) and the runtime
/// and handler that go with it.
pub(crate) fn resolve_build(args: &cli::BuildArgs) -> Result<BuildSettings> {
    let architecture: Architecture = args.architecture.into();
    let kind = match (&args.artifact, args.build) {
        (Some(_), BuildKind::Rust | BuildKind::Python) => {
            return Err(Error::invalid(
                "--artifact",
                "--artifact deploys a prebuilt artifact, but --build asks to build one",
                "drop --build (or use --build none) with --artifact, or drop --artifact to build from --source",
            ));
        }
        (Some(_), _) => BuildKind::None,
        (None, BuildKind::None) => {
            return Err(Error::missing(
                "--artifact",
                "--build none needs a prebuilt artifact",
                "pass --artifact PATH (a .zip or a directory), or --build auto to build --source",
            ));
        }
        (None, BuildKind::Auto) => detect_build(&args.source)?,
        (None, k) => k,
    };
    let source = match kind {
        BuildKind::None => {
            let path = args.artifact.clone().unwrap_or_default();
            check_artifact_path(&path)?;
            ArtifactSource::Prebuilt { path }
        }
        BuildKind::Rust => {
            check_source_dir(&args.source)?;
            ArtifactSource::Rust {
                source: args.source.clone(),
                bin: args.bin.clone(),
            }
        }
        BuildKind::Python => {
            check_source_dir(&args.source)?;
            if let Some(app) = &args.python_app {
                validate_python_app(app)?;
            }
            ArtifactSource::Python {
                source: args.source.clone(),
                app: args.python_app.clone(),
                no_compile: args.no_compile,
            }
        }
        BuildKind::Auto => unreachable!("auto is resolved above"),
    };
    let (default_runtime, default_handler) = match &source {
        ArtifactSource::Python { .. } => ("python3.13", "deploy_action_handler.handler"),
        ArtifactSource::Rust { .. } => ("provided.al2023", "bootstrap"),
        ArtifactSource::Prebuilt { path } => prebuilt_defaults(path),
    };
    let runtime = args
        .runtime
        .clone()
        .unwrap_or_else(|| default_runtime.into());
    validate_runtime(&runtime)?;
    let handler = args
        .handler
        .clone()
        .unwrap_or_else(|| default_handler.into());
    if handler.is_empty() || handler.len() > 128 || handler.contains(char::is_whitespace) {
        return Err(Error::invalid(
            "--handler",
            format!("{handler:?} is not a valid handler"),
            "use up to 128 characters without spaces, e.g. bootstrap or app.handler",
        ));
    }
    for glob in &args.exclude {
        globset::Glob::new(glob).map_err(|e| {
            Error::invalid(
                "--exclude",
                format!("{glob:?} is not a valid glob: {e}"),
                "use shell-style globs such as tests/** or *.md",
            )
        })?;
    }
    Ok(BuildSettings {
        source,
        architecture,
        runtime,
        handler,
        exclude: args
            .exclude
            .iter()
            .filter(|g| !g.is_empty())
            .cloned()
            .collect(),
    })
}

/// Runtime and handler for a prebuilt artifact: a `bootstrap` at its root means a custom
/// runtime; otherwise we assume the Python adapter.
fn prebuilt_defaults(path: &Path) -> (&'static str, &'static str) {
    let has_bootstrap = if path.is_dir() {
        path.join("bootstrap").is_file()
    } else {
        zip_has_bootstrap(path)
    };
    if has_bootstrap {
        ("provided.al2023", "bootstrap")
    } else {
        ("python3.13", "deploy_action_handler.handler")
    }
}

/// Whether a zip has `bootstrap` at its root. An unreadable zip says no here; the package
/// step reads it properly and reports what is wrong with it.
fn zip_has_bootstrap(path: &Path) -> bool {
    std::fs::File::open(path)
        .ok()
        .and_then(|f| zip::ZipArchive::new(std::io::BufReader::new(f)).ok())
        .is_some_and(|archive| archive.index_for_name("bootstrap").is_some())
}

fn detect_build(source: &Path) -> Result<BuildKind> {
    check_source_dir(source)?;
    if source.join("Cargo.toml").is_file() {
        return Ok(BuildKind::Rust);
    }
    for marker in ["requirements.txt", "Pipfile.lock", "pyproject.toml"] {
        if source.join(marker).is_file() {
            return Ok(BuildKind::Python);
        }
    }
    for entry in ["app.py", "main.py", "run.py", "manage.py"] {
        if source.join(entry).is_file() {
            return Ok(BuildKind::Python);
        }
    }
    Err(Error::package(
        format!(
            "{} has no app to build: no Cargo.toml, requirements.txt, Pipfile.lock, pyproject.toml, app.py, main.py, run.py or manage.py",
            source.display()
        ),
        "point --source at the app's directory, pass --build rust|python, or deploy a prebuilt --artifact",
    ))
}

fn check_source_dir(source: &Path) -> Result<()> {
    if source.is_dir() {
        Ok(())
    } else {
        Err(Error::invalid(
            "--source",
            format!("{} is not a directory", source.display()),
            "point --source at the app's directory (default: the current directory)",
        ))
    }
}

fn check_artifact_path(path: &Path) -> Result<()> {
    if path.as_os_str().is_empty() {
        return Err(Error::missing(
            "--artifact",
            "no artifact given",
            "pass --artifact PATH (a .zip or a directory)",
        ));
    }
    if path.is_dir() {
        return Ok(());
    }
    if path.is_file() {
        if path.extension().and_then(|e| e.to_str()) == Some("zip") {
            return Ok(());
        }
        return Err(Error::invalid(
            "--artifact",
            format!("{} is neither a .zip nor a directory", path.display()),
            "pass a .zip file or a directory holding the function's files",
        ));
    }
    Err(Error::invalid(
        "--artifact",
        format!("{} does not exist", path.display()),
        "pass the path of a built .zip or directory (relative to the working directory)",
    ))
}

fn validate_python_app(app: &str) -> Result<()> {
    let ok = app.split_once(':').is_some_and(|(m, a)| {
        !m.is_empty()
            && !a.is_empty()
            && m.split('.').all(is_identifier)
            && a.split('.').all(is_identifier)
    });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "--python-app",
            format!("{app:?} is not module:attribute"),
            "use the form module:attr, e.g. --python-app run:app",
        ))
    }
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(crate) fn validate_runtime(runtime: &str) -> Result<()> {
    if RUNTIMES.contains(&runtime) {
        Ok(())
    } else {
        Err(Error::invalid(
            "--runtime",
            format!("{runtime:?} is not a Lambda runtime deploy-action supports"),
            format!("use one of: {}", RUNTIMES.join(", ")),
        ))
    }
}

/// Check function settings (memory, timeout, env, role, ...).
pub(crate) fn resolve_function(
    args: &cli::FunctionArgs,
    runtime: String,
    handler: String,
    architecture: Architecture,
) -> Result<FunctionSettings> {
    if !(128..=10240).contains(&args.memory) {
        return Err(Error::invalid(
            "--memory",
            format!("{} MB is outside Lambda's range", args.memory),
            "use a value from 128 to 10240 (MB), e.g. --memory 512",
        ));
    }
    if !(1..=900).contains(&args.timeout) {
        return Err(Error::invalid(
            "--timeout",
            format!("{} s is outside Lambda's range", args.timeout),
            "use a value from 1 to 900 (seconds), e.g. --timeout 30",
        ));
    }
    if args.keep_versions == 0 {
        return Err(Error::invalid(
            "--keep-versions",
            "0 would delete the version that rollback needs",
            "use 1 or more (default 5)",
        ));
    }
    let mut env = parse_env(&args.env)?;
    let secrets = crate::production::secrets::split_references(&mut env)?;
    let production = crate::production::resolve(&args.production, &runtime, architecture)?;
    if let Some(role) = &args.execution_role {
        validate_role_arn("--execution-role", role)?;
    }
    Ok(FunctionSettings {
        runtime,
        handler,
        architecture,
        memory: i32::try_from(args.memory).unwrap_or(i32::MAX),
        timeout: i32::try_from(args.timeout).unwrap_or(i32::MAX),
        env,
        execution_role: args.execution_role.clone(),
        function_url: args.function_url.into(),
        keep_versions: args.keep_versions,
        secrets,
        production,
    })
}

/// Parse `KEY=VALUE` pairs, checking names as Lambda does.
pub(crate) fn parse_env(pairs: &[String]) -> Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::new();
    let mut total = 0;
    for pair in pairs.iter().filter(|p| !p.trim().is_empty()) {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(Error::invalid(
                "--env",
                format!("{:?} has no `=`", redact_env_value(pair)),
                "use --env KEY=VALUE",
            ));
        };
        let key = key.trim();
        let valid = key.starts_with(|c: char| c.is_ascii_alphabetic())
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(Error::invalid(
                "--env",
                format!("{key:?} is not a valid environment variable name"),
                "names start with a letter and hold only letters, digits and _ (e.g. DATABASE_URL)",
            ));
        }
        if RESERVED_ENV.contains(&key) {
            return Err(Error::invalid(
                "--env",
                format!("{key} is reserved by Lambda"),
                "Lambda sets it itself; choose another name",
            ));
        }
        total += key.len() + value.len();
        env.insert(key.to_string(), value.to_string());
    }
    if total > 4096 {
        return Err(Error::invalid(
            "--env",
            format!("the variables take {total} bytes; Lambda allows 4 KB"),
            "move large values to SSM Parameter Store or Secrets Manager and pass their names",
        ));
    }
    Ok(env)
}

fn redact_env_value(pair: &str) -> String {
    // A malformed pair may still hold a secret: show only its start.
    pair.chars().take(12).collect::<String>() + if pair.len() > 12 { "…" } else { "" }
}

fn validate_bucket(bucket: &str) -> Result<()> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "--s3-bucket",
            format!("{bucket:?} is not a valid S3 bucket name"),
            "bucket names have 3-63 lowercase letters, digits, `-` or `.`",
        ))
    }
}

pub(crate) fn resolve_store(args: &cli::StoreArgs) -> Result<Store> {
    let bucket = args.s3_bucket.clone().ok_or_else(|| {
        Error::missing(
            "--s3-bucket",
            "no artifact bucket given",
            "pass --s3-bucket NAME (input `s3-bucket`, env DEPLOY_S3_BUCKET): artifacts are stored there by sha256",
        )
    })?;
    validate_bucket(&bucket)?;
    if args.s3_prefix.contains("..") || args.s3_prefix.starts_with(' ') {
        return Err(Error::invalid(
            "--s3-prefix",
            format!("{:?} is not a usable key prefix", args.s3_prefix),
            "use a plain prefix such as deploy-action",
        ));
    }
    Ok(Store {
        bucket,
        prefix: args.s3_prefix.trim_matches('/').to_string(),
    })
}

/// Provenance of this run, from the GitHub context.
#[must_use]
pub(crate) fn provenance(github: &GitHubContext) -> Provenance {
    Provenance {
        sha: github.commit_sha(),
        run_id: github.run_id,
        git_ref: github
            .pull_request()
            .map(|pr| format!("refs/pull/{}/head", pr.number))
            .or_else(|| github.git_ref.clone()),
        extra: Vec::new(),
    }
}

pub(crate) fn resolve_rollout(args: &cli::DeployArgs) -> Result<Rollout> {
    if let Some(p) = args.canary
        && !(1..=99).contains(&p)
    {
        return Err(Error::invalid(
            "--canary",
            format!("{p}% is not a canary share"),
            "use a percentage from 1 to 99, e.g. --canary 10",
        ));
    }
    if let Some(path) = &args.smoke_path
        && !path.starts_with('/')
    {
        return Err(Error::invalid(
            "--smoke-path",
            format!("{path:?} does not start with /"),
            "use a path such as /healthz",
        ));
    }
    if !(100..=599).contains(&args.smoke_status) {
        return Err(Error::invalid(
            "--smoke-status",
            format!("{} is not an HTTP status", args.smoke_status),
            "use a status code such as 200",
        ));
    }
    Ok(Rollout {
        canary_percent: args.canary,
        canary_minutes: args.canary_minutes,
        smoke_path: args.smoke_path.clone(),
        smoke_status: args.smoke_status,
    })
}

/// Validate a whole deploy.
pub(crate) fn resolve_deploy(
    args: &cli::DeployArgs,
    github: &GitHubContext,
) -> Result<DeployConfig> {
    let target = resolve_target(&args.target, github)?;
    let build = resolve_build(&args.build)?;
    let function = resolve_function(
        &args.function,
        build.runtime.clone(),
        build.handler.clone(),
        build.architecture,
    )?;
    crate::production::schedule::check_targets(&build.source, &function.production.schedules)?;
    let store = resolve_store(&args.store)?;
    let rollout = resolve_rollout(args)?;
    let front_door = crate::domain::resolve(
        &args.domain,
        &target.stage,
        github.pull_request().map(|pr| pr.number),
        target.aws.region.as_deref(),
    )?;
    let mut target = target;
    if target.aws.role_to_assume.is_some() && rollout.canary_percent.is_some() {
        target.aws.session_seconds = Some(session_seconds(rollout.canary_minutes)?);
    }
    let release_command = args
        .release_command
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .map(crate::ops::invoke::parse_release_command)
        .transpose()?;
    if release_command.is_some() {
        crate::ops::invoke::check_release_target(&function)?;
    }
    Ok(DeployConfig {
        app: target.app,
        stage: target.stage,
        function_name: target.function_name,
        build,
        function,
        store,
        aws: target.aws,
        provenance: provenance(github),
        adopt: args.adopt,
        force: args.force,
        dry_run: args.dry_run,
        fail_on_fork: args.fail_on_fork,
        comment: args.comment,
        github_token: target.github_token,
        rollout,
        front_door,
        release_command,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_are_checked() {
        assert!(parse_env(&["1BAD=x".into()]).is_err());
        assert!(parse_env(&["AWS_REGION=x".into()]).is_err());
        assert!(parse_env(&["NOEQUALS".into()]).is_err());
        let env = parse_env(&["A=1".into(), "B_2=x=y".into(), String::new()]).unwrap();
        assert_eq!(env.get("B_2").unwrap(), "x=y");
        assert_eq!(env.len(), 2);
    }

    #[test]
    fn role_arns_are_checked() {
        assert!(validate_role_arn("--execution-role", "arn:aws:iam::123456789012:role/x").is_ok());
        assert!(validate_role_arn("--execution-role", "arn:aws:iam::123:role/x").is_err());
        assert!(validate_role_arn("--execution-role", "role/x").is_err());
    }

    #[test]
    fn buckets_are_checked() {
        assert!(validate_bucket("my-bucket").is_ok());
        assert!(validate_bucket("My_Bucket").is_err());
        assert!(validate_bucket("ab").is_err());
    }

    #[test]
    fn python_app_spec() {
        assert!(validate_python_app("run:app").is_ok());
        assert!(validate_python_app("pkg.main:create.app").is_ok());
        assert!(validate_python_app("run").is_err());
        assert!(validate_python_app("1run:app").is_err());
    }

    #[test]
    fn a_session_outlives_the_canary() {
        assert_eq!(
            session_seconds(5).unwrap(),
            3600,
            "at least the default hour"
        );
        assert_eq!(session_seconds(60).unwrap(), 5400);
        assert_eq!(session_seconds(690).unwrap(), MAX_SESSION_SECONDS);
        let e = session_seconds(691).unwrap_err();
        assert_eq!(e.code(), 2);
        assert!(e.help_text().unwrap().contains("690 minutes"), "{e:?}");
    }
}
