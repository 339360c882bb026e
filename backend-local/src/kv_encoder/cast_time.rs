//! Casts to DATE, DATETIME, TIMESTAMP (UTC) and TIME: parsed, rounded to
//! the column's fractional digits and checked against the SQL mode's date
//! rules.

use backend_core::model::ColumnType;
use backend_core::{Datum, MysqlDuration, MysqlTime, Result, SqlMode};

use super::calendar::{days_in_month, round_time, unix_seconds};
use super::cast::{Cx, datum_text, text_of};
use super::datetime::{parse_datetime, parse_duration};

impl Cx<'_> {
    /// Fractional-second digits the column keeps (none for DATE).
    fn fsp(&self) -> u8 {
        match self.ft().tp {
            ColumnType::Date => 0,
            _ => self.ft().decimal.unwrap_or(0).min(6),
        }
    }

    pub(super) fn as_time(&mut self, value: &Datum) -> Result<Datum> {
        let tp = self.ft().tp;
        let fsp = self.fsp();
        let parsed = match value {
            Datum::Time(t) => Some(*t),
            Datum::Int(v) => parse_datetime(&v.to_string()),
            Datum::Uint(v) => parse_datetime(&v.to_string()),
            other => parse_datetime(text_of(other).trim()),
        };
        let Some(mut t) = parsed else {
            self.bad(&format!(
                "incorrect {} value {:?}",
                tp.sql_name(),
                datum_text(value)
            ))?;
            return Ok(Datum::Time(MysqlTime::default()));
        };
        if tp == ColumnType::Date {
            t.hour = 0;
            t.minute = 0;
            t.second = 0;
            t.microsecond = 0;
        } else if let Some(rounded) = round_time(t, fsp) {
            t = rounded;
        }
        if !self.check_date(&t)? {
            return Ok(Datum::Time(MysqlTime::default()));
        }
        if tp == ColumnType::Timestamp && !t.is_zero() {
            let secs = unix_seconds(&t);
            if !(1..=2_147_483_647).contains(&secs) {
                self.bad(&format!("incorrect TIMESTAMP value {:?}: outside 1970-01-01 00:00:01 .. 2038-01-19 03:14:07 UTC", datum_text(value)))?;
                return Ok(Datum::Time(MysqlTime::default()));
            }
        }
        Ok(Datum::Time(t))
    }

    /// Checks date parts against the SQL mode; `false` means "use the zero date".
    fn check_date(&mut self, t: &MysqlTime) -> Result<bool> {
        if t.is_zero() {
            if self.mode.contains(SqlMode::NO_ZERO_DATE) {
                self.bad("zero date is not allowed (NO_ZERO_DATE)")?;
            }
            return Ok(true);
        }
        // Formatted only for a message: this runs for every date value.
        let text = || t.format(backend_core::TimeKind::DateTime, 0);
        if t.month > 12 || t.day > 31 || t.hour > 23 || t.minute > 59 || t.second > 59 {
            self.bad(&format!("incorrect date-time value {:?}", text()))?;
            return Ok(false);
        }
        if t.month == 0 || t.day == 0 {
            if self.mode.contains(SqlMode::NO_ZERO_IN_DATE) {
                self.bad(&format!(
                    "zero month or day in {:?} (NO_ZERO_IN_DATE)",
                    text()
                ))?;
                return Ok(false);
            }
            return Ok(true);
        }
        if t.day > days_in_month(t.year, t.month)
            && !self.mode.contains(SqlMode::ALLOW_INVALID_DATES)
        {
            self.bad(&format!("incorrect date value {:?}", text()))?;
            return Ok(false);
        }
        Ok(true)
    }

    pub(super) fn as_duration(&mut self, value: &Datum) -> Result<Datum> {
        let fsp = self.fsp();
        let parsed = match value {
            Datum::Duration(d) => Some(d.micros),
            Datum::Int(v) => parse_duration(&v.to_string()),
            Datum::Uint(v) => parse_duration(&v.to_string()),
            other => parse_duration(text_of(other).trim()),
        };
        let Some(mut micros) = parsed else {
            self.bad(&format!("incorrect TIME value {:?}", datum_text(value)))?;
            return Ok(Datum::Duration(MysqlDuration { micros: 0 }));
        };
        let unit = 10i64.pow(6 - u32::from(fsp));
        let rem = micros % unit;
        micros -= rem;
        if rem.abs() * 2 >= unit {
            micros += unit * rem.signum();
        }
        let max = MysqlDuration::MAX_MICROS;
        if micros.abs() > max {
            self.bad(&format!("TIME value {:?} out of range", datum_text(value)))?;
            micros = max * micros.signum();
        }
        Ok(Datum::Duration(MysqlDuration { micros }))
    }
}
