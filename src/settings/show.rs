//! `deploy-action config`: the effective settings of a deploy and where each value came from
//! (flag, `DEPLOY_*` variable, `file:line`, default).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use clap::ArgMatches;
use clap::parser::ValueSource;
use serde::Serialize;

use super::{Loaded, Origin};
use crate::error::{Error, Result};
use crate::output::Report;

/// `config` takes every flag `deploy` takes, so that `config --memory 2048` shows what a
/// deploy with that flag would use.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub deploy: crate::cli::DeployArgs,
    /// Filled in by `settings::parse`, not by clap.
    #[arg(skip)]
    pub effective: Option<Effective>,
}

/// What `config` prints.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Effective {
    /// The settings file read, if any.
    pub file: Option<String>,
    /// The parts of it that apply, least specific first.
    pub sections: Vec<String>,
    pub stage: Option<String>,
    /// Where the stage came from (--stage, the GitHub event, ...).
    pub stage_from: Option<String>,
    /// One entry per flag, by key.
    pub settings: BTreeMap<String, Setting>,
    /// Keys of flags this build does not have yet.
    pub pending: Vec<Pending>,
}

/// One key's effective value.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Setting {
    /// The value as the flag takes it; a list for repeatable flags; null when unset.
    pub value: serde_json::Value,
    /// `flag`, `env`, `file`, `flag+file` (a merged table), `default` or `unset`.
    pub source: String,
    /// `file:line` for values from the file, the variable's name for `env`.
    pub location: Option<String>,
}

/// A key for a flag that another change adds (docs/contract.md, "Flags").
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Pending {
    pub key: String,
    pub location: String,
    pub note: String,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn effective(
    command: &clap::Command,
    first: &ArgMatches,
    last: &ArgMatches,
    from_file: &BTreeMap<String, Origin>,
    merged: &BTreeMap<String, Origin>,
    loaded: Option<&Loaded>,
    stage: Option<(String, String)>,
    pending: Vec<Pending>,
) -> Effective {
    let mut settings = BTreeMap::new();
    for arg in command.get_arguments() {
        let Some(long) = arg.get_long() else {
            continue;
        };
        if matches!(long, "help" | "version") {
            continue;
        }
        let id = arg.get_id().as_str();
        let raw: Vec<String> = last
            .get_raw(id)
            .map(|v| v.map(|s| s.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        // Values that may hold secrets (--env, --github-token) show names only.
        let hide = arg.is_hide_env_values_set();
        let shown: Vec<String> = raw
            .iter()
            .map(|v| match (hide, v.split_once('=')) {
                (false, _) => v.clone(),
                (true, Some((k, _))) => format!("{k}=***"),
                (true, None) => "***".into(),
            })
            .collect();
        let repeatable = matches!(arg.get_action(), clap::ArgAction::Append);
        let value = if shown.is_empty() {
            serde_json::Value::Null
        } else if repeatable {
            serde_json::json!(shown)
        } else {
            serde_json::json!(shown.join(","))
        };
        let env_name = arg.get_env().map(|e| e.to_string_lossy().into_owned());
        let (source, location) = if let Some(origin) = from_file.get(long) {
            ("file".to_string(), Some(origin.location()))
        } else {
            let given = match first.value_source(id) {
                Some(ValueSource::CommandLine) => Some(("flag", None)),
                Some(ValueSource::EnvVariable) => Some(("env", env_name)),
                Some(ValueSource::DefaultValue) => Some(("default", None)),
                _ => None,
            };
            match (given, merged.get(long)) {
                (Some((kind, _)), Some(origin)) => {
                    (format!("{kind}+file"), Some(origin.location()))
                }
                (Some((kind, loc)), None) => (kind.to_string(), loc),
                (None, _) => ("unset".to_string(), None),
            }
        };
        settings.insert(
            long.to_string(),
            Setting {
                value,
                source,
                location,
            },
        );
    }
    let (stage, stage_from) = match stage {
        Some((s, from)) => (Some(s), Some(from)),
        None => (None, None),
    };
    Effective {
        file: loaded.map(|l| l.file.clone()),
        sections: loaded.map(|l| l.sections.clone()).unwrap_or_default(),
        stage,
        stage_from,
        settings,
        pending,
    }
}

impl Effective {
    /// The text rendering: a header, then one line per key that has a value.
    #[must_use]
    pub fn text(&self) -> String {
        let mut out = String::new();
        match &self.file {
            Some(file) => {
                let _ = writeln!(out, "settings file: {file} ({})", self.sections.join(", "));
            }
            None => {
                let _ = writeln!(
                    out,
                    "settings file: none (deploy-action.toml, pyproject.toml [tool.deploy-action] or Cargo.toml [package.metadata.deploy-action] in --source)"
                );
            }
        }
        if let (Some(stage), Some(from)) = (&self.stage, &self.stage_from) {
            let _ = writeln!(out, "stage: {stage} (from {from})");
        }
        out.push('\n');
        let width = self.settings.keys().map(String::len).max().unwrap_or(0);
        for (key, s) in &self.settings {
            if s.source == "unset" {
                continue;
            }
            let value = match &s.value {
                serde_json::Value::String(v) => v.clone(),
                serde_json::Value::Array(items) => items
                    .iter()
                    .filter_map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                other => other.to_string(),
            };
            let from = match &s.location {
                Some(loc) => format!("{} {loc}", s.source),
                None => s.source.clone(),
            };
            let _ = writeln!(out, "{key:<width$}  {value}  ({from})");
        }
        for p in &self.pending {
            let _ = writeln!(
                out,
                "{:<width$}  pending: {} ({})",
                p.key, p.note, p.location
            );
        }
        out
    }
}

/// Run `config`.
pub fn config_command(args: &ConfigArgs) -> Result<Report> {
    let effective = args
        .effective
        .clone()
        .ok_or_else(|| Error::Internal("config ran without settings::parse".into()))?;
    let value = serde_json::to_value(&effective).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Report::Json {
        value,
        text: effective.text(),
    })
}
