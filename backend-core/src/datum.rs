//! Values: what parsers produce and encoders consume.
//!
//! A parser emits raw values (`Bytes` for text fields, numbers when the
//! source format is typed, `Null`); an encoder converts each to its column's
//! type under the session's SQL mode, producing the typed variants. Exact
//! types stay exact: decimals keep their digits as text, big unsigned
//! integers have their own variant, times keep MySQL's zero dates.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A MySQL value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Datum {
    /// SQL `NULL`.
    Null,
    /// A signed integer.
    Int(i64),
    /// An unsigned integer (`BIGINT UNSIGNED` up to 2⁶⁴−1).
    Uint(u64),
    /// A `FLOAT`.
    Float32(f32),
    /// A `DOUBLE`.
    Float64(f64),
    /// An exact `DECIMAL`.
    Decimal(Decimal),
    /// A string: text in the column's charset or raw binary bytes. Parsers
    /// emit every textual field as `Bytes`.
    Bytes(Vec<u8>),
    /// A `DATE`, `DATETIME` or `TIMESTAMP`.
    Time(MysqlTime),
    /// A `TIME` (a duration, possibly negative, up to ±838:59:59).
    Duration(MysqlDuration),
    /// A `YEAR` (0 or 1901–2155).
    Year(u16),
    /// A `BIT(n)` value.
    Bit(u64),
    /// An `ENUM` member: its 1-based index (0 is the empty error value) and
    /// name.
    Enum {
        /// 1-based index of the member.
        index: u64,
        /// The member's name.
        name: String,
    },
    /// A `SET` value: the member bitmap and the comma-separated names.
    Set {
        /// Bit `i` set means member `i` is in the set.
        bits: u64,
        /// The members' names, comma separated, in declaration order.
        name: String,
    },
    /// A `JSON` document, as compact JSON text.
    Json(String),
}

impl Datum {
    /// Whether this is SQL `NULL`.
    pub fn is_null(&self) -> bool {
        matches!(self, Datum::Null)
    }

    /// A `Bytes` datum from text.
    pub fn text(s: impl Into<String>) -> Self {
        Datum::Bytes(s.into().into_bytes())
    }
}

/// An exact decimal number kept as normalised text.
///
/// The text has an optional `-`, at least one integer digit without leading
/// zeros (`0` alone for zero), and, when the scale is positive, a `.` and
/// exactly `scale` fraction digits. Negative zero is normalised to zero.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Decimal {
    text: String,
}

impl Decimal {
    /// Parses a decimal literal (`-12.50`, `+3`, `.5`, `1e3`, `1.5E-2`),
    /// keeping every fraction digit given. Exponents are applied exactly.
    pub fn parse(input: &str) -> Result<Self> {
        let bad = || Error::bad_data(format!("invalid decimal value {input:?}"));
        let s = input.trim();
        let (negative, rest) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(pos) => {
                let exp: i64 = rest[pos + 1..].parse().map_err(|_| bad())?;
                (&rest[..pos], exp)
            }
            None => (rest, 0),
        };
        let (int_part, frac_part) = match mantissa.find('.') {
            Some(pos) => (&mantissa[..pos], &mantissa[pos + 1..]),
            None => (mantissa, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad());
        }
        if !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        // Exponents beyond MySQL's 65 digits can only produce values the
        // column rejects anyway; bound them to keep the work bounded.
        if exponent.abs() > 200 {
            return Err(bad());
        }
        if exponent == 0 {
            // The common case: the digits are already where they belong.
            return Ok(Self::from_parts(negative, int_part, frac_part));
        }
        let mut digits: String = format!("{int_part}{frac_part}");
        let mut point = i64::try_from(int_part.len()).map_err(|_| bad())? + exponent;
        if point < 0 {
            let pad = usize::try_from(-point).map_err(|_| bad())?;
            digits.insert_str(0, &"0".repeat(pad));
            point = 0;
        }
        let point = usize::try_from(point).map_err(|_| bad())?;
        if point > digits.len() {
            let pad = point - digits.len();
            digits.push_str(&"0".repeat(pad));
        }
        let (int_digits, frac_digits) = digits.split_at(point);
        Ok(Self::from_parts(negative, int_digits, frac_digits))
    }

    /// The decimal `[-]int_digits.frac_digits`: what [`Decimal::parse`]
    /// gives for that text, for callers that have already split it (a data
    /// parser's number scanner), so it is not formatted just to be parsed
    /// again. Either part may be empty, not both.
    ///
    /// # Errors
    ///
    /// Both parts empty, or a byte that is not an ASCII digit.
    pub fn from_digits(negative: bool, int_digits: &[u8], frac_digits: &[u8]) -> Result<Self> {
        let mut d = Decimal {
            text: String::new(),
        };
        d.set_digits(negative, int_digits, frac_digits)?;
        Ok(d)
    }

    /// Like [`Decimal::from_digits`], replacing `self` in place: a reused
    /// row's decimal keeps its buffer, so parsing the next one allocates
    /// nothing. On error `self` is unchanged.
    ///
    /// # Errors
    ///
    /// As [`Decimal::from_digits`].
    pub fn set_digits(
        &mut self,
        negative: bool,
        int_digits: &[u8],
        frac_digits: &[u8],
    ) -> Result<()> {
        let all_digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
        if (int_digits.is_empty() && frac_digits.is_empty())
            || !all_digits(int_digits)
            || !all_digits(frac_digits)
        {
            return Err(Error::bad_data(format!(
                "invalid decimal digits {:?}.{:?}",
                String::from_utf8_lossy(int_digits),
                String::from_utf8_lossy(frac_digits)
            )));
        }
        write_parts(&mut self.text, negative, int_digits, frac_digits);
        Ok(())
    }

    /// Builds a decimal from its sign and digit strings (ASCII digits only;
    /// leading integer zeros are dropped).
    fn from_parts(negative: bool, int_digits: &str, frac_digits: &str) -> Self {
        let mut text = String::with_capacity(int_digits.len() + frac_digits.len() + 3);
        write_parts(
            &mut text,
            negative,
            int_digits.as_bytes(),
            frac_digits.as_bytes(),
        );
        Decimal { text }
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.text.starts_with('-')
    }

    /// Integer digits, without sign (`"0"` for values below one).
    pub fn int_digits(&self) -> &str {
        let unsigned = self.text.trim_start_matches('-');
        unsigned.split('.').next().unwrap_or("0")
    }

    /// Fraction digits (empty when the scale is 0).
    pub fn frac_digits(&self) -> &str {
        self.text.split_once('.').map_or("", |(_, frac)| frac)
    }

    /// Number of fraction digits.
    pub fn scale(&self) -> usize {
        self.frac_digits().len()
    }

    /// Rounds (half away from zero, as MySQL does) or pads to `scale` fraction
    /// digits.
    #[must_use]
    pub fn rescale(&self, scale: usize) -> Decimal {
        let frac = self.frac_digits();
        if frac.len() <= scale {
            // Padding only appends zeros to the normalised text.
            let mut text = String::with_capacity(self.text.len() + scale - frac.len() + 1);
            text.push_str(&self.text);
            if frac.is_empty() && scale > 0 {
                text.push('.');
            }
            text.extend(std::iter::repeat_n('0', scale - frac.len()));
            return Decimal { text };
        }
        let round_up = frac.as_bytes()[scale] >= b'5';
        let mut digits: Vec<u8> = format!("{}{}", self.int_digits(), &frac[..scale]).into_bytes();
        if round_up {
            let mut i = digits.len();
            loop {
                if i == 0 {
                    digits.insert(0, b'1');
                    break;
                }
                i -= 1;
                if digits[i] == b'9' {
                    digits[i] = b'0';
                } else {
                    digits[i] += 1;
                    break;
                }
            }
        }
        let split = digits.len() - scale;
        let text = String::from_utf8_lossy(&digits).into_owned();
        Self::from_parts(self.is_negative(), &text[..split], &text[split..])
    }
}

/// Writes the normalised text of a decimal into `text`, replacing what was
/// there. The digits must be ASCII digits; leading integer zeros are dropped.
fn write_parts(text: &mut String, negative: bool, int_digits: &[u8], frac_digits: &[u8]) {
    let first = int_digits
        .iter()
        .position(|b| *b != b'0')
        .unwrap_or(int_digits.len());
    let int_digits = &int_digits[first..];
    let is_zero = int_digits.is_empty() && frac_digits.iter().all(|b| *b == b'0');
    text.clear();
    if negative && !is_zero {
        text.push('-');
    }
    if int_digits.is_empty() {
        text.push('0');
    }
    // ASCII digits, so each byte is its own char.
    text.extend(int_digits.iter().copied().map(char::from));
    if !frac_digits.is_empty() {
        text.push('.');
        text.extend(frac_digits.iter().copied().map(char::from));
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Which of MySQL's date-time types a [`MysqlTime`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TimeKind {
    /// `DATE`: the time of day is zero.
    Date,
    /// `DATETIME`.
    DateTime,
    /// `TIMESTAMP`, stored as UTC.
    Timestamp,
}

/// A `DATE`/`DATETIME`/`TIMESTAMP` value. Fields are not range-checked here:
/// MySQL allows zero dates and zero months/days unless the SQL mode forbids
/// them, and the encoder enforces that mode.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct MysqlTime {
    /// Year, 0–9999.
    pub year: u16,
    /// Month, 0–12.
    pub month: u8,
    /// Day, 0–31.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–59.
    pub second: u8,
    /// Microsecond, 0–999999.
    pub microsecond: u32,
}

impl MysqlTime {
    /// Whether this is the zero date `0000-00-00 00:00:00`.
    pub fn is_zero(&self) -> bool {
        *self == MysqlTime::default()
    }

    /// Formats as MySQL does for `kind` with `fsp` fraction digits.
    pub fn format(&self, kind: TimeKind, fsp: u8) -> String {
        let date = format!("{:04}-{:02}-{:02}", self.year, self.month, self.day);
        if kind == TimeKind::Date {
            return date;
        }
        let mut out = format!(
            "{date} {:02}:{:02}:{:02}",
            self.hour, self.minute, self.second
        );
        push_fraction(&mut out, self.microsecond, fsp);
        out
    }
}

/// A `TIME` value: a signed duration in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MysqlDuration {
    /// Microseconds, negative for negative durations.
    pub micros: i64,
}

impl MysqlDuration {
    /// The largest `TIME` MySQL accepts, `838:59:59`, in microseconds.
    pub const MAX_MICROS: i64 = ((838 * 3600) + (59 * 60) + 59) * 1_000_000;

    /// Formats as `[-]HH:MM:SS[.ffffff]` with `fsp` fraction digits.
    pub fn format(&self, fsp: u8) -> String {
        let sign = if self.micros < 0 { "-" } else { "" };
        let abs = self.micros.unsigned_abs();
        let micros = abs % 1_000_000;
        let secs = abs / 1_000_000;
        let mut out = format!(
            "{sign}{:02}:{:02}:{:02}",
            secs / 3600,
            (secs / 60) % 60,
            secs % 60
        );
        // `micros` < 10⁶, so it fits.
        push_fraction(&mut out, u32::try_from(micros).unwrap_or(0), fsp);
        out
    }
}

fn push_fraction(out: &mut String, microsecond: u32, fsp: u8) {
    if fsp == 0 {
        return;
    }
    let digits = format!("{microsecond:06}");
    out.push('.');
    out.push_str(&digits[..usize::from(fsp.min(6))]);
}

/// The session's `sql_mode`, which decides how strictly values convert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct SqlMode(u32);

impl SqlMode {
    /// `STRICT_TRANS_TABLES`.
    pub const STRICT_TRANS_TABLES: SqlMode = SqlMode(1 << 0);
    /// `STRICT_ALL_TABLES`.
    pub const STRICT_ALL_TABLES: SqlMode = SqlMode(1 << 1);
    /// `NO_ZERO_IN_DATE`.
    pub const NO_ZERO_IN_DATE: SqlMode = SqlMode(1 << 2);
    /// `NO_ZERO_DATE`.
    pub const NO_ZERO_DATE: SqlMode = SqlMode(1 << 3);
    /// `ERROR_FOR_DIVISION_BY_ZERO`.
    pub const ERROR_FOR_DIVISION_BY_ZERO: SqlMode = SqlMode(1 << 4);
    /// `NO_BACKSLASH_ESCAPES`.
    pub const NO_BACKSLASH_ESCAPES: SqlMode = SqlMode(1 << 5);
    /// `ALLOW_INVALID_DATES`.
    pub const ALLOW_INVALID_DATES: SqlMode = SqlMode(1 << 6);
    /// `ANSI_QUOTES`.
    pub const ANSI_QUOTES: SqlMode = SqlMode(1 << 7);
    /// `NO_AUTO_VALUE_ON_ZERO`.
    pub const NO_AUTO_VALUE_ON_ZERO: SqlMode = SqlMode(1 << 8);
    /// `PAD_CHAR_TO_FULL_LENGTH`.
    pub const PAD_CHAR_TO_FULL_LENGTH: SqlMode = SqlMode(1 << 9);
    /// `REAL_AS_FLOAT`.
    pub const REAL_AS_FLOAT: SqlMode = SqlMode(1 << 10);
    /// `ONLY_FULL_GROUP_BY`.
    pub const ONLY_FULL_GROUP_BY: SqlMode = SqlMode(1 << 11);
    /// `NO_ENGINE_SUBSTITUTION`.
    pub const NO_ENGINE_SUBSTITUTION: SqlMode = SqlMode(1 << 12);

    const NAMES: [(&'static str, SqlMode); 13] = [
        ("STRICT_TRANS_TABLES", Self::STRICT_TRANS_TABLES),
        ("STRICT_ALL_TABLES", Self::STRICT_ALL_TABLES),
        ("NO_ZERO_IN_DATE", Self::NO_ZERO_IN_DATE),
        ("NO_ZERO_DATE", Self::NO_ZERO_DATE),
        (
            "ERROR_FOR_DIVISION_BY_ZERO",
            Self::ERROR_FOR_DIVISION_BY_ZERO,
        ),
        ("NO_BACKSLASH_ESCAPES", Self::NO_BACKSLASH_ESCAPES),
        ("ALLOW_INVALID_DATES", Self::ALLOW_INVALID_DATES),
        ("ANSI_QUOTES", Self::ANSI_QUOTES),
        ("NO_AUTO_VALUE_ON_ZERO", Self::NO_AUTO_VALUE_ON_ZERO),
        ("PAD_CHAR_TO_FULL_LENGTH", Self::PAD_CHAR_TO_FULL_LENGTH),
        ("REAL_AS_FLOAT", Self::REAL_AS_FLOAT),
        ("ONLY_FULL_GROUP_BY", Self::ONLY_FULL_GROUP_BY),
        ("NO_ENGINE_SUBSTITUTION", Self::NO_ENGINE_SUBSTITUTION),
    ];

    /// The mode TiDB Lightning uses by default:
    /// `ONLY_FULL_GROUP_BY,NO_AUTO_CREATE_USER` (not strict).
    pub const LIGHTNING_DEFAULT: SqlMode = SqlMode(Self::ONLY_FULL_GROUP_BY.0);

    /// Parses a comma-separated `sql_mode` string. Combination modes
    /// (`TRADITIONAL`, `ANSI`) expand to their members; modes that do not
    /// change how values convert (`NO_AUTO_CREATE_USER`, …) are accepted and
    /// ignored. Unknown names are an error naming them.
    pub fn parse(text: &str) -> Result<SqlMode> {
        let mut mode = SqlMode::default();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let upper = name.to_ascii_uppercase();
            if let Some((_, flag)) = Self::NAMES.iter().find(|(n, _)| *n == upper) {
                mode = mode | *flag;
                continue;
            }
            mode = match upper.as_str() {
                "TRADITIONAL" => {
                    mode | Self::STRICT_TRANS_TABLES
                        | Self::STRICT_ALL_TABLES
                        | Self::NO_ZERO_IN_DATE
                        | Self::NO_ZERO_DATE
                        | Self::ERROR_FOR_DIVISION_BY_ZERO
                        | Self::NO_ENGINE_SUBSTITUTION
                }
                "ANSI" => mode | Self::ANSI_QUOTES | Self::REAL_AS_FLOAT | Self::ONLY_FULL_GROUP_BY,
                "NO_AUTO_CREATE_USER"
                | "PIPES_AS_CONCAT"
                | "IGNORE_SPACE"
                | "NO_DIR_IN_CREATE"
                | "HIGH_NOT_PRECEDENCE"
                | "NO_UNSIGNED_SUBTRACTION"
                | "NO_FIELD_OPTIONS"
                | "NO_KEY_OPTIONS"
                | "NO_TABLE_OPTIONS"
                | "ALLOW_INVALID_DATES_ALIAS"
                | "TIME_TRUNCATE_FRACTIONAL"
                | "REAL_AS_FLOAT_ALIAS"
                | "MYSQL323"
                | "MYSQL40"
                | "DB2"
                | "MSSQL"
                | "ORACLE"
                | "POSTGRESQL"
                | "MAXDB"
                | "SIMULTANEOUS_ADD" => mode,
                _ => return Err(Error::config(format!("unknown sql_mode {name:?}"))),
            };
        }
        Ok(mode)
    }

    /// Whether every flag of `other` is set.
    pub fn contains(self, other: SqlMode) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether strict mode is on (either strict flag): bad values are errors
    /// instead of being clamped with a warning.
    pub fn is_strict(self) -> bool {
        self.0 & (Self::STRICT_TRANS_TABLES.0 | Self::STRICT_ALL_TABLES.0) != 0
    }
}

impl std::ops::BitOr for SqlMode {
    type Output = SqlMode;
    fn bitor(self, rhs: SqlMode) -> SqlMode {
        SqlMode(self.0 | rhs.0)
    }
}

impl fmt::Display for SqlMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Self::NAMES
            .iter()
            .filter(|(_, flag)| self.contains(*flag))
            .map(|(name, _)| *name)
            .collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_parse_normalises() {
        let cases = [
            ("0", "0"),
            ("-0.00", "0.00"),
            ("007.50", "7.50"),
            ("+3", "3"),
            (".5", "0.5"),
            ("-12.345", "-12.345"),
            ("1e3", "1000"),
            ("1.5E-2", "0.015"),
            (
                "12345678901234567890123456789012345.123456789012345678901234567890",
                "12345678901234567890123456789012345.123456789012345678901234567890",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                Decimal::parse(input).map(|d| d.to_string()).ok().as_deref(),
                Some(want),
                "{input}"
            );
        }
        for bad in ["", "-", ".", "1.2.3", "abc", "1e", "0x10", "1e999"] {
            assert!(Decimal::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn decimal_from_digits_matches_parse() {
        let parts: [(&str, &str); 10] = [
            ("0", ""),
            ("", "5"),
            ("007", "50"),
            ("000", "000"),
            ("12", ""),
            ("0", "0001"),
            ("18446744073709551616", ""),
            (
                "12345678901234567890123456789012345",
                "123456789012345678901234567890",
            ),
            ("", "0"),
            ("9", "999999999999999999999999999999"),
        ];
        // One reused value across every case, as a reused row does.
        let mut reused = Decimal::from_digits(false, b"123456789", b"123456789").ok();
        for (int, frac) in parts {
            for negative in [false, true] {
                let sign = if negative { "-" } else { "" };
                let point = if frac.is_empty() { "" } else { "." };
                let text = format!("{sign}{int}{point}{frac}");
                let want = Decimal::parse(&text).ok();
                assert!(want.is_some(), "{text}");
                let got = Decimal::from_digits(negative, int.as_bytes(), frac.as_bytes()).ok();
                assert_eq!(got, want, "{text}");
                if let Some(d) = reused.as_mut() {
                    assert!(
                        d.set_digits(negative, int.as_bytes(), frac.as_bytes())
                            .is_ok()
                    );
                }
                assert_eq!(reused, want, "{text} (reused)");
            }
        }
        for (int, frac) in [("", ""), ("1a", ""), ("1", "-2"), (" 1", ""), ("1", "5e3")] {
            assert!(Decimal::from_digits(false, int.as_bytes(), frac.as_bytes()).is_err());
            let mut d = Decimal::from_digits(true, b"7", b"25").ok();
            if let Some(d) = d.as_mut() {
                assert!(
                    d.set_digits(false, int.as_bytes(), frac.as_bytes())
                        .is_err()
                );
            }
            assert_eq!(d.map(|d| d.to_string()).as_deref(), Some("-7.25"));
        }
    }

    #[test]
    fn decimal_parts_and_rescale() {
        let d = Decimal::parse("-12.345").ok();
        let d = d.as_ref();
        assert_eq!(d.map(Decimal::int_digits), Some("12"));
        assert_eq!(d.map(Decimal::frac_digits), Some("345"));
        assert_eq!(
            d.map(|d| d.rescale(2).to_string()).as_deref(),
            Some("-12.35")
        );
        assert_eq!(
            d.map(|d| d.rescale(5).to_string()).as_deref(),
            Some("-12.34500")
        );
        let nines = Decimal::parse("9.995")
            .map(|d| d.rescale(2).to_string())
            .ok();
        assert_eq!(nines.as_deref(), Some("10.00"));
        let tiny = Decimal::parse("-0.004")
            .map(|d| d.rescale(2).to_string())
            .ok();
        assert_eq!(tiny.as_deref(), Some("0.00"));
    }

    #[test]
    fn time_and_duration_format() {
        let t = MysqlTime {
            year: 2024,
            month: 2,
            day: 29,
            hour: 23,
            minute: 5,
            second: 9,
            microsecond: 120_000,
        };
        assert_eq!(t.format(TimeKind::Date, 0), "2024-02-29");
        assert_eq!(t.format(TimeKind::DateTime, 0), "2024-02-29 23:05:09");
        assert_eq!(t.format(TimeKind::Timestamp, 3), "2024-02-29 23:05:09.120");
        assert_eq!(
            MysqlTime::default().format(TimeKind::DateTime, 0),
            "0000-00-00 00:00:00"
        );
        let d = MysqlDuration {
            micros: -MysqlDuration::MAX_MICROS,
        };
        assert_eq!(d.format(0), "-838:59:59");
        assert_eq!(MysqlDuration { micros: 1_500_000 }.format(1), "00:00:01.5");
    }

    #[test]
    fn sql_mode_parse() {
        let mode = SqlMode::parse("ONLY_FULL_GROUP_BY,NO_AUTO_CREATE_USER").ok();
        assert_eq!(mode, Some(SqlMode::LIGHTNING_DEFAULT));
        assert!(!SqlMode::LIGHTNING_DEFAULT.is_strict());
        let strict = SqlMode::parse("strict_trans_tables, no_zero_date").ok();
        assert!(strict.is_some_and(SqlMode::is_strict));
        assert!(strict.is_some_and(|m| m.contains(SqlMode::NO_ZERO_DATE)));
        assert!(SqlMode::parse("TRADITIONAL").is_ok_and(|m| m.contains(SqlMode::NO_ZERO_IN_DATE)));
        let err = SqlMode::parse("STRICT,BOGUS").err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("unknown sql_mode \"STRICT\""));
    }
}
