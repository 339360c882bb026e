//! Faults on the local backend, through the binary: Ctrl-C (SIGINT) and
//! SIGTERM mid-import, a second signal, and the target store locked by
//! another process. Each: a clear message, no panic, and a rerun that
//! completes with a target identical (KV checksum) to a clean import.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const FILES: usize = 8;
const ROWS_PER_FILE: usize = 25_000;

/// A dump of one table with a secondary index, in `FILES` CSV files, and a
/// config running two chunks at a time so an import takes a few seconds.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let dump = dir.path().join("dump");
        std::fs::create_dir(&dump).unwrap();
        std::fs::write(
            dump.join("big-schema-create.sql"),
            "CREATE DATABASE `big`;\n",
        )
        .unwrap();
        std::fs::write(
            dump.join("big.t-schema.sql"),
            "CREATE TABLE `t` (`id` bigint NOT NULL, `a` varchar(64), `b` int, \
             PRIMARY KEY (`id`), KEY `kb` (`b`));\n",
        )
        .unwrap();
        for f in 0..FILES {
            let file = std::fs::File::create(dump.join(format!("big.t.{f:09}.csv"))).unwrap();
            let mut w = std::io::BufWriter::new(file);
            writeln!(w, "id,a,b").unwrap();
            for i in f * ROWS_PER_FILE..(f + 1) * ROWS_PER_FILE {
                writeln!(w, "{i},some text value number {i},{}", i % 977).unwrap();
            }
            w.flush().unwrap();
        }
        std::fs::write(
            dir.path().join("config.toml"),
            "[lightning]\nregion-concurrency = 2\n",
        )
        .unwrap();
        Setup { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, store: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_importer"));
        cmd.args(["--config", self.path("config.toml").to_str().unwrap()])
            .args(["-d", self.path("dump").to_str().unwrap()])
            .args(["--store", self.path(store).to_str().unwrap()])
            .args(["-L", "warn"])
            .env_remove("IMPORTER_CONFIG")
            .env_remove("RUST_LOG");
        cmd
    }

    fn spawn(&self, store: &str) -> Child {
        self.command(store)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn run(&self, store: &str) -> Output {
        self.command(store).output().unwrap()
    }

    /// `importer store checksum big.t`.
    fn checksum(&self, store: &str) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_importer"))
            .args(["store", "checksum", "big.t", "--store"])
            .arg(self.path(store))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    }

    fn checkpoint(&self, store: &str) -> PathBuf {
        self.path(&format!("{store}.checkpoint.json"))
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{sig}");
}

/// Waits until the import has started writing (its checkpoint exists).
fn wait_started(checkpoint: &Path) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !checkpoint.exists() {
        assert!(Instant::now() < deadline, "the import never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Let a few batches reach the writers.
    std::thread::sleep(Duration::from_millis(300));
}

fn assert_no_panic(what: &str, out: &Output) {
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "{what} panicked:\n{err}");
    assert!(
        out.status.code().is_some(),
        "{what} died by a signal:\n{err}"
    );
    assert_ne!(out.status.code(), Some(101), "{what}: {err}");
}

/// Interrupts an import with `signals` (sent one after another), checks
/// the exit and message, then resumes and compares with a clean import.
fn interrupt_then_resume(signals: &[&str], code: i32, message: &str) {
    let s = Setup::new();
    let child = s.spawn("store");
    wait_started(&s.checkpoint("store"));
    for sig in signals {
        signal(&child, sig);
    }
    let out = child.wait_with_output().unwrap();
    assert_no_panic("the interrupted run", &out);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    if signals.len() > 1 && !err.contains(message) {
        // The clean stop can finish before the second signal lands; then
        // it must be the clean stop's message.
        eprintln!("the clean stop beat the second signal");
        assert!(err.contains("progress saved in"), "{err}");
    } else {
        assert!(err.contains(message), "stderr lacks {message:?}:\n{err}");
    }
    assert!(err.contains("rerun the same command to resume"), "{err}");
    assert!(
        s.checkpoint("store").exists(),
        "no checkpoint left to resume from"
    );

    let rerun = s.run("store");
    assert_no_panic("the rerun", &rerun);
    assert!(rerun.status.success(), "{}", text(&rerun.stderr));
    let clean = s.run("clean");
    assert!(clean.status.success(), "{}", text(&clean.stderr));
    let resumed = s.checksum("store");
    assert_eq!(resumed, s.checksum("clean"));
    assert!(
        resumed.contains(&format!("kvs {}", 2 * FILES * ROWS_PER_FILE)),
        "{resumed}"
    );
}

#[test]
fn sigint_stops_cleanly_and_the_rerun_resumes() {
    interrupt_then_resume(
        &["INT"],
        130,
        "interrupted by SIGINT: stopped after the chunks in flight, progress saved in",
    );
}

#[test]
fn sigterm_stops_cleanly_and_the_rerun_resumes() {
    interrupt_then_resume(
        &["TERM"],
        143,
        "interrupted by SIGTERM: stopped after the chunks in flight, progress saved in",
    );
}

#[test]
fn a_second_signal_exits_at_once_and_the_rerun_still_resumes() {
    interrupt_then_resume(&["INT", "INT"], 130, "SIGINT received again: exiting now");
}

#[test]
fn a_locked_target_store_is_a_clear_error() {
    let s = Setup::new();
    let first = s.spawn("store");
    wait_started(&s.checkpoint("store"));
    let second = s.run("store");
    assert_no_panic("the second import", &second);
    let err = text(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{err}");
    assert!(err.contains("is locked by another process"), "{err}");
    assert!(err.contains(s.path("store").to_str().unwrap()), "{err}");

    signal(&first, "TERM");
    let out = first.wait_with_output().unwrap();
    assert_no_panic("the first import", &out);
    // It may have finished before the signal on a fast machine.
    if !out.status.success() {
        let rerun = s.run("store");
        assert!(rerun.status.success(), "{}", text(&rerun.stderr));
    }
    assert!(
        s.checksum("store")
            .contains(&format!("kvs {}", 2 * FILES * ROWS_PER_FILE))
    );
}
