//! Pruning old versions (docs/contract.md, "Prune"): keep the newest `--keep-versions`, every
//! version an alias points or routes to, and anything newer than this run's version (a
//! concurrent run may be about to move `live` to it).

use std::collections::BTreeSet;

use crate::aws::lambda::{AliasState, Function, FunctionConfig, version_number};
use crate::error::Result;
use crate::naming::LIVE_ALIAS;

/// What pruning reads: every published version and every alias.
pub(crate) struct Listings {
    versions: Vec<FunctionConfig>,
    aliases: Vec<AliasState>,
}

/// The listings, read while Lambda applies this deploy's update (a round trip less after
/// `live` moves), when this deploy's version will be beyond `keep`: it is at least live's
/// plus one. A failed read is left to `prune`, which then lists again.
///
/// Read before our version exists, they may miss versions and aliases made since: a version
/// missing from them is not deleted, and one of them that an alias started to use since is
/// refused by Lambda (409, `delete_version`), so a listing read ahead deletes no more than a
/// fresh one would.
pub(crate) async fn read_ahead(
    function: &Function<'_>,
    keep: u32,
    live_version: Option<&str>,
) -> Option<Listings> {
    let next = live_version.map_or(1, |v| version_number(v) + 1);
    if next <= u64::from(keep) {
        return None;
    }
    let (versions, aliases) = tokio::try_join!(function.versions(), function.aliases()).ok()?;
    Some(Listings { versions, aliases })
}

/// What pruning did.
#[derive(Debug, Default)]
pub(crate) struct Pruned {
    pub(crate) deleted: Vec<String>,
    /// A version beyond `keep` that `live` pointed at when the listings were read ahead: it
    /// may go once `live` has moved off it (`after_move`), not before.
    pub(crate) when_live_moved: Option<String>,
}

/// Delete the versions that nothing needs any more. `ahead`: the listings, when `read_ahead`
/// made them.
pub(crate) async fn prune(
    function: &Function<'_>,
    keep: u32,
    newest_ours: Option<&str>,
    ahead: Option<Listings>,
) -> Result<Pruned> {
    // Version numbers only grow: with ours at most `keep`, there can't be more than `keep`.
    if newest_ours.is_some_and(|v| version_number(v) <= u64::from(keep)) {
        return Ok(Pruned::default());
    }
    let read_ahead = ahead.is_some();
    let (mut versions, aliases) = match ahead {
        Some(l) => (l.versions, l.aliases),
        None => tokio::try_join!(function.versions(), function.aliases())?,
    };
    // Listed before ours was published: ours counts among the newest `keep`.
    if let Some(ours) = newest_ours
        && !versions.iter().any(|v| v.version == ours)
    {
        let mut v = FunctionConfig::default();
        v.version = ours.to_string();
        versions.push(v);
        versions.sort_by_key(|c| version_number(&c.version));
    }
    let live_suffix = format!(":{LIVE_ALIAS}");
    let mut protected: BTreeSet<String> = BTreeSet::new();
    let mut was_live = None;
    for a in &aliases {
        if read_ahead && a.arn.ends_with(&live_suffix) && a.routing.is_empty() {
            // This deploy is moving it: what it points at is decided after the move.
            was_live = Some(a.version.clone());
            continue;
        }
        protected.insert(a.version.clone());
        protected.extend(a.routing.keys().cloned());
    }
    let mut pruned = Pruned::default();
    for v in doomed(&versions, &protected, keep, newest_ours) {
        if was_live.as_deref() == Some(v.version.as_str()) {
            pruned.when_live_moved = Some(v.version.clone());
        } else if function.delete_version(&v.version).await? {
            pruned.deleted.push(v.version.clone());
        }
    }
    Ok(pruned)
}

/// `live` moved off `previous`: delete it when pruning found it doomed.
pub(crate) async fn after_move(
    function: &Function<'_>,
    mut pruned: Pruned,
    previous: Option<&str>,
) -> Result<Vec<String>> {
    if let Some(v) = pruned.when_live_moved.take()
        && previous == Some(v.as_str())
        && function.delete_version(&v).await?
    {
        pruned.deleted.push(v);
    }
    Ok(pruned.deleted)
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
