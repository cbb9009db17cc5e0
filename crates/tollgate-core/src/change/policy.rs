//! The change policy: the `changes` section of `tollgate.yaml`. How risk is scored (weights,
//! class cut-offs, the failure-rate window and prior), what the approval policy reads (CAB
//! quorum and required teams, the review deadline of emergency changes), and per environment
//! whether it requires a change, its stabilization gap and what happens to a deployment still
//! running when its window closes.
//!
//! Every key may be left out; what is left out keeps its documented default. A stored format
//! (the `change_policy` audit entries).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::change::approval::{ApprovalSettings, LabelTeams};
use crate::change::risk::{RiskPolicy, RiskWeights};
use crate::environment::{Environment, Tier};
use crate::name::{EnvironmentName, Label, ServiceName, TeamName, TemplateName};
use crate::violation::{Problem, Violations};

/// The default least time between two changes touching one service in one environment.
pub const DEFAULT_STABILIZATION_GAP_MINUTES: u32 = 30;
/// The longest stabilization gap accepted (one week).
pub const MAX_STABILIZATION_GAP_MINUTES: u32 = 7 * 24 * 60;

/// A scalar as written in the configuration (a number, a boolean or text); core reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar(pub String);

/// What happens to a deployment still running when its environment's window closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowClose {
    /// It runs to its end.
    Finish,
    /// It pauses at its next step boundary (the orchestrator does the pausing).
    Pause,
}

crate::keyword_enum!(WindowClose { Finish => "finish", Pause => "pause" });

/// One environment's change rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentChangeRules {
    /// Whether a deployment there needs an approved change; by tier when not given (prod does).
    pub requires_change: Option<bool>,
    /// The stabilization gap there; the policy's when not given.
    pub stabilization_gap_minutes: Option<u32>,
    pub on_window_close: WindowClose,
    /// An environment (staging, say) where a deployment of the release must have been rolled back
    /// by its plans' rollback steps before the release may be deployed here: a rollback tested
    /// before it is needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_rollback_tested_in: Option<EnvironmentName>,
}

/// A pre-approved template of standard changes: routine work on named services in named
/// environments. A standard change names one, and may only touch what it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeTemplate {
    pub description: String,
    /// The services its changes may deploy; empty means any.
    pub services: BTreeSet<ServiceName>,
    /// The environments its changes may go into; empty means any.
    pub environments: BTreeSet<EnvironmentName>,
}

impl ChangeTemplate {
    /// Every reason a change of `services` into `environment` is not covered.
    pub fn uncovered(&self, services: &[ServiceName], environment: &EnvironmentName) -> Vec<String> {
        let mut reasons: Vec<String> = services
            .iter()
            .filter(|service| !self.services.is_empty() && !self.services.contains(*service))
            .map(|service| format!("it does not cover service {service}"))
            .collect();
        if !self.environments.is_empty() && !self.environments.contains(environment) {
            reasons.push(format!("it does not cover environment {environment}"));
        }
        reasons
    }
}

/// The validated change policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangePolicy {
    pub risk: RiskPolicy,
    pub approvals: ApprovalSettings,
    pub stabilization_gap_minutes: u32,
    pub environments: BTreeMap<EnvironmentName, EnvironmentChangeRules>,
    /// The pre-approved templates of standard changes.
    #[serde(default)]
    pub templates: BTreeMap<TemplateName, ChangeTemplate>,
}

impl Default for ChangePolicy {
    fn default() -> ChangePolicy {
        ChangePolicy {
            risk: RiskPolicy::default(),
            approvals: ApprovalSettings::default(),
            stabilization_gap_minutes: DEFAULT_STABILIZATION_GAP_MINUTES,
            environments: BTreeMap::new(),
            templates: BTreeMap::new(),
        }
    }
}

impl ChangePolicy {
    /// Whether a deployment into `environment` needs an approved change: as configured, or
    /// for every environment of tier prod.
    pub fn requires_change(&self, environment: &Environment) -> bool {
        self.environments
            .get(&environment.name)
            .and_then(|rules| rules.requires_change)
            .unwrap_or(environment.tier == Tier::Prod)
    }

    /// Where a release's rollback must have been tested (its deployment there rolled back by
    /// the plans' rollback steps) before it is deployed into `environment`, if anywhere.
    pub fn rollback_tested_in(&self, environment: &EnvironmentName) -> Option<&EnvironmentName> {
        self.environments.get(environment).and_then(|rules| rules.requires_rollback_tested_in.as_ref())
    }

    /// The stabilization gap of `environment`.
    pub fn stabilization_gap(&self, environment: &EnvironmentName) -> jiff::SignedDuration {
        let minutes = self
            .environments
            .get(environment)
            .and_then(|rules| rules.stabilization_gap_minutes)
            .unwrap_or(self.stabilization_gap_minutes);
        jiff::SignedDuration::from_mins(i64::from(minutes))
    }

    /// What happens to a deployment in `environment` still running when its window closes.
    pub fn on_window_close(&self, environment: &EnvironmentName) -> WindowClose {
        self.environments.get(environment).map_or(WindowClose::Finish, |rules| rules.on_window_close)
    }

    /// The names of the parts that differ from `other`, for a plan.
    pub fn changed_fields(&self, other: &ChangePolicy) -> Vec<&'static str> {
        [
            ("risk", self.risk == other.risk),
            ("approvals", self.approvals == other.approvals),
            ("stabilization_gap_minutes", self.stabilization_gap_minutes == other.stabilization_gap_minutes),
            ("environments", self.environments == other.environments),
            ("templates", self.templates == other.templates),
        ]
        .into_iter()
        .filter(|(_, same)| !same)
        .map(|(field, _)| field)
        .collect()
    }
}

/// The `changes` section as typed.
#[derive(Debug, Clone, Default)]
pub struct ChangePolicyInput {
    pub risk: Option<RiskPolicyInput>,
    pub approvals: Option<ApprovalSettingsInput>,
    pub stabilization_gap_minutes: Option<Scalar>,
    pub environments: Vec<EnvironmentChangeRulesInput>,
    pub templates: Vec<ChangeTemplateInput>,
}

/// One entry of `changes.templates` as typed.
#[derive(Debug, Clone, Default)]
pub struct ChangeTemplateInput {
    pub name: String,
    pub description: Option<String>,
    pub services: Vec<String>,
    pub environments: Vec<String>,
}

/// `changes.risk` as typed.
#[derive(Debug, Clone, Default)]
pub struct RiskPolicyInput {
    pub weights: Option<RiskWeightsInput>,
    pub classes: Option<RiskClassesInput>,
    pub failure_window_days: Option<Scalar>,
    pub prior_rate: Option<Scalar>,
    pub prior_weight: Option<Scalar>,
}

/// `changes.risk.weights` as typed.
#[derive(Debug, Clone, Default)]
pub struct RiskWeightsInput {
    pub blast_radius: Option<Scalar>,
    pub size: Option<Scalar>,
    pub failure_rate: Option<Scalar>,
    pub environment_tier: Option<Scalar>,
    pub schedule: Option<Scalar>,
    pub emergency: Option<Scalar>,
    pub evidence: Option<Scalar>,
}

/// `changes.risk.classes` as typed: the lowest score of each class above low.
#[derive(Debug, Clone, Default)]
pub struct RiskClassesInput {
    pub medium: Option<Scalar>,
    pub high: Option<Scalar>,
    pub critical: Option<Scalar>,
}

/// `changes.approvals` as typed.
#[derive(Debug, Clone, Default)]
pub struct ApprovalSettingsInput {
    pub cab_quorum: Option<Scalar>,
    pub cab_required_teams: Vec<String>,
    pub cab_label_teams: Vec<LabelTeamsInput>,
    pub review_days: Option<Scalar>,
}

/// One entry of `changes.approvals.cab_label_teams` as typed.
#[derive(Debug, Clone, Default)]
pub struct LabelTeamsInput {
    pub label: String,
    pub teams: Vec<String>,
}

/// One entry of `changes.environments` as typed.
#[derive(Debug, Clone, Default)]
pub struct EnvironmentChangeRulesInput {
    pub name: String,
    pub requires_change: Option<Scalar>,
    pub stabilization_gap_minutes: Option<Scalar>,
    pub on_window_close: Option<String>,
    pub requires_rollback_tested_in: Option<String>,
}

impl ChangePolicyInput {
    /// Validates every key; violations name their key relative to the section.
    pub fn parse(self) -> Result<ChangePolicy, Violations> {
        let mut violations = Violations::new();
        let mut policy = ChangePolicy::default();
        if let Some(risk) = self.risk {
            parse_risk(&mut violations, risk, &mut policy.risk);
        }
        if let Some(approvals) = self.approvals {
            let settings = &mut policy.approvals;
            whole(&mut violations, "approvals.cab_quorum", approvals.cab_quorum, 1, 20, &mut settings.cab_quorum);
            whole(&mut violations, "approvals.review_days", approvals.review_days, 1, 365, &mut settings.review_days);
            for (index, team) in approvals.cab_required_teams.iter().enumerate() {
                let field = format!("approvals.cab_required_teams[{index}]");
                if let Some(team) = violations.check(&field, TeamName::parse(team)) {
                    if settings.cab_required_teams.contains(&team) {
                        violations.push(field, Problem::Duplicate { value: team.to_string() });
                    } else {
                        settings.cab_required_teams.push(team);
                    }
                }
            }
            for (index, entry) in approvals.cab_label_teams.into_iter().enumerate() {
                let at = |key: &str| format!("approvals.cab_label_teams[{index}].{key}");
                let label = violations.check(&at("label"), Label::parse(&entry.label));
                if let Some(label) = &label {
                    if settings.cab_label_teams.iter().any(|known| &known.label == label) {
                        violations.push(at("label"), Problem::Duplicate { value: label.to_string() });
                    }
                }
                if entry.teams.is_empty() {
                    violations.push(at("teams"), Problem::Invalid { reason: "names at least one team".to_owned() });
                }
                let mut teams = Vec::new();
                for (position, team) in entry.teams.iter().enumerate() {
                    let field = format!("{}[{position}]", at("teams"));
                    if let Some(team) = violations.check(&field, TeamName::parse(team)) {
                        if teams.contains(&team) {
                            violations.push(field, Problem::Duplicate { value: team.to_string() });
                        } else {
                            teams.push(team);
                        }
                    }
                }
                if let Some(label) = label {
                    settings.cab_label_teams.push(LabelTeams { label, teams });
                }
            }
        }
        let gap = MAX_STABILIZATION_GAP_MINUTES;
        let field = "stabilization_gap_minutes";
        whole(&mut violations, field, self.stabilization_gap_minutes, 0, gap, &mut policy.stabilization_gap_minutes);
        for (index, rules) in self.environments.into_iter().enumerate() {
            let at = |key: &str| format!("environments[{index}].{key}");
            let Some(name) = violations.check(&at("name"), EnvironmentName::parse(&rules.name)) else { continue };
            let requires_change = match rules.requires_change {
                Some(Scalar(text)) => match text.as_str() {
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => {
                        violations.push(
                            at("requires_change"),
                            Problem::NotOneOf { value: text, accepted: &["true", "false"] },
                        );
                        None
                    }
                },
                None => None,
            };
            let mut minutes = policy.stabilization_gap_minutes;
            let gap_given = rules.stabilization_gap_minutes.is_some();
            whole(
                &mut violations,
                &at("stabilization_gap_minutes"),
                rules.stabilization_gap_minutes,
                0,
                gap,
                &mut minutes,
            );
            let on_window_close = match rules.on_window_close {
                Some(text) => violations.check(&at("on_window_close"), text.parse()).unwrap_or(WindowClose::Finish),
                None => WindowClose::Finish,
            };
            let tested_in = rules.requires_rollback_tested_in.as_deref().and_then(|tested_in| {
                let tested_in =
                    violations.check(&at("requires_rollback_tested_in"), EnvironmentName::parse(tested_in))?;
                if tested_in == name {
                    let reason = "names another environment: the rollback is tested before it is needed".to_owned();
                    violations.push(at("requires_rollback_tested_in"), Problem::Invalid { reason });
                    return None;
                }
                Some(tested_in)
            });
            let rules = EnvironmentChangeRules {
                requires_change,
                stabilization_gap_minutes: gap_given.then_some(minutes),
                on_window_close,
                requires_rollback_tested_in: tested_in,
            };
            if policy.environments.insert(name.clone(), rules).is_some() {
                violations.push(at("name"), Problem::Duplicate { value: name.to_string() });
            }
        }
        for (index, template) in self.templates.into_iter().enumerate() {
            let at = |key: &str| format!("templates[{index}].{key}");
            let name = violations.check(&at("name"), TemplateName::parse(&template.name));
            let description = template.description.unwrap_or_default();
            violations.check(&at("description"), crate::name::check_text(&description, 2000, false));
            let services = names(&mut violations, &at("services"), &template.services, ServiceName::parse);
            let environments =
                names(&mut violations, &at("environments"), &template.environments, EnvironmentName::parse);
            if let Some(name) = name {
                let template = ChangeTemplate { description, services, environments };
                if policy.templates.insert(name.clone(), template).is_some() {
                    violations.push(at("name"), Problem::Duplicate { value: name.to_string() });
                }
            }
        }
        violations.into_result(policy)
    }
}

fn names<T: Ord + ToString>(
    violations: &mut Violations,
    field: &str,
    values: &[String],
    parse: impl Fn(&str) -> Result<T, Problem>,
) -> BTreeSet<T> {
    let mut parsed = BTreeSet::new();
    for (index, value) in values.iter().enumerate() {
        if let Some(name) = violations.check(&format!("{field}[{index}]"), parse(value)) {
            if let Some(duplicate) = parsed.replace(name) {
                violations.push(format!("{field}[{index}]"), Problem::Duplicate { value: duplicate.to_string() });
            }
        }
    }
    parsed
}

fn parse_risk(violations: &mut Violations, input: RiskPolicyInput, risk: &mut RiskPolicy) {
    if let Some(weights) = input.weights {
        let w: &mut RiskWeights = &mut risk.weights;
        let fields = [
            ("blast_radius", weights.blast_radius, &mut w.blast_radius),
            ("size", weights.size, &mut w.size),
            ("failure_rate", weights.failure_rate, &mut w.failure_rate),
            ("environment_tier", weights.environment_tier, &mut w.environment_tier),
            ("schedule", weights.schedule, &mut w.schedule),
            ("emergency", weights.emergency, &mut w.emergency),
            ("evidence", weights.evidence, &mut w.evidence),
        ];
        for (name, given, weight) in fields {
            whole(violations, &format!("risk.weights.{name}"), given, 0, 1000, weight);
        }
        let w = &risk.weights;
        let total =
            w.blast_radius + w.size + w.failure_rate + w.environment_tier + w.schedule + w.emergency + w.evidence;
        if total == 0 {
            violations
                .push("risk.weights", Problem::Invalid { reason: "at least one weight must be above 0".to_owned() });
        }
    }
    if let Some(classes) = input.classes {
        let mut cutoffs = risk.cutoffs.map(u32::from);
        let [medium, high, critical] = &mut cutoffs;
        whole(violations, "risk.classes.medium", classes.medium, 1, 100, medium);
        whole(violations, "risk.classes.high", classes.high, 1, 100, high);
        whole(violations, "risk.classes.critical", classes.critical, 1, 100, critical);
        if !(cutoffs[0] < cutoffs[1] && cutoffs[1] < cutoffs[2]) {
            let reason = format!("must rise: medium {} < high {} < critical {}", cutoffs[0], cutoffs[1], cutoffs[2]);
            violations.push("risk.classes", Problem::Invalid { reason });
        }
        risk.cutoffs = cutoffs.map(|cutoff| u8::try_from(cutoff).unwrap_or(100));
    }
    whole(violations, "risk.failure_window_days", input.failure_window_days, 1, 3650, &mut risk.failure_window_days);
    fraction(violations, "risk.prior_rate", input.prior_rate, 0.0, 1.0, &mut risk.prior_rate);
    fraction(violations, "risk.prior_weight", input.prior_weight, 0.0, 1000.0, &mut risk.prior_weight);
}

/// Reads a whole number from `min` to `max` into `target`, when given.
fn whole(violations: &mut Violations, field: &str, given: Option<Scalar>, min: u32, max: u32, target: &mut u32) {
    let Some(Scalar(text)) = given else { return };
    match text.parse::<u32>() {
        Ok(value) if (min..=max).contains(&value) => *target = value,
        _ => violations
            .push(field, Problem::Invalid { reason: format!("{text:?} is not a whole number from {min} to {max}") }),
    }
}

/// Reads a number from `min` to `max` into `target`, when given.
fn fraction(violations: &mut Violations, field: &str, given: Option<Scalar>, min: f64, max: f64, target: &mut f64) {
    let Some(Scalar(text)) = given else { return };
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && (min..=max).contains(&value) => *target = value,
        _ => {
            violations.push(field, Problem::Invalid { reason: format!("{text:?} is not a number from {min} to {max}") })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(text: &str) -> Option<Scalar> {
        Some(Scalar(text.to_owned()))
    }

    #[test]
    fn every_key_left_out_keeps_its_default() {
        assert_eq!(ChangePolicyInput::default().parse().expect("valid"), ChangePolicy::default());
    }

    #[test]
    fn given_keys_replace_their_defaults_and_rules_apply_per_environment() {
        let input = ChangePolicyInput {
            risk: Some(RiskPolicyInput {
                weights: Some(RiskWeightsInput { emergency: scalar("40"), ..Default::default() }),
                classes: Some(RiskClassesInput { critical: scalar("90"), ..Default::default() }),
                prior_rate: scalar("0.2"),
                ..Default::default()
            }),
            approvals: Some(ApprovalSettingsInput {
                cab_quorum: scalar("3"),
                cab_required_teams: vec!["security".to_owned()],
                cab_label_teams: vec![LabelTeamsInput {
                    label: "pci".to_owned(),
                    teams: vec!["payments".to_owned(), "security".to_owned()],
                }],
                review_days: None,
            }),
            stabilization_gap_minutes: scalar("45"),
            environments: vec![EnvironmentChangeRulesInput {
                name: "staging".to_owned(),
                requires_change: scalar("true"),
                stabilization_gap_minutes: scalar("0"),
                on_window_close: Some("pause".to_owned()),
                requires_rollback_tested_in: Some("dev".to_owned()),
            }],
            templates: Vec::new(),
        };
        let policy = input.parse().expect("valid");
        assert_eq!(
            (policy.risk.weights.emergency, policy.risk.cutoffs, policy.risk.prior_rate),
            (40, [25, 50, 90], 0.2)
        );
        assert_eq!(policy.approvals.cab_quorum, 3);
        let pci = &policy.approvals.cab_label_teams[0];
        assert_eq!(
            (pci.label.as_str(), pci.teams.iter().map(TeamName::as_str).collect::<Vec<_>>()),
            ("pci", vec!["payments", "security"])
        );
        let staging = EnvironmentName::parse("staging").expect("a name");
        let prod = EnvironmentName::parse("prod").expect("a name");
        assert_eq!(policy.stabilization_gap(&staging), jiff::SignedDuration::ZERO);
        assert_eq!(policy.stabilization_gap(&prod), jiff::SignedDuration::from_mins(45));
        assert_eq!(policy.on_window_close(&staging), WindowClose::Pause);
        let environment = |name: &EnvironmentName, tier| Environment { name: name.clone(), tier, region: None };
        assert!(policy.requires_change(&environment(&staging, Tier::Staging)));
        assert!(policy.requires_change(&environment(&prod, Tier::Prod)), "prod by its tier");
        assert!(!policy.requires_change(&environment(&EnvironmentName::parse("dev").expect("a name"), Tier::Dev)));
        assert_eq!(policy.rollback_tested_in(&staging).map(EnvironmentName::as_str), Some("dev"));
        assert_eq!(policy.rollback_tested_in(&prod), None);
    }

    #[test]
    fn a_policy_with_every_weight_zero_is_refused() {
        let zero = || scalar("0");
        let weights = RiskWeightsInput {
            blast_radius: zero(),
            size: zero(),
            failure_rate: zero(),
            environment_tier: zero(),
            schedule: zero(),
            emergency: zero(),
            evidence: zero(),
        };
        let input = ChangePolicyInput {
            risk: Some(RiskPolicyInput { weights: Some(weights), ..Default::default() }),
            ..Default::default()
        };
        let violations = input.parse().expect_err("no weight");
        assert_eq!(violations.to_string(), "risk.weights: at least one weight must be above 0");
    }

    #[test]
    fn every_bad_key_is_named() {
        let input = ChangePolicyInput {
            risk: Some(RiskPolicyInput {
                weights: Some(RiskWeightsInput {
                    blast_radius: scalar("-1"),
                    size: scalar("0"),
                    failure_rate: scalar("0"),
                    environment_tier: scalar("0"),
                    schedule: scalar("0"),
                    emergency: scalar("0"),
                    evidence: scalar("0"),
                }),
                classes: Some(RiskClassesInput { medium: scalar("60"), ..Default::default() }),
                failure_window_days: scalar("0"),
                prior_rate: scalar("1.5"),
                prior_weight: scalar(".nan"),
            }),
            approvals: Some(ApprovalSettingsInput {
                cab_quorum: scalar("two"),
                cab_required_teams: vec!["Security".to_owned()],
                cab_label_teams: vec![
                    LabelTeamsInput { label: "pci".to_owned(), teams: vec![] },
                    LabelTeamsInput { label: "pci".to_owned(), teams: vec!["ops".to_owned(), "ops".to_owned()] },
                ],
                review_days: scalar("0"),
            }),
            stabilization_gap_minutes: scalar("100000"),
            environments: vec![EnvironmentChangeRulesInput {
                name: "prod".to_owned(),
                requires_change: scalar("yes"),
                stabilization_gap_minutes: None,
                on_window_close: Some("stop".to_owned()),
                requires_rollback_tested_in: Some("prod".to_owned()),
            }],
            templates: vec![ChangeTemplateInput {
                name: "Routine".to_owned(),
                description: None,
                services: vec!["api".to_owned(), "api".to_owned()],
                environments: vec![],
            }],
        };
        let fields: Vec<String> = input.parse().expect_err("invalid").0.into_iter().map(|v| v.field).collect();
        assert_eq!(
            fields,
            [
                "risk.weights.blast_radius",
                "risk.classes",
                "risk.failure_window_days",
                "risk.prior_rate",
                "risk.prior_weight",
                "approvals.cab_quorum",
                "approvals.review_days",
                "approvals.cab_required_teams[0]",
                "approvals.cab_label_teams[0].teams",
                "approvals.cab_label_teams[1].label",
                "approvals.cab_label_teams[1].teams[1]",
                "stabilization_gap_minutes",
                "environments[0].requires_change",
                "environments[0].on_window_close",
                "environments[0].requires_rollback_tested_in",
                "templates[0].name",
                "templates[0].services[1]",
            ]
        );
    }
}
