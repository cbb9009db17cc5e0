//! Release trains: a cadence of departures (an RFC 5545 recurrence in a time zone), each with a
//! release window of a given length, a cut-off before which a release must board, and a scope
//! freeze before the departure. A release that boards takes its planned window and its
//! scope-freeze time from the next departure whose cut-off has not passed.
//!
//! This module holds the stored values and checks their shape; expanding departures is
//! `tollgate-calendar`'s work (the same recurrence and daylight-saving rule as periods).

use jiff::civil::DateTime;
use serde::Serialize;

use crate::calendar::local_date_time;
use crate::name::TrainName;
use crate::violation::{Problem, Violations};
use crate::Timestamp;

/// A release train as stored. A stored format (its audit entries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseTrain {
    pub name: TrainName,
    /// The IANA time zone of the departures' wall-clock times.
    pub tzid: String,
    /// The first departure, local to `tzid`.
    pub first_departure: DateTime,
    /// The cadence: an RRULE (`FREQ=WEEKLY;INTERVAL=2;BYDAY=TU`).
    pub rule: String,
    /// How long the release window of a departure lasts: an RFC 5545 duration (`PT4H`).
    pub length: String,
    /// How long before a departure boarding closes: an ISO 8601 duration (`P3D`).
    pub cutoff: String,
    /// How long before a departure the scope of the releases aboard freezes (`P1D`); not
    /// before the cut-off.
    pub freeze: String,
}

/// A release train as typed.
#[derive(Debug, Clone, Default)]
pub struct TrainInput {
    pub tzid: String,
    pub first_departure: String,
    pub rule: String,
    pub length: String,
    pub cutoff: String,
    pub freeze: String,
}

impl TrainInput {
    /// Checks the shape of every field; the zone, the rule and the durations are checked by
    /// compiling the train (the service does before it writes).
    pub fn parse(self, name: TrainName) -> Result<ReleaseTrain, Violations> {
        let mut violations = Violations::new();
        for (field, value) in [("tzid", &self.tzid), ("rule", &self.rule), ("length", &self.length)] {
            if value.trim().is_empty() {
                violations.push(field, Problem::Required);
            }
        }
        let first_departure = violations.check("first_departure", local_date_time(&self.first_departure));
        let cutoff = violations.check("cutoff", offset(&self.cutoff));
        let freeze = violations.check("freeze", offset(&self.freeze));
        match (first_departure, cutoff, freeze) {
            (Some(first_departure), Some(cutoff), Some(freeze)) if violations.is_empty() => Ok(ReleaseTrain {
                name,
                tzid: self.tzid.trim().to_owned(),
                first_departure,
                rule: self.rule.trim().trim_start_matches("RRULE:").to_owned(),
                length: self.length.trim().to_owned(),
                cutoff,
                freeze,
            }),
            _ => Err(violations),
        }
    }
}

/// An offset before a departure: an ISO 8601 duration of days, hours and minutes (`P3D`,
/// `PT36H`, `P1DT12H`), not negative, at most 90 days.
pub fn offset(value: &str) -> Result<String, Problem> {
    let value = value.trim();
    let span: jiff::Span = value.parse().map_err(|_| Problem::Invalid {
        reason: format!("{value:?} is not a duration such as P3D, PT36H or P1DT12H"),
    })?;
    let fits = span.get_years() == 0 && span.get_months() == 0 && span.get_weeks() == 0 && !span.is_negative();
    let total_hours = i64::from(span.get_days()) * 24 + span.get_hours() as i64;
    if !fits || total_hours > 90 * 24 {
        return Err(Problem::Invalid {
            reason: format!("{value:?} must be days, hours and minutes, from 0 to 90 days"),
        });
    }
    Ok(value.to_owned())
}

/// One departure of a train: when its release window opens and closes, when boarding closes
/// and when the scope of the releases aboard freezes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Departure {
    pub train: TrainName,
    pub departs: Timestamp,
    pub window_end: Timestamp,
    pub cutoff_at: Timestamp,
    pub freeze_at: Timestamp,
    /// The wall-clock departure in the train's zone.
    pub departs_local: DateTime,
    pub tzid: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_days_hours_and_minutes_up_to_ninety_days() {
        for good in ["P3D", "PT36H", "P1DT12H", "PT0S", "P90D"] {
            assert_eq!(offset(good), Ok(good.to_owned()), "{good}");
        }
        for bad in ["P1M", "P1W", "-P1D", "P91D", "three days", ""] {
            assert!(offset(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_train_without_its_fields_names_every_one() {
        let name = TrainName::parse("fortnightly").expect("a name");
        let violations = TrainInput { cutoff: "soon".into(), ..TrainInput::default() }.parse(name).expect_err("empty");
        let fields: Vec<String> = violations.0.into_iter().map(|v| v.field).collect();
        assert_eq!(fields, ["tzid", "rule", "length", "first_departure", "cutoff", "freeze"]);
    }
}
