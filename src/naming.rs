//! Names of things in AWS: stages, functions, S3 keys, provenance descriptions.
//! Pure functions, so the rules are easy to pin in tests.

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Lambda's limit on a function name.
pub const MAX_FUNCTION_NAME: usize = 64;
/// Longest app name we accept: leaves room for `-<stage>-<hash>` within 64 characters.
pub const MAX_APP_NAME: usize = 40;
/// Lambda's limit on a version or alias description.
pub const MAX_DESCRIPTION: usize = 256;
/// The alias that traffic reaches.
pub const LIVE_ALIAS: &str = "live";

/// Turn a branch or tag name into a stage: lowercase `[a-z0-9-]`, runs of anything else
/// become one `-`, no leading or trailing `-` (`feature/Login` → `feature-login`).
#[must_use]
pub fn sanitize_stage(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// Check an app name: it becomes the first part of every function name and of S3 keys.
pub fn validate_app(app: &str) -> Result<()> {
    let help = "use letters, digits, `-` and `_`, starting with a letter or digit, at most 40 characters (e.g. --app hello)";
    if app.is_empty() {
        return Err(Error::missing("--app", "the app name is empty", help));
    }
    if app.len() > MAX_APP_NAME {
        return Err(Error::invalid(
            "--app",
            format!("{app:?} is {} characters long", app.len()),
            help,
        ));
    }
    if !is_name_chars(app) || !app.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(Error::invalid(
            "--app",
            format!("{app:?} has characters a Lambda function name can't hold"),
            help,
        ));
    }
    Ok(())
}

/// Check an explicit stage. Unlike branch names, an explicit stage is not rewritten: a
/// surprising rename would deploy somewhere the user did not ask for.
pub fn validate_stage(stage: &str) -> Result<()> {
    let suggestion = sanitize_stage(stage);
    let help = if suggestion.is_empty() || suggestion == stage {
        "use letters, digits, `-` and `_`, e.g. --stage main or --stage pr-42".to_string()
    } else {
        format!("use letters, digits, `-` and `_`, e.g. --stage {suggestion}")
    };
    if stage.is_empty() {
        return Err(Error::InvalidInput {
            flag: "--stage",
            message: "the stage is empty".into(),
            help: Some(help),
        });
    }
    if !is_name_chars(stage) || stage.starts_with(['-', '_']) {
        return Err(Error::InvalidInput {
            flag: "--stage",
            message: format!("{stage:?} has characters a Lambda function name can't hold"),
            help: Some(help),
        });
    }
    if stage.len() > 128 {
        return Err(Error::InvalidInput {
            flag: "--stage",
            message: format!("{stage:?} is longer than 128 characters"),
            help: Some(help),
        });
    }
    Ok(())
}

fn is_name_chars(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The function of a stage: `<app>-<stage>`, or when that is longer than 64 characters the
/// stage part cut and an 8-hex-digit hash of the full name appended, so that names stay
/// unique (different stages differ in the hash) and stable (same input, same name).
#[must_use]
pub fn function_name(app: &str, stage: &str) -> String {
    let full = format!("{app}-{stage}");
    if full.len() <= MAX_FUNCTION_NAME {
        return full;
    }
    let hash = short_hash(&full);
    // `<app>-<cut stage>-<hash>`
    let room = MAX_FUNCTION_NAME - app.len() - 1 - 1 - hash.len();
    let cut: String = stage.chars().take(room).collect();
    let cut = cut.trim_end_matches(['-', '_']);
    format!("{app}-{cut}-{hash}")
}

fn short_hash(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    hex::encode(&digest[..4])
}

/// Where an artifact is stored: `<prefix>/<app>/<sha256-hex>.zip`.
#[must_use]
pub fn artifact_key(prefix: &str, app: &str, sha256_hex: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        format!("{app}/{sha256_hex}.zip")
    } else {
        format!("{prefix}/{app}/{sha256_hex}.zip")
    }
}

/// Provenance recorded in a version's description: `sha=<commit> run=<run id> ref=<ref>`,
/// plus extra `key=value` pairs (e.g. `promoted-from=pr-7@3`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Provenance {
    pub sha: Option<String>,
    pub run_id: Option<u64>,
    pub git_ref: Option<String>,
    pub extra: Vec<(String, String)>,
}

impl Provenance {
    /// The description string, at most 256 characters (a long ref is cut, never the run id).
    #[must_use]
    pub fn description(&self) -> String {
        let mut parts = Vec::new();
        if let Some(sha) = &self.sha {
            parts.push(format!("sha={sha}"));
        }
        if let Some(run) = self.run_id {
            parts.push(format!("run={run}"));
        }
        for (k, v) in &self.extra {
            parts.push(format!("{k}={}", v.replace(' ', "_")));
        }
        if let Some(r) = &self.git_ref {
            parts.push(format!("ref={}", r.replace(' ', "_")));
        }
        let mut text = parts.join(" ");
        if text.len() > MAX_DESCRIPTION {
            let mut end = MAX_DESCRIPTION;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        text
    }

    /// Read a description back. Unknown words are kept in `extra`.
    #[must_use]
    pub fn parse(description: &str) -> Provenance {
        let mut p = Provenance::default();
        for word in description.split_whitespace() {
            let Some((k, v)) = word.split_once('=') else {
                continue;
            };
            match k {
                "sha" => p.sha = Some(v.to_string()),
                "run" => p.run_id = v.parse().ok(),
                "ref" => p.git_ref = Some(v.to_string()),
                _ => p.extra.push((k.to_string(), v.to_string())),
            }
        }
        p
    }

    #[must_use]
    pub fn extra_value(&self, key: &str) -> Option<&str> {
        self.extra
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_from_branches() {
        assert_eq!(sanitize_stage("feature/Login"), "feature-login");
        assert_eq!(sanitize_stage("main"), "main");
        assert_eq!(sanitize_stage("--Fix__it!!"), "fix-it");
        assert_eq!(sanitize_stage("v1.2.3"), "v1-2-3");
        assert_eq!(sanitize_stage("///"), "");
    }

    #[test]
    fn short_names_are_app_dash_stage() {
        assert_eq!(function_name("hello", "pr-42"), "hello-pr-42");
    }

    #[test]
    fn long_names_are_cut_and_hashed() {
        let stage = "feature-".repeat(12);
        let name = function_name("hello", &stage);
        assert_eq!(name.len(), MAX_FUNCTION_NAME);
        assert!(name.starts_with("hello-feature-"));
        assert_eq!(name, function_name("hello", &stage), "stable");
        let other = function_name("hello", &format!("{stage}x"));
        assert_ne!(name, other, "unique");
    }

    #[test]
    fn provenance_round_trips() {
        let p = Provenance {
            sha: Some("abc123".into()),
            run_id: Some(42),
            git_ref: Some("refs/heads/main".into()),
            extra: vec![("promoted-from".into(), "pr-7@3".into())],
        };
        let d = p.description();
        assert_eq!(
            d,
            "sha=abc123 run=42 promoted-from=pr-7@3 ref=refs/heads/main"
        );
        assert_eq!(Provenance::parse(&d), p);
    }

    #[test]
    fn provenance_fits_lambda_limit() {
        let p = Provenance {
            sha: Some("a".repeat(40)),
            run_id: Some(u64::MAX),
            git_ref: Some(format!("refs/heads/{}", "x".repeat(400))),
            extra: vec![],
        };
        let d = p.description();
        assert!(d.len() <= MAX_DESCRIPTION);
        assert_eq!(Provenance::parse(&d).run_id, Some(u64::MAX));
    }

    #[test]
    fn artifact_keys() {
        assert_eq!(
            artifact_key("deploy-action/", "hello", "ab"),
            "deploy-action/hello/ab.zip"
        );
        assert_eq!(artifact_key("", "hello", "ab"), "hello/ab.zip");
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn sanitized_stages_are_valid(raw in "\\PC{0,80}") {
                let s = sanitize_stage(&raw);
                prop_assert!(s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
                prop_assert!(!s.starts_with('-') && !s.ends_with('-'));
                prop_assert!(!s.contains("--"));
                prop_assert_eq!(sanitize_stage(&s), s.clone(), "idempotent");
            }

            #[test]
            fn function_names_are_valid_unique_and_stable(
                app in "[a-z][a-z0-9-]{0,39}",
                a in "[a-z0-9][a-z0-9-]{0,120}",
                b in "[a-z0-9][a-z0-9-]{0,120}",
            ) {
                let na = function_name(&app, &a);
                prop_assert!(na.len() <= MAX_FUNCTION_NAME);
                prop_assert!(na.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
                let prefix = format!("{app}-");
                prop_assert!(na.starts_with(&prefix));
                prop_assert_eq!(&na, &function_name(&app, &a));
                if a != b {
                    prop_assert_ne!(na, function_name(&app, &b));
                }
            }
        }
    }
}
