//! The sticky PR comment (docs/contract.md, "The PR comment"): one per app and PR, found by a hidden marker across
//! all pages of the PR's comments, created once and edited in place afterwards.

use octocrab::models::issues::Comment;
use serde_json::json;

use super::api::GitHubApi;

/// Pages of 100 comments we read at most (10 000 comments): a bound against a Link header
/// that never ends.
const MAX_PAGES: usize = 100;

/// The hidden first line that identifies an app's comment.
#[must_use]
pub(crate) fn marker(app: &str) -> String {
    format!("<!-- deploy-action:{app} -->")
}

/// Whether `body` is the comment of the app with this `marker`. The marker must open the body:
/// a reply that quotes our comment starts with `>` and is not ours.
#[must_use]
pub(crate) fn is_marked(body: &str, marker: &str) -> bool {
    body.trim_start().starts_with(marker)
}

/// A comment carrying the marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Marked {
    pub id: u64,
    pub html_url: String,
    /// Written by a bot (the Actions token's `github-actions[bot]`, or an app).
    pub by_bot: bool,
}

/// What `upsert` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Created { id: u64, html_url: String },
    Updated { id: u64, html_url: String },
}

impl Outcome {
    #[must_use]
    pub(crate) fn html_url(&self) -> &str {
        match self {
            Outcome::Created { html_url, .. } | Outcome::Updated { html_url, .. } => html_url,
        }
    }
}

/// A comment is ours when it carries the marker and was written by `author`, the identity our
/// token acts as: a marker pasted into someone else's comment must not make us edit it.
fn marked(c: &Comment, marker: &str, author: &str) -> Option<Marked> {
    let body = c.body.as_deref()?;
    let by_us = c.user.login.eq_ignore_ascii_case(author);
    (by_us && is_marked(body, marker)).then(|| Marked {
        id: c.id.into_inner(),
        html_url: c.html_url.to_string(),
        by_bot: c.user.r#type.eq_ignore_ascii_case("bot"),
    })
}

/// Every marked comment by `author` on the PR, oldest first, reading all pages (100 per page,
/// following the `Link: rel="next"` URLs GitHub sends).
pub(crate) async fn find_all(
    api: &GitHubApi,
    pr: u64,
    marker: &str,
    author: &str,
) -> Result<Vec<Marked>, octocrab::Error> {
    let mut page = api
        .crab
        .issues(&api.owner, &api.repo)
        .list_comments(pr)
        .per_page(100u8)
        .send()
        .await?;
    let mut found = Vec::new();
    for _ in 0..MAX_PAGES {
        found.extend(page.items.iter().filter_map(|c| marked(c, marker, author)));
        match api.crab.get_page::<Comment>(&page.next).await? {
            Some(next) => page = next,
            None => return Ok(found),
        }
    }
    tracing::warn!("PR #{pr} has more than {MAX_PAGES} pages of comments; stopped reading");
    Ok(found)
}

/// The comment to edit among the marked ones: the oldest written by a bot (the Actions
/// token writes as `github-actions[bot]`), else the oldest.
#[must_use]
pub(crate) fn pick(found: &[Marked]) -> Option<&Marked> {
    found.iter().find(|m| m.by_bot).or_else(|| found.first())
}

/// Edit a comment. octocrab's `update_comment` sends POST; GitHub documents PATCH.
async fn edit(api: &GitHubApi, id: u64, body: &str) -> Result<Comment, octocrab::Error> {
    api.crab
        .patch(
            api.route(&format!("/issues/comments/{id}")),
            Some(&json!({ "body": body })),
        )
        .await
}

/// Create the app's comment on `pr`, or edit it in place.
pub(crate) async fn upsert(
    api: &GitHubApi,
    pr: u64,
    app: &str,
    author: &str,
    body: &str,
) -> Result<Outcome, octocrab::Error> {
    let marker = marker(app);
    let found = find_all(api, pr, &marker, author).await?;
    if let Some(existing) = pick(&found) {
        let c = edit(api, existing.id, body).await?;
        return Ok(Outcome::Updated {
            id: existing.id,
            html_url: c.html_url.to_string(),
        });
    }
    let created = api
        .crab
        .issues(&api.owner, &api.repo)
        .create_comment(pr, body)
        .await?;
    let id = created.id.into_inner();
    // Two runs for one PR (pushes a second apart) may both have found nothing and created a
    // comment. Look again: when an older marked comment exists, the older one stays, ours
    // goes, and both runs converge on one comment.
    let again = find_all(api, pr, &marker, author).await?;
    if let Some(keep) = pick(&again).filter(|k| k.id != id && k.id < id) {
        tracing::info!(
            "another run created the PR comment at the same time; keeping {}",
            keep.html_url
        );
        let route = api.route(&format!("/issues/comments/{id}"));
        let deleted: Result<(), octocrab::Error> = api
            .crab
            .issues(&api.owner, &api.repo)
            .delete_comment(id.into())
            .await;
        if let Err(e) = deleted {
            tracing::warn!(
                "could not delete the duplicate comment {route}: {}",
                super::oidc::octocrab_message(&e)
            );
        }
        let c = edit(api, keep.id, body).await?;
        return Ok(Outcome::Updated {
            id: keep.id,
            html_url: c.html_url.to_string(),
        });
    }
    Ok(Outcome::Created {
        id,
        html_url: created.html_url.to_string(),
    })
}

/// Edit the app's comment if there is one (teardown: no comment is created just to say the
/// preview is gone).
pub(crate) async fn update_existing(
    api: &GitHubApi,
    pr: u64,
    app: &str,
    author: &str,
    body: &str,
) -> Result<Option<Outcome>, octocrab::Error> {
    let found = find_all(api, pr, &marker(app), author).await?;
    let Some(existing) = pick(&found) else {
        return Ok(None);
    };
    let c = edit(api, existing.id, body).await?;
    Ok(Some(Outcome::Updated {
        id: existing.id,
        html_url: c.html_url.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_must_open_the_body() {
        let m = marker("hello");
        assert_eq!(m, "<!-- deploy-action:hello -->");
        assert!(is_marked(&format!("{m}\n### preview"), &m));
        assert!(is_marked(&format!("\n  {m}\nx"), &m));
        assert!(!is_marked(&format!("> {m}\n> quoted"), &m));
        assert!(!is_marked("<!-- deploy-action:hello-api -->\nx", &m));
        assert!(!is_marked("<!-- deploy-action:hell -->", &m));
    }

    #[test]
    fn bots_comments_win_then_the_oldest() {
        let user = |id, by_bot| Marked {
            id,
            html_url: format!("u{id}"),
            by_bot,
        };
        assert_eq!(pick(&[]), None);
        assert_eq!(pick(&[user(1, false), user(2, true)]).unwrap().id, 2);
        assert_eq!(pick(&[user(1, false), user(2, false)]).unwrap().id, 1);
        assert_eq!(pick(&[user(3, true), user(4, true)]).unwrap().id, 3);
    }
}
