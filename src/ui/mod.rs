//! The regulatory review web UI: server-rendered HTML (askama), no JavaScript. People sign in
//! with an API token and get a server-side session ([`session`]); pages show the signoff queue,
//! a ticket with everything its decision rests on (releases, SOUP records, exploit signals, the
//! rule trace, notification clocks, signoffs), the product portfolio and feed freshness. The two
//! forms call the same domain functions as the API (`tickets::sign_off`,
//! `tickets::transition`) with the same role checks; every POST is CSRF-checked.
//!
//! Routes (all under `/ui`): `GET /ui/login`, `POST /ui/login`, `POST /ui/logout`,
//! `GET /ui/?sort=deadline|priority`, `GET /ui/tickets/{id}`, `POST /ui/tickets/{id}/signoff`,
//! `POST /ui/tickets/{id}/transition`, `GET /ui/portfolio`, `GET /ui/feeds`,
//! `GET /ui/static/ui.css`.

mod forms;
mod pages;
mod session;
mod views;

use crate::api::AppState;
use crate::auth::{allows, Permission};
use crate::store::StoreError;
use crate::tickets::{Ticket, TicketError};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{AppendHeaders, Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use chrono::Utc;
use forms::{Fields, FormError};
use pages::*;
use serde::Deserialize;
use session::{LoginRedirect, Sessions, UiUser};
use std::collections::HashMap;
use std::sync::Arc;

/// Routes of the review UI, merged into the daemon's router at `/ui`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(queue))
        .route("/ui/login", get(login_form).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/tickets/{id}", get(ticket))
        .route("/ui/tickets/{id}/signoff", post(signoff))
        .route("/ui/tickets/{id}/transition", post(transition))
        .route("/ui/portfolio", get(portfolio))
        .route("/ui/feeds", get(feeds))
        .route("/ui/static/ui.css", get(stylesheet))
        .route("/ui/{*rest}", get(not_found))
        .layer(axum::middleware::map_response(security_headers))
        .layer(Extension(Arc::new(Sessions::default())))
}

/// No scripts, no inline styles, no framing, forms only to ourselves; nothing cached.
async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

/// Why a page could not be shown; rendered as an error page with the matching status.
#[derive(Debug, thiserror::Error)]
enum UiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("the form's security token is missing or wrong, or it was sent from another site; reload the page and try again")]
    Csrf,
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

impl UiError {
    fn status(&self) -> StatusCode {
        match self {
            UiError::NotFound(_) => StatusCode::NOT_FOUND,
            UiError::Forbidden(_) | UiError::Csrf => StatusCode::FORBIDDEN,
            UiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            UiError::Store(StoreError::Conflict(_)) => StatusCode::CONFLICT,
            UiError::Store(_) | UiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<askama::Error> for UiError {
    fn from(e: askama::Error) -> Self {
        UiError::Internal(format!("page could not be rendered: {e}"))
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "review UI");
        }
        let page = ErrorPage {
            frame: Frame {
                title: status.canonical_reason().unwrap_or("Error").to_string(),
                ..Frame::default()
            },
            heading: format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            ),
            message: self.to_string(),
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, self.to_string()).into_response(),
        }
    }
}

/// Runs store reads and domain calls off the async workers.
async fn run<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, UiError> + Send + 'static,
) -> Result<R, UiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| UiError::Internal(format!("worker failed: {e}")))?
}

fn frame(user: &UiUser, title: String, nav: &'static str) -> Frame {
    Frame {
        title,
        user: user.name.clone(),
        role: user.role.to_string(),
        csrf: user.csrf.clone(),
        nav,
    }
}

fn html(page: impl Template) -> Result<Response, UiError> {
    Ok(Html(page.render()?).into_response())
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        STYLESHEET,
    )
        .into_response()
}

async fn not_found(_user: UiUser) -> UiError {
    UiError::NotFound("There is no such page.".into())
}

// ---- sign in / out ----

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

fn login_page(
    next: &str,
    error: &str,
    status: StatusCode,
    secure: bool,
) -> Result<Response, UiError> {
    let csrf = session::random_hex().map_err(|e| UiError::Internal(e.to_string()))?;
    let page = LoginPage {
        frame: Frame {
            title: "Sign in".into(),
            ..Frame::default()
        },
        csrf: csrf.clone(),
        next: session::safe_next(next).unwrap_or("").to_string(),
        error: error.to_string(),
    };
    let cookie = session::set_cookie(session::LOGIN_COOKIE, &csrf, "/ui/login", 1800, secure);
    Ok((
        status,
        AppendHeaders([(header::SET_COOKIE, cookie)]),
        Html(page.render()?),
    )
        .into_response())
}

async fn login_form(
    user: Result<UiUser, LoginRedirect>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Result<Response, UiError> {
    if user.is_ok() {
        return Ok(Redirect::to("/ui/").into_response());
    }
    let secure = session::over_https(&headers);
    login_page(q.next.as_deref().unwrap_or(""), "", StatusCode::OK, secure)
}

async fn login(
    State(st): State<AppState>,
    Extension(sessions): Extension<Arc<Sessions>>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> Result<Response, UiError> {
    let Form(pairs) = form.map_err(|e| UiError::BadRequest(e.body_text()))?;
    let f = Fields(pairs);
    // No session yet: the form's token must equal the login cookie (double submit).
    let cookie = session::cookie(&headers, session::LOGIN_COOKIE);
    let csrf_ok = matches!((cookie.as_deref(), f.get("csrf")), (Some(c), Some(v)) if session::constant_time_eq(c, v));
    if !csrf_ok || !session::same_origin(&headers) {
        return Err(UiError::Csrf);
    }
    let next = f
        .get("next")
        .and_then(session::safe_next)
        .unwrap_or("/ui/")
        .to_string();
    let secure = session::over_https(&headers);
    let Some(secret) = f.get("token").map(str::to_string) else {
        return login_page(
            &next,
            "Enter your API token.",
            StatusCode::UNAUTHORIZED,
            secure,
        );
    };
    let token_sha256 = crate::auth::hash_secret(&secret);
    let store = st.store.clone();
    let found = run(move || Ok(crate::auth::authenticate(&store, &secret)?)).await?;
    let Some(token) = found else {
        return login_page(
            &next,
            "Unknown or revoked token.",
            StatusCode::UNAUTHORIZED,
            secure,
        );
    };
    let id = sessions
        .create(&token.name, &token_sha256, Utc::now())
        .map_err(|e| UiError::Internal(e.to_string()))?;
    Ok((
        AppendHeaders([
            (header::SET_COOKIE, session::session_cookie(&id, secure)),
            (
                header::SET_COOKIE,
                session::set_cookie(session::LOGIN_COOKIE, "", "/ui/login", 0, secure),
            ),
        ]),
        Redirect::to(&next),
    )
        .into_response())
}

/// Checks the CSRF token and origin of a POST; refuses with 403.
fn check_csrf(user: &UiUser, headers: &HeaderMap, f: &Fields) -> Result<(), UiError> {
    if user.check_post(headers, f.get("csrf")) {
        Ok(())
    } else {
        Err(UiError::Csrf)
    }
}

fn form_fields(
    form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> Result<Fields, UiError> {
    form.map(|Form(p)| Fields(p))
        .map_err(|e| UiError::BadRequest(e.body_text()))
}

async fn logout(
    user: UiUser,
    Extension(sessions): Extension<Arc<Sessions>>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> Result<Response, UiError> {
    let f = form_fields(form)?;
    check_csrf(&user, &headers, &f)?;
    sessions.remove(&user.session_id);
    let secure = session::over_https(&headers);
    Ok((
        AppendHeaders([(
            header::SET_COOKIE,
            session::set_cookie(session::SESSION_COOKIE, "", "/ui", 0, secure),
        )]),
        Redirect::to("/ui/login"),
    )
        .into_response())
}

// ---- pages ----

#[derive(Deserialize)]
struct QueueQuery {
    sort: Option<String>,
    product: Option<String>,
}

async fn queue(
    State(st): State<AppState>,
    user: UiUser,
    Query(q): Query<QueueQuery>,
) -> Result<Response, UiError> {
    let sort = views::QueueSort::parse(q.sort.as_deref());
    let store = st.store.clone();
    let mut tickets = run(move || Ok(store.tickets()?)).await?;
    let product = q.product.as_deref().filter(|p| !p.is_empty());
    if let Some(p) = product {
        tickets.retain(|t| t.product == p);
    }
    let rows = views::queue_rows(&tickets, Utc::now().date_naive(), sort);
    html(QueuePage {
        frame: frame(&user, "Signoff queue".into(), "queue"),
        sort: sort.as_str(),
        filter_q: product
            .map(|p| format!("&product={}", views::encode_component(p)))
            .unwrap_or_default(),
        rows,
    })
}

#[derive(Deserialize)]
struct TicketQuery {
    done: Option<String>,
}

/// Everything the ticket page shows, read in one blocking call.
struct TicketData {
    ticket: Ticket,
    soup: Vec<crate::records::SoupRecord>,
    vuln: Option<crate::matching::findings::VulnSummary>,
}

async fn load_ticket(st: &AppState, id: String) -> Result<TicketData, UiError> {
    let store = st.store.clone();
    run(move || {
        let ticket = store
            .ticket(&id)?
            .ok_or_else(|| UiError::NotFound(format!("There is no ticket {id:?}.")))?;
        let soup = store.soup_records(&ticket.product)?;
        let vuln = crate::matching::findings::vulnerability(&store, &ticket.vulnerability)?
            .map(|v| v.vulnerability);
        Ok(TicketData { ticket, soup, vuln })
    })
    .await
}

fn ticket_page(
    user: &UiUser,
    data: &TicketData,
    flash: String,
    error: String,
    form: SignoffEcho,
    status: StatusCode,
) -> Result<Response, UiError> {
    let t = &data.ticket;
    let today = Utc::now().date_naive();
    let page = TicketPage {
        frame: frame(
            user,
            format!("{} on {}", t.vulnerability, t.product),
            "queue",
        ),
        t: TicketHead {
            id: t.id.clone(),
            href: views::ticket_href(&t.id),
            product: t.product.clone(),
            vulnerability: t.vulnerability.clone(),
            aliases: t.aliases.join(", "),
            summary: t.summary.clone().unwrap_or_else(|| "—".into()),
            state: views::words(&views::wire(&t.state)),
            signed_off: t.current_signoff().is_some(),
            awareness: t.awareness_date.to_string(),
            opened: views::fmt_time(t.opened_at),
            updated: views::fmt_time(t.updated_at),
            tasks: t.tasks.clone(),
        },
        d: views::decision_view(t),
        s: views::signals_view(t, data.vuln.as_ref()),
        releases: views::release_rows(t),
        soup: views::soup_views(t, &data.soup),
        trace: views::trace_rows(t),
        clocks: views::clock_rows(t, today),
        signoffs: views::signoff_rows(t),
        can_sign: allows(user.role, Permission::Review),
        can_move: allows(user.role, Permission::Analyze),
        risk_opts: views::risk_options(),
        change_us_opts: views::change_us_options(),
        change_eu_opts: views::change_eu_options(),
        state_opts: views::state_options(t.state),
        form,
        flash,
        error,
    };
    Ok((status, Html(page.render()?)).into_response())
}

async fn ticket(
    State(st): State<AppState>,
    user: UiUser,
    Path(id): Path<String>,
    Query(q): Query<TicketQuery>,
) -> Result<Response, UiError> {
    let data = load_ticket(&st, id).await?;
    let flash = match q.done.as_deref() {
        Some("signoff") => "Signed off. The ticket has left the signoff queue.".to_string(),
        Some("transition") => format!(
            "Moved to {}.",
            views::words(&views::wire(&data.ticket.state))
        ),
        _ => String::new(),
    };
    ticket_page(
        &user,
        &data,
        flash,
        String::new(),
        SignoffEcho::default(),
        StatusCode::OK,
    )
}

/// A domain refusal shown on the ticket page (the form stays filled), or an error page.
async fn refused(
    st: &AppState,
    user: &UiUser,
    id: String,
    e: TicketError,
    echo: SignoffEcho,
) -> Result<Response, UiError> {
    let (status, message) = match e {
        TicketError::NotFound(_) => return Err(UiError::NotFound(e.to_string())),
        TicketError::Store(StoreError::Conflict(m)) => (StatusCode::CONFLICT, m),
        TicketError::Store(s) => return Err(UiError::Store(s)),
        TicketError::Guard(g) => (
            StatusCode::CONFLICT,
            format!("Refused by the lifecycle guards: {g}."),
        ),
        TicketError::Invalid(m) => (StatusCode::BAD_REQUEST, format!("Not signed: {m}.")),
    };
    let data = load_ticket(st, id).await?;
    ticket_page(user, &data, String::new(), message, echo, status)
}

fn after_post(id: &str, done: &str) -> Response {
    Redirect::to(&format!("{}?done={done}", views::ticket_href(id))).into_response()
}

async fn signoff(
    State(st): State<AppState>,
    user: UiUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> Result<Response, UiError> {
    let f = form_fields(form)?;
    check_csrf(&user, &headers, &f)?;
    if !allows(user.role, Permission::Review) {
        return Err(UiError::Forbidden(format!(
            "Your token has role {}; signing off needs a reviewer or admin token.",
            user.role
        )));
    }
    let echo = SignoffEcho {
        action: f.get("action").unwrap_or_default().to_string(),
        meaning: f.get("meaning").unwrap_or_default().to_string(),
        reason: f.get("reason").unwrap_or_default().to_string(),
    };
    let req = match forms::signoff_request(&f) {
        Ok(r) => r,
        Err(FormError(m)) => return refused(&st, &user, id, TicketError::Invalid(m), echo).await,
    };
    let (store, by, tid) = (st.store.clone(), user.name.clone(), id.clone());
    let result = run(move || Ok(crate::tickets::sign_off(&store, &tid, &req, &by))).await?;
    match result {
        Ok(t) => Ok(after_post(&t.id, "signoff")),
        Err(e) => refused(&st, &user, id, e, echo).await,
    }
}

async fn transition(
    State(st): State<AppState>,
    user: UiUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> Result<Response, UiError> {
    let f = form_fields(form)?;
    check_csrf(&user, &headers, &f)?;
    if !allows(user.role, Permission::Analyze) {
        return Err(UiError::Forbidden(format!(
            "Your token has role {}; moving a ticket needs an analyst or admin token.",
            user.role
        )));
    }
    let req = match forms::transition_request(&f) {
        Ok(r) => r,
        Err(FormError(m)) => {
            let e = TicketError::Invalid(m);
            return refused(&st, &user, id, e, SignoffEcho::default()).await;
        }
    };
    let (store, by, tid) = (st.store.clone(), user.name.clone(), id.clone());
    let result = run(move || Ok(crate::tickets::transition(&store, &tid, &req, &by))).await?;
    match result {
        Ok(t) => Ok(after_post(&t.id, "transition")),
        Err(e) => refused(&st, &user, id, e, SignoffEcho::default()).await,
    }
}

async fn portfolio(State(st): State<AppState>, user: UiUser) -> Result<Response, UiError> {
    let store = st.store.clone();
    let products = run(move || {
        let tickets = store.tickets()?;
        let pending = store.pending_releases()?;
        let mut out = Vec::new();
        for p in store.products()? {
            let name = p.to_string();
            let mine: Vec<&Ticket> = tickets.iter().filter(|t| t.product == name).collect();
            let by_id: HashMap<String, &Ticket> = mine.iter().map(|t| (t.id.clone(), *t)).collect();
            let mut releases = Vec::new();
            for r in store.releases_of(&p)? {
                let rel = r.release.to_string();
                let mut row = views::PortfolioRelease {
                    release: rel.clone(),
                    revision: r.revision,
                    uploaded: views::fmt_time(r.uploaded_at),
                    components: r.component_count,
                    matching_pending: pending.iter().any(|(pp, rr)| *pp == name && *rr == rel),
                    ..Default::default()
                };
                let groups: Vec<String> =
                    crate::matching::findings::release_findings(&store, &name, &rel, false)?
                        .into_iter()
                        .map(|f| f.vulnerability.id)
                        .collect();
                views::count_findings(&mut row, &name, &groups, &by_id);
                releases.push(row);
            }
            let (tickets_by_priority, awaiting_signoff) = views::product_ticket_counts(&mine);
            out.push(views::PortfolioProduct {
                device: store
                    .device(&name)?
                    .and_then(|d| d.name)
                    .unwrap_or_default(),
                queue_href: format!("/ui/?product={}", views::encode_component(&name)),
                name,
                releases,
                tickets_by_priority,
                awaiting_signoff,
            });
        }
        Ok(out)
    })
    .await?;
    html(PortfolioPage {
        frame: frame(&user, "Portfolio".into(), "portfolio"),
        products,
    })
}

async fn feeds(State(st): State<AppState>, user: UiUser) -> Result<Response, UiError> {
    let (store, runner) = (st.store.clone(), st.feeds.clone());
    let status = run(move || Ok(crate::feeds::status(&store, &runner.defs, Utc::now())?)).await?;
    let rows = views::feed_rows(&status);
    html(FeedsPage {
        frame: frame(&user, "Feeds".into(), "feeds"),
        stale_count: rows.iter().filter(|r| r.stale).count(),
        rows,
    })
}
