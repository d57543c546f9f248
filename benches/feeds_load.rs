//! Feed load throughput on every OSV bulk export of the shared corpus
//! (`osv-bulk/<Ecosystem>/all.zip`), through soupwatch's own path: the capped unzip
//! (`feeds::archive::read_zip_json_entries`), the OSV parser (`advisory::osv::parse_record`) and
//! a full store load (`Store::upsert_advisories` into a fresh store), each against a bare
//! `serde_json::Value` parse of the same entries, the floor any JSON feed load pays.
//! Plain `fn main` (`harness = false`); run with `cargo bench --bench feeds_load`.
//! `SOUPWATCH_BENCH_ITERS` sets the parse iteration count (default 10; the store load runs 3).
// Under a libtest harness (no `[[bench]] harness = false` entry) `main` is not the entry point.
#![cfg_attr(test, allow(dead_code))]

use soupwatch::advisory::osv::parse_record;
use soupwatch::feeds::archive::{read_zip_json_entries, ArchiveLimits};
use soupwatch::store::{AdvisoryWrite, Store};
use std::path::Path;
use std::time::{Duration, Instant};

type Entries = Vec<(String, Vec<u8>)>;

fn rate(records: usize, iters: u32, elapsed: Duration) -> f64 {
    records as f64 * f64::from(iters) / elapsed.as_secs_f64()
}

fn time(iters: u32, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed()
}

fn unzip_all(zips: &[(String, Vec<u8>)], limits: &ArchiveLimits) -> Vec<Entries> {
    zips.iter()
        .map(|(eco, bytes)| {
            read_zip_json_entries(bytes, limits).unwrap_or_else(|e| panic!("{eco}: {e}"))
        })
        .collect()
}

fn bare(entries: &[Entries]) -> usize {
    entries
        .iter()
        .flatten()
        .filter(|(_, data)| {
            std::hint::black_box(serde_json::from_slice::<serde_json::Value>(data)).is_ok()
        })
        .count()
}

fn parse(entries: &[Entries]) -> usize {
    entries
        .iter()
        .flatten()
        .filter(|(_, data)| std::hint::black_box(parse_record(data)).is_ok())
        .count()
}

fn main() {
    let bulk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/osv-bulk");
    let iters: u32 = std::env::var("SOUPWATCH_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let mut dirs: Vec<_> = match std::fs::read_dir(&bulk) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            eprintln!("cannot read {}: {e}", bulk.display());
            return;
        }
    };
    dirs.sort();
    let zips: Vec<(String, Vec<u8>)> = dirs
        .iter()
        .filter_map(|d| {
            let bytes = std::fs::read(d.join("all.zip")).ok()?;
            Some((d.file_name()?.to_string_lossy().into_owned(), bytes))
        })
        .collect();
    let limits = ArchiveLimits::default();
    let entries = unzip_all(&zips, &limits);
    let records: usize = entries.iter().map(Vec::len).sum();
    let zip_bytes: usize = zips.iter().map(|(_, b)| b.len()).sum();
    let json_bytes: usize = entries.iter().flatten().map(|(_, d)| d.len()).sum();
    let parsed = parse(&entries);
    println!(
        "{} ecosystems, {records} records ({parsed} parse), {:.1} MB zipped, {:.1} MB JSON; {iters} iterations",
        zips.len(),
        zip_bytes as f64 / 1e6,
        json_bytes as f64 / 1e6
    );

    let unzip_t = time(iters, || {
        std::hint::black_box(unzip_all(&zips, &limits));
    });
    let bare_t = time(iters, || {
        std::hint::black_box(bare(&entries));
    });
    let parse_t = time(iters, || {
        std::hint::black_box(parse(&entries));
    });
    let unzip_bare_t = time(iters, || {
        std::hint::black_box(bare(&unzip_all(&zips, &limits)));
    });
    let unzip_parse_t = time(iters, || {
        std::hint::black_box(parse(&unzip_all(&zips, &limits)));
    });

    // The whole feed path into a fresh store per run: unzip, parse, upsert (transactions, alias
    // groups, match queue, flushes).
    let store_iters = 3;
    let mut store_t = Duration::ZERO;
    for _ in 0..store_iters {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => {
                eprintln!("no temp dir: {e}");
                return;
            }
        };
        let store = match Store::open(dir.path()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("cannot open a store: {e}");
                return;
            }
        };
        let start = Instant::now();
        for batch in unzip_all(&zips, &limits) {
            let writes: Vec<AdvisoryWrite> = batch
                .into_iter()
                .filter_map(|(_, raw)| {
                    parse_record(&raw)
                        .ok()
                        .map(|advisory| AdvisoryWrite { advisory, raw })
                })
                .collect();
            if let Err(e) = store.upsert_advisories("osv", &writes) {
                eprintln!("store load failed: {e}");
                return;
            }
        }
        store_t += start.elapsed();
        assert_eq!(
            store.feed_record_count("osv") as usize,
            parsed,
            "every parsed record is stored"
        );
    }

    let line = |what: &str, t: Duration, n: u32| {
        println!(
            "{what:<34} {:>10.0} records/s ({:.1} ms per pass)",
            rate(records, n, t),
            t.as_secs_f64() * 1e3 / f64::from(n)
        );
    };
    line("unzip (read_zip_json_entries)", unzip_t, iters);
    line("serde_json::Value (bare)", bare_t, iters);
    line("osv::parse_record", parse_t, iters);
    line("unzip + serde_json::Value", unzip_bare_t, iters);
    line("unzip + osv::parse_record", unzip_parse_t, iters);
    line("unzip + parse + store upsert", store_t, store_iters);
    println!(
        "ratio parse/bare: {:.2}x (entries), {:.2}x (with unzip); store load/bare: {:.2}x (target: parse within 2x)",
        parse_t.as_secs_f64() / bare_t.as_secs_f64(),
        unzip_parse_t.as_secs_f64() / unzip_bare_t.as_secs_f64(),
        (store_t.as_secs_f64() / f64::from(store_iters)) / (bare_t.as_secs_f64() / f64::from(iters)),
    );
}
