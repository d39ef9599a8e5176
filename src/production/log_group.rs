//! The function's log group, `/aws/lambda/<function>`, with a retention. Lambda creates the
//! group itself on the first invocation, with logs kept forever (and billed forever): we
//! create it first, before the function can run, and keep its retention as configured.

use aws_sdk_cloudwatchlogs::Client;

use crate::aws::Aws;
use crate::aws::errors::{is_code, is_not_found, wrap};
use crate::aws::lambda::{TAG_APP, TAG_STAGE};
use crate::error::Result;

/// The retentions CloudWatch Logs accepts (PutRetentionPolicy, `retentionInDays`).
pub(crate) const ALLOWED_DAYS: &[i32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Lambda's default log group of a function.
#[must_use]
pub(crate) fn name(function: &str) -> String {
    format!("/aws/lambda/{function}")
}

/// What there is now: `None` when the group doesn't exist; `Some(None)` when it keeps logs
/// forever.
pub(crate) async fn observe(aws: &Aws, function: &str) -> Result<Option<Option<i32>>> {
    let client = Client::new(&aws.config);
    let group = name(function);
    // The prefix is the exact name: at most this group and groups of longer names.
    let answer = client
        .describe_log_groups()
        .log_group_name_prefix(&group)
        .send()
        .await
        .map_err(|e| wrap("log group", "DescribeLogGroups", &group, e))?;
    Ok(answer
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(group.as_str()))
        .map(|g| g.retention_in_days()))
}

/// Make the group exist with `days` of retention; writes only what differs. Returns whether
/// anything was written.
pub(crate) async fn sync(
    aws: &Aws,
    function: &str,
    app: &str,
    stage: &str,
    days: i32,
    seen: Option<Option<i32>>,
) -> Result<bool> {
    let client = Client::new(&aws.config);
    let group = name(function);
    match seen {
        Some(Some(current)) if current == days => return Ok(false),
        Some(current) => tracing::info!(
            "log group {group}: retention {} → {days} days",
            current.map_or_else(|| "forever".to_string(), |d| format!("{d} days"))
        ),
        None => {
            match client
                .create_log_group()
                .log_group_name(&group)
                .tags(TAG_APP, app)
                .tags(TAG_STAGE, stage)
                .send()
                .await
            {
                Ok(_) => tracing::info!("created log group {group} ({days} days retention)"),
                // The function ran meanwhile and Lambda made it: set its retention.
                Err(e) if is_code(&e, "ResourceAlreadyExistsException") => {}
                Err(e) => return Err(wrap("log group", "CreateLogGroup", &group, e)),
            }
        }
    }
    client
        .put_retention_policy()
        .log_group_name(&group)
        .retention_in_days(days)
        .send()
        .await
        .map_err(|e| wrap("log group", "PutRetentionPolicy", &group, e))?;
    Ok(true)
}

/// Delete the group (teardown); `false` when it was not there.
pub(crate) async fn delete(aws: &Aws, function: &str) -> Result<bool> {
    let client = Client::new(&aws.config);
    let group = name(function);
    match client
        .delete_log_group()
        .log_group_name(&group)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(wrap("teardown", "DeleteLogGroup", group, e)),
    }
}
