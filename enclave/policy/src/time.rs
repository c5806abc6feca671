//! Time: RFC 3339 timestamps, `CronSpan` schedules, durations and the built-in time zones.
//!
//! keyhold carries no time zone database (the enclave's dependency tree stays small). It knows
//! the zones in [`zone_names`] (and `Etc/GMT±N`) with their current daylight-saving rules; any other zone name is
//! refused when the policy is created, never guessed at evaluation time.

use crate::value::Timestamp;

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn num(s: &str, len: usize) -> Option<u32> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

pub(crate) fn parse_rfc3339(s: &str) -> Result<Timestamp, &'static str> {
    const BAD: &str = "expected an RFC 3339 timestamp such as `2025-01-01T00:00:00Z`";
    let (date, rest) = s.split_once(['T', 't']).ok_or(BAD)?;
    let mut d = date.split('-');
    let (Some(y), Some(mo), Some(da), None) = (d.next(), d.next(), d.next(), d.next()) else {
        return Err(BAD);
    };
    let (y, mo, da) = (
        num(y, 4).ok_or(BAD)?,
        num(mo, 2).ok_or(BAD)?,
        num(da, 2).ok_or(BAD)?,
    );
    let (time, zero_offset) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
        (t, true)
    } else if let Some(t) = rest
        .strip_suffix("+00:00")
        .or_else(|| rest.strip_suffix("-00:00"))
    {
        (t, true)
    } else {
        (rest, false)
    };
    if !zero_offset {
        let has_offset = rest.len() > 6
            && rest
                .get(rest.len() - 6..)
                .is_some_and(|o| o.starts_with(['+', '-']));
        return Err(if has_offset {
            "timestamps must have a zero UTC offset (`Z` or `+00:00`)"
        } else {
            BAD
        });
    }
    let (hms, frac) = match time.split_once('.') {
        Some((a, f)) => (a, Some(f)),
        None => (time, None),
    };
    let mut t = hms.split(':');
    let (Some(h), Some(mi), Some(se), None) = (t.next(), t.next(), t.next(), t.next()) else {
        return Err(BAD);
    };
    let (h, mi, se) = (
        num(h, 2).ok_or(BAD)?,
        num(mi, 2).ok_or(BAD)?,
        num(se, 2).ok_or(BAD)?,
    );
    if !(1..=12).contains(&mo)
        || da == 0
        || da > days_in_month(i64::from(y), mo)
        || h > 23
        || mi > 59
        || se > 60
    {
        return Err("the timestamp is not a valid date and time");
    }
    let mut nanos: i128 = 0;
    if let Some(f) = frac {
        if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BAD);
        }
        let digits: i128 = f.parse().map_err(|_| BAD)?;
        nanos = digits * 10i128.pow(9 - f.len() as u32);
    }
    let days = days_from_civil(i64::from(y), mo, da);
    let secs = i128::from(days) * 86_400 + i128::from(h * 3600 + mi * 60 + se.min(59));
    Ok(Timestamp::from_unix_nanos(secs * 1_000_000_000 + nanos))
}

/// `1d12h`, `8h`, `90m`: whole days, hours and minutes in that order, at least one part.
pub(crate) fn parse_duration_minutes(s: &str) -> Result<u32, String> {
    let bad = || {
        format!(
            "invalid duration `{s}`: expected whole days, hours and minutes such as `8h`, `90m` or `1d12h`"
        )
    };
    let mut total: u64 = 0;
    let mut digits = String::new();
    let mut last_unit = 0u8;
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            if digits.len() > 6 {
                return Err(bad());
            }
            continue;
        }
        let (rank, mult) = match c {
            'd' => (1u8, 1440u64),
            'h' => (2, 60),
            'm' => (3, 1),
            _ => return Err(bad()),
        };
        if digits.is_empty() || rank <= last_unit {
            return Err(bad());
        }
        let n: u64 = digits.parse().map_err(|_| bad())?;
        total = total.saturating_add(n.saturating_mul(mult));
        digits.clear();
        last_unit = rank;
    }
    if !digits.is_empty() || last_unit == 0 {
        return Err(bad());
    }
    if total == 0 {
        return Err("a duration must be greater than zero".to_owned());
    }
    u32::try_from(total).map_err(|_| bad())
}

/// Daylight-saving rule of a built-in zone.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dst {
    None,
    /// United States and Canada since 2007: second Sunday of March 02:00 local standard time to
    /// first Sunday of November 02:00 local daylight time.
    Us,
    /// European Union: last Sunday of March 01:00 UTC to last Sunday of October 01:00 UTC.
    Eu,
}

static ZONE_TABLE: &[(&str, i32, Dst)] = &[
    ("UTC", 0, Dst::None),
    ("Etc/UTC", 0, Dst::None),
    ("GMT", 0, Dst::None),
    ("America/New_York", -300, Dst::Us),
    ("America/Toronto", -300, Dst::Us),
    ("America/Chicago", -360, Dst::Us),
    ("America/Denver", -420, Dst::Us),
    ("America/Phoenix", -420, Dst::None),
    ("America/Los_Angeles", -480, Dst::Us),
    ("America/Vancouver", -480, Dst::Us),
    ("America/Anchorage", -540, Dst::Us),
    ("Pacific/Honolulu", -600, Dst::None),
    ("America/Sao_Paulo", -180, Dst::None),
    ("Europe/London", 0, Dst::Eu),
    ("Europe/Dublin", 0, Dst::Eu),
    ("Europe/Lisbon", 0, Dst::Eu),
    ("Europe/Paris", 60, Dst::Eu),
    ("Europe/Berlin", 60, Dst::Eu),
    ("Europe/Madrid", 60, Dst::Eu),
    ("Europe/Rome", 60, Dst::Eu),
    ("Europe/Amsterdam", 60, Dst::Eu),
    ("Europe/Brussels", 60, Dst::Eu),
    ("Europe/Zurich", 60, Dst::Eu),
    ("Europe/Vienna", 60, Dst::Eu),
    ("Europe/Stockholm", 60, Dst::Eu),
    ("Europe/Warsaw", 60, Dst::Eu),
    ("Europe/Prague", 60, Dst::Eu),
    ("Europe/Athens", 120, Dst::Eu),
    ("Europe/Helsinki", 120, Dst::Eu),
    ("Europe/Kyiv", 120, Dst::Eu),
    ("Asia/Dubai", 240, Dst::None),
    ("Asia/Kolkata", 330, Dst::None),
    ("Asia/Singapore", 480, Dst::None),
    ("Asia/Hong_Kong", 480, Dst::None),
    ("Asia/Shanghai", 480, Dst::None),
    ("Asia/Tokyo", 540, Dst::None),
    ("Asia/Seoul", 540, Dst::None),
    ("Australia/Brisbane", 600, Dst::None),
];

/// The names of the built-in time zones (plus `Etc/GMT+N` / `Etc/GMT-N`).
pub fn zone_names() -> impl Iterator<Item = &'static str> {
    ZONE_TABLE.iter().map(|(n, _, _)| *n)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Zone {
    std_offset: i32,
    dst: Dst,
}

pub(crate) fn zone(name: &str) -> Option<Zone> {
    if let Some((_, off, dst)) = ZONE_TABLE.iter().find(|(n, _, _)| *n == name) {
        return Some(Zone {
            std_offset: *off,
            dst: *dst,
        });
    }
    // POSIX-style: `Etc/GMT+5` is five hours *west* of UTC.
    let rest = name.strip_prefix("Etc/GMT")?;
    let (sign, hours) = match rest.split_at_checked(1)? {
        ("+", h) => (-1, h),
        ("-", h) => (1, h),
        _ => return None,
    };
    let h: i32 = if hours.len() <= 2 && hours.bytes().all(|b| b.is_ascii_digit()) {
        hours.parse().ok()?
    } else {
        return None;
    };
    (h <= 14).then_some(Zone {
        std_offset: sign * h * 60,
        dst: Dst::None,
    })
}

/// Day number of the `n`th (1-based) Sunday of a month, or the last one when `n == 0`.
fn sunday(y: i64, m: u32, n: u32) -> i64 {
    if n == 0 {
        let last = days_from_civil(y, m, days_in_month(y, m));
        let wd = weekday(last);
        return last - i64::from(wd);
    }
    let first = days_from_civil(y, m, 1);
    let wd = weekday(first);
    first + i64::from((7 - wd) % 7) + 7 * i64::from(n - 1)
}

/// 0 = Sunday.
fn weekday(days: i64) -> u32 {
    (days + 4).rem_euclid(7) as u32
}

impl Zone {
    /// Offset from UTC in minutes at the UTC minute `m`.
    fn offset_at(self, utc_min: i64) -> i64 {
        let std = i64::from(self.std_offset);
        let (y, _, _) = civil_from_days(utc_min.div_euclid(1440));
        let (start, end) = match self.dst {
            Dst::None => return std,
            Dst::Us => (
                sunday(y, 3, 2) * 1440 + 120 - std,
                sunday(y, 11, 1) * 1440 + 120 - (std + 60),
            ),
            Dst::Eu => (sunday(y, 3, 0) * 1440 + 60, sunday(y, 10, 0) * 1440 + 60),
        };
        if (start..end).contains(&utc_min) {
            std + 60
        } else {
            std
        }
    }
}

/// One cron field as a bit set.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Field {
    bits: u64,
    star: bool,
}

impl Field {
    fn has(self, v: u32) -> bool {
        v < 64 && self.bits & (1u64 << v) != 0
    }
}

/// A validated `CronSpan(cron, duration, tz)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct CronSpan {
    minute: Field,
    hour: Field,
    dom: Field,
    month: Field,
    dow: Field,
    duration_min: u32,
    zone: Zone,
}

fn parse_field(s: &str, name: &str, lo: u32, hi: u32) -> Result<Field, String> {
    if s == "*" {
        let mut bits = 0u64;
        for v in lo..=hi {
            bits |= 1 << v;
        }
        return Ok(Field { bits, star: true });
    }
    let mut bits = 0u64;
    for item in s.split(',') {
        let parse = |t: &str| -> Result<u32, String> {
            let v: u32 = if !t.is_empty() && t.len() <= 2 && t.bytes().all(|b| b.is_ascii_digit()) {
                t.parse().map_err(|_| String::new())?
            } else {
                return Err(format!(
                    "invalid cron {name} `{s}`: only numbers, ranges `a-b`, lists `a,b` and `*` are supported"
                ));
            };
            if v < lo || v > hi {
                return Err(format!("cron {name} `{v}` is outside {lo}-{hi}"));
            }
            Ok(v)
        };
        let (a, b) = match item.split_once('-') {
            Some((a, b)) => (parse(a)?, parse(b)?),
            None => {
                let v = parse(item)?;
                (v, v)
            }
        };
        if a > b {
            return Err(format!("cron {name} range `{item}` is backwards"));
        }
        for v in a..=b {
            bits |= 1 << v;
        }
    }
    Ok(Field { bits, star: false })
}

pub(crate) fn parse_cron_span(cron: &str, duration: &str, tz: &str) -> Result<CronSpan, String> {
    let parts: Vec<&str> = cron.split_whitespace().collect();
    let [mi, h, dom, mo, dow] = parts.as_slice() else {
        return Err(format!(
            "cron `{cron}` must have 5 fields (minute hour day-of-month month day-of-week)"
        ));
    };
    let duration_min = parse_duration_minutes(duration)?;
    if duration_min > 7 * 1440 {
        return Err("a CronSpan duration must be at most 7 days".to_owned());
    }
    let zone = zone(tz).ok_or_else(|| format!("time zone `{tz}` is not supported by keyhold"))?;
    Ok(CronSpan {
        minute: parse_field(mi, "minute", 0, 59)?,
        hour: parse_field(h, "hour", 0, 23)?,
        dom: parse_field(dom, "day-of-month", 1, 31)?,
        month: parse_field(mo, "month", 1, 12)?,
        dow: parse_field(dow, "day-of-week", 0, 6)?,
        duration_min,
        zone,
    })
}

impl CronSpan {
    fn fires_at_local(&self, local_min: i64) -> bool {
        let days = local_min.div_euclid(1440);
        let in_day = local_min.rem_euclid(1440);
        let (_, m, d) = civil_from_days(days);
        let day_ok = match (self.dom.star, self.dow.star) {
            (false, false) => self.dom.has(d) || self.dow.has(weekday(days)),
            _ => self.dom.has(d) && self.dow.has(weekday(days)),
        };
        self.minute.has((in_day % 60) as u32)
            && self.hour.has((in_day / 60) as u32)
            && self.month.has(m)
            && day_ok
    }

    /// Whether `now` is inside a window `[fire, fire + duration)` for some fire time.
    pub(crate) fn contains(&self, now: Timestamp) -> bool {
        let Ok(now_min) = i64::try_from(now.unix_seconds().div_euclid(60)) else {
            return false;
        };
        let first = now_min - i64::from(self.duration_min) + 1;
        (first..=now_min).any(|utc_min| self.fires_at_local(utc_min + self.zone.offset_at(utc_min)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        parse_rfc3339(s).unwrap()
    }

    #[test]
    fn rfc3339() {
        assert_eq!(ts("1970-01-01T00:00:00Z"), Timestamp::from_unix_seconds(0));
        assert_eq!(
            ts("2025-01-01T00:00:00Z"),
            Timestamp::from_unix_seconds(1_735_689_600)
        );
        assert_eq!(ts("2025-01-01t00:00:00z"), ts("2025-01-01T00:00:00+00:00"));
        assert_eq!(ts("2025-01-01T00:00:00-00:00"), ts("2025-01-01T00:00:00Z"));
        assert!(ts("2025-01-01T00:00:00.5Z") > ts("2025-01-01T00:00:00Z"));
        assert_eq!(
            parse_rfc3339("2025-01-01T00:00:00-05:00"),
            Err("timestamps must have a zero UTC offset (`Z` or `+00:00`)")
        );
        assert!(parse_rfc3339("2025-02-30T00:00:00Z").is_err());
        assert!(parse_rfc3339("2025-01-01").is_err());
        assert!(parse_rfc3339("").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_minutes("8h"), Ok(480));
        assert_eq!(parse_duration_minutes("90m"), Ok(90));
        assert_eq!(parse_duration_minutes("1d12h"), Ok(2160));
        assert!(parse_duration_minutes("12h1d").is_err());
        assert!(parse_duration_minutes("1.5h").is_err());
        assert!(parse_duration_minutes("30s").is_err());
        assert!(parse_duration_minutes("0h").is_err());
        assert!(parse_duration_minutes("").is_err());
    }

    #[test]
    fn cron_span_new_york_business_hours() {
        let span = parse_cron_span("0 9 * * 1-5", "8h", "America/New_York").unwrap();
        // Wednesday 2025-01-15 (EST, UTC-5): 09:00 local is 14:00 UTC.
        assert!(!span.contains(ts("2025-01-15T13:59:00Z")));
        assert!(span.contains(ts("2025-01-15T14:00:00Z")));
        assert!(span.contains(ts("2025-01-15T21:59:59Z")));
        assert!(!span.contains(ts("2025-01-15T22:00:00Z")));
        // Saturday.
        assert!(!span.contains(ts("2025-01-18T15:00:00Z")));
        // Wednesday 2025-07-16 (EDT, UTC-4): 09:00 local is 13:00 UTC.
        assert!(span.contains(ts("2025-07-16T13:00:00Z")));
        assert!(!span.contains(ts("2025-07-16T12:59:00Z")));
    }

    #[test]
    fn cron_rejects_unsupported_syntax() {
        assert!(parse_cron_span("*/5 * * * *", "1h", "UTC").is_err());
        assert!(parse_cron_span("@daily", "1h", "UTC").is_err());
        assert!(parse_cron_span("0 9 * JAN *", "1h", "UTC").is_err());
        assert!(parse_cron_span("0 0 9 * * *", "1h", "UTC").is_err());
        assert!(parse_cron_span("0 9 * * 7", "1h", "UTC").is_err());
        assert!(parse_cron_span("0 9 * * *", "8d", "UTC").is_err());
        assert!(parse_cron_span("0 9 * * *", "1h", "Mars/Olympus").is_err());
        assert!(parse_cron_span("0 9 * * *", "1h", "Etc/GMT+5").is_ok());
    }

    #[test]
    fn dom_and_dow_are_ored() {
        // Fires on the 1st of the month OR on Mondays.
        let span = parse_cron_span("0 0 1 * 1", "1m", "UTC").unwrap();
        assert!(span.contains(ts("2025-01-01T00:00:00Z"))); // Wednesday the 1st
        assert!(span.contains(ts("2025-01-06T00:00:30Z"))); // Monday the 6th
        assert!(!span.contains(ts("2025-01-07T00:00:00Z")));
    }
}
