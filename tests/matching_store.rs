//! The store-backed matcher on real data, in a real sled store in a temp folder, without the
//! daemon: a release of real crates (each at a version its own RustSec record names as
//! `introduced`) against the corpus's RustSec advisories, which arrive twice (the OSV export and
//! the RustSec folder) and so form alias groups of two records. Checks what the incremental path
//! promises: a record whose `modified` moves without changing the evidence leaves its hits
//! untouched and raises no event but is recorded as re-decided; alerts go per alias group, not
//! per record, when records are withdrawn and restored one at a time.

use chrono::Duration;
use soupwatch::advisory::{Advisory, Source};
use soupwatch::matching::findings::release_findings;
use soupwatch::matching::service::Matcher;
use soupwatch::model::{Component, NtiaReport, ProductName, ReleaseName, SbomFormat};
use soupwatch::store::{
    AdvisoryWrite, EventKind, HitRecord, HitStatus, NewRelease, ReleaseRecord, Store,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}

fn upsert(store: &Store, a: &Advisory) {
    let feed = match a.source {
        Source::Rustsec => "rustsec",
        _ => "osv",
    };
    let cs = store
        .upsert_advisories(
            feed,
            &[AdvisoryWrite {
                advisory: a.clone(),
                raw: serde_json::to_vec(a).unwrap(),
            }],
        )
        .unwrap();
    assert_eq!(cs.len(), 1, "{} stored as a change", a.id);
}

fn put_release(store: &Store, comps: &[Component]) {
    let bytes = serde_json::to_vec(comps).unwrap();
    use sha2::Digest;
    let record = ReleaseRecord {
        product: ProductName::parse("pump").unwrap(),
        release: ReleaseName::parse("1.0").unwrap(),
        revision: 1,
        format: SbomFormat::CyclonedxJson,
        spec_version: "1.5".into(),
        sha256: hex::encode(sha2::Sha256::digest(&bytes)),
        size: bytes.len() as u64,
        uploaded_at: chrono::Utc::now(),
        uploaded_by: "test".into(),
        component_count: comps.len(),
        subject: Vec::new(),
        ntia: NtiaReport::default(),
        warnings: Vec::new(),
        supersedes: None,
    };
    store
        .put_release(&NewRelease {
            record,
            bytes: &bytes,
            components: comps,
            supersede_reason: None,
        })
        .unwrap();
}

/// Events of one kind about one subject, not yet routed (no notify worker runs here).
fn events(store: &Store, kind: EventKind, subject: &str) -> usize {
    store
        .unrouted_events(usize::MAX)
        .unwrap()
        .iter()
        .filter(|e| e.kind == kind && e.subject == subject)
        .count()
}

/// CVE-2023-4863 as NVD publishes it (libwebp before 1.3.2, among other products).
fn libwebp_cve() -> Advisory {
    let (advisories, _) = soupwatch::feeds::load_mirror_advisories(&corpus()).unwrap();
    advisories
        .into_iter()
        .find(|a| a.id == "CVE-2023-4863" && a.source == Source::Nvd)
        .expect("CVE-2023-4863 in the NVD corpus")
}

fn hit(store: &Store, id: &str, source: Source) -> HitRecord {
    let mut h = store.hits_of_advisory(id, source).unwrap();
    assert_eq!(h.len(), 1, "{id} {source:?} hits one component");
    h.remove(0)
}

#[test]
fn unchanged_evidence_is_not_rewritten_and_alerts_follow_the_alias_group() {
    let (advisories, _) = soupwatch::feeds::load_mirror_advisories(&corpus()).unwrap();
    let rust: Vec<&Advisory> = advisories
        .iter()
        .filter(|a| {
            a.withdrawn.is_none()
                && a.id.starts_with("RUSTSEC-")
                && (a.source == Source::Rustsec || a.source == Source::Osv)
        })
        .collect();
    // One component per crate, at a version its record names as `introduced` (so affected),
    // taken from the OSV export.
    let mut crates: BTreeMap<String, (String, String)> = BTreeMap::new();
    for a in rust.iter().filter(|a| a.source == Source::Osv) {
        if let [af] = a.affected.as_slice() {
            let introduced = af
                .ranges
                .iter()
                .flat_map(|r| &r.events)
                .find_map(|e| match e {
                    soupwatch::advisory::Event::Introduced(v) if v != "0" => Some(v.clone()),
                    _ => None,
                });
            if let Some(v) = introduced {
                crates
                    .entry(af.name.clone())
                    .or_insert_with(|| (v, a.id.clone()));
            }
        }
    }
    assert!(crates.len() > 50, "{} crates", crates.len());
    let comps: Vec<Component> = crates
        .iter()
        .map(|(name, (v, _))| Component {
            name: name.clone(),
            version: Some(v.clone()),
            purl: Some(format!("pkg:cargo/{name}@{v}")),
            ..Component::default()
        })
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("data")).unwrap();
    for a in &rust {
        upsert(&store, a);
    }
    put_release(&store, &comps);
    let first = Matcher::new(&store).run_pending().unwrap();
    assert!(first.new_hits > 50, "{first:?}");

    // A RUSTSEC id hit through both of its records on the same component.
    let hits = store.hits_of_release("pump", "1.0").unwrap();
    let mut sources: BTreeMap<(usize, String), BTreeSet<Source>> = BTreeMap::new();
    for h in hits.iter().filter(|h| h.status == HitStatus::Active) {
        sources
            .entry((h.component_index, h.advisory_id.clone()))
            .or_default()
            .insert(h.source);
    }
    let (_, id) = sources
        .iter()
        .find(|(_, s)| s.len() == 2)
        .map(|(k, _)| k.clone())
        .expect("a RUSTSEC id hit by both its OSV and its RustSec record");
    let group = store.alias_group(&id).unwrap().unwrap().0;
    let osv = rust
        .iter()
        .find(|a| a.id == id && a.source == Source::Osv)
        .map(|a| (*a).clone())
        .unwrap();
    let rsec = rust
        .iter()
        .find(|a| a.id == id && a.source == Source::Rustsec)
        .map(|a| (*a).clone())
        .unwrap();
    assert_eq!(events(&store, EventKind::ReleaseAffected, &group), 1);

    // `modified` moves, the evidence does not: the hit stays byte for byte, no event, and the
    // pass is recorded against the new version and shown on the finding.
    let before = hit(&store, &id, Source::Osv);
    let mut bumped = osv.clone();
    bumped.modified += Duration::days(1);
    upsert(&store, &bumped);
    let run = Matcher::new(&store).run_pending().unwrap();
    assert_eq!((run.advisories, run.new_hits, run.retracted), (1, 0, 0));
    assert_eq!(hit(&store, &id, Source::Osv), before);
    assert_eq!(before.advisory_modified, osv.modified);
    let evaluated = store.advisory_evaluated(&id, Source::Osv).unwrap().unwrap();
    assert_eq!(evaluated.modified, bumped.modified);
    let finding = release_findings(&store, "pump", "1.0", false)
        .unwrap()
        .into_iter()
        .find(|f| f.component.index == before.component_index && f.vulnerability.id == group)
        .expect("the finding");
    assert!(finding
        .evaluated
        .iter()
        .any(|e| e.advisory_id == id && e.source == Source::Osv && e.modified == bumped.modified));
    assert_eq!(events(&store, EventKind::ReleaseAffected, &group), 1);
    assert_eq!(events(&store, EventKind::FindingRetracted, &group), 0);

    // One record withdrawn: its hit is retracted, the other still holds the group: no alert.
    let mut w = bumped.clone();
    w.modified += Duration::days(1);
    w.withdrawn = Some(w.modified);
    upsert(&store, &w);
    let run = Matcher::new(&store).run_pending().unwrap();
    assert_eq!(run.retracted, 1);
    let h = hit(&store, &id, Source::Osv);
    assert_eq!(h.status, HitStatus::Retracted);
    assert!(h.retraction_reason.unwrap().contains("withdrawn"));
    assert_eq!(events(&store, EventKind::FindingRetracted, &group), 0);

    // The second record withdrawn: the group is gone from the release: one retraction alert.
    let mut w2 = rsec.clone();
    w2.modified += Duration::days(2);
    w2.withdrawn = Some(w2.modified);
    upsert(&store, &w2);
    Matcher::new(&store).run_pending().unwrap();
    assert_eq!(
        hit(&store, &id, Source::Rustsec).status,
        HitStatus::Retracted
    );
    assert_eq!(events(&store, EventKind::FindingRetracted, &group), 1);

    // Restored one at a time: the first brings the group back (one alert), the second does not.
    let mut r1 = w.clone();
    r1.modified += Duration::days(1);
    r1.withdrawn = None;
    upsert(&store, &r1);
    let run = Matcher::new(&store).run_pending().unwrap();
    assert_eq!(run.new_hits, 1);
    let restored = hit(&store, &id, Source::Osv);
    assert_eq!(restored.status, HitStatus::Active);
    assert_eq!(restored.advisory_modified, r1.modified);
    assert_eq!(events(&store, EventKind::ReleaseAffected, &group), 2);
    let mut r2 = w2.clone();
    r2.modified += Duration::days(1);
    r2.withdrawn = None;
    upsert(&store, &r2);
    Matcher::new(&store).run_pending().unwrap();
    assert_eq!(hit(&store, &id, Source::Rustsec).status, HitStatus::Active);
    assert_eq!(events(&store, EventKind::ReleaseAffected, &group), 2);
    assert_eq!(events(&store, EventKind::FindingRetracted, &group), 1);
}

/// A store indexed before index entries carried components (empty values, no `k` entries for
/// a release's CPEs) still matches a changed NVD record: the matcher reads the release itself.
#[test]
fn an_old_style_component_index_still_matches_cpes() {
    let webp = libwebp_cve();
    let comps = vec![
        Component {
            name: "zlib".into(),
            version: Some("1.3".into()),
            cpe: Some("cpe:2.3:a:zlib:zlib:1.3:*:*:*:*:*:*:*".into()),
            ..Component::default()
        },
        Component {
            name: "libwebp".into(),
            version: Some("1.3.1".into()),
            cpe: Some("cpe:2.3:a:webmproject:libwebp:1.3.1:*:*:*:*:*:*:*".into()),
            ..Component::default()
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("data")).unwrap();
    upsert(&store, &webp);
    put_release(&store, &comps);
    Matcher::new(&store).run_pending().unwrap();
    let before = hit(&store, &webp.id, Source::Nvd);
    assert_eq!(before.component_index, 1);
    assert_eq!(before.status, HitStatus::Active);

    // The index as an older soupwatch wrote it: package/CPE keys only, without values.
    let idx = |i: usize| format!("{i:06}");
    store
        .index_release(
            "pump",
            "1.0",
            &[
                (
                    soupwatch::store::key(&["c", "zlib", "zlib", "pump", "1.0", &idx(0)]),
                    Vec::new(),
                ),
                (
                    soupwatch::store::key(&["c", "webmproject", "libwebp", "pump", "1.0", &idx(1)]),
                    Vec::new(),
                ),
            ],
        )
        .unwrap();
    let mut changed = webp.clone();
    changed.modified += Duration::days(1);
    upsert(&store, &changed);
    let run = Matcher::new(&store).run_pending().unwrap();
    assert_eq!((run.advisories, run.retracted), (1, 0), "{run:?}");
    assert_eq!(hit(&store, &webp.id, Source::Nvd), before);

    // And a change that moves the bound below the component retracts it, with the reason.
    let mut fixed_earlier = changed.clone();
    fixed_earlier.modified += Duration::days(1);
    for c in &mut fixed_earlier.configurations {
        for n in &mut c.nodes {
            for m in &mut n.cpe_match {
                if m.criteria.contains(":webmproject:libwebp:") {
                    m.version_end_excluding = Some("1.3.0".into());
                }
            }
        }
    }
    upsert(&store, &fixed_earlier);
    let run = Matcher::new(&store).run_pending().unwrap();
    assert_eq!(run.retracted, 1, "{run:?}");
    let h = hit(&store, &webp.id, Source::Nvd);
    assert_eq!(h.status, HitStatus::Retracted);
    assert!(h
        .retraction_reason
        .unwrap()
        .contains("no longer in an affected range"));
}

/// A data folder written before component index format 2 has its releases queued once at
/// open, re-indexed by the matcher without rewriting a single hit, and not queued again.
#[test]
fn opening_an_older_store_requeues_its_releases_once() {
    let webp = libwebp_cve();
    let comps = vec![Component {
        name: "libwebp".into(),
        version: Some("1.3.1".into()),
        cpe: Some("cpe:2.3:a:webmproject:libwebp:1.3.1:*:*:*:*:*:*:*".into()),
        ..Component::default()
    }];
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = Store::open(&data).unwrap();
    upsert(&store, &webp);
    put_release(&store, &comps);
    Matcher::new(&store).run_pending().unwrap();
    let before = hit(&store, &webp.id, Source::Nvd);
    assert!(store.pending_releases().unwrap().is_empty());
    drop(store);

    // What an older soupwatch left: no index format mark.
    {
        let db = sled::Config::new()
            .path(data.join("db"))
            .mode(sled::Mode::LowSpace)
            .open()
            .unwrap();
        let removed = db
            .open_tree("meta")
            .unwrap()
            .remove("match_index_format")
            .unwrap();
        assert!(removed.is_some(), "the mark is where the store keeps it");
        db.flush().unwrap();
    }
    let store = Store::open(&data).unwrap();
    assert_eq!(
        store.pending_releases().unwrap(),
        vec![("pump".to_string(), "1.0".to_string())]
    );
    let run = Matcher::new(&store).run_pending().unwrap();
    assert_eq!((run.releases, run.new_hits, run.retracted), (1, 0, 0));
    assert_eq!(hit(&store, &webp.id, Source::Nvd), before);
    drop(store);
    let store = Store::open(&data).unwrap();
    assert!(store.pending_releases().unwrap().is_empty());
}
