//! Parquet data files imported by the `importer` binary into the local
//! store, whose rows are exported and compared value by value; a truncated
//! file fails the import naming it. The files come from `dump-source`'s
//! Parquet fixture.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod crash_common;
#[path = "../../dump-source/tests/parquet_fixture/mod.rs"]
mod parquet_fixture;

use std::fs::File;
use std::process::Output;

use crash_common::run_cli;
use parquet_fixture::{expected_csv_line, make_dump};

fn assert_ok(what: &str, out: &Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{what} panicked:\n{err}");
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{err}",
        out.status
    );
}

#[test]
fn cli_imports_parquet_into_the_local_store() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    make_dump(&dump);
    let store = dir.path().join("store");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    let out = run_cli(&[
        "--config",
        config.to_str().unwrap(),
        "-d",
        dump.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "-L",
        "warn",
    ]);
    assert_ok("import", &out);
    let out = run_cli(&[
        "store",
        "export",
        "`db`.`t`",
        "--store",
        store.to_str().unwrap(),
    ]);
    assert_ok("store export", &out);
    let csv = String::from_utf8(out.stdout).unwrap();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("\"id\",\"big\""), "{header}");
    let got: Vec<&str> = lines.collect();
    assert_eq!(got.len(), 3100);
    for (i, line) in got.iter().enumerate() {
        assert_eq!(*line, expected_csv_line(i), "row {i}");
    }

    // A truncated file fails the import naming it.
    let bad = dir.path().join("bad");
    make_dump(&bad);
    let file = bad.join("db.t.000000001.parquet");
    let len = std::fs::metadata(&file).unwrap().len();
    File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let out = run_cli(&[
        "--config",
        config.to_str().unwrap(),
        "-d",
        bad.to_str().unwrap(),
        "--store",
        dir.path().join("store2").to_str().unwrap(),
        "-L",
        "warn",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    eprintln!("truncated file:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("db.t.000000001.parquet"), "{err}");
}
