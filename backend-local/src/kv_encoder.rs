//! Rows → TiDB KV pairs: the local backend's [`EncodingBuilder`].
//!
//! [`KvEncoder`] converts each parsed value to its column's type under the
//! session `sql_mode` (strict: bad values are errors; otherwise they are
//! clamped or truncated as MySQL does and counted as warnings), fills
//! defaults and auto-increment values, and emits the record pair
//! (`t{id}_r{handle}` → row format v2) plus one pair per index entry.
//!
//! Behaviour follows TiDB with `new_collations_enabled_on_first_bootstrap =
//! false`: index keys hold the column bytes, not collation weights. Index
//! values use TiDB's version-0 layout for integer handles (8-byte big-endian
//! handle for distinct unique entries, `"0"` otherwise). Clustered common
//! handles and stored generated columns are rejected when the encoder is
//! created. `CURRENT_TIMESTAMP` and `TIMESTAMP` values use UTC as the
//! session time zone.

use std::borrow::Cow;
use std::sync::Arc;

use backend_core::model::{ColumnInfo, ColumnType, DefaultValue, FieldType, TidbTableInfo};
use backend_core::{
    ColumnPermutation, Datum, Decimal, EncodedRow, EncodedRows, EncodingBuilder, EncodingConfig,
    Error, KvPairs, MysqlDuration, MysqlTime, Result, RowEncoder, RowOrigin, Rows, SqlMode,
};

use crate::codec::{key, row, table};

/// Creates [`KvEncoder`]s; the local backend's encoding builder.
#[derive(Debug, Clone, Copy, Default)]
pub struct KvEncodingBuilder;

impl EncodingBuilder for KvEncodingBuilder {
    fn new_encoder(&self, config: &EncodingConfig) -> Result<Box<dyn RowEncoder>> {
        Ok(Box::new(KvEncoder::new(config)?))
    }

    fn make_empty_rows(&self) -> Rows {
        Rows::Kv(backend_core::KvPairs::new())
    }
}

/// Encodes one table's rows into TiDB record and index pairs.
#[derive(Debug)]
pub struct KvEncoder {
    table: Arc<TidbTableInfo>,
    mode: SqlMode,
    timestamp: i64,
    /// Offset of the integer handle column (`pk_is_handle`).
    handle_col: Option<usize>,
    /// Offset of the auto-increment column.
    auto_col: Option<usize>,
    /// Each column's default, converted once.
    defaults: Vec<Datum>,
    /// Whether column `i` has a non-NULL default (decides whether a NULL
    /// is written into the row or the column is left out, as TiDB does).
    has_default: Vec<bool>,
    warnings: u64,
    max_auto_id: i64,
    /// Scratch: the row's converted values.
    values: Vec<Datum>,
    /// Scratch: the record value being built.
    row_builder: row::RowBuilder,
}

impl KvEncoder {
    /// Checks the table can be encoded and prepares defaults.
    ///
    /// Errors: [`backend_core::ErrorKind::Unsupported`] for clustered
    /// common handles, stored generated columns and indexed virtual columns
    /// or JSON columns; [`backend_core::ErrorKind::BadData`] for a default
    /// that does not convert to its column's type.
    pub fn new(config: &EncodingConfig) -> Result<Self> {
        let info = &config.table;
        let t = &info.core;
        let name = info.unique_name();
        if t.is_common_handle {
            return Err(Error::unsupported(format!(
                "table {name}: clustered non-integer primary keys (common handles) are not supported by the local backend; declare the primary key NONCLUSTERED"
            )));
        }
        for col in &t.columns {
            if col.generated.as_ref().is_some_and(|g| g.stored) {
                return Err(Error::unsupported(format!(
                    "table {name}: stored generated column `{}` cannot be computed by the local backend",
                    col.name
                )));
            }
            if u32::try_from(col.id).is_err() {
                return Err(Error::bad_data(format!(
                    "table {name}: column `{}` has id {} outside row format v2's range",
                    col.name, col.id
                )));
            }
        }
        for idx in &t.indices {
            for ic in &idx.columns {
                let col = t.columns.get(ic.offset).ok_or_else(|| {
                    Error::bad_data(format!(
                        "table {name}: index `{}` refers to column offset {} beyond the table",
                        idx.name, ic.offset
                    ))
                })?;
                if col.generated.is_some() {
                    return Err(Error::unsupported(format!(
                        "table {name}: index `{}` covers generated column `{}`, which the local backend cannot compute",
                        idx.name, col.name
                    )));
                }
                if !key::is_indexable(col.field_type.tp) {
                    return Err(Error::unsupported(format!(
                        "table {name}: index `{}` covers JSON column `{}`",
                        idx.name, col.name
                    )));
                }
            }
        }
        let handle_col = if t.pk_is_handle {
            let col = t.handle_column().ok_or_else(|| {
                Error::bad_data(format!(
                    "table {name}: pk_is_handle is set but the primary key is not a single column"
                ))
            })?;
            if !col.field_type.tp.is_integer() {
                return Err(Error::bad_data(format!(
                    "table {name}: handle column `{}` is not an integer",
                    col.name
                )));
            }
            Some(col.offset)
        } else {
            None
        };
        let mut defaults = Vec::with_capacity(t.columns.len());
        let mut has_default = Vec::with_capacity(t.columns.len());
        let strict = SqlMode::STRICT_ALL_TABLES;
        for col in &t.columns {
            let mut ignored = 0;
            let (value, has) = match &col.default {
                None | Some(DefaultValue::Null) => (Datum::Null, false),
                Some(DefaultValue::Literal(text)) => (
                    convert(
                        &Datum::text(text.clone()),
                        col,
                        &t.charset,
                        strict,
                        &mut ignored,
                    )
                    .map_err(|e| {
                        e.context(format!("table {name}: default of column `{}`", col.name))
                    })?,
                    true,
                ),
                Some(DefaultValue::CurrentTimestamp) => {
                    let now = time_from_unix(config.timestamp).ok_or_else(|| {
                        Error::bad_data(format!(
                            "session timestamp {} out of range",
                            config.timestamp
                        ))
                    })?;
                    let now = Datum::Time(now);
                    (convert(&now, col, &t.charset, strict, &mut ignored)?, true)
                }
            };
            defaults.push(value);
            has_default.push(has);
        }
        Ok(KvEncoder {
            table: Arc::clone(&config.table),
            mode: config.sql_mode,
            timestamp: config.timestamp,
            handle_col,
            auto_col: t.auto_increment_column().map(|c| c.offset),
            defaults,
            has_default,
            warnings: 0,
            max_auto_id: 0,
            values: Vec::new(),
            row_builder: row::RowBuilder::default(),
        })
    }

    /// The value of column `i` for this row, converted.
    fn column_value(
        &mut self,
        col: &ColumnInfo,
        source: Option<&Datum>,
        row_id: i64,
    ) -> Result<Datum> {
        let i = col.offset;
        let t = &self.table.core;
        if self.auto_col == Some(i) {
            let auto = match source {
                None | Some(Datum::Null) => true,
                Some(d) => !self.mode.contains(SqlMode::NO_AUTO_VALUE_ON_ZERO) && is_zero_number(d),
            };
            if auto {
                return convert(
                    &Datum::Int(row_id),
                    col,
                    &t.charset,
                    self.mode,
                    &mut self.warnings,
                );
            }
        }
        let value = match source {
            Some(d) => d,
            None => {
                if col.generated.is_some() {
                    return Ok(Datum::Null);
                }
                if !self.has_default[i] && col.field_type.not_null {
                    if self.handle_col == Some(i) {
                        return Err(Error::bad_data(format!(
                            "column `{}`: the primary key is missing from the data",
                            col.name
                        )));
                    }
                    bad(
                        self.mode,
                        &mut self.warnings,
                        col,
                        "field doesn't have a default value",
                    )?;
                    return Ok(zero_value(&col.field_type));
                }
                return Ok(self.defaults[i].clone());
            }
        };
        if value.is_null() {
            if col.field_type.not_null {
                if self.handle_col == Some(i) {
                    return Err(Error::bad_data(format!(
                        "column `{}`: the primary key cannot be NULL",
                        col.name
                    )));
                }
                bad(self.mode, &mut self.warnings, col, "column cannot be null")?;
                return Ok(zero_value(&col.field_type));
            }
            return Ok(Datum::Null);
        }
        convert(value, col, &t.charset, self.mode, &mut self.warnings)
    }
}

impl KvEncoder {
    /// Appends the row's record pair to `data` and its index entries to
    /// `index`, keys and values written in place. On error both are left as
    /// they were.
    fn encode_pairs(
        &mut self,
        row: &[Datum],
        row_id: i64,
        permutation: &ColumnPermutation,
        data: &mut KvPairs,
        index: &mut KvPairs,
    ) -> Result<()> {
        let table = Arc::clone(&self.table);
        let t = &table.core;
        // Scratch buffers live in the encoder, reused row after row.
        let mut values = std::mem::take(&mut self.values);
        values.clear();
        for col in &t.columns {
            let source = match permutation.get(col.offset).copied().flatten() {
                Some(j) => Some(row.get(j).ok_or_else(|| {
                    Error::bad_data(format!(
                        "column `{}`: the row has {} fields but the column maps to field {}",
                        col.name,
                        row.len(),
                        j + 1
                    ))
                })?),
                None => None,
            };
            values.push(self.column_value(col, source, row_id)?);
        }
        // The handle: the integer primary key, or `_tidb_rowid` (from the
        // data when it carries one, else the pre-allocated row id).
        let handle = match self.handle_col {
            Some(i) => handle_of(&values[i], &t.columns[i])?,
            None => match permutation.get(t.columns.len()).copied().flatten() {
                Some(j) => match row.get(j) {
                    Some(Datum::Null) | None => row_id,
                    Some(d) => {
                        let mut w = 0;
                        let col = ColumnInfo::new(
                            0,
                            "_tidb_rowid",
                            t.columns.len(),
                            FieldType::new(ColumnType::BigInt),
                        );
                        handle_of(
                            &convert(d, &col, "", SqlMode::STRICT_ALL_TABLES, &mut w)?,
                            &col,
                        )?
                    }
                },
                None => row_id,
            },
        };
        if let Some(v) = self.auto_col.and_then(|i| auto_id_of(&values[i])) {
            self.max_auto_id = self.max_auto_id.max(v);
        }
        if self.handle_col.is_some() {
            self.max_auto_id = self.max_auto_id.max(handle);
        }

        let (data_len, index_len) = (data.len(), index.len());
        let written = self.write_pairs(&table, &values, handle, data, index);
        self.values = values;
        if written.is_err() {
            data.truncate(data_len);
            index.truncate(index_len);
        }
        written
    }

    /// The record pair and the index pairs of one row's converted values.
    fn write_pairs(
        &mut self,
        table: &TidbTableInfo,
        values: &[Datum],
        handle: i64,
        data: &mut KvPairs,
        index: &mut KvPairs,
    ) -> Result<()> {
        let t = &table.core;
        let builder = &mut self.row_builder;
        for (col, value) in t.columns.iter().zip(values) {
            let is_virtual = col.generated.as_ref().is_some_and(|g| !g.stored);
            if self.handle_col == Some(col.offset) || is_virtual {
                continue;
            }
            if value.is_null() {
                if self.has_default[col.offset] {
                    builder.push_null(col.id)?;
                }
                continue;
            }
            builder
                .push_value(col.id, value, &col.field_type)
                .map_err(|e| e.context(format!("column `{}`", col.name)))?;
        }
        data.push_with::<Error>(
            handle,
            |key| {
                table::append_record_key(key, table.id, handle);
                Ok(())
            },
            |value| builder.finish_into(value),
        )?;

        for idx in &t.indices {
            if idx.primary && self.handle_col.is_some() {
                continue;
            }
            // A unique entry without NULLs is distinct: keyed by its values
            // alone, the handle in the value.
            let distinct = idx.unique && idx.columns.iter().all(|ic| !values[ic.offset].is_null());
            index.push_with::<Error>(
                handle,
                |key| {
                    // The key is built in place: prefix, then each flagged value.
                    table::append_index_prefix(key, table.id, idx.id);
                    for ic in &idx.columns {
                        let col = &t.columns[ic.offset];
                        let value = &values[ic.offset];
                        let value = match (ic.length, value) {
                            (Some(len), Datum::Bytes(b)) => Cow::Owned(Datum::Bytes(
                                prefix(b, len, col.field_type.is_binary_string()).to_vec(),
                            )),
                            _ => Cow::Borrowed(value),
                        };
                        key::encode_key_datum(key, &value, &col.field_type)
                            .map_err(|e| e.context(format!("index `{}`", idx.name)))?;
                    }
                    if !distinct {
                        table::append_index_handle(key, handle);
                    }
                    Ok(())
                },
                |value| {
                    if distinct {
                        value.extend_from_slice(&handle.to_be_bytes());
                    } else {
                        value.extend_from_slice(table::NON_UNIQUE_INDEX_VALUE);
                    }
                    Ok(())
                },
            )?;
        }
        Ok(())
    }
}

impl RowEncoder for KvEncoder {
    fn encode(
        &mut self,
        row: &[Datum],
        row_id: i64,
        permutation: &ColumnPermutation,
        _origin: &RowOrigin,
    ) -> Result<EncodedRow> {
        let (mut data, mut index) = (KvPairs::new(), KvPairs::new());
        self.encode_pairs(row, row_id, permutation, &mut data, &mut index)?;
        let record = data
            .get(0)
            .map(|p| p.to_pair())
            .ok_or_else(|| Error::internal("the encoder wrote no record pair"))?;
        Ok(EncodedRow::Kv {
            record,
            indexes: index.to_vec(),
        })
    }

    fn encode_into(
        &mut self,
        row: &[Datum],
        row_id: i64,
        permutation: &ColumnPermutation,
        origin: &RowOrigin,
        out: &mut EncodedRows,
    ) -> Result<usize> {
        let (Rows::Kv(data), Rows::Kv(index)) = (&mut out.data, &mut out.index) else {
            // Not KV-shaped streams (empty ones of another backend's shape):
            // the owned row converts them.
            let encoded = self.encode(row, row_id, permutation, origin)?;
            return Ok(out.push(encoded));
        };
        let (data_len, index_len) = (data.len(), index.len());
        let (data_size, index_size) = (data.size(), index.size());
        self.encode_pairs(row, row_id, permutation, data, index)?;
        for pair in (data_len..data.len()).filter_map(|i| data.get(i)) {
            out.data_checksum.update_one(pair.key, pair.value);
        }
        for pair in (index_len..index.len()).filter_map(|i| index.get(i)) {
            out.index_checksum.update_one(pair.key, pair.value);
        }
        Ok(data.size() - data_size + index.size() - index_size)
    }

    fn take_warnings(&mut self) -> u64 {
        std::mem::take(&mut self.warnings)
    }

    fn max_auto_id(&self) -> i64 {
        self.max_auto_id
    }
}

impl KvEncoder {
    /// The session timestamp this encoder fills `CURRENT_TIMESTAMP` with.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }
}

fn handle_of(value: &Datum, col: &ColumnInfo) -> Result<i64> {
    match value {
        Datum::Int(v) => Ok(*v),
        // TiDB stores unsigned handles bit-cast to int64.
        Datum::Uint(v) => Ok(i64::from_ne_bytes(v.to_ne_bytes())),
        other => Err(Error::bad_data(format!(
            "column `{}`: {other:?} cannot be a row handle",
            col.name
        ))),
    }
}

fn auto_id_of(value: &Datum) -> Option<i64> {
    match value {
        Datum::Int(v) => Some(*v),
        Datum::Uint(v) => i64::try_from(*v).ok(),
        Datum::Float32(f) => float_to_i64(f64::from(*f)),
        Datum::Float64(f) => float_to_i64(*f),
        _ => None,
    }
}

fn float_to_i64(f: f64) -> Option<i64> {
    let r = f.round();
    if r.is_finite() && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&r) {
        // In range, checked above.
        #[allow(clippy::cast_possible_truncation)]
        Some(r as i64)
    } else {
        None
    }
}

fn is_zero_number(d: &Datum) -> bool {
    match d {
        Datum::Int(0) | Datum::Uint(0) => true,
        Datum::Float32(f) => *f == 0.0,
        Datum::Float64(f) => *f == 0.0,
        Datum::Decimal(d) => d.as_str().trim_start_matches(['0', '.']).is_empty(),
        Datum::Bytes(b) => {
            let s = String::from_utf8_lossy(b);
            let s = s.trim();
            !s.is_empty() && s.parse::<f64>().is_ok_and(|f| f == 0.0)
        }
        _ => false,
    }
}

/// Truncates to the first `len` characters (bytes for binary strings).
fn prefix(b: &[u8], len: u32, binary: bool) -> &[u8] {
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    if binary {
        return &b[..b.len().min(len)];
    }
    match std::str::from_utf8(b) {
        Ok(s) => match s.char_indices().nth(len) {
            Some((at, _)) => &b[..at],
            None => b,
        },
        Err(_) => &b[..b.len().min(len)],
    }
}

/// Reports a bad value: an error in strict mode, else one more warning.
fn bad(mode: SqlMode, warnings: &mut u64, col: &ColumnInfo, reason: &str) -> Result<()> {
    if mode.is_strict() {
        return Err(Error::bad_data(format!("column `{}`: {reason}", col.name)));
    }
    *warnings += 1;
    Ok(())
}

/// The value MySQL uses for a NOT NULL column that gets NULL outside strict
/// mode: 0, '', the zero date, the first enum member.
pub fn zero_value(ft: &FieldType) -> Datum {
    match ft.tp {
        t if t.is_integer() => {
            if ft.unsigned {
                Datum::Uint(0)
            } else {
                Datum::Int(0)
            }
        }
        ColumnType::Float => Datum::Float32(0.0),
        ColumnType::Double => Datum::Float64(0.0),
        ColumnType::Decimal => {
            let (_, frac) = key::decimal_precision(ft);
            Datum::Decimal(
                Decimal::parse("0")
                    .map_or_else(|_| unreachable_zero(), |d| d.rescale(usize::from(frac))),
            )
        }
        ColumnType::Date | ColumnType::DateTime | ColumnType::Timestamp => {
            Datum::Time(MysqlTime::default())
        }
        ColumnType::Time => Datum::Duration(MysqlDuration { micros: 0 }),
        ColumnType::Year => Datum::Year(0),
        ColumnType::Bit => Datum::Bit(0),
        ColumnType::Enum => match ft.elems.first() {
            Some(name) => Datum::Enum {
                index: 1,
                name: name.clone(),
            },
            None => Datum::Enum {
                index: 0,
                name: String::new(),
            },
        },
        ColumnType::Set => Datum::Set {
            bits: 0,
            name: String::new(),
        },
        ColumnType::Json => Datum::Json("null".into()),
        _ => Datum::Bytes(Vec::new()),
    }
}

fn unreachable_zero() -> Decimal {
    // `Decimal::parse("0")` cannot fail; keep a total function regardless.
    Decimal::parse("0.0").unwrap_or_else(|_| unreachable_zero())
}

/// Converts a parsed or typed value to `col`'s type under `mode`.
///
/// `table_charset` is used when the column declares none. Strict mode turns
/// every lossy conversion into a [`backend_core::ErrorKind::BadData`] error
/// naming the column; otherwise the value is clamped/truncated as MySQL
/// does and `warnings` is incremented. `NULL` stays `NULL`.
pub fn convert(
    value: &Datum,
    col: &ColumnInfo,
    table_charset: &str,
    mode: SqlMode,
    warnings: &mut u64,
) -> Result<Datum> {
    if value.is_null() {
        return Ok(Datum::Null);
    }
    let ft = &col.field_type;
    let mut cx = Cx {
        mode,
        warnings,
        col,
    };
    match ft.tp {
        t if t.is_integer() => cx.as_integer(value),
        ColumnType::Float | ColumnType::Double => cx.as_float(value),
        ColumnType::Decimal => cx.as_decimal(value),
        ColumnType::Date | ColumnType::DateTime | ColumnType::Timestamp => cx.as_time(value),
        ColumnType::Time => cx.as_duration(value),
        ColumnType::Year => cx.as_year(value),
        ColumnType::Enum => cx.as_enum(value),
        ColumnType::Set => cx.as_set(value),
        ColumnType::Bit => cx.as_bit(value),
        ColumnType::Json => cx.as_json(value),
        _ => cx.as_string(value, table_charset),
    }
}

struct Cx<'a> {
    mode: SqlMode,
    warnings: &'a mut u64,
    col: &'a ColumnInfo,
}

/// The longest numeric prefix of `s` (after leading whitespace): sign,
/// digits, optional fraction, optional exponent. Returns it and whether
/// anything but whitespace followed.
fn numeric_prefix(s: &str) -> (&str, bool) {
    let s = s.trim_start_matches([' ', '\t', '\n', '\r']);
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let mut digits = i - int_start;
    if b.get(i) == Some(&b'.') {
        let frac_start = i + 1;
        let mut j = frac_start;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if digits > 0 || j > frac_start {
            digits += j - frac_start;
            i = j;
        }
    }
    if digits == 0 {
        return ("", !s.trim().is_empty() || s.is_empty());
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let exp_start = j;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if j > exp_start {
            i = j;
        }
    }
    let trailing = !s[i..].trim().is_empty();
    (&s[..i], trailing)
}

/// A value as text, borrowed when it is already UTF-8 bytes (the common
/// case: every value a parser produces).
fn text_of(d: &Datum) -> Cow<'_, str> {
    match d {
        // `from_utf8` checks ASCII a word at a time; `from_utf8_lossy`
        // walks the text in chunks even when it is all valid.
        Datum::Bytes(b) => match std::str::from_utf8(b) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(b),
        },
        other => Cow::Owned(datum_text(other)),
    }
}

/// `[-]digits` with at most 18 digits, which always fits an `i64`.
fn plain_integer(b: &[u8]) -> Option<i64> {
    let (negative, digits) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = digits
        .iter()
        .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
    Some(if negative { -v } else { v })
}

/// ASCII text within a text column's limit, as the column stores it. ASCII
/// is valid in every character set and counts one character per byte, so
/// the general path would change nothing but CHAR's trailing spaces.
fn plain_text(b: &[u8], ft: &FieldType) -> Option<Datum> {
    if ft.is_binary_string() || !b.is_ascii() {
        return None;
    }
    let (limit, _) = length_limit(ft);
    if b.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
        return None;
    }
    let end = if ft.tp == ColumnType::Char {
        b.iter().rposition(|c| *c != b' ').map_or(0, |p| p + 1)
    } else {
        b.len()
    };
    Some(Datum::Bytes(b[..end].to_vec()))
}

/// How long a string column's values may be, and whether that counts
/// characters (CHAR/VARCHAR of text) rather than bytes (binary strings,
/// BLOB/TEXT).
fn length_limit(ft: &FieldType) -> (u64, bool) {
    let text = !ft.is_binary_string();
    match ft.tp {
        ColumnType::Char | ColumnType::Binary => (u64::from(ft.flen.unwrap_or(1)), text),
        ColumnType::VarChar | ColumnType::VarBinary => (u64::from(ft.flen.unwrap_or(65535)), text),
        ColumnType::TinyBlob | ColumnType::TinyText => (255, false),
        ColumnType::Blob | ColumnType::Text => (65_535, false),
        ColumnType::MediumBlob | ColumnType::MediumText => (16_777_215, false),
        _ => (4_294_967_295, false),
    }
}

/// `[-]digits[.digits]` that fits DECIMAL(`precision`, `scale`) as it is:
/// at most `scale` fraction digits and `precision - scale` integer digits
/// (leading zeros aside). Such text needs no rounding and no range check,
/// so it skips the general number path.
fn plain_decimal(b: &[u8], precision: u8, scale: u8) -> Option<Decimal> {
    let (negative, digits) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    let (int, frac) = match digits.iter().position(|c| *c == b'.') {
        Some(dot) => (&digits[..dot], &digits[dot + 1..]),
        None => (digits, &[][..]),
    };
    let all_digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    let int_len = int.iter().skip_while(|c| **c == b'0').count();
    if (int.is_empty() && frac.is_empty())
        || frac.len() > usize::from(scale)
        || int_len > usize::from(precision.saturating_sub(scale))
        || !all_digits(int)
        || !all_digits(frac)
    {
        return None;
    }
    // Pad the fraction to the column's scale (at most 30 digits).
    let mut padded = [b'0'; 32];
    let padded = padded.get_mut(..usize::from(scale))?;
    padded[..frac.len()].copy_from_slice(frac);
    Decimal::from_digits(negative, int, padded).ok()
}

/// A typed value as text, for conversions that go through text.
fn datum_text(d: &Datum) -> String {
    match d {
        Datum::Null => String::new(),
        Datum::Int(v) => v.to_string(),
        Datum::Uint(v) | Datum::Bit(v) => v.to_string(),
        Datum::Float32(f) => f.to_string(),
        Datum::Float64(f) => f.to_string(),
        Datum::Decimal(d) => d.to_string(),
        Datum::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Datum::Time(t) => t.format(
            backend_core::TimeKind::DateTime,
            if t.microsecond > 0 { 6 } else { 0 },
        ),
        Datum::Duration(d) => d.format(if d.micros % 1_000_000 != 0 { 6 } else { 0 }),
        Datum::Year(y) => y.to_string(),
        Datum::Enum { name, .. } | Datum::Set { name, .. } => name.clone(),
        Datum::Json(s) => s.clone(),
    }
}

impl Cx<'_> {
    fn bad(&mut self, reason: &str) -> Result<()> {
        bad(self.mode, self.warnings, self.col, reason)
    }

    fn ft(&self) -> &FieldType {
        &self.col.field_type
    }

    /// An exact number from any value: (decimal, clean).
    fn number(&mut self, value: &Datum) -> Result<Decimal> {
        let text = match value {
            Datum::Int(v) => return Decimal::parse(&v.to_string()),
            Datum::Uint(v) | Datum::Bit(v) | Datum::Set { bits: v, .. } => {
                return Decimal::parse(&v.to_string());
            }
            Datum::Enum { index, .. } => return Decimal::parse(&index.to_string()),
            Datum::Year(y) => return Decimal::parse(&y.to_string()),
            Datum::Decimal(d) => return Ok(d.clone()),
            Datum::Float32(f) => Cow::Owned(float_text(f64::from(*f))),
            Datum::Float64(f) => Cow::Owned(float_text(*f)),
            Datum::Time(t) => {
                let mut s = format!(
                    "{:04}{:02}{:02}{:02}{:02}{:02}",
                    t.year, t.month, t.day, t.hour, t.minute, t.second
                );
                if t.microsecond > 0 {
                    s.push_str(&format!(".{:06}", t.microsecond));
                }
                Cow::Owned(s)
            }
            Datum::Duration(d) => {
                let abs = d.micros.unsigned_abs();
                let secs = abs / 1_000_000;
                let sign = if d.micros < 0 { "-" } else { "" };
                Cow::Owned(format!(
                    "{sign}{}{:02}{:02}.{:06}",
                    secs / 3600,
                    (secs / 60) % 60,
                    secs % 60,
                    abs % 1_000_000
                ))
            }
            other => text_of(other),
        };
        if text.is_empty() && matches!(value, Datum::Bytes(_)) {
            self.bad("incorrect number value ''")?;
            return Decimal::parse("0");
        }
        let (num, trailing) = numeric_prefix(&text);
        if num.is_empty() {
            self.bad(&format!("incorrect number value {text:?}"))?;
            return Decimal::parse("0");
        }
        if trailing {
            self.bad(&format!("data truncated: {text:?} is not a number"))?;
        }
        match Decimal::parse(num) {
            Ok(d) => Ok(d),
            // Only huge exponents fail here: saturate by sign.
            Err(_) => {
                let neg = num.starts_with('-');
                let exp_neg = num.contains("e-") || num.contains("E-");
                let text = if exp_neg {
                    "0".to_string()
                } else if neg {
                    format!("-1{}", "0".repeat(80))
                } else {
                    format!("1{}", "0".repeat(80))
                };
                Decimal::parse(&text)
            }
        }
    }

    fn as_integer(&mut self, value: &Datum) -> Result<Datum> {
        let col = self.col;
        let ft = &col.field_type;
        let bits = match ft.tp {
            ColumnType::TinyInt => 8,
            ColumnType::SmallInt => 16,
            ColumnType::MediumInt => 24,
            ColumnType::Int => 32,
            _ => 64,
        };
        let (min, max): (i128, i128) = if ft.unsigned {
            (0, (1i128 << bits) - 1)
        } else {
            (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
        };
        let v: i128 = match value {
            Datum::Int(v) => i128::from(*v),
            Datum::Uint(v) | Datum::Bit(v) => i128::from(*v),
            Datum::Year(v) => i128::from(*v),
            // The common case, a plain decimal integer, without going
            // through the exact-number path.
            Datum::Bytes(b) if let Some(v) = plain_integer(b) => i128::from(v),
            other => {
                let d = self.number(other)?.rescale(0);
                let digits = d.int_digits();
                if digits.len() > 30 {
                    if d.is_negative() {
                        i128::MIN
                    } else {
                        i128::MAX
                    }
                } else {
                    let v: i128 = digits.parse().unwrap_or(0);
                    if d.is_negative() { -v } else { v }
                }
            }
        };
        let clamped = v.clamp(min, max);
        if clamped != v {
            self.bad(&format!(
                "value {} out of range for {}{}",
                datum_text(value).trim(),
                ft.tp.sql_name(),
                if ft.unsigned { " UNSIGNED" } else { "" }
            ))?;
        }
        Ok(if ft.unsigned {
            Datum::Uint(u64::try_from(clamped).unwrap_or(0))
        } else {
            Datum::Int(i64::try_from(clamped).unwrap_or(0))
        })
    }

    fn as_float(&mut self, value: &Datum) -> Result<Datum> {
        let col = self.col;
        let ft = &col.field_type;
        let mut f = match value {
            Datum::Float64(f) => *f,
            Datum::Float32(f) => f64::from(*f),
            Datum::Int(v) => int_to_f64(*v),
            Datum::Uint(v) => uint_to_f64(*v),
            other => {
                let text = match other {
                    Datum::Bytes(_) => text_of(other),
                    d => Cow::Owned(self.number(d)?.to_string()),
                };
                let (num, trailing) = numeric_prefix(&text);
                if num.is_empty() {
                    self.bad(&format!("incorrect double value {text:?}"))?;
                    0.0
                } else {
                    if trailing {
                        self.bad(&format!("data truncated: {text:?} is not a number"))?;
                    }
                    num.parse::<f64>().unwrap_or(0.0)
                }
            }
        };
        if f.is_nan() {
            self.bad("NaN is not a valid value")?;
            f = 0.0;
        }
        let limit = if ft.tp == ColumnType::Float {
            f64::from(f32::MAX)
        } else {
            f64::MAX
        };
        let mut limit = limit;
        if let (Some(m), Some(d)) = (ft.flen, ft.decimal)
            && m > 0
            && m >= u32::from(d)
            && d < 31
        {
            {
                let scale = 10f64.powi(i32::from(d));
                f = (f * scale).round() / scale;
                limit =
                    limit.min(10f64.powi(i32::try_from(m).unwrap_or(308)) / scale - 1.0 / scale);
            }
        }
        if f.abs() > limit {
            self.bad(&format!(
                "value {} out of range for {}",
                datum_text(value),
                ft.tp.sql_name()
            ))?;
            f = limit.copysign(f);
        }
        if ft.unsigned && f < 0.0 {
            self.bad(&format!(
                "value {} out of range for UNSIGNED",
                datum_text(value)
            ))?;
            f = 0.0;
        }
        Ok(if ft.tp == ColumnType::Float {
            // Range checked above; rounding to nearest f32 is the point.
            #[allow(clippy::cast_possible_truncation)]
            Datum::Float32(f as f32)
        } else {
            Datum::Float64(f)
        })
    }

    fn as_decimal(&mut self, value: &Datum) -> Result<Datum> {
        let col = self.col;
        let ft = &col.field_type;
        let (p, f) = key::decimal_precision(ft);
        if f > crate::codec::decimal::MAX_SCALE || p > crate::codec::decimal::MAX_PRECISION || f > p
        {
            return Err(Error::bad_data(format!(
                "column `{}`: invalid DECIMAL({p},{f})",
                self.col.name
            )));
        }
        if let Datum::Bytes(b) = value
            && let Some(d) = plain_decimal(b, p, f)
            && !(ft.unsigned && d.is_negative())
        {
            return Ok(Datum::Decimal(d));
        }
        let mut d = self.number(value)?.rescale(usize::from(f));
        let int_room = usize::from(p - f);
        if d.int_digits().trim_start_matches('0').len() > int_room {
            self.bad(&format!("value {d} out of range for DECIMAL({p},{f})"))?;
            let mut text = String::new();
            if d.is_negative() {
                text.push('-');
            }
            text.push_str(&"9".repeat(int_room.max(1)));
            if int_room == 0 {
                text = text.replace('9', "0");
            }
            if f > 0 {
                text.push('.');
                text.push_str(&"9".repeat(usize::from(f)));
            }
            d = Decimal::parse(&text)?;
        }
        if ft.unsigned && d.is_negative() {
            self.bad(&format!("value {d} out of range for UNSIGNED"))?;
            d = Decimal::parse("0")?.rescale(usize::from(f));
        }
        Ok(Datum::Decimal(d))
    }

    fn fsp(&self) -> u8 {
        match self.ft().tp {
            ColumnType::Date => 0,
            _ => self.ft().decimal.unwrap_or(0).min(6),
        }
    }

    fn as_time(&mut self, value: &Datum) -> Result<Datum> {
        let tp = self.ft().tp;
        let fsp = self.fsp();
        let parsed = match value {
            Datum::Time(t) => Some(*t),
            Datum::Int(v) => parse_datetime(&v.to_string()),
            Datum::Uint(v) => parse_datetime(&v.to_string()),
            other => parse_datetime(text_of(other).trim()),
        };
        let Some(mut t) = parsed else {
            self.bad(&format!(
                "incorrect {} value {:?}",
                tp.sql_name(),
                datum_text(value)
            ))?;
            return Ok(Datum::Time(MysqlTime::default()));
        };
        if tp == ColumnType::Date {
            t.hour = 0;
            t.minute = 0;
            t.second = 0;
            t.microsecond = 0;
        } else if let Some(rounded) = round_time(t, fsp) {
            t = rounded;
        }
        if !self.check_date(&t)? {
            return Ok(Datum::Time(MysqlTime::default()));
        }
        if tp == ColumnType::Timestamp && !t.is_zero() {
            let secs = unix_seconds(&t);
            if !(1..=2_147_483_647).contains(&secs) {
                self.bad(&format!("incorrect TIMESTAMP value {:?}: outside 1970-01-01 00:00:01 .. 2038-01-19 03:14:07 UTC", datum_text(value)))?;
                return Ok(Datum::Time(MysqlTime::default()));
            }
        }
        Ok(Datum::Time(t))
    }

    /// Checks date parts against the SQL mode; `false` means "use the zero date".
    fn check_date(&mut self, t: &MysqlTime) -> Result<bool> {
        if t.is_zero() {
            if self.mode.contains(SqlMode::NO_ZERO_DATE) {
                self.bad("zero date is not allowed (NO_ZERO_DATE)")?;
            }
            return Ok(true);
        }
        // Formatted only for a message: this runs for every date value.
        let text = || t.format(backend_core::TimeKind::DateTime, 0);
        if t.month > 12 || t.day > 31 || t.hour > 23 || t.minute > 59 || t.second > 59 {
            self.bad(&format!("incorrect date-time value {:?}", text()))?;
            return Ok(false);
        }
        if t.month == 0 || t.day == 0 {
            if self.mode.contains(SqlMode::NO_ZERO_IN_DATE) {
                self.bad(&format!(
                    "zero month or day in {:?} (NO_ZERO_IN_DATE)",
                    text()
                ))?;
                return Ok(false);
            }
            return Ok(true);
        }
        if t.day > days_in_month(t.year, t.month)
            && !self.mode.contains(SqlMode::ALLOW_INVALID_DATES)
        {
            self.bad(&format!("incorrect date value {:?}", text()))?;
            return Ok(false);
        }
        Ok(true)
    }

    fn as_duration(&mut self, value: &Datum) -> Result<Datum> {
        let fsp = self.fsp();
        let parsed = match value {
            Datum::Duration(d) => Some(d.micros),
            Datum::Int(v) => parse_duration(&v.to_string()),
            Datum::Uint(v) => parse_duration(&v.to_string()),
            other => parse_duration(text_of(other).trim()),
        };
        let Some(mut micros) = parsed else {
            self.bad(&format!("incorrect TIME value {:?}", datum_text(value)))?;
            return Ok(Datum::Duration(MysqlDuration { micros: 0 }));
        };
        let unit = 10i64.pow(6 - u32::from(fsp));
        let rem = micros % unit;
        micros -= rem;
        if rem.abs() * 2 >= unit {
            micros += unit * rem.signum();
        }
        let max = MysqlDuration::MAX_MICROS;
        if micros.abs() > max {
            self.bad(&format!("TIME value {:?} out of range", datum_text(value)))?;
            micros = max * micros.signum();
        }
        Ok(Datum::Duration(MysqlDuration { micros }))
    }

    fn as_year(&mut self, value: &Datum) -> Result<Datum> {
        let (v, from_text_digits) = match value {
            Datum::Year(y) => return Ok(Datum::Year(*y)),
            Datum::Bytes(b) => {
                let text = String::from_utf8_lossy(b).trim().to_string();
                let d = self.number(value)?.rescale(0);
                let is_short = text.bytes().all(|c| c.is_ascii_digit()) && text.len() <= 2;
                (d.as_str().parse::<i64>().unwrap_or(i64::MAX), is_short)
            }
            other => {
                let d = self.number(other)?.rescale(0);
                (d.as_str().parse::<i64>().unwrap_or(i64::MAX), false)
            }
        };
        let year = match v {
            0 if from_text_digits => 2000,
            0 => 0,
            1..=69 => 2000 + v,
            70..=99 => 1900 + v,
            1901..=2155 => v,
            _ => {
                self.bad(&format!("YEAR value {} out of range", datum_text(value)))?;
                if v > 2155 { 2155 } else { 0 }
            }
        };
        Ok(Datum::Year(u16::try_from(year).unwrap_or(0)))
    }

    fn as_enum(&mut self, value: &Datum) -> Result<Datum> {
        let elems = &self.col.field_type.elems;
        let index = match value {
            Datum::Enum { index, .. } => Some(*index),
            Datum::Int(v) => u64::try_from(*v).ok(),
            Datum::Uint(v) => Some(*v),
            _ => {
                let text = datum_text(value);
                let text = text.trim_end_matches(' ');
                match elems
                    .iter()
                    .position(|e| e.trim_end_matches(' ').eq_ignore_ascii_case(text))
                {
                    Some(i) => Some(u64::try_from(i + 1).unwrap_or(0)),
                    None if !text.is_empty() && text.bytes().all(|c| c.is_ascii_digit()) => {
                        text.parse::<u64>().ok()
                    }
                    None => None,
                }
            }
        };
        match index.filter(|i| *i >= 1 && usize::try_from(*i).is_ok_and(|i| i <= elems.len())) {
            Some(i) => {
                let name = usize::try_from(i - 1)
                    .ok()
                    .and_then(|k| elems.get(k))
                    .cloned()
                    .unwrap_or_default();
                Ok(Datum::Enum { index: i, name })
            }
            None => {
                self.bad(&format!(
                    "{:?} is not a member of the ENUM",
                    datum_text(value)
                ))?;
                Ok(Datum::Enum {
                    index: 0,
                    name: String::new(),
                })
            }
        }
    }

    fn as_set(&mut self, value: &Datum) -> Result<Datum> {
        let elems = self.col.field_type.elems.clone();
        let n = elems.len().min(64);
        let all: u64 = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
        let bits = match value {
            Datum::Set { bits, .. } | Datum::Uint(bits) | Datum::Bit(bits) => *bits,
            Datum::Int(v) => u64::try_from(*v).unwrap_or(u64::MAX),
            other => {
                let text = datum_text(other);
                let mut bits = 0u64;
                let mut unknown = false;
                if !text.is_empty() {
                    for part in text.split(',') {
                        let part = part.trim_end_matches(' ');
                        match elems.iter().position(|e| e.eq_ignore_ascii_case(part)) {
                            Some(i) if i < 64 => bits |= 1 << i,
                            _ => unknown = true,
                        }
                    }
                }
                if unknown && let Ok(num) = text.trim().parse::<u64>() {
                    bits = num;
                    unknown = false;
                }
                if unknown {
                    self.bad(&format!("{text:?} has members not in the SET"))?;
                }
                bits
            }
        };
        let mut bits = bits;
        if bits & !all != 0 {
            self.bad(&format!("SET value {bits} has bits beyond the {n} members"))?;
            bits &= all;
        }
        let name: Vec<&str> = elems
            .iter()
            .enumerate()
            .filter(|(i, _)| *i < 64 && bits & (1u64 << i) != 0)
            .map(|(_, e)| e.as_str())
            .collect();
        Ok(Datum::Set {
            bits,
            name: name.join(","),
        })
    }

    fn as_bit(&mut self, value: &Datum) -> Result<Datum> {
        let width = self.ft().flen.unwrap_or(1).clamp(1, 64);
        let max = if width == 64 {
            u64::MAX
        } else {
            (1u64 << width) - 1
        };
        let v = match value {
            Datum::Bit(v) | Datum::Uint(v) => *v,
            Datum::Int(v) => u64::from_ne_bytes(v.to_ne_bytes()),
            // A string is a binary literal: its bytes, big-endian.
            Datum::Bytes(b) => {
                let significant = &b[b.iter().position(|&x| x != 0).unwrap_or(b.len())..];
                if significant.len() > 8 {
                    self.bad("BIT value longer than 8 bytes")?;
                    u64::MAX
                } else {
                    significant
                        .iter()
                        .fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
                }
            }
            other => {
                let d = self.number(other)?.rescale(0);
                d.as_str().parse::<u64>().unwrap_or(u64::MAX)
            }
        };
        if v > max {
            self.bad(&format!("BIT({width}) value {v} out of range"))?;
            return Ok(Datum::Bit(max));
        }
        Ok(Datum::Bit(v))
    }

    fn as_json(&mut self, value: &Datum) -> Result<Datum> {
        let text = match value {
            Datum::Json(s) => s.clone(),
            Datum::Bytes(b) => std::str::from_utf8(b)
                .map_err(|_| {
                    Error::bad_data(format!(
                        "column `{}`: JSON text is not valid UTF-8",
                        self.col.name
                    ))
                })?
                .to_string(),
            other => datum_text(other),
        };
        let parsed: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            Error::bad_data(format!(
                "column `{}`: invalid JSON text: {e}",
                self.col.name
            ))
        })?;
        Ok(Datum::Json(parsed.to_string()))
    }

    fn as_string(&mut self, value: &Datum, table_charset: &str) -> Result<Datum> {
        match value {
            Datum::Bytes(b) if let Some(fast) = plain_text(b, &self.col.field_type) => Ok(fast),
            _ => self.as_string_general(value, table_charset),
        }
    }

    fn as_string_general(&mut self, value: &Datum, table_charset: &str) -> Result<Datum> {
        let col = self.col;
        let ft = &col.field_type;
        let binary = ft.is_binary_string();
        let mut bytes = match value {
            Datum::Bytes(b) => b.clone(),
            Datum::Bit(v) => {
                let be = v.to_be_bytes();
                be[be.iter().position(|&x| x != 0).unwrap_or(7)..].to_vec()
            }
            other => datum_text(other).into_bytes(),
        };
        let charset = if binary {
            "binary"
        } else if ft.charset.is_empty() {
            table_charset
        } else {
            ft.charset.as_str()
        };
        let is = |name: &str| charset.eq_ignore_ascii_case(name);
        let utf8mb4 = charset.is_empty() || is("utf8mb4");
        let utf8mb3 = is("utf8") || is("utf8mb3");
        // Character validity.
        let valid_len = match () {
            () if utf8mb4 => match std::str::from_utf8(&bytes) {
                Ok(_) => bytes.len(),
                Err(e) => e.valid_up_to(),
            },
            () if utf8mb3 => {
                let upto = match std::str::from_utf8(&bytes) {
                    Ok(_) => bytes.len(),
                    Err(e) => e.valid_up_to(),
                };
                let s = std::str::from_utf8(&bytes[..upto]).unwrap_or("");
                s.char_indices()
                    .find(|(_, c)| c.len_utf8() == 4)
                    .map_or(upto, |(i, _)| i)
            }
            () if is("ascii") => bytes.iter().position(|b| *b >= 0x80).unwrap_or(bytes.len()),
            () => bytes.len(),
        };
        if valid_len < bytes.len() {
            self.bad(&format!(
                "invalid {charset} string (byte {} is not a valid character start)",
                valid_len
            ))?;
            bytes.truncate(valid_len);
        }
        let multibyte = utf8mb4 || utf8mb3;
        let (limit, in_chars) = length_limit(ft);
        let cut = if in_chars && multibyte {
            let s = std::str::from_utf8(&bytes).unwrap_or("");
            s.char_indices()
                .nth(usize::try_from(limit).unwrap_or(usize::MAX))
                .map(|(i, _)| i)
        } else {
            usize::try_from(limit).ok().filter(|l| *l < bytes.len())
        };
        if let Some(cut) = cut {
            let tail_spaces = bytes[cut..].iter().all(|b| *b == b' ');
            if !tail_spaces || binary {
                self.bad(&format!(
                    "data too long ({} bytes; the column holds {limit} {})",
                    bytes.len(),
                    if in_chars { "characters" } else { "bytes" }
                ))?;
            }
            if in_chars && !multibyte {
                bytes.truncate(cut);
            } else {
                // `cut` is a character boundary for multibyte text; for
                // bytes-limited text keep whole characters.
                let mut c = cut;
                if multibyte {
                    while c > 0 && std::str::from_utf8(&bytes[..c]).is_err() {
                        c -= 1;
                    }
                }
                bytes.truncate(c);
            }
        }
        if ft.tp == ColumnType::Char && !binary {
            // CHAR values are stored without trailing spaces; MySQL strips
            // them on read anyway.
            let end = bytes.iter().rposition(|b| *b != b' ').map_or(0, |p| p + 1);
            bytes.truncate(end);
        }
        if ft.tp == ColumnType::Binary {
            // BINARY(n) pads with zero bytes to its full length.
            let n = usize::try_from(ft.flen.unwrap_or(1)).unwrap_or(0);
            if bytes.len() < n {
                bytes.resize(n, 0);
            }
        }
        Ok(Datum::Bytes(bytes))
    }
}

fn int_to_f64(v: i64) -> f64 {
    // Precision loss above 2^53 is what MySQL does too.
    #[allow(clippy::cast_precision_loss)]
    let f = v as f64;
    f
}

fn uint_to_f64(v: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let f = v as f64;
    f
}

fn float_text(f: f64) -> String {
    if f.is_finite() {
        format!("{f}")
    } else {
        "0".into()
    }
}

/// Whether `year` is a leap year (proleptic Gregorian).
fn is_leap(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// Days in `month` of `year`.
pub fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Seconds since the Unix epoch of `t` read as UTC.
pub fn unix_seconds(t: &MysqlTime) -> i64 {
    days_from_civil(i64::from(t.year), i64::from(t.month), i64::from(t.day)) * 86_400
        + i64::from(t.hour) * 3600
        + i64::from(t.minute) * 60
        + i64::from(t.second)
}

/// The UTC date-time of `secs` since the Unix epoch, if within 0000–9999.
pub fn time_from_unix(secs: i64) -> Option<MysqlTime> {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    Some(MysqlTime {
        year: u16::try_from(y).ok().filter(|y| *y <= 9999)?,
        month: u8::try_from(m).ok()?,
        day: u8::try_from(d).ok()?,
        hour: u8::try_from(rem / 3600).ok()?,
        minute: u8::try_from((rem / 60) % 60).ok()?,
        second: u8::try_from(rem % 60).ok()?,
        microsecond: 0,
    })
}

/// Rounds microseconds to `fsp` digits, carrying into the seconds.
fn round_time(t: MysqlTime, fsp: u8) -> Option<MysqlTime> {
    let unit = 10u32.pow(6 - u32::from(fsp.min(6)));
    let rem = t.microsecond % unit;
    let mut micro = t.microsecond - rem;
    if rem * 2 >= unit {
        micro += unit;
    }
    if micro < 1_000_000 {
        return Some(MysqlTime {
            microsecond: micro,
            ..t
        });
    }
    if t.month == 0 || t.day == 0 {
        return Some(MysqlTime {
            microsecond: 999_999 - (999_999 % unit),
            ..t
        });
    }
    let mut next = time_from_unix(unix_seconds(&t) + 1)?;
    next.microsecond = 0;
    Some(next)
}

/// Parses MySQL date/date-time text: `YYYY-MM-DD[ HH:MM:SS[.ffffff]]` with
/// any punctuation as delimiters and `T` between date and time, or the
/// compact `YYYYMMDD[HHMMSS[.ffffff]]` / `YYMMDD[HHMMSS]` forms. Two-digit
/// years map 70–99 to 19xx and 00–69 to 20xx. Field ranges are checked by
/// the caller.
pub fn parse_datetime(s: &str) -> Option<MysqlTime> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let digit_groups = |t: &str| -> Vec<usize> {
        t.split(|c: char| !c.is_ascii_digit())
            .filter(|g| !g.is_empty())
            .map(str::len)
            .collect()
    };
    // A `.` starts the fraction only after a complete time of day; in
    // `2012.12.31` it is a date delimiter.
    let (main, frac) = match s.rfind('.') {
        Some(p) => {
            let before = digit_groups(&s[..p]);
            let after = &s[p + 1..];
            let complete = before.len() == 6 || (before.len() == 1 && matches!(before[0], 12 | 14));
            if complete && after.bytes().all(|c| c.is_ascii_digit()) {
                (&s[..p], after)
            } else {
                (s, "")
            }
        }
        None => (s, ""),
    };
    let micro = parse_fraction(frac)?;
    let groups: Vec<&str> = main
        .split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .collect();
    if groups.iter().any(|g| g.len() > 4 && groups.len() > 1) {
        return None;
    }
    let num = |g: &str| g.parse::<u32>().ok();
    let (mut year, month, day, hour, minute, second, year_digits) = if groups.len() == 1 {
        let g = groups[0];
        let d = |a: usize, b: usize| g.get(a..b).and_then(num);
        match g.len() {
            14 => (
                d(0, 4)?,
                d(4, 6)?,
                d(6, 8)?,
                d(8, 10)?,
                d(10, 12)?,
                d(12, 14)?,
                4,
            ),
            12 => (
                d(0, 2)?,
                d(2, 4)?,
                d(4, 6)?,
                d(6, 8)?,
                d(8, 10)?,
                d(10, 12)?,
                2,
            ),
            8 => (d(0, 4)?, d(4, 6)?, d(6, 8)?, 0, 0, 0, 4),
            6 => (d(0, 2)?, d(2, 4)?, d(4, 6)?, 0, 0, 0, 2),
            _ => return None,
        }
    } else if groups.len() >= 3 && groups.len() <= 6 {
        let at = |i: usize| groups.get(i).map_or(Some(0), |g| num(g));
        (
            at(0)?,
            at(1)?,
            at(2)?,
            at(3)?,
            at(4)?,
            at(5)?,
            groups[0].len(),
        )
    } else {
        return None;
    };
    if year_digits <= 2 {
        year += if year < 70 { 2000 } else { 1900 };
    }
    Some(MysqlTime {
        year: u16::try_from(year).ok().filter(|y| *y <= 9999)?,
        month: u8::try_from(month).ok()?,
        day: u8::try_from(day).ok()?,
        hour: u8::try_from(hour).ok()?,
        minute: u8::try_from(minute).ok()?,
        second: u8::try_from(second).ok()?,
        microsecond: micro,
    })
}

/// Up to six fraction digits as microseconds (more digits are rounded).
fn parse_fraction(frac: &str) -> Option<u32> {
    if frac.is_empty() {
        return Some(0);
    }
    if !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut digits: String = frac.chars().take(6).collect();
    while digits.len() < 6 {
        digits.push('0');
    }
    let mut v: u32 = digits.parse().ok()?;
    if frac.as_bytes().get(6).is_some_and(|c| *c >= b'5') {
        v = (v + 1).min(999_999);
    }
    Some(v)
}

/// Parses MySQL `TIME` text: `[-][D ]HH:MM[:SS][.ffffff]` or the compact
/// `[-]HHMMSS[.ffffff]` (right-aligned: `SS`, `MMSS`). Returns microseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, s),
    };
    let (main, frac) = match s.split_once('.') {
        Some((m, f)) => (m, f),
        None => (s, ""),
    };
    let micro = i64::from(parse_fraction(frac)?);
    let (days, clock) = match main.split_once(' ') {
        Some((d, c)) => (d.trim().parse::<i64>().ok()?, c.trim()),
        None => (0, main),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    let n = |p: &str| -> Option<i64> {
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) || p.len() > 10 {
            None
        } else {
            p.parse().ok()
        }
    };
    let (h, m, sec) = match parts.as_slice() {
        [h, m, s] => (n(h)?, n(m)?, n(s)?),
        [h, m] => (n(h)?, n(m)?, 0),
        [compact] => {
            let v = n(compact)?;
            (v / 10_000, (v / 100) % 100, v % 100)
        }
        _ => return None,
    };
    if m > 59 || sec > 59 {
        return None;
    }
    let total = ((days * 24 + h) * 3600 + m * 60 + sec)
        .checked_mul(1_000_000)?
        .checked_add(micro)?;
    Some(if neg { -total } else { total })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use backend_core::model::{IndexColumn, IndexInfo, TableInfo};
    use backend_core::{KvChecksum, KvPair};

    fn table(
        columns: Vec<ColumnInfo>,
        indices: Vec<IndexInfo>,
        pk_is_handle: bool,
    ) -> Arc<TidbTableInfo> {
        Arc::new(TidbTableInfo {
            id: 1,
            db: "test".into(),
            name: "t".into(),
            core: TableInfo {
                id: 1,
                name: "t".into(),
                charset: "utf8mb4".into(),
                collation: String::new(),
                columns,
                indices,
                pk_is_handle,
                is_common_handle: false,
                auto_increment_base: 0,
                create_sql: None,
            },
        })
    }

    fn encoder(t: Arc<TidbTableInfo>, mode: SqlMode) -> KvEncoder {
        KvEncoder::new(&EncodingConfig {
            table: t,
            sql_mode: mode,
            timestamp: 1_700_000_000,
        })
        .unwrap()
    }

    fn kv(row: EncodedRow) -> (KvPair, Vec<KvPair>) {
        match row {
            EncodedRow::Kv { record, indexes } => (record, indexes),
            EncodedRow::Sql(_) => panic!("expected KV"),
        }
    }

    proptest::proptest! {
        /// The DECIMAL fast path gives what the general path gives
        /// (parse, rescale) whenever it applies, and applies to plain text
        /// that fits.
        #[test]
        fn plain_decimal_matches_the_general_path(
            text in "-?[0-9]{0,12}(\\.[0-9]{0,6})?",
            precision in 1u8..20,
            scale in 0u8..8,
        ) {
            let scale = scale.min(precision);
            let general = Decimal::parse(&text).ok().map(|d| d.rescale(usize::from(scale)));
            match plain_decimal(text.as_bytes(), precision, scale) {
                Some(fast) => proptest::prop_assert_eq!(Some(fast), general),
                None => {
                    let frac = text.split('.').nth(1).unwrap_or("");
                    let int = text.trim_start_matches('-').split('.').next().unwrap_or("");
                    let fits = frac.len() <= usize::from(scale)
                        && int.trim_start_matches('0').len() <= usize::from(precision - scale);
                    proptest::prop_assert!(general.is_none() || !fits, "{text} fits but was not taken");
                }
            }
        }

        /// The text fast path stores what the general path stores.
        #[test]
        fn plain_text_matches_the_general_path(
            text in "[ -~]{0,12}",
            tp in proptest::sample::select(vec![
                ColumnType::Char, ColumnType::VarChar, ColumnType::TinyText,
                ColumnType::Text, ColumnType::MediumText, ColumnType::LongText,
                ColumnType::Binary, ColumnType::Blob,
            ]),
            flen in 1u32..10,
            charset in proptest::sample::select(vec!["utf8mb4", "utf8", "latin1", "ascii", "binary"]),
        ) {
            let mut col = ColumnInfo::new(1, "c", 0, FieldType::new(tp));
            col.field_type.flen = Some(flen);
            let mut warnings = 0;
            let mut cx = Cx { mode: SqlMode::STRICT_ALL_TABLES, warnings: &mut warnings, col: &col };
            let general = cx.as_string_general(&Datum::text(&text), charset).ok();
            if let Some(fast) = plain_text(text.as_bytes(), &col.field_type) {
                proptest::prop_assert_eq!(Some(fast), general);
            }
        }
    }

    /// The pipeline's in-place path appends exactly the pairs `encode`
    /// returns, with their checksums, and a row that fails leaves the
    /// batch untouched.
    #[test]
    fn encode_into_matches_encode_and_rolls_back_bad_rows() {
        let mut name = ColumnInfo::new(2, "name", 1, FieldType::new(ColumnType::VarChar));
        name.field_type.flen = Some(4);
        let columns = vec![
            ColumnInfo::new(1, "id", 0, FieldType::new(ColumnType::Int)),
            name,
        ];
        let index = |id, unique, column: &str, offset| IndexInfo {
            id,
            name: format!("i{id}"),
            columns: vec![IndexColumn {
                name: column.into(),
                offset,
                length: None,
            }],
            unique,
            primary: false,
        };
        let t = table(
            columns,
            vec![index(1, true, "name", 1), index(2, false, "id", 0)],
            false,
        );
        let rows: Vec<Vec<Datum>> = vec![
            vec![Datum::text("1"), Datum::text("ab")],
            vec![Datum::text("2"), Datum::Null],
            // Too long for VARCHAR(4) in strict mode: an error, no pairs.
            vec![Datum::text("3"), Datum::text("abcdef")],
            vec![Datum::text("4"), Datum::text("cd")],
        ];
        let perm = [Some(0), Some(1)];
        let origin = RowOrigin::default();
        let mut owned = encoder(Arc::clone(&t), SqlMode::STRICT_ALL_TABLES);
        let mut in_place = encoder(t, SqlMode::STRICT_ALL_TABLES);
        let mut out = EncodedRows::new(&Rows::Kv(KvPairs::new()));
        let (mut records, mut indexes) = (Vec::new(), Vec::new());
        let (mut data_ck, mut index_ck) = (KvChecksum::new(), KvChecksum::new());
        for (i, row) in rows.iter().enumerate() {
            let row_id = i64::try_from(i).unwrap() + 1;
            let want = owned.encode(row, row_id, &perm, &origin);
            let before = out.clone();
            let got = in_place.encode_into(row, row_id, &perm, &origin, &mut out);
            match want {
                Ok(encoded) => {
                    assert_eq!(got.unwrap(), encoded.size());
                    let (record, idx) = kv(encoded);
                    data_ck.update_one(&record.key, &record.value);
                    records.push(record);
                    for pair in idx {
                        index_ck.update_one(&pair.key, &pair.value);
                        indexes.push(pair);
                    }
                }
                Err(_) => {
                    assert!(got.is_err(), "row {i}");
                    assert_eq!(out, before, "row {i} left pairs behind");
                }
            }
        }
        assert_eq!(records.len(), 3);
        let (Rows::Kv(data), Rows::Kv(index)) = (&out.data, &out.index) else {
            panic!("KV streams expected");
        };
        assert_eq!(data.to_vec(), records);
        assert_eq!(index.to_vec(), indexes);
        assert_eq!((out.data_checksum, out.index_checksum), (data_ck, index_ck));
        // Streams of another shape still receive the row.
        let mut sql_shaped = EncodedRows::new(&Rows::Sql(Vec::new()));
        in_place
            .encode_into(&rows[0], 1, &perm, &origin, &mut sql_shaped)
            .unwrap();
        assert_eq!(sql_shaped.data.len(), 1);
        assert_eq!(sql_shaped.index.len(), 2);
    }

    #[test]
    fn lightning_tinyint_clamp_vector() {
        let t = table(
            vec![ColumnInfo::new(
                1,
                "c1",
                0,
                FieldType::new(ColumnType::TinyInt),
            )],
            vec![],
            false,
        );
        let mut enc = encoder(t, SqlMode::LIGHTNING_DEFAULT);
        let (rec, idx) = kv(enc
            .encode(
                &[Datum::text("10000000")],
                1,
                &[Some(0)],
                &RowOrigin::default(),
            )
            .unwrap());
        assert_eq!(rec.key, table::record_key(1, 1));
        assert_eq!(rec.value, [0x80, 0, 1, 0, 0, 0, 1, 1, 0, 0x7F]);
        assert!(idx.is_empty());
        assert_eq!(enc.take_warnings(), 1);
        assert_eq!(enc.take_warnings(), 0);
        let t = table(
            vec![ColumnInfo::new(
                1,
                "c1",
                0,
                FieldType::new(ColumnType::TinyInt),
            )],
            vec![],
            false,
        );
        let mut strict = encoder(t, SqlMode::STRICT_TRANS_TABLES);
        let err = strict
            .encode(
                &[Datum::text("10000000")],
                1,
                &[Some(0)],
                &RowOrigin::default(),
            )
            .unwrap_err();
        assert_eq!(err.kind(), backend_core::ErrorKind::BadData);
        assert!(err.to_string().contains("`c1`"), "{err}");
    }

    #[test]
    fn lightning_double_auto_increment_vector() {
        let mut id = ColumnInfo::new(1, "id", 0, FieldType::new(ColumnType::Double));
        id.field_type.not_null = true;
        id.auto_increment = true;
        let u_id = IndexInfo {
            id: 1,
            name: "u_id".into(),
            columns: vec![IndexColumn {
                name: "id".into(),
                offset: 0,
                length: None,
            }],
            unique: true,
            primary: false,
        };
        let mut enc = encoder(
            table(vec![id], vec![u_id], false),
            SqlMode::LIGHTNING_DEFAULT,
        );
        let (rec, idx) = kv(enc
            .encode(&[Datum::text("1")], 70, &[Some(0)], &RowOrigin::default())
            .unwrap());
        assert_eq!(
            rec.key,
            [
                0x74, 0x80, 0, 0, 0, 0, 0, 0, 1, 0x5F, 0x72, 0x80, 0, 0, 0, 0, 0, 0, 0x46
            ]
        );
        assert_eq!(
            rec.value,
            [0x80, 0, 1, 0, 0, 0, 1, 8, 0, 0xBF, 0xF0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(idx.len(), 1);
        assert_eq!(
            idx[0].key,
            [
                0x74, 0x80, 0, 0, 0, 0, 0, 0, 1, 0x5F, 0x69, 0x80, 0, 0, 0, 0, 0, 0, 1, 5, 0xBF,
                0xF0, 0, 0, 0, 0, 0, 0
            ]
        );
        assert_eq!(idx[0].value, [0, 0, 0, 0, 0, 0, 0, 0x46]);
        assert_eq!(enc.max_auto_id(), 1);
        // NULL auto-increment takes the row id.
        let (rec, _) = kv(enc
            .encode(&[Datum::Null], 71, &[Some(0)], &RowOrigin::default())
            .unwrap());
        let row = row::RowV2::parse(&rec.value).unwrap();
        let row::ColumnValue::Value(v) = row.get(1) else {
            panic!()
        };
        assert_eq!(
            row::decode_value(v, &FieldType::new(ColumnType::Double)).unwrap(),
            Datum::Float64(71.0)
        );
        assert_eq!(enc.max_auto_id(), 71);
    }

    #[test]
    fn int_handle_nulls_and_non_unique_index() {
        let mut id = ColumnInfo::new(1, "id", 0, FieldType::new(ColumnType::BigInt));
        id.field_type.not_null = true;
        let name = ColumnInfo::new(2, "name", 1, FieldType::new(ColumnType::VarChar));
        let mut with_default = ColumnInfo::new(3, "d", 2, FieldType::new(ColumnType::Int));
        with_default.default = Some(DefaultValue::Literal("7".into()));
        let pk = IndexInfo {
            id: 1,
            name: "PRIMARY".into(),
            columns: vec![IndexColumn {
                name: "id".into(),
                offset: 0,
                length: None,
            }],
            unique: true,
            primary: true,
        };
        let k = IndexInfo {
            id: 2,
            name: "k".into(),
            columns: vec![IndexColumn {
                name: "name".into(),
                offset: 1,
                length: Some(2),
            }],
            unique: true,
            primary: false,
        };
        let mut enc = encoder(
            table(vec![id, name, with_default], vec![pk, k], true),
            SqlMode::STRICT_TRANS_TABLES,
        );
        let (rec, idx) = kv(enc
            .encode(
                &[Datum::text("42"), Datum::text("abcdef")],
                1,
                &[Some(0), Some(1), None],
                &RowOrigin::default(),
            )
            .unwrap());
        assert_eq!(rec.key, table::record_key(1, 42));
        let parsed = row::RowV2::parse(&rec.value).unwrap();
        assert_eq!(
            parsed.get(1),
            row::ColumnValue::Absent,
            "handle is not in the value"
        );
        assert_eq!(parsed.get(2), row::ColumnValue::Value(b"abcdef"));
        assert_eq!(parsed.get(3), row::ColumnValue::Value(&[7]));
        assert_eq!(idx.len(), 1);
        let mut want = table::index_prefix(1, 2);
        want.push(key::BYTES_FLAG);
        crate::codec::number::encode_bytes(&mut want, b"ab");
        assert_eq!(idx[0].key, want);
        assert_eq!(enc.max_auto_id(), 42);
        // A NULL in a unique index: the handle goes into the key.
        let (rec, idx) = kv(enc
            .encode(
                &[Datum::text("43"), Datum::Null, Datum::Null],
                2,
                &[Some(0), Some(1), Some(2)],
                &RowOrigin::default(),
            )
            .unwrap());
        let parsed = row::RowV2::parse(&rec.value).unwrap();
        assert_eq!(
            parsed.get(2),
            row::ColumnValue::Absent,
            "NULL without default is left out"
        );
        assert_eq!(
            parsed.get(3),
            row::ColumnValue::Null,
            "NULL with a default is written"
        );
        assert_eq!(
            idx[0].key,
            table::index_key(1, 2, &[key::NIL_FLAG], Some(43))
        );
        assert_eq!(idx[0].value, b"0");
        // Missing primary key is an error.
        assert!(
            enc.encode(
                &[Datum::text("x")],
                3,
                &[None, Some(0), None],
                &RowOrigin::default()
            )
            .is_err()
        );
    }

    #[test]
    fn common_handles_and_stored_generated_columns_are_rejected() {
        let mut t = (*table(
            vec![ColumnInfo::new(
                1,
                "a",
                0,
                FieldType::new(ColumnType::VarChar),
            )],
            vec![],
            false,
        ))
        .clone();
        t.core.is_common_handle = true;
        let err = KvEncoder::new(&EncodingConfig {
            table: Arc::new(t),
            sql_mode: SqlMode::default(),
            timestamp: 0,
        })
        .unwrap_err();
        assert_eq!(err.kind(), backend_core::ErrorKind::Unsupported);
        assert!(err.to_string().contains("common handle"));
        let mut g = ColumnInfo::new(1, "g", 0, FieldType::new(ColumnType::Int));
        g.generated = Some(backend_core::model::GeneratedColumn {
            expr: "1".into(),
            stored: true,
        });
        let err = KvEncoder::new(&EncodingConfig {
            table: table(vec![g], vec![], false),
            sql_mode: SqlMode::default(),
            timestamp: 0,
        })
        .unwrap_err();
        assert_eq!(err.kind(), backend_core::ErrorKind::Unsupported);
    }

    fn conv(tp: FieldType, text: &str, mode: SqlMode) -> (std::result::Result<Datum, String>, u64) {
        let col = ColumnInfo::new(1, "c", 0, tp);
        let mut w = 0;
        let r = convert(&Datum::text(text), &col, "utf8mb4", mode, &mut w);
        (r.map_err(|e| e.to_string()), w)
    }

    #[test]
    fn conversions_strict_and_lax() {
        let lax = SqlMode::LIGHTNING_DEFAULT;
        let strict = SqlMode::STRICT_ALL_TABLES | SqlMode::NO_ZERO_DATE | SqlMode::NO_ZERO_IN_DATE;
        let int = FieldType::new(ColumnType::Int);
        assert_eq!(conv(int.clone(), " 1.5", strict).0.unwrap(), Datum::Int(2));
        assert_eq!(
            conv(int.clone(), "-1e3", strict).0.unwrap(),
            Datum::Int(-1000)
        );
        assert_eq!(conv(int.clone(), "12abc", lax), (Ok(Datum::Int(12)), 1));
        assert!(conv(int.clone(), "12abc", strict).0.is_err());
        assert_eq!(
            conv(int.clone(), "99999999999", lax),
            (Ok(Datum::Int(2_147_483_647)), 1)
        );
        let mut ubig = FieldType::new(ColumnType::BigInt);
        ubig.unsigned = true;
        assert_eq!(
            conv(ubig.clone(), "18446744073709551615", strict)
                .0
                .unwrap(),
            Datum::Uint(u64::MAX)
        );
        assert_eq!(conv(ubig, "-1", lax), (Ok(Datum::Uint(0)), 1));
        let mut dec = FieldType::new(ColumnType::Decimal);
        dec.flen = Some(5);
        dec.decimal = Some(2);
        assert_eq!(
            conv(dec.clone(), "-1.005", strict).0.unwrap(),
            Datum::Decimal(Decimal::parse("-1.01").unwrap())
        );
        assert_eq!(
            conv(dec.clone(), "1000", lax),
            (Ok(Datum::Decimal(Decimal::parse("999.99").unwrap())), 1)
        );
        assert!(conv(dec, "1000", strict).0.is_err());
        let date = FieldType::new(ColumnType::Date);
        assert!(conv(date.clone(), "2023-02-29", strict).0.is_err());
        assert_eq!(
            conv(date.clone(), "2023-02-29", lax),
            (Ok(Datum::Time(MysqlTime::default())), 1)
        );
        assert!(conv(date.clone(), "0000-00-00", strict).0.is_err());
        assert_eq!(conv(date.clone(), "0000-00-00", lax).1, 0);
        let mut dt = FieldType::new(ColumnType::DateTime);
        dt.decimal = Some(2);
        let (v, _) = conv(dt, "1999-12-31 23:59:59.995", strict);
        assert_eq!(
            v.unwrap(),
            Datum::Time(MysqlTime {
                year: 2000,
                month: 1,
                day: 1,
                hour: 0,
                minute: 0,
                second: 0,
                microsecond: 0
            })
        );
        let ts = FieldType::new(ColumnType::Timestamp);
        assert!(conv(ts.clone(), "2038-01-19 03:14:08", strict).0.is_err());
        assert!(conv(ts, "2038-01-19 03:14:07", strict).0.is_ok());
        let time = FieldType::new(ColumnType::Time);
        assert_eq!(
            conv(time.clone(), "-838:59:59", strict).0.unwrap(),
            Datum::Duration(MysqlDuration {
                micros: -MysqlDuration::MAX_MICROS
            })
        );
        assert_eq!(
            conv(time.clone(), "1 02:03:04", strict).0.unwrap(),
            Datum::Duration(MysqlDuration {
                micros: 93_784_000_000
            })
        );
        assert_eq!(
            conv(time, "900:00:00", lax),
            (
                Ok(Datum::Duration(MysqlDuration {
                    micros: MysqlDuration::MAX_MICROS
                })),
                1
            )
        );
        let mut vc = FieldType::new(ColumnType::VarChar);
        vc.flen = Some(3);
        assert_eq!(conv(vc.clone(), "héllo", lax), (Ok(Datum::text("hél")), 1));
        assert!(conv(vc.clone(), "héllo", strict).0.is_err());
        assert_eq!(
            conv(vc.clone(), "ab    ", strict),
            (Ok(Datum::text("ab ")), 0)
        );
        let col = ColumnInfo::new(1, "c", 0, vc);
        let mut w = 0;
        assert!(
            convert(
                &Datum::Bytes(vec![b'a', 0xFF]),
                &col,
                "utf8mb4",
                strict,
                &mut w
            )
            .is_err()
        );
        let mut e = FieldType::new(ColumnType::Enum);
        e.elems = vec!["a".into(), "B".into()];
        assert_eq!(
            conv(e.clone(), "b", strict).0.unwrap(),
            Datum::Enum {
                index: 2,
                name: "B".into()
            }
        );
        assert_eq!(
            conv(e.clone(), "1", strict).0.unwrap(),
            Datum::Enum {
                index: 1,
                name: "a".into()
            }
        );
        assert!(conv(e.clone(), "zz", strict).0.is_err());
        assert_eq!(
            conv(e, "zz", lax).0.unwrap(),
            Datum::Enum {
                index: 0,
                name: String::new()
            }
        );
        let mut set = FieldType::new(ColumnType::Set);
        set.elems = vec!["x".into(), "y".into(), "z".into()];
        assert_eq!(
            conv(set.clone(), "z,x,x", strict).0.unwrap(),
            Datum::Set {
                bits: 5,
                name: "x,z".into()
            }
        );
        assert!(conv(set, "w", strict).0.is_err());
        let mut bit = FieldType::new(ColumnType::Bit);
        bit.flen = Some(4);
        let col = ColumnInfo::new(1, "b", 0, bit);
        assert_eq!(
            convert(&Datum::Bytes(vec![0x0A]), &col, "", strict, &mut w).unwrap(),
            Datum::Bit(10)
        );
        assert!(convert(&Datum::Bytes(vec![0x1A]), &col, "", strict, &mut w).is_err());
        let year = FieldType::new(ColumnType::Year);
        assert_eq!(
            conv(year.clone(), "69", strict).0.unwrap(),
            Datum::Year(2069)
        );
        assert_eq!(
            conv(year.clone(), "0", strict).0.unwrap(),
            Datum::Year(2000)
        );
        assert!(conv(year, "1900", strict).0.is_err());
        let json = FieldType::new(ColumnType::Json);
        assert!(conv(json.clone(), "{bad", lax).0.is_err());
        assert_eq!(
            conv(json, r#"{"a": 1}"#, lax).0.unwrap(),
            Datum::Json(r#"{"a":1}"#.into())
        );
        let mut bin = FieldType::new(ColumnType::Binary);
        bin.flen = Some(3);
        assert_eq!(
            conv(bin, "a", strict).0.unwrap(),
            Datum::Bytes(vec![b'a', 0, 0])
        );
    }

    #[test]
    fn plain_integers_take_the_fast_path_only_when_exact() {
        assert_eq!(plain_integer(b"0"), Some(0));
        assert_eq!(plain_integer(b"-123"), Some(-123));
        assert_eq!(
            plain_integer(b"999999999999999999"),
            Some(999_999_999_999_999_999)
        );
        for slow in [
            &b""[..],
            b"-",
            b"+1",
            b" 1",
            b"1 ",
            b"1.0",
            b"1e3",
            b"9999999999999999999",
        ] {
            assert_eq!(plain_integer(slow), None, "{slow:?}");
        }
    }

    #[test]
    fn datetime_parsing_forms() {
        let t = |y, mo, d, h, mi, s, us| MysqlTime {
            year: y,
            month: mo,
            day: d,
            hour: h,
            minute: mi,
            second: s,
            microsecond: us,
        };
        assert_eq!(
            parse_datetime("2012-12-31 11:30:45.5"),
            Some(t(2012, 12, 31, 11, 30, 45, 500_000))
        );
        assert_eq!(
            parse_datetime("2012.12.31"),
            Some(t(2012, 12, 31, 0, 0, 0, 0))
        );
        assert_eq!(
            parse_datetime("20121231113045"),
            Some(t(2012, 12, 31, 11, 30, 45, 0))
        );
        assert_eq!(parse_datetime("991231"), Some(t(1999, 12, 31, 0, 0, 0, 0)));
        assert_eq!(
            parse_datetime("2012-12-31T11:30:45"),
            Some(t(2012, 12, 31, 11, 30, 45, 0))
        );
        assert_eq!(parse_datetime("nope"), None);
        assert_eq!(time_from_unix(0), Some(t(1970, 1, 1, 0, 0, 0, 0)));
        assert_eq!(unix_seconds(&t(2038, 1, 19, 3, 14, 7, 0)), 2_147_483_647);
    }
}
