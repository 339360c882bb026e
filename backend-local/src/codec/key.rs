//! Memcomparable datums with type flags (`codec.EncodeKey`), as index keys
//! carry them: one flag byte, then the value's memcomparable form.

use backend_core::model::{ColumnType, FieldType};
use backend_core::{Datum, Decimal, Error, Result};

use super::{decimal, number, time};

/// `NULL`.
pub const NIL_FLAG: u8 = 0;
/// Memcomparable bytes.
pub const BYTES_FLAG: u8 = 1;
/// Compact (non-comparable) bytes.
pub const COMPACT_BYTES_FLAG: u8 = 2;
/// Signed integer.
pub const INT_FLAG: u8 = 3;
/// Unsigned integer (also packed times, enums, sets, bits).
pub const UINT_FLAG: u8 = 4;
/// Float.
pub const FLOAT_FLAG: u8 = 5;
/// Decimal: precision, frac, binary.
pub const DECIMAL_FLAG: u8 = 6;
/// `TIME` as nanoseconds.
pub const DURATION_FLAG: u8 = 7;
/// Variable-length signed integer.
pub const VARINT_FLAG: u8 = 8;
/// Variable-length unsigned integer.
pub const UVARINT_FLAG: u8 = 9;
/// JSON.
pub const JSON_FLAG: u8 = 10;
/// The maximum value, above every other.
pub const MAX_FLAG: u8 = 250;

/// Precision and scale TiDB uses for a `DECIMAL` column (10, 0 when not
/// declared).
pub fn decimal_precision(ft: &FieldType) -> (u8, u8) {
    let precision = ft
        .flen
        .and_then(|f| u8::try_from(f).ok())
        .filter(|p| *p > 0)
        .unwrap_or(10);
    let frac = ft.decimal.unwrap_or(0);
    (precision, frac)
}

/// Appends `datum` (already converted to `ft`) in comparable key form.
pub fn encode_key_datum(buf: &mut Vec<u8>, datum: &Datum, ft: &FieldType) -> Result<()> {
    match datum {
        Datum::Null => buf.push(NIL_FLAG),
        Datum::Int(v) => {
            buf.push(INT_FLAG);
            number::encode_int(buf, *v);
        }
        Datum::Year(y) => {
            buf.push(INT_FLAG);
            number::encode_int(buf, i64::from(*y));
        }
        Datum::Uint(v) | Datum::Bit(v) | Datum::Set { bits: v, .. } => {
            buf.push(UINT_FLAG);
            number::encode_uint(buf, *v);
        }
        Datum::Enum { index, .. } => {
            buf.push(UINT_FLAG);
            number::encode_uint(buf, *index);
        }
        Datum::Float32(f) => {
            buf.push(FLOAT_FLAG);
            number::encode_float(buf, f64::from(*f));
        }
        Datum::Float64(f) => {
            buf.push(FLOAT_FLAG);
            number::encode_float(buf, *f);
        }
        Datum::Decimal(d) => {
            let (p, f) = decimal_precision(ft);
            buf.push(DECIMAL_FLAG);
            buf.push(p);
            buf.push(f);
            decimal::write_bin(buf, d, p, f)?;
        }
        Datum::Bytes(b) => {
            buf.push(BYTES_FLAG);
            number::encode_bytes(buf, b);
        }
        Datum::Time(t) => {
            buf.push(UINT_FLAG);
            number::encode_uint(buf, time::to_packed(t));
        }
        Datum::Duration(d) => {
            buf.push(DURATION_FLAG);
            number::encode_int(buf, time::duration_to_nanos(*d));
        }
        Datum::Json(_) => {
            return Err(Error::unsupported("JSON values cannot be index keys"));
        }
    }
    Ok(())
}

/// Decodes one flagged datum from the front of `b`, without type
/// information: integers, floats, bytes, decimals and durations come back as
/// such; times, enums, sets and bits come back as their `Uint` form.
pub fn decode_key_datum(b: &[u8]) -> Result<(Datum, usize)> {
    let (&flag, rest) = b
        .split_first()
        .ok_or_else(|| Error::bad_data("empty encoded key datum"))?;
    let (datum, used) = match flag {
        NIL_FLAG => (Datum::Null, 0),
        INT_FLAG => {
            let (v, n) = number::decode_int(rest)?;
            (Datum::Int(v), n)
        }
        UINT_FLAG => {
            let (v, n) = number::decode_uint(rest)?;
            (Datum::Uint(v), n)
        }
        FLOAT_FLAG => {
            let (v, n) = number::decode_float(rest)?;
            (Datum::Float64(v), n)
        }
        BYTES_FLAG => {
            let (v, n) = number::decode_bytes(rest)?;
            (Datum::Bytes(v), n)
        }
        DURATION_FLAG => {
            let (v, n) = number::decode_int(rest)?;
            (Datum::Duration(time::duration_from_nanos(v)), n)
        }
        DECIMAL_FLAG => {
            let (&p, after) = rest
                .split_first()
                .ok_or_else(|| Error::bad_data("truncated decimal"))?;
            let (&f, after) = after
                .split_first()
                .ok_or_else(|| Error::bad_data("truncated decimal"))?;
            let (d, n): (Decimal, usize) = decimal::read_bin(after, p, f)?;
            (Datum::Decimal(d), n + 2)
        }
        other => return Err(Error::bad_data(format!("unknown key datum flag {other}"))),
    };
    Ok((datum, used + 1))
}

/// Whether a column of this type can be part of an index key here.
pub fn is_indexable(tp: ColumnType) -> bool {
    tp != ColumnType::Json
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn flagged_datums_round_trip() {
        let ft = FieldType::new(ColumnType::Decimal);
        for d in [
            Datum::Null,
            Datum::Int(-5),
            Datum::Uint(u64::MAX),
            Datum::Float64(-1.5),
            Datum::Bytes(vec![0, 0xFF, 1]),
            Datum::Decimal(Decimal::parse("-123").unwrap()),
        ] {
            let mut b = Vec::new();
            encode_key_datum(&mut b, &d, &ft).unwrap();
            let (back, used) = decode_key_datum(&b).unwrap();
            assert_eq!(used, b.len());
            assert_eq!(back, d);
        }
        let mut b = Vec::new();
        encode_key_datum(&mut b, &Datum::Float64(1.0), &ft).unwrap();
        assert_eq!(b, [5, 0xBF, 0xF0, 0, 0, 0, 0, 0, 0]);
        assert!(encode_key_datum(&mut b, &Datum::Json("1".into()), &ft).is_err());
    }
}
