//! What a deploy will change, worked out from the current state before any write. The
//! executor follows the plan; `--dry-run` prints it.

use serde::Serialize;

use crate::aws::lambda::{AliasState, FunctionConfig};
use crate::config::{DeployConfig, FunctionSettings};
use crate::error::Result;
use crate::naming::Provenance;
use crate::ownership::{self, Ownership};

/// What is there now.
#[derive(Debug, Clone, Default)]
pub(crate) struct Observed {
    /// $LATEST, when the function exists (read lazily: a no-op doesn't need it).
    pub latest: Option<FunctionConfig>,
    /// The version `live` points at.
    pub live: Option<FunctionConfig>,
    pub alias: Option<AliasState>,
    pub tags: std::collections::HashMap<String, String>,
    pub exists: bool,
    /// Whether the artifact is in S3 already; `None` when not looked at (no local artifact,
    /// nothing to deploy, or a code update sent inline).
    pub artifact_stored: Option<bool>,
    /// A warm update whose code goes inline (`deploy::ArtifactRef::inline`) doesn't read
    /// $LATEST before it writes: it presumes $LATEST is what `live` runs, which a deploy that
    /// ended leaves behind. The code update's own wait reads the real $LATEST, and anything
    /// it shows that differs (a crashed run, an edit in the console) is put right before
    /// publishing; the publish preconditions catch what changes after that.
    pub latest_unread: bool,
}

impl Observed {
    /// $LATEST as read, or as presumed when it was not read (`latest_unread`).
    #[must_use]
    pub(crate) fn latest_or_presumed(&self) -> Option<&FunctionConfig> {
        match &self.latest {
            Some(latest) => Some(latest),
            None if self.latest_unread => self.live.as_ref(),
            None => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub(crate) enum Action {
    /// Live already runs this code and configuration.
    Noop,
    /// A newer run is live: change nothing.
    Superseded { live_run: u64 },
    /// Create the function, publish version 1, create `live`.
    Create,
    /// Update $LATEST as needed, publish, move `live`.
    Update {
        code: bool,
        configuration: Vec<&'static str>,
    },
}

/// The plan (printed by `--dry-run`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DeployPlan {
    pub function_name: String,
    pub artifact: String,
    pub code_sha256: String,
    pub live_version: Option<String>,
    #[serde(flatten)]
    pub action: Action,
    /// Whether the artifact goes to S3 (it isn't stored there yet, and $LATEST must take it).
    pub upload: bool,
    pub function_url: crate::config::UrlMode,
    pub provenance: String,
    /// `NAME=ssm:/path` references resolved at deploy time (never their values).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    /// Whether the function is taken over with `--adopt` (tagged as ours before any write).
    pub adopt: bool,
}

/// Check that the function is ours to change (tags; `--adopt` takes an untagged one over).
/// `None` when there is no function yet.
pub(crate) fn check_ownership(
    cfg: &DeployConfig,
    observed: &Observed,
) -> Result<Option<Ownership>> {
    if !observed.exists {
        return Ok(None);
    }
    ownership::check(
        &cfg.function_name,
        &cfg.app,
        &cfg.stage,
        &observed.tags,
        cfg.adopt,
    )
    .map(Some)
}

/// Whether `ours` is older than the run that is live (docs/contract.md, "Move live").
#[must_use]
pub(crate) fn superseded_by(ours: &Provenance, live_description: &str) -> Option<u64> {
    let live = Provenance::parse(live_description).run_id?;
    let mine = ours.run_id?;
    (mine < live).then_some(live)
}

/// Decide the action from what is there.
#[must_use]
pub(crate) fn decide(
    cfg: &DeployConfig,
    want: &FunctionSettings,
    code_sha256: &str,
    observed: &Observed,
) -> Action {
    if !observed.exists {
        return Action::Create;
    }
    if !cfg.force
        && let Some(alias) = &observed.alias
        && let Some(live_run) = superseded_by(&cfg.provenance, &alias.description)
    {
        return Action::Superseded { live_run };
    }
    if let (Some(live), Some(alias)) = (&observed.live, &observed.alias)
        && live.code_sha256 == code_sha256
        && live.drift(want).is_empty()
        && !live.architecture_differs(want)
        && alias.routing.is_empty()
    {
        return Action::Noop;
    }
    let (code, configuration) = match observed.latest_or_presumed() {
        Some(latest) => (
            latest.code_sha256 != code_sha256 || latest.architecture_differs(want),
            latest.drift(want),
        ),
        None => (true, Vec::new()),
    };
    Action::Update {
        code,
        configuration,
    }
}
