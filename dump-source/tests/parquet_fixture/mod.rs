//! A Parquet file every test of it agrees on: a table of every type the
//! parser maps (nulls, several row groups, two codecs), the writer that makes
//! it with the `parquet` crate, and the values a reader must get back.
//! Shared by `dump-source`'s parser tests and `importer-cli`'s import test.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use backend_core::Datum;
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
pub const SCHEMA: &str = "
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

pub const CREATE_TABLE: &str = "CREATE TABLE `t` (
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
pub const DATES: &[(i32, &str)] = &[
    (0, "1970-01-01"),
    (19_723, "2024-01-01"),
    (-1, "1969-12-31"),
    (11_016, "2000-02-29"),
    (2_932_896, "9999-12-31"),
];
/// Microseconds since the epoch and their UTC datetimes.
pub const TS_MICROS: &[(i64, &str)] = &[
    (0, "1970-01-01 00:00:00"),
    (1_704_067_199_123_456, "2023-12-31 23:59:59.123456"),
    (951_782_400_000_001, "2000-02-29 00:00:00.000001"),
    (-1, "1969-12-31 23:59:59.999999"),
];
pub const TS_MILLIS: &[(i64, &str)] = &[
    (1_500_000_000_100, "2017-07-14 02:40:00.1"),
    (86_400_000, "1970-01-02 00:00:00"),
];
/// Nanoseconds are truncated to microseconds, as Lightning does.
pub const TS_NANOS: &[(i64, &str)] = &[
    (1_500_000_000_123_456_789, "2017-07-14 02:40:00.123456"),
    (0, "1970-01-01 00:00:00"),
];
/// Unscaled values of DECIMAL(18,4).
pub const DECIMALS: &[(i64, &str)] = &[
    (123_456, "12.3456"),
    (-5, "-0.0005"),
    (0, "0.0000"),
    (999_999_999_999_999_999, "99999999999999.9999"),
    (-999_999_999_999_999_999, "-99999999999999.9999"),
];
/// Unscaled values of DECIMAL(38,5), stored in 16 bytes.
pub const BIG_DECIMALS: &[(i128, &str)] = &[
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
pub const UNSIGNED: &[(u32, &str)] = &[(u32::MAX, "4294967295"), (7, "7"), (1 << 31, "2147483648")];

/// The value of column `c` in row `i` (None is NULL).
pub fn null_at(i: usize, c: usize) -> bool {
    (i + c).is_multiple_of(7)
}

pub fn pick<T: Copy>(table: &[(T, &'static str)], i: usize) -> (T, &'static str) {
    table[i % table.len()]
}

/// Big-endian two's complement of `v` in the fewest bytes.
pub fn minimal_be(v: i128) -> Vec<u8> {
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

pub fn name_of(i: usize) -> String {
    format!("name-{i}-é")
}

pub fn raw_of(i: usize) -> Vec<u8> {
    format!("raw{i}").into_bytes()
}

/// Writes one optional (or, with `required`, required) column.
pub fn put<T: DataType>(
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
pub fn write_file(path: &Path, range: std::ops::Range<usize>, group: usize, codec: Codec) {
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
pub fn dec_var_text(i: usize) -> String {
    let v = pick(BIG_DECIMALS, i).0 % 10_i128.pow(20);
    let sign = if v < 0 { "-" } else { "" };
    let digits = format!("{:03}", v.unsigned_abs());
    let (int, frac) = digits.split_at(digits.len() - 2);
    format!("{sign}{int}.{frac}")
}

pub fn text(s: &str) -> Datum {
    Datum::Bytes(s.as_bytes().to_vec())
}

/// What the parser must give for row `i`, in file column order.
pub fn expected_datums(i: usize) -> Vec<Datum> {
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

pub fn make_dump(dump: &Path) {
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
pub fn expected_csv_line(i: usize) -> String {
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

pub fn csv_value(c: usize, d: &Datum) -> String {
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
