//! The HTTP API (`/api/v1`) and health endpoint. Handlers translate HTTP to calls of the domain
//! functions (releases, auth, store) and back; they hold no business rules of their own.

mod auth;
pub mod error;
mod releases;
mod tickets;
mod tokens;

pub use auth::Caller;
use error::ApiError;

use crate::config::Config;
use crate::feeds::schedule::FeedRunner;
use crate::store::Store;
use axum::routing::{delete, get, put};
use axum::{Json, Router};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub config: Arc<Config>,
    /// Bounds concurrent SBOM parses: each can take ~10x the document size in memory.
    pub ingest_slots: Arc<Semaphore>,
    /// Feed definitions and runs, for status and health.
    pub feeds: Arc<FeedRunner>,
}

impl AppState {
    pub fn new(store: Arc<Store>, config: Arc<Config>, feeds: Arc<FeedRunner>) -> Self {
        let slots = config.server.max_parallel_ingest.max(1);
        AppState {
            store,
            config,
            ingest_slots: Arc::new(Semaphore::new(slots)),
            feeds,
        }
    }
}

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/products", get(releases::list_products))
        .route("/products/{product}/releases", get(releases::list_releases))
        .route(
            "/products/{product}/releases/{release}",
            get(releases::get_release),
        )
        .route(
            "/products/{product}/releases/{release}/sbom",
            put(releases::upload_sbom).get(releases::get_sbom),
        )
        .route(
            "/products/{product}/releases/{release}/components",
            get(releases::get_components),
        )
        .route(
            "/products/{product}/releases/{release}/findings",
            get(releases::get_findings),
        )
        .route("/vulnerabilities/{id}", get(releases::get_vulnerability))
        .route(
            "/products/{product}",
            get(tickets::get_device).put(tickets::put_device),
        )
        .route("/products/{product}/soup", get(tickets::list_soup))
        .route(
            "/products/{product}/soup/{id}",
            get(tickets::get_soup).put(tickets::put_soup),
        )
        .route("/tickets", get(tickets::list))
        .route("/tickets/{id}", get(tickets::get))
        .route(
            "/tickets/{id}/transition",
            axum::routing::post(tickets::transition),
        )
        .route(
            "/tickets/{id}/signoff",
            axum::routing::post(tickets::signoff),
        )
        .route("/audit", get(tickets::audit))
        .route("/feeds", get(feeds_status))
        .route("/outbox", get(outbox_list))
        .route("/outbox/{id}/retry", axum::routing::post(outbox_retry))
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/{name}", delete(tokens::revoke))
        .fallback(|| async { ApiError::not_found("no such API route") });
    Router::new()
        .route("/healthz", get(healthz))
        .nest("/api/v1", api)
        .merge(crate::ui::router())
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Liveness plus the things an operator must see at a glance: stale or failing feeds make the
/// daemon `degraded` (HTTP 200 still, so a restart loop is not triggered by upstream outages).
async fn healthz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let st = state.clone();
    blocking(move || {
        let feeds = crate::feeds::status(&st.store, &st.feeds.defs, chrono::Utc::now())?;
        let stale: Vec<&str> = feeds
            .iter()
            .filter(|f| f.stale)
            .map(|f| f.name.as_str())
            .collect();
        let failing: Vec<&str> = feeds
            .iter()
            .filter(|f| f.last_error.is_some())
            .map(|f| f.name.as_str())
            .collect();
        let dead = st
            .store
            .deliveries()?
            .iter()
            .filter(|d| d.status == crate::store::DeliveryStatus::Dead)
            .count();
        let status = if stale.is_empty() && failing.is_empty() && dead == 0 {
            "ok"
        } else {
            "degraded"
        };
        Ok(Json(serde_json::json!({
            "status": status,
            "feeds": {"stale": stale, "failing": failing},
            "outbox": {"dead_letters": dead},
            "store": {"path": st.store.path(), "size_on_disk": st.store.size_on_disk().ok(),
                      "advisories": st.store.advisory_count()},
            "version": env!("CARGO_PKG_VERSION"),
        })))
    })
    .await
}

/// Deliveries, newest first: pending, delivered and dead (admin).
async fn outbox_list(
    axum::extract::State(state): axum::extract::State<AppState>,
    c: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    c.require(crate::auth::Permission::Admin)?;
    blocking(move || {
        let mut d = state.store.deliveries()?;
        d.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        serde_json::to_value(d)
            .map(Json)
            .map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
}

/// Puts a (dead) delivery back in the queue, due now (admin).
async fn outbox_retry(
    axum::extract::State(state): axum::extract::State<AppState>,
    c: Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    c.require(crate::auth::Permission::Admin)?;
    blocking(move || {
        let d = state.store.retry_delivery(&id)?;
        serde_json::to_value(d)
            .map(Json)
            .map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
}

async fn feeds_status(
    axum::extract::State(state): axum::extract::State<AppState>,
    _c: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let feeds = crate::feeds::status(&state.store, &state.feeds.defs, chrono::Utc::now())?;
        serde_json::to_value(feeds)
            .map(Json)
            .map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
}

/// Runs a blocking store or parse call off the async workers.
pub(crate) async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, ApiError> + Send + 'static,
) -> Result<R, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("worker failed: {e}")))?
}
