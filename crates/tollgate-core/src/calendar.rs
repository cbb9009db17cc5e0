//! The release calendar's stored values: the kind of a period (release window, maintenance
//! window, freeze, blackout) and one occurrence of a period, as the API and later the store carry
//! them.
//!
//! Expanding a recurring period into occurrences, the daylight-saving rule and `.ics` import and
//! export live in `tollgate-calendar`; conflict checks and deployment-window enforcement live in
//! the service. This module holds plain values and decides nothing.

use jiff::civil::DateTime;
use serde::Serialize;

use crate::Timestamp;

/// What a calendar period means for deployments: a window or maintenance window allows them, a
/// freeze or blackout denies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    /// A release or deployment window: changes may go out while it is open.
    Window,
    /// A maintenance window: planned work on the platform is allowed while it is open.
    Maintenance,
    /// A change freeze: no deployments, except by an explicit override.
    Freeze,
    /// A blackout: no deployments at all (a trading peak, an audit, a launch).
    Blackout,
}

crate::keyword_enum!(PeriodKind { Window => "window", Maintenance => "maintenance", Freeze => "freeze", Blackout => "blackout" });

impl PeriodKind {
    /// Every kind, in the order of `ALL`.
    pub const KINDS: [PeriodKind; 4] =
        [PeriodKind::Window, PeriodKind::Maintenance, PeriodKind::Freeze, PeriodKind::Blackout];

    /// Whether a period of this kind denies deployments while it lasts (freeze, blackout).
    pub fn is_deny(self) -> bool {
        matches!(self, PeriodKind::Freeze | PeriodKind::Blackout)
    }
}

/// One occurrence of a calendar period: when it starts and ends, as instants and as the wall
/// clock of its time zone read at those instants.
///
/// `start_local` and `end_local` are what a clock in `tzid` shows at `start` and `end`, so they
/// always agree with the instants. When a recurrence's local start time does not exist on a
/// day (a spring-forward gap), `start_local` is the wall-clock time the occurrence actually
/// begins at, not the time the rule names; `tollgate-calendar` says which adjustment was made.
///
/// `rule` is the period's RRULE text as given (`FREQ=WEEKLY;BYDAY=TU`, without the `RRULE:`
/// name), or the empty string for a period without a rule (a one-off period, possibly with
/// extra dates). Serialized for the API with exactly these field names; `start` and `end` as
/// RFC 3339 in UTC, `start_local` and `end_local` as ISO 8601 civil date-times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Occurrence {
    /// The period's name.
    pub name: String,
    /// The period's kind.
    pub kind: PeriodKind,
    /// When the occurrence begins (inclusive).
    pub start: Timestamp,
    /// When the occurrence ends (exclusive); always after `start`.
    pub end: Timestamp,
    /// The wall-clock time in `tzid` at `start`.
    pub start_local: DateTime,
    /// The wall-clock time in `tzid` at `end`.
    pub end_local: DateTime,
    /// The IANA time zone the period is defined in (`Europe/Berlin`).
    pub tzid: String,
    /// The RRULE text, or empty for a period without a rule.
    pub rule: String,
}

impl Occurrence {
    /// Whether this occurrence overlaps the half-open interval `[from, to)`.
    pub fn overlaps(&self, from: Timestamp, to: Timestamp) -> bool {
        self.start < to && self.end > from
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_and_write_their_snake_case_names() {
        for kind in PeriodKind::KINDS {
            assert_eq!(kind.as_str().parse::<PeriodKind>(), Ok(kind));
        }
        assert_eq!(PeriodKind::ALL, ["window", "maintenance", "freeze", "blackout"]);
        assert!("Freeze".parse::<PeriodKind>().is_err());
    }

    #[test]
    fn only_freezes_and_blackouts_deny() {
        let denying: Vec<PeriodKind> = PeriodKind::KINDS.into_iter().filter(|kind| kind.is_deny()).collect();
        assert_eq!(denying, [PeriodKind::Freeze, PeriodKind::Blackout]);
    }

    #[test]
    fn an_occurrence_serializes_with_its_eight_fields() {
        let occurrence = Occurrence {
            name: "weekly window".into(),
            kind: PeriodKind::Window,
            start: "2026-03-29T01:30:00Z".parse().expect("a timestamp"),
            end: "2026-03-29T07:30:00Z".parse().expect("a timestamp"),
            start_local: "2026-03-29T03:30:00".parse().expect("a date-time"),
            end_local: "2026-03-29T09:30:00".parse().expect("a date-time"),
            tzid: "Europe/Berlin".into(),
            rule: "FREQ=DAILY".into(),
        };
        insta::assert_snapshot!(serde_json::to_string_pretty(&occurrence).expect("serializes"), @r#"
        {
          "name": "weekly window",
          "kind": "window",
          "start": "2026-03-29T01:30:00Z",
          "end": "2026-03-29T07:30:00Z",
          "start_local": "2026-03-29T03:30:00",
          "end_local": "2026-03-29T09:30:00",
          "tzid": "Europe/Berlin",
          "rule": "FREQ=DAILY"
        }
        "#);
    }

    #[test]
    fn overlap_is_half_open() {
        let occurrence = Occurrence {
            name: "w".into(),
            kind: PeriodKind::Window,
            start: "2026-01-01T10:00:00Z".parse().expect("a timestamp"),
            end: "2026-01-01T12:00:00Z".parse().expect("a timestamp"),
            start_local: "2026-01-01T10:00:00".parse().expect("a date-time"),
            end_local: "2026-01-01T12:00:00".parse().expect("a date-time"),
            tzid: "UTC".into(),
            rule: String::new(),
        };
        let at = |text: &str| text.parse::<Timestamp>().expect("a timestamp");
        assert!(occurrence.overlaps(at("2026-01-01T11:00:00Z"), at("2026-01-01T13:00:00Z")));
        assert!(!occurrence.overlaps(at("2026-01-01T12:00:00Z"), at("2026-01-01T13:00:00Z")));
        assert!(!occurrence.overlaps(at("2026-01-01T09:00:00Z"), at("2026-01-01T10:00:00Z")));
    }
}
