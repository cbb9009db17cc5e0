//! Config as code: the plan that turns a declared configuration into creates and updates.
//!
//! `plan` compares what `tollgate.yaml` declares with what exists and returns, per object,
//! whether it is created, updated (and which fields) or unchanged. Objects that exist but are
//! not declared are left alone. References may point at objects declared in the same file or
//! already existing; anything else is reported with the path of the offending field.

use std::collections::{BTreeMap, BTreeSet};

use crate::change::policy::{ChangePolicy, ChangePolicyInput};
use crate::environment::{Environment, EnvironmentInput};
use crate::gate::{parse_policy, GatePolicy};
use crate::lifecycle::{Lifecycle, LifecycleInput};
use crate::name::{EnvironmentName, ServiceName, TeamName, UserName};
use crate::service::{find_dependency_cycle, Service, ServiceInput};
use crate::sso::{SsoConfig, SsoInput};
use crate::team::{Team, TeamInput};
use crate::violation::{Problem, Violations};

/// A configuration document as typed, before validation.
#[derive(Debug, Clone, Default)]
pub struct ApplyInput {
    pub teams: Vec<TeamInput>,
    pub environments: Vec<EnvironmentInput>,
    pub lifecycles: Vec<LifecycleInput>,
    pub services: Vec<ServiceInput>,
    /// The gates of every environment; `None` leaves the installed gate policy alone, and a
    /// section that is present replaces it whole.
    pub gates: Option<crate::gate::GatesInput>,
    /// The single sign-on settings; `None` leaves the installed ones alone.
    pub sso: Option<SsoInput>,
    /// The change policy; `None` leaves the one in force alone, and a section that is present
    /// replaces it whole (what it leaves out takes its default).
    pub changes: Option<ChangePolicyInput>,
}

/// What exists now, for the objects a configuration document can declare.
#[derive(Debug, Clone, Default)]
pub struct CurrentState {
    pub users: BTreeSet<UserName>,
    pub teams: Vec<Team>,
    pub environments: Vec<Environment>,
    pub lifecycles: Vec<Lifecycle>,
    pub services: Vec<Service>,
    /// The gate policy in force, if one was ever installed.
    pub policy: Option<GatePolicy>,
    /// The single sign-on settings in force, if any were ever applied.
    pub sso: Option<SsoConfig>,
    /// The change policy in force, if one was ever applied.
    pub change_policy: Option<ChangePolicy>,
}

/// One declared object.
#[derive(Debug, Clone, PartialEq)]
pub enum Desired {
    Team(Team),
    Environment(Environment),
    Lifecycle(Lifecycle),
    Service(Service),
    /// The whole gate policy (every environment's gates and the Rego modules they use).
    GatePolicy(GatePolicy),
    /// The single sign-on settings.
    Sso(SsoConfig),
    /// The change policy.
    ChangePolicy(ChangePolicy),
}

impl Desired {
    pub fn kind(&self) -> &'static str {
        match self {
            Desired::Team(_) => "team",
            Desired::Environment(_) => "environment",
            Desired::Lifecycle(_) => "lifecycle",
            Desired::Service(_) => "service",
            Desired::GatePolicy(_) => "gate_policy",
            Desired::Sso(_) => "sso",
            Desired::ChangePolicy(_) => "change_policy",
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Desired::Team(team) => team.name.as_str(),
            Desired::Environment(environment) => environment.name.as_str(),
            Desired::Lifecycle(lifecycle) => lifecycle.name().as_str(),
            Desired::Service(service) => service.name.as_str(),
            Desired::GatePolicy(_) => "gates",
            Desired::Sso(_) => "sso",
            Desired::ChangePolicy(_) => "changes",
        }
    }
}

/// What applying does to one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanOp {
    Create,
    Update { fields: Vec<&'static str> },
    Unchanged,
}

/// One object of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedChange {
    pub desired: Desired,
    pub op: PlanOp,
}

/// Every declared object in the order it must be applied: teams, environments, lifecycles,
/// then services with dependencies before dependents, then the gate policy and the single
/// sign-on settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub changes: Vec<PlannedChange>,
}

impl Plan {
    /// Whether applying would change anything.
    pub fn is_noop(&self) -> bool {
        self.changes.iter().all(|change| change.op == PlanOp::Unchanged)
    }
}

/// Validates `input` against `current` and plans the changes. Reports every problem.
pub fn plan(input: ApplyInput, current: &CurrentState) -> Result<Plan, Violations> {
    let mut violations = Violations::new();
    let teams = parse_section(&mut violations, "teams", input.teams, TeamInput::parse, |t| t.name.to_string());
    let environments =
        parse_section(&mut violations, "environments", input.environments, EnvironmentInput::parse, |e| {
            e.name.to_string()
        });
    let lifecycles =
        parse_section(&mut violations, "lifecycles", input.lifecycles, LifecycleInput::parse, |l| l.name().to_string());
    let services =
        parse_section(&mut violations, "services", input.services, ServiceInput::parse, |s| s.name.to_string());

    let team_names: BTreeSet<&TeamName> =
        current.teams.iter().map(|t| &t.name).chain(teams.iter().map(|(_, t)| &t.name)).collect();
    let environment_names: BTreeSet<&EnvironmentName> =
        current.environments.iter().map(|e| &e.name).chain(environments.iter().map(|(_, e)| &e.name)).collect();
    let mut graph: BTreeMap<ServiceName, BTreeSet<ServiceName>> =
        current.services.iter().map(|s| (s.name.clone(), s.depends_on.clone())).collect();
    graph.extend(services.iter().map(|(_, s)| (s.name.clone(), s.depends_on.clone())));

    for (index, team) in &teams {
        for (position, member) in team.members.iter().enumerate() {
            if !current.users.contains(member) {
                violations.push(format!("teams[{index}].members[{position}]"), unknown("user", member));
            }
        }
    }
    for (index, lifecycle) in &lifecycles {
        for (position, environment) in lifecycle.environments().iter().enumerate() {
            if !environment_names.contains(environment) {
                violations
                    .push(format!("lifecycles[{index}].environments[{position}]"), unknown("environment", environment));
            }
        }
    }
    for (index, service) in &services {
        if !team_names.contains(&service.owner) {
            violations.push(format!("services[{index}].owner"), unknown("team", &service.owner));
        }
        for (position, dependency) in service.depends_on.iter().enumerate() {
            if !graph.contains_key(dependency) {
                violations.push(format!("services[{index}].depends_on[{position}]"), unknown("service", dependency));
            }
        }
        // A target in an environment that does not exist would never be deployed to.
        for (position, target) in service.deploy.iter().flat_map(|plan| plan.targets.iter().enumerate()) {
            if !environment_names.contains(&target.environment) {
                let field = format!("services[{index}].deploy.targets[{position}].environment");
                violations.push(field, unknown("environment", &target.environment));
            }
        }
    }
    let policy = match input.gates {
        Some(gates) => match parse_policy(gates.environments, gates.modules) {
            Ok(policy) => Some(policy),
            Err(problems) => {
                violations.0.extend(problems.0);
                None
            }
        },
        None => None,
    };
    for environment in policy.iter().flat_map(|policy| policy.gates.keys()) {
        if !environment_names.contains(environment) {
            violations.push(format!("gates.{environment}"), unknown("environment", environment));
        }
    }
    let sso = match input.sso.map(SsoInput::parse) {
        Some(Ok(config)) => Some(config),
        Some(Err(problems)) => {
            violations.extend_within("sso", problems);
            None
        }
        None => None,
    };
    let change_policy = match input.changes.map(ChangePolicyInput::parse) {
        Some(Ok(policy)) => Some(policy),
        Some(Err(problems)) => {
            violations.extend_within("changes", problems);
            None
        }
        None => None,
    };
    if let Some(policy) = &change_policy {
        for (index, environment) in policy.environments.keys().enumerate() {
            if !environment_names.contains(environment) {
                violations.push(format!("changes.environments[{index}].name"), unknown("environment", environment));
            }
        }
        for (index, (_, template)) in policy.templates.iter().enumerate() {
            for service in &template.services {
                if !graph.contains_key(service) {
                    violations.push(format!("changes.templates[{index}].services"), unknown("service", service));
                }
            }
            for environment in &template.environments {
                if !environment_names.contains(environment) {
                    violations
                        .push(format!("changes.templates[{index}].environments"), unknown("environment", environment));
                }
            }
        }
        for (index, team) in policy.approvals.cab_required_teams.iter().enumerate() {
            if !team_names.contains(team) {
                violations.push(format!("changes.approvals.cab_required_teams[{index}]"), unknown("team", team));
            }
        }
        for (index, entry) in policy.approvals.cab_label_teams.iter().enumerate() {
            for (position, team) in entry.teams.iter().enumerate() {
                if !team_names.contains(team) {
                    let field = format!("changes.approvals.cab_label_teams[{index}].teams[{position}]");
                    violations.push(field, unknown("team", team));
                }
            }
        }
    }
    if let Some(cycle) = find_dependency_cycle(&graph) {
        // Report the cycle at a declared service, starting the path from it.
        let declared =
            services.iter().find_map(|(index, s)| cycle.iter().position(|name| *name == s.name).map(|at| (*index, at)));
        let (field, start) = match declared {
            Some((index, at)) => (format!("services[{index}].depends_on"), at),
            None => ("services".to_owned(), 0),
        };
        let ring = &cycle[..cycle.len() - 1];
        let mut path: Vec<String> = ring[start..].iter().chain(&ring[..start]).map(ToString::to_string).collect();
        path.push(ring[start].to_string());
        violations.push(field, Problem::Cycle { path });
    }
    if !violations.is_empty() {
        return Err(violations);
    }

    let mut changes = Vec::new();
    for (_, team) in teams {
        let op = diff(current.teams.iter().find(|t| t.name == team.name), &team, team_fields);
        changes.push(PlannedChange { desired: Desired::Team(team), op });
    }
    for (_, environment) in environments {
        let op =
            diff(current.environments.iter().find(|e| e.name == environment.name), &environment, environment_fields);
        changes.push(PlannedChange { desired: Desired::Environment(environment), op });
    }
    for (_, lifecycle) in lifecycles {
        let op = diff(current.lifecycles.iter().find(|l| l.name() == lifecycle.name()), &lifecycle, lifecycle_fields);
        changes.push(PlannedChange { desired: Desired::Lifecycle(lifecycle), op });
    }
    for service in dependencies_first(services.into_iter().map(|(_, s)| s).collect()) {
        let op = diff(current.services.iter().find(|s| s.name == service.name), &service, service_fields);
        changes.push(PlannedChange { desired: Desired::Service(service), op });
    }
    if let Some(policy) = policy {
        let op = match &current.policy {
            None => PlanOp::Create,
            Some(installed) if installed.digest() == policy.digest() => PlanOp::Unchanged,
            Some(installed) => {
                let mut fields = Vec::new();
                if installed.gates != policy.gates {
                    fields.push("gates");
                }
                if installed.modules != policy.modules {
                    fields.push("modules");
                }
                PlanOp::Update { fields }
            }
        };
        changes.push(PlannedChange { desired: Desired::GatePolicy(policy), op });
    }
    if let Some(sso) = sso {
        let op = diff(current.sso.as_ref(), &sso, SsoConfig::changed_fields);
        changes.push(PlannedChange { desired: Desired::Sso(sso), op });
    }
    if let Some(policy) = change_policy {
        let op = diff(current.change_policy.as_ref(), &policy, ChangePolicy::changed_fields);
        changes.push(PlannedChange { desired: Desired::ChangePolicy(policy), op });
    }
    Ok(Plan { changes })
}

fn unknown(kind: &'static str, name: &impl ToString) -> Problem {
    Problem::UnknownReference { kind, name: name.to_string() }
}

/// Parses each entry of a section, prefixing violations with `section[index]`, and reports names
/// declared twice.
fn parse_section<I, T>(
    violations: &mut Violations,
    section: &str,
    inputs: Vec<I>,
    parse: impl Fn(I) -> Result<T, Violations>,
    name: impl Fn(&T) -> String,
) -> Vec<(usize, T)> {
    let mut seen = BTreeSet::new();
    let mut parsed = Vec::new();
    for (index, input) in inputs.into_iter().enumerate() {
        match parse(input) {
            Ok(value) => {
                let value_name = name(&value);
                if seen.insert(value_name.clone()) {
                    parsed.push((index, value));
                } else {
                    violations.push(format!("{section}[{index}].name"), Problem::Duplicate { value: value_name });
                }
            }
            Err(errors) => violations.extend_within(&format!("{section}[{index}]"), errors),
        }
    }
    parsed
}

fn diff<T>(current: Option<&T>, desired: &T, fields: fn(&T, &T) -> Vec<&'static str>) -> PlanOp {
    match current {
        None => PlanOp::Create,
        Some(current) => {
            let changed = fields(current, desired);
            if changed.is_empty() {
                PlanOp::Unchanged
            } else {
                PlanOp::Update { fields: changed }
            }
        }
    }
}

fn changed_fields(pairs: &[(&'static str, bool)]) -> Vec<&'static str> {
    pairs.iter().filter(|(_, same)| !same).map(|(field, _)| *field).collect()
}

fn team_fields(a: &Team, b: &Team) -> Vec<&'static str> {
    changed_fields(&[
        ("display_name", a.display_name == b.display_name),
        ("members", a.members == b.members),
        ("artifact_pattern", a.artifact_pattern == b.artifact_pattern),
    ])
}

fn environment_fields(a: &Environment, b: &Environment) -> Vec<&'static str> {
    changed_fields(&[("tier", a.tier == b.tier), ("region", a.region == b.region)])
}

fn lifecycle_fields(a: &Lifecycle, b: &Lifecycle) -> Vec<&'static str> {
    changed_fields(&[("environments", a.environments() == b.environments())])
}

fn service_fields(a: &Service, b: &Service) -> Vec<&'static str> {
    changed_fields(&[
        ("owner", a.owner == b.owner),
        ("criticality", a.criticality == b.criticality),
        ("depends_on", a.depends_on == b.depends_on),
        ("description", a.description == b.description),
        ("labels", a.labels == b.labels),
        ("deploy", a.deploy == b.deploy),
    ])
}

/// Orders services so every declared dependency comes before its dependents. The graph is
/// known to be acyclic.
fn dependencies_first(mut services: Vec<Service>) -> Vec<Service> {
    let mut ordered: Vec<Service> = Vec::with_capacity(services.len());
    while !services.is_empty() {
        let ready = services.iter().position(|service| {
            service.depends_on.iter().all(|dependency| !services.iter().any(|other| &other.name == dependency))
        });
        let index = ready.expect("an acyclic graph always has a service whose dependencies are placed");
        ordered.push(services.remove(index));
    }
    ordered
}

#[cfg(test)]
mod tests;
