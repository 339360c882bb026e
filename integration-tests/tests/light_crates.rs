//! The crates a library user may depend on alone stay light: programs that
//! drive or implement backends (`backend-core`) or only read a dump
//! (`dump-source`) must not pull in RocksDB or a SQL driver, even
//! transitively.

use std::process::Command;

/// The normal (non-dev) dependency tree of `package`, one package name a line.
fn dependency_names(package: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let output = Command::new(cargo)
        .args([
            "tree",
            "--manifest-path",
            manifest,
            "-p",
            package,
            "--all-features",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "--offline",
        ])
        .output();
    let output = match output {
        Ok(output) => output,
        Err(err) => panic!("running cargo tree failed: {err}"),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "cargo tree failed: {stderr}");
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(tree.contains(package), "unexpected output: {tree}");
    tree.lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

fn assert_light(package: &str) {
    let names = dependency_names(package);
    for heavy in ["rocksdb", "librocksdb-sys", "sqlx"] {
        let found: Vec<&String> = names.iter().filter(|n| n.starts_with(heavy)).collect();
        assert!(found.is_empty(), "{package} depends on {heavy}: {found:?}");
    }
}

#[test]
fn backend_core_depends_on_neither_rocksdb_nor_sqlx() {
    assert_light("backend-core");
}

#[test]
fn dump_source_depends_on_neither_rocksdb_nor_sqlx() {
    assert_light("dump-source");
}
