//! Rust apps: built with cargo-lambda for the function's architecture.

use std::path::{Path, PathBuf};

use crate::config::Architecture;
use crate::error::{Error, Result};

pub struct RustBuildRequest<'a> {
    pub source: &'a Path,
    pub bin: Option<&'a str>,
    pub architecture: Architecture,
}

/// Build the package and return the directory that holds `bootstrap`.
pub fn build(req: &RustBuildRequest<'_>) -> Result<PathBuf> {
    Err(Error::Build {
        message: format!(
            "building Rust from {} is not available yet",
            req.source.display()
        ),
        help: Some(
            "build with `cargo lambda build --release --output-format zip` and pass --artifact"
                .into(),
        ),
        bad_input: true,
    })
}
