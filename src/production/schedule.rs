//! Schedules (zappa's `events`) and keep-warm pings: one EventBridge rule per schedule,
//! targeting the `live` alias, with the Lambda permission for `events.amazonaws.com` scoped
//! to that rule. The rule's input names what to run, `{"deploy-action": "schedule",
//! "function": "module:function", ...}` (or `{"deploy-action": "keep-warm"}`), and the
//! generated Python adapter dispatches on it.
//!
//! Which rules belong to a function is recorded in the function's tag
//! `deploy-action:schedules` (their names, space-separated): the deploy reads tags anyway,
//! so a function without schedules costs no request at all, and rules dropped from the
//! settings (or the whole stage on teardown) are found and removed without listing the
//! account's rules.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::{RuleState, Tag, Target};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::aws::Aws;
use crate::aws::errors::{is_conflict, is_not_found, wrap};
use crate::aws::lambda::{TAG_APP, TAG_STAGE};
use crate::config::ArtifactSource;
use crate::error::{Error, Result};
use crate::naming::LIVE_ALIAS;

/// The function tag that lists its schedules.
pub(crate) const TAG_SCHEDULES: &str = "deploy-action:schedules";
/// The name of the keep-warm rule's schedule.
pub(crate) const KEEP_WARM: &str = "keep-warm";
/// EventBridge's limit on rule names.
const MAX_RULE_NAME: usize = 64;
/// The target id of our rules (one target each: `live`).
const TARGET_ID: &str = "live";

/// One schedule: a rule that runs `target` (module:function), or the keep-warm ping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Schedule {
    pub name: String,
    pub expression: String,
    /// `module:function`; `None` for the keep-warm ping.
    pub target: Option<String>,
}

impl Schedule {
    /// The rule's input: what the adapter dispatches on.
    #[must_use]
    pub(crate) fn input(&self) -> String {
        match &self.target {
            Some(t) => serde_json::json!({
                "deploy-action": "schedule",
                "schedule": self.name,
                "function": t,
            })
            .to_string(),
            None => serde_json::json!({"deploy-action": KEEP_WARM}).to_string(),
        }
    }
}

/// Parse `--schedule NAME=EXPR=module:function` and `--keep-warm EXPR` (exit 2 on what
/// EventBridge would reject).
pub(crate) fn resolve(schedules: &[String], keep_warm: Option<&str>) -> Result<Vec<Schedule>> {
    let mut out: Vec<Schedule> = Vec::new();
    for spec in schedules.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let help = "use --schedule 'NAME=rate(1 hour)=module:function' or 'NAME=cron(0 12 * * ? *)=module:function'";
        let (Some((name, rest)), true) = (spec.split_once('='), spec.matches('=').count() >= 2)
        else {
            return Err(Error::invalid(
                "--schedule",
                format!("{spec:?} is not NAME=EXPRESSION=module:function"),
                help,
            ));
        };
        let (expression, target) = rest.rsplit_once('=').unwrap_or((rest, ""));
        let name = name.trim();
        if name.is_empty()
            || name.len() > MAX_RULE_NAME
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Error::invalid(
                "--schedule",
                format!("{name:?} is not a schedule name"),
                "names have letters, digits, - and _ (e.g. nightly-report)",
            ));
        }
        if name == KEEP_WARM {
            return Err(Error::invalid(
                "--schedule",
                "the name keep-warm is reserved for --keep-warm",
                "choose another name, or use --keep-warm EXPR for warm-up pings",
            ));
        }
        if out.iter().any(|s| s.name == name) {
            return Err(Error::invalid(
                "--schedule",
                format!("two schedules are named {name}"),
                "give each schedule its own name",
            ));
        }
        check_expression("--schedule", expression.trim())?;
        let target = target.trim();
        let ok = target.split_once(':').is_some_and(|(m, f)| {
            !m.is_empty() && !f.is_empty() && m.split('.').all(is_identifier) && is_identifier(f)
        });
        if !ok {
            return Err(Error::invalid(
                "--schedule",
                format!("{target:?} is not module:function"),
                help,
            ));
        }
        out.push(Schedule {
            name: name.to_string(),
            expression: expression.trim().to_string(),
            target: Some(target.to_string()),
        });
    }
    if let Some(expr) = keep_warm.map(str::trim).filter(|e| !e.is_empty()) {
        check_expression("--keep-warm", expr)?;
        out.push(Schedule {
            name: KEEP_WARM.into(),
            expression: expr.to_string(),
            target: None,
        });
    }
    let tag_len: usize = out.iter().map(|s| s.name.len() + 1).sum();
    if tag_len > 257 {
        return Err(Error::invalid(
            "--schedule",
            "the schedules' names take more than 256 characters together",
            "use fewer or shorter schedule names",
        ));
    }
    Ok(out)
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// EventBridge's schedule grammar (EventBridge user guide, "Schedule expressions for rules"):
/// `rate(value unit)` with a positive whole value, the unit singular for 1 and plural
/// otherwise; `cron(minutes hours day-of-month month day-of-week year)` with exactly one of
/// day-of-month and day-of-week being `?`.
pub(crate) fn check_expression(flag: &'static str, expr: &str) -> Result<()> {
    let bad = |why: String| {
        Error::invalid(
            flag,
            format!("{expr:?}: {why}"),
            "use rate(5 minutes), rate(1 hour), rate(2 days), or cron(0 12 * * ? *) (6 fields, `?` in day-of-month or day-of-week)",
        )
    };
    if let Some(inner) = expr.strip_prefix("rate(").and_then(|e| e.strip_suffix(')')) {
        let parts: Vec<&str> = inner.split_whitespace().collect();
        let [value, unit] = parts.as_slice() else {
            return Err(bad("a rate is a number and a unit".into()));
        };
        let n: u64 = value
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| bad(format!("{value} is not a positive whole number")))?;
        let singular = ["minute", "hour", "day"];
        let plural = ["minutes", "hours", "days"];
        let ok = if n == 1 {
            singular.contains(unit)
        } else {
            plural.contains(unit)
        };
        if !ok {
            return Err(bad(if n == 1 && plural.contains(unit) {
                format!(
                    "a rate of 1 takes the singular: 1 {}",
                    unit.trim_end_matches('s')
                )
            } else if singular.contains(unit) {
                format!("a rate of {n} takes the plural: {n} {unit}s")
            } else {
                format!("{unit} is not minute(s), hour(s) or day(s)")
            }));
        }
        return Ok(());
    }
    if let Some(inner) = expr.strip_prefix("cron(").and_then(|e| e.strip_suffix(')')) {
        let fields: Vec<&str> = inner.split_whitespace().collect();
        if fields.len() != 6 {
            return Err(bad(format!(
                "a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), not {}",
                fields.len()
            )));
        }
        let (dom, dow) = (fields[2], fields[4]);
        if (dom == "?") == (dow == "?") {
            return Err(bad(
                "exactly one of day-of-month and day-of-week must be `?`".into(),
            ));
        }
        let specs: [(&str, u32, u32, &str); 6] = [
            ("minutes", 0, 59, ",-*/"),
            ("hours", 0, 23, ",-*/"),
            ("day-of-month", 1, 31, ",-*?/LW"),
            ("month", 1, 12, ",-*/"),
            ("day-of-week", 1, 7, ",-*?L#"),
            ("year", 1970, 2199, ",-*/"),
        ];
        for (field, (what, lo, hi, extra)) in fields.iter().zip(specs) {
            let names: &[&str] = match what {
                "month" => &[
                    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV",
                    "DEC",
                ],
                "day-of-week" => &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
                _ => &[],
            };
            let mut rest = field.to_ascii_uppercase();
            for n in names {
                rest = rest.replace(n, "1");
            }
            if !rest
                .chars()
                .all(|c| c.is_ascii_digit() || extra.contains(c))
            {
                return Err(bad(format!(
                    "{what} {field:?} has characters cron doesn't allow there"
                )));
            }
            for number in rest
                .split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
            {
                let v: u32 = number.parse().unwrap_or(u32::MAX);
                // After `/` comes an increment, after `#` the nth weekday: only bounded by use.
                let after_step = field.contains('/') || field.contains('#');
                if !after_step && !(lo..=hi).contains(&v) {
                    return Err(bad(format!("{what} {v} is outside {lo}-{hi}")));
                }
            }
        }
        return Ok(());
    }
    Err(bad("a schedule is rate(...) or cron(...)".into()))
}

/// Each schedule's `module:function` must exist in the app (exit 2 otherwise): a
/// `module.py` or `module/__init__.py` that defines `function` at its top level.
pub(crate) fn check_targets(source: &ArtifactSource, schedules: &[Schedule]) -> Result<()> {
    let targets: Vec<&str> = schedules
        .iter()
        .filter_map(|s| s.target.as_deref())
        .collect();
    if targets.is_empty() {
        return Ok(());
    }
    let read: SourceReader = match source {
        ArtifactSource::Python { source, .. } => {
            let dir = source.clone();
            Box::new(move |p: &str| std::fs::read_to_string(dir.join(p)).ok())
        }
        ArtifactSource::Prebuilt { path } if path.is_dir() => {
            let dir = path.clone();
            Box::new(move |p: &str| std::fs::read_to_string(dir.join(p)).ok())
        }
        ArtifactSource::Prebuilt { path } => {
            let path = path.clone();
            Box::new(move |p: &str| read_zip_entry(&path, p))
        }
        ArtifactSource::Rust { .. } => {
            return Err(Error::invalid(
                "--schedule",
                "schedules call a Python module:function through the generated adapter; a Rust function gets no adapter",
                "deploy a Python app for schedules, or handle EventBridge events in the Rust handler and create the rule yourself",
            ));
        }
    };
    for target in targets {
        let (module, function) = target.split_once(':').unwrap_or((target, ""));
        let base = module.replace('.', "/");
        let text = read(&format!("{base}.py")).or_else(|| read(&format!("{base}/__init__.py")));
        let Some(text) = text else {
            return Err(Error::invalid(
                "--schedule",
                format!(
                    "module {module} of {target} is not in the app (no {base}.py or {base}/__init__.py)"
                ),
                "name a module of the app's source, e.g. jobs:nightly for jobs.py",
            ));
        };
        if !defines(&text, function) {
            return Err(Error::invalid(
                "--schedule",
                format!("{base}.py defines no top-level {function} for {target}"),
                "name a function defined at the module's top level (def NAME(event, context))",
            ));
        }
    }
    Ok(())
}

/// Reads a file of the app by its path inside the bundle.
type SourceReader = Box<dyn Fn(&str) -> Option<String>>;

fn read_zip_entry(zip: &Path, name: &str) -> Option<String> {
    let file = std::fs::File::open(zip).ok()?;
    let mut archive = zip::ZipArchive::new(file).ok()?;
    let mut entry = archive.by_name(name).ok()?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut entry, &mut text).ok()?;
    Some(text)
}

/// Whether Python source defines `name` at its top level (def, async def, or assignment).
fn defines(text: &str, name: &str) -> bool {
    text.lines().any(|line| {
        let rest = line
            .strip_prefix("async def ")
            .or_else(|| line.strip_prefix("def "))
            .map(|r| r.trim_start());
        match rest {
            Some(r) => r
                .strip_prefix(name)
                .is_some_and(|after| after.trim_start().starts_with('(')),
            None => line.strip_prefix(name).is_some_and(|after| {
                let after = after.trim_start();
                after.starts_with('=') && !after.starts_with("==") || after.starts_with(':')
            }),
        }
    })
}

fn short_hash(s: &str) -> String {
    hex::encode(&Sha256::digest(s.as_bytes())[..4])
}

/// The rule name of a schedule: `<function>.<name>` (function names have no `.`, so rules
/// of different functions never share a name); cut and hashed when longer than 64.
#[must_use]
pub(crate) fn rule_name(function: &str, schedule: &str) -> String {
    let full = format!("{function}.{schedule}");
    if full.len() <= MAX_RULE_NAME {
        return full;
    }
    let hash = short_hash(&full);
    let prefix: String = function.chars().take(31).collect();
    let room = MAX_RULE_NAME - prefix.len() - 1 - 1 - hash.len();
    let cut: String = schedule.chars().take(room).collect();
    format!("{prefix}.{cut}-{hash}")
}

fn sid(schedule: &str) -> String {
    format!("deploy-action-events-{schedule}")
}

/// The schedules the function's tag records.
#[must_use]
pub(crate) fn recorded(tags: &HashMap<String, String>) -> BTreeSet<String> {
    tags.get(TAG_SCHEDULES)
        .map(|v| v.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Keep the rules, their targets and permissions as `want` says; remove the ones the tag
/// records that are no longer wanted. `alias_arn` is `live`'s ARN.
pub(crate) async fn sync(
    aws: &Aws,
    function: &str,
    app: &str,
    stage: &str,
    want: &[Schedule],
    tags: &HashMap<String, String>,
    alias_arn: &str,
) -> Result<()> {
    let had = recorded(tags);
    if want.is_empty() && had.is_empty() {
        return Ok(());
    }
    let client = Client::new(&aws.config);
    let lambda = crate::aws::lambda::Function::new(&aws.lambda, function);
    let sids = live_sids(aws, function).await?;
    for s in want {
        let rule = rule_name(function, &s.name);
        let arn = keep_rule(&client, &rule, s, function, app, stage).await?;
        keep_target(&client, &rule, s, alias_arn).await?;
        if !sids.contains(&sid(&s.name)) {
            match aws
                .lambda
                .add_permission()
                .function_name(function)
                .qualifier(LIVE_ALIAS)
                .statement_id(sid(&s.name))
                .action("lambda:InvokeFunction")
                .principal("events.amazonaws.com")
                .source_arn(&arn)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if is_conflict(&e) => {}
                Err(e) => {
                    return Err(wrap(
                        "schedules",
                        "AddPermission",
                        format!("{function}:{LIVE_ALIAS}"),
                        e,
                    ));
                }
            }
        }
    }
    let wanted: BTreeSet<String> = want.iter().map(|s| s.name.clone()).collect();
    for gone in had.difference(&wanted) {
        delete_rule(&client, &rule_name(function, gone)).await?;
        if sids.contains(&sid(gone)) {
            match aws
                .lambda
                .remove_permission()
                .function_name(function)
                .qualifier(LIVE_ALIAS)
                .statement_id(sid(gone))
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => {
                    return Err(wrap(
                        "schedules",
                        "RemovePermission",
                        format!("{function}:{LIVE_ALIAS}"),
                        e,
                    ));
                }
            }
        }
        tracing::info!("removed schedule {gone}");
    }
    if had != wanted {
        let function_arn = alias_arn.trim_end_matches(&format!(":{LIVE_ALIAS}"));
        if wanted.is_empty() {
            aws.lambda
                .untag_resource()
                .resource(function_arn)
                .tag_keys(TAG_SCHEDULES)
                .send()
                .await
                .map_err(|e| wrap("schedules", "UntagResource", function, e))?;
        } else {
            let names: Vec<&str> = wanted.iter().map(String::as_str).collect();
            lambda
                .tag(function_arn, &[(TAG_SCHEDULES, &names.join(" "))])
                .await?;
        }
    }
    Ok(())
}

/// Statement ids on `live` (none when it has no policy).
async fn live_sids(aws: &Aws, function: &str) -> Result<BTreeSet<String>> {
    match aws
        .lambda
        .get_policy()
        .function_name(function)
        .qualifier(LIVE_ALIAS)
        .send()
        .await
    {
        Ok(p) => {
            let doc: serde_json::Value =
                serde_json::from_str(p.policy().unwrap_or("{}")).unwrap_or_default();
            Ok(doc["Statement"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s["Sid"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default())
        }
        Err(e) if is_not_found(&e) => Ok(BTreeSet::new()),
        Err(e) => Err(wrap(
            "schedules",
            "GetPolicy",
            format!("{function}:{LIVE_ALIAS}"),
            e,
        )),
    }
}

/// The rule with our expression, enabled; returns its ARN.
async fn keep_rule(
    client: &Client,
    rule: &str,
    s: &Schedule,
    function: &str,
    app: &str,
    stage: &str,
) -> Result<String> {
    let description = match &s.target {
        Some(t) => format!("deploy-action: {t} of {function}"),
        None => format!("deploy-action: keep {function} warm"),
    };
    let existing = match client.describe_rule().name(rule).send().await {
        Ok(r) => Some(r),
        Err(e) if is_not_found(&e) => None,
        Err(e) => return Err(wrap("schedules", "DescribeRule", rule, e)),
    };
    if let Some(r) = &existing
        && r.schedule_expression() == Some(s.expression.as_str())
        && r.state() == Some(&RuleState::Enabled)
        && r.description() == Some(description.as_str())
        && let Some(arn) = r.arn()
    {
        return Ok(arn.to_string());
    }
    let mut req = client
        .put_rule()
        .name(rule)
        .schedule_expression(&s.expression)
        .state(RuleState::Enabled)
        .description(&description);
    if existing.is_none() {
        // Tags only on create: PutRule on an existing rule doesn't change them.
        for (k, v) in [(TAG_APP, app), (TAG_STAGE, stage)] {
            req = req.tags(
                Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|e| Error::Internal(e.to_string()))?,
            );
        }
    }
    let out = req
        .send()
        .await
        .map_err(|e| wrap("schedules", "PutRule", rule, e))?;
    tracing::info!(
        "{} schedule {} ({})",
        if existing.is_some() {
            "updated"
        } else {
            "created"
        },
        s.name,
        s.expression
    );
    Ok(out.rule_arn().unwrap_or_default().to_string())
}

/// One target: `live`, with the schedule's input.
async fn keep_target(client: &Client, rule: &str, s: &Schedule, alias_arn: &str) -> Result<()> {
    let targets = client
        .list_targets_by_rule()
        .rule(rule)
        .send()
        .await
        .map_err(|e| wrap("schedules", "ListTargetsByRule", rule, e))?;
    let input = s.input();
    let mut ok = false;
    let mut stray = Vec::new();
    for t in targets.targets() {
        if t.id() == TARGET_ID {
            ok = t.arn() == alias_arn && t.input() == Some(input.as_str());
        } else {
            stray.push(t.id().to_string());
        }
    }
    if !ok {
        client
            .put_targets()
            .rule(rule)
            .targets(
                Target::builder()
                    .id(TARGET_ID)
                    .arn(alias_arn)
                    .input(&input)
                    .build()
                    .map_err(|e| Error::Internal(e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| wrap("schedules", "PutTargets", rule, e))?;
    }
    if !stray.is_empty() {
        client
            .remove_targets()
            .rule(rule)
            .set_ids(Some(stray))
            .send()
            .await
            .map_err(|e| wrap("schedules", "RemoveTargets", rule, e))?;
    }
    Ok(())
}

/// Remove a rule's target, then the rule (EventBridge refuses to delete a rule with targets).
async fn delete_rule(client: &Client, rule: &str) -> Result<()> {
    match client
        .remove_targets()
        .rule(rule)
        .ids(TARGET_ID)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(wrap("schedules", "RemoveTargets", rule, e)),
    }
    match client.delete_rule().name(rule).send().await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(wrap("schedules", "DeleteRule", rule, e)),
    }
}

/// Teardown: every rule the function's tag records.
pub(crate) async fn teardown(
    aws: &Aws,
    function: &str,
    tags: &HashMap<String, String>,
) -> Result<()> {
    let had = recorded(tags);
    if had.is_empty() {
        return Ok(());
    }
    let client = Client::new(&aws.config);
    for name in &had {
        delete_rule(&client, &rule_name(function, name)).await?;
        tracing::info!("removed schedule {name}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_follow_eventbridge() {
        for ok in [
            "rate(1 minute)",
            "rate(5 minutes)",
            "rate(1 hour)",
            "rate(2 days)",
            "cron(0 12 * * ? *)",
            "cron(15 10 ? * 6L 2026-2030)",
            "cron(0/15 * ? * MON-FRI *)",
            "cron(0 8 1 * ? *)",
            "cron(0 9 ? * 2#1 *)",
        ] {
            assert!(check_expression("--schedule", ok).is_ok(), "{ok}");
        }
        for bad in [
            "rate(1 hours)",
            "rate(5 minute)",
            "rate(0 minutes)",
            "rate(5 weeks)",
            "rate(five minutes)",
            "cron(0 12 * * *)",
            "cron(0 12 * * * *)",
            "cron(0 12 ? * ? *)",
            "cron(61 12 * * ? *)",
            "cron(0 25 * * ? *)",
            "every 5 minutes",
        ] {
            assert!(check_expression("--schedule", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn schedules_parse_and_names_are_checked() {
        let s = resolve(
            &["nightly=cron(0 3 * * ? *)=jobs.report:run".into()],
            Some("rate(5 minutes)"),
        )
        .unwrap();
        assert_eq!(s[0].target.as_deref(), Some("jobs.report:run"));
        assert_eq!(s[1].name, KEEP_WARM);
        assert!(resolve(&["keep-warm=rate(1 hour)=a:b".into()], None).is_err());
        assert!(resolve(&["x=rate(1 hour)".into()], None).is_err());
        assert!(resolve(&["x=rate(1 hour)=nofunction".into()], None).is_err());
        assert!(resolve(&["a b=rate(1 hour)=m:f".into()], None).is_err());
    }

    #[test]
    fn rule_names_fit_and_stay_apart() {
        assert_eq!(rule_name("hello-main", "nightly"), "hello-main.nightly");
        let long = "a".repeat(64);
        let n = rule_name(&long, "nightly-report-for-everyone");
        assert!(n.len() <= 64, "{n}");
        assert_ne!(n, rule_name(&long, "nightly-report-for-everyone2"));
    }

    #[test]
    fn top_level_definitions_are_found() {
        let src = "import x\n\ndef run(event, context):\n    pass\nasync def other (e, c): ...\nvalue = 1\n    def nested(): pass\n";
        assert!(defines(src, "run"));
        assert!(defines(src, "other"));
        assert!(defines(src, "value"));
        assert!(!defines(src, "nested"));
        assert!(!defines(src, "ru"));
    }
}
