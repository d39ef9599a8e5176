//! Pruning old versions (docs/contract.md, "Prune"): keep the newest `--keep-versions`, every
//! version an alias points or routes to, and anything newer than this run's version (a
//! concurrent run may be about to move `live` to it).

use std::collections::BTreeSet;

use crate::aws::lambda::{Function, FunctionConfig, version_number};
use crate::error::Result;

/// Delete the versions that nothing needs any more; returns the ones deleted.
pub(crate) async fn prune(
    function: &Function<'_>,
    keep: u32,
    newest_ours: Option<&str>,
) -> Result<Vec<String>> {
    // Version numbers only grow: with ours at most `keep`, there can't be more than `keep`.
    if newest_ours.is_some_and(|v| version_number(v) <= u64::from(keep)) {
        return Ok(Vec::new());
    }
    let (versions, aliases) = tokio::try_join!(function.versions(), function.aliases())?;
    let mut protected: BTreeSet<String> = BTreeSet::new();
    for a in &aliases {
        protected.insert(a.version.clone());
        protected.extend(a.routing.keys().cloned());
    }
    let mut deleted = Vec::new();
    for v in doomed(&versions, &protected, keep, newest_ours) {
        if function.delete_version(&v.version).await? {
            deleted.push(v.version.clone());
        }
    }
    Ok(deleted)
}

/// The versions to delete: beyond the newest `keep`, not protected, not newer than ours.
fn doomed<'v>(
    versions: &'v [FunctionConfig],
    protected: &BTreeSet<String>,
    keep: u32,
    newest_ours: Option<&str>,
) -> Vec<&'v FunctionConfig> {
    let ceiling = newest_ours.map(version_number);
    let keep = usize::try_from(keep).unwrap_or(usize::MAX);
    versions
        .iter()
        .rev()
        .skip(keep)
        .filter(|v| {
            !protected.contains(&v.version)
                && ceiling.is_none_or(|c| version_number(&v.version) <= c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(n: u32) -> Vec<FunctionConfig> {
        (1..=n)
            .map(|v| {
                let mut c = FunctionConfig::default();
                c.version = v.to_string();
                c
            })
            .collect()
    }

    fn names(v: &[&FunctionConfig]) -> Vec<String> {
        v.iter().map(|c| c.version.clone()).collect()
    }

    #[test]
    fn keeps_the_newest_the_aliased_and_anything_newer_than_ours() {
        let all = versions(9);
        let protected = BTreeSet::from(["2".to_string()]);
        // ours is 7: 8 and 9 belong to a concurrent run.
        let d = doomed(&all, &protected, 3, Some("7"));
        assert_eq!(names(&d), ["6", "5", "4", "3", "1"]);
    }
}
