//! Services: deployable components, owned by a team, depending on other services.

use std::collections::{BTreeMap, BTreeSet};

use crate::name::{check_text, Label, ServiceName, TeamName};
use crate::plan::{DeployInput, DeploymentPlan};
use crate::team::parse_unique_names;
use crate::violation::{Problem, Violations};

/// The longest service description accepted.
pub const MAX_DESCRIPTION_LEN: usize = 2000;
/// The most labels one service carries.
pub const MAX_LABELS: usize = 32;

/// A deployable component.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Service {
    pub name: ServiceName,
    pub owner: TeamName,
    pub criticality: Criticality,
    /// Services this one needs at run time. Every one must exist and the graph has no cycle.
    pub depends_on: BTreeSet<ServiceName>,
    pub description: String,
    /// What policies select the service by (`security`, `pci`), sorted.
    pub labels: BTreeSet<Label>,
    /// How the service is deployed by Tollgate; absent for a service deployed by other tools.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<DeploymentPlan>,
}

/// How much harm an outage of the service does; weighs into risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Criticality {
    Low,
    Medium,
    High,
    Critical,
}

crate::keyword_enum!(Criticality { Low => "low", Medium => "medium", High => "high", Critical => "critical" });

/// A service as typed, before validation.
#[derive(Debug, Clone, Default)]
pub struct ServiceInput {
    pub name: String,
    pub owner: String,
    pub criticality: Option<String>,
    pub depends_on: Vec<String>,
    pub description: Option<String>,
    pub labels: Vec<String>,
    pub deploy: Option<DeployInput>,
}

impl ServiceInput {
    /// Validates every field. Criticality defaults to medium. References to the owner team and
    /// to other services are checked by the caller, which knows what exists.
    pub fn parse(self) -> Result<Service, Violations> {
        let mut violations = Violations::new();
        let name = violations.check("name", ServiceName::parse(&self.name));
        let owner = violations.check("owner", TeamName::parse(&self.owner));
        let criticality = match self.criticality {
            Some(value) => violations.check("criticality", value.parse()),
            None => Some(Criticality::Medium),
        };
        let depends_on = parse_unique_names(&mut violations, "depends_on", &self.depends_on, ServiceName::parse);
        let description = self.description.unwrap_or_default();
        violations.check("description", check_text(&description, MAX_DESCRIPTION_LEN, false));
        let labels = parse_unique_names(&mut violations, "labels", &self.labels, Label::parse);
        if self.labels.len() > MAX_LABELS {
            violations.push("labels", Problem::Invalid { reason: format!("at most {MAX_LABELS} labels") });
        }
        let deploy = match self.deploy.map(DeployInput::parse) {
            Some(Ok(plan)) => Some(plan),
            Some(Err(errors)) => {
                violations.extend_within("deploy", errors);
                None
            }
            None => None,
        };
        if let Some(name) = &name {
            if depends_on.contains(name) {
                violations.push("depends_on", Problem::Cycle { path: vec![name.to_string(), name.to_string()] });
            }
        }
        match (name, owner, criticality) {
            (Some(name), Some(owner), Some(criticality)) if violations.is_empty() => {
                Ok(Service { name, owner, criticality, depends_on, description, labels, deploy })
            }
            _ => Err(violations),
        }
    }
}

/// Finds a dependency cycle among services, returned as the path that closes it
/// (`a -> b -> a`), or `None` when the graph is acyclic.
pub fn find_dependency_cycle(graph: &BTreeMap<ServiceName, BTreeSet<ServiceName>>) -> Option<Vec<ServiceName>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        InProgress,
        Done,
    }
    fn visit(
        node: &ServiceName,
        graph: &BTreeMap<ServiceName, BTreeSet<ServiceName>>,
        marks: &mut BTreeMap<ServiceName, Mark>,
        stack: &mut Vec<ServiceName>,
    ) -> Option<Vec<ServiceName>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::InProgress) => {
                let start = stack.iter().position(|entry| entry == node).expect("a node in progress is on the stack");
                let mut cycle = stack[start..].to_vec();
                cycle.push(node.clone());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.clone(), Mark::InProgress);
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        marks.insert(node.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    let mut stack = Vec::new();
    graph.keys().find_map(|node| visit(node, graph, &mut marks, &mut stack))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> BTreeMap<ServiceName, BTreeSet<ServiceName>> {
        let name = |value: &str| ServiceName::parse(value).expect("name");
        edges.iter().map(|(from, to)| (name(from), to.iter().map(|value| name(value)).collect())).collect()
    }

    fn check(edges: &[(&str, &[&str])], expected: Option<&str>) {
        let cycle = find_dependency_cycle(&graph(edges))
            .map(|path| path.iter().map(ToString::to_string).collect::<Vec<_>>().join(" -> "));
        assert_eq!(cycle.as_deref(), expected);
    }

    #[test]
    fn dependency_cycles_are_found_with_their_path() {
        check(&[("a", &["b"]), ("b", &["c"]), ("c", &[])], None);
        check(&[("a", &["b", "c"]), ("b", &["c"]), ("c", &[])], None);
        check(&[("a", &["b"]), ("b", &["a"])], Some("a -> b -> a"));
        check(&[("a", &["b"]), ("b", &["c"]), ("c", &["b"])], Some("b -> c -> b"));
    }

    #[test]
    fn a_service_depending_on_itself_is_refused() {
        let input = ServiceInput {
            name: "ledger".to_owned(),
            owner: "payments".to_owned(),
            depends_on: vec!["ledger".to_owned()],
            ..ServiceInput::default()
        };
        let violations = input.parse().expect_err("self dependency");
        assert_eq!(violations.to_string(), "depends_on: dependency cycle: ledger -> ledger");
    }
}
