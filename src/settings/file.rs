//! Finding and reading the settings file: `deploy-action.toml`, `[tool.deploy-action]` in
//! `pyproject.toml` or `[package.metadata.deploy-action]` in `Cargo.toml` (docs/contract.md, "The settings file").
//! Parsed with toml_edit, which keeps spans, so every key and error has a line.

use std::path::Path;

use crate::error::{Error, Result};

/// A TOML value, reduced to what settings can hold.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    List(Vec<Val>),
    /// A table, in file order (`env = { KEY = "v" }`).
    Map(Vec<(String, Val)>),
    /// Something settings never hold (a date, an array of tables): its description.
    Other(&'static str),
}

impl Val {
    /// The value as a flag's argument, for scalars.
    pub(crate) fn scalar(&self) -> Option<String> {
        match self {
            Val::Str(s) => Some(s.clone()),
            Val::Int(i) => Some(i.to_string()),
            Val::Float(f) => Some(f.to_string()),
            Val::Bool(b) => Some(b.to_string()),
            Val::List(_) | Val::Map(_) | Val::Other(_) => None,
        }
    }

    /// What kind of value this is, for messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Val::Str(_) => "a string",
            Val::Int(_) => "an integer",
            Val::Float(_) => "a number",
            Val::Bool(_) => "a boolean",
            Val::List(_) => "a list",
            Val::Map(_) => "a table",
            Val::Other(what) => what,
        }
    }
}

/// One `key = value` line.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) value: Val,
    pub(crate) line: usize,
}

/// The top level, or one `[stages.<pattern>]` table.
#[derive(Debug, Clone)]
pub(crate) struct Section {
    /// `None` for the top level.
    pub(crate) pattern: Option<String>,
    pub(crate) entries: Vec<Entry>,
    pub(crate) line: usize,
}

impl Section {
    /// How logs and `config` name it: `top level`, `[stages."pr-*"]`.
    pub(crate) fn name(&self) -> String {
        match &self.pattern {
            None => "top level".into(),
            Some(p)
                if p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
            {
                format!("[stages.{p}]")
            }
            Some(p) => format!("[stages.{p:?}]"),
        }
    }
}

/// A parsed settings file.
#[derive(Debug, Clone)]
pub(crate) struct SettingsFile {
    /// How messages name the file and its section (`pyproject.toml [tool.deploy-action]`).
    pub(crate) display: String,
    /// The file's path as found (relative to the working directory), for `file:line`.
    pub(crate) path: String,
    pub(crate) top: Section,
    pub(crate) stages: Vec<Section>,
}

/// Where in a file the settings live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `deploy-action.toml`: the whole file.
    Own,
    /// `pyproject.toml`: `[tool.deploy-action]`.
    Pyproject,
    /// `Cargo.toml`: `[package.metadata.deploy-action]`.
    Cargo,
}

impl Kind {
    fn path(self) -> &'static [&'static str] {
        match self {
            Kind::Own => &[],
            Kind::Pyproject => &["tool", "deploy-action"],
            Kind::Cargo => &["package", "metadata", "deploy-action"],
        }
    }

    fn of(path: &Path) -> Kind {
        match path.file_name().and_then(|n| n.to_str()) {
            Some("pyproject.toml") => Kind::Pyproject,
            Some("Cargo.toml") => Kind::Cargo,
            _ => Kind::Own,
        }
    }

    fn describe(self, display: &str) -> String {
        match self {
            Kind::Own => display.to_string(),
            Kind::Pyproject => format!("{display} [tool.deploy-action]"),
            Kind::Cargo => format!("{display} [package.metadata.deploy-action]"),
        }
    }
}

/// The file name users see: `deploy-action.toml` rather than `./deploy-action.toml`.
fn display(path: &Path) -> String {
    path.strip_prefix(".").unwrap_or(path).display().to_string()
}

/// An error in the file at `line` (exit 2).
pub(crate) fn at(
    display: &str,
    line: usize,
    message: impl Into<String>,
    help: impl Into<String>,
) -> Error {
    Error::Settings {
        location: format!("{display}:{line}"),
        message: message.into(),
        help: Some(help.into()),
    }
}

/// Find the settings: `--config PATH` if given, else the one file of the three in `source`.
pub(crate) fn locate(config: Option<&Path>, source: &Path) -> Result<Option<SettingsFile>> {
    if let Some(path) = config {
        let shown = display(path);
        let text = std::fs::read_to_string(path).map_err(|e| Error::Settings {
            location: shown.clone(),
            message: format!("can't read the settings file: {e}"),
            help: Some(
                "point --config (input `config`, env DEPLOY_CONFIG) at an existing TOML file"
                    .into(),
            ),
        })?;
        let kind = Kind::of(path);
        return match parse(&shown, &text, kind)? {
            Some(file) => Ok(Some(file)),
            None => Err(Error::Settings {
                location: shown.clone(),
                message: format!(
                    "--config names {shown}, which has no {} section",
                    kind.describe("").trim()
                ),
                help: Some(format!(
                    "add the section, or move the settings to deploy-action.toml; {}",
                    "keys are the flags' long names"
                )),
            }),
        };
    }
    let mut found: Vec<(String, SettingsFile)> = Vec::new();
    for (name, kind) in [
        ("deploy-action.toml", Kind::Own),
        ("pyproject.toml", Kind::Pyproject),
        ("Cargo.toml", Kind::Cargo),
    ] {
        let path = source.join(name);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        // pyproject.toml and Cargo.toml belong to other tools: only a file that mentions
        // deploy-action is ours to parse (and to complain about).
        if kind != Kind::Own && !text.contains("deploy-action") {
            continue;
        }
        let shown = display(&path);
        if let Some(file) = parse(&shown, &text, kind)? {
            found.push((kind.describe(&shown), file));
        }
    }
    match found.len() {
        0 | 1 => Ok(found.pop().map(|(_, f)| f)),
        _ => {
            let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
            let dir = display(source);
            Err(Error::Settings {
                location: if dir.is_empty() { ".".into() } else { dir },
                message: format!("two settings files: {}", names.join(" and ")),
                help: Some(
                    "keep the settings in one of them (or choose one with --config PATH)".into(),
                ),
            })
        }
    }
}

/// Parse the text of a `deploy-action.toml`.
pub(crate) fn parse_own(shown: &str, text: &str) -> Result<SettingsFile> {
    parse(shown, text, Kind::Own)?
        .ok_or_else(|| Error::Internal("a deploy-action.toml is all settings".into()))
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Parse `text`; `None` when a pyproject.toml/Cargo.toml has no deploy-action section.
fn parse(shown: &str, text: &str, kind: Kind) -> Result<Option<SettingsFile>> {
    let doc = toml_edit::Document::parse(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        at(
            shown,
            line,
            format!("not valid TOML: {}", e.message().trim()),
            "fix the TOML syntax (https://toml.io)",
        )
    })?;
    let mut table: &dyn toml_edit::TableLike = doc.as_table();
    let mut line = 1;
    for part in kind.path() {
        let Some((key, item)) = table.get_key_value(part) else {
            return Ok(None);
        };
        line = key.span().map_or(line, |s| line_of(text, s.start));
        let Some(inner) = item.as_table_like() else {
            return Err(at(
                shown,
                line,
                format!("`{part}` is not a table"),
                "the settings are a TOML table of keys",
            ));
        };
        table = inner;
    }
    let mut top = Section {
        pattern: None,
        entries: Vec::new(),
        line,
    };
    let mut stages = Vec::new();
    for (name, item) in table.iter() {
        let key_line = key_line(table, name, text, line);
        if name == "stages" {
            let Some(stage_tables) = item.as_table_like() else {
                return Err(at(
                    shown,
                    key_line,
                    "`stages` must be a table of stage tables",
                    "write [stages.main] or [stages.\"pr-*\"] followed by keys",
                ));
            };
            for (pattern, body) in stage_tables.iter() {
                let stage_line = key_line_of(stage_tables, pattern, text, key_line);
                let Some(body) = body.as_table_like() else {
                    return Err(at(
                        shown,
                        stage_line,
                        format!("stages.{pattern} must be a table"),
                        format!("write [stages.{pattern}] followed by keys such as memory = 1024"),
                    ));
                };
                globset::Glob::new(pattern).map_err(|e| {
                    at(
                        shown,
                        stage_line,
                        format!("[stages.{pattern:?}] is not a valid stage pattern: {e}"),
                        "use a stage name (main) or a glob (\"pr-*\")",
                    )
                })?;
                let mut entries = Vec::new();
                for (k, v) in body.iter() {
                    let l = key_line_of(body, k, text, stage_line);
                    if k == "stages" {
                        return Err(at(
                            shown,
                            l,
                            "stage tables can't hold stage tables",
                            "put [stages.<name>] tables at the top level of the settings",
                        ));
                    }
                    entries.push(Entry {
                        key: k.to_string(),
                        value: to_val(v),
                        line: l,
                    });
                }
                stages.push(Section {
                    pattern: Some(pattern.to_string()),
                    entries,
                    line: stage_line,
                });
            }
            continue;
        }
        top.entries.push(Entry {
            key: name.to_string(),
            value: to_val(item),
            line: key_line,
        });
    }
    Ok(Some(SettingsFile {
        display: kind.describe(shown),
        path: shown.to_string(),
        top,
        stages,
    }))
}

fn key_line(table: &dyn toml_edit::TableLike, name: &str, text: &str, fallback: usize) -> usize {
    key_line_of(table, name, text, fallback)
}

fn key_line_of(table: &dyn toml_edit::TableLike, name: &str, text: &str, fallback: usize) -> usize {
    table
        .get_key_value(name)
        .and_then(|(k, _)| k.span())
        .map_or(fallback, |s| line_of(text, s.start))
}

fn to_val(item: &toml_edit::Item) -> Val {
    match item {
        toml_edit::Item::None => Val::Other("nothing"),
        toml_edit::Item::Value(v) => value_to_val(v),
        toml_edit::Item::Table(t) => {
            Val::Map(t.iter().map(|(k, v)| (k.into(), to_val(v))).collect())
        }
        toml_edit::Item::ArrayOfTables(_) => Val::Other("an array of tables"),
    }
}

fn value_to_val(v: &toml_edit::Value) -> Val {
    match v {
        toml_edit::Value::String(s) => Val::Str(s.value().clone()),
        toml_edit::Value::Integer(i) => Val::Int(*i.value()),
        toml_edit::Value::Float(f) => Val::Float(*f.value()),
        toml_edit::Value::Boolean(b) => Val::Bool(*b.value()),
        toml_edit::Value::Datetime(_) => Val::Other("a date"),
        toml_edit::Value::Array(a) => Val::List(a.iter().map(value_to_val).collect()),
        toml_edit::Value::InlineTable(t) => {
            Val::Map(t.iter().map(|(k, v)| (k.into(), value_to_val(v))).collect())
        }
    }
}

/// The stage tables that apply to `stage`, least specific first: globs by how many literal
/// characters they have, then the exact name. Two globs equally specific are ambiguous.
pub(crate) fn matching<'a>(file: &'a SettingsFile, stage: &str) -> Result<Vec<&'a Section>> {
    let mut hits: Vec<((bool, usize), &Section)> = Vec::new();
    for section in &file.stages {
        let pattern = section.pattern.as_deref().unwrap_or_default();
        let is_glob = pattern.contains(['*', '?', '[', '{']);
        let hit = if is_glob {
            globset::Glob::new(pattern)
                .map(|g| g.compile_matcher().is_match(stage))
                .unwrap_or(false)
        } else {
            pattern == stage
        };
        if hit {
            let literal = pattern
                .chars()
                .filter(|c| !matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | ','))
                .count();
            hits.push(((!is_glob, literal), section));
        }
    }
    hits.sort_by_key(|(rank, _)| *rank);
    for pair in hits.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(at(
                &file.path,
                pair[1].1.line,
                format!(
                    "stage {stage} matches both {} and {}, and neither is more specific",
                    pair[0].1.name(),
                    pair[1].1.name()
                ),
                "make one pattern more specific, or add an exact [stages.<name>] table",
            ));
        }
    }
    Ok(hits.into_iter().map(|(_, s)| s).collect())
}
