//! Alerts: routes events from the durable outbox to channels (SMTP email, webhooks) and delivers
//! them at least once with retries. (Skeleton: filled in by the alerting work.)

use crate::store::Store;
use serde::Deserialize;
use std::sync::Arc;

/// `[notify]` in the config file: channels and routes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("no route named {0:?}")]
    UnknownRoute(String),
}

/// Starts the router and delivery workers; they stop when `cancel` flips to true.
pub fn spawn_workers(
    _store: Arc<Store>,
    _config: NotifyConfig,
    _cancel: tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    Vec::new()
}

/// Sends a test message through one route and returns what the server answered.
pub async fn send_test(_config: &NotifyConfig, route: &str) -> Result<String, NotifyError> {
    Err(NotifyError::UnknownRoute(route.to_string()))
}
