//! Risk scoring of a change: seven factors, each a value between 0 and 1 with a weight, summed
//! into a score from 0 to 100 and a class.
//!
//! The formulas (documented in `docs/changes.md`, which must say the same):
//! - blast radius: the criticality weights (low 1, medium 2, high 3, critical 4) of every
//!   impacted service, the release's own and their transitive dependents, summed and divided
//!   by [`RiskPolicy::blast_radius_saturation`], at most 1;
//! - size: the services whose artifact changes, divided by the services running in the
//!   environment now together with the release's (1 when nothing runs there yet);
//! - failure rate: `(failures + prior_weight × prior_rate) / (deployments + prior_weight)` over
//!   the impacted release services' recorded deployments in the failure window, doubled and
//!   capped at 1 (so a rate of 50 % or more is the full factor). The prior keeps a service with
//!   two deployments from being judged on them alone: with the defaults (rate 0.1, weight 10)
//!   one failure in two deployments gives 0.17, not 0.5;
//! - environment tier: dev 0, test 0.1, uat 0.25, staging 0.5, prod 1;
//! - schedule: 0 inside an open window, 0.5 outside every allow window, 1 inside a freeze or
//!   blackout;
//! - emergency: 1 for an emergency change;
//! - evidence: 0 when the environment's gates passed, 0.5 when they were not evaluated for this
//!   content or there is no evidence at all, 1 when a gate failed.
//!
//! The score is `round(100 × Σ value × weight / Σ weight)`; a weight of 0 switches a factor off.
//! This module is pure: the service gathers the inputs.

use serde::{Deserialize, Serialize};

use crate::change::ChangeType;
use crate::environment::Tier;
use crate::name::ServiceName;
use crate::service::Criticality;

/// One factor of a change's risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskFactorKind {
    BlastRadius,
    Size,
    FailureRate,
    EnvironmentTier,
    Schedule,
    Emergency,
    Evidence,
}

crate::keyword_enum!(RiskFactorKind {
    BlastRadius => "blast_radius", Size => "size", FailureRate => "failure_rate",
    EnvironmentTier => "environment_tier", Schedule => "schedule", Emergency => "emergency",
    Evidence => "evidence",
});

/// A risk class, from the score and the policy's cut-offs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskClass {
    Low,
    Medium,
    High,
    Critical,
}

crate::keyword_enum!(RiskClass { Low => "low", Medium => "medium", High => "high", Critical => "critical" });

/// One factor as judged: its value (0 to 1), its weight, the points it adds to the score, and
/// a sentence saying what it saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskFactor {
    pub kind: RiskFactorKind,
    pub value: f64,
    pub weight: u32,
    /// This factor's share of the score: `100 × value × weight / Σ weight`.
    pub points: f64,
    pub explanation: String,
}

/// A change's risk: the score, its class and every factor. A stored format (in the change
/// request and its audit entries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskAssessment {
    pub score: u8,
    pub class: RiskClass,
    pub factors: Vec<RiskFactor>,
}

/// The weight of each factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskWeights {
    pub blast_radius: u32,
    pub size: u32,
    pub failure_rate: u32,
    pub environment_tier: u32,
    pub schedule: u32,
    pub emergency: u32,
    pub evidence: u32,
}

impl Default for RiskWeights {
    fn default() -> RiskWeights {
        RiskWeights {
            blast_radius: 20,
            size: 15,
            failure_rate: 20,
            environment_tier: 15,
            schedule: 10,
            emergency: 10,
            evidence: 10,
        }
    }
}

/// How risk is scored: weights, class cut-offs and the failure-rate prior.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RiskPolicy {
    pub weights: RiskWeights,
    /// The lowest score of the medium, high and critical classes.
    pub cutoffs: [u8; 3],
    /// How far back recorded deployments count for the failure rate, in days.
    pub failure_window_days: u32,
    /// The failure rate assumed before any deployment is seen.
    pub prior_rate: f64,
    /// How many deployments the prior is worth.
    pub prior_weight: f64,
    /// The summed criticality weights at which the blast radius is full.
    pub blast_radius_saturation: f64,
}

impl Default for RiskPolicy {
    fn default() -> RiskPolicy {
        RiskPolicy {
            weights: RiskWeights::default(),
            cutoffs: [25, 50, 75],
            failure_window_days: 90,
            prior_rate: 0.1,
            prior_weight: 10.0,
            blast_radius_saturation: 16.0,
        }
    }
}

impl RiskPolicy {
    /// The class of `score`.
    pub fn class(&self, score: u8) -> RiskClass {
        let [medium, high, critical] = self.cutoffs;
        if score >= critical {
            RiskClass::Critical
        } else if score >= high {
            RiskClass::High
        } else if score >= medium {
            RiskClass::Medium
        } else {
            RiskClass::Low
        }
    }
}

/// An impacted service: one the release deploys, or one that depends on one of those.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImpactedService {
    pub name: ServiceName,
    pub criticality: Criticality,
    /// Whether the release deploys it (false: it is a dependent).
    pub deployed: bool,
}

/// How a change's planned interval sits in the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleFit {
    /// Inside an open window (or the environment has no allow windows), touching no deny period.
    Open,
    /// Not inside an allow window of the environment.
    OutsideWindow,
    /// Overlapping a freeze or blackout.
    InsideDenyPeriod,
}

/// What the environment's gates say about the release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvidenceState {
    Passing,
    Missing,
    Failing,
}

/// Everything risk is judged on, gathered by the service.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskInput {
    pub impacted: Vec<ImpactedService>,
    /// Services whose artifact the change replaces or adds.
    pub n_changed: usize,
    /// Services running in the environment now together with the release's services.
    pub n_in_scope: usize,
    /// Recorded deployments of the impacted release services in the failure window, and how
    /// many of them failed or were rolled back.
    pub n_deployments: u32,
    pub n_failures: u32,
    pub tier: Tier,
    pub schedule: ScheduleFit,
    pub change_type: ChangeType,
    pub evidence: EvidenceState,
}

fn criticality_weight(criticality: Criticality) -> f64 {
    match criticality {
        Criticality::Low => 1.0,
        Criticality::Medium => 2.0,
        Criticality::High => 3.0,
        Criticality::Critical => 4.0,
    }
}

/// Scores `input` under `policy`.
pub fn assess(input: &RiskInput, policy: &RiskPolicy) -> RiskAssessment {
    let weights = &policy.weights;
    let mut factors = vec![
        blast_radius(input, policy),
        size(input),
        failure_rate(input, policy),
        environment_tier(input.tier),
        schedule(input.schedule),
        (
            RiskFactorKind::Emergency,
            if input.change_type == ChangeType::Emergency { 1.0 } else { 0.0 },
            format!("a {} change", input.change_type),
        ),
        evidence(input.evidence),
    ]
    .into_iter()
    .map(|(kind, value, explanation)| {
        let weight = match kind {
            RiskFactorKind::BlastRadius => weights.blast_radius,
            RiskFactorKind::Size => weights.size,
            RiskFactorKind::FailureRate => weights.failure_rate,
            RiskFactorKind::EnvironmentTier => weights.environment_tier,
            RiskFactorKind::Schedule => weights.schedule,
            RiskFactorKind::Emergency => weights.emergency,
            RiskFactorKind::Evidence => weights.evidence,
        };
        RiskFactor { kind, value, weight, points: 0.0, explanation }
    })
    .collect::<Vec<_>>();
    let total_weight: u32 = factors.iter().map(|factor| factor.weight).sum();
    let mut score = 0.0;
    for factor in &mut factors {
        factor.points = if total_weight == 0 {
            0.0
        } else {
            round2(100.0 * factor.value * f64::from(factor.weight) / f64::from(total_weight))
        };
        score += factor.points;
    }
    let score = score.round().clamp(0.0, 100.0) as u8;
    RiskAssessment { score, class: policy.class(score), factors }
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

fn blast_radius(input: &RiskInput, policy: &RiskPolicy) -> (RiskFactorKind, f64, String) {
    let weighted: f64 = input.impacted.iter().map(|service| criticality_weight(service.criticality)).sum();
    let downstream: Vec<String> = input
        .impacted
        .iter()
        .filter(|service| !service.deployed)
        .map(|service| format!("{} ({})", service.name, service.criticality))
        .collect();
    let value = round2((weighted / policy.blast_radius_saturation).min(1.0));
    let explanation = if downstream.is_empty() {
        format!("{} service(s) impacted, none downstream", input.impacted.len())
    } else {
        format!("{} service(s) impacted; downstream: {}", input.impacted.len(), downstream.join(", "))
    };
    (RiskFactorKind::BlastRadius, value, explanation)
}

fn size(input: &RiskInput) -> (RiskFactorKind, f64, String) {
    let value = if input.n_in_scope == 0 { 1.0 } else { input.n_changed as f64 / input.n_in_scope as f64 };
    let explanation = format!("{} of {} service(s) in the environment change", input.n_changed, input.n_in_scope);
    (RiskFactorKind::Size, round2(value.min(1.0)), explanation)
}

fn failure_rate(input: &RiskInput, policy: &RiskPolicy) -> (RiskFactorKind, f64, String) {
    let rate = (f64::from(input.n_failures) + policy.prior_weight * policy.prior_rate)
        / (f64::from(input.n_deployments) + policy.prior_weight);
    let explanation = format!(
        "{} of {} deployment(s) of these services failed in {} days; rate with the prior {:.2}",
        input.n_failures, input.n_deployments, policy.failure_window_days, rate
    );
    (RiskFactorKind::FailureRate, round2((2.0 * rate).min(1.0)), explanation)
}

fn environment_tier(tier: Tier) -> (RiskFactorKind, f64, String) {
    let value = match tier {
        Tier::Dev => 0.0,
        Tier::Test => 0.1,
        Tier::Uat => 0.25,
        Tier::Staging => 0.5,
        Tier::Prod => 1.0,
    };
    (RiskFactorKind::EnvironmentTier, value, format!("an environment of tier {tier}"))
}

fn schedule(fit: ScheduleFit) -> (RiskFactorKind, f64, String) {
    let (value, explanation) = match fit {
        ScheduleFit::Open => (0.0, "planned inside an open window"),
        ScheduleFit::OutsideWindow => (0.5, "planned outside every deployment window"),
        ScheduleFit::InsideDenyPeriod => (1.0, "planned inside a freeze or blackout"),
    };
    (RiskFactorKind::Schedule, value, explanation.to_owned())
}

fn evidence(state: EvidenceState) -> (RiskFactorKind, f64, String) {
    let (value, explanation) = match state {
        EvidenceState::Passing => (0.0, "the environment's gates passed for this content"),
        EvidenceState::Missing => (0.5, "no current gate decision or no evidence for this content"),
        EvidenceState::Failing => (1.0, "a gate of the environment failed for this content"),
    };
    (RiskFactorKind::Evidence, value, explanation.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(name: &str, criticality: Criticality, deployed: bool) -> ImpactedService {
        ImpactedService { name: ServiceName::parse(name).expect("a name"), criticality, deployed }
    }

    fn quiet() -> RiskInput {
        RiskInput {
            impacted: vec![service("docs", Criticality::Low, true)],
            n_changed: 1,
            n_in_scope: 10,
            n_deployments: 100,
            n_failures: 0,
            tier: Tier::Dev,
            schedule: ScheduleFit::Open,
            change_type: ChangeType::Standard,
            evidence: EvidenceState::Passing,
        }
    }

    fn check(input: RiskInput, score: u8, class: RiskClass) {
        let assessment = assess(&input, &RiskPolicy::default());
        assert_eq!((assessment.score, assessment.class), (score, class), "{assessment:#?}");
        let points: f64 = assessment.factors.iter().map(|factor| factor.points).sum();
        assert!((points - f64::from(assessment.score)).abs() <= 0.5, "the factors add up to the score");
    }

    #[test]
    fn scores_follow_the_documented_formula() {
        // docs 1/16 = 0.06 × 20 = 1.2; size 0.1 × 15 = 1.5; failure (0 + 1) / 110 × 2 = 0.02 × 20 = 0.4.
        check(quiet(), 3, RiskClass::Low);
        // A prod emergency outside every window, with failing gates, of a critical service with
        // four critical dependents, on a service that failed 5 of 10 times.
        let worst = RiskInput {
            impacted: ["a", "b", "c", "d", "e"]
                .iter()
                .enumerate()
                .map(|(index, name)| service(name, Criticality::Critical, index == 0))
                .collect(),
            n_changed: 1,
            n_in_scope: 1,
            n_deployments: 10,
            n_failures: 5,
            tier: Tier::Prod,
            schedule: ScheduleFit::InsideDenyPeriod,
            change_type: ChangeType::Emergency,
            evidence: EvidenceState::Failing,
        };
        // Failure: (5 + 1) / 20 = 0.3, doubled 0.6 × 20 = 12; the rest full: 100 - 8 = 92.
        check(worst, 92, RiskClass::Critical);
        let prod = RiskInput { tier: Tier::Prod, evidence: EvidenceState::Missing, ..quiet() };
        // 1.2 + 1.5 + 0.4 + 15 (prod) + 5 (no current gate decision) = 23.1.
        check(prod, 23, RiskClass::Low);
    }

    #[test]
    fn the_prior_keeps_two_deployments_from_deciding_alone() {
        let input = RiskInput { n_deployments: 2, n_failures: 1, ..quiet() };
        let factor = assess(&input, &RiskPolicy::default()).factors[2].clone();
        // (1 + 10 × 0.1) / (2 + 10) = 0.1667, doubled: 0.33.
        assert_eq!((factor.kind, factor.value), (RiskFactorKind::FailureRate, 0.33));
    }

    #[test]
    fn classes_change_at_the_cutoffs() {
        let policy = RiskPolicy::default();
        let classes: Vec<RiskClass> = [0, 24, 25, 49, 50, 74, 75, 100].map(|score| policy.class(score)).to_vec();
        use RiskClass::*;
        assert_eq!(classes, [Low, Low, Medium, Medium, High, High, Critical, Critical]);
    }

    #[test]
    fn a_zero_weight_switches_a_factor_off() {
        let policy =
            RiskPolicy { weights: RiskWeights { environment_tier: 0, ..RiskWeights::default() }, ..Default::default() };
        let input = RiskInput { tier: Tier::Prod, ..quiet() };
        let assessment = assess(&input, &policy);
        assert_eq!(assessment.factors[3].points, 0.0);
    }
}
