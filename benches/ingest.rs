//! Ingestion throughput on the largest SBOM of the shared corpus: `ingest::parse` (detect, schema
//! validation, normalisation, NTIA report) against a bare `serde_json::Value` parse of the same
//! bytes, the floor any JSON ingestion pays. Plain `fn main` (`harness = false`); run with
//! `cargo bench --bench ingest`. `SOUPWATCH_BENCH_ITERS` sets the iteration count (default 20).

use soupwatch::ingest::{parse, IngestOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn per_second(count: usize, iters: u32, elapsed: Duration) -> f64 {
    count as f64 * f64::from(iters) / elapsed.as_secs_f64()
}

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/sbom");
    let iters: u32 = std::env::var("SOUPWATCH_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let mut paths = Vec::new();
    files(&corpus, &mut paths);
    paths.sort_by_key(|p| std::cmp::Reverse(p.metadata().map(|m| m.len()).unwrap_or(0)));

    // The largest file that is an SBOM soupwatch accepts (schemas and malformed files are not).
    let strict = IngestOptions { strict: true };
    let lax = IngestOptions { strict: false };
    let Some((path, bytes, opts, components)) = paths.iter().find_map(|p| {
        let bytes = std::fs::read(p).ok()?;
        let (opts, sbom) = match parse(&bytes, None, &strict) {
            Ok(sbom) => (strict, sbom),
            Err(_) => (lax, parse(&bytes, None, &lax).ok()?),
        };
        let n = sbom.components.len() + sbom.subject.len();
        Some((p.clone(), bytes, opts, n))
    }) else {
        eprintln!("no SBOM found under {}", corpus.display());
        return;
    };
    println!(
        "file: {} ({} bytes, {components} components, strict={}), {iters} iterations",
        path.display(),
        bytes.len(),
        opts.strict
    );

    let start = Instant::now();
    for _ in 0..iters {
        let sbom = parse(&bytes, None, &opts).map(|s| s.components.len());
        std::hint::black_box(sbom.ok());
    }
    let ingest = start.elapsed();

    let start = Instant::now();
    for _ in 0..iters {
        let value = serde_json::from_slice::<serde_json::Value>(&bytes);
        std::hint::black_box(value.ok());
    }
    let bare = start.elapsed();

    let ingest_rate = per_second(components, iters, ingest);
    let bare_rate = per_second(components, iters, bare);
    println!(
        "ingest::parse          {:9.0} components/s ({:.2} ms/parse)",
        ingest_rate,
        ingest.as_secs_f64() * 1e3 / f64::from(iters)
    );
    println!(
        "serde_json::Value only {:9.0} components/s ({:.2} ms/parse)",
        bare_rate,
        bare.as_secs_f64() * 1e3 / f64::from(iters)
    );
    println!(
        "ratio: parse takes {:.2}x the bare Value parse (target: within 3x)",
        ingest.as_secs_f64() / bare.as_secs_f64()
    );
}
