//! deploy-action: ship web apps to AWS Lambda from GitHub Actions or a terminal.
//!
//! raw args (`cli`) → validated config (`config`) → plan (`plan`) → execute (`deploy`, ...)
//! → one report (`output`). `run` is the whole program; `main` only exits with its code.
#![warn(unreachable_pub)]

pub(crate) mod aws;
pub mod cli;
pub(crate) mod commands;
pub(crate) mod config;
pub(crate) mod deploy;
pub(crate) mod domain;
pub(crate) mod error;
pub(crate) mod github;
pub(crate) mod import;
pub mod naming;
pub(crate) mod ops;
pub(crate) mod output;
pub(crate) mod ownership;
pub(crate) mod package;
pub(crate) mod plan;
pub(crate) mod policy;
pub(crate) mod production;
pub(crate) mod serve;
pub mod settings;

use std::ffi::OsString;

/// Parse `args`, run the command, print its report or error, and return the exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    init_logging();
    // The command line with the settings file applied (flag > DEPLOY_* > stage table > top
    // level > default).
    let (cli, settings) = match settings::parse(args) {
        Ok(parsed) => (parsed.cli, parsed.loaded),
        Err(settings::Failure::Clap(e)) => {
            let _ = e.print();
            return if e.use_stderr() {
                error::EXIT_BAD_INPUT
            } else {
                0
            };
        }
        Err(settings::Failure::Settings(e, format)) => {
            fail(&e, format);
            return e.code();
        }
    };
    let format = commands::output_format(&cli.command);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let e = error::Error::io("can't start the async runtime", e);
            fail(&e, format);
            return error::EXIT_FAILED;
        }
    };
    match runtime.block_on(commands::dispatch(cli.command)) {
        Ok(report) => {
            if let (Some(s), output::Report::Deploy(_)) = (&settings, &report)
                && let Err(e) = github::workflow::append_summary(&s.summary_markdown())
            {
                fail(&e, format);
                return e.code();
            }
            if let Err(e) = github::workflow::set_outputs(&report.outputs()) {
                fail(&e, format);
                return e.code();
            }
            report.print(format);
            report.exit_code()
        }
        Err(e) => {
            let e = match &settings {
                Some(s) => s.decorate(e),
                None => e,
            };
            // `live` moved before the run failed: the step outputs say which version is live.
            if let error::Error::AfterLive { report, .. } = &e
                && let Err(outputs) = github::workflow::set_outputs(&report.outputs())
            {
                tracing::warn!("{outputs}");
            }
            fail(&e, format);
            e.code()
        }
    }
}

/// Where a run ends in an error: print it, and annotate it inside Actions.
fn fail(e: &error::Error, format: cli::OutputFormat) {
    github::workflow::error(
        "deploy-action",
        &match e.help_text() {
            Some(h) => format!("{e}\nhelp: {h}"),
            None => e.to_string(),
        },
    );
    output::print_error(e, format);
}

/// Remove `DEPLOY_*` variables that are set but empty, so that they count as unset (the
/// action passes every input through, and an empty input means "not given").
///
/// # Safety
/// Changes the process environment: call it before any other thread exists.
pub unsafe fn drop_empty_deploy_env() {
    let empty: Vec<OsString> = std::env::vars_os()
        .filter(|(k, v)| k.to_string_lossy().starts_with("DEPLOY_") && v.is_empty())
        .map(|(k, _)| k)
        .collect();
    for key in empty {
        // SAFETY: the caller guarantees no other thread reads the environment meanwhile.
        unsafe { std::env::remove_var(key) };
    }
}

/// Logs go to stderr, without timestamps (the runner adds its own). `RUST_LOG` overrides.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,deploy_action=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
