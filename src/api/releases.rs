//! `/api/v1/products/...`: SBOM upload and reading releases back.

use super::{blocking, error::ApiError, AppState, Caller};
use crate::auth::Permission;
use crate::ingest::IngestOptions;
use crate::model::{ProductName, ReleaseName};
use crate::releases::{ingest_release, Upload, UploadError};
use crate::store::PutOutcome;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

fn names(
    product: &str,
    release: Option<&str>,
) -> Result<(ProductName, Option<ReleaseName>), ApiError> {
    let p = ProductName::parse(product).map_err(|e| ApiError::bad_request(e.0))?;
    let r = release
        .map(ReleaseName::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request(e.0))?;
    Ok((p, r))
}

fn json<T: serde::Serialize>(v: &T) -> Result<Json<serde_json::Value>, ApiError> {
    serde_json::to_value(v)
        .map(Json)
        .map_err(|e| ApiError::internal(e.to_string()))
}

pub async fn list_products(
    State(st): State<AppState>,
    _c: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let store = st.store.clone();
    let products = blocking(move || {
        let mut out = Vec::new();
        for p in store.products()? {
            let releases = store.releases_of(&p)?;
            out.push(serde_json::json!({
                "product": p,
                "releases": releases.len(),
                "latest_upload": releases.iter().map(|r| r.uploaded_at).max(),
            }));
        }
        Ok(out)
    })
    .await?;
    Ok(Json(serde_json::Value::Array(products)))
}

pub async fn list_releases(
    State(st): State<AppState>,
    _c: Caller,
    Path(product): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (p, _) = names(&product, None)?;
    let store = st.store.clone();
    let rels = blocking(move || Ok(store.releases_of(&p)?)).await?;
    json(&rels)
}

pub async fn get_release(
    State(st): State<AppState>,
    _c: Caller,
    Path((product, release)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (p, r) = names(&product, Some(&release))?;
    let store = st.store.clone();
    let out = blocking(move || {
        let r = r.ok_or_else(|| ApiError::bad_request("release missing"))?;
        let rec = store
            .release(&p, &r)?
            .ok_or_else(|| ApiError::not_found(format!("no release {p}/{r}")))?;
        let history = store.release_history(&p, &r)?;
        let mut v = serde_json::to_value(&rec).map_err(|e| ApiError::internal(e.to_string()))?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert(
                "history".into(),
                serde_json::to_value(history).map_err(|e| ApiError::internal(e.to_string()))?,
            );
        }
        Ok(v)
    })
    .await?;
    Ok(Json(out))
}

pub async fn get_components(
    State(st): State<AppState>,
    _c: Caller,
    Path((product, release)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (p, r) = names(&product, Some(&release))?;
    let store = st.store.clone();
    let comps = blocking(move || {
        let r = r.ok_or_else(|| ApiError::bad_request("release missing"))?;
        let rec = store
            .release(&p, &r)?
            .ok_or_else(|| ApiError::not_found(format!("no release {p}/{r}")))?;
        Ok(store.components(&rec.sha256)?.unwrap_or_default())
    })
    .await?;
    json(&comps)
}

pub async fn get_sbom(
    State(st): State<AppState>,
    _c: Caller,
    Path((product, release)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (p, r) = names(&product, Some(&release))?;
    let store = st.store.clone();
    let (ct, sha, bytes) = blocking(move || {
        let r = r.ok_or_else(|| ApiError::bad_request("release missing"))?;
        let rec = store
            .release(&p, &r)?
            .ok_or_else(|| ApiError::not_found(format!("no release {p}/{r}")))?;
        let bytes = store.sbom_bytes(&rec.sha256)?.ok_or_else(|| {
            ApiError::internal(format!("SBOM bytes {} missing from the store", rec.sha256))
        })?;
        Ok((rec.format.content_type(), rec.sha256, bytes))
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, ct.to_string()),
            (header::ETAG, format!("\"{sha}\"")),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct FindingsQuery {
    /// Also list findings whose every record was retracted (withdrawn or no longer applicable).
    #[serde(default)]
    include_retracted: bool,
}

pub async fn get_findings(
    State(st): State<AppState>,
    _c: Caller,
    Path((product, release)): Path<(String, String)>,
    query: Result<Query<FindingsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (p, r) = names(&product, Some(&release))?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let store = st.store.clone();
    let out = blocking(move || {
        let r = r.ok_or_else(|| ApiError::bad_request("release missing"))?;
        let rec = store
            .release(&p, &r)?
            .ok_or_else(|| ApiError::not_found(format!("no release {p}/{r}")))?;
        let findings = crate::matching::findings::release_findings(
            &store,
            p.as_str(),
            r.as_str(),
            q.include_retracted,
        )?;
        let pending = store
            .pending_releases()?
            .iter()
            .any(|(pp, rr)| pp == p.as_str() && rr == r.as_str());
        Ok(serde_json::json!({
            "product": p, "release": r, "sha256": rec.sha256,
            // True until the matcher has processed this release: an empty list is not "clean" yet.
            "matching_pending": pending,
            "findings": findings,
        }))
    })
    .await?;
    Ok(Json(out))
}

pub async fn get_vulnerability(
    State(st): State<AppState>,
    _c: Caller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let store = st.store.clone();
    let out = blocking(move || {
        let v = crate::matching::findings::vulnerability(&store, id.trim())?
            .ok_or_else(|| ApiError::not_found(format!("no feed knows the id {id:?}")))?;
        serde_json::to_value(v).map_err(|e| ApiError::internal(e.to_string()))
    })
    .await?;
    Ok(Json(out))
}

#[derive(Deserialize)]
pub struct UploadQuery {
    #[serde(default)]
    supersede: bool,
    reason: Option<String>,
}

pub async fn upload_sbom(
    State(st): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path((product, release)): Path<(String, String)>,
    query: Result<Query<UploadQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let max = st.config.ingest.max_bytes;
    let checked = check_upload(caller, &product, &release, query);
    let (caller, p, r, supersede_reason) = match checked {
        Ok(v) => v,
        Err(e) => {
            // Read (and discard) what the client is sending before answering, so it sees our
            // JSON error instead of a broken pipe mid-upload.
            drain(body, max).await;
            return Err(e);
        }
    };
    let bytes = read_capped(&headers, body, max).await?;
    store_upload(st, caller, p, r, supersede_reason, headers, bytes).await
}

type Checked = (Caller, ProductName, ReleaseName, Option<String>);

fn check_upload(
    caller: Result<Caller, ApiError>,
    product: &str,
    release: &str,
    query: Result<Query<UploadQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Checked, ApiError> {
    let caller = caller?;
    caller.require(Permission::Upload)?;
    let (p, r) = names(product, Some(release))?;
    let r = r.ok_or_else(|| ApiError::bad_request("release missing"))?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let supersede_reason = if q.supersede {
        caller.require(Permission::Admin)?;
        match q.reason.as_deref().map(str::trim) {
            Some(reason) if !reason.is_empty() => Some(reason.to_string()),
            _ => {
                return Err(ApiError::bad_request(
                    "supersede=true needs a non-empty reason=TEXT",
                ))
            }
        }
    } else {
        None
    };
    Ok((caller, p, r, supersede_reason))
}

async fn store_upload(
    st: AppState,
    caller: Caller,
    p: ProductName,
    r: ReleaseName,
    supersede_reason: Option<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let _permit = st
        .ingest_slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let store = st.store.clone();
    let opts = IngestOptions {
        strict: st.config.ingest.strict,
    };
    let uploader = caller.name.clone();
    let outcome = blocking(move || {
        ingest_release(
            &store,
            &opts,
            &Upload {
                product: p,
                release: r,
                bytes: &bytes,
                content_type: content_type.as_deref(),
                uploader: &uploader,
                supersede_reason: supersede_reason.as_deref(),
            },
        )
        .map_err(|e| match e {
            UploadError::Ingest(e) => ApiError::from(e),
            UploadError::Store(e) => ApiError::from(e),
        })
    })
    .await?;
    Ok(match outcome {
        PutOutcome::Created(rec) | PutOutcome::Superseded(rec) => {
            // Match the new SBOM at once.
            st.feeds.changed.notify_one();
            tracing::info!(product = %rec.product, release = %rec.release, sha256 = %rec.sha256,
                components = rec.component_count, revision = rec.revision, "release stored");
            (StatusCode::CREATED, json(&rec)?).into_response()
        }
        PutOutcome::Unchanged(rec) => (StatusCode::OK, json(&rec)?).into_response(),
        PutOutcome::Conflict(rec) => {
            let mut e = ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!(
                    "release {}/{} already holds a different SBOM (sha256 {}); releases are immutable: \
                     an admin may replace it with ?supersede=true&reason=TEXT",
                    rec.product, rec.release, rec.sha256
                ),
            );
            e.details = serde_json::to_value(&rec).ok();
            e.into_response()
        }
    })
}

/// Reads the body up to `max` bytes; anything larger is a 413 before a single byte is parsed.
async fn read_capped(headers: &HeaderMap, body: Body, max: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("SBOM is larger than ingest.max_bytes ({max} bytes)"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        drain(body, max).await;
        return Err(too_large());
    }
    let mut body = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = futures_util::StreamExt::next(&mut body).await {
        let chunk = chunk
            .map_err(|e| ApiError::bad_request(format!("could not read the request body: {e}")))?;
        if buf.len() + chunk.len() > max {
            drain(Body::from_stream(body), max).await;
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    if buf.is_empty() {
        return Err(ApiError::bad_request(
            "empty body: send the SBOM document as the request body",
        ));
    }
    Ok(Bytes::from(buf))
}

/// Discards what is left of a request body we are refusing, up to a bound (at least 8 MiB, so
/// a modestly oversized upload still gets to read our answer).
async fn drain(body: Body, max: usize) {
    let limit = max.max(8 * 1024 * 1024);
    let mut stream = body.into_data_stream();
    let mut seen = 0usize;
    while let Some(Ok(chunk)) = futures_util::StreamExt::next(&mut stream).await {
        seen += chunk.len();
        if seen > limit {
            break;
        }
    }
}
