//! Five-field cron expressions (Vixie cron syntax) and their fire times in a time zone.
//!
//! Fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or `JAN`-`DEC`), day of
//! week (0-7 or `SUN`-`SAT`, 0 and 7 are Sunday). Each field is `*`, a number, a name, a range
//! `a-b`, any of those with a step `/n` (`a/n` means `a-max/n`), or a comma-separated list of
//! them; `?` means `*` in the two day fields. Macros: `@hourly`, `@daily`, `@midnight`,
//! `@weekly`, `@monthly`, `@yearly`, `@annually`.
//!
//! As in Vixie cron, when both day fields are restricted (neither starts with `*`), a day
//! matches if *either* matches (`0 0 1 * MON` is the 1st of each month and every Monday);
//! otherwise both must.
//!
//! Time zones: a schedule is read in civil (wall-clock) time. A time that does not exist because
//! the clocks jump forward (a DST gap) fires once, at the instant the gap ends. A time that
//! happens twice because the clocks go back (a DST overlap) fires at its first occurrence only,
//! except when the hour field is `*`: an hourly-or-finer schedule keeps firing through the
//! repeated hour, as in Vixie cron.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    /// Bits 0-6, Sunday = 0 (7 is folded onto 0 when parsing).
    days_of_week: u64,
    dom_star: bool,
    dow_star: bool,
    hour_star: bool,
}

/// Why an expression is not a schedule: names the field and the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronError {
    /// `minute`, `hour`, `day-of-month`, `month`, `day-of-week`, or `expression`.
    pub field: &'static str,
    pub token: String,
    pub problem: String,
}

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field == "expression" {
            write!(f, "{:?}: {}", self.token, self.problem)
        } else {
            write!(f, "{} field {:?}: {}", self.field, self.token, self.problem)
        }
    }
}

impl std::error::Error for CronError {}

struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// `?` allowed (the day fields).
    question: bool,
}

const MONTH_NAMES: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAY_NAMES: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const FIELDS: [FieldSpec; 5] = [
    FieldSpec {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
        question: false,
    },
    FieldSpec {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
        question: false,
    },
    FieldSpec {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
        question: true,
    },
    FieldSpec {
        name: "month",
        min: 1,
        max: 12,
        names: MONTH_NAMES,
        question: false,
    },
    FieldSpec {
        name: "day-of-week",
        min: 0,
        max: 7,
        names: DAY_NAMES,
        question: true,
    },
];

/// How far ahead [`Cron::next_after`] looks before deciding that a schedule never fires
/// (`0 0 30 2 *`). Leap days recur within 8 years (2096 to 2104).
const HORIZON_YEARS: i16 = 9;

impl Cron {
    /// Parses an expression; the error names the field and the bad token.
    pub fn parse(expression: &str) -> Result<Cron, CronError> {
        let trimmed = expression.trim();
        let expanded = match trimmed.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other if other.starts_with('@') => {
                return Err(CronError {
                    field: "expression",
                    token: trimmed.to_string(),
                    problem: "unknown macro: use @hourly, @daily, @midnight, @weekly, @monthly, @yearly or @annually".into(),
                });
            }
            _ => trimmed,
        };
        let parts: Vec<&str> = expanded.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(CronError {
                field: "expression",
                token: trimmed.to_string(),
                problem: format!(
                    "has {} fields; a schedule has five: minute hour day-of-month month day-of-week",
                    parts.len()
                ),
            });
        }
        let mut masks = [0u64; 5];
        for (i, (part, spec)) in parts.iter().zip(FIELDS.iter()).enumerate() {
            masks[i] = parse_field(part, spec)?;
        }
        // Sunday is 0 and 7.
        let mut dow = masks[4];
        if dow & (1 << 7) != 0 {
            dow = (dow & !(1 << 7)) | 1;
        }
        let star = |p: &str| p.starts_with('*') || p.starts_with('?');
        Ok(Cron {
            minutes: masks[0],
            hours: masks[1],
            days_of_month: masks[2],
            months: masks[3],
            days_of_week: dow,
            dom_star: star(parts[2]),
            dow_star: star(parts[4]),
            hour_star: star(parts[1]),
        })
    }

    fn day_matches(&self, date: Date) -> bool {
        let dom = bit(self.days_of_month, date.day() as u32);
        let dow = bit(
            self.days_of_week,
            date.weekday().to_sunday_zero_offset() as u32,
        );
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The first civil minute at or after `from` that the fields match, within the horizon.
    fn next_civil(&self, from: DateTime) -> Option<DateTime> {
        let limit = from.year().saturating_add(HORIZON_YEARS);
        let mut date = from.date();
        let mut hour = from.hour() as u32;
        let mut minute = from.minute() as u32;
        loop {
            if date.year() > limit {
                return None;
            }
            if !bit(self.months, date.month() as u32) {
                date = date
                    .first_of_month()
                    .checked_add(jiff::Span::new().months(1))
                    .ok()?;
                hour = 0;
                minute = 0;
                continue;
            }
            if !self.day_matches(date) {
                date = date.tomorrow().ok()?;
                hour = 0;
                minute = 0;
                continue;
            }
            let Some(h) = next_bit(self.hours, hour, 23) else {
                date = date.tomorrow().ok()?;
                hour = 0;
                minute = 0;
                continue;
            };
            if h != hour {
                hour = h;
                minute = 0;
            }
            let Some(m) = next_bit(self.minutes, minute, 59) else {
                hour += 1;
                minute = 0;
                if hour > 23 {
                    date = date.tomorrow().ok()?;
                    hour = 0;
                }
                continue;
            };
            return Some(date.at(hour as i8, m as i8, 0, 0));
        }
    }

    /// The first fire time strictly after `after`, in `tz`; `None` if the schedule never fires
    /// (e.g. `0 0 31 2 *`) within nine years.
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        // Civil times are not monotonic in real time across an overlap: start a little before
        // `after` in civil time and keep the earliest candidate after `after`.
        // Only needed near a transition (within three hours either way, e.g. in the first pass
        // of an overlap): otherwise start at `after`.
        const BACK: i64 = 3 * 3600;
        let window = jiff::SignedDuration::from_secs(BACK);
        let back = after.checked_sub(window).ok()?;
        let ahead = after.checked_add(window).ok()?;
        let offset = tz.to_offset(after);
        let from = if tz.to_offset(back) == offset && tz.to_offset(ahead) == offset {
            after
        } else {
            back
        };
        let start = tz
            .to_datetime(from)
            .with()
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .ok()?;
        let mut civil = start;
        let mut best: Option<Timestamp> = None;
        loop {
            let c = self.next_civil(civil)?;
            let (earliest, candidates) = self.instants(c, tz)?;
            if let Some(b) = best
                && earliest > b
            {
                return best;
            }
            for t in candidates.into_iter().flatten() {
                if t > after && best.is_none_or(|b| t < b) {
                    best = Some(t);
                }
            }
            civil = c.checked_add(jiff::Span::new().minutes(1)).ok()?;
        }
    }

    /// The instants a matching civil minute fires at, and a lower bound of them that is
    /// monotonic in civil time.
    fn instants(&self, c: DateTime, tz: &TimeZone) -> Option<(Timestamp, [Option<Timestamp>; 2])> {
        match tz.to_ambiguous_timestamp(c).offset() {
            AmbiguousOffset::Unambiguous { offset } => {
                let t = offset.to_timestamp(c).ok()?;
                Some((t, [Some(t), None]))
            }
            AmbiguousOffset::Gap { after, .. } => {
                // `after` read as the new offset is an instant before the jump; the jump is the
                // next transition.
                let before_jump = after.to_timestamp(c).ok()?;
                let end = tz.following(before_jump).next()?.timestamp();
                Some((end, [Some(end), None]))
            }
            AmbiguousOffset::Fold { before, after } => {
                let first = before.to_timestamp(c).ok()?;
                let second = after.to_timestamp(c).ok()?;
                let repeat = self.hour_star.then_some(second);
                Some((first, [Some(first), repeat]))
            }
        }
    }
}

fn bit(mask: u64, n: u32) -> bool {
    n < 64 && mask & (1 << n) != 0
}

fn next_bit(mask: u64, from: u32, max: u32) -> Option<u32> {
    (from..=max).find(|&n| bit(mask, n))
}

fn parse_field(text: &str, spec: &FieldSpec) -> Result<u64, CronError> {
    let err = |token: &str, problem: String| CronError {
        field: spec.name,
        token: token.to_string(),
        problem,
    };
    if text.is_empty() {
        return Err(err(text, "is empty".into()));
    }
    let mut mask = 0u64;
    for item in text.split(',') {
        if item.is_empty() {
            return Err(err(text, "has an empty list item".into()));
        }
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .map_err(|_| err(item, format!("step {s:?} is not a positive whole number")))?;
                if step == 0 || step > spec.max {
                    return Err(err(
                        item,
                        format!("step {step} is out of range 1-{}", spec.max),
                    ));
                }
                (r, Some(step))
            }
            None => (item, None),
        };
        let (lo, hi) = if range == "*" || (spec.question && range == "?") {
            (spec.min, spec.max)
        } else if let Some((a, b)) = range.split_once('-') {
            let lo = value(a, spec).map_err(|p| err(item, p))?;
            let hi = value(b, spec).map_err(|p| err(item, p))?;
            if lo > hi {
                return Err(err(
                    item,
                    format!("range {lo}-{hi} runs backwards; write it from low to high"),
                ));
            }
            (lo, hi)
        } else {
            let v = value(range, spec).map_err(|p| err(item, p))?;
            // `a/n` is `a-max/n`.
            (v, if step.is_some() { spec.max } else { v })
        };
        let step = step.unwrap_or(1);
        let mut n = lo;
        while n <= hi {
            mask |= 1 << n;
            n += step;
        }
    }
    Ok(mask)
}

fn value(text: &str, spec: &FieldSpec) -> Result<u32, String> {
    if let Some(i) = spec.names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        // Months count from 1, days of the week from 0.
        return Ok(i as u32 + spec.min);
    }
    let v: u32 = text.parse().map_err(|_| {
        if spec.names.is_empty() {
            format!("{text:?} is not a number")
        } else {
            format!(
                "{text:?} is neither a number nor one of {}",
                spec.names.join(", ")
            )
        }
    })?;
    if v < spec.min || v > spec.max {
        return Err(format!("{v} is out of range {}-{}", spec.min, spec.max));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn utc() -> TimeZone {
        TimeZone::UTC
    }

    fn next(expr: &str, after: &str, tz: &TimeZone) -> Option<String> {
        Cron::parse(expr)
            .unwrap()
            .next_after(ts(after), tz)
            .map(|t| t.to_string())
    }

    fn fires(expr: &str, after: &str, tz: &TimeZone, n: usize) -> Vec<String> {
        let cron = Cron::parse(expr).unwrap();
        let mut t = ts(after);
        let mut out = Vec::new();
        for _ in 0..n {
            t = cron.next_after(t, tz).unwrap();
            out.push(t.to_string());
        }
        out
    }

    #[test]
    fn every_minute_is_strictly_after() {
        assert_eq!(
            next("* * * * *", "2026-01-01T00:00:00Z", &utc()).unwrap(),
            "2026-01-01T00:01:00Z"
        );
        assert_eq!(
            next("* * * * *", "2026-01-01T00:00:30Z", &utc()).unwrap(),
            "2026-01-01T00:01:00Z"
        );
    }

    #[test]
    fn macros() {
        let after = "2026-03-15T10:30:00Z";
        assert_eq!(
            next("@hourly", after, &utc()).unwrap(),
            "2026-03-15T11:00:00Z"
        );
        assert_eq!(
            next("@daily", after, &utc()).unwrap(),
            "2026-03-16T00:00:00Z"
        );
        assert_eq!(
            next("@midnight", after, &utc()).unwrap(),
            "2026-03-16T00:00:00Z"
        );
        // 2026-03-15 is a Sunday.
        assert_eq!(
            next("@weekly", after, &utc()).unwrap(),
            "2026-03-22T00:00:00Z"
        );
        assert_eq!(
            next("@monthly", after, &utc()).unwrap(),
            "2026-04-01T00:00:00Z"
        );
        assert_eq!(
            next("@yearly", after, &utc()).unwrap(),
            "2027-01-01T00:00:00Z"
        );
        assert_eq!(
            next("@annually", after, &utc()).unwrap(),
            "2027-01-01T00:00:00Z"
        );
        assert!(Cron::parse("@fortnightly").is_err());
    }

    #[test]
    fn ranges_steps_lists_and_names() {
        assert_eq!(
            fires("*/15 * * * *", "2026-01-01T00:00:00Z", &utc(), 3),
            [
                "2026-01-01T00:15:00Z",
                "2026-01-01T00:30:00Z",
                "2026-01-01T00:45:00Z"
            ]
        );
        assert_eq!(
            fires("5,10-12 9-17/4 * * *", "2026-01-01T00:00:00Z", &utc(), 5),
            [
                "2026-01-01T09:05:00Z",
                "2026-01-01T09:10:00Z",
                "2026-01-01T09:11:00Z",
                "2026-01-01T09:12:00Z",
                "2026-01-01T13:05:00Z"
            ]
        );
        // `a/n` runs to the field's maximum.
        assert_eq!(
            fires("50/5 0 * * *", "2026-01-01T00:00:00Z", &utc(), 3),
            [
                "2026-01-01T00:50:00Z",
                "2026-01-01T00:55:00Z",
                "2026-01-02T00:50:00Z"
            ]
        );
        // Names, case-insensitive; 2026-01-01 is a Thursday.
        assert_eq!(
            next("0 12 * feb-MAR mon-wed", "2026-01-01T00:00:00Z", &utc()).unwrap(),
            "2026-02-02T12:00:00Z"
        );
        assert_eq!(
            Cron::parse("0 0 * JAN,DEC SUN").unwrap(),
            Cron::parse("0 0 * 1,12 0").unwrap()
        );
        // 7 is Sunday too.
        assert_eq!(
            Cron::parse("0 0 * * 7").unwrap(),
            Cron::parse("0 0 * * 0").unwrap()
        );
    }

    #[test]
    fn day_of_month_and_week_or_semantics() {
        // Both restricted: the 13th OR a Friday. 2026-02-01 is a Sunday; Friday is the 6th.
        assert_eq!(
            fires("0 0 13 * FRI", "2026-02-01T00:00:00Z", &utc(), 3),
            [
                "2026-02-06T00:00:00Z",
                "2026-02-13T00:00:00Z",
                "2026-02-20T00:00:00Z"
            ]
        );
        // One of them `*`: both must match (every Friday).
        assert_eq!(
            fires("0 0 * * FRI", "2026-02-01T00:00:00Z", &utc(), 2),
            ["2026-02-06T00:00:00Z", "2026-02-13T00:00:00Z"]
        );
        // `*/2` starts with `*`: AND semantics, as Vixie cron.
        assert_eq!(
            next("0 0 */2 * MON", "2026-02-01T00:00:00Z", &utc()).unwrap(),
            "2026-02-09T00:00:00Z"
        );
        // `?` is `*` in the day fields.
        assert_eq!(
            Cron::parse("0 0 ? * MON")
                .unwrap()
                .next_after(ts("2026-02-01T00:00:00Z"), &utc()),
            Some(ts("2026-02-02T00:00:00Z"))
        );
    }

    #[test]
    fn leap_days_and_never() {
        assert_eq!(
            next("0 0 29 2 *", "2026-01-01T00:00:00Z", &utc()).unwrap(),
            "2028-02-29T00:00:00Z"
        );
        assert_eq!(next("0 0 31 2 *", "2026-01-01T00:00:00Z", &utc()), None);
        assert_eq!(
            next("0 0 31 * *", "2026-04-01T00:00:00Z", &utc()).unwrap(),
            "2026-05-31T00:00:00Z"
        );
    }

    #[test]
    fn errors_name_the_field_and_token() {
        let e = Cron::parse("61 * * * *").unwrap_err();
        assert_eq!(e.field, "minute");
        assert_eq!(e.token, "61");
        assert_eq!(
            e.to_string(),
            "minute field \"61\": 61 is out of range 0-59"
        );
        let e = Cron::parse("0 24 * * *").unwrap_err();
        assert_eq!((e.field, e.token.as_str()), ("hour", "24"));
        let e = Cron::parse("0 0 0 * *").unwrap_err();
        assert_eq!(e.field, "day-of-month");
        let e = Cron::parse("0 0 * FOO *").unwrap_err();
        assert_eq!((e.field, e.token.as_str()), ("month", "FOO"));
        assert!(e.problem.contains("JAN"), "{e}");
        let e = Cron::parse("0 0 * * 8").unwrap_err();
        assert_eq!(e.field, "day-of-week");
        let e = Cron::parse("*/0 * * * *").unwrap_err();
        assert!(e.problem.contains("step"), "{e}");
        let e = Cron::parse("5-1 * * * *").unwrap_err();
        assert!(e.problem.contains("backwards"), "{e}");
        let e = Cron::parse("1,,2 * * * *").unwrap_err();
        assert_eq!(e.field, "minute");
        let e = Cron::parse("* * * *").unwrap_err();
        assert_eq!(e.field, "expression");
        assert!(e.to_string().contains("five"), "{e}");
        assert!(
            Cron::parse("? * * * *").is_err(),
            "? only in the day fields"
        );
        assert!(Cron::parse("* * * * * *").is_err());
    }

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").expect("bundled tzdb")
    }

    #[test]
    fn time_zone() {
        // 03:00 Berlin is 02:00 UTC in winter and 01:00 UTC in summer.
        assert_eq!(
            next("0 3 * * *", "2026-01-10T00:00:00Z", &berlin()).unwrap(),
            "2026-01-10T02:00:00Z"
        );
        assert_eq!(
            next("0 3 * * *", "2026-07-10T00:00:00Z", &berlin()).unwrap(),
            "2026-07-10T01:00:00Z"
        );
    }

    #[test]
    fn dst_gap_fires_once_at_the_end_of_the_gap() {
        // 2026-03-29: Berlin jumps from 02:00 CET to 03:00 CEST (01:00 UTC).
        assert_eq!(
            next("30 2 * * *", "2026-03-28T12:00:00Z", &berlin()).unwrap(),
            "2026-03-29T01:00:00Z"
        );
        // Every 15 minutes of the missing hour collapse into one run at the jump.
        assert_eq!(
            fires("*/15 2 * * *", "2026-03-29T00:50:00Z", &berlin(), 2),
            ["2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"]
        );
        // Times around the gap are unaffected.
        assert_eq!(
            fires("0 * * * *", "2026-03-28T23:30:00Z", &berlin(), 3),
            [
                "2026-03-29T00:00:00Z",
                "2026-03-29T01:00:00Z",
                "2026-03-29T02:00:00Z"
            ]
        );
    }

    #[test]
    fn dst_overlap_fires_once_unless_hourly() {
        // 2026-10-25: Berlin goes back from 03:00 CEST (01:00 UTC) to 02:00 CET.
        // A fixed time in the repeated hour runs once, at its first occurrence.
        assert_eq!(
            fires("30 2 * * *", "2026-10-24T12:00:00Z", &berlin(), 2),
            ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]
        );
        // With `*` hours the repeated hour runs again.
        assert_eq!(
            fires("30 * * * *", "2026-10-24T23:00:00Z", &berlin(), 4),
            [
                "2026-10-24T23:30:00Z",
                "2026-10-25T00:30:00Z",
                "2026-10-25T01:30:00Z",
                "2026-10-25T02:30:00Z"
            ]
        );
    }

    #[test]
    fn dst_overlap_from_inside_either_pass() {
        // 00:50Z is 02:50 CEST (first pass); 01:00Z is 02:00 CET (second pass).
        assert_eq!(
            fires("*/20 * * * *", "2026-10-25T00:50:00Z", &berlin(), 4),
            [
                "2026-10-25T01:00:00Z",
                "2026-10-25T01:20:00Z",
                "2026-10-25T01:40:00Z",
                "2026-10-25T02:00:00Z"
            ]
        );
        // From inside the second pass, a fixed time already run in the first pass is not repeated.
        assert_eq!(
            next("30 2 * * *", "2026-10-25T01:10:00Z", &berlin()).unwrap(),
            "2026-10-26T01:30:00Z"
        );
    }

    /// The first matching minute after `after`, by scanning every minute (UTC).
    fn brute_force(cron: &Cron, after: Timestamp, limit_days: i64) -> Option<Timestamp> {
        let mut t =
            Timestamp::from_second(after.as_second() - after.as_second().rem_euclid(60) + 60)
                .unwrap();
        let end = after.as_second() + limit_days * 86400;
        while t.as_second() <= end {
            let dt = TimeZone::UTC.to_datetime(t);
            if bit(cron.months, dt.month() as u32)
                && cron.day_matches(dt.date())
                && bit(cron.hours, dt.hour() as u32)
                && bit(cron.minutes, dt.minute() as u32)
            {
                return Some(t);
            }
            t = Timestamp::from_second(t.as_second() + 60).unwrap();
        }
        None
    }

    #[test]
    fn agrees_with_scanning_every_minute() {
        let expressions = [
            "* * * * *",
            "*/7 * * * *",
            "0 */5 * * *",
            "15,45 9-17 * * MON-FRI",
            "0 0 1,15 * *",
            "0 12 * * SAT,SUN",
            "30 3 13 * FRI",
            "5 4 * * 0",
            "0 0 */3 * *",
            "59 23 31 * *",
            "0 6 * JAN,APR,JUL,OCT 1",
            "1-5/2 22 * * *",
        ];
        // Start times spread over a leap year, at odd seconds.
        let starts: Vec<Timestamp> = (0..40)
            .map(|i| Timestamp::from_second(1_704_067_200 + i * 790_003 + 17).unwrap())
            .collect();
        for expr in expressions {
            let cron = Cron::parse(expr).unwrap();
            for &after in &starts {
                let next = cron.next_after(after, &TimeZone::UTC);
                match brute_force(&cron, after, 40) {
                    Some(expected) => assert_eq!(next, Some(expected), "{expr} after {after}"),
                    None => assert!(
                        next.is_some_and(|n| n.as_second() > after.as_second() + 40 * 86400),
                        "{expr} after {after}: {next:?}"
                    ),
                }
            }
        }
    }

    #[test]
    fn far_sparse_schedules_are_found() {
        // Leap-day Mondays: the day fields are ORed, so this is every Feb 29 or every Monday in
        // February.
        let c = Cron::parse("0 0 29 2 MON").unwrap();
        assert!(c.next_after(ts("2026-03-01T00:00:00Z"), &utc()).is_some());
    }
}
