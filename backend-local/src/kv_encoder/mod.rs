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
//!
//! Layout: this file is the encoder; [`convert()`] (in `convert.rs`) turns a
//! value into its column's type through the cast context of `cast.rs` and
//! one file per family of types (`cast_number.rs`, `cast_time.rs`,
//! `cast_text.rs`); `datetime.rs` parses MySQL's date and time text and
//! `calendar.rs` does the civil-date arithmetic. The encoder's tests are in
//! `tests.rs`, every other file's next to its code.

mod calendar;
mod cast;
mod cast_number;
mod cast_text;
mod cast_time;
mod convert;
mod datetime;
#[cfg(test)]
mod tests;

pub use calendar::{days_in_month, time_from_unix, unix_seconds};
pub use convert::{convert, zero_value};
pub use datetime::{parse_datetime, parse_duration};

use std::borrow::Cow;
use std::sync::Arc;

use backend_core::model::{ColumnInfo, ColumnType, DefaultValue, FieldType, TidbTableInfo};
use backend_core::{
    ColumnPermutation, Datum, EncodedRow, EncodedRows, EncodingBuilder, EncodingConfig, Error,
    KvPairs, Result, RowEncoder, RowOrigin, Rows, SqlMode,
};

use crate::codec::{key, row, table};
use cast::bad;

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
