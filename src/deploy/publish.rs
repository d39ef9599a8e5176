//! Steps 5 and 6 of a deploy: bring `$LATEST` to our code and configuration, and publish a
//! version that holds exactly that (docs/contract.md, "One deploy, step by step").
//!
//! Another run may change `$LATEST` between our update and our publish. PublishVersion then
//! fails its preconditions (RevisionId: 412; CodeSha256: 400 on real Lambda, see
//! `aws::errors::is_code_sha256_mismatch`) and we go again after a jittered pause, unless a
//! newer run went live meanwhile: a version never carries another run's code under our
//! provenance, and an older run gives way to a newer one.

use crate::aws::lambda::{Function, FunctionConfig};
use crate::config::{DeployConfig, FunctionSettings};
use crate::error::{Error, Result};
use crate::naming::LIVE_ALIAS;
use crate::plan;

use super::ArtifactRef;

/// How many times we redo update+publish when another run changed $LATEST in between.
const ATTEMPTS: usize = 10;

/// What publishing came to.
pub(crate) enum Published {
    Version(Box<FunctionConfig>),
    /// A newer run went live while we tried: stop, don't publish.
    Superseded {
        live_run: u64,
        live_version: String,
        arn: String,
    },
}

/// One go at update + publish.
enum Attempt {
    Done(Published),
    /// $LATEST changed under us: go again.
    Again,
}

/// Update `$LATEST` where it differs from what we deploy and publish it. `known` is a recent
/// read of `$LATEST` (the plan's, or the answer to our CreateFunction) or, with `presumed`,
/// what `live` runs (`Observed::latest_unread`: then the code goes inline); `created` says
/// this run created the function (no versions to reuse).
pub(crate) async fn publish_our_code(
    function: &Function<'_>,
    cfg: &DeployConfig,
    artifact: &ArtifactRef<'_>,
    created: bool,
    mut known: Option<FunctionConfig>,
    mut presumed: bool,
) -> Result<Published> {
    for attempt in 1..=ATTEMPTS {
        if attempt > 1 {
            tokio::time::sleep(jittered_backoff(attempt)).await;
            if let Some(newer) = newer_run_live(function, cfg).await? {
                return Ok(newer);
            }
        }
        // Only the first attempt starts from the presumption; a later one reads $LATEST.
        let presumption = std::mem::take(&mut presumed);
        match one_attempt(
            function,
            cfg,
            artifact,
            created,
            known.take(),
            presumption,
            attempt,
        )
        .await?
        {
            Attempt::Done(published) => return Ok(published),
            Attempt::Again => {}
        }
    }
    Err(Error::NotReady {
        step: "publish",
        function: function.name.to_string(),
        message: format!(
            "kept changing under this deploy ({ATTEMPTS} attempts); other deploys are racing for the same stage"
        ),
        help: Some(
            "give the workflow a `concurrency:` group per stage so deploys of one stage queue; live was not moved".into(),
        ),
    })
}

/// A newer run is live (unless `--force`): stand down.
async fn newer_run_live(function: &Function<'_>, cfg: &DeployConfig) -> Result<Option<Published>> {
    if cfg.force {
        return Ok(None);
    }
    Ok(function.alias(LIVE_ALIAS).await?.and_then(|current| {
        plan::superseded_by(&cfg.provenance, &current.description).map(|live_run| {
            Published::Superseded {
                live_run,
                live_version: current.version,
                arn: current.arn,
            }
        })
    }))
}

async fn one_attempt(
    function: &Function<'_>,
    cfg: &DeployConfig,
    artifact: &ArtifactRef<'_>,
    created: bool,
    known: Option<FunctionConfig>,
    presumed: bool,
    attempt: usize,
) -> Result<Attempt> {
    let Applied {
        latest,
        touched,
        versions,
    } = apply(function, cfg, artifact, known, presumed).await?;
    if latest.code_sha256 != artifact.code_sha256 {
        // Someone else's update landed after ours.
        tracing::info!("$LATEST changed under us (attempt {attempt}); going again");
        return Ok(Attempt::Again);
    }
    // A function this run just created has no versions to reuse. Without a look at $LATEST
    // first, the code is sent even when a crashed run left it there; the versions listed
    // during that update show whether the crashed run published it too.
    let reusable = match versions {
        Some(versions) => newest_if_reusable(versions, &latest, &cfg.function),
        None if !touched && !created => reusable_version(function, &latest, &cfg.function).await?,
        None => None,
    };
    if let Some(existing) = reusable {
        tracing::info!(
            "version {} already holds this code and configuration; reusing it",
            existing.version
        );
        return Ok(Attempt::Done(Published::Version(Box::new(existing))));
    }
    // Inside the "function" group: GitHub does not nest log groups.
    tracing::info!("publishing a version");
    let description = cfg.provenance.description();
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
            Ok(Attempt::Done(Published::Version(Box::new(v))))
        }
        None => {
            tracing::info!(
                "$LATEST changed between update and publish (attempt {attempt}); going again"
            );
            Ok(Attempt::Again)
        }
    }
}

/// What `apply` did.
struct Applied {
    /// `$LATEST` as it then is.
    latest: FunctionConfig,
    /// Whether we wrote anything.
    touched: bool,
    /// The published versions, listed while Lambda applied a code update sent on a presumed
    /// `$LATEST`.
    versions: Option<Vec<FunctionConfig>>,
}

/// Bring `$LATEST` to our configuration and code, each only where it differs.
async fn apply(
    function: &Function<'_>,
    cfg: &DeployConfig,
    artifact: &ArtifactRef<'_>,
    known: Option<FunctionConfig>,
    presumed: bool,
) -> Result<Applied> {
    // The first look at $LATEST is the plan's when it has one (and it is current enough:
    // anything that changed since is caught by the publish preconditions).
    let mut latest = function.wait_idle("function", known).await?;
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
    let mut versions = None;
    if failed_before
        || latest.code_sha256 != artifact.code_sha256
        || latest.architecture_differs(&cfg.function)
    {
        let code = artifact.code_source(presumed).await?;
        let answer = function.update_code(&cfg.function, &code).await?;
        drop(code);
        if presumed {
            let (settled, listed) = tokio::join!(
                function.settle("function", Some(answer)),
                function.versions()
            );
            latest = settled?;
            versions = Some(listed?);
            // What the update's wait read is the real $LATEST: configuration the
            // presumption didn't know of (a crashed run's, an edit in the console) shows here.
            let drift = latest.drift(&cfg.function);
            if !drift.is_empty() {
                tracing::info!("configuration drift on $LATEST: {}", drift.join(", "));
                let answer = function.update_configuration(&cfg.function).await?;
                latest = function.settle("function", Some(answer)).await?;
            }
        } else {
            latest = function.settle("function", Some(answer)).await?;
        }
        touched = true;
    }
    Ok(Applied {
        latest,
        touched,
        versions,
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
    Ok(newest_if_reusable(function.versions().await?, latest, want))
}

/// The newest of `versions` (oldest first), when it holds `latest`'s code and `want`.
fn newest_if_reusable(
    versions: Vec<FunctionConfig>,
    latest: &FunctionConfig,
    want: &FunctionSettings,
) -> Option<FunctionConfig> {
    versions.into_iter().next_back().filter(|v| {
        v.code_sha256 == latest.code_sha256
            && v.drift(want).is_empty()
            && !v.architecture_differs(want)
    })
}
