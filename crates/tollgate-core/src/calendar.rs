//! The release calendar's stored values: a period as stored (its kind, where it applies, and its
//! recurrence as text), and one occurrence of a period, as the API and the store carry them.
//!
//! Expanding a recurring period into occurrences, the daylight-saving rule and `.ics` import and
//! export live in `tollgate-calendar`; conflict checks and deployment-window enforcement live in
//! the service. This module holds plain values and checks only their shape: whether a rule, a
//! time zone or a duration means something is for `tollgate-calendar` to say.

use jiff::civil::DateTime;
use serde::Serialize;

use crate::environment::Environment;
use crate::name::{EnvironmentName, PeriodId, RegionName, ServiceName};
use crate::violation::{Problem, Violations};
use crate::Timestamp;

/// The longest period name accepted.
pub const MAX_PERIOD_NAME_LEN: usize = 200;

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

/// Why a deployment was recorded while its environment's window was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OverrideKind {
    /// The release is an emergency release: windows do not hold it back.
    Emergency,
    /// An authorized user broke glass (`override.window`) with a reason.
    BreakGlass,
}

/// A deployment recorded although its environment's window was closed at the deployment's
/// start: what closed it and what let the deployment through. Audited as the `override` entry
/// of the deployment (whose object names it); never stored elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowOverride {
    pub environment: EnvironmentName,
    /// The instant judged: the deployment's start.
    pub at: Timestamp,
    /// One sentence for each reason the window was closed (a freeze, a blackout, no window open).
    pub closed_because: Vec<String>,
    pub kind: OverrideKind,
    /// The reason given for breaking glass; none for an emergency release.
    pub reason: Option<String>,
}

/// Where a calendar period applies: everywhere, to one environment, to the releases that carry
/// one service, or to the environments of one region.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum PeriodScope {
    Global,
    Environment(EnvironmentName),
    Service(ServiceName),
    Region(RegionName),
}

impl PeriodScope {
    /// The scope's kind as written: `global`, `environment`, `service` or `region`.
    pub fn kind(&self) -> &'static str {
        match self {
            PeriodScope::Global => "global",
            PeriodScope::Environment(_) => "environment",
            PeriodScope::Service(_) => "service",
            PeriodScope::Region(_) => "region",
        }
    }

    /// The name the scope is about, if it is not global.
    pub fn name(&self) -> Option<&str> {
        match self {
            PeriodScope::Global => None,
            PeriodScope::Environment(name) => Some(name.as_str()),
            PeriodScope::Service(name) => Some(name.as_str()),
            PeriodScope::Region(name) => Some(name.as_str()),
        }
    }

    /// Reads `global`, `environment:NAME`, `service:NAME` or `region:NAME`.
    pub fn parse(value: &str) -> Result<PeriodScope, Problem> {
        const ACCEPTED: &[&str] = &["global", "environment:NAME", "service:NAME", "region:NAME"];
        let not_one_of = || Problem::NotOneOf { value: value.to_owned(), accepted: ACCEPTED };
        if value == "global" {
            return Ok(PeriodScope::Global);
        }
        let (kind, name) = value.split_once(':').ok_or_else(not_one_of)?;
        match kind {
            "environment" => EnvironmentName::parse(name).map(PeriodScope::Environment),
            "service" => ServiceName::parse(name).map(PeriodScope::Service),
            "region" => RegionName::parse(name).map(PeriodScope::Region),
            _ => Err(not_one_of()),
        }
    }

    /// Whether a period of this scope applies to a deployment of `services` into `environment`.
    pub fn applies_to(&self, environment: &Environment, services: &[ServiceName]) -> bool {
        match self {
            PeriodScope::Global => true,
            PeriodScope::Environment(name) => *name == environment.name,
            PeriodScope::Service(name) => services.contains(name),
            PeriodScope::Region(name) => environment.region.as_ref() == Some(name),
        }
    }
}

impl std::fmt::Display for PeriodScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{}:{name}", self.kind()),
            None => f.write_str("global"),
        }
    }
}

/// A release-calendar period as stored and as its audit entries record it: a stored format.
///
/// The recurrence is kept as written (time zone, local start, RFC 5545 duration and rule,
/// excluded and added local starts); `tollgate-calendar` compiles and expands it. A period
/// imported from an `.ics` file keeps the event's UID, so importing the file again updates it
/// instead of adding a copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CalendarPeriod {
    pub id: PeriodId,
    pub name: String,
    pub kind: PeriodKind,
    pub scope: PeriodScope,
    /// The IANA time zone the local times are in.
    pub tzid: String,
    /// The local start of the first occurrence (the DTSTART).
    pub start: DateTime,
    /// How long each occurrence lasts, as an RFC 5545 duration (`PT6H`, `P15D`).
    pub length: String,
    /// The RRULE, without the `RRULE:` name; none for a one-off period.
    pub rule: Option<String>,
    /// Local starts the rule produces that do not happen (EXDATE).
    pub exdates: Vec<DateTime>,
    /// Local starts added to the rule's (RDATE).
    pub rdates: Vec<DateTime>,
    /// The UID of the `.ics` event it was imported from.
    pub uid: Option<String>,
}

/// A calendar period as typed (API, CLI, `tollgate.yaml`), before validation.
#[derive(Debug, Clone, Default)]
pub struct PeriodInput {
    pub name: String,
    pub kind: String,
    /// `global` (the default), `environment:NAME`, `service:NAME` or `region:NAME`.
    pub scope: Option<String>,
    pub tzid: String,
    /// A local date-time (`2026-12-20T00:00`) or date (`2026-12-20`).
    pub start: String,
    pub length: String,
    pub rule: Option<String>,
    pub exdates: Vec<String>,
    pub rdates: Vec<String>,
}

impl PeriodInput {
    /// Checks the shape of every field and returns the period `id` would store. Whether the
    /// time zone exists and the rule and length mean something is checked by compiling the
    /// result (`tollgate-calendar`), which the service does before it writes.
    pub fn parse(self, id: PeriodId, uid: Option<String>) -> Result<CalendarPeriod, Violations> {
        let mut violations = Violations::new();
        let name = self.name.trim().to_owned();
        if name.is_empty() {
            violations.push("name", Problem::Required);
        } else if name.chars().count() > MAX_PERIOD_NAME_LEN {
            violations.push("name", Problem::TooLong { max: MAX_PERIOD_NAME_LEN });
        } else if name.chars().any(char::is_control) {
            violations.push("name", Problem::Invalid { reason: "contains a control character".to_owned() });
        }
        let kind = violations.check("kind", self.kind.parse::<PeriodKind>());
        let scope = violations.check("scope", PeriodScope::parse(self.scope.as_deref().unwrap_or("global")));
        if self.tzid.trim().is_empty() {
            violations.push("tzid", Problem::Required);
        }
        let start = violations.check("start", local_date_time(&self.start));
        if self.length.trim().is_empty() {
            violations.push("length", Problem::Required);
        }
        let rule = self.rule.map(|rule| rule.trim().trim_start_matches("RRULE:").to_owned()).filter(|r| !r.is_empty());
        let exdates = local_date_times(&mut violations, "exdates", &self.exdates);
        let rdates = local_date_times(&mut violations, "rdates", &self.rdates);
        match (kind, scope, start) {
            (Some(kind), Some(scope), Some(start)) if violations.is_empty() => Ok(CalendarPeriod {
                id,
                name,
                kind,
                scope,
                tzid: self.tzid.trim().to_owned(),
                start,
                length: self.length.trim().to_owned(),
                rule,
                exdates,
                rdates,
                uid,
            }),
            _ => Err(violations),
        }
    }
}

/// Reads a local date-time (`2026-12-20T10:00`, seconds optional) or a date (midnight).
pub fn local_date_time(value: &str) -> Result<DateTime, Problem> {
    let value = value.trim();
    let invalid = || Problem::Invalid {
        reason: format!("{value:?} is not a local date-time (2026-12-20T10:00) or date (2026-12-20)"),
    };
    if value.len() == 10 {
        return value
            .parse::<jiff::civil::Date>()
            .map(|date| date.to_datetime(jiff::civil::Time::midnight()))
            .map_err(|_| invalid());
    }
    value.parse::<DateTime>().map_err(|_| invalid())
}

fn local_date_times(violations: &mut Violations, field: &str, values: &[String]) -> Vec<DateTime> {
    values
        .iter()
        .enumerate()
        .filter_map(|(index, value)| violations.check(&format!("{field}[{index}]"), local_date_time(value)))
        .collect()
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
