//! Feed scheduling inside the daemon: each feed runs on its cron expression, never twice at once,
//! at start-up when a scheduled run was missed, and stops cleanly on shutdown (an interrupted run
//! keeps the last good data because nothing is committed out of order).

use super::{
    fetch::Fetcher, sync_feed, FeedDef, FeedError, LogProgress, Origin, Progress, SyncContext,
    SyncReport,
};
use crate::feeds::archive::ArchiveLimits;
use crate::store::Store;
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use tokio::sync::{watch, Notify};

/// Parses a cron expression for the `cron` crate, which wants seconds first and counts
/// day-of-week from 1 = Sunday. Five-field crontab gets `0` seconds prepended; numeric
/// day-of-week is refused (write MON-SUN) because the two conventions disagree by one day.
pub fn parse_cron(expr: &str) -> Result<cron::Schedule, String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let normalised = match fields.len() {
        1 if expr.trim_start().starts_with('@') => expr.trim().to_string(),
        5 => format!("0 {}", fields.join(" ")),
        6 | 7 => fields.join(" "),
        n => {
            return Err(format!(
                "cron expression {expr:?} has {n} fields; use `sec min hour day-of-month month day-of-week`"
            ))
        }
    };
    let parts: Vec<&str> = normalised.split(' ').collect();
    if let Some(dow) = parts.get(5) {
        if dow.chars().any(|c| c.is_ascii_digit()) {
            return Err(format!(
                "cron expression {expr:?}: write day-of-week as MON-SUN, not numbers (crontab and the cron crate number days differently)"
            ));
        }
    }
    cron::Schedule::from_str(&normalised).map_err(|e| format!("cron expression {expr:?}: {e}"))
}

/// Runs feeds for the daemon and the CLI, one run per feed at a time.
pub struct FeedRunner {
    pub store: Arc<Store>,
    pub defs: Vec<FeedDef>,
    pub origin: Origin,
    fetcher: Fetcher,
    limits: ArchiveLimits,
    nvd_api_key: Option<String>,
    /// Names of feeds with a run in progress.
    running: Mutex<HashSet<String>>,
    /// Woken after every run that changed something: the matcher listens.
    pub changed: Arc<Notify>,
}

impl FeedRunner {
    pub fn new(
        store: Arc<Store>,
        defs: Vec<FeedDef>,
        origin: Origin,
        fetcher: Fetcher,
        nvd_api_key: Option<String>,
    ) -> Self {
        FeedRunner {
            store,
            defs,
            origin,
            fetcher,
            limits: ArchiveLimits::default(),
            nvd_api_key,
            running: Mutex::new(HashSet::new()),
            changed: Arc::new(Notify::new()),
        }
    }

    pub fn def(&self, name: &str) -> Option<&FeedDef> {
        self.defs.iter().find(|d| d.name == name)
    }

    /// Runs one feed from `origin` (default: the runner's). Refuses a second concurrent run.
    pub async fn run_one(
        &self,
        def: &FeedDef,
        origin: Option<&Origin>,
        progress: &dyn Progress,
        cancel: watch::Receiver<bool>,
    ) -> Result<SyncReport, FeedError> {
        {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            if !running.insert(def.name.clone()) {
                return Err(FeedError::Parse(format!(
                    "feed {} is already running",
                    def.name
                )));
            }
        }
        let ctx = SyncContext {
            store: &self.store,
            fetcher: &self.fetcher,
            limits: self.limits,
            progress,
            nvd_api_key: self.nvd_api_key.clone(),
            cancel,
        };
        let result = sync_feed(&ctx, def, origin.unwrap_or(&self.origin)).await;
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&def.name);
        match &result {
            Ok(r) => {
                tracing::info!(feed = %def.name, origin = %r.origin, read = r.records_read,
                    new = r.changes.new.len(), changed = r.changes.changed.len(),
                    withdrawn = r.changes.withdrawn.len(), kev_new = r.kev_new.len(),
                    warnings = r.warnings.len(), "feed sync done");
                for w in r.warnings.iter().take(20) {
                    tracing::warn!(feed = %def.name, "{w}");
                }
                if !r.changes.is_empty() || !r.kev_new.is_empty() {
                    self.changed.notify_one();
                }
            }
            Err(e) => {
                tracing::error!(feed = %def.name, error = %e, "feed sync failed; keeping the last good data")
            }
        }
        result
    }

    /// On a store without advisories, loads the bundled snapshot so a new install without
    /// network shows real findings at once. It does not count as a sync: feeds stay stale.
    pub async fn load_snapshot_if_empty(
        &self,
        snapshot: &std::path::Path,
        cancel: watch::Receiver<bool>,
    ) {
        if self.store.advisory_count() > 0 || !snapshot.is_dir() {
            return;
        }
        tracing::info!(snapshot = %snapshot.display(), "empty store: loading the bundled feed snapshot");
        let origin = Origin::Snapshot(snapshot.to_path_buf());
        for def in self.defs.iter().filter(|d| d.enabled) {
            if let Err(e) = self
                .run_one(def, Some(&origin), &LogProgress, cancel.clone())
                .await
            {
                tracing::warn!(feed = %def.name, error = %e, "snapshot load failed");
            }
        }
    }
}

/// Whether a scheduled run was missed since `last_success` (or there never was one).
pub fn due_at_startup(
    schedule: &cron::Schedule,
    last_success: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    match last_success {
        None => true,
        Some(t) => schedule.after(&t).next().is_some_and(|next| next <= now),
    }
}

/// Spawns one loop per enabled feed; they end when `cancel` flips to true.
pub fn spawn_schedules(
    runner: Arc<FeedRunner>,
    cancel: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut handles = Vec::new();
    for def in runner.defs.iter().filter(|d| d.enabled).cloned() {
        let runner = runner.clone();
        let mut cancel = cancel.clone();
        handles.push(tokio::spawn(async move {
            let schedule = match parse_cron(&def.schedule) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(feed = %def.name, error = %e, "feed not scheduled");
                    return;
                }
            };
            let last = runner
                .store
                .feed(&def.name)
                .ok()
                .flatten()
                .and_then(|r| r.last_success);
            if due_at_startup(&schedule, last, Utc::now()) {
                let _ = runner
                    .run_one(&def, None, &LogProgress, cancel.clone())
                    .await;
            }
            loop {
                let Some(next) = schedule.upcoming(Utc).next() else {
                    return;
                };
                let wait = (next - Utc::now()).to_std().unwrap_or_default();
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = cancel.changed() => return,
                }
                if *cancel.borrow() {
                    return;
                }
                let _ = runner
                    .run_one(&def, None, &LogProgress, cancel.clone())
                    .await;
            }
        }));
    }
    handles
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, Timelike, Weekday};

    #[test]
    fn monday_means_monday() {
        let s = parse_cron("0 0 3 * * MON").unwrap();
        for t in s.upcoming(Utc).take(5) {
            assert_eq!(t.weekday(), Weekday::Mon);
            assert_eq!(t.hour(), 3);
        }
    }

    #[test]
    fn five_field_crontab_is_accepted_and_numeric_weekdays_refused() {
        let s = parse_cron("15 */2 * * *").unwrap();
        let t = s.upcoming(Utc).next().unwrap();
        assert_eq!((t.minute(), t.second()), (15, 0));
        assert!(parse_cron("0 3 * * 1").unwrap_err().contains("MON-SUN"));
        assert!(parse_cron("nonsense").is_err());
        assert!(parse_cron("@daily").is_ok());
    }

    #[test]
    fn a_missed_run_is_due_at_startup() {
        let s = parse_cron("0 0 * * * *").unwrap();
        let now = Utc::now();
        assert!(due_at_startup(&s, None, now));
        assert!(due_at_startup(
            &s,
            Some(now - chrono::Duration::hours(3)),
            now
        ));
        assert!(!due_at_startup(&s, Some(now), now));
    }
}
