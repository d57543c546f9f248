//! Issue 3 from an air-gapped mirror: syncing the shared corpus (which is laid out as a soupwatch
//! mirror) must load every record of every feed, counted here straight from the source files; a
//! second sync must change nothing; a mirror holding only some feeds must work with warnings for
//! the rest; and a daemon started with `--mirror` on an empty data folder must sync at start-up.

mod common;
use common::*;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Ids a feed's source files hold, and how many records were read to find them.
#[derive(Debug, Default)]
struct Expected {
    ids: BTreeSet<String>,
    /// Ids of records that are withdrawn at first sight (reported as withdrawals, not as new).
    withdrawn: BTreeSet<String>,
    records: usize,
}

fn sorted_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for p in sorted_files(dir) {
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn add_osv_record(e: &mut Expected, bytes: &[u8]) {
    let v: Value = serde_json::from_slice(bytes).unwrap();
    let id = v["id"].as_str().unwrap().to_string();
    if !v["withdrawn"].is_null() {
        e.withdrawn.insert(id.clone());
    }
    e.ids.insert(id);
    e.records += 1;
}

/// `MIRROR/osv/<Ecosystem>/`: an `all.zip`, else loose `*.json` records.
fn expected_osv(mirror: &Path) -> Expected {
    let mut e = Expected::default();
    for eco in sorted_files(&mirror.join("osv"))
        .into_iter()
        .filter(|p| p.is_dir())
    {
        let zip = eco.join("all.zip");
        if zip.is_file() {
            let mut z = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
            for i in 0..z.len() {
                let mut f = z.by_index(i).unwrap();
                let mut data = Vec::new();
                f.read_to_end(&mut data).unwrap();
                add_osv_record(&mut e, &data);
            }
        } else {
            for f in sorted_files(&eco)
                .into_iter()
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
            {
                add_osv_record(&mut e, &std::fs::read(f).unwrap());
            }
        }
    }
    e
}

/// `MIRROR/rustsec/{crates,rust}/<package>/*.md`, ids from each front matter.
fn expected_rustsec(mirror: &Path) -> Expected {
    let mut e = Expected::default();
    let mut files = Vec::new();
    for sub in ["crates", "rust"] {
        files_under(&mirror.join("rustsec").join(sub), &mut files);
    }
    for p in files
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
    {
        let text = std::fs::read_to_string(p).unwrap();
        let id_line = text.lines().find(|l| l.starts_with("id = ")).unwrap();
        let id = id_line
            .trim_start_matches("id = ")
            .trim_matches('"')
            .to_string();
        if text.lines().any(|l| l.starts_with("withdrawn = ")) {
            e.withdrawn.insert(id.clone());
        }
        e.ids.insert(id);
        e.records += 1;
    }
    e
}

/// `MIRROR/nvd/*.json`: every CVE API 2.0 page (a document with `vulnerabilities`).
fn expected_nvd(mirror: &Path) -> Expected {
    let mut e = Expected::default();
    for f in sorted_files(&mirror.join("nvd"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
    {
        let v: Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        let Some(items) = v.get("vulnerabilities").and_then(Value::as_array) else {
            continue;
        };
        for item in items {
            let cve = &item["cve"];
            let id = cve["id"].as_str().unwrap().to_string();
            if cve["vulnStatus"] == "Rejected" {
                e.withdrawn.insert(id.clone());
            }
            e.ids.insert(id);
            e.records += 1;
        }
    }
    e
}

fn expected_kev(mirror: &Path) -> Expected {
    let v: Value = serde_json::from_slice(
        &std::fs::read(mirror.join("kev/known_exploited_vulnerabilities.json")).unwrap(),
    )
    .unwrap();
    let items = v["vulnerabilities"].as_array().unwrap();
    Expected {
        ids: items
            .iter()
            .map(|i| i["cveID"].as_str().unwrap().to_string())
            .collect(),
        withdrawn: BTreeSet::new(),
        records: items.len(),
    }
}

/// `MIRROR/epss/*.csv.gz`: every score row of every daily file.
fn expected_epss(mirror: &Path) -> Expected {
    let mut e = Expected::default();
    for f in sorted_files(&mirror.join("epss"))
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".csv.gz"))
    {
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(f).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        for line in text.lines().filter(|l| l.starts_with("CVE-")) {
            e.ids.insert(line.split(',').next().unwrap().to_string());
            e.records += 1;
        }
    }
    e
}

/// The ecosystems of the shipped OSV definition.
fn shipped_osv_ecosystems() -> Vec<String> {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("feeds/osv.toml"))
            .unwrap();
    let v: toml::Value = toml::from_str(&text).unwrap();
    v["ecosystems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect()
}

/// A config with the shipped feed definitions, no bundled snapshot and the given schedule flag.
fn write_config(dir: &Path, schedule: bool) -> PathBuf {
    let p = dir.join("soupwatch.toml");
    std::fs::write(
        &p,
        format!(
            "[feeds]\ndefinitions = {:?}\nsnapshot = {:?}\nschedule = {schedule}\n[log]\nfilter = \"warn\"\n",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("feeds").to_str().unwrap(),
            dir.join("no-snapshot").to_str().unwrap(),
        ),
    )
    .unwrap();
    p
}

/// `feeds sync --mirror M --format json`: (exit code, reports by feed, stderr).
fn sync(data: &Path, config: &Path, mirror: &Path) -> (i32, BTreeMap<String, Value>, String) {
    let (code, out, err) = cli(&[
        "feeds",
        "sync",
        "--data",
        data.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--mirror",
        mirror.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let list: Vec<Value> =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}\n{err}"));
    (
        code,
        list.into_iter()
            .map(|r| (r["feed"].as_str().unwrap().to_string(), r))
            .collect(),
        err,
    )
}

fn status(data: &Path, config: &Path) -> BTreeMap<String, Value> {
    let (code, out, err) = cli(&[
        "feeds",
        "status",
        "--data",
        data.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let list: Vec<Value> = serde_json::from_str(&out).unwrap();
    list.into_iter()
        .map(|f| (f["name"].as_str().unwrap().to_string(), f))
        .collect()
}

fn ids(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

/// Set equality that prints only the differences (the sets hold thousands of ids).
fn assert_same_ids(got: &BTreeSet<String>, want: &BTreeSet<String>, what: &str) {
    let missing: Vec<&String> = want.difference(got).collect();
    let extra: Vec<&String> = got.difference(want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: missing {missing:?}, unexpected {extra:?}"
    );
}

fn count(st: &Value) -> u64 {
    st["record_count"]
        .as_u64()
        .unwrap_or_else(|| panic!("no record_count: {st}"))
}

/// Everything the five feeds' source files in `mirror` hold.
fn expected_all(mirror: &Path) -> BTreeMap<&'static str, Expected> {
    BTreeMap::from([
        ("osv", expected_osv(mirror)),
        ("rustsec", expected_rustsec(mirror)),
        ("nvd", expected_nvd(mirror)),
        ("kev", expected_kev(mirror)),
        ("epss", expected_epss(mirror)),
    ])
}

#[test]
fn full_corpus_mirror_loads_every_record_and_a_resync_changes_nothing() {
    let mirror = corpus();
    let expected = expected_all(&mirror);
    // The corpus's own README states these sizes; a shrunken corpus would make this test weak.
    assert!(
        expected["osv"].ids.len() > 4000 && expected["rustsec"].ids.len() > 1200,
        "{expected:?}"
    );
    assert_eq!(expected["nvd"].ids.len(), 55);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), false);
    let data = dir.path().join("data");

    let (code, reports, err) = sync(&data, &config, &mirror);
    assert_eq!(code, 0, "{err}\n{reports:?}");
    for (feed, e) in &expected {
        let r = &reports[*feed];
        assert_eq!(r["ok"], true, "{r}");
        let rep = &r["report"];
        assert!(
            rep["origin"].as_str().unwrap().starts_with("mirror "),
            "{rep}"
        );
        assert_eq!(
            rep["records_read"].as_u64(),
            Some(e.records as u64),
            "{feed} records read"
        );
        match *feed {
            "kev" => assert_same_ids(&ids(&rep["kev_new"]), &e.ids, "kev new"),
            "epss" => assert!(
                rep["epss_changed"].as_u64().unwrap() >= e.ids.len() as u64,
                "{rep}"
            ),
            _ => {
                let ch = &rep["changes"];
                assert_same_ids(
                    &ids(&ch["withdrawn"]),
                    &e.withdrawn,
                    &format!("{feed} withdrawn"),
                );
                let mut seen = ids(&ch["new"]);
                seen.extend(ids(&ch["withdrawn"]));
                assert_same_ids(&seen, &e.ids, &format!("{feed} new and withdrawn"));
                assert_eq!(ch["changed"], serde_json::json!([]), "{feed}");
            }
        }
    }
    // Ecosystems the shipped definition lists but the corpus lacks are warnings, not failures.
    let osv_warnings = reports["osv"]["report"]["warnings"].to_string();
    let present: BTreeSet<String> = sorted_files(&mirror.join("osv"))
        .iter()
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for eco in shipped_osv_ecosystems()
        .iter()
        .filter(|e| !present.contains(*e))
    {
        assert!(
            osv_warnings.contains(&format!("/{eco}: not in the mirror")),
            "{eco} not warned: {osv_warnings}"
        );
    }

    let st = status(&data, &config);
    for (feed, e) in &expected {
        let s = &st[*feed];
        assert_eq!(count(s), e.ids.len() as u64, "{feed}: {s}");
        assert_eq!(s["last_error"], Value::Null, "{s}");
        assert_eq!(s["stale"], false, "{s}");
        assert!(
            s["origin"]
                .as_str()
                .unwrap()
                .contains(mirror.join(*feed).to_str().unwrap()),
            "{s}"
        );
    }

    // Nothing changed in the mirror: nothing is new, changed, withdrawn, newly exploited or rescored.
    let (code, reports, err) = sync(&data, &config, &mirror);
    assert_eq!(code, 0, "{err}");
    for feed in expected.keys() {
        let rep = &reports[*feed]["report"];
        assert_eq!(
            rep["changes"],
            serde_json::json!({"new": [], "changed": [], "withdrawn": []}),
            "{feed}: {rep}"
        );
        assert_eq!(rep["kev_new"], serde_json::json!([]), "{feed}");
        assert_eq!(rep["epss_changed"], 0, "{feed}");
    }
    let again = status(&data, &config);
    for feed in expected.keys() {
        assert_eq!(count(&again[*feed]), count(&st[*feed]), "{feed}");
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to).unwrap();
}

#[test]
fn partial_mirror_loads_what_is_there_and_warns_about_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mirror = dir.path().join("mirror");
    // Loose OSV records for one ecosystem, a bulk zip for another, and the KEV catalogue.
    for f in sorted_files(&corpus().join("osv/CRAN"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
    {
        copy(&f, &mirror.join("osv/CRAN").join(f.file_name().unwrap()));
    }
    copy(
        &corpus().join("osv-bulk/Hackage/all.zip"),
        &mirror.join("osv/Hackage/all.zip"),
    );
    copy(
        &corpus().join("kev/known_exploited_vulnerabilities.json"),
        &mirror.join("kev/known_exploited_vulnerabilities.json"),
    );
    let osv = expected_osv(&mirror);
    let kev = expected_kev(&mirror);
    assert!(osv.ids.len() > 40, "{osv:?}");

    let config = write_config(dir.path(), false);
    let data = dir.path().join("data");
    let (code, reports, err) = sync(&data, &config, &mirror);
    assert_eq!(
        code, 0,
        "a partial mirror is not a failure: {err}\n{reports:?}"
    );
    for feed in ["rustsec", "nvd", "epss"] {
        let r = &reports[feed];
        assert_eq!(r["ok"], true, "{r}");
        let w = r["report"]["warnings"].to_string();
        assert!(
            w.contains("not in the mirror") && w.contains(mirror.join(feed).to_str().unwrap()),
            "{feed}: {w}"
        );
    }
    let st = status(&data, &config);
    assert_eq!(count(&st["osv"]), osv.ids.len() as u64);
    assert_eq!(count(&st["kev"]), kev.ids.len() as u64);
    for feed in ["rustsec", "nvd", "epss"] {
        assert_eq!(count(&st[feed]), 0, "{feed}");
        assert_eq!(st[feed]["last_error"], Value::Null, "{feed}");
    }
    for feed in ["osv", "kev"] {
        assert_eq!(st[feed]["last_error"], Value::Null, "{feed}");
    }
}

#[test]
fn old_layout_epss_file_takes_its_score_date_from_the_file_name() {
    // The 2021 layout (`cve,epss`) states no date inside; the mirror names files by day.
    let name = "epss_scores-2021-04-14.csv.gz";
    let day = name
        .trim_start_matches("epss_scores-")
        .trim_end_matches(".csv.gz");
    let dir = tempfile::tempdir().unwrap();
    let mirror = dir.path().join("mirror");
    copy(
        &corpus().join("epss").join(name),
        &mirror.join("epss").join(name),
    );
    let config = write_config(dir.path(), false);
    let data = dir.path().join("data");
    let (code, _, err) = sync(&data, &config, &mirror);
    assert_eq!(code, 0, "{err}");
    let st = &status(&data, &config)["epss"];
    assert_eq!(count(st), expected_epss(&mirror).ids.len() as u64);
    // Was a bug (fixed): src/feeds/mod.rs sync_epss parses mirror files with `epss::parse_csv`, not
    // `epss::parse_csv_named(bytes, Some(file name))`, so old-layout scores get no score date
    // and the feed's newest record stays unknown.
    let newest = st["newest_record"]
        .as_str()
        .unwrap_or_else(|| panic!("no newest_record: {st}"));
    assert!(newest.starts_with(day), "{newest}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_with_mirror_on_an_empty_store_syncs_every_feed_at_start_up() {
    let mirror = corpus();
    let expected = tokio::task::spawn_blocking({
        let m = mirror.clone();
        move || expected_all(&m)
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // schedule = true and no snapshot: only the missed-run rule can load anything.
    let config = write_config(dir.path(), true);
    let data = dir.path().join("data");
    let token = make_token(&data, "viewer", "analyst");
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

    let deadline = Instant::now() + Duration::from_secs(60);
    let feeds: Vec<Value> = loop {
        let feeds: Vec<Value> = c
            .get(d.url("/api/v1/feeds"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(f) = feeds.iter().find(|f| !f["last_error"].is_null()) {
            panic!("feed failed at start-up: {f}\n{}", d.log());
        }
        if feeds.len() == expected.len() && feeds.iter().all(|f| !f["last_success"].is_null()) {
            break feeds;
        }
        assert!(
            Instant::now() < deadline,
            "feeds not synced within 60 s: {feeds:?}\n{}",
            d.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for f in &feeds {
        let name = f["name"].as_str().unwrap();
        assert_eq!(count(f), expected[name].ids.len() as u64, "{f}");
        assert!(
            f["origin"]
                .as_str()
                .unwrap()
                .contains(mirror.join(name).to_str().unwrap()),
            "{f}"
        );
        assert_eq!(f["stale"], false, "{f}");
    }
    let health: Value = c
        .get(d.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    let advisories =
        expected["osv"].ids.len() + expected["rustsec"].ids.len() + expected["nvd"].ids.len();
    assert_eq!(
        health["store"]["advisories"].as_u64(),
        Some(advisories as u64),
        "{health}"
    );
    d.stop();
}
