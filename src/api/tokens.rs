//! `/api/v1/tokens`: token management on a running daemon (admin only).

use super::{blocking, error::ApiError, AppState, Caller};
use crate::auth::{create_token, Permission, TokenError};
use crate::store::Role;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    name: String,
    role: Role,
}

pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    body: Result<Json<CreateToken>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    caller.require(Permission::Admin)?;
    let Json(req) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let store = st.store.clone();
    let by = caller.name.clone();
    let name = req.name.clone();
    let secret = blocking(move || {
        create_token(&store, &req.name, req.role, &by).map_err(|e| match e {
            TokenError::BadName(_) => ApiError::bad_request(e.to_string()),
            TokenError::Store(s) => s.into(),
            other => ApiError::internal(other.to_string()),
        })
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"name": name, "role": req.role, "secret": secret})),
    ))
}

pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(Permission::Admin)?;
    let store = st.store.clone();
    let tokens = blocking(move || Ok(store.list_tokens()?)).await?;
    Ok(Json(
        serde_json::to_value(tokens).map_err(|e| ApiError::internal(e.to_string()))?,
    ))
}

pub async fn revoke(
    State(st): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::Admin)?;
    let store = st.store.clone();
    blocking(move || Ok(store.revoke_token(&name, &caller.name)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}
