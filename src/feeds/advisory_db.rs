//! Unpacks the RustSec advisory-db repository archive (GitHub's `main.zip`) into a folder the
//! `rustsec` crate can open. Only the advisory files are written, under the same limits as every
//! other archive, and every path is checked to stay inside the target folder.

use super::archive::{ArchiveError, ArchiveLimits, Limit};
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

/// Extracts `crates/**.md`, `rust/**.md` and the top-level files the crate reads; returns the
/// database root (the archive's single top folder, e.g. `advisory-db-main`).
pub fn extract_advisory_db(
    bytes: &[u8],
    target: &Path,
    limits: &ArchiveLimits,
) -> Result<PathBuf, ArchiveError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))?;
    if archive.len() > limits.max_entries {
        return Err(ArchiveError::LimitExceeded {
            limit: Limit::MaxEntries,
            max: limits.max_entries as u64,
            entry: None,
        });
    }
    let mut total = 0u64;
    let mut root: Option<PathBuf> = None;
    for index in 0..archive.len() {
        let mut file = archive.by_index(index)?;
        let raw_name = String::from_utf8_lossy(file.name_raw()).into_owned();
        // zip's enclosed_name refuses absolute paths and `..` escapes.
        let Some(rel) = file.enclosed_name() else {
            return Err(ArchiveError::UnsafeName {
                index,
                name: raw_name,
                reason: "path escapes the target folder",
            });
        };
        if file.is_symlink() {
            return Err(ArchiveError::Symlink { name: raw_name });
        }
        let mut parts = rel.components();
        let top = parts.next().map(|c| PathBuf::from(c.as_os_str()));
        if root.is_none() {
            root = top.clone();
        }
        let inner: PathBuf = parts.collect();
        let wanted = inner.starts_with("crates")
            || inner.starts_with("rust")
            || inner.as_os_str() == "support.toml";
        if file.is_dir() || !wanted || !(raw_name.ends_with(".md") || raw_name.ends_with(".toml")) {
            continue;
        }
        // The header's claim allows an early refusal; the real bound is the counted read below.
        if file.size() > limits.max_entry_bytes {
            return Err(ArchiveError::LimitExceeded {
                limit: Limit::MaxEntryBytes,
                max: limits.max_entry_bytes,
                entry: Some(raw_name),
            });
        }
        let mut data = Vec::new();
        let cap = limits
            .max_entry_bytes
            .min(limits.max_total_bytes.saturating_sub(total));
        let n = (&mut file)
            .take(cap.saturating_add(1))
            .read_to_end(&mut data)
            .map_err(|source| ArchiveError::Entry {
                name: raw_name.clone(),
                source,
            })? as u64;
        if n > cap {
            let (limit, max) = if n > limits.max_entry_bytes {
                (Limit::MaxEntryBytes, limits.max_entry_bytes)
            } else {
                (Limit::MaxTotalBytes, limits.max_total_bytes)
            };
            return Err(ArchiveError::LimitExceeded {
                limit,
                max,
                entry: Some(raw_name),
            });
        }
        total += n;
        let dest = target.join(&rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|source| ArchiveError::Entry {
                name: raw_name.clone(),
                source,
            })?;
        }
        std::fs::write(&dest, &data).map_err(|source| ArchiveError::Entry {
            name: raw_name,
            source,
        })?;
    }
    Ok(target.join(root.unwrap_or_default()))
}
