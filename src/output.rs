//! One report per command, rendered as text (humans), JSON (scripts), GitHub step outputs,
//! the step summary, and (for PRs) the sticky comment.

use std::fmt::Write as _;

use serde::Serialize;

use crate::cli::OutputFormat;
use crate::error::Error;

/// The result of `deploy` (docs/contract.md, "Output"). Field names are a contract.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeployReport {
    pub app: String,
    pub stage: String,
    pub function_name: String,
    pub function_arn: String,
    pub version: String,
    pub previous_version: Option<String>,
    pub alias: String,
    pub url: Option<String>,
    pub code_sha256: String,
    pub artifact: String,
    pub changed: bool,
    pub superseded: bool,
    /// `function_url`, `domain`, `api_endpoint` (and `dns`): where the stage is served.
    #[serde(flatten)]
    pub front_door: FrontDoorReport,
}

/// The front-door fields of a deploy report (docs/contract.md, "Output"). `url` is where users go: the
/// custom domain when there is one; these say what stands behind it.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct FrontDoorReport {
    /// The raw function URL on `live` (null with `--function-url none`).
    pub function_url: Option<String>,
    /// The custom domain (`--domain`), template filled in.
    pub domain: Option<String>,
    /// The HTTP API's own endpoint, `https://<id>.execute-api.<region>.amazonaws.com`.
    pub api_endpoint: Option<String>,
    /// How the domain's DNS is kept: `route53`, or `manual` (no hosted zone holds it).
    pub dns: Option<String>,
    /// The record to create by hand when `dns` is `manual`.
    #[serde(skip)]
    pub manual_record: Option<String>,
}

/// The report of `package` (docs/contract.md, "Output").
#[derive(Debug, Clone, Serialize)]
pub struct PackageReport {
    /// Where the zip was written (`--out`).
    pub path: std::path::PathBuf,
    /// Size of the zip in bytes.
    pub size: u64,
    /// SHA-256 of the zip, hex: the artifact's S3 key.
    pub sha256: String,
    /// SHA-256 of the zip, base64, as Lambda will report it (`CodeSha256`).
    pub code_sha256: String,
    /// Lambda runtime the artifact is built for.
    pub runtime: String,
    /// Lambda handler inside the artifact.
    pub handler: String,
    /// Instruction set of every ELF file inside.
    pub architecture: crate::config::Architecture,
    /// Number of files in the zip.
    pub files: usize,
}

impl std::fmt::Display for PackageReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.path.display())?;
        writeln!(f, "  size          {} bytes", self.size)?;
        writeln!(f, "  sha256        {}", self.sha256)?;
        writeln!(f, "  code sha256   {}", self.code_sha256)?;
        writeln!(
            f,
            "  runtime       {} ({})",
            self.runtime, self.architecture
        )?;
        writeln!(f, "  handler       {}", self.handler)?;
        write!(f, "  files         {}", self.files)
    }
}

/// The result of `teardown`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TeardownReport {
    /// App of the stage torn down.
    pub app: String,
    /// Stage torn down.
    pub stage: String,
    /// The stage's function, `<app>-<stage>`.
    pub function_name: String,
    /// Whether there was a function to delete.
    pub deleted: bool,
}

/// A run that did nothing on purpose (a fork PR without credentials, a deleted branch).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SkipReport {
    /// App, when known.
    pub app: Option<String>,
    /// Stage, when known.
    pub stage: Option<String>,
    /// Always `true`.
    pub skipped: bool,
    /// Why nothing was done.
    pub reason: String,
}

/// Every command's result.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
// One report per run, printed once: its size doesn't matter, boxing would only add noise.
#[allow(clippy::large_enum_variant)]
pub enum Report {
    Deploy(DeployReport),
    Teardown(TeardownReport),
    Skip(SkipReport),
    Package(PackageReport),
    /// `invoke`: the command's output and exit status.
    Invoke(crate::ops::invoke::InvokeReport),
    /// The command printed its output while it ran (`logs`): nothing more to print.
    Streamed,
    /// Free-form JSON with a text rendering (plans, status, policy).
    Json {
        #[serde(flatten)]
        value: serde_json::Value,
        #[serde(skip)]
        text: String,
    },
}

impl DeployReport {
    /// `GITHUB_OUTPUT` entries: the JSON fields with dashes, plus `stage` and `app`.
    #[must_use]
    pub fn outputs(&self) -> Vec<(String, String)> {
        let value = serde_json::to_value(self).unwrap_or_default();
        json_outputs(&value)
    }

    /// Markdown table for the step summary.
    #[must_use]
    pub fn summary_markdown(&self) -> String {
        let mut md = String::new();
        let title = if self.superseded {
            "superseded: a newer run is live"
        } else if self.changed {
            "deployed"
        } else {
            "unchanged"
        };
        let _ = writeln!(md, "### deploy-action: `{}` {title}\n", self.function_name);
        md.push_str("| | |\n|---|---|\n");
        let url = self
            .url
            .as_deref()
            .map_or_else(|| "—".into(), |u| format!("[{u}]({u})"));
        for (k, v) in [
            ("App", self.app.clone()),
            ("Stage", self.stage.clone()),
            ("URL", url),
            ("Version", format!("`{}`", self.version)),
            (
                "Previous version",
                self.previous_version
                    .as_deref()
                    .map_or_else(|| "—".into(), |v| format!("`{v}`")),
            ),
            ("Alias", format!("`{}`", self.alias)),
            ("CodeSha256", format!("`{}`", self.code_sha256)),
            ("Artifact", format!("`{}`", self.artifact)),
        ] {
            let _ = writeln!(md, "| {k} | {v} |");
        }
        // Front-door rows only where there is more than the function URL.
        let fd = &self.front_door;
        if fd.domain.is_some() || fd.api_endpoint.is_some() {
            for (k, v) in [
                ("Function URL", fd.function_url.as_deref()),
                ("API endpoint", fd.api_endpoint.as_deref()),
                ("DNS", fd.dns.as_deref()),
            ] {
                let _ = writeln!(md, "| {k} | {} |", v.unwrap_or("—"));
            }
        }
        md.push('\n');
        let front = crate::domain::summary_lines(self);
        if !front.is_empty() {
            md.push_str(&front);
            md.push('\n');
        }
        md
    }
}

/// `key: value` JSON → dashed output names with string values.
#[must_use]
pub(crate) fn json_outputs(value: &serde_json::Value) -> Vec<(String, String)> {
    let Some(map) = value.as_object() else {
        return Vec::new();
    };
    map.iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.replace('_', "-"), text)
        })
        .collect()
}

impl std::fmt::Display for DeployReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.superseded {
            "superseded (a newer run is live; live not moved)"
        } else if self.changed {
            "deployed"
        } else {
            "unchanged (no-op)"
        };
        writeln!(f, "{}: {what}", self.function_name)?;
        writeln!(f, "  url       {}", self.url.as_deref().unwrap_or("(none)"))?;
        if self.front_door.domain.is_some() || self.front_door.api_endpoint.is_some() {
            writeln!(
                f,
                "  function  {}",
                self.front_door
                    .function_url
                    .as_deref()
                    .unwrap_or("(no function URL)")
            )?;
        }
        writeln!(
            f,
            "  version   {} (alias {}; previous {})",
            self.version,
            self.alias,
            self.previous_version.as_deref().unwrap_or("none")
        )?;
        writeln!(f, "  code      {}", self.code_sha256)?;
        write!(f, "  artifact  {}", self.artifact)
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Report::Deploy(r) => r.fmt(f),
            Report::Teardown(r) => {
                if r.deleted {
                    write!(
                        f,
                        "{}: deleted (stage {} torn down)",
                        r.function_name, r.stage
                    )
                } else {
                    write!(f, "{}: nothing to delete (already gone)", r.function_name)
                }
            }
            Report::Skip(r) => write!(f, "skipped: {}", r.reason),
            Report::Package(r) => r.fmt(f),
            Report::Invoke(r) => r.fmt(f),
            Report::Json { text, .. } => f.write_str(text.trim_end()),
            Report::Streamed => Ok(()),
        }
    }
}

impl Report {
    /// Print the report on stdout in the chosen format.
    pub fn print(&self, format: OutputFormat) {
        if matches!(self, Report::Streamed) {
            return;
        }
        match format {
            OutputFormat::Text => println!("{self}"),
            OutputFormat::Json => println!(
                "{}",
                serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
            ),
        }
    }

    /// The process exit status of a command that succeeded: 0, except for `invoke`, whose
    /// status is the command's.
    #[must_use]
    pub fn exit_code(&self) -> i32 {
        match self {
            Report::Invoke(r) => r.exit_code(),
            _ => 0,
        }
    }

    /// Step outputs for GitHub Actions.
    #[must_use]
    pub fn outputs(&self) -> Vec<(String, String)> {
        match self {
            Report::Deploy(r) => r.outputs(),
            Report::Streamed => Vec::new(),
            other => json_outputs(&serde_json::to_value(other).unwrap_or_default()),
        }
    }
}

/// Print an error: on stderr for humans (with help), and as one JSON object on stdout with
/// `--output json` (`run` adds the `::error::` annotation inside Actions).
pub(crate) fn print_error(err: &Error, format: OutputFormat) {
    let help = err.help_text();
    eprintln!("error: {err}");
    if let Some(h) = &help {
        eprintln!("  help: {h}");
    }
    if format == OutputFormat::Json {
        let mut value = serde_json::json!({
            "error": {
                "kind": err.kind(),
                "message": err.to_string(),
                "help": help,
                "exit_code": err.code(),
            }
        });
        // What is live after a partly failed deploy: scripts need it as much as the error.
        if let Error::AfterLive { report, .. } = err {
            value["report"] = serde_json::to_value(report).unwrap_or_default();
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    }
}
