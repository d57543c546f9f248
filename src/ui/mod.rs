//! The regulatory review web UI (server-rendered HTML). Placeholder: being written.

use crate::api::AppState;
use axum::Router;

/// Routes of the review UI, merged into the daemon's router at `/ui`.
pub fn router() -> Router<AppState> {
    Router::new()
}
