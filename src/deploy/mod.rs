//! The deploy pipeline (docs/contract.md, "One deploy, step by step"): observe → plan → upload → function → publish →
//! (smoke check, canary) → alias → URL → prune. Any failure before the alias step leaves
//! `live` where it was; a failure after it says which version is live.

pub(crate) mod alias;
pub(crate) mod canary;
mod drift;
mod prune;
mod publish;
pub(crate) mod url;

use std::collections::HashMap;

use crate::aws::Aws;
use crate::aws::lambda::{AliasState, CodeSource, Function, FunctionConfig};
use crate::aws::s3;
use crate::config::DeployConfig;
use crate::error::{Error, Result};
use crate::github::workflow;
use crate::naming::{self, LIVE_ALIAS};
use crate::output::DeployReport;
use crate::ownership::{self, Ownership};
use crate::package::Artifact;
use crate::plan::{self, Action, DeployPlan, Observed};

use alias::{Intent, Outcome};
use publish::Published;

/// The artifact being deployed: in S3 under `key`, with a local copy unless promoted.
pub(crate) struct ArtifactRef<'a> {
    pub bucket: &'a str,
    pub key: String,
    pub code_sha256: String,
    pub local: Option<&'a Artifact>,
}

/// The largest zip a warm update sends inside UpdateFunctionCode instead of uploading it to
/// S3 first. Below this, the bytes base64 adds to the request cost less than the round trip
/// they save (20-80 ms to AWS; 4 MiB is ~1.3 MiB more at the tens of MB/s a runner has), and
/// Lambda doesn't copy the object from S3 either. Lambda's own limit is 50 MB.
const INLINE_MAX: u64 = 4 * 1024 * 1024;

impl ArtifactRef<'_> {
    #[must_use]
    pub(crate) fn s3_url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// Whether a code update sends the zip itself (a local artifact of at most `INLINE_MAX`).
    /// The object still goes to S3 under its sha256 (promote and later runs use it), while
    /// Lambda applies the update.
    #[must_use]
    fn inline(&self) -> bool {
        self.local.is_some_and(|a| a.size <= INLINE_MAX)
    }

    /// What UpdateFunctionCode takes: the zip's bytes when `inline` (and it is small enough),
    /// else the S3 object.
    async fn code_source(&self, inline: bool) -> Result<CodeSource<'_>> {
        match self.local {
            Some(local) if inline && self.inline() => {
                let bytes = tokio::fs::read(&local.path)
                    .await
                    .map_err(|e| Error::io(format!("reading {}", local.path.display()), e))?;
                Ok(CodeSource::Zip(bytes))
            }
            _ => Ok(CodeSource::S3 {
                bucket: self.bucket,
                key: &self.key,
            }),
        }
    }
}

/// One step of the pipeline: a log group in Actions, and the name errors carry.
struct Step;

impl Step {
    fn start(name: &str) -> Step {
        workflow::group(name);
        tracing::info!("{name}");
        Step
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        workflow::end_group();
    }
}

/// What the first round trip finds: the `live` alias and the version it points at (with the
/// function's tags). It needs nothing of the artifact, so it can go out while that is hashed.
pub(crate) struct LiveRead {
    alias: Option<AliasState>,
    live: Option<(FunctionConfig, HashMap<String, String>)>,
    /// The artifact's HEAD (`look_for_artifact`), when it went out with these reads.
    stored: Option<Result<bool>>,
}

impl LiveRead {
    /// With the answer of `look_for_artifact`, made beside `read_live`.
    #[must_use]
    pub(crate) fn with_artifact_look(self, stored: Result<bool>) -> Self {
        LiveRead {
            stored: Some(stored),
            ..self
        }
    }
}

/// The artifact's HEAD, sent as soon as it is hashed (usually before `read_live` is answered):
/// whether it is stored already, and whether the bucket is in the function's region. Its
/// error is kept, not raised: it matters only to a deploy that writes (`observe`).
pub(crate) async fn look_for_artifact(
    aws: &Aws,
    cfg: &DeployConfig,
    artifact: &Artifact,
) -> Result<bool> {
    let key = naming::artifact_key(&cfg.store.prefix, &cfg.app, &artifact.sha256_hex);
    s3::is_stored(&aws.s3, &cfg.store.bucket, &key, artifact).await
}

/// Read `live` and its version, both at once: a deploy's latency is mostly round trips.
pub(crate) async fn read_live(aws: &Aws, cfg: &DeployConfig) -> Result<LiveRead> {
    let function = Function::new(&aws.lambda, &cfg.function_name);
    let (alias, live) = tokio::join!(function.alias(LIVE_ALIAS), function.get(Some(LIVE_ALIAS)));
    let alias = alias?;
    // Without the alias, GetFunction(live) has nothing to say (and its error neither).
    let live = match alias {
        Some(_) => live?,
        None => None,
    };
    Ok(LiveRead {
        alias,
        live,
        stored: None,
    })
}

/// Read the state of the stage's function in at most two round trips: `first` (from
/// `read_live`); then, unless that settles it (no-op, superseded), $LATEST together with
/// whether the artifact is in S3 already (reads only).
pub(crate) async fn observe(
    aws: &Aws,
    cfg: &DeployConfig,
    artifact: &ArtifactRef<'_>,
    first: LiveRead,
) -> Result<Observed> {
    let function = Function::new(&aws.lambda, &cfg.function_name);
    let mut observed = Observed::default();
    let looked = first.stored;
    if let (Some(alias), Some((live, tags))) = (first.alias, first.live) {
        observed = Observed {
            live: Some(live),
            alias: Some(alias),
            tags,
            exists: true,
            ..Observed::default()
        };
        let settled = matches!(
            plan::decide(cfg, &cfg.function, &artifact.code_sha256, &observed),
            Action::Noop | Action::Superseded { .. }
        );
        if settled {
            // Nothing is written: where the bucket is doesn't matter.
            return Ok(observed);
        }
        // A warm update with the code inline needs nothing more before its first write
        // (`Observed::latest_unread`); a dry run reads all it prints.
        if artifact.inline()
            && !cfg.dry_run
            && let Some(stored) = looked
        {
            observed.artifact_stored = Some(stored?);
            observed.latest_unread = true;
            return Ok(observed);
        }
    }
    // `live` runs something else, or there is no `live`. A re-run after a crash may find
    // our code on $LATEST already (then the HEAD was spare: one cheap read).
    let stored = async {
        match (looked, artifact.local) {
            (Some(stored), _) => stored.map(Some),
            (None, Some(local)) => s3::is_stored(&aws.s3, artifact.bucket, &artifact.key, local)
                .await
                .map(Some),
            (None, None) => Ok(None),
        }
    };
    if observed.exists {
        let (latest, stored) = tokio::join!(function.configuration(None), stored);
        observed.latest = latest?;
        observed.artifact_stored = stored?;
    } else {
        let (latest, stored) = tokio::join!(function.get(None), stored);
        if let Some((latest, tags)) = latest? {
            observed.latest = Some(latest);
            observed.tags = tags;
            observed.exists = true;
        }
        observed.artifact_stored = stored?;
    }
    Ok(observed)
}

/// Plan a deploy of `artifact` (reads only).
pub(crate) async fn plan(
    aws: &Aws,
    cfg: &DeployConfig,
    artifact: &ArtifactRef<'_>,
) -> Result<(DeployPlan, Observed)> {
    let first = read_live(aws, cfg).await?;
    plan_from(aws, cfg, artifact, first).await
}

/// `plan`, with the first round trip already made.
pub(crate) async fn plan_from(
    aws: &Aws,
    cfg: &DeployConfig,
    artifact: &ArtifactRef<'_>,
    first: LiveRead,
) -> Result<(DeployPlan, Observed)> {
    let observed = observe(aws, cfg, artifact, first).await?;
    let ownership = plan::check_ownership(cfg, &observed)?;
    // SnapStart excludes provisioned concurrency: refused here, before any write.
    if cfg.function.production.snapstart && observed.exists {
        crate::production::snapstart::refuse_provisioned_concurrency(aws, &cfg.function_name)
            .await?;
    }
    if !observed.exists && cfg.function.execution_role.is_none() {
        return Err(Error::missing(
            "--execution-role",
            format!(
                "{} does not exist yet, and creating it needs an execution role",
                cfg.function_name
            ),
            "pass --execution-role arn:aws:iam::<account>:role/<lambda role> (input `execution-role`); `deploy-action policy` explains the roles",
        ));
    }
    let action = plan::decide(cfg, &cfg.function, &artifact.code_sha256, &observed);
    let needs_code = match &action {
        Action::Create => true,
        Action::Update { code, .. } => *code,
        Action::Noop | Action::Superseded { .. } => false,
    };
    let plan = DeployPlan {
        function_name: cfg.function_name.clone(),
        artifact: artifact.s3_url(),
        code_sha256: artifact.code_sha256.clone(),
        live_version: observed.alias.as_ref().map(|a| a.version.clone()),
        action,
        upload: needs_code && artifact.local.is_some() && observed.artifact_stored != Some(true),
        function_url: cfg.function.function_url,
        provenance: cfg.provenance.description(),
        adopt: ownership == Some(Ownership::Adopting),
        secrets: crate::production::secrets::shown(&cfg.function.secrets),
    };
    Ok((plan, observed))
}

/// Carry out a plan: the pipeline's steps in order. Everything before `go_live` leaves `live`
/// where it was when it fails.
pub(crate) async fn execute(
    aws: &Aws,
    cfg: &DeployConfig,
    artifact: &ArtifactRef<'_>,
    plan: &DeployPlan,
    observed: Observed,
) -> Result<DeployReport> {
    let function = Function::new(&aws.lambda, &cfg.function_name);
    let report = starting_report(cfg, artifact, &observed);
    let production_seen = crate::production::seen(&observed);
    match &plan.action {
        Action::Superseded { live_run } => {
            return stand_down(&function, cfg, report, *live_run, &observed).await;
        }
        Action::Noop => {
            // Production settings outside the version (log group, concurrency, schedules)
            // are kept on a no-op too: reads, and writes only for drift.
            let live_arn = report.function_arn.clone();
            let (report, (), ()) = tokio::try_join!(
                keep_live(&function, cfg, report),
                crate::production::finish(aws, cfg, production_seen, true),
                crate::production::schedules(aws, cfg, &observed.tags, &live_arn),
            )?;
            return Ok(report);
        }
        Action::Create | Action::Update { .. } => {}
    }
    if plan.adopt {
        adopt(&function, cfg, &observed).await?;
    }
    // A warm update sends the code inline (`Observed::latest_unread`): the S3 copy and the
    // log group are made while Lambda applies it (the function has run before; its new code
    // runs once `live` moves). Otherwise the object must be in S3 first, and the log group,
    // with its retention, exist before the function can first run: both at once, both run to
    // their end (an upload is never cut off).
    let inline = observed.latest_unread;
    if !inline {
        let (uploaded, prepared) = tokio::join!(
            upload(aws, artifact, plan, &observed),
            crate::production::prepare(aws, cfg)
        );
        uploaded?;
        prepared?;
    }
    let beside_inline_update = async {
        if !inline {
            return Ok(());
        }
        let (stored, prepared) = tokio::join!(
            store_copy(aws, artifact, observed.artifact_stored),
            crate::production::prepare(aws, cfg)
        );
        stored?;
        prepared
    };
    // While Lambda applies the update (about a second on AWS), the reads that don't depend on
    // it: reserved concurrency for `finish`, and the listings for pruning.
    let live_version = observed.alias.as_ref().map(|a| a.version.as_str());
    let (published, production_seen, listings, beside) = tokio::join!(
        function_and_version(&function, cfg, artifact, plan, &observed),
        crate::production::look_ahead(aws, cfg, production_seen),
        prune::read_ahead(&function, cfg.function.keep_versions, live_version),
        beside_inline_update,
    );
    let published = published?;
    beside?;
    let published = match published {
        Published::Version(v) => *v,
        Published::Superseded {
            live_run,
            live_version,
            arn,
        } => {
            return superseded_while_deploying(&function, cfg, report, live_run, live_version, arn)
                .await;
        }
    };
    // Function-level settings (reserved concurrency) before live moves: a refusal (say, the
    // account's unreserved minimum) fails the deploy with live where it was.
    crate::production::finish(aws, cfg, production_seen?, false).await?;
    if cfg.function.production.snapstart {
        let _s = Step::start("SnapStart");
        crate::production::snapstart::wait_ready(aws, &cfg.function_name, &published.version)
            .await?;
    }
    // Release command (ops::invoke): runs on the new version, once; a failure stops here,
    // before live moves.
    crate::ops::invoke::run_release_command(aws, cfg, &published).await?;
    // Smoke check and canary: the new version proves itself before live moves.
    if canary::enabled(&cfg.rollout) {
        let _s = Step::start("smoke check");
        canary::gate(&function, cfg, &published).await?;
    }
    let report = go_live(&function, cfg, &published, &observed, listings, report).await?;
    // Schedules target `live` and need its resource policy: now that it exists.
    if !report.superseded
        && let Err(e) =
            crate::production::schedules(aws, cfg, &observed.tags, &report.function_arn).await
    {
        return Err(after_live(report, "schedules", e));
    }
    Ok(report)
}

/// The report before anything is done: what `live` is now.
fn starting_report(
    cfg: &DeployConfig,
    artifact: &ArtifactRef<'_>,
    observed: &Observed,
) -> DeployReport {
    let alias = observed.alias.as_ref();
    DeployReport {
        app: cfg.app.clone(),
        stage: cfg.stage.clone(),
        function_name: cfg.function_name.clone(),
        function_arn: alias.map(|a| a.arn.clone()).unwrap_or_default(),
        version: alias.map(|a| a.version.clone()).unwrap_or_default(),
        previous_version: None,
        alias: LIVE_ALIAS.to_string(),
        url: None,
        code_sha256: artifact.code_sha256.clone(),
        artifact: artifact.s3_url(),
        changed: false,
        superseded: false,
        front_door: crate::output::FrontDoorReport::default(),
    }
}

/// A newer run is live: change nothing, report what is live.
async fn stand_down(
    function: &Function<'_>,
    cfg: &DeployConfig,
    mut report: DeployReport,
    live_run: u64,
    observed: &Observed,
) -> Result<DeployReport> {
    workflow::notice(&format!(
        "{}: run {live_run} is live, newer than this run ({}); not moving live (pass --force to override)",
        cfg.function_name,
        cfg.provenance
            .run_id
            .map_or_else(|| "unknown".into(), |r| r.to_string())
    ));
    report.superseded = true;
    report.previous_version = Some(report.version.clone());
    if let Some(live) = &observed.live {
        report.code_sha256 = live.code_sha256.clone();
    }
    report.url = function.url().await?.map(|(u, _)| u);
    Ok(report)
}

/// `live` already runs this code and configuration: only make sure its URL is as asked.
async fn keep_live(
    function: &Function<'_>,
    cfg: &DeployConfig,
    mut report: DeployReport,
) -> Result<DeployReport> {
    let _s = Step::start("function URL");
    report.previous_version = Some(report.version.clone());
    report.url = url::keep(function, cfg.function.function_url).await?;
    tracing::info!(
        "{}: live already runs version {} with this code and configuration",
        cfg.function_name,
        report.version
    );
    Ok(report)
}

/// `--adopt` of a function without our tags: tag it first, so that this and every later
/// command treats it as ours (and a failure here changes nothing else).
async fn adopt(function: &Function<'_>, cfg: &DeployConfig, observed: &Observed) -> Result<()> {
    let arn = observed
        .latest
        .as_ref()
        .or(observed.live.as_ref())
        .map(|c| crate::ops::unqualified_arn(&c.arn))
        .ok_or_else(|| Error::Internal("adopting a function that was not read".into()))?;
    function
        .tag(&arn, &ownership::tags(&cfg.app, &cfg.stage))
        .await?;
    tracing::info!(
        "{}: adopted (tagged {}={}, {}={})",
        cfg.function_name,
        ownership::TAG_APP,
        cfg.app,
        ownership::TAG_STAGE,
        cfg.stage
    );
    Ok(())
}

/// Upload: only when $LATEST must take new code (a re-run after a crash finds it there)
/// and the object isn't stored yet.
async fn upload(
    aws: &Aws,
    artifact: &ArtifactRef<'_>,
    plan: &DeployPlan,
    observed: &Observed,
) -> Result<()> {
    if plan.upload
        && let Some(local) = artifact.local
    {
        let _s = Step::start("upload");
        s3::upload(&aws.s3, artifact.bucket, &artifact.key, local).await?;
    } else if observed.artifact_stored == Some(true) {
        tracing::info!("artifact already in {}, not uploading", artifact.s3_url());
    }
    Ok(())
}

/// The S3 copy of an artifact whose code went inline: stored under its sha256 like any
/// other (promote and later runs look for it there), uploaded only when missing (`stored`:
/// what the plan's HEAD said). No log group of its own: it runs inside the "function and
/// version" one.
async fn store_copy(aws: &Aws, artifact: &ArtifactRef<'_>, stored: Option<bool>) -> Result<()> {
    let Some(local) = artifact.local else {
        return Ok(());
    };
    let stored = match stored {
        Some(known) => known,
        None => s3::is_stored(&aws.s3, artifact.bucket, &artifact.key, local).await?,
    };
    if stored {
        tracing::info!("artifact already in {}, not uploading", artifact.s3_url());
    } else {
        s3::upload(&aws.s3, artifact.bucket, &artifact.key, local).await?;
    }
    Ok(())
}

/// Create the function or bring $LATEST to our code and configuration, then publish.
async fn function_and_version(
    function: &Function<'_>,
    cfg: &DeployConfig,
    artifact: &ArtifactRef<'_>,
    plan: &DeployPlan,
    observed: &Observed,
) -> Result<Published> {
    let _s = Step::start("function and version");
    let mut created = false;
    // What we know of $LATEST: the plan's read, or for a function we create, Lambda's
    // answer to that (Pending at first) followed until it is Active.
    let mut known = observed.latest_or_presumed().cloned();
    if matches!(plan.action, Action::Create) {
        let role = cfg.function.execution_role.as_deref().unwrap_or_default();
        let tags = ownership::tags(&cfg.app, &cfg.stage);
        match function
            .create(&cfg.function, role, artifact.bucket, &artifact.key, &tags)
            .await?
        {
            Some(answer) => {
                tracing::info!("created {}", cfg.function_name);
                created = true;
                known = Some(function.settle("function", Some(answer)).await?);
            }
            None => {
                // Another run created it meanwhile: whose is it?
                let (latest, tags) = function.get(None).await?.ok_or_else(|| {
                    Error::Internal("the function vanished right after it existed".into())
                })?;
                ownership::check(&cfg.function_name, &cfg.app, &cfg.stage, &tags, false)?;
                tracing::info!(
                    "{} was created by another run meanwhile; updating it",
                    cfg.function_name
                );
                known = Some(latest);
            }
        }
    }
    let presumed = observed.latest_unread && !created;
    publish::publish_our_code(function, cfg, artifact, created, known, presumed).await
}

/// A newer run went live while we deployed: we published nothing.
async fn superseded_while_deploying(
    function: &Function<'_>,
    cfg: &DeployConfig,
    mut report: DeployReport,
    live_run: u64,
    live_version: String,
    arn: String,
) -> Result<DeployReport> {
    workflow::notice(&format!(
        "{}: run {live_run} went live while this run deployed; not publishing",
        cfg.function_name
    ));
    report.superseded = true;
    report.version.clone_from(&live_version);
    report.previous_version = Some(live_version);
    report.function_arn = arn;
    report.url = function.url().await?.map(|(u, _)| u);
    Ok(report)
}

/// Move `live` to the published version, keep the URL on it and prune old versions, all at
/// once (one log group: GitHub's groups don't interleave). The alias write runs to its end
/// whatever the other two do (they are joined, never cancelled): when it fails, `live` is
/// where it was; when a later step fails, the error says which version is live.
async fn go_live(
    function: &Function<'_>,
    cfg: &DeployConfig,
    published: &FunctionConfig,
    observed: &Observed,
    listings: Option<prune::Listings>,
    mut report: DeployReport,
) -> Result<DeployReport> {
    let _s = Step::start("alias, function URL, old versions");
    report.changed = true;
    report.version.clone_from(&published.version);
    // The canary step moved the alias itself: read it again rather than write against the
    // plan's RevisionId and be refused.
    let seen = (!canary::enabled(&cfg.rollout)).then(|| observed.alias.clone());
    let url_mode = cfg.function.function_url;
    let keep = cfg.function.keep_versions;
    let moving = move_live(function, cfg, published, seen);
    let pruning = prune::prune(function, keep, Some(&published.version), listings);
    let (moved, url, pruned) = if observed.alias.is_some() {
        tokio::join!(moving, url::keep(function, url_mode), pruning)
    } else {
        // The URL hangs on `live`: it needs the alias first.
        let (moved, pruned) = tokio::join!(moving, pruning);
        let url = match &moved {
            Ok(_) => url::keep(function, url_mode).await,
            Err(_) => Ok(None),
        };
        (moved, url, pruned)
    };
    let moved_off = match &moved {
        Ok(LiveMove::Moved { previous, .. }) => previous.clone(),
        _ => None,
    };
    match moved? {
        LiveMove::Moved { previous, arn } => {
            report.previous_version = previous;
            report.function_arn = arn;
        }
        LiveMove::Superseded {
            live_run,
            live_version,
            arn,
        } => {
            workflow::notice(&format!(
                "{}: run {live_run} went live while this run deployed; version {} was published but live stays on {live_version}",
                cfg.function_name, published.version
            ));
            report.superseded = true;
            report.version.clone_from(&live_version);
            report.previous_version = Some(live_version);
            report.function_arn = arn;
        }
    }
    // From here on, `live` has moved (or a newer run's is live): a failure says so.
    report.url = match url {
        Ok(url) => url,
        Err(e) => return Err(after_live(report, "function URL", e)),
    };
    let pruned = match pruned {
        Ok(p) => prune::after_move(function, p, moved_off.as_deref()).await,
        Err(e) => Err(e),
    };
    match pruned {
        Ok(deleted) if !deleted.is_empty() => {
            tracing::info!("deleted old versions {}", deleted.join(", "));
        }
        Ok(_) => {}
        Err(e) => return Err(after_live(report, "pruning old versions", e)),
    }
    Ok(report)
}

fn after_live(report: DeployReport, step: &'static str, error: Error) -> Error {
    Error::AfterLive {
        step,
        source: Box::new(error),
        report: Box::new(report),
    }
}

enum LiveMove {
    Moved {
        previous: Option<String>,
        arn: String,
    },
    Superseded {
        live_run: u64,
        live_version: String,
        arn: String,
    },
}

/// Point `live` at `version` unless a newer run is live. The alias description mirrors the
/// version's provenance, so this check needs no more than the alias. The first attempt
/// writes against `seen` (the plan's read): if the alias moved since, its RevisionId did too,
/// the write is refused, and it is read again.
async fn move_live(
    function: &Function<'_>,
    cfg: &DeployConfig,
    version: &FunctionConfig,
    seen: Option<Option<AliasState>>,
) -> Result<LiveMove> {
    let outcome = alias::compare_and_set(function, "alias", seen, |current| {
        Ok(match current {
            Some(cur) => {
                if !cfg.force
                    && let Some(live_run) = plan::superseded_by(&cfg.provenance, &cur.description)
                {
                    Intent::Stop(LiveMove::Superseded {
                        live_run,
                        live_version: cur.version.clone(),
                        arn: cur.arn.clone(),
                    })
                } else if cur.version == version.version
                    && cur.routing.is_empty()
                    && cur.description == version.description
                {
                    Intent::Stop(LiveMove::Moved {
                        previous: Some(cur.version.clone()),
                        arn: cur.arn.clone(),
                    })
                } else {
                    write_version(version)
                }
            }
            None => write_version(version),
        })
    })
    .await?;
    Ok(match outcome {
        Outcome::Stopped(why) => why,
        Outcome::Written { arn, previous } => {
            tracing::info!(
                "live → version {}{}",
                version.version,
                previous
                    .as_ref()
                    .map(|c| format!(" (was {})", c.version))
                    .unwrap_or_default()
            );
            LiveMove::Moved {
                previous: previous.map(|c| c.version),
                arn,
            }
        }
    })
}

fn write_version<T>(version: &FunctionConfig) -> Intent<T> {
    Intent::Write {
        version: version.version.clone(),
        description: version.description.clone(),
        routing: HashMap::new(),
    }
}

/// `deploy` from validated config and a built artifact, with the first round trip (`read_live`,
/// sent while the artifact was built) already made.
pub(crate) async fn run_from(
    aws: &Aws,
    cfg: &DeployConfig,
    artifact: &Artifact,
    first: LiveRead,
) -> Result<DeployReport> {
    let key = naming::artifact_key(&cfg.store.prefix, &cfg.app, &artifact.sha256_hex);
    let reference = ArtifactRef {
        bucket: &cfg.store.bucket,
        key,
        code_sha256: artifact.code_sha256.clone(),
        local: Some(artifact),
    };
    let (plan, observed) = plan_from(aws, cfg, &reference, first).await?;
    execute(aws, cfg, &reference, &plan, observed).await
}
