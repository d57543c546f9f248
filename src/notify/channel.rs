//! The two channels, the only code here that talks to the network: SMTP through lettre's async
//! transport (rustls, STARTTLS/TLS/plain) and webhooks through reqwest (rustls with ring). Each
//! send returns what the server answered, or an error with the answer when there was one, for
//! the delivery's `last_response`.

use super::config::{
    Channel, NotifyConfig, Route, Security, SmtpChannel, WebhookChannel, WebhookFormat,
};
use super::render::{self, Outgoing};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{header, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::collections::HashMap;
use std::sync::Mutex;

/// A failed send: why, and what the server said if it said anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct SendError {
    pub error: String,
    pub response: Option<String>,
}

impl SendError {
    fn local(error: impl Into<String>) -> Self {
        SendError {
            error: error.into(),
            response: None,
        }
    }
}

/// Longest server answer kept in a delivery record.
const MAX_SNIPPET: usize = 500;

fn snippet(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(MAX_SNIPPET) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// Custom email headers carrying the idempotency key and kind, for mail filters and dedup.
macro_rules! x_header {
    ($ty:ident, $name:literal) => {
        #[derive(Clone)]
        struct $ty(String);
        impl header::Header for $ty {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($name)
            }
            fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                Ok($ty(s.to_string()))
            }
            fn display(&self) -> HeaderValue {
                HeaderValue::new(Self::name(), self.0.clone())
            }
        }
    };
}

x_header!(DeliveryHeader, "X-Soupwatch-Delivery");
x_header!(EventHeader, "X-Soupwatch-Event");

/// Builds the email: `Message-ID: <{key}@soupwatch>`, multipart/alternative text + HTML.
pub fn build_email(
    ch: &SmtpChannel,
    route: &Route,
    msg: &Outgoing,
    base_url: Option<&str>,
) -> Result<Message, SendError> {
    let content = render::email(msg, base_url);
    let mut b = Message::builder()
        .from(ch.from.clone())
        .subject(content.subject)
        .message_id(Some(format!("<{}@soupwatch>", msg.key)))
        .header(DeliveryHeader(msg.key.clone()))
        .header(EventHeader(msg.kind_label().to_string()));
    for to in &route.to {
        b = b.to(to.clone());
    }
    for cc in &route.cc {
        b = b.cc(cc.clone());
    }
    b.multipart(MultiPart::alternative_plain_html(
        content.text,
        content.html,
    ))
    .map_err(|e| SendError::local(format!("cannot build the email: {e}")))
}

fn smtp_transport(ch: &SmtpChannel) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
    let tls = |e: lettre::transport::smtp::Error| {
        SendError::local(format!("TLS setup for {}: {e}", ch.host))
    };
    let builder = match ch.security {
        Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&ch.host).map_err(tls)?,
        Security::Starttls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&ch.host).map_err(tls)?
        }
        Security::Plain => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&ch.host),
    };
    let mut builder = builder.port(ch.port).timeout(Some(ch.timeout));
    if let (Some(user), Some(pass)) = (&ch.username, &ch.password) {
        let pass = pass.resolve().map_err(SendError::local)?;
        builder = builder.credentials(Credentials::new(user.clone(), pass.expose().to_string()));
    }
    Ok(builder.build())
}

fn smtp_error(e: lettre::transport::smtp::Error) -> SendError {
    SendError {
        error: format!("SMTP: {e}"),
        response: e.status().map(|c| c.to_string()),
    }
}

fn smtp_answer(r: &lettre::transport::smtp::response::Response) -> String {
    let lines: Vec<&str> = r.message().collect();
    snippet(&format!("{} {}", r.code(), lines.join(" ")))
}

/// The reqwest client for webhooks: no redirects (a 3xx is a misconfigured URL, and following
/// it would re-send the body elsewhere), the channel's timeout.
fn http_client(ch: &WebhookChannel) -> Result<reqwest::Client, SendError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(ch.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("soupwatch/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SendError::local(format!("HTTP client: {e}")))
}

/// A webhook request before it is sent: the exact body the signature covers, and the headers.
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

pub fn webhook_request(
    ch: &WebhookChannel,
    msg: &Outgoing,
    base_url: Option<&str>,
) -> Result<WebhookRequest, SendError> {
    let value = match ch.format {
        WebhookFormat::Json => render::webhook_json(msg, base_url),
        WebhookFormat::Slack => render::slack_json(msg, base_url),
    };
    let body = serde_json::to_vec(&value).map_err(|e| SendError::local(e.to_string()))?;
    let mut headers = vec![
        ("content-type", "application/json".to_string()),
        ("x-soupwatch-delivery", msg.key.clone()),
        ("x-soupwatch-event", msg.kind_label().to_string()),
    ];
    if let Some(s) = &ch.secret {
        let secret = s.resolve().map_err(SendError::local)?;
        headers.push((
            "x-soupwatch-signature",
            render::signature(secret.expose().as_bytes(), &body),
        ));
    }
    Ok(WebhookRequest { body, headers })
}

async fn post_webhook(
    client: &reqwest::Client,
    ch: &WebhookChannel,
    msg: &Outgoing,
    base_url: Option<&str>,
) -> Result<String, SendError> {
    let WebhookRequest { body, headers } = webhook_request(ch, msg, base_url)?;
    let mut req = client.post(ch.url.clone()).body(body);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let resp = req.send().await.map_err(|e| {
        let why = if e.is_timeout() {
            "timed out".to_string()
        } else if e.is_connect() {
            format!("cannot connect: {e}")
        } else {
            e.to_string()
        };
        SendError::local(format!("POST {}: {why}", redact(&ch.url)))
    })?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let answer = snippet(&format!("HTTP {status} {text}"));
    if status.is_success() {
        Ok(answer)
    } else {
        Err(SendError {
            error: format!("POST {}: HTTP {}", redact(&ch.url), status.as_u16()),
            response: Some(answer),
        })
    }
}

/// A webhook URL for messages: Slack-style URLs carry their secret in the path, so only the
/// scheme and host are shown.
fn redact(u: &reqwest::Url) -> String {
    format!("{}://{}", u.scheme(), u.host_str().unwrap_or("?"))
}

/// Sends through any configured channel, keeping one SMTP transport (with its connection pool)
/// and one HTTP client per channel.
#[derive(Default)]
pub struct Senders {
    smtp: Mutex<HashMap<String, AsyncSmtpTransport<Tokio1Executor>>>,
    http: Mutex<HashMap<String, reqwest::Client>>,
}

impl Senders {
    fn smtp_for(&self, ch: &SmtpChannel) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
        let mut map = self.smtp.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = map.get(&ch.name) {
            return Ok(t.clone());
        }
        let t = smtp_transport(ch)?;
        map.insert(ch.name.clone(), t.clone());
        Ok(t)
    }

    fn http_for(&self, ch: &WebhookChannel) -> Result<reqwest::Client, SendError> {
        let mut map = self.http.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = map.get(&ch.name) {
            return Ok(c.clone());
        }
        let c = http_client(ch)?;
        map.insert(ch.name.clone(), c.clone());
        Ok(c)
    }

    /// Sends `msg` through `route`'s channel; Ok is the server's acceptance.
    pub async fn send(
        &self,
        config: &NotifyConfig,
        route: &Route,
        msg: &Outgoing,
    ) -> Result<String, SendError> {
        let base = config.base_url.as_deref();
        match config.channel(&route.channel) {
            None => Err(SendError::local(format!(
                "no channel named {:?}",
                route.channel
            ))),
            Some(Channel::Smtp(ch)) => {
                let email = build_email(ch, route, msg, base)?;
                let transport = self.smtp_for(ch)?;
                match transport.send(email).await {
                    Ok(r) if r.is_positive() => Ok(smtp_answer(&r)),
                    Ok(r) => Err(SendError {
                        error: "SMTP: the server refused the message".into(),
                        response: Some(smtp_answer(&r)),
                    }),
                    Err(e) => Err(smtp_error(e)),
                }
            }
            Some(Channel::Webhook(ch)) => {
                let client = self.http_for(ch)?;
                post_webhook(&client, ch, msg, base).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EventKind, EventRecord};

    fn config() -> NotifyConfig {
        NotifyConfig::from_toml(
            r#"
            [[smtp]]
            name = "mail"
            host = "127.0.0.1"
            security = "plain"
            from = "soupwatch <alerts@example.org>"
            [[webhook]]
            name = "hook"
            url = "http://127.0.0.1:9/hook"
            secret = "k"
            [[route]]
            name = "r"
            channel = "mail"
            to = ["safety@example.org", "Dev Lead <lead@example.org>"]
            cc = ["qa@example.org"]
            "#,
        )
        .unwrap()
    }

    fn msg() -> Outgoing {
        Outgoing::single(
            "5-r".into(),
            "r",
            EventRecord {
                seq: 5,
                at: "2024-05-01T10:00:00Z".parse().unwrap(),
                kind: EventKind::ReleaseAffected,
                product: Some("p".into()),
                priority: None,
                subject: "CVE-1".into(),
                title: "p 1 is affected by CVE-1".into(),
                payload: serde_json::json!({"release": "1"}),
            },
        )
    }

    #[test]
    fn email_headers_carry_the_idempotency_key() {
        let c = config();
        let Some(Channel::Smtp(ch)) = c.channel("mail") else {
            panic!()
        };
        let m = build_email(ch, c.route("r").unwrap(), &msg(), None).unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        for needle in [
            "Message-ID: <5-r@soupwatch>\r\n",
            "X-Soupwatch-Delivery: 5-r\r\n",
            "X-Soupwatch-Event: release_affected\r\n",
            "From: soupwatch <alerts@example.org>\r\n",
            "Cc: qa@example.org\r\n",
            "Content-Type: multipart/alternative;",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Type: text/html; charset=utf-8",
        ] {
            assert!(raw.contains(needle), "{needle:?} missing in\n{raw}");
        }
        assert!(
            raw.contains("To: safety@example.org, \"Dev Lead\" <lead@example.org>\r\n")
                || raw.contains("To: safety@example.org, Dev Lead <lead@example.org>\r\n"),
            "{raw}"
        );
        let env = m.envelope();
        assert_eq!(env.to().len(), 3, "to and cc are envelope recipients");
    }

    #[test]
    fn webhook_requests_are_signed_over_the_exact_body() {
        let c = config();
        let Some(Channel::Webhook(ch)) = c.channel("hook") else {
            panic!()
        };
        let WebhookRequest { body, headers } = webhook_request(ch, &msg(), None).unwrap();
        let get = |k: &str| {
            headers
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("x-soupwatch-delivery").as_deref(), Some("5-r"));
        assert_eq!(
            get("x-soupwatch-event").as_deref(),
            Some("release_affected")
        );
        assert_eq!(
            get("x-soupwatch-signature"),
            Some(render::signature(b"k", &body))
        );
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["delivery_id"], "5-r");
    }

    #[test]
    fn snippets_are_bounded_on_char_boundaries() {
        let long = "é".repeat(2000);
        let s = snippet(&long);
        assert_eq!(s.chars().count(), MAX_SNIPPET + 3);
        assert_eq!(snippet("  ok \n"), "ok");
    }
}
