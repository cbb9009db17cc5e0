//! A named period of a kind (window, maintenance, freeze, blackout) over a [`Recurrence`], and
//! its occurrences as core's [`Occurrence`] values, with a richer form that says which
//! daylight-saving adjustments were made, and a description for people.

use std::fmt::Write as _;

use jiff::Timestamp;
use tollgate_core::calendar::{Occurrence, PeriodKind};

use crate::recurrence::{DstAdjustment, Instance, Recurrence};

/// A calendar period: a name, a kind and when it recurs.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    /// What people call it ("release train", "year-end freeze").
    pub name: String,
    /// Whether it allows or denies deployments.
    pub kind: PeriodKind,
    /// When it happens.
    pub recurrence: Recurrence,
}

/// An occurrence and what the daylight-saving rule did to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    /// The occurrence as the API shows it.
    pub occurrence: Occurrence,
    /// How its start was adjusted, if its local start fell in a gap or an overlap.
    pub start_adjustment: Option<DstAdjustment>,
    /// How its end was adjusted, if the local end of a day-based length fell in a gap or an
    /// overlap.
    pub end_adjustment: Option<DstAdjustment>,
}

impl Period {
    /// Every occurrence whose `[start, end)` overlaps `[from, to)`, ordered by start (then end).
    /// Empty when `to` is not after `from`.
    pub fn occurrences(&self, from: Timestamp, to: Timestamp) -> Vec<Occurrence> {
        let mut occurrences: Vec<Occurrence> =
            self.recurrence.instances(from, to).map(|instance| self.occurrence(&instance)).collect();
        // Already in order but for a start moved out of a gap; sorting sorted data is linear.
        occurrences.sort_by_key(|occurrence| (occurrence.start, occurrence.end));
        occurrences
    }

    /// Like [`Period::occurrences`], with the daylight-saving adjustment of each occurrence.
    pub fn expand(&self, from: Timestamp, to: Timestamp) -> Vec<Expanded> {
        let mut expanded: Vec<Expanded> = self
            .recurrence
            .instances(from, to)
            .map(|instance| Expanded {
                occurrence: self.occurrence(&instance),
                start_adjustment: instance.start_adjustment,
                end_adjustment: instance.end_adjustment,
            })
            .collect();
        expanded.sort_by_key(|expanded| (expanded.occurrence.start, expanded.occurrence.end));
        expanded
    }

    /// Says the period in one line (kind, name, rule, start, zone, length, exceptions), then one
    /// line for each occurrence overlapping `[from, to)` whose start or end was adjusted for
    /// daylight saving, saying what was done.
    pub fn describe(&self, from: Timestamp, to: Timestamp) -> String {
        let recurrence = &self.recurrence;
        let mut out = format!("{} {:?}: ", self.kind, self.name);
        match recurrence.rule() {
            Some(rule) => {
                let _ = write!(out, "RRULE {rule} from {}", recurrence.dtstart());
            }
            None => {
                let _ = write!(out, "once at {}", recurrence.dtstart());
            }
        }
        let _ = write!(out, " in {}, lasting {}", recurrence.tzid(), recurrence.length());
        if !recurrence.exdates().is_empty() {
            let _ = write!(out, ", {} excluded", recurrence.exdates().len());
        }
        if !recurrence.rdates().is_empty() {
            let _ = write!(out, ", {} added", recurrence.rdates().len());
        }
        for expanded in self.expand(from, to) {
            let occurrence = &expanded.occurrence;
            if let Some(adjustment) = expanded.start_adjustment {
                let _ = write!(out, "\n  start {} ({}): {adjustment}", occurrence.start, occurrence.start_local);
            }
            if let Some(adjustment) = expanded.end_adjustment {
                let _ = write!(out, "\n  end {} ({}): {adjustment}", occurrence.end, occurrence.end_local);
            }
        }
        out
    }

    fn occurrence(&self, instance: &Instance) -> Occurrence {
        Occurrence {
            name: self.name.clone(),
            kind: self.kind,
            start: instance.start,
            end: instance.end,
            start_local: instance.start_local,
            end_local: instance.end_local,
            tzid: self.recurrence.tzid().to_owned(),
            rule: self.recurrence.rule().unwrap_or_default().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::DateTime;

    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("an instant")
    }

    fn nightly_window() -> Period {
        let start: DateTime = "2026-03-27T02:30".parse().expect("a date-time");
        let recurrence = Recurrence::new(
            "Europe/Berlin",
            start,
            "PT1H".parse().expect("a length"),
            Some("FREQ=DAILY;COUNT=4"),
            vec![],
            vec![],
        )
        .expect("valid");
        Period { name: "nightly".into(), kind: PeriodKind::Maintenance, recurrence }
    }

    #[test]
    fn occurrences_carry_the_period_and_the_wall_clock_at_their_instants() {
        let occurrences = nightly_window().occurrences(at("2026-03-29T00:00Z"), at("2026-03-30T00:00Z"));
        assert_eq!(occurrences.len(), 1);
        let occurrence = &occurrences[0];
        assert_eq!(
            (occurrence.name.as_str(), occurrence.kind, occurrence.tzid.as_str()),
            ("nightly", PeriodKind::Maintenance, "Europe/Berlin")
        );
        assert_eq!(occurrence.rule, "FREQ=DAILY;COUNT=4");
        assert_eq!((occurrence.start, occurrence.end), (at("2026-03-29T01:30Z"), at("2026-03-29T02:30Z")));
        assert_eq!(
            (occurrence.start_local.to_string(), occurrence.end_local.to_string()),
            ("2026-03-29T03:30:00".into(), "2026-03-29T04:30:00".into())
        );
    }

    #[test]
    fn expanded_occurrences_say_which_were_adjusted_and_describe_says_it_in_words() {
        let period = nightly_window();
        let expanded = period.expand(at("2026-01-01T00:00Z"), at("2027-01-01T00:00Z"));
        let adjusted: Vec<bool> = expanded.iter().map(|expanded| expanded.start_adjustment.is_some()).collect();
        assert_eq!(adjusted, [false, false, true, false]);
        assert_eq!(
            period.describe(at("2026-01-01T00:00Z"), at("2027-01-01T00:00Z")),
            "maintenance \"nightly\": RRULE FREQ=DAILY;COUNT=4 from 2026-03-27T02:30:00 in Europe/Berlin, lasting PT1H\n  \
             start 2026-03-29T01:30:00Z (2026-03-29T03:30:00): 2026-03-29T02:30:00 does not exist (clocks go forward 1h): \
             read with the earlier offset, so 2026-03-29T03:30:00 on the clock"
        );
    }
}
