//! What every cast shares: the context [`Cx`] (SQL mode, warning count,
//! column), how a lossy value is reported, the exact-number reading of any
//! value, and values as text.

use std::borrow::Cow;

use backend_core::model::{ColumnInfo, FieldType};
use backend_core::{Datum, Decimal, Error, Result, SqlMode};

/// Reports a bad value: an error in strict mode, else one more warning.
pub(super) fn bad(mode: SqlMode, warnings: &mut u64, col: &ColumnInfo, reason: &str) -> Result<()> {
    if mode.is_strict() {
        return Err(Error::bad_data(format!("column `{}`: {reason}", col.name)));
    }
    *warnings += 1;
    Ok(())
}

/// One conversion's context: the SQL mode that decides whether a lossy
/// value is an error or a warning, the warning count, and the column.
pub(super) struct Cx<'a> {
    /// The session's SQL mode: strict or not, and which dates it allows.
    pub(super) mode: SqlMode,
    /// Counts the values clamped or truncated outside strict mode.
    pub(super) warnings: &'a mut u64,
    /// The column the value is converted for.
    pub(super) col: &'a ColumnInfo,
}

/// The longest numeric prefix of `s` (after leading whitespace): sign,
/// digits, optional fraction, optional exponent. Returns it and, when it is
/// not empty, whether anything but whitespace followed.
pub(super) fn numeric_prefix(s: &str) -> (&str, bool) {
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
pub(super) fn text_of(d: &Datum) -> Cow<'_, str> {
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

/// A typed value as text, for conversions that go through text.
pub(super) fn datum_text(d: &Datum) -> String {
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
    /// Reports a bad value for this column (see [`bad`]).
    pub(super) fn bad(&mut self, reason: &str) -> Result<()> {
        bad(self.mode, self.warnings, self.col, reason)
    }

    /// The column's type.
    pub(super) fn ft(&self) -> &FieldType {
        &self.col.field_type
    }

    /// An exact number from any value. Text that is not entirely a number
    /// is reported (see [`Cx::bad`]) and read as its numeric prefix, or 0.
    pub(super) fn number(&mut self, value: &Datum) -> Result<Decimal> {
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
}

fn float_text(f: f64) -> String {
    if f.is_finite() {
        format!("{f}")
    } else {
        "0".into()
    }
}
