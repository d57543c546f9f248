//! `/api/v1/tickets`, `/api/v1/audit`, device records and SOUP records.

use super::{blocking, error::ApiError, AppState, Caller};
use crate::auth::Permission;
use crate::records::{DeviceRecord, SoupRecord};
use crate::tickets::{self, SignoffRequest, TicketError, TransitionRequest};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

fn to_json<T: serde::Serialize>(v: &T) -> Result<Json<serde_json::Value>, ApiError> {
    serde_json::to_value(v)
        .map(Json)
        .map_err(|e| ApiError::internal(e.to_string()))
}

fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    b.map(|Json(v)| v)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

impl From<TicketError> for ApiError {
    fn from(e: TicketError) -> Self {
        match e {
            TicketError::NotFound(_) => ApiError::not_found(e.to_string()),
            TicketError::Guard(g) => ApiError::new(StatusCode::CONFLICT, "guard", g.to_string()),
            TicketError::Invalid(m) => ApiError::bad_request(m),
            TicketError::Store(s) => s.into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketFilter {
    product: Option<String>,
    state: Option<String>,
    priority: Option<String>,
    overdue: Option<bool>,
}

pub async fn list(
    State(st): State<AppState>,
    _c: Caller,
    q: Result<Query<TicketFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(f) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    blocking(move || {
        let today = chrono::Utc::now().date_naive();
        let mut out: Vec<serde_json::Value> = Vec::new();
        for t in st.store.tickets()? {
            let state = serde_json::to_value(t.state).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            if f.product.as_deref().is_some_and(|p| p != t.product)
                || f.state.as_deref().is_some_and(|s| !s.eq_ignore_ascii_case(&state))
                || f.priority.as_deref().is_some_and(|p| !p.eq_ignore_ascii_case(t.decision.priority.as_str()))
                || f.overdue.is_some_and(|o| o != t.is_overdue(today))
            {
                continue;
            }
            let next_deadline = t.next_deadline();
            out.push(serde_json::json!({
                "id": t.id, "product": t.product, "vulnerability": t.vulnerability, "aliases": t.aliases,
                "summary": t.summary, "state": t.state, "priority": t.decision.priority.as_str(),
                "risk": t.decision.risk, "change_us": t.decision.change_us, "change_eu": t.decision.change_eu,
                "signed_off": t.current_signoff().is_some(), "overdue": t.is_overdue(today),
                "next_deadline": next_deadline,
                "releases": t.releases.iter().filter(|r| r.applicable).map(|r| &r.release).collect::<Vec<_>>(),
                "updated_at": t.updated_at,
            }));
        }
        Ok(Json(serde_json::Value::Array(out)))
    })
    .await
}

pub async fn get(
    State(st): State<AppState>,
    _c: Caller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let t = st
            .store
            .ticket(&id)?
            .ok_or_else(|| ApiError::not_found(format!("no ticket {id:?}")))?;
        let mut v = serde_json::to_value(&t).map_err(|e| ApiError::internal(e.to_string()))?;
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "signed_off".into(),
                serde_json::Value::Bool(t.current_signoff().is_some()),
            );
            o.insert(
                "overdue".into(),
                serde_json::Value::Bool(t.is_overdue(chrono::Utc::now().date_naive())),
            );
        }
        Ok(Json(v))
    })
    .await
}

pub async fn transition(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    b: Result<Json<TransitionRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    c.require(Permission::Analyze)?;
    let req = body(b)?;
    blocking(move || to_json(&tickets::transition(&st.store, &id, &req, &c.name)?)).await
}

pub async fn signoff(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    b: Result<Json<SignoffRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    c.require(Permission::Review)?;
    let req = body(b)?;
    blocking(move || to_json(&tickets::sign_off(&st.store, &id, &req, &c.name)?)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    #[serde(default)]
    after: u64,
    limit: Option<usize>,
}

pub async fn audit(
    State(st): State<AppState>,
    c: Caller,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    c.require(Permission::Review)?;
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    blocking(move || {
        let entries = st
            .store
            .audit_entries(q.after, q.limit.unwrap_or(500).min(5000))?;
        let check = st.store.verify_audit()?;
        Ok(Json(
            serde_json::json!({"entries": entries, "chain": check}),
        ))
    })
    .await
}

fn product_name(p: &str) -> Result<String, ApiError> {
    crate::model::ProductName::parse(p)
        .map(|p| p.to_string())
        .map_err(|e| ApiError::bad_request(e.0))
}

pub async fn get_device(
    State(st): State<AppState>,
    _c: Caller,
    Path(p): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let p = product_name(&p)?;
    blocking(move || {
        let d = st.store.device(&p)?;
        let releases = crate::model::ProductName::parse(&p)
            .ok()
            .map(|pn| st.store.releases_of(&pn))
            .transpose()?
            .unwrap_or_default();
        if d.is_none() && releases.is_empty() {
            return Err(ApiError::not_found(format!("no product {p:?}")));
        }
        Ok(Json(serde_json::json!({
            "product": p,
            // Missing: triage uses conservative defaults and flags it.
            "device": d,
            "releases": releases.iter().map(|r| &r.release).collect::<Vec<_>>(),
        })))
    })
    .await
}

pub async fn put_device(
    State(st): State<AppState>,
    c: Caller,
    Path(p): Path<String>,
    b: Result<Json<DeviceRecord>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    c.require(Permission::Admin)?;
    let p = product_name(&p)?;
    let rec = body(b)?;
    if rec.product != p {
        return Err(ApiError::bad_request(format!(
            "body names product {:?}, the path {p:?}",
            rec.product
        )));
    }
    blocking(move || {
        let saved = st.store.put_device(&rec, &c.name)?;
        st.store.enqueue_triage(&[(p.clone(), "*".to_string())])?;
        to_json(&saved)
    })
    .await
}

pub async fn list_soup(
    State(st): State<AppState>,
    _c: Caller,
    Path(p): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let p = product_name(&p)?;
    blocking(move || to_json(&st.store.soup_records(&p)?)).await
}

pub async fn get_soup(
    State(st): State<AppState>,
    _c: Caller,
    Path((p, id)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let p = product_name(&p)?;
    blocking(move || {
        let r = st
            .store
            .soup_record(&p, &id)?
            .ok_or_else(|| ApiError::not_found(format!("no SOUP record {id:?} for {p}")))?;
        to_json(&r)
    })
    .await
}

pub async fn put_soup(
    State(st): State<AppState>,
    c: Caller,
    Path((p, id)): Path<(String, String)>,
    b: Result<Json<SoupRecord>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    c.require(Permission::Analyze)?;
    let p = product_name(&p)?;
    let rec = body(b)?;
    if rec.id != id {
        return Err(ApiError::bad_request(format!(
            "body has id {:?}, the path {id:?}",
            rec.id
        )));
    }
    if rec.purl.trim().is_empty() {
        return Err(ApiError::bad_request("purl pattern must not be empty"));
    }
    blocking(move || to_json(&st.store.put_soup(&p, &rec, &c.name)?)).await
}
