//! `gc --app A [--older-than 14d] [--dry-run]`: who cleans up. Without it every preview stays
//! until its PR-close teardown runs (which a failed or skipped workflow never does), and every
//! deploy adds an S3 object that nothing ever removes.
//!
//! 1. The app's stages from GetResources (`ops::fleet`): only functions tagged for this app
//!    are ever looked at, so a function without our tags or of another app is never touched.
//! 2. Each stage's versions (ListVersionsByFunction, with `$LATEST`) and `live` (GetAlias),
//!    two gated reads per stage.
//! 3. Preview stages (`pr-<n>`) go when their PR is closed (one `GET /pulls/{n}` per distinct
//!    PR) or when nothing was deployed to them for longer than `--older-than` (the live
//!    version's LastModified). Other stages are never deleted. Each goes through the same
//!    teardown as a PR close (`ops::teardown::stage`): function, URL, alias and versions
//!    deleted, GitHub deployments inactive, the PR comment updated.
//! 4. Artifacts under `<prefix>/<app>/` that no version of a remaining stage runs (the key is
//!    the hex sha256 of the zip, Lambda's CodeSha256 its base64) are deleted, except those
//!    younger than a day: a deploy may have uploaded one and not yet created its version.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use crate::aws::Aws;
use crate::aws::errors::{is_not_found, wrap};
use crate::aws::lambda::FunctionConfig;
use crate::cli::{CommentMode, GcArgs};
use crate::config::{self, Store, Target};
use crate::error::{Error, Result};
use crate::github::api::GitHubApi;
use crate::github::context::GitHubContext;
use crate::github::workflow;
use crate::naming::LIVE_ALIAS;
use crate::ops::fleet::{self, Gate, StageRef};
use crate::output::Report;

/// Artifacts younger than this are kept even when unused: a deploy uploads first and creates
/// the version that uses it afterwards.
pub(crate) const ARTIFACT_GRACE: Duration = Duration::from_secs(24 * 3600);

/// The grace period; tests shorten it (`DEPLOY_ACTION_TEST_ARTIFACT_GRACE_S`): moto can't
/// backdate an object.
fn grace() -> Duration {
    std::env::var("DEPLOY_ACTION_TEST_ARTIFACT_GRACE_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(ARTIFACT_GRACE, Duration::from_secs)
}

/// Why a stage is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Reason {
    PrClosed,
    Stale,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DeletedStage {
    pub stage: String,
    pub function_name: String,
    pub reason: Reason,
    pub pr: Option<u64>,
    /// When it was last deployed (the live version's LastModified), if known.
    pub deployed_at: Option<String>,
    /// Code storage its versions took.
    pub code_size: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DeletedArtifact {
    pub key: String,
    pub size: i64,
}

/// The report of `gc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct GcReport {
    pub app: String,
    pub dry_run: bool,
    pub stages_seen: usize,
    pub deleted_stages: Vec<DeletedStage>,
    pub deleted_artifacts: Vec<DeletedArtifact>,
    pub code_storage_freed: i64,
    pub s3_bytes_freed: i64,
    /// What was not checked, and why (no token, no bucket, a PR GitHub did not know).
    pub notes: Vec<String>,
}

pub(crate) async fn command(args: &GcArgs) -> Result<Report> {
    let github = GitHubContext::from_env()?;
    let target = fleet::app_target(&args.target, &github, "gc cleans up the stages of one app")?;
    let older_than = fleet::parse_duration("--older-than", &args.older_than)?;
    let store = match &args.store.s3_bucket {
        Some(_) => Some(config::resolve_store(&args.store)?),
        None => None,
    };
    let aws = crate::aws::connect(&target.aws).await?;
    let report = run(
        &aws,
        &target,
        &github,
        older_than,
        store.as_ref(),
        args.dry_run,
    )
    .await?;
    if !report.dry_run {
        workflow::append_summary(&format!(
            "### deploy-action gc\n\n```\n{}\n```\n",
            report.text()
        ))?;
    }
    let value = serde_json::to_value(&report).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Report::Json {
        value,
        text: report.text(),
    })
}

/// One stage as gc sees it.
struct Facts {
    stage: StageRef,
    /// Every version including `$LATEST`.
    versions: Vec<FunctionConfig>,
    live: Option<String>,
}

impl Facts {
    fn live_config(&self) -> Option<&FunctionConfig> {
        let live = self.live.as_deref()?;
        self.versions.iter().find(|v| v.version == live)
    }

    /// The last deploy: the live version's LastModified, else (no alias: a failed first
    /// deploy) the newest of any version.
    fn deployed_at(&self) -> Option<OffsetDateTime> {
        match self.live_config() {
            Some(v) => v.last_modified.as_deref().and_then(fleet::parse_aws_time),
            None => self
                .versions
                .iter()
                .filter_map(|v| v.last_modified.as_deref().and_then(fleet::parse_aws_time))
                .max(),
        }
    }

    /// Code storage of the function: every published version, plus `$LATEST` when its code is
    /// in no published version.
    fn code_size(&self) -> i64 {
        let published: BTreeSet<&str> = self
            .versions
            .iter()
            .filter(|v| v.version != "$LATEST")
            .map(|v| v.code_sha256.as_str())
            .collect();
        self.versions
            .iter()
            .filter(|v| v.version != "$LATEST" || !published.contains(v.code_sha256.as_str()))
            .map(|v| v.code_size)
            .sum()
    }
}

/// `pr-<n>` → `n`.
#[must_use]
pub(crate) fn preview_pr(stage: &str) -> Option<u64> {
    let n = stage.strip_prefix("pr-")?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

pub(crate) async fn run(
    aws: &Aws,
    target: &Target,
    github: &GitHubContext,
    older_than: Duration,
    store: Option<&Store>,
    dry_run: bool,
) -> Result<GcReport> {
    let app = target.app.as_str();
    let refs = fleet::stages(aws, app).await?;
    let stages_seen = refs.len();
    let facts = read_all(aws, refs).await?;
    let mut notes = Vec::new();

    // PR states: one request per distinct PR of a preview stage.
    let prs: BTreeSet<u64> = facts
        .iter()
        .filter_map(|f| preview_pr(&f.stage.stage))
        .collect();
    let states = pr_states(github, target.github_token.as_deref(), &prs, &mut notes).await;

    let now = OffsetDateTime::now_utc();
    let mut doomed: Vec<(usize, DeletedStage)> = Vec::new();
    for (i, f) in facts.iter().enumerate() {
        let Some(pr) = preview_pr(&f.stage.stage) else {
            continue;
        };
        let deployed_at = f.deployed_at();
        let reason = if states.get(&pr) == Some(&PrState::Closed) {
            Some(Reason::PrClosed)
        } else if deployed_at.is_some_and(|t| now - t > older_than) {
            Some(Reason::Stale)
        } else {
            None
        };
        if let Some(reason) = reason {
            doomed.push((
                i,
                DeletedStage {
                    stage: f.stage.stage.clone(),
                    function_name: f.stage.function_name.clone(),
                    reason,
                    pr: Some(pr),
                    deployed_at: f.live_config().and_then(|v| v.last_modified.clone()),
                    code_size: f.code_size(),
                },
            ));
        }
    }

    let mut deleted_stages = Vec::new();
    for (_, d) in &doomed {
        if !dry_run {
            let stage_target = Target {
                app: app.to_string(),
                stage: d.stage.clone(),
                function_name: d.function_name.clone(),
                aws: target.aws.clone(),
                github_token: target.github_token.clone(),
                output: target.output,
            };
            tracing::info!("deleting stage {} ({:?})", d.stage, d.reason);
            crate::ops::teardown::stage(
                aws,
                &stage_target,
                github,
                CommentMode::Auto,
                d.pr,
                false,
                // A stage gc removes takes its log group along.
                false,
            )
            .await?;
        }
        deleted_stages.push(d.clone());
    }

    // Artifacts: what the remaining stages still run.
    let gone: BTreeSet<usize> = doomed.iter().map(|(i, _)| *i).collect();
    let used: BTreeSet<String> = facts
        .iter()
        .enumerate()
        .filter(|(i, _)| !gone.contains(i))
        .flat_map(|(_, f)| f.versions.iter())
        .filter_map(|v| crate::ops::code_sha256_hex(&v.code_sha256))
        .collect();
    let deleted_artifacts = match store {
        Some(store) => artifacts(aws, store, app, &used, now, dry_run).await?,
        None => {
            notes.push(
                "no --s3-bucket: artifacts were not looked at (pass the bucket deploys use)".into(),
            );
            Vec::new()
        }
    };
    Ok(GcReport {
        app: app.to_string(),
        dry_run,
        stages_seen,
        code_storage_freed: deleted_stages.iter().map(|d| d.code_size).sum(),
        s3_bytes_freed: deleted_artifacts.iter().map(|a| a.size).sum(),
        deleted_stages,
        deleted_artifacts,
        notes,
    })
}

/// Versions and `live` of every stage, two gated reads each; stages deleted meanwhile drop out.
async fn read_all(aws: &Aws, refs: Vec<StageRef>) -> Result<Vec<Facts>> {
    let lambda = fleet::gated_lambda(aws);
    let gate = Arc::new(Gate::default());
    let mut set = tokio::task::JoinSet::new();
    for (i, r) in refs.into_iter().enumerate() {
        let lambda = lambda.clone();
        let gate = gate.clone();
        set.spawn(async move {
            let name = r.function_name.clone();
            let alias = async {
                match gate
                    .run(|| {
                        lambda
                            .get_alias()
                            .function_name(&name)
                            .name(LIVE_ALIAS)
                            .send()
                    })
                    .await
                {
                    Ok(a) => Ok(a.function_version().map(str::to_string)),
                    Err(e) if is_not_found(&e) => Ok(None),
                    Err(e) => Err(wrap("gc", "GetAlias", format!("{name}:{LIVE_ALIAS}"), e)),
                }
            };
            let result = tokio::try_join!(fleet::versions(&lambda, &gate, "gc", &name), alias);
            (
                i,
                result.map(|(v, live)| {
                    v.map(|versions| Facts {
                        stage: r,
                        versions,
                        live,
                    })
                }),
            )
        });
    }
    let mut out = Vec::new();
    while let Some(joined) = set.join_next().await {
        let (i, result) = joined.map_err(|e| Error::Internal(format!("stage read: {e}")))?;
        if let Some(f) = result? {
            out.push((i, f));
        }
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(out.into_iter().map(|(_, f)| f).collect())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PrState {
    Open,
    Closed,
}

/// Ask GitHub for each PR's state. Without a token or repository, or when GitHub refuses,
/// nothing is deleted for a closed PR (stale stages still are), and the note says why.
async fn pr_states(
    github: &GitHubContext,
    token: Option<&str>,
    prs: &BTreeSet<u64>,
    notes: &mut Vec<String>,
) -> BTreeMap<u64, PrState> {
    let mut states = BTreeMap::new();
    if prs.is_empty() {
        return states;
    }
    let (Some(token), Some(repository)) = (token, github.repository.as_deref()) else {
        notes.push(
            "no GitHub token or GITHUB_REPOSITORY: PR states not checked, only --older-than applies"
                .into(),
        );
        return states;
    };
    let api = match GitHubApi::new(&github.api_url, token, repository) {
        Ok(api) => api,
        Err(e) => {
            notes.push(format!("GitHub client: {e}; PR states not checked"));
            return states;
        }
    };
    for pr in prs {
        let route = api.route(&format!("/pulls/{pr}"));
        match api
            .crab
            .get::<serde_json::Value, _, ()>(route, None::<&()>)
            .await
        {
            Ok(v) => {
                let state = match v.get("state").and_then(|s| s.as_str()) {
                    Some("closed") => PrState::Closed,
                    _ => PrState::Open,
                };
                states.insert(*pr, state);
            }
            Err(e) => notes.push(format!(
                "PR #{pr}: GitHub said {}; its stage is kept unless stale",
                crate::github::api::ApiFailure::classify(&e).message()
            )),
        }
    }
    states
}

/// Delete unused artifacts older than a day under `<prefix>/<app>/`.
async fn artifacts(
    aws: &Aws,
    store: &Store,
    app: &str,
    used: &BTreeSet<String>,
    now: OffsetDateTime,
    dry_run: bool,
) -> Result<Vec<DeletedArtifact>> {
    let probe = crate::naming::artifact_key(&store.prefix, app, "x");
    let prefix = probe.trim_end_matches("x.zip").to_string();
    let mut unused = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = aws
            .s3
            .list_objects_v2()
            .bucket(&store.bucket)
            .prefix(&prefix)
            .set_continuation_token(token.clone())
            .send()
            .await
            .map_err(|e| {
                wrap(
                    "gc",
                    "ListObjectsV2",
                    format!("s3://{}/{prefix}", store.bucket),
                    e,
                )
            })?;
        for o in page.contents() {
            let Some(key) = o.key() else { continue };
            let Some(hex) = key
                .strip_prefix(&prefix)
                .and_then(|k| k.strip_suffix(".zip"))
                .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            else {
                continue; // not one of ours (another app's prefix, or a stray file)
            };
            if used.contains(&hex.to_ascii_lowercase()) {
                continue;
            }
            let age = o
                .last_modified()
                .and_then(|t| OffsetDateTime::from_unix_timestamp(t.secs()).ok())
                .map(|t| now - t);
            if age.is_none_or(|a| a <= grace()) {
                continue;
            }
            unused.push(DeletedArtifact {
                key: key.to_string(),
                size: o.size().unwrap_or(0),
            });
        }
        token = page
            .next_continuation_token()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    if dry_run {
        return Ok(unused);
    }
    for a in &unused {
        match aws
            .s3
            .delete_object()
            .bucket(&store.bucket)
            .key(&a.key)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(wrap("gc", "DeleteObject", &a.key, e)),
        }
    }
    Ok(unused)
}

impl GcReport {
    #[must_use]
    pub(crate) fn text(&self) -> String {
        let mut out = String::new();
        let verb = if self.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        let _ = writeln!(
            out,
            "{}: {} stage(s) seen{}",
            self.app,
            self.stages_seen,
            if self.dry_run {
                " (dry run: nothing changed)"
            } else {
                ""
            }
        );
        if self.deleted_stages.is_empty() && self.deleted_artifacts.is_empty() {
            out.push_str("nothing to clean up\n");
        }
        for d in &self.deleted_stages {
            let why = match d.reason {
                Reason::PrClosed => format!("PR #{} is closed", d.pr.unwrap_or_default()),
                Reason::Stale => format!(
                    "not deployed since {}",
                    d.deployed_at.as_deref().unwrap_or("(unknown)")
                ),
            };
            let _ = writeln!(
                out,
                "{verb} stage {} ({}): {why}; {}",
                d.stage,
                d.function_name,
                fleet::human_bytes(d.code_size)
            );
        }
        for a in &self.deleted_artifacts {
            let _ = writeln!(
                out,
                "{verb} artifact {} ({})",
                a.key,
                fleet::human_bytes(a.size)
            );
        }
        let _ = writeln!(
            out,
            "code storage freed: {}; S3 bytes freed: {}",
            fleet::human_bytes(self.code_storage_freed),
            fleet::human_bytes(self.s3_bytes_freed)
        );
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_stages_name_their_pr() {
        assert_eq!(preview_pr("pr-42"), Some(42));
        assert_eq!(preview_pr("pr-"), None);
        assert_eq!(preview_pr("pr-4x"), None);
        assert_eq!(preview_pr("main"), None);
    }

    fn version(v: &str, sha: &str, size: i64) -> FunctionConfig {
        let mut c = FunctionConfig::default();
        c.version = v.into();
        c.code_sha256 = sha.into();
        c.code_size = size;
        c
    }

    #[test]
    fn latest_counts_only_when_unpublished() {
        let facts = |versions| Facts {
            stage: StageRef {
                stage: "pr-1".into(),
                function_name: "a-pr-1".into(),
                arn: String::new(),
                tags: std::collections::HashMap::new(),
            },
            versions,
            live: None,
        };
        let f = facts(vec![
            version("$LATEST", "b", 7),
            version("1", "a", 5),
            version("2", "b", 7),
        ]);
        assert_eq!(f.code_size(), 12);
        let f = facts(vec![version("$LATEST", "c", 9), version("1", "a", 5)]);
        assert_eq!(f.code_size(), 14);
    }
}
