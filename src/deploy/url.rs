//! The function URL on `live` and the resource-policy statements a public URL needs
//! (docs/contract.md, "Function URL"): `lambda:InvokeFunctionUrl` with `lambda:FunctionUrlAuthType =
//! NONE`, and `lambda:InvokeFunction` with `lambda:InvokedViaFunctionUrl = true`, both scoped
//! to `live`. Since October 2025 Lambda needs both for a public URL; with only the first the
//! URL answers 403.
//!
//! A 409 ResourceConflictException on these writes means one of two things: the statement id
//! exists already, or an update of the function is in progress. We never take it for "done":
//! the policy is read again, a statement that is exactly ours counts as done, a different one
//! under our id is replaced, and a missing one is added again after a pause.

use std::time::{Duration, Instant};

use aws_sdk_lambda::types::FunctionUrlAuthType;
use serde_json::Value;

use crate::aws::lambda::{Function, Permission, SID_URL, SID_URL_INVOKE};
use crate::config::UrlMode;
use crate::error::{Error, Result};

/// How long to keep trying a statement that 409s ("update in progress") before giving up.
const PERMISSION_BUDGET: Duration = Duration::from_secs(120);

/// Keep the function URL on `live` and its permissions as `mode` wants them; both at once.
/// Returns the URL.
pub(crate) async fn keep(function: &Function<'_>, mode: UrlMode) -> Result<Option<String>> {
    let (url, ()) = tokio::try_join!(upsert(function, mode), sync_permissions(function, mode))?;
    Ok(url)
}

/// The URL config on `live` with the wanted auth type (none: removed).
async fn upsert(function: &Function<'_>, mode: UrlMode) -> Result<Option<String>> {
    let want = match mode {
        UrlMode::Public => FunctionUrlAuthType::None,
        UrlMode::Iam => FunctionUrlAuthType::AwsIam,
        UrlMode::None => {
            if let Some(existing) = function.url_config().await? {
                function.delete_url().await?;
                function.tag_url(&existing.function_arn, None).await;
            }
            return Ok(None);
        }
    };
    let deadline = Instant::now() + PERMISSION_BUDGET;
    let mut delay = Duration::from_millis(200);
    loop {
        match function.url().await? {
            Some((url, auth)) if auth == want => return Ok(Some(url)),
            Some(_) => return function.update_url(want).await.map(Some),
            None => {
                if let Some(created) = function.create_url(want.clone()).await? {
                    function
                        .tag_url(&created.function_arn, Some(&created.url))
                        .await;
                    return Ok(Some(created.url));
                }
                // 409: created meanwhile by another run, or the function is busy. Read again.
            }
        }
        if Instant::now() >= deadline {
            return Err(busy(function, "CreateFunctionUrlConfig"));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// The two public statements (docs/contract.md, "Function URL").
fn public_statements() -> [Permission; 2] {
    [
        Permission {
            sid: SID_URL.into(),
            action: "lambda:InvokeFunctionUrl",
            principal: "*",
            url_auth_type: Some(FunctionUrlAuthType::None),
            invoked_via_function_url: None,
            source_arn: None,
        },
        Permission {
            sid: SID_URL_INVOKE.into(),
            action: "lambda:InvokeFunction",
            principal: "*",
            url_auth_type: None,
            invoked_via_function_url: Some(true),
            source_arn: None,
        },
    ]
}

/// Public URLs need both statements; other modes must not leave them behind.
async fn sync_permissions(function: &Function<'_>, mode: UrlMode) -> Result<()> {
    if mode == UrlMode::Public {
        let statements = function.policy_statements().await?;
        for want in public_statements() {
            ensure_statement(function, &want, &statements).await?;
        }
    } else {
        let statements = function.policy_statements().await?;
        for sid in [SID_URL, SID_URL_INVOKE] {
            if find(&statements, sid).is_some() {
                function.remove_permission(sid).await?;
            }
        }
    }
    Ok(())
}

/// Make `want` a statement of `live`'s policy, starting from `statements` (a fresh read).
pub(crate) async fn ensure_statement(
    function: &Function<'_>,
    want: &Permission,
    statements: &[Value],
) -> Result<()> {
    let deadline = Instant::now() + PERMISSION_BUDGET;
    let mut delay = Duration::from_millis(200);
    let mut seen = Some(statements.to_vec());
    loop {
        let statements = match seen.take() {
            Some(s) => s,
            None => function.policy_statements().await?,
        };
        match find(&statements, &want.sid) {
            Some(existing) if matches(existing, want) => return Ok(()),
            Some(_) => {
                tracing::info!(
                    "{}: statement {} differs from the one a public URL needs; replacing it",
                    function.name,
                    want.sid
                );
                function.remove_permission(&want.sid).await?;
            }
            None => {}
        }
        if function.add_permission(want).await? {
            return Ok(());
        }
        // 409: the id exists (someone added it since our read) or the function is busy.
        // The next read tells which.
        if Instant::now() >= deadline {
            return Err(busy(function, "AddPermission"));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

fn busy(function: &Function<'_>, operation: &'static str) -> Error {
    Error::NotReady {
        step: "url",
        function: function.name.to_string(),
        message: format!(
            "{operation} kept answering 409 ResourceConflictException for {} s",
            PERMISSION_BUDGET.as_secs()
        ),
        help: Some("another deploy of this stage may be running; run the deploy again".into()),
    }
}

fn find<'s>(statements: &'s [Value], sid: &str) -> Option<&'s Value> {
    statements
        .iter()
        .find(|s| s.get("Sid").and_then(Value::as_str) == Some(sid))
}

/// Whether a policy statement (as GetPolicy returns it) grants what `want` asks for.
fn matches(statement: &Value, want: &Permission) -> bool {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let allow = text(statement.get("Effect")).as_deref() == Some("Allow");
    let action = match statement.get("Action") {
        Some(Value::String(a)) => a == want.action,
        Some(Value::Array(list)) => list.len() == 1 && list[0].as_str() == Some(want.action),
        _ => false,
    };
    // "*" comes back as "*" or {"AWS": "*"}.
    let principal = match statement.get("Principal") {
        Some(Value::String(p)) => p == want.principal,
        Some(Value::Object(o)) => o.values().any(|p| p.as_str() == Some(want.principal)),
        _ => false,
    };
    let condition = statement.get("Condition");
    let has_condition = |key: &str, value: &str| {
        condition.and_then(Value::as_object).is_some_and(|ops| {
            ops.values().any(|kv| {
                kv.get(key)
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.eq_ignore_ascii_case(value))
            })
        })
    };
    let url_auth = want
        .url_auth_type
        .as_ref()
        .is_none_or(|auth| has_condition("lambda:FunctionUrlAuthType", auth.as_str()));
    let via_url = want
        .invoked_via_function_url
        .is_none_or(|via| has_condition("lambda:InvokedViaFunctionUrl", &via.to_string()));
    allow && action && principal && url_auth && via_url
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn our_statements_match_as_lambda_returns_them() {
        let [url, invoke] = public_statements();
        // As real Lambda shows them in GetPolicy.
        let url_statement = json!({"Sid": "deploy-action-url", "Effect": "Allow",
            "Principal": "*", "Action": "lambda:InvokeFunctionUrl",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:hello-main:live",
            "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}});
        let invoke_statement = json!({"Sid": "deploy-action-url-invoke", "Effect": "Allow",
            "Principal": {"AWS": "*"}, "Action": "lambda:InvokeFunction",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:hello-main:live",
            "Condition": {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}});
        assert!(matches(&url_statement, &url));
        assert!(matches(&invoke_statement, &invoke));
        assert!(!matches(&url_statement, &invoke));
    }

    #[test]
    fn a_statement_under_our_id_that_grants_something_else_does_not_match() {
        let [url, invoke] = public_statements();
        let iam_only = json!({"Sid": "deploy-action-url", "Effect": "Allow",
            "Principal": "*", "Action": "lambda:InvokeFunctionUrl",
            "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}}});
        assert!(!matches(&iam_only, &url));
        let unconditional = json!({"Sid": "deploy-action-url-invoke", "Effect": "Allow",
            "Principal": "arn:aws:iam::123456789012:root", "Action": "lambda:InvokeFunction"});
        assert!(!matches(&unconditional, &invoke));
        let denied = json!({"Sid": "deploy-action-url", "Effect": "Deny", "Principal": "*",
            "Action": "lambda:InvokeFunctionUrl",
            "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}});
        assert!(!matches(&denied, &url));
    }
}
