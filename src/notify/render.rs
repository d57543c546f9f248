//! Message content, pure: the email subject with a plain-text and an HTML body (escaped), the
//! webhook JSON body and its HMAC signature, and the Slack-compatible text. Every form is built
//! from one list of labelled fields per event, so text, HTML and Slack always say the same.
//!
//! Fields come from the event and its payload: product, release(s), vulnerability, priority,
//! components, advisories, deadlines and rule trace when present, then any other payload key
//! (nothing is dropped), and a link built from `notify.base_url`.

use crate::store::{EventKind, EventRecord};
use hmac::{KeyInit, Mac};
use serde_json::{json, Value};

/// One event (or a digest of several) on its way to one channel.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Idempotency key: the delivery id, or `digest-{route}-{hash}` for a digest.
    pub key: String,
    pub route: String,
    /// The deliveries this message carries, paired with their events (one unless a digest).
    pub items: Vec<(String, EventRecord)>,
    pub digest: bool,
}

impl Outgoing {
    pub fn single(delivery_id: String, route: &str, ev: EventRecord) -> Self {
        Outgoing {
            key: delivery_id.clone(),
            route: route.to_string(),
            items: vec![(delivery_id, ev)],
            digest: false,
        }
    }

    /// A digest; its key is derived from the delivery ids it carries, so a retry of the same
    /// digest keeps the same key.
    pub fn digest(route: &str, mut items: Vec<(String, EventRecord)>) -> Self {
        use sha2::Digest;
        items.sort_by_key(|(_, e)| e.seq);
        let mut h = sha2::Sha256::new();
        for (id, _) in &items {
            h.update(id.as_bytes());
            h.update(b"\n");
        }
        let hash = hex::encode(h.finalize());
        Outgoing {
            key: format!("digest-{route}-{}", hash.get(..16).unwrap_or(&hash)),
            route: route.to_string(),
            items,
            digest: true,
        }
    }

    /// `X-Soupwatch-Event`: the event kind, or `digest`.
    pub fn kind_label(&self) -> &'static str {
        match (self.digest, self.items.first()) {
            (false, Some((_, e))) => e.kind.as_str(),
            _ => "digest",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum FieldValue {
    Text(String),
    List(Vec<String>),
    Link(String),
}

#[derive(Debug, Clone, PartialEq)]
struct Field {
    label: String,
    value: FieldValue,
}

/// Payload keys shown first, with their labels, in this order (ticket events carry
/// `notifications` with their deadlines and the decision's rule `trace`).
const KNOWN: &[(&str, &str)] = &[
    ("product", "Product"),
    ("release", "Release"),
    ("releases", "Affected releases"),
    ("vulnerability", "Vulnerability"),
    ("priority", "Priority"),
    ("risk", "Risk"),
    ("components", "Components"),
    ("advisories", "Advisories"),
    ("deadlines", "Deadlines"),
    ("deadline", "Deadline"),
    ("notifications", "Deadlines"),
    ("rule_trace", "Rule trace"),
    ("trace", "Rule trace"),
    ("reasons", "Reasons"),
    ("ticket", "Ticket"),
];

/// A JSON value as one line of text.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// One list item: scalars as text; a deadline (`recipient`, `deadline`) or a rule trace entry
/// (`rule`, `outcome`) in a readable line; other objects as `key: value, ...`.
fn item(v: &Value) -> String {
    let Some(o) = v.as_object() else {
        return scalar(v);
    };
    let get = |k: &str| o.get(k).map(scalar).unwrap_or_default();
    if o.contains_key("deadline") && o.contains_key("recipient") {
        let mut s = format!("{}: due {}", get("recipient"), get("deadline"));
        for k in ["state", "basis"] {
            let v = get(k);
            if !v.is_empty() {
                s.push_str(&format!(", {k} {v}"));
            }
        }
        return s;
    }
    if o.contains_key("rule") && o.contains_key("outcome") {
        let table = get("table");
        let rule = if table.is_empty() {
            get("rule")
        } else {
            format!("{table}/{}", get("rule"))
        };
        let mut s = format!("{rule}: {}", get("outcome"));
        let why = get("rationale");
        if !why.is_empty() {
            s.push_str(&format!(" ({why})"));
        }
        return s;
    }
    o.iter()
        .map(|(k, v)| format!("{k}: {}", scalar(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A JSON value as list items: arrays item by item, objects as `key: value`.
fn items(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().map(item).collect(),
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| format!("{k}: {}", scalar(v)))
            .collect(),
        other => vec![scalar(other)],
    }
}

fn field_of(label: &str, v: &Value) -> Option<Field> {
    let value = match v {
        Value::Null => return None,
        Value::Array(a) if a.is_empty() => return None,
        Value::Array(_) | Value::Object(_) => FieldValue::List(items(v)),
        other => FieldValue::Text(scalar(other)),
    };
    Some(Field {
        label: label.to_string(),
        value,
    })
}

fn humanise(key: &str) -> String {
    let s = key.replace('_', " ");
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => s,
    }
}

/// Percent-encodes one URL path segment (everything but RFC 3986 unreserved characters).
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where a reader follows up, under `base_url`: the payload's own `link` (a path), the ticket's
/// review page, the release's findings, the feeds page, or the vulnerability. None without a
/// base URL.
pub fn link(ev: &EventRecord, base_url: Option<&str>) -> Option<String> {
    let base = base_url?;
    let p = &ev.payload;
    if let Some(path) = p.get("link").and_then(Value::as_str) {
        if path.starts_with('/') {
            return Some(format!("{base}{path}"));
        }
    }
    let text = |k: &str| p.get(k).map(scalar).filter(|s| !s.is_empty());
    if let Some(t) = text("ticket") {
        return Some(format!("{base}/ui/tickets/{}", segment(&t)));
    }
    let product = text("product").or_else(|| ev.product.clone());
    if let (Some(prod), Some(rel)) = (product, text("release")) {
        return Some(format!(
            "{base}/api/v1/products/{}/releases/{}/findings",
            segment(&prod),
            segment(&rel)
        ));
    }
    let vuln = text("vulnerability");
    match (ev.kind, vuln) {
        (EventKind::FeedStale | EventKind::FeedFailing, _) => Some(format!("{base}/ui/feeds")),
        (_, Some(v)) => Some(format!("{base}/api/v1/vulnerabilities/{}", segment(&v))),
        _ => None,
    }
}

fn fields(ev: &EventRecord, base_url: Option<&str>) -> Vec<Field> {
    let mut out = Vec::new();
    let obj = ev.payload.as_object();
    let get = |k: &str| obj.and_then(|o| o.get(k));
    if get("product").is_none() {
        if let Some(p) = &ev.product {
            out.push(Field {
                label: "Product".into(),
                value: FieldValue::Text(p.clone()),
            });
        }
    }
    for (key, label) in KNOWN {
        if let Some(f) = get(key).and_then(|v| field_of(label, v)) {
            out.push(f);
        } else if *key == "priority" {
            if let Some(p) = &ev.priority {
                out.push(Field {
                    label: label.to_string(),
                    value: FieldValue::Text(p.clone()),
                });
            }
        }
    }
    if let Some(o) = obj {
        for (k, v) in o {
            if k == "link" || KNOWN.iter().any(|(known, _)| known == k) {
                continue;
            }
            if let Some(f) = field_of(&humanise(k), v) {
                out.push(f);
            }
        }
    } else if let Some(f) = field_of("Details", &ev.payload) {
        out.push(f);
    }
    if let Some(url) = link(ev, base_url) {
        out.push(Field {
            label: "Link".into(),
            value: FieldValue::Link(url),
        });
    }
    out
}

/// Headers must be one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An email's subject and bodies.
#[derive(Debug, Clone, PartialEq)]
pub struct Email {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn subject(msg: &Outgoing) -> String {
    match (msg.digest, msg.items.first()) {
        (false, Some((_, e))) => {
            let title = one_line(&e.title);
            // Ticket titles already start with their priority.
            let prio = e
                .priority
                .as_deref()
                .map(|p| format!("[{}] ", one_line(p)))
                .filter(|p| !title.starts_with(p.as_str()))
                .unwrap_or_default();
            format!("[soupwatch] {prio}{title}")
        }
        _ => format!(
            "[soupwatch] Digest for {}: {} alert{}",
            msg.route,
            msg.items.len(),
            if msg.items.len() == 1 { "" } else { "s" }
        ),
    }
}

fn text_section(ev: &EventRecord, base_url: Option<&str>, out: &mut String) {
    out.push_str(&ev.title);
    out.push('\n');
    // `-`, not `=`, which quoted-printable would escape.
    out.push_str(&"-".repeat(ev.title.chars().count().clamp(3, 72)));
    out.push_str("\n\n");
    for f in fields(ev, base_url) {
        match f.value {
            FieldValue::Text(t) | FieldValue::Link(t) => {
                out.push_str(&format!("{}: {t}\n", f.label));
            }
            FieldValue::List(l) => {
                out.push_str(&format!("{}:\n", f.label));
                for i in l {
                    out.push_str(&format!("  - {i}\n"));
                }
            }
        }
    }
    out.push_str(&format!(
        "\nEvent: {} #{} at {}\n",
        ev.kind.as_str(),
        ev.seq,
        ev.at.to_rfc3339()
    ));
}

fn html_section(ev: &EventRecord, base_url: Option<&str>, out: &mut String) {
    out.push_str(&format!("<h2>{}</h2>\n<table>\n", escape_html(&ev.title)));
    for f in fields(ev, base_url) {
        out.push_str(&format!(
            "<tr><th align=\"left\" valign=\"top\">{}</th><td>",
            escape_html(&f.label)
        ));
        match f.value {
            FieldValue::Text(t) => out.push_str(&escape_html(&t)),
            FieldValue::Link(u) => {
                let u = escape_html(&u);
                out.push_str(&format!("<a href=\"{u}\">{u}</a>"));
            }
            FieldValue::List(l) => {
                out.push_str("\n<ul>\n");
                for i in l {
                    out.push_str(&format!("<li>{}</li>\n", escape_html(&i)));
                }
                out.push_str("</ul>");
            }
        }
        out.push_str("</td></tr>\n");
    }
    out.push_str(&format!(
        "</table>\n<p><small>Event: {} #{} at {}</small></p>\n",
        escape_html(ev.kind.as_str()),
        ev.seq,
        escape_html(&ev.at.to_rfc3339())
    ));
}

/// The email for a message: subject, plain text and HTML carrying the same fields.
pub fn email(msg: &Outgoing, base_url: Option<&str>) -> Email {
    let subject = subject(msg);
    let mut text = String::new();
    let mut html = format!(
        "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>{}</title></head>\n<body>\n",
        escape_html(&subject)
    );
    if msg.digest {
        text.push_str(&format!("{subject}\n\n"));
        html.push_str(&format!("<h1>{}</h1>\n", escape_html(&subject)));
    }
    for (i, (_, ev)) in msg.items.iter().enumerate() {
        if i > 0 {
            text.push_str("\n\n");
            html.push_str("<hr>\n");
        }
        text_section(ev, base_url, &mut text);
        html_section(ev, base_url, &mut html);
    }
    text.push_str(&format!(
        "\n-- \nsoupwatch, route {}, delivery {}\n",
        msg.route, msg.key
    ));
    html.push_str(&format!(
        "<p><small>soupwatch, route {}, delivery {}</small></p>\n</body>\n</html>\n",
        escape_html(&msg.route),
        escape_html(&msg.key)
    ));
    Email {
        subject,
        text,
        html,
    }
}

fn event_json(delivery_id: &str, ev: &EventRecord, base_url: Option<&str>) -> Value {
    json!({"delivery_id": delivery_id, "event": ev, "link": link(ev, base_url)})
}

/// The JSON webhook body: `{"delivery_id", "event", "link"}`, or for a digest
/// `{"delivery_id", "digest": true, "route", "items": [{"delivery_id", "event", "link"}, ...]}`.
pub fn webhook_json(msg: &Outgoing, base_url: Option<&str>) -> Value {
    match (msg.digest, msg.items.first()) {
        (false, Some((id, ev))) => event_json(id, ev, base_url),
        _ => json!({
            "delivery_id": msg.key,
            "digest": true,
            "route": msg.route,
            "items": msg.items.iter().map(|(id, ev)| event_json(id, ev, base_url)).collect::<Vec<_>>(),
        }),
    }
}

/// Slack's three control characters.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The Slack-compatible body: `{"text": ...}` in Slack's mrkdwn, one block per event.
pub fn slack_json(msg: &Outgoing, base_url: Option<&str>) -> Value {
    let mut text = String::new();
    if msg.digest {
        text.push_str(&format!("*{}*\n", slack_escape(&subject(msg))));
    }
    for (_, ev) in &msg.items {
        text.push_str(&format!("*{}*\n", slack_escape(&one_line(&ev.title))));
        for f in fields(ev, base_url) {
            let v = match f.value {
                FieldValue::Text(t) => slack_escape(&t),
                FieldValue::List(l) => slack_escape(&l.join(", ")),
                FieldValue::Link(u) => format!("<{}|open>", slack_escape(&u)),
            };
            text.push_str(&format!("{}: {v}\n", slack_escape(&f.label)));
        }
        text.push('\n');
    }
    json!({"text": text.trim_end()})
}

/// `X-Soupwatch-Signature` value: `sha256=` and the hex HMAC-SHA256 of the exact body.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail; an empty tag would fail verification.
    match hmac::Hmac::<sha2::Sha256>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        }
        Err(_) => "sha256=".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `release_affected` event as the matcher writes it (see matching/service.rs).
    fn affected() -> EventRecord {
        EventRecord {
            seq: 42,
            at: "2024-05-01T10:00:00Z".parse().unwrap(),
            kind: EventKind::ReleaseAffected,
            product: Some("demo-pump".into()),
            priority: None,
            subject: "CVE-2020-8908".into(),
            title: "demo-pump 1.0.0 is affected by CVE-2020-8908 (guava 24.1.1-jre)".into(),
            payload: json!({
                "product": "demo-pump", "release": "1.0.0", "vulnerability": "CVE-2020-8908",
                "components": ["guava 24.1.1-jre"], "advisories": ["GHSA-5mg8-w23w-74h3"],
            }),
        }
    }

    #[test]
    fn email_has_the_same_facts_in_text_and_html() {
        let msg = Outgoing::single("42-safety".into(), "safety", affected());
        let e = email(&msg, Some("https://sw.example.org"));
        assert_eq!(
            e.subject,
            "[soupwatch] demo-pump 1.0.0 is affected by CVE-2020-8908 (guava 24.1.1-jre)"
        );
        let link = "https://sw.example.org/api/v1/products/demo-pump/releases/1.0.0/findings";
        for body in [&e.text, &e.html] {
            for needle in [
                "demo-pump",
                "1.0.0",
                "CVE-2020-8908",
                "guava 24.1.1-jre",
                "GHSA-5mg8-w23w-74h3",
                link,
                "42-safety",
            ] {
                assert!(body.contains(needle), "{needle} missing in {body}");
            }
        }
        assert!(e.text.contains("Release: 1.0.0\n"), "{}", e.text);
        assert!(
            e.html.contains(&format!("<a href=\"{link}\">")),
            "{}",
            e.html
        );
    }

    #[test]
    fn html_escapes_everything_from_the_event() {
        let mut ev = affected();
        ev.title = "<script>alert('x')</script> & co".into();
        ev.payload["components"] = json!(["a<b>\"c\""]);
        ev.payload["note"] = json!("<img src=x onerror=alert(1)>");
        let e = email(&Outgoing::single("1-r".into(), "r", ev), None);
        assert!(
            !e.html.contains("<script>") && !e.html.contains("<img") && !e.html.contains("<b>"),
            "{}",
            e.html
        );
        assert!(
            e.html
                .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co"),
            "{}",
            e.html
        );
        assert!(e.html.contains("a&lt;b&gt;&quot;c&quot;"));
        assert!(
            e.text.contains("Note: <img src=x onerror=alert(1)>"),
            "text stays literal: {}",
            e.text
        );
    }

    #[test]
    fn deadlines_rule_trace_and_unknown_keys_are_shown_and_link_prefers_the_ticket() {
        // The payload shape of tickets::Ticket::event.
        let ev = EventRecord {
            seq: 7,
            at: "2024-05-01T10:00:00Z".parse().unwrap(),
            kind: EventKind::TicketOpened,
            product: Some("demo-pump".into()),
            priority: Some("P1".into()),
            subject: "CVE-2021-44228".into(),
            title: "[P1] CVE-2021-44228 on demo-pump: ticket opened\r\nBcc: evil@example.org"
                .into(),
            payload: json!({
                "ticket": "PR-12", "product": "demo-pump", "vulnerability": "CVE-2021-44228",
                "priority": "P1", "risk": "high", "state": "new",
                "releases": ["1.0.0", "1.1.0"],
                "notifications": [{"rule": "fda-524b", "recipient": "FDA", "deadline": "2024-05-31",
                                   "basis": "21 CFR 806", "source": "x", "note": "", "state": "pending",
                                   "rationale": null, "reminded": []}],
                "trace": [{"table": "priority", "rule": "kev-listed", "outcome": "P1",
                           "rationale": "listed in CISA KEV", "basis": "", "source": ""}],
                "owner_team": "firmware",
            }),
        };
        let e = email(
            &Outgoing::single("7-r".into(), "r", ev.clone()),
            Some("https://sw"),
        );
        assert_eq!(
            e.subject,
            "[soupwatch] [P1] CVE-2021-44228 on demo-pump: ticket opened Bcc: evil@example.org"
        );
        for needle in [
            "Affected releases:\n  - 1.0.0\n  - 1.1.0\n",
            "Deadlines:\n  - FDA: due 2024-05-31, state pending, basis 21 CFR 806\n",
            "Rule trace:\n  - priority/kev-listed: P1 (listed in CISA KEV)\n",
            "Priority: P1\nRisk: high\n",
            "Owner team: firmware\n",
            "State: new\n",
            "Link: https://sw/ui/tickets/PR-12\n",
        ] {
            assert!(e.text.contains(needle), "{needle:?} missing in\n{}", e.text);
        }
        assert_eq!(e.text.matches("Priority:").count(), 1, "{}", e.text);
        assert_eq!(link(&ev, None), None);
        let mut untitled = ev;
        untitled.title = "PR-12: risk low -> high".into();
        let e = email(&Outgoing::single("8-r".into(), "r", untitled), None);
        assert_eq!(e.subject, "[soupwatch] [P1] PR-12: risk low -> high");
    }

    #[test]
    fn link_segments_are_encoded() {
        let mut ev = affected();
        ev.payload["release"] = json!("1.0+build 7");
        assert_eq!(
            link(&ev, Some("http://h")).unwrap(),
            "http://h/api/v1/products/demo-pump/releases/1.0%2Bbuild%207/findings"
        );
    }

    #[test]
    fn webhook_json_carries_the_event_and_the_delivery_id() {
        let msg = Outgoing::single("42-hook".into(), "hook", affected());
        let v = webhook_json(&msg, None);
        assert_eq!(v["delivery_id"], "42-hook");
        assert_eq!(v["event"]["kind"], "release_affected");
        assert_eq!(v["event"]["seq"], 42);
        assert_eq!(v["event"]["payload"]["release"], "1.0.0");
        assert_eq!(msg.kind_label(), "release_affected");
    }

    #[test]
    fn digests_have_a_stable_key_and_every_event() {
        let a = affected();
        let mut b = affected();
        b.seq = 43;
        b.subject = "CVE-2023-2976".into();
        b.payload["vulnerability"] = json!("CVE-2023-2976");
        let items = vec![
            ("43-d".to_string(), b.clone()),
            ("42-d".to_string(), a.clone()),
        ];
        let m1 = Outgoing::digest("d", items.clone());
        let m2 = Outgoing::digest("d", items.into_iter().rev().collect());
        assert_eq!(m1.key, m2.key);
        assert!(m1.key.starts_with("digest-d-") && m1.key.len() == "digest-d-".len() + 16);
        let other = Outgoing::digest("d", vec![("42-d".to_string(), a)]);
        assert_ne!(m1.key, other.key);
        assert_eq!(m1.kind_label(), "digest");
        let e = email(&m1, None);
        assert_eq!(e.subject, "[soupwatch] Digest for d: 2 alerts");
        assert!(e.text.contains("CVE-2020-8908") && e.text.contains("CVE-2023-2976"));
        let v = webhook_json(&m1, None);
        assert_eq!(v["items"].as_array().unwrap().len(), 2);
        assert_eq!(v["items"][0]["delivery_id"], "42-d");
    }

    #[test]
    fn slack_text_escapes_control_characters() {
        let mut ev = affected();
        ev.title = "a <b> & c".into();
        let v = slack_json(&Outgoing::single("1-s".into(), "s", ev), Some("https://sw"));
        let t = v["text"].as_str().unwrap();
        assert!(t.starts_with("*a &lt;b&gt; &amp; c*\n"), "{t}");
        assert!(t.contains("Components: guava 24.1.1-jre"), "{t}");
        assert!(
            t.contains("<https://sw/api/v1/products/demo-pump/releases/1.0.0/findings|open>"),
            "{t}"
        );
    }

    #[test]
    fn signature_is_rfc4231_hmac_sha256() {
        // RFC 4231 test case 2.
        let sig = signature(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
