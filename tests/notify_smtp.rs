//! Issue 6, email: alerts reach a real SMTP server (Python's aiosmtpd on 127.0.0.1, writing a
//! maildir) from the real daemon. End to end from an SBOM upload and a mirror feed sync to one
//! email per alias group; a server that is down when the event happens gets the message exactly
//! once after a daemon restart; `soupwatch notify test` prints the server's answer.
//!
//! Needs `python3 -m pip install aiosmtpd` (see .ci/run). Messages are parsed here by hand
//! (headers, multipart boundary, quoted-printable/base64), so nothing of ours reads them back.

mod common;
use common::*;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SBOM: &str = "sbom/cyclonedx/bom-examples/SBOM/dropwizard-1.3.15/bom.json";
/// The guava advisory (CVE-2020-8908), one of those the corpus has for dropwizard 1.3.15.
const ONE_ADVISORY: &str = "GHSA-5mg8-w23w-74h3.json";

/// aiosmtpd with its Mailbox handler: every accepted message becomes a file in `maildir/new`.
struct SmtpServer {
    child: Child,
    maildir: PathBuf,
}

impl SmtpServer {
    fn start(port: u16, maildir: &Path) -> SmtpServer {
        let log = std::fs::File::create(maildir.with_extension("smtp.log")).unwrap();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("python3 -m aiosmtpd (pip install aiosmtpd)");
        let mut s = SmtpServer {
            child,
            maildir: maildir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(st)) = s.child.try_wait() {
                panic!(
                    "aiosmtpd exited ({st}); is it installed? {}",
                    std::fs::read_to_string(maildir.with_extension("smtp.log")).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "aiosmtpd did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        s.maildir = maildir.to_path_buf();
        s
    }

    fn messages(&self) -> Vec<Mail> {
        read_maildir(&self.maildir)
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_maildir(maildir: &Path) -> Vec<Mail> {
    let Ok(rd) = std::fs::read_dir(maildir.join("new")) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = rd.map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .iter()
        .map(|f| Mail::parse(&String::from_utf8_lossy(&std::fs::read(f).unwrap())))
        .collect()
}

/// An RFC 5322 message: unfolded headers and the raw body.
#[derive(Debug)]
struct Mail {
    headers: Vec<(String, String)>,
    body: String,
}

impl Mail {
    fn parse(raw: &str) -> Mail {
        let raw = raw.replace("\r\n", "\n");
        let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.lines() {
            if line.starts_with([' ', '\t']) {
                if let Some(last) = headers.last_mut() {
                    last.1.push_str(line);
                }
            } else if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        Mail {
            headers,
            body: body.to_string(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The parts of a multipart body: (content type, decoded text).
    fn parts(&self) -> Vec<(String, String)> {
        let ct = self.header("Content-Type").unwrap_or_default();
        let boundary = ct
            .split(';')
            .find_map(|p| p.trim().strip_prefix("boundary="))
            .expect("a multipart boundary")
            .trim_matches('"')
            .to_string();
        let delim = format!("--{boundary}");
        self.body
            .split(&delim)
            .skip(1)
            .filter(|p| !p.starts_with("--"))
            .map(|p| {
                let part = Mail::parse(p.trim_start_matches('\n'));
                let cte = part
                    .header("Content-Transfer-Encoding")
                    .unwrap_or("7bit")
                    .to_ascii_lowercase();
                let text = match cte.as_str() {
                    "quoted-printable" => decode_qp(&part.body),
                    "base64" => decode_base64(&part.body),
                    _ => part.body.clone(),
                };
                (
                    part.header("Content-Type").unwrap_or_default().to_string(),
                    text,
                )
            })
            .collect()
    }
}

fn decode_qp(s: &str) -> String {
    let b = s.replace("=\n", "");
    let bytes = b.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn decode_base64(s: &str) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits: u32 = 0;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        let v = alphabet.iter().position(|a| *a == c).unwrap() as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The Maven mirror (all corpus records, or only `only`) with `notify`: (mirror, config).
fn setup(dir: &Path, only: Option<&str>, notify: &str) -> (PathBuf, PathBuf) {
    let (config, mirror) = maven_setup(dir, |name| only.is_none_or(|o| o == name), notify);
    (mirror, config)
}

fn notify_section(smtp_port: u16, route_extra: &str) -> String {
    format!(
        r#"[notify]
base_url = "http://soupwatch.test:8080"

[[notify.smtp]]
name = "relay"
host = "127.0.0.1"
port = {smtp_port}
security = "plain"
from = "soupwatch <soupwatch@pump.example.org>"
timeout_secs = 5

[[notify.route]]
name = "safety"
channel = "relay"
to = ["Product Safety <safety@pump.example.org>"]
cc = ["qa@pump.example.org"]
kinds = ["release_affected"]
{route_extra}
"#
    )
}

async fn get(c: &reqwest::Client, d: &Daemon, tok: &str, path: &str) -> Value {
    let r = c.get(d.url(path)).bearer_auth(tok).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

async fn upload(c: &reqwest::Client, d: &Daemon, tok: &str, product: &str, release: &str) {
    let r = c
        .put(d.url(&format!(
            "/api/v1/products/{product}/releases/{release}/sbom"
        )))
        .bearer_auth(tok)
        .body(std::fs::read(corpus().join(SBOM)).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Waits for `ok` on a fresh value from `f`, or fails after `secs` with the daemon's log.
async fn wait_for<T: std::fmt::Debug, F: std::future::Future<Output = T>>(
    d: &Daemon,
    secs: u64,
    what: &str,
    mut f: impl FnMut() -> F,
    ok: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = f().await;
        if ok(&v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: last {v:?}\nlog tail:\n{}",
            tail(&d.log())
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits for the start-up sync of the mirror's osv feed to succeed.
async fn feed_synced(c: &reqwest::Client, d: &Daemon, tok: &str) {
    wait_for(
        d,
        60,
        "the osv sync",
        || get(c, d, tok, "/api/v1/feeds"),
        |v| v[0]["last_success"].is_string(),
    )
    .await;
}

/// Active findings' alias groups for one release, once matching is done (call after the feed
/// sync, so the release is matched against every advisory).
async fn groups(c: &reqwest::Client, d: &Daemon, tok: &str, p: &str, r: &str) -> BTreeSet<String> {
    let path = format!("/api/v1/products/{p}/releases/{r}/findings");
    let v = wait_for(
        d,
        60,
        "matching",
        || get(c, d, tok, &path),
        |v| v["matching_pending"] == false && !v["findings"].as_array().unwrap().is_empty(),
    )
    .await;
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["vulnerability"]["id"].as_str().unwrap().to_string())
        .collect()
}

/// Checks one alert email's envelope headers and both alternatives; returns its vulnerability.
fn check_alert(m: &Mail, release: &str) -> String {
    assert_eq!(
        m.header("From"),
        Some("soupwatch <soupwatch@pump.example.org>")
    );
    let to = m.header("To").unwrap();
    assert!(to.contains("<safety@pump.example.org>"), "{to}");
    assert_eq!(m.header("Cc"), Some("qa@pump.example.org"));
    assert_eq!(m.header("X-RcptTo").map(|r| r.split(", ").count()), Some(2));
    let ct = m.header("Content-Type").unwrap();
    assert!(ct.starts_with("multipart/alternative;"), "{ct}");
    let parts = m.parts();
    assert_eq!(parts.len(), 2, "text and HTML: {parts:?}");
    let (text_ct, text) = &parts[0];
    let (html_ct, html) = &parts[1];
    assert!(text_ct.starts_with("text/plain"), "{text_ct}");
    assert!(html_ct.starts_with("text/html"), "{html_ct}");
    let vuln = text
        .lines()
        .find_map(|l| l.strip_prefix("Vulnerability: "))
        .unwrap_or_else(|| panic!("no vulnerability line in {text}"))
        .to_string();
    let subject = m.header("Subject").unwrap();
    assert!(
        subject.starts_with("[soupwatch] demo-pump ") && subject.contains(&vuln),
        "{subject}"
    );
    let findings_link =
        format!("http://soupwatch.test:8080/api/v1/products/demo-pump/releases/{release}/findings");
    assert!(text.contains(&format!("Release: {release}\n")), "{text}");
    assert!(text.contains(&findings_link), "{text}");
    assert!(html.contains(&vuln) && html.contains(release), "{html}");
    assert!(
        html.contains(&format!("<a href=\"{findings_link}\">")),
        "{html}"
    );
    assert!(
        html.contains("<th align=\"left\" valign=\"top\">Components</th>"),
        "{html}"
    );
    vuln
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_and_feed_sync_end_in_one_email_per_alias_group() {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let smtp = SmtpServer::start(port, &dir.path().join("maildir"));
    let (mirror, config) = setup(dir.path(), None, &notify_section(port, ""));
    let data = dir.path().join("data");
    let admin = make_token(&data, "admin", "admin");
    let d = Daemon::start(
        &data,
        &[
            "--config",
            config.to_str().unwrap(),
            "--mirror",
            mirror.to_str().unwrap(),
        ],
    );
    let c = client();
    feed_synced(&c, &d, &admin).await;
    upload(&c, &d, &admin, "demo-pump", "1.3.15").await;
    let want = groups(&c, &d, &admin, "demo-pump", "1.3.15").await;
    assert!(
        want.len() > 10,
        "dropwizard 1.3.15 has many Maven advisories: {want:?}"
    );

    let mails = wait_for(
        &d,
        60,
        "one email per alias group",
        || async { smtp.messages() },
        |m| m.len() >= want.len(),
    )
    .await;
    // Nothing more arrives: no duplicates, no retries of accepted messages.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails_after = smtp.messages();
    assert_eq!(mails_after.len(), mails.len(), "extra emails arrived");

    let outbox = get(&c, &d, &admin, "/api/v1/outbox").await;
    let deliveries: BTreeMap<String, &Value> = outbox
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["id"].as_str().unwrap().to_string(), d))
        .collect();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for m in &mails_after {
        let vuln = check_alert(m, "1.3.15");
        let mid = m.header("Message-ID").unwrap();
        let id = mid
            .strip_prefix('<')
            .and_then(|s| s.strip_suffix("@soupwatch>"))
            .unwrap_or_else(|| panic!("Message-ID {mid}"));
        assert!(id.ends_with("-safety"), "{id}");
        let rec = deliveries
            .get(id)
            .unwrap_or_else(|| panic!("no delivery {id}"));
        assert_eq!(rec["status"], "delivered", "{rec}");
        assert_eq!(rec["attempts"], 1, "{rec}");
        assert!(
            rec["last_response"].as_str().unwrap().starts_with("250"),
            "{rec}"
        );
        assert_eq!(m.header("X-Soupwatch-Delivery"), Some(id));
        if let Some(other) = seen.insert(vuln.clone(), id.to_string()) {
            panic!("two emails for {vuln}: {other} and {id}");
        }
    }
    let got: BTreeSet<String> = seen.keys().cloned().collect();
    assert_eq!(got, want, "one email per alias group, and only those");
    assert_eq!(deliveries.len(), want.len(), "{outbox}");
    eprintln!(
        "{} alias groups -> {} emails in {:.1}s",
        want.len(),
        mails_after.len(),
        t0.elapsed().as_secs_f64()
    );
    d.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_down_at_event_time_gets_the_message_exactly_once_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port(); // nothing listens here until the server starts below
    let maildir = dir.path().join("maildir");
    let (mirror, config) = setup(
        dir.path(),
        Some(ONE_ADVISORY),
        &notify_section(
            port,
            "backoff_ms = 100\nmax_backoff_ms = 1500\nmax_attempts = 1000\n",
        ),
    );
    let data = dir.path().join("data");
    let admin = make_token(&data, "admin", "admin");
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--mirror",
        mirror.to_str().unwrap(),
    ];
    let d = Daemon::start(&data, &args);
    let c = client();
    feed_synced(&c, &d, &admin).await;
    upload(&c, &d, &admin, "demo-pump", "2.0").await;
    let want = groups(&c, &d, &admin, "demo-pump", "2.0").await;
    assert_eq!(want.len(), 1, "one advisory in the mirror: {want:?}");

    // The event is routed and its delivery fails, with the reason recorded.
    let outbox = wait_for(
        &d,
        30,
        "failed attempts",
        || get(&c, &d, &admin, "/api/v1/outbox"),
        |v| {
            v.as_array()
                .unwrap()
                .first()
                .is_some_and(|d| d["attempts"].as_u64() >= Some(2))
        },
    )
    .await;
    let rec = &outbox[0];
    let id = rec["id"].as_str().unwrap().to_string();
    assert_eq!(rec["status"], "pending", "{rec}");
    assert!(
        rec["last_error"].as_str().unwrap().contains("SMTP"),
        "{rec}"
    );
    d.stop();

    // Restarted while the server is still down: the pending delivery is still retried.
    let d = Daemon::start(&data, &args);
    let before = rec["attempts"].as_u64().unwrap();
    wait_for(
        &d,
        30,
        "an attempt after the restart",
        || get(&c, &d, &admin, "/api/v1/outbox"),
        |v| v[0]["attempts"].as_u64() > Some(before + 1),
    )
    .await;
    assert!(read_maildir(&maildir).is_empty());

    let smtp = SmtpServer::start(port, &maildir);
    let outbox = wait_for(
        &d,
        30,
        "delivery once the server is up",
        || get(&c, &d, &admin, "/api/v1/outbox"),
        |v| v[0]["status"] == "delivered",
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "exactly one message: {mails:?}");
    assert_eq!(
        mails[0].header("Message-ID"),
        Some(format!("<{id}@soupwatch>").as_str())
    );
    let vuln = check_alert(&mails[0], "2.0");
    assert!(want.contains(&vuln), "{vuln} vs {want:?}");
    assert_eq!(outbox.as_array().unwrap().len(), 1);
    let health = get(&c, &d, &admin, "/healthz").await;
    assert_eq!(health["outbox"]["dead_letters"], 0, "{health}");
    d.stop();
}

#[test]
fn notify_test_prints_the_smtp_answer_and_fails_with_exit_1_when_down() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("soupwatch.toml");
    std::fs::write(&config, notify_section(port, "")).unwrap();
    let cfg = config.to_str().unwrap();

    let (code, out, err) = cli(&["notify", "test", "--route", "safety", "--config", cfg]);
    assert_eq!(code, 1, "server down: {out} {err}");
    assert!(err.contains("safety") && err.contains("SMTP"), "{err}");

    let (code, _, err) = cli(&["notify", "test", "--route", "nope", "--config", cfg]);
    assert_eq!(code, 1);
    assert!(err.contains("nope"), "{err}");

    let smtp = SmtpServer::start(port, &dir.path().join("maildir"));
    let (code, out, err) = cli(&["notify", "test", "--route", "safety", "--config", cfg]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("250 "), "the server's final reply: {out}");
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert!(m
        .header("Subject")
        .unwrap()
        .contains("test message for route safety"));
    assert!(m.header("Message-ID").unwrap().starts_with("<test-safety-"));
    assert_eq!(m.header("X-Soupwatch-Event"), Some("test"));
    assert_eq!(m.parts().len(), 2);
}
