//! TiDB's row format v2 (`pkg/util/rowcodec`): the value of a record key.
//!
//! Layout: version byte `0x80`, flags (bit 0 = large), the number of
//! non-NULL and NULL columns (u16 little-endian each), the non-NULL column
//! ids then the NULL column ids (ascending; u8 each, or u32 when large),
//! one end offset per non-NULL column into the data (u16, or u32 when
//! large), then the data. A row is "large" when a column id exceeds 255 or
//! the data exceeds 65535 bytes. Columns absent from a row read as their
//! default (NULL for rows this importer writes).

use backend_core::model::{ColumnType, FieldType};
use backend_core::{Datum, Decimal, Error, Result};

use super::{decimal, json, key::decimal_precision, number, time};

/// The version byte of row format v2.
pub const CODEC_VER: u8 = 0x80;
/// Flag bit: ids are u32 and offsets u32.
pub const FLAG_LARGE: u8 = 1;

/// Appends a non-NULL datum, already converted to `ft`, in row v2 value form.
pub fn encode_value(buf: &mut Vec<u8>, datum: &Datum, ft: &FieldType) -> Result<()> {
    match datum {
        Datum::Null => return Err(Error::internal("NULL passed to row value encoding")),
        Datum::Int(v) => number::encode_compact_int(buf, *v),
        Datum::Year(y) => number::encode_compact_int(buf, i64::from(*y)),
        Datum::Uint(v) | Datum::Bit(v) | Datum::Set { bits: v, .. } => {
            number::encode_compact_uint(buf, *v);
        }
        Datum::Enum { index, .. } => number::encode_compact_uint(buf, *index),
        Datum::Float32(f) => number::encode_float(buf, f64::from(*f)),
        Datum::Float64(f) => number::encode_float(buf, *f),
        Datum::Decimal(d) => {
            let (p, f) = decimal_precision(ft);
            buf.push(p);
            buf.push(f);
            decimal::write_bin(buf, d, p, f)?;
        }
        Datum::Bytes(b) => buf.extend_from_slice(b),
        Datum::Time(t) => number::encode_compact_uint(buf, time::to_packed(t)),
        Datum::Duration(d) => number::encode_compact_int(buf, time::duration_to_nanos(*d)),
        Datum::Json(text) => {
            let (code, payload) = json::parse_text(text)?;
            buf.push(code);
            buf.extend_from_slice(&payload);
        }
    }
    Ok(())
}

/// Decodes a row v2 column value of type `ft`.
pub fn decode_value(b: &[u8], ft: &FieldType) -> Result<Datum> {
    Ok(match ft.tp {
        ColumnType::TinyInt
        | ColumnType::SmallInt
        | ColumnType::MediumInt
        | ColumnType::Int
        | ColumnType::BigInt => {
            if ft.unsigned {
                Datum::Uint(number::decode_compact_uint(b)?)
            } else {
                Datum::Int(number::decode_compact_int(b)?)
            }
        }
        ColumnType::Year => {
            let v = number::decode_compact_int(b)?;
            Datum::Year(u16::try_from(v).map_err(|_| Error::bad_data(format!("corrupt YEAR {v}")))?)
        }
        ColumnType::Float => {
            let (f, _) = number::decode_float(b)?;
            // The value was a FLOAT widened to double; narrowing is exact.
            #[allow(clippy::cast_possible_truncation)]
            Datum::Float32(f as f32)
        }
        ColumnType::Double => Datum::Float64(number::decode_float(b)?.0),
        ColumnType::Decimal => {
            let (p, f) = match b {
                [p, f, ..] => (*p, *f),
                _ => return Err(Error::bad_data("truncated decimal value")),
            };
            let (d, _): (Decimal, usize) = decimal::read_bin(&b[2..], p, f)?;
            Datum::Decimal(d)
        }
        ColumnType::Date | ColumnType::DateTime | ColumnType::Timestamp => {
            Datum::Time(time::from_packed(number::decode_compact_uint(b)?)?)
        }
        ColumnType::Time => {
            Datum::Duration(time::duration_from_nanos(number::decode_compact_int(b)?))
        }
        ColumnType::Bit => Datum::Bit(number::decode_compact_uint(b)?),
        ColumnType::Enum => {
            let index = number::decode_compact_uint(b)?;
            let name = match usize::try_from(index).ok().and_then(|i| i.checked_sub(1)) {
                Some(i) => ft.elems.get(i).cloned().ok_or_else(|| {
                    Error::bad_data(format!("ENUM index {index} beyond the column's members"))
                })?,
                None => String::new(),
            };
            Datum::Enum { index, name }
        }
        ColumnType::Set => {
            let bits = number::decode_compact_uint(b)?;
            let names: Vec<&str> = ft
                .elems
                .iter()
                .enumerate()
                .filter(|(i, _)| *i < 64 && bits & (1u64 << i) != 0)
                .map(|(_, n)| n.as_str())
                .collect();
            Datum::Set {
                bits,
                name: names.join(","),
            }
        }
        ColumnType::Json => {
            let (code, payload) = b
                .split_first()
                .ok_or_else(|| Error::bad_data("empty JSON value"))?;
            Datum::Json(json::to_text(*code, payload)?)
        }
        _ => Datum::Bytes(b.to_vec()),
    })
}

/// Encodes a row from `(column id, value)` pairs; `None` values are NULL.
/// Each value is already in row v2 value form ([`encode_value`]).
pub fn encode_row(columns: &[(i64, Option<Vec<u8>>)]) -> Result<Vec<u8>> {
    let mut builder = RowBuilder::default();
    for (id, value) in columns {
        match value {
            Some(v) => builder.push_encoded(*id, v)?,
            None => builder.push_null(*id)?,
        }
    }
    builder.finish()
}

/// Builds row v2 values column by column into buffers that are reused
/// from row to row (the encoder's hot path: no allocation per column).
#[derive(Debug, Default)]
pub struct RowBuilder {
    /// Not-null values' encodings, back to back.
    data: Vec<u8>,
    /// Not-null columns: id and end of the value in `data`.
    not_null: Vec<(u32, usize)>,
    null: Vec<u32>,
    /// Value order when ids were not pushed ascending.
    order: Vec<(u32, usize, usize)>,
}

impl RowBuilder {
    fn column_id(id: i64) -> Result<u32> {
        u32::try_from(id)
            .map_err(|_| Error::bad_data(format!("column id {id} out of range for row format v2")))
    }

    /// Adds a NULL column.
    pub fn push_null(&mut self, id: i64) -> Result<()> {
        self.null.push(Self::column_id(id)?);
        Ok(())
    }

    /// Adds a column's value, encoded as [`encode_value`] does.
    pub fn push_value(&mut self, id: i64, datum: &Datum, ft: &FieldType) -> Result<()> {
        let id = Self::column_id(id)?;
        let start = self.data.len();
        if let Err(err) = encode_value(&mut self.data, datum, ft) {
            self.data.truncate(start);
            return Err(err);
        }
        self.not_null.push((id, self.data.len()));
        Ok(())
    }

    /// Adds a column's already encoded value.
    pub fn push_encoded(&mut self, id: i64, value: &[u8]) -> Result<()> {
        let id = Self::column_id(id)?;
        self.data.extend_from_slice(value);
        self.not_null.push((id, self.data.len()));
        Ok(())
    }

    /// The row value of the columns pushed since the last call; the
    /// builder is empty again afterwards, also after an error.
    pub fn finish(&mut self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.finish_into(&mut out)?;
        Ok(out)
    }

    /// [`RowBuilder::finish`], appending the value to `out`; on error
    /// `out` is left as it was.
    pub fn finish_into(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        let built = self.build(out);
        if built.is_err() {
            out.truncate(start);
        }
        self.data.clear();
        self.not_null.clear();
        self.null.clear();
        built
    }

    fn build(&mut self, out: &mut Vec<u8>) -> Result<()> {
        // Values sorted by column id: (id, start, end) in `data`.
        self.order.clear();
        let mut start = 0;
        for &(id, end) in &self.not_null {
            self.order.push((id, start, end));
            start = end;
        }
        if !self.order.is_sorted_by_key(|(id, _, _)| *id) {
            self.order.sort_unstable_by_key(|(id, _, _)| *id);
        }
        self.null.sort_unstable();
        let data_len = self.data.len();
        let max_id = self
            .order
            .iter()
            .map(|(id, _, _)| *id)
            .chain(self.null.iter().copied())
            .max()
            .unwrap_or(0);
        let large = max_id > 255 || data_len > usize::from(u16::MAX);
        let too_many = |_| Error::bad_data("too many columns for row format v2");
        let n_not_null = u16::try_from(self.order.len()).map_err(too_many)?;
        let n_null = u16::try_from(self.null.len()).map_err(too_many)?;
        let width = if large { 4 } else { 1 };
        let off_width = if large { 4 } else { 2 };
        out.reserve(
            6 + (self.order.len() + self.null.len()) * width
                + self.order.len() * off_width
                + data_len,
        );
        out.push(CODEC_VER);
        out.push(if large { FLAG_LARGE } else { 0 });
        out.extend_from_slice(&n_not_null.to_le_bytes());
        out.extend_from_slice(&n_null.to_le_bytes());
        for id in self
            .order
            .iter()
            .map(|(id, _, _)| *id)
            .chain(self.null.iter().copied())
        {
            if large {
                out.extend_from_slice(&id.to_le_bytes());
            } else {
                // `large` is false, so every id is ≤ 255.
                out.push(u8::try_from(id).unwrap_or(u8::MAX));
            }
        }
        let mut end = 0usize;
        for (_, start, stop) in &self.order {
            end += stop - start;
            if large {
                let e = u32::try_from(end)
                    .map_err(|_| Error::bad_data("row value larger than 4 GiB"))?;
                out.extend_from_slice(&e.to_le_bytes());
            } else {
                out.extend_from_slice(&u16::try_from(end).unwrap_or(u16::MAX).to_le_bytes());
            }
        }
        for (_, start, stop) in &self.order {
            out.extend_from_slice(&self.data[*start..*stop]);
        }
        Ok(())
    }
}

/// A decoded row v2 header with borrowed column data.
#[derive(Debug)]
pub struct RowV2<'a> {
    not_null_ids: Vec<u32>,
    null_ids: Vec<u32>,
    ends: Vec<usize>,
    data: &'a [u8],
}

/// What a row holds for one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnValue<'a> {
    /// The column is not in the row (it takes its default).
    Absent,
    /// The column is NULL.
    Null,
    /// The column's encoded value.
    Value(&'a [u8]),
}

fn corrupt(what: &str) -> Error {
    Error::bad_data(format!("corrupt row value: {what}"))
}

impl<'a> RowV2<'a> {
    /// Parses the header of a row v2 value.
    pub fn parse(b: &'a [u8]) -> Result<Self> {
        if b.len() < 6 {
            return Err(corrupt("shorter than the header"));
        }
        if b[0] != CODEC_VER {
            return Err(corrupt(&format!(
                "version byte {:#x} is not row format v2",
                b[0]
            )));
        }
        let large = b[1] & FLAG_LARGE != 0;
        let n_not_null = usize::from(u16::from_le_bytes([b[2], b[3]]));
        let n_null = usize::from(u16::from_le_bytes([b[4], b[5]]));
        let width = if large { 4 } else { 1 };
        let off_width = if large { 4 } else { 2 };
        let mut pos = 6;
        let read_ids = |n: usize, pos: &mut usize| -> Result<Vec<u32>> {
            let bytes = b
                .get(*pos..*pos + n * width)
                .ok_or_else(|| corrupt("column ids truncated"))?;
            *pos += n * width;
            Ok(if large {
                bytes
                    .chunks_exact(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            } else {
                bytes.iter().map(|&x| u32::from(x)).collect()
            })
        };
        let not_null_ids = read_ids(n_not_null, &mut pos)?;
        let null_ids = read_ids(n_null, &mut pos)?;
        let offs = b
            .get(pos..pos + n_not_null * off_width)
            .ok_or_else(|| corrupt("offsets truncated"))?;
        pos += n_not_null * off_width;
        let ends: Vec<usize> = if large {
            offs.chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .map(|e| usize::try_from(e).unwrap_or(usize::MAX))
                .collect()
        } else {
            offs.chunks_exact(2)
                .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])))
                .collect()
        };
        let data = &b[pos..];
        let mut prev = 0;
        for &e in &ends {
            if e < prev || e > data.len() {
                return Err(corrupt("column offsets out of order or beyond the data"));
            }
            prev = e;
        }
        Ok(RowV2 {
            not_null_ids,
            null_ids,
            ends,
            data,
        })
    }

    /// The value of column `id`.
    pub fn get(&self, id: i64) -> ColumnValue<'a> {
        let Ok(id) = u32::try_from(id) else {
            return ColumnValue::Absent;
        };
        if let Ok(i) = self.not_null_ids.binary_search(&id) {
            let start = if i == 0 { 0 } else { self.ends[i - 1] };
            return ColumnValue::Value(&self.data[start..self.ends[i]]);
        }
        if self.null_ids.binary_search(&id).is_ok() {
            return ColumnValue::Null;
        }
        ColumnValue::Absent
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use backend_core::MysqlTime;

    fn val(d: &Datum, ft: &FieldType) -> Vec<u8> {
        let mut b = Vec::new();
        encode_value(&mut b, d, ft).unwrap();
        b
    }

    #[test]
    fn lightning_vectors() {
        // Lightning `TestEncode`: c1 TINYINT = 127 (clamped), column id 1.
        let ft = FieldType::new(ColumnType::TinyInt);
        let row = encode_row(&[(1, Some(val(&Datum::Int(127), &ft)))]).unwrap();
        assert_eq!(row, [0x80, 0, 1, 0, 0, 0, 1, 1, 0, 0x7F]);
        // Lightning `TestEncodeDoubleAutoIncrement`: id DOUBLE = 1.0.
        let ft = FieldType::new(ColumnType::Double);
        let row = encode_row(&[(1, Some(val(&Datum::Float64(1.0), &ft)))]).unwrap();
        assert_eq!(
            row,
            [0x80, 0, 1, 0, 0, 0, 1, 8, 0, 0xBF, 0xF0, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn rowcodec_layout_with_nulls() {
        // Ids sorted, NULL ids after non-NULL ids, offsets are end offsets.
        let ft = FieldType::new(ColumnType::BigInt);
        let row = encode_row(&[
            (3, Some(val(&Datum::Int(1000), &ft))),
            (2, None),
            (1, Some(b"ab".to_vec())),
        ])
        .unwrap();
        assert_eq!(
            row,
            [
                0x80, 0, 2, 0, 1, 0, 1, 3, 2, 2, 0, 4, 0, b'a', b'b', 0xE8, 0x03
            ]
        );
        let parsed = RowV2::parse(&row).unwrap();
        assert_eq!(parsed.get(1), ColumnValue::Value(b"ab"));
        assert_eq!(parsed.get(2), ColumnValue::Null);
        assert_eq!(parsed.get(4), ColumnValue::Absent);
        assert_eq!(encode_row(&[]).unwrap(), [0x80, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn builder_is_reusable_and_matches_encode_row() {
        let ft = FieldType::new(ColumnType::BigInt);
        let mut builder = RowBuilder::default();
        for _ in 0..2 {
            builder.push_value(3, &Datum::Int(1000), &ft).unwrap();
            builder.push_null(2).unwrap();
            builder.push_encoded(1, b"ab").unwrap();
            let row = builder.finish().unwrap();
            let expected = encode_row(&[
                (3, Some(val(&Datum::Int(1000), &ft))),
                (2, None),
                (1, Some(b"ab".to_vec())),
            ])
            .unwrap();
            assert_eq!(row, expected);
        }
        // A failed row leaves nothing behind for the next one.
        builder.push_encoded(1, b"x").unwrap();
        assert!(builder.push_null(-1).is_err());
        for id in 0..70_000 {
            builder.push_null(id).unwrap();
        }
        assert!(builder.finish().is_err());
        assert_eq!(builder.finish().unwrap(), [0x80, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn large_rows() {
        let big = vec![7u8; 70_000];
        let row = encode_row(&[(1, Some(big.clone())), (300, None)]).unwrap();
        assert_eq!(row[1], FLAG_LARGE);
        let parsed = RowV2::parse(&row).unwrap();
        assert_eq!(parsed.get(1), ColumnValue::Value(&big[..]));
        assert_eq!(parsed.get(300), ColumnValue::Null);
        let row = encode_row(&[(256, Some(vec![1]))]).unwrap();
        assert_eq!(row, [0x80, 1, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1]);
    }

    #[test]
    fn corrupt_rows_are_errors() {
        assert!(RowV2::parse(&[0x80, 0, 1]).is_err());
        assert!(RowV2::parse(&[0x7F, 0, 0, 0, 0, 0]).is_err());
        assert!(RowV2::parse(&[0x80, 0, 1, 0, 0, 0, 1, 9, 0, 1]).is_err());
    }

    #[test]
    fn values_round_trip_per_type() {
        let mut enum_ft = FieldType::new(ColumnType::Enum);
        enum_ft.elems = vec!["a".into(), "b".into()];
        let mut set_ft = FieldType::new(ColumnType::Set);
        set_ft.elems = vec!["x".into(), "y".into(), "z".into()];
        let mut dec_ft = FieldType::new(ColumnType::Decimal);
        dec_ft.flen = Some(12);
        dec_ft.decimal = Some(3);
        let mut unsigned = FieldType::new(ColumnType::BigInt);
        unsigned.unsigned = true;
        let t = MysqlTime {
            year: 9999,
            month: 12,
            day: 31,
            hour: 23,
            minute: 59,
            second: 59,
            microsecond: 999_999,
        };
        let cases = [
            (FieldType::new(ColumnType::BigInt), Datum::Int(i64::MIN)),
            (unsigned, Datum::Uint(u64::MAX)),
            (FieldType::new(ColumnType::Float), Datum::Float32(-3.5)),
            (FieldType::new(ColumnType::Double), Datum::Float64(f64::MAX)),
            (
                dec_ft,
                Datum::Decimal(Decimal::parse("-123456789.125").unwrap()),
            ),
            (FieldType::new(ColumnType::DateTime), Datum::Time(t)),
            (
                FieldType::new(ColumnType::Date),
                Datum::Time(MysqlTime::default()),
            ),
            (
                FieldType::new(ColumnType::Time),
                Datum::Duration(backend_core::MysqlDuration {
                    micros: -3_020_399_000_000,
                }),
            ),
            (FieldType::new(ColumnType::Year), Datum::Year(2155)),
            (
                FieldType::new(ColumnType::VarBinary),
                Datum::Bytes(vec![0, 0xFF, 0]),
            ),
            (FieldType::new(ColumnType::Bit), Datum::Bit(u64::MAX)),
            (
                enum_ft,
                Datum::Enum {
                    index: 2,
                    name: "b".into(),
                },
            ),
            (
                set_ft,
                Datum::Set {
                    bits: 5,
                    name: "x,z".into(),
                },
            ),
            (
                FieldType::new(ColumnType::Json),
                Datum::Json(r#"{"a": [1, "x"]}"#.into()),
            ),
        ];
        for (ft, d) in cases {
            let b = val(&d, &ft);
            assert_eq!(decode_value(&b, &ft).unwrap(), d, "{ft:?}");
        }
    }
}
