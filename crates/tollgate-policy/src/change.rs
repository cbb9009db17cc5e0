//! The approval policy of change requests: a Rego module that picks a change's approval route
//! from its type and risk class (see `change/route.rego`, and `docs/changes.md`).
//!
//! The policy's version is the SHA-256 of its source, recorded in every route it chooses, so a
//! decision names the exact rules that made it.

use std::collections::BTreeSet;

use serde::Deserialize;
use tollgate_core::change::approval::{ApprovalRoute, ApprovalSettings};
use tollgate_core::change::risk::RiskClass;
use tollgate_core::change::ChangeType;
use tollgate_core::digest::Sha256Digest;
use tollgate_core::name::Label;

use crate::engine;
use crate::error::PolicyError;

const PATH: &str = "tollgate/change/route.rego";
const SOURCE: &str = include_str!("change/route.rego");

/// The version of the approval policy: `sha256:` and the hex digest of its source.
pub fn approval_policy_version() -> String {
    Sha256Digest::of(SOURCE.as_bytes()).to_string()
}

/// What the policy returns, before the version is added.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Route {
    Automatic,
    Peer,
    Cab { quorum: u32, required_teams: Vec<String>, outside_team: bool },
    Emergency { review_days: u32 },
}

/// The approval route for a change of `change_type` and risk `class` touching services with
/// `labels`, as the policy decides.
/// Fails only when the policy does not give exactly one route, which its tests rule out.
pub fn approval_route(
    change_type: ChangeType,
    class: RiskClass,
    labels: &BTreeSet<Label>,
    settings: &ApprovalSettings,
) -> Result<ApprovalRoute, PolicyError> {
    let mut engine = engine::new_engine();
    engine
        .add_policy(PATH.to_owned(), SOURCE.to_owned())
        .map_err(|error| PolicyError::module(PATH, error.to_string()))?;
    let input = serde_json::json!({
        "change": { "type": change_type.as_str(), "labels": labels.iter().map(Label::as_str).collect::<Vec<_>>() },
        "risk": { "class": class.as_str() },
        "settings": {
            "cab_quorum": settings.cab_quorum,
            "cab_required_teams": settings.cab_required_teams.iter().map(|team| team.as_str()).collect::<Vec<_>>(),
            "cab_label_teams": settings.cab_label_teams.iter().map(|entry| serde_json::json!({
                "label": entry.label.as_str(),
                "teams": entry.teams.iter().map(|team| team.as_str()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "review_days": settings.review_days,
        },
    });
    let input = regorus::Value::from_json_str(&input.to_string())
        .map_err(|error| PolicyError::module(PATH, error.to_string()))?;
    engine.set_input(input);
    let value = engine
        .eval_rule("data.tollgate.change.route".to_owned())
        .map_err(|error| PolicyError::module(PATH, error.to_string()))?;
    let json = value.to_json_str().map_err(|error| PolicyError::module(PATH, error.to_string()))?;
    let route: Route = serde_json::from_str(&json)
        .map_err(|error| PolicyError::module(PATH, format!("the policy gave no single route ({error}): {json}")))?;
    let policy = approval_policy_version();
    Ok(match route {
        Route::Automatic => ApprovalRoute::Automatic { policy },
        Route::Peer => ApprovalRoute::Peer { policy },
        Route::Cab { quorum, required_teams, outside_team } => {
            ApprovalRoute::Cab { policy, quorum, required_teams, outside_team }
        }
        Route::Emergency { review_days } => ApprovalRoute::Emergency { policy, review_days },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_core::change::approval::LabelTeams;
    use tollgate_core::name::TeamName;

    fn label(name: &str) -> Label {
        Label::parse(name).expect("a label")
    }

    fn team(name: &str) -> TeamName {
        TeamName::parse(name).expect("a name")
    }

    #[test]
    fn every_type_and_class_gets_exactly_one_route() {
        let settings = ApprovalSettings::default();
        let mut table = Vec::new();
        for change_type in [ChangeType::Standard, ChangeType::Normal, ChangeType::Emergency] {
            for class in [RiskClass::Low, RiskClass::Medium, RiskClass::High, RiskClass::Critical] {
                let route = approval_route(change_type, class, &BTreeSet::new(), &settings).expect("one route");
                assert_eq!(route.policy(), approval_policy_version());
                table.push(format!("{change_type} {class}: {}", route.kind()));
            }
        }
        assert_eq!(
            table,
            [
                "standard low: automatic",
                "standard medium: peer",
                "standard high: cab",
                "standard critical: cab",
                "normal low: peer",
                "normal medium: peer",
                "normal high: cab",
                "normal critical: cab",
                "emergency low: emergency",
                "emergency medium: emergency",
                "emergency high: emergency",
                "emergency critical: emergency",
            ]
        );
    }

    #[test]
    fn the_cab_route_carries_the_settings() {
        let settings = ApprovalSettings {
            cab_quorum: 3,
            cab_required_teams: vec![tollgate_core::name::TeamName::parse("change-managers").expect("a name")],
            cab_label_teams: vec![
                LabelTeams { label: label("security"), teams: vec![team("security")] },
                LabelTeams { label: label("pci"), teams: vec![team("payments"), team("security")] },
                LabelTeams { label: label("public"), teams: vec![team("web")] },
            ],
            review_days: 2,
        };
        let labels: BTreeSet<Label> = [label("security"), label("pci")].into();
        let route = approval_route(ChangeType::Normal, RiskClass::High, &labels, &settings).expect("one route");
        assert_eq!(
            route,
            ApprovalRoute::Cab {
                policy: approval_policy_version(),
                quorum: 3,
                // The configured team and each labelled team, sorted, each once.
                required_teams: vec!["change-managers".to_owned(), "payments".to_owned(), "security".to_owned()],
                outside_team: true,
            }
        );
        let unlabelled =
            approval_route(ChangeType::Normal, RiskClass::High, &BTreeSet::new(), &settings).expect("one route");
        assert!(
            matches!(&unlabelled, ApprovalRoute::Cab { required_teams, .. } if required_teams == &["change-managers"]),
            "{unlabelled:?}"
        );
        let emergency = approval_route(ChangeType::Emergency, RiskClass::Low, &labels, &settings).expect("one route");
        assert_eq!(emergency, ApprovalRoute::Emergency { policy: approval_policy_version(), review_days: 2 });
    }
}
