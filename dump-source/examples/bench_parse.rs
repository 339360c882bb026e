//! Parser throughput bench: generates a TPC-H `lineitem`-like CSV file and
//! an equivalent SQL `INSERT` file in a temp dir, parses each, and prints
//! MB/s and peak RSS (VmHWM).
//!
//! `bench_parse [MB] [sql-only]` (default 1024 MB; `sql-only` parses just
//! the SQL file, for profiling). Build with
//! `cargo build --workspace --all-targets` and run
//! `$CARGO_TARGET_DIR/debug/examples/bench_parse 1024`.
#![allow(clippy::unwrap_used)]

use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use dump_source::csv::{CsvOptions, CsvParser};
use dump_source::sql::SqlParser;
use dump_source::{ParserOptions, RowParser, compress};

fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// One lineitem-like row: 16 fields, ints, decimals, flags, dates, text.
fn row(i: u64, sql: bool) -> String {
    let q = if sql { "'" } else { "" };
    let comment = [
        "quickly regular deposits",
        "furiously ironic foxes nag",
        "carefully final pinto beans",
    ][usize::try_from(i % 3).unwrap()];
    format!(
        "{i}{s}{p}{s}{sp}{s}{ln}{s}{qty}{s}{price}.{c:02}{s}0.0{d}{s}0.0{t}{s}{q}N{q}{s}{q}O{q}{s}{q}1996-03-{day:02}{q}{s}{q}1996-02-{day:02}{q}{s}{q}1996-04-{day:02}{q}{s}{q}DELIVER IN PERSON{q}{s}{q}TRUCK{q}{s}{q}{comment}{q}",
        s = if sql { "," } else { "|" },
        p = i * 7 % 200_000,
        sp = i * 13 % 10_000,
        ln = i % 7 + 1,
        qty = i % 50 + 1,
        price = 900 + i % 100_000,
        c = i % 100,
        d = i % 10,
        t = i % 9,
        day = i % 28 + 1,
    )
}

fn generate(dir: &Path, mb: u64) -> (std::path::PathBuf, std::path::PathBuf) {
    let csv_path = dir.join("lineitem.csv");
    let sql_path = dir.join("lineitem.sql");
    let target = mb << 20;
    let mut csv = BufWriter::new(std::fs::File::create(&csv_path).unwrap());
    let mut sql = BufWriter::new(std::fs::File::create(&sql_path).unwrap());
    let (mut csv_len, mut sql_len, mut i) = (0u64, 0u64, 0u64);
    while csv_len < target || sql_len < target {
        if csv_len < target {
            let line = row(i, false) + "\n";
            csv_len += u64::try_from(line.len()).unwrap();
            csv.write_all(line.as_bytes()).unwrap();
        }
        if sql_len < target {
            let stmt = if i % 1000 == 0 {
                "INSERT INTO `lineitem` VALUES\n("
            } else {
                ",\n("
            };
            let end = if i % 1000 == 999 { ");\n" } else { ")" };
            let text = format!("{stmt}{}{end}", row(i, true));
            sql_len += u64::try_from(text.len()).unwrap();
            sql.write_all(text.as_bytes()).unwrap();
        }
        i += 1;
    }
    sql.write_all(b";\n").unwrap();
    (csv_path, sql_path)
}

fn report(name: &str, path: &Path, rows: u64, start: Instant) -> f64 {
    let secs = start.elapsed().as_secs_f64();
    let mb = std::fs::metadata(path).unwrap().len() as f64 / 1_048_576.0;
    let rate = mb / secs;
    println!(
        "{name:<28} {rows:>10} rows {mb:>8.1} MB {secs:>7.2} s {rate:>8.1} MB/s  peak RSS {} MiB",
        vm_hwm_kb() / 1024
    );
    rate
}

fn main() {
    let mb: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1024);
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let (csv_path, sql_path) = generate(dir.path(), mb);
    println!(
        "generated {mb} MB CSV + SQL in {:.1} s; peak RSS {} MiB",
        t.elapsed().as_secs_f64(),
        vm_hwm_kb() / 1024
    );
    let csv_opts = CsvOptions {
        separator: "|".into(),
        header: false,
        ..CsvOptions::default()
    };

    if std::env::args().nth(2).as_deref() == Some("sql-only") {
        let start = Instant::now();
        let reader = compress::open(&sql_path, backend_core::Compression::None, 0).unwrap();
        let mut p = SqlParser::new(
            reader,
            Arc::from("lineitem.sql"),
            0,
            0,
            false,
            ParserOptions::default(),
        );
        let mut row = dump_source::Row::default();
        let mut rows = 0u64;
        while p.read_row_into(&mut row).unwrap() {
            rows += 1;
        }
        report("sql read_row_into (reused)", &sql_path, rows, start);
        return;
    }

    // Peer in the same run: a plain line count over the same file, the
    // floor any parser pays for reading it.
    let start = Instant::now();
    let mut reader = compress::open(&csv_path, backend_core::Compression::None, 0).unwrap();
    let mut buf = vec![0u8; 64 << 10];
    let mut lines = 0u64;
    loop {
        let n = std::io::Read::read(&mut reader, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        lines += u64::try_from(memchr::memchr_iter(b'\n', &buf[..n]).count()).unwrap();
    }
    let floor = report("read+count lines (peer)", &csv_path, lines, start);

    let start = Instant::now();
    let reader = compress::open(&csv_path, backend_core::Compression::None, 0).unwrap();
    let mut p = CsvParser::new(
        reader,
        Arc::from("lineitem.csv"),
        0,
        0,
        csv_opts.clone(),
        ParserOptions::default(),
    )
    .unwrap();
    let mut rows = 0u64;
    while p.read_raw().unwrap().is_some() {
        rows += 1;
    }
    let raw = report("csv scan (no datums)", &csv_path, rows, start);

    let start = Instant::now();
    let reader = compress::open(&csv_path, backend_core::Compression::None, 0).unwrap();
    let mut p = CsvParser::new(
        reader,
        Arc::from("lineitem.csv"),
        0,
        0,
        csv_opts.clone(),
        ParserOptions::default(),
    )
    .unwrap();
    let mut rows = 0u64;
    while p.read_row().unwrap().is_some() {
        rows += 1;
    }
    report("csv read_row (new datums)", &csv_path, rows, start);

    let start = Instant::now();
    let reader = compress::open(&csv_path, backend_core::Compression::None, 0).unwrap();
    let mut p = CsvParser::new(
        reader,
        Arc::from("lineitem.csv"),
        0,
        0,
        csv_opts,
        ParserOptions::default(),
    )
    .unwrap();
    let mut rows = 0u64;
    let mut row = dump_source::Row::default();
    while p.read_row_into(&mut row).unwrap() {
        rows += 1;
    }
    let csv_rate = report("csv read_row_into (reused)", &csv_path, rows, start);

    let start = Instant::now();
    let reader = compress::open(&sql_path, backend_core::Compression::None, 0).unwrap();
    let mut p = SqlParser::new(
        reader,
        Arc::from("lineitem.sql"),
        0,
        0,
        false,
        ParserOptions::default(),
    );
    let mut rows = 0u64;
    let mut row = dump_source::Row::default();
    while p.read_row_into(&mut row).unwrap() {
        rows += 1;
    }
    let sql_rate = report("sql read_row_into (reused)", &sql_path, rows, start);
    println!(
        "ratios vs line count: csv scan {:.2}, csv rows {:.2}, sql rows {:.2}; targets csv >= 300 MB/s, sql >= 150 MB/s",
        raw / floor,
        csv_rate / floor,
        sql_rate / floor
    );
}
