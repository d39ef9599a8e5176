//! Python apps: the app's source, its dependencies installed for the target platform, and a
//! small handler module that adapts function URL events to WSGI or ASGI.

use std::path::Path;

use crate::config::Architecture;
use crate::error::{Error, Result};

pub struct PythonBuildRequest<'a> {
    pub source: &'a Path,
    /// `module:attr`, or `None` to find `app` in app.py, main.py or run.py.
    pub app: Option<&'a str>,
    pub runtime: &'a str,
    pub architecture: Architecture,
    /// `--exclude` globs, on paths relative to `source`.
    pub exclude: &'a globset::GlobSet,
    /// Where to lay out the bundle (created by `build`).
    pub staging: &'a Path,
}

/// Lay out the bundle in `req.staging`.
pub fn build(req: &PythonBuildRequest<'_>) -> Result<()> {
    Err(Error::Build {
        message: format!(
            "building Python from {} is not available yet",
            req.source.display()
        ),
        help: Some("package the app yourself and pass --artifact".into()),
        bad_input: true,
    })
}
