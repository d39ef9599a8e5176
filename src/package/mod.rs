//! Making the artifact: build (Rust, Python) or take a prebuilt one, zip it
//! deterministically, check it against Lambda's limits and the target architecture, and hash
//! it (docs/contract.md, "Build").

pub(crate) mod checks;
pub(crate) mod files;
pub(crate) mod python;
pub(crate) mod rust;
pub(crate) mod zip;

use std::path::{Path, PathBuf};

use base64::Engine;

use crate::config::{Architecture, ArtifactSource, BuildSettings};
use crate::error::{Error, IoContext, Result};

/// A zip ready to upload.
#[derive(Debug)]
pub(crate) struct Artifact {
    pub path: PathBuf,
    /// Size of the zip in bytes.
    pub size: u64,
    /// Hex sha256 of the zip: the S3 key.
    pub sha256_hex: String,
    /// Base64 sha256 of the zip: what Lambda reports as CodeSha256.
    pub code_sha256: String,
    pub files: usize,
    pub runtime: String,
    pub handler: String,
    pub architecture: Architecture,
    /// Keeps temporary build output alive as long as the artifact.
    _temp: Option<tempfile::TempDir>,
}

pub(crate) use crate::output::PackageReport;

impl Artifact {
    #[must_use]
    pub(crate) fn report(&self) -> PackageReport {
        PackageReport {
            path: self.path.clone(),
            size: self.size,
            sha256: self.sha256_hex.clone(),
            code_sha256: self.code_sha256.clone(),
            runtime: self.runtime.clone(),
            handler: self.handler.clone(),
            architecture: self.architecture,
            files: self.files,
        }
    }
}

/// `out` relative to the source tree, when it lies inside it.
fn out_inside_source(out: &Path, source: &ArtifactSource) -> Option<String> {
    let root = match source {
        ArtifactSource::Prebuilt { path } if path.is_dir() => path,
        ArtifactSource::Python { source, .. } => source,
        _ => return None,
    };
    let root = root.canonicalize().ok()?;
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let out_abs = parent.canonicalize().ok()?.join(out.file_name()?);
    out_abs.strip_prefix(&root).ok().map(zip::archive_name)
}

/// Build (or take) the artifact, zip it deterministically into `out` (a temporary file when
/// `None`), check it and hash it. Nothing remote happens here.
pub(crate) fn build(settings: &BuildSettings, out: Option<&Path>) -> Result<Artifact> {
    build_checked(settings, out)?.hash()
}

/// A zip that passed the checks, not hashed yet: hashing is the one slow step left (tens of
/// milliseconds for tens of MiB), and `deploy` does it while its first requests are out.
#[derive(Debug)]
pub(crate) struct Checked {
    path: PathBuf,
    summary: checks::Summary,
    settings: BuildSettings,
    temp: tempfile::TempDir,
}

impl Checked {
    /// Hash the zip (blocking I/O).
    pub(crate) fn hash(self) -> Result<Artifact> {
        let digest = zip::sha256_file(&self.path)?;
        let size = std::fs::metadata(&self.path)
            .at("can't stat", &self.path)?
            .len();
        Ok(Artifact {
            path: self.path,
            size,
            sha256_hex: hex::encode(digest),
            code_sha256: base64::engine::general_purpose::STANDARD.encode(digest),
            files: self.summary.files,
            runtime: self.settings.runtime,
            handler: self.settings.handler,
            architecture: self.settings.architecture,
            _temp: Some(self.temp),
        })
    }
}

/// `build` up to the checks: every local error is found here.
pub(crate) fn build_checked(settings: &BuildSettings, out: Option<&Path>) -> Result<Checked> {
    let mut excludes = settings.exclude.clone();
    // `package --out` inside the tree being packaged must not end up in the next build.
    if let Some(rel) = out.and_then(|o| out_inside_source(o, &settings.source)) {
        excludes.push(globset::escape(&rel));
    }
    let exclude = files::globset(&excludes)?;
    let temp = tempfile::Builder::new()
        .prefix("deploy-action-")
        .tempdir()
        .map_err(|e| Error::io("can't create a temporary directory", e))?;
    let zip_path = match out {
        Some(p) => p.to_path_buf(),
        None => temp.path().join("artifact.zip"),
    };
    if let Some(parent) = zip_path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).at("can't create", parent)?;
    }
    // The zip that holds the result: usually `zip_path`, but a prebuilt zip that is already
    // deterministic is used in place (no copy of a large file).
    let mut final_path = zip_path.clone();
    match &settings.source {
        ArtifactSource::Prebuilt { path } if path.is_dir() => {
            zip::write_zip(zip::dir_entries(path, &exclude)?, &zip_path)?;
        }
        ArtifactSource::Prebuilt { path } => {
            let rewritten = zip::normalize_zip(path, &zip_path, &exclude)?;
            if !rewritten {
                if out.is_some() {
                    std::fs::copy(path, &zip_path).at("can't copy to", &zip_path)?;
                } else {
                    final_path = path.clone();
                }
            }
        }
        ArtifactSource::Rust { source, bin } => {
            let dir = rust::build(&rust::RustBuildRequest {
                out_dir: &temp.path().join("lambda"),
                source,
                bin: bin.as_deref(),
                architecture: settings.architecture,
            })?;
            zip::write_zip(
                zip::dir_entries(&dir, &globset::GlobSet::empty())?,
                &zip_path,
            )?;
        }
        ArtifactSource::Python {
            source,
            app,
            no_compile,
        } => {
            let staging = temp.path().join("bundle");
            python::build(&python::PythonBuildRequest {
                source,
                app: app.as_deref(),
                runtime: &settings.runtime,
                architecture: settings.architecture,
                exclude: &exclude,
                staging: &staging,
                compile: !no_compile,
            })?;
            zip::write_zip(
                zip::dir_entries(&staging, &globset::GlobSet::empty())?,
                &zip_path,
            )?;
        }
    }
    let summary = checks::check_zip(&final_path, settings.architecture)?;
    Ok(Checked {
        path: final_path,
        summary,
        settings: settings.clone(),
        temp,
    })
}
