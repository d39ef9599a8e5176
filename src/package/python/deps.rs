//! What a Python app declares as its dependencies, and which of the resolved set to bundle.
//!
//! The declaration comes from the first of `requirements.txt`, `pyproject.toml` with `uv.lock`,
//! `Pipfile.lock`, `pyproject.toml` (`project.dependencies`). The resolver (uv or pip, see
//! `installer.rs`) turns it into the full set for the target; [`prune_runtime_provided`] then
//! leaves out what Lambda's Python runtime already has (boto3, botocore, s3transfer) along with
//! the packages only they needed, unless the app pins them itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};

/// The packages Lambda's Python runtimes ship. Bundling them costs ~20 MB unzipped for nothing,
/// unless the app needs a version of its own.
pub(crate) const RUNTIME_PROVIDED: &[&str] = &["boto3", "botocore", "s3transfer"];

/// Where the app's dependencies are declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Declaration {
    /// A pip requirements file.
    Requirements(PathBuf),
    /// `pyproject.toml` locked by `uv.lock`.
    UvLock { pyproject: PathBuf, lock: PathBuf },
    /// `Pipfile.lock`'s default section.
    PipfileLock(PathBuf),
    /// `pyproject.toml`'s `project.dependencies`, unlocked.
    Pyproject(PathBuf),
    /// Nothing: the app needs only the standard library (and the adapter).
    Nothing,
}

impl Declaration {
    /// The first declaration found in `source`.
    pub(crate) fn find(source: &Path) -> Result<Declaration> {
        let file = |name: &str| Some(source.join(name)).filter(|p| p.is_file());
        if let Some(p) = file("requirements.txt") {
            return Ok(Declaration::Requirements(p));
        }
        if let (Some(pyproject), Some(lock)) = (file("pyproject.toml"), file("uv.lock")) {
            return Ok(Declaration::UvLock { pyproject, lock });
        }
        if let Some(p) = file("Pipfile.lock") {
            return Ok(Declaration::PipfileLock(p));
        }
        if let Some(p) = file("pyproject.toml") {
            return Ok(Declaration::Pyproject(p));
        }
        if let Some(p) = file("Pipfile") {
            // Without its lock the versions are unknown; building without them would deploy an
            // app that fails on its first import.
            return Err(Error::package(
                format!("{} has no Pipfile.lock next to it", p.display()),
                "run `pipenv lock` and commit Pipfile.lock (or write a requirements.txt)",
            ));
        }
        Ok(Declaration::Nothing)
    }

    #[must_use]
    pub(crate) fn describe(&self) -> String {
        let name = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        match self {
            Declaration::Requirements(p) | Declaration::PipfileLock(p) => name(p),
            Declaration::UvLock { .. } => "pyproject.toml + uv.lock".into(),
            Declaration::Pyproject(p) => format!("{} (project.dependencies)", name(p)),
            Declaration::Nothing => "no dependency file".into(),
        }
    }
}

/// A requirement the app states itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Direct {
    /// Normalized name (PEP 503).
    pub name: String,
    /// It carries a version specifier or a URL.
    pub pinned: bool,
}

/// PEP 503 normalization: lowercase, runs of `-`, `_`, `.` become one `-`.
#[must_use]
pub(crate) fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The distribution name at the start of a requirement (`Flask[async]>=3 ; ...` → `Flask`).
#[must_use]
pub(crate) fn requirement_name(line: &str) -> Option<&str> {
    let line = line.trim_start();
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(line.len());
    let name = &line[..end];
    (!name.is_empty() && name.starts_with(|c: char| c.is_ascii_alphanumeric())).then_some(name)
}

/// Parse one PEP 508 requirement string.
#[must_use]
pub(crate) fn parse_requirement(req: &str) -> Option<Direct> {
    let req = req.split(" #").next().unwrap_or_default().trim();
    if req.is_empty() || req.starts_with('#') || req.starts_with('-') {
        return None;
    }
    let name = requirement_name(req)?;
    if req[name.len()..].starts_with([':', '+', '/']) {
        // A bare URL or path (`git+https://...`, `./libs/x`): no name to go by.
        return None;
    }
    let mut rest = req[name.len()..].trim_start();
    if rest.starts_with('[') {
        rest = rest.split_once(']').map_or("", |(_, r)| r);
    }
    let spec = rest.split(';').next().unwrap_or_default();
    let pinned = spec.contains(['=', '<', '>', '~', '!', '@']);
    Some(Direct {
        name: normalize(name),
        pinned,
    })
}

/// The requirements the app states in `decl` (nested `-r` files followed).
pub(crate) fn direct_requirements(decl: &Declaration) -> Result<Vec<Direct>> {
    match decl {
        Declaration::Requirements(p) => {
            let mut out = Vec::new();
            requirements_file(p, &mut out, 0)?;
            Ok(out)
        }
        Declaration::UvLock { pyproject, .. } | Declaration::Pyproject(pyproject) => {
            Ok(pyproject_dependencies(pyproject)?
                .iter()
                .filter_map(|r| parse_requirement(r))
                .collect())
        }
        Declaration::PipfileLock(lock) => pipfile_directs(lock),
        Declaration::Nothing => Ok(Vec::new()),
    }
}

fn requirements_file(path: &Path, out: &mut Vec<Direct>, depth: usize) -> Result<()> {
    let text = std::fs::read_to_string(path).at("can't read", path)?;
    for line in logical_lines(&text) {
        let line = line.trim();
        let nested = line
            .strip_prefix("-r ")
            .or_else(|| line.strip_prefix("--requirement "))
            .or_else(|| line.strip_prefix("--requirement="))
            .map(str::trim);
        if let Some(nested) = nested {
            if depth < 8 {
                let base = path.parent().unwrap_or(Path::new("."));
                requirements_file(&base.join(nested), out, depth + 1)?;
            }
            continue;
        }
        out.extend(parse_requirement(line));
    }
    Ok(())
}

/// Lines of a requirements file with `\` continuations joined and comments removed.
fn logical_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for raw in text.lines() {
        let raw = if raw.trim_start().starts_with('#') {
            ""
        } else {
            raw.split(" #").next().unwrap_or_default()
        };
        if let Some(head) = raw.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(raw);
        lines.push(std::mem::take(&mut current));
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

fn read_toml(path: &Path) -> Result<toml_edit::DocumentMut> {
    let text = std::fs::read_to_string(path).at("can't read", path)?;
    text.parse::<toml_edit::DocumentMut>().map_err(|e| {
        Error::package(
            format!("{} is not valid TOML: {e}", path.display()),
            "fix the file's syntax",
        )
    })
}

/// `project.dependencies` of a `pyproject.toml`.
pub(crate) fn pyproject_dependencies(path: &Path) -> Result<Vec<String>> {
    let doc = read_toml(path)?;
    let project = doc.get("project");
    let deps = project.and_then(|p| p.get("dependencies"));
    if let Some(array) = deps.and_then(toml_edit::Item::as_array) {
        return Ok(array
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect());
    }
    let dynamic = project
        .and_then(|p| p.get("dynamic"))
        .and_then(toml_edit::Item::as_array)
        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some("dependencies")));
    let poetry = doc
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(|p| p.get("dependencies"))
        .is_some();
    if dynamic || poetry {
        let why = if poetry {
            "declares its dependencies for Poetry ([tool.poetry.dependencies])"
        } else {
            "declares its dependencies as dynamic"
        };
        return Err(Error::package(
            format!(
                "{} {why}, which can't be read without building the project",
                path.display()
            ),
            "export them to a requirements.txt next to it (e.g. `poetry export -o requirements.txt`) or list them in [project] dependencies",
        ));
    }
    Ok(Vec::new())
}

/// The packages a Pipfile names (its `[packages]`), when there is a Pipfile next to the lock;
/// `*` means unpinned.
fn pipfile_directs(lock: &Path) -> Result<Vec<Direct>> {
    let pipfile = lock.with_file_name("Pipfile");
    if !pipfile.is_file() {
        return Ok(Vec::new());
    }
    let doc = read_toml(&pipfile)?;
    let Some(packages) = doc.get("packages").and_then(toml_edit::Item::as_table_like) else {
        return Ok(Vec::new());
    };
    Ok(packages
        .iter()
        .map(|(name, spec)| {
            let version = spec
                .as_str()
                .or_else(|| spec.get("version").and_then(toml_edit::Item::as_str));
            let pinned = match version {
                Some(v) => v.trim() != "*",
                // git, path or file entries name one exact source.
                None => true,
            };
            Direct {
                name: normalize(name),
                pinned,
            }
        })
        .collect())
}

/// The default section of a `Pipfile.lock` as requirement lines.
pub(crate) fn pipfile_lock_requirements(lock: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(lock).at("can't read", lock)?;
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        Error::package(
            format!("{} is not valid JSON: {e}", lock.display()),
            "regenerate it with `pipenv lock`",
        )
    })?;
    let Some(default) = doc.get("default").and_then(serde_json::Value::as_object) else {
        return Ok(Vec::new());
    };
    let mut lines = Vec::new();
    for (name, entry) in default {
        let extras = entry
            .get("extras")
            .and_then(serde_json::Value::as_array)
            .map(|e| {
                e.iter()
                    .filter_map(serde_json::Value::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .filter(|e| !e.is_empty())
            .map(|e| format!("[{e}]"))
            .unwrap_or_default();
        let field = |k: &str| entry.get(k).and_then(serde_json::Value::as_str);
        let spec = if let Some(version) = field("version") {
            version.to_string()
        } else if let Some(git) = field("git") {
            let rev = field("ref").map(|r| format!("@{r}")).unwrap_or_default();
            let url = if git.starts_with("git+") {
                git.to_string()
            } else {
                format!("git+{git}")
            };
            format!(" @ {url}{rev}")
        } else if let Some(file) = field("file") {
            format!(" @ {file}")
        } else {
            return Err(Error::package(
                format!(
                    "{}: {name} is a local path or editable entry, which can't be installed for another platform",
                    lock.display()
                ),
                "publish it as a wheel, or list the app's dependencies in a requirements.txt",
            ));
        };
        let markers = field("markers")
            .map(|m| format!(" ; {m}"))
            .unwrap_or_default();
        lines.push(format!("{name}{extras}{spec}{markers}"));
    }
    Ok(lines)
}

/// One package of the resolved set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// Normalized name.
    pub name: String,
    /// The line that installs exactly this (`name==1.2.3`, `name @ url`).
    pub line: String,
    /// Normalized names of the resolved packages that require it.
    pub parents: BTreeSet<String>,
    /// The app (or the adapter) asks for it directly.
    pub root: bool,
}

/// Leave out the [`RUNTIME_PROVIDED`] packages unless the app pins one of them, and the
/// packages only they needed. Returns (kept, left out), both in the input order.
#[must_use]
pub(crate) fn prune_runtime_provided(
    resolved: Vec<Resolved>,
    direct: &[Direct],
) -> (Vec<Resolved>, Vec<Resolved>) {
    let pinned: BTreeSet<&str> = direct
        .iter()
        .filter(|d| d.pinned)
        .map(|d| d.name.as_str())
        .collect();
    // boto3, botocore and s3transfer are released in lockstep: an app that pins one gets its
    // own copies of all of them rather than a mix with the runtime's.
    if RUNTIME_PROVIDED.iter().any(|p| pinned.contains(p)) {
        return (resolved, Vec::new());
    }
    let mut dropped: BTreeSet<String> = resolved
        .iter()
        .filter(|r| RUNTIME_PROVIDED.contains(&r.name.as_str()))
        .map(|r| r.name.clone())
        .collect();
    // Then whatever is needed only by dropped packages, until nothing changes.
    loop {
        let more: Vec<String> = resolved
            .iter()
            .filter(|r| {
                !r.root
                    && !dropped.contains(&r.name)
                    && !r.parents.is_empty()
                    && r.parents.iter().all(|p| dropped.contains(p))
            })
            .map(|r| r.name.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        dropped.extend(more);
    }
    resolved
        .into_iter()
        .partition(|r| !dropped.contains(&r.name))
}

/// Parse `uv pip compile --annotation-style line` output: options (`--index-url ...`) and
/// packages with the names of what required them.
#[must_use]
pub(crate) fn parse_uv_compile(text: &str) -> (Vec<String>, Vec<Resolved>) {
    let mut options = Vec::new();
    let mut raw: Vec<(String, String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (spec, via) = match trimmed.split_once("# via ") {
            Some((s, v)) => (s.trim(), v.trim()),
            None => (trimmed.split(" #").next().unwrap_or_default().trim(), ""),
        };
        if spec.starts_with('-') {
            options.push(spec.to_string());
            continue;
        }
        let Some(name) = requirement_name(spec) else {
            continue;
        };
        // `-c FILE` (a constraint) limits versions but requires nothing.
        let via = via
            .split(", ")
            .map(str::trim)
            .filter(|v| !v.is_empty() && !v.starts_with("-c "))
            .map(String::from)
            .collect();
        raw.push((normalize(name), spec.to_string(), via));
    }
    let names: BTreeSet<String> = raw.iter().map(|(n, _, _)| n.clone()).collect();
    let resolved = raw
        .into_iter()
        .map(|(name, line, via)| {
            let (parents, roots): (Vec<String>, Vec<String>) = via
                .into_iter()
                .partition(|v| names.contains(&normalize(v)) && !v.starts_with('-'));
            Resolved {
                name,
                line,
                parents: parents.iter().map(|p| normalize(p)).collect(),
                root: !roots.is_empty(),
            }
        })
        .collect();
    (options, resolved)
}

/// Parse pip's `--report` JSON. Markers on `Requires-Dist` are not evaluated: an edge that
/// may not apply only keeps a package, never drops one.
pub(crate) fn parse_pip_report(text: &str) -> Result<Vec<Resolved>> {
    let report: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| Error::Internal(format!("pip's install report is not JSON: {e}")))?;
    let items = report
        .get("install")
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut requires: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut out = Vec::new();
    for item in &items {
        let meta = &item["metadata"];
        let name = meta["name"].as_str().unwrap_or_default();
        let version = meta["version"].as_str().unwrap_or_default();
        if name.is_empty() {
            continue;
        }
        let url = item["download_info"]["url"].as_str().unwrap_or_default();
        let line = if item["is_direct"].as_bool().unwrap_or(false) && !url.is_empty() {
            match item["download_info"]["vcs_info"].as_object() {
                Some(vcs) => format!(
                    "{name} @ {}+{url}@{}",
                    vcs.get("vcs")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or("git"),
                    vcs.get("commit_id")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or_default()
                ),
                None => format!("{name} @ {url}"),
            }
        } else {
            format!("{name}=={version}")
        };
        let deps = meta["requires_dist"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(serde_json::Value::as_str)
                    .filter_map(requirement_name)
                    .map(normalize)
                    .collect()
            })
            .unwrap_or_default();
        requires.insert(normalize(name), deps);
        out.push(Resolved {
            name: normalize(name),
            line,
            parents: BTreeSet::new(),
            root: item["requested"].as_bool().unwrap_or(false),
        });
    }
    for r in &mut out {
        r.parents = requires
            .iter()
            .filter(|(parent, deps)| **parent != r.name && deps.contains(&r.name))
            .map(|(parent, _)| parent.clone())
            .collect();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[Resolved]) -> Vec<&str> {
        v.iter().map(|r| r.name.as_str()).collect()
    }

    #[test]
    fn finds_the_declaration_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let find = || Declaration::find(dir.path());
        assert_eq!(find().unwrap(), Declaration::Nothing);
        std::fs::write(dir.path().join("Pipfile"), "[packages]\n").unwrap();
        assert!(find().unwrap_err().to_string().contains("no Pipfile.lock"));
        std::fs::write(dir.path().join("pyproject.toml"), "[project]\n").unwrap();
        assert!(matches!(find().unwrap(), Declaration::Pyproject(_)));
        std::fs::write(dir.path().join("Pipfile.lock"), "{}").unwrap();
        assert!(matches!(find().unwrap(), Declaration::PipfileLock(_)));
        std::fs::write(dir.path().join("uv.lock"), "").unwrap();
        assert!(matches!(find().unwrap(), Declaration::UvLock { .. }));
        std::fs::write(dir.path().join("requirements.txt"), "").unwrap();
        assert!(matches!(find().unwrap(), Declaration::Requirements(_)));
    }

    #[test]
    fn normalizes_names() {
        assert_eq!(normalize("Flask"), "flask");
        assert_eq!(normalize("python_dateutil"), "python-dateutil");
        assert_eq!(normalize("zope.interface"), "zope-interface");
        assert_eq!(normalize("a__-b"), "a-b");
    }

    #[test]
    fn parses_requirements() {
        let d = |s| parse_requirement(s).map(|d| (d.name, d.pinned));
        assert_eq!(d("boto3"), Some(("boto3".into(), false)));
        assert_eq!(
            d("boto3 ; python_version >= '3.8'"),
            Some(("boto3".into(), false))
        );
        assert_eq!(d("boto3==1.34.0"), Some(("boto3".into(), true)));
        assert_eq!(d("Boto3 >= 1.30 # comment"), Some(("boto3".into(), true)));
        assert_eq!(d("uvicorn[standard]~=0.30"), Some(("uvicorn".into(), true)));
        assert_eq!(d("pkg @ https://x/pkg.whl"), Some(("pkg".into(), true)));
        assert_eq!(d("--index-url https://x"), None);
        assert_eq!(d("git+https://github.com/o/r.git#egg=r"), None);
        assert_eq!(d("# boto3"), None);
        assert_eq!(d(""), None);
    }

    #[test]
    fn follows_nested_requirement_files_and_continuations() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("requirements.txt"),
            "# app\n-r base.txt\nflask==3.1.2 \\\n    --hash=sha256:abc\nboto3  # runtime\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("base.txt"), "requests>=2\n").unwrap();
        let direct = direct_requirements(&Declaration::Requirements(
            dir.path().join("requirements.txt"),
        ))
        .unwrap();
        let got: Vec<(&str, bool)> = direct.iter().map(|d| (d.name.as_str(), d.pinned)).collect();
        assert_eq!(
            got,
            vec![("requests", true), ("flask", true), ("boto3", false)]
        );
    }

    #[test]
    fn reads_pyproject_dependencies_and_refuses_poetry() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pyproject.toml");
        std::fs::write(
            &p,
            "[project]\nname = \"x\"\ndependencies = [\n  \"fastapi==0.115.0\", # web\n  'boto3',\n]\n",
        )
        .unwrap();
        assert_eq!(
            pyproject_dependencies(&p).unwrap(),
            vec!["fastapi==0.115.0", "boto3"]
        );
        std::fs::write(&p, "[tool.poetry.dependencies]\npython = \"^3.12\"\n").unwrap();
        let err = pyproject_dependencies(&p).unwrap_err().to_string();
        assert!(err.contains("Poetry"), "{err}");
    }

    #[test]
    fn turns_pipfile_lock_into_requirements() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("Pipfile.lock");
        std::fs::write(
            &lock,
            r#"{"_meta": {}, "default": {
                "flask": {"hashes": [], "version": "==3.1.2"},
                "uvicorn": {"extras": ["standard"], "version": "==0.30.0", "markers": "python_version >= '3.8'"},
                "lib": {"git": "https://github.com/o/lib.git", "ref": "abc123"}
            }, "develop": {"pytest": {"version": "==8.0.0"}}}"#,
        )
        .unwrap();
        assert_eq!(
            pipfile_lock_requirements(&lock).unwrap(),
            vec![
                "flask==3.1.2",
                "lib @ git+https://github.com/o/lib.git@abc123",
                "uvicorn[standard]==0.30.0 ; python_version >= '3.8'",
            ]
        );
        std::fs::write(
            dir.path().join("Pipfile"),
            "[packages]\nflask = \"*\"\nboto3 = \"==1.34.0\"\n",
        )
        .unwrap();
        let direct = direct_requirements(&Declaration::PipfileLock(lock)).unwrap();
        assert!(direct.contains(&Direct {
            name: "boto3".into(),
            pinned: true
        }));
        assert!(direct.contains(&Direct {
            name: "flask".into(),
            pinned: false
        }));
    }

    const COMPILED: &str = "\
--index-url https://pypi.org/simple
boto3==1.44.8             # via -r requirements.txt
botocore==1.44.8          # via boto3, s3transfer
certifi==2026.1.1         # via requests
jmespath==1.1.0           # via boto3, botocore
python-dateutil==2.9.0.post0  # via botocore
requests==2.33.0          # via -r requirements.txt
s3transfer==0.19.3        # via boto3
six==1.17.0               # via python-dateutil
urllib3==2.8.0            # via botocore, requests
";

    #[test]
    fn parses_uv_compile_output() {
        let (options, resolved) = parse_uv_compile(COMPILED);
        assert_eq!(options, vec!["--index-url https://pypi.org/simple"]);
        assert_eq!(resolved[0].line, "boto3==1.44.8");
        assert!(resolved[0].root && resolved[0].parents.is_empty());
        let urllib3 = resolved.iter().find(|r| r.name == "urllib3").unwrap();
        assert!(!urllib3.root);
        assert_eq!(
            urllib3.parents.iter().collect::<Vec<_>>(),
            vec!["botocore", "requests"]
        );
    }

    #[test]
    fn leaves_out_the_runtimes_boto3_and_what_only_it_needs() {
        let (_, resolved) = parse_uv_compile(COMPILED);
        let unpinned = [Direct {
            name: "boto3".into(),
            pinned: false,
        }];
        let (kept, dropped) = prune_runtime_provided(resolved.clone(), &unpinned);
        assert_eq!(names(&kept), vec!["certifi", "requests", "urllib3"]);
        assert_eq!(
            names(&dropped),
            vec![
                "boto3",
                "botocore",
                "jmespath",
                "python-dateutil",
                "s3transfer",
                "six"
            ]
        );
        // Pinned by the app: everything stays.
        let pinned = [Direct {
            name: "boto3".into(),
            pinned: true,
        }];
        let (kept, dropped) = prune_runtime_provided(resolved, &pinned);
        assert!(dropped.is_empty());
        assert_eq!(kept.len(), 9);
    }

    #[test]
    fn a_package_the_app_names_itself_stays() {
        let text = "botocore==1.44.8  # via boto3\nboto3==1.44.8  # via -r r.txt\njmespath==1.1.0  # via -r r.txt, boto3\n";
        let (_, resolved) = parse_uv_compile(text);
        let (kept, _) = prune_runtime_provided(resolved, &[]);
        assert_eq!(names(&kept), vec!["jmespath"]);
    }

    #[test]
    fn parses_pip_reports() {
        let report = r#"{"install": [
            {"metadata": {"name": "Flask", "version": "3.1.2", "requires_dist": ["Werkzeug>=3.1", "asgiref>=3.2 ; extra == 'async'"]},
             "requested": true, "is_direct": false, "download_info": {"url": "https://x/flask.whl"}},
            {"metadata": {"name": "werkzeug", "version": "3.1.9", "requires_dist": ["MarkupSafe>=2.1.1"]},
             "requested": false, "is_direct": false, "download_info": {"url": "https://x/w.whl"}},
            {"metadata": {"name": "MarkupSafe", "version": "3.0.4"},
             "requested": false, "is_direct": false, "download_info": {"url": "https://x/m.whl"}}
        ]}"#;
        let resolved = parse_pip_report(report).unwrap();
        assert_eq!(resolved[0].line, "Flask==3.1.2");
        assert!(resolved[0].root);
        assert_eq!(resolved[2].name, "markupsafe");
        assert_eq!(
            resolved[2].parents.iter().collect::<Vec<_>>(),
            vec!["werkzeug"]
        );
    }
}
