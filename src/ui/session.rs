//! Review-UI sessions and CSRF defence. A person signs in once with an API token; the server
//! keeps the session (random id -> token name, the token's SHA-256, CSRF secret, expiry) in
//! memory and the browser only holds the random id in an HTTP-only, `SameSite=Strict` cookie
//! (`Secure` when the request came over https, directly or through a proxy that says so). The
//! token itself is never put in a cookie, and its role is re-read from the store on every
//! request, so a revoked token ends its sessions at once. Sessions do not survive a restart.
//!
//! Every state-changing form carries the session's CSRF secret in a hidden field, compared in
//! constant time; as a second line, a POST whose `Origin` (or, without one, `Referer`) names
//! another host is refused. The login form, which has no session yet, uses a short-lived
//! double-submit cookie instead.

use crate::api::AppState;
use crate::store::Role;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Name of the session cookie (path `/ui`).
pub const SESSION_COOKIE: &str = "soupwatch_session";
/// Name of the login form's double-submit cookie (path `/ui/login`).
pub const LOGIN_COOKIE: &str = "soupwatch_login";
/// A session ends this long after sign-in, whatever happens.
const ABSOLUTE_LIFETIME_HOURS: i64 = 8;
/// ...or after this long without a request.
const IDLE_MINUTES: i64 = 60;
/// Bound on live sessions, so repeated sign-ins cannot grow memory without end.
const MAX_SESSIONS: usize = 10_000;

#[derive(Debug, Clone)]
struct Session {
    token_name: String,
    /// SHA-256 of the token secret: re-checked against the store on every request.
    token_sha256: String,
    csrf: String,
    expires: DateTime<Utc>,
    last_seen: DateTime<Utc>,
}

/// The in-memory session table, shared by every UI route.
#[derive(Debug, Default)]
pub struct Sessions {
    /// Keyed by the SHA-256 of the cookie value, so the table itself holds no usable cookie.
    by_id_hash: Mutex<HashMap<String, Session>>,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("no randomness available from the operating system: {0}")]
    Random(String),
    #[error("too many open sessions; try again later")]
    Full,
}

/// 32 random bytes, hex.
pub fn random_hex() -> Result<String, SessionError> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|e| SessionError::Random(e.to_string()))?;
    Ok(hex::encode(raw))
}

fn id_hash(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// Compares two secrets without an early exit on the first differing byte.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Sessions {
    /// Opens a session and returns its cookie value (a fresh id: no session fixation).
    pub fn create(
        &self,
        token_name: &str,
        token_sha256: &str,
        now: DateTime<Utc>,
    ) -> Result<String, SessionError> {
        let id = random_hex()?;
        let s = Session {
            token_name: token_name.to_string(),
            token_sha256: token_sha256.to_string(),
            csrf: random_hex()?,
            expires: now + Duration::hours(ABSOLUTE_LIFETIME_HOURS),
            last_seen: now,
        };
        let mut map = self.lock();
        map.retain(|_, s| live(s, now));
        if map.len() >= MAX_SESSIONS {
            return Err(SessionError::Full);
        }
        map.insert(id_hash(&id), s);
        Ok(id)
    }

    /// The live session behind a cookie value, touched (idle timer restarted).
    fn touch(&self, id: &str, now: DateTime<Utc>) -> Option<Session> {
        let mut map = self.lock();
        let key = id_hash(id);
        match map.get_mut(&key) {
            Some(s) if live(s, now) => {
                s.last_seen = now;
                Some(s.clone())
            }
            Some(_) => {
                map.remove(&key);
                None
            }
            None => None,
        }
    }

    pub fn remove(&self, id: &str) {
        self.lock().remove(&id_hash(id));
    }

    /// A poisoned lock only means another request panicked mid-update of a plain map: go on.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.by_id_hash
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn live(s: &Session, now: DateTime<Utc>) -> bool {
    now < s.expires && now - s.last_seen < Duration::minutes(IDLE_MINUTES)
}

/// The value of cookie `name` in the request, if any.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
}

/// Whether the browser reached us over https (directly, or via a proxy's `X-Forwarded-Proto`).
pub fn over_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').next().is_some_and(|p| p.trim() == "https"))
}

/// A `Set-Cookie` value: HTTP-only, `SameSite=Strict`, `Secure` over https; `max_age` 0 deletes.
pub fn set_cookie(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> HeaderValue {
    let mut c =
        format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict");
    if secure {
        c.push_str("; Secure");
    }
    // Names, paths and values are ours (hex and fixed ASCII), so this cannot fail; an empty
    // deleting cookie is the safe fallback.
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("x=; Max-Age=0"))
}

pub fn session_cookie(id: &str, secure: bool) -> HeaderValue {
    set_cookie(
        SESSION_COOKIE,
        id,
        "/ui",
        ABSOLUTE_LIFETIME_HOURS * 3600,
        secure,
    )
}

/// `scheme://host[:port]` -> `host[:port]`, lower-cased; `None` for `null` or garbage.
fn authority_of(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let auth = rest.split(['/', '?', '#']).next()?;
    (!auth.is_empty()).then(|| auth.to_ascii_lowercase())
}

/// The second line of CSRF defence: a POST's `Origin` (else `Referer`) must name this host.
/// Requests with neither (old clients, privacy proxies) rely on the CSRF token alone.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(header::HOST))
        .and_then(|v| v.to_str().ok())
        .map(|h| h.trim().to_ascii_lowercase());
    let claimed = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    match (claimed, host) {
        (None, _) => true,
        (Some(c), Some(h)) => authority_of(c).is_some_and(|a| a == h),
        (Some(_), None) => false,
    }
}

/// The signed-in person behind a UI request.
#[derive(Debug, Clone)]
pub struct UiUser {
    pub name: String,
    pub role: Role,
    pub csrf: String,
    /// The cookie value (to end the session on sign-out).
    pub session_id: String,
}

impl UiUser {
    /// The CSRF check of every POST: the form's token and the request's origin.
    pub fn check_post(&self, headers: &HeaderMap, form_csrf: Option<&str>) -> bool {
        form_csrf.is_some_and(|t| constant_time_eq(t, &self.csrf)) && same_origin(headers)
    }
}

/// Not signed in: off to the login page, remembering where the person wanted to go.
pub struct LoginRedirect(String);

impl IntoResponse for LoginRedirect {
    fn into_response(self) -> Response {
        Redirect::to(&self.0).into_response()
    }
}

/// Only in-UI paths may be returned to after sign-in (no open redirect).
pub fn safe_next(next: &str) -> Option<&str> {
    let ok = next.starts_with("/ui/")
        && !next.starts_with("/ui//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    ok.then_some(next)
}

impl FromRequestParts<AppState> for UiUser {
    type Rejection = LoginRedirect;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, LoginRedirect> {
        let wanted = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default();
        let to_login = || {
            let next = if parts.method == axum::http::Method::GET {
                safe_next(&wanted)
            } else {
                None
            };
            LoginRedirect(match next {
                Some(n) => format!("/ui/login?next={}", super::views::encode_component(n)),
                None => "/ui/login".to_string(),
            })
        };
        let Some(sessions) = parts.extensions.get::<Arc<Sessions>>().cloned() else {
            return Err(to_login());
        };
        let Some(id) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_login());
        };
        let Some(s) = sessions.touch(&id, Utc::now()) else {
            return Err(to_login());
        };
        let store = state.store.clone();
        let hash = s.token_sha256.clone();
        let token = tokio::task::spawn_blocking(move || store.token_by_secret_hash(&hash))
            .await
            .ok()
            .and_then(Result::ok)
            .flatten();
        match token {
            Some(t) if t.name == s.token_name => Ok(UiUser {
                name: t.name,
                role: t.role,
                csrf: s.csrf,
                session_id: id,
            }),
            // Revoked (or replaced) token: the session ends with it.
            _ => {
                sessions.remove(&id);
                Err(to_login())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn sessions_expire_when_idle_or_old_and_ids_are_not_stored() {
        let s = Sessions::default();
        let t0 = Utc::now();
        let id = s.create("regulatory", "abc", t0).unwrap();
        assert_eq!(id.len(), 64);
        assert!(!s.lock().contains_key(&id), "only the id's hash is a key");
        let got = s.touch(&id, t0 + Duration::minutes(30)).unwrap();
        assert_eq!(got.token_name, "regulatory");
        assert_eq!(got.csrf.len(), 64);
        assert_ne!(got.csrf, id);
        // idle: 61 minutes after the last touch
        assert!(s.touch(&id, t0 + Duration::minutes(92)).is_none());
        // absolute: touched every 30 minutes, still ends after 8 hours
        let id = s.create("regulatory", "abc", t0).unwrap();
        let mut at = t0;
        for _ in 0..15 {
            at += Duration::minutes(30);
            assert!(s.touch(&id, at).is_some(), "{at}");
        }
        assert!(s.touch(&id, at + Duration::minutes(31)).is_none());
        let id = s.create("x", "y", t0).unwrap();
        s.remove(&id);
        assert!(s.touch(&id, t0).is_none());
        assert!(s.touch("not-a-session", t0).is_none());
    }

    #[test]
    fn cookies_are_parsed_and_set_with_their_flags() {
        let h = headers(&[
            ("cookie", "a=1; soupwatch_session=abc ; b=2"),
            ("cookie", "c=3"),
        ]);
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "c").as_deref(), Some("3"));
        assert_eq!(cookie(&h, "soupwatch"), None);
        let c = session_cookie("abc", false);
        let c = c.to_str().unwrap();
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Path=/ui"));
        assert!(!c.contains("Secure"));
        assert!(session_cookie("abc", true)
            .to_str()
            .unwrap()
            .ends_with("; Secure"));
        assert!(over_https(&headers(&[("x-forwarded-proto", "https")])));
        assert!(!over_https(&headers(&[("x-forwarded-proto", "http")])));
        assert!(!over_https(&HeaderMap::new()));
    }

    #[test]
    fn origin_must_name_this_host() {
        let host = ("host", "127.0.0.1:8080");
        assert!(same_origin(&headers(&[
            host,
            ("origin", "http://127.0.0.1:8080")
        ])));
        assert!(same_origin(&headers(&[
            host,
            ("origin", "https://127.0.0.1:8080")
        ])));
        assert!(!same_origin(&headers(&[
            host,
            ("origin", "http://evil.example")
        ])));
        assert!(!same_origin(&headers(&[host, ("origin", "null")])));
        assert!(!same_origin(&headers(&[
            host,
            ("origin", "http://127.0.0.1:8081")
        ])));
        assert!(same_origin(&headers(&[
            host,
            ("referer", "http://127.0.0.1:8080/ui/x?y")
        ])));
        assert!(!same_origin(&headers(&[
            host,
            ("referer", "http://127.0.0.1:8080.evil/ui")
        ])));
        assert!(
            same_origin(&headers(&[host])),
            "no Origin/Referer: token alone"
        );
        assert!(!same_origin(&headers(&[("origin", "http://a")])));
    }

    #[test]
    fn csrf_token_compared_exactly() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
        let u = UiUser {
            name: "n".into(),
            role: Role::Reviewer,
            csrf: "s3cret".into(),
            session_id: "id".into(),
        };
        let h = headers(&[("host", "h:1"), ("origin", "http://h:1")]);
        assert!(u.check_post(&h, Some("s3cret")));
        assert!(!u.check_post(&h, Some("")));
        assert!(!u.check_post(&h, None));
        let evil = headers(&[("host", "h:1"), ("origin", "http://evil")]);
        assert!(!u.check_post(&evil, Some("s3cret")));
    }

    #[test]
    fn only_ui_paths_are_returned_to() {
        assert_eq!(safe_next("/ui/tickets/a%3Ab"), Some("/ui/tickets/a%3Ab"));
        assert_eq!(safe_next("//evil.example/"), None);
        assert_eq!(safe_next("/ui//evil.example"), None);
        assert_eq!(safe_next("https://evil.example/ui/"), None);
        assert_eq!(safe_next("/ui/\\evil"), None);
        assert_eq!(safe_next("/api/v1/tokens"), None);
    }
}
