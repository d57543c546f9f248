//! `[notify]` settings: channels (`[[notify.smtp]]`, `[[notify.webhook]]`) and routes
//! (`[[notify.route]]`). The TOML is read into plain serde structs, then checked and turned into
//! the validated [`NotifyConfig`] in one step, so a typo in an address, a route naming a missing
//! channel or a bad cron expression stops the daemon at start-up instead of losing alerts later.
//! An absent section is valid and means "no alerts".

use crate::feeds::schedule::parse_cron;
use crate::model::ProductName;
use crate::store::EventKind;
use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

/// Validated `[notify]` configuration. Built only by deserialising (which validates).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(try_from = "RawNotify")]
pub struct NotifyConfig {
    /// Where links in messages point (`https://soupwatch.example.org`), without a trailing `/`.
    pub base_url: Option<String>,
    pub channels: Vec<Channel>,
    pub routes: Vec<Route>,
}

impl NotifyConfig {
    pub fn route(&self, name: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.name == name)
    }

    pub fn channel(&self, name: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.name() == name)
    }

    /// Parses a `[notify]` table on its own (tests, tools).
    pub fn from_toml(text: &str) -> Result<NotifyConfig, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim().replace('\n', " "))
    }
}

/// A secret that never shows in `Debug` output (configs get logged).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A secret given inline or by the name of an environment variable read at send time (so it
/// can rotate without a config change and stays out of the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Inline(Secret),
    Env(String),
}

impl SecretSource {
    fn from_parts(
        inline: Option<Secret>,
        env: Option<String>,
        what: &str,
    ) -> Result<Option<Self>, String> {
        match (inline, env) {
            (Some(_), Some(_)) => Err(format!(
                "{what}: set the secret inline or by environment variable, not both"
            )),
            (Some(s), None) => Ok(Some(SecretSource::Inline(s))),
            (None, Some(e)) if e.trim().is_empty() => {
                Err(format!("{what}: empty environment variable name"))
            }
            (None, Some(e)) => Ok(Some(SecretSource::Env(e))),
            (None, None) => Ok(None),
        }
    }

    /// The secret's value now; a missing or empty environment variable is an error.
    pub fn resolve(&self) -> Result<Secret, String> {
        match self {
            SecretSource::Inline(s) => Ok(s.clone()),
            SecretSource::Env(var) => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(Secret(v)),
                _ => Err(format!("environment variable {var} is not set")),
            },
        }
    }
}

#[derive(Debug, Clone)]
pub enum Channel {
    Smtp(SmtpChannel),
    Webhook(WebhookChannel),
}

impl Channel {
    pub fn name(&self) -> &str {
        match self {
            Channel::Smtp(c) => &c.name,
            Channel::Webhook(c) => &c.name,
        }
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
    /// No encryption: only for a relay on the same host or a trusted segment (port 25).
    Plain,
}

impl Security {
    fn default_port(self) -> u16 {
        match self {
            Security::Starttls => 587,
            Security::Tls => 465,
            Security::Plain => 25,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SmtpChannel {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<SecretSource>,
    pub from: Mailbox,
    pub timeout: Duration,
}

/// Body shape of a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// `{"delivery_id": ..., "event": {...}, "link": ...}`.
    #[default]
    Json,
    /// Slack-compatible incoming webhook: `{"text": "..."}`.
    Slack,
}

#[derive(Debug, Clone)]
pub struct WebhookChannel {
    pub name: String,
    pub url: reqwest::Url,
    /// HMAC-SHA256 key for `X-Soupwatch-Signature`; without it requests are unsigned.
    pub secret: Option<SecretSource>,
    pub format: WebhookFormat,
    pub timeout: Duration,
}

/// Ticket priority, `P0` the most urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum Priority {
    P0,
    P1,
    P2,
    P3,
    P4,
}

impl Priority {
    pub fn parse(s: &str) -> Option<Priority> {
        match s.trim() {
            "P0" => Some(Priority::P0),
            "P1" => Some(Priority::P1),
            "P2" => Some(Priority::P2),
            "P3" => Some(Priority::P3),
            "P4" => Some(Priority::P4),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawMode {
    #[default]
    Immediate,
    Digest,
}

/// When a route's deliveries go out.
#[derive(Debug, Clone)]
pub enum Mode {
    /// As soon as the event is routed.
    Immediate,
    /// Held and sent together, one message per route, at each fire time of the schedule (UTC).
    Digest {
        expr: String,
        schedule: Box<cron::Schedule>,
    },
}

impl Mode {
    /// The next digest time strictly after `now`; a schedule with no future time (possible with
    /// a year field) falls back to one day later rather than holding alerts forever.
    pub fn next_digest_after(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Mode::Immediate => now,
            Mode::Digest { schedule, .. } => schedule
                .after(&now)
                .next()
                .unwrap_or(now + chrono::Duration::days(1)),
        }
    }
}

/// Which events a route takes.
#[derive(Debug, Clone, Default)]
pub struct RouteFilter {
    /// Empty: every product (and events about no product).
    pub products: Vec<String>,
    /// Empty: every kind.
    pub kinds: Vec<EventKind>,
    /// Events with a priority pass when at least this urgent (`P1` takes P0 and P1).
    pub min_priority: Option<Priority>,
    /// Events without a priority are refused (else they pass).
    pub require_priority: bool,
}

/// Retries of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    /// First retry delay; doubled per attempt, with jitter.
    pub backoff: Duration,
    /// Longest wait between two attempts.
    pub max_backoff: Duration,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    pub channel: String,
    /// Email recipients (SMTP channels only).
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub filter: RouteFilter,
    pub mode: Mode,
    pub retry: RetryPolicy,
    /// No second delivery for the same (kind, product, subject) within this window; zero = off.
    pub dedup_window: Duration,
}

// ---- the TOML as written ----

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawNotify {
    base_url: Option<String>,
    smtp: Vec<RawSmtp>,
    webhook: Vec<RawWebhook>,
    route: Vec<RawRoute>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    name: String,
    host: String,
    port: Option<u16>,
    #[serde(default)]
    security: Security,
    username: Option<String>,
    password: Option<Secret>,
    password_env: Option<String>,
    from: String,
    #[serde(default = "default_smtp_timeout")]
    timeout_secs: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    name: String,
    url: String,
    secret: Option<Secret>,
    secret_env: Option<String>,
    #[serde(default)]
    format: WebhookFormat,
    #[serde(default = "default_webhook_timeout")]
    timeout_secs: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    name: String,
    channel: String,
    #[serde(default)]
    to: Vec<String>,
    #[serde(default)]
    cc: Vec<String>,
    #[serde(default)]
    products: Vec<String>,
    #[serde(default)]
    kinds: Vec<EventKind>,
    min_priority: Option<Priority>,
    #[serde(default)]
    require_priority: bool,
    #[serde(default)]
    mode: RawMode,
    #[serde(default = "default_digest_schedule")]
    digest_schedule: String,
    #[serde(default = "default_max_attempts")]
    max_attempts: u32,
    #[serde(default = "default_backoff_ms")]
    backoff_ms: u64,
    #[serde(default = "default_max_backoff_ms")]
    max_backoff_ms: u64,
    #[serde(default = "default_dedup_hours")]
    dedup_window_hours: u64,
}

fn default_smtp_timeout() -> u64 {
    30
}
fn default_webhook_timeout() -> u64 {
    15
}
/// Daily at 07:00 UTC.
pub const DEFAULT_DIGEST_SCHEDULE: &str = "0 0 7 * * *";
fn default_digest_schedule() -> String {
    DEFAULT_DIGEST_SCHEDULE.to_string()
}
fn default_max_attempts() -> u32 {
    8
}
fn default_backoff_ms() -> u64 {
    30_000
}
/// Upper bounds that keep every time computation in range.
const MAX_BACKOFF_MS: u64 = 7 * 24 * 3600 * 1000;
const MAX_DEDUP_HOURS: u64 = 366 * 24;
/// Six hours.
fn default_max_backoff_ms() -> u64 {
    6 * 3600 * 1000
}
fn default_dedup_hours() -> u64 {
    24
}

/// Channel and route names end up in delivery ids, Message-IDs and HTTP headers.
fn check_name(what: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} name {name:?}: use 1-64 characters of A-Z a-z 0-9 . _ -"
        ))
    }
}

fn mailbox(what: &str, s: &str) -> Result<Mailbox, String> {
    s.parse::<Mailbox>()
        .map_err(|e| format!("{what}: {s:?} is not an email address ({e})"))
}

fn http_url(what: &str, s: &str) -> Result<reqwest::Url, String> {
    let u = reqwest::Url::parse(s).map_err(|e| format!("{what}: {s:?} is not a URL ({e})"))?;
    if u.scheme() != "http" && u.scheme() != "https" {
        return Err(format!("{what}: {s:?} must be http or https"));
    }
    Ok(u)
}

impl TryFrom<RawNotify> for NotifyConfig {
    type Error = String;

    fn try_from(raw: RawNotify) -> Result<Self, String> {
        let base_url = match raw.base_url {
            Some(b) if !b.trim().is_empty() => {
                http_url("notify.base_url", b.trim())?;
                Some(b.trim().trim_end_matches('/').to_string())
            }
            _ => None,
        };
        let mut names = HashSet::new();
        let mut channels = Vec::new();
        for s in raw.smtp {
            let what = format!("notify.smtp {:?}", s.name);
            check_name("notify.smtp", &s.name)?;
            if !names.insert(s.name.clone()) {
                return Err(format!("{what}: duplicate channel name"));
            }
            if s.host.trim().is_empty() {
                return Err(format!("{what}: host is empty"));
            }
            let password = SecretSource::from_parts(s.password, s.password_env, &what)?;
            match (&s.username, &password) {
                (Some(_), None) => {
                    return Err(format!("{what}: username without password or password_env"))
                }
                (None, Some(_)) => return Err(format!("{what}: password without username")),
                _ => {}
            }
            if s.security == Security::Plain && s.username.is_some() {
                return Err(format!(
                    "{what}: security = \"plain\" would send the password unencrypted; use starttls or tls"
                ));
            }
            channels.push(Channel::Smtp(SmtpChannel {
                from: mailbox(&format!("{what} from"), &s.from)?,
                port: s.port.unwrap_or(s.security.default_port()),
                name: s.name,
                host: s.host.trim().to_string(),
                security: s.security,
                username: s.username,
                password,
                timeout: Duration::from_secs(s.timeout_secs.max(1)),
            }));
        }
        for w in raw.webhook {
            let what = format!("notify.webhook {:?}", w.name);
            check_name("notify.webhook", &w.name)?;
            if !names.insert(w.name.clone()) {
                return Err(format!("{what}: duplicate channel name"));
            }
            channels.push(Channel::Webhook(WebhookChannel {
                url: http_url(&format!("{what} url"), &w.url)?,
                secret: SecretSource::from_parts(w.secret, w.secret_env, &what)?,
                name: w.name,
                format: w.format,
                timeout: Duration::from_secs(w.timeout_secs.max(1)),
            }));
        }
        let mut route_names = HashSet::new();
        let mut routes = Vec::new();
        for r in raw.route {
            let what = format!("notify.route {:?}", r.name);
            check_name("notify.route", &r.name)?;
            if !route_names.insert(r.name.clone()) {
                return Err(format!("{what}: duplicate route name"));
            }
            let Some(channel) = channels.iter().find(|c| c.name() == r.channel) else {
                return Err(format!("{what}: no channel named {:?}", r.channel));
            };
            let to =
                r.to.iter()
                    .map(|a| mailbox(&format!("{what} to"), a))
                    .collect::<Result<Vec<_>, _>>()?;
            let cc =
                r.cc.iter()
                    .map(|a| mailbox(&format!("{what} cc"), a))
                    .collect::<Result<Vec<_>, _>>()?;
            match channel {
                Channel::Smtp(_) if to.is_empty() => {
                    return Err(format!(
                        "{what}: an email route needs at least one `to` address"
                    ))
                }
                Channel::Webhook(_) if !to.is_empty() || !cc.is_empty() => {
                    return Err(format!(
                        "{what}: `to`/`cc` are for email routes; {:?} is a webhook",
                        r.channel
                    ))
                }
                _ => {}
            }
            for p in &r.products {
                ProductName::parse(p).map_err(|e| format!("{what} products: {}", e.0))?;
            }
            if r.max_attempts == 0 {
                return Err(format!("{what}: max_attempts must be at least 1"));
            }
            if r.max_backoff_ms > MAX_BACKOFF_MS {
                return Err(format!(
                    "{what}: max_backoff_ms is at most {MAX_BACKOFF_MS} (7 days)"
                ));
            }
            if r.backoff_ms > r.max_backoff_ms {
                return Err(format!("{what}: backoff_ms is larger than max_backoff_ms"));
            }
            if r.dedup_window_hours > MAX_DEDUP_HOURS {
                return Err(format!(
                    "{what}: dedup_window_hours is at most {MAX_DEDUP_HOURS} (a year)"
                ));
            }
            // Checked even in immediate mode so a later switch to digest cannot fail at run time.
            let schedule = parse_cron(&r.digest_schedule)
                .map_err(|e| format!("{what} digest_schedule: {e}"))?;
            let mode = match r.mode {
                RawMode::Immediate => Mode::Immediate,
                RawMode::Digest => Mode::Digest {
                    expr: r.digest_schedule.clone(),
                    schedule: Box::new(schedule),
                },
            };
            routes.push(Route {
                channel: r.channel,
                to,
                cc,
                filter: RouteFilter {
                    products: r.products,
                    kinds: r.kinds,
                    min_priority: r.min_priority,
                    require_priority: r.require_priority,
                },
                mode,
                retry: RetryPolicy {
                    max_attempts: r.max_attempts,
                    backoff: Duration::from_millis(r.backoff_ms),
                    max_backoff: Duration::from_millis(r.max_backoff_ms),
                },
                dedup_window: Duration::from_secs(r.dedup_window_hours.saturating_mul(3600)),
                name: r.name,
            });
        }
        Ok(NotifyConfig {
            base_url,
            channels,
            routes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
        base_url = "https://soupwatch.example.org/"
        [[smtp]]
        name = "mail"
        host = "smtp.example.org"
        username = "soupwatch"
        password_env = "SOUPWATCH_SMTP_PASSWORD"
        from = "soupwatch <soupwatch@example.org>"
        [[webhook]]
        name = "hook"
        url = "https://hooks.example.org/soupwatch"
        secret = "s3cret"
        format = "slack"
        [[route]]
        name = "safety"
        channel = "mail"
        to = ["safety@example.org"]
        cc = ["Quality <qa@example.org>"]
        products = ["infusion-pump"]
        kinds = ["release_affected", "priority_changed"]
        min_priority = "P1"
        mode = "digest"
        digest_schedule = "0 30 6 * * MON-FRI"
        [[route]]
        name = "chat"
        channel = "hook"
    "#;

    #[test]
    fn a_full_section_parses_with_defaults_filled_in() {
        let c = NotifyConfig::from_toml(FULL).unwrap();
        assert_eq!(c.base_url.as_deref(), Some("https://soupwatch.example.org"));
        let Some(Channel::Smtp(m)) = c.channel("mail") else {
            panic!("mail is smtp")
        };
        assert_eq!((m.security, m.port), (Security::Starttls, 587));
        assert_eq!(
            m.password,
            Some(SecretSource::Env("SOUPWATCH_SMTP_PASSWORD".into()))
        );
        let safety = c.route("safety").unwrap();
        assert_eq!(safety.to[0].email.to_string(), "safety@example.org");
        assert_eq!(safety.cc[0].name.as_deref(), Some("Quality"));
        assert_eq!(safety.filter.min_priority, Some(Priority::P1));
        assert!(matches!(safety.mode, Mode::Digest { .. }));
        let chat = c.route("chat").unwrap();
        assert!(matches!(chat.mode, Mode::Immediate));
        assert_eq!(chat.retry.max_attempts, 8);
        assert_eq!(chat.retry.backoff, Duration::from_secs(30));
        assert_eq!(chat.retry.max_backoff, Duration::from_secs(6 * 3600));
        assert_eq!(chat.dedup_window, Duration::from_secs(24 * 3600));
        assert!(chat.filter.kinds.is_empty() && chat.filter.products.is_empty());
    }

    #[test]
    fn the_shipped_example_parses() {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            notify: NotifyConfig,
        }
        let f: File = toml::from_str(include_str!("../../config/notify.example.toml")).unwrap();
        let names: Vec<&str> = f.notify.routes.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["safety-team", "pump-digest", "tracker-all"]);
        assert!(matches!(
            f.notify.route("pump-digest").unwrap().mode,
            Mode::Digest { .. }
        ));
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let c = NotifyConfig::from_toml(FULL).unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cret"), "{dbg}");
    }

    #[test]
    fn an_empty_section_means_no_alerts() {
        let c = NotifyConfig::from_toml("").unwrap();
        assert!(c.routes.is_empty() && c.channels.is_empty());
    }

    #[test]
    fn mistakes_are_refused_with_what_and_where() {
        let cases: &[(&str, &str)] = &[
            ("[[route]]\nname = \"r\"\nchannel = \"nope\"\n", "no channel named \"nope\""),
            ("bogus = 1\n", "bogus"),
            (
                "[[smtp]]\nname=\"m\"\nhost=\"h\"\nfrom=\"not an address\"\n",
                "not an email address",
            ),
            (
                "[[smtp]]\nname=\"m\"\nhost=\"h\"\nfrom=\"a@b.org\"\n[[route]]\nname=\"r\"\nchannel=\"m\"\n",
                "at least one `to`",
            ),
            (
                "[[webhook]]\nname=\"w\"\nurl=\"ftp://x\"\n",
                "must be http or https",
            ),
            (
                "[[webhook]]\nname=\"w\"\nurl=\"http://x\"\n[[route]]\nname=\"r\"\nchannel=\"w\"\ndigest_schedule=\"0 0 7 * * 1\"\n",
                "MON-SUN",
            ),
            (
                "[[webhook]]\nname=\"w\"\nurl=\"http://x\"\n[[route]]\nname=\"r\"\nchannel=\"w\"\nkinds=[\"release_afected\"]\n",
                "release_afected",
            ),
            (
                "[[webhook]]\nname=\"w\"\nurl=\"http://x\"\n[[route]]\nname=\"r\"\nchannel=\"w\"\nmin_priority=\"P9\"\n",
                "P9",
            ),
            (
                "[[smtp]]\nname=\"m\"\nhost=\"h\"\nfrom=\"a@b.org\"\nsecurity=\"plain\"\nusername=\"u\"\npassword=\"p\"\n",
                "unencrypted",
            ),
            ("[[webhook]]\nname=\"a b\"\nurl=\"http://x\"\n", "a b"),
            (
                "[[webhook]]\nname=\"w\"\nurl=\"http://x\"\n[[route]]\nname=\"r\"\nchannel=\"w\"\ndedup_window_hours=18446744073709551615\n",
                "dedup_window_hours is at most",
            ),
            (
                "[[webhook]]\nname=\"w\"\nurl=\"http://x\"\n[[route]]\nname=\"r\"\nchannel=\"w\"\nmax_backoff_ms=999999999999\n",
                "max_backoff_ms is at most",
            ),
            (
                "[[webhook]]\nname=\"w\"\nurl=\"http://x\"\n[[route]]\nname=\"r\"\nchannel=\"w\"\nbackoff_ms=5000\nmax_backoff_ms=1000\n",
                "backoff_ms is larger",
            ),
            (
                "[[webhook]]\nname=\"w\"\nurl=\"http://x\"\n[[webhook]]\nname=\"w\"\nurl=\"http://y\"\n",
                "duplicate",
            ),
            (
                "[[webhook]]\nname=\"w\"\nurl=\"http://x\"\n[[route]]\nname=\"r\"\nchannel=\"w\"\nproducts=[\"a/b\"]\n",
                "a/b",
            ),
        ];
        for (text, needle) in cases {
            let err = NotifyConfig::from_toml(text).unwrap_err();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn env_secrets_resolve_at_use_time() {
        let s = SecretSource::Env("SOUPWATCH_TEST_SURELY_UNSET_VAR".into());
        assert!(s
            .resolve()
            .unwrap_err()
            .contains("SOUPWATCH_TEST_SURELY_UNSET_VAR"));
        assert_eq!(
            SecretSource::Inline(Secret::new("x"))
                .resolve()
                .unwrap()
                .expose(),
            "x"
        );
    }

    #[test]
    fn digest_times_follow_the_schedule_in_utc() {
        let c = NotifyConfig::from_toml(FULL).unwrap();
        let mode = &c.route("safety").unwrap().mode;
        // 2024-06-07 is a Friday: the next weekday 06:30 after Friday 07:00 is Monday.
        let now: DateTime<Utc> = "2024-06-07T07:00:00Z".parse().unwrap();
        let next = mode.next_digest_after(now);
        assert_eq!(
            next,
            "2024-06-10T06:30:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }
}
