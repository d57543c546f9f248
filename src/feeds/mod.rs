//! Advisory feeds: definitions (`feeds/*.toml`), where each feed reads from (the network, an
//! air-gapped mirror folder, or the bundled snapshot), one sync run per feed, and its health.
//!
//! A sync never replaces good data with bad: a download is parsed completely before anything is
//! written, each write is an upsert by `modified` in store transactions, and validators and
//! cursors are saved only when the run completed. A failed run records its error and keeps the
//! last good copy; staleness is computed from the last success and reported loudly.

pub mod advisory_db;
pub mod archive;
pub mod fetch;
pub mod schedule;

use crate::advisory::{epss, kev, nvd, osv, rustsec as rustsec_feed, Advisory};
use crate::store::{AdvisoryWrite, ChangeSet, FeedRecord, Store, StoreError};
use archive::{gunzip_capped, is_gzip, read_zip_json_entries, ArchiveLimits};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use fetch::{FetchError, Fetched, Fetcher};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The feed families soupwatch understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedKind {
    Osv,
    Rustsec,
    Nvd,
    Kev,
    Epss,
}

impl FeedKind {
    /// The folder of this kind inside a mirror.
    pub fn mirror_dir(self) -> &'static str {
        match self {
            FeedKind::Osv => "osv",
            FeedKind::Rustsec => "rustsec",
            FeedKind::Nvd => "nvd",
            FeedKind::Kev => "kev",
            FeedKind::Epss => "epss",
        }
    }
}

/// One `feeds/*.toml` file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedDef {
    pub name: String,
    pub kind: FeedKind,
    /// Network source (OSV: the bucket base URL; others: the document or API URL).
    pub url: Option<String>,
    /// OSV only: ecosystems to mirror, named as OSV names them.
    #[serde(default)]
    pub ecosystems: Vec<String>,
    /// Cron expression, seconds first (`sec min hour dom month dow`); 5-field crontab accepted.
    pub schedule: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Past this age of the last successful sync the feed is stale: `/healthz` says degraded.
    pub stale_after_hours: u64,
    /// NVD only: page size (the API allows up to 2000).
    pub results_per_page: Option<u32>,
    /// NVD only: pause between API requests; default follows NVD's published rate limits.
    pub request_interval_ms: Option<u64>,
}

fn yes() -> bool {
    true
}

/// The built-in definitions, used when no `feeds/` folder is found.
const BUILTIN: [&str; 5] = [
    include_str!("../../feeds/osv.toml"),
    include_str!("../../feeds/rustsec.toml"),
    include_str!("../../feeds/nvd.toml"),
    include_str!("../../feeds/kev.toml"),
    include_str!("../../feeds/epss.toml"),
];

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("feed definition {path}: {message}")]
    Definition { path: String, message: String },
    #[error("{0}")]
    Fetch(#[from] FetchError),
    #[error("{0}")]
    Parse(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("mirror {0}")]
    Mirror(String),
    #[error("feed {0} has no source: set `url` or use a mirror")]
    NoSource(String),
    #[error("interrupted by shutdown")]
    Interrupted,
}

impl FeedDef {
    pub fn parse(text: &str, origin: &str) -> Result<FeedDef, FeedError> {
        let def: FeedDef = toml::from_str(text).map_err(|e| FeedError::Definition {
            path: origin.to_string(),
            message: e.to_string().trim().replace('\n', " "),
        })?;
        schedule::parse_cron(&def.schedule).map_err(|message| FeedError::Definition {
            path: origin.to_string(),
            message,
        })?;
        if def.kind == FeedKind::Osv && def.ecosystems.is_empty() {
            return Err(FeedError::Definition {
                path: origin.to_string(),
                message: "an osv feed needs a non-empty `ecosystems` list".into(),
            });
        }
        Ok(def)
    }

    pub fn stale_after(&self) -> ChronoDuration {
        ChronoDuration::hours(i64::try_from(self.stale_after_hours).unwrap_or(i64::MAX / 3_600_000))
    }
}

/// Reads every `*.toml` in `dir` (sorted by file name), or the built-in set when `dir` is absent.
pub fn load_definitions(dir: &Path) -> Result<Vec<FeedDef>, FeedError> {
    let mut defs = Vec::new();
    if dir.is_dir() {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| FeedError::Definition {
                path: dir.display().to_string(),
                message: e.to_string(),
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for p in paths {
            let text = std::fs::read_to_string(&p).map_err(|e| FeedError::Definition {
                path: p.display().to_string(),
                message: e.to_string(),
            })?;
            defs.push(FeedDef::parse(&text, &p.display().to_string())?);
        }
    } else {
        for (i, text) in BUILTIN.iter().enumerate() {
            defs.push(FeedDef::parse(text, &format!("built-in definition {i}"))?);
        }
    }
    let mut names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
    names.sort();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(FeedError::Definition {
            path: dir.display().to_string(),
            message: format!("two feeds are named {:?}", w[0]),
        });
    }
    Ok(defs)
}

/// Where a run reads from.
#[derive(Debug, Clone)]
pub enum Origin {
    Network,
    /// An air-gapped mirror in upstream formats (`MIRROR/osv/<Ecosystem>/all.zip`, ...).
    Mirror(PathBuf),
    /// The small snapshot shipped in `feeds/snapshot/` (mirror layout), used on an empty store.
    Snapshot(PathBuf),
}

impl Origin {
    fn describe(&self, def: &FeedDef) -> String {
        match self {
            Origin::Network => def.url.clone().unwrap_or_default(),
            Origin::Mirror(p) => format!("mirror {}", p.join(def.kind.mirror_dir()).display()),
            Origin::Snapshot(p) => format!(
                "bundled snapshot {}",
                p.join(def.kind.mirror_dir()).display()
            ),
        }
    }
    fn dir(&self) -> Option<&Path> {
        match self {
            Origin::Network => None,
            Origin::Mirror(p) | Origin::Snapshot(p) => Some(p),
        }
    }
}

/// Tells a CLI progress bar or the log what a run is doing.
pub trait Progress: Send + Sync {
    fn message(&self, feed: &str, msg: &str);
}

/// Progress as log lines (the daemon, and the CLI when not on a terminal).
pub struct LogProgress;

impl Progress for LogProgress {
    fn message(&self, feed: &str, msg: &str) {
        tracing::info!(feed, "{msg}");
    }
}

/// What a completed run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    pub feed: String,
    pub origin: String,
    pub changes: ChangeSet,
    /// KEV: CVE ids newly listed as exploited. EPSS: count of changed scores.
    pub kev_new: Vec<String>,
    pub epss_changed: usize,
    /// Records read this run.
    pub records_read: usize,
    /// Parts absent from a mirror, records that could not be parsed: kept, reported, not fatal.
    pub warnings: Vec<String>,
    pub not_modified: bool,
}

/// Everything a run needs besides the definition.
pub struct SyncContext<'a> {
    pub store: &'a Store,
    pub fetcher: &'a Fetcher,
    pub limits: ArchiveLimits,
    pub progress: &'a dyn Progress,
    pub nvd_api_key: Option<String>,
    /// Flipped on shutdown; long runs check it between requests.
    pub cancel: tokio::sync::watch::Receiver<bool>,
}

/// Runs one feed once and records the outcome (success or error) in the store.
pub async fn sync_feed(
    ctx: &SyncContext<'_>,
    def: &FeedDef,
    origin: &Origin,
) -> Result<SyncReport, FeedError> {
    let started = Utc::now();
    let clock = std::time::Instant::now();
    let mut rec = ctx.store.feed(&def.name)?.unwrap_or_else(|| FeedRecord {
        name: def.name.clone(),
        ..FeedRecord::default()
    });
    // A failed run keeps the stored validators and cursor: saving what a half-done run learnt
    // could make the next run skip data it never stored (a 304 for an archive never read).
    let before = rec.clone();
    let result = run(ctx, def, origin, &mut rec).await;
    let was_failing = before.last_error.is_some();
    if result.is_err() {
        rec = before;
    }
    rec.last_attempt = Some(started);
    rec.last_duration_ms = Some(clock.elapsed().as_millis().try_into().unwrap_or(u64::MAX));
    match &result {
        Ok(report) => {
            // A snapshot load is not a sync with upstream, and neither is a mirror that holds
            // nothing for this feed: neither may hide staleness.
            let absent = report.records_read == 0
                && !report.not_modified
                && !report.warnings.is_empty()
                && report
                    .warnings
                    .iter()
                    .all(|w| w.ends_with("not in the mirror"));
            if !matches!(origin, Origin::Snapshot(_)) && !absent {
                rec.last_success = Some(started);
                rec.last_error = None;
            }
            rec.origin = Some(report.origin.clone());
            rec.last_changes = Some(crate::store::ChangeCounts {
                new: report.changes.new.len() + report.kev_new.len(),
                changed: report.changes.changed.len() + report.epss_changed,
                withdrawn: report.changes.withdrawn.len(),
            });
            rec.record_count = ctx.store.feed_record_count(&def.name);
        }
        Err(e) => {
            rec.last_error = Some(e.to_string());
        }
    }
    if rec.last_success == Some(started) {
        rec.stale_alerted = false;
    }
    ctx.store.put_feed(&rec)?;
    if let Err(e) = &result {
        // Alert on the change from healthy to failing, not on every failed retry.
        if !was_failing && !matches!(e, FeedError::Interrupted) {
            ctx.store.append_event(feed_event(
                crate::store::EventKind::FeedFailing,
                &def.name,
                format!("feed {} failing: {e}", def.name),
            ))?;
        }
    }
    result
}

async fn run(
    ctx: &SyncContext<'_>,
    def: &FeedDef,
    origin: &Origin,
    rec: &mut FeedRecord,
) -> Result<SyncReport, FeedError> {
    let mut report = SyncReport {
        feed: def.name.clone(),
        origin: origin.describe(def),
        ..SyncReport::default()
    };
    if matches!(origin, Origin::Network) && def.url.is_none() {
        return Err(FeedError::NoSource(def.name.clone()));
    }
    match def.kind {
        FeedKind::Osv => sync_osv(ctx, def, origin, rec, &mut report).await?,
        FeedKind::Rustsec => sync_rustsec(ctx, def, origin, rec, &mut report).await?,
        FeedKind::Nvd => sync_nvd(ctx, def, origin, rec, &mut report).await?,
        FeedKind::Kev => sync_kev(ctx, def, origin, rec, &mut report).await?,
        FeedKind::Epss => sync_epss(ctx, def, origin, rec, &mut report).await?,
    }
    Ok(report)
}

/// Blocking work (parsing, store writes) off the async workers.
async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> R + Send + 'static,
) -> Result<R, FeedError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| FeedError::Parse(format!("worker failed: {e}")))
}

fn newest(rec: &mut FeedRecord, advisories: &[AdvisoryWrite]) {
    if let Some(m) = advisories.iter().map(|w| w.advisory.modified).max() {
        rec.newest_record = Some(rec.newest_record.map_or(m, |n| n.max(m)));
    }
}

fn store_advisories(
    ctx: &SyncContext<'_>,
    def: &FeedDef,
    rec: &mut FeedRecord,
    writes: &[AdvisoryWrite],
    report: &mut SyncReport,
) -> Result<(), FeedError> {
    report.records_read += writes.len();
    newest(rec, writes);
    let cs = ctx.store.upsert_advisories(&def.name, writes)?;
    report.changes.extend(cs);
    Ok(())
}

/// Parses OSV JSON entries; unparsable records are reported, not fatal.
fn parse_osv_entries(
    entries: Vec<(String, Vec<u8>)>,
    warnings: &mut Vec<String>,
) -> Vec<AdvisoryWrite> {
    let mut out = Vec::with_capacity(entries.len());
    for (name, bytes) in entries {
        match osv::parse_record(&bytes) {
            Ok(advisory) => out.push(AdvisoryWrite {
                advisory,
                raw: bytes,
            }),
            Err(e) => warnings.push(format!("{name}: {e}")),
        }
    }
    out
}

async fn sync_osv(
    ctx: &SyncContext<'_>,
    def: &FeedDef,
    origin: &Origin,
    rec: &mut FeedRecord,
    report: &mut SyncReport,
) -> Result<(), FeedError> {
    for eco in &def.ecosystems {
        check_cancel(ctx)?;
        ctx.progress.message(&def.name, &format!("{eco}: reading"));
        let entries = match origin.dir() {
            Some(dir) => {
                let base = dir.join("osv").join(eco);
                let limits = ctx.limits;
                match blocking(move || read_osv_mirror(&base, &limits)).await?? {
                    Some(entries) => entries,
                    None => {
                        report.warnings.push(format!(
                            "{}: not in the mirror",
                            dir.join("osv").join(eco).display()
                        ));
                        continue;
                    }
                }
            }
            None => {
                let base = def.url.as_deref().unwrap_or_default().trim_end_matches('/');
                let url = format!("{base}/{}/all.zip", percent_segment(eco));
                match ctx.fetcher.get(&url, rec.validators.get(&url)).await? {
                    Fetched::NotModified => {
                        ctx.progress
                            .message(&def.name, &format!("{eco}: not modified"));
                        report.not_modified = true;
                        continue;
                    }
                    Fetched::Body { bytes, validator } => {
                        let limits = ctx.limits;
                        let entries = blocking(move || read_zip_json_entries(&bytes, &limits))
                            .await?
                            .map_err(|e| FeedError::Parse(format!("{url}: {e}")))?;
                        // Remember the validators only once the archive proved readable.
                        rec.validators.insert(url.clone(), validator);
                        entries
                    }
                }
            }
        };
        let mut warnings = Vec::new();
        let writes = blocking(move || {
            let w = parse_osv_entries(entries, &mut warnings);
            (w, warnings)
        })
        .await?;
        report.warnings.extend(writes.1);
        ctx.progress.message(
            &def.name,
            &format!("{eco}: storing {} records", writes.0.len()),
        );
        store_advisories(ctx, def, rec, &writes.0, report)?;
    }
    Ok(())
}

async fn sync_rustsec(
    ctx: &SyncContext<'_>,
    def: &FeedDef,
    origin: &Origin,
    rec: &mut FeedRecord,
    report: &mut SyncReport,
) -> Result<(), FeedError> {
    let mut pending_validator = None;
    let (dir, _tmp) = match origin.dir() {
        Some(d) => {
            let dir = d.join("rustsec");
            if !dir.is_dir() {
                report
                    .warnings
                    .push(format!("{}: not in the mirror", dir.display()));
                return Ok(());
            }
            (dir, None)
        }
        None => {
            let url = def.url.clone().unwrap_or_default();
            let bytes = match ctx.fetcher.get(&url, rec.validators.get(&url)).await? {
                Fetched::NotModified => {
                    report.not_modified = true;
                    return Ok(());
                }
                Fetched::Body { bytes, validator } => {
                    pending_validator = Some((url.clone(), validator));
                    bytes
                }
            };
            // Guarded from creation: a failed extraction leaves nothing behind.
            let guard = TempDirGuard(tempdir_in_store(ctx.store)?);
            let limits = ctx.limits;
            let root = guard.0.clone();
            let dir = blocking(move || advisory_db::extract_advisory_db(&bytes, &root, &limits))
                .await?
                .map_err(|e| FeedError::Parse(format!("{url}: {e}")))?;
            (dir, Some(guard))
        }
    };
    ctx.progress
        .message(&def.name, &format!("loading {}", dir.display()));
    let loaded = blocking(move || {
        rustsec_feed::load_database(&dir).map(|advs| {
            advs.into_iter()
                .map(|a| {
                    let raw = serde_json::to_vec(&a).unwrap_or_default();
                    AdvisoryWrite { advisory: a, raw }
                })
                .collect::<Vec<_>>()
        })
    })
    .await?
    .map_err(|e| FeedError::Parse(e.to_string()))?;
    store_advisories(ctx, def, rec, &loaded, report)?;
    if let Some((url, v)) = pending_validator {
        rec.validators.insert(url, v);
    }
    Ok(())
}

async fn sync_nvd(
    ctx: &SyncContext<'_>,
    def: &FeedDef,
    origin: &Origin,
    rec: &mut FeedRecord,
    report: &mut SyncReport,
) -> Result<(), FeedError> {
    if let Some(d) = origin.dir() {
        let dir = d.join("nvd");
        if !dir.is_dir() {
            report
                .warnings
                .push(format!("{}: not in the mirror", dir.display()));
            return Ok(());
        }
        for f in nvd_mirror_files(&dir)? {
            check_cancel(ctx)?;
            let Some(advisories) = read_nvd_mirror_file(&f, &ctx.limits, &mut report.warnings)?
            else {
                continue;
            };
            ctx.progress.message(
                &def.name,
                &format!("{}: {} records", f.display(), advisories.len()),
            );
            let writes = nvd_writes(advisories);
            store_advisories(ctx, def, rec, &writes, report)?;
        }
        return Ok(());
    }
    let base = def.url.clone().unwrap_or_default();
    let per_page = def.results_per_page.unwrap_or(2000).clamp(1, 2000);
    let key = ctx.nvd_api_key.clone();
    // NVD: 5 requests per 30 s without a key, 50 with one.
    let interval =
        std::time::Duration::from_millis(def.request_interval_ms.unwrap_or(if key.is_some() {
            700
        } else {
            6_500
        }));
    let now = Utc::now();
    let windows: Vec<Option<(DateTime<Utc>, DateTime<Utc>)>> = match rec.cursor {
        None => vec![None],
        Some(from) => nvd_windows(from, now).into_iter().map(Some).collect(),
    };
    let mut first_request = true;
    for window in windows {
        let mut start_index: u64 = 0;
        loop {
            check_cancel(ctx)?;
            if !first_request {
                tokio::time::sleep(interval).await;
            }
            first_request = false;
            let mut url = reqwest::Url::parse(&base)
                .map_err(|e| FeedError::Parse(format!("invalid NVD url {base}: {e}")))?;
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("resultsPerPage", &per_page.to_string());
                q.append_pair("startIndex", &start_index.to_string());
                if let Some((from, to)) = window {
                    q.append_pair("lastModStartDate", &nvd_date(from));
                    q.append_pair("lastModEndDate", &nvd_date(to));
                }
            }
            let bytes = ctx
                .fetcher
                .get_api(url.as_str(), key.as_deref().map(|k| ("apiKey", k)))
                .await?;
            let page = blocking(move || nvd::parse_page(&bytes))
                .await?
                .map_err(|e| FeedError::Parse(format!("{url}: {e}")))?;
            let got = page.advisories.len() as u64;
            ctx.progress.message(
                &def.name,
                &format!(
                    "{} of {} records",
                    (start_index + got).min(page.total_results),
                    page.total_results
                ),
            );
            let writes = nvd_writes(page.advisories);
            store_advisories(ctx, def, rec, &writes, report)?;
            start_index += got;
            if got == 0 || start_index >= page.total_results {
                break;
            }
        }
        // The window is complete: only now may the cursor move past it.
        rec.cursor = Some(window.map_or(now, |(_, to)| to));
    }
    Ok(())
}

/// A file's name (or archive entry) and its bytes.
type NamedBytes = (String, Vec<u8>);

/// An OSV ecosystem folder of a mirror: `all.zip` when present, else loose `*.json`;
/// `None` when the mirror lacks this ecosystem.
fn read_osv_mirror(
    base: &Path,
    limits: &ArchiveLimits,
) -> Result<Option<Vec<NamedBytes>>, FeedError> {
    let zip = base.join("all.zip");
    if zip.is_file() {
        let bytes = read_file(&zip)?;
        read_zip_json_entries(&bytes, limits)
            .map(Some)
            .map_err(|e| FeedError::Parse(format!("{}: {e}", zip.display())))
    } else if base.is_dir() {
        read_json_dir(base).map(Some)
    } else {
        Ok(None)
    }
}

fn nvd_mirror_files(dir: &Path) -> Result<Vec<PathBuf>, FeedError> {
    let mut files: Vec<PathBuf> = list_dir(dir)?
        .into_iter()
        .filter(|p| {
            let n = p
                .file_name()
                .map(|n| n.to_string_lossy().to_lowercase())
                .unwrap_or_default();
            n.ends_with(".json") || n.ends_with(".json.gz")
        })
        .collect();
    files.sort();
    Ok(files)
}

/// One NVD page or yearly feed file of a mirror; `None` (with a warning) for other JSON there.
fn read_nvd_mirror_file(
    f: &Path,
    limits: &ArchiveLimits,
    warnings: &mut Vec<String>,
) -> Result<Option<Vec<Advisory>>, FeedError> {
    let bytes = read_file(f)?;
    let bytes = if is_gzip(&bytes) {
        gunzip_capped(&bytes, limits.max_entry_bytes)
            .map_err(|e| FeedError::Parse(format!("{}: {e}", f.display())))?
    } else {
        bytes
    };
    // A mirror folder may hold other JSON (indexes, notes); only CVE pages are read.
    if !contains(&bytes, b"\"vulnerabilities\"") {
        warnings.push(format!(
            "{}: not an NVD CVE API 2.0 document; skipped",
            f.display()
        ));
        return Ok(None);
    }
    let page =
        nvd::parse_page(&bytes).map_err(|e| FeedError::Parse(format!("{}: {e}", f.display())))?;
    Ok(Some(page.advisories))
}

/// Every advisory of a mirror folder (OSV, RustSec, NVD), read straight from the files, for
/// `soupwatch scan --mirror` which works without a store. Missing parts are warnings.
pub fn load_mirror_advisories(dir: &Path) -> Result<(Vec<Advisory>, Vec<String>), FeedError> {
    if !dir.is_dir() {
        return Err(FeedError::Mirror(format!(
            "{} is not a folder",
            dir.display()
        )));
    }
    let limits = ArchiveLimits::default();
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let osv_dir = dir.join("osv");
    if osv_dir.is_dir() {
        let mut ecos = list_dir(&osv_dir)?;
        ecos.sort();
        for eco in ecos.into_iter().filter(|p| p.is_dir()) {
            if let Some(entries) = read_osv_mirror(&eco, &limits)? {
                out.extend(
                    parse_osv_entries(entries, &mut warnings)
                        .into_iter()
                        .map(|w| w.advisory),
                );
            }
        }
    } else {
        warnings.push(format!("{}: not in the mirror", osv_dir.display()));
    }
    let rs = dir.join("rustsec");
    if rs.is_dir() {
        out.extend(rustsec_feed::load_database(&rs).map_err(|e| FeedError::Parse(e.to_string()))?);
    } else {
        warnings.push(format!("{}: not in the mirror", rs.display()));
    }
    let nvd_dir = dir.join("nvd");
    if nvd_dir.is_dir() {
        for f in nvd_mirror_files(&nvd_dir)? {
            if let Some(advs) = read_nvd_mirror_file(&f, &limits, &mut warnings)? {
                out.extend(advs);
            }
        }
    } else {
        warnings.push(format!("{}: not in the mirror", nvd_dir.display()));
    }
    Ok((out, warnings))
}

fn nvd_writes(advisories: Vec<Advisory>) -> Vec<AdvisoryWrite> {
    advisories
        .into_iter()
        .map(|a| {
            let raw = serde_json::to_vec(&a).unwrap_or_default();
            AdvisoryWrite { advisory: a, raw }
        })
        .collect()
}

/// lastModified windows from `from` to `to`, none longer than NVD's 120-day maximum.
pub fn nvd_windows(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let max = ChronoDuration::days(120);
    let mut out = Vec::new();
    let mut start = from;
    while start < to {
        let end = (start + max).min(to);
        out.push((start, end));
        start = end;
    }
    out
}

fn nvd_date(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string()
}

async fn sync_kev(
    ctx: &SyncContext<'_>,
    def: &FeedDef,
    origin: &Origin,
    rec: &mut FeedRecord,
    report: &mut SyncReport,
) -> Result<(), FeedError> {
    let bytes = match origin.dir() {
        Some(d) => {
            let f = d.join("kev").join("known_exploited_vulnerabilities.json");
            if !f.is_file() {
                report
                    .warnings
                    .push(format!("{}: not in the mirror", f.display()));
                return Ok(());
            }
            read_file(&f)?
        }
        None => {
            let url = def.url.clone().unwrap_or_default();
            match ctx.fetcher.get(&url, rec.validators.get(&url)).await? {
                Fetched::NotModified => {
                    report.not_modified = true;
                    return Ok(());
                }
                Fetched::Body { bytes, validator } => {
                    kev::parse_catalog(&bytes)
                        .map_err(|e| FeedError::Parse(format!("{url}: {e}")))?;
                    rec.validators.insert(url, validator);
                    bytes
                }
            }
        }
    };
    let catalog = kev::parse_catalog(&bytes).map_err(|e| FeedError::Parse(e.to_string()))?;
    report.records_read = catalog.entries.len();
    if let Some(d) = catalog
        .date_released
        .as_deref()
        .and_then(osv::parse_timestamp)
    {
        rec.newest_record = Some(d);
    }
    report.kev_new = ctx.store.put_kev(&def.name, &catalog.entries)?;
    // New exploit evidence re-runs the rules of every product the CVE's group affects.
    let mut pairs = Vec::new();
    for cve in &report.kev_new {
        let Some((group, members)) = ctx.store.alias_group(cve)? else {
            continue;
        };
        for m in &members {
            for a in ctx.store.advisories_by_id(m)? {
                for h in ctx.store.hits_of_advisory(&a.id, a.source)? {
                    if h.status == crate::store::HitStatus::Active {
                        pairs.push((h.product.clone(), group.clone()));
                    }
                }
            }
        }
    }
    pairs.sort();
    pairs.dedup();
    ctx.store.enqueue_triage(&pairs)?;
    Ok(())
}

async fn sync_epss(
    ctx: &SyncContext<'_>,
    def: &FeedDef,
    origin: &Origin,
    rec: &mut FeedRecord,
    report: &mut SyncReport,
) -> Result<(), FeedError> {
    let files: Vec<(String, Vec<u8>)> = match origin.dir() {
        Some(d) => {
            let dir = d.join("epss");
            if !dir.is_dir() {
                report
                    .warnings
                    .push(format!("{}: not in the mirror", dir.display()));
                return Ok(());
            }
            let mut files: Vec<PathBuf> = list_dir(&dir)?
                .into_iter()
                .filter(|p| p.to_string_lossy().ends_with(".csv.gz"))
                .collect();
            // Date-named files: oldest first, so the newest score wins.
            files.sort();
            let mut out = Vec::new();
            for f in files {
                out.push((f.display().to_string(), read_file(&f)?));
            }
            out
        }
        None => {
            let url = def.url.clone().unwrap_or_default();
            match ctx.fetcher.get(&url, rec.validators.get(&url)).await? {
                Fetched::NotModified => {
                    report.not_modified = true;
                    return Ok(());
                }
                Fetched::Body { bytes, validator } => {
                    epss::parse_csv(&bytes).map_err(|e| FeedError::Parse(format!("{url}: {e}")))?;
                    rec.validators.insert(url.clone(), validator);
                    vec![(url, bytes)]
                }
            }
        }
    };
    for (name, bytes) in files {
        check_cancel(ctx)?;
        // Old-layout files carry their score date only in the file name.
        let file_name = Path::new(&name)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned());
        let scores = blocking(move || epss::parse_csv_named(&bytes, file_name.as_deref()))
            .await?
            .map_err(|e| FeedError::Parse(format!("{name}: {e}")))?;
        report.records_read += scores.len();
        if let Some(d) = scores
            .iter()
            .filter_map(|s| s.score_date.as_deref())
            .max()
            .and_then(osv::parse_timestamp)
        {
            rec.newest_record = Some(rec.newest_record.map_or(d, |n| n.max(d)));
        }
        report.epss_changed += ctx.store.put_epss(&def.name, &scores)?;
    }
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn check_cancel(ctx: &SyncContext<'_>) -> Result<(), FeedError> {
    if *ctx.cancel.borrow() {
        Err(FeedError::Interrupted)
    } else {
        Ok(())
    }
}

fn read_file(p: &Path) -> Result<Vec<u8>, FeedError> {
    std::fs::read(p).map_err(|e| FeedError::Mirror(format!("{}: {e}", p.display())))
}

fn list_dir(dir: &Path) -> Result<Vec<PathBuf>, FeedError> {
    Ok(std::fs::read_dir(dir)
        .map_err(|e| FeedError::Mirror(format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect())
}

fn read_json_dir(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, FeedError> {
    let mut files: Vec<PathBuf> = list_dir(dir)?
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| Ok((p.display().to_string(), read_file(&p)?)))
        .collect()
}

/// OSV ecosystem names contain spaces and colons (`Rocky Linux`, `Debian:12`).
fn percent_segment(s: &str) -> String {
    s.replace(' ', "%20").replace(':', "%3A")
}

fn tempdir_in_store(store: &Store) -> Result<PathBuf, FeedError> {
    let mut raw = [0u8; 8];
    getrandom::fill(&mut raw).map_err(|e| FeedError::Mirror(e.to_string()))?;
    let p = store.path().join("tmp").join(hex::encode(raw));
    std::fs::create_dir_all(&p).map_err(|e| FeedError::Mirror(format!("{}: {e}", p.display())))?;
    Ok(p)
}

struct TempDirGuard(PathBuf);

impl Drop for TempDirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn feed_event(
    kind: crate::store::EventKind,
    feed: &str,
    title: String,
) -> crate::store::EventRecord {
    crate::store::EventRecord {
        seq: 0,
        at: Utc::now(),
        kind,
        product: None,
        priority: None,
        subject: feed.to_string(),
        title,
        payload: serde_json::json!({"feed": feed}),
    }
}

/// Raises one `feed_stale` event per stale period of each enabled feed.
pub fn alert_stale(
    store: &Store,
    defs: &[FeedDef],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut n = 0;
    for st in status(store, defs, now)?.into_iter().filter(|s| s.stale) {
        let mut rec = store.feed(&st.name)?.unwrap_or_else(|| FeedRecord {
            name: st.name.clone(),
            ..FeedRecord::default()
        });
        if rec.stale_alerted {
            continue;
        }
        rec.stale_alerted = true;
        store.put_feed(&rec)?;
        let since = st.last_success.map_or_else(
            || "never synced".to_string(),
            |t| format!("last success {}", t.to_rfc3339()),
        );
        store.append_event(feed_event(
            crate::store::EventKind::FeedStale,
            &st.name,
            format!(
                "feed {} is stale ({since}; limit {} h)",
                st.name, st.stale_after_hours
            ),
        ))?;
        n += 1;
    }
    Ok(n)
}

/// A feed's health as shown by `/api/v1/feeds`, `/healthz` and `feeds status`.
#[derive(Debug, Clone, Serialize)]
pub struct FeedStatus {
    pub name: String,
    pub kind: FeedKind,
    pub enabled: bool,
    pub schedule: String,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_duration_ms: Option<u64>,
    pub record_count: u64,
    pub newest_record: Option<DateTime<Utc>>,
    /// Hours since the newest record's `modified` (or score date).
    pub newest_record_age_hours: Option<i64>,
    pub origin: Option<String>,
    pub stale_after_hours: u64,
    /// No successful sync within `stale_after_hours` (or never).
    pub stale: bool,
}

pub fn status(
    store: &Store,
    defs: &[FeedDef],
    now: DateTime<Utc>,
) -> Result<Vec<FeedStatus>, StoreError> {
    defs.iter()
        .map(|d| {
            let r = store.feed(&d.name)?.unwrap_or_default();
            let stale = d.enabled && r.last_success.is_none_or(|s| now - s > d.stale_after());
            Ok(FeedStatus {
                name: d.name.clone(),
                kind: d.kind,
                enabled: d.enabled,
                schedule: d.schedule.clone(),
                last_attempt: r.last_attempt,
                last_success: r.last_success,
                last_error: r.last_error,
                last_duration_ms: r.last_duration_ms,
                record_count: r.record_count,
                newest_record: r.newest_record,
                newest_record_age_hours: r.newest_record.map(|n| (now - n).num_hours()),
                origin: r.origin,
                stale_after_hours: d.stale_after_hours,
                stale,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_definitions_parse() {
        let defs =
            load_definitions(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/feeds"))).unwrap();
        let kinds: Vec<FeedKind> = defs.iter().map(|d| d.kind).collect();
        for k in [
            FeedKind::Osv,
            FeedKind::Rustsec,
            FeedKind::Nvd,
            FeedKind::Kev,
            FeedKind::Epss,
        ] {
            assert!(kinds.contains(&k), "{k:?} missing");
        }
        let builtin = load_definitions(Path::new("/nonexistent")).unwrap();
        assert_eq!(builtin.len(), defs.len());
    }

    #[test]
    fn bad_definitions_say_what_is_wrong() {
        let e = FeedDef::parse(
            "name='x'\nkind='osv'\nschedule='0 0 * * * *'\nstale_after_hours=1\n",
            "t",
        )
        .unwrap_err();
        assert!(e.to_string().contains("ecosystems"), "{e}");
        let e = FeedDef::parse(
            "name='x'\nkind='kev'\nschedule='every day'\nstale_after_hours=1\n",
            "t",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("every day") || e.to_string().contains("cron"),
            "{e}"
        );
        let e = FeedDef::parse(
            "name='x'\nkind='gopher'\nschedule='0 0 * * * *'\nstale_after_hours=1\n",
            "t",
        )
        .unwrap_err();
        assert!(e.to_string().contains("gopher"), "{e}");
    }

    #[test]
    fn nvd_windows_never_exceed_120_days_and_cover_the_span() {
        let from = DateTime::parse_from_rfc3339("2023-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let to = DateTime::parse_from_rfc3339("2024-03-15T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let w = nvd_windows(from, to);
        assert_eq!(w.first().unwrap().0, from);
        assert_eq!(w.last().unwrap().1, to);
        for pair in w.windows(2) {
            assert_eq!(pair[0].1, pair[1].0, "windows are contiguous");
        }
        assert!(w
            .iter()
            .all(|(a, b)| *b - *a <= ChronoDuration::days(120) && a < b));
        assert!(nvd_windows(to, to).is_empty());
    }
}
