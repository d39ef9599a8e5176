//! Python apps: the app's source, its dependencies installed for the target platform, and a
//! small handler module that adapts function URL events to WSGI or ASGI (docs/contract.md, "Build",
//! issue 3).
//!
//! The bundle is laid out flat, as Lambda's Python runtime expects under `/var/task`:
//! the dependencies (wheels for the runtime's CPython and the function's architecture, resolved
//! and installed by uv or pip, see `installer.rs`), then the app's own files on top (see
//! `files::source_files`), then `deploy_action_handler.py`, which imports the app object named by
//! `--python-app` or found by a static scan of app.py, main.py and run.py. Nothing of the app is
//! imported here: the target may be another architecture than this machine.

pub(crate) mod bytecode;
pub(crate) mod deps;
pub(crate) mod installer;

use std::path::Path;

use crate::config::Architecture;
use crate::error::{Error, IoContext, Result};
use crate::package::files;

pub(crate) use installer::Installer;

/// The module Lambda imports (`--handler deploy_action_handler.handler`, the default).
pub(crate) const HANDLER_MODULE: &str = "deploy_action_handler";
const HANDLER_TEMPLATE: &str = include_str!("python/deploy_action_handler.py");
const HANDLER_APP_PLACEHOLDER: &str = "__DEPLOY_ACTION_APP__";

/// The adapters the handler uses, pinned. Both are small and pure Python (apig-wsgi ~40 KB,
/// mangum + typing-extensions ~200 KB unzipped), so both ship: which one an app needs is only
/// known by importing it, and that can't happen here for another architecture.
pub(crate) const ADAPTERS: &[(&str, &str)] = &[("apig-wsgi", "2.20.0"), ("mangum", "0.22.0")];

/// Files the default `--python-app` is looked for in, in order; each must define `app`.
pub(crate) const APP_FILES: &[&str] = &["app.py", "main.py", "run.py"];

pub(crate) struct PythonBuildRequest<'a> {
    pub source: &'a Path,
    /// `module:attr`, or `None` to find `app` in app.py, main.py or run.py.
    pub app: Option<&'a str>,
    pub runtime: &'a str,
    pub architecture: Architecture,
    /// `--exclude` globs, on paths relative to `source`.
    pub exclude: &'a globset::GlobSet,
    /// Where to lay out the bundle (created by `build`).
    pub staging: &'a Path,
    /// Ship `.pyc` for the modules imported at start-up (`--no-compile` turns it off).
    pub compile: bool,
}

/// The interpreter and platform the bundle is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Target {
    /// CPython 3.`minor`.
    pub minor: u32,
    pub architecture: Architecture,
}

impl Target {
    /// The target of a `pythonX.Y` runtime.
    pub(crate) fn new(runtime: &str, architecture: Architecture) -> Result<Target> {
        let minor = runtime
            .strip_prefix("python3.")
            .and_then(|m| m.parse::<u32>().ok())
            .ok_or_else(|| {
                Error::invalid(
                    "--runtime",
                    format!("{runtime:?} is not a Python runtime, but the app is built as Python"),
                    "use a Python runtime such as --runtime python3.13, or --build rust for a Rust app",
                )
            })?;
        Ok(Target {
            minor,
            architecture,
        })
    }

    #[must_use]
    pub(crate) fn python_version(&self) -> String {
        format!("3.{}", self.minor)
    }

    fn machine(&self) -> &'static str {
        match self.architecture {
            Architecture::Arm64 => "aarch64",
            Architecture::X86_64 => "x86_64",
        }
    }

    /// The newest manylinux level the runtime's OS runs: python3.12 and later run on Amazon
    /// Linux 2023 (glibc 2.34); earlier ones on Amazon Linux 2 (glibc 2.26, served by
    /// manylinux2014 = 2.17, as uv names no level between 2.17 and 2.28).
    fn glibc_minor(&self) -> u32 {
        if self.minor >= 12 { 34 } else { 17 }
    }

    /// The platform wheels must be tagged for, e.g. `manylinux_2_34_aarch64`.
    #[must_use]
    pub(crate) fn wheel_tag(&self) -> String {
        match self.glibc_minor() {
            17 => format!("manylinux2014_{}", self.machine()),
            g => format!(
                "manylinux_2_{g}_{} (or manylinux2014_{})",
                self.machine(),
                self.machine()
            ),
        }
    }

    /// uv's `--python-platform`: every manylinux level up to this one is accepted.
    #[must_use]
    pub(crate) fn uv_platform(&self) -> String {
        match self.glibc_minor() {
            17 => format!("{}-manylinux2014", self.machine()),
            g => format!("{}-manylinux_2_{g}", self.machine()),
        }
    }

    /// pip's `--platform` values: pip takes each accepted tag explicitly.
    #[must_use]
    pub(crate) fn pip_platforms(&self) -> Vec<String> {
        let m = self.machine();
        let mut tags: Vec<String> = (17..=self.glibc_minor())
            .rev()
            .map(|g| format!("manylinux_2_{g}_{m}"))
            .collect();
        tags.push(format!("manylinux2014_{m}"));
        tags
    }

    #[must_use]
    pub(crate) fn describe(&self) -> String {
        format!(
            "CPython {} (cp3{}) on {}",
            self.python_version(),
            self.minor,
            match self.glibc_minor() {
                17 => format!("manylinux2014 {}", self.machine()),
                g => format!("manylinux_2_{g} {}", self.machine()),
            }
        )
    }
}

/// Lay out the bundle in `req.staging`.
pub(crate) fn build(req: &PythonBuildRequest<'_>) -> Result<()> {
    let target = Target::new(req.runtime, req.architecture)?;
    // uv and pip run in the app's directory, and every path handed to them must hold there.
    let source = &req
        .source
        .canonicalize()
        .map_err(|e| Error::io_path("can't resolve", req.source, e))?;
    let sources = files::source_files(source, req.exclude)?;
    if let Some(own) = sources
        .iter()
        .find(|f| f.name == format!("{HANDLER_MODULE}.py"))
    {
        return Err(Error::package(
            format!(
                "{} would be replaced by deploy-action's handler module of the same name",
                own.path.display()
            ),
            "rename the file (deploy-action writes deploy_action_handler.py into the bundle)",
        ));
    }
    let app = match req.app {
        Some(app) => app.to_string(),
        None => find_app(source, &sources)?,
    };

    std::fs::create_dir_all(req.staging).at("can't create", req.staging)?;
    let work = tempfile::Builder::new()
        .prefix("deploy-action-python-")
        .tempdir()
        .map_err(|e| Error::io("can't create a temporary directory", e))?;

    let decl = deps::Declaration::find(source)?;
    let direct = deps::direct_requirements(&decl)?;
    // The app's own choice of adapter version wins over ours.
    let adapters: Vec<String> = ADAPTERS
        .iter()
        .filter(|(name, _)| !direct.iter().any(|d| d.name == *name))
        .map(|(name, version)| format!("{name}=={version}"))
        .collect();
    let installer = Installer::find()?;
    tracing::info!(
        "installing the dependencies from {} for {} with {}",
        decl.describe(),
        target.describe(),
        installer.describe()
    );
    let (options, resolved) = installer.resolve(&decl, &adapters, &target, source, work.path())?;
    let (kept, left_out) = deps::prune_runtime_provided(resolved, &direct);
    if !left_out.is_empty() {
        tracing::info!(
            "left out {} (the Lambda runtime provides boto3; pin boto3/botocore in the requirements to bundle your own)",
            left_out
                .iter()
                .map(|r| r.line.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    installer.install(&options, &kept, &target, source, work.path(), req.staging)?;
    trim(req.staging)?;

    for file in &sources {
        let dest = req.staging.join(&file.name);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).at("can't create", parent)?;
        }
        std::fs::copy(&file.path, &dest).at("can't copy", &file.path)?;
    }
    if req.app.is_some() {
        check_module(source, req.staging, &app)?;
    }
    let handler = HANDLER_TEMPLATE.replace(HANDLER_APP_PLACEHOLDER, &app);
    let handler_path = req.staging.join(format!("{HANDLER_MODULE}.py"));
    std::fs::write(&handler_path, handler).at("can't write", &handler_path)?;
    if req.compile {
        let app_module = app.split(':').next().unwrap_or_default();
        bytecode::compile(
            req.staging,
            &[HANDLER_MODULE, app_module],
            &target,
            work.path(),
        )?;
    }
    tracing::info!(
        "bundled {} packages, {} source files, handler {HANDLER_MODULE}.handler for {app}",
        kept.len(),
        sources.len()
    );
    Ok(())
}

/// Whether Python source defines a top-level `app`: an assignment, a def, or an import.
#[must_use]
pub(crate) fn defines_app(source: &str) -> bool {
    static DEFINES: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"(?m)^(?:app\s*(?::[^=\n]*)?=(?:[^=]|$)|(?:async\s+)?def\s+app\s*\(|class\s+app\b|from\s+\S+\s+import\s+\(?[\s\w,]*?\bapp\s*(?:,|\)|#|$)|import\s+\S+\s+as\s+app\s*$)",
        )
        .expect("valid regex")
    });
    DEFINES.is_match(source)
}

/// A Django project's settings module, from `manage.py`'s
/// `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")` (what `startproject`
/// writes).
#[must_use]
pub(crate) fn django_settings(manage_py: &str) -> Option<String> {
    static SETTINGS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"["']DJANGO_SETTINGS_MODULE["']\s*,\s*["']([A-Za-z_][\w.]*)["']"#)
            .expect("valid regex")
    });
    SETTINGS.captures(manage_py).map(|c| c[1].to_string())
}

/// A Django project (`manage.py` naming its settings module, and the `wsgi.py` next to the
/// settings that `startproject` writes): its WSGI app, `<project>.wsgi:application`. Importing
/// it sets `DJANGO_SETTINGS_MODULE`, which is also how the handler knows it may run `--manage`.
fn find_django(files: &[files::SourceFile]) -> Result<Option<String>> {
    let Some(manage) = files.iter().find(|f| f.name == "manage.py") else {
        return Ok(None);
    };
    let text = std::fs::read(&manage.path).at("can't read", &manage.path)?;
    let Some(settings) = django_settings(&String::from_utf8_lossy(&text)) else {
        return Ok(None);
    };
    let project = settings.rsplit_once('.').map_or("", |(p, _)| p);
    let wsgi = if project.is_empty() {
        "wsgi.py".to_string()
    } else {
        format!("{}/wsgi.py", project.replace('.', "/"))
    };
    if !files.iter().any(|f| f.name == wsgi) {
        return Err(Error::package(
            format!(
                "manage.py names the Django settings {settings}, but there is no {wsgi} next to them"
            ),
            "add the wsgi.py that `django-admin startproject` writes, or pass --python-app module:attr naming the WSGI application",
        ));
    }
    let module = wsgi.trim_end_matches(".py").replace('/', ".");
    tracing::info!("app: {module}:application (Django, settings {settings})");
    Ok(Some(format!("{module}:application")))
}

/// The default app: a Django project's WSGI application, else `app` in the first of
/// [`APP_FILES`] that defines it.
fn find_app(source: &Path, files: &[files::SourceFile]) -> Result<String> {
    if let Some(app) = find_django(files)? {
        return Ok(app);
    }
    let mut checked = Vec::new();
    for candidate in APP_FILES {
        let Some(file) = files.iter().find(|f| f.name == *candidate) else {
            continue;
        };
        let text = std::fs::read(&file.path).at("can't read", &file.path)?;
        if defines_app(&String::from_utf8_lossy(&text)) {
            let module = candidate.trim_end_matches(".py");
            tracing::info!("app: {module}:app (found in {candidate})");
            return Ok(format!("{module}:app"));
        }
        checked.push(*candidate);
    }
    let detail = if checked.is_empty() {
        format!("it has none of {}", APP_FILES.join(", "))
    } else {
        format!(
            "{} do(es) not define `app` at top level",
            checked.join(", ")
        )
    };
    Err(Error::package(
        format!("no Python app found in {}: {detail}", source.display()),
        "pass --python-app module:attr naming the WSGI or ASGI app object (e.g. --python-app myapp.web:application)",
    ))
}

/// `--python-app`'s module must be in the bundle: the app's files or an installed package.
fn check_module(source: &Path, staging: &Path, app: &str) -> Result<()> {
    let module = app.split(':').next().unwrap_or_default();
    let rel = module.replace('.', "/");
    let present = staging.join(format!("{rel}.py")).is_file() || staging.join(&rel).is_dir();
    if present {
        return Ok(());
    }
    Err(Error::invalid(
        "--python-app",
        format!(
            "module {module} of {app} is not in the bundle: no {rel}.py or {rel}/ in {} or among the installed dependencies",
            source.display()
        ),
        "name a module of the app's source (module:attr, with dots for packages), relative to --source",
    ))
}

/// Remove what an installed bundle doesn't need at run time: console scripts (`bin/`, with
/// shebangs of this machine's Python), bytecode, uv's lock file. `*.dist-info` stays:
/// `importlib.metadata` reads it.
fn trim(staging: &Path) -> Result<()> {
    for name in ["bin", ".lock"] {
        let path = staging.join(name);
        if path.is_dir() {
            std::fs::remove_dir_all(&path).at("can't remove", &path)?;
        } else if path.is_file() {
            std::fs::remove_file(&path).at("can't remove", &path)?;
        }
    }
    let mut doomed = Vec::new();
    for entry in walkdir::WalkDir::new(staging) {
        let entry = entry.map_err(|e| {
            Error::io(
                format!("can't read {}", staging.display()),
                e.into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("filesystem loop")),
            )
        })?;
        let name = entry.file_name().to_string_lossy();
        if (entry.file_type().is_dir() && name == "__pycache__")
            || (entry.file_type().is_file() && (name.ends_with(".pyc") || name.ends_with(".pyo")))
        {
            doomed.push(entry.path().to_path_buf());
        }
    }
    for path in doomed {
        if path.is_dir() {
            std::fs::remove_dir_all(&path).at("can't remove", &path)?;
        } else if path.exists() {
            std::fs::remove_file(&path).at("can't remove", &path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_follow_the_runtime() {
        let t = Target::new("python3.13", Architecture::Arm64).unwrap();
        assert_eq!(t.python_version(), "3.13");
        assert_eq!(t.uv_platform(), "aarch64-manylinux_2_34");
        assert_eq!(t.pip_platforms().first().unwrap(), "manylinux_2_34_aarch64");
        assert_eq!(t.pip_platforms().last().unwrap(), "manylinux2014_aarch64");
        assert_eq!(
            t.describe(),
            "CPython 3.13 (cp313) on manylinux_2_34 aarch64"
        );
        let old = Target::new("python3.11", Architecture::X86_64).unwrap();
        assert_eq!(old.uv_platform(), "x86_64-manylinux2014");
        assert_eq!(
            old.pip_platforms(),
            vec!["manylinux_2_17_x86_64", "manylinux2014_x86_64"]
        );
        assert!(Target::new("provided.al2023", Architecture::Arm64).is_err());
    }

    #[test]
    fn finds_app_definitions() {
        for yes in [
            "from flask import Flask\napp = Flask(__name__)\n",
            "app: FastAPI = FastAPI()\n",
            "app=Sanic('hello')",
            "from .web import app\n",
            "from web import create, app  # the app\n",
            "from web import (\n    app,\n)\n",
            "import web.server as app\n",
            "from web import application as app\n",
            "async def app(scope, receive, send):\n    pass\n",
        ] {
            assert!(defines_app(yes), "{yes:?}");
        }
        for no in [
            "application = Flask(__name__)\n",
            "def create_app():\n    app = Flask(__name__)\n    return app\n",
            "if app == 1: pass\n",
            "app.run()\n",
            "# app = Flask(__name__)\n",
            "from web import apps\n",
        ] {
            assert!(!defines_app(no), "{no:?}");
        }
    }

    #[test]
    fn finds_django_projects() {
        assert_eq!(
            django_settings(
                "    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n"
            )
            .as_deref(),
            Some("mysite.settings")
        );
        assert_eq!(django_settings("import django\n"), None);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("manage.py"),
            "os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"site.settings\")\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("app.py"), "app = object()\n").unwrap();
        let files = files::source_files(dir.path(), &globset::GlobSet::empty()).unwrap();
        let err = find_app(dir.path(), &files).unwrap_err();
        assert!(err.to_string().contains("site/wsgi.py"), "{err}");
        std::fs::create_dir(dir.path().join("site")).unwrap();
        std::fs::write(dir.path().join("site/wsgi.py"), "application = None\n").unwrap();
        let files = files::source_files(dir.path(), &globset::GlobSet::empty()).unwrap();
        assert_eq!(
            find_app(dir.path(), &files).unwrap(),
            "site.wsgi:application"
        );
    }

    #[test]
    fn the_handler_template_has_its_placeholder_once() {
        assert_eq!(HANDLER_TEMPLATE.matches(HANDLER_APP_PLACEHOLDER).count(), 1);
    }

    #[test]
    fn no_app_is_a_precise_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.py"), "print('hi')\n").unwrap();
        let files = files::source_files(dir.path(), &globset::GlobSet::empty()).unwrap();
        let err = find_app(dir.path(), &files).unwrap_err();
        assert!(
            err.to_string().contains("main.py do(es) not define `app`"),
            "{err}"
        );
        assert_eq!(err.code(), 2);
        std::fs::write(dir.path().join("run.py"), "app = object()\n").unwrap();
        let files = files::source_files(dir.path(), &globset::GlobSet::empty()).unwrap();
        assert_eq!(find_app(dir.path(), &files).unwrap(), "run:app");
    }
}
