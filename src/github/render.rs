//! Markdown for GitHub: the sticky PR comment (docs/contract.md, "The PR comment") and the step summary of the
//! commands that have no table of their own. Pure functions of a report and the run's facts,
//! so the text is snapshot-tested.

use std::fmt::Write as _;

use time::OffsetDateTime;
use time::macros::format_description;

use super::comment::marker;
use crate::output::{DeployReport, SkipReport, TeardownReport};

/// Facts about the run that the comment shows besides the report.
#[derive(Debug, Clone)]
pub struct RunFacts {
    /// The commit deployed (a PR's head).
    pub commit: Option<String>,
    /// `$GITHUB_SERVER_URL/$GITHUB_REPOSITORY`, for commit links.
    pub repo_url: Option<String>,
    /// `$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID`.
    pub run_url: Option<String>,
    pub run_id: Option<u64>,
    pub time: OffsetDateTime,
}

impl RunFacts {
    /// The facts of the current run, from its context.
    #[must_use]
    pub fn from_context(ctx: &super::context::GitHubContext) -> RunFacts {
        RunFacts {
            commit: ctx.commit_sha(),
            repo_url: ctx
                .repository
                .as_ref()
                .map(|r| format!("{}/{r}", ctx.server_url)),
            run_url: ctx.run_url(),
            run_id: ctx.run_id,
            time: OffsetDateTime::now_utc(),
        }
    }

    fn time_text(&self) -> String {
        let f = format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
        self.time
            .to_offset(time::UtcOffset::UTC)
            .format(&f)
            .unwrap_or_default()
    }

    fn commit_cell(&self) -> String {
        let Some(sha) = self.commit.as_deref().filter(|s| is_hex(s)) else {
            return "—".into();
        };
        let short: String = sha.chars().take(7).collect();
        match &self.repo_url {
            Some(repo) => format!("[`{short}`]({repo}/commit/{sha})"),
            None => format!("`{short}`"),
        }
    }

    fn run_cell(&self) -> String {
        match (&self.run_url, self.run_id) {
            (Some(url), Some(id)) => format!("[#{id}]({url})"),
            (Some(url), None) => format!("[run]({url})"),
            _ => "—".into(),
        }
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// A value in inline code, without characters that could end it or the table cell.
fn code(s: &str) -> String {
    let clean: String = s
        .chars()
        .filter(|c| !matches!(c, '`' | '|' | '\n' | '\r'))
        .collect();
    format!("`{clean}`")
}

fn table(md: &mut String, rows: &[(&str, String)]) {
    md.push_str("| | |\n|---|---|\n");
    for (k, v) in rows {
        let _ = writeln!(md, "| {k} | {v} |");
    }
}

impl DeployReport {
    /// The sticky PR comment for this deploy.
    #[must_use]
    pub fn comment_markdown(&self, facts: &RunFacts) -> String {
        let mut md = marker(&self.app);
        md.push('\n');
        let headline = if self.superseded {
            "superseded"
        } else if self.changed {
            "deployed"
        } else {
            "unchanged"
        };
        let _ = writeln!(
            md,
            "### deploy-action: {} on stage {} {headline}\n",
            code(&self.app),
            code(&self.stage)
        );
        let url = match self.url.as_deref() {
            Some(u) => format!("<{}>", u.replace(['<', '>', '|', ' '], "")),
            None => "— (no function URL)".into(),
        };
        let version = match (&self.previous_version, self.changed && !self.superseded) {
            (Some(prev), true) if *prev != self.version => {
                format!("{} (was {})", code(&self.version), code(prev))
            }
            _ => code(&self.version),
        };
        let mut rows = vec![
            ("URL", url),
            ("Version", version),
            ("Commit", facts.commit_cell()),
            ("Updated", facts.time_text()),
            ("Run", facts.run_cell()),
            ("Function", code(&self.function_name)),
        ];
        // Behind a custom domain (or an HTTP API), the function URL still answers: say so.
        if self.front_door.domain.is_some() || self.front_door.api_endpoint.is_some() {
            let raw = self.front_door.function_url.as_deref().map_or_else(
                || "—".into(),
                |u| format!("<{}>", u.replace(['<', '>', '|', ' '], "")),
            );
            rows.insert(1, ("Function URL", raw));
        }
        table(&mut md, &rows);
        if let Some(record) = &self.front_door.manual_record {
            let _ = write!(
                md,
                "\n> [!IMPORTANT]\n> No Route 53 hosted zone holds this domain: create {} at your DNS provider.\n",
                code(record)
            );
        }
        if self.superseded {
            let _ = write!(
                md,
                "\n> [!NOTE]\n> This run was superseded: a newer run is already live (version {}), so `live` was not moved back. The commit above is this run's.\n",
                code(&self.version)
            );
        } else if !self.changed {
            let _ = write!(
                md,
                "\n> [!NOTE]\n> Nothing changed: version {} already runs this code and configuration, so nothing was published.\n",
                code(&self.version)
            );
        }
        md.push_str(
            "\n<sub>deploy-action edits this comment on every deploy of this pull request and when it closes.</sub>\n",
        );
        md
    }
}

impl TeardownReport {
    /// The sticky PR comment after the preview was removed.
    #[must_use]
    pub fn comment_markdown(&self, facts: &RunFacts) -> String {
        let mut md = marker(&self.app);
        md.push('\n');
        let _ = writeln!(
            md,
            "### deploy-action: {} on stage {} removed\n",
            code(&self.app),
            code(&self.stage)
        );
        let what = if self.deleted {
            format!(
                "The preview was removed: function {} with its versions, alias and URL was deleted.",
                code(&self.function_name)
            )
        } else {
            format!(
                "The preview was removed: function {} was already gone.",
                code(&self.function_name)
            )
        };
        md.push_str(&what);
        md.push_str("\n\n");
        table(
            &mut md,
            &[("Removed", facts.time_text()), ("Run", facts.run_cell())],
        );
        md
    }

    /// Step summary for a teardown.
    #[must_use]
    pub fn summary_markdown(&self) -> String {
        let what = if self.deleted {
            "deleted"
        } else {
            "already gone"
        };
        format!(
            "### deploy-action: `{}` {what}\n\nStage {} of app {} was torn down.\n\n",
            self.function_name,
            code(&self.stage),
            code(&self.app)
        )
    }
}

impl SkipReport {
    /// Step summary for a run that did nothing on purpose.
    #[must_use]
    pub fn summary_markdown(&self) -> String {
        format!("### deploy-action: skipped\n\n{}\n\n", self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> RunFacts {
        RunFacts {
            commit: Some("ec26c3e57ca3a959ca5aad62de7213c562f8c821".into()),
            repo_url: Some("https://github.com/Codertocat/Hello-World".into()),
            run_url: Some("https://github.com/Codertocat/Hello-World/actions/runs/77".into()),
            run_id: Some(77),
            // The real clock: the snapshots redact it.
            time: OffsetDateTime::now_utc(),
        }
    }

    fn report() -> DeployReport {
        DeployReport {
            app: "hello".into(),
            stage: "pr-2".into(),
            function_name: "hello-pr-2".into(),
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:hello-pr-2:live".into(),
            version: "3".into(),
            previous_version: Some("2".into()),
            alias: "live".into(),
            url: Some("https://abc123.lambda-url.us-east-1.on.aws/".into()),
            code_sha256: "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=".into(),
            artifact: "s3://artifacts/deploy-action/hello/ab.zip".into(),
            changed: true,
            superseded: false,
            front_door: crate::output::FrontDoorReport::default(),
        }
    }

    fn snapshot(name: &str, text: &str) {
        insta::with_settings!({
            filters => vec![(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", "[time] UTC")],
            prepend_module_to_snapshot => false,
        }, {
            insta::assert_snapshot!(name, text);
        });
    }

    #[test]
    fn deployed_comment() {
        let md = report().comment_markdown(&facts());
        assert!(md.starts_with("<!-- deploy-action:hello -->\n"));
        snapshot("comment_deployed", &md);
    }

    #[test]
    fn first_deploy_comment_has_no_previous_version() {
        let mut r = report();
        r.version = "1".into();
        r.previous_version = None;
        snapshot("comment_first_deploy", &r.comment_markdown(&facts()));
    }

    #[test]
    fn unchanged_comment() {
        let mut r = report();
        r.changed = false;
        r.previous_version = Some("3".into());
        snapshot("comment_unchanged", &r.comment_markdown(&facts()));
    }

    #[test]
    fn superseded_comment() {
        let mut r = report();
        r.superseded = true;
        r.version = "5".into();
        r.previous_version = Some("5".into());
        snapshot("comment_superseded", &r.comment_markdown(&facts()));
    }

    #[test]
    fn comment_without_url_or_run() {
        let mut r = report();
        r.url = None;
        let f = RunFacts {
            commit: None,
            repo_url: None,
            run_url: None,
            run_id: None,
            time: OffsetDateTime::UNIX_EPOCH,
        };
        let md = r.comment_markdown(&f);
        assert!(md.contains("| Updated | 1970-01-01 00:00:00 UTC |"), "{md}");
        snapshot("comment_no_url_no_run", &md);
    }

    #[test]
    fn comment_with_a_custom_domain() {
        let mut r = report();
        r.url = Some("https://pr-2.preview.example.com/".into());
        r.front_door = crate::output::FrontDoorReport {
            function_url: Some("https://abc123.lambda-url.us-east-1.on.aws/".into()),
            domain: Some("pr-2.preview.example.com".into()),
            api_endpoint: Some("https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com".into()),
            dns: Some("manual".into()),
            manual_record: Some(
                "pr-2.preview.example.com. CNAME d-abc.execute-api.us-east-1.amazonaws.com.".into(),
            ),
        };
        let md = r.comment_markdown(&facts());
        assert!(
            md.contains("| URL | <https://pr-2.preview.example.com/> |"),
            "{md}"
        );
        assert!(
            md.contains("| Function URL | <https://abc123.lambda-url"),
            "{md}"
        );
        snapshot("comment_custom_domain", &md);
    }

    #[test]
    fn teardown_comment() {
        let t = TeardownReport {
            app: "hello".into(),
            stage: "pr-2".into(),
            function_name: "hello-pr-2".into(),
            deleted: true,
        };
        let md = t.comment_markdown(&facts());
        assert!(md.starts_with("<!-- deploy-action:hello -->\n"));
        assert!(md.contains("removed"));
        snapshot("comment_removed", &md);
        let gone = TeardownReport {
            deleted: false,
            ..t
        };
        assert!(gone.comment_markdown(&facts()).contains("already gone"));
    }

    #[test]
    fn odd_commits_and_urls_cannot_break_the_markdown() {
        let mut r = report();
        r.url = Some("https://x.on.aws/> | <script>".into());
        let f = RunFacts {
            commit: Some("`not a sha` | x".into()),
            ..facts()
        };
        let md = r.comment_markdown(&f);
        assert!(md.contains("| Commit | — |"), "{md}");
        assert!(md.contains("| URL | <https://x.on.aws/script> |"), "{md}");
    }
}
