//! `/api/v1/.../vex`, `/report`, `/tickets/{id}/csaf`: the release's VEX documents, its report,
//! and a ticket's CSAF security advisory.

use super::{blocking, error::ApiError, AppState, Caller};
use crate::exports::{self, VexFormat};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct FormatQuery {
    format: Option<String>,
}

pub async fn vex(
    State(st): State<AppState>,
    _c: Caller,
    Path((product, release)): Path<(String, String)>,
    q: Result<Query<FormatQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let format = match q.format.as_deref() {
        None => VexFormat::CycloneDx,
        Some(f) => VexFormat::parse(f).ok_or_else(|| {
            ApiError::bad_request(format!(
                "unknown format {f:?}: use cyclonedx, openvex or csaf"
            ))
        })?,
    };
    let (store, publisher) = (st.store.clone(), st.config.exports.publisher());
    let doc = blocking(move || {
        let data = exports::load(&store, &product, &release, chrono::Utc::now(), publisher)?
            .ok_or_else(|| ApiError::not_found(format!("no release {product}/{release}")))?;
        // OpenVEX and CSAF need at least one statement to be valid documents.
        if format != VexFormat::CycloneDx && exports::statements(&data).is_empty() {
            return Err(ApiError::not_found(
                "no vulnerability to state for this release",
            ));
        }
        Ok(exports::vex(&data, format))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, format.content_type())], Json(doc)).into_response())
}

pub async fn report(
    State(st): State<AppState>,
    _c: Caller,
    Path((product, release)): Path<(String, String)>,
    q: Result<Query<FormatQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let kind = q.format.unwrap_or_else(|| "html".into());
    let ct = match kind.as_str() {
        "html" => "text/html; charset=utf-8",
        "md" | "markdown" => "text/markdown; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        _ => return Err(ApiError::bad_request("format: html, md or csv")),
    };
    let (store, publisher) = (st.store.clone(), st.config.exports.publisher());
    let body = blocking(move || {
        let data = exports::load(&store, &product, &release, chrono::Utc::now(), publisher)?
            .ok_or_else(|| ApiError::not_found(format!("no release {product}/{release}")))?;
        Ok(match kind.as_str() {
            "html" => exports::report_html(&data),
            "csv" => exports::report_csv(&data),
            _ => exports::report_markdown(&data),
        })
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, ct)], body).into_response())
}

pub async fn ticket_csaf(
    State(st): State<AppState>,
    _c: Caller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (store, publisher) = (st.store.clone(), st.config.exports.publisher());
    let doc = blocking(move || {
        let t = store
            .ticket(&id)?
            .ok_or_else(|| ApiError::not_found(format!("no ticket {id:?}")))?;
        let rel = t
            .releases
            .first()
            .ok_or_else(|| ApiError::not_found("ticket lists no release"))?;
        let data = exports::load(
            &store,
            &t.product,
            &rel.release,
            chrono::Utc::now(),
            publisher,
        )?
        .ok_or_else(|| ApiError::not_found("release gone"))?;
        exports::csaf_security_advisory(&data, &id)
            .ok_or_else(|| ApiError::not_found("no released fix for this ticket"))
    })
    .await?;
    Ok(Json(doc))
}
