//! `rollback`: move `live` back to an earlier published version. Instant: no build, no
//! upload, no new version; one conditional UpdateAlias (with RevisionId) that also clears
//! any canary weights.
//!
//! "The previous version" is the newest published version older than the live one that was
//! not itself rolled back from. A version rolled back from is bad news, and a later rollback
//! (say after a newer deploy also turns out broken) must not land on it again. Rollbacks are
//! therefore recorded where later deploys don't erase them:
//!
//! - the function tag `deploy-action:rolled-back` lists the version numbers rolled back from,
//!   space-separated, ascending (tags belong to the function, not to a version or to `live`,
//!   so they survive every deploy; versions that were pruned are dropped from the list, and
//!   when it outgrows a tag value the oldest go first);
//! - `live`'s description gets an extra provenance word `rolled-back-from=<v>`, so `status`
//!   shows what happened until the next deploy moves `live` again.
//!
//! `--to V` picks a version explicitly (even one rolled back from before), and clears V's
//! mark: choosing it again says it is good.

use std::collections::{BTreeSet, HashMap};

use crate::aws::Aws;
use crate::aws::lambda::{AliasState, Function, FunctionConfig, version_number};
use crate::config::{Store, Target};
use crate::deploy::alias::{self, Intent, Outcome};
use crate::error::{Error, Result};
use crate::naming::{LIVE_ALIAS, MAX_DESCRIPTION, Provenance};
use crate::output::DeployReport;

/// The function tag that records the versions rolled back from.
pub(crate) const TAG_ROLLED_BACK: &str = "deploy-action:rolled-back";
/// The provenance word a rollback adds to `live`'s description.
pub(crate) const ROLLED_BACK_FROM: &str = "rolled-back-from";
/// Lambda's limit on a tag value.
const MAX_TAG_VALUE: usize = 256;

/// Check `--to` locally (exit 2 before any network call): a published version number.
pub(crate) fn validate_to(to: &str) -> Result<u64> {
    let valid = !to.is_empty() && to.chars().all(|c| c.is_ascii_digit()) && !to.starts_with('0');
    match to.parse::<u64>() {
        Ok(n) if valid => Ok(n),
        _ => Err(Error::invalid(
            "--to",
            format!("{to:?} is not a published version number"),
            "pass the number of a published version, e.g. --to 3 (`deploy-action status` lists them)",
        )),
    }
}

/// The version numbers in a `deploy-action:rolled-back` tag value.
#[must_use]
pub(crate) fn parse_marks(tag: Option<&String>) -> BTreeSet<u64> {
    tag.map(|t| {
        t.split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect()
    })
    .unwrap_or_default()
}

/// The tag value for `marks`, keeping only versions that still exist and, when too long for
/// a tag, the newest.
#[must_use]
pub(crate) fn format_marks(marks: &BTreeSet<u64>, existing: &BTreeSet<u64>) -> String {
    let mut kept: Vec<u64> = marks.intersection(existing).copied().collect();
    loop {
        let text = kept
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(" ");
        if text.len() <= MAX_TAG_VALUE {
            return text;
        }
        kept.remove(0);
    }
}

/// The version to roll back to: `to`, or the newest version older than `live` that was not
/// rolled back from.
pub(crate) fn choose<'v>(
    function: &str,
    versions: &'v [FunctionConfig],
    live: &str,
    rolled_back: &BTreeSet<u64>,
    to: Option<u64>,
) -> Result<&'v FunctionConfig> {
    let published = || {
        let list: Vec<&str> = versions.iter().map(|v| v.version.as_str()).collect();
        if list.is_empty() {
            "none".to_string()
        } else {
            list.join(", ")
        }
    };
    if let Some(to) = to {
        return versions
            .iter()
            .find(|v| version_number(&v.version) == to)
            .ok_or_else(|| {
                Error::invalid(
                    "--to",
                    format!(
                        "{function} has no version {to} (published: {})",
                        published()
                    ),
                    "pass one of the published versions; old ones are pruned beyond --keep-versions",
                )
            });
    }
    let live_n = version_number(live);
    versions
        .iter()
        .filter(|v| {
            let n = version_number(&v.version);
            n < live_n && !rolled_back.contains(&n)
        })
        .max_by_key(|v| version_number(&v.version))
        .ok_or_else(|| {
            let skipped: Vec<String> = rolled_back.iter().map(u64::to_string).collect();
            Error::missing(
                "--to",
                format!(
                    "live runs version {live} of {function}, and no earlier version is left to roll back to (published: {}{})",
                    published(),
                    if skipped.is_empty() {
                        String::new()
                    } else {
                        format!("; rolled back from before: {}", skipped.join(", "))
                    }
                ),
                "pass --to VERSION to pick one explicitly, or deploy a fix",
            )
        })
}

/// `live`'s description after a rollback: the target version's provenance (so that the
/// superseded check of later deploys compares against the run that is really live), plus
/// `rolled-back-from=<v>`.
#[must_use]
pub(crate) fn rolled_back_description(target: &FunctionConfig, from: &str) -> String {
    let mut p = Provenance::parse(&target.description);
    p.extra.retain(|(k, _)| k != ROLLED_BACK_FROM);
    p.extra
        .push((ROLLED_BACK_FROM.to_string(), from.to_string()));
    let text = p.description();
    debug_assert!(text.len() <= MAX_DESCRIPTION);
    text
}

/// Move `live` of `target` back.
/// With `store`, the report names the version's artifact (from its CodeSha256; not checked:
/// a rollback touches nothing but the alias).
pub(crate) async fn run(
    aws: &Aws,
    target: &Target,
    to: Option<u64>,
    store: Option<&Store>,
) -> Result<DeployReport> {
    let function = Function::new(&aws.lambda, &target.function_name);
    let Some((latest, tags)) = function.get(None).await? else {
        return Err(Error::invalid(
            "--stage",
            format!(
                "{} does not exist: stage {} was never deployed, or was torn down",
                target.function_name, target.stage
            ),
            "check --app and --stage; `deploy-action status --app APP` lists the stages",
        ));
    };
    crate::ownership::check(
        &target.function_name,
        &target.app,
        &target.stage,
        &tags,
        false,
    )?;
    let versions = function.versions().await?;
    let marks = parse_marks(tags.get(TAG_ROLLED_BACK));

    // Decided afresh on every read of `live` (another run may move it meanwhile).
    let mut chosen_from: Option<(FunctionConfig, AliasState)> = None;
    let outcome = alias::compare_and_set(&function, "alias", None, |current| {
        let Some(current) = current else {
            return Err(Error::invalid(
                "--stage",
                format!(
                    "{} has no `{LIVE_ALIAS}` alias: nothing was deployed to roll back",
                    target.function_name
                ),
                "deploy the stage first",
            ));
        };
        let chosen = choose(
            &target.function_name,
            &versions,
            &current.version,
            &marks,
            to,
        )?;
        chosen_from = Some((chosen.clone(), current.clone()));
        if chosen.version == current.version && current.routing.is_empty() {
            return Ok(Intent::Stop(()));
        }
        Ok(Intent::Write {
            version: chosen.version.clone(),
            description: rolled_back_description(chosen, &current.version),
            routing: HashMap::new(),
        })
    })
    .await?;
    let (chosen, current) =
        chosen_from.ok_or_else(|| Error::Internal("rollback decided nothing".into()))?;
    let mut report = DeployReport {
        app: target.app.clone(),
        stage: target.stage.clone(),
        function_name: target.function_name.clone(),
        function_arn: current.arn.clone(),
        version: chosen.version.clone(),
        previous_version: Some(current.version.clone()),
        alias: LIVE_ALIAS.to_string(),
        url: None,
        code_sha256: chosen.code_sha256.clone(),
        artifact: artifact_url(store, &target.app, &chosen.code_sha256),
        changed: false,
        superseded: false,
        front_door: crate::output::FrontDoorReport::default(),
    };
    match outcome {
        Outcome::Stopped(()) => tracing::info!(
            "{}: live already runs version {}",
            target.function_name,
            chosen.version
        ),
        Outcome::Written { arn, .. } => {
            tracing::info!(
                "{}: live → version {} (was {})",
                target.function_name,
                chosen.version,
                current.version
            );
            report.function_arn = arn;
            report.changed = true;
            record(&function, &latest, &versions, marks, &current.version, to).await;
        }
    }
    report.url = function.url().await?.map(|(u, _)| u);
    Ok(report)
}

/// `s3://bucket/<prefix>/<app>/<hex>.zip` of a version's code, or "" without a bucket.
fn artifact_url(store: Option<&Store>, app: &str, code_sha256: &str) -> String {
    match (store, super::code_sha256_hex(code_sha256)) {
        (Some(s), Some(hex)) => format!(
            "s3://{}/{}",
            s.bucket,
            crate::naming::artifact_key(&s.prefix, app, &hex)
        ),
        _ => String::new(),
    }
}

/// Write the rollback into the function's tag. `live` has moved already: a failure here
/// only weakens a later rollback's choice, so it is a warning, not an error.
async fn record(
    function: &Function<'_>,
    latest: &FunctionConfig,
    versions: &[FunctionConfig],
    mut marks: BTreeSet<u64>,
    from: &str,
    to: Option<u64>,
) {
    let before = marks.clone();
    marks.insert(version_number(from));
    if let Some(to) = to {
        marks.remove(&to);
    }
    let existing: BTreeSet<u64> = versions
        .iter()
        .map(|v| version_number(&v.version))
        .collect();
    if marks == before {
        return;
    }
    let value = format_marks(&marks, &existing);
    let arn = super::unqualified_arn(&latest.arn);
    if let Err(e) = function.tag(&arn, &[(TAG_ROLLED_BACK, &value)]).await {
        crate::github::workflow::warning(&format!(
            "live was rolled back, but recording it in the tag {TAG_ROLLED_BACK} failed ({e}); a later rollback may pick version {from} again"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(n: u64, description: &str) -> FunctionConfig {
        let mut c = FunctionConfig::default();
        c.version = n.to_string();
        c.description = description.into();
        c
    }

    fn versions(ns: &[u64]) -> Vec<FunctionConfig> {
        ns.iter().map(|n| v(*n, "")).collect()
    }

    #[test]
    fn previous_is_the_newest_older_version() {
        let vs = versions(&[1, 2, 3]);
        let none = BTreeSet::new();
        assert_eq!(choose("f", &vs, "3", &none, None).unwrap().version, "2");
        assert_eq!(choose("f", &vs, "2", &none, None).unwrap().version, "1");
        assert!(choose("f", &vs, "1", &none, None).is_err());
    }

    #[test]
    fn versions_rolled_back_from_are_skipped() {
        // v3 was rolled back from; v4 deployed after that; rolling back from v4 lands on v2.
        let vs = versions(&[1, 2, 3, 4]);
        let marks = BTreeSet::from([3]);
        assert_eq!(choose("f", &vs, "4", &marks, None).unwrap().version, "2");
        let marks = BTreeSet::from([2, 3]);
        assert_eq!(choose("f", &vs, "4", &marks, None).unwrap().version, "1");
        let err = choose("f", &vs, "4", &BTreeSet::from([1, 2, 3]), None).unwrap_err();
        assert_eq!(err.code(), 2);
        assert!(
            err.to_string().contains("rolled back from before: 1, 2, 3"),
            "{err}"
        );
    }

    #[test]
    fn pruned_gaps_are_fine_and_numeric_order_wins() {
        let vs = versions(&[2, 9, 10]);
        assert_eq!(
            choose("f", &vs, "10", &BTreeSet::new(), None)
                .unwrap()
                .version,
            "9"
        );
    }

    #[test]
    fn explicit_versions_must_exist() {
        let vs = versions(&[1, 2, 3]);
        let marks = BTreeSet::from([1]);
        assert_eq!(choose("f", &vs, "3", &marks, Some(1)).unwrap().version, "1");
        let err = choose("f", &vs, "3", &marks, Some(7)).unwrap_err();
        assert_eq!(err.code(), 2);
        assert!(err.to_string().contains("published: 1, 2, 3"), "{err}");
    }

    #[test]
    fn to_is_validated_locally() {
        assert_eq!(validate_to("12").unwrap(), 12);
        for bad in ["", "0", "01", "$LATEST", "live", "-1", "1.5"] {
            assert_eq!(validate_to(bad).unwrap_err().code(), 2, "{bad}");
        }
    }

    #[test]
    fn marks_round_trip_and_fit_a_tag() {
        let marks = BTreeSet::from([3, 5, 8]);
        let existing = BTreeSet::from([1, 2, 3, 4, 5, 6]);
        let text = format_marks(&marks, &existing);
        assert_eq!(text, "3 5", "pruned versions are dropped");
        assert_eq!(parse_marks(Some(&text)), BTreeSet::from([3, 5]));
        let many: BTreeSet<u64> = (100_000..100_100).collect();
        let text = format_marks(&many, &many);
        assert!(text.len() <= MAX_TAG_VALUE);
        assert!(text.ends_with("100099"), "the newest are kept");
    }

    #[test]
    fn description_keeps_provenance_and_names_the_bad_version() {
        let target = v(2, "sha=abc run=11 rolled-back-from=9 ref=refs/heads/main");
        let d = rolled_back_description(&target, "3");
        assert_eq!(d, "sha=abc run=11 rolled-back-from=3 ref=refs/heads/main");
        assert_eq!(Provenance::parse(&d).run_id, Some(11));
    }
}
