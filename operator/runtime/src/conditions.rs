//! Building `metav1.Condition` lists the way `kubectl describe` readers expect: one entry per
//! type, `lastTransitionTime` moving only when the status does.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// `True`, `False` or `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    True,
    False,
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::True => "True",
            Status::False => "False",
            Status::Unknown => "Unknown",
        }
    }

    pub fn from_bool(value: bool) -> Self {
        if value { Status::True } else { Status::False }
    }
}

/// A condition as the controller decided it, before times are filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub type_: String,
    pub status: Status,
    pub reason: String,
    pub message: String,
}

impl Decided {
    pub fn new(
        type_: &str,
        status: Status,
        reason: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_: type_.to_string(),
            status,
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// The API server refuses condition messages longer than this (metav1.Condition validation).
const MAX_MESSAGE: usize = 32768;

/// The conditions to write: `decided` in order, each keeping the `lastTransitionTime` of the
/// previous condition of its type when its status did not change. Previous conditions of types
/// not decided now are kept as they are (another writer's, or a check not run this time).
pub fn merge(
    previous: &[Condition],
    decided: &[Decided],
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<Condition> {
    let mut out: Vec<Condition> = decided
        .iter()
        .map(|d| {
            let before = previous.iter().find(|c| c.type_ == d.type_);
            let last_transition_time = match before {
                Some(c) if c.status == d.status.as_str() => c.last_transition_time.clone(),
                _ => Time(now),
            };
            Condition {
                type_: d.type_.clone(),
                status: d.status.as_str().to_string(),
                reason: d.reason.clone(),
                message: truncate(&d.message, MAX_MESSAGE),
                last_transition_time,
                observed_generation: generation,
            }
        })
        .collect();
    out.extend(
        previous
            .iter()
            .filter(|c| !decided.iter().any(|d| d.type_ == c.type_))
            .cloned(),
    );
    out
}

/// The condition of `type_`, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of `type_` is `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == "True")
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max - 3;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn transition_time_moves_only_with_the_status() {
        let t0 = at("2026-01-01T00:00:00Z");
        let t1 = at("2026-01-02T00:00:00Z");
        let first = merge(
            &[],
            &[Decided::new("Ready", Status::True, "Valid", "ok")],
            Some(1),
            t0,
        );
        assert_eq!(first[0].last_transition_time.0, t0);
        let same = merge(
            &first,
            &[Decided::new("Ready", Status::True, "Valid", "still ok")],
            Some(2),
            t1,
        );
        assert_eq!(same[0].last_transition_time.0, t0);
        assert_eq!(same[0].message, "still ok");
        assert_eq!(same[0].observed_generation, Some(2));
        let flipped = merge(
            &same,
            &[Decided::new("Ready", Status::False, "Expired", "gone")],
            Some(2),
            t1,
        );
        assert_eq!(flipped[0].last_transition_time.0, t1);
    }

    #[test]
    fn undecided_types_are_kept_and_messages_bounded() {
        let t0 = at("2026-01-01T00:00:00Z");
        let previous = merge(
            &[],
            &[
                Decided::new("A", Status::True, "X", "a"),
                Decided::new("B", Status::False, "Y", "b"),
            ],
            None,
            t0,
        );
        let next = merge(
            &previous,
            &[Decided::new("A", Status::True, "X", "é".repeat(40000))],
            None,
            t0,
        );
        assert_eq!(next.len(), 2);
        assert_eq!(next[1].type_, "B");
        assert!(next[0].message.len() <= MAX_MESSAGE);
        assert!(next[0].message.ends_with("..."));
    }
}
