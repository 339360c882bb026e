//! The sorted-kv disk filling up, through the binary: `sorted-kv-dir` on a
//! 1 MiB tmpfs while sorting needs several MiB. Needs root (mount); skipped
//! loudly otherwise, and a failure under `CI` (which runs as root).
//!
//! Asserts: with `check-requirements` the import stops before writing,
//! naming the directory and the space; without it the import hits ENOSPC
//! and exits 1 with a message naming the file in the directory and "No
//! space left on device", no panic; after remounting with room the plain
//! rerun resumes, completes and the target equals a clean import (KV
//! checksum). Also `disk-quota`: engines imported early, nothing lost.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROWS: usize = 40_000;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(Tmpfs(at.to_owned()))
        } else {
            Err(text(&out.stderr))
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| text(&o.stdout).trim() == "0")
}

fn skip(why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "disk_full cannot run under CI: {why}"
    );
    eprintln!("skipped: {why} (the sorted-kv disk-full test mounts a tmpfs and needs root)");
}

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        Setup::with_rows(ROWS)
    }

    fn with_rows(rows: usize) -> Setup {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let dump = dir.path().join("dump");
        std::fs::create_dir(&dump).unwrap();
        std::fs::write(
            dump.join("full-schema-create.sql"),
            "CREATE DATABASE `full`;\n",
        )
        .unwrap();
        std::fs::write(
            dump.join("full.t-schema.sql"),
            "CREATE TABLE `t` (`id` bigint NOT NULL, `a` varchar(64), `b` int, \
             PRIMARY KEY (`id`), KEY `kb` (`b`));\n",
        )
        .unwrap();
        let file = std::fs::File::create(dump.join("full.t.000000000.csv")).unwrap();
        let mut w = std::io::BufWriter::new(file);
        writeln!(w, "id,a,b").unwrap();
        for i in 0..rows {
            writeln!(
                w,
                "{i},a text value that fills the sort dir {i},{}",
                i % 977
            )
            .unwrap();
        }
        w.flush().unwrap();
        Setup { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, store: &str, sorted_kv: &Path, check_requirements: bool) -> Output {
        self.run_with(
            store,
            sorted_kv,
            &format!("[lightning]\ncheck-requirements = {check_requirements}\n"),
        )
    }

    /// Imports into `store` with the `sorted-kv-dir` and `config_text`
    /// (keys of `[tikv-importer]`, then more sections).
    fn run_with(&self, store: &str, sorted_kv: &Path, config_text: &str) -> Output {
        let config = self.path(&format!("{store}.toml"));
        std::fs::write(
            &config,
            format!(
                "[tikv-importer]\nsorted-kv-dir = {:?}\n{config_text}",
                sorted_kv.to_str().unwrap()
            ),
        )
        .unwrap();
        Command::new(env!("CARGO_BIN_EXE_importer"))
            .args(["--config", config.to_str().unwrap()])
            .args(["-d", self.path("dump").to_str().unwrap()])
            .args(["--store", self.path(store).to_str().unwrap()])
            .args(["-L", "warn"])
            .env_remove("IMPORTER_CONFIG")
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    }

    fn checksum(&self, store: &str) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_importer"))
            .args(["store", "checksum", "full.t", "--store"])
            .arg(self.path(store))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    }
}

fn assert_no_panic(what: &str, out: &Output) {
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "{what} panicked:\n{err}");
    assert_ne!(out.status.code(), Some(101), "{what} panicked:\n{err}");
}

#[test]
fn a_full_sorted_kv_disk_is_a_clear_error_and_the_rerun_completes() {
    if !is_root() {
        return skip("not root");
    }
    let s = Setup::new();
    let mnt = s.path("sorted-kv");
    let small = match Tmpfs::mount(&mnt, "1m") {
        Ok(m) => m,
        Err(e) => return skip(&format!("mount -t tmpfs failed: {e}")),
    };

    // The precheck sees the disk is too small and stops before writing.
    let out = s.run("store", &mnt, true);
    assert_no_panic("precheck run", &out);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "precheck run:\n{err}");
    assert!(
        err.contains(mnt.to_str().unwrap()) && err.contains("bytes free"),
        "precheck run:\n{err}"
    );

    // Without it, sorting hits ENOSPC mid-import.
    let out = s.run("store", &mnt, false);
    assert_no_panic("disk-full run", &out);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "disk-full run:\n{err}");
    assert!(
        err.contains("No space left on device"),
        "disk-full run does not say the disk is full:\n{err}"
    );
    assert!(
        err.contains(mnt.to_str().unwrap()),
        "disk-full run does not name {}:\n{err}",
        mnt.display()
    );
    eprintln!("disk-full run said:\n{err}");

    // Room again. A full disk is not the table's fault, so no failure was
    // recorded: the plain rerun (same store, same checkpoint) resumes,
    // completes and equals a clean import.
    drop(small);
    let _big = Tmpfs::mount(&mnt, "256m").expect("remount");
    let out = s.run("store", &mnt, false);
    assert_no_panic("rerun", &out);
    assert!(out.status.success(), "rerun:\n{}", text(&out.stderr));
    let clean_kv = s.path("clean-kv");
    let out = s.run("clean", &clean_kv, false);
    assert!(out.status.success(), "clean import:\n{}", text(&out.stderr));
    assert_eq!(s.checksum("store"), s.checksum("clean"));
}

/// `disk-quota` far below what the engines need: the quota check pauses
/// writers, imports the largest engines early and empties them, and the
/// target still equals an import without a quota. Needs no root.
#[test]
fn a_disk_quota_imports_engines_early_and_loses_nothing() {
    let s = Setup::with_rows(300_000);
    let out = s.run_with(
        "quota",
        &s.path("quota-kv"),
        "disk-quota = \"256KiB\"\n[cron]\ncheck-disk-quota = \"20ms\"\n",
    );
    assert_no_panic("quota run", &out);
    let err = text(&out.stderr);
    assert!(out.status.success(), "quota run:\n{err}");
    assert!(
        err.contains("exceed the disk quota"),
        "the quota never triggered:\n{err}"
    );
    let out = s.run("clean", &s.path("clean-kv"), false);
    assert!(out.status.success(), "clean import:\n{}", text(&out.stderr));
    assert_eq!(s.checksum("quota"), s.checksum("clean"));
}
