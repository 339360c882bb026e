//! `dump-source` must stay light: a program that only reads a dump must not
//! pull in RocksDB or a SQL driver, even transitively.

use std::process::Command;

#[test]
fn dump_source_depends_on_no_storage_engine_or_sql_driver() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = Command::new(cargo)
        .args([
            "tree",
            "--manifest-path",
            concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
            "-p",
            "dump-source",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "--offline",
        ])
        .output()
        .unwrap_or_else(|err| panic!("running cargo tree failed: {err}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "cargo tree failed: {stderr}");
    let tree = String::from_utf8_lossy(&output.stdout);
    let names: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(names.contains(&"dump-source"), "unexpected output: {tree}");
    let heavy: Vec<&&str> = names
        .iter()
        .filter(|name| {
            ["rocksdb", "librocksdb-sys", "sqlx"]
                .iter()
                .any(|h| name.starts_with(h))
        })
        .collect();
    assert!(heavy.is_empty(), "dump-source depends on {heavy:?}");
}
