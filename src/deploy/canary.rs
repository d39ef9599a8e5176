//! Smoke checks and canaries: the gate between "published" and "live" in a deploy.
//!
//! `deploy --smoke-path /healthz` invokes the new version directly (Invoke with the version
//! as qualifier, a function-URL GET event for the path) before `live` moves, and refuses to
//! move it unless the answer has the expected status. `--canary PERCENT` then gives the new
//! version that share of `live`'s traffic (alias routing), holds it `--canary-minutes`
//! while checking again, and leaves the full shift (which clears the routing) to the alias
//! step. Any failed check takes the weight away again, so all traffic stays on the old
//! version, and the deploy fails with the answer that failed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::alias::{self, Intent, Outcome};
use crate::aws::lambda::{AliasState, Function, FunctionConfig, Invocation};
use crate::config::DeployConfig;
use crate::error::{Error, Result};
use crate::naming::LIVE_ALIAS;
use crate::plan;

/// The path checked when `--canary` is given without `--smoke-path`.
pub(crate) const DEFAULT_SMOKE_PATH: &str = "/";
/// Longest excerpt of a failing answer shown in the error.
const EXCERPT: usize = 400;
/// How often the canary is checked while it holds its share.
const CHECK_EVERY: Duration = Duration::from_secs(60);

/// How long the canary holds its share; `DEPLOY_ACTION_TEST_CANARY_SECONDS` shortens it
/// in tests.
fn hold_time(minutes: u32) -> Duration {
    std::env::var("DEPLOY_ACTION_TEST_CANARY_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(u64::from(minutes) * 60), |s| {
            Duration::from_secs(s)
        })
}

/// Whether a deploy with these settings checks the new version before `live` moves.
#[must_use]
pub(crate) fn enabled(rollout: &crate::config::Rollout) -> bool {
    rollout.canary_percent.is_some() || rollout.smoke_path.is_some()
}

/// Run the checks for `new` before the alias step moves `live` to it. Returns `Ok` when
/// `live` may move: no checks asked for, the checks passed, or there is nothing to gate
/// (live runs `new` already, or a newer run is live and the alias step will say so).
pub(crate) async fn gate(
    function: &Function<'_>,
    cfg: &DeployConfig,
    new: &FunctionConfig,
) -> Result<()> {
    let rollout = &cfg.rollout;
    if !enabled(rollout) {
        return Ok(());
    }
    let path = rollout.smoke_path.as_deref().unwrap_or(DEFAULT_SMOKE_PATH);
    let current = function.alias(LIVE_ALIAS).await?;
    if let Some(cur) = &current {
        if cur.version == new.version {
            return Ok(());
        }
        if !cfg.force && plan::superseded_by(&cfg.provenance, &cur.description).is_some() {
            return Ok(());
        }
    }

    // Before any traffic: the new version, directly.
    check(function, &new.version, path, rollout.smoke_status).await?;

    // A first deploy has nothing to share traffic with: the alias step creates `live`.
    let (Some(percent), Some(_)) = (rollout.canary_percent, &current) else {
        return Ok(());
    };
    let weight = f64::from(percent) / 100.0;
    if !set_weight(function, cfg, &new.version, Some(weight)).await? {
        // Someone else moved live meanwhile; the alias step sorts it out.
        return Ok(());
    }
    tracing::info!(
        "canary: version {} takes {percent}% of live's traffic",
        new.version
    );
    let hold = hold_time(rollout.canary_minutes);
    let deadline = Instant::now() + hold;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(left.min(CHECK_EVERY)).await;
        if let Err(failed) = check(function, &new.version, path, rollout.smoke_status).await {
            tracing::warn!("canary failed; taking its weight away");
            if let Err(e) = set_weight(function, cfg, &new.version, None).await {
                return Err(Error::SmokeFailed {
                    function: function.name.to_string(),
                    version: new.version.clone(),
                    message: format!(
                        "{}; removing the canary weight failed too ({e}): check live's routing",
                        smoke_message(&failed)
                    ),
                });
            }
            return Err(failed);
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    tracing::info!(
        "canary: version {} healthy after {hold:?}; shifting all traffic",
        new.version
    );
    Ok(())
}

fn smoke_message(e: &Error) -> String {
    match e {
        Error::SmokeFailed { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// Give `version` a share of `live` (`Some(weight)`), or take it away (`None`), keeping
/// `live`'s primary version and description. `false` when `live` no longer runs what we
/// canary against (another run moved it).
async fn set_weight(
    function: &Function<'_>,
    cfg: &DeployConfig,
    version: &str,
    weight: Option<f64>,
) -> Result<bool> {
    let outcome = alias::compare_and_set(function, "canary", None, |current| {
        let Some(cur) = current else {
            return Ok(Intent::Stop(false));
        };
        let routing = match weight {
            Some(w) => {
                if cur.version == version
                    || (!cfg.force
                        && plan::superseded_by(&cfg.provenance, &cur.description).is_some())
                {
                    return Ok(Intent::Stop(false));
                }
                HashMap::from([(version.to_string(), w)])
            }
            None => {
                if !cur.routing.contains_key(version) {
                    return Ok(Intent::Stop(true));
                }
                without(cur, version)
            }
        };
        Ok(Intent::Write {
            version: cur.version.clone(),
            description: cur.description.clone(),
            routing,
        })
    })
    .await?;
    Ok(match outcome {
        Outcome::Stopped(moved) => moved,
        Outcome::Written { .. } => true,
    })
}

fn without(alias: &AliasState, version: &str) -> HashMap<String, f64> {
    alias
        .routing
        .iter()
        .filter(|(v, _)| v.as_str() != version)
        .map(|(v, w)| (v.clone(), *w))
        .collect()
}

/// One smoke check: GET `path` on `version`, expecting `want`.
pub(crate) async fn check(
    function: &Function<'_>,
    version: &str,
    path: &str,
    want: u16,
) -> Result<()> {
    let region = function
        .client
        .config()
        .region()
        .map_or_else(|| "us-east-1".to_string(), ToString::to_string);
    let event = url_event(path, &region, now());
    let payload = serde_json::to_vec(&event).map_err(|e| Error::Internal(e.to_string()))?;
    let answer = function.invoke(version, payload).await?;
    match judge(&answer, path, want) {
        Ok(status) => {
            tracing::info!("smoke check: GET {path} on version {version} answered {status}");
            Ok(())
        }
        Err(message) => Err(Error::SmokeFailed {
            function: function.name.to_string(),
            version: version.to_string(),
            message,
        }),
    }
}

/// When the event says the request arrived.
fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// A function-URL request event (payload format 2.0) for `GET path`, as Lambda builds it
/// for a request to the function URL.
#[must_use]
pub(crate) fn url_event(path: &str, region: &str, at: time::OffsetDateTime) -> Value {
    let (raw_path, query) = path.split_once('?').unwrap_or((path, ""));
    let domain_prefix = "deploy-action-smoke-check";
    let domain = format!("{domain_prefix}.lambda-url.{region}.on.aws");
    let user_agent = concat!("deploy-action-smoke-check/", env!("CARGO_PKG_VERSION"));
    let time_text = at
        .format(time::macros::format_description!(
            "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
        ))
        .unwrap_or_default();
    let millis = i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or_default();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": {
            "accept": "*/*",
            "host": domain,
            "user-agent": user_agent,
            "x-forwarded-for": "127.0.0.1",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
        },
        "requestContext": {
            "accountId": "anonymous",
            "apiId": domain_prefix,
            "domainName": domain,
            "domainPrefix": domain_prefix,
            "http": {
                "method": "GET",
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": user_agent,
            },
            "requestId": format!("smoke-{millis}-{}", std::process::id()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time_text,
            "timeEpoch": millis,
        },
        "isBase64Encoded": false,
    });
    if !query.is_empty() {
        let params: serde_json::Map<String, Value> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), Value::String(v.to_string()))
            })
            .collect();
        event["queryStringParameters"] = Value::Object(params);
    }
    event
}

/// Read an answer as a function URL would: a function error fails; a payload with
/// `statusCode` is a response; any other payload is a 200 with that body. `Ok(status)` when
/// it is `want`, else what went wrong, with an excerpt of the answer.
pub(crate) fn judge(
    answer: &Invocation,
    path: &str,
    want: u16,
) -> std::result::Result<u16, String> {
    let raw = String::from_utf8_lossy(&answer.payload);
    if let Some(kind) = &answer.function_error {
        return Err(format!(
            "GET {path}: the function raised an error ({kind}): {}",
            excerpt(&raw)
        ));
    }
    let parsed: Option<Value> = serde_json::from_slice(&answer.payload).ok();
    let (status, body) = match parsed.as_ref().and_then(Value::as_object) {
        Some(obj) if obj.contains_key("statusCode") => {
            let status = obj
                .get("statusCode")
                .and_then(|s| {
                    s.as_u64()
                        .or_else(|| s.as_str().and_then(|t| t.parse().ok()))
                })
                .and_then(|s| u16::try_from(s).ok());
            let Some(status) = status else {
                return Err(format!(
                    "GET {path}: the answer's statusCode is not a status: {}",
                    excerpt(&raw)
                ));
            };
            (status, response_body(obj))
        }
        _ => (200, raw.to_string()),
    };
    if status == want {
        Ok(status)
    } else {
        Err(format!(
            "GET {path} answered {status}, expected {want}: {}",
            excerpt(&body)
        ))
    }
}

fn response_body(obj: &serde_json::Map<String, Value>) -> String {
    let body = match obj.get("body") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    if obj.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        use base64::Engine as _;
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(&body) {
            return String::from_utf8_lossy(&bytes).into_owned();
        }
    }
    body
}

/// The start of `text` on one line, for an error message.
fn excerpt(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let one_line = one_line.trim();
    if one_line.is_empty() {
        return "(empty body)".into();
    }
    if one_line.chars().count() > EXCERPT {
        let cut: String = one_line.chars().take(EXCERPT).collect();
        format!("{cut}…")
    } else {
        one_line.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(payload: &str, function_error: Option<&str>) -> Invocation {
        Invocation {
            status: 200,
            function_error: function_error.map(String::from),
            payload: payload.as_bytes().to_vec(),
            executed_version: Some("3".into()),
        }
    }

    #[test]
    fn responses_are_judged_by_status_code() {
        assert_eq!(
            judge(&answer(r#"{"statusCode":200,"body":"ok"}"#, None), "/", 200),
            Ok(200)
        );
        let err = judge(
            &answer(r#"{"statusCode":500,"body":"broken\nbadly"}"#, None),
            "/healthz",
            200,
        )
        .unwrap_err();
        assert_eq!(err, "GET /healthz answered 500, expected 200: broken badly");
        assert_eq!(
            judge(&answer(r#"{"statusCode":"204"}"#, None), "/", 204),
            Ok(204)
        );
        let b64 = judge(
            &answer(
                r#"{"statusCode":503,"body":"ZG93bg==","isBase64Encoded":true}"#,
                None,
            ),
            "/",
            200,
        )
        .unwrap_err();
        assert!(b64.ends_with(": down"), "{b64}");
    }

    #[test]
    fn a_plain_payload_is_a_200_as_function_urls_treat_it() {
        assert_eq!(
            judge(&answer(r#"{"hello":"world"}"#, None), "/", 200),
            Ok(200)
        );
        assert_eq!(judge(&answer(r#""text""#, None), "/", 200), Ok(200));
        assert!(judge(&answer(r#"{"hello":"world"}"#, None), "/", 204).is_err());
    }

    #[test]
    fn function_errors_fail_with_the_payload() {
        let err = judge(
            &answer(
                r#"{"errorMessage":"boom","errorType":"KeyError"}"#,
                Some("Unhandled"),
            ),
            "/healthz",
            200,
        )
        .unwrap_err();
        assert!(err.contains("Unhandled") && err.contains("boom"), "{err}");
    }

    #[test]
    fn long_answers_are_cut() {
        let body = "x".repeat(5000);
        let err = judge(
            &answer(&format!(r#"{{"statusCode":500,"body":"{body}"}}"#), None),
            "/",
            200,
        )
        .unwrap_err();
        assert!(err.chars().count() < 500, "{}", err.len());
    }

    #[test]
    fn the_event_is_a_function_url_get() {
        let at = time::macros::datetime!(2024-03-12 19:03:58.5 UTC);
        let e = url_event("/healthz?deep=1&x", "eu-west-1", at);
        assert_eq!(e["version"], "2.0");
        assert_eq!(e["rawPath"], "/healthz");
        assert_eq!(e["rawQueryString"], "deep=1&x");
        assert_eq!(e["queryStringParameters"], json!({"deep": "1", "x": ""}));
        assert_eq!(e["requestContext"]["http"]["method"], "GET");
        assert_eq!(e["requestContext"]["http"]["path"], "/healthz");
        assert_eq!(e["requestContext"]["time"], "12/Mar/2024:19:03:58 +0000");
        assert_eq!(e["requestContext"]["timeEpoch"], 1_710_270_238_500_i64);
        assert_eq!(
            e["headers"]["host"],
            "deploy-action-smoke-check.lambda-url.eu-west-1.on.aws"
        );
        assert_eq!(e["isBase64Encoded"], false);
        let plain = url_event("/", "us-east-1", at);
        assert!(plain.get("queryStringParameters").is_none());
    }

    #[test]
    fn test_hook_shortens_the_hold() {
        // Without the hook: minutes.
        if std::env::var("DEPLOY_ACTION_TEST_CANARY_SECONDS").is_err() {
            assert_eq!(hold_time(5), Duration::from_secs(300));
            assert_eq!(hold_time(0), Duration::ZERO);
        }
    }
}
