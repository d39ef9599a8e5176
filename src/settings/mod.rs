//! The settings file (docs/contract.md, "The settings file", issue 17): `deploy-action.toml`, `[tool.deploy-action]` in
//! `pyproject.toml` or `[package.metadata.deploy-action]` in `Cargo.toml`. Keys are the flags'
//! long names; `[stages.<pattern>]` tables override the top level.
//!
//! Precedence: flag > `DEPLOY_*` variable > matching stage tables > top level > default.
//!
//! How: clap parses the command line and the `DEPLOY_*` variables as always, and
//! `ArgMatches::value_source` says which args were given. Every file key whose arg was not
//! given becomes a `--key=value` argument appended to the command line, which clap parses again.
//! So clap types and checks file values exactly as it does flags, config.rs validates them as
//! it does flags, and a flag added anywhere in cli.rs is a settings key with no code here.
//! Errors about file values carry `file:line`: clap's through the key it names, config.rs's
//! through the flag they name (`Loaded::decorate`).

mod file;
mod show;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::PathBuf;

use clap::error::{ContextKind, ContextValue};
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, CommandFactory, FromArgMatches};

use crate::cli::{Cli, Command, OutputFormat};
use crate::error::Error;
use crate::github::context::GitHubContext;

use file::{Section, SettingsFile, Val};
pub use show::{ConfigArgs, Effective, Pending, Setting, config_command};

/// Subcommands that never read the settings file: `import` writes it.
const NOT_READ: &[&str] = &["import", "help"];

/// Flags that are no settings keys, with the reason the error gives.
pub const REFUSED: &[(&str, &str)] = &[
    (
        "config",
        "the settings file can't name another settings file; pass --config PATH (input `config`) instead",
    ),
    (
        "output",
        "the output format belongs to whoever reads the result: pass --output text|json",
    ),
    (
        "dry-run",
        "a dry run is a decision for one run: pass --dry-run (input `dry-run`)",
    ),
    (
        "force",
        "moving `live` over a newer run is a decision for one run: pass --force (input `force`)",
    ),
    (
        "github-token",
        "a token is a secret and must not be committed: the action passes the job's token (input `github-token`)",
    ),
    (
        "stage",
        "the stage comes from the GitHub event (pr-<number>, the branch) or --stage; a fixed stage in the file would send every preview to it. Put per-stage settings in [stages.<name>] tables",
    ),
    (
        "source",
        "the settings file is read from --source, so it can't choose it; pass --source DIR (or --config PATH)",
    ),
    ("from", "names what one promote does: pass --from STAGE"),
    ("to", "names what one promote or rollback does: pass --to"),
    ("help", "not a setting"),
    ("version", "not a setting"),
];

/// Flags that docs/contract.md, "Production settings" names and that other work of this round adds (production settings). A file
/// (for instance one `import zappa` wrote) may hold them before this build has the flag: they
/// are accepted, reported as pending, and take effect once the flag exists, with no change
/// here (a flag in cli.rs is a key).
pub const PLANNED: &[&str] = &[
    "domain",
    "front-door",
    "certificate-arn",
    "create-certificate",
    "hosted-zone-id",
    "schedule",
    "keep-warm",
    "snapstart",
    "log-retention-days",
    "vpc-subnets",
    "vpc-security-groups",
    "layers",
    "tracing",
    "reserved-concurrency",
    "ephemeral-storage",
    "description",
    "release-command",
];

/// Whether `key` is a settings key of this build (a long flag of a command that reads the file).
#[must_use]
pub fn is_key(key: &str) -> bool {
    let mut command = Cli::command();
    command.build();
    Keys::of(&command).args.contains_key(key)
}

/// Check settings text the way a `deploy-action.toml` named `name` is checked.
pub fn check_text(name: &str, text: &str) -> Result<(), Error> {
    let file = file::parse_own(name, text)?;
    let mut command = Cli::command();
    command.build();
    Keys::of(&command).check(&file)
}

/// Where a file value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub line: usize,
    pub section: String,
}

impl Origin {
    /// `file:line`.
    #[must_use]
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// A key's value after the stage tables were applied.
#[derive(Debug, Clone)]
struct FileValue {
    val: Val,
    origin: Origin,
}

/// The command line, with the settings file applied.
#[derive(Debug)]
pub struct Parsed {
    pub cli: Cli,
    /// `None` when no settings file was read.
    pub loaded: Option<Loaded>,
}

/// Which settings file was used, and which values it decided.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub file: String,
    /// `top level`, `[stages.main]`, ...: least specific first.
    pub sections: Vec<String>,
    /// Flag long name → where the file set it (only keys the file decided alone).
    from_file: BTreeMap<String, Origin>,
}

impl Loaded {
    /// Give a validation error about a value from the file the file's location: config.rs
    /// names the flag (`--memory`), the file names the key and the line.
    #[must_use]
    pub fn decorate(&self, err: Error) -> Error {
        let (flag, message, help) = match &err {
            Error::InvalidInput {
                flag,
                message,
                help,
            }
            | Error::MissingInput {
                flag,
                message,
                help,
            } => (*flag, message, help),
            _ => return err,
        };
        let key = flag.trim_start_matches("--");
        match self.from_file.get(key) {
            Some(origin) => Error::Settings {
                location: origin.location(),
                message: format!("`{key}` ({}): {message}", origin.section),
                help: help.clone(),
            },
            None => err,
        }
    }

    /// The line the step summary gets after a deploy's table.
    #[must_use]
    pub fn summary_markdown(&self) -> String {
        let sections: Vec<String> = self.sections.iter().map(|s| format!("`{s}`")).collect();
        format!("Settings: `{}` ({})\n\n", self.file, sections.join(", "))
    }
}

/// Why parsing failed: clap's own errors (usage, --help) print themselves.
/// A settings error comes with the output format asked for, so `--output json` gets a JSON
/// error.
#[derive(Debug)]
pub enum Failure {
    Clap(clap::Error),
    Settings(Error, OutputFormat),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Settings(e, OutputFormat::Text)
    }
}

/// Parse the command line, read the settings file it points at, and apply it.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Parsed, Failure> {
    let args: Vec<OsString> = args.into_iter().collect();
    let mut command = Cli::command();
    command.build();
    let matches = command
        .clone()
        .try_get_matches_from(&args)
        .map_err(Failure::Clap)?;
    let format = matches
        .subcommand()
        .and_then(|(_, m)| m.try_get_one::<OutputFormat>("output").ok().flatten())
        .copied()
        .unwrap_or(OutputFormat::Text);
    apply(&args, &command, &matches).map_err(|f| match f {
        Failure::Settings(e, _) => Failure::Settings(e, format),
        clap => clap,
    })
}

/// Apply the settings file to the parsed command line.
fn apply(
    args: &[OsString],
    command: &clap::Command,
    matches: &ArgMatches,
) -> Result<Parsed, Failure> {
    let plain = |m: &ArgMatches| -> Result<Parsed, Failure> {
        Ok(Parsed {
            cli: Cli::from_arg_matches(m).map_err(Failure::Clap)?,
            loaded: None,
        })
    };
    let Some((name, sub)) = matches.subcommand() else {
        return plain(matches);
    };
    if NOT_READ.contains(&name) {
        return plain(matches);
    }
    let name = name.to_string();
    let config = sub.try_get_one::<PathBuf>("config").ok().flatten().cloned();
    let source = source_dir(sub);
    let file = file::locate(config.as_deref(), &source)?;
    let keys = Keys::of(command);
    if let Some(file) = &file {
        keys.check(file)?;
    }
    let has_stage_tables = file.as_ref().is_some_and(|f| !f.stages.is_empty());
    let stage = stage_of(&name, sub, has_stage_tables)?;
    let mut sections: Vec<&Section> = Vec::new();
    if let Some(file) = &file {
        sections.push(&file.top);
        if let Some((stage, _)) = &stage {
            sections.extend(file::matching(file, stage)?);
        }
    }
    let values = file
        .as_ref()
        .map(|f| effective(f, &sections))
        .unwrap_or_default();

    let sub_cmd = command
        .find_subcommand(&name)
        .ok_or_else(|| Error::Internal(format!("no subcommand {name}")))?;
    let mut extra: Vec<OsString> = Vec::new();
    let mut from_file: BTreeMap<String, Origin> = BTreeMap::new();
    let mut merged: BTreeMap<String, Origin> = BTreeMap::new();
    let mut pending: Vec<Pending> = Vec::new();
    for (key, fv) in &values {
        let Some(arg) = sub_cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(key.as_str()))
        else {
            if !keys.args.contains_key(key) && PLANNED.contains(&key.as_str()) {
                pending.push(Pending {
                    key: key.clone(),
                    location: fv.origin.location(),
                    note: format!("takes effect once deploy-action supports --{key}"),
                });
            }
            // A key of another command (`port` is serve's): nothing to do here.
            continue;
        };
        let id = arg.get_id().as_str();
        let given = sub.value_source(id);
        let values = arg_values(arg, key, fv)?;
        match given {
            Some(ValueSource::CommandLine | ValueSource::EnvVariable) => {
                // A table (`env = { K = "v" }`) merges per key: the flag's pairs win, the
                // file's other pairs stay. Anything else from a flag replaces the file's.
                if !matches!(fv.val, Val::Map(_)) {
                    continue;
                }
                let existing: Vec<String> = sub
                    .get_raw(id)
                    .map(|v| v.map(|s| s.to_string_lossy().into_owned()).collect())
                    .unwrap_or_default();
                let given_keys: BTreeSet<String> = existing
                    .iter()
                    .filter_map(|p| p.split_once('=').map(|(k, _)| k.trim().to_string()))
                    .collect();
                let add: Vec<String> = values
                    .into_iter()
                    .filter(|p| {
                        !given_keys.contains(p.split_once('=').map_or(p.as_str(), |(k, _)| k))
                    })
                    .collect();
                if add.is_empty() {
                    continue;
                }
                if given == Some(ValueSource::EnvVariable) {
                    // Once the flag is on the command line clap ignores the variable: carry
                    // its values over.
                    extra.extend(
                        existing
                            .iter()
                            .map(|v| OsString::from(format!("--{key}={v}"))),
                    );
                }
                extra.extend(add.iter().map(|v| OsString::from(format!("--{key}={v}"))));
                merged.insert(key.clone(), fv.origin.clone());
            }
            _ => {
                if is_switch(arg) {
                    if values.iter().any(|v| v == "true") {
                        extra.push(OsString::from(format!("--{key}")));
                    }
                } else {
                    extra.extend(
                        values
                            .iter()
                            .map(|v| OsString::from(format!("--{key}={v}"))),
                    );
                }
                from_file.insert(key.clone(), fv.origin.clone());
            }
        }
    }
    for p in &pending {
        tracing::warn!(
            "{}: `{}` {}; it is ignored until then",
            p.location,
            p.key,
            p.note
        );
    }

    let final_matches = if extra.is_empty() {
        matches.clone()
    } else {
        let mut all = args.to_vec();
        all.extend(extra);
        command
            .clone()
            .try_get_matches_from(&all)
            .map_err(|e| clap_to_settings(e, &from_file, &merged))?
    };
    let mut cli = Cli::from_arg_matches(&final_matches).map_err(Failure::Clap)?;
    let loaded = file.as_ref().map(|f| Loaded {
        file: f.display.clone(),
        sections: sections.iter().map(|s| s.name()).collect(),
        from_file: from_file.clone(),
    });
    if let Some(l) = &loaded {
        tracing::info!("settings: {} ({})", l.file, l.sections.join(", "));
    }
    if let Command::Config(args) = &mut cli.command {
        let final_sub = final_matches
            .subcommand()
            .map(|(_, m)| m)
            .ok_or_else(|| Error::Internal("config has no matches".into()))?;
        args.effective = Some(show::effective(
            sub_cmd,
            sub,
            final_sub,
            &from_file,
            &merged,
            loaded.as_ref(),
            stage,
            pending,
        ));
    }
    Ok(Parsed { cli, loaded })
}

/// The directory the settings file is looked for in: the command's --source, or
/// DEPLOY_SOURCE for commands without one (teardown in a workflow with `source:` set), or `.`.
fn source_dir(sub: &ArgMatches) -> PathBuf {
    if let Ok(Some(source)) = sub.try_get_one::<PathBuf>("source") {
        return source.clone();
    }
    std::env::var_os("DEPLOY_SOURCE")
        .filter(|s| !s.is_empty())
        .map_or_else(|| PathBuf::from("."), PathBuf::from)
}

/// The stage whose tables apply, and where it came from: --stage/DEPLOY_STAGE, promote's
/// --to, else the GitHub event (config.rs `resolve_target`'s rule). `status` without --stage
/// lists every stage: only the top level applies.
fn stage_of(
    name: &str,
    sub: &ArgMatches,
    needed: bool,
) -> Result<Option<(String, String)>, Failure> {
    if let Ok(Some(stage)) = sub.try_get_one::<String>("stage") {
        let from = match sub.value_source("stage") {
            Some(ValueSource::EnvVariable) => "DEPLOY_STAGE",
            _ => "--stage",
        };
        return Ok(Some((stage.clone(), from.into())));
    }
    if name == "promote"
        && let Ok(Some(to)) = sub.try_get_one::<String>("to")
    {
        return Ok(Some((to.clone(), "--to".into())));
    }
    if name == "status" {
        return Ok(None);
    }
    let context = GitHubContext::from_env();
    match context.and_then(|g| g.default_stage().map(|s| (s, g.in_actions))) {
        Ok((stage, true)) => Ok(Some((stage, "the GitHub event".into()))),
        Ok((stage, false)) => Ok(Some((stage, "the default outside GitHub Actions".into()))),
        // The command itself reports a broken event; the stage matters only for stage tables.
        Err(e) if needed => Err(e.into()),
        Err(_) => Ok(None),
    }
}

/// The file's values for `sections` (least specific first): a later section's key replaces
/// an earlier one's, except tables, which merge per key.
fn effective(file: &SettingsFile, sections: &[&Section]) -> BTreeMap<String, FileValue> {
    let mut out: BTreeMap<String, FileValue> = BTreeMap::new();
    for section in sections {
        for entry in &section.entries {
            let origin = Origin {
                file: file.path.clone(),
                line: entry.line,
                section: section.name(),
            };
            if let (Some(existing), Val::Map(new)) = (out.get_mut(&entry.key), &entry.value)
                && let Val::Map(old) = &mut existing.val
            {
                for (k, v) in new {
                    match old.iter_mut().find(|(ok, _)| ok == k) {
                        Some(slot) => slot.1 = v.clone(),
                        None => old.push((k.clone(), v.clone())),
                    }
                }
                existing.origin = origin;
                continue;
            }
            out.insert(
                entry.key.clone(),
                FileValue {
                    val: entry.value.clone(),
                    origin,
                },
            );
        }
    }
    out
}

fn is_switch(arg: &clap::Arg) -> bool {
    matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse)
}

/// The flag arguments a file value stands for, by the arg's kind: a switch takes a boolean,
/// a repeatable flag a list (or a table, as KEY=VALUE pairs), any other flag one value.
fn arg_values(arg: &clap::Arg, key: &str, fv: &FileValue) -> Result<Vec<String>, Error> {
    let values = arg_values_unchecked(arg, key, fv)?;
    // A repeatable flag's variable is split at newlines (DEPLOY_ENV, DEPLOY_EXCLUDE), and so
    // is the flag: a value holding one would arrive as two.
    if let Some(d) = arg.get_value_delimiter()
        && values.iter().any(|v| v.contains(d))
        && matches!(arg.get_action(), ArgAction::Append)
    {
        return Err(file::at(
            &fv.origin.file,
            fv.origin.line,
            format!("`{key}` holds a value with {d:?} in it, which --{key} would split"),
            "keep each value on one line (a multi-line secret belongs in SSM or Secrets Manager)",
        ));
    }
    Ok(values)
}

fn arg_values_unchecked(arg: &clap::Arg, key: &str, fv: &FileValue) -> Result<Vec<String>, Error> {
    let wrong = |what: String, example: String| {
        file::at(
            &fv.origin.file,
            fv.origin.line,
            format!("`{key}` {what}, not {}", fv.val.kind()),
            example,
        )
    };
    let scalar = |v: &Val| {
        v.scalar().ok_or_else(|| {
            wrong(
                "holds plain values".into(),
                format!("write {key} = [\"...\", \"...\"]"),
            )
        })
    };
    match arg.get_action() {
        ArgAction::SetTrue | ArgAction::SetFalse => match &fv.val {
            Val::Bool(b) => Ok(vec![b.to_string()]),
            _ => Err(wrong(
                "is a switch: true or false".into(),
                format!("write {key} = true"),
            )),
        },
        ArgAction::Append => match &fv.val {
            Val::List(items) => items.iter().map(scalar).collect(),
            Val::Map(pairs) => pairs
                .iter()
                .map(|(k, v)| {
                    v.scalar().map(|s| format!("{k}={s}")).ok_or_else(|| {
                        wrong(
                            format!("maps names to plain values (`{k}` holds {})", v.kind()),
                            format!("write {key} = {{ {k} = \"value\" }}"),
                        )
                    })
                })
                .collect(),
            v => scalar(v).map(|s| vec![s]),
        },
        ArgAction::Set => match &fv.val {
            Val::List(items) if arg.get_value_delimiter().is_some() => {
                let delimiter = arg.get_value_delimiter().unwrap_or(',');
                let parts: Result<Vec<String>, Error> = items.iter().map(scalar).collect();
                Ok(vec![parts?.join(&delimiter.to_string())])
            }
            v => v.scalar().map(|s| vec![s]).ok_or_else(|| {
                wrong(
                    "takes one value".into(),
                    format!("give one value, as --{key} takes (`deploy-action deploy --help`)"),
                )
            }),
        },
        _ => Err(wrong(
            "can't be set in a file".into(),
            format!("pass --{key} on the command line"),
        )),
    }
}

/// A clap error about a synthesized argument, as an error at the file's line.
fn clap_to_settings(
    err: clap::Error,
    from_file: &BTreeMap<String, Origin>,
    merged: &BTreeMap<String, Origin>,
) -> Failure {
    let arg = match err.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.clone(),
        _ => return Failure::Clap(err),
    };
    let key = arg
        .trim_start_matches("--")
        .split([' ', '='])
        .next()
        .unwrap_or_default()
        .to_string();
    let Some(origin) = from_file.get(&key).or_else(|| merged.get(&key)) else {
        return Failure::Clap(err);
    };
    let rendered = err.to_string();
    let mut lines = rendered.lines();
    let first = lines
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .replace(&format!(" for '{arg}'"), "");
    let mut help = format!("fix `{key}` in {} ({})", origin.file, origin.section);
    if let Some(values) = lines.find(|l| l.trim_start().starts_with("[possible values")) {
        help = format!("{help}; {}", values.trim().trim_matches(['[', ']']));
    }
    Failure::from(Error::Settings {
        location: origin.location(),
        message: format!("`{key}`: {first}"),
        help: Some(help),
    })
}

/// Every settings key: the long flags of the commands that read the file.
struct Keys {
    args: BTreeMap<String, clap::Arg>,
}

impl Keys {
    fn of(command: &clap::Command) -> Keys {
        let mut args = BTreeMap::new();
        for sub in command.get_subcommands() {
            if NOT_READ.contains(&sub.get_name()) {
                continue;
            }
            for arg in sub.get_arguments() {
                if let Some(long) = arg.get_long() {
                    args.entry(long.to_string()).or_insert_with(|| arg.clone());
                }
            }
        }
        Keys { args }
    }

    /// Every key of every section is a flag's name, allowed in a file, of a usable type.
    fn check(&self, file: &SettingsFile) -> Result<(), Error> {
        for section in std::iter::once(&file.top).chain(&file.stages) {
            for entry in &section.entries {
                let key = entry.key.as_str();
                if let Some((_, reason)) = REFUSED.iter().find(|(k, _)| *k == key) {
                    return Err(file::at(
                        &file.path,
                        entry.line,
                        format!("`{key}` can't be set in the settings file"),
                        *reason,
                    ));
                }
                if let Some(arg) = self.args.get(key) {
                    let fv = FileValue {
                        val: entry.value.clone(),
                        origin: Origin {
                            file: file.path.clone(),
                            line: entry.line,
                            section: section.name(),
                        },
                    };
                    arg_values(arg, key, &fv)?;
                    continue;
                }
                if PLANNED.contains(&key) {
                    continue;
                }
                let help = match self.suggest(key) {
                    Some(near) => format!(
                        "did you mean `{near}`? Keys are the flags' long names (`deploy-action deploy --help`)"
                    ),
                    None => "keys are the flags' long names, e.g. memory = 1024 for --memory (see `deploy-action deploy --help`)".into(),
                };
                return Err(file::at(
                    &file.path,
                    entry.line,
                    format!("unknown key `{key}` in {}", section.name()),
                    help,
                ));
            }
        }
        Ok(())
    }

    /// The valid key nearest to `key`: its dashed form, else the closest by edit distance.
    fn suggest(&self, key: &str) -> Option<String> {
        let dashed = key.replace('_', "-").to_ascii_lowercase();
        let candidates = self
            .args
            .keys()
            .map(String::as_str)
            .chain(PLANNED.iter().copied())
            .filter(|k| !REFUSED.iter().any(|(r, _)| r == k));
        let mut best: Option<(usize, &str)> = None;
        for candidate in candidates {
            if candidate == dashed {
                return Some(dashed);
            }
            let d = levenshtein(&dashed, candidate);
            if best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, candidate));
            }
        }
        let limit = (dashed.chars().count() / 3).max(2);
        best.filter(|(d, _)| *d <= limit)
            .map(|(_, k)| k.to_string())
    }
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(cur)
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance() {
        assert_eq!(levenshtein("memroy", "memory"), 2);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("timeout", "timeout"), 0);
    }

    #[test]
    fn suggestions() {
        let mut command = Cli::command();
        command.build();
        let keys = Keys::of(&command);
        assert_eq!(keys.suggest("memroy").as_deref(), Some("memory"));
        assert_eq!(keys.suggest("python_app").as_deref(), Some("python-app"));
        assert_eq!(keys.suggest("keep_warm").as_deref(), Some("keep-warm"));
        assert_eq!(keys.suggest("zzzzzzzzzzzz"), None);
    }
}
