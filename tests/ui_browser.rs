//! Issue 7 in a real browser: headless Chromium, driven through chromedriver's W3C WebDriver
//! HTTP protocol, against the real daemon with a real SBOM and the Maven OSV slice of the
//! corpus. A reviewer signs in with a token, opens the queue and a ticket, signs it off through
//! the form, and the ticket leaves the queue; a POST without the CSRF token, or from another
//! origin, is refused; an analyst sees no signoff form, cannot sign off, but can move the ticket
//! (and sees the guards' refusal). Screenshots of the ticket page are kept in
//! `<target dir>/ui-artifacts/`: `ticket.png` (whole page), `ticket-laptop.png` (the first
//! 1280x900 screen) `ticket-signed.png` (after the signoff),
//! `queue.png`, `portfolio.png` and `feeds.png`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`, `chromedriver` on
//! PATH); without them the test fails and says so. `SOUPWATCH_CHROMIUM` / `SOUPWATCH_CHROMEDRIVER`
//! override the paths.

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SBOM: &str = "sbom/cyclonedx/bom-examples/SBOM/dropwizard-1.3.15/bom.json";
const TICKET: &str = "demo-pump:CVE-2019-16942";
const TICKET_PATH: &str = "/ui/tickets/demo-pump%3ACVE-2019-16942";
/// The W3C WebDriver key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn setup(dir: &Path) -> (PathBuf, PathBuf) {
    maven_setup(dir, |_| true, "")
}

/// Chromium and chromedriver, or a failure that says how to install them (never a silent skip).
fn browser_paths() -> (PathBuf, PathBuf) {
    let from_env = |k: &str| std::env::var_os(k).map(PathBuf::from);
    let on_path = |name: &str| {
        std::env::var_os("PATH").and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .find(|f| f.is_file())
        })
    };
    let chromium = from_env("SOUPWATCH_CHROMIUM")
        .or_else(|| on_path("chromium"))
        .filter(|p| p.is_file());
    let driver = from_env("SOUPWATCH_CHROMEDRIVER")
        .or_else(|| on_path("chromedriver"))
        .filter(|p| p.is_file());
    match (chromium, driver) {
        (Some(c), Some(d)) => (c, d),
        (c, d) => panic!(
            "the review-UI browser test needs Chromium and chromedriver (found chromium: {c:?}, \
             chromedriver: {d:?}). Install them with: apt-get update && apt-get install -y \
             chromium chromium-driver"
        ),
    }
}

/// chromedriver in its own process group, which is ended (with its browsers) on drop.
struct Driver {
    child: Child,
    base: String,
}

impl Driver {
    fn start(path: &Path, log: &Path) -> Driver {
        use std::os::unix::process::CommandExt;
        let port = free_port();
        let log = std::fs::File::create(log).unwrap();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// A WebDriver session: each method is one W3C command.
struct Browser {
    c: reqwest::Client,
    session: String,
}

impl Browser {
    async fn open(driver: &Driver, chromium: &Path, profile: &Path) -> Browser {
        let c = client();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = c.get(format!("{}/status", driver.base)).send().await;
            if let Ok(r) = ready {
                let v: Value = r.json().await.unwrap_or_default();
                if v["value"]["ready"] == true {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", "--no-first-run", "--window-size=1280,900",
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let r: Value = c
            .post(format!("{}/session", driver.base))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {r}"));
        Browser {
            c,
            session: format!("{}/session/{id}", driver.base),
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.c.request(method, format!("{}{path}", self.session));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        if v["value"]["error"].is_string() {
            panic!("WebDriver {path}: {}", v["value"]);
        }
        v["value"].clone()
    }

    async fn get(&self, path: &str) -> Value {
        self.cmd(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.cmd(reqwest::Method::POST, path, Some(body)).await
    }

    async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    async fn url(&self) -> String {
        self.get("/url").await.as_str().unwrap().to_string()
    }

    async fn find_all(&self, css: &str) -> Vec<String> {
        let v = self
            .post("/elements", json!({"using": "css selector", "value": css}))
            .await;
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e[ELEMENT].as_str().unwrap().to_string())
            .collect()
    }

    async fn find(&self, css: &str) -> String {
        let all = self.find_all(css).await;
        match all.first() {
            Some(e) => e.clone(),
            None => panic!(
                "no element {css:?} on {}: {}",
                self.url().await,
                self.text("body").await
            ),
        }
    }

    async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.post(&format!("/element/{e}/click"), json!({})).await;
    }

    /// Clicks something that loads a new page, and waits until the new page has loaded (the
    /// old document's root is gone and the new one is complete).
    async fn click_to_load(&self, css: &str) {
        let old = self.find("html").await;
        self.click(css).await;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let r: Value = self
                .c
                .get(format!("{}/element/{old}/name", self.session))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if r["value"]["error"].is_string() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "clicking {css:?} loaded no new page"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        loop {
            let state = self
                .post(
                    "/execute/sync",
                    json!({"script": "return document.readyState;", "args": []}),
                )
                .await;
            if state == "complete" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "page after {css:?} did not finish loading"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.post(&format!("/element/{e}/value"), json!({ "text": text }))
            .await;
    }

    /// The rendered text of the first element matching `css`.
    async fn text(&self, css: &str) -> String {
        let all = self.find_all(css).await;
        match all.first() {
            Some(e) => self
                .get(&format!("/element/{e}/text"))
                .await
                .as_str()
                .unwrap_or("")
                .to_string(),
            None => String::new(),
        }
    }

    async fn texts(&self, css: &str) -> Vec<String> {
        let mut out = Vec::new();
        for e in self.find_all(css).await {
            let t = self.get(&format!("/element/{e}/text")).await;
            out.push(t.as_str().unwrap_or("").to_string());
        }
        out
    }

    async fn attr(&self, css: &str, name: &str) -> String {
        let e = self.find(css).await;
        let v = self.get(&format!("/element/{e}/attribute/{name}")).await;
        v.as_str().unwrap_or("").to_string()
    }

    async fn cookies(&self) -> Vec<Value> {
        self.get("/cookie")
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// A screenshot of what the 1280x900 window shows (a laptop screen).
    async fn window_png(&self) -> Vec<u8> {
        base64_decode(self.get("/screenshot").await.as_str().unwrap())
    }

    /// A screenshot of the whole page (the window is made as tall as the document first).
    async fn full_page_png(&self) -> Vec<u8> {
        let h = self
            .post(
                "/execute/sync",
                json!({"script": "return document.documentElement.scrollHeight;", "args": []}),
            )
            .await
            .as_u64()
            .unwrap_or(900);
        self.post(
            "/window/rect",
            json!({"width": 1280, "height": h.clamp(900, 8000) + 140}),
        )
        .await;
        let b64 = self.get("/screenshot").await;
        self.post("/window/rect", json!({"width": 1280, "height": 900}))
            .await;
        base64_decode(b64.as_str().unwrap())
    }

    async fn quit(self) {
        let _ = self.c.delete(&self.session).send().await;
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let clean: Vec<u8> = s
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= u32::from(val(*c)) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// `<target dir>/ui-artifacts`, next to `debug/` (found from the built binary's path).
fn artifacts_dir() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_soupwatch"));
    let target = bin
        .parent()
        .and_then(Path::parent)
        .expect("binary lives in <target>/<profile>/");
    let dir = target.join("ui-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The plain HTTP client a forger would use (no redirects followed, so 303s are visible).
fn raw_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn api(c: &reqwest::Client, url: String, tok: &str) -> (u16, Value) {
    let r = c.get(url).bearer_auth(tok).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

async fn sign_in(b: &Browser, token: &str) {
    b.type_into("#token", token).await;
    b.click_to_load("#login button[type=submit]").await;
}

#[tokio::test]
async fn reviewer_signs_off_a_ticket_in_a_real_browser() {
    let started = Instant::now();
    let (chromium, chromedriver) = browser_paths();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (cfg, mirror) = setup(dir.path());
    let admin = make_token(&data, "admin", "admin");
    let reviewer = make_token(&data, "regulatory", "reviewer");
    let analyst = make_token(&data, "security", "analyst");
    let d = Daemon::start(
        &data,
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--mirror",
            mirror.to_str().unwrap(),
        ],
    );
    let driver = Driver::start(&chromedriver, &dir.path().join("chromedriver.log"));
    let c = client();
    let r = c
        .put(d.url("/api/v1/products/demo-pump/releases/1.0.0/sbom"))
        .bearer_auth(&admin)
        .body(std::fs::read(corpus().join(SBOM)).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // The browser starts while the daemon matches and triages.
    let b = Browser::open(&driver, &chromium, &dir.path().join("profile")).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (s, _) = api(&c, d.url(&format!("/api/v1/tickets/{TICKET}")), &reviewer).await;
        if s == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no ticket {TICKET}; log: {}",
            d.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Triage opens the other tickets in the same pass or shortly after: wait until it settles.
    let mut all = Value::Null;
    let mut same = 0;
    while same < 3 {
        let (_, now) = api(&c, d.url("/api/v1/tickets?product=demo-pump"), &reviewer).await;
        let n = |v: &Value| v.as_array().map_or(0, Vec::len);
        same = if n(&now) == n(&all) { same + 1 } else { 0 };
        all = now;
        assert!(Instant::now() < deadline, "triage did not settle");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let other = all
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .find(|id| id != TICKET)
        .expect("the dropwizard SBOM opens more than one ticket");

    // Signed out, every page leads to the login form.
    let raw = raw_client();
    let r = raw.get(d.url("/ui/feeds")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/ui/login?next=%2Fui%2Ffeeds");
    let login = raw.get(d.url("/ui/login")).send().await.unwrap();
    let csp = login.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("form-action 'self'"));
    assert_eq!(login.headers()["cache-control"], "no-store");
    b.goto(&d.url("/ui/")).await;
    assert!(b.url().await.contains("/ui/login"), "{}", b.url().await);
    assert_eq!(b.text("h1").await, "Sign in");

    // A wrong token is refused on the page.
    sign_in(&b, "swt_0000").await;
    assert!(b
        .text("[role=alert]")
        .await
        .contains("Unknown or revoked token"));

    // Sign in as the reviewer: the queue.
    sign_in(&b, &reviewer).await;
    assert_eq!(b.url().await, d.url("/ui/"));
    assert_eq!(b.text("h1").await, "Tickets awaiting signoff");
    let session = b
        .cookies()
        .await
        .into_iter()
        .find(|c| c["name"] == "soupwatch_session")
        .expect("a session cookie");
    assert_eq!(session["httpOnly"], true, "{session}");
    assert_eq!(session["sameSite"], "Strict", "{session}");
    assert_eq!(session["path"], "/ui");
    let sid = session["value"].as_str().unwrap().to_string();
    assert!(
        !sid.contains(&reviewer) && !reviewer.contains(&sid),
        "the token is not the cookie"
    );
    let queued = b.find_all("#queue tbody tr").await.len();
    assert_eq!(
        queued,
        all.as_array().unwrap().len(),
        "every new ticket awaits signoff"
    );
    assert!(!b
        .find_all(&format!("tr[data-ticket=\"{TICKET}\"]"))
        .await
        .is_empty());

    // Sorting: by priority the P-levels never go down the list; by deadline the dates don't.
    b.click_to_load("a[href=\"/ui/?sort=priority\"]").await;
    let prios = b.texts("#queue td.priority").await;
    assert_eq!(prios.len(), queued);
    assert!(prios.windows(2).all(|w| w[0] <= w[1]), "{prios:?}");
    b.click_to_load("a[href=\"/ui/?sort=deadline\"]").await;
    let dates = b.texts("#queue td.deadline").await;
    let key = |s: &String| (s == "none", s.clone());
    assert!(
        dates.windows(2).all(|w| key(&w[0]) <= key(&w[1])),
        "{dates:?}"
    );
    let shots = artifacts_dir();
    std::fs::write(shots.join("queue.png"), b.window_png().await).unwrap();

    // Open the ticket from the queue: its link is URL-encoded (the id has a colon).
    b.click_to_load(&format!("a[href=\"{TICKET_PATH}\"]")).await;
    assert_eq!(b.url().await, d.url(TICKET_PATH));
    let body = b.text("main").await;
    for needle in [
        "CVE-2019-16942",
        "jackson-databind",
        "SOUP-017",
        "Jackson databind (JSON binding)",
        "HAZ-07",
        "xp-design",
        "controlled",
        "awaiting signoff",
    ] {
        assert!(body.contains(needle), "{needle:?} not on the ticket page");
    }
    // The trace shows every rule that fired, in plain words, with its basis.
    let (_, t) = api(&c, d.url(&format!("/api/v1/tickets/{TICKET}")), &reviewer).await;
    let trace = t["decision"]["trace"].as_array().unwrap();
    let rows = b.texts("#trace tbody tr").await;
    assert_eq!(rows.len(), trace.len());
    for (row, e) in rows.iter().zip(trace) {
        for k in ["rule", "outcome", "basis"] {
            assert!(
                row.contains(e[k].as_str().unwrap()),
                "{row} lacks {k} of {e}"
            );
        }
    }
    let clocks = b.texts("#clocks tbody tr").await;
    assert_eq!(clocks.len(), t["notifications"].as_array().unwrap().len());
    // The component's SOUP link points at the record's section on the page.
    b.click("#releases a[href=\"#soup-SOUP-017\"]").await;
    assert_eq!(
        b.url().await,
        d.url(&format!("{TICKET_PATH}#soup-SOUP-017"))
    );
    assert!(b
        .text("#soup-SOUP-017")
        .await
        .contains("SI-04 pump service API"));
    b.goto(&d.url(TICKET_PATH)).await;
    std::fs::write(shots.join("ticket-laptop.png"), b.window_png().await).unwrap();
    std::fs::write(shots.join("ticket.png"), b.full_page_png().await).unwrap();

    // Sign it off through the form.
    b.click("#action-confirm").await;
    b.type_into("#meaning", "approved as risk owner").await;
    b.click_to_load("#sign").await;
    assert_eq!(b.url().await, d.url(&format!("{TICKET_PATH}?done=signoff")));
    assert!(b.text("[role=status]").await.contains("Signed off"));
    assert!(b.text("#signoff-status").await.contains("signed off"));
    let signed = b.text("#signoffs tbody").await;
    assert!(
        signed.contains("regulatory") && signed.contains("approved as risk owner"),
        "{signed}"
    );
    std::fs::write(shots.join("ticket-signed.png"), b.full_page_png().await).unwrap();
    let (_, t) = api(&c, d.url(&format!("/api/v1/tickets/{TICKET}")), &reviewer).await;
    assert_eq!(t["signed_off"], true);
    assert_eq!(t["signoffs"][0]["by"], "regulatory");
    assert_eq!(t["signoffs"][0]["action"], "confirm");
    // ...and it has left the queue; the others are still there.
    b.goto(&d.url("/ui/")).await;
    assert!(b
        .find_all(&format!("tr[data-ticket=\"{TICKET}\"]"))
        .await
        .is_empty());
    assert!(!b
        .find_all(&format!("tr[data-ticket=\"{other}\"]"))
        .await
        .is_empty());
    assert_eq!(b.find_all("#queue tbody tr").await.len(), queued - 1);

    // CSRF: the session cookie alone is not enough to sign.
    let csrf = b.attr("form.signout input[name=csrf]", "value").await;
    let other_path = format!("/ui/tickets/{}/signoff", other.replace(':', "%3A"));
    let forge = |body: String, origin: Option<&str>| {
        let mut req = raw
            .post(d.url(&other_path))
            .header("cookie", format!("soupwatch_session={sid}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.send()
    };
    let same = d.base.as_str();
    let no_token = forge("action=confirm&meaning=forged".into(), Some(same))
        .await
        .unwrap();
    assert_eq!(no_token.status(), 403);
    assert!(no_token.text().await.unwrap().contains("security token"));
    let wrong = forge(
        format!("csrf={}x&action=confirm&meaning=forged", &csrf[..63]),
        Some(same),
    );
    assert_eq!(wrong.await.unwrap().status(), 403);
    let cross = forge(
        format!("csrf={csrf}&action=confirm&meaning=forged"),
        Some("http://evil.example"),
    );
    assert_eq!(cross.await.unwrap().status(), 403);
    // Control: the right token from the right origin reaches the domain, which wants a meaning.
    let control = forge(format!("csrf={csrf}&action=confirm&meaning="), Some(same))
        .await
        .unwrap();
    assert_eq!(control.status(), 400);
    assert!(control
        .text()
        .await
        .unwrap()
        .contains("meaning of the signature"));
    let (_, o) = api(&c, d.url(&format!("/api/v1/tickets/{other}")), &reviewer).await;
    assert_eq!(
        o["signoffs"].as_array().unwrap().len(),
        0,
        "nothing was signed"
    );

    // Portfolio and feeds.
    b.click_to_load("a[href=\"/ui/portfolio\"]").await;
    let (_, f) = api(
        &c,
        d.url("/api/v1/products/demo-pump/releases/1.0.0/findings"),
        &reviewer,
    )
    .await;
    let active = f["findings"].as_array().unwrap().len();
    assert!(active > 0);
    assert_eq!(
        b.text("td.total").await,
        active.to_string(),
        "open findings of 1.0.0"
    );
    std::fs::write(shots.join("portfolio.png"), b.window_png().await).unwrap();
    b.click_to_load("a[href=\"/ui/feeds\"]").await;
    let feeds = b.text("#feeds tbody").await;
    assert!(feeds.contains("osv") && feeds.contains("fresh"), "{feeds}");
    std::fs::write(shots.join("feeds.png"), b.window_png().await).unwrap();

    // Sign out: the old cookie no longer opens anything.
    b.click_to_load("form.signout button").await;
    assert!(b.url().await.contains("/ui/login"));
    let r = raw
        .get(d.url("/ui/"))
        .header("cookie", format!("soupwatch_session={sid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);

    // An analyst, sent to the ticket after signing in: no signoff form, and no signing by hand.
    b.goto(&d.url(TICKET_PATH)).await;
    assert!(b.url().await.contains("/ui/login?next="));
    sign_in(&b, &analyst).await;
    assert_eq!(b.url().await, d.url(TICKET_PATH));
    assert!(b.find_all("form#signoff").await.is_empty());
    assert!(b.text("#signoff-not-allowed").await.contains("reviewer"));
    let asid = b
        .cookies()
        .await
        .into_iter()
        .find(|c| c["name"] == "soupwatch_session")
        .and_then(|c| c["value"].as_str().map(str::to_string))
        .unwrap();
    let acsrf = b.attr("form#transition input[name=csrf]", "value").await;
    let r = raw
        .post(d.url(&other_path))
        .header("cookie", format!("soupwatch_session={asid}"))
        .header("origin", same)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={acsrf}&action=confirm&meaning=approved"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("reviewer or admin"));
    // The analyst moves the signed ticket on; a guarded move shows the guard's refusal.
    b.click("#to option[value=APPLICABILITY_CHECK]").await;
    b.click_to_load("#move").await;
    assert!(b
        .text("[role=status]")
        .await
        .contains("Moved to Applicability check"));
    assert_eq!(b.text("#state").await, "Applicability check");
    b.click("#to option[value=CLOSED]").await;
    b.click_to_load("#move").await;
    let refusal = b.text("[role=alert]").await;
    assert!(
        refusal.contains("Refused by the lifecycle guards"),
        "{refusal:?} at {}: {}",
        b.url().await,
        b.text("body").await
    );
    assert_eq!(b.text("#state").await, "Applicability check");
    let (_, t) = api(&c, d.url(&format!("/api/v1/tickets/{TICKET}")), &reviewer).await;
    assert_eq!(t["state"], "APPLICABILITY_CHECK");

    b.quit().await;
    drop(driver);
    d.stop();
    eprintln!(
        "review UI browser test: {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        shots.display()
    );
}
