//! Issue 2 end to end: tokens and roles, immutable releases, idempotent and concurrent uploads,
//! supersede, size limits, and data surviving a restart, all through a real daemon.

mod common;
use common::*;
use reqwest::StatusCode;

const SMALL: &str = "sbom/cyclonedx/bom-examples/SBOM/dropwizard-1.3.15/bom.json";
const OTHER: &str = "sbom/cyclonedx/bom-examples/SBOM/juice-shop/v11.1.2/bom.json";

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(corpus().join(rel)).unwrap()
}

async fn put(
    c: &reqwest::Client,
    d: &Daemon,
    tok: &str,
    p: &str,
    r: &str,
    body: Vec<u8>,
) -> (StatusCode, serde_json::Value) {
    let resp = c
        .put(d.url(&format!("/api/v1/products/{p}/releases/{r}/sbom")))
        .bearer_auth(tok)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let v = resp.json().await.unwrap_or(serde_json::Value::Null);
    (status, v)
}

#[tokio::test]
async fn tokens_and_roles_guard_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let admin = make_token(&data, "admin", "admin");
    let reader = make_token(&data, "analyst", "analyst");
    let d = Daemon::start(&data, &[]);
    let c = client();

    let r = c.get(d.url("/api/v1/products")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
    let r = c
        .get(d.url("/api/v1/products"))
        .bearer_auth("swt_0000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .get(d.url("/api/v1/products"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // An analyst may read but not upload.
    let (s, v) = put(&c, &d, &reader, "pump", "1.0", read(SMALL)).await;
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["error"], "forbidden");

    // Tokens through the API (admin only); the new uploader works at once, then is revoked.
    let r = c
        .post(d.url("/api/v1/tokens"))
        .bearer_auth(&reader)
        .json(&serde_json::json!({"name": "ci", "role": "uploader"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .post(d.url("/api/v1/tokens"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"name": "ci", "role": "uploader"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: serde_json::Value = r.json().await.unwrap();
    let ci = created["secret"].as_str().unwrap().to_string();
    let (s, v) = put(&c, &d, &ci, "pump", "1.0", read(SMALL)).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["uploaded_by"], "ci");
    let list: serde_json::Value = c
        .get(d.url("/api/v1/tokens"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "analyst", "ci"]);
    assert!(
        list.to_string().find("secret").is_none(),
        "no secret or hash is ever listed: {list}"
    );
    let r = c
        .delete(d.url("/api/v1/tokens/ci"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = c
        .get(d.url("/api/v1/products"))
        .bearer_auth(&ci)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    d.stop();

    // The offline CLI sees the same tokens once the daemon is gone, and the audit chain holds.
    let (code, out, _) = cli(&["token", "list", "--data", data.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("analyst") && !out.contains("\nci\t"), "{out}");
    let (code, out, err) = cli(&["audit", "verify", "--data", data.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("intact"), "{out}");
}

#[tokio::test]
async fn releases_are_immutable_idempotent_and_supersedable_by_admin_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let admin = make_token(&data, "admin", "admin");
    let up = make_token(&data, "pipeline", "uploader");
    let d = Daemon::start(&data, &[]);
    let c = client();

    let (s, first) = put(&c, &d, &up, "pump", "2.0", read(SMALL)).await;
    assert_eq!(s, 201, "{first}");
    let (s, again) = put(&c, &d, &up, "pump", "2.0", read(SMALL)).await;
    assert_eq!(s, 200);
    assert_eq!(first, again, "identical bytes return the existing record");
    let (s, v) = put(&c, &d, &up, "pump", "2.0", read(OTHER)).await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["error"], "conflict");

    let url = d.url(
        "/api/v1/products/pump/releases/2.0/sbom?supersede=true&reason=wrong%20file%20uploaded",
    );
    let r = c
        .put(&url)
        .bearer_auth(&up)
        .body(read(OTHER))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "only an admin supersedes");
    let r = c
        .put(d.url("/api/v1/products/pump/releases/2.0/sbom?supersede=true"))
        .bearer_auth(&admin)
        .body(read(OTHER))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "a supersede needs a reason");
    let r = c
        .put(&url)
        .bearer_auth(&admin)
        .body(read(OTHER))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let rec: serde_json::Value = c
        .get(d.url("/api/v1/products/pump/releases/2.0"))
        .bearer_auth(&up)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rec["revision"], 2);
    assert_eq!(rec["supersedes"]["previous_sha256"], first["sha256"]);
    assert_eq!(rec["supersedes"]["reason"], "wrong file uploaded");
    assert_eq!(
        rec["history"][0]["sha256"], first["sha256"],
        "the old version stays in history"
    );
    let bytes = c
        .get(d.url("/api/v1/products/pump/releases/2.0/sbom"))
        .bearer_auth(&up)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), read(OTHER).as_slice());

    // Bad names and unknown releases are clear 4xx answers.
    let (s, v) = put(&c, &d, &up, "pu%20mp", "1", read(SMALL)).await;
    assert_eq!(s, 400, "{v}");
    let r = c
        .get(d.url("/api/v1/products/pump/releases/9.9"))
        .bearer_auth(&up)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn oversized_and_empty_uploads_are_refused_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let up = make_token(&data, "pipeline", "uploader");
    let cfg = dir.path().join("small.toml");
    std::fs::write(&cfg, "[ingest]\nmax_bytes = 1000\n").unwrap();
    let d = Daemon::start(&data, &["--config", cfg.to_str().unwrap()]);
    let c = client();
    let (s, v) = put(&c, &d, &up, "pump", "1", read(SMALL)).await;
    assert_eq!(s, 413, "{v}");
    assert_eq!(v["error"], "too_large");
    // Chunked body without Content-Length: the cap still holds while streaming.
    let stream = futures_stream(read(SMALL));
    let r = c
        .put(d.url("/api/v1/products/pump/releases/1/sbom"))
        .bearer_auth(&up)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let (s, _) = put(&c, &d, &up, "pump", "1", Vec::new()).await;
    assert_eq!(s, 400);
    let r = c
        .get(d.url("/api/v1/products"))
        .bearer_auth(&up)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!([])
    );
}

fn futures_stream(
    bytes: Vec<u8>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    struct Chunks(std::vec::IntoIter<Vec<u8>>);
    impl futures_core::Stream for Chunks {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.next().map(Ok))
        }
    }
    Chunks(
        bytes
            .chunks(256)
            .map(|c| c.to_vec())
            .collect::<Vec<_>>()
            .into_iter(),
    )
}

#[tokio::test]
async fn thirty_two_parallel_uploads_end_consistently() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let up = make_token(&data, "pipeline", "uploader");
    let d = Daemon::start(&data, &[]);
    let c = client();
    let a = read(SMALL);
    let b = read(OTHER);
    let mut tasks = Vec::new();
    for i in 0..32 {
        let (c, url, up) = (c.clone(), d.base.clone(), up.clone());
        // 16 to distinct releases; 16 race for one release with two different documents.
        let (rel, body) = if i < 16 {
            (format!("r{i}"), a.clone())
        } else {
            (
                "same".to_string(),
                if i % 2 == 0 { a.clone() } else { b.clone() },
            )
        };
        tasks.push(tokio::spawn(async move {
            let r = c
                .put(format!("{url}/api/v1/products/pump/releases/{rel}/sbom"))
                .bearer_auth(&up)
                .body(body)
                .send()
                .await
                .unwrap();
            (
                rel,
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap(),
            )
        }));
    }
    let mut same = Vec::new();
    for t in tasks {
        let (rel, status, v) = t.await.unwrap();
        if rel == "same" {
            same.push((status, v));
        } else {
            assert_eq!(status, 201, "{rel}: {v}");
        }
    }
    let winners: Vec<_> = same.iter().filter(|(s, _)| *s == 201).collect();
    assert_eq!(winners.len(), 1, "exactly one creator: {same:?}");
    let winner_sha = winners[0].1["sha256"].clone();
    for (s, v) in &same {
        match s {
            201 => {}
            200 => assert_eq!(v["sha256"], winner_sha, "200 only for the winner's bytes"),
            409 => assert_eq!(v["details"]["sha256"], winner_sha),
            other => panic!("unexpected status {other}: {v}"),
        }
    }
    let rels: serde_json::Value = c
        .get(d.url("/api/v1/products/pump/releases"))
        .bearer_auth(&up)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rels.as_array().unwrap().len(), 17);
    d.stop();
    let (code, _, err) = cli(&["audit", "verify", "--data", data.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
}

#[tokio::test]
async fn data_reads_back_byte_identical_after_restart_and_after_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let up = make_token(&data, "pipeline", "uploader");
    let c = client();
    let d = Daemon::start(&data, &[]);
    let (s, rec) = put(&c, &d, &up, "monitor", "3.1.0", read(SMALL)).await;
    assert_eq!(s, 201);
    let comps_before = c
        .get(d.url("/api/v1/products/monitor/releases/3.1.0/components"))
        .bearer_auth(&up)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    d.stop();

    let d = Daemon::start(&data, &[]);
    let (s, _) = put(&c, &d, &up, "monitor", "3.2.0", read(OTHER)).await;
    assert_eq!(s, 201);
    // A crash right after the 201: the answer was only given after the commit point.
    d.kill();

    let d = Daemon::start(&data, &[]);
    let bytes = c
        .get(d.url("/api/v1/products/monitor/releases/3.1.0/sbom"))
        .bearer_auth(&up)
        .send()
        .await
        .unwrap();
    assert_eq!(
        bytes.headers()["content-type"],
        "application/vnd.cyclonedx+json"
    );
    assert_eq!(
        bytes.bytes().await.unwrap().as_ref(),
        read(SMALL).as_slice()
    );
    let after: serde_json::Value = c
        .get(d.url("/api/v1/products/monitor/releases/3.1.0"))
        .bearer_auth(&up)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(after["sha256"], rec["sha256"]);
    let comps_after = c
        .get(d.url("/api/v1/products/monitor/releases/3.1.0/components"))
        .bearer_auth(&up)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(comps_before, comps_after);
    let b2 = c
        .get(d.url("/api/v1/products/monitor/releases/3.2.0/sbom"))
        .bearer_auth(&up)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(b2.as_ref(), read(OTHER).as_slice());
}
