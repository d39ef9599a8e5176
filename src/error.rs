//! One error type for the whole tool.
//!
//! Every variant says what went wrong; the ones a user can fix carry a `help` naming the flag,
//! input or command to change. `code()` maps them onto the exit codes of docs/contract.md, "Exit codes":
//! 2 for bad input (nothing was changed), 1 for a failed deploy.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// Exit code for a deploy (or other remote operation) that failed.
pub(crate) const EXIT_FAILED: i32 = 1;
/// Exit code for bad input: nothing was changed.
pub(crate) const EXIT_BAD_INPUT: i32 = 2;

#[derive(Debug, Error, Diagnostic)]
pub enum Error {
    /// A flag or environment variable has a value we can't use.
    #[error("invalid {flag}: {message}")]
    #[diagnostic(code(deploy_action::invalid_input))]
    InvalidInput {
        flag: &'static str,
        message: String,
        #[help]
        help: Option<String>,
    },

    /// A required flag was not given.
    #[error("missing {flag}: {message}")]
    #[diagnostic(code(deploy_action::missing_input))]
    MissingInput {
        flag: &'static str,
        message: String,
        #[help]
        help: Option<String>,
    },

    /// The artifact or source could not be read or packaged.
    #[error("{message}")]
    #[diagnostic(code(deploy_action::package))]
    Package {
        message: String,
        #[help]
        help: Option<String>,
    },

    /// A build tool (cargo-lambda, pip, uv, ...) is missing or failed.
    #[error("{message}")]
    #[diagnostic(code(deploy_action::build))]
    Build {
        message: String,
        #[help]
        help: Option<String>,
        /// A missing tool or toolchain is bad input (nothing was changed); a failing build of
        /// the user's code is a failure.
        bad_input: bool,
    },

    /// The existing function is not managed by deploy-action.
    #[error(
        "function {function} exists but is not managed by deploy-action (it has no deploy-action:app tag)"
    )]
    #[diagnostic(
        code(deploy_action::not_managed),
        help(
            "pass --adopt (input `adopt: true`) to take it over, or choose another --app/--stage"
        )
    )]
    NotManaged { function: String },

    /// The function belongs to another app or stage (its tags say so). Never changed, not
    /// even with `--adopt`: another stage runs on it.
    #[error(
        "function {function} belongs to app {app:?} stage {stage:?} (its deploy-action tags), not to app {our_app:?} stage {our_stage:?}: both name the function {function}"
    )]
    #[diagnostic(
        code(deploy_action::foreign_function),
        help(
            "choose another --app or --stage name for this one (the function name is <app>-<stage>); nothing was changed"
        )
    )]
    ForeignFunction {
        function: String,
        app: String,
        stage: String,
        our_app: String,
        our_stage: String,
    },

    /// The function's tags can't be read, so whose it is can't be told.
    #[error("can't read the tags of function {function}: {message}")]
    #[diagnostic(
        code(deploy_action::tags_unreadable),
        help(
            "the deploy role needs lambda:ListTags (GetFunction returns tags only with it) to tell whether the function is ours; `deploy-action policy` includes it. Nothing was changed"
        )
    )]
    TagsUnreadable { function: String, message: String },

    /// An AWS call failed. `step` is the pipeline step, `resource` what it acted on.
    #[error("{step}: {operation} on {resource} failed: {message}")]
    #[diagnostic(code(deploy_action::aws))]
    Aws {
        step: &'static str,
        operation: &'static str,
        resource: String,
        message: String,
        #[help]
        help: Option<String>,
        /// The service rejected the input itself (a 4xx that retrying can't fix).
        rejected: bool,
    },

    /// A GitHub API call failed.
    #[error("{step}: GitHub {operation} failed: {message}")]
    #[diagnostic(code(deploy_action::github))]
    GitHub {
        step: &'static str,
        operation: &'static str,
        message: String,
        #[help]
        help: Option<String>,
    },

    /// The GitHub event or workflow environment can't be used.
    #[error("{message}")]
    #[diagnostic(code(deploy_action::github_context))]
    GitHubContext {
        message: String,
        #[help]
        help: Option<String>,
    },

    /// The function did not become ready in time, or its update failed.
    #[error("{step}: function {function} {message}")]
    #[diagnostic(code(deploy_action::not_ready))]
    NotReady {
        step: &'static str,
        function: String,
        message: String,
        #[help]
        help: Option<String>,
    },

    /// A smoke check of a new version failed; traffic stays on the old version.
    #[error("smoke check of {function} version {version} failed: {message}")]
    #[diagnostic(
        code(deploy_action::smoke_failed),
        help("live still points at the previous version; fix the app and deploy again")
    )]
    SmokeFailed {
        function: String,
        version: String,
        message: String,
    },

    /// An `ssm:` / `secretsmanager:` reference of `--env` names nothing that can be read.
    #[error("secrets: {reference}: {message}")]
    #[diagnostic(
        code(deploy_action::secret_not_found),
        help(
            "create the parameter or secret (in the deploy's account and region), or fix the reference in --env; nothing was changed"
        )
    )]
    SecretNotFound { reference: String, message: String },
    /// `live` moved, then a later step (function URL, pruning) failed. The report is the
    /// truth about `live`: outputs, comment and deployment show it.
    #[error("live is now version {}; {step} failed: {source}", report.version)]
    #[diagnostic(
        code(deploy_action::after_live),
        help(
            "live serves the new version; fix what the message names and deploy again (it will only redo the failed step)"
        )
    )]
    AfterLive {
        step: &'static str,
        #[source]
        source: Box<Error>,
        report: Box<crate::output::DeployReport>,
    },

    /// The settings file (docs/contract.md, "The settings file") has a key or value we can't use; `location` is
    /// `file:line`.
    #[error("{location}: {message}")]
    #[diagnostic(code(deploy_action::settings))]
    Settings {
        location: String,
        message: String,
        #[help]
        help: Option<String>,
    },

    /// A deploy's `--release-command` failed on the new version; traffic stays where it was.
    #[error("release command on {function} version {version} failed: {message}")]
    #[diagnostic(
        code(deploy_action::release_failed),
        help(
            "live still points at the previous version; the command's output is in the log and the step summary. Fix it and deploy again (it runs again on the next version), or try it first with `deploy-action invoke --version N`"
        )
    )]
    ReleaseFailed {
        function: String,
        version: String,
        message: String,
    },

    /// Local I/O failed.
    #[error("{context}: {source}")]
    #[diagnostic(code(deploy_action::io))]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// Something that must not happen did.
    #[error("internal error: {0}")]
    #[diagnostic(code(deploy_action::internal))]
    Internal(String),
}

impl Error {
    /// The process exit code for this error (docs/contract.md, "Exit codes").
    #[must_use]
    pub fn code(&self) -> i32 {
        match self {
            Error::InvalidInput { .. }
            | Error::MissingInput { .. }
            | Error::Package { .. }
            | Error::NotManaged { .. }
            | Error::ForeignFunction { .. }
            | Error::GitHubContext { .. }
            | Error::Settings { .. } => EXIT_BAD_INPUT,
            Error::TagsUnreadable { .. } => EXIT_FAILED,
            Error::Build { bad_input, .. } => {
                if *bad_input {
                    EXIT_BAD_INPUT
                } else {
                    EXIT_FAILED
                }
            }
            Error::Aws { .. }
            | Error::GitHub { .. }
            | Error::NotReady { .. }
            | Error::SmokeFailed { .. }
            | Error::SecretNotFound { .. }
            | Error::AfterLive { .. }
            | Error::ReleaseFailed { .. }
            | Error::Io { .. }
            | Error::Internal(_) => EXIT_FAILED,
        }
    }

    /// The help text, if any, for rendering outside miette (JSON errors, `::error::`).
    #[must_use]
    pub fn help_text(&self) -> Option<String> {
        Diagnostic::help(self).map(|h| h.to_string())
    }

    /// A short machine-readable kind for JSON output.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidInput { .. } => "invalid_input",
            Error::MissingInput { .. } => "missing_input",
            Error::Package { .. } => "package",
            Error::Build { .. } => "build",
            Error::NotManaged { .. } => "not_managed",
            Error::ForeignFunction { .. } => "foreign_function",
            Error::TagsUnreadable { .. } => "tags_unreadable",
            Error::Aws { .. } => "aws",
            Error::GitHub { .. } => "github",
            Error::GitHubContext { .. } => "github_context",
            Error::NotReady { .. } => "not_ready",
            Error::SmokeFailed { .. } => "smoke_failed",
            Error::SecretNotFound { .. } => "secret_not_found",
            Error::AfterLive { .. } => "after_live",
            Error::Settings { .. } => "settings",
            Error::ReleaseFailed { .. } => "release_failed",
            Error::Io { .. } => "io",
            Error::Internal(_) => "internal",
        }
    }

    pub fn invalid(
        flag: &'static str,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        Error::InvalidInput {
            flag,
            message: message.into(),
            help: Some(help.into()),
        }
    }

    pub fn missing(
        flag: &'static str,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        Error::MissingInput {
            flag,
            message: message.into(),
            help: Some(help.into()),
        }
    }

    pub fn package(message: impl Into<String>, help: impl Into<String>) -> Self {
        Error::Package {
            message: message.into(),
            help: Some(help.into()),
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub fn io_path(what: &str, path: &std::path::Path, source: std::io::Error) -> Self {
        Error::io(format!("{what} {}", path.display()), source)
    }
}

/// Attach a path to an I/O error.
pub(crate) trait IoContext<T> {
    fn at(self, what: &str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, what: &str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io_path(what, &path.into(), e))
    }
}
