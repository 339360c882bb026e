//! Casts to the numeric types: integers, FLOAT/DOUBLE, DECIMAL, YEAR and
//! BIT, with the fast paths for plain integer and decimal text.

use std::borrow::Cow;

use backend_core::model::ColumnType;
use backend_core::{Datum, Decimal, Error, Result};

use super::cast::{Cx, datum_text, numeric_prefix, text_of};
use crate::codec::key;

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

impl Cx<'_> {
    pub(super) fn as_integer(&mut self, value: &Datum) -> Result<Datum> {
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

    pub(super) fn as_float(&mut self, value: &Datum) -> Result<Datum> {
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

    pub(super) fn as_decimal(&mut self, value: &Datum) -> Result<Datum> {
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

    pub(super) fn as_year(&mut self, value: &Datum) -> Result<Datum> {
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

    pub(super) fn as_bit(&mut self, value: &Datum) -> Result<Datum> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
