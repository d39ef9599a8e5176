//! `logs --app A --stage S [--since 10m|TIME] [--follow] [--filter PATTERN] [--request-id ID]`:
//! what the app is printing. Lambda writes each function's output to the log group
//! `/aws/lambda/<function>`, one stream per execution environment; FilterLogEvents reads all
//! streams of the group, and the pages of one query are merged here in time order (real
//! CloudWatch interleaves them; moto returns them stream by stream).
//!
//! `--follow` first prints the history, then tails with CloudWatch Logs Live Tail where the
//! endpoint supports it (`live_tail`), else polls every second from the newest timestamp seen
//! minus an overlap (events can be ingested late, with an older timestamp than ones already
//! read), and prints only event ids it has not printed: no duplicates, and no gaps across pages
//! or polls.
//!
//! Each event's request id comes from the message (`START RequestId: …`, the runtimes'
//! `[LEVEL]\t<time>\t<request id>\t…` lines, JSON logs' `requestId`), else from the stream's
//! current invocation: one environment runs one request at a time, so a plain `print()`
//! between START and END belongs to that request.

use std::collections::HashMap;
use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use aws_sdk_cloudwatchlogs::Client;
use serde::Serialize;
use time::OffsetDateTime;

use crate::aws::errors::{is_not_found, wrap};
use crate::cli::{LogsArgs, OutputFormat};
use crate::config;
use crate::error::{Error, Result};
use crate::github::context::GitHubContext;
use crate::ops::fleet;
use crate::output::Report;

mod live_tail;

/// How far back each follow poll looks again for events ingested late.
const FOLLOW_OVERLAP_MS: i64 = 30_000;
/// Poll interval of `--follow`.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// One log event as printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct LogLine {
    /// RFC 3339, milliseconds, UTC.
    pub timestamp: String,
    pub timestamp_ms: i64,
    pub request_id: Option<String>,
    pub stream: String,
    pub message: String,
    /// FilterLogEvents' event id; Live Tail events have none (the field is then left out).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub event_id: String,
}

/// The log group Lambda writes a function's output to.
#[must_use]
pub(crate) fn log_group(function_name: &str) -> String {
    format!("/aws/lambda/{function_name}")
}

pub(crate) async fn command(args: &LogsArgs) -> Result<Report> {
    let github = GitHubContext::from_env()?;
    let target = config::resolve_target(&args.target, &github)?;
    let start_ms = since_ms(&args.since, OffsetDateTime::now_utc())?;
    let aws = crate::aws::connect(&target.aws).await?;
    let client = Client::new(&aws.config);
    let group = log_group(&target.function_name);
    let mut printer = Printer::new(args.target.output);
    let mut tail = Tail::new(start_ms, args.request_id.clone());
    let page_limit = std::env::var("DEPLOY_ACTION_TEST_LOG_PAGE")
        .ok()
        .and_then(|v| v.parse().ok());
    let mut live_tail_tried = false;
    loop {
        let events = match fetch(
            &client,
            &group,
            tail.query_start(),
            args.filter.as_deref(),
            page_limit,
        )
        .await
        {
            Ok(e) => e,
            Err(Missing) if !tail.seen_any_poll => {
                let message = format!(
                    "{}: no log group {group}: the function has not been invoked yet (or its logs were deleted)",
                    target.function_name
                );
                eprintln!("{message}");
                return Ok(Report::Streamed);
            }
            Err(Missing) => Vec::new(),
            Err(Failed(e)) => return Err(e),
        };
        tail.seen_any_poll = true;
        for line in tail.take(events) {
            printer.print(&line);
        }
        if !args.follow {
            return Ok(Report::Streamed);
        }
        if !live_tail_tried {
            // Returns when live tail can't go on (it said why): poll from where it left.
            live_tail_tried = true;
            live_tail::follow(
                &aws,
                &client,
                &group,
                args.filter.as_deref(),
                page_limit,
                &mut tail,
                &mut printer,
            )
            .await?;
        }
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
}

/// `--since`: a duration back from `now` (`10m`) or a time (RFC 3339).
pub(crate) fn since_ms(text: &str, now: OffsetDateTime) -> Result<i64> {
    if let Some(t) = fleet::parse_aws_time(text) {
        return Ok(millis(t));
    }
    let back = fleet::parse_duration("--since", text).map_err(|_| {
        Error::invalid(
            "--since",
            format!("{text:?} is neither a duration nor a time"),
            "write 10m, 2h, 1d, or an RFC 3339 time such as 2024-03-12T19:00:00Z",
        )
    })?;
    Ok(millis(now) - i64::try_from(back.as_millis()).unwrap_or(i64::MAX))
}

fn millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

enum FetchError {
    Missing,
    Failed(Error),
}
use FetchError::{Failed, Missing};

/// A raw event of FilterLogEvents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawEvent {
    pub event_id: String,
    pub timestamp: i64,
    pub stream: String,
    pub message: String,
}

/// Every page of FilterLogEvents from `start_ms`.
async fn fetch(
    client: &Client,
    group: &str,
    start_ms: i64,
    filter: Option<&str>,
    page_limit: Option<i32>,
) -> std::result::Result<Vec<RawEvent>, FetchError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .filter_log_events()
            .log_group_name(group)
            .start_time(start_ms)
            .set_filter_pattern(filter.map(str::to_string))
            .set_limit(page_limit)
            .set_next_token(token.clone())
            .send()
            .await;
        let page = match page {
            Ok(p) => p,
            Err(e) if is_not_found(&e) => return Err(Missing),
            Err(e) => return Err(Failed(wrap("logs", "FilterLogEvents", group, e))),
        };
        out.extend(page.events().iter().map(|e| {
            RawEvent {
                event_id: e.event_id().unwrap_or_default().to_string(),
                timestamp: e.timestamp().unwrap_or(0),
                stream: e.log_stream_name().unwrap_or_default().to_string(),
                message: e
                    .message()
                    .unwrap_or_default()
                    .trim_end_matches('\n')
                    .to_string(),
            }
        }));
        let next = page
            .next_token()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        // A token equal to the one sent would loop forever.
        if next.is_none() || next == token {
            return Ok(out);
        }
        token = next;
    }
}

/// Where an event was read: FilterLogEvents (with an event id) or Live Tail (without).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Filter,
    Live,
}

/// An event's identity across the two sources: (timestamp, stream, message).
type EventKey = (i64, String, String);

/// What has been printed: event ids within the overlap window, the newest timestamp, and each
/// stream's current request.
pub(crate) struct Tail {
    start_ms: i64,
    newest_ms: Option<i64>,
    printed: HashMap<String, i64>,
    /// Per (timestamp, stream, message): how many were printed from FilterLogEvents and from
    /// Live Tail, not yet paired with their copy from the other source.
    unpaired: HashMap<EventKey, [u32; 2]>,
    current: HashMap<String, String>,
    request_id: Option<String>,
    seen_any_poll: bool,
}

impl Tail {
    #[must_use]
    pub(crate) fn new(start_ms: i64, request_id: Option<String>) -> Tail {
        Tail {
            start_ms,
            newest_ms: None,
            printed: HashMap::new(),
            unpaired: HashMap::new(),
            current: HashMap::new(),
            request_id,
            seen_any_poll: false,
        }
    }

    /// Where the next query starts.
    #[must_use]
    pub(crate) fn query_start(&self) -> i64 {
        self.newest_ms.map_or(self.start_ms, |n| {
            (n - FOLLOW_OVERLAP_MS).max(self.start_ms)
        })
    }

    /// The events of one query not printed yet, in time order, with their request ids.
    pub(crate) fn take(&mut self, events: Vec<RawEvent>) -> Vec<LogLine> {
        self.take_from(Source::Filter, events)
    }

    /// `take` for either source. The same event read from FilterLogEvents and from Live Tail
    /// is printed once: an event whose key has an unpaired copy from the other source is that
    /// copy's twin and is dropped (the pair is then done); two identical events count twice.
    pub(crate) fn take_from(&mut self, source: Source, mut events: Vec<RawEvent>) -> Vec<LogLine> {
        events.sort_by(|a, b| (a.timestamp, &a.event_id).cmp(&(b.timestamp, &b.event_id)));
        let (mine, other) = match source {
            Source::Filter => (0, 1),
            Source::Live => (1, 0),
        };
        let mut out = Vec::new();
        for e in events {
            if source == Source::Filter {
                if self.printed.contains_key(&e.event_id) {
                    continue;
                }
                self.printed.insert(e.event_id.clone(), e.timestamp);
            }
            let counts = self
                .unpaired
                .entry((e.timestamp, e.stream.clone(), e.message.clone()))
                .or_default();
            if counts[other] > 0 {
                counts[other] -= 1;
                continue;
            }
            counts[mine] += 1;
            self.newest_ms = Some(self.newest_ms.map_or(e.timestamp, |n| n.max(e.timestamp)));
            let rid = self.attribute(&e);
            if self
                .request_id
                .as_ref()
                .is_some_and(|want| rid.as_ref() != Some(want))
            {
                continue;
            }
            out.push(LogLine {
                timestamp: rfc3339_ms(e.timestamp),
                timestamp_ms: e.timestamp,
                request_id: rid,
                stream: e.stream,
                message: e.message,
                event_id: e.event_id,
            });
        }
        // Ids older than the overlap can't come back: forget them (memory stays bounded).
        let keep_from = self.query_start() - FOLLOW_OVERLAP_MS;
        self.printed.retain(|_, ts| *ts >= keep_from);
        self.unpaired
            .retain(|(ts, _, _), c| *ts >= keep_from && c.iter().any(|n| *n > 0));
        out
    }

    fn attribute(&mut self, e: &RawEvent) -> Option<String> {
        let explicit = request_id_in(&e.message);
        let m = e.message.as_str();
        if m.starts_with("START RequestId:") {
            if let Some(id) = &explicit {
                self.current.insert(e.stream.clone(), id.clone());
            }
            return explicit;
        }
        if m.starts_with("REPORT RequestId:") {
            self.current.remove(&e.stream);
            return explicit;
        }
        explicit.or_else(|| self.current.get(&e.stream).cloned())
    }
}

/// The first UUID in a message (Lambda request ids are UUIDs).
#[must_use]
pub(crate) fn request_id_in(message: &str) -> Option<String> {
    let b = message.as_bytes();
    let shape = [8, 4, 4, 4, 12];
    let total = 36;
    if b.len() < total {
        return None;
    }
    'outer: for start in 0..=b.len() - total {
        if start > 0 && b[start - 1].is_ascii_hexdigit() {
            continue;
        }
        let mut i = start;
        for (n, len) in shape.iter().enumerate() {
            for _ in 0..*len {
                if !b[i].is_ascii_hexdigit() {
                    continue 'outer;
                }
                i += 1;
            }
            if n < 4 {
                if b[i] != b'-' {
                    continue 'outer;
                }
                i += 1;
            }
        }
        if i < b.len() && b[i].is_ascii_hexdigit() {
            continue;
        }
        return Some(message[start..i].to_ascii_lowercase());
    }
    None
}

fn rfc3339_ms(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(f).unwrap_or_default()
}

/// Prints lines as they come: text (colours only on a terminal, and not with NO_COLOR) or
/// one JSON object per line.
struct Printer {
    format: OutputFormat,
    colour: bool,
}

impl Printer {
    fn new(format: OutputFormat) -> Printer {
        let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Printer { format, colour }
    }

    fn print(&mut self, line: &LogLine) {
        let text = match self.format {
            OutputFormat::Json => serde_json::to_string(line).unwrap_or_default(),
            OutputFormat::Text => self.text(line),
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    fn text(&self, line: &LogLine) -> String {
        let rid = line.request_id.as_deref().unwrap_or("-");
        if self.colour {
            format!(
                "\x1b[2m{}\x1b[0m \x1b[36m{rid}\x1b[0m {}",
                line.timestamp, line.message
            )
        } else {
            format!("{} {rid} {}", line.timestamp, line.message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str, ts: i64, stream: &str, msg: &str) -> RawEvent {
        RawEvent {
            event_id: id.into(),
            timestamp: ts,
            stream: stream.into(),
            message: msg.into(),
        }
    }

    const RID: &str = "8f5c2a1e-1b2c-4d3e-9f00-0123456789ab";

    #[test]
    fn request_ids_are_found() {
        assert_eq!(
            request_id_in(&format!("START RequestId: {RID} Version: 3")).as_deref(),
            Some(RID)
        );
        assert_eq!(
            request_id_in(&format!("[INFO]\t2024-01-01T00:00:00Z\t{RID}\thello")).as_deref(),
            Some(RID)
        );
        assert_eq!(request_id_in("no id here"), None);
    }

    #[test]
    fn merged_in_time_order_without_duplicates() {
        let mut tail = Tail::new(0, None);
        let first = tail.take(vec![
            ev("3", 30, "b", "b1"),
            ev("1", 10, "a", "a1"),
            ev("2", 20, "a", "a2"),
        ]);
        let msgs: Vec<_> = first.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(msgs, ["a1", "a2", "b1"]);
        // The next poll overlaps: only the new event comes out.
        let second = tail.take(vec![ev("2", 20, "a", "a2"), ev("4", 25, "a", "late")]);
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].message, "late");
        assert_eq!(tail.query_start(), 0, "overlap never starts before --since");
    }

    #[test]
    fn an_event_read_both_ways_is_printed_once() {
        let mut tail = Tail::new(0, None);
        let history = tail.take(vec![ev("1", 10, "a", "old"), ev("2", 20, "a", "x")]);
        assert_eq!(history.len(), 2);
        // Live Tail sends "x" again (ingested after the session started, and also read by the
        // catch-up), then a new event, and twice the same print in one millisecond.
        let live = tail.take_from(
            Source::Live,
            vec![
                ev("", 20, "a", "x"),
                ev("", 30, "a", "new"),
                ev("", 40, "b", "same"),
                ev("", 40, "b", "same"),
            ],
        );
        let msgs: Vec<_> = live.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(msgs, ["new", "same", "same"]);
        assert!(live.iter().all(|l| l.event_id.is_empty()));
        // A later FilterLogEvents read returns what Live Tail printed: nothing new.
        let again = tail.take(vec![
            ev("2", 20, "a", "x"),
            ev("3", 30, "a", "new"),
            ev("4", 40, "b", "same"),
            ev("5", 40, "b", "same"),
            ev("6", 50, "b", "newest"),
        ]);
        let msgs: Vec<_> = again.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(msgs, ["newest"]);
    }

    #[test]
    fn prints_between_start_and_end_belong_to_the_request() {
        let mut tail = Tail::new(0, Some(RID.into()));
        let lines = tail.take(vec![
            ev("1", 1, "s", &format!("START RequestId: {RID} Version: 1")),
            ev("2", 2, "s", "plain print"),
            ev(
                "3",
                3,
                "s",
                &format!("REPORT RequestId: {RID}\tDuration: 1 ms"),
            ),
            ev("4", 4, "s", "after"),
        ]);
        let msgs: Vec<_> = lines.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert_eq!(msgs[1], "plain print");
    }

    #[test]
    fn since_takes_durations_and_times() {
        let now = OffsetDateTime::from_unix_timestamp(1_000_000).unwrap();
        assert_eq!(since_ms("10m", now).unwrap(), 1_000_000_000 - 600_000);
        assert_eq!(since_ms("1970-01-01T00:00:01Z", now).unwrap(), 1000);
        assert!(since_ms("yesterday", now).is_err());
    }
}
