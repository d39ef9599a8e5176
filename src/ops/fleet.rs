//! An app with many stages (issue #19: 200 repositories × 10 open PRs is 2,000 preview
//! functions). `status`, `gc` and `cost` find an app's stages with one account-wide listing
//! that already filters by our tag: the Resource Groups Tagging API's GetResources with
//! `deploy-action:app=<app>` and the `lambda:function` resource type, 100 per page. Its
//! answer carries every tag, so no ListTags/GetFunction per function is needed to tell our
//! functions from anyone else's.
//!
//! The per-stage reads that follow go through one [`Gate`]: at most [`CONCURRENCY`] at a time,
//! and a throttled read pauses all of them (Lambda's control-plane rate limit is per account
//! and region, so when one read is throttled, the next fifteen would be too).
//!
//! A deploy never calls anything here: it reads only its own stage, so its request count does
//! not grow with the number of sibling stages (tests/integration/scale.rs checks that).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::aws::Aws;
use crate::aws::errors::{code, is_not_found, wrap};
use crate::aws::lambda::{FunctionConfig, TAG_APP, TAG_STAGE};
use crate::error::Result;

/// Per-stage reads in flight at once. Lambda's control plane allows about 15 requests per
/// second for most read APIs per account and region (GetFunction 100/s; see
/// <https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>, "API
/// requests"); 16 in flight keeps a full pipe without making a throttle storm likely.
pub(crate) const CONCURRENCY: usize = 16;

/// GetResources page size: the API's maximum ("You can set ResourcesPerPage to a minimum of 1
/// item and the maximum of 100 items", GetResources in the Resource Groups Tagging API
/// Reference).
pub(crate) const RESOURCES_PER_PAGE: i32 = 100;

/// Attempts per gated read (throttling and transient failures).
const MAX_ATTEMPTS: u32 = 10;

/// A function tagged for the app: one stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StageRef {
    pub stage: String,
    pub function_name: String,
    /// The function's unqualified ARN.
    pub arn: String,
    pub tags: HashMap<String, String>,
}

/// The stages of `app`: every Lambda function tagged `deploy-action:app=<app>`, sorted by
/// stage. Paginates GetResources; the request count is one per 100 stages.
pub(crate) async fn stages(aws: &Aws, app: &str) -> Result<Vec<StageRef>> {
    let client = aws_sdk_resourcegroupstagging::Client::new(&aws.config);
    let filter = aws_sdk_resourcegroupstagging::types::TagFilter::builder()
        .key(TAG_APP)
        .values(app)
        .build();
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .get_resources()
            .tag_filters(filter.clone())
            .resource_type_filters("lambda:function")
            .resources_per_page(RESOURCES_PER_PAGE)
            .set_pagination_token(token.clone())
            .send()
            .await
            .map_err(|e| wrap("stages", "GetResources", format!("{TAG_APP}={app}"), e))?;
        for mapping in page.resource_tag_mapping_list() {
            let Some(arn) = mapping.resource_arn() else {
                continue;
            };
            let tags: HashMap<String, String> = mapping
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            if let Some(stage) = stage_of(app, arn, &tags) {
                out.push(stage);
            }
        }
        // The API ends with an empty token (not an absent one).
        token = page
            .pagination_token()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    out.sort_by(|a, b| a.stage.cmp(&b.stage));
    out.dedup_by(|a, b| a.arn == b.arn);
    Ok(out)
}

/// One GetResources entry as a stage of `app`, if it is one: a function (not a version or
/// alias ARN) whose tags name exactly this app. The tag filter already asked for that; the
/// check keeps a foreign function out even if an endpoint ignored the filter.
fn stage_of(app: &str, arn: &str, tags: &HashMap<String, String>) -> Option<StageRef> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() != 7 || parts[2] != "lambda" || parts[5] != "function" {
        return None;
    }
    if tags.get(TAG_APP).map(String::as_str) != Some(app) {
        return None;
    }
    let function_name = parts[6].to_string();
    let stage = tags
        .get(TAG_STAGE)
        .cloned()
        .or_else(|| {
            function_name
                .strip_prefix(&format!("{app}-"))
                .map(str::to_string)
        })
        .unwrap_or_default();
    Some(StageRef {
        stage,
        function_name,
        arn: arn.to_string(),
        tags: tags.clone(),
    })
}

/// A Lambda client for gated reads: the SDK's own retries are off, so that a throttle reaches
/// the [`Gate`] (which then pauses every read) instead of being retried by each request alone.
#[must_use]
pub(crate) fn gated_lambda(aws: &Aws) -> aws_sdk_lambda::Client {
    let config = aws_sdk_lambda::config::Builder::from(&aws.config)
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_lambda::Client::from_conf(config)
}

/// Bounded concurrency with a shared backoff.
#[derive(Debug)]
pub(crate) struct Gate {
    permits: Semaphore,
    backoff: Mutex<Backoff>,
    base: Duration,
}

#[derive(Debug)]
struct Backoff {
    /// Every read waits until then.
    until: Option<Instant>,
    delay: Duration,
    pauses: u32,
}

impl Default for Gate {
    fn default() -> Self {
        Gate::new(CONCURRENCY)
    }
}

impl Gate {
    #[must_use]
    pub(crate) fn new(concurrency: usize) -> Gate {
        Gate::with_base(concurrency, base_backoff())
    }

    fn with_base(concurrency: usize, base: Duration) -> Gate {
        Gate {
            permits: Semaphore::new(concurrency.max(1)),
            backoff: Mutex::new(Backoff {
                until: None,
                delay: base,
                pauses: 0,
            }),
            base,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Backoff> {
        self.backoff
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Run one read: wait for a slot and for any shared pause; a throttled answer starts (or
    /// keeps) a pause for everyone and the read is tried again; transient failures (5xx,
    /// connection errors) are retried with this read's own backoff.
    pub(crate) async fn run<T, E, F, Fut>(
        &self,
        mut op: F,
    ) -> std::result::Result<T, SdkError<E, HttpResponse>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata,
    {
        let _permit = self.permits.acquire().await;
        let mut attempt = 0;
        loop {
            self.wait().await;
            let sent = Instant::now();
            let result = op().await;
            attempt += 1;
            match result {
                Err(e) if attempt < MAX_ATTEMPTS && is_throttled(&e) => self.throttled(sent),
                Err(e) if attempt < MAX_ATTEMPTS && is_transient(&e) => {
                    let delay = self.base * 2u32.saturating_pow(attempt.min(6));
                    tokio::time::sleep(delay.min(Duration::from_secs(20))).await;
                }
                Ok(v) => {
                    self.calm();
                    return Ok(v);
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn wait(&self) {
        loop {
            let until = self.lock().until;
            match until {
                Some(u) if u > Instant::now() => tokio::time::sleep_until(u).await,
                _ => return,
            }
        }
    }

    /// A read sent at `sent` was throttled. A throttle of a read sent before the current pause
    /// began is part of the same burst: it doesn't lengthen the pause again.
    fn throttled(&self, sent: Instant) {
        let now = Instant::now();
        let mut b = self.lock();
        let started = b.until.map(|u| u.checked_sub(b.delay).unwrap_or(u));
        if started.is_some_and(|s| sent < s) {
            return;
        }
        if b.until.is_some() {
            b.delay = (b.delay * 2).min(Duration::from_secs(20));
        }
        b.until = Some(now + b.delay);
        b.pauses += 1;
        tracing::info!("throttled: every read pauses for {:?}", b.delay);
    }

    /// A read went through: the next pause starts short again.
    fn calm(&self) {
        let mut b = self.lock();
        if b.until.is_some_and(|u| u <= Instant::now()) {
            b.until = None;
            b.delay = self.base;
        }
    }
}

/// The target of an app-wide command (`status`, `gc`, `cost`; `logs` with its stage): the app
/// is required, `--stage` optional; only the AWS and GitHub settings of the target matter.
pub(crate) fn app_target(
    args: &crate::cli::TargetArgs,
    github: &crate::github::context::GitHubContext,
    what: &str,
) -> Result<crate::config::Target> {
    let app = args.app.clone().ok_or_else(|| {
        crate::error::Error::missing(
            "--app",
            "no app name given",
            format!("pass --app NAME (env DEPLOY_APP): {what}"),
        )
    })?;
    crate::naming::validate_app(&app)?;
    if let Some(stage) = &args.stage {
        crate::naming::validate_stage(stage)?;
    }
    let mut target_args = args.clone();
    target_args.app = Some(app);
    target_args.stage = Some(args.stage.clone().unwrap_or_else(|| "all".into()));
    crate::config::resolve_target(&target_args, github)
}

/// `14d`, `36h`, `90m`, `45s` (a whole number and one unit).
pub(crate) fn parse_duration(flag: &'static str, text: &str) -> Result<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => 0,
    };
    match number.parse::<u64>() {
        Ok(n) if seconds > 0 => Ok(Duration::from_secs(n.saturating_mul(seconds))),
        _ => Err(crate::error::Error::invalid(
            flag,
            format!("{text:?} is not a duration"),
            "write a number and a unit: 45s, 90m, 36h, 14d, 2w",
        )),
    }
}

/// A timestamp as AWS writes it: Lambda's `2024-03-12T19:03:58.000+0000`, or RFC 3339.
#[must_use]
pub(crate) fn parse_aws_time(text: &str) -> Option<time::OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t);
    }
    let lambda = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond][offset_hour sign:mandatory][offset_minute]"
    );
    time::OffsetDateTime::parse(text, lambda).ok()
}

/// The backoff base (the same test hook as the SDK's retries in `aws::retry_config`).
fn base_backoff() -> Duration {
    std::env::var("DEPLOY_ACTION_TEST_BACKOFF_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_millis(500), Duration::from_millis)
}

fn is_throttled<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    matches!(
        code(e),
        Some(
            "TooManyRequestsException"
                | "ThrottlingException"
                | "Throttling"
                | "ThrottledException"
                | "RequestLimitExceeded"
                | "SlowDown"
        )
    ) || matches!(e, SdkError::ServiceError(s) if s.raw().status().as_u16() == 429)
}

fn is_transient<E>(e: &SdkError<E, HttpResponse>) -> bool {
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(s) => s.raw().status().is_server_error(),
        _ => false,
    }
}

/// The account's code storage (GetAccountSettings): bytes used and the limit (75 GB by
/// default per region: <https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub(crate) struct CodeStorage {
    pub used: i64,
    pub limit: i64,
}

/// Warn from this share of the limit on (issue #19).
pub(crate) const STORAGE_WARN_SHARE: f64 = 0.8;

impl CodeStorage {
    #[must_use]
    pub(crate) fn share(&self) -> f64 {
        if self.limit <= 0 {
            0.0
        } else {
            self.used as f64 / self.limit as f64
        }
    }

    #[must_use]
    pub(crate) fn warn(&self) -> bool {
        self.share() >= STORAGE_WARN_SHARE
    }
}

pub(crate) async fn code_storage(aws: &Aws) -> Result<CodeStorage> {
    let out = aws
        .lambda
        .get_account_settings()
        .send()
        .await
        .map_err(|e| wrap("status", "GetAccountSettings", "account", e))?;
    Ok(CodeStorage {
        used: out.account_usage().map_or(0, |u| u.total_code_size()),
        limit: out.account_limit().map_or(0, |l| l.total_code_size()),
    })
}

/// Bytes for people: `1.5 GB`, `20.0 MB`.
#[must_use]
pub(crate) fn human_bytes(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value.abs() >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Every version of `name` including `$LATEST`, page by page through the gate; `None` when the
/// function is gone (deleted after the listing found it). `command` names the caller in errors.
pub(crate) async fn versions(
    lambda: &aws_sdk_lambda::Client,
    gate: &Gate,
    command: &'static str,
    name: &str,
) -> Result<Option<Vec<FunctionConfig>>> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = match gate
            .run(|| {
                lambda
                    .list_versions_by_function()
                    .function_name(name)
                    .set_marker(marker.clone())
                    .send()
            })
            .await
        {
            Ok(p) => p,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(wrap(command, "ListVersionsByFunction", name, e)),
        };
        out.extend(page.versions().iter().map(FunctionConfig::from_sdk));
        marker = page
            .next_marker()
            .filter(|m| !m.is_empty())
            .map(str::to_string);
        if marker.is_none() {
            return Ok(Some(out));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Gate {
        /// How often a throttle paused every read.
        fn pauses(&self) -> u32 {
            self.lock().pauses
        }
    }

    fn tags(app: &str, stage: Option<&str>) -> HashMap<String, String> {
        let mut t = HashMap::new();
        t.insert(TAG_APP.to_string(), app.to_string());
        if let Some(s) = stage {
            t.insert(TAG_STAGE.to_string(), s.to_string());
        }
        t
    }

    #[test]
    fn only_functions_of_the_app_are_stages() {
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:hello-pr-7";
        let s = stage_of("hello", arn, &tags("hello", Some("pr-7"))).unwrap();
        assert_eq!(s.stage, "pr-7");
        assert_eq!(s.function_name, "hello-pr-7");
        assert!(stage_of("hello", arn, &tags("hello-world", Some("pr-7"))).is_none());
        assert!(stage_of("hello", &format!("{arn}:live"), &tags("hello", None)).is_none());
        // No stage tag: the name says it.
        assert_eq!(
            stage_of("hello", arn, &tags("hello", None)).unwrap().stage,
            "pr-7"
        );
    }

    #[test]
    fn storage_warns_from_80_percent() {
        let s = |used| CodeStorage { used, limit: 100 };
        assert!(!s(79).warn());
        assert!(s(80).warn());
        assert!(!CodeStorage { used: 5, limit: 0 }.warn());
    }

    #[test]
    fn durations_and_times() {
        assert_eq!(
            parse_duration("--x", "14d").unwrap(),
            Duration::from_secs(14 * 86_400)
        );
        assert_eq!(
            parse_duration("--x", "90m").unwrap(),
            Duration::from_secs(5400)
        );
        assert!(parse_duration("--x", "14").is_err());
        assert!(parse_duration("--x", "d").is_err());
        let t = parse_aws_time("2024-03-12T19:03:58.000+0000").unwrap();
        assert_eq!(t.unix_timestamp(), 1_710_270_238);
        assert!(parse_aws_time("2024-03-12T19:03:58Z").is_some());
    }

    #[test]
    fn bytes_for_people() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(2048), "2.0 KB");
        assert_eq!(human_bytes(80_530_636_800), "75.0 GB");
    }

    #[tokio::test]
    async fn a_throttle_pauses_every_read() {
        let gate = Gate::with_base(4, Duration::from_millis(20));
        let t0 = Instant::now();
        gate.throttled(t0);
        assert_eq!(gate.pauses(), 1);
        // A second throttle from the same burst (sent before the pause) doesn't extend it.
        gate.throttled(t0 - Duration::from_millis(1));
        assert_eq!(gate.pauses(), 1);
        gate.wait().await;
        assert!(Instant::now() >= t0 + gate.base, "waited out the pause");
        // A throttle after the pause doubles it.
        gate.throttled(Instant::now());
        assert_eq!(gate.lock().delay, gate.base * 2);
    }
}
