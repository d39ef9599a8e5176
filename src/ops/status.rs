//! `status --app [--stage]`: what runs where. The stages of an app are its functions tagged
//! `deploy-action:app=<app>`, found with one GetResources per 100 stages (`ops::fleet`), and
//! then read two requests each (GetAlias, ListVersionsByFunction; the URL comes from the
//! `deploy-action:url` tag, else a GetFunctionUrlConfig) with bounded concurrency. With
//! `--stage`, only that stage's function is read (no listing). The account's code storage
//! (GetAccountSettings) is shown against its limit, with a warning from 80%.

use std::fmt::Write as _;

use serde::Serialize;

use std::collections::HashMap;
use std::sync::Arc;

use crate::aws::Aws;
use crate::aws::errors::{is_not_found, wrap};
use crate::aws::lambda::{AliasState, Function, FunctionConfig, TAG_APP, TAG_STAGE, TAG_URL};
use crate::error::Result;
use crate::naming::{self, LIVE_ALIAS, Provenance};
use crate::ops::fleet::{self, CodeStorage, Gate, StageRef};
use crate::ops::promote::PROMOTED_FROM;
use crate::ops::rollback::{ROLLED_BACK_FROM, TAG_ROLLED_BACK, parse_marks};

/// One stage of an app.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct StageStatus {
    pub stage: String,
    pub function_name: String,
    /// The version `live` points at (`None`: published nothing yet, or a failed first deploy).
    pub live_version: Option<String>,
    pub commit: Option<String>,
    pub run_id: Option<u64>,
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// When the live version was published (its LastModified).
    pub deployed_at: Option<String>,
    pub url: Option<String>,
    pub code_size: Option<i64>,
    pub code_sha256: Option<String>,
    /// Published versions still kept, oldest first.
    pub versions: Vec<String>,
    /// A canary in progress: version and traffic share (0-1).
    pub canary: Option<Canary>,
    pub promoted_from: Option<String>,
    pub rolled_back_from: Option<String>,
    /// Versions that rollbacks moved away from (skipped by the next rollback).
    pub rolled_back_versions: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Canary {
    pub version: String,
    pub weight: f64,
}

/// The report of `status`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct AppStatus {
    pub app: String,
    pub stages: Vec<StageStatus>,
    /// The account's Lambda code storage (all functions, all versions) and its limit; absent
    /// when GetAccountSettings was refused or `--stage` was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_storage: Option<CodeStorage>,
}

/// Read the stages of `app` (or just `stage`).
pub(crate) async fn run(aws: &Aws, app: &str, stage: Option<&str>) -> Result<AppStatus> {
    let Some(stage) = stage else {
        return run_all(aws, app).await;
    };
    let name = naming::function_name(app, stage);
    let stages = read_stage(aws, app, &name, Some(stage))
        .await?
        .into_iter()
        .collect();
    Ok(AppStatus {
        app: app.to_string(),
        stages,
        code_storage: None,
    })
}

/// Every stage: GetResources pages and GetAccountSettings at once, then two reads per stage.
async fn run_all(aws: &Aws, app: &str) -> Result<AppStatus> {
    let (refs, storage) = tokio::join!(fleet::stages(aws, app), fleet::code_storage(aws));
    let refs = refs?;
    let code_storage = match storage {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("code storage unknown: {e}");
            None
        }
    };
    if let Some(s) = &code_storage
        && s.warn()
    {
        crate::github::workflow::warning(&storage_warning(s));
    }
    let stages = read_stages(aws, refs, Arc::new(Gate::default())).await?;
    Ok(AppStatus {
        app: app.to_string(),
        stages,
        code_storage,
    })
}

fn storage_warning(s: &CodeStorage) -> String {
    format!(
        "Lambda code storage is {:.0}% full ({} of {}): run `deploy-action gc`, lower --keep-versions, or ask AWS for a higher limit",
        s.share() * 100.0,
        fleet::human_bytes(s.used),
        fleet::human_bytes(s.limit)
    )
}

/// Read many stages through one gate; a stage deleted meanwhile is left out.
pub(crate) async fn read_stages(
    aws: &Aws,
    refs: Vec<StageRef>,
    gate: Arc<Gate>,
) -> Result<Vec<StageStatus>> {
    let lambda = fleet::gated_lambda(aws);
    let mut set = tokio::task::JoinSet::new();
    for (i, r) in refs.into_iter().enumerate() {
        let lambda = lambda.clone();
        let gate = gate.clone();
        set.spawn(async move { (i, read_tagged(&lambda, &gate, &r).await) });
    }
    let mut out = Vec::new();
    while let Some(joined) = set.join_next().await {
        let (i, result) =
            joined.map_err(|e| crate::error::Error::Internal(format!("stage read: {e}")))?;
        if let Some(s) = result? {
            out.push((i, s));
        }
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(out.into_iter().map(|(_, s)| s).collect())
}

/// One stage found by its tags: GetAlias and ListVersionsByFunction at once; the URL from the
/// tag, or GetFunctionUrlConfig when the tag is missing (a stage deployed before it existed).
async fn read_tagged(
    lambda: &aws_sdk_lambda::Client,
    gate: &Gate,
    r: &StageRef,
) -> Result<Option<StageStatus>> {
    let name = r.function_name.as_str();
    let alias = async {
        match gate
            .run(|| {
                lambda
                    .get_alias()
                    .function_name(name)
                    .name(LIVE_ALIAS)
                    .send()
            })
            .await
        {
            Ok(a) => Ok(Some(crate::aws::lambda::alias_from_output(&a))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(wrap(
                "status",
                "GetAlias",
                format!("{name}:{LIVE_ALIAS}"),
                e,
            )),
        }
    };
    let url = async {
        match r.tags.get(TAG_URL).map(String::as_str) {
            Some("none") => Ok(None),
            Some(url) => Ok(Some(url.to_string())),
            None => match gate
                .run(|| {
                    lambda
                        .get_function_url_config()
                        .function_name(name)
                        .qualifier(LIVE_ALIAS)
                        .send()
                })
                .await
            {
                Ok(c) => Ok(Some(crate::aws::lambda::normalize_url(c.function_url()))),
                Err(e) if is_not_found(&e) => Ok(None),
                Err(e) => Err(wrap("status", "GetFunctionUrlConfig", name, e)),
            },
        }
    };
    let (alias, versions, url) = tokio::try_join!(alias, versions(lambda, gate, name), url)?;
    let Some(versions) = versions else {
        return Ok(None); // deleted since the listing
    };
    let url = if alias.is_some() { url } else { None };
    Ok(Some(assemble(
        r.stage.clone(),
        name,
        &r.tags,
        alias.as_ref(),
        &versions,
        url,
    )))
}

/// Every published version through the gate, oldest first; `None` if the function is gone.
pub(crate) async fn versions(
    lambda: &aws_sdk_lambda::Client,
    gate: &Gate,
    name: &str,
) -> Result<Option<Vec<FunctionConfig>>> {
    let Some(all) = fleet::versions(lambda, gate, "status", name).await? else {
        return Ok(None);
    };
    let mut out: Vec<_> = all.into_iter().filter(|c| c.version != "$LATEST").collect();
    out.sort_by_key(|c| crate::aws::lambda::version_number(&c.version));
    Ok(Some(out))
}

async fn read_stage(
    aws: &Aws,
    app: &str,
    name: &str,
    asked_stage: Option<&str>,
) -> Result<Option<StageStatus>> {
    let function = Function::new(&aws.lambda, name);
    let Some((_, tags)) = function.get(None).await? else {
        return Ok(None);
    };
    if tags.get(TAG_APP).map(String::as_str) != Some(app) {
        return Ok(None);
    }
    let stage = tags
        .get(TAG_STAGE)
        .cloned()
        .or_else(|| asked_stage.map(str::to_string))
        .unwrap_or_default();
    let alias = function.alias(LIVE_ALIAS).await?;
    let versions = function.versions().await?;
    let url = if alias.is_some() {
        function.url().await?.map(|(u, _)| u)
    } else {
        None
    };
    Ok(Some(assemble(
        stage,
        name,
        &tags,
        alias.as_ref(),
        &versions,
        url,
    )))
}

fn assemble(
    stage: String,
    name: &str,
    tags: &HashMap<String, String>,
    alias: Option<&AliasState>,
    versions: &[FunctionConfig],
    url: Option<String>,
) -> StageStatus {
    let live: Option<&FunctionConfig> =
        alias.and_then(|a| versions.iter().find(|v| v.version == a.version));
    let provenance = live.map(FunctionConfig::provenance).unwrap_or_default();
    let alias_words = alias
        .map(|a| Provenance::parse(&a.description))
        .unwrap_or_default();
    StageStatus {
        stage,
        function_name: name.to_string(),
        live_version: alias.map(|a| a.version.clone()),
        commit: provenance.sha.clone(),
        run_id: provenance.run_id,
        git_ref: provenance.git_ref.clone(),
        deployed_at: live.and_then(|v| v.last_modified.clone()),
        url,
        code_size: live.map(|v| v.code_size),
        code_sha256: live.map(|v| v.code_sha256.clone()),
        versions: versions.iter().map(|v| v.version.clone()).collect(),
        canary: alias.and_then(|a| {
            a.routing.iter().next().map(|(version, weight)| Canary {
                version: version.clone(),
                weight: *weight,
            })
        }),
        promoted_from: provenance.extra_value(PROMOTED_FROM).map(str::to_string),
        rolled_back_from: alias_words
            .extra_value(ROLLED_BACK_FROM)
            .map(str::to_string),
        rolled_back_versions: parse_marks(tags.get(TAG_ROLLED_BACK)).into_iter().collect(),
    }
}

impl AppStatus {
    /// A table for humans.
    #[must_use]
    pub(crate) fn text(&self) -> String {
        if self.stages.is_empty() {
            return format!(
                "{}: no stages found (no function tagged {TAG_APP}={})",
                self.app, self.app
            );
        }
        let header = [
            "STAGE", "LIVE", "COMMIT", "RUN", "DEPLOYED", "SIZE", "VERSIONS", "URL",
        ];
        let rows: Vec<[String; 8]> = self
            .stages
            .iter()
            .map(|s| {
                let mut live = s.live_version.clone().unwrap_or_else(|| "-".into());
                if let Some(c) = &s.canary {
                    let _ = write!(live, " (+{} at {:.0}%)", c.version, c.weight * 100.0);
                }
                if let Some(from) = &s.rolled_back_from {
                    let _ = write!(live, " (rolled back from {from})");
                }
                [
                    s.stage.clone(),
                    live,
                    s.commit
                        .as_deref()
                        .map_or_else(|| "-".into(), |c| c.chars().take(12).collect()),
                    s.run_id.map_or_else(|| "-".into(), |r| r.to_string()),
                    s.deployed_at.clone().unwrap_or_else(|| "-".into()),
                    s.code_size.map_or_else(|| "-".into(), human_size),
                    if s.versions.is_empty() {
                        "-".into()
                    } else {
                        s.versions.join(",")
                    },
                    s.url.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = format!("{}:\n", self.app);
        if let Some(s) = &self.code_storage {
            let _ = writeln!(
                out,
                "code storage: {} of {} ({:.1}%){}",
                fleet::human_bytes(s.used),
                fleet::human_bytes(s.limit),
                s.share() * 100.0,
                if s.warn() {
                    " — WARNING: 80% or more used"
                } else {
                    ""
                }
            );
        }
        let line = |cells: &[String]| {
            let mut l = String::new();
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                if i + 1 == cells.len() {
                    l.push_str(cell);
                } else {
                    let _ = write!(l, "{cell:<w$}  ");
                }
            }
            l.trim_end().to_string()
        };
        out.push_str(&line(&header.map(String::from)));
        out.push('\n');
        for row in &rows {
            out.push_str(&line(row));
            out.push('\n');
        }
        out
    }
}

fn human_size(bytes: i64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(name: &str) -> StageStatus {
        StageStatus {
            stage: name.into(),
            function_name: format!("hello-{name}"),
            live_version: Some("3".into()),
            commit: Some("0123456789abcdef0123".into()),
            run_id: Some(42),
            git_ref: Some("refs/heads/main".into()),
            deployed_at: Some("2024-03-12T19:03:58.000+0000".into()),
            url: Some("https://abc.lambda-url.us-east-1.on.aws/".into()),
            code_size: Some(2048),
            code_sha256: Some("x".into()),
            versions: vec!["2".into(), "3".into()],
            canary: None,
            promoted_from: None,
            rolled_back_from: None,
            rolled_back_versions: vec![],
        }
    }

    #[test]
    fn the_table_lines_up() {
        let mut pr = stage("pr-7");
        pr.canary = Some(Canary {
            version: "4".into(),
            weight: 0.1,
        });
        pr.url = None;
        let status = AppStatus {
            app: "hello".into(),
            stages: vec![stage("main"), pr],
            code_storage: None,
        };
        let text = status.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "hello:");
        assert!(lines[1].starts_with("STAGE  LIVE"), "{text}");
        assert!(lines[2].starts_with("main   3 "), "{text}");
        assert!(lines[3].contains("3 (+4 at 10%)"), "{text}");
        assert!(
            lines[2].contains("0123456789ab "),
            "commit cut to 12: {text}"
        );
        assert!(lines[2].contains("2.0 KB"), "{text}");
        assert!(lines[3].ends_with(" -"), "no URL: {text}");
        let url_col = lines[1].find("URL").unwrap();
        assert_eq!(lines[2].find("https://"), Some(url_col), "{text}");
    }

    #[test]
    fn no_stages_says_so() {
        let s = AppStatus {
            app: "hello".into(),
            stages: vec![],
            code_storage: None,
        };
        assert!(s.text().contains("no stages found"));
    }
}
