//! Parquet data files: real files written with the `parquet` crate's
//! writer (the shared fixture), read by the parser: every type, nulls,
//! several row groups, resume at a row, damaged files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod parquet_fixture;

use std::path::Path;

use backend_core::{Compression, SourceFormat};
use dump_source::csv::CsvOptions;
use dump_source::{ParserOptions, Row, RowParser, open_parser};
use parquet::basic::Compression as Codec;
use parquet_fixture::*;

fn open(path: &Path, offset: u64, row_id: i64) -> Box<dyn RowParser> {
    open_parser(
        path,
        "db.t.000000000.parquet",
        SourceFormat::Parquet,
        Compression::None,
        offset,
        row_id,
        &CsvOptions::default(),
        false,
        &ParserOptions::default(),
    )
    .unwrap()
}

fn read_all(parser: &mut dyn RowParser) -> Vec<Row> {
    let mut rows = Vec::new();
    while let Some(row) = parser.read_row().unwrap() {
        rows.push(row);
    }
    rows
}

#[test]
fn parser_reads_every_type_across_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    for codec in [
        Codec::UNCOMPRESSED,
        Codec::SNAPPY,
        Codec::ZSTD(Default::default()),
        Codec::GZIP(Default::default()),
        Codec::LZ4_RAW,
    ] {
        let path = dir.path().join("t.parquet");
        write_file(&path, 0..250, 100, codec);
        let mut parser = open(&path, 0, 0);
        assert_eq!(
            parser.columns().unwrap(),
            [
                "id", "name", "big", "d", "ts", "ts_ms", "ts_ns", "dec", "dec_big", "dec_var",
                "raw", "flag", "score", "u"
            ]
        );
        let rows = read_all(&mut *parser);
        assert_eq!(rows.len(), 250, "{codec:?}");
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row.values, expected_datums(i), "{codec:?} row {i}");
            assert_eq!(row.row_id, i64::try_from(i).unwrap() + 1);
            assert_eq!(row.start_offset, u64::try_from(i).unwrap());
            assert_eq!(row.end_offset, u64::try_from(i).unwrap() + 1);
        }
        assert_eq!(parser.pos(), (250, 250));
    }
}

#[test]
fn parser_resumes_at_any_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    write_file(&path, 0..300, 64, Codec::SNAPPY);
    let all = read_all(&mut *open(&path, 0, 0));
    for start in [1u64, 63, 64, 65, 128, 200, 299, 300] {
        let mut parser = open(&path, start, 1000 + i64::try_from(start).unwrap());
        assert_eq!(parser.pos().0, start);
        let rest = read_all(&mut *parser);
        let from = usize::try_from(start).unwrap();
        assert_eq!(rest.len(), 300 - from, "from row {start}");
        for (k, row) in rest.iter().enumerate() {
            assert_eq!(
                row.values,
                all[from + k].values,
                "row {} from {start}",
                from + k
            );
            assert_eq!(row.start_offset, u64::try_from(from + k).unwrap());
            assert_eq!(row.row_id, 1000 + i64::try_from(from + k).unwrap() + 1);
        }
    }
    // Forward moves mid-batch and across row groups from an open parser.
    let mut parser = open(&path, 0, 0);
    parser.read_row().unwrap();
    parser.set_pos(10, 10).unwrap();
    assert_eq!(parser.read_row().unwrap().unwrap().values, all[10].values);
    parser.set_pos(250, 250).unwrap();
    let row = parser.read_row().unwrap().unwrap();
    assert_eq!(
        (row.values.clone(), row.row_id),
        (all[250].values.clone(), 251)
    );
    assert!(parser.set_pos(5, 5).is_err(), "moving back is an error");
    assert!(
        open_parser(
            &path,
            "db.t.000000000.parquet",
            SourceFormat::Parquet,
            Compression::None,
            301,
            0,
            &CsvOptions::default(),
            false,
            &ParserOptions::default(),
        )
        .is_err()
    );
}

#[test]
fn truncated_and_corrupt_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    write_file(&path, 0..300, 100, Codec::UNCOMPRESSED);
    let bytes = std::fs::read(&path).unwrap();
    let open_err = |data: &[u8]| {
        std::fs::write(&path, data).unwrap();
        let opened = open_parser(
            &path,
            "db.t.000000000.parquet",
            SourceFormat::Parquet,
            Compression::None,
            0,
            0,
            &CsvOptions::default(),
            false,
            &ParserOptions::default(),
        );
        match opened {
            Err(e) => e.to_string(),
            Ok(mut p) => loop {
                match p.read_row() {
                    Ok(Some(_)) => {}
                    Ok(None) => panic!("a damaged file read to its end"),
                    Err(e) => break e.to_string(),
                }
            },
        }
    };
    for cut in [0, 3, 100, bytes.len() / 2, bytes.len() - 1] {
        let msg = open_err(&bytes[..cut]);
        assert!(
            msg.contains("db.t.000000000.parquet"),
            "cut at {cut}: {msg}"
        );
    }
    // Garbage over the column data, footer intact: a read error at a row.
    let mut damaged = bytes.clone();
    for b in &mut damaged[4..bytes.len() / 2] {
        *b = 0xa5;
    }
    let msg = open_err(&damaged);
    eprintln!("damaged data: {msg}");
    assert!(msg.contains("db.t.000000000.parquet"), "{msg}");
    assert!(msg.contains("row "), "{msg}");
    // Garbage in 32-byte windows all over the file: never a panic; an error
    // names the file (data without checksums may also read as other values).
    let step = bytes.len() / 40;
    for k in 0..40 {
        let mut damaged = bytes.clone();
        let at = k * step;
        for b in &mut damaged[at..(at + 32).min(bytes.len())] {
            *b ^= 0x5a;
        }
        std::fs::write(&path, &damaged).unwrap();
        let opened = open_parser(
            &path,
            "db.t.000000000.parquet",
            SourceFormat::Parquet,
            Compression::None,
            0,
            0,
            &CsvOptions::default(),
            false,
            &ParserOptions::default(),
        );
        if let Ok(mut p) = opened {
            loop {
                match p.read_row() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        assert!(e.to_string().contains("db.t.000000000.parquet"), "{e}");
                        if !e.is_row_error() {
                            break;
                        }
                    }
                }
            }
        }
    }
    // A compressed suffix is not a thing for parquet.
    std::fs::write(&path, &bytes).unwrap();
    let err = open_parser(
        &path,
        "db.t.000000000.parquet.gz",
        SourceFormat::Parquet,
        Compression::Gzip,
        0,
        0,
        &CsvOptions::default(),
        false,
        &ParserOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("compressed internally"), "{err}");
}

#[test]
fn chunks_are_files_of_rows() {
    use dump_source::chunk::{ChunkOptions, make_table_chunks};
    use dump_source::scan::{ScanOptions, scan};
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    make_dump(&dump);
    let scanned = scan(&dump, &ScanOptions::default()).unwrap();
    let table = scanned.table("db", "t").unwrap();
    let chunks =
        make_table_chunks(&dump.as_path().into(), table, 14, &ChunkOptions::default()).unwrap();
    let ranges: Vec<_> = chunks
        .iter()
        .map(|c| (c.offset, c.end_offset, c.prev_rowid_max, c.rowid_max))
        .collect();
    // Row counts from the footers; ids exactly the rows.
    assert_eq!(ranges, [(0, 2500, 0, 2500), (0, 600, 2500, 3100)]);
}
