//! Raw command-line arguments (clap). Every flag also reads `DEPLOY_<FLAG>`; an empty
//! variable counts as unset, so the action can pass every input through. Nothing here is
//! validated beyond its type: `config` turns these into checked settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "deploy-action",
    version,
    about = "Ship web apps to AWS Lambda: arm64 builds, immutable versions, a `live` alias with a function URL, per-PR preview stages.",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Settings file to read instead of deploy-action.toml, pyproject.toml's
    /// [tool.deploy-action] or Cargo.toml's [package.metadata.deploy-action] in --source.
    #[arg(long, env = "DEPLOY_CONFIG", global = true)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build, upload, publish a version and move `live` to it (or tear down on PR close).
    Deploy(Box<DeployArgs>),
    /// Build the artifact only and report it.
    Package(PackageArgs),
    /// Delete a stage's function with its versions, alias, URL and policy.
    Teardown(TeardownArgs),
    /// Move `live` back to the previous (or a given) version.
    Rollback(RollbackArgs),
    /// Deploy the exact artifact live on one stage to another.
    Promote(PromoteArgs),
    /// Show the stages of an app: version, commit, URL, last deploy.
    Status(StatusArgs),
    /// Print the least-privilege IAM policy for the deploy role and its OIDC trust policy.
    Policy(PolicyArgs),
    /// Run a built artifact locally behind a function-URL-like HTTP endpoint.
    Serve(ServeArgs),
    /// Print the effective settings of a deploy and where each value came from.
    Config(Box<crate::settings::ConfigArgs>),
    /// Write deploy-action.toml and a workflow from another tool's settings.
    Import(crate::import::ImportArgs),
    /// Run code in the deployed function by direct invocation (never through its URL).
    // `--version` picks the function version here, not deploy-action's own.
    #[command(disable_version_flag = true)]
    Invoke(InvokeArgs),
    /// Delete preview stages of closed PRs or not deployed for a while, and unused artifacts.
    Gc(GcArgs),
    /// Print a stage's CloudWatch logs, all streams merged in time order.
    Logs(LogsArgs),
    /// What each stage cost over the last days, and when an always-on Fargate task would be cheaper.
    Cost(CostArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BuildKind {
    Auto,
    Rust,
    Python,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ArchitectureArg {
    Arm64,
    #[value(name = "x86_64", alias = "x86-64", alias = "amd64")]
    X86_64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FunctionUrlArg {
    Public,
    Iam,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CommentMode {
    Auto,
    Always,
    Never,
}

/// Which app and stage, and how to report.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// The app to deploy; the function is `<app>-<stage>`.
    #[arg(long, env = "DEPLOY_APP")]
    pub app: Option<String>,
    /// The stage (default: from the GitHub event; `dev` outside Actions).
    #[arg(long, env = "DEPLOY_STAGE")]
    pub stage: Option<String>,
    /// AWS region (default: the standard AWS region chain).
    #[arg(long, env = "DEPLOY_REGION")]
    pub region: Option<String>,
    /// IAM role to assume with GitHub OIDC (AssumeRoleWithWebIdentity).
    #[arg(long, env = "DEPLOY_ROLE_TO_ASSUME")]
    pub role_to_assume: Option<String>,
    /// Token for PR comments and deployments (default: GITHUB_TOKEN).
    #[arg(long, env = "DEPLOY_GITHUB_TOKEN", hide_env_values = true)]
    pub github_token: Option<String>,
    /// Output format on stdout; logs always go to stderr.
    #[arg(long, env = "DEPLOY_OUTPUT", value_enum, default_value = "text")]
    pub output: OutputFormat,
}

/// How the artifact is built.
#[derive(Debug, Clone, Args)]
pub struct BuildArgs {
    /// The app's source directory.
    #[arg(long, env = "DEPLOY_SOURCE", default_value = ".")]
    pub source: PathBuf,
    /// How to build: detect from the source, Rust (cargo-lambda), Python, or a prebuilt artifact.
    #[arg(long, env = "DEPLOY_BUILD", value_enum, default_value = "auto")]
    pub build: BuildKind,
    /// A prebuilt `.zip` or directory to deploy as is (implies --build none).
    #[arg(long, env = "DEPLOY_ARTIFACT")]
    pub artifact: Option<PathBuf>,
    /// Leave matching files out of the bundle (repeatable; newline-separated in the env var).
    #[arg(long, env = "DEPLOY_EXCLUDE", value_delimiter = '\n')]
    pub exclude: Vec<String>,
    /// The Python app object, `module:attr` (default: `app` in app.py, main.py or run.py).
    #[arg(long, env = "DEPLOY_PYTHON_APP")]
    pub python_app: Option<String>,
    /// Ship no Python bytecode (by default the modules imported at start-up are compiled for
    /// the runtime's CPython, which shortens cold starts).
    #[arg(long, env = "DEPLOY_NO_COMPILE")]
    pub no_compile: bool,
    /// The Rust binary to deploy when the package has several.
    #[arg(long, env = "DEPLOY_BIN")]
    pub bin: Option<String>,
    /// Lambda runtime (default: provided.al2023 for Rust, python3.13 for Python).
    #[arg(long, env = "DEPLOY_RUNTIME")]
    pub runtime: Option<String>,
    /// Lambda handler (default: bootstrap for Rust, the generated adapter for Python).
    #[arg(long, env = "DEPLOY_HANDLER")]
    pub handler: Option<String>,
    /// Instruction set of the function.
    #[arg(long, env = "DEPLOY_ARCHITECTURE", value_enum, default_value = "arm64")]
    pub architecture: ArchitectureArg,
}

/// How the function is configured.
#[derive(Debug, Clone, Args)]
pub struct FunctionArgs {
    /// Memory in MB (128-10240).
    #[arg(long, env = "DEPLOY_MEMORY", default_value_t = 512)]
    pub memory: i64,
    /// Timeout in seconds (1-900).
    #[arg(long, env = "DEPLOY_TIMEOUT", default_value_t = 30)]
    pub timeout: i64,
    /// Environment variable for the function, KEY=VALUE (repeatable; newline-separated in the env var).
    #[arg(
        long = "env",
        env = "DEPLOY_ENV",
        value_delimiter = '\n',
        hide_env_values = true
    )]
    pub env: Vec<String>,
    /// Execution role ARN for a new function (or to change an existing one's).
    #[arg(long, env = "DEPLOY_EXECUTION_ROLE")]
    pub execution_role: Option<String>,
    /// Function URL on `live`: public (auth NONE), iam (AWS_IAM), or none.
    #[arg(
        long,
        env = "DEPLOY_FUNCTION_URL",
        value_enum,
        default_value = "public"
    )]
    pub function_url: FunctionUrlArg,
    /// Published versions to keep besides those an alias points at.
    #[arg(long, env = "DEPLOY_KEEP_VERSIONS", default_value_t = 5)]
    pub keep_versions: u32,
    /// Production settings: log retention, networking, layers, tracing, concurrency, storage.
    #[command(flatten)]
    pub production: Box<ProductionArgs>,
}

/// Production settings of a function (README "Production settings"). Lists are comma- or
/// newline-separated, so an action input can hold one per line.
#[derive(Debug, Clone, Default, Args)]
pub struct ProductionArgs {
    /// Days CloudWatch keeps the function's logs (default 30; one of CloudWatch's values).
    #[arg(long, env = "DEPLOY_LOG_RETENTION_DAYS")]
    pub log_retention_days: Option<i64>,
    /// Subnets to run the function in (with --vpc-security-groups).
    #[arg(long, env = "DEPLOY_VPC_SUBNETS", value_delimiter = '\n')]
    pub vpc_subnets: Vec<String>,
    /// Security groups of the function's network interfaces (with --vpc-subnets).
    #[arg(long, env = "DEPLOY_VPC_SECURITY_GROUPS", value_delimiter = '\n')]
    pub vpc_security_groups: Vec<String>,
    /// A layer version ARN (repeatable; order kept, at most 5).
    #[arg(long = "layers", env = "DEPLOY_LAYERS", value_delimiter = '\n')]
    pub layers: Vec<String>,
    /// X-Ray tracing: active or passthrough (default: passthrough).
    #[arg(long, env = "DEPLOY_TRACING", value_enum)]
    pub tracing: Option<TracingArg>,
    /// Reserve this many concurrent executions for the function (0 stops it; unset: none).
    #[arg(long, env = "DEPLOY_RESERVED_CONCURRENCY")]
    pub reserved_concurrency: Option<i64>,
    /// Size of /tmp in MB (512-10240; default 512).
    #[arg(long, env = "DEPLOY_EPHEMERAL_STORAGE")]
    pub ephemeral_storage: Option<i64>,
    /// Description of the function ($LATEST); versions keep describing their provenance.
    #[arg(long, env = "DEPLOY_DESCRIPTION")]
    pub description: Option<String>,
    /// A scheduled job, `NAME=rate(1 hour)=module:function` or `NAME=cron(...)=module:function`
    /// (repeatable; newline-separated in the env var).
    #[arg(long = "schedule", env = "DEPLOY_SCHEDULE", value_delimiter = '\n')]
    pub schedules: Vec<String>,
    /// Ping `live` on this schedule (e.g. `rate(5 minutes)`) so it stays warm.
    #[arg(long, env = "DEPLOY_KEEP_WARM")]
    pub keep_warm: Option<String>,
    /// SnapStart on published versions (python3.12 and later): faster cold starts.
    #[arg(long, env = "DEPLOY_SNAPSTART")]
    pub snapstart: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TracingArg {
    Active,
    Passthrough,
}

/// Where artifacts are stored.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// S3 bucket for artifacts.
    #[arg(long, env = "DEPLOY_S3_BUCKET")]
    pub s3_bucket: Option<String>,
    /// Key prefix for artifacts in the bucket.
    #[arg(long, env = "DEPLOY_S3_PREFIX", default_value = "deploy-action")]
    pub s3_prefix: String,
}

#[derive(Debug, Clone, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub build: BuildArgs,
    #[command(flatten)]
    pub function: FunctionArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub domain: crate::domain::DomainArgs,
    /// PR comment: on pull_request events (auto), always, or never.
    #[arg(long, env = "DEPLOY_COMMENT", value_enum, default_value = "auto")]
    pub comment: CommentMode,
    /// Take over an existing function that deploy-action did not create.
    #[arg(long, env = "DEPLOY_ADOPT")]
    pub adopt: bool,
    /// Move `live` even when a newer run is live.
    #[arg(long, env = "DEPLOY_FORCE")]
    pub force: bool,
    /// Fail (instead of skipping with a notice) on a PR from a fork, which gets no OIDC token.
    #[arg(long, env = "DEPLOY_FAIL_ON_FORK")]
    pub fail_on_fork: bool,
    /// Work out and print the plan; change nothing.
    #[arg(long, env = "DEPLOY_DRY_RUN")]
    pub dry_run: bool,
    /// Canary: give the new version this share of traffic (1-99) before shifting all of it.
    #[arg(long, env = "DEPLOY_CANARY")]
    pub canary: Option<u8>,
    /// Canary: minutes to hold the canary weight before the second check.
    #[arg(long, env = "DEPLOY_CANARY_MINUTES", default_value_t = 5)]
    pub canary_minutes: u32,
    /// Smoke check: path to request from the new version before it gets traffic.
    #[arg(long, env = "DEPLOY_SMOKE_PATH")]
    pub smoke_path: Option<String>,
    /// Smoke check: the status code that counts as healthy.
    #[arg(long, env = "DEPLOY_SMOKE_STATUS", default_value_t = 200)]
    pub smoke_status: u16,
    /// On teardown (pull request closed): keep the function's CloudWatch log group.
    #[arg(long, env = "DEPLOY_KEEP_LOGS")]
    pub keep_logs: bool,
    /// Run on the new version before `live` moves, once per version: `manage ARGS...` (Django)
    /// or `python:CODE`. A failure leaves `live` where it was.
    #[arg(long, env = "DEPLOY_RELEASE_COMMAND")]
    pub release_command: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct PackageArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    /// Where to write the zip.
    #[arg(long, env = "DEPLOY_OUT")]
    pub out: PathBuf,
    /// Output format on stdout.
    #[arg(long, env = "DEPLOY_OUTPUT", value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Args)]
pub struct TeardownArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// PR comment: on pull_request events (auto), always, or never.
    #[arg(long, env = "DEPLOY_COMMENT", value_enum, default_value = "auto")]
    pub comment: CommentMode,
    /// Delete a function even if deploy-action did not create it.
    #[arg(long, env = "DEPLOY_ADOPT")]
    pub adopt: bool,
    /// Keep the function's CloudWatch log group (default: delete it with the function).
    #[arg(long, env = "DEPLOY_KEEP_LOGS")]
    pub keep_logs: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// The version to move `live` to (default: the one before the live one).
    #[arg(long, env = "DEPLOY_TO")]
    pub to: Option<String>,
    /// Where artifacts are stored (optional: only names the version's artifact in the report).
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Clone, Args)]
pub struct PromoteArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// The stage whose live artifact is promoted.
    #[arg(long, env = "DEPLOY_FROM")]
    pub from: String,
    /// The stage to deploy it to.
    #[arg(long, env = "DEPLOY_TO")]
    pub to: String,
    #[command(flatten)]
    pub function: FunctionArgs,
    /// Runtime of the target (default: the source stage's).
    #[arg(long, env = "DEPLOY_RUNTIME")]
    pub runtime: Option<String>,
    /// Handler of the target (default: the source stage's).
    #[arg(long, env = "DEPLOY_HANDLER")]
    pub handler: Option<String>,
    /// Instruction set of the target (default: the source stage's).
    #[arg(long, env = "DEPLOY_ARCHITECTURE", value_enum)]
    pub architecture: Option<ArchitectureArg>,
    /// Where the artifact is stored (the same bucket and prefix the source was deployed with).
    #[command(flatten)]
    pub store: StoreArgs,
    /// Take over an existing target function that deploy-action did not create.
    #[arg(long, env = "DEPLOY_ADOPT")]
    pub adopt: bool,
    /// Move `live` even when a newer run is live on the target.
    #[arg(long, env = "DEPLOY_FORCE")]
    pub force: bool,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Clone, Args)]
pub struct PolicyArgs {
    /// The app whose functions (`<app>-*`) the deploy role may manage.
    #[arg(long, env = "DEPLOY_APP")]
    pub app: Option<String>,
    /// The artifact bucket.
    #[arg(long, env = "DEPLOY_S3_BUCKET")]
    pub s3_bucket: Option<String>,
    /// Key prefix for artifacts in the bucket.
    #[arg(long, env = "DEPLOY_S3_PREFIX", default_value = "deploy-action")]
    pub s3_prefix: String,
    /// The repository allowed to assume the role, OWNER/REPO (default: GITHUB_REPOSITORY).
    #[arg(long, env = "DEPLOY_REPO")]
    pub repo: Option<String>,
    /// Numeric owner id: writes GitHub's immutable `sub` form (default: from the event payload).
    #[arg(long, env = "DEPLOY_OWNER_ID")]
    pub owner_id: Option<u64>,
    /// Numeric repository id: writes GitHub's immutable `sub` form (default: from the event payload).
    #[arg(long, env = "DEPLOY_REPO_ID")]
    pub repo_id: Option<u64>,
    /// The execution role the deploy role may pass to Lambda.
    #[arg(long, env = "DEPLOY_EXECUTION_ROLE")]
    pub execution_role: Option<String>,
    /// AWS region to scope ARNs to (default: any region).
    #[arg(long, env = "DEPLOY_REGION")]
    pub region: Option<String>,
    /// AWS account id to scope ARNs to (default: the execution role's account).
    #[arg(long, env = "DEPLOY_ACCOUNT")]
    pub account: Option<String>,
    /// Limit the trust policy to this branch.
    #[arg(long, env = "DEPLOY_BRANCH")]
    pub branch: Option<String>,
    /// Limit the trust policy to this GitHub environment.
    #[arg(long, env = "DEPLOY_ENVIRONMENT")]
    pub environment: Option<String>,
    /// Also allow pull_request workflows (preview stages).
    #[arg(long, env = "DEPLOY_PULL_REQUEST")]
    pub pull_request: bool,
    /// The deploy's `--env`: `ssm:` / `secretsmanager:` references get read access, exactly.
    #[arg(
        long = "env",
        env = "DEPLOY_ENV",
        value_delimiter = '\n',
        hide_env_values = true
    )]
    pub env: Vec<String>,
    /// Also allow what a custom domain needs (API Gateway, ACM, Route 53), for this name or template.
    #[arg(long, env = "DEPLOY_DOMAIN")]
    pub domain: Option<String>,
    /// Scope the DNS permissions to this hosted zone (default: any zone, records of --domain only).
    #[arg(long, env = "DEPLOY_HOSTED_ZONE_ID")]
    pub hosted_zone_id: Option<String>,
    /// The KMS key (ARN) of the artifact bucket's SSE-KMS default encryption: adds the KMS
    /// actions the deploy role needs to write and Lambda to read the artifacts (and to
    /// decrypt `--env` secrets encrypted with that key).
    #[arg(long, env = "DEPLOY_KMS_KEY")]
    pub kms_key: Option<String>,
    /// The deploy's `--vpc-subnets`: grants the EC2 reads Lambda makes for a VPC function.
    #[arg(long, env = "DEPLOY_VPC_SUBNETS", value_delimiter = '\n')]
    pub vpc_subnets: Vec<String>,
    /// Also allow lambda:InvokeFunction on the app's functions: needed by `invoke`,
    /// `--release-command` and smoke checks (`--smoke-path`, `--canary`).
    #[arg(long, env = "DEPLOY_INVOKE")]
    pub invoke: bool,
    /// Also allow what `logs`, `cost` and `gc` read and delete: the app's log events (with
    /// Live Tail), CloudWatch metrics, its HTTP APIs, listing and deleting its artifacts.
    #[arg(long, env = "DEPLOY_OPERATE")]
    pub operate: bool,
    /// Output format on stdout.
    #[arg(long, env = "DEPLOY_OUTPUT", value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    /// Port to listen on (127.0.0.1); 0 picks a free one (printed on stderr).
    #[arg(long, env = "DEPLOY_PORT", default_value_t = 9000)]
    pub port: u16,
    /// Environment variable for the function, KEY=VALUE (repeatable).
    #[arg(
        long = "env",
        env = "DEPLOY_ENV",
        value_delimiter = '\n',
        hide_env_values = true
    )]
    pub env: Vec<String>,
    /// Per-invocation timeout in seconds (1-900): a slower invocation gets a 502 and a fresh worker.
    #[arg(long, env = "DEPLOY_TIMEOUT", default_value_t = 30)]
    pub timeout: i64,
    /// Memory in MB reported to the function.
    #[arg(long, env = "DEPLOY_MEMORY", default_value_t = 512)]
    pub memory: i64,
    /// An aarch64 root filesystem for running arm64 artifacts on x86_64 under qemu-user: its C
    /// library for a Rust bootstrap, its CPython of the runtime's version for Python
    /// (default: the root scripts/install-arm64-toolchain.sh makes).
    #[arg(long, env = "DEPLOY_ARM64_ROOT")]
    pub arm64_root: Option<PathBuf>,
    /// How Python handlers run: awslambdaric (installed into a cached venv on first use),
    /// deploy-action's built-in runtime loop, or auto (awslambdaric when it can be installed;
    /// emulated arm64 bundles always use the built-in loop).
    #[arg(
        long,
        env = "DEPLOY_RUNTIME_INTERFACE",
        value_enum,
        default_value = "auto"
    )]
    pub runtime_interface: RuntimeInterfaceArg,
    /// Which front door's events to send: a function URL's, or an API Gateway HTTP API's.
    #[arg(long, env = "DEPLOY_FRONT_DOOR", value_enum, default_value = "url")]
    pub front_door: crate::domain::FrontDoorArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuntimeInterfaceArg {
    Auto,
    Awslambdaric,
    Builtin,
}

#[derive(Debug, Clone, Args)]
pub struct InvokeArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// The version (or alias) to run on (default: live).
    #[arg(long, env = "DEPLOY_VERSION")]
    pub version: Option<String>,
    /// A raw event, JSON or @FILE: prints the function's result and its log tail.
    #[arg(long, env = "DEPLOY_EVENT")]
    pub event: Option<String>,
    /// Python code to run in the function; prints what it printed.
    #[arg(long, env = "DEPLOY_PYTHON")]
    pub python: Option<String>,
    /// A Django management command with its arguments, e.g. 'migrate --noinput'.
    #[arg(long, env = "DEPLOY_MANAGE")]
    pub manage: Option<String>,
    /// Invoke `deploy-action serve`'s local invoke endpoint (the URL it prints) instead of AWS.
    #[arg(long, env = "DEPLOY_LOCAL")]
    pub local: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct GcArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Also delete preview stages not deployed for this long (`14d`, `36h`, `90m`).
    #[arg(long, env = "DEPLOY_OLDER_THAN", default_value = "14d")]
    pub older_than: String,
    /// Print what would be deleted; delete nothing.
    #[arg(long, env = "DEPLOY_DRY_RUN")]
    pub dry_run: bool,
    /// Where artifacts are stored (without a bucket, artifacts are left alone).
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Start this long ago (`10m`, `2h`, `1d`) or at an RFC 3339 time.
    #[arg(long, env = "DEPLOY_SINCE", default_value = "10m")]
    pub since: String,
    /// Keep printing new events until interrupted.
    #[arg(long, env = "DEPLOY_FOLLOW")]
    pub follow: bool,
    /// A CloudWatch Logs filter pattern (`ERROR`, `"timed out"`, `{ $.level = "error" }`).
    #[arg(long, env = "DEPLOY_FILTER")]
    pub filter: Option<String>,
    /// Only the events of this request id.
    #[arg(long, env = "DEPLOY_REQUEST_ID")]
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct CostArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Days of metrics to add up (1-455).
    #[arg(long, env = "DEPLOY_DAYS", default_value_t = 30)]
    pub days: u32,
    /// A JSON or TOML file of prices overriding the built-in us-east-1 table.
    #[arg(long, env = "DEPLOY_PRICES")]
    pub prices: Option<PathBuf>,
    /// vCPUs of the Fargate task to compare with.
    #[arg(long, env = "DEPLOY_FARGATE_CPU", default_value_t = 0.25)]
    pub fargate_cpu: f64,
    /// Memory (GB) of the Fargate task to compare with.
    #[arg(long, env = "DEPLOY_FARGATE_MEMORY", default_value_t = 0.5)]
    pub fargate_memory: f64,
    /// Put an Application Load Balancer in front of the Fargate task in the comparison.
    #[arg(long, env = "DEPLOY_FARGATE_ALB")]
    pub fargate_alb: bool,
    /// Where artifacts are stored (for their storage cost; optional).
    #[command(flatten)]
    pub store: StoreArgs,
}
