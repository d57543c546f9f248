//! The HTTP API (`/api/v1`) and health endpoint. Handlers translate HTTP to calls of the domain
//! functions (releases, auth, store) and back; they hold no business rules of their own.

mod auth;
pub mod error;
mod exports;
mod metrics;
pub mod openapi;
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
    /// HTTP request counters and latency histograms for `/metrics`.
    pub http_metrics: Arc<metrics::HttpMetrics>,
}

impl AppState {
    pub fn new(store: Arc<Store>, config: Arc<Config>, feeds: Arc<FeedRunner>) -> Self {
        let slots = config.server.max_parallel_ingest.max(1);
        AppState {
            store,
            config,
            ingest_slots: Arc::new(Semaphore::new(slots)),
            feeds,
            http_metrics: Arc::new(metrics::HttpMetrics::default()),
        }
    }
}

macro_rules! doc {
    ($method:literal, $path:literal, $roles:literal, $summary:literal) => {
        openapi::RouteDoc {
            method: $method,
            path: $path,
            summary: $summary,
            roles: $roles,
            body: None,
        }
    };
    ($method:literal, $path:literal, $roles:literal, $summary:literal, body = $body:literal) => {
        openapi::RouteDoc {
            method: $method,
            path: $path,
            summary: $summary,
            roles: $roles,
            body: Some($body),
        }
    };
}

/// Every `/api/v1` operation, registered and described in one place.
fn api_routes() -> openapi::Api {
    use axum::routing::post;
    openapi::Api::new()
        .add(
            doc!("get", "/products", "any", "Products with release counts"),
            get(releases::list_products),
        )
        .add(
            doc!(
                "get",
                "/products/{product}",
                "any",
                "A product's device record and releases"
            ),
            get(tickets::get_device),
        )
        .add(
            doc!(
                "put",
                "/products/{product}",
                "admin",
                "Replace a product's device record",
                body = "application/json"
            ),
            put(tickets::put_device),
        )
        .add(
            doc!(
                "get",
                "/products/{product}/releases",
                "any",
                "Release records of a product"
            ),
            get(releases::list_releases),
        )
        .add(
            doc!(
                "get",
                "/products/{product}/releases/{release}",
                "any",
                "A release record with its history"
            ),
            get(releases::get_release),
        )
        .add(
            doc!(
                "put",
                "/products/{product}/releases/{release}/sbom",
                "uploader, admin",
                "Upload the SBOM of a released version (?supersede=true&reason=TEXT: admin)",
                body = "application/vnd.cyclonedx+json"
            ),
            put(releases::upload_sbom),
        )
        .add(
            doc!(
                "get",
                "/products/{product}/releases/{release}/sbom",
                "any",
                "The original SBOM bytes"
            ),
            get(releases::get_sbom),
        )
        .add(
            doc!(
                "get",
                "/products/{product}/releases/{release}/components",
                "any",
                "Normalised components"
            ),
            get(releases::get_components),
        )
        .add(
            doc!(
                "get",
                "/products/{product}/releases/{release}/findings",
                "any",
                "Findings by component and vulnerability (?include_retracted=true)"
            ),
            get(releases::get_findings),
        )
        .add(
            doc!(
                "get",
                "/products/{product}/releases/{release}/vex",
                "any",
                "VEX of the release (?format=cyclonedx|openvex|csaf)"
            ),
            get(exports::vex),
        )
        .add(
            doc!(
                "get",
                "/products/{product}/releases/{release}/report",
                "any",
                "Release report: components, findings, decisions, signers (?format=html|md|csv)"
            ),
            get(exports::report),
        )
        .add(
            doc!(
                "get",
                "/tickets/{id}/csaf",
                "any",
                "CSAF security advisory of a ticket with a released fix"
            ),
            get(exports::ticket_csaf),
        )
        .add(
            doc!(
                "get",
                "/products/{product}/soup",
                "any",
                "The product's SOUP register"
            ),
            get(tickets::list_soup),
        )
        .add(
            doc!(
                "get",
                "/products/{product}/soup/{id}",
                "any",
                "One SOUP record"
            ),
            get(tickets::get_soup),
        )
        .add(
            doc!(
                "put",
                "/products/{product}/soup/{id}",
                "analyst, admin",
                "Create or replace a SOUP record",
                body = "application/json"
            ),
            put(tickets::put_soup),
        )
        .add(
            doc!(
                "get",
                "/vulnerabilities/{id}",
                "any",
                "A vulnerability by any alias and every release it hits"
            ),
            get(releases::get_vulnerability),
        )
        .add(
            doc!(
                "get",
                "/tickets",
                "any",
                "Problem-resolution tickets (?product, state, priority, overdue)"
            ),
            get(tickets::list),
        )
        .add(
            doc!(
                "get",
                "/tickets/{id}",
                "any",
                "One ticket with its decision, trace, notifications and signoffs"
            ),
            get(tickets::get),
        )
        .add(
            doc!(
                "post",
                "/tickets/{id}/transition",
                "analyst, admin",
                "Move a ticket through its lifecycle (guarded)",
                body = "application/json"
            ),
            post(tickets::transition),
        )
        .add(
            doc!(
                "post",
                "/tickets/{id}/signoff",
                "reviewer, admin",
                "Confirm or override the provisional decision",
                body = "application/json"
            ),
            post(tickets::signoff),
        )
        .add(
            doc!(
                "get",
                "/audit",
                "reviewer, admin",
                "The audit trail and its chain check (?after, limit)"
            ),
            get(tickets::audit),
        )
        .add(
            doc!("get", "/feeds", "any", "Feed status and staleness"),
            get(feeds_status),
        )
        .add(
            doc!(
                "get",
                "/outbox",
                "admin",
                "Alert deliveries, including dead letters"
            ),
            get(outbox_list),
        )
        .add(
            doc!("post", "/outbox/{id}/retry", "admin", "Requeue a delivery"),
            post(outbox_retry),
        )
        .add(
            doc!("get", "/tokens", "admin", "API tokens (names and roles)"),
            get(tokens::list),
        )
        .add(
            doc!(
                "post",
                "/tokens",
                "admin",
                "Create a token; the secret is returned once",
                body = "application/json"
            ),
            post(tokens::create),
        )
        .add(
            doc!("delete", "/tokens/{name}", "admin", "Revoke a token"),
            delete(tokens::revoke),
        )
        .add(
            doc!("get", "/openapi.json", "public", "This document"),
            get(openapi_json),
        )
}

/// The OpenAPI description of `/api/v1`, generated from the route registry.
pub fn openapi_document() -> serde_json::Value {
    let (_, docs) = api_routes().into_parts();
    openapi::document(&docs)
}

async fn openapi_json() -> Json<serde_json::Value> {
    Json(openapi_document())
}

pub fn router(state: AppState) -> Router {
    let (api, _) = api_routes().into_parts();
    let api = api.fallback(|| async { ApiError::not_found("no such API route") });
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::render))
        .nest("/api/v1", api)
        .merge(crate::ui::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
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
        d.sort_by_key(|x| std::cmp::Reverse(x.created_at));
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
