//! Issue 5 end to end: a real SBOM and real advisories from a local mirror become tickets with
//! the rules' decision, a reviewer signs off, transitions pass their guards, and the audit chain
//! verifies, then fails once a byte of a stored audit entry is altered.

mod common;
use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

const SBOM: &str = "sbom/cyclonedx/bom-examples/SBOM/dropwizard-1.3.15/bom.json";

fn setup(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    maven_setup(dir, |_| true, "")
}

async fn get_json(c: &reqwest::Client, url: &str, tok: &str) -> serde_json::Value {
    c.get(url)
        .bearer_auth(tok)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn sbom_and_feed_become_tickets_that_are_signed_off_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (cfg, mirror) = setup(dir.path());
    let admin = make_token(&data, "admin", "admin");
    let reviewer = make_token(&data, "regulatory", "reviewer");
    let analyst = make_token(&data, "security", "analyst");
    let d = Daemon::start(
        &data,
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--mirror",
            mirror.to_str().unwrap(),
        ],
    );
    let c = client();
    let r = c
        .put(d.url("/api/v1/products/demo-pump/releases/1.0.0/sbom"))
        .bearer_auth(&admin)
        .body(std::fs::read(corpus().join(SBOM)).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // The jackson-databind CVE-2019-16942 (GHSA-mx7p-6679-8g3q) finding, covered by SOUP-017.
    let id = "demo-pump:CVE-2019-16942";
    let deadline = Instant::now() + Duration::from_secs(90);
    let ticket = loop {
        let r = c
            .get(d.url(&format!("/api/v1/tickets/{id}")))
            .bearer_auth(&analyst)
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            break r.json::<serde_json::Value>().await.unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "no ticket {id}; log: {}",
            d.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(ticket["state"], "NEW");
    assert_eq!(ticket["releases"][0]["release"], "1.0.0");
    assert_eq!(
        ticket["releases"][0]["components"][0]["name"],
        "jackson-databind"
    );
    assert_eq!(
        ticket["releases"][0]["components"][0]["soup_id"],
        "SOUP-017"
    );
    // The decision is exactly what the rules give for the recorded input (replayable offline).
    let input = dir.path().join("input.json");
    std::fs::write(&input, ticket["input"].to_string()).unwrap();
    let (code, out, err) = cli(&[
        "rules",
        "eval",
        "--rules",
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("config/rules.toml")
            .to_str()
            .unwrap(),
        input.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let replay: serde_json::Value = serde_json::from_str(&out).unwrap();
    for k in [
        "priority",
        "risk",
        "change_us",
        "change_eu",
        "fsca",
        "notifications",
        "trace",
        "rules_sha256",
    ] {
        assert_eq!(replay[k], ticket["decision"][k], "{k}");
    }
    // SOUP-017 (class B, H3, X2, effective design control) and the device record were used.
    assert_eq!(ticket["input"]["soup"]["safety_class"], "B");
    assert_eq!(
        ticket["input"]["soup"]["controls"],
        "design_control_effective"
    );
    assert_eq!(ticket["input"]["device"]["us_pathway"], "510k");
    assert_eq!(ticket["device_revision"], 1);
    assert_eq!(ticket["decision"]["levels"]["harm"], "H3");
    // Designed-in control effective: exploitability low, risk controlled (B-b), per the trace.
    assert_eq!(ticket["decision"]["risk"], "controlled");
    let trace: Vec<&str> = ticket["decision"]["trace"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["rule"].as_str().unwrap())
        .collect();
    assert!(trace.contains(&"xp-design"), "{trace:?}");
    // Deadlines count from the awareness date.
    let awareness =
        chrono::NaiveDate::parse_from_str(ticket["awareness_date"].as_str().unwrap(), "%Y-%m-%d")
            .unwrap();
    for n in ticket["notifications"].as_array().unwrap() {
        let due =
            chrono::NaiveDate::parse_from_str(n["deadline"].as_str().unwrap(), "%Y-%m-%d").unwrap();
        assert!(due >= awareness, "{n}");
    }

    // One ticket per (vulnerability, product): re-matching opens no duplicate.
    let all = get_json(&c, &d.url("/api/v1/tickets?product=demo-pump"), &analyst).await;
    let mut ids: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n);

    // Guards: closing a new ticket is refused; an analyst cannot sign off; a reviewer can.
    let post = |path: String, tok: String, body: serde_json::Value| {
        let c = c.clone();
        let url = d.url(&path);
        async move {
            let r = c
                .post(url)
                .bearer_auth(tok)
                .json(&body)
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap_or_default(),
            )
        }
    };
    let (s, v) = post(
        format!("/api/v1/tickets/{id}/transition"),
        analyst.clone(),
        serde_json::json!({"to": "CLOSED"}),
    )
    .await;
    assert_eq!(s, 409, "{v}");
    let (s, _) = post(
        format!("/api/v1/tickets/{id}/signoff"),
        analyst.clone(),
        serde_json::json!({"action": "confirm", "meaning": "x"}),
    )
    .await;
    assert_eq!(s, 403);
    let (s, v) = post(
        format!("/api/v1/tickets/{id}/signoff"),
        reviewer.clone(),
        serde_json::json!({"action": "override", "meaning": "approved as risk owner"}),
    )
    .await;
    assert_eq!(s, 400, "an override needs values and a reason: {v}");
    for (to, extra) in [
        ("APPLICABILITY_CHECK", serde_json::json!({})),
        ("UNDER_INVESTIGATION", serde_json::json!({})),
        ("RISK_ASSESSED", serde_json::json!({})),
    ] {
        let mut b = extra.clone();
        b["to"] = serde_json::Value::String(to.into());
        let (s, v) = post(
            format!("/api/v1/tickets/{id}/transition"),
            analyst.clone(),
            b,
        )
        .await;
        assert_eq!(s, 200, "{to}: {v}");
    }
    let (s, v) = post(
        format!("/api/v1/tickets/{id}/signoff"),
        reviewer.clone(),
        serde_json::json!({"action": "confirm", "meaning": "approved as risk owner and regulatory reviewer"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let sig = &v["signoffs"][0];
    assert_eq!(sig["by"], "regulatory");
    assert_eq!(sig["risk"], ticket["decision"]["risk"]);
    assert_eq!(sig["signed_sha256"].as_str().unwrap().len(), 64);
    let t = get_json(&c, &d.url(&format!("/api/v1/tickets/{id}")), &analyst).await;
    assert_eq!(t["signed_off"], true);
    // A controlled risk may be deferred with a rationale and a re-review date.
    let (s, v) = post(
        format!("/api/v1/tickets/{id}/transition"),
        analyst.clone(),
        serde_json::json!({"to": "REGULATORY_ASSESSED"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = post(
        format!("/api/v1/tickets/{id}/transition"),
        analyst.clone(),
        serde_json::json!({"to": "DEFERRED", "deferral": {"rationale": "controlled risk; fix with the scheduled 1.1 release", "re_review": "2027-03-01"}}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "DEFERRED");

    let audit = get_json(&c, &d.url("/api/v1/audit"), &reviewer).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "token.create",
        "rules.load",
        "device.put",
        "soup.put",
        "release.create",
        "ticket.open",
        "ticket.signoff",
        "ticket.transition",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    d.stop();

    let (code, out, err) = cli(&["audit", "verify", "--data", data.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    // Alter one byte of one stored audit entry, below soupwatch, with sled itself.
    {
        let db = sled::open(data.join("db")).unwrap();
        let tree = db.open_tree("audit").unwrap();
        let (k, v) = tree.iter().nth(3).unwrap().unwrap();
        let mut bytes = v.to_vec();
        let pos = bytes.windows(7).position(|w| w == b"\"actor\"").unwrap() + 10;
        bytes[pos] ^= 0x01;
        tree.insert(k, bytes).unwrap();
        db.flush().unwrap();
    }
    let (code, _, err) = cli(&["audit", "verify", "--data", data.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("broken at entry 4"), "{err}");
}

#[tokio::test]
async fn concurrent_feed_sync_and_uploads_open_no_duplicate_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (cfg, mirror) = setup(dir.path());
    let up = make_token(&data, "pipeline", "uploader");
    // Feed sync at start-up (mirror) races with 20 uploads of the same product.
    let d = Daemon::start(
        &data,
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--mirror",
            mirror.to_str().unwrap(),
        ],
    );
    let c = client();
    let body = std::fs::read(corpus().join(SBOM)).unwrap();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (c, url, up, body) = (
            c.clone(),
            d.url(&format!("/api/v1/products/demo-pump/releases/1.0.{i}/sbom")),
            up.clone(),
            body.clone(),
        );
        tasks.push(tokio::spawn(async move {
            c.put(url)
                .bearer_auth(up)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 201);
    }
    // Wait until matching and triage settle: every release matched and the tickets unchanged
    // between two polls.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = serde_json::Value::Null;
    loop {
        let mut pending = false;
        for i in 0..20 {
            let f = get_json(
                &c,
                &d.url(&format!(
                    "/api/v1/products/demo-pump/releases/1.0.{i}/findings"
                )),
                &up,
            )
            .await;
            pending |= f["matching_pending"] != false;
        }
        let tickets = get_json(&c, &d.url("/api/v1/tickets?product=demo-pump"), &up).await;
        let n = tickets.as_array().unwrap().len();
        if !pending && n > 0 && tickets == last {
            let mut ids: Vec<String> = tickets
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["vulnerability"].as_str().unwrap().to_string())
                .collect();
            ids.sort();
            let before = ids.len();
            ids.dedup();
            assert_eq!(
                before,
                ids.len(),
                "one ticket per vulnerability and product"
            );
            // Every ticket lists all 20 releases.
            for t in tickets.as_array().unwrap() {
                assert_eq!(t["releases"].as_array().unwrap().len(), 20, "{}", t["id"]);
            }
            break;
        }
        last = tickets;
        assert!(
            Instant::now() < deadline,
            "did not settle; log: {}",
            d.log()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
