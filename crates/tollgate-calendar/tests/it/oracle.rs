//! Every occurrence of the shared rule set over four years, compared with python-dateutil
//! through `scripts/rrule-oracle.py`, which implements the daylight-saving rule independently
//! (naive local expansion, then zoneinfo with fold=0).

use jiff::{SignedDuration, Timestamp};

use crate::rules::{rule_set, run_oracle};

/// Short intervals the expansion is also asked about, so that it starts far after the start
/// of most rules: around daylight-saving changes, a leap day, and ordinary days.
const PROBES: &[(&str, i64)] = &[
    ("2026-03-29T00:30:00Z", 3),
    ("2026-10-25T00:45:00Z", 1),
    ("2026-04-04T15:00:00Z", 2),
    ("2027-06-15T12:00:00Z", 40),
    ("2028-02-29T00:00:00Z", 1),
    ("2029-11-04T06:00:00Z", 9),
    // Minutes into occurrences that began before the interval.
    ("2026-03-29T01:45:00Z", 1),
    ("2026-03-08T07:59:00Z", 1),
    ("2027-01-05T10:00:00Z", 1),
    ("2026-07-01T23:10:00Z", 1),
];

#[test]
fn every_occurrence_agrees_with_python_dateutil() {
    let cases = rule_set();
    assert!(cases.len() >= 30, "the oracle needs at least 30 rules, has {}", cases.len());
    let expected: Vec<Vec<[String; 2]>> =
        serde_json::from_str(&run_oracle(&cases, &[])).expect("the oracle prints a JSON list of lists");
    assert_eq!(expected.len(), cases.len());
    let mut differences = Vec::new();
    let mut n_occurrences = 0;
    for (case, expected) in cases.iter().zip(&expected) {
        let got: Vec<[String; 2]> = case
            .recurrence()
            .instances(case.from(), case.to())
            .map(|instance| [instance.start.to_string(), instance.end.to_string()])
            .collect();
        n_occurrences += got.len();
        for (probe, hours) in PROBES {
            let from: Timestamp = probe.parse().expect("an instant");
            let to = from + SignedDuration::from_hours(*hours);
            let in_probe: Vec<[String; 2]> = case
                .recurrence()
                .instances(from, to)
                .map(|instance| [instance.start.to_string(), instance.end.to_string()])
                .collect();
            let overlaps = |pair: &&[String; 2]| {
                let (start, end): (Timestamp, Timestamp) =
                    (pair[0].parse().expect("an instant"), pair[1].parse().expect("an instant"));
                start < to && end > from
            };
            let expected_in_probe: Vec<[String; 2]> = expected.iter().filter(overlaps).cloned().collect();
            if in_probe != expected_in_probe {
                differences.push(format!(
                    "{} {} {:?} {:?} over [{from}, {to}): ours {in_probe:?}, dateutil {expected_in_probe:?}",
                    case.tzid, case.dtstart, case.length, case.rule
                ));
            }
        }
        if &got != expected {
            let first = got.iter().zip(expected).position(|(got, expected)| got != expected);
            let at = first.unwrap_or(got.len().min(expected.len()));
            differences.push(format!(
                "{} {} {:?} {:?}: {} occurrences, dateutil {}; first difference at #{at}: ours {:?}, dateutil {:?}",
                case.tzid,
                case.dtstart,
                case.length,
                case.rule,
                got.len(),
                expected.len(),
                got.get(at),
                expected.get(at),
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} rules differ:\n{}",
        differences.len(),
        cases.len(),
        differences.join("\n")
    );
    assert!(n_occurrences > 10_000, "the rule set yields only {n_occurrences} occurrences");
}
