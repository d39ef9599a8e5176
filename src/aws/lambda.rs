//! Lambda operations, written for the real service: functions are Pending after create and
//! InProgress after updates (writes meanwhile get 409 ResourceConflictException, which we
//! wait out), PublishVersion carries a CodeSha256 and RevisionId precondition, and aliases
//! move with RevisionId. Every get-or-create is an `upsert_*` that decides on a typed
//! not-found check.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_lambda::Client;
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::types::{
    AliasRoutingConfiguration, Architecture as LambdaArch, Environment, EphemeralStorage,
    FunctionCode, FunctionUrlAuthType, LastUpdateStatus, Runtime, SnapStart, SnapStartApplyOn,
    State, TracingConfig, TracingMode, VpcConfig,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use futures_util::StreamExt as _;
use futures_util::stream::FuturesOrdered;

use super::errors::{
    is_code_sha256_mismatch, is_conflict, is_not_found, is_precondition_failed,
    is_role_not_assumable, wrap,
};
use crate::config::FunctionSettings;
use crate::error::{Error, Result};
use crate::naming::{LIVE_ALIAS, Provenance};
use crate::production::DEFAULT_DESCRIPTION;

pub(crate) use crate::ownership::{TAG_APP, TAG_STAGE};
/// The function URL of `live` as created (`none` after it was removed), so that `status` of
/// many stages reads it from GetResources instead of one GetFunctionUrlConfig per stage.
pub(crate) const TAG_URL: &str = "deploy-action:url";

/// Statement ids of the public function URL permissions.
pub(crate) const SID_URL: &str = "deploy-action-url";
pub(crate) const SID_URL_INVOKE: &str = "deploy-action-url-invoke";

/// How long to wait for a function to leave Pending / InProgress. Real Lambda takes
/// seconds, sometimes minutes for large functions or VPC attachments.
fn busy_budget() -> Duration {
    std::env::var("DEPLOY_ACTION_TEST_BUSY_BUDGET_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(600), Duration::from_secs)
}

/// A function version's (or $LATEST's) configuration, reduced to what we compare and report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct FunctionConfig {
    pub arn: String,
    pub version: String,
    pub code_sha256: String,
    pub code_size: i64,
    pub runtime: Option<String>,
    pub handler: Option<String>,
    pub memory: Option<i32>,
    pub timeout: Option<i32>,
    pub env: BTreeMap<String, String>,
    pub architecture: Option<String>,
    pub role: Option<String>,
    pub description: String,
    pub revision_id: Option<String>,
    pub last_modified: Option<String>,
    /// Sorted subnet and security group ids (empty: not in a VPC).
    pub vpc_subnets: Vec<String>,
    pub vpc_security_groups: Vec<String>,
    /// Layer version ARNs, in order.
    pub layers: Vec<String>,
    pub tracing: Option<String>,
    pub ephemeral_storage: Option<i32>,
    /// SnapStart's ApplyOn (`PublishedVersions` or `None`).
    pub snapstart: Option<String>,
    state: Option<State>,
    last_update: Option<LastUpdateStatus>,
    status_reason: Option<String>,
}

impl FunctionConfig {
    pub(crate) fn from_sdk(c: &aws_sdk_lambda::types::FunctionConfiguration) -> Self {
        config_from_sdk(c)
    }

    /// Lambda's last update of it failed (it keeps running what it ran before).
    #[must_use]
    pub(crate) fn last_update_failed(&self) -> bool {
        matches!(self.last_update, Some(LastUpdateStatus::Failed))
    }

    #[must_use]
    pub(crate) fn provenance(&self) -> Provenance {
        Provenance::parse(&self.description)
    }

    /// Whether the architecture differs (it is changed with the code, not the configuration).
    #[must_use]
    pub(crate) fn architecture_differs(&self, want: &FunctionSettings) -> bool {
        self.architecture.as_deref().unwrap_or("x86_64") != want.architecture.lambda_name()
    }
}

/// The `live` alias.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AliasState {
    pub arn: String,
    pub version: String,
    pub revision_id: Option<String>,
    pub description: String,
    /// Extra versions and their traffic share (a canary in progress).
    pub routing: HashMap<String, f64>,
}

macro_rules! alias_from {
    ($name:ident, $ty:ty) => {
        pub(crate) fn $name(a: &$ty) -> AliasState {
            AliasState {
                arn: a.alias_arn().unwrap_or_default().to_string(),
                version: a.function_version().unwrap_or_default().to_string(),
                revision_id: a.revision_id().map(str::to_string),
                description: a.description().unwrap_or_default().to_string(),
                routing: a
                    .routing_config()
                    .and_then(|r| r.additional_version_weights())
                    .cloned()
                    .unwrap_or_default(),
            }
        }
    };
}

alias_from!(alias_from_sdk, aws_sdk_lambda::types::AliasConfiguration);
alias_from!(
    alias_from_output,
    aws_sdk_lambda::operation::get_alias::GetAliasOutput
);

/// Run a Lambda write, waiting out ResourceConflictException (function Pending or an
/// update InProgress) with backoff. Throttling and 5xx are retried by the SDK itself.
pub(crate) async fn retry_busy<T, E, F, Fut>(
    function: &str,
    mut op: F,
) -> std::result::Result<T, SdkError<E, HttpResponse>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata,
{
    let deadline = Instant::now() + busy_budget();
    let mut delay = Duration::from_millis(200);
    loop {
        match op().await {
            Err(e) if is_conflict(&e) && Instant::now() < deadline => {
                tracing::info!(
                    "{function} is busy ({}); retrying in {delay:?}",
                    e.message().unwrap_or("ResourceConflictException")
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            other => return other,
        }
    }
}

/// How long a new execution role may take to become assumable by Lambda (IAM is eventually
/// consistent; seconds are usual, 90 s is generous). Tests shorten it.
fn role_budget() -> Duration {
    std::env::var("DEPLOY_ACTION_TEST_ROLE_BUDGET_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(90), Duration::from_secs)
}

/// Run a write that names the execution role (CreateFunction, UpdateFunctionConfiguration),
/// waiting out "The role defined for the function cannot be assumed by Lambda" while a new
/// role propagates (`errors::is_role_not_assumable`), and busy 409s as `retry_busy` does when `busy`
/// says to. After `role_budget()` the last answer is returned: then the trust policy is the problem.
async fn retry_role<T, E, F, Fut>(
    function: &str,
    role: Option<&str>,
    busy: Busy,
    mut op: F,
) -> std::result::Result<T, SdkError<E, HttpResponse>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata,
{
    let start = Instant::now();
    let mut delay = Duration::from_secs(1);
    loop {
        let answer = match busy {
            Busy::Wait => retry_busy(function, &mut op).await,
            Busy::Answer => op().await,
        };
        match answer {
            Err(e) if is_role_not_assumable(&e) && start.elapsed() + delay <= role_budget() => {
                tracing::info!(
                    "{function}: Lambda can't assume the execution role {} yet (a new IAM role takes seconds to propagate); retrying in {delay:?} ({} s of {} s)",
                    role.unwrap_or("(unchanged)"),
                    start.elapsed().as_secs(),
                    role_budget().as_secs()
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
            other => return other,
        }
    }
}

/// What a 409 ResourceConflictException means to a write.
#[derive(Clone, Copy)]
enum Busy {
    /// The function is busy (Pending, an update InProgress): wait it out.
    Wait,
    /// An answer the caller handles (CreateFunction: the function exists already).
    Answer,
}

/// The error for a role Lambda still can't assume after `role_budget()`.
fn role_error(operation: &'static str, function: &str, role: Option<&str>) -> Error {
    Error::Aws {
        step: "function",
        operation,
        resource: function.to_string(),
        message: format!(
            "InvalidParameterValueException: The role defined for the function cannot be assumed by Lambda (execution role {}, still after {} s)",
            role.unwrap_or("(unchanged)"),
            role_budget().as_secs()
        ),
        help: Some(
            "check the role's trust policy: it must allow lambda.amazonaws.com to sts:AssumeRole (`deploy-action policy` prints it); live was not moved"
                .into(),
        ),
        rejected: true,
    }
}

/// When to look again at a function that is updating. The time between the update finishing
/// and our next look is pure wait, and on a warm deploy it is the only wait left besides the
/// update itself (bench/, "Warm update with simulated AWS latency"); looks cost requests
/// against the account's GetFunction quota (100 per second), shared by every deploy in it.
#[derive(Debug, Clone)]
pub(crate) struct Looks {
    /// How many pauses so far.
    taken: u32,
    /// The first pause (after our own write: until the update may be done).
    first: Duration,
    /// Until then, `tight` pauses: the update is likely to end in this span.
    tight_until: Duration,
    tight: Duration,
}

impl Looks {
    /// After our own write: a code update of a zip takes about a second on Lambda (the bench
    /// models 0.5 to 3 s), so nothing is asked for the first 0.4 s; then every 25 ms up to
    /// 1.5 s (about 20 looks), then every 200 to 250 ms as before (a VPC attachment takes
    /// minutes).
    pub(crate) fn own_write() -> Self {
        Looks {
            taken: 0,
            first: Duration::from_millis(400),
            tight_until: Duration::from_millis(1500),
            tight: Duration::from_millis(25),
        }
    }

    /// Someone else's update, started at a time we don't know: 100 ms, 200 ms, then at most
    /// 250 ms as before.
    pub(crate) fn someone_elses() -> Self {
        Looks {
            taken: 0,
            first: Duration::from_millis(100),
            tight_until: Duration::ZERO,
            tight: Duration::ZERO,
        }
    }

    /// The pause before the next look, `elapsed` into the wait.
    pub(crate) fn next(&mut self, elapsed: Duration) -> Duration {
        self.taken += 1;
        if self.taken == 1 {
            return self.first;
        }
        if elapsed < self.tight_until {
            return self.tight;
        }
        (elapsed / 8).clamp(Duration::from_millis(200), Duration::from_millis(250))
    }
}

/// Where UpdateFunctionCode takes the code from.
pub(crate) enum CodeSource<'a> {
    /// An object in S3 (Lambda copies it from there).
    S3 { bucket: &'a str, key: &'a str },
    /// The zip itself, in the request: one round trip less than an upload to S3 first.
    /// Lambda takes up to 50 MB this way ("Lambda quotas": deployment package, zipped, when
    /// uploaded through the Lambda API or SDKs).
    Zip(Vec<u8>),
}

/// At most this many looks at an update unanswered at once (`Function::wait`): at 25 ms apart
/// that covers a 100 ms round trip.
const LOOKS_IN_FLIGHT: usize = 4;

/// Lambda calls for one function.
pub(crate) struct Function<'a> {
    pub client: &'a Client,
    pub name: &'a str,
}

impl<'a> Function<'a> {
    #[must_use]
    pub(crate) fn new(client: &'a Client, name: &'a str) -> Self {
        Function { client, name }
    }

    /// GetFunction for a qualifier; `None` when the function (or that alias) doesn't exist.
    pub(crate) async fn get(
        &self,
        qualifier: Option<&str>,
    ) -> Result<Option<(FunctionConfig, HashMap<String, String>)>> {
        match self
            .client
            .get_function()
            .function_name(self.name)
            .set_qualifier(qualifier.map(str::to_string))
            .send()
            .await
        {
            Ok(out) => {
                let config = out
                    .configuration()
                    .map(FunctionConfig::from_sdk)
                    .ok_or_else(|| {
                        Error::Internal("GetFunction returned no configuration".into())
                    })?;
                // Lambda returns tags only to a caller allowed lambda:ListTags, and says so
                // in TagsError instead (GetFunction API reference, "TagsError"). No tags
                // must never read as "not ours" (or as "ours").
                if let Some(e) = out.tags_error() {
                    return Err(Error::TagsUnreadable {
                        function: self.name.to_string(),
                        message: format!("{}: {}", e.error_code(), e.message()),
                    });
                }
                Ok(Some((config, out.tags().cloned().unwrap_or_default())))
            }
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(wrap("inspect", "GetFunction", self.name, e)),
        }
    }

    /// The configuration of $LATEST or a version.
    pub(crate) async fn configuration(
        &self,
        qualifier: Option<&str>,
    ) -> Result<Option<FunctionConfig>> {
        match self
            .client
            .get_function_configuration()
            .function_name(self.name)
            .set_qualifier(qualifier.map(str::to_string))
            .send()
            .await
        {
            Ok(c) => Ok(Some(config_from_output(&c))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(wrap("inspect", "GetFunctionConfiguration", self.name, e)),
        }
    }

    /// The `live` alias, if any.
    pub(crate) async fn alias(&self, alias: &str) -> Result<Option<AliasState>> {
        match self
            .client
            .get_alias()
            .function_name(self.name)
            .name(alias)
            .send()
            .await
        {
            Ok(a) => Ok(Some(alias_from_output(&a))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(wrap(
                "inspect",
                "GetAlias",
                format!("{}:{alias}", self.name),
                e,
            )),
        }
    }

    /// Wait until nothing is running on $LATEST before we write to it, starting from `seen`
    /// (a recent read, if any). An earlier update that failed doesn't stop us: Lambda keeps
    /// running the code from before it, and our update is the way out.
    pub(crate) async fn wait_idle(
        &self,
        step: &'static str,
        seen: Option<FunctionConfig>,
    ) -> Result<FunctionConfig> {
        self.wait(step, seen, false).await
    }

    /// Wait for our own write to finish, starting from `answer`: what the write returned.
    /// When that already shows it done there is nothing to read; when it shows the update
    /// running, the first look comes when the update may be done (`Looks::own_write`). A
    /// Failed state or update is an error that carries Lambda's reason.
    pub(crate) async fn settle(
        &self,
        step: &'static str,
        answer: Option<FunctionConfig>,
    ) -> Result<FunctionConfig> {
        self.wait(step, answer, true).await
    }

    async fn wait(
        &self,
        step: &'static str,
        mut answer: Option<FunctionConfig>,
        failure_is_ours: bool,
    ) -> Result<FunctionConfig> {
        let started = Instant::now();
        let deadline = started + busy_budget();
        let mut looks = if failure_is_ours {
            Looks::own_write()
        } else {
            Looks::someone_elses()
        };
        // Looks go out on their schedule, not one round trip after another: while the update
        // is likely to end, a look every 25 ms with up to `LOOKS_IN_FLIGHT` unanswered, so its
        // end is seen 12 ms late on average rather than half a (pause + round trip). Answers
        // are taken oldest first; looks still out when one shows the end are dropped (reads).
        let mut in_flight = FuturesOrdered::new();
        let mut next_look = Instant::now();
        if answer.is_some() {
            next_look += looks.next(started.elapsed());
        }
        // Progress every 30 s: attaching to a VPC (network interfaces) takes minutes on AWS,
        // and a silent log looks like a hang.
        let mut next_progress = started + Duration::from_secs(30);
        loop {
            let config = match answer.take() {
                Some(config) => config,
                None => loop {
                    let may_send = in_flight.len() < LOOKS_IN_FLIGHT;
                    if may_send && Instant::now() >= next_look {
                        in_flight.push_back(self.look(step));
                        next_look = Instant::now() + looks.next(started.elapsed());
                        continue;
                    }
                    let next_look_at = tokio::time::Instant::from_std(next_look);
                    if in_flight.is_empty() {
                        tokio::time::sleep_until(next_look_at).await;
                        continue;
                    }
                    // All looks in flight are polled (sent) together; the oldest answer first.
                    tokio::select! {
                        Some(seen) = in_flight.next() => break seen?,
                        () = tokio::time::sleep_until(next_look_at), if may_send => {}
                    }
                },
            };
            let waiting = match (&config.state, &config.last_update) {
                (Some(State::Failed), _) if failure_is_ours => {
                    return Err(self.not_ready(step, "is in state Failed", &config));
                }
                (_, Some(LastUpdateStatus::Failed)) if failure_is_ours => {
                    return Err(self.not_ready(step, "update failed", &config));
                }
                (Some(State::Pending), _) | (_, Some(LastUpdateStatus::InProgress)) => true,
                // Active, Inactive (an update re-activates it), or fields an emulator leaves out.
                _ => false,
            };
            if !waiting {
                return Ok(config);
            }
            if Instant::now() >= next_progress {
                next_progress += Duration::from_secs(30);
                tracing::info!(
                    "{}: still waiting for Lambda ({:?}/{:?}, {} s so far): {}",
                    self.name,
                    config.state,
                    config.last_update,
                    started.elapsed().as_secs(),
                    config
                        .status_reason
                        .as_deref()
                        .unwrap_or("no reason given yet; a VPC attachment takes minutes")
                );
            }
            if Instant::now() >= deadline {
                return Err(Error::NotReady {
                    step,
                    function: self.name.to_string(),
                    message: format!(
                        "is still {:?}/{:?} after {:?}",
                        config.state,
                        config.last_update,
                        busy_budget()
                    ),
                    help: Some(
                        "Lambda is slow to apply the update; run the deploy again in a few minutes"
                            .into(),
                    ),
                });
            }
        }
    }

    /// One look at $LATEST. GetFunction, not GetFunctionConfiguration: it has its own quota of
    /// 100 requests per second, while GetFunctionConfiguration shares the 15 per second of the
    /// rest of the control plane with every other deploy in the account (AWS Lambda developer
    /// guide, "Lambda quotas", API requests).
    async fn look(&self, step: &'static str) -> Result<FunctionConfig> {
        self.get(None)
            .await?
            .map(|(config, _)| config)
            .ok_or_else(|| Error::NotReady {
                step,
                function: self.name.to_string(),
                message: "disappeared while we waited for it".into(),
                help: Some("another job may have torn the stage down; run the deploy again".into()),
            })
    }

    fn not_ready(&self, step: &'static str, what: &str, config: &FunctionConfig) -> Error {
        Error::NotReady {
            step,
            function: self.name.to_string(),
            message: format!(
                "{what}: {}",
                config.status_reason.as_deref().unwrap_or("no reason given")
            ),
            help: Some("fix what the reason names (role, runtime, code), then deploy again; live was not moved".into()),
        }
    }

    /// Create the function from an S3 object, tagged as ours. Returns Lambda's answer (the
    /// function Pending, on Lambda), or `None` when it already exists (another run created it
    /// meanwhile): the caller then updates it instead.
    pub(crate) async fn create(
        &self,
        want: &FunctionSettings,
        role: &str,
        bucket: &str,
        key: &str,
        tags: &[(&str, &str)],
    ) -> Result<Option<FunctionConfig>> {
        let mut req = self
            .client
            .create_function()
            .function_name(self.name)
            .runtime(Runtime::from(want.runtime.as_str()))
            .handler(&want.handler)
            .role(role)
            .memory_size(want.memory)
            .timeout(want.timeout)
            .architectures(LambdaArch::from(want.architecture.lambda_name()))
            .environment(environment(&want.env))
            .code(
                FunctionCode::builder()
                    .s3_bucket(bucket)
                    .s3_key(key)
                    .build(),
            )
            .publish(false)
            .description(
                want.production
                    .description
                    .as_deref()
                    .unwrap_or(DEFAULT_DESCRIPTION),
            )
            .vpc_config(vpc_config(want))
            .set_layers(Some(want.production.layers.clone()))
            .tracing_config(tracing_config(want))
            .ephemeral_storage(ephemeral_storage(want)?)
            .snap_start(snap_start(want));
        if want.production.vpc.is_some() {
            tracing::info!(
                "{}: Lambda sets up the function's network interfaces in the VPC; on AWS that takes a few minutes (progress below)",
                self.name
            );
        }
        for (k, v) in tags {
            req = req.tags(*k, *v);
        }
        match retry_role(self.name, Some(role), Busy::Answer, || req.clone().send()).await {
            Ok(out) => Ok(Some(config_from_create(&out))),
            // 409 after the busy retries: the function exists (another run created it).
            Err(e) if is_conflict(&e) => Ok(None),
            Err(e) if is_role_not_assumable(&e) => {
                Err(role_error("CreateFunction", self.name, Some(role)))
            }
            Err(e) => Err(wrap("function", "CreateFunction", self.name, e)),
        }
    }

    /// Apply configuration drift to $LATEST. Returns $LATEST as the answer describes it
    /// (usually still updating).
    pub(crate) async fn update_configuration(
        &self,
        want: &FunctionSettings,
    ) -> Result<FunctionConfig> {
        let role = want.execution_role.as_deref();
        let out = retry_role(self.name, role, Busy::Wait, || {
            self.client
                .update_function_configuration()
                .function_name(self.name)
                .runtime(Runtime::from(want.runtime.as_str()))
                .handler(&want.handler)
                .memory_size(want.memory)
                .timeout(want.timeout)
                .environment(environment(&want.env))
                .set_role(want.execution_role.clone())
                .description(
                    want.production
                        .description
                        .as_deref()
                        .unwrap_or(DEFAULT_DESCRIPTION),
                )
                .vpc_config(vpc_config(want))
                .set_layers(Some(want.production.layers.clone()))
                .tracing_config(tracing_config(want))
                .set_ephemeral_storage(ephemeral_storage(want).ok())
                .snap_start(snap_start(want))
                .send()
        })
        .await
        .map_err(|e| {
            if is_role_not_assumable(&e) {
                role_error("UpdateFunctionConfiguration", self.name, role)
            } else {
                wrap("function", "UpdateFunctionConfiguration", self.name, e)
            }
        })?;
        Ok(config_from_update_configuration(&out))
    }

    /// Point $LATEST at the artifact (and the architecture). Returns $LATEST as the answer
    /// describes it: on Lambda the update is still InProgress then.
    pub(crate) async fn update_code(
        &self,
        want: &FunctionSettings,
        code: &CodeSource<'_>,
    ) -> Result<FunctionConfig> {
        let out = retry_busy(self.name, || {
            let req = self
                .client
                .update_function_code()
                .function_name(self.name)
                .architectures(LambdaArch::from(want.architecture.lambda_name()))
                .publish(false);
            match code {
                CodeSource::S3 { bucket, key } => req.s3_bucket(*bucket).s3_key(*key),
                CodeSource::Zip(bytes) => {
                    req.zip_file(aws_sdk_lambda::primitives::Blob::new(bytes.clone()))
                }
            }
            .send()
        })
        .await
        .map_err(|e| wrap("function", "UpdateFunctionCode", self.name, e))?;
        Ok(config_from_update_code(&out))
    }

    /// Publish $LATEST as a version, only if it still holds `code_sha256` (and, with a
    /// RevisionId, nothing else changed since our update). `None` means the precondition
    /// failed: another run changed $LATEST in between.
    pub(crate) async fn publish(
        &self,
        code_sha256: &str,
        revision_id: Option<&str>,
        description: &str,
    ) -> Result<Option<FunctionConfig>> {
        let result = retry_busy(self.name, || {
            self.client
                .publish_version()
                .function_name(self.name)
                .code_sha256(code_sha256)
                .set_revision_id(revision_id.map(str::to_string))
                .description(description)
                .send()
        })
        .await;
        match result {
            Ok(out) => Ok(Some(config_from_publish(&out))),
            // RevisionId mismatch (412), or CodeSha256 mismatch (400, see
            // `is_code_sha256_mismatch`): another run changed $LATEST.
            Err(e) if is_precondition_failed(&e) || is_code_sha256_mismatch(&e) => Ok(None),
            Err(e) => Err(wrap("publish", "PublishVersion", self.name, e)),
        }
    }

    /// Every published version (not $LATEST), oldest first.
    pub(crate) async fn versions(&self) -> Result<Vec<FunctionConfig>> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_versions_by_function()
            .function_name(self.name)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| wrap("inspect", "ListVersionsByFunction", self.name, e))?;
            out.extend(
                page.versions()
                    .iter()
                    .map(FunctionConfig::from_sdk)
                    .filter(|c| c.version != "$LATEST"),
            );
        }
        out.sort_by_key(|c| version_number(&c.version));
        Ok(out)
    }

    pub(crate) async fn aliases(&self) -> Result<Vec<AliasState>> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_aliases()
            .function_name(self.name)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| wrap("inspect", "ListAliases", self.name, e))?;
            out.extend(page.aliases().iter().map(alias_from_sdk));
        }
        Ok(out)
    }

    /// Create the alias, or move it with RevisionId. `routing` gives extra versions a share
    /// of traffic (canary); an empty map clears any weights.
    pub(crate) async fn put_alias(
        &self,
        alias: &str,
        current: Option<&AliasState>,
        version: &str,
        description: &str,
        routing: &HashMap<String, f64>,
    ) -> Result<AliasWrite> {
        let routing_config = AliasRoutingConfiguration::builder()
            .set_additional_version_weights(Some(routing.clone()))
            .build();
        let resource = format!("{}:{alias}", self.name);
        match current {
            None => {
                let mut req = self
                    .client
                    .create_alias()
                    .function_name(self.name)
                    .name(alias)
                    .function_version(version)
                    .description(description);
                if !routing.is_empty() {
                    req = req.routing_config(routing_config);
                }
                match req.send().await {
                    Ok(a) => Ok(AliasWrite::Done(
                        a.alias_arn().unwrap_or_default().to_string(),
                    )),
                    Err(e) if is_conflict(&e) => Ok(AliasWrite::Raced),
                    Err(e) => Err(wrap("alias", "CreateAlias", resource, e)),
                }
            }
            Some(cur) => {
                // 409 "an update is in progress" is waited out; a RevisionId that moved on
                // (412) or a deleted alias means someone else wrote first.
                match retry_busy(self.name, || {
                    self.client
                        .update_alias()
                        .function_name(self.name)
                        .name(alias)
                        .function_version(version)
                        .description(description)
                        .routing_config(routing_config.clone())
                        .set_revision_id(cur.revision_id.clone())
                        .send()
                })
                .await
                {
                    Ok(a) => Ok(AliasWrite::Done(
                        a.alias_arn().unwrap_or_default().to_string(),
                    )),
                    Err(e) if is_precondition_failed(&e) || is_not_found(&e) => {
                        Ok(AliasWrite::Raced)
                    }
                    Err(e) => Err(wrap("alias", "UpdateAlias", resource, e)),
                }
            }
        }
    }

    /// The function URL on `live`, if any, without changing anything.
    pub(crate) async fn url(&self) -> Result<Option<(String, FunctionUrlAuthType)>> {
        Ok(self.url_config().await?.map(|c| (c.url, c.auth)))
    }

    /// `live`'s function URL config, if any.
    pub(crate) async fn url_config(&self) -> Result<Option<UrlConfig>> {
        match self
            .client
            .get_function_url_config()
            .function_name(self.name)
            .qualifier(LIVE_ALIAS)
            .send()
            .await
        {
            Ok(c) => Ok(Some(UrlConfig {
                url: normalize_url(c.function_url()),
                auth: c.auth_type().clone(),
                function_arn: c.function_arn().to_string(),
            })),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(wrap(
                "url",
                "GetFunctionUrlConfig",
                format!("{}:{LIVE_ALIAS}", self.name),
                e,
            )),
        }
    }

    /// Create the function URL on `live`. `Ok(None)` on 409: a URL config exists already, or
    /// the function is busy (the caller reads again and decides).
    pub(crate) async fn create_url(&self, auth: FunctionUrlAuthType) -> Result<Option<UrlConfig>> {
        match self
            .client
            .create_function_url_config()
            .function_name(self.name)
            .qualifier(LIVE_ALIAS)
            .auth_type(auth)
            .send()
            .await
        {
            Ok(out) => Ok(Some(UrlConfig {
                url: normalize_url(out.function_url()),
                auth: out.auth_type().clone(),
                function_arn: out.function_arn().to_string(),
            })),
            Err(e) if is_conflict(&e) => Ok(None),
            Err(e) => Err(wrap(
                "url",
                "CreateFunctionUrlConfig",
                format!("{}:{LIVE_ALIAS}", self.name),
                e,
            )),
        }
    }

    /// Change the auth type of `live`'s function URL (409 "update in progress" waited out).
    pub(crate) async fn update_url(&self, auth: FunctionUrlAuthType) -> Result<String> {
        let out = retry_busy(self.name, || {
            self.client
                .update_function_url_config()
                .function_name(self.name)
                .qualifier(LIVE_ALIAS)
                .auth_type(auth.clone())
                .send()
        })
        .await
        .map_err(|e| {
            wrap(
                "url",
                "UpdateFunctionUrlConfig",
                format!("{}:{LIVE_ALIAS}", self.name),
                e,
            )
        })?;
        Ok(normalize_url(out.function_url()))
    }

    /// Remove `live`'s function URL (gone already counts as done).
    pub(crate) async fn delete_url(&self) -> Result<()> {
        let result = retry_busy(self.name, || {
            self.client
                .delete_function_url_config()
                .function_name(self.name)
                .qualifier(LIVE_ALIAS)
                .send()
        })
        .await;
        self.gone_is_done("DeleteFunctionUrlConfig", result)
    }

    /// The statements of `live`'s resource policy (none when it has no policy).
    pub(crate) async fn policy_statements(&self) -> Result<Vec<serde_json::Value>> {
        match self
            .client
            .get_policy()
            .function_name(self.name)
            .qualifier(LIVE_ALIAS)
            .send()
            .await
        {
            Ok(p) => {
                let doc: serde_json::Value =
                    serde_json::from_str(p.policy().unwrap_or("{}")).unwrap_or_default();
                Ok(match doc.get("Statement") {
                    Some(serde_json::Value::Array(list)) => list.clone(),
                    // A policy of one statement may come as an object.
                    Some(one @ serde_json::Value::Object(_)) => vec![one.clone()],
                    _ => Vec::new(),
                })
            }
            Err(e) if is_not_found(&e) => Ok(Vec::new()),
            Err(e) => Err(wrap(
                "url",
                "GetPolicy",
                format!("{}:{LIVE_ALIAS}", self.name),
                e,
            )),
        }
    }

    /// AddPermission on `live`. `Ok(false)` on 409 ResourceConflictException, which means
    /// either "The statement id (...) provided already exists" or "an update is in progress":
    /// the caller reads the policy to tell which (no message matching).
    pub(crate) async fn add_permission(&self, statement: &Permission) -> Result<bool> {
        let mut req = self
            .client
            .add_permission()
            .function_name(self.name)
            .qualifier(LIVE_ALIAS)
            .statement_id(&statement.sid)
            .action(statement.action)
            .principal(statement.principal);
        if let Some(auth) = &statement.url_auth_type {
            req = req.function_url_auth_type(auth.clone());
        }
        if let Some(via) = statement.invoked_via_function_url {
            req = req.invoked_via_function_url(via);
        }
        if let Some(arn) = &statement.source_arn {
            req = req.source_arn(arn);
        }
        match req.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(wrap(
                "url",
                "AddPermission",
                format!("{}:{LIVE_ALIAS}", self.name),
                e,
            )),
        }
    }

    /// RemovePermission on `live` (409 "update in progress" waited out; gone counts as done).
    pub(crate) async fn remove_permission(&self, sid: &str) -> Result<()> {
        let result = retry_busy(self.name, || {
            self.client
                .remove_permission()
                .function_name(self.name)
                .qualifier(LIVE_ALIAS)
                .statement_id(sid)
                .send()
        })
        .await;
        self.gone_is_done("RemovePermission", result)
    }

    /// A removal from `live`'s URL set-up: gone already counts as done.
    fn gone_is_done<T, E>(
        &self,
        operation: &'static str,
        result: std::result::Result<T, SdkError<E, HttpResponse>>,
    ) -> Result<()>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(wrap(
                "url",
                operation,
                format!("{}:{LIVE_ALIAS}", self.name),
                e,
            )),
        }
    }

    /// Delete one published version. `Ok(false)` when it is gone already or an alias started
    /// using it since it was listed (Lambda refuses that with 409).
    pub(crate) async fn delete_version(&self, version: &str) -> Result<bool> {
        match self
            .client
            .delete_function()
            .function_name(self.name)
            .qualifier(version)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) || is_conflict(&e) => Ok(false),
            Err(e) => Err(wrap(
                "prune",
                "DeleteFunction",
                format!("{}:{version}", self.name),
                e,
            )),
        }
    }

    /// Delete the function with all versions, aliases, URLs and its policy. `false` when it
    /// was not there.
    pub(crate) async fn delete(&self) -> Result<bool> {
        match retry_busy(self.name, || {
            self.client
                .delete_function()
                .function_name(self.name)
                .send()
        })
        .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(wrap("teardown", "DeleteFunction", self.name, e)),
        }
    }

    // --- used by `ops` (rollback, canary) ---

    /// Invoke a qualifier synchronously with `payload` (smoke checks of a new version).
    /// Throttling is retried by the SDK; a function error is an answer, not an `Err`.
    pub(crate) async fn invoke(&self, qualifier: &str, payload: Vec<u8>) -> Result<Invocation> {
        let out = retry_busy(self.name, || {
            self.client
                .invoke()
                .function_name(self.name)
                .qualifier(qualifier)
                .payload(aws_sdk_lambda::primitives::Blob::new(payload.clone()))
                .send()
        })
        .await
        .map_err(|e| {
            wrap(
                "smoke check",
                "Invoke",
                format!("{}:{qualifier}", self.name),
                e,
            )
        })?;
        Ok(Invocation {
            status: out.status_code(),
            function_error: out.function_error().map(str::to_string),
            payload: out
                .payload()
                .map(|b| b.as_ref().to_vec())
                .unwrap_or_default(),
            executed_version: out.executed_version().map(str::to_string),
        })
    }

    /// Record the URL in the `deploy-action:url` tag (issue #19: `status` of 2,000 stages reads
    /// it from GetResources). Only when the URL is created or removed, so a no-op deploy sends
    /// nothing more. A failure only costs `status` a GetFunctionUrlConfig: warn and go on.
    pub(crate) async fn tag_url(&self, url_arn: &str, url: Option<&str>) {
        let arn = crate::ops::unqualified_arn(url_arn);
        if let Err(e) = self.tag(&arn, &[(TAG_URL, url.unwrap_or("none"))]).await {
            tracing::warn!("could not record the URL in the {TAG_URL} tag: {e}");
        }
    }

    /// Set tags on the function (tags belong to the function, not to versions).
    pub(crate) async fn tag(&self, function_arn: &str, tags: &[(&str, &str)]) -> Result<()> {
        let mut req = self.client.tag_resource().resource(function_arn);
        for (k, v) in tags {
            req = req.tags(*k, *v);
        }
        req.send()
            .await
            .map_err(|e| wrap("tag", "TagResource", self.name, e))?;
        Ok(())
    }
}

/// The answer of a synchronous Invoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invocation {
    /// The Invoke call's own HTTP status (200 for a synchronous call that ran).
    pub status: i32,
    /// `Handled` / `Unhandled` when the function raised.
    pub function_error: Option<String>,
    pub payload: Vec<u8>,
    pub executed_version: Option<String>,
}

/// A function URL config.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UrlConfig {
    pub url: String,
    pub auth: FunctionUrlAuthType,
    /// The function (or alias) ARN the URL is on.
    pub function_arn: String,
}

/// One statement of `live`'s resource policy, as AddPermission takes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Permission {
    pub sid: String,
    pub action: &'static str,
    pub principal: &'static str,
    pub url_auth_type: Option<FunctionUrlAuthType>,
    pub invoked_via_function_url: Option<bool>,
    pub source_arn: Option<String>,
}

/// Outcome of a conditional alias write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AliasWrite {
    /// Written; the alias ARN.
    Done(String),
    /// Someone else changed it first: read it again and decide again.
    Raced,
}

/// Function URLs as Lambda documents them: `https://<id>.lambda-url.<region>.on.aws/`,
/// with the trailing slash (some emulators leave it out).
pub(crate) fn normalize_url(url: &str) -> String {
    if url.ends_with('/') {
        url.to_string()
    } else {
        format!("{url}/")
    }
}

/// Numeric order of versions ("10" after "9").
#[must_use]
pub(crate) fn version_number(v: &str) -> u64 {
    v.parse().unwrap_or(0)
}

/// The VPC settings to write: empty lists take the function out of a VPC.
fn vpc_config(want: &FunctionSettings) -> VpcConfig {
    let (subnets, groups) = want
        .production
        .vpc
        .as_ref()
        .map(|v| (v.subnets.clone(), v.security_groups.clone()))
        .unwrap_or_default();
    VpcConfig::builder()
        .set_subnet_ids(Some(subnets))
        .set_security_group_ids(Some(groups))
        .build()
}

fn tracing_config(want: &FunctionSettings) -> TracingConfig {
    TracingConfig::builder()
        .mode(TracingMode::from(want.production.tracing.lambda_name()))
        .build()
}

fn ephemeral_storage(want: &FunctionSettings) -> Result<EphemeralStorage> {
    EphemeralStorage::builder()
        .size(want.production.ephemeral_storage)
        .build()
        .map_err(|e| Error::Internal(format!("ephemeral storage: {e}")))
}

pub(crate) fn snap_start(want: &FunctionSettings) -> SnapStart {
    SnapStart::builder()
        .apply_on(if want.production.snapstart {
            SnapStartApplyOn::PublishedVersions
        } else {
            SnapStartApplyOn::None
        })
        .build()
}

fn sorted(ids: &[String]) -> Vec<String> {
    let mut v = ids.to_vec();
    v.sort();
    v
}

fn environment(env: &BTreeMap<String, String>) -> Environment {
    Environment::builder()
        .set_variables(Some(
            env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        ))
        .build()
}

macro_rules! config_from {
    ($name:ident, $ty:ty) => {
        fn $name(c: &$ty) -> FunctionConfig {
            FunctionConfig {
                arn: c.function_arn().unwrap_or_default().to_string(),
                version: c.version().unwrap_or("$LATEST").to_string(),
                code_sha256: c.code_sha256().unwrap_or_default().to_string(),
                code_size: c.code_size(),
                runtime: c.runtime().map(|r| r.as_str().to_string()),
                handler: c.handler().map(str::to_string),
                memory: c.memory_size(),
                timeout: c.timeout(),
                env: c
                    .environment()
                    .and_then(|e| e.variables())
                    .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
                architecture: c.architectures().first().map(|a| a.as_str().to_string()),
                role: c.role().map(str::to_string),
                description: c.description().unwrap_or_default().to_string(),
                revision_id: c.revision_id().map(str::to_string),
                last_modified: c.last_modified().map(str::to_string),
                vpc_subnets: sorted(c.vpc_config().map(|v| v.subnet_ids()).unwrap_or_default()),
                vpc_security_groups: sorted(
                    c.vpc_config()
                        .map(|v| v.security_group_ids())
                        .unwrap_or_default(),
                ),
                layers: c
                    .layers()
                    .iter()
                    .filter_map(|l| l.arn().map(str::to_string))
                    .collect(),
                tracing: c
                    .tracing_config()
                    .and_then(|t| t.mode())
                    .map(|m| m.as_str().to_string()),
                ephemeral_storage: c.ephemeral_storage().map(|e| e.size()),
                snapstart: c
                    .snap_start()
                    .and_then(|s| s.apply_on())
                    .map(|a| a.as_str().to_string()),
                state: c.state().cloned(),
                last_update: c.last_update_status().cloned(),
                status_reason: c
                    .last_update_status_reason()
                    .or(c.state_reason())
                    .map(str::to_string),
            }
        }
    };
}

config_from!(
    config_from_sdk,
    aws_sdk_lambda::types::FunctionConfiguration
);
config_from!(
    config_from_output,
    aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput
);
config_from!(
    config_from_publish,
    aws_sdk_lambda::operation::publish_version::PublishVersionOutput
);
config_from!(
    config_from_create,
    aws_sdk_lambda::operation::create_function::CreateFunctionOutput
);
config_from!(
    config_from_update_code,
    aws_sdk_lambda::operation::update_function_code::UpdateFunctionCodeOutput
);
config_from!(
    config_from_update_configuration,
    aws_sdk_lambda::operation::update_function_configuration::UpdateFunctionConfigurationOutput
);

#[cfg(test)]
mod tests {
    use super::*;

    fn pauses(mut looks: Looks, until: Duration, rtt: Duration) -> Vec<Duration> {
        let mut at = Duration::ZERO;
        let mut out = Vec::new();
        while at < until {
            let p = looks.next(at);
            out.push(p);
            at += p + rtt;
        }
        out
    }

    #[test]
    fn after_our_write_the_first_look_waits_then_looks_are_tight_then_sparse() {
        let p = pauses(
            Looks::own_write(),
            Duration::from_secs(3),
            Duration::from_millis(30),
        );
        assert_eq!(p[0], Duration::from_millis(400));
        assert!(
            p[1..20].iter().all(|d| *d == Duration::from_millis(25)),
            "{p:?}"
        );
        assert!(p.last().unwrap() >= &Duration::from_millis(200), "{p:?}");
        assert!(p.iter().all(|d| *d <= Duration::from_millis(400)));
    }

    #[test]
    fn someone_elses_update_is_looked_at_as_before() {
        let p = pauses(
            Looks::someone_elses(),
            Duration::from_secs(2),
            Duration::ZERO,
        );
        assert_eq!(p[0], Duration::from_millis(100));
        assert!(
            p[1..].iter().all(|d| (200..=250).contains(&d.as_millis())),
            "{p:?}"
        );
    }
}
