//! The deploy pipeline (design.md §2): observe → plan → upload → function → publish →
//! alias → URL → prune. Any failure before the alias step leaves `live` where it was.

use std::collections::HashMap;

use crate::aws::Aws;
use crate::aws::lambda::{AliasState, AliasWrite, Function, FunctionConfig, TAG_APP, TAG_STAGE};
use crate::aws::s3;
use crate::config::{DeployConfig, FunctionSettings};
use crate::error::{Error, Result};
use crate::github::workflow;
use crate::naming::{self, LIVE_ALIAS};
use crate::output::DeployReport;
use crate::package::Artifact;
use crate::plan::{self, Action, DeployPlan, Observed};

/// How many times we redo update+publish when another run changed $LATEST in between.
const PUBLISH_ATTEMPTS: usize = 10;
/// How many times we re-read and rewrite the alias when another run moved it in between.
const ALIAS_ATTEMPTS: usize = 10;

/// The artifact being deployed: in S3 under `key`, with a local copy unless promoted.
pub struct ArtifactRef<'a> {
    pub bucket: &'a str,
    pub key: String,
    pub code_sha256: String,
    pub local: Option<&'a Artifact>,
}

impl ArtifactRef<'_> {
    #[must_use]
    pub fn s3_url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
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
pub struct LiveRead {
    alias: Option<AliasState>,
    live: Option<(FunctionConfig, HashMap<String, String>)>,
}

/// Read `live` and its version, both at once: a deploy's latency is mostly round trips.
pub async fn read_live(aws: &Aws, cfg: &DeployConfig) -> Result<LiveRead> {
    let function = Function::new(&aws.lambda, &cfg.function_name);
    let (alias, live) = tokio::join!(function.alias(LIVE_ALIAS), function.get(Some(LIVE_ALIAS)));
    let alias = alias?;
    // Without the alias, GetFunction(live) has nothing to say (and its error neither).
    let live = match alias {
        Some(_) => live?,
        None => None,
    };
    Ok(LiveRead { alias, live })
}

/// Read the state of the stage's function in at most two round trips: `first` (from
/// `read_live`); then, unless that settles it (no-op, superseded), $LATEST together with
/// whether the artifact is in S3 already (reads only).
pub async fn observe(
    aws: &Aws,
    cfg: &DeployConfig,
    artifact: &ArtifactRef<'_>,
    first: LiveRead,
) -> Result<Observed> {
    let function = Function::new(&aws.lambda, &cfg.function_name);
    let mut observed = Observed::default();
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
            return Ok(observed);
        }
    }
    // `live` runs something else, or there is no `live`. A re-run after a crash may find
    // our code on $LATEST already (then the HEAD was spare: one cheap read).
    let stored = async {
        match artifact.local {
            Some(local) => s3::is_stored(&aws.s3, artifact.bucket, &artifact.key, local)
                .await
                .map(Some),
            None => Ok(None),
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
pub async fn plan(
    aws: &Aws,
    cfg: &DeployConfig,
    artifact: &ArtifactRef<'_>,
) -> Result<(DeployPlan, Observed)> {
    let first = read_live(aws, cfg).await?;
    plan_from(aws, cfg, artifact, first).await
}

/// `plan`, with the first round trip already made.
pub async fn plan_from(
    aws: &Aws,
    cfg: &DeployConfig,
    artifact: &ArtifactRef<'_>,
    first: LiveRead,
) -> Result<(DeployPlan, Observed)> {
    let observed = observe(aws, cfg, artifact, first).await?;
    plan::check_ownership(cfg, &observed)?;
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
    };
    Ok((plan, observed))
}

/// Carry out a plan.
pub async fn execute(
    aws: &Aws,
    cfg: &DeployConfig,
    artifact: &ArtifactRef<'_>,
    plan: &DeployPlan,
    observed: Observed,
) -> Result<DeployReport> {
    let function = Function::new(&aws.lambda, &cfg.function_name);
    let mut report = DeployReport {
        app: cfg.app.clone(),
        stage: cfg.stage.clone(),
        function_name: cfg.function_name.clone(),
        function_arn: observed
            .alias
            .as_ref()
            .map(|a| a.arn.clone())
            .unwrap_or_default(),
        version: observed
            .alias
            .as_ref()
            .map(|a| a.version.clone())
            .unwrap_or_default(),
        previous_version: None,
        alias: LIVE_ALIAS.to_string(),
        url: None,
        code_sha256: artifact.code_sha256.clone(),
        artifact: artifact.s3_url(),
        changed: false,
        superseded: false,
        front_door: crate::output::FrontDoorReport::default(),
    };
    match &plan.action {
        Action::Superseded { live_run } => {
            workflow::notice(&format!(
                "{}: run {live_run} is live, newer than this run ({}); not moving live (pass --force to override)",
                cfg.function_name,
                cfg.provenance
                    .run_id
                    .map_or_else(|| "unknown".into(), |r| r.to_string())
            ));
            report.superseded = true;
            report.previous_version = report.version.clone().into();
            if let Some(live) = &observed.live {
                report.code_sha256 = live.code_sha256.clone();
            }
            report.url = function.url().await?.map(|(u, _)| u);
            return Ok(report);
        }
        Action::Noop => {
            let _s = Step::start("function URL");
            report.previous_version = Some(report.version.clone());
            report.url = function.keep_url(cfg.function.function_url).await?;
            tracing::info!(
                "{}: live already runs version {} with this code and configuration",
                cfg.function_name,
                report.version
            );
            return Ok(report);
        }
        Action::Create | Action::Update { .. } => {}
    }

    // Upload: only when $LATEST must take new code (a re-run after a crash finds it there)
    // and the object isn't stored yet.
    if plan.upload
        && let Some(local) = artifact.local
    {
        let _s = Step::start("upload");
        s3::upload(&aws.s3, artifact.bucket, &artifact.key, local).await?;
    } else if observed.artifact_stored == Some(true) {
        tracing::info!("artifact already in {}, not uploading", artifact.s3_url());
    }

    // Function: create, or bring $LATEST to our code and configuration, then publish.
    let published = {
        let _s = Step::start("function and version");
        let mut created = false;
        // What we know of $LATEST: the plan's read, or for a function we create, Lambda's
        // answer to that (Pending at first) followed until it is Active.
        let mut known = observed.latest.clone();
        if matches!(plan.action, Action::Create) {
            let role = cfg.function.execution_role.as_deref().unwrap_or_default();
            let tags = [(TAG_APP, cfg.app.as_str()), (TAG_STAGE, cfg.stage.as_str())];
            match function
                .create(&cfg.function, role, artifact.bucket, &artifact.key, &tags)
                .await?
            {
                Some(answer) => {
                    tracing::info!("created {}", cfg.function_name);
                    created = true;
                    known = Some(function.settle("function", Some(answer)).await?);
                }
                None => tracing::info!(
                    "{} was created by another run meanwhile; updating it",
                    cfg.function_name
                ),
            }
        }
        publish_our_code(&function, cfg, artifact, created, known).await?
    };
    report.changed = true;
    let published = match published {
        Published::Version(v) => *v,
        Published::Superseded {
            live_run,
            live_version,
            arn,
        } => {
            workflow::notice(&format!(
                "{}: run {live_run} went live while this run deployed; not publishing",
                cfg.function_name
            ));
            report.changed = false;
            report.superseded = true;
            report.version.clone_from(&live_version);
            report.previous_version = Some(live_version);
            report.function_arn = arn;
            report.url = function.url().await?.map(|(u, _)| u);
            return Ok(report);
        }
    };
    report.version.clone_from(&published.version);

    // Smoke check and canary (ops::canary): the new version proves itself before live moves.
    if crate::ops::canary::enabled(&cfg.rollout) {
        let _s = Step::start("smoke check");
        crate::ops::canary::gate(&function, cfg, &published).await?;
    }

    // Then three things that touch different resources, all at once (one log group: GitHub's
    // groups don't interleave): move `live` unless a newer run got there first; keep the URL
    // on `live` and its permissions (this waits for the alias when there was none, since the
    // URL hangs on it); prune old versions (never one an alias points at, or ours).
    let _s = Step::start("alias, function URL, old versions");
    // The canary step moved the alias itself: read it again rather than write against the
    // plan's RevisionId and be refused.
    let seen = (!crate::ops::canary::enabled(&cfg.rollout)).then(|| observed.alias.clone());
    let url_mode = cfg.function.function_url;
    let alias_and_url = async {
        if observed.alias.is_some() {
            tokio::try_join!(
                move_live(&function, cfg, &published, seen),
                function.keep_url(url_mode)
            )
        } else {
            let moved = move_live(&function, cfg, &published, seen).await?;
            Ok((moved, function.keep_url(url_mode).await?))
        }
    };
    let ((moved, url), deleted) = tokio::try_join!(
        alias_and_url,
        function.prune(cfg.function.keep_versions, Some(&published.version)),
    )?;
    match moved {
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
            report.previous_version = Some(live_version);
            report.function_arn = arn;
        }
    }
    report.url = url;
    if !deleted.is_empty() {
        tracing::info!("deleted old versions {}", deleted.join(", "));
    }
    Ok(report)
}

/// What publishing came to.
enum Published {
    Version(Box<FunctionConfig>),
    /// A newer run went live while we tried: stop, don't publish.
    Superseded {
        live_run: u64,
        live_version: String,
        arn: String,
    },
}

/// Bring $LATEST to our code and configuration and publish it, with the CodeSha256 and
/// RevisionId preconditions. When another run changes $LATEST between our update and our
/// publish, the precondition fails and we go again after a jittered pause (so racing runs
/// stop colliding), unless a newer run went live meanwhile: a version never carries another
/// run's code under our provenance, and an older run gives way to a newer one.
async fn publish_our_code(
    function: &Function<'_>,
    cfg: &DeployConfig,
    artifact: &ArtifactRef<'_>,
    created: bool,
    mut known: Option<FunctionConfig>,
) -> Result<Published> {
    let description = cfg.provenance.description();
    for attempt in 1..=PUBLISH_ATTEMPTS {
        if attempt > 1 {
            tokio::time::sleep(jittered_backoff(attempt)).await;
            if !cfg.force
                && let Some(current) = function.alias(LIVE_ALIAS).await?
                && let Some(live_run) = plan::superseded_by(&cfg.provenance, &current.description)
            {
                return Ok(Published::Superseded {
                    live_run,
                    live_version: current.version,
                    arn: current.arn,
                });
            }
        }
        // The first look at $LATEST is the plan's when it has one (and it is current enough:
        // anything that changed since is caught by the publish preconditions).
        let mut latest = function.wait_idle("function", known.take()).await?;
        // After a failed update $LATEST may show our code while Lambda runs the old one:
        // apply it again rather than publish it.
        let failed_before = latest.last_update_failed();
        let mut touched = false;
        let drift = latest.drift(&cfg.function);
        if !drift.is_empty() {
            tracing::info!("configuration drift: {}", drift.join(", "));
            let answer = function.update_configuration(&cfg.function).await?;
            latest = function.settle("function", Some(answer)).await?;
            touched = true;
        }
        if failed_before
            || latest.code_sha256 != artifact.code_sha256
            || latest.architecture_differs(&cfg.function)
        {
            let answer = function
                .update_code(&cfg.function, artifact.bucket, &artifact.key)
                .await?;
            latest = function.settle("function", Some(answer)).await?;
            touched = true;
        }
        if latest.code_sha256 != artifact.code_sha256 {
            // Someone else's update landed after ours.
            tracing::info!("$LATEST changed under us (attempt {attempt}); going again");
            continue;
        }
        // A function this run just created has no versions to reuse.
        if !touched
            && !created
            && let Some(existing) = reusable_version(function, &latest, &cfg.function).await?
        {
            tracing::info!(
                "version {} already holds this code and configuration; reusing it",
                existing.version
            );
            return Ok(Published::Version(Box::new(existing)));
        }
        // Inside the "function" group: GitHub does not nest log groups.
        tracing::info!("publishing a version");
        match function
            .publish(
                &artifact.code_sha256,
                latest.revision_id.as_deref(),
                &description,
            )
            .await?
        {
            Some(v) => {
                tracing::info!("published version {}", v.version);
                return Ok(Published::Version(Box::new(v)));
            }
            None => tracing::info!(
                "$LATEST changed between update and publish (attempt {attempt}); going again"
            ),
        }
    }
    Err(Error::NotReady {
        step: "publish",
        function: function.name.to_string(),
        message: format!(
            "kept changing under this deploy ({PUBLISH_ATTEMPTS} attempts); other deploys are racing for the same stage"
        ),
        help: Some(
            "give the workflow a `concurrency:` group per stage so deploys of one stage queue; live was not moved".into(),
        ),
    })
}

/// A pause that grows with the attempt and is random within it, so that racing deploys
/// drift apart instead of colliding again.
fn jittered_backoff(attempt: usize) -> std::time::Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_usize(attempt);
    let unit = h.finish() % 1000; // 0..1000
    let base_ms = 200u64 << attempt.min(5); // 400 ms .. 6.4 s
    std::time::Duration::from_millis(base_ms / 2 + base_ms * unit / 1000)
}

/// The newest published version, when it already holds `latest`'s code and our configuration
/// (a crash after publish, or a re-deploy after a rollback): publishing again would make a
/// duplicate.
async fn reusable_version(
    function: &Function<'_>,
    latest: &FunctionConfig,
    want: &FunctionSettings,
) -> Result<Option<FunctionConfig>> {
    let versions = function.versions().await?;
    Ok(versions.into_iter().next_back().filter(|v| {
        v.code_sha256 == latest.code_sha256
            && v.drift(want).is_empty()
            && !v.architecture_differs(want)
    }))
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

/// Point `live` at `version`, conditionally on the alias's RevisionId, unless a newer run
/// is live. The alias description mirrors the version's provenance, so this check needs no
/// more than the alias. The first attempt writes against `seen` (the plan's read): if the
/// alias moved since, its RevisionId did too, the write is refused, and we read it again.
async fn move_live(
    function: &Function<'_>,
    cfg: &DeployConfig,
    version: &FunctionConfig,
    mut seen: Option<Option<AliasState>>,
) -> Result<LiveMove> {
    for _ in 0..ALIAS_ATTEMPTS {
        let current = match seen.take() {
            Some(alias) => alias,
            None => function.alias(LIVE_ALIAS).await?,
        };
        if let Some(cur) = &current {
            if !cfg.force
                && let Some(live_run) = plan::superseded_by(&cfg.provenance, &cur.description)
            {
                return Ok(LiveMove::Superseded {
                    live_run,
                    live_version: cur.version.clone(),
                    arn: cur.arn.clone(),
                });
            }
            if cur.version == version.version
                && cur.routing.is_empty()
                && cur.description == version.description
            {
                return Ok(LiveMove::Moved {
                    previous: Some(cur.version.clone()),
                    arn: cur.arn.clone(),
                });
            }
        }
        match function
            .put_alias(
                LIVE_ALIAS,
                current.as_ref(),
                &version.version,
                &version.description,
                &HashMap::new(),
            )
            .await?
        {
            AliasWrite::Done(arn) => {
                tracing::info!(
                    "live → version {}{}",
                    version.version,
                    current
                        .as_ref()
                        .map(|c| format!(" (was {})", c.version))
                        .unwrap_or_default()
                );
                return Ok(LiveMove::Moved {
                    previous: current.map(|c| c.version),
                    arn,
                });
            }
            AliasWrite::Raced => tracing::info!("live moved under us; reading it again"),
        }
    }
    Err(Error::NotReady {
        step: "alias",
        function: function.name.to_string(),
        message: "live kept moving under this deploy".into(),
        help: Some("give the workflow a `concurrency:` group per stage".into()),
    })
}

/// `deploy` from validated config and a built artifact.
pub async fn run(aws: &Aws, cfg: &DeployConfig, artifact: &Artifact) -> Result<DeployReport> {
    let first = read_live(aws, cfg).await?;
    run_from(aws, cfg, artifact, first).await
}

/// `run`, with the first round trip already made.
pub async fn run_from(
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
