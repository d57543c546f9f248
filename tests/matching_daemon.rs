//! Issue 4 through a real daemon: an uploaded SBOM gets the same findings `soupwatch scan`
//! gives for it against the same mirror; then the advisory direction, incrementally: a real
//! advisory withdrawn in the mirror retracts its finding (kept, with the reason), and a record
//! added to the mirror is matched against the already-stored release without a re-upload. The
//! vulnerability view answers by any alias, 404 for unknown ids.
//!
//! The mirror is a temp folder holding only `osv/Maven/` (the GHSA records of the corpus), so
//! the start-up sync is quick; the other feeds fail for lack of mirror data, which is fine here.

mod common;
use common::*;

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

const SBOM: &str = "sbom/cyclonedx/bom-examples/SBOM/dropwizard-1.3.15/bom.json";

async fn get(c: &reqwest::Client, d: &Daemon, tok: &str, path: &str) -> (u16, Value) {
    let r = c.get(d.url(path)).bearer_auth(tok).send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// Polls until `ok` holds for the JSON at `path` (200), or fails after `secs`.
async fn poll(
    c: &reqwest::Client,
    d: &Daemon,
    tok: &str,
    path: &str,
    secs: u64,
    what: &str,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let (s, v) = get(c, d, tok, path).await;
        if s == 200 && ok(&v) {
            return v;
        }
        if Instant::now() > deadline {
            panic!(
                "timed out waiting for {what}: last {s} {v}\nlog tail: {}",
                tail(&d.log())
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// (component bom-ref, id) pairs.
type Pairs = BTreeSet<(String, String)>;

/// (bom-ref, vulnerability id) of every finding, and (bom-ref, advisory id) of every record.
fn finding_keys(findings: &[Value], records_key: &str) -> (Pairs, Pairs) {
    let mut f = BTreeSet::new();
    let mut r = BTreeSet::new();
    for x in findings {
        let b = x["component"]["bom_ref"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        f.insert((
            b.clone(),
            x["vulnerability"]["id"].as_str().unwrap().to_string(),
        ));
        let recs = match records_key {
            "records" => x["records"].as_array().unwrap(),
            _ => x["evidence"]["records"].as_array().unwrap(),
        };
        for rec in recs {
            r.insert((b.clone(), rec["advisory_id"].as_str().unwrap().to_string()));
        }
    }
    (f, r)
}

fn copy_maven(to: &Path) {
    let dst = to.join("osv/Maven");
    std::fs::create_dir_all(&dst).unwrap();
    for e in std::fs::read_dir(corpus().join("osv/Maven")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            std::fs::copy(&p, dst.join(p.file_name().unwrap())).unwrap();
        }
    }
}

#[tokio::test]
async fn upload_then_withdraw_and_add_advisories_incrementally() {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mirror = dir.path().join("mirror");
    copy_maven(&mirror);
    let data = dir.path().join("data");
    let admin = make_token(&data, "admin", "admin");
    let m = mirror.to_str().unwrap();
    let c = client();

    // --- Upload: findings equal the offline scan of the same file against the same mirror ---
    let d = Daemon::start(&data, &["--mirror", m]);
    poll(
        &c,
        &d,
        &admin,
        "/api/v1/feeds",
        60,
        "the osv start-up sync",
        |v| {
            v.as_array().unwrap().iter().any(|f| {
                f["name"] == "osv"
                    && !f["last_success"].is_null()
                    && f["record_count"].as_u64().unwrap_or(0) > 300
            })
        },
    )
    .await;
    let r = c
        .put(d.url("/api/v1/products/pump/releases/1.0/sbom"))
        .bearer_auth(&admin)
        .body(std::fs::read(corpus().join(SBOM)).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let findings_path = "/api/v1/products/pump/releases/1.0/findings";
    let v = poll(
        &c,
        &d,
        &admin,
        findings_path,
        30,
        "matching of the upload",
        |v| v["matching_pending"] == false,
    )
    .await;
    let daemon_findings = v["findings"].as_array().unwrap().clone();
    let (code, out, err) = cli(&[
        "scan",
        "--mirror",
        m,
        "--format",
        "json",
        corpus().join(SBOM).to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    let scan: Value = serde_json::from_str(&out).unwrap();
    let scan_findings = scan["results"][0]["findings"].as_array().unwrap().clone();
    assert!(
        !scan_findings.is_empty(),
        "dropwizard 1.3.15 has known Maven advisories"
    );
    assert_eq!(
        daemon_findings.len(),
        scan_findings.len(),
        "finding counts: daemon vs scan"
    );
    let (df, dr) = finding_keys(&daemon_findings, "records");
    let (sf, sr) = finding_keys(&scan_findings, "evidence");
    assert_eq!(df, sf, "the same (component, vulnerability) findings");
    assert_eq!(dr, sr, "the same matching records");
    for f in &daemon_findings {
        assert_eq!(f["status"], "active");
        assert_eq!(f["product"], "pump");
    }
    eprintln!(
        "upload: {} findings ({} records) on {} components, same as scan; {:.1}s",
        df.len(),
        dr.len(),
        scan["results"][0]["summary"]["components"],
        t0.elapsed().as_secs_f64()
    );

    // A finding carried by exactly one record, whose record has aliases: withdrawn below.
    let target = daemon_findings
        .iter()
        .find(|f| {
            f["records"].as_array().unwrap().len() == 1
                && !f["vulnerability"]["aliases"].as_array().unwrap().is_empty()
        })
        .expect("a single-record finding with aliases");
    let target_id = target["records"][0]["advisory_id"]
        .as_str()
        .unwrap()
        .to_string();
    let target_ref = target["component"]["bom_ref"].as_str().unwrap().to_string();
    let group = target["vulnerability"]["id"].as_str().unwrap().to_string();
    let aliases: Vec<String> = target["vulnerability"]["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    // Only withdraw a record no other finding of this release depends on.
    assert_eq!(
        dr.iter().filter(|(_, id)| *id == target_id).count(),
        1,
        "{target_id} hits one component"
    );

    // --- "Where am I affected?" by every name of the group ---
    for id in aliases.iter().chain([&group, &target_id]) {
        let (s, v) = get(&c, &d, &admin, &format!("/api/v1/vulnerabilities/{id}")).await;
        assert_eq!(s, 200, "{id}: {v}");
        assert_eq!(v["id"], group.as_str(), "{id} resolves to its group");
        let hit: Vec<&Value> = v["affected"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["product"] == "pump" && f["release"] == "1.0")
            .collect();
        assert_eq!(
            hit.len(),
            1,
            "{id}: the release is listed once: {}",
            v["affected"]
        );
        assert_eq!(hit[0]["component"]["bom_ref"], target_ref.as_str());
    }
    let (s, _) = get(&c, &d, &admin, "/api/v1/vulnerabilities/CVE-1900-0001").await;
    assert_eq!(s, 404, "an id no feed knows");
    // A known record that hits nothing: a Maven record naming no component of the release.
    let hit_ids: BTreeSet<&str> = dr.iter().map(|(_, id)| id.as_str()).collect();
    let mut idle = None;
    for e in std::fs::read_dir(mirror.join("osv/Maven")).unwrap() {
        let rec: Value =
            serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap();
        let id = rec["id"].as_str().unwrap();
        let names_pkg = |n: &str| {
            rec["affected"].as_array().unwrap().iter().any(|a| {
                a["package"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(n)
            })
        };
        if !hit_ids.contains(id) && !names_pkg("jackson") && !names_pkg("dropwizard") {
            idle = Some(id.to_string());
            break;
        }
    }
    let idle = idle.unwrap();
    let (s, v) = get(&c, &d, &admin, &format!("/api/v1/vulnerabilities/{idle}")).await;
    assert_eq!(s, 200, "{idle}: {v}");
    assert_eq!(
        v["affected"].as_array().unwrap().len(),
        0,
        "{idle} affects nothing: {v}"
    );
    d.stop();

    // --- Change the mirror: withdraw the target, add a new record, offline sync ---
    let target_file = mirror.join(format!("osv/Maven/{target_id}.json"));
    let mut rec: Value = serde_json::from_slice(&std::fs::read(&target_file).unwrap()).unwrap();
    rec["withdrawn"] = Value::from("2030-01-02T03:04:05Z");
    rec["modified"] = Value::from("2030-01-02T03:04:05Z");
    std::fs::write(&target_file, serde_json::to_vec_pretty(&rec).unwrap()).unwrap();
    // A new record: a copy of another record that hits the release, under a new id, no aliases.
    let source_id = dr
        .iter()
        .map(|(_, id)| id.clone())
        .find(|id| *id != target_id)
        .expect("a second record");
    let source_refs: BTreeSet<String> = dr
        .iter()
        .filter(|(_, id)| *id == source_id)
        .map(|(b, _)| b.clone())
        .collect();
    let mut added: Value = serde_json::from_slice(
        &std::fs::read(mirror.join(format!("osv/Maven/{source_id}.json"))).unwrap(),
    )
    .unwrap();
    let new_id = "GHSA-soup-test-0001";
    added["id"] = Value::from(new_id);
    added["aliases"] = Value::Array(vec![]);
    added["modified"] = Value::from("2030-01-02T03:04:05Z");
    std::fs::write(
        mirror.join(format!("osv/Maven/{new_id}.json")),
        serde_json::to_vec_pretty(&added).unwrap(),
    )
    .unwrap();
    let (code, out, err) = cli(&[
        "feeds",
        "sync",
        "--data",
        data.to_str().unwrap(),
        "--mirror",
        m,
        "--feed",
        "osv",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("1 new") && out.contains("1 withdrawn"),
        "{out}"
    );

    // --- Restart: the queued advisories are matched against the stored release ---
    let d = Daemon::start(&data, &["--mirror", m]);
    let all_path = format!("{findings_path}?include_retracted=true");
    let v = poll(
        &c,
        &d,
        &admin,
        &all_path,
        30,
        "retraction and the new finding",
        |v| {
            let f = v["findings"].as_array().unwrap();
            let retracted =
                f.iter().any(|x| {
                    x["records"].as_array().unwrap().iter().any(|r| {
                        r["advisory_id"] == target_id.as_str() && r["status"] == "retracted"
                    })
                });
            let added = f
                .iter()
                .any(|x| x["vulnerability"]["id"] == new_id && x["status"] == "active");
            retracted && added
        },
    )
    .await;
    let f = v["findings"].as_array().unwrap();
    let gone = f
        .iter()
        .find(|x| {
            x["records"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["advisory_id"] == target_id.as_str())
        })
        .unwrap();
    assert_eq!(gone["status"], "retracted");
    assert_eq!(gone["component"]["bom_ref"], target_ref.as_str());
    let reason = gone["records"][0]["retraction_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains("withdrawn") && reason.contains(&target_id),
        "the reason names the withdrawal: {reason:?}"
    );
    assert!(!gone["records"][0]["retracted_at"].is_null());
    let new_refs: BTreeSet<String> = f
        .iter()
        .filter(|x| x["vulnerability"]["id"] == new_id)
        .map(|x| x["component"]["bom_ref"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        new_refs, source_refs,
        "the copy of {source_id} hits the components its source hits"
    );
    assert_eq!(
        f.len(),
        daemon_findings.len() + new_refs.len(),
        "every other finding kept; the retracted one not deleted"
    );
    // Without include_retracted the withdrawn one is hidden, the others stay.
    let (_, active) = get(&c, &d, &admin, findings_path).await;
    let active = active["findings"].as_array().unwrap();
    assert_eq!(active.len(), daemon_findings.len() - 1 + new_refs.len());
    assert!(active
        .iter()
        .all(|x| x["status"] == "active" && x["vulnerability"]["id"] != group.as_str()));
    // The vulnerability view keeps the retracted hit, by any alias.
    let (s, v) = get(
        &c,
        &d,
        &admin,
        &format!("/api/v1/vulnerabilities/{}", aliases[0]),
    )
    .await;
    assert_eq!(s, 200);
    let listed: Vec<&Value> = v["affected"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["release"] == "1.0")
        .collect();
    assert_eq!(listed.len(), 1, "{v}");
    assert_eq!(listed[0]["status"], "retracted");
    let (s, v) = get(&c, &d, &admin, &format!("/api/v1/vulnerabilities/{new_id}")).await;
    assert_eq!(s, 200);
    let affected = v["affected"].as_array().unwrap();
    assert_eq!(affected.len(), new_refs.len(), "{v}");
    assert!(
        affected
            .iter()
            .all(|x| x["status"] == "active" && x["release"] == "1.0"),
        "{v}"
    );
    d.stop();
    eprintln!("daemon test: {:.1}s", t0.elapsed().as_secs_f64());
}
