//! Issue 3 over real HTTP: a test server on 127.0.0.1 serves the real feed files of the shared
//! corpus (OSV bulk zips, a RustSec repository archive built from the corpus in GitHub's layout,
//! the NVD CVE API 2.0 with paging and lastModified windows, the KEV catalogue, an EPSS `.csv.gz`)
//! and injects faults that each test switches at run time. The real `soupwatch` binary syncs from
//! it. After every fault the last good data must still be in the store, `feeds status` must name
//! what went wrong, and the CLI must exit 1 naming the feed.

mod common;
use common::*;

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::Router;
use chrono::{DateTime, Duration as ChronoDuration, NaiveDateTime, Utc};
use serde_json::{json, Value};
use soupwatch::advisory::Source;
use soupwatch::store::Store;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Small real ecosystems, so each OSV test syncs in well under a second.
const SMALL_ECOSYSTEMS: [&str; 3] = ["CRAN", "Hackage", "Julia"];
/// Uncompressed size of the bomb entry: far past the default 64 MiB per-entry cap.
const BOMB_MIB: u32 = 300;

// ---------------------------------------------------------------------------------------------
// The feed server

/// A fault the server injects into the responses whose `path?query` contains a pattern.
#[derive(Clone, Debug)]
enum Fault {
    /// Every matching request gets this status.
    Status(u16),
    /// The next `n` matching requests get this status; then normal service.
    StatusTimes(u16, usize),
    /// The next `times` matching requests get 429 with `Retry-After: secs`.
    TooManyRequests { secs: u64, times: usize },
    /// Headers are sent only after this delay.
    Delay(Duration),
    /// The first half of the real document with a matching Content-Length and the real ETag
    /// (a cut copy labelled as the good one), whatever validators the client sent.
    Truncate,
    /// This body instead of the document.
    Replace(Arc<Vec<u8>>),
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
struct Hit {
    path: String,
    query: BTreeMap<String, String>,
    if_none_match: Option<String>,
    status: u16,
    at: Instant,
}

#[derive(Default)]
struct ServerState {
    /// path -> document.
    docs: Mutex<HashMap<String, Arc<Vec<u8>>>>,
    /// The NVD records (`{"cve": {...}}` items) behind `/nvd`; tests edit `lastModified`.
    nvd: Mutex<Vec<Value>>,
    fault: Mutex<Option<(String, Fault)>>,
    hits: Mutex<Vec<Hit>>,
    /// NVD requests whose lastModified window broke the API's rules (> 120 days, one bound).
    nvd_violations: Mutex<Vec<String>>,
}

struct Server {
    base: String,
    state: Arc<ServerState>,
}

impl Server {
    async fn start() -> Server {
        let state = Arc::new(ServerState::default());
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server {
            base: format!("http://{addr}"),
            state,
        }
    }

    fn serve(&self, path: &str, bytes: Arc<Vec<u8>>) {
        self.state
            .docs
            .lock()
            .unwrap()
            .insert(path.to_string(), bytes);
    }

    fn fault(&self, pattern: &str, fault: Fault) {
        *self.state.fault.lock().unwrap() = Some((pattern.to_string(), fault));
    }

    fn clear_fault(&self) {
        *self.state.fault.lock().unwrap() = None;
    }

    /// The requests since the last call.
    fn take_hits(&self) -> Vec<Hit> {
        std::mem::take(&mut *self.state.hits.lock().unwrap())
    }

    fn etag(&self, path: &str) -> String {
        etag_of(&self.state.docs.lock().unwrap()[path])
    }
}

fn etag_of(bytes: &[u8]) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    format!("\"{:016x}-{}\"", h.finish(), bytes.len())
}

fn status_only(status: u16) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .body(Body::empty())
        .unwrap()
}

fn body(bytes: Vec<u8>, etag: &str) -> Response {
    // A full body: hyper sends a Content-Length equal to these bytes.
    Response::builder()
        .status(StatusCode::OK)
        .header(header::ETAG, etag)
        .body(Body::from(bytes))
        .unwrap()
}

async fn handle(State(st): State<Arc<ServerState>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let raw_query = req.uri().query().unwrap_or("").to_string();
    let query: BTreeMap<String, String> = Query::try_from_uri(req.uri())
        .map(|q| q.0)
        .unwrap_or_default();
    let if_none_match = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (resp, delay) = decide(&st, &path, &raw_query, &query, if_none_match.as_deref());
    // Logged on arrival: a client that times out still counts as an attempt.
    st.hits.lock().unwrap().push(Hit {
        path,
        query,
        if_none_match,
        status: resp.status().as_u16(),
        at: Instant::now(),
    });
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    resp
}

fn decide(
    st: &ServerState,
    path: &str,
    raw_query: &str,
    query: &BTreeMap<String, String>,
    if_none_match: Option<&str>,
) -> (Response, Option<Duration>) {
    let target = format!("{path}?{raw_query}");
    let mut delay = None;
    let mut truncate = false;
    if let Some((pattern, fault)) = st.fault.lock().unwrap().as_mut() {
        if target.contains(pattern.as_str()) {
            match fault {
                Fault::Status(s) => return (status_only(*s), None),
                Fault::StatusTimes(s, n) if *n > 0 => {
                    *n -= 1;
                    return (status_only(*s), None);
                }
                Fault::TooManyRequests { secs, times } if *times > 0 => {
                    *times -= 1;
                    let r = Response::builder()
                        .status(StatusCode::TOO_MANY_REQUESTS)
                        .header(header::RETRY_AFTER, secs.to_string())
                        .body(Body::empty())
                        .unwrap();
                    return (r, None);
                }
                Fault::Delay(d) => delay = Some(*d),
                Fault::Truncate => truncate = true,
                Fault::Replace(b) => return (body(b.to_vec(), &etag_of(b)), None),
                Fault::StatusTimes(..) | Fault::TooManyRequests { .. } => {}
            }
        }
    }
    if path == "/nvd" {
        return (nvd_page(st, query), delay);
    }
    let Some(doc) = st.docs.lock().unwrap().get(path).cloned() else {
        return (status_only(404), delay);
    };
    let etag = etag_of(&doc);
    if truncate {
        return (body(doc[..doc.len() / 2].to_vec(), &etag), delay);
    }
    if if_none_match == Some(etag.as_str()) {
        let r = Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .header(header::ETAG, &etag)
            .body(Body::empty())
            .unwrap();
        return (r, delay);
    }
    (body(doc.to_vec(), &etag), delay)
}

fn nvd_last_modified(item: &Value) -> DateTime<Utc> {
    // Most NVD records omit the zone; some end in `Z`. Both are UTC.
    let s = item["cve"]["lastModified"]
        .as_str()
        .unwrap()
        .trim_end_matches('Z');
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .unwrap()
        .and_utc()
}

/// NVD CVE API 2.0 paging and lastModified filtering over the served records.
fn nvd_page(st: &ServerState, q: &BTreeMap<String, String>) -> Response {
    let num = |k: &str, default: usize| q.get(k).map_or(Some(default), |v| v.parse().ok());
    let (Some(per_page), Some(start)) = (num("resultsPerPage", 2000), num("startIndex", 0)) else {
        return status_only(400);
    };
    if per_page == 0 || per_page > 2000 {
        return status_only(400);
    }
    let window = match (q.get("lastModStartDate"), q.get("lastModEndDate")) {
        (None, None) => None,
        (Some(a), Some(b)) => match (
            DateTime::parse_from_rfc3339(a),
            DateTime::parse_from_rfc3339(b),
        ) {
            (Ok(a), Ok(b)) => Some((a.to_utc(), b.to_utc())),
            _ => {
                st.nvd_violations
                    .lock()
                    .unwrap()
                    .push(format!("unparsable window {a} .. {b}"));
                return status_only(400);
            }
        },
        _ => {
            st.nvd_violations
                .lock()
                .unwrap()
                .push(format!("one-sided window {q:?}"));
            return status_only(400);
        }
    };
    if let Some((a, b)) = window {
        if b < a || b - a > ChronoDuration::days(120) {
            st.nvd_violations
                .lock()
                .unwrap()
                .push(format!("window {a} .. {b}"));
            // What NVD answers to a range over 120 days.
            return status_only(404);
        }
    }
    let records = st.nvd.lock().unwrap();
    let matching: Vec<&Value> = records
        .iter()
        .filter(|r| {
            window.is_none_or(|(a, b)| {
                let m = nvd_last_modified(r);
                a <= m && m <= b
            })
        })
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(per_page)
        .map(|v| (*v).clone())
        .collect();
    let doc = json!({
        "resultsPerPage": page.len(),
        "startIndex": start,
        "totalResults": matching.len(),
        "format": "NVD_CVE",
        "version": "2.0",
        "timestamp": Utc::now().format("%Y-%m-%dT%H:%M:%S%.3f").to_string(),
        "vulnerabilities": page,
    });
    body(serde_json::to_vec(&doc).unwrap(), "\"nvd\"")
}

// ---------------------------------------------------------------------------------------------
// Real documents and the bomb

fn read(rel: &str) -> Arc<Vec<u8>> {
    Arc::new(std::fs::read(corpus().join(rel)).unwrap())
}

fn osv_zip(eco: &str) -> Arc<Vec<u8>> {
    read(&format!("osv-bulk/{eco}/all.zip"))
}

/// id -> upstream bytes of every entry of a real OSV bulk zip, read with the `zip` crate.
fn osv_zip_records(eco: &str) -> BTreeMap<String, Vec<u8>> {
    let bytes = osv_zip(eco);
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        let v: Value = serde_json::from_slice(&data).unwrap();
        out.insert(v["id"].as_str().unwrap().to_string(), data);
    }
    out
}

fn osv_ids(ecosystems: &[&str]) -> BTreeSet<String> {
    ecosystems
        .iter()
        .flat_map(|e| osv_zip_records(e).into_keys())
        .collect()
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The corpus's RustSec database as GitHub serves `archive/refs/heads/main.zip`: everything under
/// one top folder `advisory-db-main/`, folder entries included.
fn rustsec_zip() -> Arc<Vec<u8>> {
    static ZIP: OnceLock<Arc<Vec<u8>>> = OnceLock::new();
    ZIP.get_or_init(|| {
        let root = corpus().join("rustsec");
        let mut files = Vec::new();
        files_under(&root, &mut files);
        files.sort();
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let mut dirs = BTreeSet::new();
        for f in files {
            let rel = f.strip_prefix(&root).unwrap().to_str().unwrap().to_string();
            let mut prefix = String::from("advisory-db-main/");
            if dirs.insert(prefix.clone()) {
                w.add_directory(prefix.as_str(), opts).unwrap();
            }
            let parts: Vec<&str> = rel.split('/').collect();
            for part in &parts[..parts.len() - 1] {
                prefix.push_str(part);
                prefix.push('/');
                if dirs.insert(prefix.clone()) {
                    w.add_directory(prefix.as_str(), opts).unwrap();
                }
            }
            w.start_file(format!("advisory-db-main/{rel}"), opts)
                .unwrap();
            w.write_all(&std::fs::read(&f).unwrap()).unwrap();
        }
        Arc::new(w.finish().unwrap().into_inner())
    })
    .clone()
}

/// Ids of the corpus's RustSec advisories, read from each file's front matter: (all, withdrawn).
fn rustsec_ids_split() -> (BTreeSet<String>, BTreeSet<String>) {
    let mut files = Vec::new();
    for sub in ["crates", "rust"] {
        files_under(&corpus().join("rustsec").join(sub), &mut files);
    }
    let mut all = BTreeSet::new();
    let mut withdrawn = BTreeSet::new();
    for p in files
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
    {
        let text = std::fs::read_to_string(p).unwrap();
        let line = text.lines().find(|l| l.starts_with("id = ")).unwrap();
        let id = line
            .trim_start_matches("id = ")
            .trim_matches('"')
            .to_string();
        if text.lines().any(|l| l.starts_with("withdrawn = ")) {
            withdrawn.insert(id.clone());
        }
        all.insert(id);
    }
    (all, withdrawn)
}

fn rustsec_ids() -> BTreeSet<String> {
    rustsec_ids_split().0
}

/// `mib` MiB of zeros as raw deflate, built from one sync-flushed MiB repeated (every copy only
/// refers back into zeros), so a 300 MiB entry costs milliseconds to make. (data, crc, size)
fn deflated_zeros(mib: u32) -> (Vec<u8>, u32, u32) {
    let zeros = vec![0u8; 1 << 20];
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&zeros).unwrap();
    enc.flush().unwrap(); // sync flush: byte-aligned, not final
    let chunk = enc.get_ref().clone();
    let mut one = flate2::Crc::new();
    one.update(&zeros);
    let mut crc = flate2::Crc::new();
    let mut data = Vec::with_capacity(chunk.len() * mib as usize + 2);
    for _ in 0..mib {
        data.extend_from_slice(&chunk);
        crc.combine(&one);
    }
    data.extend_from_slice(&[0x03, 0x00]); // empty final block
    (data, crc.sum(), crc.amount())
}

/// A valid one-entry zip whose entry inflates to `mib` MiB of zeros.
fn bomb_zip(name: &str, mib: u32) -> Vec<u8> {
    let (payload, crc, size) = deflated_zeros(mib);
    let name = name.as_bytes();
    let fields = |buf: &mut Vec<u8>| {
        buf.extend_from_slice(&0u16.to_le_bytes()); // flags
        buf.extend_from_slice(&8u16.to_le_bytes()); // deflate
        buf.extend_from_slice(&0u16.to_le_bytes()); // time
        buf.extend_from_slice(&0x21u16.to_le_bytes()); // date 1980-01-01
        buf.extend_from_slice(&crc.to_le_bytes());
        buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        buf.extend_from_slice(&size.to_le_bytes());
        buf.extend_from_slice(&(name.len() as u16).to_le_bytes());
        buf.extend_from_slice(&0u16.to_le_bytes()); // extra
    };
    let mut out = Vec::new();
    out.extend_from_slice(&0x04034b50u32.to_le_bytes());
    out.extend_from_slice(&20u16.to_le_bytes());
    fields(&mut out);
    out.extend_from_slice(name);
    out.extend_from_slice(&payload);
    let cd_offset = out.len() as u32;
    let mut cd = Vec::new();
    cd.extend_from_slice(&0x02014b50u32.to_le_bytes());
    cd.extend_from_slice(&((3u16 << 8) | 20).to_le_bytes());
    cd.extend_from_slice(&20u16.to_le_bytes());
    fields(&mut cd);
    cd.extend_from_slice(&[0; 6]); // comment len, disk, internal attributes
    cd.extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
    cd.extend_from_slice(&0u32.to_le_bytes()); // local header offset
    cd.extend_from_slice(name);
    out.extend_from_slice(&cd);
    out.extend_from_slice(&0x06054b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&(cd.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

// ---------------------------------------------------------------------------------------------
// One test's world: server, definitions, config, data folder

struct Env {
    _dir: tempfile::TempDir,
    root: PathBuf,
    data: PathBuf,
    config: PathBuf,
    server: Server,
}

/// What `feeds sync --format json` said.
#[derive(Debug)]
struct SyncRun {
    code: i32,
    reports: Vec<Value>,
    stderr: String,
    elapsed: Duration,
}

impl SyncRun {
    fn report(&self) -> &Value {
        assert_eq!(self.reports.len(), 1, "{self:?}");
        &self.reports[0]
    }
}

impl Env {
    async fn new(retries: u32, timeout_secs: u64) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        std::fs::create_dir_all(root.join("defs")).unwrap();
        let config = root.join("soupwatch.toml");
        std::fs::write(
            &config,
            format!(
                "[feeds]\ndefinitions = {:?}\nsnapshot = {:?}\nschedule = false\n\
                 fetch_timeout_secs = {timeout_secs}\nfetch_retries = {retries}\nfetch_backoff_ms = 10\n\
                 max_download_bytes = 1073741824\n[log]\nfilter = \"warn\"\n",
                root.join("defs").to_str().unwrap(),
                root.join("no-snapshot").to_str().unwrap(),
            ),
        )
        .unwrap();
        Env {
            data: root.join("data"),
            root,
            config,
            server: Server::start().await,
            _dir: dir,
        }
    }

    fn def(&self, name: &str, body: &str) {
        std::fs::write(
            self.root.join("defs").join(format!("{name}.toml")),
            format!(
                "name = \"{name}\"\nschedule = \"0 0 3 * * *\"\nstale_after_hours = 26\n{body}"
            ),
        )
        .unwrap();
    }

    /// An OSV feed over `ecosystems`, each served from the corpus's bulk zip.
    fn osv(&self, ecosystems: &[&str]) {
        for e in ecosystems {
            self.server.serve(&format!("/osv/{e}/all.zip"), osv_zip(e));
        }
        let list: Vec<String> = ecosystems.iter().map(|e| format!("{e:?}")).collect();
        self.def(
            "osv",
            &format!(
                "kind = \"osv\"\nurl = \"{}/osv\"\necosystems = [{}]\n",
                self.server.base,
                list.join(", ")
            ),
        );
    }

    async fn sync(&self, feed: &str) -> SyncRun {
        let args = [
            "feeds".to_string(),
            "sync".into(),
            "--data".into(),
            self.data.display().to_string(),
            "--config".into(),
            self.config.display().to_string(),
            "--feed".into(),
            feed.into(),
            "--format".into(),
            "json".into(),
        ];
        let clock = Instant::now();
        let (code, out, stderr) = tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            cli(&a)
        })
        .await
        .unwrap();
        let reports: Vec<Value> = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("sync stdout is not JSON ({e}): {out}\nstderr: {stderr}"));
        SyncRun {
            code,
            reports,
            stderr,
            elapsed: clock.elapsed(),
        }
    }

    /// `feeds status --format json`, by feed name.
    async fn status(&self) -> BTreeMap<String, Value> {
        let args = [
            "feeds".to_string(),
            "status".into(),
            "--data".into(),
            self.data.display().to_string(),
            "--config".into(),
            self.config.display().to_string(),
            "--format".into(),
            "json".into(),
        ];
        let (code, out, err) = tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            cli(&a)
        })
        .await
        .unwrap();
        assert_eq!(code, 0, "feeds status failed: {err}");
        let list: Vec<Value> = serde_json::from_str(&out).unwrap();
        list.into_iter()
            .map(|f| (f["name"].as_str().unwrap().to_string(), f))
            .collect()
    }

    async fn feed_status(&self, name: &str) -> Value {
        self.status()
            .await
            .remove(name)
            .unwrap_or_else(|| panic!("no feed {name} in status"))
    }

    /// Runs `f` on the store (no CLI may hold it meanwhile).
    async fn with_store<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> R + Send + 'static,
    ) -> R {
        let data = self.data.clone();
        tokio::task::spawn_blocking(move || f(&Store::open(&data).unwrap()))
            .await
            .unwrap()
    }
}

fn count(st: &Value) -> u64 {
    st["record_count"].as_u64().unwrap()
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap()
        .to_utc()
}

fn ids(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
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

/// The failure shape every fault must produce: exit 1 naming the feed, an error in the report.
fn assert_failed(run: &SyncRun, feed: &str, needle: &str) {
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("feed(s) failed") && run.stderr.contains(feed),
        "{}",
        run.stderr
    );
    let r = run.report();
    assert_eq!(r["ok"], false, "{r}");
    assert!(
        r["error"].as_str().unwrap().contains(needle),
        "error should name {needle:?}: {r}"
    );
}

/// Status after a failed run: the error names the fault, counts and last success are unchanged.
fn assert_kept(after: &Value, before: &Value, needle: &str) {
    let err = after["last_error"]
        .as_str()
        .unwrap_or_else(|| panic!("no last_error: {after}"));
    assert!(
        err.contains(needle),
        "last_error should name {needle:?}: {err}"
    );
    assert_eq!(count(after), count(before), "record count moved: {after}");
    assert_eq!(after["last_success"], before["last_success"], "{after}");
    assert!(
        time(&after["last_attempt"]) > time(&before["last_attempt"]),
        "{after}"
    );
}

/// A known OSV record of the first small ecosystem is stored with its upstream bytes.
async fn assert_known_osv_readable(env: &Env) {
    let (id, raw) = osv_zip_records(SMALL_ECOSYSTEMS[0])
        .into_iter()
        .next()
        .unwrap();
    let id2 = id.clone();
    let (stored, stored_raw) = env
        .with_store(move |s| {
            (
                s.advisory(&id2, Source::Osv).unwrap(),
                s.advisory_raw(&id2, Source::Osv).unwrap(),
            )
        })
        .await;
    assert_eq!(stored.map(|a| a.id), Some(id.clone()), "{id} not readable");
    assert_eq!(
        stored_raw.as_deref(),
        Some(raw.as_slice()),
        "{id}: upstream bytes differ"
    );
}

/// A fresh Env with the small OSV feed synced once, and its status.
async fn osv_env(retries: u32, timeout_secs: u64) -> (Env, Value) {
    let env = Env::new(retries, timeout_secs).await;
    env.osv(&SMALL_ECOSYSTEMS);
    let run = env.sync("osv").await;
    assert_eq!(run.code, 0, "{run:?}");
    let st = env.feed_status("osv").await;
    assert_eq!(count(&st), osv_ids(&SMALL_ECOSYSTEMS).len() as u64, "{st}");
    env.server.take_hits();
    (env, st)
}

fn hits_to<'a>(hits: &'a [Hit], path: &str) -> Vec<&'a Hit> {
    hits.iter().filter(|h| h.path == path).collect()
}

// ---------------------------------------------------------------------------------------------
// OSV

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn osv_full_sync_then_conditional_304_keeps_data_and_records_success() {
    let env = Env::new(2, 5).await;
    env.osv(&SMALL_ECOSYSTEMS);
    let expected = osv_ids(&SMALL_ECOSYSTEMS);

    let run = env.sync("osv").await;
    assert_eq!(run.code, 0, "{run:?}");
    let r = &run.report()["report"];
    assert_same_ids(&ids(&r["changes"]["new"]), &expected, "new ids");
    assert_eq!(r["records_read"].as_u64(), Some(expected.len() as u64));
    assert_eq!(r["not_modified"], false);
    let hits = env.server.take_hits();
    assert_eq!(hits.len(), SMALL_ECOSYSTEMS.len(), "{hits:?}");
    for (h, eco) in hits.iter().zip(SMALL_ECOSYSTEMS) {
        assert_eq!(
            (h.path.as_str(), h.status),
            (format!("/osv/{eco}/all.zip").as_str(), 200)
        );
        assert_eq!(h.if_none_match, None);
    }
    let first = env.feed_status("osv").await;
    assert_eq!(count(&first), expected.len() as u64);
    assert_eq!(first["last_error"], Value::Null);
    assert_eq!(first["stale"], false);
    assert_known_osv_readable(&env).await;

    // Nothing changed upstream: every archive is asked for with its ETag and answered 304.
    let run = env.sync("osv").await;
    assert_eq!(run.code, 0, "{run:?}");
    let r = &run.report()["report"];
    assert_eq!(r["not_modified"], true, "{r}");
    assert_eq!(
        r["changes"],
        json!({"new": [], "changed": [], "withdrawn": []})
    );
    let hits = env.server.take_hits();
    assert_eq!(hits.len(), SMALL_ECOSYSTEMS.len(), "{hits:?}");
    for (h, eco) in hits.iter().zip(SMALL_ECOSYSTEMS) {
        let path = format!("/osv/{eco}/all.zip");
        assert_eq!(
            h.if_none_match.as_deref(),
            Some(env.server.etag(&path).as_str()),
            "{h:?}"
        );
        assert_eq!(h.status, 304);
    }
    let second = env.feed_status("osv").await;
    assert_eq!(count(&second), count(&first));
    assert_eq!(second["last_error"], Value::Null);
    assert!(
        time(&second["last_success"]) > time(&first["last_success"]),
        "a 304 is a success: {second}"
    );
    assert_known_osv_readable(&env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn osv_http_500_fails_after_retries_keeps_data_and_500_then_ok_recovers() {
    let (env, good) = osv_env(2, 5).await;

    env.server.fault("/osv/", Fault::Status(500));
    let run = env.sync("osv").await;
    assert_failed(&run, "osv", "HTTP 500");
    let hits = env.server.take_hits();
    // One try plus fetch_retries = 2, all on the first archive; the run stops there.
    assert_eq!(hits.len(), 3, "{hits:?}");
    assert!(hits
        .iter()
        .all(|h| h.path == "/osv/CRAN/all.zip" && h.status == 500));
    let failed = env.feed_status("osv").await;
    assert_kept(&failed, &good, "HTTP 500");
    assert!(
        failed["last_error"].as_str().unwrap().contains("3 attempt"),
        "{failed}"
    );
    assert_known_osv_readable(&env).await;

    // Two 500s, then normal service: the retries absorb them and the error is cleared.
    env.server.fault("/osv/", Fault::StatusTimes(500, 2));
    let run = env.sync("osv").await;
    assert_eq!(run.code, 0, "{run:?}");
    let hits = env.server.take_hits();
    let statuses: Vec<u16> = hits_to(&hits, "/osv/CRAN/all.zip")
        .iter()
        .map(|h| h.status)
        .collect();
    assert_eq!(statuses, [500, 500, 304]);
    let ok = env.feed_status("osv").await;
    assert_eq!(ok["last_error"], Value::Null, "{ok}");
    assert_eq!(count(&ok), count(&good));
    assert!(time(&ok["last_success"]) > time(&good["last_success"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn osv_timeout_is_reported_as_timeout_and_keeps_data() {
    let (env, good) = osv_env(1, 1).await;
    env.server
        .fault("/osv/", Fault::Delay(Duration::from_secs(5)));
    let run = env.sync("osv").await;
    assert_failed(&run, "osv", "timed out");
    // Two attempts of at least the 1 s timeout each, each far shorter than the 5 s delay.
    assert!(run.elapsed >= Duration::from_secs(2), "{:?}", run.elapsed);
    let hits = env.server.take_hits();
    assert_eq!(hits_to(&hits, "/osv/CRAN/all.zip").len(), 2, "{hits:?}");
    assert_kept(&env.feed_status("osv").await, &good, "timed out");
    assert_known_osv_readable(&env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn osv_truncated_zip_is_refused_without_saving_its_validator() {
    let env = Env::new(1, 5).await;
    env.osv(&SMALL_ECOSYSTEMS);
    let expected = osv_ids(&SMALL_ECOSYSTEMS).len() as u64;

    // On an empty store: the cut archive (with the real ETag) loads nothing and fails.
    env.server.fault("/osv/CRAN/", Fault::Truncate);
    let run = env.sync("osv").await;
    assert_failed(&run, "osv", "corrupt or truncated zip");
    let st = env.feed_status("osv").await;
    assert!(
        st["last_error"]
            .as_str()
            .unwrap()
            .contains("corrupt or truncated zip"),
        "{st}"
    );
    assert_eq!(count(&st), 0);

    // Service restored: the archive must be downloaded in full, not skipped by a 304 on the
    // validator of the cut copy.
    env.server.clear_fault();
    env.server.take_hits();
    let run = env.sync("osv").await;
    assert_eq!(run.code, 0, "{run:?}");
    let hits = env.server.take_hits();
    assert_eq!(
        hits_to(&hits, "/osv/CRAN/all.zip")[0].status,
        200,
        "{hits:?}"
    );
    let good = env.feed_status("osv").await;
    assert_eq!(count(&good), expected);

    // With good data in place, a cut archive changes nothing but the error.
    env.server.fault("/osv/CRAN/", Fault::Truncate);
    let run = env.sync("osv").await;
    assert_failed(&run, "osv", "corrupt or truncated zip");
    assert_kept(
        &env.feed_status("osv").await,
        &good,
        "corrupt or truncated zip",
    );
    assert_known_osv_readable(&env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn osv_zip_bomb_is_refused_by_the_entry_limit_and_keeps_data() {
    let (env, good) = osv_env(1, 5).await;
    let bomb = Arc::new(bomb_zip("BOMB-2099-0001.json", BOMB_MIB));
    assert!(
        bomb.len() < 1 << 20,
        "a bomb is small on the wire: {}",
        bomb.len()
    );
    env.server.fault("/osv/Hackage/", Fault::Replace(bomb));
    let run = env.sync("osv").await;
    assert_failed(&run, "osv", "max_entry_bytes");
    assert_kept(&env.feed_status("osv").await, &good, "max_entry_bytes");
    assert_known_osv_readable(&env).await;
    let bomb_stored = env
        .with_store(|s| s.advisories_by_id("BOMB-2099-0001").unwrap())
        .await;
    assert!(bomb_stored.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn osv_429_retry_after_is_honoured_then_succeeds_or_fails_when_it_persists() {
    let (env, good) = osv_env(2, 5).await;

    env.server
        .fault("/osv/CRAN/", Fault::TooManyRequests { secs: 1, times: 1 });
    let run = env.sync("osv").await;
    assert_eq!(run.code, 0, "{run:?}");
    let hits = env.server.take_hits();
    let cran = hits_to(&hits, "/osv/CRAN/all.zip");
    assert_eq!(
        cran.iter().map(|h| h.status).collect::<Vec<_>>(),
        [429, 304],
        "{hits:?}"
    );
    // The configured backoff is 10 ms: only Retry-After explains a wait of about a second.
    let gap = cran[1].at - cran[0].at;
    assert!(
        gap >= Duration::from_millis(950),
        "retried after {gap:?}, Retry-After said 1 s"
    );
    let ok = env.feed_status("osv").await;
    assert_eq!(ok["last_error"], Value::Null, "{ok}");
    assert_eq!(count(&ok), count(&good));

    env.server.fault(
        "/osv/CRAN/",
        Fault::TooManyRequests {
            secs: 1,
            times: 100,
        },
    );
    let run = env.sync("osv").await;
    assert_failed(&run, "osv", "HTTP 429");
    assert_eq!(
        hits_to(&env.server.take_hits(), "/osv/CRAN/all.zip").len(),
        3
    );
    assert_kept(&env.feed_status("osv").await, &ok, "HTTP 429");
    assert_known_osv_readable(&env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_health_and_feeds_api_report_the_failing_feed_with_data_kept() {
    let (env, good) = osv_env(0, 5).await;
    env.server.fault("/osv/", Fault::Status(503));
    assert_failed(&env.sync("osv").await, "osv", "HTTP 503");
    let token = make_token(&env.data, "viewer", "analyst");

    let d = Daemon::start(&env.data, &["--config", env.config.to_str().unwrap()]);
    let c = client();
    let health: Value = c
        .get(d.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["feeds"]["failing"], json!(["osv"]), "{health}");
    assert_eq!(
        health["store"]["advisories"].as_u64(),
        Some(count(&good)),
        "{health}"
    );

    let r = c.get(d.url("/api/v1/feeds")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let feeds: Vec<Value> = c
        .get(d.url("/api/v1/feeds"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let osv = feeds.iter().find(|f| f["name"] == "osv").unwrap();
    assert_eq!(count(osv), count(&good), "{osv}");
    assert!(
        osv["last_error"].as_str().unwrap().contains("HTTP 503"),
        "{osv}"
    );
    assert_eq!(osv["last_success"], good["last_success"]);
    d.stop();
}

// ---------------------------------------------------------------------------------------------
// RustSec

async fn rustsec_env(retries: u32) -> Env {
    let env = Env::new(retries, 5).await;
    env.server.serve("/rustsec/main.zip", rustsec_zip());
    env.def(
        "rustsec",
        &format!(
            "kind = \"rustsec\"\nurl = \"{}/rustsec/main.zip\"\n",
            env.server.base
        ),
    );
    env
}

async fn assert_known_rustsec_readable(env: &Env) {
    let id = rustsec_ids().into_iter().next().unwrap();
    let id2 = id.clone();
    let stored = env
        .with_store(move |s| s.advisory(&id2, Source::Rustsec).unwrap())
        .await;
    assert_eq!(stored.map(|a| a.id), Some(id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rustsec_archive_full_sync_then_not_modified() {
    let env = rustsec_env(1).await;
    let (expected, withdrawn) = rustsec_ids_split();
    assert!(!withdrawn.is_empty());
    let run = env.sync("rustsec").await;
    assert_eq!(run.code, 0, "{run:?}");
    // First sight of an advisory that is already withdrawn is reported as a withdrawal.
    let changes = &run.report()["report"]["changes"];
    assert_same_ids(&ids(&changes["withdrawn"]), &withdrawn, "withdrawn ids");
    let mut seen = ids(&changes["new"]);
    seen.extend(ids(&changes["withdrawn"]));
    assert_same_ids(&seen, &expected, "new and withdrawn ids");
    let good = env.feed_status("rustsec").await;
    assert_eq!(count(&good), expected.len() as u64, "{good}");
    assert_known_rustsec_readable(&env).await;

    env.server.take_hits();
    let run = env.sync("rustsec").await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.report()["report"]["not_modified"], true);
    let hits = env.server.take_hits();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].status, 304);
    let again = env.feed_status("rustsec").await;
    assert_eq!(count(&again), count(&good));
    assert_eq!(again["last_error"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rustsec_cut_archive_does_not_poison_the_validator() {
    let env = rustsec_env(0).await;
    env.server.fault("/rustsec/", Fault::Truncate);
    let run = env.sync("rustsec").await;
    assert_failed(&run, "rustsec", "corrupt or truncated zip");
    assert_eq!(count(&env.feed_status("rustsec").await), 0);

    env.server.clear_fault();
    env.server.take_hits();
    let run = env.sync("rustsec").await;
    assert_eq!(run.code, 0, "{run:?}");
    let hits = env.server.take_hits();
    // Keeping the ETag of a copy that could not be extracted would get this request a 304 and
    // load nothing while reporting success.
    assert_eq!(
        hits[0].status, 200,
        "the full archive must be fetched again: {hits:?}"
    );
    assert_eq!(
        count(&env.feed_status("rustsec").await),
        rustsec_ids().len() as u64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rustsec_zip_bomb_is_refused_naming_the_entry_limit() {
    let env = rustsec_env(0).await;
    assert_eq!(env.sync("rustsec").await.code, 0);
    let good = env.feed_status("rustsec").await;
    let bomb = Arc::new(bomb_zip(
        "advisory-db-main/crates/bomb/RUSTSEC-2099-0001.md",
        BOMB_MIB,
    ));
    env.server.fault("/rustsec/", Fault::Replace(bomb));
    let run = env.sync("rustsec").await;
    assert_eq!(run.code, 1, "{run:?}");
    let after = env.feed_status("rustsec").await;
    assert_eq!(count(&after), count(&good));
    assert_known_rustsec_readable(&env).await;
    // Was a bug (fixed): src/feeds/advisory_db.rs extract_advisory_db reports any over-long entry as
    // `max_total_bytes = 4294967296` although the per-entry cap (64 MiB) is what refused it.
    assert_kept(&after, &good, "max_entry_bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rustsec_failed_extraction_leaves_no_temporary_files() {
    let env = rustsec_env(0).await;
    let bomb = Arc::new(bomb_zip(
        "advisory-db-main/crates/bomb/RUSTSEC-2099-0001.md",
        80,
    ));
    env.server.fault("/rustsec/", Fault::Replace(bomb));
    assert_eq!(env.sync("rustsec").await.code, 1);
    env.server.fault("/rustsec/", Fault::Truncate);
    assert_eq!(env.sync("rustsec").await.code, 1);
    let tmp = env.data.join("tmp");
    let left: Vec<PathBuf> = match std::fs::read_dir(&tmp) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    // Was a bug (fixed): src/feeds/mod.rs sync_rustsec creates DATA/tmp/<random> before extracting and only
    // wraps it in TempDirGuard after a successful extraction, so every failed run leaves a
    // folder (with whatever was unpacked before the failure) behind.
    assert!(left.is_empty(), "left behind: {left:?}");
}

// ---------------------------------------------------------------------------------------------
// KEV and EPSS

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kev_sync_then_304_then_500_keeps_the_catalogue() {
    let env = Env::new(1, 5).await;
    let doc = read("kev/known_exploited_vulnerabilities.json");
    env.server.serve("/kev.json", doc.clone());
    env.def(
        "kev",
        &format!("kind = \"kev\"\nurl = \"{}/kev.json\"\n", env.server.base),
    );
    let catalogue: Value = serde_json::from_slice(&doc).unwrap();
    let vulns = catalogue["vulnerabilities"].as_array().unwrap();
    let expected: BTreeSet<String> = vulns
        .iter()
        .map(|v| v["cveID"].as_str().unwrap().to_string())
        .collect();
    let known = vulns[0].clone();

    let run = env.sync("kev").await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_same_ids(
        &ids(&run.report()["report"]["kev_new"]),
        &expected,
        "new ids",
    );
    let good = env.feed_status("kev").await;
    assert_eq!(count(&good), expected.len() as u64);

    env.server.take_hits();
    let run = env.sync("kev").await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.report()["report"]["not_modified"], true);
    let hits = env.server.take_hits();
    assert_eq!(
        hits[0].if_none_match.as_deref(),
        Some(env.server.etag("/kev.json").as_str())
    );
    assert_eq!(hits[0].status, 304);
    let ok = env.feed_status("kev").await;
    assert!(time(&ok["last_success"]) > time(&good["last_success"]));

    env.server.fault("/kev", Fault::Status(500));
    let run = env.sync("kev").await;
    assert_failed(&run, "kev", "HTTP 500");
    assert_kept(&env.feed_status("kev").await, &ok, "HTTP 500");
    let cve = known["cveID"].as_str().unwrap().to_string();
    let entry = env
        .with_store(move |s| s.kev(&cve).unwrap())
        .await
        .expect("known KEV entry");
    assert_eq!(
        entry.vendor_project.as_deref(),
        known["vendorProject"].as_str()
    );
    assert_eq!(entry.date_added.as_deref(), known["dateAdded"].as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epss_gzip_sync_then_truncated_gzip_keeps_the_scores() {
    let env = Env::new(1, 5).await;
    let gz = read("epss/epss_scores-2023-03-07.csv.gz");
    env.server.serve("/epss.csv.gz", gz.clone());
    env.def(
        "epss",
        &format!(
            "kind = \"epss\"\nurl = \"{}/epss.csv.gz\"\n",
            env.server.base
        ),
    );
    let mut text = String::new();
    flate2::read::GzDecoder::new(gz.as_slice())
        .read_to_string(&mut text)
        .unwrap();
    let rows: Vec<(String, f64)> = text
        .lines()
        .filter(|l| l.starts_with("CVE-"))
        .map(|l| {
            let mut f = l.split(',');
            (
                f.next().unwrap().to_string(),
                f.next().unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert!(!rows.is_empty());

    let run = env.sync("epss").await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.report()["report"]["epss_changed"].as_u64(),
        Some(rows.len() as u64)
    );
    let good = env.feed_status("epss").await;
    assert_eq!(count(&good), rows.len() as u64);

    env.server.fault("/epss", Fault::Truncate);
    let run = env.sync("epss").await;
    assert_failed(&run, "epss", "gzip");
    assert_kept(&env.feed_status("epss").await, &good, "gzip");
    let (cve, score) = rows[0].clone();
    let stored = env
        .with_store(move |s| s.epss(&cve).unwrap())
        .await
        .expect("known EPSS score");
    assert_eq!(stored.epss, score);
}

// ---------------------------------------------------------------------------------------------
// NVD

struct NvdFixture {
    env: Env,
    ids: BTreeSet<String>,
}

async fn nvd_env(retries: u32) -> NvdFixture {
    let env = Env::new(retries, 5).await;
    let page: Value = serde_json::from_slice(&read("nvd/nvdcve-2.0-records.json")).unwrap();
    let records = page["vulnerabilities"].as_array().unwrap().clone();
    let ids = records
        .iter()
        .map(|r| r["cve"]["id"].as_str().unwrap().to_string())
        .collect();
    *env.server.state.nvd.lock().unwrap() = records;
    env.def(
        "nvd",
        &format!(
            "kind = \"nvd\"\nurl = \"{}/nvd\"\nresults_per_page = 10\nrequest_interval_ms = 0\n",
            env.server.base
        ),
    );
    NvdFixture { env, ids }
}

fn window_of(h: &Hit) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let start = h.query.get("lastModStartDate")?;
    let end = h.query.get("lastModEndDate").expect("both window bounds");
    Some((
        DateTime::parse_from_rfc3339(start).unwrap().to_utc(),
        DateTime::parse_from_rfc3339(end).unwrap().to_utc(),
    ))
}

fn start_indexes(hits: &[Hit]) -> Vec<u64> {
    hits.iter()
        .map(|h| h.query["startIndex"].parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nvd_full_paged_sync_then_incremental_windows_of_at_most_120_days() {
    let NvdFixture { env, ids: all } = nvd_env(1).await;
    let before_first = Utc::now();

    // First run: every page of the whole set, no lastModified window.
    let run = env.sync("nvd").await;
    assert_eq!(run.code, 0, "{run:?}");
    let hits = env.server.take_hits();
    assert_eq!(start_indexes(&hits), [0, 10, 20, 30, 40, 50], "{hits:?}");
    assert!(hits
        .iter()
        .all(|h| h.status == 200 && h.query["resultsPerPage"] == "10" && window_of(h).is_none()));
    assert_same_ids(
        &ids(&run.report()["report"]["changes"]["new"]),
        &all,
        "new ids",
    );
    let good = env.feed_status("nvd").await;
    assert_eq!(count(&good), all.len() as u64);

    // Upstream modifies one record; the next run asks only for what changed since the first.
    let edited = {
        let mut recs = env.server.state.nvd.lock().unwrap();
        let now = Utc::now().format("%Y-%m-%dT%H:%M:%S%.3f").to_string();
        recs[3]["cve"]["lastModified"] = json!(now);
        recs[3]["cve"]["id"].as_str().unwrap().to_string()
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let run = env.sync("nvd").await;
    assert_eq!(run.code, 0, "{run:?}");
    let hits = env.server.take_hits();
    assert_eq!(hits.len(), 1, "{hits:?}");
    let (from, to) =
        window_of(&hits[0]).expect("an incremental run sends lastModStartDate/EndDate");
    assert!(
        from >= before_first - ChronoDuration::seconds(1) && from <= to,
        "{from} .. {to}"
    );
    assert!(to - from <= ChronoDuration::days(120));
    let r = &run.report()["report"];
    assert_eq!(
        ids(&r["changes"]["changed"]),
        BTreeSet::from([edited]),
        "{r}"
    );
    assert_eq!(r["changes"]["new"], json!([]));
    assert_eq!(count(&env.feed_status("nvd").await), all.len() as u64);

    // A cursor 300 days old: contiguous windows of at most 120 days from it up to now.
    let cursor = Utc::now() - ChronoDuration::days(300);
    env.with_store(move |s| {
        let mut rec = s.feed("nvd").unwrap().unwrap();
        rec.cursor = Some(cursor);
        s.put_feed(&rec).unwrap();
    })
    .await;
    let run = env.sync("nvd").await;
    let ran_until = Utc::now();
    assert_eq!(run.code, 0, "{run:?}");
    let hits = env.server.take_hits();
    let windows: Vec<(DateTime<Utc>, DateTime<Utc>)> = hits
        .iter()
        .map(|h| window_of(h).expect("windowed"))
        .collect();
    let mut distinct = windows.clone();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        3,
        "300 days take three windows: {distinct:?}"
    );
    assert!(
        (distinct[0].0 - cursor).num_milliseconds().abs() <= 1,
        "starts at the cursor: {distinct:?}"
    );
    assert!(distinct.last().unwrap().1 <= ran_until);
    for w in distinct.windows(2) {
        assert_eq!(w[0].1, w[1].0, "windows are contiguous: {distinct:?}");
    }
    let served: usize = {
        let recs = env.server.state.nvd.lock().unwrap();
        recs.iter()
            .filter(|r| {
                distinct
                    .iter()
                    .any(|(a, b)| (*a..=*b).contains(&nvd_last_modified(r)))
            })
            .count()
    };
    assert_eq!(
        run.report()["report"]["records_read"].as_u64(),
        Some(served as u64)
    );
    let violations = env.server.state.nvd_violations.lock().unwrap().clone();
    assert!(
        violations.is_empty(),
        "NVD API rules broken: {violations:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nvd_failed_page_fails_the_run_and_the_next_run_is_full_again() {
    let NvdFixture { env, ids: all } = nvd_env(2).await;
    env.server.fault("startIndex=20", Fault::Status(503));
    let run = env.sync("nvd").await;
    assert_failed(&run, "nvd", "HTTP 503");
    let hits = env.server.take_hits();
    assert_eq!(start_indexes(&hits), [0, 10, 20, 20, 20], "{hits:?}");
    let st = env.feed_status("nvd").await;
    assert!(
        st["last_error"].as_str().unwrap().contains("HTTP 503"),
        "{st}"
    );
    assert_eq!(st["last_success"], Value::Null);
    let cursor = env
        .with_store(|s| s.feed("nvd").unwrap().unwrap().cursor)
        .await;
    assert_eq!(
        cursor, None,
        "an incomplete full sync must not move the cursor"
    );

    env.server.clear_fault();
    let run = env.sync("nvd").await;
    assert_eq!(run.code, 0, "{run:?}");
    let hits = env.server.take_hits();
    assert_eq!(start_indexes(&hits), [0, 10, 20, 30, 40, 50], "{hits:?}");
    assert!(
        hits.iter().all(|h| window_of(h).is_none()),
        "still a full sync: {hits:?}"
    );
    let st = env.feed_status("nvd").await;
    assert_eq!(count(&st), all.len() as u64);
    assert_eq!(st["last_error"], Value::Null);
}

// ---------------------------------------------------------------------------------------------
// The harness itself

#[test]
fn bomb_is_a_valid_zip_of_zeros() {
    let zip = bomb_zip("b.json", 3);
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut f = z.by_index(0).unwrap();
    assert_eq!(f.size(), 3 << 20);
    let mut out = Vec::new();
    // The zip crate checks the CRC at the end of the entry.
    f.read_to_end(&mut out).unwrap();
    assert_eq!(out.len(), 3 << 20);
    assert!(out.iter().all(|b| *b == 0));
}
