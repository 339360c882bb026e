//! Rows to SQL value tuples.
//!
//! Each value becomes a literal the server's lexer reads back unchanged:
//! `NULL`; integers as decimal text; floats as the shortest text that
//! round-trips exactly; decimals, dates and times quoted; bytes of binary
//! columns, and any bytes that are not valid UTF-8, as `x'…'` hex literals;
//! text as a quoted string escaped the way the session's `sql_mode` expects.
//! Parsed text (`Datum::Bytes`) goes to the server as a quoted string and
//! the server converts it to the column's type, so conversions follow the
//! target's own rules.
//!
//! Columns the data does not carry are left out of the tuple (and out of the
//! statement's column list, see [`TidbEncoder::column_names`]), so the
//! server fills their defaults and auto-increment values.

use std::io::Write as _;
use std::sync::Arc;

use backend_core::model::{ColumnInfo, ColumnType, TidbTableInfo};
use backend_core::{
    ColumnPermutation, Datum, EncodedRow, EncodingBuilder, EncodingConfig, Result, RowEncoder,
    RowOrigin, Rows, SqlMode, SqlRow, TimeKind,
};

use crate::error::TidbError;

/// Creates [`TidbEncoder`]s. Escaping follows the backend's session
/// `sql_mode`, not the encoding config's, because the session decides how
/// the server's lexer reads the literals.
#[derive(Debug, Clone, Copy)]
pub struct TidbEncodingBuilder {
    no_backslash_escapes: bool,
}

impl TidbEncodingBuilder {
    /// A builder for sessions running under `session_sql_mode`.
    pub fn new(session_sql_mode: SqlMode) -> Self {
        TidbEncodingBuilder {
            no_backslash_escapes: session_sql_mode.contains(SqlMode::NO_BACKSLASH_ESCAPES),
        }
    }
}

impl EncodingBuilder for TidbEncodingBuilder {
    fn new_encoder(&self, config: &EncodingConfig) -> Result<Box<dyn RowEncoder>> {
        Ok(Box::new(TidbEncoder {
            table: Arc::clone(&config.table),
            no_backslash_escapes: self.no_backslash_escapes,
            max_auto_id: 0,
            scratch: Vec::new(),
        }))
    }

    fn make_empty_rows(&self) -> Rows {
        Rows::Sql(Vec::new())
    }
}

/// Encodes one table's rows as SQL tuples.
#[derive(Debug)]
pub struct TidbEncoder {
    table: Arc<TidbTableInfo>,
    no_backslash_escapes: bool,
    max_auto_id: i64,
    /// Where a tuple is built: it keeps its capacity across rows, so each
    /// row costs one exact-size allocation (the copy handed out) instead of
    /// a string grown in steps. Bytes, checked as UTF-8 once per row rather
    /// than once per field (checked per field, short values make the UTF-8
    /// check the client's largest cost in a TPC-H import's profile).
    scratch: Vec<u8>,
}

impl TidbEncoder {
    /// The target columns, in tuple order, that rows encoded with
    /// `permutation` carry: every non-generated column whose entry is
    /// `Some`. Pass them to [`backend_core::EngineWriter::append_rows`].
    pub fn column_names(table: &TidbTableInfo, permutation: &ColumnPermutation) -> Vec<String> {
        emitted_columns(table, permutation)
            .map(|(col, _)| col.name.clone())
            .collect()
    }
}

/// TiDB's hidden row id, as a column a tuple may carry.
static TIDB_ROWID_COLUMN: std::sync::LazyLock<ColumnInfo> = std::sync::LazyLock::new(|| {
    ColumnInfo::new(
        0,
        "_tidb_rowid",
        usize::MAX,
        backend_core::model::FieldType::new(ColumnType::BigInt),
    )
});

/// The columns a tuple carries, with the index of their value in the
/// parsed row. A trailing `_tidb_rowid` entry (after the table's columns)
/// comes last: the pipeline keeps it only for a server that has the column.
fn emitted_columns<'a>(
    table: &'a TidbTableInfo,
    permutation: &'a ColumnPermutation,
) -> impl Iterator<Item = (&'a ColumnInfo, usize)> + 'a {
    let row_id = permutation
        .get(table.core.columns.len())
        .copied()
        .flatten()
        .map(|index| (&*TIDB_ROWID_COLUMN, index));
    table
        .core
        .columns
        .iter()
        .zip(permutation.iter())
        .filter(|(col, _)| col.generated.is_none())
        .filter_map(|(col, slot)| slot.map(|index| (col, index)))
        .chain(row_id)
}

impl RowEncoder for TidbEncoder {
    fn encode(
        &mut self,
        row: &[Datum],
        _row_id: i64,
        permutation: &ColumnPermutation,
        origin: &RowOrigin,
    ) -> Result<EncodedRow> {
        let mut tuple = std::mem::take(&mut self.scratch);
        tuple.clear();
        tuple.push(b'(');
        let mut first = true;
        let table = Arc::clone(&self.table);
        for (col, index) in emitted_columns(&table, permutation) {
            let datum = row.get(index).ok_or_else(|| {
                backend_core::Error::bad_data(format!(
                    "column count mismatch: column {} wants value #{} but the row has {} values",
                    col.name,
                    index + 1,
                    row.len()
                ))
            })?;
            if !first {
                tuple.push(b',');
            }
            first = false;
            if col.auto_increment {
                let id = match datum {
                    Datum::Int(v) => Some(*v),
                    Datum::Uint(v) => i64::try_from(*v).ok(),
                    Datum::Bytes(b) => std::str::from_utf8(b)
                        .ok()
                        .and_then(|s| s.trim().parse::<i64>().ok()),
                    _ => None,
                };
                if let Some(id) = id {
                    self.max_auto_id = self.max_auto_id.max(id);
                }
            }
            if let Err(err) = write_literal(&mut tuple, datum, col, self.no_backslash_escapes) {
                self.scratch = tuple;
                return Err(err.into());
            }
        }
        tuple.push(b')');
        // Every literal is ASCII or text that was valid UTF-8, so this
        // cannot fail; a bug would surface as an error, not a bad statement.
        let text = std::str::from_utf8(&tuple).map(str::to_owned);
        self.scratch = tuple;
        let tuple = text.map_err(|_| {
            backend_core::Error::internal("a SQL tuple was built from invalid UTF-8")
        })?;
        Ok(EncodedRow::Sql(SqlRow {
            tuple,
            origin: origin.clone(),
        }))
    }

    fn max_auto_id(&self) -> i64 {
        self.max_auto_id
    }
}

/// Appends `datum` as a SQL literal for column `col`. What it appends is
/// ASCII or valid UTF-8.
pub fn write_literal(
    out: &mut Vec<u8>,
    datum: &Datum,
    col: &ColumnInfo,
    no_backslash_escapes: bool,
) -> Result<(), TidbError> {
    let bad = |reason: String| TidbError::BadValue {
        column: col.name.clone(),
        reason,
    };
    match datum {
        Datum::Null => out.extend_from_slice(b"NULL"),
        Datum::Int(v) => write_i64(out, *v),
        Datum::Uint(v) | Datum::Bit(v) => write_u64(out, *v),
        Datum::Year(v) => write_u64(out, u64::from(*v)),
        Datum::Float32(v) => {
            // Widening is exact; the server narrows the double back to the
            // very same float.
            write_float(out, f64::from(*v)).map_err(bad)?;
        }
        Datum::Float64(v) => write_float(out, *v).map_err(bad)?,
        Datum::Decimal(d) => {
            out.push(b'\'');
            out.extend_from_slice(d.as_str().as_bytes());
            out.push(b'\'');
        }
        Datum::Time(t) => {
            let kind = match col.field_type.tp {
                ColumnType::Date => TimeKind::Date,
                ColumnType::Timestamp => TimeKind::Timestamp,
                _ => TimeKind::DateTime,
            };
            // Send every digit the value has; the server rounds to the
            // column's precision.
            let fsp = if t.microsecond == 0 { 0 } else { 6 };
            let kind = if kind == TimeKind::Date
                && (t.hour, t.minute, t.second, t.microsecond) != (0, 0, 0, 0)
            {
                TimeKind::DateTime
            } else {
                kind
            };
            out.push(b'\'');
            write_time(out, t, kind, fsp);
            out.push(b'\'');
        }
        Datum::Duration(d) => {
            let fsp = if d.micros % 1_000_000 == 0 { 0 } else { 6 };
            out.push(b'\'');
            out.extend_from_slice(d.format(fsp).as_bytes());
            out.push(b'\'');
        }
        Datum::Bytes(bytes) => {
            // Binary columns and non-text: hex keeps every byte; the server
            // decides whether the column's charset accepts it. ASCII, the
            // common case, is checked inline; binary columns skip the check.
            let text = !col.field_type.is_binary_string()
                && (bytes.is_ascii() || std::str::from_utf8(bytes).is_ok());
            if text {
                write_quoted(out, bytes, no_backslash_escapes);
            } else {
                write_hex(out, bytes);
            }
        }
        Datum::Enum { name, .. } | Datum::Set { name, .. } | Datum::Json(name) => {
            write_quoted(out, name.as_bytes(), no_backslash_escapes);
        }
    }
    Ok(())
}

/// Appends `v` in decimal (`write!` goes through the formatting machinery,
/// a measurable share of encoding for integer-heavy tables).
pub fn write_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    loop {
        pos -= 1;
        // `v % 10` < 10, so it always fits (and the check compiles away).
        buf[pos] = b'0' + u8::try_from(v % 10).unwrap_or(0);
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[pos..]);
}

/// Appends `v` in decimal, with a leading `-` when negative.
pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    write_u64(out, v.unsigned_abs());
}

/// Appends `v` zero-padded to `width` digits (more when it has more).
fn write_padded(out: &mut Vec<u8>, v: u32, width: usize) {
    let mut digits = 1;
    let mut rest = v / 10;
    while rest > 0 {
        digits += 1;
        rest /= 10;
    }
    for _ in digits..width {
        out.push(b'0');
    }
    write_u64(out, u64::from(v));
}

/// Appends `t` exactly as [`backend_core::MysqlTime::format`] would,
/// without its intermediate strings.
fn write_time(out: &mut Vec<u8>, t: &backend_core::MysqlTime, kind: TimeKind, fsp: u8) {
    write_padded(out, u32::from(t.year), 4);
    out.push(b'-');
    write_padded(out, u32::from(t.month), 2);
    out.push(b'-');
    write_padded(out, u32::from(t.day), 2);
    if kind == TimeKind::Date {
        return;
    }
    out.push(b' ');
    write_padded(out, u32::from(t.hour), 2);
    out.push(b':');
    write_padded(out, u32::from(t.minute), 2);
    out.push(b':');
    write_padded(out, u32::from(t.second), 2);
    if fsp > 0 {
        let mut digits = Vec::with_capacity(6);
        write_padded(&mut digits, t.microsecond, 6);
        out.push(b'.');
        out.extend_from_slice(digits.get(..usize::from(fsp.min(6))).unwrap_or(&digits));
    }
}

fn write_float(out: &mut Vec<u8>, v: f64) -> Result<(), String> {
    if !v.is_finite() {
        return Err(format!("{v} has no SQL literal"));
    }
    // `{:?}` prints the shortest text that parses back to the same double,
    // with an exponent for very large or small magnitudes (`1e300`), which
    // MySQL reads as a double literal. Writing into a Vec cannot fail.
    let _ = write!(out, "{v:?}");
    Ok(())
}

/// Appends `bytes` as a hex literal `x'…'` (`''` is the empty string).
pub fn write_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2 + 3);
    out.extend_from_slice(b"x'");
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0xf)]);
    }
    out.push(b'\'');
}

/// Whether any byte of `word` may need an escape: a control byte (below
/// 0x20, which covers `\0 \b \n \r \t \Z`), a backslash or a quote. Other
/// control bytes answer yes too, which only costs the exact check.
fn may_need_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // A byte below n (n <= 0x80) borrows into its high bit; `!x` drops
    // bytes whose own high bit was set.
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGHS != 0;
    below(word, 0x20)
        || below(word ^ (ONES * u64::from(b'\\')), 1)
        || below(word ^ (ONES * u64::from(b'\'')), 1)
}

/// Appends `text` as a single-quoted string literal. With backslash escapes
/// (the default) the characters MySQL's lexer treats specially are escaped
/// (`\0 \b \n \r \t \Z \\ \'`); under `NO_BACKSLASH_ESCAPES` a backslash is
/// an ordinary character and only the quote is doubled. Only ASCII bytes
/// are escaped, and no byte of a multi-byte UTF-8 character is ASCII, so
/// UTF-8 text stays UTF-8.
pub fn write_quoted(out: &mut Vec<u8>, text: &[u8], no_backslash_escapes: bool) {
    out.reserve(text.len() + 2);
    out.push(b'\'');
    if no_backslash_escapes {
        for &b in text {
            if b == b'\'' {
                out.push(b'\'');
            }
            out.push(b);
        }
    } else {
        // Skip the 8-byte words that surely need no escape; escapes are
        // rare, and the byte-by-byte test below was most of the cost.
        let mut clean = 0;
        for chunk in text.chunks_exact(8) {
            let Ok(word) = <[u8; 8]>::try_from(chunk) else {
                break;
            };
            if may_need_escape(u64::from_le_bytes(word)) {
                break;
            }
            clean += 8;
        }
        // Nothing before `clean` is escaped, so pushing starts at 0.
        let mut start = 0;
        for (i, &b) in text.iter().enumerate().skip(clean) {
            let escaped: &[u8] = match b {
                0 => b"\\0",
                0x08 => b"\\b",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x1a => b"\\Z",
                b'\\' => b"\\\\",
                b'\'' => b"\\'",
                _ => continue,
            };
            out.extend_from_slice(&text[start..i]);
            out.extend_from_slice(escaped);
            start = i + 1;
        }
        out.extend_from_slice(&text[start..]);
    }
    out.push(b'\'');
}

/// `text` as a single-quoted string literal, see [`write_quoted`].
pub fn quoted(text: &str, no_backslash_escapes: bool) -> String {
    let mut out = Vec::with_capacity(text.len() + 2);
    write_quoted(&mut out, text.as_bytes(), no_backslash_escapes);
    // UTF-8 in, UTF-8 out (see write_quoted); lossy only to avoid a panic.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use backend_core::model::{FieldType, TableInfo};
    use backend_core::{Decimal, MysqlDuration, MysqlTime};

    fn col(tp: ColumnType) -> ColumnInfo {
        ColumnInfo::new(1, "c", 0, FieldType::new(tp))
    }

    fn lit(datum: Datum, tp: ColumnType) -> String {
        let mut out = Vec::new();
        assert!(write_literal(&mut out, &datum, &col(tp), false).is_ok());
        utf8(out)
    }

    fn utf8(out: Vec<u8>) -> String {
        String::from_utf8(out).unwrap_or_else(|e| panic!("not UTF-8: {e}"))
    }

    #[test]
    fn literals() {
        assert_eq!(lit(Datum::Null, ColumnType::Int), "NULL");
        assert_eq!(
            lit(Datum::Int(i64::MIN), ColumnType::BigInt),
            "-9223372036854775808"
        );
        assert_eq!(
            lit(Datum::Uint(u64::MAX), ColumnType::BigInt),
            "18446744073709551615"
        );
        assert_eq!(lit(Datum::Float64(0.1), ColumnType::Double), "0.1");
        assert_eq!(lit(Datum::Float64(1e300), ColumnType::Double), "1e300");
        assert_eq!(
            lit(Datum::Float32(1.1), ColumnType::Float),
            "1.100000023841858"
        );
        let mut out = Vec::new();
        assert!(
            write_literal(
                &mut out,
                &Datum::Float64(f64::NAN),
                &col(ColumnType::Double),
                false
            )
            .is_err()
        );
        let dec = Decimal::parse("-12.50").ok().map(Datum::Decimal);
        assert_eq!(
            dec.map(|d| lit(d, ColumnType::Decimal)).as_deref(),
            Some("'-12.50'")
        );
        let t = MysqlTime {
            year: 2024,
            month: 2,
            day: 29,
            hour: 1,
            minute: 2,
            second: 3,
            microsecond: 5,
        };
        assert_eq!(
            lit(Datum::Time(t), ColumnType::DateTime),
            "'2024-02-29 01:02:03.000005'"
        );
        let d = MysqlTime {
            year: 2024,
            month: 2,
            day: 29,
            ..MysqlTime::default()
        };
        assert_eq!(lit(Datum::Time(d), ColumnType::Date), "'2024-02-29'");
        assert_eq!(
            lit(
                Datum::Duration(MysqlDuration {
                    micros: -3_600_000_000
                }),
                ColumnType::Time
            ),
            "'-01:00:00'"
        );
        assert_eq!(
            lit(Datum::Bytes(vec![0, 0xff, b'\'']), ColumnType::VarBinary),
            "x'00ff27'"
        );
        assert_eq!(lit(Datum::Bytes(vec![]), ColumnType::Blob), "x''");
        assert_eq!(
            lit(Datum::Bytes(vec![b'a', 0xc3]), ColumnType::VarChar),
            "x'61c3'"
        );
        assert_eq!(lit(Datum::text("it's"), ColumnType::VarChar), "'it\\'s'");
        // Text beyond ASCII stays text (the per-row check is the only one).
        assert_eq!(lit(Datum::text("é€'𝄞"), ColumnType::VarChar), "'é€\\'𝄞'");
        assert_eq!(lit(Datum::Bit(5), ColumnType::Bit), "5");
    }

    #[test]
    fn integers_and_times_match_std_formatting() {
        for v in [0i64, 1, -1, 9, 10, -10, 99, 12345, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            write_i64(&mut out, v);
            assert_eq!(utf8(out), v.to_string());
        }
        for v in [0u64, 7, 100, u64::MAX] {
            let mut out = Vec::new();
            write_u64(&mut out, v);
            assert_eq!(utf8(out), v.to_string());
        }
        let times = [
            MysqlTime::default(),
            MysqlTime {
                year: 7,
                month: 1,
                day: 2,
                hour: 3,
                minute: 4,
                second: 5,
                microsecond: 60,
            },
            MysqlTime {
                year: 65535,
                month: 255,
                day: 100,
                hour: 23,
                minute: 59,
                second: 59,
                microsecond: 999_999,
            },
            MysqlTime {
                year: 2024,
                month: 12,
                day: 31,
                hour: 0,
                minute: 0,
                second: 0,
                microsecond: 1_234_567,
            },
        ];
        for t in times {
            for kind in [TimeKind::Date, TimeKind::DateTime, TimeKind::Timestamp] {
                for fsp in 0..=6 {
                    let mut out = Vec::new();
                    write_time(&mut out, &t, kind, fsp);
                    assert_eq!(utf8(out), t.format(kind, fsp), "{t:?} {kind:?} {fsp}");
                }
            }
        }
    }

    /// The per-byte definition the fast path must agree with.
    fn naive_quoted(text: &str) -> String {
        let mut out = String::from("'");
        for ch in text.chars() {
            match ch {
                '\0' => out.push_str("\\0"),
                '\u{8}' => out.push_str("\\b"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{1a}' => out.push_str("\\Z"),
                '\\' => out.push_str("\\\\"),
                '\'' => out.push_str("\\'"),
                c => out.push(c),
            }
        }
        out.push('\'');
        out
    }

    #[test]
    fn fast_escaping_matches_byte_by_byte() {
        let alphabet = [
            "a", "Z", "0", " ", "\0", "\u{8}", "\n", "\r", "\t", "\u{1a}", "\\", "'", "\"",
            "\u{1}", "\u{1f}", "\u{7f}", "é", "€", "𝄞", "\u{5c}x", "\u{a7}",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..80 {
            for _ in 0..40 {
                let mut text = String::new();
                for _ in 0..len {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let pick = usize::try_from(seed % alphabet.len() as u64).unwrap_or(0);
                    // Mostly plain text, so whole clean words occur.
                    text.push_str(if seed.is_multiple_of(5) {
                        alphabet[pick]
                    } else {
                        "q"
                    });
                }
                assert_eq!(quoted(&text, false), naive_quoted(&text), "{text:?}");
            }
        }
    }

    #[test]
    fn escaping_both_modes() {
        let text = "a\0b\u{8}c\nd\re\tf\u{1a}g\\h'i\"j€";
        assert_eq!(
            quoted(text, false),
            "'a\\0b\\bc\\nd\\re\\tf\\Zg\\\\h\\'i\"j€'"
        );
        assert_eq!(quoted(text, true), "'a\0b\u{8}c\nd\re\tf\u{1a}g\\h''i\"j€'");
    }

    fn table() -> Arc<TidbTableInfo> {
        let mut id = ColumnInfo::new(1, "id", 0, FieldType::new(ColumnType::BigInt));
        id.auto_increment = true;
        let name = ColumnInfo::new(2, "name", 1, FieldType::new(ColumnType::VarChar));
        let mut gen_col = ColumnInfo::new(3, "g", 2, FieldType::new(ColumnType::Int));
        gen_col.generated = Some(backend_core::model::GeneratedColumn {
            expr: "id+1".into(),
            stored: false,
        });
        let note = ColumnInfo::new(4, "note", 3, FieldType::new(ColumnType::Text));
        Arc::new(TidbTableInfo {
            id: 1,
            db: "d".into(),
            name: "t".into(),
            core: TableInfo {
                id: 1,
                name: "t".into(),
                charset: "utf8mb4".into(),
                collation: String::new(),
                columns: vec![id, name, gen_col, note],
                indices: vec![],
                pk_is_handle: false,
                is_common_handle: false,
                auto_increment_base: 0,
                create_sql: None,
            },
        })
    }

    #[test]
    fn permutation_leaves_out_missing_and_generated_columns() {
        let table = table();
        let builder = TidbEncodingBuilder::new(SqlMode::default());
        let config = EncodingConfig {
            table: Arc::clone(&table),
            sql_mode: SqlMode::default(),
            timestamp: 0,
        };
        let mut enc = match builder.new_encoder(&config) {
            Ok(enc) => enc,
            Err(e) => panic!("{e}"),
        };
        // Data file order: name, id; note missing; g generated.
        let perm = [Some(1), Some(0), Some(2), None];
        assert_eq!(TidbEncoder::column_names(&table, &perm), vec!["id", "name"]);
        let row = vec![Datum::text("x"), Datum::text("42"), Datum::Int(9)];
        let encoded = enc.encode(&row, 1, &perm, &RowOrigin::default());
        match encoded {
            Ok(EncodedRow::Sql(sql)) => assert_eq!(sql.tuple, "('42','x')"),
            other => panic!("{other:?}"),
        }
        assert_eq!(enc.max_auto_id(), 42);
        let short = enc.encode(&[Datum::Null], 2, &perm, &RowOrigin::default());
        assert!(short.is_err_and(|e| e.kind() == backend_core::ErrorKind::BadData));
    }

    /// An entry after the table's columns is `_tidb_rowid` (kept by the
    /// pipeline for TiDB only): it is the tuple's last value and the
    /// column list's last name.
    #[test]
    fn trailing_row_id_entry_is_sent_last() {
        let table = table();
        let mut enc = TidbEncodingBuilder::new(SqlMode::default())
            .new_encoder(&EncodingConfig {
                table: Arc::clone(&table),
                sql_mode: SqlMode::default(),
                timestamp: 0,
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let perm = [Some(0), Some(1), None, None, Some(2)];
        assert_eq!(
            TidbEncoder::column_names(&table, &perm),
            vec!["id", "name", "_tidb_rowid"]
        );
        let row = vec![Datum::Int(1), Datum::text("x"), Datum::Int(77)];
        match enc.encode(&row, 1, &perm, &RowOrigin::default()) {
            Ok(EncodedRow::Sql(sql)) => assert_eq!(sql.tuple, "(1,'x',77)"),
            other => panic!("{other:?}"),
        }
    }
}
