//! MySQL's binary decimal format (`MyDecimal.ToBin`/`FromBin` in TiDB).
//!
//! A `DECIMAL(p, f)` value is stored as `p - f` integer digits and `f`
//! fraction digits in groups of nine (four bytes, big-endian), with the
//! leading integer and trailing fraction partial groups in as few bytes as
//! their digits need. Negative values have every byte inverted; the first
//! byte's top bit is flipped so the bytes compare like the values (for one
//! `(p, f)`), which is why TiDB also uses it in index keys.

use backend_core::{Decimal, Error, Result};

const DIGITS_PER_WORD: usize = 9;
const WORD_SIZE: usize = 4;
/// Bytes needed for 0–9 leftover digits.
const DIG2BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

/// The largest precision MySQL allows.
pub const MAX_PRECISION: u8 = 65;
/// The largest scale MySQL allows.
pub const MAX_SCALE: u8 = 30;

/// Bytes of the binary form of a `DECIMAL(precision, frac)`.
pub fn bin_size(precision: u8, frac: u8) -> usize {
    let intg = usize::from(precision.saturating_sub(frac));
    let frac = usize::from(frac);
    (intg / DIGITS_PER_WORD) * WORD_SIZE
        + DIG2BYTES[intg % DIGITS_PER_WORD]
        + (frac / DIGITS_PER_WORD) * WORD_SIZE
        + DIG2BYTES[frac % DIGITS_PER_WORD]
}

fn digits_value(digits: &[u8]) -> u32 {
    digits
        .iter()
        .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
}

fn push_be(out: &mut Vec<u8>, value: u32, bytes: usize) {
    let be = value.to_be_bytes();
    out.extend_from_slice(&be[WORD_SIZE - bytes..]);
}

/// Appends `value` as `DECIMAL(precision, frac)` binary.
///
/// The value must already have exactly `frac` fraction digits and at most
/// `precision - frac` integer digits (the encoder rounds and range-checks
/// first); otherwise this is a [`backend_core::ErrorKind::BadData`] error.
pub fn write_bin(out: &mut Vec<u8>, value: &Decimal, precision: u8, frac: u8) -> Result<()> {
    if precision == 0 || precision > MAX_PRECISION || frac > MAX_SCALE || frac > precision {
        return Err(Error::bad_data(format!(
            "invalid decimal precision/scale ({precision},{frac})"
        )));
    }
    let intg = usize::from(precision - frac);
    let frac_len = usize::from(frac);
    let int_digits = value.int_digits().trim_start_matches('0');
    let frac_digits = value.frac_digits();
    if int_digits.len() > intg || frac_digits.len() != frac_len {
        return Err(Error::bad_data(format!(
            "decimal {value} does not fit DECIMAL({precision},{frac})"
        )));
    }
    let mut int_padded = vec![b'0'; intg - int_digits.len()];
    int_padded.extend_from_slice(int_digits.as_bytes());
    let start = out.len();
    let lead = intg % DIGITS_PER_WORD;
    if lead > 0 {
        push_be(out, digits_value(&int_padded[..lead]), DIG2BYTES[lead]);
    }
    for word in int_padded[lead..].chunks(DIGITS_PER_WORD) {
        push_be(out, digits_value(word), WORD_SIZE);
    }
    let frac_bytes = frac_digits.as_bytes();
    for word in frac_bytes.chunks(DIGITS_PER_WORD) {
        if word.len() == DIGITS_PER_WORD {
            push_be(out, digits_value(word), WORD_SIZE);
        } else {
            push_be(out, digits_value(word), DIG2BYTES[word.len()]);
        }
    }
    if value.is_negative() {
        for b in &mut out[start..] {
            *b = !*b;
        }
    }
    if let Some(first) = out.get_mut(start) {
        *first ^= 0x80;
    }
    Ok(())
}

fn read_be(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
}

/// Decodes a `DECIMAL(precision, frac)` binary value from the front of `b`;
/// returns it with exactly `frac` fraction digits, and the bytes consumed.
pub fn read_bin(b: &[u8], precision: u8, frac: u8) -> Result<(Decimal, usize)> {
    if precision == 0 || precision > MAX_PRECISION || frac > MAX_SCALE || frac > precision {
        return Err(Error::bad_data(format!(
            "invalid decimal precision/scale ({precision},{frac})"
        )));
    }
    let size = bin_size(precision, frac);
    let raw = b
        .get(..size)
        .ok_or_else(|| Error::bad_data("insufficient bytes to decode decimal"))?;
    let mut bytes = raw.to_vec();
    bytes[0] ^= 0x80;
    let negative = bytes[0] & 0x80 != 0;
    if negative {
        for byte in &mut bytes {
            *byte = !*byte;
        }
    }
    let intg = usize::from(precision - frac);
    let frac_len = usize::from(frac);
    let mut digits = String::with_capacity(intg + frac_len + 2);
    let mut pos = 0;
    let bad = || Error::bad_data("corrupt decimal: a digit group exceeds its width");
    let push_group = |digits: &mut String, bytes_len: usize, ndigits: usize, pos: &mut usize| {
        let v = read_be(&bytes[*pos..*pos + bytes_len]);
        *pos += bytes_len;
        let text = format!("{v:0ndigits$}");
        if text.len() > ndigits {
            return Err(bad());
        }
        digits.push_str(&text);
        Ok(())
    };
    let lead = intg % DIGITS_PER_WORD;
    if lead > 0 {
        push_group(&mut digits, DIG2BYTES[lead], lead, &mut pos)?;
    }
    for _ in 0..intg / DIGITS_PER_WORD {
        push_group(&mut digits, WORD_SIZE, DIGITS_PER_WORD, &mut pos)?;
    }
    let mut frac_text = String::with_capacity(frac_len);
    for _ in 0..frac_len / DIGITS_PER_WORD {
        push_group(&mut frac_text, WORD_SIZE, DIGITS_PER_WORD, &mut pos)?;
    }
    let trail = frac_len % DIGITS_PER_WORD;
    if trail > 0 {
        push_group(&mut frac_text, DIG2BYTES[trail], trail, &mut pos)?;
    }
    let mut text = String::with_capacity(digits.len() + frac_text.len() + 3);
    if negative {
        text.push('-');
    }
    text.push_str(if digits.is_empty() { "0" } else { &digits });
    if !frac_text.is_empty() {
        text.push('.');
        text.push_str(&frac_text);
    }
    Ok((Decimal::parse(&text)?, size))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bin(s: &str, p: u8, f: u8) -> Vec<u8> {
        let mut out = Vec::new();
        write_bin(
            &mut out,
            &Decimal::parse(s).unwrap().rescale(usize::from(f)),
            p,
            f,
        )
        .unwrap();
        out
    }

    // Vectors from TiDB's `TestToBinFromBin` / MySQL's decimal tests:
    // `1234567890.1234` as DECIMAL(14,4) and `-1234567890.1234` as
    // DECIMAL(14,4) are MySQL documentation's example of the layout.
    #[test]
    fn mysql_documented_layout() {
        assert_eq!(
            bin("1234567890.1234", 14, 4),
            [0x81, 0x0D, 0xFB, 0x38, 0xD2, 0x04, 0xD2]
        );
        assert_eq!(
            bin("-1234567890.1234", 14, 4),
            [0x7E, 0xF2, 0x04, 0xC7, 0x2D, 0xFB, 0x2D]
        );
        assert_eq!(bin("0", 1, 0), [0x80]);
        assert_eq!(bin_size(14, 4), 7);
        assert_eq!(bin_size(65, 30), 30);
    }

    #[test]
    fn round_trips_and_rejects_overflow() {
        for (s, p, f) in [
            ("0.00", 10, 2),
            ("-0.01", 10, 2),
            ("99999999.99", 10, 2),
            ("-99999999.99", 10, 2),
            (
                "12345678901234567890123456789012345.123456789012345678901234567890",
                65,
                30,
            ),
            ("-0.000000000000000000000000000001", 65, 30),
            ("0.12345", 5, 5),
            ("18446744073709551615", 20, 0),
        ] {
            let b = bin(s, p, f);
            assert_eq!(b.len(), bin_size(p, f));
            let (back, used) = read_bin(&b, p, f).unwrap();
            assert_eq!(used, b.len());
            assert_eq!(
                back,
                Decimal::parse(s).unwrap().rescale(usize::from(f)),
                "{s}"
            );
        }
        let mut out = Vec::new();
        assert!(write_bin(&mut out, &Decimal::parse("100.00").unwrap(), 4, 2).is_err());
        assert!(read_bin(&[0x80], 14, 4).is_err());
    }

    fn dec_strategy() -> impl Strategy<Value = (i128, Decimal)> {
        // Values of DECIMAL(20,4): an i128 of units of 10^-4.
        (-(10i128.pow(20) - 1)..10i128.pow(20)).prop_map(|units| {
            let sign = if units < 0 { "-" } else { "" };
            let abs = units.unsigned_abs();
            let text = format!("{sign}{}.{:04}", abs / 10_000, abs % 10_000);
            (units, Decimal::parse(&text).unwrap())
        })
    }

    proptest! {
        #[test]
        fn order_matches_value((a, da) in dec_strategy(), (b, db) in dec_strategy()) {
            let (mut x, mut y) = (Vec::new(), Vec::new());
            write_bin(&mut x, &da, 20, 4).unwrap();
            write_bin(&mut y, &db, 20, 4).unwrap();
            prop_assert_eq!(a.cmp(&b), x.cmp(&y));
            prop_assert_eq!(read_bin(&x, 20, 4).unwrap().0, da);
        }
    }
}
