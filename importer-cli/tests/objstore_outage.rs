//! The S3 server stops mid-import. Each test runs its own moto on a free
//! port (`scripts/moto_seeded.py`, which holds the dump before it listens
//! and exits by itself after serving a few data objects), so the shared
//! server of `scripts/objstore.sh` is never touched. Restarted within the
//! retry window, the import completes with the rows of a disk import and
//! counts its retries; left down, the import fails within a bounded time
//! naming the object and the URL without its secret, and once the server
//! is back the same command resumes to the same rows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod crash_common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crash_common::{RunEnd, assert_same, image, run_importer};

const BUCKET: &str = "outage-bucket";
const PREFIX: &str = "dump";
/// A secret that must never be printed (moto takes any key).
const SECRET: &str = "OuTaGe-SeCrEt/never-print-me";

/// A seeded moto of this test; killed when dropped.
struct Moto(Child);

impl Moto {
    /// Serves `dump` on `port`, exiting after `exit_after` data GETs.
    fn start(port: u16, dump: &Path, exit_after: Option<u32>) -> Moto {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/moto_seeded.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script)
            .arg(port.to_string())
            .args([BUCKET, PREFIX])
            .arg(dump)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(n) = exit_after {
            cmd.args(["--exit-after-gets", &n.to_string()]);
        }
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "moto_seeded.py did not start");
        Moto(child)
    }

    /// Waits (at most a minute) for the server to exit by itself.
    fn wait_exit(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.0.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "moto did not stop by itself");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether moto can run: a failure in CI, a skip with a message otherwise.
fn moto_available() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import moto.server, werkzeug"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "moto is not installed in CI (scripts/setup.sh test installs moto[server])"
        );
        eprintln!("skipped: moto is not installed (scripts/setup.sh test installs moto[server])");
    }
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A config importing the dump on `port` into `<dir>/store`, one chunk at
/// a time (so the server stops while data objects remain to be read).
fn write_config(dir: &Path, source: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let text = format!(
        "[lightning]\nlevel = \"info\"\nfile = \"{log}\"\nregion-concurrency = 1\n\
         table-concurrency = 1\n\
         [checkpoint]\ndsn = \"{cp}\"\n\
         [tikv-importer]\nbackend = \"local\"\nsorted-kv-dir = \"{kv}\"\n\
         [store]\npath = \"{store}\"\n\
         [mydumper]\ndata-source-dir = \"{source}\"\nmax-region-size = \"48KiB\"\n\
         strict-format = true\n\
         [mydumper.csv]\nterminator = \"\\n\"\n\
         [post-restore]\nchecksum = \"required\"\n",
        log = dir.join("importer.log").display(),
        cp = dir.join("checkpoint.json").display(),
        kv = dir.join("kv").display(),
        store = dir.join("store").display(),
    );
    let path = dir.join("importer.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn s3_url(port: u16) -> String {
    format!(
        "s3://{BUCKET}/{PREFIX}?endpoint={}&region=us-east-1&access-key=outage-key-id&secret-access-key={}",
        enc(&format!("http://127.0.0.1:{port}")),
        enc(SECRET)
    )
}

/// Runs the importer to its end, in the background.
fn spawn_import(config: &Path) -> std::thread::JoinHandle<(Output, Duration)> {
    let config = config.to_path_buf();
    std::thread::spawn(move || {
        let started = Instant::now();
        let out = Command::new(crash_common::importer())
            .arg("--config")
            .arg(&config)
            .env_remove("RUST_LOG")
            .env_remove("IMPORTER_FAILPOINTS")
            .output()
            .unwrap();
        (out, started.elapsed())
    })
}

fn assert_no_secret(what: &str, text: &str) {
    for needle in [SECRET.to_string(), enc(SECRET)] {
        assert!(!text.contains(&needle), "{what} holds the secret key");
    }
}

/// An import from a seeded moto that stopped after serving two data
/// objects, the import still under way.
struct Outage {
    dump: PathBuf,
    /// The tables of the same dump imported from disk.
    want: Vec<crash_common::TableImage>,
    port: u16,
    dir: PathBuf,
    config: PathBuf,
    import: std::thread::JoinHandle<(Output, Duration)>,
}

/// `None` (skipped) without moto outside CI.
fn import_until_the_server_stops(tmp: &Path) -> Option<Outage> {
    if !moto_available() {
        return None;
    }
    let dump = tmp.join("dump");
    crash_common::generate_db(&dump, 1, crash_common::DB);
    let config = write_config(&tmp.join("disk"), dump.to_str().unwrap());
    assert!(matches!(run_importer(&config, "", None), RunEnd::Success));
    let want = image(&tmp.join("disk").join("store"));
    let port = free_port();
    let mut moto = Moto::start(port, &dump, Some(2));
    let dir = tmp.join("s3");
    let config = write_config(&dir, &s3_url(port));
    let import = spawn_import(&config);
    moto.wait_exit();
    Some(Outage {
        dump,
        want,
        port,
        dir,
        config,
        import,
    })
}

#[test]
fn s3_server_restarted_within_the_retry_window_completes_the_import() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(o) = import_until_the_server_stops(tmp.path()) else {
        return;
    };
    // Down for a second: shorter than the reads' retries last.
    std::thread::sleep(Duration::from_secs(1));
    let _moto = Moto::start(o.port, &o.dump, None);
    let (out, _) = o.import.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_same(&image(&o.dir.join("store")), &o.want, "after the restart");
    let retried = stdout
        .lines()
        .find_map(|l| l.split_once(" object-store request"))
        .and_then(|(n, _)| n.trim().parse::<u64>().ok())
        .unwrap_or(0);
    assert!(retried > 0, "the summary counts the retries:\n{stdout}");
    let log = std::fs::read_to_string(o.dir.join("importer.log")).unwrap();
    assert!(log.contains("retrying with backoff"), "{log}");
    for (what, text) in [
        ("stdout", &*stdout),
        ("stderr", &*stderr),
        ("the log", &*log),
    ] {
        assert_no_secret(what, text);
    }
}

#[test]
fn s3_server_that_stays_down_fails_clearly_and_the_rerun_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(o) = import_until_the_server_stops(tmp.path()) else {
        return;
    };
    let (out, took) = o.import.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The retries are bounded: object_store's per request, five more per
    // read.
    eprintln!("the import gave up after {took:?}");
    assert!(took < Duration::from_secs(150), "gave up after {took:?}");
    assert!(
        stderr.contains(&format!("s3://{BUCKET}/{PREFIX}")),
        "the error names the location: {stderr}"
    );
    let data_files: Vec<String> = std::fs::read_dir(&o.dump)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.contains("-schema"))
        .collect();
    assert!(
        data_files.iter().any(|n| stderr.contains(n.as_str())),
        "the error names the object: {stderr}"
    );
    assert_no_secret("stderr", &stderr);
    assert_no_secret("stdout", &String::from_utf8_lossy(&out.stdout));

    let _moto = Moto::start(o.port, &o.dump, None);
    let end = run_importer(&o.config, "", None);
    assert!(matches!(end, RunEnd::Success), "{end:?}");
    assert_same(&image(&o.dir.join("store")), &o.want, "resumed");
}
