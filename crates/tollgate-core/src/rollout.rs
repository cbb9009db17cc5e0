//! Rollouts: where a service's instances run in an environment (targets), how a new release
//! reaches them (the strategy), and how traffic moves between the old and the new version (the
//! traffic provider and its weights). Declared in a service's deployment plan.
//!
//! A plan step marked `per_target` runs once for each target the strategy hands it, with the
//! target's variables. The strategies:
//! - `all_at_once`: every target in one go.
//! - `rolling`: the targets in batches (a count or a percentage, never more than
//!   `max_unavailable` at once); with a traffic provider, each batch is taken out of traffic
//!   while it is updated.
//! - `blue_green`: the targets form two weight groups; the new release goes to the group that
//!   serves no traffic, traffic switches to it at once, and the old group keeps running for a
//!   fast rollback (the next deployment replaces it).
//! - `canary`: like blue-green, but traffic moves to the new group by a list of weights, with a
//!   pause and the plan's `verify` steps after each. A first deployment (no release in either
//!   group yet) has nothing to compare with and switches at once.
//!
//! This module turns a plan, the environment's targets and the traffic split left by earlier
//! deployments into the steps of a run (`expand_plan`), and renders an nginx upstream from a
//! traffic shift. It runs nothing and never reads the clock.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::change::policy::Scalar;
use crate::deployment::DeploymentId;
use crate::name::{EnvironmentName, GroupName, ServiceName, StepName, TargetName};
use crate::plan::{DeploymentPlan, StepAction, StepDuration, StepSpec};
use crate::release::ReleaseId;
use crate::run::{NewStep, Phase, ROLLBACK_TIER};
use crate::violation::{Problem, Violations};
use crate::Timestamp;

/// The most targets one plan declares, over all environments.
pub const MAX_TARGETS: usize = 256;
/// The most weights a canary steps through.
pub const MAX_CANARY_WEIGHTS: usize = 20;

/// One place a service's instance runs in an environment: a process on a host, a pod, a VM.
/// Tollgate ships no agent; steps reach a target through the user's own tools, given the
/// target's variables (`target.name`, `target.address`, `target.host`, `target.port`,
/// `target.group`, `target.labels.NAME`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub name: TargetName,
    pub environment: EnvironmentName,
    /// `host:port`, as traffic providers route to it.
    pub address: String,
    /// The weight group it belongs to (blue-green and canary move traffic between two).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupName>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Target {
    /// The address's host and port, when it has the `host:port` form.
    pub fn host_port(&self) -> Option<(&str, u16)> {
        let (host, port) = self.address.rsplit_once(':')?;
        Some((host, port.parse().ok()?))
    }
}

/// How a new release reaches a service's targets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Strategy {
    #[default]
    AllAtOnce,
    Rolling {
        batch: Batch,
        max_unavailable: Batch,
    },
    BlueGreen,
    Canary {
        /// Percentages of traffic for the new version, rising, the last 100.
        weights: Vec<u32>,
        #[serde(rename = "pause_ms")]
        pause: StepDuration,
    },
}

impl Strategy {
    pub fn is_default(&self) -> bool {
        *self == Strategy::AllAtOnce
    }

    /// `all_at_once`, `rolling`, `blue_green` or `canary`.
    pub fn kind(&self) -> &'static str {
        match self {
            Strategy::AllAtOnce => "all_at_once",
            Strategy::Rolling { .. } => "rolling",
            Strategy::BlueGreen => "blue_green",
            Strategy::Canary { .. } => "canary",
        }
    }

    fn uses_groups(&self) -> bool {
        matches!(self, Strategy::BlueGreen | Strategy::Canary { .. })
    }
}

/// A number of targets: a count, or a percentage of them (rounded up, at least one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Batch {
    Count(u32),
    Percent(u32),
}

impl Batch {
    /// How many of `n_targets` this is: at least one, at most all.
    pub fn of(self, n_targets: usize) -> usize {
        let n = match self {
            Batch::Count(count) => count as usize,
            Batch::Percent(percent) => (n_targets * percent as usize).div_ceil(100),
        };
        n.clamp(1, n_targets.max(1))
    }

    fn parse(value: &Scalar) -> Result<Batch, Problem> {
        let invalid = || Problem::Invalid {
            reason: format!(
                "{:?} is not a batch size (a whole number from 1, or a percentage from 1% to 100%)",
                value.0
            ),
        };
        match value.0.strip_suffix('%') {
            Some(percent) => match percent.parse::<u32>() {
                Ok(percent) if (1..=100).contains(&percent) => Ok(Batch::Percent(percent)),
                _ => Err(invalid()),
            },
            None => match value.0.parse::<u32>() {
                Ok(count) if count >= 1 => Ok(Batch::Count(count)),
                _ => Err(invalid()),
            },
        }
    }
}

/// How traffic is moved between a service's targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TrafficProvider {
    /// Writes an nginx `upstream` block with the targets' weights to `file` (which the user's
    /// nginx configuration includes), checks the whole configuration with `nginx -t`, and
    /// reloads nginx; a configuration nginx refuses is put back as it was.
    Nginx {
        upstream: String,
        file: String,
        /// The `-p` prefix and `-c` configuration nginx is run with, when not its defaults.
        prefix: Option<String>,
        conf: Option<String>,
        /// The nginx program (looked up on `PATH` when it has no slash).
        binary: String,
    },
    /// Runs a program that is given the shift as JSON on its standard input; success is exit
    /// status 0.
    Command { program: String, args: Vec<String> },
}

/// A change of traffic weights for one service: what a provider applies, and what the register
/// shows while a rollout runs. A generated step of a run, never written in a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficShift {
    pub provider: TrafficProvider,
    /// Every target of the service in the environment with its relative weight; 0 takes it out
    /// of traffic.
    pub servers: Vec<TrafficServer>,
    /// Each weight group's percentage of traffic and the release it runs; empty for a rolling
    /// update's batches, which move no traffic between versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shares: Vec<GroupShare>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficServer {
    pub target: TargetName,
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupName>,
    pub weight: u32,
}

/// One weight group's percentage of a service's traffic, and the release it runs (none when
/// nothing was deployed to it yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupShare {
    pub group: GroupName,
    pub weight: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<ReleaseId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<semver::Version>,
}

/// The traffic of one service in an environment between its weight groups, as a rollout step
/// left it at `at`: what the register shows while a blue-green or canary rollout runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrafficSplit {
    pub environment: EnvironmentName,
    pub service: ServiceName,
    pub deployment: DeploymentId,
    /// The position of the step that applied it in its run.
    pub position: u32,
    pub at: Timestamp,
    pub shares: Vec<GroupShare>,
}

/// Of a split, the group that serves most of the traffic (the first by name among equals).
pub fn live_group(shares: &[GroupShare]) -> Option<&GroupShare> {
    shares.iter().filter(|share| share.weight > 0).max_by(|a, b| a.weight.cmp(&b.weight).then(b.group.cmp(&a.group)))
}

/// What expanding a plan needs to know beyond the plan.
#[derive(Debug, Clone, Copy)]
pub struct Rollout<'a> {
    pub environment: &'a EnvironmentName,
    pub release: ReleaseId,
    pub version: &'a semver::Version,
    /// The latest traffic split of each service in the environment, from earlier deployments.
    pub live: &'a BTreeMap<ServiceName, Vec<GroupShare>>,
}

/// Why a plan cannot be rolled out to an environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RolloutError {
    #[error("service {service} runs steps per target, but its plan declares no targets in environment {environment}")]
    NoTargets { service: ServiceName, environment: EnvironmentName },
    #[error(
        "service {service} deploys {strategy} in environment {environment}, which needs its targets there in two weight groups, but they are in {groups}"
    )]
    Groups { service: ServiceName, environment: EnvironmentName, strategy: &'static str, groups: String },
}

/// The steps of `plan` for `service` in the rollout's environment: the deploy steps, then the
/// rollback steps (run only if the deployment fails). Steps marked `per_target` are repeated for
/// each target the strategy hands them.
pub fn expand_plan(
    service: &ServiceName,
    plan: &DeploymentPlan,
    rollout: &Rollout<'_>,
) -> Result<(Vec<NewStep>, Vec<NewStep>), RolloutError> {
    let targets: Vec<&Target> =
        plan.targets.iter().filter(|target| &target.environment == rollout.environment).collect();
    let expander = Expander { service, environment: rollout.environment };
    let strategy = plan.strategy_for(rollout.environment);
    match strategy {
        Strategy::AllAtOnce => expander.all_at_once(plan, &targets),
        Strategy::Rolling { batch, max_unavailable } => {
            let size = batch.of(targets.len()).min(max_unavailable.of(targets.len()));
            expander.rolling(plan, &targets, size)
        }
        Strategy::BlueGreen | Strategy::Canary { .. } => expander.between_groups(plan, strategy, &targets, rollout),
    }
}

/// The upstream block an nginx traffic provider writes for `shift`: servers out of traffic are
/// marked `down`.
pub fn nginx_upstream(upstream: &str, shift: &TrafficShift, comment: &str) -> String {
    let mut text = format!("# {comment}\nupstream {upstream} {{\n");
    for server in &shift.servers {
        let target = &server.target;
        match server.weight {
            0 => text.push_str(&format!("    server {} down; # {target}\n", server.address)),
            weight => text.push_str(&format!("    server {} weight={weight}; # {target}\n", server.address)),
        }
    }
    text.push_str("}\n");
    text
}

struct Expander<'a> {
    service: &'a ServiceName,
    environment: &'a EnvironmentName,
}

impl Expander<'_> {
    fn all_at_once(
        &self,
        plan: &DeploymentPlan,
        targets: &[&Target],
    ) -> Result<(Vec<NewStep>, Vec<NewStep>), RolloutError> {
        let mut deploy = Vec::new();
        for tier in &plan.tiers {
            deploy.extend(self.steps(Phase::Deploy, &tier.name, &tier.steps, targets)?);
        }
        deploy.extend(self.steps(Phase::Deploy, &tier_name("verify"), &plan.verify, targets)?);
        let rollback = self.steps(Phase::Rollback, &tier_name(ROLLBACK_TIER), &plan.rollback, targets)?;
        Ok((deploy, rollback))
    }

    /// Tiers with no per-target step before the first one that has some run once; from there to
    /// the last such tier, the tiers run batch by batch (each batch out of traffic meanwhile,
    /// when there is a provider), each batch verified; the tiers after run once.
    fn rolling(
        &self,
        plan: &DeploymentPlan,
        targets: &[&Target],
        size: usize,
    ) -> Result<(Vec<NewStep>, Vec<NewStep>), RolloutError> {
        let per_target = |index: &usize| plan.tiers[*index].steps.iter().any(|step| step.per_target);
        let indices: Vec<usize> = (0..plan.tiers.len()).filter(per_target).collect();
        let (Some(&first), Some(&last)) = (indices.first(), indices.last()) else {
            return self.all_at_once(plan, targets);
        };
        if targets.is_empty() {
            return Err(self.no_targets());
        }
        let mut deploy = Vec::new();
        for tier in &plan.tiers[..first] {
            deploy.extend(self.steps(Phase::Deploy, &tier.name, &tier.steps, targets)?);
        }
        for (index, batch) in targets.chunks(size).enumerate() {
            let batch_tier = tier_name(&format!("batch-{}", index + 1));
            let in_batch = |target: &Target| batch.iter().any(|member| member.name == target.name);
            if let Some(provider) = &plan.traffic {
                let servers =
                    targets.iter().map(|target| server(target, if in_batch(target) { 0 } else { 1 })).collect();
                let shift = TrafficShift { provider: TrafficProvider::clone(provider), servers, shares: Vec::new() };
                deploy.push(self.generated(Phase::Deploy, &batch_tier, "drain", shift));
            }
            for tier in &plan.tiers[first..=last] {
                deploy.extend(self.steps(Phase::Deploy, &tier.name, &tier.steps, batch)?);
            }
            deploy.extend(self.steps(Phase::Deploy, &batch_tier, &plan.verify, batch)?);
            if let Some(provider) = &plan.traffic {
                let servers = targets.iter().map(|target| server(target, 1)).collect();
                let shift = TrafficShift { provider: TrafficProvider::clone(provider), servers, shares: Vec::new() };
                deploy.push(self.generated(Phase::Deploy, &batch_tier, "restore", shift));
            }
        }
        for tier in &plan.tiers[last + 1..] {
            deploy.extend(self.steps(Phase::Deploy, &tier.name, &tier.steps, targets)?);
        }
        let mut rollback = Vec::new();
        if let Some(provider) = &plan.traffic {
            let servers = targets.iter().map(|target| server(target, 1)).collect();
            let shift = TrafficShift { provider: TrafficProvider::clone(provider), servers, shares: Vec::new() };
            rollback.push(self.generated(Phase::Rollback, &tier_name(ROLLBACK_TIER), "restore", shift));
        }
        rollback.extend(self.steps(Phase::Rollback, &tier_name(ROLLBACK_TIER), &plan.rollback, targets)?);
        Ok((deploy, rollback))
    }

    /// Blue-green and canary: the new release goes to the group that serves no traffic (the
    /// first by name on a first deployment), then traffic moves to it.
    fn between_groups(
        &self,
        plan: &DeploymentPlan,
        strategy: &Strategy,
        targets: &[&Target],
        rollout: &Rollout<'_>,
    ) -> Result<(Vec<NewStep>, Vec<NewStep>), RolloutError> {
        let groups: BTreeSet<Option<&GroupName>> = targets.iter().map(|target| target.group.as_ref()).collect();
        let named: Vec<&GroupName> = groups.iter().flatten().copied().collect();
        let [first, second] = named.as_slice() else {
            return Err(self.groups(strategy, &groups));
        };
        if groups.contains(&None) {
            return Err(self.groups(strategy, &groups));
        }
        let live_shares = rollout.live.get(self.service).map(Vec::as_slice).unwrap_or_default();
        let live = live_group(live_shares).filter(|share| share.group == **first || share.group == **second);
        let (new_group, old_group) = match live {
            Some(share) if share.group == **first => (*second, *first),
            Some(_) => (*first, *second),
            None => (*first, *second),
        };
        let old_release = live.map(|share| (share.release, share.version.clone()));
        let new_targets: Vec<&Target> =
            targets.iter().filter(|target| target.group.as_ref() == Some(new_group)).copied().collect();
        let provider = TrafficProvider::clone(
            plan.traffic.as_deref().expect("a blue-green or canary plan names a traffic provider (checked on parse)"),
        );
        // Rolling back leaves the new group with no traffic and, once its rollback steps tore
        // it down, nothing running: its share names no release.
        let shift = |new_weight: u32, new_release: bool| {
            let old_weight = 100 - new_weight;
            let n_new = new_targets.len();
            let n_old = targets.len() - n_new;
            let (per_new, per_old) = server_weights(new_weight, n_new, old_weight, n_old);
            let servers = targets
                .iter()
                .map(|target| server(target, if target.group.as_ref() == Some(new_group) { per_new } else { per_old }))
                .collect();
            let (old_id, old_version) = old_release.clone().unwrap_or((None, None));
            let shares = vec![
                GroupShare {
                    group: new_group.clone(),
                    weight: new_weight,
                    release: new_release.then_some(rollout.release),
                    version: new_release.then(|| rollout.version.clone()),
                },
                GroupShare { group: old_group.clone(), weight: old_weight, release: old_id, version: old_version },
            ];
            TrafficShift { provider: provider.clone(), servers, shares }
        };
        let mut deploy = Vec::new();
        for tier in &plan.tiers {
            deploy.extend(self.steps(Phase::Deploy, &tier.name, &tier.steps, &new_targets)?);
        }
        match strategy {
            // A first deployment has no old version to share traffic with: it switches at once.
            Strategy::Canary { weights, pause } if old_release.is_some() => {
                for weight in weights {
                    let tier = tier_name(&format!("canary-{weight}"));
                    deploy.push(self.generated(Phase::Deploy, &tier, "shift", shift(*weight, true)));
                    if *weight < 100 && pause.millis() > 0 {
                        deploy.push(NewStep {
                            phase: Phase::Deploy,
                            service: self.service.clone(),
                            tier: tier.clone(),
                            spec: StepSpec::generated("pause", StepAction::Wait { duration: *pause }),
                            target: None,
                        });
                    }
                    deploy.extend(self.steps(Phase::Deploy, &tier, &plan.verify, &new_targets)?);
                }
            }
            _ => {
                let tier = tier_name("switch");
                deploy.push(self.generated(Phase::Deploy, &tier, "shift", shift(100, true)));
                deploy.extend(self.steps(Phase::Deploy, &tier, &plan.verify, &new_targets)?);
            }
        }
        let mut rollback = Vec::new();
        if old_release.is_some() {
            rollback.push(self.generated(Phase::Rollback, &tier_name(ROLLBACK_TIER), "switch-back", shift(0, false)));
        }
        rollback.extend(self.steps(Phase::Rollback, &tier_name(ROLLBACK_TIER), &plan.rollback, &new_targets)?);
        Ok((deploy, rollback))
    }

    /// `specs` in order, each `per_target` one once per target of `targets`.
    fn steps(
        &self,
        phase: Phase,
        tier: &StepName,
        specs: &[StepSpec],
        targets: &[&Target],
    ) -> Result<Vec<NewStep>, RolloutError> {
        let mut steps = Vec::new();
        for spec in specs {
            let new_step = |target: Option<&Target>| NewStep {
                phase,
                service: self.service.clone(),
                tier: tier.clone(),
                spec: spec.clone(),
                target: target.cloned(),
            };
            if !spec.per_target {
                steps.push(new_step(None));
                continue;
            }
            if targets.is_empty() {
                return Err(self.no_targets());
            }
            steps.extend(targets.iter().map(|target| new_step(Some(target))));
        }
        Ok(steps)
    }

    fn generated(&self, phase: Phase, tier: &StepName, name: &str, shift: TrafficShift) -> NewStep {
        NewStep {
            phase,
            service: self.service.clone(),
            tier: tier.clone(),
            spec: StepSpec::generated(name, StepAction::Traffic(Box::new(shift))),
            target: None,
        }
    }

    fn no_targets(&self) -> RolloutError {
        RolloutError::NoTargets { service: self.service.clone(), environment: self.environment.clone() }
    }

    fn groups(&self, strategy: &Strategy, groups: &BTreeSet<Option<&GroupName>>) -> RolloutError {
        let names: Vec<String> =
            groups.iter().map(|group| group.map_or_else(|| "no group".to_owned(), |group| group.to_string())).collect();
        RolloutError::Groups {
            service: self.service.clone(),
            environment: self.environment.clone(),
            strategy: strategy.kind(),
            groups: if names.is_empty() { "none (no targets)".to_owned() } else { names.join(", ") },
        }
    }
}

fn tier_name(name: &str) -> StepName {
    StepName::parse(name).expect("generated tier names are valid step names")
}

fn server(target: &Target, weight: u32) -> TrafficServer {
    TrafficServer { target: target.name.clone(), address: target.address.clone(), group: target.group.clone(), weight }
}

/// Per-server weights that give two groups of `n_a` and `n_b` servers the percentages `a` and
/// `b` of traffic (a server's weight is relative, as nginx reads it): as small as they can be.
fn server_weights(a: u32, n_a: usize, b: u32, n_b: usize) -> (u32, u32) {
    let (n_a, n_b) = (n_a.max(1) as u32, n_b.max(1) as u32);
    let lcm = n_a / gcd(n_a, n_b) * n_b;
    let (per_a, per_b) = (a * (lcm / n_a), b * (lcm / n_b));
    let divisor = match (per_a, per_b) {
        (0, 0) => 1,
        (0, other) | (other, 0) => other,
        (x, y) => gcd(x, y),
    };
    (per_a / divisor, per_b / divisor)
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// One target as typed.
#[derive(Debug, Clone, Default)]
pub struct TargetInput {
    pub name: String,
    pub environment: String,
    pub address: String,
    pub group: Option<String>,
    /// A mapping of label names to text.
    pub labels: Option<serde_json::Value>,
}

/// A strategy for one environment, overriding the plan's there, as typed: `environment` and
/// exactly one of the strategy keys.
#[derive(Debug, Clone, Default)]
pub struct EnvironmentStrategyInput {
    pub environment: String,
    pub all_at_once: Option<serde_json::Value>,
    pub rolling: Option<RollingInput>,
    pub blue_green: Option<serde_json::Value>,
    pub canary: Option<CanaryInput>,
}

/// A strategy as typed: exactly one of its keys.
#[derive(Debug, Clone, Default)]
pub struct StrategyInput {
    /// `all_at_once: {}`.
    pub all_at_once: Option<serde_json::Value>,
    pub rolling: Option<RollingInput>,
    /// `blue_green: {}`.
    pub blue_green: Option<serde_json::Value>,
    pub canary: Option<CanaryInput>,
}

#[derive(Debug, Clone, Default)]
pub struct RollingInput {
    /// A count (`2`) or a percentage (`25%`); one target by default.
    pub batch: Option<Scalar>,
    /// Never more targets out of traffic at once than this; the batch by default.
    pub max_unavailable: Option<Scalar>,
}

#[derive(Debug, Clone, Default)]
pub struct CanaryInput {
    pub weights: Vec<Scalar>,
    /// How long each weight below 100 holds before its verification (`2m`); none by default.
    pub pause: Option<String>,
}

/// A traffic provider as typed: exactly one of `nginx` and `command`.
#[derive(Debug, Clone, Default)]
pub struct TrafficInput {
    pub nginx: Option<NginxInput>,
    /// A program and its arguments.
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct NginxInput {
    pub upstream: String,
    pub file: String,
    pub prefix: Option<String>,
    pub conf: Option<String>,
    pub binary: Option<String>,
}

/// Parses the plan's targets: names unique per environment, addresses `host:port`.
pub(crate) fn parse_targets(inputs: Vec<TargetInput>, violations: &mut Violations) -> Vec<Target> {
    if inputs.len() > MAX_TARGETS {
        violations.push("targets", Problem::Invalid { reason: format!("at most {MAX_TARGETS} targets") });
    }
    let mut targets = Vec::with_capacity(inputs.len());
    let mut seen = BTreeSet::new();
    for (index, input) in inputs.into_iter().enumerate() {
        let field = format!("targets[{index}]");
        let name = violations.check(&format!("{field}.name"), TargetName::parse(&input.name));
        let environment = violations.check(&format!("{field}.environment"), EnvironmentName::parse(&input.environment));
        let group = match &input.group {
            Some(group) => violations.check(&format!("{field}.group"), GroupName::parse(group)).map(Some),
            None => Some(None),
        };
        let address_ok = match input.address.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|port| port > 0) => {
                crate::plan::check_text(violations, &format!("{field}.address"), &input.address, true)
            }
            _ => {
                let reason = format!("{:?} is not an address (host:port)", input.address);
                violations.push(format!("{field}.address"), Problem::Invalid { reason });
                false
            }
        };
        let labels = crate::plan::parse_string_map(violations, &format!("{field}.labels"), input.labels);
        let (Some(name), Some(environment), Some(group), Some(labels)) = (name, environment, group, labels) else {
            continue;
        };
        if !seen.insert((environment.clone(), name.clone())) {
            violations.push(format!("{field}.name"), Problem::Duplicate { value: name.to_string() });
            continue;
        }
        if address_ok {
            targets.push(Target { name, environment, address: input.address, group, labels });
        }
    }
    targets
}

/// Parses the strategies per environment: each environment once.
pub(crate) fn parse_strategies(
    inputs: Vec<EnvironmentStrategyInput>,
    violations: &mut Violations,
) -> BTreeMap<EnvironmentName, Strategy> {
    let mut strategies = BTreeMap::new();
    for (index, input) in inputs.into_iter().enumerate() {
        let field = format!("strategies[{index}]");
        let environment = violations.check(&format!("{field}.environment"), EnvironmentName::parse(&input.environment));
        let strategy = StrategyInput {
            all_at_once: input.all_at_once,
            rolling: input.rolling,
            blue_green: input.blue_green,
            canary: input.canary,
        };
        let strategy = parse_strategy(Some(strategy), &field, violations);
        let (Some(environment), Some(strategy)) = (environment, strategy) else { continue };
        if strategies.contains_key(&environment) {
            violations.push(format!("{field}.environment"), Problem::Duplicate { value: environment.to_string() });
            continue;
        }
        strategies.insert(environment, strategy);
    }
    strategies
}

/// Parses a strategy, its problems named under `field`; `all_at_once` when none is given.
pub(crate) fn parse_strategy(
    input: Option<StrategyInput>,
    field: &str,
    violations: &mut Violations,
) -> Option<Strategy> {
    let Some(input) = input else { return Some(Strategy::AllAtOnce) };
    let given: Vec<&str> = [
        input.all_at_once.is_some().then_some("all_at_once"),
        input.rolling.is_some().then_some("rolling"),
        input.blue_green.is_some().then_some("blue_green"),
        input.canary.is_some().then_some("canary"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if given.len() != 1 {
        let reason = match given.as_slice() {
            [] => "a strategy is one of all_at_once, rolling, blue_green or canary".to_owned(),
            several => format!("a plan has one strategy, but {} are given", several.join(" and ")),
        };
        violations.push(field, Problem::Invalid { reason });
        return None;
    }
    if let Some(rolling) = input.rolling {
        let mut parse = |key: &str, value: Option<&Scalar>| match value {
            Some(value) => violations.check(&format!("{field}.rolling.{key}"), Batch::parse(value)),
            None => Some(Batch::Count(1)),
        };
        let batch = parse("batch", rolling.batch.as_ref());
        let max_unavailable = match rolling.max_unavailable.as_ref() {
            None => batch,
            given => parse("max_unavailable", given),
        };
        return Some(Strategy::Rolling { batch: batch?, max_unavailable: max_unavailable? });
    }
    if let Some(canary) = input.canary {
        let mut weights = Vec::with_capacity(canary.weights.len());
        for (index, weight) in canary.weights.iter().enumerate() {
            let weight_field = format!("{field}.canary.weights[{index}]");
            match weight.0.parse::<u32>() {
                Ok(weight) if (1..=100).contains(&weight) && weights.last().is_none_or(|last| weight > *last) => {
                    weights.push(weight)
                }
                _ => {
                    let reason = format!("{:?} is not a percentage above the one before it, up to 100", weight.0);
                    violations.push(weight_field, Problem::Invalid { reason });
                    return None;
                }
            }
        }
        if weights.last() != Some(&100) || weights.len() > MAX_CANARY_WEIGHTS {
            let reason = format!("from 1 to {MAX_CANARY_WEIGHTS} rising percentages, the last of them 100");
            violations.push(format!("{field}.canary.weights"), Problem::Invalid { reason });
            return None;
        }
        let pause = match canary.pause.as_deref() {
            Some(pause) => violations.check(&format!("{field}.canary.pause"), StepDuration::parse(pause))?,
            None => StepDuration::from_millis(0),
        };
        return Some(Strategy::Canary { weights, pause });
    }
    Some(if input.blue_green.is_some() { Strategy::BlueGreen } else { Strategy::AllAtOnce })
}

/// Parses a traffic provider.
pub(crate) fn parse_traffic(
    input: Option<TrafficInput>,
    violations: &mut Violations,
) -> Option<Option<TrafficProvider>> {
    let Some(input) = input else { return Some(None) };
    match (input.nginx, input.command.is_empty()) {
        (Some(nginx), true) => {
            let mut ok = true;
            ok &= crate::plan::check_text(violations, "traffic.nginx.upstream", &nginx.upstream, true);
            if ok
                && !nginx
                    .upstream
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'.'))
            {
                let reason =
                    format!("{:?} is not an upstream name (letters, digits, '_', '-' and '.')", nginx.upstream);
                violations.push("traffic.nginx.upstream", Problem::Invalid { reason });
                ok = false;
            }
            ok &= crate::plan::check_text(violations, "traffic.nginx.file", &nginx.file, true);
            for (field, value) in [("prefix", &nginx.prefix), ("conf", &nginx.conf), ("binary", &nginx.binary)] {
                if let Some(value) = value {
                    ok &= crate::plan::check_text(violations, &format!("traffic.nginx.{field}"), value, true);
                }
            }
            ok.then(|| {
                Some(TrafficProvider::Nginx {
                    upstream: nginx.upstream,
                    file: nginx.file,
                    prefix: nginx.prefix,
                    conf: nginx.conf,
                    binary: nginx.binary.unwrap_or_else(|| "nginx".to_owned()),
                })
            })
        }
        (None, false) => {
            let mut ok = true;
            for (index, argument) in input.command.iter().enumerate() {
                ok &= crate::plan::check_text(violations, &format!("traffic.command[{index}]"), argument, index == 0);
            }
            let mut command = input.command.into_iter();
            let program = command.next().expect("command is not empty");
            ok.then(|| Some(TrafficProvider::Command { program, args: command.collect() }))
        }
        _ => {
            let reason = "traffic is moved by one of nginx or command".to_owned();
            violations.push("traffic", Problem::Invalid { reason });
            None
        }
    }
}

/// Checks what a plan's parts say of each other: a blue-green or canary plan needs a traffic
/// provider, and its targets in each environment form two groups.
pub(crate) fn check_rollout(plan: &DeploymentPlan, violations: &mut Violations) {
    let mut strategies = std::iter::once(&plan.strategy).chain(plan.strategies.values());
    if let Some(strategy) = strategies.find(|strategy| strategy.uses_groups()) {
        if plan.traffic.is_none() {
            let reason = format!("a {} strategy moves traffic, so the plan needs a traffic provider", strategy.kind());
            violations.push("traffic", Problem::Invalid { reason });
        }
    }
    let mut groups: BTreeMap<&EnvironmentName, BTreeSet<Option<&GroupName>>> = BTreeMap::new();
    for target in &plan.targets {
        groups.entry(&target.environment).or_default().insert(target.group.as_ref());
    }
    for (environment, groups) in groups {
        let strategy = plan.strategy_for(environment);
        if strategy.uses_groups() && (groups.len() != 2 || groups.contains(&None)) {
            let reason = format!(
                "a {} strategy moves traffic between two weight groups, but the targets in {environment} are in {}",
                strategy.kind(),
                groups
                    .iter()
                    .map(|group| group.map_or("no group".to_owned(), |g| g.to_string()))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            violations.push("targets", Problem::Invalid { reason });
        }
    }
}

#[cfg(test)]
mod tests;
