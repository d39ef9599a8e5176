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

/// The staging tree of a build (a Python bundle: hundreds of files), deleted on its own thread
/// while the deploy talks to AWS. Deleting it where the artifact is dropped cost 0.3-1.0 s
/// between `live` moving and the PR comment (bench/RESULTS-preview-url.md). Dropping this
/// waits for the deletion, so nothing is left behind in the temporary directory.
#[derive(Debug)]
pub(crate) struct DiscardedStaging(Option<std::thread::JoinHandle<()>>);

impl Drop for DiscardedStaging {
    fn drop(&mut self) {
        if let Some(deleting) = self.0.take() {
            let _ = deleting.join();
        }
    }
}

impl Checked {
    /// Move the staging tree out of the artifact's directory (a rename: same file system) and
    /// delete it on a thread. Only the zip is used after the checks.
    pub(crate) fn discard_staging(&self) -> DiscardedStaging {
        discard_tree(&self.temp.path().join("bundle"))
    }
}

fn discard_tree(tree: &Path) -> DiscardedStaging {
    // Beside the build's own temporary directory: the same file system, so a rename.
    let Some(beside) = tree.parent().and_then(Path::parent) else {
        return DiscardedStaging(None);
    };
    if !tree.is_dir() {
        return DiscardedStaging(None);
    }
    let Ok(aside) = tempfile::Builder::new()
        .prefix("deploy-action-discard-")
        .tempdir_in(beside)
    else {
        return DiscardedStaging(None);
    };
    if std::fs::rename(tree, aside.path().join("tree")).is_err() {
        return DiscardedStaging(None);
    }
    DiscardedStaging(Some(std::thread::spawn(move || drop(aside))))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_staging_tree_is_gone_once_its_discard_is_dropped_and_the_zip_stays() {
        let beside = tempfile::tempdir().unwrap();
        let build = beside.path().join("build");
        let bundle = build.join("bundle");
        std::fs::create_dir_all(bundle.join("pkg")).unwrap();
        for i in 0..50 {
            std::fs::write(bundle.join("pkg").join(format!("m{i}.py")), "x = 1\n").unwrap();
        }
        std::fs::write(build.join("artifact.zip"), b"PK").unwrap();

        let discarding = discard_tree(&bundle);
        assert!(!bundle.exists(), "moved out of the build directory at once");
        drop(discarding);

        let left: Vec<_> = std::fs::read_dir(beside.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(
            left,
            vec!["build".to_string()],
            "no discard directory left behind"
        );
        assert!(build.join("artifact.zip").is_file());
    }

    #[test]
    fn a_build_without_a_staging_tree_has_nothing_to_discard() {
        let beside = tempfile::tempdir().unwrap();
        let discarding = discard_tree(&beside.path().join("build").join("bundle"));
        assert!(discarding.0.is_none());
    }
}
