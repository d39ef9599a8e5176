//! Whose a function is. deploy-action tags every function it creates with its app and stage
//! (`deploy-action:app`, `deploy-action:stage`), and every command that writes to or deletes
//! a function (deploy, teardown, rollback, promote, canary) asks this module first, before its
//! first write. Names alone can't tell: app `hello` + stage `world-main` and app `hello-world`
//! + stage `main` are both the function `hello-world-main`.

use std::collections::HashMap;

use crate::error::{Error, Result};

/// Tag keys on functions deploy-action manages.
pub(crate) const TAG_APP: &str = "deploy-action:app";
pub(crate) const TAG_STAGE: &str = "deploy-action:stage";

/// What the tags say about a function we are about to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ownership {
    /// Tagged for this app and stage.
    Ours,
    /// Untagged, and `--adopt` was given: the caller writes our tags before anything else,
    /// so later commands treat it as ours without the flag.
    Adopting,
}

/// Check `tags` of `function` against the app and stage of this command.
///
/// - tagged for this app and stage: ours;
/// - no tags of ours (someone else's function with that name): refused unless `adopt`;
/// - tagged for another app or stage: refused always, even with `--adopt`: it is another
///   stage's function, and changing it would break that stage.
pub(crate) fn check(
    function: &str,
    app: &str,
    stage: &str,
    tags: &HashMap<String, String>,
    adopt: bool,
) -> Result<Ownership> {
    match (tags.get(TAG_APP), tags.get(TAG_STAGE)) {
        (Some(a), Some(s)) if a == app && s == stage => Ok(Ownership::Ours),
        (Some(a), s) if a != app || s.is_some() => Err(Error::ForeignFunction {
            function: function.to_string(),
            app: a.clone(),
            stage: s.cloned().unwrap_or_default(),
            our_app: app.to_string(),
            our_stage: stage.to_string(),
        }),
        // Untagged, or tagged with our app but no stage (a hand-made tag): not provably ours.
        _ if adopt => Ok(Ownership::Adopting),
        _ => Err(Error::NotManaged {
            function: function.to_string(),
        }),
    }
}

/// The tags that make a function ours.
#[must_use]
pub(crate) fn tags<'a>(app: &'a str, stage: &'a str) -> [(&'static str, &'a str); 2] {
    [(TAG_APP, app), (TAG_STAGE, stage)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagged(app: &str, stage: &str) -> HashMap<String, String> {
        HashMap::from([
            (TAG_APP.to_string(), app.to_string()),
            (TAG_STAGE.to_string(), stage.to_string()),
        ])
    }

    #[test]
    fn our_tags_make_it_ours() {
        let tags = tagged("hello", "main");
        assert_eq!(
            check("hello-main", "hello", "main", &tags, false).unwrap(),
            Ownership::Ours
        );
    }

    #[test]
    fn a_colliding_name_of_another_app_is_refused_even_with_adopt() {
        // app hello-world + stage main and app hello + stage world-main share a name.
        let tags = tagged("hello-world", "main");
        for adopt in [false, true] {
            let err = check("hello-world-main", "hello", "world-main", &tags, adopt).unwrap_err();
            let Error::ForeignFunction {
                app,
                stage,
                our_app,
                our_stage,
                ..
            } = &err
            else {
                panic!("{err:?}")
            };
            assert_eq!((app.as_str(), stage.as_str()), ("hello-world", "main"));
            assert_eq!(
                (our_app.as_str(), our_stage.as_str()),
                ("hello", "world-main")
            );
            assert_eq!(err.code(), crate::error::EXIT_BAD_INPUT);
        }
    }

    #[test]
    fn another_stage_of_our_app_is_refused() {
        let tags = tagged("hello", "main");
        assert!(matches!(
            check("hello-main", "hello", "pr-7", &tags, true),
            Err(Error::ForeignFunction { .. })
        ));
    }

    #[test]
    fn untagged_needs_adopt() {
        let tags = HashMap::new();
        assert!(matches!(
            check("hello-main", "hello", "main", &tags, false),
            Err(Error::NotManaged { .. })
        ));
        assert_eq!(
            check("hello-main", "hello", "main", &tags, true).unwrap(),
            Ownership::Adopting
        );
    }
}
