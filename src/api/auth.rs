//! Bearer-token authentication as an axum extractor: no or unknown token is 401, a known token
//! without the needed role is 403 (checked by each handler through [`Caller::require`]).

use super::{error::ApiError, AppState};
use crate::auth::{allows, authenticate, Permission};
use crate::store::Role;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, StatusCode};

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

impl Caller {
    pub fn require(&self, perm: Permission) -> Result<(), ApiError> {
        if allows(self.role, perm) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "token {:?} has role {}, which may not do this ({perm:?})",
                    self.name, self.role
                ),
            ))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m);
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("missing Authorization: Bearer <token> header"))?;
        let secret = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| unauthorized("Authorization header must be `Bearer <token>`"))?;
        let store = state.store.clone();
        let secret = secret.to_string();
        let found = tokio::task::spawn_blocking(move || authenticate(&store, &secret))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))??;
        let rec = found.ok_or_else(|| unauthorized("unknown or revoked token"))?;
        Ok(Caller {
            name: rec.name,
            role: rec.role,
        })
    }
}
