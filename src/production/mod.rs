//! Production settings of a function (README "Production settings"): secrets in the
//! environment, a log group that expires, networking and runtime options, reserved
//! concurrency. Each is checked locally (exit 2), kept idempotently (reads first, writes
//! only what differs), drift-checked on every deploy, and removed on teardown where it is a
//! resource of its own.
//!
//! Version-level settings (VPC, layers, tracing, /tmp size) are part of the function
//! configuration (`aws::lambda::FunctionConfig::drift`); function-level ones (log group,
//! reserved concurrency, the $LATEST description) are kept here, by the hooks the deploy
//! pipeline calls: [`prepare`] before the function is written, [`finish`] once `live` is
//! settled, [`teardown`] with the function.

pub(crate) mod concurrency;
pub(crate) mod log_group;
pub(crate) mod schedule;
pub(crate) mod secrets;
pub(crate) mod snapstart;

use serde::Serialize;

use crate::aws::Aws;
use crate::cli::{ProductionArgs, TracingArg};
use crate::config::{Architecture, DeployConfig};
use crate::error::{Error, Result};
use crate::plan::Observed;

/// The $LATEST description of a function created without `--description`.
pub(crate) const DEFAULT_DESCRIPTION: &str = "managed by deploy-action";

/// Checked production settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Settings {
    pub log_retention_days: i32,
    pub vpc: Option<Vpc>,
    /// Layer version ARNs, in order (Lambda applies them in this order).
    pub layers: Vec<String>,
    pub tracing: Tracing,
    pub reserved_concurrency: Option<i32>,
    pub ephemeral_storage: i32,
    /// The function's ($LATEST) description; versions describe their provenance.
    pub description: Option<String>,
    /// EventBridge schedules, the keep-warm ping last.
    pub schedules: Vec<schedule::Schedule>,
    /// SnapStart on published versions.
    pub snapstart: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            log_retention_days: 30,
            vpc: None,
            layers: Vec::new(),
            tracing: Tracing::PassThrough,
            reserved_concurrency: None,
            ephemeral_storage: 512,
            description: None,
            schedules: Vec::new(),
            snapstart: false,
        }
    }
}

/// Subnets and security groups (sorted: Lambda answers them in its own order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Vpc {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum Tracing {
    Active,
    PassThrough,
}

impl Tracing {
    /// The mode as Lambda names it.
    #[must_use]
    pub(crate) fn lambda_name(self) -> &'static str {
        match self {
            Tracing::Active => "Active",
            Tracing::PassThrough => "PassThrough",
        }
    }
}

/// Split comma- or newline-separated lists, dropping blanks.
fn list(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split([',', '\n']))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

fn is_aws_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|hex| {
        (8..=17).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit())
    })
}

/// A layer version ARN as Lambda's API reference gives its pattern:
/// `arn:<partition>:lambda:<region>:<account>:layer:<name>:<version>`.
fn is_layer_arn(arn: &str) -> bool {
    let p: Vec<&str> = arn.split(':').collect();
    p.len() == 8
        && p[0] == "arn"
        && p[1].starts_with("aws")
        && p[2] == "lambda"
        && crate::config::validate_region(p[3]).is_ok()
        && p[4].len() == 12
        && p[4].chars().all(|c| c.is_ascii_digit())
        && p[5] == "layer"
        && !p[6].is_empty()
        && p[6].len() <= 140
        && p[6]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !p[7].is_empty()
        && p[7].chars().all(|c| c.is_ascii_digit())
}

/// Check the production flags (exit 2 before any request).
pub(crate) fn resolve(
    args: &ProductionArgs,
    runtime: &str,
    architecture: Architecture,
) -> Result<Settings> {
    let mut s = Settings::default();
    if let Some(days) = args.log_retention_days {
        let ok = i32::try_from(days)
            .ok()
            .filter(|d| log_group::ALLOWED_DAYS.contains(d));
        s.log_retention_days = ok.ok_or_else(|| {
            Error::invalid(
                "--log-retention-days",
                format!("{days} is not a retention CloudWatch Logs offers"),
                format!(
                    "use one of {} (default 30)",
                    log_group::ALLOWED_DAYS
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
    }

    let mut subnets = list(&args.vpc_subnets);
    let mut groups = list(&args.vpc_security_groups);
    for subnet in &subnets {
        if !is_aws_id(subnet, "subnet-") {
            return Err(Error::invalid(
                "--vpc-subnets",
                format!("{subnet:?} is not a subnet id"),
                "list subnet ids such as subnet-0123456789abcdef0, comma- or newline-separated",
            ));
        }
    }
    for group in &groups {
        if !is_aws_id(group, "sg-") {
            return Err(Error::invalid(
                "--vpc-security-groups",
                format!("{group:?} is not a security group id"),
                "list security group ids such as sg-0123456789abcdef0, comma- or newline-separated",
            ));
        }
    }
    subnets.sort();
    subnets.dedup();
    groups.sort();
    groups.dedup();
    s.vpc = match (subnets.is_empty(), groups.is_empty()) {
        (true, true) => None,
        (false, true) => {
            return Err(Error::missing(
                "--vpc-security-groups",
                "--vpc-subnets needs security groups: Lambda attaches the function's network interfaces with them",
                "pass --vpc-security-groups sg-... (one that allows the function's outbound traffic)",
            ));
        }
        (true, false) => {
            return Err(Error::missing(
                "--vpc-subnets",
                "--vpc-security-groups needs subnets to put the function in",
                "pass --vpc-subnets subnet-...,subnet-... (private subnets in two or more zones)",
            ));
        }
        (false, false) if subnets.len() > 16 || groups.len() > 5 => {
            return Err(Error::invalid(
                "--vpc-subnets",
                format!(
                    "{} subnets and {} security groups; Lambda takes at most 16 and 5",
                    subnets.len(),
                    groups.len()
                ),
                "list fewer subnets or security groups",
            ));
        }
        (false, false) => Some(Vpc {
            subnets,
            security_groups: groups,
        }),
    };

    s.layers = list(&args.layers);
    for layer in &s.layers {
        if !is_layer_arn(layer) {
            return Err(Error::invalid(
                "--layers",
                format!("{layer:?} is not a layer version ARN"),
                "use arn:aws:lambda:<region>:<account>:layer:<name>:<version>",
            ));
        }
    }
    if s.layers.len() > 5 {
        return Err(Error::invalid(
            "--layers",
            format!("{} layers; Lambda allows at most 5", s.layers.len()),
            "merge layers or drop some",
        ));
    }
    let mut unique = s.layers.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != s.layers.len() {
        return Err(Error::invalid(
            "--layers",
            "a layer is listed twice",
            "list each layer version once",
        ));
    }

    s.tracing = match args.tracing {
        Some(TracingArg::Active) => Tracing::Active,
        Some(TracingArg::Passthrough) | None => Tracing::PassThrough,
    };
    if let Some(n) = args.reserved_concurrency {
        s.reserved_concurrency =
            Some(i32::try_from(n).ok().filter(|n| *n >= 0).ok_or_else(|| {
                Error::invalid(
                    "--reserved-concurrency",
                    format!("{n} is not a number of concurrent executions"),
                    "use 0 (the function is stopped) up to your account's concurrency limit",
                )
            })?);
    }
    if let Some(mb) = args.ephemeral_storage {
        s.ephemeral_storage = i32::try_from(mb)
            .ok()
            .filter(|mb| (512..=10240).contains(mb))
            .ok_or_else(|| {
                Error::invalid(
                    "--ephemeral-storage",
                    format!("{mb} MB is outside Lambda's range for /tmp"),
                    "use a value from 512 to 10240 (MB)",
                )
            })?;
    }
    if let Some(d) = &args.description {
        if d.chars().count() > 256 {
            return Err(Error::invalid(
                "--description",
                format!("{} characters; Lambda allows 256", d.chars().count()),
                "shorten the description",
            ));
        }
        s.description = Some(d.clone());
    }
    s.schedules = schedule::resolve(&args.schedules, args.keep_warm.as_deref())?;
    s.snapstart = args.snapstart;
    if s.snapstart {
        snapstart::check(runtime, architecture, s.ephemeral_storage)?;
    }
    Ok(s)
}

/// What the deploy's reads already tell about function-level settings.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Seen {
    /// `Some(None)` for a function this deploy creates (nothing reserved); `None`: read it.
    pub reserved_concurrency: Option<Option<i32>>,
}

#[must_use]
pub(crate) fn seen(observed: &Observed) -> Seen {
    Seen {
        reserved_concurrency: (!observed.exists).then_some(None),
    }
}

/// Before the function is created or written: its log group, with the retention, so that
/// Lambda never makes one that keeps logs forever.
pub(crate) async fn prepare(aws: &Aws, cfg: &DeployConfig) -> Result<()> {
    let seen = match log_group::observe(aws, &cfg.function_name).await {
        // A deploy role made from an older `policy` has no logs permissions: say so, and
        // deploy anyway (the log group is a saving, not a precondition).
        Err(e) if denied(&e) => {
            crate::github::workflow::warning(&format!(
                "the deploy role may not read log groups, so the retention of {} was not set: regenerate its policy with `deploy-action policy` ({e})",
                log_group::name(&cfg.function_name)
            ));
            return Ok(());
        }
        other => other?,
    };
    log_group::sync(
        aws,
        &cfg.function_name,
        &cfg.app,
        &cfg.stage,
        cfg.function.production.log_retention_days,
        seen,
    )
    .await?;
    Ok(())
}

/// An AWS call the deploy role's permissions refused.
pub(crate) fn denied(e: &Error) -> bool {
    matches!(e, Error::Aws { message, .. } if message.starts_with("AccessDenied"))
}

/// After the function is settled: reserved concurrency; on a no-op deploy also the log
/// group and the $LATEST description (a change path applies that with the configuration).
pub(crate) async fn finish(aws: &Aws, cfg: &DeployConfig, seen: Seen, noop: bool) -> Result<()> {
    let logs = async {
        if noop {
            prepare(aws, cfg).await
        } else {
            Ok(())
        }
    };
    let description = async {
        match (&cfg.function.production.description, noop) {
            (Some(want), true) => concurrency::keep_description(aws, cfg, want).await,
            _ => Ok(()),
        }
    };
    tokio::try_join!(
        logs,
        description,
        concurrency::sync(
            aws,
            &cfg.function_name,
            cfg.function.production.reserved_concurrency,
            seen.reserved_concurrency,
        ),
    )?;
    Ok(())
}

/// The schedules and keep-warm rules, once `live` exists (`alias_arn` is its ARN). `tags`
/// are the function's, as the deploy read them (they record its schedules).
pub(crate) async fn schedules(
    aws: &Aws,
    cfg: &DeployConfig,
    tags: &std::collections::HashMap<String, String>,
    alias_arn: &str,
) -> Result<()> {
    schedule::sync(
        aws,
        &cfg.function_name,
        &cfg.app,
        &cfg.stage,
        &cfg.function.production.schedules,
        tags,
        alias_arn,
    )
    .await
}

/// Teardown: the log group (unless `keep_logs`). Reserved concurrency goes with the function.
pub(crate) async fn teardown(aws: &Aws, function: &str, keep_logs: bool) -> Result<()> {
    if keep_logs {
        tracing::info!(
            "keeping log group {} (--keep-logs)",
            log_group::name(function)
        );
        return Ok(());
    }
    if log_group::delete(aws, function).await? {
        tracing::info!("deleted log group {}", log_group::name(function));
    }
    Ok(())
}
