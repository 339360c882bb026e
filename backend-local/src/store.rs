//! The read path: getting data back out of a target store.
//!
//! Everything here reads the target RocksDB directly: the catalog gives the
//! table's id and columns; rows are decoded from the row format v2 values of
//! the record keys `t{id}_r…`. The CLI's `importer store tables|checksum|
//! export|get` subcommands call the [`TargetStore`] read methods
//! ([`TargetStore::tables`], [`TargetStore::checksum_table`],
//! [`TargetStore::export_table`], [`TargetStore::get_row`]) over the
//! functions here; output formats are documented in the crate README
//! ("Read path").

use std::io::Write;

use backend_core::model::{
    ColumnInfo, ColumnType, DefaultValue, TableInfo, quote_identifier, unique_table_name,
};
use backend_core::{Datum, Error, KvChecksum, Result, SqlMode, TimeKind};
use rocksdb::{DB, ReadOptions};

use crate::catalog::{Catalog, TableEntry};
use crate::codec::{key, row, table};
use crate::kv_encoder;
use crate::target_store::TargetStore;

/// One table of the store, as `importer store tables` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSummary {
    /// Database name.
    pub db: String,
    /// Table name.
    pub table: String,
    /// Table id.
    pub id: i64,
    /// Rows, counted by scanning the table's record keys.
    pub rows: u64,
    /// The next auto-increment value recorded in the catalog.
    pub auto_increment_base: i64,
}

/// Output format of [`export_table`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header line (see the README for quoting).
    Csv,
    /// `INSERT` statements.
    Sql,
}

fn scan_err(what: impl std::fmt::Display, e: rocksdb::Error) -> Error {
    Error::new(backend_core::ErrorKind::Io, format!("{what}: {e}")).with_source(e)
}

/// Calls `f` on every pair with a key in `[start, end)`, in key order.
fn scan(
    db: &DB,
    start: &[u8],
    end: &[u8],
    mut f: impl FnMut(&[u8], &[u8]) -> Result<()>,
) -> Result<()> {
    let mut opts = ReadOptions::default();
    opts.set_iterate_upper_bound(end.to_vec());
    // A one-pass scan: read ahead, and keep the blocks out of the cache.
    opts.fill_cache(false);
    opts.set_readahead_size(4 << 20);
    // The raw iterator lends each pair; the plain one copies both into
    // fresh boxes, two allocations per pair.
    let mut iter = db.raw_iterator_opt(opts);
    iter.seek(start);
    while let Some((k, v)) = iter.item() {
        f(k, v)?;
        iter.next();
    }
    iter.status()
        .map_err(|e| scan_err("scanning the target store", e))
}

fn record_range(table_id: i64) -> (Vec<u8>, Vec<u8>) {
    let start = table::record_prefix(table_id);
    let mut end = table::table_prefix(table_id);
    end.extend_from_slice(b"_s");
    (start, end)
}

/// Rows of table `table_id` (record keys counted).
pub fn count_rows(db: &DB, table_id: i64) -> Result<u64> {
    let (start, end) = record_range(table_id);
    let mut n = 0;
    scan(db, &start, &end, |_, _| {
        n += 1;
        Ok(())
    })?;
    Ok(n)
}

/// Whether table `table_id` has at least one row: a single seek.
pub fn has_rows(db: &DB, table_id: i64) -> Result<bool> {
    let (start, end) = record_range(table_id);
    let mut opts = ReadOptions::default();
    opts.set_iterate_upper_bound(end);
    let mut iter = db.raw_iterator_opt(opts);
    iter.seek(&start);
    if iter.valid() {
        return Ok(true);
    }
    iter.status()
        .map(|()| false)
        .map_err(|e| scan_err("scanning the target store", e))
}

/// Every table in the store with its row count, sorted by database and name.
pub fn list_tables(db: &DB) -> Result<Vec<TableSummary>> {
    Catalog::new(db)
        .tables(None)?
        .into_iter()
        .map(|e| {
            Ok(TableSummary {
                rows: count_rows(db, e.table.id)?,
                db: e.db,
                table: e.table.name.clone(),
                id: e.table.id,
                auto_increment_base: e.table.auto_increment_base,
            })
        })
        .collect()
}

/// The KV checksum of every record and index pair of `db_name`.`table`,
/// computed by scanning the store. Equals the import-time checksum (data
/// plus index engines) of the same rows.
pub fn checksum_table(db: &DB, db_name: &str, table_name: &str) -> Result<KvChecksum> {
    scan_table(db, db_name, table_name).map(|s| s.checksum)
}

/// What one scan of a table's keys finds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableScan {
    /// The KV checksum of every record and index pair.
    pub checksum: KvChecksum,
    /// Rows (record keys).
    pub rows: u64,
}

/// Most pieces [`scan_table`] cuts a table into: enough to keep every core
/// busy to the end, few enough that seeks stay negligible.
const MAX_SCAN_PIECES: usize = 64;

/// [`checksum_table`] plus the row count, in one pass.
///
/// The table's range is cut at each index's prefix, at the record range's
/// bounds and at the store's SST boundaries, and the pieces are scanned on
/// parallel threads (what TiKV's coprocessors do for `ADMIN CHECKSUM
/// TABLE`); the checksum is order-independent, so the pieces add up. Cutting
/// at SSTs matters: one big table's records are most of its bytes, and
/// scanned as one piece they left a single core busy for the last half
/// minute of an SF10 import.
pub fn scan_table(db: &DB, db_name: &str, table_name: &str) -> Result<TableScan> {
    let entry = Catalog::new(db).require_table(db_name, table_name)?;
    let id = entry.table.id;
    let (start, end) = table::table_range(id);
    let (records_start, records_end) = record_range(id);
    let mut cuts: Vec<Vec<u8>> = entry
        .table
        .indices
        .iter()
        .map(|idx| table::index_prefix(id, idx.id))
        .chain([records_start.clone(), records_end.clone()])
        .chain(sst_cuts(db, &start, &end))
        .filter(|cut| *cut > start && *cut < end)
        .collect();
    cuts.sort();
    cuts.dedup();
    let mut bounds = Vec::with_capacity(cuts.len() + 2);
    bounds.push(start);
    bounds.extend(cuts);
    bounds.push(end);
    let pieces: std::sync::Mutex<Vec<(&[u8], &[u8])>> = std::sync::Mutex::new(
        bounds
            .windows(2)
            .map(|w| (w[0].as_slice(), w[1].as_slice()))
            .collect(),
    );
    let threads = crate::config::cores().min(bounds.len() - 1).max(1);
    let in_records =
        |lo: &[u8], hi: &[u8]| lo >= records_start.as_slice() && hi <= records_end.as_slice();
    let work = || -> Result<TableScan> {
        let mut found = TableScan::default();
        loop {
            let next = pieces.lock().map(|mut p| p.pop()).unwrap_or(None);
            let Some((lo, hi)) = next else {
                return Ok(found);
            };
            let before = found.checksum.kvs;
            scan(db, lo, hi, |k, v| {
                found.checksum.update_one(k, v);
                Ok(())
            })?;
            if in_records(lo, hi) {
                found.rows += found.checksum.kvs - before;
            }
        }
    };
    // One piece (a small table) is scanned here, without a thread.
    let results: Vec<Result<TableScan>> = if threads == 1 {
        vec![work()]
    } else {
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads).map(|_| scope.spawn(work)).collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .unwrap_or_else(|_| Err(Error::internal("a checksum thread panicked")))
                })
                .collect()
        })
    };
    let mut total = TableScan::default();
    for found in results {
        let found = found?;
        total.checksum.add(&found.checksum);
        total.rows += found.rows;
    }
    Ok(total)
}

/// First keys of the store's SSTs inside `[start, end)`, thinned to at
/// most [`MAX_SCAN_PIECES`] evenly spaced ones.
fn sst_cuts(db: &DB, start: &[u8], end: &[u8]) -> Vec<Vec<u8>> {
    // Without file metadata the scan is merely less parallel.
    let Ok(files) = db.live_files() else {
        return Vec::new();
    };
    let mut keys: Vec<Vec<u8>> = files
        .into_iter()
        .filter_map(|f| f.start_key)
        .filter(|k| k.as_slice() > start && k.as_slice() < end)
        .collect();
    keys.sort();
    keys.dedup();
    let step = keys.len().div_ceil(MAX_SCAN_PIECES).max(1);
    keys.into_iter().step_by(step).collect()
}

/// Decodes a record value into the table's columns, in table order.
/// `handle` fills the integer primary key column, which the value omits.
pub fn decode_record(t: &TableInfo, handle: i64, value: &[u8]) -> Result<Vec<Datum>> {
    let parsed = row::RowV2::parse(value)?;
    let handle_col = t.handle_column().map(|c| c.offset);
    t.columns
        .iter()
        .map(|col| {
            if handle_col == Some(col.offset) {
                return Ok(if col.field_type.unsigned {
                    Datum::Uint(u64::from_ne_bytes(handle.to_ne_bytes()))
                } else {
                    Datum::Int(handle)
                });
            }
            match parsed.get(col.id) {
                row::ColumnValue::Value(b) => row::decode_value(b, &col.field_type)
                    .map_err(|e| e.context(format!("column `{}` of handle {handle}", col.name))),
                row::ColumnValue::Null => Ok(Datum::Null),
                row::ColumnValue::Absent => absent_value(t, col),
            }
        })
        .collect()
}

/// A column missing from a row reads as its literal default (columns added
/// after the row was written), else NULL.
fn absent_value(t: &TableInfo, col: &ColumnInfo) -> Result<Datum> {
    match &col.default {
        Some(DefaultValue::Literal(text)) => {
            let mut w = 0;
            kv_encoder::convert(
                &Datum::text(text.clone()),
                col,
                &t.charset,
                SqlMode::default(),
                &mut w,
            )
        }
        _ => Ok(Datum::Null),
    }
}

/// How a value is written: unquoted (numbers, dates), or quoted bytes.
enum Text {
    Null,
    Plain(String),
    Quoted(Vec<u8>),
}

fn text_of(d: &Datum, col: &ColumnInfo) -> Text {
    let ft = &col.field_type;
    let fsp = ft.decimal.unwrap_or(0).min(6);
    match d {
        Datum::Null => Text::Null,
        Datum::Int(v) => Text::Plain(v.to_string()),
        Datum::Uint(v) => Text::Plain(v.to_string()),
        Datum::Float32(f) => Text::Plain(float_text(format!("{f:?}"))),
        Datum::Float64(f) => Text::Plain(float_text(format!("{f:?}"))),
        Datum::Decimal(v) => Text::Plain(v.to_string()),
        Datum::Time(t) => {
            let kind = match ft.tp {
                ColumnType::Date => TimeKind::Date,
                ColumnType::Timestamp => TimeKind::Timestamp,
                _ => TimeKind::DateTime,
            };
            Text::Plain(t.format(kind, fsp))
        }
        Datum::Duration(v) => Text::Plain(v.format(fsp)),
        Datum::Year(y) => Text::Plain(format!("{y:04}")),
        Datum::Bytes(b) => Text::Quoted(b.clone()),
        Datum::Bit(v) => {
            let width = usize::try_from(ft.flen.unwrap_or(1).clamp(1, 64).div_ceil(8)).unwrap_or(8);
            Text::Quoted(v.to_be_bytes()[8 - width..].to_vec())
        }
        Datum::Enum { name, .. } | Datum::Set { name, .. } => {
            Text::Quoted(name.clone().into_bytes())
        }
        Datum::Json(s) => Text::Quoted(s.clone().into_bytes()),
    }
}

/// Shortest round-trip float text, exponent form for very large or small
/// magnitudes, without a trailing `.0` (`1.5e300`, `-3.5`, `0`).
fn float_text(debug: String) -> String {
    match debug.strip_suffix(".0") {
        Some(s) => s.to_string(),
        None => debug,
    }
}

fn csv_field(out: &mut Vec<u8>, text: &Text) {
    match text {
        Text::Null => out.extend_from_slice(b"\\N"),
        Text::Plain(s) => out.extend_from_slice(s.as_bytes()),
        Text::Quoted(b) => {
            out.push(b'"');
            for &c in b {
                match c {
                    b'"' => out.extend_from_slice(b"\"\""),
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    c => out.push(c),
                }
            }
            out.push(b'"');
        }
    }
}

/// One CSV line (with `\n`) of `values` in the format of [`export_table`].
pub fn csv_line(t: &TableInfo, values: &[Datum]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (col, v)) in t.columns.iter().zip(values).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        csv_field(&mut out, &text_of(v, col));
    }
    out.push(b'\n');
    out
}

/// The CSV header line: column names, quoted.
pub fn csv_header(t: &TableInfo) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, col) in t.columns.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        csv_field(&mut out, &Text::Quoted(col.name.clone().into_bytes()));
    }
    out.push(b'\n');
    out
}

fn sql_value(out: &mut String, d: &Datum, col: &ColumnInfo) {
    match (text_of(d, col), d) {
        (Text::Null, _) => out.push_str("NULL"),
        (Text::Plain(s), Datum::Time(_) | Datum::Duration(_)) => {
            out.push('\'');
            out.push_str(&s);
            out.push('\'');
        }
        (Text::Plain(s), _) => out.push_str(&s),
        (Text::Quoted(b), Datum::Bit(v)) => {
            let _ = b;
            out.push_str(&format!("b'{v:b}'"));
        }
        (Text::Quoted(b), _) => match std::str::from_utf8(&b) {
            Ok(s) if !col.field_type.is_binary_string() => {
                out.push('\'');
                for ch in s.chars() {
                    match ch {
                        '\'' => out.push_str("\\'"),
                        '\\' => out.push_str("\\\\"),
                        '\0' => out.push_str("\\0"),
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        '\u{1a}' => out.push_str("\\Z"),
                        c => out.push(c),
                    }
                }
                out.push('\'');
            }
            _ if b.is_empty() => out.push_str("''"),
            _ => {
                out.push_str("0x");
                for byte in b {
                    out.push_str(&format!("{byte:02X}"));
                }
            }
        },
    }
}

/// Rows per `INSERT` statement in SQL exports.
const SQL_ROWS_PER_STATEMENT: usize = 100;

/// Writes every row of `db_name`.`table_name` to `out` in handle order and
/// returns the number of rows.
///
/// CSV: a header line of quoted column names, then one line per row;
/// fields separated by `,`; `NULL` as `\N`; numbers, dates and times
/// unquoted in MySQL's format; strings, binary, ENUM/SET names, BIT (raw
/// big-endian bytes) and JSON in `"…"` with `"` doubled and `\` escaped as
/// `\\`; lines end with `\n`. SQL: `INSERT INTO `tbl` (`c`,…) VALUES …;`
/// with up to 100 rows per statement, text as escaped `'…'`, binary as
/// `0x…`, BIT as `b'…'`.
pub fn export_table(
    db: &DB,
    db_name: &str,
    table_name: &str,
    format: Format,
    out: &mut impl Write,
) -> Result<u64> {
    let entry = Catalog::new(db).require_table(db_name, table_name)?;
    let t = &entry.table;
    let name = unique_table_name(db_name, &t.name);
    let io = |e: std::io::Error| Error::io(format!("exporting {name}"), e);
    let cols: Vec<String> = t
        .columns
        .iter()
        .map(|c| quote_identifier(&c.name))
        .collect();
    let insert_head = format!(
        "INSERT INTO {} ({}) VALUES\n",
        quote_identifier(&t.name),
        cols.join(",")
    );
    if format == Format::Csv {
        out.write_all(&csv_header(t)).map_err(io)?;
    }
    let (start, end) = record_range(t.id);
    let mut rows = 0u64;
    let mut in_statement = 0usize;
    scan(db, &start, &end, |k, v| {
        let (_, handle) = table::decode_record_key(k).map_err(|e| e.context(&name))?;
        let values = decode_record(t, handle, v).map_err(|e| e.context(&name))?;
        match format {
            Format::Csv => out.write_all(&csv_line(t, &values)).map_err(io)?,
            Format::Sql => {
                let mut line = String::new();
                if in_statement == 0 {
                    line.push_str(&insert_head);
                } else {
                    line.push_str(",\n");
                }
                line.push('(');
                for (i, (col, v)) in t.columns.iter().zip(&values).enumerate() {
                    if i > 0 {
                        line.push(',');
                    }
                    sql_value(&mut line, v, col);
                }
                line.push(')');
                in_statement += 1;
                if in_statement == SQL_ROWS_PER_STATEMENT {
                    line.push_str(";\n");
                    in_statement = 0;
                }
                out.write_all(line.as_bytes()).map_err(io)?;
            }
        }
        rows += 1;
        Ok(())
    })?;
    if format == Format::Sql && in_statement > 0 {
        out.write_all(b";\n").map_err(io)?;
    }
    out.flush().map_err(io)?;
    Ok(rows)
}

/// The row of `db_name`.`table_name` whose primary key is `pk` (one text
/// value per primary-key column, in key order), in table order; `None` when
/// no row has that key. Errors: [`backend_core::ErrorKind::NotFound`] for
/// an unknown table or a table without primary key,
/// [`backend_core::ErrorKind::BadData`] for a value that does not convert
/// to its column's type or the wrong number of values.
pub fn get_row(
    db: &DB,
    db_name: &str,
    table_name: &str,
    pk: &[&str],
) -> Result<Option<Vec<Datum>>> {
    let TableEntry { table: t, .. } = Catalog::new(db).require_table(db_name, table_name)?;
    let name = unique_table_name(db_name, &t.name);
    let pk_cols = t.primary_key_columns();
    let pk_cols = if pk_cols.is_empty() {
        match t.handle_column() {
            Some(c) => vec![backend_core::model::IndexColumn {
                name: c.name.clone(),
                offset: c.offset,
                length: None,
            }],
            None => return Err(Error::not_found(format!("table {name} has no primary key"))),
        }
    } else {
        pk_cols
    };
    if pk.len() != pk_cols.len() {
        return Err(Error::bad_data(format!(
            "table {name}: the primary key has {} column(s) but {} value(s) were given",
            pk_cols.len(),
            pk.len()
        )));
    }
    let strict = SqlMode::STRICT_ALL_TABLES;
    let mut values = Vec::with_capacity(pk.len());
    for (ic, text) in pk_cols.iter().zip(pk) {
        let col = t.columns.get(ic.offset).ok_or_else(|| {
            Error::internal(format!(
                "table {name}: key column offset {} out of range",
                ic.offset
            ))
        })?;
        let mut w = 0;
        let v = kv_encoder::convert(&Datum::text(*text), col, &t.charset, strict, &mut w)
            .map_err(|e| e.context(&name))?;
        values.push((col, v, ic.length));
    }
    let handle = if t.pk_is_handle {
        match &values[0].1 {
            Datum::Int(v) => *v,
            Datum::Uint(v) => i64::from_ne_bytes(v.to_ne_bytes()),
            other => {
                return Err(Error::bad_data(format!(
                    "table {name}: {other:?} is not an integer key"
                )));
            }
        }
    } else {
        let idx =
            t.indices.iter().find(|i| i.primary).ok_or_else(|| {
                Error::not_found(format!("table {name} has no primary key index"))
            })?;
        let mut enc = Vec::new();
        for (col, v, len) in &values {
            let v = match (len, v) {
                (Some(l), Datum::Bytes(b)) => {
                    let binary = col.field_type.is_binary_string();
                    let n = usize::try_from(*l).unwrap_or(usize::MAX);
                    let cut = if binary {
                        b.len().min(n)
                    } else {
                        std::str::from_utf8(b)
                            .ok()
                            .and_then(|s| s.char_indices().nth(n).map(|(i, _)| i))
                            .unwrap_or(b.len())
                    };
                    Datum::Bytes(b[..cut].to_vec())
                }
                _ => v.clone(),
            };
            key::encode_key_datum(&mut enc, &v, &col.field_type)?;
        }
        let k = table::index_key(t.id, idx.id, &enc, None);
        match db
            .get(&k)
            .map_err(|e| scan_err(format!("reading {name}"), e))?
        {
            Some(v) => table::decode_unique_index_value(&v).map_err(|e| e.context(&name))?,
            None => return Ok(None),
        }
    };
    match db
        .get(table::record_key(t.id, handle))
        .map_err(|e| scan_err(format!("reading {name}"), e))?
    {
        Some(v) => Ok(Some(
            decode_record(&t, handle, &v).map_err(|e| e.context(&name))?,
        )),
        None => Ok(None),
    }
}

/// The store's read API: what `importer store …` runs and what programs that
/// read an imported store call. Each method reads a consistent view of one
/// table (or of the catalog) and does not block imports into other tables.
impl TargetStore {
    /// Every table with its row count, sorted by database and name.
    pub fn tables(&self) -> Result<Vec<TableSummary>> {
        list_tables(self.db())
    }

    /// Every view, sorted by database and name.
    pub fn views(&self) -> Result<Vec<crate::catalog::ViewEntry>> {
        Catalog::new(self.db()).views()
    }

    /// The catalog entry of `db_name`.`table_name`. Errors:
    /// [`backend_core::ErrorKind::NotFound`] when there is no such table.
    pub fn table(&self, db_name: &str, table_name: &str) -> Result<TableEntry> {
        Catalog::new(self.db()).require_table(db_name, table_name)
    }

    /// See [`checksum_table`].
    pub fn checksum_table(&self, db_name: &str, table_name: &str) -> Result<KvChecksum> {
        checksum_table(self.db(), db_name, table_name)
    }

    /// See [`export_table`].
    pub fn export_table(
        &self,
        db_name: &str,
        table_name: &str,
        format: Format,
        out: &mut impl Write,
    ) -> Result<u64> {
        export_table(self.db(), db_name, table_name, format, out)
    }

    /// See [`get_row`].
    pub fn get_row(
        &self,
        db_name: &str,
        table_name: &str,
        pk: &[&str],
    ) -> Result<Option<Vec<Datum>>> {
        get_row(self.db(), db_name, table_name, pk)
    }
}
