//! `logs --follow` through CloudWatch Logs Live Tail (StartLiveTail), falling back to polling
//! FilterLogEvents where the endpoint can't (moto, LocalStack without it, a role without
//! `logs:StartLiveTail`).
//!
//! StartLiveTail ("StartLiveTail", CloudWatch Logs API Reference,
//! https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartLiveTail.html)
//! takes log group ARNs (at most 10; we tail one), answers with an event stream: one
//! `sessionStart`, then every second a `sessionUpdate` whose `sessionResults` are the events
//! ingested since (empty when none; at most 500, sampled above that). A session ends after three
//! hours with a `SessionTimeoutException` in the stream; we then start a new one.
//!
//! No gap and no duplicate against the history printed before: the session is started first,
//! then FilterLogEvents runs once more from the newest event printed minus the usual overlap
//! (catching what was ingested between the history and the session's start); an event can then
//! come both ways. Live Tail events carry no event id, so the two sources are paired by
//! (timestamp, stream, message), counted (see `Tail::take_from`): the second copy of an event is
//! dropped, two identical prints in the same millisecond are both kept.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::error::{ProvideErrorMetadata as _, SdkError};
use aws_sdk_cloudwatchlogs::operation::start_live_tail::StartLiveTailError;
use aws_sdk_cloudwatchlogs::types::StartLiveTailResponseStream as Frame;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::endpoint::EndpointPrefix;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use super::{Failed, Missing, Printer, RawEvent, Source, Tail, fetch};
use crate::aws::Aws;
use crate::error::Result;

/// What to print once when live tail can't be used, with the one thing that would enable it.
fn fallback_note(why: &str) -> String {
    format!("live tail unavailable ({why}); following by polling FilterLogEvents every second")
}

/// Follow `group` with Live Tail until a session can't be (re)started; `Ok(())` means: go on
/// by polling. Every error of Live Tail itself falls back (polling is always correct, only
/// slower); errors of the catch-up FilterLogEvents are the command's errors.
pub(super) async fn follow(
    aws: &Aws,
    client: &Client,
    group: &str,
    filter: Option<&str>,
    page_limit: Option<i32>,
    tail: &mut Tail,
    printer: &mut Printer,
) -> Result<()> {
    let arn = match group_arn(aws, group).await {
        Ok(arn) => arn,
        Err(why) => {
            eprintln!("{}", fallback_note(&why));
            return Ok(());
        }
    };
    let custom_endpoint = aws.config.endpoint_url().is_some();
    loop {
        let mut call = client
            .start_live_tail()
            .log_group_identifiers(&arn)
            .set_log_event_filter_pattern(filter.map(str::to_string))
            .customize()
            // Any failure means polling instead; retrying moto's 500 would only delay that.
            .config_override(
                aws_sdk_cloudwatchlogs::config::Builder::default()
                    .retry_config(RetryConfig::disabled()),
            );
        if custom_endpoint {
            call = call.interceptor(NoHostPrefix);
        }
        let mut output = match call.send().await {
            Ok(o) => o,
            Err(e) => {
                eprintln!("{}", fallback_note(&why_not(&e, &arn)));
                return Ok(());
            }
        };
        // The catch-up read must start after the session did: wait for its first frame.
        let first = match output.response_stream.recv().await {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                eprintln!("{}", fallback_note("the session closed before it started"));
                return Ok(());
            }
            Err(e) => {
                eprintln!("{}", fallback_note(&chain(&e)));
                return Ok(());
            }
        };
        catch_up(client, group, filter, page_limit, tail, printer).await?;
        print_frame(first, tail, printer);
        loop {
            match output.response_stream.recv().await {
                Ok(Some(frame)) => print_frame(frame, tail, printer),
                // The session ended (three hours, SessionTimeoutException, or the server closed
                // it): start the next one.
                Ok(None) => break,
                Err(SdkError::ServiceError(e)) if e.err().is_session_timeout_exception() => break,
                Err(e) => {
                    eprintln!(
                        "{}",
                        fallback_note(&format!("the session failed: {}", chain(&e)))
                    );
                    return Ok(());
                }
            }
        }
        // Don't spin if a server ends every session at once.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// FilterLogEvents from where the tail stands: what was ingested before the session started.
async fn catch_up(
    client: &Client,
    group: &str,
    filter: Option<&str>,
    page_limit: Option<i32>,
    tail: &mut Tail,
    printer: &mut Printer,
) -> Result<()> {
    match fetch(client, group, tail.query_start(), filter, page_limit).await {
        Ok(events) => {
            for line in tail.take_from(Source::Filter, events) {
                printer.print(&line);
            }
            Ok(())
        }
        Err(Missing) => Ok(()),
        Err(Failed(e)) => Err(e),
    }
}

fn print_frame(frame: Frame, tail: &mut Tail, printer: &mut Printer) {
    let Frame::SessionUpdate(update) = frame else {
        return;
    };
    let events = update
        .session_results()
        .iter()
        .map(|e| RawEvent {
            // Live Tail events have no id (LiveTailSessionLogEvent: logStreamName,
            // logGroupIdentifier, message, timestamp, ingestionTime).
            event_id: String::new(),
            timestamp: e.timestamp().unwrap_or(0),
            stream: e.log_stream_name().unwrap_or_default().to_string(),
            message: e
                .message()
                .unwrap_or_default()
                .trim_end_matches('\n')
                .to_string(),
        })
        .collect();
    for line in tail.take_from(Source::Live, events) {
        printer.print(&line);
    }
}

/// The log group's ARN (`arn:<partition>:logs:<region>:<account>:log-group:<name>`, the form
/// StartLiveTail's `logGroupIdentifiers` takes), the account and partition from STS
/// GetCallerIdentity, which needs no permission ("No permissions are required to perform this
/// operation", STS API Reference, GetCallerIdentity).
async fn group_arn(aws: &Aws, group: &str) -> std::result::Result<String, String> {
    let sts = aws_sdk_sts::Client::new(&aws.config);
    let me = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| format!("GetCallerIdentity failed: {}", e.into_service_error()))?;
    let account = me.account().unwrap_or_default();
    let partition = me
        .arn()
        .and_then(|a| a.split(':').nth(1))
        .filter(|p| !p.is_empty())
        .unwrap_or("aws");
    if account.is_empty() {
        return Err("GetCallerIdentity gave no account id".into());
    }
    Ok(log_group_arn(partition, &aws.region, account, group))
}

pub(crate) fn log_group_arn(partition: &str, region: &str, account: &str, group: &str) -> String {
    format!("arn:{partition}:logs:{region}:{account}:log-group:{group}")
}

/// Why StartLiveTail was refused, in the user's terms.
fn why_not(err: &SdkError<StartLiveTailError, HttpResponse>, arn: &str) -> String {
    let code = match err {
        SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    };
    let status = err.raw_response().map(|r| r.status().as_u16());
    match (code, status) {
        (Some("AccessDeniedException"), _) => format!(
            "the credentials may not call logs:StartLiveTail on {arn}; \
             `deploy-action policy --operate` grants it"
        ),
        // Real AWS answers an operation it doesn't know with UnknownOperationException; moto
        // 5.2.1 raises NotImplementedError ("The start_live_tail action has not been
        // implemented"), which its server turns into a 500 HTML page without an error code.
        (Some("UnknownOperationException" | "InvalidAction" | "NotImplemented"), _)
        | (None, Some(404 | 500 | 501)) => "the endpoint does not support StartLiveTail".into(),
        (Some(code), _) => format!("StartLiveTail answered {code}"),
        (None, _) => format!("StartLiveTail failed: {}", chain(err)),
    }
}

/// An error and its sources on one line (the SDK's Display alone says only "dispatch failure").
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// StartLiveTail's endpoint has the host prefix `stream-` (`stream-logs.<region>.amazonaws.com`,
/// the `@endpoint(hostPrefix: "stream-")` of the operation in the CloudWatch Logs model). An
/// endpoint override (`AWS_ENDPOINT_URL`, an emulator or the test proxy at 127.0.0.1) serves
/// every operation on its one host, and `stream-127.0.0.1` is no host at all: drop the prefix
/// there.
#[derive(Debug)]
struct NoHostPrefix;

impl Intercept for NoHostPrefix {
    fn name(&self) -> &'static str {
        "NoHostPrefix"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> std::result::Result<(), BoxError> {
        cfg.interceptor_state().unset::<EndpointPrefix>();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_group_arns_have_no_trailing_star() {
        assert_eq!(
            log_group_arn("aws", "us-east-1", "123456789012", "/aws/lambda/hello-main"),
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/hello-main"
        );
    }
}
