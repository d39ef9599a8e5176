//! deploy-action: ship web apps to AWS Lambda from GitHub Actions or a terminal.
//!
//! raw args (`cli`) → validated config (`config`) → plan (`plan`) → execute (`deploy`, ...)
//! → one report (`output`). `run` is the whole program; `main` only exits with its code.

pub mod aws;
pub mod cli;
pub mod commands;
pub mod config;
pub mod deploy;
pub mod domain;
pub mod error;
pub mod github;
pub mod naming;
pub mod ops;
pub mod output;
pub mod package;
pub mod plan;
pub mod policy;
pub mod serve;

use std::ffi::OsString;

use clap::Parser;

/// Parse `args`, run the command, print its report or error, and return the exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                error::EXIT_BAD_INPUT
            } else {
                0
            };
        }
    };
    init_logging();
    let format = commands::output_format(&cli.command);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output::print_error(
                &error::Error::io("can't start the async runtime", e),
                format,
            );
            return error::EXIT_FAILED;
        }
    };
    match runtime.block_on(commands::dispatch(cli.command)) {
        Ok(report) => {
            if let Err(e) = github::workflow::set_outputs(&report.outputs()) {
                output::print_error(&e, format);
                return e.code();
            }
            report.print(format);
            0
        }
        Err(e) => {
            output::print_error(&e, format);
            e.code()
        }
    }
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
