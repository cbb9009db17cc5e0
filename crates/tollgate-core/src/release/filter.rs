//! Which releases a list shows: by state, by a service they deploy, by the team owning one of
//! those services, and by text in the version or the scope items' tickets and titles.

use crate::name::{ServiceName, TeamName};
use crate::release::ReleaseState;
use crate::violation::{Problem, Violations};

/// The longest search text accepted.
pub const MAX_FILTER_TEXT: usize = 100;

/// A release list's filter, as typed (every field may be empty).
#[derive(Debug, Clone, Default)]
pub struct ReleaseFilterInput {
    pub state: Option<String>,
    pub service: Option<String>,
    pub team: Option<String>,
    pub text: Option<String>,
}

/// A valid filter; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseFilter {
    pub state: Option<ReleaseState>,
    pub service: Option<ServiceName>,
    pub team: Option<TeamName>,
    /// Matched case-insensitively as a substring.
    pub text: Option<String>,
}

impl ReleaseFilterInput {
    /// The filter, or every field that is wrong. Empty fields are no filter.
    pub fn parse(self) -> Result<ReleaseFilter, Violations> {
        fn given(value: Option<String>) -> Option<String> {
            value.map(|value| value.trim().to_owned()).filter(|value| !value.is_empty())
        }
        let mut violations = Violations::new();
        let state = given(self.state).and_then(|state| violations.check("state", state.parse::<ReleaseState>()));
        let service = given(self.service).and_then(|service| violations.check("service", ServiceName::parse(&service)));
        let team = given(self.team).and_then(|team| violations.check("team", TeamName::parse(&team)));
        let text = given(self.text).and_then(|text| {
            let length_ok = text.chars().count() <= MAX_FILTER_TEXT;
            let checked = if length_ok { Ok(text) } else { Err(Problem::TooLong { max: MAX_FILTER_TEXT }) };
            violations.check("text", checked)
        });
        violations.into_result(ReleaseFilter { state, service, team, text })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: ReleaseFilterInput, expected: Result<ReleaseFilter, Vec<&str>>) {
        let parsed = input.parse().map_err(|violations| violations.0.into_iter().map(|v| v.field).collect::<Vec<_>>());
        let expected = expected.map_err(|fields| fields.into_iter().map(str::to_owned).collect::<Vec<_>>());
        assert_eq!(parsed, expected);
    }

    #[test]
    fn filters_parse_every_field_and_report_every_bad_one() {
        check(ReleaseFilterInput::default(), Ok(ReleaseFilter::default()));
        check(
            ReleaseFilterInput { state: Some("ready".into()), text: Some("  PAY-1 ".into()), ..Default::default() },
            Ok(ReleaseFilter { state: Some(ReleaseState::Ready), text: Some("PAY-1".into()), ..Default::default() }),
        );
        check(
            ReleaseFilterInput {
                state: Some("almost".into()),
                service: Some("Bad Name".into()),
                team: Some("".into()),
                text: Some("x".repeat(101)),
            },
            Err(vec!["state", "service", "text"]),
        );
    }
}
