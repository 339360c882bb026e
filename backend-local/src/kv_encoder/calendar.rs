//! Civil-date arithmetic on [`MysqlTime`] (proleptic Gregorian, UTC):
//! month lengths, Unix seconds and back, rounding fractional seconds.

use backend_core::MysqlTime;

/// Whether `year` is a leap year (proleptic Gregorian).
fn is_leap(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// Days in `month` of `year`.
pub fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Seconds since the Unix epoch of `t` read as UTC.
pub fn unix_seconds(t: &MysqlTime) -> i64 {
    days_from_civil(i64::from(t.year), i64::from(t.month), i64::from(t.day)) * 86_400
        + i64::from(t.hour) * 3600
        + i64::from(t.minute) * 60
        + i64::from(t.second)
}

/// The UTC date-time of `secs` since the Unix epoch, if within 0000–9999.
pub fn time_from_unix(secs: i64) -> Option<MysqlTime> {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    Some(MysqlTime {
        year: u16::try_from(y).ok().filter(|y| *y <= 9999)?,
        month: u8::try_from(m).ok()?,
        day: u8::try_from(d).ok()?,
        hour: u8::try_from(rem / 3600).ok()?,
        minute: u8::try_from((rem / 60) % 60).ok()?,
        second: u8::try_from(rem % 60).ok()?,
        microsecond: 0,
    })
}

/// Rounds microseconds to `fsp` digits, carrying into the seconds (and on
/// into the date). A date with a zero month or day cannot carry: it keeps
/// the largest fraction of `fsp` digits instead.
pub(super) fn round_time(t: MysqlTime, fsp: u8) -> Option<MysqlTime> {
    let unit = 10u32.pow(6 - u32::from(fsp.min(6)));
    let rem = t.microsecond % unit;
    let mut micro = t.microsecond - rem;
    if rem * 2 >= unit {
        micro += unit;
    }
    if micro < 1_000_000 {
        return Some(MysqlTime {
            microsecond: micro,
            ..t
        });
    }
    if t.month == 0 || t.day == 0 {
        return Some(MysqlTime {
            microsecond: 999_999 - (999_999 % unit),
            ..t
        });
    }
    let mut next = time_from_unix(unix_seconds(&t) + 1)?;
    next.microsecond = 0;
    Some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_at_the_epoch_and_the_timestamp_limit() {
        let epoch = MysqlTime {
            year: 1970,
            month: 1,
            day: 1,
            ..MysqlTime::default()
        };
        assert_eq!(time_from_unix(0), Some(epoch));
        let last = MysqlTime {
            year: 2038,
            month: 1,
            day: 19,
            hour: 3,
            minute: 14,
            second: 7,
            microsecond: 0,
        };
        assert_eq!(unix_seconds(&last), 2_147_483_647);
    }
}
