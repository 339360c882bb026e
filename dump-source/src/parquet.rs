//! Apache Parquet data files (`{db}.{table}[.{N}].parquet`).
//!
//! # Design
//!
//! As in Lightning, a Parquet file's position is a row index, not a byte
//! offset: a file is one chunk whose end offset is its row count (from the
//! footer), and a parser resumes by skipping rows: whole row groups by their
//! footer counts, then records inside the row group. Columns are read
//! through the `parquet` crate's typed column readers in batches (no arrow,
//! no per-row allocations), and values are converted like Lightning's
//! parser: integers keep their sign (unsigned logical types become
//! unsigned), `DATE`/`TIME`/`TIMESTAMP` become text (timestamps in UTC),
//! `DECIMAL` becomes exact decimal text, booleans become 1/0, strings and
//! binary become bytes. Column names come from the schema, so rows map to
//! the table by name like a CSV header. Only flat schemas are read.
//!
//! A corrupt file is an error naming it and the row; the decoding library
//! is additionally guarded against panics on malformed input, which are
//! turned into the same kind of error.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use backend_core::{Compression, Datum};
use parquet::basic::{ConvertedType, LogicalType, TimeUnit, Type as PhysicalType};
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, DataType, DoubleType, FixedLenByteArray,
    FixedLenByteArrayType, FloatType, Int32Type, Int64Type, Int96, Int96Type,
};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::schema::types::ColumnDescriptor;

use super::SourceError;
use super::parser::{ParserOptions, Row, RowParser, set_bytes};
use super::storage::FileIn;
use super::storage::reader::Blob;

/// Records decoded per column at a time.
const BATCH_ROWS: usize = 1024;

/// How a column's values become [`Datum`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conv {
    /// `BOOLEAN` → 1/0.
    Bool,
    /// A signed integer.
    Int,
    /// An `INT32` holding an unsigned 8/16/32-bit integer.
    Uint32,
    /// An `INT64` holding an unsigned 64-bit integer.
    Uint64,
    /// Days since 1970-01-01 → `YYYY-MM-DD`.
    Date,
    /// Time of day in the unit (seconds per unit as a divisor) → `HH:MM:SS[.f]`.
    Time(Unit),
    /// Time since the epoch in UTC → `YYYY-MM-DD HH:MM:SS[.f]`.
    Timestamp(Unit),
    /// An integer with this many decimal places → exact decimal text.
    Decimal(u32),
    /// Legacy `INT96` timestamps (Impala, Spark).
    Int96,
    /// `FLOAT`.
    Float,
    /// `DOUBLE`.
    Double,
    /// Text that must be valid UTF-8 (`UTF8`, `ENUM`, `JSON`).
    Text,
    /// Raw bytes.
    Bytes,
    /// A big-endian two's-complement integer with this many decimal places.
    DecimalBytes(u32),
}

/// A time unit: ticks per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Millis,
    Micros,
    Nanos,
}

impl Unit {
    fn per_second(self) -> i64 {
        match self {
            Unit::Millis => 1_000,
            Unit::Micros => 1_000_000,
            Unit::Nanos => 1_000_000_000,
        }
    }

    fn from_parquet(unit: &TimeUnit) -> Self {
        match unit {
            TimeUnit::MILLIS => Unit::Millis,
            TimeUnit::MICROS => Unit::Micros,
            TimeUnit::NANOS => Unit::Nanos,
        }
    }
}

/// One column's reader with its decoded batch.
struct ColumnState {
    reader: TypedReader,
    /// Definition levels of the batch (empty for required columns).
    defs: Vec<i16>,
    max_def: i16,
    /// Records in the batch and the next one to hand out.
    buffered: usize,
    cursor: usize,
    /// Next value of the batch (values skip nulls).
    value: usize,
}

/// The typed column reader and its values buffer.
enum TypedReader {
    Bool(ColumnReaderImpl<BoolType>, Vec<bool>),
    Int32(ColumnReaderImpl<Int32Type>, Vec<i32>),
    Int64(ColumnReaderImpl<Int64Type>, Vec<i64>),
    Int96(ColumnReaderImpl<Int96Type>, Vec<Int96>),
    Float(ColumnReaderImpl<FloatType>, Vec<f32>),
    Double(ColumnReaderImpl<DoubleType>, Vec<f64>),
    Bytes(ColumnReaderImpl<ByteArrayType>, Vec<ByteArray>),
    Fixed(
        ColumnReaderImpl<FixedLenByteArrayType>,
        Vec<FixedLenByteArray>,
    ),
}

/// Reads `max` records of a typed column into fresh buffers.
fn read_batch<T: DataType>(
    reader: &mut ColumnReaderImpl<T>,
    values: &mut Vec<T::T>,
    defs: Option<&mut Vec<i16>>,
    max: usize,
) -> parquet::errors::Result<usize> {
    values.clear();
    let (records, _, _) = reader.read_records(max, defs, None, values)?;
    Ok(records)
}

impl TypedReader {
    fn new(reader: ColumnReader) -> Self {
        match reader {
            ColumnReader::BoolColumnReader(r) => TypedReader::Bool(r, Vec::new()),
            ColumnReader::Int32ColumnReader(r) => TypedReader::Int32(r, Vec::new()),
            ColumnReader::Int64ColumnReader(r) => TypedReader::Int64(r, Vec::new()),
            ColumnReader::Int96ColumnReader(r) => TypedReader::Int96(r, Vec::new()),
            ColumnReader::FloatColumnReader(r) => TypedReader::Float(r, Vec::new()),
            ColumnReader::DoubleColumnReader(r) => TypedReader::Double(r, Vec::new()),
            ColumnReader::ByteArrayColumnReader(r) => TypedReader::Bytes(r, Vec::new()),
            ColumnReader::FixedLenByteArrayColumnReader(r) => TypedReader::Fixed(r, Vec::new()),
        }
    }

    fn read(&mut self, defs: Option<&mut Vec<i16>>, max: usize) -> parquet::errors::Result<usize> {
        match self {
            TypedReader::Bool(r, v) => read_batch(r, v, defs, max),
            TypedReader::Int32(r, v) => read_batch(r, v, defs, max),
            TypedReader::Int64(r, v) => read_batch(r, v, defs, max),
            TypedReader::Int96(r, v) => read_batch(r, v, defs, max),
            TypedReader::Float(r, v) => read_batch(r, v, defs, max),
            TypedReader::Double(r, v) => read_batch(r, v, defs, max),
            TypedReader::Bytes(r, v) => read_batch(r, v, defs, max),
            TypedReader::Fixed(r, v) => read_batch(r, v, defs, max),
        }
    }

    fn skip(&mut self, n: usize) -> parquet::errors::Result<usize> {
        match self {
            TypedReader::Bool(r, _) => r.skip_records(n),
            TypedReader::Int32(r, _) => r.skip_records(n),
            TypedReader::Int64(r, _) => r.skip_records(n),
            TypedReader::Int96(r, _) => r.skip_records(n),
            TypedReader::Float(r, _) => r.skip_records(n),
            TypedReader::Double(r, _) => r.skip_records(n),
            TypedReader::Bytes(r, _) => r.skip_records(n),
            TypedReader::Fixed(r, _) => r.skip_records(n),
        }
    }

    fn len(&self) -> usize {
        match self {
            TypedReader::Bool(_, v) => v.len(),
            TypedReader::Int32(_, v) => v.len(),
            TypedReader::Int64(_, v) => v.len(),
            TypedReader::Int96(_, v) => v.len(),
            TypedReader::Float(_, v) => v.len(),
            TypedReader::Double(_, v) => v.len(),
            TypedReader::Bytes(_, v) => v.len(),
            TypedReader::Fixed(_, v) => v.len(),
        }
    }
}

impl ColumnState {
    /// Whether the next record is present, refilling the batch first when
    /// needed; `Ok(None)` when the column has no more records.
    fn next_present(&mut self) -> parquet::errors::Result<Option<bool>> {
        if self.cursor == self.buffered {
            self.defs.clear();
            let defs = (self.max_def > 0).then_some(&mut self.defs);
            self.buffered = self.reader.read(defs, BATCH_ROWS)?;
            self.cursor = 0;
            self.value = 0;
            if self.buffered == 0 {
                return Ok(None);
            }
            if self.max_def > 0 && self.defs.len() < self.buffered {
                return Err(parquet::errors::ParquetError::General(format!(
                    "{} records but {} definition levels",
                    self.buffered,
                    self.defs.len()
                )));
            }
        }
        let present = self.max_def == 0 || self.defs[self.cursor] == self.max_def;
        self.cursor += 1;
        Ok(Some(present))
    }

    /// Skips `n` records: the rest of the batch first, then in the reader.
    fn skip(&mut self, n: usize) -> parquet::errors::Result<usize> {
        let mut left = n;
        while left > 0 && self.cursor < self.buffered {
            if self.max_def == 0 || self.defs[self.cursor] == self.max_def {
                self.value += 1;
            }
            self.cursor += 1;
            left -= 1;
        }
        if left > 0 {
            left -= self.reader.skip(left)?;
        }
        Ok(n - left)
    }
}

/// Runs a decoding step, turning a panic in the library (malformed input
/// it does not check) into an error.
fn guarded<T>(f: impl FnOnce() -> parquet::errors::Result<T>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => Err(format!(
            "malformed data: {}",
            panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("the decoder failed")
        )),
    }
}

/// Reads the rows of one Parquet file.
pub struct ParquetParser {
    name: Arc<str>,
    reader: SerializedFileReader<Blob>,
    /// Rows in each row group, from the footer.
    group_rows: Vec<u64>,
    columns: Vec<String>,
    convs: Vec<Conv>,
    /// Fields exempt from UTF-8 validation.
    unchecked: Vec<bool>,
    /// The next row group to open.
    next_group: usize,
    /// Readers of the open row group and its rows not yet read.
    open: Vec<ColumnState>,
    group_left: u64,
    /// Index of the next row.
    pos: u64,
    row_id: i64,
    /// A decoding failure that ended the file, repeated to later calls.
    failed: Option<String>,
}

impl std::fmt::Debug for ParquetParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetParser")
            .field("name", &self.name)
            .field("columns", &self.columns)
            .field("pos", &self.pos)
            .field("row_id", &self.row_id)
            .finish_non_exhaustive()
    }
}

/// Opens the file's footer: the reader and its rows per row group.
fn open_file(
    file: FileIn<'_>,
    name: &str,
    compression: Compression,
) -> Result<(SerializedFileReader<Blob>, Vec<u64>), SourceError> {
    if compression != Compression::None {
        return Err(SourceError::Layout {
            path: name.to_string(),
            reason: format!(
                "a parquet file is compressed internally and cannot also be {compression:?}-compressed"
            ),
        });
    }
    let file = file.storage.blob(file.path, file.etag)?;
    let reader =
        guarded(|| SerializedFileReader::new(file)).map_err(|reason| SourceError::Syntax {
            file: name.to_string(),
            offset: 0,
            line: 1,
            reason: format!("not a readable parquet file: {reason}"),
        })?;
    let mut group_rows = Vec::new();
    for (i, group) in reader.metadata().row_groups().iter().enumerate() {
        let rows = u64::try_from(group.num_rows()).map_err(|_| SourceError::Syntax {
            file: name.to_string(),
            offset: 0,
            line: 1,
            reason: format!("row group {i} has {} rows", group.num_rows()),
        })?;
        group_rows.push(rows);
    }
    Ok((reader, group_rows))
}

/// The number of rows of the Parquet `file` (from its footer): the end
/// offset of its chunk.
pub fn row_count<'a>(
    file: impl Into<FileIn<'a>>,
    name: &str,
    compression: Compression,
) -> Result<u64, SourceError> {
    let (_, group_rows) = open_file(file.into(), name, compression)?;
    group_rows
        .iter()
        .try_fold(0u64, |acc, n| acc.checked_add(*n))
        .ok_or_else(|| SourceError::Syntax {
            file: name.to_string(),
            offset: 0,
            line: 1,
            reason: "row count overflows".into(),
        })
}

/// How values of column `col` convert, or why the column is unsupported.
fn conversion(col: &ColumnDescriptor) -> Result<Conv, String> {
    let logical = col.logical_type_ref();
    let converted = col.converted_type();
    let scale = || {
        u32::try_from(col.type_scale()).map_err(|_| format!("invalid scale {}", col.type_scale()))
    };
    let is_decimal =
        converted == ConvertedType::DECIMAL || matches!(logical, Some(LogicalType::Decimal { .. }));
    let conv = match col.physical_type() {
        PhysicalType::BOOLEAN => Conv::Bool,
        PhysicalType::FLOAT => Conv::Float,
        PhysicalType::DOUBLE => Conv::Double,
        PhysicalType::INT96 => Conv::Int96,
        PhysicalType::INT32 | PhysicalType::INT64 => {
            let int64 = col.physical_type() == PhysicalType::INT64;
            match (logical, converted) {
                _ if is_decimal => match scale()? {
                    0 => Conv::Int,
                    s => Conv::Decimal(s),
                },
                (Some(LogicalType::Date), _) | (_, ConvertedType::DATE) => Conv::Date,
                (Some(LogicalType::Time(t)), _) => Conv::Time(Unit::from_parquet(&t.unit)),
                (_, ConvertedType::TIME_MILLIS) => Conv::Time(Unit::Millis),
                (_, ConvertedType::TIME_MICROS) => Conv::Time(Unit::Micros),
                (Some(LogicalType::Timestamp(t)), _) => {
                    Conv::Timestamp(Unit::from_parquet(&t.unit))
                }
                (_, ConvertedType::TIMESTAMP_MILLIS) => Conv::Timestamp(Unit::Millis),
                (_, ConvertedType::TIMESTAMP_MICROS) => Conv::Timestamp(Unit::Micros),
                (Some(LogicalType::Integer(i)), _) if !i.is_signed => {
                    if int64 {
                        Conv::Uint64
                    } else {
                        Conv::Uint32
                    }
                }
                (_, ConvertedType::UINT_8 | ConvertedType::UINT_16 | ConvertedType::UINT_32) => {
                    Conv::Uint32
                }
                (_, ConvertedType::UINT_64) => Conv::Uint64,
                (
                    None | Some(LogicalType::Integer(_)),
                    ConvertedType::NONE
                    | ConvertedType::INT_8
                    | ConvertedType::INT_16
                    | ConvertedType::INT_32
                    | ConvertedType::INT_64,
                ) => Conv::Int,
                (l, c) => return Err(format!("unsupported integer type {l:?}/{c}")),
            }
        }
        PhysicalType::BYTE_ARRAY | PhysicalType::FIXED_LEN_BYTE_ARRAY => {
            if is_decimal {
                Conv::DecimalBytes(scale()?)
            } else {
                match (logical, converted) {
                    (Some(LogicalType::String | LogicalType::Enum | LogicalType::Json), _)
                    | (_, ConvertedType::UTF8 | ConvertedType::ENUM | ConvertedType::JSON) => {
                        Conv::Text
                    }
                    (Some(LogicalType::Float16), _) => {
                        return Err("unsupported type FLOAT16".into());
                    }
                    _ => Conv::Bytes,
                }
            }
        }
    };
    Ok(conv)
}

impl ParquetParser {
    /// Opens `file` (a local path, or a file of a [`Storage`], read by
    /// ranged requests: the footer, then each column chunk); errors name it
    /// `name`. Reading starts at the first row, with `row_id` the id before
    /// it (move on with [`RowParser::set_pos`]).
    ///
    /// [`Storage`]: crate::Storage
    pub fn open<'a>(
        file: impl Into<FileIn<'a>>,
        name: Arc<str>,
        compression: Compression,
        row_id: i64,
        options: &ParserOptions,
    ) -> Result<Self, SourceError> {
        let (reader, group_rows) = open_file(file.into(), &name, compression)?;
        let schema = reader.metadata().file_metadata().schema_descr_ptr();
        let mut columns = Vec::new();
        let mut convs = Vec::new();
        let mut unchecked = Vec::new();
        for (i, col) in schema.columns().iter().enumerate() {
            let layout = |reason: String| SourceError::Layout {
                path: name.to_string(),
                reason: format!("column {:?}: {reason}", col.path().string()),
            };
            if col.max_rep_level() > 0 || col.path().parts().len() > 1 {
                return Err(layout(
                    "nested and repeated columns are not supported".into(),
                ));
            }
            convs.push(conversion(col).map_err(layout)?);
            // Like Lightning, columns are matched by lower-case name.
            columns.push(col.name().to_lowercase());
            unchecked.push(!options.validates(i));
        }
        Ok(ParquetParser {
            name,
            reader,
            group_rows,
            columns,
            convs,
            unchecked,
            next_group: 0,
            open: Vec::new(),
            group_left: 0,
            pos: 0,
            row_id,
            failed: None,
        })
    }

    fn error(&self, row: u64, reason: String) -> SourceError {
        SourceError::Syntax {
            file: self.name.to_string(),
            offset: row,
            line: row.saturating_add(1),
            reason: format!("row {row}: {reason}"),
        }
    }

    /// Fails the file: later calls repeat the error.
    fn fail(&mut self, reason: String) -> SourceError {
        let err = self.error(self.pos, reason.clone());
        self.failed = Some(reason);
        err
    }

    /// Opens the next row group with rows; false at the end of the file.
    fn open_next_group(&mut self) -> Result<bool, SourceError> {
        while self.next_group < self.group_rows.len() {
            let i = self.next_group;
            self.next_group += 1;
            if self.group_rows[i] == 0 {
                continue;
            }
            let reader = &self.reader;
            let states = guarded(|| {
                let group = reader.get_row_group(i)?;
                let mut states = Vec::new();
                for c in 0..group.num_columns() {
                    let max_def = group.metadata().column(c).column_descr().max_def_level();
                    states.push(ColumnState {
                        reader: TypedReader::new(group.get_column_reader(c)?),
                        defs: Vec::new(),
                        max_def,
                        buffered: 0,
                        cursor: 0,
                        value: 0,
                    });
                }
                Ok(states)
            });
            match states {
                Ok(states) if states.len() == self.columns.len() => {
                    self.open = states;
                    self.group_left = self.group_rows[i];
                    return Ok(true);
                }
                Ok(states) => {
                    return Err(self.fail(format!(
                        "row group {i} has {} columns, the schema {}",
                        states.len(),
                        self.columns.len()
                    )));
                }
                Err(reason) => return Err(self.fail(format!("row group {i}: {reason}"))),
            }
        }
        Ok(false)
    }

    /// Converts the next value of every column into `values`.
    fn decode_row(&mut self, values: &mut Vec<Datum>) -> Result<(), SourceError> {
        values.resize(self.columns.len(), Datum::Null);
        let mut bad_text: Option<usize> = None;
        for (c, slot) in values.iter_mut().enumerate() {
            let state = &mut self.open[c];
            let present = match guarded(|| state.next_present()) {
                Ok(Some(p)) => p,
                Ok(None) => {
                    let reason = format!("column {:?} ends before its row group", self.columns[c]);
                    return Err(self.fail(reason));
                }
                Err(reason) => {
                    let reason = format!("column {:?}: {reason}", self.columns[c]);
                    return Err(self.fail(reason));
                }
            };
            if !present {
                *slot = Datum::Null;
                continue;
            }
            let v = state.value;
            if v >= state.reader.len() {
                let reason = format!("column {:?} has fewer values than rows", self.columns[c]);
                return Err(self.fail(reason));
            }
            state.value += 1;
            let conv = self.convs[c];
            match &state.reader {
                TypedReader::Bool(_, vals) => *slot = Datum::Int(i64::from(vals[v])),
                TypedReader::Int32(_, vals) => *slot = int_datum(i64::from(vals[v]), conv, false),
                TypedReader::Int64(_, vals) => *slot = int_datum(vals[v], conv, true),
                TypedReader::Int96(_, vals) => {
                    set_text(slot, &timestamp_text(vals[v].to_nanos(), Unit::Nanos));
                }
                TypedReader::Float(_, vals) => *slot = Datum::Float64(f64::from(vals[v])),
                TypedReader::Double(_, vals) => *slot = Datum::Float64(vals[v]),
                TypedReader::Bytes(_, vals) => {
                    let bytes = vals[v].data();
                    bytes_datum(slot, bytes, conv);
                    if conv == Conv::Text
                        && !self.unchecked[c]
                        && std::str::from_utf8(bytes).is_err()
                    {
                        bad_text.get_or_insert(c);
                    }
                }
                TypedReader::Fixed(_, vals) => {
                    let bytes = vals[v].data();
                    bytes_datum(slot, bytes, conv);
                    if conv == Conv::Text
                        && !self.unchecked[c]
                        && std::str::from_utf8(bytes).is_err()
                    {
                        bad_text.get_or_insert(c);
                    }
                }
            }
        }
        if let Some(c) = bad_text {
            // The row is consumed: the caller may record it and read on.
            return Err(SourceError::BadRow {
                file: self.name.to_string(),
                offset: self.pos,
                line: self.pos.saturating_add(1),
                reason: format!(
                    "row {}: column {:?} is not valid UTF-8",
                    self.pos, self.columns[c]
                ),
            });
        }
        Ok(())
    }
}

/// Sets `slot` to the text `s`.
fn set_text(slot: &mut Datum, s: &str) {
    set_bytes(slot, s.as_bytes());
}

/// An `INT32`/`INT64` value as its column's type says.
fn int_datum(v: i64, conv: Conv, int64: bool) -> Datum {
    match conv {
        Conv::Uint32 if !int64 => {
            // The bits of an INT32 as unsigned.
            let bits = i32::try_from(v).map_or(0, |x| u32::from_ne_bytes(x.to_ne_bytes()));
            Datum::Uint(u64::from(bits))
        }
        Conv::Uint32 | Conv::Uint64 => Datum::Uint(u64::from_ne_bytes(v.to_ne_bytes())),
        Conv::Date => Datum::Bytes(date_text(v).into_bytes()),
        Conv::Time(unit) => Datum::Bytes(time_text(v, unit).into_bytes()),
        Conv::Timestamp(unit) => Datum::Bytes(timestamp_text(v, unit).into_bytes()),
        Conv::Decimal(scale) => {
            Datum::Bytes(decimal_text(v < 0, &v.unsigned_abs().to_string(), scale).into_bytes())
        }
        _ => Datum::Int(v),
    }
}

/// A `BYTE_ARRAY`/`FIXED_LEN_BYTE_ARRAY` value as its column's type says.
fn bytes_datum(slot: &mut Datum, bytes: &[u8], conv: Conv) {
    match conv {
        Conv::DecimalBytes(scale) => {
            let (negative, digits) = twos_complement_digits(bytes);
            set_text(slot, &decimal_text(negative, &digits, scale));
        }
        _ => set_bytes(slot, bytes),
    }
}

/// Decimal digits of a big-endian two's-complement integer and its sign.
fn twos_complement_digits(bytes: &[u8]) -> (bool, String) {
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut mag: Vec<u8> = bytes.to_vec();
    if negative {
        // Magnitude = !x + 1.
        for b in &mut mag {
            *b = !*b;
        }
        for b in mag.iter_mut().rev() {
            let (sum, carry) = b.overflowing_add(1);
            *b = sum;
            if !carry {
                break;
            }
        }
    }
    // Repeated division by 10 of the big-endian magnitude.
    let mut digits = Vec::new();
    let mut start = mag.iter().position(|b| *b != 0).unwrap_or(mag.len());
    while start < mag.len() {
        let mut rem = 0u16;
        for b in &mut mag[start..] {
            let cur = (rem << 8) | u16::from(*b);
            *b = u8::try_from(cur / 10).unwrap_or(0);
            rem = cur % 10;
        }
        digits.push(b'0' + u8::try_from(rem).unwrap_or(0));
        while start < mag.len() && mag[start] == 0 {
            start += 1;
        }
    }
    if digits.is_empty() {
        digits.push(b'0');
    }
    digits.reverse();
    (negative, String::from_utf8(digits).unwrap_or_default())
}

/// `digits` (an unsigned integer) scaled down by `scale` decimal places.
fn decimal_text(negative: bool, digits: &str, scale: u32) -> String {
    let scale = usize::try_from(scale).unwrap_or(usize::MAX);
    let mut out = String::with_capacity(digits.len() + scale + 3);
    if negative && digits.bytes().any(|b| b != b'0') {
        out.push('-');
    }
    if scale == 0 {
        out.push_str(digits);
        return out;
    }
    if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', scale - digits.len()));
        out.push_str(digits);
    }
    out
}

/// Year, month, day of `days` since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn date_text(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `HH:MM:SS` and, when not zero, the fraction in microseconds without
/// trailing zeros (finer units are truncated, as Lightning does).
fn clock_text(secs_of_day: i64, sub: i64, unit: Unit) -> String {
    let (h, m, s) = (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
    let micros = match unit {
        Unit::Millis => sub * 1000,
        Unit::Micros => sub,
        Unit::Nanos => sub / 1000,
    };
    if micros == 0 {
        format!("{h:02}:{m:02}:{s:02}")
    } else {
        let frac = format!("{micros:06}");
        format!("{h:02}:{m:02}:{s:02}.{}", frac.trim_end_matches('0'))
    }
}

fn time_text(v: i64, unit: Unit) -> String {
    let per = unit.per_second();
    clock_text(v.div_euclid(per), v.rem_euclid(per), unit)
}

fn timestamp_text(v: i64, unit: Unit) -> String {
    let per = unit.per_second();
    let secs = v.div_euclid(per);
    let sub = v.rem_euclid(per);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    format!("{} {}", date_text(days), clock_text(of_day, sub, unit))
}

impl RowParser for ParquetParser {
    fn read_row_into(&mut self, row: &mut Row) -> Result<bool, SourceError> {
        if let Some(reason) = &self.failed {
            return Err(self.error(self.pos, reason.clone()));
        }
        if self.group_left == 0 && !self.open_next_group()? {
            return Ok(false);
        }
        let start = self.pos;
        self.pos += 1;
        self.group_left -= 1;
        self.row_id += 1;
        row.row_id = self.row_id;
        row.start_offset = start;
        row.end_offset = self.pos;
        // A bad value is reported at the row it belongs to.
        self.pos = start;
        let decoded = self.decode_row(&mut row.values);
        self.pos = start + 1;
        decoded.map(|()| true)
    }

    fn pos(&self) -> (u64, i64) {
        (self.pos, self.row_id)
    }

    fn set_pos(&mut self, offset: u64, row_id: i64) -> Result<(), SourceError> {
        if offset < self.pos {
            return Err(self.error(self.pos, format!("cannot move back to row {offset}")));
        }
        let mut left = offset - self.pos;
        // The rest of the open row group.
        if left > 0 && self.group_left > 0 {
            let n = left.min(self.group_left);
            let count = usize::try_from(n).unwrap_or(usize::MAX);
            for c in 0..self.open.len() {
                let state = &mut self.open[c];
                match guarded(|| state.skip(count)) {
                    Ok(skipped) if skipped == count => {}
                    Ok(_) => {
                        let reason =
                            format!("column {:?} ends before its row group", self.columns[c]);
                        return Err(self.fail(reason));
                    }
                    Err(reason) => return Err(self.fail(reason)),
                }
            }
            self.group_left -= n;
            self.pos += n;
            left -= n;
        }
        // Whole row groups, by their footer counts.
        while left > 0 && self.next_group < self.group_rows.len() {
            let rows = self.group_rows[self.next_group];
            if rows > left {
                break;
            }
            self.next_group += 1;
            self.pos += rows;
            left -= rows;
        }
        if left > 0 {
            if !self.open_next_group()? {
                return Err(self.error(
                    self.pos,
                    format!("row {offset} is past the end of the file"),
                ));
            }
            return self.set_pos(offset, row_id);
        }
        self.row_id = row_id;
        Ok(())
    }

    fn columns(&self) -> Option<&[String]> {
        Some(&self.columns)
    }

    fn set_columns(&mut self, _columns: Vec<String>) {
        // The schema names the columns; a chunk never carries other names
        // for a Parquet file (as in Lightning, which ignores them too).
    }

    fn line(&self) -> u64 {
        self.pos.saturating_add(1)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn decimal_bytes_are_exact() {
        assert_eq!(twos_complement_digits(&[0x00]), (false, "0".into()));
        assert_eq!(twos_complement_digits(&[0xff]), (true, "1".into()));
        assert_eq!(twos_complement_digits(&[0x80]), (true, "128".into()));
        assert_eq!(twos_complement_digits(&[0x01, 0x00]), (false, "256".into()));
        // 2^127 - 1 needs more than i64.
        let mut max = vec![0x7f];
        max.extend([0xff; 15]);
        assert_eq!(
            twos_complement_digits(&max).1,
            "170141183460469231731687303715884105727"
        );
        assert_eq!(decimal_text(true, "12345", 2), "-123.45");
        assert_eq!(decimal_text(false, "5", 3), "0.005");
        assert_eq!(decimal_text(true, "0", 2), "0.00");
        assert_eq!(decimal_text(false, "42", 0), "42");
        assert_eq!(
            int_datum(i64::MIN, Conv::Decimal(4), true),
            Datum::Bytes(b"-922337203685477.5808".to_vec())
        );
        assert_eq!(
            int_datum(-1, Conv::Uint32, false),
            Datum::Uint(u64::from(u32::MAX))
        );
    }

    #[test]
    fn times_are_utc_text() {
        assert_eq!(date_text(0), "1970-01-01");
        assert_eq!(date_text(-1), "1969-12-31");
        assert_eq!(date_text(19_723), "2024-01-01");
        assert_eq!(date_text(11_016), "2000-02-29");
        assert_eq!(timestamp_text(0, Unit::Millis), "1970-01-01 00:00:00");
        assert_eq!(timestamp_text(-1, Unit::Millis), "1969-12-31 23:59:59.999");
        assert_eq!(
            timestamp_text(1_704_067_199_123_456, Unit::Micros),
            "2023-12-31 23:59:59.123456"
        );
        assert_eq!(
            timestamp_text(1_500_000_000_100_000_789, Unit::Nanos),
            "2017-07-14 02:40:00.1"
        );
        assert_eq!(time_text(3_723_500, Unit::Millis), "01:02:03.5");
    }
}
