//! Splitting SQL files into chunks: under `strict-format` where one
//! statement ends and the next starts, without it after a row found by
//! reading the file through; every row read exactly once across the chunks,
//! with a sequential read's row ids when the file was read through, and a
//! value that looks like a statement start failing a strict-format chunk
//! instead of being imported as rows.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use backend_core::Datum;
use dump_source::chunk::{Chunk, ChunkOptions, make_table_chunks};
use dump_source::csv::CsvOptions;
use dump_source::scan::{ScanOptions, ScanResult, scan};
use dump_source::{ParserOptions, Row};

fn dump(dir: &Path, sql: &[u8]) -> ScanResult {
    std::fs::write(
        dir.join("d.t-schema.sql"),
        "CREATE TABLE t (a INT, b TEXT);",
    )
    .unwrap();
    std::fs::write(dir.join("d.t.000000001.sql"), sql).unwrap();
    scan(dir, &ScanOptions::default()).unwrap()
}

fn chunks(r: &ScanResult, strict: bool, region: u64) -> Vec<Chunk> {
    let opts = ChunkOptions {
        strict_format: strict,
        max_region_size: region,
        ..ChunkOptions::default()
    };
    make_table_chunks(&r.storage, r.table("d", "t").unwrap(), 2, &opts).unwrap()
}

/// Every chunk's rows as (row id, first value, second value), read the way
/// the importer reads a chunk; the first error ends the reading.
fn read(r: &ScanResult, chunks: &[Chunk]) -> Result<Vec<(i64, Datum, Datum)>, String> {
    let mut out = Vec::new();
    for c in chunks {
        let mut p = c
            .open_parser(
                &r.storage,
                &CsvOptions::default(),
                false,
                &ParserOptions::default(),
            )
            .map_err(|e| e.to_string())?;
        let mut row = Row::default();
        while p.pos().0 < c.end_offset && p.read_row_into(&mut row).map_err(|e| e.to_string())? {
            assert!(
                row.row_id > c.prev_rowid_max && row.row_id <= c.rowid_max,
                "row id {} outside chunk {}'s range",
                row.row_id,
                c.index
            );
            out.push((row.row_id, row.values[0].clone(), row.values[1].clone()));
        }
    }
    Ok(out)
}

/// Statements of varied sizes, some far larger than the region (a cut's
/// search crosses several 64 KiB reads), with the line endings and blanks
/// dumps use, `REPLACE` among `INSERT`s, and a `;` inside values.
fn statements() -> (Vec<u8>, usize) {
    let mut sql = b"/*!40101 SET NAMES binary*/;\n".to_vec();
    let mut n = 0;
    for s in 0..60usize {
        let rows = match s % 7 {
            0 => 3000,
            3 => 1,
            _ => 40 + s * 3,
        };
        let head = match s % 4 {
            0 => "INSERT INTO `t` VALUES\n",
            1 => "  insert into t (a,b) VALUES ",
            2 => "REPLACE INTO `t` VALUES ",
            _ => "INSERT IGNORE INTO `t` VALUES\r\n",
        };
        sql.extend_from_slice(head.as_bytes());
        for i in 0..rows {
            n += 1;
            let sep = if i + 1 == rows { "" } else { ",\n" };
            sql.extend_from_slice(format!("({n},'v{n}; x\\'s')").as_bytes());
            sql.extend_from_slice(sep.as_bytes());
        }
        let end = match s % 3 {
            0 => ";\n",
            1 => ";  \r\n",
            _ => ";\n\n",
        };
        sql.extend_from_slice(end.as_bytes());
    }
    (sql, n)
}

#[test]
fn sql_chunks_start_at_statement_ends_and_read_every_row_once() {
    let dir = tempfile::tempdir().unwrap();
    let (sql, n) = statements();
    let r = dump(dir.path(), &sql);
    let whole = chunks(&r, false, 1 << 30);
    assert_eq!(whole.len(), 1, "a file under 1.25 regions is one chunk");
    let want = read(&r, &whole).unwrap();
    assert_eq!(want.len(), n);

    for region in [700u64, 4096, 20_000, 70_000] {
        let split = chunks(&r, true, region);
        assert!(split.len() > 3, "region {region}: {} chunks", split.len());
        for (i, c) in split.iter().enumerate() {
            if i == 0 {
                assert_eq!(c.offset, 0);
                continue;
            }
            assert_eq!(c.offset, split[i - 1].end_offset);
            assert_eq!(c.prev_rowid_max, split[i - 1].rowid_max);
            let at = usize::try_from(c.offset).unwrap();
            assert_eq!(sql[at], b';', "region {region}: chunk {i} starts at a ';'");
        }
        let got = read(&r, &split).unwrap();
        let values = |rows: &[(i64, Datum, Datum)]| -> Vec<(Datum, Datum)> {
            rows.iter()
                .map(|(_, a, b)| (a.clone(), b.clone()))
                .collect()
        };
        assert_eq!(values(&got), values(&want), "region {region}");

        // Without strict-format: cut after rows, with exact row counts, so
        // the ids too are a sequential read's.
        let rows = chunks(&r, false, region);
        assert!(rows.len() > 3, "region {region}: {} chunks", rows.len());
        for (i, c) in rows.iter().enumerate().skip(1) {
            assert_eq!(c.offset, rows[i - 1].end_offset);
            assert_eq!(c.prev_rowid_max, rows[i - 1].rowid_max);
            let at = usize::try_from(c.offset).unwrap();
            assert_eq!(
                sql[at - 1],
                b')',
                "region {region}: chunk {i} starts after a row"
            );
        }
        assert_eq!(read(&r, &rows).unwrap(), want, "region {region}");
    }
}

#[test]
fn value_holding_a_statement_start_fails_the_chunk_before_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    // One statement longer than the region whose value, after the first
    // cut target, holds a line that looks like the next statement.
    let mut sql = b"INSERT INTO `t` VALUES ".to_vec();
    for i in 0..200 {
        sql.extend_from_slice(format!("({i},'filler {i}'),").as_bytes());
    }
    sql.extend_from_slice(b"(1000,'a;\nINSERT INTO `t` VALUES (7,''x'');\nstill the value');\n");
    sql.extend_from_slice(b"INSERT INTO `t` VALUES (2000,'after');\n");
    let r = dump(dir.path(), &sql);

    // Not strict: chunks cut after rows the file was read through for, the
    // value read whole.
    let whole = chunks(&r, false, 1024);
    assert!(whole.len() > 2);
    let rows = read(&r, &whole).unwrap();
    assert_eq!(rows.len(), 202);
    assert_eq!(
        rows[200].2,
        Datum::text("a;\nINSERT INTO `t` VALUES (7,'x');\nstill the value")
    );

    // Strict: the cut lands in the value; the chunk before it says so.
    let split = chunks(&r, true, 1024);
    assert!(split.len() >= 2);
    let first = read(&r, &split[..1]).unwrap_err();
    assert!(
        first.contains("strict-format") && first.contains(&format!("byte {}", split[0].end_offset)),
        "{first}"
    );
}

#[test]
fn small_or_compressed_sql_files_stay_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (sql, _) = statements();
    std::fs::write(
        dir.path().join("d.t-schema.sql"),
        "CREATE TABLE t (a INT, b TEXT);",
    )
    .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &sql).unwrap();
    std::fs::write(
        dir.path().join("d.t.000000001.sql.gz"),
        gz.finish().unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("d.t.000000002.sql"),
        b"INSERT INTO t VALUES (1,'a');\n",
    )
    .unwrap();
    let r = scan(dir.path(), &ScanOptions::default()).unwrap();
    let opts = ChunkOptions {
        strict_format: true,
        max_region_size: 4096,
        ..ChunkOptions::default()
    };
    let got = make_table_chunks(&r.storage, r.table("d", "t").unwrap(), 2, &opts).unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
}
