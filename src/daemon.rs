//! `soupwatch serve`: opens the store, starts the HTTP API and the background workers, and
//! shuts all of them down cleanly on SIGINT/SIGTERM (in-flight requests finish, the store is
//! flushed last).

use crate::api::{router, AppState};
use crate::config::Config;
use crate::feeds::fetch::Fetcher;
use crate::feeds::schedule::{spawn_schedules, FeedRunner};
use crate::feeds::{load_definitions, Origin};
use crate::store::Store;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Feeds(#[from] crate::feeds::FeedError),
    #[error("{0}")]
    Config(String),
}

impl From<crate::feeds::fetch::FetchError> for DaemonError {
    fn from(e: crate::feeds::fetch::FetchError) -> Self {
        DaemonError::Feeds(e.into())
    }
}

pub async fn serve(config: Config) -> Result<(), DaemonError> {
    let data_dir = config.store.data_dir.clone();
    let store = Arc::new(
        tokio::task::spawn_blocking(move || Store::open(&data_dir))
            .await
            .map_err(|e| crate::store::StoreError::Engine(e.to_string()))??,
    );
    let config = Arc::new(config);
    let defs = load_definitions(&config.feeds.definitions)?;
    let origin = match &config.feeds.mirror {
        Some(m) => Origin::Mirror(m.clone()),
        None => Origin::Network,
    };
    let fetcher = Fetcher::new(config.feeds.fetch_options())?;
    let runner = Arc::new(FeedRunner::new(
        store.clone(),
        defs,
        origin,
        fetcher,
        config.feeds.nvd_key(),
    ));
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    {
        let runner = runner.clone();
        let snapshot = config.feeds.snapshot.clone();
        let schedule = config.feeds.schedule;
        let cancel = cancel_rx.clone();
        workers.push(tokio::spawn(async move {
            if let Some(s) = snapshot {
                runner.load_snapshot_if_empty(&s, cancel.clone()).await;
            }
            if schedule {
                for h in spawn_schedules(runner, cancel) {
                    let _ = h.await;
                }
            }
        }));
    }
    let rules = Arc::new(load_rules_and_records(&store, &config)?);
    // One worker drains the release and advisory queues (matching), then the triage queue
    // (tickets) and watches deadlines: at start-up (work left by a crash or an offline
    // `feeds sync`), whenever a feed run or an upload changed something, and every minute.
    let match_wake = runner.changed.clone();
    {
        let store = store.clone();
        let wake = match_wake.clone();
        let mut cancel = cancel_rx.clone();
        let rules = rules.clone();
        let defs = Arc::new(runner.defs.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let s = store.clone();
                let r = rules.clone();
                let defs = defs.clone();
                let pass = tokio::task::spawn_blocking(move || {
                    let run = crate::matching::service::Matcher::new(&s).run_pending()?;
                    let today = chrono::Utc::now().date_naive();
                    let triage = crate::tickets::triage_pending(&s, &r, today)?;
                    let reminders = crate::tickets::watch_deadlines(&s, today)?;
                    crate::feeds::alert_stale(&s, &defs, chrono::Utc::now())?;
                    Ok::<_, crate::store::StoreError>((run, triage, reminders))
                });
                match pass.await {
                    Ok(Ok((run, triage, reminders))) => {
                        if run.releases + run.advisories > 0 {
                            tracing::info!(
                                releases = run.releases,
                                advisories = run.advisories,
                                new_hits = run.new_hits,
                                retracted = run.retracted,
                                "matching pass done"
                            );
                        }
                        if triage.opened + triage.updated > 0 || reminders > 0 {
                            tracing::info!(
                                opened = triage.opened,
                                updated = triage.updated,
                                reminders,
                                "triage pass done"
                            );
                        }
                    }
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "matching/triage pass failed; will retry")
                    }
                    Err(e) => tracing::error!(error = %e, "matching worker panicked; will retry"),
                }
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => {}
                    _ = cancel.changed() => return,
                }
                if *cancel.borrow() {
                    return;
                }
            }
        }));
    }
    workers.extend(crate::notify::spawn_workers(
        store.clone(),
        config.notify.clone(),
        cancel_rx.clone(),
    ));
    let state = AppState::new(store.clone(), config.clone(), runner.clone());
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .map_err(|source| DaemonError::Bind {
            addr: config.server.listen,
            source,
        })?;
    let local = listener.local_addr().map_err(DaemonError::Serve)?;
    tracing::info!(listen = %local, data = %store.path().display(), "soupwatch serving");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(DaemonError::Serve)?;
    tracing::info!("stopping background work");
    let _ = cancel_tx.send(true);
    // Workers get a few seconds to finish their current step, then are aborted: every step
    // commits in store transactions and queues its follow-up work, so an aborted download or
    // retry wait loses nothing (a store transaction already running completes on its thread).
    let grace = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    for mut w in workers {
        if tokio::time::timeout_at(grace, &mut w).await.is_err() {
            tracing::warn!("a background task did not stop in time; aborting it");
            w.abort();
        }
    }
    tracing::info!("shutting down: flushing the store");
    store.flush()?;
    Ok(())
}

/// Loads the rules (audited when they change) and the device and SOUP records from config.
fn load_rules_and_records(
    store: &Store,
    config: &Config,
) -> Result<crate::triage::RuleSet, DaemonError> {
    let (text, path) = match std::fs::read_to_string(&config.triage.rules) {
        Ok(t) => (t, config.triage.rules.display().to_string()),
        Err(_) => (
            crate::triage::DEFAULT_RULES.to_string(),
            "built-in".to_string(),
        ),
    };
    let rules = crate::triage::load_rules(&text)
        .map_err(|e| DaemonError::Config(format!("rules {path}: {e}")))?;
    if store.note_rules(&rules.sha256, &rules.version, &path)? {
        tracing::info!(rules = %path, sha256 = %rules.sha256, version = %rules.version, "rules loaded");
    }
    let devices = crate::records::load_devices(&config.triage.products)
        .map_err(|e| DaemonError::Config(e.to_string()))?;
    for d in devices {
        store.put_device(&d, "config")?;
    }
    for (product, items) in crate::records::load_soup(&config.triage.soup)
        .map_err(|e| DaemonError::Config(e.to_string()))?
    {
        for item in items {
            store.put_soup(&product, &item, "config")?;
        }
    }
    Ok(rules)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (systemd, docker stop).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM; only Ctrl-C stops the daemon");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received");
}
