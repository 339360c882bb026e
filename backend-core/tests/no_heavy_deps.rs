//! `backend-core` must stay light: programs that only drive or implement
//! backends must not pull in RocksDB or a SQL driver, even transitively.

use std::process::Command;

#[test]
fn backend_core_depends_on_neither_rocksdb_nor_sqlx() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let output = Command::new(cargo)
        .args([
            "tree",
            "--manifest-path",
            manifest,
            "-p",
            "backend-core",
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
    assert!(tree.contains("backend-core"), "unexpected output: {tree}");
    for heavy in ["rocksdb", "librocksdb-sys", "sqlx"] {
        let found: Vec<&str> = tree
            .lines()
            .filter(|line| {
                line.split_whitespace()
                    .next()
                    .is_some_and(|name| name.starts_with(heavy))
            })
            .collect();
        assert!(
            found.is_empty(),
            "backend-core depends on {heavy}: {found:?}"
        );
    }
}
