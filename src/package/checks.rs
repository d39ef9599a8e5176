//! Checks before any upload: Lambda's unzipped size limit, and that every ELF file in the
//! bundle is built for the function's architecture (an x86-64 `.so` in an arm64 function
//! fails only at run time, on the first request that imports it).

use std::path::Path;

use crate::config::Architecture;
use crate::error::{Error, Result};

/// Lambda's limit on a function's unzipped code (250 MB).
pub(crate) const MAX_UNZIPPED: u64 = 262_144_000;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Summary {
    pub files: usize,
}

/// The architecture an ELF header says, if `header` is one.
#[must_use]
pub(crate) fn elf_machine(header: &[u8]) -> Option<u16> {
    if header.len() < 20 || &header[..4] != b"\x7fELF" {
        return None;
    }
    let bytes = [header[18], header[19]];
    Some(match header[5] {
        2 => u16::from_be_bytes(bytes),
        _ => u16::from_le_bytes(bytes),
    })
}

#[must_use]
pub(crate) fn machine_name(machine: u16) -> String {
    match machine {
        0x3E => "x86-64".into(),
        0xB7 => "aarch64".into(),
        0x03 => "x86 (32-bit)".into(),
        0x28 => "arm (32-bit)".into(),
        other => format!("machine 0x{other:x}"),
    }
}

/// Check a zip: size limit and ELF architectures.
pub(crate) fn check_zip(path: &Path, arch: Architecture) -> Result<Summary> {
    let mut archive = super::zip::open_zip(path)?;
    let entries = super::zip::scan(&mut archive, path)?;
    if entries.is_empty() {
        return Err(Error::package(
            format!("{} holds no files", path.display()),
            "check --artifact / --source and --exclude",
        ));
    }
    let total: u64 = entries.iter().map(|e| e.size).sum();
    if total > MAX_UNZIPPED {
        let mut largest: Vec<_> = entries.iter().collect();
        largest.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.name.cmp(&b.name)));
        let list = largest
            .iter()
            .take(10)
            .map(|e| format!("  {:>12} {}", e.size, e.name))
            .collect::<Vec<_>>()
            .join("\n");
        return Err(Error::package(
            format!(
                "the bundle is {total} bytes unzipped; Lambda allows {MAX_UNZIPPED} (250 MB). Largest files:\n{list}"
            ),
            "leave large files out with --exclude GLOB, move data to S3, or use a container image",
        ));
    }
    let wrong: Vec<String> = entries
        .iter()
        .filter_map(|e| {
            let m = elf_machine(&e.header)?;
            (m != arch.elf_machine()).then(|| format!("{} ({})", e.name, machine_name(m)))
        })
        .collect();
    if !wrong.is_empty() {
        let shown = wrong
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let more = if wrong.len() > 10 {
            format!(" and {} more", wrong.len() - 10)
        } else {
            String::new()
        };
        return Err(Error::package(
            format!(
                "the bundle is for {arch} but holds binaries for another architecture: {shown}{more}"
            ),
            format!(
                "rebuild them for {arch} (for Python, let deploy-action install the dependencies; don't vendor a local virtualenv), or pass --architecture to match"
            ),
        ));
    }
    Ok(Summary {
        files: entries.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_elf_machines() {
        let mut h = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
        h.resize(18, 0);
        h.extend_from_slice(&0xB7u16.to_le_bytes());
        assert_eq!(elf_machine(&h), Some(0xB7));
        assert_eq!(elf_machine(b"#!/bin/sh\necho hello world"), None);
    }
}
