//! Issue 7 part 2: exports built from a real store (the dropwizard example SBOM as the demo pump,
//! the Maven slice of the OSV corpus synced through the mirror feed, matching, triage with the
//! shipped rules and records, then signoffs and transitions like a reviewer would make) validate
//! against the official JSON schemas kept in `tests/data/schemas/` (CycloneDX 1.6, OpenVEX 0.2.0,
//! CSAF 2.0 with FIRST's CVSS schemas), resolved offline; statuses map as documented; every CSAF
//! product id is defined; the report lists every component and finding with its decision.

use jsonschema::{Retrieve, Uri, Validator};
use serde_json::Value;
use soupwatch::exports::{self, Publisher, ReleaseExportData, VexFormat};
use soupwatch::feeds::{
    archive::ArchiveLimits, fetch::FetchOptions, fetch::Fetcher, sync_feed, FeedDef, LogProgress,
    Origin, SyncContext,
};
use soupwatch::matching::findings::release_findings;
use soupwatch::model::{ProductName, ReleaseName};
use soupwatch::releases::{ingest_release, Upload};
use soupwatch::store::{HitStatus, PutOutcome, Store};
use soupwatch::tickets::{self, SignoffAction, SignoffRequest, TransitionRequest};
use soupwatch::triage::{self, TicketState};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const SBOM: &str = "sbom/cyclonedx/bom-examples/SBOM/dropwizard-1.3.15/bom.json";
const PRODUCT: &str = "demo-pump";
/// Guava 24.1.1-jre, covered by SOUP-022 (not in execute path): signed off as not affected.
const SIGNED_NA: &str = "CVE-2020-8908";
/// Guava again: proposed not affected, never signed off.
const PROVISIONAL_NA: &str = "CVE-2023-2976";
/// jackson-databind 2.9.10, covered by SOUP-017: taken through the change path to RELEASED.
const FIXED: &str = "CVE-2019-16942";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn corpus() -> PathBuf {
    root().join("../shared/corpus")
}

fn schema_dir() -> PathBuf {
    root().join("tests/data/schemas")
}

/// Maps every `$ref`'d schema URL to its local copy; anything else is an error, never a fetch.
struct Local;

impl Retrieve for Local {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let file = match uri.path().as_str().rsplit('/').next() {
            Some(
                f @ ("spdx.schema.json" | "jsf-0.82.schema.json" | "cryptography-defs.schema.json"),
            ) => f,
            Some(f @ ("cvss-v2.0.json" | "cvss-v3.0.json" | "cvss-v3.1.json")) => f,
            _ => return Err(format!("{uri} is not in tests/data/schemas").into()),
        };
        Ok(serde_json::from_slice(&std::fs::read(
            schema_dir().join(file),
        )?)?)
    }
}

fn validator(file: &str) -> Validator {
    let schema: Value =
        serde_json::from_slice(&std::fs::read(schema_dir().join(file)).unwrap()).unwrap();
    jsonschema::options()
        .with_retriever(Local)
        // `format` is only an annotation in 2020-12 by default: assert it (date-time, uri, iri).
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{file} does not compile: {e}"))
}

fn assert_valid(v: &Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .take(20)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} is invalid:\n{}",
        errors.join("\n")
    );
}

fn publisher() -> Publisher {
    Publisher {
        name: "Example Medical Devices Inc.".into(),
        namespace: "https://psirt.example-medical.com".into(),
        contact: Some("psirt@example-medical.com".into()),
    }
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-01-15T12:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc)
}

fn upload(store: &Store, release: &str, bytes: &[u8], supersede: Option<&str>) -> PutOutcome {
    ingest_release(
        store,
        &Default::default(),
        &Upload {
            product: ProductName::parse(PRODUCT).unwrap(),
            release: ReleaseName::parse(release).unwrap(),
            bytes,
            content_type: Some("application/vnd.cyclonedx+json"),
            uploader: "pipeline",
            supersede_reason: supersede,
        },
    )
    .unwrap()
}

fn transition(store: &Store, id: &str, req: Value) {
    let req: TransitionRequest = serde_json::from_value(req).unwrap();
    tickets::transition(store, id, &req, "security").unwrap_or_else(|e| panic!("{id}: {e}"));
}

fn sign(store: &Store, id: &str) {
    let req = SignoffRequest {
        action: SignoffAction::Confirm,
        meaning: "approved as risk owner and regulatory reviewer".into(),
        reason: None,
        risk: None,
        change_us: None,
        change_eu: None,
        fsca: None,
    };
    tickets::sign_off(store, id, &req, "regulatory").unwrap();
}

fn settle(store: &Store) {
    soupwatch::matching::service::Matcher::new(store)
        .run_pending()
        .unwrap();
    let rules = triage::load_rules(triage::DEFAULT_RULES).unwrap();
    tickets::triage_pending(store, &rules, now().date_naive()).unwrap();
}

/// The scenario, built once: a store in a temp dir (kept alive for the whole test binary).
fn scenario() -> &'static (tempfile::TempDir, Store) {
    static S: OnceLock<(tempfile::TempDir, Store)> = OnceLock::new();
    S.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data")).unwrap();
        for d in soupwatch::records::load_devices(&root().join("config/products")).unwrap() {
            store.put_device(&d, "config").unwrap();
        }
        for (p, items) in soupwatch::records::load_soup(&root().join("config/soup")).unwrap() {
            for i in items {
                store.put_soup(&p, &i, "config").unwrap();
            }
        }
        // A mirror holding the Maven slice of the OSV corpus, synced like `feeds sync --mirror`.
        let maven = dir.path().join("mirror/osv/Maven");
        std::fs::create_dir_all(&maven).unwrap();
        for e in std::fs::read_dir(corpus().join("osv/Maven")).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, maven.join(p.file_name().unwrap())).unwrap();
        }
        let def = FeedDef::parse(
            "name = \"osv\"\nkind = \"osv\"\necosystems = [\"Maven\"]\nschedule = \"0 0 3 * * *\"\nstale_after_hours = 48\n",
            "test",
        )
        .unwrap();
        let fetcher = Fetcher::new(FetchOptions::default()).unwrap();
        let (_tx, cancel) = tokio::sync::watch::channel(false);
        let ctx = SyncContext {
            store: &store,
            fetcher: &fetcher,
            limits: ArchiveLimits::default(),
            progress: &LogProgress,
            nvd_api_key: None,
            cancel,
        };
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(sync_feed(&ctx, &def, &Origin::Mirror(dir.path().join("mirror"))))
            .unwrap();
        let sbom = std::fs::read(corpus().join(SBOM)).unwrap();
        assert!(matches!(upload(&store, "1.0.0", &sbom, None), PutOutcome::Created(_)));
        assert!(matches!(upload(&store, "1.1.0", &sbom, None), PutOutcome::Created(_)));
        settle(&store);

        let id = |v: &str| format!("{PRODUCT}:{v}");
        // Signed-off not affected, published.
        transition(&store, &id(SIGNED_NA), serde_json::json!({"to": "APPLICABILITY_CHECK"}));
        transition(&store, &id(SIGNED_NA), serde_json::json!({"to": "NOT_AFFECTED",
            "not_affected_rationale": "Files.createTempDir is never called; guava is used for collections and caching only (SOUP-022)."}));
        sign(&store, &id(SIGNED_NA));
        transition(&store, &id(SIGNED_NA), serde_json::json!({"to": "VEX_PUBLISHED"}));
        // Proposed not affected, not signed off.
        transition(&store, &id(PROVISIONAL_NA), serde_json::json!({"to": "APPLICABILITY_CHECK"}));
        transition(&store, &id(PROVISIONAL_NA), serde_json::json!({"to": "NOT_AFFECTED",
            "not_affected_rationale": "believed unreachable; review pending"}));
        // The change path to RELEASED.
        let f = id(FIXED);
        for to in ["APPLICABILITY_CHECK", "UNDER_INVESTIGATION", "RISK_ASSESSED"] {
            transition(&store, &f, serde_json::json!({ "to": to }));
        }
        sign(&store, &f);
        for step in [
            serde_json::json!({"to": "REGULATORY_ASSESSED"}),
            serde_json::json!({"to": "CHANGE_REQUESTED"}),
            serde_json::json!({"to": "CR_APPROVED", "cr_approved_by": "J. Doe, CCB"}),
            serde_json::json!({"to": "IMPLEMENTING"}),
            serde_json::json!({"to": "VERIFYING"}),
            serde_json::json!({"to": "RELEASED", "test_record": true}),
        ] {
            transition(&store, &f, step);
        }
        // 1.1.0's SBOM is superseded by one without jackson-databind (the fix removed it).
        let mut doc: Value = serde_json::from_slice(&sbom).unwrap();
        doc["components"]
            .as_array_mut()
            .unwrap()
            .retain(|c| c["name"] != "jackson-databind");
        let fixed = serde_json::to_vec(&doc).unwrap();
        assert!(matches!(
            upload(&store, "1.1.0", &fixed, Some("jackson-databind removed (ticket fix)")),
            PutOutcome::Superseded(_)
        ));
        settle(&store);
        (dir, store)
    })
}

fn data(release: &str) -> ReleaseExportData {
    let (_, store) = scenario();
    exports::load(store, PRODUCT, release, now(), publisher())
        .unwrap()
        .unwrap()
}

/// Active finding groups of a release, read through the store's own read side.
fn active_groups(release: &str) -> BTreeSet<String> {
    release_findings(&scenario().1, PRODUCT, release, false)
        .unwrap()
        .into_iter()
        .map(|f| f.vulnerability.id)
        .collect()
}

fn openvex_statement<'a>(doc: &'a Value, vuln: &str) -> &'a Value {
    doc["statements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["vulnerability"]["name"] == vuln)
        .unwrap_or_else(|| panic!("no OpenVEX statement for {vuln}"))
}

fn cdx_vuln<'a>(doc: &'a Value, vuln: &str) -> &'a Value {
    doc["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == vuln)
        .unwrap_or_else(|| panic!("no CycloneDX vulnerability {vuln}"))
}

fn csaf_vuln<'a>(doc: &'a Value, vuln: &str) -> &'a Value {
    doc["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["cve"] == vuln
                || s["ids"]
                    .as_array()
                    .is_some_and(|ids| ids.iter().any(|i| i["text"] == vuln))
        })
        .unwrap_or_else(|| panic!("no CSAF vulnerability {vuln}"))
}

#[test]
fn exports_validate_against_the_official_schemas() {
    let cdx = validator("bom-1.6.schema.json");
    let ovx = validator("openvex_json_schema.json");
    let csaf = validator("csaf_json_schema.json");
    for release in ["1.0.0", "1.1.0"] {
        let d = data(release);
        assert!(!exports::statements(&d).is_empty());
        assert_valid(
            &cdx,
            &exports::vex(&d, VexFormat::CycloneDx),
            &format!("CycloneDX VEX {release}"),
        );
        assert_valid(
            &ovx,
            &exports::vex(&d, VexFormat::OpenVex),
            &format!("OpenVEX {release}"),
        );
        assert_valid(
            &csaf,
            &exports::vex(&d, VexFormat::Csaf),
            &format!("CSAF VEX {release}"),
        );
    }
    let adv = exports::csaf_security_advisory(&data("1.0.0"), &format!("{PRODUCT}:{FIXED}"))
        .expect("a released fix has an advisory");
    assert_valid(&csaf, &adv, "CSAF security advisory");
    // The validators do catch mistakes: a wrong status and a missing action statement.
    let mut bad = exports::vex(&data("1.0.0"), VexFormat::OpenVex);
    bad["statements"][0]["status"] = "maybe".into();
    assert!(!ovx.is_valid(&bad));
    let good = exports::vex(&data("1.0.0"), VexFormat::Csaf);
    let mut bad = good.clone();
    bad["document"]["category"] = Value::Null;
    assert!(!csaf.is_valid(&bad));
    // ... down into FIRST's CVSS schema, which CSAF `$ref`s by URL (served from the local copy).
    let scored = good["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .position(|v| v["scores"][0]["cvss_v3"].is_object())
        .expect("a CVSS v3 score");
    let mut bad = good.clone();
    bad["vulnerabilities"][scored]["scores"][0]["cvss_v3"]["baseSeverity"] = "SEVERE".into();
    assert!(!csaf.is_valid(&bad));
    let mut bad = exports::vex(&data("1.0.0"), VexFormat::CycloneDx);
    bad["vulnerabilities"][0]["analysis"]["justification"] = "trust_me".into();
    assert!(!cdx.is_valid(&bad));
}

#[test]
fn statuses_map_as_documented() {
    let d = data("1.0.0");
    let ovx = exports::vex(&d, VexFormat::OpenVex);
    let cdx = exports::vex(&d, VexFormat::CycloneDx);
    let csaf = exports::vex(&d, VexFormat::Csaf);
    // One statement per active vulnerability of the release, in every format.
    let active = active_groups("1.0.0");
    assert!(
        active.contains(SIGNED_NA) && active.contains(PROVISIONAL_NA) && active.contains(FIXED)
    );
    let names: BTreeSet<String> = ovx["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["vulnerability"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, active);
    assert_eq!(
        cdx["vulnerabilities"].as_array().unwrap().len(),
        active.len()
    );
    assert_eq!(
        csaf["vulnerabilities"].as_array().unwrap().len(),
        active.len()
    );

    // Signed-off NOT_AFFECTED (VEX_PUBLISHED): not_affected with SOUP-022's justification.
    let s = openvex_statement(&ovx, SIGNED_NA);
    assert_eq!(s["status"], "not_affected");
    assert_eq!(s["justification"], "vulnerable_code_not_in_execute_path");
    assert!(s["impact_statement"]
        .as_str()
        .unwrap()
        .contains("createTempDir"));
    assert_eq!(
        s["products"][0]["@id"],
        "pkg:maven/io.dropwizard/dropwizard-parent@1.3.15"
    );
    assert_eq!(
        s["products"][0]["subcomponents"],
        serde_json::json!([{"@id": "pkg:maven/com.google.guava/guava@24.1.1-jre?type=jar"}])
    );
    let v = cdx_vuln(&cdx, SIGNED_NA);
    assert_eq!(v["analysis"]["state"], "not_affected");
    assert_eq!(v["analysis"]["justification"], "code_not_reachable");
    let refs: Vec<&str> = v["affects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["ref"].as_str().unwrap())
        .collect();
    assert_eq!(
        refs,
        [
            "pkg:maven/com.google.guava/guava@24.1.1-jre?type=jar",
            "urn:cdx:b4f2954f-a96d-4578-9509-1ae2d6476209/1#pkg%3Amaven%2Fcom.google.guava%2Fguava%4024.1.1-jre%3Ftype%3Djar"
        ]
    );
    let v = csaf_vuln(&csaf, SIGNED_NA);
    assert!(v["product_status"]["known_not_affected"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p == "demo-pump-1.0.0"));
    assert_eq!(
        v["flags"][0]["label"],
        "vulnerable_code_not_in_execute_path"
    );
    assert_eq!(v["threats"][0]["category"], "impact");

    // Proposed NOT_AFFECTED without signoff: still under investigation everywhere.
    assert_eq!(
        openvex_statement(&ovx, PROVISIONAL_NA)["status"],
        "under_investigation"
    );
    assert!(openvex_statement(&ovx, PROVISIONAL_NA)
        .get("justification")
        .is_none());
    assert_eq!(
        cdx_vuln(&cdx, PROVISIONAL_NA)["analysis"]["state"],
        "in_triage"
    );
    assert!(csaf_vuln(&csaf, PROVISIONAL_NA)["product_status"]["under_investigation"].is_array());

    // RELEASED fix, but 1.0.0 still ships the component: affected, update recommended.
    let s = openvex_statement(&ovx, FIXED);
    assert_eq!(s["status"], "affected");
    assert!(
        s["action_statement"].as_str().unwrap().contains("1.1.0"),
        "{s}"
    );
    assert_eq!(cdx_vuln(&cdx, FIXED)["analysis"]["state"], "exploitable");
    assert_eq!(
        cdx_vuln(&cdx, FIXED)["analysis"]["response"],
        serde_json::json!(["update"])
    );
    assert_eq!(
        csaf_vuln(&csaf, FIXED)["remediations"][0]["category"],
        "vendor_fix"
    );

    // Every other ticket is NEW: under investigation.
    let (_, store) = scenario();
    for t in store
        .tickets()
        .unwrap()
        .iter()
        .filter(|t| t.product == PRODUCT && t.state == TicketState::New)
    {
        if active.contains(&t.vulnerability) {
            assert_eq!(
                openvex_statement(&ovx, &t.vulnerability)["status"],
                "under_investigation",
                "{}",
                t.id
            );
        }
    }

    // 1.1.0's superseded SBOM no longer has jackson-databind: fixed.
    let d = data("1.1.0");
    let ovx = exports::vex(&d, VexFormat::OpenVex);
    let active_110 = active_groups("1.1.0");
    assert!(!active_110.contains(FIXED));
    assert_eq!(openvex_statement(&ovx, FIXED)["status"], "fixed");
    assert_eq!(
        cdx_vuln(&exports::vex(&d, VexFormat::CycloneDx), FIXED)["analysis"]["state"],
        "resolved"
    );
    let csaf = exports::vex(&d, VexFormat::Csaf);
    assert_eq!(
        csaf_vuln(&csaf, FIXED)["product_status"]["fixed"],
        serde_json::json!(["demo-pump-1.1.0"])
    );
    // Other jackson-databind vulnerabilities were never fixed through a ticket: nothing stated.
    let retracted_only: BTreeSet<String> = release_findings(store, PRODUCT, "1.1.0", true)
        .unwrap()
        .into_iter()
        .filter(|f| f.status == HitStatus::Retracted)
        .map(|f| f.vulnerability.id)
        .filter(|g| !active_110.contains(g) && g != FIXED)
        .collect();
    assert!(!retracted_only.is_empty());
    for g in &retracted_only {
        assert!(
            !ovx["statements"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| &s["vulnerability"]["name"] == g),
            "{g}"
        );
    }

    // The security advisory: 1.0.0 known affected, 1.1.0 fixed; none for a not-affected ticket.
    let adv =
        exports::csaf_security_advisory(&data("1.0.0"), &format!("{PRODUCT}:{FIXED}")).unwrap();
    assert_eq!(adv["vulnerabilities"][0]["cve"], FIXED);
    assert_eq!(
        adv["vulnerabilities"][0]["product_status"]["known_affected"],
        serde_json::json!(["demo-pump-1.0.0"])
    );
    assert_eq!(
        adv["vulnerabilities"][0]["product_status"]["fixed"],
        serde_json::json!(["demo-pump-1.1.0"])
    );
    assert!(
        exports::csaf_security_advisory(&data("1.0.0"), &format!("{PRODUCT}:{SIGNED_NA}"))
            .is_none()
    );
    assert!(exports::csaf_security_advisory(&data("1.0.0"), "no:such").is_none());
}

/// Every product id a CSAF document uses, and every one it defines.
fn csaf_ids(doc: &Value) -> (BTreeSet<String>, Vec<String>) {
    fn walk_branches(b: &Value, out: &mut Vec<String>) {
        for br in b.as_array().into_iter().flatten() {
            if let Some(p) = br["product"]["product_id"].as_str() {
                out.push(p.to_string());
            }
            walk_branches(&br["branches"], out);
        }
    }
    let tree = &doc["product_tree"];
    let mut defined = Vec::new();
    walk_branches(&tree["branches"], &mut defined);
    for p in tree["full_product_names"].as_array().into_iter().flatten() {
        defined.push(p["product_id"].as_str().unwrap().to_string());
    }
    let mut used = BTreeSet::new();
    for r in tree["relationships"].as_array().into_iter().flatten() {
        defined.push(
            r["full_product_name"]["product_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        used.insert(r["product_reference"].as_str().unwrap().to_string());
        used.insert(
            r["relates_to_product_reference"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    for v in doc["vulnerabilities"].as_array().unwrap() {
        for (_, ids) in v["product_status"].as_object().unwrap() {
            used.extend(
                ids.as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_str().unwrap().to_string()),
            );
        }
        for key in ["flags", "threats", "remediations"] {
            for x in v[key].as_array().into_iter().flatten() {
                used.extend(
                    x["product_ids"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|i| i.as_str().unwrap().to_string()),
                );
            }
        }
        for s in v["scores"].as_array().into_iter().flatten() {
            used.extend(
                s["products"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_str().unwrap().to_string()),
            );
        }
    }
    (used, defined)
}

#[test]
fn csaf_product_ids_are_all_defined_once_and_statuses_do_not_contradict() {
    let mut docs = vec![
        exports::vex(&data("1.0.0"), VexFormat::Csaf),
        exports::vex(&data("1.1.0"), VexFormat::Csaf),
    ];
    docs.push(
        exports::csaf_security_advisory(&data("1.0.0"), &format!("{PRODUCT}:{FIXED}")).unwrap(),
    );
    for doc in &docs {
        let (used, defined) = csaf_ids(doc);
        let unique: BTreeSet<String> = defined.iter().cloned().collect();
        assert_eq!(
            unique.len(),
            defined.len(),
            "a product id defined twice (CSAF 6.1.2)"
        );
        let missing: Vec<&String> = used.difference(&unique).collect();
        assert!(
            missing.is_empty(),
            "undefined product ids (CSAF 6.1.1): {missing:?}"
        );
        assert!(used.len() > 1);
        // One status group per product and vulnerability (CSAF 6.1.6), and the revision history
        // is numbered 1..N with N the version (6.1.16, 6.1.21).
        for v in doc["vulnerabilities"].as_array().unwrap() {
            let mut seen = BTreeSet::new();
            for (_, ids) in v["product_status"].as_object().unwrap() {
                for i in ids.as_array().unwrap() {
                    assert!(
                        seen.insert(i.as_str().unwrap().to_string()),
                        "{i} in two status groups"
                    );
                }
            }
        }
        let t = &doc["document"]["tracking"];
        let numbers: Vec<String> = t["revision_history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["number"].as_str().unwrap().to_string())
            .collect();
        let expected: Vec<String> = (1..=numbers.len()).map(|n| n.to_string()).collect();
        assert_eq!(numbers, expected);
        assert_eq!(t["version"].as_str().unwrap(), numbers.last().unwrap());
    }
}

/// RFC 4180 lines into cells (quoted cells may hold commas, quotes and line breaks).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    rows
}

#[test]
fn report_lists_every_component_and_finding_with_decision_and_signer() {
    let d = data("1.0.0");
    let (_, store) = scenario();
    let components = store.components(&d.release.sha256).unwrap().unwrap();
    let findings = release_findings(store, PRODUCT, "1.0.0", true).unwrap();
    let csv = parse_csv(&exports::report_csv(&d));
    let head = &csv[0];
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let rows = &csv[1..];
    // Every component, by index and name.
    for (i, c) in components.iter().enumerate() {
        assert!(
            rows.iter().any(
                |r| r[col("component_index")] == i.to_string() && r[col("component")] == c.name
            ),
            "component {i} {} missing",
            c.name
        );
    }
    // Every finding, with its ticket's state, decision and signer.
    let tickets: BTreeMap<String, _> = store
        .tickets()
        .unwrap()
        .into_iter()
        .map(|t| (t.vulnerability.clone(), t))
        .collect();
    for f in &findings {
        let row = rows
            .iter()
            .find(|r| {
                r[col("component_index")] == f.component.index.to_string()
                    && r[col("vulnerability")] == f.vulnerability.id
            })
            .unwrap_or_else(|| {
                panic!(
                    "finding {} on {} missing",
                    f.vulnerability.id, f.component.name
                )
            });
        if let Some(t) = tickets.get(&f.vulnerability.id) {
            assert_eq!(row[col("ticket")], t.id);
            assert_eq!(row[col("priority")], t.decision.priority.as_str());
            assert_eq!(
                row[col("ticket_state")],
                serde_json::to_value(t.state).unwrap().as_str().unwrap()
            );
        }
    }
    let guava = rows
        .iter()
        .find(|r| r[col("vulnerability")] == SIGNED_NA)
        .unwrap();
    assert_eq!(guava[col("vex_status")], "not_affected");
    assert_eq!(guava[col("signed_by")], "regulatory");
    assert_eq!(
        guava[col("signoff_meaning")],
        "approved as risk owner and regulatory reviewer"
    );
    assert_eq!(guava[col("ticket_state")], "VEX_PUBLISHED");
    let provisional = rows
        .iter()
        .find(|r| r[col("vulnerability")] == PROVISIONAL_NA)
        .unwrap();
    assert_eq!(
        provisional[col("signed_by")],
        "not signed off (provisional)"
    );
    assert!(provisional[col("risk")].ends_with("(provisional)"));
    // HTML and Markdown carry the same content.
    let html = exports::report_html(&d);
    let markdown = exports::report_markdown(&d);
    for c in &components {
        assert!(
            html.contains(&c.name) && markdown.contains(&c.name.replace('_', "\\_")),
            "{}",
            c.name
        );
    }
    for f in &findings {
        assert!(html.contains(&f.vulnerability.id), "{}", f.vulnerability.id);
        assert!(markdown.contains(&f.vulnerability.id.replace('_', "\\_")));
    }
    assert!(
        html.contains("signed by <b>regulatory</b>")
            && markdown.contains("signed by **regulatory**")
    );
    assert!(!html.contains("<script"));
}

#[test]
fn exports_are_deterministic() {
    for release in ["1.0.0", "1.1.0"] {
        let (a, b) = (data(release), data(release));
        for f in [VexFormat::CycloneDx, VexFormat::OpenVex, VexFormat::Csaf] {
            assert_eq!(
                serde_json::to_string(&exports::vex(&a, f)).unwrap(),
                serde_json::to_string(&exports::vex(&b, f)).unwrap()
            );
        }
        assert_eq!(exports::report_csv(&a), exports::report_csv(&b));
        assert_eq!(exports::report_html(&a), exports::report_html(&b));
        // The version counts the audited changes of the release and its tickets.
        assert!(a.version() > 2, "{}", a.version());
        let cdx = exports::vex(&a, VexFormat::CycloneDx);
        assert_eq!(cdx["version"], a.version());
        assert_eq!(exports::vex(&a, VexFormat::OpenVex)["version"], a.version());
    }
    // The same release keeps its document identity; another release gets another one.
    let s = |r: &str| exports::vex(&data(r), VexFormat::CycloneDx)["serialNumber"].clone();
    assert_eq!(s("1.0.0"), s("1.0.0"));
    assert_ne!(s("1.0.0"), s("1.1.0"));
    assert!(
        exports::load(&scenario().1, PRODUCT, "9.9.9", now(), publisher())
            .unwrap()
            .is_none()
    );
}
