//! Which source files go into a bundle.

use crate::error::{Error, Result};

/// Compile `--exclude` globs. Each glob also matches below a directory of that name, so
/// `docs` leaves out `docs/**`.
pub fn globset(globs: &[String]) -> Result<globset::GlobSet> {
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
