//! The status page in a real browser: headless Chromium driven over the
//! W3C WebDriver protocol (chromedriver; a few JSON requests, no client
//! crate) opens `/` while the `importer` binary runs, waits for the
//! overall progress bar to move, takes a screenshot, then checks the page
//! shows the final summary.
//!
//! Needs the Debian packages `chromium` and `chromium-driver`
//! (`scripts/setup.sh test` installs them). Without them the test fails
//! when `CI` is set and is skipped otherwise. Set
//! `IMPORTER_STATUS_SCREENSHOT=docs/status-page.png` to refresh the
//! README's screenshot.

#![allow(clippy::unwrap_used)]

mod status_common;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use status_common::{Importer, write_dump};

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// One WebDriver request; returns the response's `value`.
fn webdriver(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> Value {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // Chromedriver answers `Connection: close` but keeps the socket open:
    // read the headers, then exactly Content-Length bytes.
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "{method} {path}: connection closed before the headers"
        );
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8(raw[..head_end].to_vec()).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("{method} {path}: no Content-Length: {head}"));
    let mut body = raw[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "{method} {path}: connection closed in the body");
        body.extend_from_slice(&buf[..n]);
    }
    let payload = String::from_utf8(body).unwrap();
    let value: Value = serde_json::from_str(&payload)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}: {head}\n{payload}"));
    assert!(
        head.split_whitespace().nth(1) == Some("200"),
        "{method} {path}: {head}\n{value:#}"
    );
    value["value"].clone()
}

/// Standard base64 (the screenshot's encoding).
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let clean: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    for quad in clean.chunks(4) {
        let data: Vec<u8> = quad.iter().copied().filter(|&c| c != b'=').collect();
        let mut n = 0u32;
        for (i, &c) in data.iter().enumerate() {
            n |= value(c) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..data.len()]);
    }
    out
}

/// Chromedriver, killed on drop after closing its browser session (a
/// browser outlives a killed chromedriver).
struct Driver {
    child: Child,
    addr: SocketAddr,
    session: Option<String>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(id) = self.session.take() {
            // Best effort, and never a panic inside a drop.
            if let Ok(mut stream) = TcpStream::connect(self.addr) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
                let _ = write!(
                    stream,
                    "DELETE /session/{id} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\n\r\n",
                    self.addr
                );
                let _ = stream.read(&mut [0u8; 1024]);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start(program: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(program)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let driver = Driver {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            session: None,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(driver.addr).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        driver
    }
}

#[test]
fn the_page_shows_a_running_import_in_chromium() {
    let (Some(driver_bin), Some(browser)) = (
        find_program(&["chromedriver"]),
        find_program(&["chromium", "chromium-browser"]),
    ) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium/chromedriver not installed (scripts/setup.sh test installs them)"
        );
        eprintln!("skipped: chromium/chromedriver not installed (run scripts/setup.sh test)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    write_dump(&dump, 150_000);

    // The browser first: it takes longer to start than the import's first
    // seconds.
    let mut driver = Driver::start(&driver_bin);
    let caps = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": browser,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--window-size=1000,700", "--hide-scrollbars"]
        }
    }}});
    let session = webdriver(driver.addr, "POST", "/session", Some(&caps));
    let id = session["sessionId"].as_str().unwrap().to_string();
    driver.session = Some(id.clone());
    let driver_addr = driver.addr;
    let at = |p: &str| format!("/session/{id}{p}");
    let script = |js: &str| {
        webdriver(
            driver_addr,
            "POST",
            &at("/execute/sync"),
            Some(&json!({"script": js, "args": []})),
        )
    };

    let mut importer = Importer::start(&dump, &dir.path().join("store"), &[]);
    let url = format!("http://{}/", importer.addr);
    webdriver(driver_addr, "POST", &at("/url"), Some(&json!({"url": url})));

    // The overall bar's width, as the page drew it (percent of the track).
    let read = "const b = document.querySelector('#overall > div');\
                const w = b.getBoundingClientRect().width / b.parentElement.getBoundingClientRect().width;\
                return [document.getElementById('state').textContent, w * 100,\
                        document.querySelectorAll('#tables .bar').length];";
    let mut first: Option<f64> = None;
    let mut moved = None;
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline && importer.running() {
        let v = script(read);
        let (state, width) = (v[0].as_str().unwrap_or_default(), v[1].as_f64().unwrap());
        if state == "succeeded" || state == "failed" {
            break;
        }
        if state == "running" && width > 0.0 && v[2].as_u64() == Some(2) {
            match first {
                None => first = Some(width),
                Some(w) if width > w + 1.0 => moved = Some((w, width)),
                _ => {}
            }
        }
        // The picture is taken part way (a third or more), not at the
        // first movement, so it shows bars that mean something.
        if moved.is_some() && width >= 33.0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (from, to) = moved.unwrap_or_else(|| {
        panic!("the progress bar did not move while the import ran (first width {first:?})")
    });
    let png = base64_decode(
        webdriver(driver_addr, "GET", &at("/screenshot"), None)
            .as_str()
            .unwrap(),
    );
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert!(width >= 800 && height >= 400, "{width}x{height}");
    let target = std::env::var_os("IMPORTER_STATUS_SCREENSHOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().join("status-page.png"));
    std::fs::write(&target, &png).unwrap();
    eprintln!(
        "bar moved from {from:.1}% to {to:.1}%; screenshot {}",
        target.display()
    );

    // The page shows the end of the run: the summary, the bar full.
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut last = Value::Null;
    while Instant::now() < deadline {
        last = script(
            "return [document.getElementById('state').textContent,\
                     document.getElementById('summary').textContent,\
                     document.getElementById('sumcard').hidden];",
        );
        if last[0] == "succeeded" {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(last[0], "succeeded", "{last}");
    assert_eq!(last[2], false, "summary hidden");
    assert!(
        last[1]
            .as_str()
            .unwrap()
            .contains("2 tables, 0 failed, 450000 rows"),
        "{last}"
    );
    drop(driver);
    let (status, stdout, stderr) = importer.wait();
    assert!(status.success(), "{stdout}\n{stderr}");
}
