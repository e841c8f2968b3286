//! When a ReplayJob runs: its schedule, the next run, and what to do about runs missed while no
//! operator was leading. Pure: the caller passes the clock.
//!
//! A scheduled time counts as *handled* once a run started for it or it was skipped (missed,
//! forbidden by `concurrencyPolicy`, or suspended); `status.lastScheduleTime` is the most recent
//! handled time. After a restart there is at most one catch-up run: for the most recent missed
//! time, and only if it is within `startingDeadlineSeconds` (always, when unset). Older missed
//! times are skipped, never run one by one.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::cron::Cron;

/// A parsed `spec.schedule` with its `spec.timeZone`.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub cron: Cron,
    pub tz: TimeZone,
}

/// Why a ReplayJob's schedule cannot be used; each is a `Ready=False` reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleError {
    InvalidSchedule(String),
    InvalidTimeZone(String),
}

impl ScheduleError {
    pub fn reason(&self) -> &'static str {
        match self {
            ScheduleError::InvalidSchedule(_) => "InvalidSchedule",
            ScheduleError::InvalidTimeZone(_) => "InvalidTimeZone",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            ScheduleError::InvalidSchedule(m) | ScheduleError::InvalidTimeZone(m) => m,
        }
    }
}

impl Schedule {
    /// Parses the schedule and time zone; `now` checks that the schedule fires at all.
    pub fn parse(
        schedule: &str,
        time_zone: Option<&str>,
        now: Timestamp,
    ) -> Result<Schedule, ScheduleError> {
        let cron = Cron::parse(schedule).map_err(|e| {
            ScheduleError::InvalidSchedule(format!(
                "spec.schedule {schedule:?} is not a cron schedule: {e}; fix spec.schedule (five fields: minute hour day-of-month month day-of-week, or @hourly, @daily, ...)"
            ))
        })?;
        let tz = match time_zone {
            None | Some("UTC") => TimeZone::UTC,
            Some(name) => TimeZone::get(name).map_err(|_| {
                ScheduleError::InvalidTimeZone(format!(
                    "spec.timeZone {name:?} is not an IANA time zone; fix spec.timeZone (e.g. Europe/Berlin) or remove it for UTC"
                ))
            })?,
        };
        if cron.next_after(now, &tz).is_none() {
            return Err(ScheduleError::InvalidSchedule(format!(
                "spec.schedule {schedule:?} never fires (no such date); fix spec.schedule"
            )));
        }
        Ok(Schedule { cron, tz })
    }

    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        self.cron.next_after(t, &self.tz)
    }

    /// The most recent fire time in `(after, until]`, found without walking every slot of a
    /// long outage: after a bounded number of steps the walk jumps to two days before `until`.
    pub fn latest_in(&self, after: Timestamp, until: Timestamp) -> Option<Timestamp> {
        const STEPS: usize = 5000;
        let first = self.next_after(after).filter(|t| *t <= until)?;
        let mut last = first;
        let mut steps = 0;
        let mut jumped = false;
        loop {
            match self.next_after(last) {
                Some(t) if t <= until => last = t,
                _ => return Some(last),
            }
            steps += 1;
            if steps >= STEPS {
                if jumped {
                    return Some(last);
                }
                jumped = true;
                steps = 0;
                let jump = until - jiff::SignedDuration::from_hours(48);
                if jump > last {
                    // Something fires in the last two days, or `last` is the answer.
                    if let Some(t) = self.latest_from(jump, until) {
                        return Some(t);
                    }
                    return Some(last);
                }
            }
        }
    }

    fn latest_from(&self, after: Timestamp, until: Timestamp) -> Option<Timestamp> {
        let mut last = self.next_after(after).filter(|t| *t <= until)?;
        while let Some(t) = self.next_after(last).filter(|t| *t <= until) {
            last = t;
        }
        Some(last)
    }
}

/// What is due now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Start a run for `scheduled`; `caught_up` when older missed times were skipped for it.
    Run {
        scheduled: Timestamp,
        caught_up: bool,
    },
    /// `scheduled` (the most recent missed time) is more than `startingDeadlineSeconds` old:
    /// skip it and record it as handled.
    Missed { scheduled: Timestamp },
}

impl Due {
    pub fn scheduled(&self) -> Timestamp {
        match self {
            Due::Run { scheduled, .. } | Due::Missed { scheduled } => *scheduled,
        }
    }
}

/// The scheduling decision for one look at a ReplayJob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub due: Option<Due>,
    /// The next scheduled time after now (and after the one handled now).
    pub next: Option<Timestamp>,
}

/// Decides what is due: `last_handled` is `status.lastScheduleTime`, `created` the job's
/// creation time (the first run is the first fire time after it).
pub fn decide(
    schedule: &Schedule,
    last_handled: Option<Timestamp>,
    created: Timestamp,
    now: Timestamp,
    starting_deadline_seconds: Option<i64>,
) -> Decision {
    let since = last_handled.unwrap_or(created);
    let next = schedule.next_after(now.max(since));
    let Some(latest) = schedule.latest_in(since, now) else {
        return Decision { due: None, next };
    };
    let caught_up = schedule
        .next_after(since)
        .is_some_and(|first| first < latest);
    let late = now.duration_since(latest).as_secs();
    let due = match starting_deadline_seconds {
        Some(deadline) if late > deadline => Due::Missed { scheduled: latest },
        _ => Due::Run {
            scheduled: latest,
            caught_up,
        },
    };
    Decision {
        due: Some(due),
        next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn utc(expr: &str) -> Schedule {
        Schedule::parse(expr, None, ts("2026-01-01T00:00:00Z")).unwrap()
    }

    #[test]
    fn invalid_schedules_and_zones_say_what_to_fix() {
        let now = ts("2026-01-01T00:00:00Z");
        let e = Schedule::parse("61 * * * *", None, now).unwrap_err();
        assert_eq!(e.reason(), "InvalidSchedule");
        assert!(
            e.message().contains("minute field \"61\""),
            "{}",
            e.message()
        );
        assert!(e.message().contains("fix spec.schedule"), "{}", e.message());
        let e = Schedule::parse("0 0 30 2 *", None, now).unwrap_err();
        assert_eq!(e.reason(), "InvalidSchedule");
        assert!(e.message().contains("never fires"));
        let e = Schedule::parse("0 3 * * *", Some("Mars/Olympus_Mons"), now).unwrap_err();
        assert_eq!(e.reason(), "InvalidTimeZone");
        assert!(e.message().contains("spec.timeZone"));
        assert!(Schedule::parse("0 3 * * *", Some("Europe/Berlin"), now).is_ok());
        assert!(Schedule::parse("0 3 * * *", Some("UTC"), now).is_ok());
    }

    #[test]
    fn nothing_due_before_the_first_fire_time() {
        let s = utc("0 3 * * *");
        let d = decide(
            &s,
            None,
            ts("2026-01-01T04:00:00Z"),
            ts("2026-01-01T05:00:00Z"),
            None,
        );
        assert_eq!(d.due, None);
        assert_eq!(d.next, Some(ts("2026-01-02T03:00:00Z")));
    }

    #[test]
    fn a_due_run() {
        let s = utc("0 3 * * *");
        let d = decide(
            &s,
            Some(ts("2026-01-01T03:00:00Z")),
            ts("2025-12-01T00:00:00Z"),
            ts("2026-01-02T03:00:05Z"),
            Some(60),
        );
        assert_eq!(
            d.due,
            Some(Due::Run {
                scheduled: ts("2026-01-02T03:00:00Z"),
                caught_up: false
            })
        );
        assert_eq!(d.next, Some(ts("2026-01-03T03:00:00Z")));
    }

    #[test]
    fn after_an_outage_one_catch_up_run_for_the_most_recent_missed_time() {
        // Down for 10 days of an hourly schedule: one run, for the latest slot.
        let s = utc("@hourly");
        let d = decide(
            &s,
            Some(ts("2026-01-01T00:00:00Z")),
            ts("2025-12-01T00:00:00Z"),
            ts("2026-01-11T00:20:00Z"),
            Some(3600),
        );
        assert_eq!(
            d.due,
            Some(Due::Run {
                scheduled: ts("2026-01-11T00:00:00Z"),
                caught_up: true
            })
        );
        assert_eq!(d.next, Some(ts("2026-01-11T01:00:00Z")));
        // Handling it leaves nothing due.
        let again = decide(
            &s,
            Some(ts("2026-01-11T00:00:00Z")),
            ts("2025-12-01T00:00:00Z"),
            ts("2026-01-11T00:20:01Z"),
            Some(3600),
        );
        assert_eq!(again.due, None);
    }

    #[test]
    fn past_the_starting_deadline_the_missed_run_is_skipped() {
        let s = utc("0 3 * * *");
        let d = decide(
            &s,
            Some(ts("2026-01-01T03:00:00Z")),
            ts("2025-12-01T00:00:00Z"),
            ts("2026-01-05T12:00:00Z"),
            Some(3600),
        );
        assert_eq!(
            d.due,
            Some(Due::Missed {
                scheduled: ts("2026-01-05T03:00:00Z")
            })
        );
        // Without a deadline it still runs, once.
        let d = decide(
            &s,
            Some(ts("2026-01-01T03:00:00Z")),
            ts("2025-12-01T00:00:00Z"),
            ts("2026-01-05T12:00:00Z"),
            None,
        );
        assert_eq!(
            d.due,
            Some(Due::Run {
                scheduled: ts("2026-01-05T03:00:00Z"),
                caught_up: true
            })
        );
    }

    #[test]
    fn a_year_long_outage_of_an_every_minute_schedule_is_cheap() {
        let s = utc("* * * * *");
        let start = std::time::Instant::now();
        let d = decide(
            &s,
            Some(ts("2025-01-01T00:00:00Z")),
            ts("2024-12-01T00:00:00Z"),
            ts("2026-01-01T00:00:30Z"),
            None,
        );
        assert_eq!(
            d.due.map(|d| d.scheduled()),
            Some(ts("2026-01-01T00:00:00Z"))
        );
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn latest_in_a_sparse_schedule_after_the_jump() {
        // Many fires early in the window, none in its last two days.
        let s = utc("* 0 1 1 *");
        let latest = s.latest_in(ts("2025-12-31T00:00:00Z"), ts("2026-03-01T00:00:00Z"));
        assert_eq!(latest, Some(ts("2026-01-01T00:59:00Z")));
    }
}
