//! `invoke` and `--release-command` (issue 22): run code where it runs.
//!
//! Three kinds of payload go to the function by a direct, IAM-authorised `lambda:Invoke` (never
//! through its URL):
//!
//! - `--event JSON|@file`: a raw event; the answer is the function's result plus the log tail
//!   Lambda returns with `LogType=Tail` (its last 4 KB).
//! - `--python CODE` and `--manage ARGS`: a *command event*,
//!   `{"deploy-action": {"command": "python", "code": CODE}}` or
//!   `{"deploy-action": {"command": "manage", "args": [..]}}`, which the generated Python adapter
//!   (`package/python/deploy_action_handler.py`, `is_command`) runs and answers with
//!   `{"deploy-action": {"status", "stdout", "stderr", "duration_ms"}}`. Events of a function
//!   URL, an HTTP API or EventBridge always carry keys of their own (`requestContext`, `version`,
//!   `source`, ...), so none of them has this exact one-key shape: a request to the public URL
//!   with such a body is an ordinary request to the app.
//!
//! Whether `--manage` applies is decided by the function itself: the adapter knows whether the
//! app it imported is Django (`DJANGO_SETTINGS_MODULE` is set once the project's `wsgi.py` is
//! imported) and answers `error: "not_django"` without running anything; that is bad input
//! (exit 2). A function without our adapter (a Rust bootstrap, a custom handler) is refused
//! before any invocation by its runtime and handler.
//!
//! `--local URL` sends the same invocation to `deploy-action serve`'s invoke endpoint (the Lambda
//! Invoke API on a second loopback port) instead of AWS.

use std::collections::HashMap;
use std::time::Instant;

use aws_sdk_lambda::types::LogType;
use serde::Serialize;

use crate::aws::Aws;
use crate::aws::errors::wrap;
use crate::aws::lambda::{Function, FunctionConfig};
use crate::cli::{InvokeArgs, OutputFormat};
use crate::config::{DeployConfig, Target};
use crate::error::{Error, Result};
use crate::github::context::GitHubContext;
use crate::github::workflow;
use crate::naming::LIVE_ALIAS;

/// The key of a command event and of its answer (the adapter's `COMMAND_KEY`).
pub(crate) const COMMAND_KEY: &str = "deploy-action";

/// The function tag that records the last version a release command succeeded on.
pub(crate) const TAG_RELEASED: &str = "deploy-action:released";

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Payload {
    /// A raw event (JSON text, already checked).
    Event(serde_json::Value),
    /// Python code, run by the adapter.
    Python(String),
    /// A Django management command and its arguments.
    Manage(Vec<String>),
}

impl Payload {
    /// The bytes Lambda gets.
    #[must_use]
    pub(crate) fn event(&self) -> serde_json::Value {
        match self {
            Payload::Event(v) => v.clone(),
            Payload::Python(code) => {
                serde_json::json!({COMMAND_KEY: {"command": "python", "code": code}})
            }
            Payload::Manage(args) => {
                serde_json::json!({COMMAND_KEY: {"command": "manage", "args": args}})
            }
        }
    }

    fn is_command(&self) -> bool {
        !matches!(self, Payload::Event(_))
    }

    /// How it is shown in logs and the step summary.
    #[must_use]
    pub(crate) fn describe(&self) -> String {
        match self {
            Payload::Event(_) => "event".into(),
            Payload::Python(code) => format!("python:{}", code.lines().next().unwrap_or("")),
            Payload::Manage(args) => format!("manage {}", args.join(" ")),
        }
    }
}

/// The result of `invoke` (its JSON fields are a contract: `{status, stdout, stderr,
/// duration_ms, version}`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct InvokeReport {
    /// The command's exit status (0/1 for a raw event: did the function raise).
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    pub duration_ms: u64,
    /// The version that ran.
    pub version: String,
}

impl InvokeReport {
    /// The process exit status: the command's, clamped to what a process can return.
    #[must_use]
    pub fn exit_code(&self) -> i32 {
        self.status.clamp(0, 255)
    }
}

impl std::fmt::Display for InvokeReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // stderr went to stderr already (`print_streams`); stdout is the report.
        f.write_str(self.stdout.trim_end_matches('\n'))
    }
}

/// Split a command line the way a POSIX shell would for words: whitespace separates, single
/// quotes keep everything, double quotes keep everything but `\"` and `\\`, a backslash
/// outside quotes escapes the next character.
pub(crate) fn split_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => w.push(c),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            c @ ('"' | '\\') => w.push(c),
                            c => {
                                w.push('\\');
                                w.push(c);
                            }
                        },
                        c => w.push(c),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).push(chars.next()?),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Some(words)
}

fn manage_args(flag: &'static str, line: &str) -> Result<Payload> {
    let args = split_words(line).ok_or_else(|| {
        Error::invalid(
            flag,
            format!("{line:?} has an unclosed quote"),
            "quote the command as a shell would, e.g. --manage 'migrate --noinput'",
        )
    })?;
    if args.is_empty() {
        return Err(Error::invalid(
            flag,
            "no management command given",
            "name one, e.g. --manage 'migrate --noinput'",
        ));
    }
    Ok(Payload::Manage(args))
}

/// `--release-command`: `manage ARGS...` (or `manage:ARGS`), or `python:CODE`.
pub(crate) fn parse_release_command(text: &str) -> Result<Payload> {
    const FLAG: &str = "--release-command";
    let text = text.trim();
    if let Some(code) = text.strip_prefix("python:") {
        if code.trim().is_empty() {
            return Err(Error::invalid(
                FLAG,
                "python: has no code",
                "e.g. --release-command 'python:import app; app.warm()'",
            ));
        }
        return Ok(Payload::Python(code.to_string()));
    }
    if let Some(rest) = text
        .strip_prefix("manage:")
        .or_else(|| text.strip_prefix("manage ").map(str::trim_start))
    {
        return manage_args(FLAG, rest);
    }
    Err(Error::invalid(
        FLAG,
        format!("{text:?} is neither `manage ARGS...` nor `python:CODE`"),
        "e.g. --release-command 'manage migrate --noinput' (Django) or --release-command 'python:import tasks; tasks.migrate()'",
    ))
}

/// `--release-command` runs through deploy-action's Python handler: refuse it (exit 2, before
/// any build or request) for a function that won't have it.
pub(crate) fn check_release_target(function: &crate::config::FunctionSettings) -> Result<()> {
    let adapter = format!("{}.handler", crate::package::python::HANDLER_MODULE);
    if function.runtime.starts_with("python") && function.handler == adapter {
        return Ok(());
    }
    Err(Error::invalid(
        "--release-command",
        format!(
            "the function runs {} with handler {}, not deploy-action's Python handler",
            function.runtime, function.handler
        ),
        "--release-command runs `manage ...`/`python:...` in a Python app built by deploy-action (default --handler); run other release steps in the workflow",
    ))
}

/// `--event`, `--python`, `--manage`: exactly one, checked locally.
pub(crate) fn parse_payload(args: &InvokeArgs) -> Result<Payload> {
    let given: Vec<&str> = [
        ("--event", args.event.is_some()),
        ("--python", args.python.is_some()),
        ("--manage", args.manage.is_some()),
    ]
    .iter()
    .filter(|(_, set)| *set)
    .map(|(f, _)| *f)
    .collect();
    if given.len() != 1 {
        let message = if given.is_empty() {
            "nothing to run".to_string()
        } else {
            format!("{} given together", given.join(" and "))
        };
        return Err(Error::invalid(
            "--event/--python/--manage",
            message,
            "pass exactly one of --event JSON|@file, --python 'CODE', --manage 'ARGS'",
        ));
    }
    if let Some(event) = &args.event {
        let text = match event.strip_prefix('@') {
            Some(path) => std::fs::read_to_string(path).map_err(|e| {
                Error::invalid(
                    "--event",
                    format!("can't read {path}: {e}"),
                    "pass --event @FILE with a readable JSON file, or the JSON itself",
                )
            })?,
            None => event.clone(),
        };
        let value = serde_json::from_str(&text).map_err(|e| {
            Error::invalid(
                "--event",
                format!("not valid JSON: {e}"),
                "pass a JSON event, e.g. --event '{\"key\": 1}', or --event @event.json",
            )
        })?;
        return Ok(Payload::Event(value));
    }
    if let Some(code) = &args.python {
        return Ok(Payload::Python(code.clone()));
    }
    manage_args("--manage", args.manage.as_deref().unwrap_or_default())
}

fn validate_version(version: &str) -> Result<()> {
    let ok = version == "$LATEST"
        || (!version.is_empty()
            && version.len() <= 128
            && version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "--version",
            format!("{version:?} is not a version number or alias"),
            "pass a published version number (`deploy-action status` lists them) or an alias such as live",
        ))
    }
}

/// The function answered in a way the command protocol does not expect.
fn not_adapter(function: &str, detail: &str) -> Error {
    Error::invalid(
        "--python/--manage",
        format!("{function} does not run deploy-action's Python adapter: {detail}"),
        "--python and --manage need a Python app deployed by deploy-action with the default --handler; use --event for other functions",
    )
}

/// What an Invoke came back with.
struct Answer {
    function_error: Option<String>,
    payload: Vec<u8>,
    log_tail: Option<String>,
    executed_version: String,
}

async fn send(
    client: &aws_sdk_lambda::Client,
    function: &str,
    qualifier: &str,
    event: &serde_json::Value,
    step: &'static str,
) -> Result<Answer> {
    let body = serde_json::to_vec(event).map_err(|e| Error::Internal(e.to_string()))?;
    let out = client
        .invoke()
        .function_name(function)
        .qualifier(qualifier)
        .log_type(LogType::Tail)
        .payload(aws_sdk_lambda::primitives::Blob::new(body))
        .send()
        .await
        .map_err(|e| wrap(step, "Invoke", format!("{function}:{qualifier}"), e))?;
    let log_tail = out.log_result().and_then(|b64| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    });
    Ok(Answer {
        function_error: out.function_error().map(str::to_string),
        payload: out
            .payload()
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default(),
        log_tail,
        executed_version: out.executed_version().unwrap_or(qualifier).to_string(),
    })
}

/// Turn an answer into a report; `timeout` is the function's (for the message when it hit it).
fn interpret(
    function: &str,
    payload: &Payload,
    answer: Answer,
    timeout: Option<i32>,
    started: Instant,
) -> Result<InvokeReport> {
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let text = String::from_utf8_lossy(&answer.payload).into_owned();
    let log_tail = answer.log_tail.unwrap_or_default();
    if let Some(kind) = &answer.function_error {
        // Lambda's own words when the runtime is stopped: "Task timed out after 30.00 seconds"
        // (https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-invocation.html).
        let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let message = value
            .get("errorMessage")
            .and_then(|m| m.as_str())
            .unwrap_or(&text)
            .to_string();
        let mut stderr = log_tail;
        if message.contains("timed out") {
            let limit = timeout.map_or_else(|| "its".to_string(), |t| format!("the {t} s"));
            let note = format!(
                "{function} stopped the command at {limit} function timeout ({message}); deploy with a longer --timeout (up to 900 s), or split the work"
            );
            workflow::error("deploy-action invoke", &note);
            stderr.push_str(&note);
            stderr.push('\n');
        } else {
            stderr.push_str(&format!("function error ({kind}): {message}\n"));
        }
        return Ok(InvokeReport {
            status: 1,
            stdout: if payload.is_command() {
                String::new()
            } else {
                text
            },
            stderr,
            duration_ms,
            version: answer.executed_version,
        });
    }
    if !payload.is_command() {
        return Ok(InvokeReport {
            status: 0,
            stdout: text,
            stderr: log_tail,
            duration_ms,
            version: answer.executed_version,
        });
    }
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|_| not_adapter(function, "its answer is not JSON"))?;
    let result = value
        .get(COMMAND_KEY)
        .and_then(|r| r.as_object())
        .ok_or_else(|| {
            not_adapter(
                function,
                "it answered the command event like any other request (redeploy it with this deploy-action to get the command handler)",
            )
        })?;
    let field = |k: &str| {
        result
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    if result.get("error").and_then(|e| e.as_str()) == Some("not_django") {
        return Err(Error::invalid(
            "--manage",
            format!(
                "{function} does not run a Django app: {}",
                field("stderr").trim()
            ),
            "--manage runs Django management commands; use --python 'CODE' for other apps",
        ));
    }
    Ok(InvokeReport {
        status: result
            .get("status")
            .and_then(serde_json::Value::as_i64)
            .and_then(|s| i32::try_from(s).ok())
            .unwrap_or(1),
        stdout: field("stdout"),
        stderr: field("stderr"),
        duration_ms,
        version: answer.executed_version,
    })
}

/// Find the function and the version to run, refusing a stage that isn't ours, a version that
/// doesn't exist, and a command for a function without our adapter (reads only).
async fn resolve_version(
    aws: &Aws,
    target: &Target,
    version: Option<&str>,
    payload: &Payload,
) -> Result<FunctionConfig> {
    let function = Function::new(&aws.lambda, &target.function_name);
    let Some((_, tags)) = function.get(None).await? else {
        return Err(Error::invalid(
            "--stage",
            format!(
                "{} does not exist (app {}, stage {})",
                target.function_name, target.app, target.stage
            ),
            "check --app and --stage (`deploy-action status --app NAME` lists the stages), or deploy the stage first",
        ));
    };
    crate::ownership::check(
        &target.function_name,
        &target.app,
        &target.stage,
        &tags,
        false,
    )?;
    let qualifier = version.unwrap_or(LIVE_ALIAS);
    let Some(config) = function.configuration(Some(qualifier)).await? else {
        return Err(match version {
            Some(v) => Error::invalid(
                "--version",
                format!("{} has no version or alias {v}", target.function_name),
                "pass a published version (`deploy-action status` shows the live one), or leave --version out to run on live",
            ),
            None => Error::invalid(
                "--stage",
                format!("{} has no live alias yet", target.function_name),
                "deploy the stage first, or pass --version N",
            ),
        });
    };
    if payload.is_command() {
        let python = config
            .runtime
            .as_deref()
            .is_some_and(|r| r.starts_with("python"));
        let adapter = format!("{}.handler", crate::package::python::HANDLER_MODULE);
        if !python || config.handler.as_deref() != Some(adapter.as_str()) {
            return Err(not_adapter(
                &target.function_name,
                &format!(
                    "its runtime is {} and its handler {}",
                    config.runtime.as_deref().unwrap_or("unknown"),
                    config.handler.as_deref().unwrap_or("unknown")
                ),
            ));
        }
    }
    Ok(config)
}

/// Print what the command wrote to stderr (its stdout is the report).
pub(crate) fn print_streams(report: &InvokeReport, format: OutputFormat) {
    if format == OutputFormat::Text && !report.stderr.is_empty() {
        eprint!("{}", report.stderr);
        if !report.stderr.ends_with('\n') {
            eprintln!();
        }
    }
}

/// `deploy-action invoke`.
pub(crate) async fn command(args: &InvokeArgs) -> Result<InvokeReport> {
    let payload = parse_payload(args)?;
    if let Some(v) = &args.version {
        validate_version(v)?;
    }
    if let Some(url) = &args.local {
        return local(url, args.version.as_deref(), &payload).await;
    }
    let github = GitHubContext::from_env()?;
    let target = crate::config::resolve_target(&args.target, &github)?;
    let aws = crate::aws::connect(&target.aws).await?;
    let config = resolve_version(&aws, &target, args.version.as_deref(), &payload).await?;
    tracing::info!(
        "invoking {}:{} ({})",
        target.function_name,
        config.version,
        payload.describe()
    );
    let started = Instant::now();
    let answer = send(
        &aws.lambda,
        &target.function_name,
        &config.version,
        &payload.event(),
        "invoke",
    )
    .await?;
    let report = interpret(
        &target.function_name,
        &payload,
        answer,
        config.timeout,
        started,
    )?;
    print_streams(&report, target.output);
    Ok(report)
}

/// `invoke --local URL`: the same invocation against `deploy-action serve`'s invoke endpoint.
async fn local(url: &str, version: Option<&str>, payload: &Payload) -> Result<InvokeReport> {
    let loopback = ["http://127.0.0.1:", "http://localhost:"]
        .iter()
        .any(|p| url.starts_with(p));
    if !loopback {
        return Err(Error::invalid(
            "--local",
            format!("{url:?} is not a loopback http:// URL"),
            "pass the invoke URL `deploy-action serve` prints (`Invoke API on http://127.0.0.1:PORT`)",
        ));
    }
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
        .region(aws_sdk_lambda::config::Region::new("us-east-1"))
        .endpoint_url(url.trim_end_matches('/'))
        .credentials_provider(aws_credential_types::Credentials::new(
            "local", "local", None, None, "serve",
        ))
        .build();
    let client = aws_sdk_lambda::Client::from_conf(config);
    let started = Instant::now();
    let answer = send(
        &client,
        crate::serve::FUNCTION_NAME,
        version.unwrap_or("$LATEST"),
        &payload.event(),
        "invoke",
    )
    .await?;
    let report = interpret(crate::serve::FUNCTION_NAME, payload, answer, None, started)?;
    print_streams(&report, OutputFormat::Text);
    Ok(report)
}

/// `--release-command` during a deploy: run `cfg.release_command` on the just-published
/// `version`, before `live` moves. Once per version: a success is recorded in the function tag
/// `deploy-action:released=<version>` (durable, one cheap write, and read with the function),
/// so a re-run of the same deploy that reuses the version skips it. A failure (non-zero status,
/// an exception, the timeout) is an error: `live` stays where it was.
pub(crate) async fn run_release_command(
    aws: &Aws,
    cfg: &DeployConfig,
    version: &FunctionConfig,
) -> Result<()> {
    let Some(payload) = &cfg.release_command else {
        return Ok(());
    };
    workflow::group("release command");
    let result = release(aws, cfg, version, payload).await;
    workflow::end_group();
    result
}

async fn release(
    aws: &Aws,
    cfg: &DeployConfig,
    version: &FunctionConfig,
    payload: &Payload,
) -> Result<()> {
    let function = Function::new(&aws.lambda, &cfg.function_name);
    let tags: HashMap<String, String> = function
        .get(None)
        .await?
        .map(|(_, t)| t)
        .unwrap_or_default();
    if tags.get(TAG_RELEASED) == Some(&version.version) {
        tracing::info!(
            "release command already succeeded on version {}; not running it again",
            version.version
        );
        return Ok(());
    }
    tracing::info!(
        "release command on {}:{}: {}",
        cfg.function_name,
        version.version,
        payload.describe()
    );
    let started = Instant::now();
    let answer = send(
        &aws.lambda,
        &cfg.function_name,
        &version.version,
        &payload.event(),
        "release command",
    )
    .await?;
    let report = match interpret(
        &cfg.function_name,
        payload,
        answer,
        Some(cfg.function.timeout),
        started,
    ) {
        Ok(r) => r,
        Err(e) => {
            return Err(release_failed(cfg, version, payload, e.to_string(), ""));
        }
    };
    for line in report.stdout.lines().chain(report.stderr.lines()) {
        tracing::info!("  | {line}");
    }
    if report.status != 0 {
        let output = format!("{}{}", report.stdout, report.stderr);
        return Err(release_failed(
            cfg,
            version,
            payload,
            format!("exited with status {}", report.status),
            &output,
        ));
    }
    let arn = crate::ops::unqualified_arn(&version.arn);
    function
        .tag(&arn, &[(TAG_RELEASED, version.version.as_str())])
        .await?;
    tracing::info!(
        "release command succeeded on version {} ({} ms)",
        version.version,
        report.duration_ms
    );
    Ok(())
}

fn release_failed(
    cfg: &DeployConfig,
    version: &FunctionConfig,
    payload: &Payload,
    message: String,
    output: &str,
) -> Error {
    let tail: String = {
        let lines: Vec<&str> = output.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    };
    let summary = format!(
        "### deploy-action: release command failed on `{}` version `{}`\n\n`{}` {message}; `live` was not moved.\n\n```\n{tail}\n```\n",
        cfg.function_name,
        version.version,
        payload.describe()
    );
    if let Err(e) = workflow::append_summary(&summary) {
        tracing::warn!("can't write the step summary: {e}");
    }
    Error::ReleaseFailed {
        function: cfg.function_name.clone(),
        version: version.version.clone(),
        message: format!("`{}` {message}", payload.describe()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_a_shell() {
        assert_eq!(
            split_words("migrate --noinput").unwrap(),
            ["migrate", "--noinput"]
        );
        assert_eq!(
            split_words(r#"shell -c 'print(1, 2)' "a \"b\"" c\ d"#).unwrap(),
            ["shell", "-c", "print(1, 2)", "a \"b\"", "c d"]
        );
        assert_eq!(split_words("''").unwrap(), [""]);
        assert!(split_words("'open").is_none());
        assert!(split_words("  ").unwrap().is_empty());
    }

    #[test]
    fn release_commands_parse() {
        assert_eq!(
            parse_release_command("manage migrate --noinput").unwrap(),
            Payload::Manage(vec!["migrate".into(), "--noinput".into()])
        );
        assert_eq!(
            parse_release_command("manage:check").unwrap(),
            Payload::Manage(vec!["check".into()])
        );
        assert_eq!(
            parse_release_command("python:print(1)").unwrap(),
            Payload::Python("print(1)".into())
        );
        for bad in ["migrate", "python:", "manage ", "manage 'x"] {
            assert_eq!(parse_release_command(bad).unwrap_err().code(), 2, "{bad}");
        }
    }

    #[test]
    fn command_events_have_one_key() {
        let event = Payload::Manage(vec!["migrate".into()]).event();
        assert_eq!(event.as_object().unwrap().len(), 1);
        assert_eq!(event[COMMAND_KEY]["command"], "manage");
        assert_eq!(
            Payload::Python("x".into()).event()[COMMAND_KEY]["code"],
            "x"
        );
    }

    #[test]
    fn versions_are_checked() {
        assert!(validate_version("3").is_ok());
        assert!(validate_version("live").is_ok());
        assert!(validate_version("$LATEST").is_ok());
        assert!(validate_version("3; rm").is_err());
        assert!(validate_version("").is_err());
    }
}
