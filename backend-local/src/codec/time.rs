//! TiDB's packed date-time (`Time.ToPackedUint`) and `TIME` as nanoseconds.
//!
//! Packed layout, most significant first: `((year*13 + month) << 5 | day)`
//! then 17 bits `hour << 12 | minute << 6 | second`, then 24 bits of
//! microseconds. The zero date packs to 0. The packing preserves order, so
//! index keys sort by time.

use backend_core::{Error, MysqlDuration, MysqlTime, Result};

/// Packs `t` into TiDB's 64-bit form.
pub fn to_packed(t: &MysqlTime) -> u64 {
    let ymd = ((u64::from(t.year) * 13 + u64::from(t.month)) << 5) | u64::from(t.day);
    let hms = (u64::from(t.hour) << 12) | (u64::from(t.minute) << 6) | u64::from(t.second);
    (((ymd << 17) | hms) << 24) | u64::from(t.microsecond)
}

fn field<T: TryFrom<u64>>(v: u64, what: &str) -> Result<T> {
    T::try_from(v).map_err(|_| Error::bad_data(format!("corrupt packed time: {what} {v}")))
}

/// Unpacks [`to_packed`].
pub fn from_packed(packed: u64) -> Result<MysqlTime> {
    let microsecond = packed & ((1 << 24) - 1);
    let ymdhms = packed >> 24;
    let ymd = ymdhms >> 17;
    let hms = ymdhms & ((1 << 17) - 1);
    let day = ymd & ((1 << 5) - 1);
    let ym = ymd >> 5;
    let t = MysqlTime {
        year: field(ym / 13, "year")?,
        month: field(ym % 13, "month")?,
        day: field(day, "day")?,
        hour: field(hms >> 12, "hour")?,
        minute: field((hms >> 6) & 63, "minute")?,
        second: field(hms & 63, "second")?,
        microsecond: field(microsecond, "microsecond")?,
    };
    if t.year > 9999 || t.hour > 23 || t.minute > 59 || t.second > 59 || t.microsecond > 999_999 {
        return Err(Error::bad_data(format!("corrupt packed time {packed:#x}")));
    }
    Ok(t)
}

/// A `TIME` as TiDB stores it: Go's `time.Duration`, nanoseconds.
pub fn duration_to_nanos(d: MysqlDuration) -> i64 {
    // |micros| ≤ 838:59:59.999999 ≈ 3·10¹², far from overflowing ×1000.
    d.micros.saturating_mul(1000)
}

/// The `TIME` of a nanosecond count (sub-microsecond digits are dropped).
pub fn duration_from_nanos(nanos: i64) -> MysqlDuration {
    MysqlDuration {
        micros: nanos / 1000,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn packed_vectors() {
        assert_eq!(to_packed(&MysqlTime::default()), 0);
        let t = MysqlTime {
            year: 2019,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
            microsecond: 0,
        };
        // ((2019*13+1)<<5|1) << 41.
        assert_eq!(to_packed(&t), ((2019u64 * 13 + 1) << 5 | 1) << 41);
        assert_eq!(from_packed(to_packed(&t)).unwrap(), t);
        assert!(from_packed(u64::MAX).is_err());
    }

    fn time_strategy() -> impl Strategy<Value = MysqlTime> {
        (
            0u16..=9999,
            0u8..=12,
            0u8..=31,
            0u8..=23,
            0u8..=59,
            0u8..=59,
            0u32..=999_999,
        )
            .prop_map(
                |(year, month, day, hour, minute, second, microsecond)| MysqlTime {
                    year,
                    month,
                    day,
                    hour,
                    minute,
                    second,
                    microsecond,
                },
            )
    }

    proptest! {
        #[test]
        fn packed_order_matches_time(a in time_strategy(), b in time_strategy()) {
            prop_assert_eq!(a.cmp(&b), to_packed(&a).cmp(&to_packed(&b)));
            prop_assert_eq!(from_packed(to_packed(&a)).unwrap(), a);
        }
    }
}
