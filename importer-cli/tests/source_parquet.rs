//! Parquet data files: real files written with the `parquet` crate's
//! writer, read by the parser (every type, nulls, several row groups,
//! resume at a row) and imported by the `importer` binary into the local
//! store, whose rows are exported and compared value by value.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use backend_core::{Compression, Datum, SourceFormat};
use importer_cli::source::csv::CsvOptions;
use importer_cli::source::{ParserOptions, Row, RowParser, open_parser};
use parquet::basic::Compression as Codec;
use parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, DataType, DoubleType, FixedLenByteArray,
    FixedLenByteArrayType, Int32Type, Int64Type,
};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::{SerializedFileWriter, SerializedRowGroupWriter};
use parquet::schema::parser::parse_message_type;

/// Columns in a different order from the table's, to check the mapping by
/// name (and one upper-case name).
const SCHEMA: &str = "
message schema {
  REQUIRED INT32 id;
  OPTIONAL BINARY name (UTF8);
  OPTIONAL INT64 big;
  OPTIONAL INT32 d (DATE);
  OPTIONAL INT64 ts (TIMESTAMP(MICROS,true));
  OPTIONAL INT64 ts_ms (TIMESTAMP(MILLIS,true));
  OPTIONAL INT64 ts_ns (TIMESTAMP(NANOS,false));
  OPTIONAL INT64 dec (DECIMAL(18,4));
  OPTIONAL FIXED_LEN_BYTE_ARRAY (16) dec_big (DECIMAL(38,5));
  OPTIONAL BINARY dec_var (DECIMAL(20,2));
  OPTIONAL BINARY raw;
  OPTIONAL BOOLEAN flag;
  OPTIONAL DOUBLE Score;
  OPTIONAL INT32 u (INTEGER(32,false));
}
";

const CREATE_TABLE: &str = "CREATE TABLE `t` (
  `id` INT NOT NULL PRIMARY KEY,
  `big` BIGINT,
  `d` DATE,
  `ts` DATETIME(6),
  `ts_ms` DATETIME(3),
  `ts_ns` DATETIME(6),
  `dec` DECIMAL(18,4),
  `dec_big` DECIMAL(38,5),
  `dec_var` DECIMAL(20,2),
  `name` VARCHAR(64),
  `raw` VARBINARY(64),
  `flag` TINYINT,
  `score` DOUBLE,
  `u` INT UNSIGNED
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
";

/// Days and their dates.
const DATES: &[(i32, &str)] = &[
    (0, "1970-01-01"),
    (19_723, "2024-01-01"),
    (-1, "1969-12-31"),
    (11_016, "2000-02-29"),
    (2_932_896, "9999-12-31"),
];
/// Microseconds since the epoch and their UTC datetimes.
const TS_MICROS: &[(i64, &str)] = &[
    (0, "1970-01-01 00:00:00"),
    (1_704_067_199_123_456, "2023-12-31 23:59:59.123456"),
    (951_782_400_000_001, "2000-02-29 00:00:00.000001"),
    (-1, "1969-12-31 23:59:59.999999"),
];
const TS_MILLIS: &[(i64, &str)] = &[
    (1_500_000_000_100, "2017-07-14 02:40:00.1"),
    (86_400_000, "1970-01-02 00:00:00"),
];
/// Nanoseconds are truncated to microseconds, as Lightning does.
const TS_NANOS: &[(i64, &str)] = &[
    (1_500_000_000_123_456_789, "2017-07-14 02:40:00.123456"),
    (0, "1970-01-01 00:00:00"),
];
/// Unscaled values of DECIMAL(18,4).
const DECIMALS: &[(i64, &str)] = &[
    (123_456, "12.3456"),
    (-5, "-0.0005"),
    (0, "0.0000"),
    (999_999_999_999_999_999, "99999999999999.9999"),
    (-999_999_999_999_999_999, "-99999999999999.9999"),
];
/// Unscaled values of DECIMAL(38,5), stored in 16 bytes.
const BIG_DECIMALS: &[(i128, &str)] = &[
    (
        12_345_678_901_234_567_890_123_456_789_012_345,
        "123456789012345678901234567890.12345",
    ),
    (-1, "-0.00001"),
    (100_000, "1.00000"),
    (
        -99_999_999_999_999_999_999_999_999_999_999_999,
        "-999999999999999999999999999999.99999",
    ),
];
/// Unsigned 32-bit values, stored as INT32 bits.
const UNSIGNED: &[(u32, &str)] = &[(u32::MAX, "4294967295"), (7, "7"), (1 << 31, "2147483648")];

/// The value of column `c` in row `i` (None is NULL).
fn null_at(i: usize, c: usize) -> bool {
    (i + c).is_multiple_of(7)
}

fn pick<T: Copy>(table: &[(T, &'static str)], i: usize) -> (T, &'static str) {
    table[i % table.len()]
}

/// Big-endian two's complement of `v` in the fewest bytes.
fn minimal_be(v: i128) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < 15 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    bytes[start..].to_vec()
}

fn name_of(i: usize) -> String {
    format!("name-{i}-é")
}

fn raw_of(i: usize) -> Vec<u8> {
    format!("raw{i}").into_bytes()
}

/// Writes one optional (or, with `required`, required) column.
fn put<T: DataType>(
    rg: &mut SerializedRowGroupWriter<'_, File>,
    rows: &[usize],
    c: usize,
    required: bool,
    value: impl Fn(usize) -> T::T,
) {
    let mut col = rg.next_column().unwrap().unwrap();
    let mut values = Vec::new();
    let mut defs = Vec::new();
    for &i in rows {
        if !required && null_at(i, c) {
            defs.push(0);
        } else {
            defs.push(1);
            values.push(value(i));
        }
    }
    let defs = (!required).then_some(&defs[..]);
    col.typed::<T>().write_batch(&values, defs, None).unwrap();
    col.close().unwrap();
}

/// Writes rows `range` in row groups of `group` rows.
fn write_file(path: &Path, range: std::ops::Range<usize>, group: usize, codec: Codec) {
    let schema = Arc::new(parse_message_type(SCHEMA).unwrap());
    let props = Arc::new(WriterProperties::builder().set_compression(codec).build());
    let mut w = SerializedFileWriter::new(File::create(path).unwrap(), schema, props).unwrap();
    let all: Vec<usize> = range.collect();
    for rows in all.chunks(group) {
        let mut rg = w.next_row_group().unwrap();
        put::<Int32Type>(&mut rg, rows, 0, true, |i| i32::try_from(i).unwrap());
        put::<ByteArrayType>(&mut rg, rows, 1, false, |i| {
            ByteArray::from(name_of(i).as_str())
        });
        put::<Int64Type>(&mut rg, rows, 2, false, |i| {
            i64::try_from(i).unwrap() * 1_000_000_007 - 5
        });
        put::<Int32Type>(&mut rg, rows, 3, false, |i| pick(DATES, i).0);
        put::<Int64Type>(&mut rg, rows, 4, false, |i| pick(TS_MICROS, i).0);
        put::<Int64Type>(&mut rg, rows, 5, false, |i| pick(TS_MILLIS, i).0);
        put::<Int64Type>(&mut rg, rows, 6, false, |i| pick(TS_NANOS, i).0);
        put::<Int64Type>(&mut rg, rows, 7, false, |i| pick(DECIMALS, i).0);
        put::<FixedLenByteArrayType>(&mut rg, rows, 8, false, |i| {
            FixedLenByteArray::from(pick(BIG_DECIMALS, i).0.to_be_bytes().to_vec())
        });
        put::<ByteArrayType>(&mut rg, rows, 9, false, |i| {
            ByteArray::from(minimal_be(pick(BIG_DECIMALS, i).0 % 10_i128.pow(20)))
        });
        put::<ByteArrayType>(&mut rg, rows, 10, false, |i| ByteArray::from(raw_of(i)));
        put::<BoolType>(&mut rg, rows, 11, false, |i| i.is_multiple_of(3));
        put::<DoubleType>(&mut rg, rows, 12, false, |i| {
            f64::from(u32::try_from(i).unwrap()) * 0.25
        });
        put::<Int32Type>(&mut rg, rows, 13, false, |i| {
            i32::from_ne_bytes(pick(UNSIGNED, i).0.to_ne_bytes())
        });
        rg.close().unwrap();
    }
    w.close().unwrap();
}

/// The unscaled DECIMAL(20,2) value of row `i` as text.
fn dec_var_text(i: usize) -> String {
    let v = pick(BIG_DECIMALS, i).0 % 10_i128.pow(20);
    let sign = if v < 0 { "-" } else { "" };
    let digits = format!("{:03}", v.unsigned_abs());
    let (int, frac) = digits.split_at(digits.len() - 2);
    format!("{sign}{int}.{frac}")
}

fn text(s: &str) -> Datum {
    Datum::Bytes(s.as_bytes().to_vec())
}

/// What the parser must give for row `i`, in file column order.
fn expected_datums(i: usize) -> Vec<Datum> {
    let all = vec![
        Datum::Int(i64::try_from(i).unwrap()),
        text(&name_of(i)),
        Datum::Int(i64::try_from(i).unwrap() * 1_000_000_007 - 5),
        text(pick(DATES, i).1),
        text(pick(TS_MICROS, i).1),
        text(pick(TS_MILLIS, i).1),
        text(pick(TS_NANOS, i).1),
        text(pick(DECIMALS, i).1),
        text(pick(BIG_DECIMALS, i).1),
        text(&dec_var_text(i)),
        Datum::Bytes(raw_of(i)),
        Datum::Int(i64::from(i.is_multiple_of(3))),
        Datum::Float64(f64::from(u32::try_from(i).unwrap()) * 0.25),
        Datum::Uint(u64::from(pick(UNSIGNED, i).0)),
    ];
    all.into_iter()
        .enumerate()
        .map(|(c, d)| {
            if c > 0 && null_at(i, c) {
                Datum::Null
            } else {
                d
            }
        })
        .collect()
}

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

fn importer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_importer"))
        .args(args)
        .env_remove("IMPORTER_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .expect("run the importer")
}

fn assert_ok(what: &str, out: &Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{what} panicked:\n{err}");
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{err}",
        out.status
    );
}

fn make_dump(dump: &Path) {
    std::fs::create_dir_all(dump).unwrap();
    std::fs::write(dump.join("db-schema-create.sql"), "CREATE DATABASE `db`;\n").unwrap();
    std::fs::write(dump.join("db.t-schema.sql"), CREATE_TABLE).unwrap();
    write_file(
        &dump.join("db.t.000000000.parquet"),
        0..2500,
        1000,
        Codec::SNAPPY,
    );
    write_file(
        &dump.join("db.t.000000001.parquet"),
        2500..3100,
        256,
        Codec::ZSTD(Default::default()),
    );
}

/// A row as `importer store export` prints it (CSV, table column order).
fn expected_csv_line(i: usize) -> String {
    let d = expected_datums(i);
    // File order → table order: id big d ts ts_ms ts_ns dec dec_big dec_var
    // name raw flag score u.
    let order = [0, 2, 3, 4, 5, 6, 7, 8, 9, 1, 10, 11, 12, 13];
    order
        .iter()
        .map(|&c| csv_value(c, &d[c]))
        .collect::<Vec<_>>()
        .join(",")
}

fn csv_value(c: usize, d: &Datum) -> String {
    match d {
        Datum::Null => "\\N".into(),
        Datum::Int(v) => v.to_string(),
        Datum::Uint(v) => v.to_string(),
        Datum::Float64(v) => v.to_string(),
        Datum::Bytes(b) => {
            let s = String::from_utf8(b.clone()).unwrap();
            match c {
                // DATETIME(3) prints three digits, DATETIME(6) six.
                4..=6 => {
                    let digits = if c == 5 { 3 } else { 6 };
                    let (secs, frac) = s.split_once('.').unwrap_or((&s, ""));
                    format!("{secs}.{frac:0<digits$}")
                }
                1 | 10 => format!("\"{s}\""),
                _ => s,
            }
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn chunks_are_files_of_rows() {
    use importer_cli::source::chunk::{ChunkOptions, make_table_chunks};
    use importer_cli::source::scan::{ScanOptions, scan};
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    make_dump(&dump);
    let scanned = scan(&dump, &ScanOptions::default()).unwrap();
    let table = scanned.table("db", "t").unwrap();
    let chunks = make_table_chunks(&dump, table, 14, &ChunkOptions::default()).unwrap();
    let ranges: Vec<_> = chunks
        .iter()
        .map(|c| (c.offset, c.end_offset, c.prev_rowid_max, c.rowid_max))
        .collect();
    // Row counts from the footers; ids exactly the rows.
    assert_eq!(ranges, [(0, 2500, 0, 2500), (0, 600, 2500, 3100)]);
}

#[test]
fn cli_imports_parquet_into_the_local_store() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    make_dump(&dump);
    let store = dir.path().join("store");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    let out = importer(&[
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
    let out = importer(&[
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
    let out = importer(&[
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
