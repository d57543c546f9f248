//! Issue 6, webhooks: the real daemon posts alerts to real HTTP servers (axum, in this test) with
//! the delivery id and an HMAC-SHA256 signature that verifies with the shared secret. An endpoint
//! that answers 500 twice then 200 ends delivered after three attempts; one that always fails
//! ends dead after `max_attempts`, `/healthz` says degraded, and an admin retry requeues it.
//! `soupwatch notify test` posts a Slack-format message signed with a secret from the environment.

mod common;
use common::*;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{KeyInit, Mac};
use serde_json::Value;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SBOM: &str = "sbom/cyclonedx/bom-examples/SBOM/dropwizard-1.3.15/bom.json";
/// The guava advisory (CVE-2020-8908), one of those the corpus has for dropwizard 1.3.15.
const ONE_ADVISORY: &str = "GHSA-5mg8-w23w-74h3.json";

#[derive(Debug, Clone)]
struct Seen {
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, k: &str) -> Option<&str> {
        self.headers.get(k).and_then(|v| v.to_str().ok())
    }
}

#[derive(Default)]
struct HookState {
    /// Statuses to answer, in order; then `then`.
    script: VecDeque<u16>,
    then: u16,
    seen: Vec<Seen>,
}

/// A webhook receiver on 127.0.0.1 that records every request and answers as scripted.
#[derive(Clone, Default)]
struct Hook(Arc<Mutex<HookState>>);

impl Hook {
    async fn start(script: &[u16], then: u16) -> (Hook, String) {
        let hook = Hook::default();
        {
            let mut s = hook.0.lock().unwrap();
            s.script = script.iter().copied().collect();
            s.then = then;
        }
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(hook.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (hook, url)
    }

    fn seen(&self) -> Vec<Seen> {
        self.0.lock().unwrap().seen.clone()
    }

    fn answer_from_now_on(&self, status: u16) {
        let mut s = self.0.lock().unwrap();
        s.script.clear();
        s.then = status;
    }
}

async fn receive(State(h): State<Hook>, headers: HeaderMap, body: Bytes) -> (StatusCode, String) {
    let mut s = h.0.lock().unwrap();
    s.seen.push(Seen {
        headers,
        body: body.to_vec(),
    });
    let code = s.script.pop_front().unwrap_or(s.then);
    (
        StatusCode::from_u16(code).unwrap(),
        format!("receiver says {code}"),
    )
}

/// Verifies `sha256=<hex>` over the exact body, independently of the daemon's code.
fn signature_ok(secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(hex_sig) = header.and_then(|h| h.strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(tag) = hex::decode(hex_sig) else {
        return false;
    };
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.verify_slice(&tag).is_ok()
}

/// A mirror with one Maven advisory and `notify`: (mirror, config).
fn setup(dir: &Path, notify: &str) -> (PathBuf, PathBuf) {
    let (config, mirror) = maven_setup(dir, |name| name == ONE_ADVISORY, notify);
    (mirror, config)
}

async fn get(c: &reqwest::Client, d: &Daemon, tok: &str, path: &str) -> Value {
    let r = c.get(d.url(path)).bearer_auth(tok).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

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

fn delivery<'a>(outbox: &'a Value, route: &str) -> Option<&'a Value> {
    outbox
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["route"] == route)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_until_2xx_dead_letters_after_max_attempts_and_admin_retry_requeues() {
    let t0 = Instant::now();
    let (flaky, flaky_url) = Hook::start(&[500, 500], 200).await;
    let (broken, broken_url) = Hook::start(&[], 500).await;
    let dir = tempfile::tempdir().unwrap();
    let notify = format!(
        r#"[notify]
[[notify.webhook]]
name = "tracker"
url = "{flaky_url}"
secret = "tracker-secret"
timeout_secs = 5

[[notify.webhook]]
name = "broken"
url = "{broken_url}"
secret = "broken-secret"
timeout_secs = 5

[[notify.route]]
name = "flaky"
channel = "tracker"
kinds = ["release_affected"]
backoff_ms = 100
max_attempts = 5

[[notify.route]]
name = "deadend"
channel = "broken"
kinds = ["release_affected"]
backoff_ms = 100
max_attempts = 3
"#
    );
    let (mirror, config) = setup(dir.path(), &notify);
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
    wait_for(
        &d,
        60,
        "the osv sync",
        || get(&c, &d, &admin, "/api/v1/feeds"),
        |v| v[0]["last_success"].is_string(),
    )
    .await;
    let health = get(&c, &d, &admin, "/healthz").await;
    assert_eq!(health["status"], "ok", "before any alert: {health}");

    let r = c
        .put(d.url("/api/v1/products/demo-pump/releases/1.0/sbom"))
        .bearer_auth(&admin)
        .body(std::fs::read(corpus().join(SBOM)).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let outbox = wait_for(
        &d,
        40,
        "flaky delivered and deadend dead",
        || get(&c, &d, &admin, "/api/v1/outbox"),
        |v| {
            delivery(v, "flaky").is_some_and(|x| x["status"] == "delivered")
                && delivery(v, "deadend").is_some_and(|x| x["status"] == "dead")
        },
    )
    .await;
    assert_eq!(outbox.as_array().unwrap().len(), 2, "{outbox}");

    // 500, 500, 200: delivered on the third attempt, the last answer recorded.
    let ok = delivery(&outbox, "flaky").unwrap();
    assert_eq!(ok["attempts"], 3, "{ok}");
    assert!(
        ok["last_response"].as_str().unwrap().contains("200"),
        "{ok}"
    );
    assert!(ok["last_error"].as_str().unwrap().contains("500"), "{ok}");
    assert!(ok["delivered_at"].is_string(), "{ok}");
    let id = ok["id"].as_str().unwrap();
    assert!(id.ends_with("-flaky"), "{id}");
    let seen = flaky.seen();
    assert_eq!(seen.len(), 3, "three requests");
    for s in &seen {
        assert_eq!(
            s.header("x-soupwatch-delivery"),
            Some(id),
            "same key every attempt"
        );
        assert_eq!(s.header("x-soupwatch-event"), Some("release_affected"));
        assert!(s
            .header("content-type")
            .unwrap()
            .starts_with("application/json"));
        let sig = s.header("x-soupwatch-signature");
        assert!(signature_ok("tracker-secret", &s.body, sig), "{sig:?}");
        assert!(!signature_ok("another-secret", &s.body, sig));
        let mut tampered = s.body.clone();
        tampered.push(b' ');
        assert!(!signature_ok("tracker-secret", &tampered, sig));
        let v: Value = serde_json::from_slice(&s.body).unwrap();
        assert_eq!(v["delivery_id"], id);
        assert_eq!(v["event"]["kind"], "release_affected");
        assert_eq!(
            v["event"]["subject"], "CVE-2020-8908",
            "the alias group id: {v}"
        );
        assert_eq!(v["event"]["product"], "demo-pump");
        assert_eq!(v["event"]["payload"]["release"], "1.0");
        assert_eq!(
            v["event"]["payload"]["advisories"][0],
            "GHSA-5mg8-w23w-74h3"
        );
        assert!(v["event"]["payload"]["components"][0]
            .as_str()
            .unwrap()
            .starts_with("guava "));
    }
    assert_eq!(seen[0].body, seen[2].body, "the same body on every attempt");

    // Always 500: dead after max_attempts, and the daemon says so.
    let dead = delivery(&outbox, "deadend").unwrap();
    assert_eq!(dead["attempts"], 3, "{dead}");
    assert!(
        dead["last_response"].as_str().unwrap().contains("500"),
        "{dead}"
    );
    assert_eq!(broken.seen().len(), 3);
    assert!(signature_ok(
        "broken-secret",
        &broken.seen()[0].body,
        broken.seen()[0].header("x-soupwatch-signature")
    ));
    let health = get(&c, &d, &admin, "/healthz").await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["outbox"]["dead_letters"], 1, "{health}");

    // The endpoint is fixed; an admin requeues the dead letter and it goes out.
    broken.answer_from_now_on(204);
    let dead_id = dead["id"].as_str().unwrap();
    let r = c
        .post(d.url(&format!("/api/v1/outbox/{dead_id}/retry")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "pending", "{v}");
    let outbox = wait_for(
        &d,
        30,
        "the retried delivery",
        || get(&c, &d, &admin, "/api/v1/outbox"),
        |v| delivery(v, "deadend").is_some_and(|x| x["status"] == "delivered"),
    )
    .await;
    assert_eq!(delivery(&outbox, "deadend").unwrap()["attempts"], 4);
    assert_eq!(broken.seen().len(), 4);
    assert_eq!(
        broken.seen()[3].header("x-soupwatch-delivery"),
        Some(dead_id)
    );
    let health = get(&c, &d, &admin, "/healthz").await;
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(flaky.seen().len(), 3, "nothing re-sent after success");
    eprintln!("webhook retries: {:.1}s", t0.elapsed().as_secs_f64());
    d.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_test_posts_a_signed_slack_message_and_reports_failures() {
    let (hook, url) = Hook::start(&[503], 200).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("soupwatch.toml");
    std::fs::write(
        &config,
        format!(
            "[notify]\n[[notify.webhook]]\nname = \"chat\"\nurl = \"{url}\"\nformat = \"slack\"\n\
             secret_env = \"SOUPWATCH_TEST_HOOK_SECRET\"\n[[notify.route]]\nname = \"team-chat\"\nchannel = \"chat\"\n"
        ),
    )
    .unwrap();
    let run = |with_secret: bool| {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            let mut cmd = std::process::Command::new(bin());
            cmd.args(["notify", "test", "--route", "team-chat", "--config"])
                .arg(&config)
                .env_remove("SOUPWATCH_TEST_HOOK_SECRET");
            if with_secret {
                cmd.env("SOUPWATCH_TEST_HOOK_SECRET", "from-env");
            }
            let out = cmd.output().unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
    };

    // The secret's variable is unset: nothing is sent unsigned.
    let (code, _, err) = run(false).await.unwrap();
    assert_eq!(code, Some(1));
    assert!(err.contains("SOUPWATCH_TEST_HOOK_SECRET"), "{err}");
    assert!(hook.seen().is_empty());

    // First answer 503: exit 1 with the server's answer.
    let (code, _, err) = run(true).await.unwrap();
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("503") && err.contains("receiver says 503"),
        "{err}"
    );

    let (code, out, err) = run(true).await.unwrap();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.trim(), "HTTP 200 OK receiver says 200");
    let seen = hook.seen();
    assert_eq!(seen.len(), 2);
    let last = &seen[1];
    assert!(signature_ok(
        "from-env",
        &last.body,
        last.header("x-soupwatch-signature")
    ));
    assert_eq!(last.header("x-soupwatch-event"), Some("test"));
    assert!(last
        .header("x-soupwatch-delivery")
        .unwrap()
        .starts_with("test-team-chat-"));
    let v: Value = serde_json::from_slice(&last.body).unwrap();
    let obj = v.as_object().unwrap();
    assert_eq!(obj.len(), 1, "Slack format is just text: {v}");
    assert!(v["text"]
        .as_str()
        .unwrap()
        .starts_with("*soupwatch test message for route team-chat*"));
}
