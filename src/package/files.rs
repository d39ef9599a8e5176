//! Which source files go into a bundle.
//!
//! An app's directory holds more than the app: version control, virtualenvs, caches, tests,
//! CI configuration, what `.gitignore` says is not source. [`source_files`] keeps the rest,
//! minus `--exclude` globs, in a stable order.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Directories that are never part of a deployed app, wherever they are in the tree.
pub(crate) const SKIPPED_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    ".github",
    "__pycache__",
    ".venv",
    "venv",
    "node_modules",
    "tests",
    "test",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".tox",
    ".nox",
    ".eggs",
    ".idea",
    ".vscode",
];

/// File names and suffixes that are never shipped: bytecode (Lambda's Python compiles its
/// own) and editor or OS droppings.
const SKIPPED_SUFFIXES: &[&str] = &[".pyc", ".pyo"];
const SKIPPED_FILES: &[&str] = &[".DS_Store"];

/// A file of the app's source tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceFile {
    /// `/`-separated path relative to the source directory.
    pub name: String,
    pub path: PathBuf,
}

/// The app's files under `source`, sorted by name: everything except [`SKIPPED_DIRS`],
/// virtualenvs (any directory with a `pyvenv.cfg`), bytecode, what `.gitignore` files ignore
/// (also outside a git checkout, and those of parent directories, as git would apply them;
/// never the user's global excludes, so a build doesn't depend on whose machine it runs on),
/// and `exclude`.
pub(crate) fn source_files(source: &Path, exclude: &globset::GlobSet) -> Result<Vec<SourceFile>> {
    let root = source.to_path_buf();
    let exclude_dirs = exclude.clone();
    let mut walker = ignore::WalkBuilder::new(source);
    walker
        .hidden(false)
        .ignore(false)
        .git_ignore(true)
        .git_global(false)
        .git_exclude(false)
        .require_git(false)
        .parents(true)
        .follow_links(true)
        .sort_by_file_name(std::ffi::OsStr::cmp)
        .filter_entry(move |entry| {
            if entry.depth() == 0 || !entry.file_type().is_some_and(|t| t.is_dir()) {
                return true;
            }
            let name = entry.file_name().to_string_lossy();
            if SKIPPED_DIRS.contains(&name.as_ref()) || entry.path().join("pyvenv.cfg").is_file() {
                return false;
            }
            let rel = entry.path().strip_prefix(&root).unwrap_or(entry.path());
            !exclude_dirs.is_match(super::zip::archive_name(rel))
        });
    let mut files = Vec::new();
    for item in walker.build() {
        let item = item.map_err(|e| walk_error(source, e))?;
        if !item.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let file_name = item.file_name().to_string_lossy();
        if SKIPPED_FILES.contains(&file_name.as_ref())
            || SKIPPED_SUFFIXES.iter().any(|s| file_name.ends_with(s))
        {
            continue;
        }
        let rel = item
            .path()
            .strip_prefix(source)
            .map_err(|_| Error::Internal("the source walk left its root".into()))?;
        let name = super::zip::archive_name(rel);
        if exclude.is_match(&name) {
            continue;
        }
        files.push(SourceFile {
            name,
            path: item.path().to_path_buf(),
        });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

fn walk_error(source: &Path, err: ignore::Error) -> Error {
    let context = format!("can't read the source tree {}", source.display());
    match err.into_io_error() {
        Some(io) => Error::io(context, io),
        None => Error::package(
            context,
            "check the directory's permissions and its .gitignore files",
        ),
    }
}

/// Compile `--exclude` globs. Each glob also matches below a directory of that name, so
/// `docs` leaves out `docs/**`.
pub(crate) fn globset(globs: &[String]) -> Result<globset::GlobSet> {
    let mut builder = globset::GlobSetBuilder::new();
    for g in globs.iter().filter(|g| !g.trim().is_empty()) {
        let g = g.trim().trim_start_matches("./").trim_end_matches('/');
        for pattern in [g.to_string(), format!("{g}/**")] {
            let glob = globset::GlobBuilder::new(&pattern)
                .literal_separator(false)
                .build()
                .map_err(|e| {
                    Error::invalid(
                        "--exclude",
                        format!("{g:?} is not a valid glob: {e}"),
                        "use shell-style globs such as tests/** or *.md",
                    )
                })?;
            builder.add(glob);
        }
    }
    builder.build().map_err(|e| {
        Error::invalid(
            "--exclude",
            e.to_string(),
            "use shell-style globs such as tests/** or *.md",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, f.as_bytes()).unwrap();
        }
        dir
    }

    fn names(dir: &Path, exclude: &[&str]) -> Vec<String> {
        let globs: Vec<String> = exclude.iter().map(|s| (*s).to_string()).collect();
        source_files(dir, &globset(&globs).unwrap())
            .unwrap()
            .into_iter()
            .map(|f| f.name)
            .collect()
    }

    #[test]
    fn leaves_out_tooling_tests_venvs_and_bytecode() {
        let dir = tree(&[
            "run.py",
            "requirements.txt",
            "pkg/__init__.py",
            "pkg/views.py",
            "pkg/__pycache__/views.cpython-313.pyc",
            "pkg/tests/test_views.py",
            "pkg/old.pyc",
            ".git/config",
            ".github/workflows/ci.yml",
            ".venv/lib/site.py",
            "env/pyvenv.cfg",
            "env/lib/python3.13/site-packages/flask/__init__.py",
            "tests/test_run.py",
            "test/conftest.py",
            "node_modules/x/index.js",
            ".mypy_cache/x",
            ".pytest_cache/x",
            ".ruff_cache/x",
            ".tox/x",
            ".env.example",
            "static/app.css",
        ]);
        assert_eq!(
            names(dir.path(), &[]),
            vec![
                ".env.example",
                "pkg/__init__.py",
                "pkg/views.py",
                "requirements.txt",
                "run.py",
                "static/app.css",
            ]
        );
    }

    #[test]
    fn honours_gitignore_without_a_git_checkout_and_exclude_globs() {
        let dir = tree(&[
            "run.py",
            "secrets.env",
            "build/out.txt",
            "docs/index.md",
            "notes.md",
            "pkg/data.json",
            "pkg/local.txt",
        ]);
        std::fs::write(dir.path().join(".gitignore"), "*.env\nbuild/\n").unwrap();
        std::fs::write(dir.path().join("pkg/.gitignore"), "local.txt\n").unwrap();
        assert_eq!(
            names(dir.path(), &["docs", "*.md"]),
            vec![".gitignore", "pkg/.gitignore", "pkg/data.json", "run.py"]
        );
    }
}
