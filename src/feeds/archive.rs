//! Safe reading of the compressed containers feeds arrive in: OSV's per-ecosystem `all.zip`
//! bulk exports and `.gz` files (NVD yearly feeds, EPSS daily CSVs). Input is untrusted bytes
//! from the network or a mirror, so every limit is enforced on the bytes actually inflated (never
//! on sizes an archive header claims), hostile entry names and symlinks refuse the whole archive,
//! and a truncated or corrupt archive is an error: there is never a partial success.

use std::io::{Cursor, Read};

use thiserror::Error;

/// Bounds on what one archive may inflate to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Entries of any kind (files, folders, skipped non-JSON files) in one zip.
    pub max_entries: usize,
    /// Inflated bytes of one entry.
    pub max_entry_bytes: u64,
    /// Inflated bytes of all returned entries together.
    pub max_total_bytes: u64,
}

impl Default for ArchiveLimits {
    /// Sized for OSV's real bulk files with a wide margin: the largest per-ecosystem `all.zip`
    /// files hold some 10^5 records and inflate to a few hundred MB, and the largest single OSV
    /// records (kernel, distro advisories with long version lists) are a few MB.
    fn default() -> Self {
        ArchiveLimits {
            max_entries: 1_000_000,
            max_entry_bytes: 64 * 1024 * 1024,
            max_total_bytes: 4 * 1024 * 1024 * 1024,
        }
    }
}

/// Which limit an archive ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    MaxEntries,
    MaxEntryBytes,
    MaxTotalBytes,
}

impl Limit {
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::MaxEntries => "max_entries",
            Limit::MaxEntryBytes => "max_entry_bytes",
            Limit::MaxTotalBytes => "max_total_bytes",
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Error)]
pub enum ArchiveError {
    #[error("archive exceeds {limit} = {max} (entry {entry:?})")]
    LimitExceeded {
        limit: Limit,
        max: u64,
        /// The entry being read when the limit was hit, if any.
        entry: Option<String>,
    },
    #[error("zip entry {index} has an unsafe name {name:?}: {reason}")]
    UnsafeName {
        index: usize,
        name: String,
        reason: &'static str,
    },
    #[error("zip entry {name:?} is a symbolic link")]
    Symlink { name: String },
    #[error("zip entry {name:?} is encrypted")]
    Encrypted { name: String },
    #[error("corrupt or truncated zip archive: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("corrupt or truncated zip entry {name:?}: {source}")]
    Entry {
        name: String,
        source: std::io::Error,
    },
    #[error("corrupt or truncated gzip stream: {0}")]
    Gzip(std::io::Error),
}

/// Reads every `*.json` file entry of a zip, in archive order. Other files and folders are
/// skipped but still count against `max_entries`; any unsafe name or symlink anywhere in the
/// archive refuses it whole, since such an archive was not produced by the feed.
pub fn read_zip_json_entries(
    bytes: &[u8],
    limits: &ArchiveLimits,
) -> Result<Vec<(String, Vec<u8>)>, ArchiveError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))?;
    let count = archive.len();
    if count > limits.max_entries {
        return Err(ArchiveError::LimitExceeded {
            limit: Limit::MaxEntries,
            max: limits.max_entries as u64,
            entry: None,
        });
    }
    let mut out = Vec::new();
    let mut total: u64 = 0;
    for index in 0..count {
        let mut file = archive.by_index(index)?;
        let name = String::from_utf8_lossy(file.name_raw()).into_owned();
        check_entry_name(index, &name)?;
        if file.is_symlink() {
            return Err(ArchiveError::Symlink { name });
        }
        if file.is_dir() || !name.to_ascii_lowercase().ends_with(".json") {
            continue;
        }
        if file.encrypted() {
            return Err(ArchiveError::Encrypted { name });
        }
        // The header's claim only allows an early refusal; the real bound is the counted read.
        if file.size() > limits.max_entry_bytes {
            return Err(entry_limit(limits, &name));
        }
        let remaining_total = limits.max_total_bytes.saturating_sub(total);
        let cap = limits.max_entry_bytes.min(remaining_total);
        let mut data = Vec::new();
        let read = (&mut file)
            .take(cap.saturating_add(1))
            .read_to_end(&mut data)
            .map_err(|source| ArchiveError::Entry {
                name: name.clone(),
                source,
            })?;
        let read = read as u64;
        if read > cap {
            return Err(if read > limits.max_entry_bytes {
                entry_limit(limits, &name)
            } else {
                ArchiveError::LimitExceeded {
                    limit: Limit::MaxTotalBytes,
                    max: limits.max_total_bytes,
                    entry: Some(name),
                }
            });
        }
        total += read;
        out.push((name, data));
    }
    Ok(out)
}

fn entry_limit(limits: &ArchiveLimits, name: &str) -> ArchiveError {
    ArchiveError::LimitExceeded {
        limit: Limit::MaxEntryBytes,
        max: limits.max_entry_bytes,
        entry: Some(name.to_owned()),
    }
}

/// Refuses names that could escape a folder if anyone ever extracted them, on any platform.
fn check_entry_name(index: usize, name: &str) -> Result<(), ArchiveError> {
    let reason = if name.is_empty() {
        Some("empty name")
    } else if name.contains('\0') {
        Some("NUL byte")
    } else if name.contains('\\') {
        Some("backslash")
    } else if name.starts_with('/') {
        Some("absolute path")
    } else if name.as_bytes().get(1) == Some(&b':')
        && name.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
    {
        Some("drive letter")
    } else if name.split('/').any(|part| part == "..") {
        Some("parent-directory component")
    } else if name.contains('\u{FFFD}') {
        Some("name is not valid UTF-8")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ArchiveError::UnsafeName {
            index,
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Inflates a gzip stream (all members, as gzip allows concatenation), refusing more than
/// `max` bytes of output and any truncated or corrupt stream.
pub fn gunzip_capped(bytes: &[u8], max: u64) -> Result<Vec<u8>, ArchiveError> {
    let decoder = flate2::read::MultiGzDecoder::new(bytes);
    let mut out = Vec::new();
    let read = decoder
        .take(max.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(ArchiveError::Gzip)?;
    if read as u64 > max {
        return Err(ArchiveError::LimitExceeded {
            limit: Limit::MaxEntryBytes,
            max,
            entry: None,
        });
    }
    Ok(out)
}

/// True when the bytes start with the gzip magic number.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::{Path, PathBuf};

    fn corpus() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
    }

    /// One entry of a hand-built zip: full control over names, attributes and sizes, which a
    /// well-behaved zip writer would not let a test get wrong on purpose.
    struct RawEntry {
        name: String,
        data: Vec<u8>,
        deflate: bool,
        /// Unix mode in the external attributes (e.g. 0o120777 for a symlink).
        unix_mode: u32,
    }

    fn build_zip(entries: &[RawEntry]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for e in entries {
            let mut crc = flate2::Crc::new();
            crc.update(&e.data);
            let (method, payload) = if e.deflate {
                let mut enc =
                    flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
                enc.write_all(&e.data).unwrap();
                (8u16, enc.finish().unwrap())
            } else {
                (0u16, e.data.clone())
            };
            let offset = out.len() as u32;
            let name = e.name.as_bytes();
            let common = |buf: &mut Vec<u8>| {
                buf.extend_from_slice(&0u16.to_le_bytes()); // flags
                buf.extend_from_slice(&method.to_le_bytes());
                buf.extend_from_slice(&0u16.to_le_bytes()); // time
                buf.extend_from_slice(&0x21u16.to_le_bytes()); // date
                buf.extend_from_slice(&crc.sum().to_le_bytes());
                buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
                buf.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
                buf.extend_from_slice(&(name.len() as u16).to_le_bytes());
                buf.extend_from_slice(&0u16.to_le_bytes()); // extra len
            };
            out.extend_from_slice(&0x04034b50u32.to_le_bytes());
            out.extend_from_slice(&20u16.to_le_bytes());
            common(&mut out);
            out.extend_from_slice(name);
            out.extend_from_slice(&payload);

            central.extend_from_slice(&0x02014b50u32.to_le_bytes());
            central.extend_from_slice(&((3u16 << 8) | 20).to_le_bytes()); // made by unix
            central.extend_from_slice(&20u16.to_le_bytes());
            common(&mut central);
            central.extend_from_slice(&0u16.to_le_bytes()); // comment len
            central.extend_from_slice(&0u16.to_le_bytes()); // disk
            central.extend_from_slice(&0u16.to_le_bytes()); // internal attrs
            central.extend_from_slice(&(e.unix_mode << 16).to_le_bytes());
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(name);
        }
        let cd_offset = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(&0x06054b50u32.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    fn file(name: &str, data: &[u8]) -> RawEntry {
        RawEntry {
            name: name.to_owned(),
            data: data.to_vec(),
            deflate: true,
            unix_mode: 0o100644,
        }
    }

    #[test]
    fn hand_built_zip_reads_back_and_skips_non_json() {
        let zip = build_zip(&[
            file("A-1.json", b"{\"id\":\"A-1\"}"),
            file("README.txt", b"hello"),
            file("dir/B-2.JSON", b"{}"),
        ]);
        let got = read_zip_json_entries(&zip, &ArchiveLimits::default()).unwrap();
        let names: Vec<_> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["A-1.json", "dir/B-2.JSON"]);
        assert_eq!(got[0].1, b"{\"id\":\"A-1\"}");
    }

    #[test]
    fn real_all_zips_match_loose_files_byte_for_byte() {
        let bulk = corpus().join("osv-bulk");
        let mut ecosystems = 0;
        for dir in std::fs::read_dir(&bulk).unwrap() {
            let dir = dir.unwrap().path();
            let zip = dir.join("all.zip");
            if !zip.is_file() {
                continue;
            }
            ecosystems += 1;
            let eco = dir.file_name().unwrap().to_owned();
            let entries =
                read_zip_json_entries(&std::fs::read(&zip).unwrap(), &ArchiveLimits::default())
                    .unwrap();
            let loose = corpus().join("osv").join(&eco);
            let loose_count = std::fs::read_dir(&loose)
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .path()
                        .extension()
                        .is_some_and(|x| x == "json")
                })
                .count();
            assert_eq!(entries.len(), loose_count, "{eco:?}");
            for (name, data) in &entries {
                assert_eq!(
                    &std::fs::read(loose.join(name)).unwrap(),
                    data,
                    "{eco:?}/{name}"
                );
            }
        }
        assert_eq!(ecosystems, 10);
    }

    #[test]
    fn large_entry_bomb_is_refused_by_entry_limit() {
        // 16 MiB of zeros deflates to ~16 KiB: a 1000:1 bomb against a 1 MiB per-entry limit.
        let zeros = vec![0u8; 16 << 20];
        let zip = build_zip(&[file("bomb.json", &zeros)]);
        assert!(zip.len() < 160 << 10, "{}", zip.len());
        let limits = ArchiveLimits {
            max_entry_bytes: 1 << 20,
            ..ArchiveLimits::default()
        };
        let err = read_zip_json_entries(&zip, &limits).unwrap_err();
        assert!(
            matches!(
                err,
                ArchiveError::LimitExceeded {
                    limit: Limit::MaxEntryBytes,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("max_entry_bytes"), "{err}");
    }

    #[test]
    fn lying_header_size_is_caught_by_counted_read() {
        // The entry claims 10 bytes but inflates to 4 MiB: the limit must bite on real bytes.
        let zeros = vec![0u8; 4 << 20];
        let mut zip = build_zip(&[file("liar.json", &zeros)]);
        let claimed = 10u32.to_le_bytes();
        // Patch the uncompressed size in the local header (offset 22) and central header.
        zip[22..26].copy_from_slice(&claimed);
        let cd = zip
            .windows(4)
            .position(|w| w == 0x02014b50u32.to_le_bytes())
            .unwrap();
        zip[cd + 24..cd + 28].copy_from_slice(&claimed);
        let limits = ArchiveLimits {
            max_entry_bytes: 1 << 20,
            ..ArchiveLimits::default()
        };
        let err = read_zip_json_entries(&zip, &limits).unwrap_err();
        // Either our counted limit or the zip reader's own size check stops it; never success.
        assert!(
            matches!(
                err,
                ArchiveError::LimitExceeded { .. } | ArchiveError::Entry { .. }
            ),
            "{err}"
        );
    }

    #[test]
    fn total_bytes_limit_is_enforced_across_entries() {
        let chunk = vec![b' '; 300 << 10];
        let zip = build_zip(&[
            file("a.json", &chunk),
            file("b.json", &chunk),
            file("c.json", &chunk),
            file("d.json", &chunk),
        ]);
        let limits = ArchiveLimits {
            max_entry_bytes: 1 << 20,
            max_total_bytes: 1 << 20,
            ..ArchiveLimits::default()
        };
        let err = read_zip_json_entries(&zip, &limits).unwrap_err();
        assert!(err.to_string().contains("max_total_bytes"), "{err}");
    }

    #[test]
    fn many_entries_bomb_is_refused_by_entry_count() {
        let entries: Vec<RawEntry> = (0..1001)
            .map(|i| RawEntry {
                name: format!("E-{i}.json"),
                data: b"{}".to_vec(),
                deflate: false,
                unix_mode: 0o100644,
            })
            .collect();
        let zip = build_zip(&entries);
        let limits = ArchiveLimits {
            max_entries: 1000,
            ..ArchiveLimits::default()
        };
        let err = read_zip_json_entries(&zip, &limits).unwrap_err();
        assert!(err.to_string().contains("max_entries"), "{err}");
        // One fewer entry than the limit passes.
        let zip = build_zip(&entries[..1000]);
        assert_eq!(read_zip_json_entries(&zip, &limits).unwrap().len(), 1000);
    }

    #[test]
    fn traversal_absolute_and_backslash_names_are_refused() {
        for bad in [
            "../evil.json",
            "/abs.json",
            "a/../../evil.json",
            "..\\evil.json",
            "C:/evil.json",
            "c:evil.json",
        ] {
            let zip = build_zip(&[file("ok.json", b"{}"), file(bad, b"{}")]);
            let err = read_zip_json_entries(&zip, &ArchiveLimits::default()).unwrap_err();
            assert!(
                matches!(err, ArchiveError::UnsafeName { index: 1, .. }),
                "{bad}: {err}"
            );
        }
        // Colons inside a name are legitimate: AlmaLinux ids such as `ALSA-2024:0265`.
        let zip = build_zip(&[file("ALSA-2024:0265.json", b"{}")]);
        assert_eq!(
            read_zip_json_entries(&zip, &ArchiveLimits::default())
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn symlink_entry_is_refused() {
        let zip = build_zip(&[RawEntry {
            name: "link.json".into(),
            data: b"/etc/passwd".to_vec(),
            deflate: false,
            unix_mode: 0o120777,
        }]);
        let err = read_zip_json_entries(&zip, &ArchiveLimits::default()).unwrap_err();
        assert!(matches!(err, ArchiveError::Symlink { .. }), "{err}");
    }

    #[test]
    fn truncated_real_zip_is_refused() {
        let real = std::fs::read(corpus().join("osv-bulk/crates.io/all.zip")).unwrap();
        for cut in [real.len() - 1, real.len() - 30, real.len() / 2, 100] {
            let res = read_zip_json_entries(&real[..cut], &ArchiveLimits::default());
            assert!(res.is_err(), "cut at {cut} succeeded");
        }
        // Corruption inside entry data (central directory intact) is caught by the CRC check.
        let mut corrupt = real.clone();
        let first_data = 30
            + u16::from_le_bytes([real[26], real[27]]) as usize
            + u16::from_le_bytes([real[28], real[29]]) as usize;
        corrupt[first_data + 20] ^= 0xff;
        assert!(read_zip_json_entries(&corrupt, &ArchiveLimits::default()).is_err());
    }

    #[test]
    fn gzip_bomb_is_refused_and_truncation_detected() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&vec![0u8; 8 << 20]).unwrap();
        let gz = enc.finish().unwrap();
        assert!(is_gzip(&gz));
        let err = gunzip_capped(&gz, 1 << 20).unwrap_err();
        assert!(err.to_string().contains("max_entry_bytes"), "{err}");
        assert_eq!(gunzip_capped(&gz, 8 << 20).unwrap().len(), 8 << 20);
        let err = gunzip_capped(&gz[..gz.len() - 4], 16 << 20).unwrap_err();
        assert!(matches!(err, ArchiveError::Gzip(_)), "{err}");
        assert!(gunzip_capped(b"not gzip at all", 100).is_err());
    }

    #[test]
    fn real_epss_gzip_inflates() {
        let gz = std::fs::read(corpus().join("epss/epss_scores-2021-04-14.csv.gz")).unwrap();
        let text = gunzip_capped(&gz, 1 << 20).unwrap();
        assert!(text.starts_with(b"cve,epss"));
    }
}
