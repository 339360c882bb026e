//! MySQL's date and time text: DATE/DATETIME/TIMESTAMP values
//! ([`parse_datetime`]) and TIME values ([`parse_duration`]).

use backend_core::MysqlTime;

/// Parses MySQL date/date-time text: `YYYY-MM-DD[ HH:MM:SS[.ffffff]]` with
/// any punctuation as delimiters and `T` between date and time, or the
/// compact `YYYYMMDD[HHMMSS[.ffffff]]` / `YYMMDD[HHMMSS[.ffffff]]` forms.
/// Two-digit years map 70–99 to 19xx and 00–69 to 20xx. Field ranges are
/// checked by the caller.
pub fn parse_datetime(s: &str) -> Option<MysqlTime> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let digit_groups = |t: &str| -> Vec<usize> {
        t.split(|c: char| !c.is_ascii_digit())
            .filter(|g| !g.is_empty())
            .map(str::len)
            .collect()
    };
    // A `.` starts the fraction only after a complete time of day; in
    // `2012.12.31` it is a date delimiter.
    let (main, frac) = match s.rfind('.') {
        Some(p) => {
            let before = digit_groups(&s[..p]);
            let after = &s[p + 1..];
            let complete = before.len() == 6 || (before.len() == 1 && matches!(before[0], 12 | 14));
            if complete && after.bytes().all(|c| c.is_ascii_digit()) {
                (&s[..p], after)
            } else {
                (s, "")
            }
        }
        None => (s, ""),
    };
    let micro = parse_fraction(frac)?;
    let groups: Vec<&str> = main
        .split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .collect();
    if groups.iter().any(|g| g.len() > 4 && groups.len() > 1) {
        return None;
    }
    let num = |g: &str| g.parse::<u32>().ok();
    let (mut year, month, day, hour, minute, second, year_digits) = if groups.len() == 1 {
        let g = groups[0];
        let d = |a: usize, b: usize| g.get(a..b).and_then(num);
        match g.len() {
            14 => (
                d(0, 4)?,
                d(4, 6)?,
                d(6, 8)?,
                d(8, 10)?,
                d(10, 12)?,
                d(12, 14)?,
                4,
            ),
            12 => (
                d(0, 2)?,
                d(2, 4)?,
                d(4, 6)?,
                d(6, 8)?,
                d(8, 10)?,
                d(10, 12)?,
                2,
            ),
            8 => (d(0, 4)?, d(4, 6)?, d(6, 8)?, 0, 0, 0, 4),
            6 => (d(0, 2)?, d(2, 4)?, d(4, 6)?, 0, 0, 0, 2),
            _ => return None,
        }
    } else if groups.len() >= 3 && groups.len() <= 6 {
        let at = |i: usize| groups.get(i).map_or(Some(0), |g| num(g));
        (
            at(0)?,
            at(1)?,
            at(2)?,
            at(3)?,
            at(4)?,
            at(5)?,
            groups[0].len(),
        )
    } else {
        return None;
    };
    if year_digits <= 2 {
        year += if year < 70 { 2000 } else { 1900 };
    }
    Some(MysqlTime {
        year: u16::try_from(year).ok().filter(|y| *y <= 9999)?,
        month: u8::try_from(month).ok()?,
        day: u8::try_from(day).ok()?,
        hour: u8::try_from(hour).ok()?,
        minute: u8::try_from(minute).ok()?,
        second: u8::try_from(second).ok()?,
        microsecond: micro,
    })
}

/// Up to six fraction digits as microseconds (more digits are rounded).
fn parse_fraction(frac: &str) -> Option<u32> {
    if frac.is_empty() {
        return Some(0);
    }
    if !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut digits: String = frac.chars().take(6).collect();
    while digits.len() < 6 {
        digits.push('0');
    }
    let mut v: u32 = digits.parse().ok()?;
    if frac.as_bytes().get(6).is_some_and(|c| *c >= b'5') {
        v = (v + 1).min(999_999);
    }
    Some(v)
}

/// Parses MySQL `TIME` text: `[-][D ]HH:MM[:SS][.ffffff]` or the compact
/// `[-]HHMMSS[.ffffff]` (right-aligned: `SS`, `MMSS`). Returns microseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, s),
    };
    let (main, frac) = match s.split_once('.') {
        Some((m, f)) => (m, f),
        None => (s, ""),
    };
    let micro = i64::from(parse_fraction(frac)?);
    let (days, clock) = match main.split_once(' ') {
        Some((d, c)) => (d.trim().parse::<i64>().ok()?, c.trim()),
        None => (0, main),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    let n = |p: &str| -> Option<i64> {
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) || p.len() > 10 {
            None
        } else {
            p.parse().ok()
        }
    };
    let (h, m, sec) = match parts.as_slice() {
        [h, m, s] => (n(h)?, n(m)?, n(s)?),
        [h, m] => (n(h)?, n(m)?, 0),
        [compact] => {
            let v = n(compact)?;
            (v / 10_000, (v / 100) % 100, v % 100)
        }
        _ => return None,
    };
    if m > 59 || sec > 59 {
        return None;
    }
    let total = ((days * 24 + h) * 3600 + m * 60 + sec)
        .checked_mul(1_000_000)?
        .checked_add(micro)?;
    Some(if neg { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_parsing_forms() {
        let t = |y, mo, d, h, mi, s, us| MysqlTime {
            year: y,
            month: mo,
            day: d,
            hour: h,
            minute: mi,
            second: s,
            microsecond: us,
        };
        assert_eq!(
            parse_datetime("2012-12-31 11:30:45.5"),
            Some(t(2012, 12, 31, 11, 30, 45, 500_000))
        );
        assert_eq!(
            parse_datetime("2012.12.31"),
            Some(t(2012, 12, 31, 0, 0, 0, 0))
        );
        assert_eq!(
            parse_datetime("20121231113045"),
            Some(t(2012, 12, 31, 11, 30, 45, 0))
        );
        assert_eq!(parse_datetime("991231"), Some(t(1999, 12, 31, 0, 0, 0, 0)));
        assert_eq!(
            parse_datetime("2012-12-31T11:30:45"),
            Some(t(2012, 12, 31, 11, 30, 45, 0))
        );
        assert_eq!(parse_datetime("nope"), None);
    }
}
