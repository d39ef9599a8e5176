//! `status --app [--stage]`: what runs where. The stages of an app are its functions tagged
//! `deploy-action:app=<app>`: ListFunctions (names `<app>-*`) narrows the candidates, and
//! GetFunction's tags decide (a function of app `hello-world` is named `hello-world-*` too).
//! With `--stage`, only that stage's function is read (no ListFunctions).

use std::fmt::Write as _;

use serde::Serialize;

use crate::aws::Aws;
use crate::aws::errors::wrap;
use crate::aws::lambda::{Function, FunctionConfig, TAG_APP, TAG_STAGE};
use crate::error::Result;
use crate::naming::{self, LIVE_ALIAS, Provenance};
use crate::ops::promote::PROMOTED_FROM;
use crate::ops::rollback::{ROLLED_BACK_FROM, TAG_ROLLED_BACK, parse_marks};

/// One stage of an app.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StageStatus {
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
pub struct Canary {
    pub version: String,
    pub weight: f64,
}

/// The report of `status`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AppStatus {
    pub app: String,
    pub stages: Vec<StageStatus>,
}

/// Read the stages of `app` (or just `stage`).
pub async fn run(aws: &Aws, app: &str, stage: Option<&str>) -> Result<AppStatus> {
    let names = match stage {
        Some(s) => vec![naming::function_name(app, s)],
        None => candidates(aws, app).await?,
    };
    let mut stages = Vec::new();
    for name in &names {
        if let Some(s) = read_stage(aws, app, name, stage).await? {
            stages.push(s);
        }
    }
    stages.sort_by(|a, b| a.stage.cmp(&b.stage));
    Ok(AppStatus {
        app: app.to_string(),
        stages,
    })
}

/// Names of functions that may belong to `app`: every function is named `<app>-...`.
async fn candidates(aws: &Aws, app: &str) -> Result<Vec<String>> {
    let prefix = format!("{app}-");
    let mut names = Vec::new();
    let mut pages = aws.lambda.list_functions().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| wrap("status", "ListFunctions", "*", e))?;
        names.extend(
            page.functions()
                .iter()
                .filter_map(|f| f.function_name())
                .filter(|n| n.starts_with(&prefix))
                .map(str::to_string),
        );
    }
    names.sort();
    names.dedup();
    Ok(names)
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
    let live: Option<&FunctionConfig> = alias
        .as_ref()
        .and_then(|a| versions.iter().find(|v| v.version == a.version));
    let provenance = live.map(FunctionConfig::provenance).unwrap_or_default();
    let alias_words = alias
        .as_ref()
        .map(|a| Provenance::parse(&a.description))
        .unwrap_or_default();
    Ok(Some(StageStatus {
        stage,
        function_name: name.to_string(),
        live_version: alias.as_ref().map(|a| a.version.clone()),
        commit: provenance.sha.clone(),
        run_id: provenance.run_id,
        git_ref: provenance.git_ref.clone(),
        deployed_at: live.and_then(|v| v.last_modified.clone()),
        url,
        code_size: live.map(|v| v.code_size),
        code_sha256: live.map(|v| v.code_sha256.clone()),
        versions: versions.iter().map(|v| v.version.clone()).collect(),
        canary: alias.as_ref().and_then(|a| {
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
    }))
}

impl AppStatus {
    /// A table for humans.
    #[must_use]
    pub fn text(&self) -> String {
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
        };
        assert!(s.text().contains("no stages found"));
    }
}
