//! Every occurrence of the shared rule set over four years, compared with python-dateutil
//! through `scripts/rrule-oracle.py`, which implements the daylight-saving rule independently
//! (naive local expansion, then zoneinfo with fold=0).

use crate::rules::{rule_set, run_oracle};

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
