//! Matching throughput on real data. Plain `fn main` (`harness = false`); run with
//! `cargo bench --bench matching`. Prints:
//!
//! (a) full re-match of a portfolio of 1,000 releases x 1,000 components (real package names
//!     and versions: OSV records' event and `versions` entries across ecosystems, SBOM purls of
//!     the corpus, NVD CPEs) against every advisory of the corpus mirror, on one core;
//! (b) one changed advisory to every affected release, for the advisory hitting the most
//!     releases and for the most-hitting single-package one: `match_advisory` over every
//!     component of every release, over only the instances an identity index names, and the
//!     store-backed path (`Matcher::run_pending` after an upsert, in a real `Store`);
//! (c) `soupwatch scan` of the largest shared SBOM against the whole corpus as a mirror: wall
//!     time and peak RSS (from `/usr/bin/time -v`, else `getrusage(RUSAGE_CHILDREN)`).
//!
//! `SOUPWATCH_BENCH_RELEASES` / `SOUPWATCH_BENCH_STORE_RELEASES` change the release counts.

use serde_json::Value;
use soupwatch::advisory::{Advisory, Source};
use soupwatch::matching::engine::{
    match_advisory, AdvisorySet, CompiledAdvisory, ComponentView, ViewCache,
};
use soupwatch::matching::identity::PackageKey;
use soupwatch::matching::service::Matcher;
use soupwatch::model::{Component, NtiaReport, ProductName, ReleaseName, SbomFormat};
use soupwatch::store::{AdvisoryWrite, NewRelease, ReleaseRecord, Store};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[path = "../tests/common/osv_purl.rs"]
mod osv_purl;
use osv_purl::purl_for;

const COMPONENTS_PER_RELEASE: usize = 1000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Real (purl) components from OSV records: every event and listed version of every package.
fn osv_components() -> Vec<Component> {
    let mut seen = BTreeSet::new();
    let mut paths = Vec::new();
    files(&corpus().join("osv"), &mut paths);
    paths.sort();
    for p in paths
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
    {
        let Ok(v) = serde_json::from_slice::<Value>(&std::fs::read(p).unwrap_or_default()) else {
            continue;
        };
        for af in v["affected"].as_array().into_iter().flatten() {
            let eco = af["package"]["ecosystem"].as_str().unwrap_or_default();
            let name = af["package"]["name"].as_str().unwrap_or_default();
            let mut vs: Vec<&str> = af["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for r in af["ranges"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| r["type"] != "GIT")
            {
                for e in r["events"].as_array().into_iter().flatten() {
                    if let Some(obj) = e.as_object() {
                        vs.extend(
                            obj.values()
                                .filter_map(Value::as_str)
                                .filter(|s| *s != "0" && *s != "*"),
                        );
                    }
                }
            }
            for ver in vs {
                if let Some(purl) = purl_for(eco, name, ver, af["package"]["purl"].as_str()) {
                    seen.insert((name.to_string(), ver.to_string(), purl));
                }
            }
        }
    }
    seen.into_iter()
        .map(|(name, version, purl)| Component {
            name,
            version: Some(version),
            purl: Some(purl),
            ..Component::default()
        })
        .collect()
}

fn collect_purls(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("purl", Value::String(s)) => {
                        out.insert(s.clone());
                    }
                    ("referenceLocator", Value::String(s)) if s.starts_with("pkg:") => {
                        out.insert(s.clone());
                    }
                    _ => collect_purls(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_purls(x, out)),
        _ => {}
    }
}

/// Every versioned purl found in the corpus SBOMs.
fn sbom_components() -> Vec<Component> {
    let mut paths = Vec::new();
    files(&corpus().join("sbom"), &mut paths);
    paths.sort();
    let mut purls = BTreeSet::new();
    for p in paths
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
    {
        if let Ok(v) = serde_json::from_slice::<Value>(&std::fs::read(p).unwrap_or_default()) {
            collect_purls(&v, &mut purls);
        }
    }
    purls
        .into_iter()
        .filter(|p| p.contains('@'))
        .map(|p| Component {
            name: p
                .rsplit('/')
                .next()
                .unwrap_or(&p)
                .split('@')
                .next()
                .unwrap_or_default()
                .to_string(),
            purl: Some(p),
            ..Component::default()
        })
        .collect()
}

/// CPE components at the versions NVD records name.
fn cpe_components(advisories: &[Advisory]) -> Vec<Component> {
    let mut out = BTreeSet::new();
    for a in advisories.iter().filter(|a| a.source == Source::Nvd) {
        for c in &a.configurations {
            for n in &c.nodes {
                for m in &n.cpe_match {
                    let mut fields: Vec<&str> = m.criteria.split(':').collect();
                    if fields.len() != 13 {
                        continue;
                    }
                    for v in [
                        &m.version_start_including,
                        &m.version_end_including,
                        &m.version_end_excluding,
                    ]
                    .into_iter()
                    .flatten()
                    {
                        if v.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') {
                            fields[5] = v;
                            out.insert(fields.join(":"));
                        }
                    }
                }
            }
        }
    }
    out.into_iter()
        .map(|cpe| Component {
            name: cpe.split(':').nth(4).unwrap_or_default().to_string(),
            version: cpe.split(':').nth(5).map(str::to_string),
            cpe: Some(cpe),
            ..Component::default()
        })
        .collect()
}

/// Components grouped by package (purl without version, else CPE vendor:product), so that a
/// release holds each package at most once, as a real SBOM does.
fn by_package(pool: &[Component]) -> Vec<Vec<Component>> {
    let mut groups: HashMap<String, Vec<Component>> = HashMap::new();
    for c in pool {
        let key = match (&c.purl, &c.cpe) {
            (Some(p), _) => p.split(['@', '?']).next().unwrap_or(p).to_string(),
            (None, Some(cpe)) => cpe.split(':').skip(2).take(3).collect::<Vec<_>>().join(":"),
            (None, None) => c.name.clone(),
        };
        groups.entry(key).or_default().push(c.clone());
    }
    let mut out: Vec<(String, Vec<Component>)> = groups.into_iter().collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter().map(|(_, v)| v).collect()
}

/// `k` distinct packages of `groups`, each at one of its versions.
fn pick(rng: &mut Rng, groups: &[Vec<Component>], k: usize, out: &mut Vec<Component>) {
    let mut idx: Vec<usize> = (0..groups.len()).collect();
    for i in 0..k.min(idx.len()) {
        let j = i + rng.below(idx.len() - i);
        idx.swap(i, j);
        let g = &groups[idx[i]];
        out.push(g[rng.below(g.len())].clone());
    }
}

/// 1,000 distinct packages per release: 200 named by OSV records (at versions the records
/// name, so many are affected), 750 from the corpus SBOMs' purls, 50 NVD CPE products.
fn portfolio(
    n: usize,
    osv: &[Component],
    sbom: &[Component],
    cpe: &[Component],
) -> Vec<Vec<Component>> {
    let (osv, sbom, cpe) = (by_package(osv), by_package(sbom), by_package(cpe));
    println!(
        "distinct packages: {} OSV, {} SBOM, {} CPE products",
        osv.len(),
        sbom.len(),
        cpe.len()
    );
    let mut rng = Rng(0x00c0_ffee);
    (0..n)
        .map(|_| {
            let mut r = Vec::with_capacity(COMPONENTS_PER_RELEASE);
            pick(&mut rng, &cpe, COMPONENTS_PER_RELEASE / 20, &mut r);
            pick(&mut rng, &osv, COMPONENTS_PER_RELEASE / 5, &mut r);
            let rest = COMPONENTS_PER_RELEASE - r.len();
            pick(&mut rng, &sbom, rest, &mut r);
            r
        })
        .collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    // ---------------- (a) full re-match of the portfolio ----------------
    let n_releases = env_usize("SOUPWATCH_BENCH_RELEASES", 1000);
    let t = Instant::now();
    let (advisories, warnings) =
        soupwatch::feeds::load_mirror_advisories(&corpus()).expect("load the corpus mirror");
    let load = t.elapsed();
    let t = Instant::now();
    let set = AdvisorySet::new(&advisories);
    let compile = t.elapsed();
    println!(
        "advisories: {} from the corpus mirror ({} warnings) loaded in {:.0} ms, compiled and indexed in {:.0} ms",
        advisories.len(),
        warnings.len(),
        ms(load),
        ms(compile)
    );
    let osv = osv_components();
    let sbom = sbom_components();
    let cpe = cpe_components(&advisories);
    println!(
        "component pools: {} OSV package versions, {} SBOM purls, {} NVD CPEs",
        osv.len(),
        sbom.len(),
        cpe.len()
    );
    let releases = portfolio(n_releases, &osv, &sbom, &cpe);
    let total_components = n_releases * COMPONENTS_PER_RELEASE;
    let view_of = |r: &[Component]| -> Vec<ComponentView> {
        r.iter()
            .enumerate()
            .map(|(i, c)| ComponentView::new(i, c))
            .collect()
    };
    let views: Vec<Vec<ComponentView>> = releases.iter().map(|r| view_of(r)).collect();
    println!(
        "(a) {n_releases} releases x {COMPONENTS_PER_RELEASE} components = {total_components} components vs {} advisories, one core (3 rounds; the machine is shared, so best and median):",
        set.len()
    );
    // Matching alone, over views built beforehand; then the daemon's shape, release by
    // release: view (purl/CPE/version parsing) and match, views dropped after each release.
    let mut match_rounds = Vec::new();
    let mut full_rounds = Vec::new();
    let (mut checks, mut hits, mut undetermined) = (0u64, 0usize, 0usize);
    let mut per_release_hits = Vec::with_capacity(n_releases);
    for round in 0..3 {
        let t = Instant::now();
        for v in &views {
            let r = set.match_release(v);
            if round == 0 {
                checks += r.checks;
                hits += r.hits.len();
                undetermined += r.undetermined.len();
                per_release_hits.push(r.hits);
            }
        }
        match_rounds.push(ms(t.elapsed()));
        let t = Instant::now();
        let mut n = 0;
        let mut cache = ViewCache::default();
        for r in &releases {
            let v: Vec<ComponentView> = r
                .iter()
                .enumerate()
                .map(|(i, c)| ComponentView::cached(i, c, &mut cache))
                .collect();
            n += set.match_release(&v).hits.len();
        }
        full_rounds.push(ms(t.elapsed()));
        assert_eq!(n, hits, "the same hits either way");
    }
    // Without sharing identities: every component's purl/CPE/version parsed again.
    let t = Instant::now();
    for r in &releases {
        std::hint::black_box(set.match_release(&view_of(r)).hits.len());
    }
    let unshared = ms(t.elapsed());
    let rate = |msv: f64| total_components as f64 / (msv / 1000.0) / 1e6;
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "    matching: best {:.0} ms, median {:.0} ms -> {:.2} M components/s (median {:.2}); {checks} engine checks (package entries + CPE candidates) -> {:.2} M checks/s; {hits} hits, {undetermined} undetermined",
        best(&match_rounds),
        median(&match_rounds),
        rate(best(&match_rounds)),
        rate(median(&match_rounds)),
        checks as f64 / (best(&match_rounds) / 1000.0) / 1e6
    );
    println!(
        "    views + matching, release by release, as a matcher pass does it (identities shared within the pass): best {:.0} ms, median {:.0} ms -> {:.2} M components/s (median {:.2})",
        best(&full_rounds),
        median(&full_rounds),
        rate(best(&full_rounds)),
        rate(median(&full_rounds))
    );
    println!(
        "    views + matching with every component parsed again: {unshared:.0} ms -> {:.2} M components/s",
        rate(unshared)
    );

    // The same portfolio without its CPE components: how much of (a) is NVD configurations.
    let pkg_views: Vec<Vec<ComponentView>> = releases
        .iter()
        .map(|r| {
            r.iter()
                .filter(|c| c.cpe.is_none())
                .enumerate()
                .map(|(i, c)| ComponentView::new(i, c))
                .collect()
        })
        .collect();
    let n_pkg: usize = pkg_views.iter().map(Vec::len).sum();
    let t = Instant::now();
    let pkg_hits: usize = pkg_views
        .iter()
        .map(|v| set.match_release(v).hits.len())
        .sum();
    let pkg_time = t.elapsed();
    println!(
        "    purl components only ({n_pkg}): {:.0} ms -> {:.2} M components/s, {pkg_hits} hits",
        ms(pkg_time),
        n_pkg as f64 / pkg_time.as_secs_f64() / 1e6
    );
    drop(pkg_views);

    // ---------------- (b) one changed advisory to every affected release ----------------
    // The real advisory hitting the most releases of the portfolio.
    let mut by_adv: HashMap<(String, Source), BTreeSet<usize>> = HashMap::new();
    for (ri, hs) in per_release_hits.iter().enumerate() {
        for h in hs {
            by_adv
                .entry((h.advisory_id.to_string(), h.source))
                .or_default()
                .insert(ri);
        }
    }
    let mut ranked: Vec<(&(String, Source), &BTreeSet<usize>)> = by_adv.iter().collect();
    ranked.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
    let find = |k: &(String, Source)| advisories.iter().find(|a| a.id == k.0 && a.source == k.1);
    let Some(top) = ranked.first().and_then(|(k, _)| find(k)) else {
        println!("(b) no advisory hit the portfolio");
        return;
    };
    // The common shape: one package entry (most GHSA/PYSEC/GO/RUSTSEC records).
    let single = ranked
        .iter()
        .filter_map(|(k, _)| find(k))
        .find(|a| a.affected.len() == 1)
        .unwrap_or(top);
    for adv in [top, single] {
        in_memory_change(adv, &views, &by_adv);
    }
    store_path(&advisories, &releases, &[top, single]);

    // ---------------- (c) soupwatch scan of the largest SBOM ----------------
    scan_largest();
}

/// `match_advisory` for one changed advisory over every release's views, and over only the
/// releases an identity index (package / CPE product -> releases) names.
fn in_memory_change(
    adv: &Advisory,
    views: &[Vec<ComponentView>],
    by_adv: &HashMap<(String, Source), BTreeSet<usize>>,
) {
    let n_releases = views.len();
    let hit_releases = by_adv
        .get(&(adv.id.clone(), adv.source))
        .map_or(0, BTreeSet::len);
    let iters = 10;
    let t = Instant::now();
    let mut n_hits = 0;
    for _ in 0..iters {
        let compiled = CompiledAdvisory::compile(adv);
        n_hits = views
            .iter()
            .map(|v| match_advisory(&compiled, v).hits.len())
            .sum::<usize>();
    }
    let brute = t.elapsed() / iters;
    // The instance index a store keeps: package identity -> (release, its components of that
    // package); CPE product -> (release, the release's CPE components, for AND configurations).
    let mut index: HashMap<&PackageKey, Vec<(usize, Vec<ComponentView>)>> = HashMap::new();
    let mut cpe_index: HashMap<(String, String), BTreeSet<usize>> = HashMap::new();
    let mut cpe_views: Vec<Vec<ComponentView>> = Vec::with_capacity(views.len());
    for (ri, v) in views.iter().enumerate() {
        let mut per_key: HashMap<&PackageKey, Vec<ComponentView>> = HashMap::new();
        for c in v {
            if let Some(k) = &c.key {
                per_key.entry(k).or_default().push(c.clone());
            }
            if let Some(vp) = c
                .cpe
                .as_ref()
                .and_then(soupwatch::matching::cpe::vendor_product)
            {
                cpe_index.entry(vp).or_default().insert(ri);
            }
        }
        for (k, vs) in per_key {
            index.entry(k).or_default().push((ri, vs));
        }
        cpe_views.push(v.iter().filter(|c| c.cpe.is_some()).cloned().collect());
    }
    let t = Instant::now();
    let mut indexed_hits = 0;
    let mut touched = 0;
    for _ in 0..iters {
        let compiled = CompiledAdvisory::compile(adv);
        let mut releases: BTreeSet<usize> = BTreeSet::new();
        indexed_hits = 0;
        let keys: BTreeSet<&PackageKey> = compiled.packages.iter().map(|p| &p.key).collect();
        for k in keys {
            for (ri, vs) in index.get(k).into_iter().flatten() {
                releases.insert(*ri);
                indexed_hits += match_advisory(&compiled, vs).hits.len();
            }
        }
        let mut cpe_releases: BTreeSet<usize> = BTreeSet::new();
        for vp in compiled.cpe_products() {
            cpe_releases.extend(cpe_index.get(&vp).into_iter().flatten());
        }
        for ri in &cpe_releases {
            indexed_hits += match_advisory(&compiled, &cpe_views[*ri]).hits.len();
        }
        releases.extend(cpe_releases);
        touched = releases.len();
    }
    let indexed = t.elapsed() / iters;
    assert_eq!(
        n_hits, indexed_hits,
        "the index path finds what the full pass finds"
    );
    println!(
        "(b) changed advisory {} ({}, {} package entries) hits {hit_releases} of {n_releases} releases ({n_hits} components):",
        adv.id,
        adv.source.as_str(),
        adv.affected.len()
    );
    println!(
        "    in memory: match_advisory over every component of all {n_releases} releases {:.3} ms; over only the indexed instances ({touched} releases) {:.3} ms",
        ms(brute),
        ms(indexed)
    );
}

/// The store-backed incremental path: a real `Store` with the corpus advisories and the
/// releases, matched by `Matcher`; then one advisory changes and `run_pending` brings every
/// affected release up to date.
fn store_path(advisories: &[Advisory], releases: &[Vec<Component>], changes: &[&Advisory]) {
    let n = env_usize("SOUPWATCH_BENCH_STORE_RELEASES", releases.len()).min(releases.len());
    let dir = std::env::temp_dir().join(format!("soupwatch-bench-matching-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open(&dir).expect("open store");
    let t = Instant::now();
    let writes: Vec<AdvisoryWrite> = advisories
        .iter()
        .map(|a| AdvisoryWrite {
            advisory: a.clone(),
            raw: serde_json::to_vec(a).unwrap_or_default(),
        })
        .collect();
    // Feed name per source, as the syncs would write them.
    for src in [Source::Osv, Source::Rustsec, Source::Nvd] {
        let w: Vec<AdvisoryWrite> = writes
            .iter()
            .filter(|w| w.advisory.source == src)
            .map(|w| AdvisoryWrite {
                advisory: w.advisory.clone(),
                raw: w.raw.clone(),
            })
            .collect();
        store.upsert_advisories(src.as_str(), &w).expect("upsert");
    }
    // As in the daemon: feeds synced first (advisories indexed, no releases yet)...
    let t_adv = Instant::now();
    Matcher::new(&store)
        .run_pending()
        .expect("advisory indexing pass");
    let adv_pass = t_adv.elapsed();
    // ...then the releases are uploaded and matched.
    let product = ProductName::parse("bench").expect("name");
    for (i, comps) in releases.iter().take(n).enumerate() {
        let bytes = serde_json::to_vec(comps).unwrap_or_default();
        use sha2::Digest;
        let sha = hex::encode(sha2::Sha256::digest(&bytes));
        let record = ReleaseRecord {
            product: product.clone(),
            release: ReleaseName::parse(&format!("r{i}")).expect("name"),
            revision: 1,
            format: SbomFormat::CyclonedxJson,
            spec_version: "1.5".into(),
            sha256: sha,
            size: bytes.len() as u64,
            uploaded_at: chrono::Utc::now(),
            uploaded_by: "bench".into(),
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
            .expect("put release");
    }
    let stored = t.elapsed();
    let t = Instant::now();
    let first = Matcher::new(&store)
        .run_pending()
        .expect("first matching pass");
    let first_time = t.elapsed();
    // Let sled's background flusher finish writing the first pass before timing single
    // changes (on a 2-core machine it otherwise competes with them).
    store.flush().expect("flush");
    std::thread::sleep(Duration::from_secs(3));
    println!(
        "    store: {} advisories stored and indexed, {n} releases stored, in {:.1} s (advisory pass {:.1} s); release matching pass {:.1} s ({} releases, {} advisories, {} hits)",
        advisories.len(),
        stored.as_secs_f64(),
        adv_pass.as_secs_f64(),
        first_time.as_secs_f64(),
        first.releases,
        first.advisories,
        first.new_hits
    );
    for top in changes {
        store.flush().expect("flush");
        std::thread::sleep(Duration::from_secs(1));
        // The change: the same record, `modified` one second later.
        let mut changed = (*top).clone();
        let mut per_change = Vec::new();
        let mut last = Default::default();
        for k in 1..=9 {
            changed.modified += chrono::Duration::seconds(1);
            let raw = serde_json::to_vec(&changed).unwrap_or_default();
            let t = Instant::now();
            let cs = store
                .upsert_advisories(
                    changed.source.as_str(),
                    &[AdvisoryWrite {
                        advisory: changed.clone(),
                        raw,
                    }],
                )
                .expect("upsert change");
            let upsert = t.elapsed();
            let t = Instant::now();
            last = Matcher::new(&store)
                .run_pending()
                .expect("incremental pass");
            let pass = t.elapsed();
            assert_eq!(cs.changed.len() + cs.new.len(), 1, "change {k} seen");
            per_change.push((upsert, pass));
        }
        let (u, p): (Vec<f64>, Vec<f64>) = per_change.iter().map(|(u, p)| (ms(*u), ms(*p))).unzip();
        let hits_now = store
            .hits_of_advisory(&top.id, top.source)
            .map(|h| h.len())
            .unwrap_or(0);
        let releases_hit: BTreeSet<String> = store
            .hits_of_advisory(&top.id, top.source)
            .map(|h| h.into_iter().map(|h| h.release).collect())
            .unwrap_or_default();
        println!(
            "    store-backed, {n} releases, {}: `modified` changed, evidence not: upsert {:.2} ms + Matcher::run_pending {:.2} ms (median of 9; all {:?} ms); {} advisory pass, {hits_now} hit records in {} releases",
            top.id,
            median(&u),
            median(&p),
            p.iter().map(|x| (x * 100.0).round() / 100.0).collect::<Vec<_>>(),
            last.advisories,
            releases_hit.len()
        );
        // The write-heavy changes: withdrawn (every hit retracted), then restored (every hit
        // active again, with new evidence records).
        for (what, withdrawn) in [
            (
                "withdrawn",
                Some(changed.modified + chrono::Duration::seconds(10)),
            ),
            ("restored", None),
        ] {
            changed.modified += chrono::Duration::seconds(20);
            changed.withdrawn = withdrawn;
            let raw = serde_json::to_vec(&changed).unwrap_or_default();
            let t = Instant::now();
            store
                .upsert_advisories(
                    changed.source.as_str(),
                    &[AdvisoryWrite {
                        advisory: changed.clone(),
                        raw,
                    }],
                )
                .expect("upsert change");
            let upsert = t.elapsed();
            let t = Instant::now();
            let run = Matcher::new(&store).run_pending().expect("pass");
            println!(
                "    store-backed, {n} releases, {} {what}: upsert {:.2} ms + Matcher::run_pending {:.2} ms ({} hits retracted, {} re-activated)",
                top.id,
                ms(upsert),
                ms(t.elapsed()),
                run.retracted,
                run.new_hits
            );
        }
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s.get(s.len() / 2).copied().unwrap_or(f64::NAN)
}

/// `soupwatch scan --mirror <corpus> --format json <largest SBOM>`, wall time and peak RSS.
fn scan_largest() {
    let mut paths = Vec::new();
    files(&corpus().join("sbom"), &mut paths);
    paths.sort_by_key(|p| std::cmp::Reverse(p.metadata().map(|m| m.len()).unwrap_or(0)));
    let lax = soupwatch::ingest::IngestOptions { strict: false };
    let Some((path, n)) = paths.iter().find_map(|p| {
        let bytes = std::fs::read(p).ok()?;
        let sbom = soupwatch::ingest::parse(&bytes, None, &lax).ok()?;
        Some((p.clone(), sbom.components.len()))
    }) else {
        println!("(c) no SBOM found");
        return;
    };
    let bin = env!("CARGO_BIN_EXE_soupwatch");
    let size = path.metadata().map(|m| m.len()).unwrap_or(0);
    let mirror = corpus();
    let args = [
        "scan",
        "--mirror",
        mirror.to_str().unwrap_or("."),
        "--format",
        "json",
        path.to_str().unwrap_or("."),
    ];
    let time_v = Path::new("/usr/bin/time").is_file();
    let t = Instant::now();
    let out = if time_v {
        std::process::Command::new("/usr/bin/time")
            .arg("-v")
            .arg(bin)
            .args(args)
            .output()
    } else {
        std::process::Command::new(bin).args(args).output()
    };
    let wall = t.elapsed();
    let Ok(out) = out else {
        println!("(c) could not run {bin}");
        return;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rss_kb = if time_v {
        stderr.lines().find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes):")
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
    } else {
        children_maxrss_kb()
    };
    let findings = serde_json::from_slice::<Value>(&out.stdout)
        .ok()
        .and_then(|v| v["results"][0]["summary"]["findings"].as_u64());
    println!(
        "(c) soupwatch scan of {} ({size} bytes, {n} components) against the whole corpus: exit {:?}, {:.2} s wall, peak RSS {} MiB ({}), {} findings",
        path.strip_prefix(corpus()).unwrap_or(&path).display(),
        out.status.code(),
        wall.as_secs_f64(),
        rss_kb.map_or("?".to_string(), |k| format!("{:.1}", k as f64 / 1024.0)),
        if time_v { "/usr/bin/time -v" } else { "getrusage(RUSAGE_CHILDREN)" },
        findings.map_or("?".into(), |f| f.to_string())
    );
}

/// Peak RSS of the largest waited-for child, from the C library's `getrusage` (Linux layout).
fn children_maxrss_kb() -> Option<u64> {
    #[repr(C)]
    struct Rusage {
        utime: [i64; 2],
        stime: [i64; 2],
        maxrss: i64,
        rest: [i64; 13],
    }
    extern "C" {
        fn getrusage(who: i32, usage: *mut Rusage) -> i32;
    }
    let mut r = Rusage {
        utime: [0; 2],
        stime: [0; 2],
        maxrss: 0,
        rest: [0; 13],
    };
    // SAFETY: `r` is a properly sized, writable rusage for Linux x86_64/aarch64; -1 = children.
    let rc = unsafe { getrusage(-1, &mut r) };
    (rc == 0).then_some(r.maxrss as u64)
}
