//! The command line: `serve`, token management, the pipeline client and offline tools. Each
//! command calls the same domain functions as the HTTP API. Exit codes: 0 success, 1 a finding
//! or a failed operation reported by a server, 2 bad input or a local error (one line on stderr).

use crate::config::{Config, LogFormat};
use crate::ingest::{self, IngestOptions};
use crate::store::{Role, Store};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "soupwatch",
    version,
    about = "Post-market vigilance for the third-party software in released medical devices"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: HTTP API, feed schedules, matching.
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to listen on (overrides server.listen).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Read every feed from this mirror folder instead of the network.
        #[arg(long)]
        mirror: Option<PathBuf>,
    },
    /// Manage API tokens in a data folder that no daemon holds (use the API on a running one).
    #[command(subcommand)]
    Token(TokenCmd),
    /// Upload or inspect SBOMs.
    #[command(subcommand)]
    Sbom(SbomCmd),
    /// Advisory feeds: one-shot sync and status.
    #[command(subcommand)]
    Feeds(FeedsCmd),
    /// Scan SBOM files against the advisories of a data folder or a mirror, without a daemon.
    /// Exit 0: nothing found; 1: findings, or an SBOM with no matchable component; 2: error.
    Scan {
        /// Data folder whose advisories to use (default ./data unless --mirror is given).
        #[arg(long, conflicts_with = "mirror")]
        data: Option<PathBuf>,
        /// Mirror folder to read advisories from directly.
        #[arg(long)]
        mirror: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "table")]
        format: ScanFormat,
        /// Refuse SBOMs that are invalid against their schema (default: scan them, warning).
        #[arg(long)]
        strict: bool,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Version ordering per ecosystem, as the matcher uses it.
    #[command(subcommand)]
    Versions(VersionsCmd),
    /// Regulatory triage rules: validate a rules file, or evaluate one triage input offline.
    #[command(subcommand)]
    Rules(RulesCmd),
    /// Alerting.
    #[command(subcommand)]
    Notify(NotifyCmd),
    /// Exports of a release from a data folder that no daemon holds.
    #[command(subcommand)]
    Export(ExportCmd),
    /// The tamper-evident audit trail.
    #[command(subcommand)]
    Audit(AuditCmd),
}

#[derive(Subcommand)]
enum FeedsCmd {
    /// Run feeds once (all enabled ones, or --feed NAME); exits 1 naming any feed that failed.
    Sync {
        #[command(flatten)]
        common: Common,
        /// Only this feed.
        #[arg(long)]
        feed: Option<String>,
        /// Read from this mirror folder instead of the network (overrides feeds.mirror).
        #[arg(long)]
        mirror: Option<PathBuf>,
        /// `json` prints every feed's report (change set with ids, warnings) as one JSON array.
        #[arg(long, value_enum, default_value = "table")]
        format: TableOrJson,
    },
    /// Show each feed's last attempt, last success, error, record count and staleness.
    Status {
        #[command(flatten)]
        common: Common,
        #[arg(long, value_enum, default_value = "table")]
        format: TableOrJson,
    },
}

#[derive(Subcommand)]
enum VersionsCmd {
    /// Print `<`, `=` or `>` for A against B. With `-` instead of A B, read `A B` pairs from
    /// stdin, one per line, and print one result per line (`! reason` when not comparable).
    Compare {
        /// OSV ecosystem name, e.g. PyPI, Maven, crates.io, Debian, npm, Go.
        #[arg(long)]
        ecosystem: String,
        #[arg(required = true, num_args = 1..=2)]
        versions: Vec<String>,
    },
}

#[derive(Subcommand)]
enum ExportCmd {
    /// Print the VEX document of a release (cyclonedx, openvex or csaf).
    Vex {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        product: String,
        #[arg(long)]
        release: String,
        #[arg(long, default_value = "cyclonedx")]
        format: String,
    },
}

#[derive(Subcommand)]
enum NotifyCmd {
    /// Send a test message through a configured route and print the server's answer.
    Test {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        route: String,
    },
}

#[derive(Subcommand)]
enum RulesCmd {
    /// Validate a rules file: syntax, expressions, ids, catch-alls, and every rule's example.
    Check { file: PathBuf },
    /// Evaluate one triage input (JSON, see docs/rules.md) and print the decision as JSON.
    Eval {
        /// Rules file (default: the shipped config/rules.toml, compiled in).
        #[arg(long)]
        rules: Option<PathBuf>,
        input: PathBuf,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ScanFormat {
    Table,
    Json,
    Sarif,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum TableOrJson {
    Table,
    Json,
}

/// Where the configuration and the data live.
#[derive(Args, Clone)]
struct Common {
    /// Config file (TOML); without it the built-in defaults apply.
    #[arg(long, env = "SOUPWATCH_CONFIG")]
    config: Option<PathBuf>,
    /// Data folder (overrides store.data_dir; default ./data).
    #[arg(long)]
    data: Option<PathBuf>,
}

impl Common {
    fn load(&self) -> Result<Config, CliError> {
        let mut c = match &self.config {
            Some(p) => Config::load(p).map_err(CliError::input)?,
            None => Config::default(),
        };
        if let Some(d) = &self.data {
            c.store.data_dir = d.clone();
        }
        Ok(c)
    }

    fn open_store(&self) -> Result<Store, CliError> {
        let c = self.load()?;
        Store::open(&c.store.data_dir).map_err(CliError::input)
    }
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Create a token; prints the secret once on stdout.
    Create {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: Role,
    },
    /// List tokens (names and roles, never secrets).
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Revoke a token by name.
    Revoke {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum SbomCmd {
    /// Upload an SBOM for a released version to a running soupwatch.
    Upload {
        /// Base URL of the daemon.
        #[arg(
            long,
            env = "SOUPWATCH_SERVER",
            default_value = "http://127.0.0.1:8080"
        )]
        server: String,
        /// API token (role uploader or admin).
        #[arg(long, env = "SOUPWATCH_TOKEN", hide_env_values = true)]
        token: String,
        #[arg(long)]
        product: String,
        #[arg(long)]
        release: String,
        /// Replace a different SBOM already stored for this release (admin), with this reason.
        #[arg(long)]
        supersede_reason: Option<String>,
        /// Media type to send; by default the server detects the format from the content.
        #[arg(long)]
        content_type: Option<String>,
        file: PathBuf,
    },
    /// Parse an SBOM locally and print its normalised components and NTIA report.
    Inspect {
        /// Accept documents that are invalid against their schema and list the problems.
        #[arg(long)]
        lenient: bool,
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Check the hash chain of the audit trail; names the first broken entry.
    Verify {
        #[command(flatten)]
        common: Common,
    },
}

/// Writes to stdout, ignoring a closed pipe (`soupwatch scan ... | head`): the output is
/// unwanted then, and the command still ends with its own exit code instead of a panic.
fn out_raw(s: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(s.as_bytes());
}

macro_rules! outln {
    ($($t:tt)*) => {
        out_raw(&format!("{}\n", format_args!($($t)*)))
    };
}

/// A command's failure: the exit code and one line for stderr.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    fn input(e: impl std::fmt::Display) -> Self {
        CliError {
            code: 2,
            message: e.to_string(),
        }
    }
    fn failed(e: impl std::fmt::Display) -> Self {
        CliError {
            code: 1,
            message: e.to_string(),
        }
    }
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("soupwatch: {}", e.message.replace('\n', " "));
            ExitCode::from(e.code)
        }
    }
}

fn init_logging(c: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&c.log.filter))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match c.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    // One crypto provider for reqwest and lettre: ring (no aws-lc C build, never OpenSSL).
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::input)
}

fn print_json(v: &impl serde::Serialize) -> Result<(), CliError> {
    let s = serde_json::to_string_pretty(v).map_err(CliError::input)?;
    outln!("{s}");
    Ok(())
}

fn dispatch(cli: Cli) -> Result<u8, CliError> {
    match cli.command {
        Command::Serve {
            common,
            listen,
            mirror,
        } => {
            let mut c = common.load()?;
            if let Some(l) = listen {
                c.server.listen = l;
            }
            if let Some(m) = mirror {
                c.feeds.mirror = Some(m);
            }
            init_logging(&c);
            runtime()?
                .block_on(crate::daemon::serve(c))
                .map_err(CliError::input)?;
            Ok(0)
        }
        Command::Token(t) => token(t),
        Command::Feeds(f) => feeds(f),
        Command::Scan {
            data,
            mirror,
            format,
            strict,
            files,
        } => scan(data, mirror, format, strict, &files),
        Command::Versions(VersionsCmd::Compare {
            ecosystem,
            versions,
        }) => versions_compare(&ecosystem, &versions),
        Command::Rules(r) => rules(r),
        Command::Export(ExportCmd::Vex {
            common,
            product,
            release,
            format,
        }) => {
            let c = common.load()?;
            let f = crate::exports::VexFormat::parse(&format).ok_or_else(|| {
                CliError::input(format!(
                    "unknown format {format:?}: use cyclonedx, openvex or csaf"
                ))
            })?;
            let store = Store::open(&c.store.data_dir).map_err(CliError::input)?;
            let data = crate::exports::load(
                &store,
                &product,
                &release,
                chrono::Utc::now(),
                c.exports.publisher(),
            )
            .map_err(CliError::input)?
            .ok_or_else(|| CliError::input(format!("no release {product}/{release}")))?;
            if f != crate::exports::VexFormat::CycloneDx
                && crate::exports::statements(&data).is_empty()
            {
                return Err(CliError::input(format!(
                    "{product}/{release}: no vulnerability to state"
                )));
            }
            print_json(&crate::exports::vex(&data, f))?;
            Ok(0)
        }
        Command::Notify(NotifyCmd::Test { common, route }) => {
            let c = common.load()?;
            let answer = runtime()?
                .block_on(crate::notify::send_test(&c.notify, &route))
                .map_err(CliError::failed)?;
            outln!("{answer}");
            Ok(0)
        }
        Command::Sbom(SbomCmd::Inspect { lenient, file }) => {
            let bytes = std::fs::read(&file)
                .map_err(|e| CliError::input(format!("cannot read {}: {e}", file.display())))?;
            let parsed = ingest::parse(&bytes, None, &IngestOptions { strict: !lenient })
                .map_err(|e| CliError::input(format!("{}: {e}", file.display())))?;
            print_json(&parsed)?;
            Ok(0)
        }
        Command::Sbom(SbomCmd::Upload {
            server,
            token,
            product,
            release,
            supersede_reason,
            content_type,
            file,
        }) => {
            let bytes = std::fs::read(&file)
                .map_err(|e| CliError::input(format!("cannot read {}: {e}", file.display())))?;
            let mut url = reqwest::Url::parse(&server)
                .map_err(|e| CliError::input(format!("invalid --server {server:?}: {e}")))?;
            url.path_segments_mut()
                .map_err(|_| CliError::input(format!("invalid --server {server:?}")))?
                .pop_if_empty()
                .extend([
                    "api", "v1", "products", &product, "releases", &release, "sbom",
                ]);
            if let Some(reason) = &supersede_reason {
                url.query_pairs_mut()
                    .append_pair("supersede", "true")
                    .append_pair("reason", reason);
            }
            let rt = runtime()?;
            let (status, body) = rt.block_on(async {
                let mut req = reqwest::Client::new()
                    .put(url)
                    .bearer_auth(&token)
                    .body(bytes);
                if let Some(ct) = &content_type {
                    req = req.header(reqwest::header::CONTENT_TYPE, ct);
                }
                let resp = req
                    .send()
                    .await
                    .map_err(|e| CliError::failed(format!("cannot reach {server}: {e}")))?;
                let status = resp.status();
                let body = resp.text().await.map_err(CliError::failed)?;
                Ok::<_, CliError>((status, body))
            })?;
            if status.is_success() {
                outln!("{body}");
                Ok(0)
            } else {
                let msg = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| {
                        v.get("message")
                            .and_then(|m| m.as_str())
                            .map(str::to_string)
                    })
                    .unwrap_or(body);
                Err(CliError::failed(format!(
                    "server refused the upload ({status}): {msg}"
                )))
            }
        }
        Command::Audit(AuditCmd::Verify { common }) => {
            let store = common.open_store()?;
            let v = store.verify_audit().map_err(CliError::input)?;
            match v.first_broken {
                None => {
                    outln!("audit trail intact: {} entries", v.entries);
                    Ok(0)
                }
                Some((seq, why)) => Err(CliError::failed(format!(
                    "audit trail broken at entry {seq}: {why}"
                ))),
            }
        }
    }
}

fn token(t: TokenCmd) -> Result<u8, CliError> {
    match t {
        TokenCmd::Create { common, name, role } => {
            let store = common.open_store()?;
            let secret =
                crate::auth::create_token(&store, &name, role, "cli").map_err(CliError::input)?;
            outln!("{secret}");
            eprintln!("token {name:?} ({role}) created; the secret above is shown only once");
        }
        TokenCmd::List { common } => {
            let store = common.open_store()?;
            for t in store.list_tokens().map_err(CliError::input)? {
                outln!(
                    "{}\t{}\t{}\t{}",
                    t.name,
                    t.role,
                    t.created_at.to_rfc3339(),
                    t.created_by
                );
            }
        }
        TokenCmd::Revoke { common, name } => {
            let store = common.open_store()?;
            store.revoke_token(&name, "cli").map_err(CliError::input)?;
            eprintln!("token {name:?} revoked");
        }
    }
    Ok(0)
}

/// Progress on a terminal: a spinner with the current step.
struct BarProgress(indicatif::ProgressBar);

impl crate::feeds::Progress for BarProgress {
    fn message(&self, feed: &str, msg: &str) {
        self.0.set_message(format!("{feed}: {msg}"));
        self.0.tick();
    }
}

fn feeds(f: FeedsCmd) -> Result<u8, CliError> {
    use crate::feeds::{
        load_definitions, schedule::FeedRunner, status, LogProgress, Origin, Progress,
    };
    use std::io::IsTerminal;
    match f {
        FeedsCmd::Status { common, format } => {
            let c = common.load()?;
            let defs = load_definitions(&c.feeds.definitions).map_err(CliError::input)?;
            let store = Store::open(&c.store.data_dir).map_err(CliError::input)?;
            let st = status(&store, &defs, chrono::Utc::now()).map_err(CliError::input)?;
            if format == TableOrJson::Json {
                print_json(&st)?;
            } else {
                outln!(
                    "{:<10} {:<8} {:>9} {:<25} {:<25} {:<6} ERROR",
                    "FEED",
                    "KIND",
                    "RECORDS",
                    "LAST SUCCESS",
                    "NEWEST RECORD",
                    "STALE"
                );
                for f in &st {
                    let t = |d: Option<chrono::DateTime<chrono::Utc>>| {
                        d.map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                            .unwrap_or_else(|| "never".into())
                    };
                    outln!(
                        "{:<10} {:<8} {:>9} {:<25} {:<25} {:<6} {}",
                        f.name,
                        format!("{:?}", f.kind).to_lowercase(),
                        f.record_count,
                        t(f.last_success),
                        t(f.newest_record),
                        if f.stale { "STALE" } else { "ok" },
                        f.last_error.as_deref().unwrap_or("-")
                    );
                }
            }
            Ok(0)
        }
        FeedsCmd::Sync {
            common,
            feed,
            mirror,
            format,
        } => {
            let c = common.load()?;
            init_logging(&c);
            let defs = load_definitions(&c.feeds.definitions).map_err(CliError::input)?;
            let selected: Vec<_> = match &feed {
                Some(name) => {
                    let d = defs
                        .iter()
                        .find(|d| &d.name == name)
                        .cloned()
                        .ok_or_else(|| {
                            CliError::input(format!(
                                "no feed named {name:?}; known: {}",
                                defs.iter()
                                    .map(|d| d.name.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ))
                        })?;
                    vec![d]
                }
                None => defs.iter().filter(|d| d.enabled).cloned().collect(),
            };
            let origin = match mirror.or(c.feeds.mirror.clone()) {
                Some(m) if !m.is_dir() => {
                    return Err(CliError::input(format!(
                        "mirror folder {} does not exist",
                        m.display()
                    )))
                }
                Some(m) => Origin::Mirror(m),
                None => Origin::Network,
            };
            let rt = runtime()?;
            let store =
                std::sync::Arc::new(Store::open(&c.store.data_dir).map_err(CliError::input)?);
            let fetcher = crate::feeds::fetch::Fetcher::new(c.feeds.fetch_options())
                .map_err(CliError::input)?;
            let runner = FeedRunner::new(store, defs, origin, fetcher, c.feeds.nvd_key());
            let bar = std::io::stderr().is_terminal().then(|| {
                let b = indicatif::ProgressBar::new_spinner();
                b.enable_steady_tick(std::time::Duration::from_millis(120));
                BarProgress(b)
            });
            let progress: &dyn Progress = match &bar {
                Some(b) => b,
                None => &LogProgress,
            };
            let (_tx, cancel) = tokio::sync::watch::channel(false);
            let mut failed = Vec::new();
            let mut reports = Vec::new();
            for def in &selected {
                match rt.block_on(runner.run_one(def, None, progress, cancel.clone())) {
                    Ok(r) if format == TableOrJson::Json => {
                        reports.push(serde_json::json!({"feed": r.feed, "ok": true, "report": r}))
                    }
                    Ok(r) => {
                        if let Some(b) = &bar {
                            b.0.suspend(|| ());
                        }
                        outln!(
                            "{}: ok from {} ({} read; {} new, {} changed, {} withdrawn{}{})",
                            r.feed,
                            r.origin,
                            r.records_read,
                            r.changes.new.len() + r.kev_new.len(),
                            r.changes.changed.len() + r.epss_changed,
                            r.changes.withdrawn.len(),
                            if r.not_modified {
                                "; not modified upstream"
                            } else {
                                ""
                            },
                            if r.warnings.is_empty() {
                                String::new()
                            } else {
                                format!("; {} warnings", r.warnings.len())
                            }
                        );
                    }
                    Err(e) => {
                        if format == TableOrJson::Json {
                            reports.push(serde_json::json!({"feed": def.name, "ok": false, "error": e.to_string()}));
                        } else {
                            outln!("{}: FAILED: {e}", def.name);
                        }
                        failed.push(def.name.clone());
                    }
                }
            }
            if let Some(b) = bar {
                b.0.finish_and_clear();
            }
            if format == TableOrJson::Json {
                print_json(&reports)?;
            }
            if failed.is_empty() {
                Ok(0)
            } else {
                Err(CliError::failed(format!(
                    "feed(s) failed: {}",
                    failed.join(", ")
                )))
            }
        }
    }
}

fn scan(
    data: Option<PathBuf>,
    mirror: Option<PathBuf>,
    format: ScanFormat,
    strict: bool,
    files: &[PathBuf],
) -> Result<u8, CliError> {
    use crate::matching::scan::{render_sarif, render_table, ScanContext, ScanReport};
    // Parse every SBOM first: a bad file is an input error before any slow advisory loading.
    let mut parsed = Vec::new();
    for f in files {
        let bytes = std::fs::read(f)
            .map_err(|e| CliError::input(format!("cannot read {}: {e}", f.display())))?;
        let sbom = ingest::parse(&bytes, None, &IngestOptions { strict })
            .map_err(|e| CliError::input(format!("{}: {e}", f.display())))?;
        parsed.push((f.display().to_string(), sbom));
    }
    let advisories = match mirror {
        Some(m) => {
            let (advs, warnings) =
                crate::feeds::load_mirror_advisories(&m).map_err(CliError::input)?;
            for w in warnings {
                eprintln!("soupwatch: warning: {w}");
            }
            advs
        }
        None => {
            let dir = data.unwrap_or_else(|| PathBuf::from("./data"));
            if !dir.join("db").exists() {
                return Err(CliError::input(format!(
                    "{} holds no soupwatch data; sync feeds first or use --mirror",
                    dir.display()
                )));
            }
            Store::open(&dir)
                .and_then(|s| s.all_advisories())
                .map_err(CliError::input)?
        }
    };
    if advisories.is_empty() {
        return Err(CliError::input(
            "no advisories loaded: a scan against nothing would look clean",
        ));
    }
    let ctx = ScanContext::new(&advisories);
    let report = ScanReport {
        results: parsed
            .iter()
            .map(|(name, sbom)| ctx.scan(name, &sbom.components))
            .collect(),
    };
    match format {
        ScanFormat::Json => print_json(&report)?,
        ScanFormat::Sarif => print_json(&render_sarif(&report))?,
        ScanFormat::Table => out_raw(&render_table(&report)),
    }
    let found = report.results.iter().any(|r| !r.findings.is_empty());
    // An SBOM none of whose components could be matched is not clean: say so, exit 1.
    let blind: Vec<&str> = report
        .results
        .iter()
        .filter(|r| r.summary.components > 0 && r.summary.matchable == 0)
        .map(|r| r.sbom.as_str())
        .collect();
    for b in &blind {
        eprintln!("soupwatch: {b}: no component could be matched (no usable purl or CPE); this is not a clean result");
    }
    Ok(if found || !blind.is_empty() { 1 } else { 0 })
}

fn versions_compare(ecosystem: &str, versions: &[String]) -> Result<u8, CliError> {
    use std::io::BufRead;
    if versions.len() == 1 && versions[0] == "-" {
        let stdin = std::io::stdin();
        let mut out = String::new();
        for line in stdin.lock().lines() {
            let line = line.map_err(CliError::input)?;
            out.push_str(&crate::versions::compare_line(ecosystem, &line));
            out.push('\n');
        }
        out_raw(&out);
        return Ok(0);
    }
    let [a, b] = versions else {
        return Err(CliError::input(
            "give two versions A B, or - to read pairs from stdin",
        ));
    };
    match crate::versions::compare(ecosystem, a, b) {
        Ok(o) => {
            outln!(
                "{}",
                match o {
                    std::cmp::Ordering::Less => "<",
                    std::cmp::Ordering::Equal => "=",
                    std::cmp::Ordering::Greater => ">",
                }
            );
            Ok(0)
        }
        Err(e) => Err(CliError::input(e)),
    }
}

fn read_text(p: &std::path::Path) -> Result<String, CliError> {
    std::fs::read_to_string(p)
        .map_err(|e| CliError::input(format!("cannot read {}: {e}", p.display())))
}

fn rules(r: RulesCmd) -> Result<u8, CliError> {
    match r {
        RulesCmd::Check { file } => {
            let text = read_text(&file)?;
            match crate::triage::check(&text) {
                Ok(summary) => {
                    print_json(&summary)?;
                    Ok(0)
                }
                Err(errors) => {
                    for e in &errors {
                        eprintln!("{}: {e}", file.display());
                    }
                    Err(CliError::input(format!(
                        "{}: {} problem(s)",
                        file.display(),
                        errors.len()
                    )))
                }
            }
        }
        RulesCmd::Eval { rules, input } => {
            let text = match &rules {
                Some(p) => read_text(p)?,
                None => crate::triage::DEFAULT_RULES.to_string(),
            };
            let set = crate::triage::load_rules(&text)
                .map_err(|e| CliError::input(format!("rules: {e}")))?;
            let json = read_text(&input)?;
            let out = crate::triage::eval_json(&set, &json)
                .map_err(|e| CliError::input(format!("{}: {e}", input.display())))?;
            print_json(&out)?;
            Ok(0)
        }
    }
}
