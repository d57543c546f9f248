//! Test harness: runs the real `soupwatch` binary on 127.0.0.1 with a real sled folder, and
//! talks to it over HTTP like a release pipeline would. Nothing of ours is mocked.
#![allow(dead_code)]

pub mod osv_purl;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_soupwatch")
}

/// Runs the CLI to completion: (exit code, stdout, stderr).
pub fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run soupwatch");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Makes a token with the offline CLI (the data folder must not be held by a daemon).
pub fn make_token(data: &Path, name: &str, role: &str) -> String {
    let (code, out, err) = cli(&[
        "token",
        "create",
        "--data",
        data.to_str().unwrap(),
        "--name",
        name,
        "--role",
        role,
    ]);
    assert_eq!(code, 0, "token create failed: {err}");
    out.trim().to_string()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

/// A running daemon, stopped with SIGTERM when dropped.
pub struct Daemon {
    child: Child,
    pub base: String,
    pub data: PathBuf,
}

impl Daemon {
    pub fn start(data: &Path, extra: &[&str]) -> Daemon {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let log = std::fs::File::create(data.with_extension("log")).unwrap();
        let child = Command::new(bin())
            .args([
                "serve",
                "--data",
                data.to_str().unwrap(),
                "--listen",
                &listen,
            ])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn soupwatch serve");
        let d = Daemon {
            child,
            base: format!("http://{listen}"),
            data: data.to_path_buf(),
        };
        d.wait_ready();
        d
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(self.base.trim_start_matches("http://")).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("daemon did not start; log: {}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.with_extension("log")).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// SIGTERM and wait: the graceful path systemd takes.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGKILL: a crash at an arbitrary moment.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
        }
    }
}

/// A small deployment for daemon tests: a mirror holding the corpus's `osv/Maven/` records (those
/// whose file name `keep` accepts), a feed folder with only a Maven osv feed, no bundled
/// snapshot, the shipped rules and demo device/SOUP records, plus `extra` config (e.g. a
/// `[notify]` section). Returns (config file, mirror folder).
pub fn maven_setup(dir: &Path, keep: impl Fn(&str) -> bool, extra: &str) -> (PathBuf, PathBuf) {
    let mirror = dir.join("mirror");
    let maven = mirror.join("osv/Maven");
    std::fs::create_dir_all(&maven).unwrap();
    for e in std::fs::read_dir(corpus().join("osv/Maven")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        if name.ends_with(".json") && keep(&name) {
            std::fs::copy(&p, maven.join(&name)).unwrap();
        }
    }
    let feeds = dir.join("feeds");
    std::fs::create_dir_all(&feeds).unwrap();
    std::fs::write(
        feeds.join("osv.toml"),
        "name = \"osv\"\nkind = \"osv\"\nurl = \"https://osv-vulnerabilities.storage.googleapis.com\"\n\
         ecosystems = [\"Maven\"]\nschedule = \"0 7 */2 * * *\"\nenabled = true\nstale_after_hours = 26\n",
    )
    .unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cfg = dir.join("soupwatch.toml");
    std::fs::write(
        &cfg,
        format!(
            "[feeds]\ndefinitions = {:?}\nsnapshot = {:?}\nschedule = true\n\
             [triage]\nrules = {:?}\nproducts = {:?}\nsoup = {:?}\n\n{extra}",
            feeds,
            dir.join("no-snapshot"),
            root.join("config/rules.toml"),
            root.join("config/products"),
            root.join("config/soup")
        ),
    )
    .unwrap();
    (cfg, mirror)
}
