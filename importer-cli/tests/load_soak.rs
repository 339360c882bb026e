//! Load: many small tables and one very wide table through the binary, on
//! the local backend, under a low open-files limit (`prlimit --nofile`),
//! with peak memory watched. The default size runs in CI (200 small
//! tables); `IMPORTER_SOAK=1` runs the full size (10,000 tables).
//!
//! Asserts: the import succeeds with every table's rows in the store, the
//! process never needs more file descriptors than the limit (it would fail
//! with "Too many open files"), and its peak RSS stays under 1 GiB.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Columns of the wide table.
const WIDE_COLUMNS: usize = 1_000;
const WIDE_ROWS: usize = 300;
/// Open files the importer may hold.
const NOFILE: u32 = 512;

fn small_tables() -> usize {
    if std::env::var_os("IMPORTER_SOAK").is_some() {
        10_000
    } else {
        200
    }
}

fn write_dump(dump: &Path, tables: usize) {
    std::fs::create_dir_all(dump).unwrap();
    std::fs::write(
        dump.join("soak-schema-create.sql"),
        "CREATE DATABASE `soak`;\n",
    )
    .unwrap();
    for t in 0..tables {
        std::fs::write(
            dump.join(format!("soak.t{t}-schema.sql")),
            format!(
                "CREATE TABLE `t{t}` (`id` int NOT NULL, `v` varchar(20), \
                 PRIMARY KEY (`id`), KEY `kv` (`v`));\n"
            ),
        )
        .unwrap();
        std::fs::write(
            dump.join(format!("soak.t{t}.000000000.csv")),
            format!("id,v\n1,a{t}\n2,b{t}\n3,\\N\n"),
        )
        .unwrap();
    }
    let columns: Vec<String> = (0..WIDE_COLUMNS)
        .map(|c| {
            if c % 2 == 0 {
                format!("`c{c}` int")
            } else {
                format!("`c{c}` varchar(16)")
            }
        })
        .collect();
    std::fs::write(
        dump.join("soak.wide-schema.sql"),
        format!(
            "CREATE TABLE `wide` (`id` bigint NOT NULL, {}, PRIMARY KEY (`id`), KEY `k1` (`c1`), KEY `k998` (`c998`));\n",
            columns.join(", ")
        ),
    )
    .unwrap();
    let file = std::fs::File::create(dump.join("soak.wide.000000000.csv")).unwrap();
    let mut w = std::io::BufWriter::new(file);
    write!(w, "id").unwrap();
    for c in 0..WIDE_COLUMNS {
        write!(w, ",c{c}").unwrap();
    }
    writeln!(w).unwrap();
    for r in 0..WIDE_ROWS {
        write!(w, "{r}").unwrap();
        for c in 0..WIDE_COLUMNS {
            if c % 2 == 0 {
                write!(w, ",{}", r * c).unwrap();
            } else {
                write!(w, ",v{r}x{c}").unwrap();
            }
        }
        writeln!(w).unwrap();
    }
    w.flush().unwrap();
}

/// Peak RSS in KiB of a running process (VmHWM), if it is still there.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[test]
fn many_small_tables_and_a_wide_one_stay_within_files_and_memory() {
    if Command::new("prlimit").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "prlimit (util-linux) is missing"
        );
        eprintln!("skipped: prlimit (util-linux) not found");
        return;
    }
    let tables = small_tables();
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    write_dump(&dump, tables);
    let store = dir.path().join("store");
    let mut child = Command::new("prlimit")
        .arg(format!("--nofile={NOFILE}:{NOFILE}"))
        .arg(env!("CARGO_BIN_EXE_importer"))
        .args(["-d", dump.to_str().unwrap()])
        .args(["--store", store.to_str().unwrap()])
        .args(["--sorted-kv-dir", dir.path().join("kv").to_str().unwrap()])
        .args(["-L", "warn"])
        .env_remove("IMPORTER_CONFIG")
        // Files, not pipes: nothing reads a pipe until the import ends, and
        // a full one would stall it.
        .stdout(std::fs::File::create(dir.path().join("stdout")).unwrap())
        .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
        .spawn()
        .unwrap();
    // prlimit execs the importer in place, so the pid is the importer's.
    let pid = child.id();
    let mut peak_kib = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if let Some(kib) = vm_hwm_kib(pid) {
            peak_kib = peak_kib.max(kib);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::fs::read_to_string(dir.path().join("stderr")).unwrap();
    let summary = std::fs::read_to_string(dir.path().join("stdout")).unwrap();
    assert!(status.success(), "import failed:\n{summary}\n{stderr}");
    assert!(!stderr.contains("Too many open files"), "{stderr}");
    assert!(
        summary.contains(&format!("{} tables, 0 failed", tables + 1)),
        "summary:\n{summary}"
    );

    let listed = Command::new(env!("CARGO_BIN_EXE_importer"))
        .args(["store", "tables", "--store", store.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(listed.status.success());
    let listed = String::from_utf8_lossy(&listed.stdout);
    // `soak.tN   rows …`: every small table holds its 3 rows.
    let small: Vec<&str> = listed.lines().filter(|l| l.starts_with("soak.t")).collect();
    assert_eq!(small.len(), tables, "tables listed:\n{listed}");
    for line in small {
        assert_eq!(line.split_whitespace().nth(1), Some("3"), "{line}");
    }
    let wide = Command::new(env!("CARGO_BIN_EXE_importer"))
        .args([
            "store",
            "export",
            "soak.wide",
            "--store",
            store.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        wide.status.success(),
        "{}",
        String::from_utf8_lossy(&wide.stderr)
    );
    let exported = String::from_utf8_lossy(&wide.stdout);
    // A header line, then one line per row.
    assert_eq!(exported.lines().count(), WIDE_ROWS + 1, "wide export");
    eprintln!(
        "{} tables + 1 wide: peak RSS {} MiB",
        tables,
        peak_kib / 1024
    );
    assert!(peak_kib < 1024 * 1024, "peak RSS {peak_kib} KiB ≥ 1 GiB");
}
