//! Unix time in whole seconds, with a small RFC 3339 parser and formatter.
//!
//! Written here rather than pulled from `chrono`/`time`: the verifier only needs UTC seconds, the
//! conversion is a few lines of well-known calendar arithmetic, and keeping it local keeps the
//! attestation crate's dependency tree small.

use core::fmt;
use core::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::Error;

/// Seconds since the Unix epoch (UTC). Times before 1970 are not representable; no certificate or
/// attestation document we verify predates 2019.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(u64);

/// Largest supported instant: 9999-12-31T23:59:59Z, the last second RFC 3339 can write.
const MAX_SECS: u64 = 253_402_300_799;

const SECS_PER_DAY: u64 = 86_400;

impl UnixTime {
    /// The Unix epoch, 1970-01-01T00:00:00Z.
    pub const EPOCH: Self = Self(0);

    /// A time `secs` seconds after the epoch (clamped to year 9999, which RFC 3339 can still print).
    pub const fn from_secs(secs: u64) -> Self {
        if secs > MAX_SECS {
            Self(MAX_SECS)
        } else {
            Self(secs)
        }
    }

    /// Seconds since the epoch.
    pub const fn as_secs(self) -> u64 {
        self.0
    }

    /// The current system time; a clock before 1970 reads as the epoch.
    pub fn now() -> Self {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Self::from_secs(since.as_secs())
    }

    /// Adds seconds, saturating at the largest representable time.
    pub fn saturating_add(self, secs: u64) -> Self {
        Self::from_secs(self.0.saturating_add(secs))
    }

    /// Subtracts seconds, saturating at the epoch.
    pub fn saturating_sub(self, secs: u64) -> Self {
        Self(self.0.saturating_sub(secs))
    }

    /// Calendar fields in UTC: (year, month, day, hour, minute, second).
    pub(crate) fn to_civil(self) -> (u64, u64, u64, u64, u64, u64) {
        let (year, month, day) = civil_from_days(self.0 / SECS_PER_DAY);
        let rem = self.0 % SECS_PER_DAY;
        (year, month, day, rem / 3600, (rem % 3600) / 60, rem % 60)
    }

    /// Parses either a plain count of Unix seconds (`1657117102`) or an RFC 3339 date-time
    /// (`2022-07-06T14:18:22Z`, `2022-07-06T16:18:22.5+02:00`). Fractional seconds are truncated.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let err = |reason| Error::Time {
            input: input.to_owned(),
            reason,
        };
        let trimmed = input.trim();
        if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            let secs: u64 = trimmed.parse().map_err(|_| err("number out of range"))?;
            if secs > MAX_SECS {
                return Err(err("after year 9999"));
            }
            return Ok(Self(secs));
        }
        parse_rfc3339(trimmed.as_bytes()).map_err(err)
    }
}

impl FromStr for UnixTime {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Formats as RFC 3339 in UTC, e.g. `2022-07-06T14:18:22Z`.
impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day, hour, minute, second) = self.to_civil();
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z"
        )
    }
}

/// Formats a millisecond timestamp (the attestation document's unit) as RFC 3339 with
/// milliseconds, e.g. `2022-07-06T14:18:22.484Z`.
pub fn format_millis(millis: u64) -> String {
    let secs = UnixTime::from_secs(millis / 1000).to_string();
    // `secs` always ends in "Z"; splice the milliseconds in before it.
    match secs.strip_suffix('Z') {
        Some(prefix) => format!("{prefix}.{:03}Z", millis % 1000),
        None => secs,
    }
}

fn is_leap(year: u64) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (year ≥ 1970, valid month and day).
///
/// Counts in 400-year eras starting on March 1st so that the leap day is the last day of the
/// "year", which makes the day-of-year formula a closed form.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    // 719_468 days separate 0000-03-01 from 1970-01-01.
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// A cursor over ASCII bytes; every read is checked, so malformed input is an error, not a panic.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Result<u64, &'static str> {
        let (head, tail) = self.rest.split_at_checked(n).ok_or("truncated")?;
        let mut value = 0u64;
        for &b in head {
            if !b.is_ascii_digit() {
                return Err("expected a digit");
            }
            value = value * 10 + u64::from(b - b'0');
        }
        self.rest = tail;
        Ok(value)
    }

    fn byte(&mut self) -> Option<u8> {
        let (&first, tail) = self.rest.split_first()?;
        self.rest = tail;
        Some(first)
    }

    fn expect(&mut self, allowed: &[u8], what: &'static str) -> Result<u8, &'static str> {
        match self.byte() {
            Some(b) if allowed.contains(&b) => Ok(b),
            _ => Err(what),
        }
    }
}

fn parse_rfc3339(input: &[u8]) -> Result<UnixTime, &'static str> {
    let mut c = Cursor { rest: input };
    let year = c.digits(4)?;
    c.expect(b"-", "expected `-` after the year")?;
    let month = c.digits(2)?;
    c.expect(b"-", "expected `-` after the month")?;
    let day = c.digits(2)?;
    c.expect(b"Tt ", "expected `T` between date and time")?;
    let hour = c.digits(2)?;
    c.expect(b":", "expected `:` after the hour")?;
    let minute = c.digits(2)?;
    c.expect(b":", "expected `:` after the minute")?;
    let second = c.digits(2)?;

    if year < 1970 {
        return Err("before 1970");
    }
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err("no such date");
    }
    // A leap second (:60) is folded into the next second's count by clamping to :59, the usual
    // POSIX treatment.
    if hour > 23 || minute > 59 || second > 60 {
        return Err("no such time of day");
    }

    let mut next = c.byte();
    if next == Some(b'.') {
        let mut any = false;
        next = c.byte();
        while next.is_some_and(|b| b.is_ascii_digit()) {
            any = true;
            next = c.byte();
        }
        if !any {
            return Err("expected digits after `.`");
        }
    }
    let offset_secs: i64 = match next {
        Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let oh = c.digits(2)?;
            c.expect(b":", "expected `:` in the offset")?;
            let om = c.digits(2)?;
            if oh > 23 || om > 59 {
                return Err("no such offset");
            }
            let magnitude = i64::try_from(oh * 3600 + om * 60).map_err(|_| "no such offset")?;
            if sign == b'+' { magnitude } else { -magnitude }
        }
        _ => return Err("expected `Z` or an offset like `+02:00`"),
    };
    if !c.rest.is_empty() {
        return Err("trailing characters");
    }

    let local = days_from_civil(year, month, day) * SECS_PER_DAY
        + hour * 3600
        + minute * 60
        + second.min(59);
    // UTC = local time minus the offset.
    let local = i64::try_from(local).map_err(|_| "out of range")?;
    let utc = u64::try_from(local - offset_secs).map_err(|_| "before 1970")?;
    if utc > MAX_SECS {
        return Err("after year 9999");
    }
    Ok(UnixTime(utc))
}

#[cfg(test)]
mod tests;
