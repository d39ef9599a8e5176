//! GitHub Actions workflow commands: masks, groups, annotations, step outputs, step summary.
//! Commands go to stderr (the runner reads both streams), so stdout stays pure JSON with
//! `--output json`.

use std::io::Write;
use std::path::Path;

use crate::error::{IoContext, Result};

/// Whether we run inside GitHub Actions.
#[must_use]
pub(crate) fn in_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true")
}

/// Escape data for a workflow command (the runner's `escapeData`).
#[must_use]
pub(crate) fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escape a property value (the runner's `escapeProperty`).
#[must_use]
pub(crate) fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Ask the runner to mask a secret in every later log line. Each line of a multi-line
/// secret is masked on its own, as the runner matches line by line.
pub(crate) fn mask(secret: &str) {
    if !in_actions() {
        return;
    }
    let mut err = std::io::stderr().lock();
    for line in secret.lines().map(str::trim).filter(|l| l.len() >= 4) {
        let _ = writeln!(err, "::add-mask::{}", escape_data(line));
    }
}

/// Open a collapsible group in the log.
pub(crate) fn group(title: &str) {
    if in_actions() {
        eprintln!("::group::{}", escape_data(title));
    }
}

pub(crate) fn end_group() {
    if in_actions() {
        eprintln!("::endgroup::");
    }
}

/// An error annotation.
pub(crate) fn error(title: &str, message: &str) {
    if in_actions() {
        eprintln!(
            "::error title={}::{}",
            escape_property(title),
            escape_data(message)
        );
    }
}

/// A warning annotation (also shown outside Actions).
pub(crate) fn warning(message: &str) {
    if in_actions() {
        eprintln!("::warning::{}", escape_data(message));
    } else {
        eprintln!("warning: {message}");
    }
}

/// A notice annotation (also shown outside Actions).
pub(crate) fn notice(message: &str) {
    if in_actions() {
        eprintln!("::notice::{}", escape_data(message));
    } else {
        eprintln!("notice: {message}");
    }
}

/// Append `name<<DELIM` heredoc entries to the file named by `GITHUB_OUTPUT`.
pub(crate) fn set_outputs(outputs: &[(String, String)]) -> Result<()> {
    let Some(path) = std::env::var_os("GITHUB_OUTPUT").filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let path = Path::new(&path);
    let mut text = String::new();
    for (name, value) in outputs {
        let delimiter = delimiter_for(value);
        text.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
    }
    append(path, &text)
}

/// Append Markdown to the step summary (`GITHUB_STEP_SUMMARY`).
pub(crate) fn append_summary(markdown: &str) -> Result<()> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    append(Path::new(&path), markdown)
}

fn append(path: &Path, text: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .at("can't open", path)?;
    f.write_all(text.as_bytes()).at("can't write", path)
}

/// A heredoc delimiter that does not occur in the value.
fn delimiter_for(value: &str) -> String {
    let mut n: u64 = std::process::id().into();
    loop {
        let candidate = format!("ghadelimiter_{n:x}");
        if !value.contains(&candidate) {
            return candidate;
        }
        n = n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_the_runner() {
        assert_eq!(escape_data("a%b\nc\r"), "a%25b%0Ac%0D");
        assert_eq!(escape_property("step: upload, x"), "step%3A upload%2C x");
    }

    #[test]
    fn delimiters_avoid_the_value() {
        let d = delimiter_for("plain");
        let tricky = format!("x\n{d}\ny");
        assert_ne!(delimiter_for(&tricky), d);
    }
}
