//! The public conversions: a value to its column's type ([`convert`]) and
//! the value a NOT NULL column takes for NULL outside strict mode
//! ([`zero_value`]). Each type family's cast is in its `cast_*` file.

use backend_core::model::{ColumnInfo, ColumnType, FieldType};
use backend_core::{Datum, Decimal, MysqlDuration, MysqlTime, Result, SqlMode};

use super::cast::Cx;
use crate::codec::key;

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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
}
