//! The workflow run we are in: event, repository, commit, run id, and what they mean for the
//! stage (docs/contract.md, "Model") and the command to run.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::naming::sanitize_stage;

/// The parts of the GitHub Actions environment deploy-action uses.
#[derive(Debug, Clone, Default)]
pub struct GitHubContext {
    /// `GITHUB_ACTIONS=true`: we run inside a workflow.
    pub in_actions: bool,
    pub event_name: Option<String>,
    pub event: Event,
    /// `owner/repo`.
    pub repository: Option<String>,
    pub sha: Option<String>,
    pub git_ref: Option<String>,
    pub run_id: Option<u64>,
    pub api_url: String,
    pub server_url: String,
    /// Numeric ids from the payload, for the immutable OIDC subject.
    pub repository_id: Option<u64>,
    pub owner_id: Option<u64>,
}

/// The triggering event, reduced to what decides stage and command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Event {
    PullRequest(PullRequest),
    Push {
        git_ref: String,
        after: Option<String>,
        deleted: bool,
    },
    WorkflowDispatch {
        git_ref: Option<String>,
        inputs: BTreeMap<String, String>,
    },
    /// Another event, or none (outside Actions).
    #[default]
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    pub number: u64,
    pub action: String,
    pub head_sha: String,
    pub head_ref: String,
    /// `owner/repo` of the head; differs from the base for a PR from a fork.
    pub head_repo: Option<String>,
    pub base_repo: Option<String>,
}

impl PullRequest {
    #[must_use]
    pub fn is_fork(&self) -> bool {
        match (&self.head_repo, &self.base_repo) {
            (Some(h), Some(b)) => !h.eq_ignore_ascii_case(b),
            // A head repository that was deleted shows as null: treat it as a fork (it
            // gets no OIDC token either).
            (None, Some(_)) => true,
            _ => false,
        }
    }
}

/// What a `deploy` invocation should do for this event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventAction {
    Deploy,
    /// `pull_request` closed: remove the preview stage.
    Teardown,
    /// A push that deleted its branch or tag: nothing to build.
    Skip,
}

impl GitHubContext {
    /// Read the context from the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// Read the context through `get` (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let in_actions = get("GITHUB_ACTIONS").as_deref() == Some("true");
        let event_name = get("GITHUB_EVENT_NAME");
        let mut ctx = GitHubContext {
            in_actions,
            event_name: event_name.clone(),
            event: Event::Other,
            repository: get("GITHUB_REPOSITORY"),
            sha: get("GITHUB_SHA"),
            git_ref: get("GITHUB_REF"),
            run_id: None,
            api_url: get("GITHUB_API_URL")
                .unwrap_or_else(|| "https://api.github.com".into())
                .trim_end_matches('/')
                .to_string(),
            server_url: get("GITHUB_SERVER_URL")
                .unwrap_or_else(|| "https://github.com".into())
                .trim_end_matches('/')
                .to_string(),
            repository_id: None,
            owner_id: None,
        };
        if let Some(run) = get("GITHUB_RUN_ID") {
            ctx.run_id = Some(run.parse().map_err(|_| Error::GitHubContext {
                message: format!("GITHUB_RUN_ID is {run:?}, not a number"),
                help: Some("unset GITHUB_RUN_ID or set it to the workflow run's numeric id".into()),
            })?);
        }
        if let (Some(name), Some(path)) = (event_name, get("GITHUB_EVENT_PATH")) {
            let payload = read_payload(Path::new(&path))?;
            ctx.repository_id = payload.repository.as_ref().and_then(|r| r.id);
            ctx.owner_id = payload
                .repository
                .as_ref()
                .and_then(|r| r.owner.as_ref())
                .and_then(|o| o.id);
            ctx.event = Event::from_payload(&name, payload, ctx.git_ref.clone(), &path)?;
        }
        Ok(ctx)
    }

    /// The stage for this run when `--stage` is not given (docs/contract.md, "Model").
    pub fn default_stage(&self) -> Result<String> {
        let stage = match &self.event {
            Event::PullRequest(pr) => format!("pr-{}", pr.number),
            Event::Push { git_ref, .. } => stage_for_ref(git_ref),
            Event::WorkflowDispatch { git_ref, inputs } => match inputs.get("stage") {
                Some(s) if !s.is_empty() => s.clone(),
                _ => git_ref
                    .as_deref()
                    .or(self.git_ref.as_deref())
                    .map(stage_for_ref)
                    .unwrap_or_default(),
            },
            Event::Other => {
                if self.in_actions {
                    self.git_ref
                        .as_deref()
                        .map(stage_for_ref)
                        .unwrap_or_else(|| "dev".into())
                } else {
                    "dev".into()
                }
            }
        };
        if stage.is_empty() {
            return Err(Error::GitHubContext {
                message: "could not derive a stage from the GitHub event".into(),
                help: Some("pass --stage (input `stage`)".into()),
            });
        }
        Ok(stage)
    }

    /// What `deploy` should do for this event.
    #[must_use]
    pub fn event_action(&self) -> EventAction {
        match &self.event {
            Event::PullRequest(pr) if pr.action == "closed" => EventAction::Teardown,
            Event::Push { deleted: true, .. } => EventAction::Skip,
            _ => EventAction::Deploy,
        }
    }

    /// The commit being deployed: a PR's head, not the merge commit GITHUB_SHA points at.
    #[must_use]
    pub fn commit_sha(&self) -> Option<String> {
        match &self.event {
            Event::PullRequest(pr) => Some(pr.head_sha.clone()),
            Event::Push {
                after: Some(after), ..
            } if !after.chars().all(|c| c == '0') => Some(after.clone()),
            _ => self.sha.clone(),
        }
    }

    #[must_use]
    pub fn pull_request(&self) -> Option<&PullRequest> {
        match &self.event {
            Event::PullRequest(pr) => Some(pr),
            _ => None,
        }
    }

    /// Link to this workflow run, when we know it.
    #[must_use]
    pub fn run_url(&self) -> Option<String> {
        Some(format!(
            "{}/{}/actions/runs/{}",
            self.server_url,
            self.repository.as_ref()?,
            self.run_id?
        ))
    }
}

/// Stage for a git ref: branches by name, tags as `tag-<name>` (docs/contract.md, "Model").
#[must_use]
pub(crate) fn stage_for_ref(git_ref: &str) -> String {
    if let Some(tag) = git_ref.strip_prefix("refs/tags/") {
        let t = sanitize_stage(tag);
        if t.is_empty() {
            return String::new();
        }
        format!("tag-{t}")
    } else if let Some(branch) = git_ref.strip_prefix("refs/heads/") {
        sanitize_stage(branch)
    } else {
        sanitize_stage(git_ref)
    }
}

#[derive(Debug, Deserialize)]
struct Payload {
    action: Option<String>,
    number: Option<u64>,
    pull_request: Option<PrPayload>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    after: Option<String>,
    deleted: Option<bool>,
    inputs: Option<serde_json::Map<String, serde_json::Value>>,
    repository: Option<RepoPayload>,
}

#[derive(Debug, Deserialize)]
struct PrPayload {
    number: Option<u64>,
    head: Option<BranchPayload>,
    base: Option<BranchPayload>,
}

#[derive(Debug, Deserialize)]
struct BranchPayload {
    sha: Option<String>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    repo: Option<RepoPayload>,
}

#[derive(Debug, Deserialize)]
struct RepoPayload {
    id: Option<u64>,
    full_name: Option<String>,
    owner: Option<OwnerPayload>,
}

#[derive(Debug, Deserialize)]
struct OwnerPayload {
    id: Option<u64>,
}

fn read_payload(path: &Path) -> Result<Payload> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::GitHubContext {
        message: format!("can't read the event payload {}: {e}", path.display()),
        help: Some(
            "GITHUB_EVENT_PATH must point at the event JSON the runner wrote; outside Actions, unset GITHUB_EVENT_NAME and GITHUB_EVENT_PATH"
                .into(),
        ),
    })?;
    serde_json::from_str(&text).map_err(|e| Error::GitHubContext {
        message: format!(
            "the event payload {} is not valid JSON: {e}",
            path.display()
        ),
        help: Some("GITHUB_EVENT_PATH must point at the event JSON the runner wrote".into()),
    })
}

fn missing_field(path: &str, event: &str, field: &str) -> Error {
    Error::GitHubContext {
        message: format!("the {event} payload {path} has no {field}"),
        help: Some(format!(
            "GITHUB_EVENT_PATH must hold a complete {event} webhook payload; or pass --stage explicitly"
        )),
    }
}

impl Event {
    fn from_payload(
        name: &str,
        payload: Payload,
        env_ref: Option<String>,
        path: &str,
    ) -> Result<Event> {
        Ok(match name {
            "pull_request" | "pull_request_target" => {
                let pr = payload
                    .pull_request
                    .ok_or_else(|| missing_field(path, name, "pull_request"))?;
                let number = pr
                    .number
                    .or(payload.number)
                    .ok_or_else(|| missing_field(path, name, "pull_request.number"))?;
                let head = pr
                    .head
                    .ok_or_else(|| missing_field(path, name, "pull_request.head"))?;
                Event::PullRequest(PullRequest {
                    number,
                    action: payload.action.unwrap_or_default(),
                    head_sha: head
                        .sha
                        .ok_or_else(|| missing_field(path, name, "pull_request.head.sha"))?,
                    head_ref: head.git_ref.unwrap_or_default(),
                    head_repo: head.repo.and_then(|r| r.full_name),
                    base_repo: pr
                        .base
                        .and_then(|b| b.repo)
                        .and_then(|r| r.full_name)
                        .or_else(|| payload.repository.and_then(|r| r.full_name)),
                })
            }
            "push" => Event::Push {
                git_ref: payload
                    .git_ref
                    .or(env_ref)
                    .ok_or_else(|| missing_field(path, name, "ref"))?,
                after: payload.after,
                deleted: payload.deleted.unwrap_or(false),
            },
            "workflow_dispatch" => Event::WorkflowDispatch {
                git_ref: payload.git_ref.or(env_ref),
                inputs: payload
                    .inputs
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| {
                        let v = match v {
                            serde_json::Value::String(s) => s,
                            other => other.to_string(),
                        };
                        (k, v)
                    })
                    .collect(),
            },
            _ => Event::Other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn shared(name: &str) -> String {
        format!("{}/fixtures/events/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    fn ctx(event: &str, path: &str, extra: &[(&str, &str)]) -> GitHubContext {
        let mut env: HashMap<String, String> = HashMap::from([
            ("GITHUB_ACTIONS".into(), "true".into()),
            ("GITHUB_EVENT_NAME".into(), event.into()),
            ("GITHUB_EVENT_PATH".into(), path.into()),
            ("GITHUB_REPOSITORY".into(), "Codertocat/Hello-World".into()),
            ("GITHUB_SHA".into(), "mergesha".into()),
            ("GITHUB_RUN_ID".into(), "77".into()),
        ]);
        for (k, v) in extra {
            env.insert((*k).into(), (*v).into());
        }
        GitHubContext::from_lookup(|k| env.get(k).cloned()).unwrap()
    }

    #[test]
    fn pull_request_opened_is_a_pr_stage_at_the_head_commit() {
        let c = ctx("pull_request", &shared("pull_request.opened.json"), &[]);
        assert_eq!(c.default_stage().unwrap(), "pr-2");
        assert_eq!(c.event_action(), EventAction::Deploy);
        assert_eq!(
            c.commit_sha().unwrap(),
            "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
        );
        assert!(!c.pull_request().unwrap().is_fork());
        assert_eq!(
            c.run_url().unwrap(),
            "https://github.com/Codertocat/Hello-World/actions/runs/77"
        );
    }

    #[test]
    fn pull_request_closed_tears_down() {
        let c = ctx("pull_request", &shared("pull_request.closed.json"), &[]);
        assert_eq!(c.default_stage().unwrap(), "pr-2");
        assert_eq!(c.event_action(), EventAction::Teardown);
    }

    #[test]
    fn synchronize_is_a_deploy() {
        let c = ctx(
            "pull_request",
            &shared("pull_request.synchronize.json"),
            &[],
        );
        assert_eq!(c.event_action(), EventAction::Deploy);
    }

    #[test]
    fn deleted_tag_push_is_skipped() {
        let c = ctx("push", &shared("push.json"), &[]);
        assert_eq!(c.default_stage().unwrap(), "tag-simple-tag");
        assert_eq!(c.event_action(), EventAction::Skip);
        assert_eq!(c.repository_id, Some(186_853_002));
        assert_eq!(c.owner_id, Some(21_031_067));
    }

    #[test]
    fn workflow_dispatch_without_stage_input_uses_the_branch() {
        let c = ctx("workflow_dispatch", &shared("workflow_dispatch.json"), &[]);
        assert_eq!(c.default_stage().unwrap(), "master");
    }

    #[test]
    fn reopened_is_a_deploy_of_the_pr_stage() {
        let c = ctx("pull_request", &shared("pull_request.reopened.json"), &[]);
        assert_eq!(c.default_stage().unwrap(), "pr-2");
        assert_eq!(c.event_action(), EventAction::Deploy);
    }

    #[test]
    fn a_pr_from_a_fork_is_recognised() {
        let c = ctx("pull_request", &shared("pull_request.fork.json"), &[]);
        let pr = c.pull_request().unwrap();
        assert!(pr.is_fork());
        assert_eq!(pr.head_repo.as_deref(), Some("forker/Hello-World"));
        assert_eq!(c.default_stage().unwrap(), "pr-7");
        assert_eq!(
            c.commit_sha().unwrap(),
            "9f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6"
        );
    }

    #[test]
    fn a_branch_with_slashes_and_capitals_is_sanitised() {
        let c = ctx("push", &shared("push.branch.json"), &[]);
        assert_eq!(c.default_stage().unwrap(), "feature-login-page");
        assert_eq!(c.event_action(), EventAction::Deploy);
        assert_eq!(
            c.commit_sha().unwrap(),
            "5e1f1c3a7b9d2c4e6f8a0b1c2d3e4f5a6b7c8d9e"
        );
    }

    #[test]
    fn a_tag_push_deploys_a_tag_stage() {
        let c = ctx("push", &shared("push.tag.json"), &[]);
        assert_eq!(c.default_stage().unwrap(), "tag-v1-2-0");
        assert_eq!(c.event_action(), EventAction::Deploy);
    }

    #[test]
    fn workflow_dispatch_takes_the_stage_input() {
        let c = ctx(
            "workflow_dispatch",
            &shared("workflow_dispatch.stage.json"),
            &[],
        );
        assert_eq!(c.default_stage().unwrap(), "staging");
    }

    #[test]
    fn refs_map_to_stages() {
        assert_eq!(stage_for_ref("refs/heads/feature/Login"), "feature-login");
        assert_eq!(stage_for_ref("refs/tags/v1.2.0"), "tag-v1-2-0");
        assert_eq!(stage_for_ref("refs/heads/main"), "main");
    }

    fn ctx_err(event: &str, payload: &str) -> Error {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("event.json");
        std::fs::write(&path, payload).unwrap();
        let env: HashMap<&str, String> = HashMap::from([
            ("GITHUB_ACTIONS", "true".to_string()),
            ("GITHUB_EVENT_NAME", event.to_string()),
            ("GITHUB_EVENT_PATH", path.display().to_string()),
        ]);
        GitHubContext::from_lookup(|k| env.get(k).cloned()).unwrap_err()
    }

    #[test]
    fn payloads_missing_what_decides_the_stage_are_bad_input() {
        let e = ctx_err("pull_request", r#"{"action": "opened", "number": 3}"#);
        assert_eq!(e.code(), 2);
        assert!(e.to_string().contains("has no pull_request"), "{e}");
        let e = ctx_err(
            "pull_request",
            r#"{"action": "opened", "pull_request": {"number": 3, "head": {"ref": "x"}}}"#,
        );
        assert!(e.to_string().contains("pull_request.head.sha"), "{e}");
        assert!(e.help_text().unwrap().contains("--stage"), "{e:?}");
        let e = ctx_err("push", r#"{"after": "abc"}"#);
        assert!(e.to_string().contains("has no ref"), "{e}");
        let e = ctx_err("push", "{not json");
        assert_eq!(e.code(), 2);
        assert!(e.to_string().contains("not valid JSON"), "{e}");
    }

    #[test]
    fn an_unreadable_event_file_is_bad_input() {
        let env: HashMap<&str, String> = HashMap::from([
            ("GITHUB_EVENT_NAME", "push".to_string()),
            ("GITHUB_EVENT_PATH", "/nonexistent/event.json".to_string()),
        ]);
        let e = GitHubContext::from_lookup(|k| env.get(k).cloned()).unwrap_err();
        assert_eq!(e.code(), 2);
        assert!(
            e.to_string().contains("can't read the event payload"),
            "{e}"
        );
        assert!(e.help_text().unwrap().contains("GITHUB_EVENT_PATH"));
    }

    #[test]
    fn a_bad_run_id_is_bad_input() {
        let e = GitHubContext::from_lookup(|k| (k == "GITHUB_RUN_ID").then(|| "12x".into()))
            .unwrap_err();
        assert_eq!(e.code(), 2);
    }

    #[test]
    fn outside_actions_the_stage_is_dev() {
        let c = GitHubContext::from_lookup(|_| None).unwrap();
        assert_eq!(c.default_stage().unwrap(), "dev");
        assert_eq!(c.event_action(), EventAction::Deploy);
    }
}
