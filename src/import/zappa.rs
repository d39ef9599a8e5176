//! `deploy-action import zappa`: zappa_settings.json (.yml, .yaml, .toml) → deploy-action.toml
//! with one `[stages.<name>]` per zappa stage, and a workflow for pushes and PR previews.
//!
//! zappa's settings are documented in its README ("Advanced Settings"); `extends` is resolved
//! as zappa's cli does (`get_stage_setting`): the parent's keys, updated by the stage's own
//! (a shallow update). Every key found gets a row in the report: carried over (to what), not
//! needed (why), or not supported (why, what to do). Keys for flags this build does not have
//! yet (docs/contract.md, "Production settings") are written anyway, marked in the file and the
//! report; the settings file accepts them (`settings::PLANNED`) and they take effect once the
//! flag exists.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::cli::OutputFormat;
use crate::error::{Error, Result};
use crate::output::Report;

#[derive(Debug, Clone, clap::Args)]
pub struct ZappaArgs {
    /// zappa's settings file (default: zappa_settings.json, .yml, .yaml or .toml in --source).
    #[arg(long, env = "DEPLOY_SETTINGS")]
    pub settings: Option<PathBuf>,
    /// The project's directory: where app_function must resolve and deploy-action.toml goes.
    #[arg(long, env = "DEPLOY_SOURCE", default_value = ".")]
    pub source: PathBuf,
    /// Print the files that would be written; write nothing.
    #[arg(long, env = "DEPLOY_DRY_RUN")]
    pub dry_run: bool,
    /// Overwrite deploy-action.toml and the workflow if they exist.
    #[arg(long, env = "DEPLOY_FORCE")]
    pub force: bool,
    /// Output format on stdout.
    #[arg(long, env = "DEPLOY_OUTPUT", value_enum, default_value = "text")]
    pub output: OutputFormat,
}

/// What happened to one zappa key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    CarriedOver,
    NotNeeded,
    NotSupported,
}

impl Outcome {
    fn text(self) -> &'static str {
        match self {
            Outcome::CarriedOver => "carried over",
            Outcome::NotNeeded => "not needed",
            Outcome::NotSupported => "not supported",
        }
    }
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Row {
    pub key: String,
    pub outcome: Outcome,
    /// The deploy-action key(s) it became.
    pub to: Option<String>,
    pub note: String,
    /// The zappa stages it was found in.
    pub stages: Vec<String>,
}

/// A file the import writes.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FileOut {
    pub path: String,
    pub content: String,
    pub written: bool,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ImportReport {
    pub settings_file: String,
    pub stages: Vec<String>,
    pub production_stage: String,
    pub keys: Vec<Row>,
    pub files: Vec<FileOut>,
    pub dry_run: bool,
}

/// A deploy-action value.
#[derive(Debug, Clone, PartialEq)]
enum TVal {
    Str(String),
    Int(i64),
    Bool(bool),
    List(Vec<String>),
    Map(BTreeMap<String, String>),
}

/// One zappa stage, mapped.
#[derive(Debug, Default)]
struct Mapped {
    values: BTreeMap<String, TVal>,
    rows: Vec<(String, Outcome, Option<String>, String)>,
    /// Lines written as comments (values we can't complete).
    comments: Vec<String>,
}

impl Mapped {
    fn set(&mut self, key: &str, value: TVal) {
        self.values.insert(key.to_string(), value);
    }

    fn env(&mut self, name: &str, value: String) {
        match self
            .values
            .entry("env".into())
            .or_insert_with(|| TVal::Map(BTreeMap::new()))
        {
            TVal::Map(m) => {
                m.insert(name.to_string(), value);
            }
            _ => unreachable!("env is always a table"),
        }
    }

    fn row(&mut self, key: &str, outcome: Outcome, to: Option<String>, note: impl Into<String>) {
        self.rows.push((key.to_string(), outcome, to, note.into()));
    }

    fn carried(&mut self, key: &str, to: &str, note: impl Into<String>) {
        let mut note = note.into();
        if let Some(pending) = pending_note(to) {
            note = if note.is_empty() {
                pending
            } else {
                format!("{note}; {pending}")
            };
        }
        self.row(key, Outcome::CarriedOver, Some(to.to_string()), note);
    }

    fn not_needed(&mut self, key: &str, why: &str) {
        self.row(key, Outcome::NotNeeded, None, why);
    }

    fn unsupported(&mut self, key: &str, why: &str) {
        self.row(key, Outcome::NotSupported, None, why);
    }
}

/// "takes effect once deploy-action supports --X" for keys whose flag this build lacks.
fn pending_note(to: &str) -> Option<String> {
    let keys: Vec<&str> = to
        .split([',', ' '])
        .map(|k| k.split('=').next().unwrap_or_default().trim())
        .filter(|k| !k.is_empty())
        .collect();
    let missing: Vec<String> = keys
        .iter()
        .filter(|k| !crate::settings::is_key(k) && crate::settings::PLANNED.contains(k))
        .map(|k| format!("--{k}"))
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "takes effect once deploy-action supports {}",
            missing.join(", ")
        )
    })
}

pub(crate) fn run(args: &ZappaArgs) -> Result<Report> {
    let report = import(args)?;
    let value = serde_json::to_value(&report).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Report::Json {
        value,
        text: report_text(&report),
    })
}

fn bad(location: impl Into<String>, message: impl Into<String>, help: impl Into<String>) -> Error {
    Error::Settings {
        location: location.into(),
        message: message.into(),
        help: Some(help.into()),
    }
}

fn shown(path: &Path) -> String {
    let s = path.strip_prefix(".").unwrap_or(path).display().to_string();
    if s.is_empty() { ".".into() } else { s }
}

/// Find zappa's settings file in `source`.
fn locate(args: &ZappaArgs) -> Result<PathBuf> {
    if let Some(path) = &args.settings {
        return Ok(path.clone());
    }
    for name in [
        "zappa_settings.json",
        "zappa_settings.yml",
        "zappa_settings.yaml",
        "zappa_settings.toml",
    ] {
        let path = args.source.join(name);
        if path.is_file() {
            return Ok(path);
        }
    }
    Err(Error::missing(
        "--settings",
        format!(
            "no zappa_settings.json, .yml, .yaml or .toml in {}",
            shown(&args.source)
        ),
        "run the import in the zappa project's directory, or pass --source DIR or --settings FILE",
    ))
}

/// Read zappa's settings as JSON, whatever the file's format.
fn read(path: &Path) -> Result<(Value, String)> {
    let name = shown(path);
    let text = std::fs::read_to_string(path).map_err(|e| {
        bad(
            name.clone(),
            format!("can't read zappa's settings: {e}"),
            "pass --settings FILE with the path of zappa_settings.json",
        )
    })?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("json");
    let value = match ext {
        "yml" | "yaml" => serde_yaml_ng::from_str::<Value>(&text).map_err(|e| {
            let at = e.location().map_or(name.clone(), |l| {
                format!("{name}:{}:{}", l.line(), l.column())
            });
            bad(at, format!("not valid YAML: {e}"), "fix the YAML syntax")
        })?,
        "toml" => toml_to_json(&text).map_err(|(line, message)| {
            bad(
                format!("{name}:{line}"),
                format!("not valid TOML: {message}"),
                "fix the TOML syntax",
            )
        })?,
        _ => serde_json::from_str::<Value>(&text).map_err(|e| {
            bad(
                format!("{name}:{}:{}", e.line(), e.column()),
                format!("not valid JSON: {e}"),
                "fix the JSON syntax (zappa would refuse this file too)",
            )
        })?,
    };
    Ok((value, text))
}

fn toml_to_json(text: &str) -> std::result::Result<Value, (usize, String)> {
    let doc = toml_edit::Document::parse(text).map_err(|e| {
        let line = e.span().map_or(1, |s| {
            text.as_bytes()[..s.start.min(text.len())]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1
        });
        (line, e.message().trim().to_string())
    })?;
    fn item(i: &toml_edit::Item) -> Value {
        match i {
            toml_edit::Item::None => Value::Null,
            toml_edit::Item::Value(v) => value(v),
            toml_edit::Item::Table(t) => {
                Value::Object(t.iter().map(|(k, v)| (k.to_string(), item(v))).collect())
            }
            toml_edit::Item::ArrayOfTables(a) => Value::Array(
                a.iter()
                    .map(|t| {
                        Value::Object(t.iter().map(|(k, v)| (k.to_string(), item(v))).collect())
                    })
                    .collect(),
            ),
        }
    }
    fn value(v: &toml_edit::Value) -> Value {
        match v {
            toml_edit::Value::String(s) => Value::String(s.value().clone()),
            toml_edit::Value::Integer(i) => Value::from(*i.value()),
            toml_edit::Value::Float(f) => Value::from(*f.value()),
            toml_edit::Value::Boolean(b) => Value::Bool(*b.value()),
            toml_edit::Value::Datetime(d) => Value::String(d.value().to_string()),
            toml_edit::Value::Array(a) => Value::Array(a.iter().map(value).collect()),
            toml_edit::Value::InlineTable(t) => {
                Value::Object(t.iter().map(|(k, v)| (k.to_string(), value(v))).collect())
            }
        }
    }
    Ok(item(doc.as_item()))
}

/// The line of the first mention of `key` in the settings text (for messages).
fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| l.contains(key))
        .map_or(1, |i| i + 1)
}

/// Each stage's settings with `extends` applied, as zappa does: the parent's keys updated by
/// the stage's own. A missing parent or a cycle is an error.
fn resolve_extends(
    name: &str,
    text: &str,
    raw: &Map<String, Value>,
) -> Result<BTreeMap<String, Map<String, Value>>> {
    let mut out = BTreeMap::new();
    for stage in raw.keys() {
        let mut chain = vec![stage.clone()];
        let mut current = stage.clone();
        loop {
            let settings = raw[&current].as_object().ok_or_else(|| {
                bad(
                    format!("{name}:{}", line_of(text, &format!("\"{current}\""))),
                    format!("stage `{current}` is not an object of settings"),
                    "zappa's settings map each stage name to an object of keys",
                )
            })?;
            let Some(parent) = settings.get("extends") else {
                break;
            };
            let parent = parent.as_str().unwrap_or_default().to_string();
            if !raw.contains_key(&parent) {
                return Err(bad(
                    format!("{name}:{}", line_of(text, "extends")),
                    format!("stage `{current}` extends `{parent}`, which is not in the file"),
                    format!(
                        "add a `{parent}` stage or fix `extends` (stages: {})",
                        raw.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            if chain.contains(&parent) {
                chain.push(parent);
                return Err(bad(
                    format!("{name}:{}", line_of(text, "extends")),
                    format!("`extends` goes round in a circle: {}", chain.join(" → ")),
                    "make one of these stages extend nothing",
                ));
            }
            chain.push(parent.clone());
            current = parent;
        }
        // Apply from the root of the chain down.
        let mut merged = Map::new();
        for s in chain.iter().rev() {
            if let Some(obj) = raw[s].as_object() {
                for (k, v) in obj {
                    merged.insert(k.clone(), v.clone());
                }
            }
        }
        if chain.len() > 1 {
            merged.insert("extends".into(), Value::String(chain[1].clone()));
        }
        out.insert(stage.clone(), merged);
    }
    Ok(out)
}

fn import(args: &ZappaArgs) -> Result<ImportReport> {
    let path = locate(args)?;
    let name = shown(&path);
    let (value, text) = read(&path)?;
    let Some(raw) = value.as_object().filter(|o| !o.is_empty()) else {
        return Err(bad(
            name,
            "zappa's settings must be an object of stages, e.g. {\"dev\": {...}}",
            "check that this is zappa_settings.json",
        ));
    };
    let stages = resolve_extends(&name, &text, raw)?;
    let mut mapped: BTreeMap<String, Mapped> = BTreeMap::new();
    for (stage, settings) in &stages {
        mapped.insert(
            stage.clone(),
            map_stage(stage, settings, &args.source, &name, &text)?,
        );
    }
    let production = production_stage(&stages);

    // Architecture: zappa deploys x86_64 unless told otherwise; deploy-action builds arm64.
    let mut arch_rows = Vec::new();
    let x86 = stages.values().any(|s| {
        s.get("architecture")
            .and_then(Value::as_str)
            .is_none_or(|a| a != "arm64")
    });
    if x86 {
        arch_rows = wheel_rows(&args.source);
    }

    let (top, per_stage) = hoist(&mapped);
    let any_has = |key: &str| mapped.values().any(|m| m.values.contains_key(key));
    let preview = preview_stage(&mapped, &production).map(|stage| {
        let values: BTreeMap<String, TVal> = per_stage
            .get(&stage)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| !PREVIEW_SKIP.contains(&k.as_str()))
            .collect();
        (stage, values)
    });
    // A stage without the role or bucket others have: say where it goes.
    let mut notes = Vec::new();
    for (key, example) in [
        ("execution-role", "\"arn:aws:iam::ACCOUNT_ID:role/NAME\""),
        ("s3-bucket", "\"my-deploy-artifacts\""),
    ] {
        let missing_somewhere = mapped.values().any(|m| !m.values.contains_key(key))
            || preview
                .as_ref()
                .is_some_and(|(_, values)| !values.contains_key(key));
        if any_has(key) && !top.contains_key(key) && missing_somewhere {
            notes.push(format!(
                "{key} = {example}  # stages (and previews) without their own {key} need one"
            ));
        }
    }
    let toml = render_toml(
        &name,
        &top,
        &per_stage,
        &mapped,
        &production,
        preview.as_ref(),
        &notes,
    );
    crate::settings::check_text("deploy-action.toml", &toml)
        .map_err(|e| Error::Internal(format!("import wrote settings it can't read back: {e}")))?;
    let (root, source_rel) = repo_root(&args.source);
    let workflow = render_workflow(
        !any_has("execution-role"),
        !any_has("s3-bucket"),
        &source_rel,
        &production,
    );

    let mut rows = aggregate(&mapped);
    rows.extend(arch_rows);

    let files = vec![
        (args.source.join("deploy-action.toml"), toml),
        (root.join(".github/workflows/deploy.yml"), workflow),
    ];
    let existing: Vec<String> = files
        .iter()
        .filter(|(p, _)| p.exists())
        .map(|(p, _)| shown(p))
        .collect();
    if !existing.is_empty() && !args.force && !args.dry_run {
        return Err(bad(
            existing.join(", "),
            format!("{} already exists", existing.join(" and ")),
            "pass --force to overwrite (or --dry-run to see what would be written)",
        ));
    }
    let mut out = Vec::new();
    for (p, content) in files {
        if !args.dry_run {
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| Error::io_path("can't create", parent, e))?;
            }
            std::fs::write(&p, &content).map_err(|e| Error::io_path("can't write", &p, e))?;
        }
        out.push(FileOut {
            path: shown(&p),
            content,
            written: !args.dry_run,
        });
    }
    Ok(ImportReport {
        settings_file: name,
        stages: stages.keys().cloned().collect(),
        production_stage: production,
        keys: rows,
        files: out,
        dry_run: args.dry_run,
    })
}

/// The stage a push to main deploys: one named like production, else the only one, else the
/// first by name.
fn production_stage(stages: &BTreeMap<String, Map<String, Value>>) -> String {
    for name in ["production", "prod", "live", "main", "master"] {
        if stages.contains_key(name) {
            return name.to_string();
        }
    }
    stages
        .keys()
        .next()
        .cloned()
        .unwrap_or_else(|| "main".into())
}

/// The git repository's root above `source` (where .github/workflows lives) and `source`
/// relative to it.
fn repo_root(source: &Path) -> (PathBuf, String) {
    let abs = std::fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf());
    let mut dir = abs.as_path();
    loop {
        if dir.join(".git").exists() {
            let rel = abs.strip_prefix(dir).unwrap_or(Path::new(""));
            let rel = if rel.as_os_str().is_empty() {
                ".".to_string()
            } else {
                rel.display().to_string()
            };
            // Keep the workflow next to the given source's spelling when it is the root.
            let root = if rel == "." {
                source.to_path_buf()
            } else {
                dir.to_path_buf()
            };
            return (root, rel);
        }
        match dir.parent() {
            Some(p) => dir = p,
            None => return (source.to_path_buf(), ".".into()),
        }
    }
}

fn str_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().filter_map(str_of).collect(),
        other => str_of(other).into_iter().collect(),
    }
}

const RUNTIMES: &[&str] = &[
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
];

/// Map one resolved zappa stage.
#[allow(clippy::too_many_lines)]
fn map_stage(
    stage: &str,
    s: &Map<String, Value>,
    source: &Path,
    file: &str,
    text: &str,
) -> Result<Mapped> {
    let mut m = Mapped::default();
    for (key, v) in s {
        match key.as_str() {
            "extends" => m.not_needed(
                key,
                "resolved: the stage's table holds the values it inherited (common values are at the top level)",
            ),
            "app_function" => {
                let spec = str_of(v).unwrap_or_default();
                let app = resolve_app_function(source, &spec).map_err(|message| {
                    bad(
                        format!("{file}:{}", line_of(text, "app_function")),
                        format!("stage {stage}: app_function `{spec}` {message}"),
                        format!(
                            "run the import in the project's root (--source DIR, now {}), or fix app_function",
                            shown(source)
                        ),
                    )
                })?;
                m.set("python-app", TVal::Str(app.clone()));
                m.carried(key, &format!("python-app = \"{app}\""), "zappa's module.attr becomes module:attr");
            }
            "django_settings" => {
                let module = str_of(v).unwrap_or_default();
                m.env("DJANGO_SETTINGS_MODULE", module.clone());
                let mut to = "env.DJANGO_SETTINGS_MODULE".to_string();
                let mut note = String::new();
                if !s.contains_key("app_function") {
                    let package = module.rsplit_once('.').map_or("", |(p, _)| p);
                    let wsgi = if package.is_empty() {
                        "wsgi".to_string()
                    } else {
                        format!("{package}.wsgi")
                    };
                    let spec = format!("{wsgi}.application");
                    match resolve_app_function(source, &spec) {
                        Ok(app) => {
                            m.set("python-app", TVal::Str(app.clone()));
                            to = format!("{to}, python-app = \"{app}\"");
                            note = "Django's WSGI application, as `django-admin startproject` writes it".into();
                        }
                        Err(why) => {
                            note = format!(
                                "no WSGI app found ({spec} {why}): set python-app = \"yourproject.wsgi:application\""
                            );
                        }
                    }
                }
                m.carried(key, &to, note);
            }
            "aws_region" => {
                m.set("region", TVal::Str(str_of(v).unwrap_or_default()));
                m.carried(key, "region", "");
            }
            "s3_bucket" => {
                m.set("s3-bucket", TVal::Str(str_of(v).unwrap_or_default()));
                m.carried(key, "s3-bucket", "artifacts are stored under deploy-action/<app>/ in it");
            }
            "project_name" => {
                let app = app_name(&str_of(v).unwrap_or_default());
                m.set("app", TVal::Str(app.clone()));
                m.carried(key, "app", "functions are named <app>-<stage>, as zappa's <project>-<stage>");
            }
            "runtime" => {
                let rt = str_of(v).unwrap_or_default();
                if RUNTIMES.contains(&rt.as_str()) {
                    m.set("runtime", TVal::Str(rt));
                    m.carried(key, "runtime", "");
                } else {
                    m.unsupported(
                        key,
                        &format!("{rt} is not a runtime deploy-action deploys (python3.9 to python3.14); the default python3.13 is used: test the app on it"),
                    );
                }
            }
            "memory_size" => match v.as_i64() {
                Some(mb) => {
                    m.set("memory", TVal::Int(mb));
                    m.carried(key, "memory", "");
                }
                None => m.unsupported(key, "not a number"),
            },
            "timeout_seconds" => match v.as_i64() {
                Some(s) => {
                    m.set("timeout", TVal::Int(s));
                    m.carried(key, "timeout", "");
                }
                None => m.unsupported(key, "not a number"),
            },
            "environment_variables" | "aws_environment_variables" => {
                // zappa's README: on the same name, environment_variables win (they are
                // injected by its handler after Lambda's own variables).
                let shadowed = |k: &str| {
                    key == "aws_environment_variables"
                        && s.get("environment_variables")
                            .and_then(Value::as_object)
                            .is_some_and(|e| e.contains_key(k))
                };
                if let Some(vars) = v.as_object() {
                    for (k, val) in vars {
                        if !shadowed(k) {
                            m.env(k, str_of(val).unwrap_or_default());
                        }
                    }
                }
                m.carried(
                    key,
                    "env",
                    "set on the function's configuration (zappa baked environment_variables into the package)",
                );
            }
            "exclude" | "exclude_glob" => {
                let mut globs = match m.values.get("exclude") {
                    Some(TVal::List(l)) => l.clone(),
                    _ => Vec::new(),
                };
                // zappa's `exclude` are fnmatch patterns of file names at any depth
                // (shutil.ignore_patterns); `exclude_glob` are paths from the project root,
                // as deploy-action's globs are.
                let name_patterns = key == "exclude";
                globs.extend(strings(v).into_iter().map(|g| {
                    if name_patterns && !g.contains('/') {
                        format!("**/{g}")
                    } else {
                        g
                    }
                }));
                m.set("exclude", TVal::List(globs));
                let note = if name_patterns {
                    "name patterns match at any depth: `tests` becomes `**/tests`"
                } else {
                    ""
                };
                m.carried(key, "exclude", note);
            }
            "keep_warm" => {
                if v.as_bool() == Some(false) {
                    m.not_needed(key, "false: no warming, deploy-action's default");
                } else {
                    let expr = s
                        .get("keep_warm_expression")
                        .and_then(str_of)
                        .unwrap_or_else(|| "rate(4 minutes)".into());
                    m.set("keep-warm", TVal::Str(expr));
                    m.carried(key, "keep-warm", "with keep_warm_expression, or zappa's default rate(4 minutes)");
                }
            }
            "keep_warm_expression" => {
                if s.get("keep_warm").and_then(Value::as_bool) == Some(false) {
                    m.not_needed(key, "keep_warm is false");
                } else {
                    m.carried(key, "keep-warm", "");
                }
            }
            "domain" => {
                m.set("domain", TVal::Str(str_of(v).unwrap_or_default()));
                m.carried(key, "domain", "served through an HTTP API with the certificate");
            }
            "certificate_arn" => {
                m.set("certificate-arn", TVal::Str(str_of(v).unwrap_or_default()));
                m.carried(key, "certificate-arn", "");
            }
            "route53_enabled" => m.not_needed(key, "deploy-action writes the Route 53 record when it manages the domain (--hosted-zone-id)"),
            "vpc_config" => {
                let subnets = v.get("SubnetIds").map(strings).unwrap_or_default();
                let groups = v.get("SecurityGroupIds").map(strings).unwrap_or_default();
                m.set("vpc-subnets", TVal::List(subnets));
                m.set("vpc-security-groups", TVal::List(groups));
                m.carried(key, "vpc-subnets, vpc-security-groups", "");
            }
            "layers" => {
                m.set("layers", TVal::List(strings(v)));
                m.carried(key, "layers", "layers must be built for arm64 (see the architecture rows)");
            }
            "xray_tracing" => {
                if v.as_bool() == Some(true) {
                    m.set("tracing", TVal::Str("active".into()));
                    m.carried(key, "tracing = \"active\"", "");
                } else {
                    m.not_needed(key, "false: no tracing, the default");
                }
            }
            "events" => map_events(&mut m, v),
            "role_arn" => {
                m.set("execution-role", TVal::Str(str_of(v).unwrap_or_default()));
                m.carried(key, "execution-role", "");
            }
            "role_name" => {
                if !s.contains_key("role_arn") {
                    let role = str_of(v).unwrap_or_default();
                    m.comments.push(format!(
                        "execution-role = \"arn:aws:iam::ACCOUNT_ID:role/{role}\"  # from zappa's role_name: fill in the account id"
                    ));
                    m.row(
                        key,
                        Outcome::CarriedOver,
                        Some("execution-role (commented out)".into()),
                        "a role ARN needs the account id: uncomment the line in deploy-action.toml and fill it in",
                    );
                } else {
                    m.not_needed(key, "role_arn names the role");
                }
            }
            "log_level" => {
                m.env("LOG_LEVEL", str_of(v).unwrap_or_default());
                m.carried(
                    key,
                    "env.LOG_LEVEL",
                    "zappa set the root logger's level; deploy-action passes LOG_LEVEL for the app to apply (logging.basicConfig(level=os.environ[\"LOG_LEVEL\"]))",
                );
            }
            "cors" => m.unsupported(
                key,
                "no API Gateway CORS: the app answers CORS itself (flask-cors, django-cors-headers), which works behind the function URL and a domain alike",
            ),
            "binary_support" => m.not_needed(key, "binary bodies always pass through (base64) with the function URL"),
            "slim_handler" => m.not_needed(key, "bundles are small and built for arm64 (250 MB unzipped allowed); nothing is downloaded at cold start"),
            "use_precompiled_packages" => m.not_needed(key, "dependencies are installed as manylinux wheels for arm64 and the runtime's Python"),
            "manage_roles" | "attach_policy" | "extra_permissions" | "assume_policy" => m.unsupported(
                key,
                "deploy-action never creates IAM roles: create the execution role once and set execution-role (`deploy-action policy` prints the deploy role's policy)",
            ),
            "profile_name" => m.not_needed(key, "in GitHub Actions the credentials come from OIDC (role-to-assume); in a terminal, the standard AWS chain"),
            "apigateway_enabled" => {
                if v.as_bool() == Some(false) {
                    m.set("function-url", TVal::Str("none".into()));
                    m.carried(key, "function-url = \"none\"", "no HTTP endpoint");
                } else {
                    m.not_needed(key, "the function URL on `live` is the HTTP endpoint");
                }
            }
            "iam_authorization" => {
                if v.as_bool() == Some(true) {
                    m.set("function-url", TVal::Str("iam".into()));
                    m.carried(key, "function-url = \"iam\"", "callers sign requests with SigV4 (AWS_IAM)");
                } else {
                    m.not_needed(key, "false: public, the default");
                }
            }
            "function_url_enabled" => m.not_needed(key, "every stage gets a function URL on `live`"),
            "lambda_description" => {
                m.set("description", TVal::Str(str_of(v).unwrap_or_default()));
                m.carried(key, "description", "");
            }
            "lambda_concurrency" => match v.as_i64() {
                Some(n) => {
                    m.set("reserved-concurrency", TVal::Int(n));
                    m.carried(key, "reserved-concurrency", "");
                }
                None => m.unsupported(key, "not a number"),
            },
            "ephemeral_storage" => match v.get("Size").and_then(Value::as_i64).or_else(|| v.as_i64()) {
                Some(mb) => {
                    m.set("ephemeral-storage", TVal::Int(mb));
                    m.carried(key, "ephemeral-storage", "");
                }
                None => m.unsupported(key, "expected {\"Size\": MB}"),
            },
            "snap_start" => {
                if str_of(v).as_deref() == Some("PublishedVersions") {
                    m.set("snapstart", TVal::Bool(true));
                    m.carried(key, "snapstart", "");
                } else {
                    m.not_needed(key, "off, the default");
                }
            }
            "num_retained_versions" => match v.as_i64() {
                Some(n) if n > 0 => {
                    m.set("keep-versions", TVal::Int(n));
                    m.carried(key, "keep-versions", "");
                }
                _ => m.not_needed(key, "deploy-action keeps 5 versions besides those an alias points at"),
            },
            "touch_path" => {
                m.set("smoke-path", TVal::Str(str_of(v).unwrap_or_default()));
                m.carried(key, "smoke-path", "requested on the new version before it gets traffic");
            }
            "touch" => m.not_needed(key, "set smoke-path to check a new version before it gets traffic"),
            "lambda_handler" => {
                m.set("handler", TVal::Str(str_of(v).unwrap_or_default()));
                m.carried(key, "handler", "your own handler replaces deploy-action's WSGI/ASGI adapter");
            }
            "architecture" => {
                if str_of(v).as_deref() == Some("arm64") {
                    m.not_needed(key, "arm64 is deploy-action's default");
                } else {
                    m.row(
                        key,
                        Outcome::NotSupported,
                        None,
                        "x86_64: deploy-action builds for arm64 (cheaper per ms); check the architecture rows, or set architecture = \"x86_64\"",
                    );
                }
            }
            "delete_local_zip" | "delete_s3_zip" | "settings_file" | "parameter_depth"
            | "payload_compression" | "payload_minimum_compression_size"
            | "additional_text_mimetypes" | "context_header_mappings" | "cloudwatch_log_level"
            | "cloudwatch_data_trace" | "cloudwatch_metrics_enabled" | "apigateway_description"
            | "endpoint_configuration" | "cache_cluster_enabled" | "cache_cluster_size"
            | "cache_cluster_ttl" | "cache_cluster_encrypted" => m.not_needed(
                key,
                "API Gateway REST or packaging detail zappa needed; deploy-action uses a function URL and deterministic zips",
            ),
            "remote_env" => m.unsupported(
                key,
                "read at cold start from S3 by zappa; put each value in SSM or Secrets Manager and set env = { NAME = \"ssm:/path\" }",
            ),
            "certificate" | "certificate_key" | "certificate_chain" | "lets_encrypt_key" => m.unsupported(
                key,
                "uploaded certificates: import the certificate into ACM and set certificate-arn (or create-certificate)",
            ),
            "prebuild_script" => m.unsupported(key, "run it as a workflow step before the deploy step"),
            "include" => m.unsupported(key, "everything in --source is bundled except `exclude`; copy the files into it"),
            "tags" => m.unsupported(key, "functions carry deploy-action's own tags only; tag them outside deploy-action"),
            _ => m.unsupported(
                key,
                "deploy-action has no equivalent; keep what it did outside the deploy (or open an issue)",
            ),
        }
    }
    if !s.contains_key("project_name") {
        let dir = std::fs::canonicalize(source)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "app".into());
        m.set("app", TVal::Str(app_name(&dir)));
    }
    Ok(m)
}

/// zappa's events: schedules become `schedule` entries NAME=EXPR=module:function; event
/// sources (S3, SNS, SQS, DynamoDB, Kinesis) are not deploy-action's business.
fn map_events(m: &mut Mapped, v: &Value) {
    let mut schedules = Vec::new();
    for (i, event) in v.as_array().into_iter().flatten().enumerate() {
        let function = event.get("function").and_then(str_of).unwrap_or_default();
        let (module, func) = function.rsplit_once('.').unwrap_or(("", &function));
        let key = format!("events[{i}] {function}");
        if event.get("event_source").is_some() {
            m.unsupported(
                &key,
                "event sources (S3, SNS, SQS, DynamoDB, Kinesis) are not wired by deploy-action: add the trigger to the function `<app>-<stage>` yourself (aws lambda create-event-source-mapping) or keep this worker on zappa",
            );
            continue;
        }
        let mut exprs: Vec<String> = event.get("expressions").map(strings).unwrap_or_default();
        if let Some(e) = event.get("expression").and_then(str_of) {
            exprs.insert(0, e);
        }
        if exprs.is_empty() || module.is_empty() {
            m.unsupported(
                &key,
                "an event without a schedule expression or module.function",
            );
            continue;
        }
        let base = event
            .get("name")
            .and_then(str_of)
            .unwrap_or_else(|| func.to_string())
            .replace('_', "-");
        let n = exprs.len();
        for (j, expr) in exprs.iter().enumerate() {
            let name = if n > 1 {
                format!("{base}-{}", j + 1)
            } else {
                base.clone()
            };
            schedules.push(format!("{name}={expr}={module}:{func}"));
        }
        let mut note = String::new();
        if event.get("enabled").and_then(Value::as_bool) == Some(false) {
            note = "was disabled in zappa; remove the entry to keep it off".into();
        }
        m.carried(&key, "schedule", note);
    }
    if !schedules.is_empty() {
        m.set("schedule", TVal::List(schedules));
    }
}

/// An app name from zappa's project name: lowercase, `_` and spaces become `-`.
fn app_name(project: &str) -> String {
    let mut name: String = project
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    name = name.trim_matches('-').to_string();
    name.truncate(crate::naming::MAX_APP_NAME);
    if name.is_empty() { "app".into() } else { name }
}

/// `module.attr` (zappa) → `module:attr`, checked against the source tree: the module file
/// exists and defines `attr` at its top level (a simple scan: def, class, assignment, import).
fn resolve_app_function(source: &Path, spec: &str) -> std::result::Result<String, String> {
    let Some((module, attr)) = spec.rsplit_once('.') else {
        return Err("is not module.attribute".into());
    };
    let rel = module.replace('.', "/");
    let candidates = [
        source.join(format!("{rel}.py")),
        source.join(&rel).join("__init__.py"),
    ];
    let Some(file) = candidates.iter().find(|p| p.is_file()) else {
        return Err(format!(
            "does not resolve: neither {rel}.py nor {rel}/__init__.py is in {}",
            shown(source)
        ));
    };
    let text = std::fs::read_to_string(file).map_err(|e| format!("can't be read: {e}"))?;
    let a = regex::escape(attr);
    let pattern = format!(
        r"(?m)^(?:(?:async\s+)?def\s+{a}\s*\(|class\s+{a}\b|{a}\s*(?::[^=\n]*)?=[^=]|from\s+[\w.]+\s+import\s+[^\n#]*\b{a}\b|import\s+[^\n#]*\bas\s+{a}\b)"
    );
    let defined = regex::Regex::new(&pattern).is_ok_and(|re| re.is_match(&text));
    if !defined {
        return Err(format!(
            "does not resolve: {} defines no top-level `{attr}`",
            shown(file)
        ));
    }
    Ok(format!("{module}:{attr}"))
}

/// Packages known to have no arm64 (or no binary) wheels, with what to use instead. The
/// build installs binary wheels only (docs/contract.md, "One deploy, step by step"), so an sdist-only package fails there.
const WHEEL_TROUBLE: &[(&str, &str)] = &[
    (
        "psycopg2",
        "sdist only on PyPI: use psycopg2-binary or psycopg[binary] (manylinux aarch64 wheels)",
    ),
    (
        "mysqlclient",
        "sdist only (needs libmysqlclient to build): use PyMySQL",
    ),
    ("pycrypto", "sdist only and unmaintained: use pycryptodome"),
    (
        "python-ldap",
        "sdist only: build it in a Lambda layer for arm64, or use ldap3",
    ),
    ("uwsgi", "not needed on Lambda: remove it"),
    (
        "lambda-packages",
        "zappa's x86_64 prebuilt packages: remove it",
    ),
    (
        "zappa",
        "not needed any more: remove it from the bundle's requirements",
    ),
];

/// Rows for requirements.txt lines that won't install for arm64.
fn wheel_rows(source: &Path) -> Vec<Row> {
    let mut rows = vec![Row {
        key: "architecture".into(),
        outcome: Outcome::CarriedOver,
        to: Some("arm64 (deploy-action's default)".into()),
        note: "zappa deployed x86_64: dependencies are now installed as arm64 wheels; the rows below name the requirements that won't install (none listed: all fine as far as deploy-action knows); or set architecture = \"x86_64\"".into(),
        stages: vec!["all".into()],
    }];
    let Ok(text) = std::fs::read_to_string(source.join("requirements.txt")) else {
        return rows;
    };
    for (i, line) in text.lines().enumerate() {
        let l = line.split('#').next().unwrap_or_default().trim();
        if l.is_empty() {
            continue;
        }
        let lower = l.to_ascii_lowercase();
        let why = if ["x86_64", "amd64", "win32", "i686"]
            .iter()
            .any(|a| lower.contains(a))
        {
            Some("pinned to an x86 wheel or platform: pin the version instead and let deploy-action pick the arm64 wheel".to_string())
        } else {
            let name: String = lower
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect::<String>()
                .replace('_', "-");
            WHEEL_TROUBLE
                .iter()
                .find(|(p, _)| *p == name)
                .map(|(_, why)| (*why).to_string())
        };
        if let Some(why) = why {
            rows.push(Row {
                key: format!("requirements.txt:{} {l}", i + 1),
                outcome: Outcome::NotSupported,
                to: None,
                note: why,
                stages: vec!["all".into()],
            });
        }
    }
    rows
}

/// Values equal in every stage go to the top level; tables (env) per key.
fn hoist(
    mapped: &BTreeMap<String, Mapped>,
) -> (
    BTreeMap<String, TVal>,
    BTreeMap<String, BTreeMap<String, TVal>>,
) {
    let mut top = BTreeMap::new();
    let mut stages: BTreeMap<String, BTreeMap<String, TVal>> = mapped
        .iter()
        .map(|(k, m)| (k.clone(), m.values.clone()))
        .collect();
    let all_keys: BTreeSet<String> = stages.values().flat_map(|v| v.keys().cloned()).collect();
    for key in all_keys {
        let values: Vec<Option<&TVal>> = stages.values().map(|v| v.get(&key)).collect();
        if values.iter().any(Option::is_none) {
            continue;
        }
        let first = values[0].cloned();
        if let Some(TVal::Map(_)) = &first {
            // Per entry: an entry equal everywhere goes up.
            let maps: Vec<&BTreeMap<String, String>> = values
                .iter()
                .filter_map(|v| match v {
                    Some(TVal::Map(m)) => Some(m),
                    _ => None,
                })
                .collect();
            let mut common = BTreeMap::new();
            for (k, v) in maps[0] {
                if maps.iter().all(|m| m.get(k) == Some(v)) {
                    common.insert(k.clone(), v.clone());
                }
            }
            if common.is_empty() {
                continue;
            }
            for v in stages.values_mut() {
                if let Some(TVal::Map(m)) = v.get_mut(&key) {
                    m.retain(|k, _| !common.contains_key(k));
                    if m.is_empty() {
                        v.remove(&key);
                    }
                }
            }
            top.insert(key, TVal::Map(common));
            continue;
        }
        if values.iter().all(|v| *v == first.as_ref()) {
            for v in stages.values_mut() {
                v.remove(&key);
            }
            if let Some(f) = first {
                top.insert(key, f);
            }
        }
    }
    (top, stages)
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn bare_or_quoted(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        key.to_string()
    } else {
        quote(key)
    }
}

fn render_value(v: &TVal) -> String {
    match v {
        TVal::Str(s) => quote(s),
        TVal::Int(i) => i.to_string(),
        TVal::Bool(b) => b.to_string(),
        TVal::List(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|s| quote(s))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        TVal::Map(m) => format!(
            "{{ {} }}",
            m.iter()
                .map(|(k, v)| format!("{} = {}", bare_or_quoted(k), quote(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `key = value` lines of one section (tables last, as `[prefix.key]`).
fn render_section(
    out: &mut String,
    prefix: Option<&str>,
    values: &BTreeMap<String, TVal>,
    comments: &[String],
) {
    for (k, v) in values {
        if matches!(v, TVal::Map(_)) {
            continue;
        }
        if let Some(note) = pending_note(k) {
            let _ = writeln!(out, "# {note}");
        }
        let _ = writeln!(out, "{} = {}", bare_or_quoted(k), render_value(v));
    }
    // Before any sub-table: uncommented, the line must belong to this section.
    for c in comments {
        let _ = writeln!(out, "# {c}");
    }
    for (k, v) in values {
        let TVal::Map(m) = v else {
            continue;
        };
        let header = match prefix {
            Some(p) => format!("{p}.{}", bare_or_quoted(k)),
            None => bare_or_quoted(k),
        };
        let _ = writeln!(out, "\n[{header}]");
        for (name, value) in m {
            let _ = writeln!(out, "{} = {}", bare_or_quoted(name), quote(value));
        }
    }
}

/// Keys a preview must not copy from the stage it is modelled on: a fixed domain, schedules
/// and warmers, reserved capacity.
const PREVIEW_SKIP: &[&str] = &[
    "domain",
    "certificate-arn",
    "schedule",
    "keep-warm",
    "reserved-concurrency",
    "snapstart",
];

/// The zappa stage pull request previews are modelled on: a dev-like one, else the first that
/// is not production; none when production is the only stage.
fn preview_stage(mapped: &BTreeMap<String, Mapped>, production: &str) -> Option<String> {
    for name in ["dev", "development", "staging", "test", "preview"] {
        if name != production && mapped.contains_key(name) {
            return Some(name.to_string());
        }
    }
    mapped.keys().find(|k| *k != production).cloned()
}

#[allow(clippy::too_many_arguments)]
fn render_toml(
    from: &str,
    top: &BTreeMap<String, TVal>,
    stages: &BTreeMap<String, BTreeMap<String, TVal>>,
    mapped: &BTreeMap<String, Mapped>,
    production: &str,
    preview: Option<&(String, BTreeMap<String, TVal>)>,
    notes: &[String],
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# deploy-action settings, imported from {from} by `deploy-action import zappa`.\n\
         # Keys are deploy-action's flags (README, \"Settings file\"). Precedence: flag > DEPLOY_*\n\
         # variable (action input) > matching [stages.<name>] table > top level > default.\n\
         # The workflow deploys pushes to main as stage `{production}`; pull requests get preview\n\
         # stages pr-<number> with the settings of [stages.\"pr-*\"] (or the top level).\n"
    );
    // Comments every stage has (role_name) go to the top level once.
    let common: Vec<String> = mapped
        .values()
        .next()
        .map(|first| {
            first
                .comments
                .iter()
                .filter(|c| mapped.values().all(|m| m.comments.contains(c)))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let mut top_comments = common.clone();
    top_comments.extend(notes.iter().cloned());
    render_section(&mut out, None, top, &top_comments);
    for (stage, values) in stages {
        let header = format!("stages.{}", bare_or_quoted(stage));
        let _ = writeln!(out, "\n[{header}]");
        if mapped
            .get(stage)
            .is_some_and(|m| m.rows.iter().any(|r| r.0 == "extends"))
        {
            let _ = writeln!(
                out,
                "# (extended another zappa stage: the values it inherited are included)"
            );
        }
        let own: Vec<String> = mapped
            .get(stage)
            .map(|m| {
                m.comments
                    .iter()
                    .filter(|c| !common.contains(c))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        render_section(&mut out, Some(&header), values, &own);
    }
    if let Some((stage, values)) = preview {
        let _ = writeln!(
            out,
            "\n[stages.\"pr-*\"]\n# pull request previews: zappa's `{stage}` settings, without its domain, schedules and reserved capacity"
        );
        render_section(&mut out, Some("stages.\"pr-*\""), values, &[]);
    }
    out
}

fn render_workflow(needs_role: bool, needs_bucket: bool, source: &str, production: &str) -> String {
    let mut inputs = String::from("          role-to-assume: ${{ env.ROLE_TO_ASSUME }}\n");
    let mut env = String::from(
        "  # --- change this for your account (README, \"Use it in your workflow\") ---\n  ROLE_TO_ASSUME: arn:aws:iam::123456789012:role/deploy-action\n",
    );
    if needs_role {
        env.push_str("  EXECUTION_ROLE: arn:aws:iam::123456789012:role/deploy-action-lambda\n");
        inputs.push_str("          execution-role: ${{ env.EXECUTION_ROLE }}\n");
    }
    if needs_bucket {
        env.push_str("  S3_BUCKET: my-deploy-artifacts\n");
        inputs.push_str("          s3-bucket: ${{ env.S3_BUCKET }}\n");
    }
    if source != "." {
        let _ = writeln!(inputs, "          source: {source}");
    }
    let _ = writeln!(
        inputs,
        "          # Pushes to main deploy zappa's `{production}` stage; pull requests their pr-<number> preview.\n          stage: ${{{{ github.event_name == 'push' && '{production}' || '' }}}}"
    );
    format!(
        r#"# Deploy with deploy-action; written by `deploy-action import zappa` (from examples/).
# Pushes to main deploy the stage `{production}` ([stages.{production}] in deploy-action.toml).
# Every pull request gets a preview stage pr-<number> with its URL in a comment; closing the
# pull request deletes it. The other settings are in deploy-action.toml.
name: Deploy

on:
  push:
    branches: [main]
  pull_request:
    types: [opened, synchronize, reopened, closed]

permissions:
  id-token: write # OIDC token for the deploy role; no AWS keys are stored anywhere
  contents: read
  pull-requests: write # the sticky preview comment
  deployments: write # the deployment and its environment URL

# One run at a time per PR (or branch), in push order.
concurrency:
  group: deploy-action-${{{{ github.event.pull_request.number || github.ref }}}}
  cancel-in-progress: false

env:
{env}
jobs:
  deploy:
    runs-on: ubuntu-latest
    timeout-minutes: 30
    steps:
      # On close the merge ref may be gone: teardown reads deploy-action.toml from the base branch.
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1
        with:
          persist-credentials: false
          ref: ${{{{ github.event.action == 'closed' && github.event.pull_request.base.ref || '' }}}}

      - id: deploy
        uses: org/deploy-action@v1
        with:
{inputs}"#
    )
}

/// One row per (key, outcome, target, note), naming the stages it was found in.
fn aggregate(mapped: &BTreeMap<String, Mapped>) -> Vec<Row> {
    let all: Vec<String> = mapped.keys().cloned().collect();
    let mut rows: Vec<Row> = Vec::new();
    for (stage, m) in mapped {
        for (key, outcome, to, note) in &m.rows {
            match rows
                .iter_mut()
                .find(|r| r.key == *key && r.outcome == *outcome && r.to == *to && r.note == *note)
            {
                Some(r) => r.stages.push(stage.clone()),
                None => rows.push(Row {
                    key: key.clone(),
                    outcome: *outcome,
                    to: to.clone(),
                    note: note.clone(),
                    stages: vec![stage.clone()],
                }),
            }
        }
    }
    for r in &mut rows {
        if all.len() > 1 && r.stages == all {
            r.stages = vec!["all".into()];
        }
    }
    rows.sort_by(|a, b| a.key.cmp(&b.key).then(a.outcome.cmp(&b.outcome)));
    rows
}

fn report_text(r: &ImportReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "import zappa: {} (stages: {}; pushes to main deploy `{}`)\n",
        r.settings_file,
        r.stages.join(", "),
        r.production_stage
    );
    let kw = r.keys.iter().map(|k| k.key.len()).max().unwrap_or(3).max(3);
    let tw = r
        .keys
        .iter()
        .map(|k| k.to.as_deref().unwrap_or("—").len())
        .max()
        .unwrap_or(2)
        .max(2);
    let _ = writeln!(
        out,
        "{:<kw$}  {:<13}  {:<tw$}  {:<10}  note",
        "key", "outcome", "to", "stages"
    );
    for k in &r.keys {
        let _ = writeln!(
            out,
            "{:<kw$}  {:<13}  {:<tw$}  {:<10}  {}",
            k.key,
            k.outcome.text(),
            k.to.as_deref().unwrap_or("—"),
            k.stages.join(","),
            k.note
        );
    }
    out.push('\n');
    for f in &r.files {
        if r.dry_run {
            let _ = writeln!(out, "would write {}:\n{}", f.path, f.content);
        } else {
            let _ = writeln!(out, "wrote {}", f.path);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names() {
        assert_eq!(app_name("My_Project"), "my-project");
        assert_eq!(app_name("__"), "app");
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(bare_or_quoted("pr-*"), "\"pr-*\"");
        assert_eq!(bare_or_quoted("dev_api"), "dev_api");
    }

    #[test]
    fn top_level_definitions() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("pkg")).unwrap();
        std::fs::write(
            dir.path().join("pkg/web.py"),
            "from flask import Flask\napp = Flask(__name__)\ndef handler(e, c):\n    inner = 1\n",
        )
        .unwrap();
        assert_eq!(
            resolve_app_function(dir.path(), "pkg.web.app").unwrap(),
            "pkg.web:app"
        );
        assert!(resolve_app_function(dir.path(), "pkg.web.handler").is_ok());
        assert!(resolve_app_function(dir.path(), "pkg.web.inner").is_err());
        assert!(resolve_app_function(dir.path(), "pkg.missing.app").is_err());
        assert!(resolve_app_function(dir.path(), "app").is_err());
    }
}
