//! Change requests: the request to put one release into one environment, its state machine,
//! and what it holds (type, plans, planned interval, impacted services, risk, approval route).
//!
//! The state machine is enforced here and only here; the service asks for a transition and
//! persists what this module returns. Risk scoring lives in [`risk`], the judgment of approvals
//! against a route in [`approval`]. Which route a change takes is decided by a Rego policy in
//! `tollgate-policy`; this module only holds the route it chose.

pub mod approval;
pub mod policy;
pub mod risk;

use std::fmt;

use serde::Serialize;

use crate::deployment::DeploymentId;
use crate::digest::Sha256Digest;
use crate::name::{check_text, EnvironmentName, ServiceName, TemplateName, UserName};
use crate::release::{PlannedWindow, ReleaseId, ReleaseType};
use crate::violation::{Problem, Violations};
use crate::Timestamp;

use self::approval::ApprovalRoute;
use self::risk::RiskAssessment;

/// Longest justification, implementation plan, rollback plan or review accepted.
pub const MAX_PLAN_LEN: usize = 8000;
/// Most tickets or links on one change.
pub const MAX_REFERENCES: usize = 100;
/// Longest ticket id or link.
pub const MAX_REFERENCE_LEN: usize = 500;
/// The longest planned interval of a change, in days: a change is a slot, not a season, and
/// conflict checks expand the calendar over it.
pub const MAX_PLANNED_DAYS: i64 = 31;
/// The longest rollback time a change may declare (one week).
pub const MAX_ROLLBACK_MINUTES: u32 = 7 * 24 * 60;

/// A change request's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ChangeId(pub i64);

impl fmt::Display for ChangeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// How a change is governed: standard changes are pre-approved routine work, normal changes are
/// reviewed, emergency changes go out now and are reviewed afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeType {
    Standard,
    Normal,
    Emergency,
}

crate::keyword_enum!(ChangeType { Standard => "standard", Normal => "normal", Emergency => "emergency" });

/// Where a change request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeState {
    Draft,
    Submitted,
    Assessing,
    Approved,
    Rejected,
    Scheduled,
    Implementing,
    Implemented,
    Failed,
    RolledBack,
    Reviewed,
    Closed,
}

crate::keyword_enum!(ChangeState {
    Draft => "draft", Submitted => "submitted", Assessing => "assessing", Approved => "approved",
    Rejected => "rejected", Scheduled => "scheduled", Implementing => "implementing",
    Implemented => "implemented", Failed => "failed", RolledBack => "rolled_back",
    Reviewed => "reviewed", Closed => "closed",
});

/// What can be done to a change request's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeAction {
    Submit,
    Assess,
    Approve,
    Reject,
    Schedule,
    Start,
    Complete,
    Fail,
    RollBack,
    Review,
    Close,
    Withdraw,
    Resubmit,
}

crate::keyword_enum!(ChangeAction {
    Submit => "submit", Assess => "assess", Approve => "approve", Reject => "reject",
    Schedule => "schedule", Start => "start", Complete => "complete", Fail => "fail",
    RollBack => "roll_back", Review => "review", Close => "close", Withdraw => "withdraw",
    Resubmit => "resubmit",
});

impl ChangeAction {
    pub const EVERY: [ChangeAction; 13] = [
        ChangeAction::Submit,
        ChangeAction::Assess,
        ChangeAction::Approve,
        ChangeAction::Reject,
        ChangeAction::Schedule,
        ChangeAction::Start,
        ChangeAction::Complete,
        ChangeAction::Fail,
        ChangeAction::RollBack,
        ChangeAction::Review,
        ChangeAction::Close,
        ChangeAction::Withdraw,
        ChangeAction::Resubmit,
    ];
}

impl ChangeState {
    /// The state `action` leads to from this state, if it is allowed for a change of `change_type`.
    ///
    /// A deployment may start from approved as well as scheduled: scheduling confirms the slot
    /// against the calendar, and an emergency has no slot to confirm. Only an emergency change
    /// must be reviewed before it closes; a normal or standard change may close once implemented.
    pub fn next(self, action: ChangeAction, change_type: ChangeType) -> Option<ChangeState> {
        use ChangeAction as A;
        use ChangeState as S;
        match (self, action) {
            (S::Draft, A::Submit) => Some(S::Submitted),
            (S::Submitted, A::Assess) => Some(S::Assessing),
            (S::Assessing, A::Approve) => Some(S::Approved),
            (S::Assessing, A::Reject) => Some(S::Rejected),
            (S::Approved, A::Schedule) => Some(S::Scheduled),
            (S::Approved | S::Scheduled, A::Start) => Some(S::Implementing),
            (S::Implementing, A::Complete) => Some(S::Implemented),
            (S::Implementing, A::Fail) => Some(S::Failed),
            (S::Implementing | S::Implemented, A::RollBack) => Some(S::RolledBack),
            (S::Implemented | S::Failed | S::RolledBack, A::Review) => Some(S::Reviewed),
            (S::Implemented, A::Close) if change_type != ChangeType::Emergency => Some(S::Closed),
            (S::Reviewed | S::Rejected, A::Close) => Some(S::Closed),
            (S::Draft | S::Submitted | S::Assessing | S::Approved | S::Scheduled, A::Withdraw) => Some(S::Closed),
            (S::Approved | S::Scheduled | S::Rejected, A::Resubmit) => Some(S::Submitted),
            _ => None,
        }
    }

    /// Every state reachable in one step, in a stable order.
    pub fn allowed_next(self, change_type: ChangeType) -> Vec<ChangeState> {
        let mut states = Vec::new();
        for action in ChangeAction::EVERY {
            if let Some(state) = self.next(action, change_type) {
                if !states.contains(&state) {
                    states.push(state);
                }
            }
        }
        states
    }

    /// Whether the change still waits for a decision or its implementation: it blocks the
    /// same slot for other changes and counts in conflict checks.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            ChangeState::Submitted
                | ChangeState::Assessing
                | ChangeState::Approved
                | ChangeState::Scheduled
                | ChangeState::Implementing
        )
    }

    /// Whether a deployment may be recorded under the change (given valid approvals).
    pub fn allows_deployment(self) -> bool {
        matches!(self, ChangeState::Approved | ChangeState::Scheduled)
    }
}

/// Why a change request cannot change as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeTransitionError {
    #[error("cannot {action} a change that is {from}; allowed next states: {}", list_or_none(allowed))]
    NotAllowed { from: ChangeState, action: ChangeAction, allowed: Vec<ChangeState> },
}

fn list_or_none(states: &[ChangeState]) -> String {
    if states.is_empty() {
        "none (final state)".to_owned()
    } else {
        states.iter().map(|state| state.as_str()).collect::<Vec<_>>().join(", ")
    }
}

/// Everything a requester decides about a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeContent {
    pub environment: EnvironmentName,
    pub change_type: ChangeType,
    /// The pre-approved template a standard change follows; none for other types.
    pub template: Option<TemplateName>,
    pub justification: String,
    pub implementation_plan: String,
    /// Required: how the change is undone.
    pub rollback_plan: String,
    /// How long undoing it takes; the window must hold the planned end plus this.
    pub rollback_minutes: u32,
    pub tickets: Vec<String>,
    /// Links to evidence, runbooks or dashboards.
    pub links: Vec<String>,
    pub planned: PlannedWindow,
}

impl ChangeContent {
    /// When the change must be undone by, at the latest: the planned end plus the rollback time.
    pub fn rollback_deadline(&self) -> Timestamp {
        let minutes = jiff::SignedDuration::from_mins(i64::from(self.rollback_minutes));
        self.planned.end().checked_add(minutes).unwrap_or(self.planned.end())
    }
}

/// A change request as typed, before validation. Fields left out start from the release:
/// the type (emergency for an emergency release, normal otherwise) and the planned interval
/// (the release's planned window).
#[derive(Debug, Clone, Default)]
pub struct ChangeInput {
    pub environment: String,
    pub change_type: Option<String>,
    /// Required for a standard change: the pre-approved template it follows.
    pub template: Option<String>,
    pub justification: String,
    pub implementation_plan: String,
    pub rollback_plan: String,
    pub rollback_minutes: Option<u32>,
    pub tickets: Vec<String>,
    pub links: Vec<String>,
    pub planned_start: Option<String>,
    pub planned_end: Option<String>,
}

/// What a change request starts from: the release it is for.
#[derive(Debug, Clone, Copy)]
pub struct ReleaseDefaults {
    pub release_type: ReleaseType,
    pub planned_window: Option<PlannedWindow>,
}

impl ChangeInput {
    /// Validates every field and fills what was left out from the release; returns every
    /// violation.
    pub fn parse(self, defaults: ReleaseDefaults) -> Result<ChangeContent, Violations> {
        let mut violations = Violations::new();
        let environment = violations.check("environment", EnvironmentName::parse(&self.environment));
        let change_type = match &self.change_type {
            Some(value) => violations.check("change_type", value.parse()),
            None if defaults.release_type == ReleaseType::Emergency => Some(ChangeType::Emergency),
            None => Some(ChangeType::Normal),
        };
        let template = match (&self.template, change_type) {
            (Some(name), Some(ChangeType::Standard)) => violations.check("template", TemplateName::parse(name)),
            (None, Some(ChangeType::Standard)) => {
                let reason = "a standard change names the pre-approved template it follows".to_owned();
                violations.push("template", Problem::Invalid { reason });
                None
            }
            (Some(_), Some(_)) => {
                violations.push(
                    "template",
                    Problem::Invalid { reason: "only a standard change follows a template".to_owned() },
                );
                None
            }
            (_, _) => None,
        };
        for (field, value, required) in [
            ("justification", &self.justification, true),
            ("implementation_plan", &self.implementation_plan, false),
            ("rollback_plan", &self.rollback_plan, true),
        ] {
            violations.check(field, check_text(value, MAX_PLAN_LEN, required));
        }
        let rollback_minutes = self.rollback_minutes.unwrap_or(0);
        if rollback_minutes > MAX_ROLLBACK_MINUTES {
            violations.push(
                "rollback_minutes",
                Problem::Invalid { reason: format!("at most {MAX_ROLLBACK_MINUTES} minutes (one week)") },
            );
        }
        check_references(&mut violations, "tickets", &self.tickets);
        check_references(&mut violations, "links", &self.links);
        let planned = planned_window(&mut violations, &self, defaults);
        match (environment, change_type, planned) {
            (Some(environment), Some(change_type), Some(planned)) if violations.is_empty() => Ok(ChangeContent {
                environment,
                change_type,
                template,
                justification: self.justification,
                implementation_plan: self.implementation_plan,
                rollback_plan: self.rollback_plan,
                rollback_minutes,
                tickets: self.tickets,
                links: self.links,
                planned,
            }),
            _ => Err(violations),
        }
    }
}

fn check_references(violations: &mut Violations, field: &str, values: &[String]) {
    if values.len() > MAX_REFERENCES {
        violations.push(field, Problem::Invalid { reason: format!("at most {MAX_REFERENCES} entries") });
    }
    for (index, value) in values.iter().enumerate() {
        violations.check(&format!("{field}[{index}]"), check_text(value, MAX_REFERENCE_LEN, true));
        if values[..index].contains(value) {
            violations.push(format!("{field}[{index}]"), Problem::Duplicate { value: value.clone() });
        }
    }
}

fn planned_window(
    violations: &mut Violations,
    input: &ChangeInput,
    defaults: ReleaseDefaults,
) -> Option<PlannedWindow> {
    let parse = |violations: &mut Violations, field: &str, value: &Option<String>| -> Option<Option<Timestamp>> {
        match value {
            Some(text) => violations.check(
                field,
                text.parse::<Timestamp>().map(Some).map_err(|_| Problem::InvalidTimestamp { value: text.clone() }),
            ),
            None => Some(None),
        }
    };
    let start = parse(violations, "planned_start", &input.planned_start)?;
    let end = parse(violations, "planned_end", &input.planned_end)?;
    let release = defaults.planned_window;
    match (start.or(release.map(|window| window.start())), end.or(release.map(|window| window.end()))) {
        (Some(start), Some(end))
            if end.duration_since(start) > jiff::SignedDuration::from_hours(MAX_PLANNED_DAYS * 24) =>
        {
            let reason = format!("at most {MAX_PLANNED_DAYS} days after planned_start");
            violations.push("planned_end", Problem::Invalid { reason });
            None
        }
        (Some(start), Some(end)) => violations.check("planned_end", PlannedWindow::new(start, end)),
        (None, _) => {
            violations.push("planned_start", Problem::Required);
            None
        }
        (_, None) => {
            violations.push("planned_end", Problem::Required);
            None
        }
    }
}

/// What a change's planned interval conflicts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// A freeze or blackout overlaps the interval (with its rollback time).
    DenyPeriod,
    /// The environment has deployment windows and none holds the planned interval.
    OutsideWindow,
    /// A window holds the planned interval but closes before the rollback time is over.
    RollbackOutsideWindow,
    /// Another open change touches one of the same services in the same environment within
    /// the stabilization gap.
    Change,
}

crate::keyword_enum!(ConflictKind {
    DenyPeriod => "deny_period", OutsideWindow => "outside_window",
    RollbackOutsideWindow => "rollback_outside_window", Change => "change",
});

/// One conflict of a change's planned interval, explained: which rule, which occurrence, in
/// which zone, or which other change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeConflict {
    pub kind: ConflictKind,
    /// The calendar period's name, or the other change's id.
    pub with: String,
    pub explanation: String,
}

/// The post-implementation review of a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Review {
    pub by: UserName,
    pub at: Timestamp,
    pub summary: String,
}

/// A stored change request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeRequest {
    pub id: ChangeId,
    pub release: ReleaseId,
    pub content: ChangeContent,
    pub state: ChangeState,
    /// The release manifest digest the change was last submitted for; approvals given for
    /// another digest do not count.
    pub manifest_digest: Sha256Digest,
    /// The release's services and every service that depends on one of them, transitively.
    pub impacted_services: Vec<ServiceName>,
    /// Set when the change is assessed.
    pub risk: Option<RiskAssessment>,
    /// The approvals the change needs, chosen by policy when it is assessed.
    pub route: Option<ApprovalRoute>,
    pub requested_by: UserName,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The deployment recorded under the change.
    pub deployment: Option<DeploymentId>,
    /// When the post-implementation review is due (emergency changes, once implemented).
    pub review_due_at: Option<Timestamp>,
    pub review: Option<Review>,
    /// Incremented by every write; a write with a stale revision is refused.
    pub revision: i64,
}

impl ChangeRequest {
    /// The state after `action`, or why it is refused.
    pub fn transition(&self, action: ChangeAction) -> Result<ChangeState, ChangeTransitionError> {
        let change_type = self.content.change_type;
        self.state.next(action, change_type).ok_or_else(|| ChangeTransitionError::NotAllowed {
            from: self.state,
            action,
            allowed: self.state.allowed_next(change_type),
        })
    }

    /// Whether its post-implementation review is overdue at `now`.
    pub fn review_overdue(&self, now: Timestamp) -> bool {
        self.review.is_none()
            && matches!(self.state, ChangeState::Implemented | ChangeState::Failed | ChangeState::RolledBack)
            && self.review_due_at.is_some_and(|due| due < now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(from: ChangeState, action: ChangeAction, change_type: ChangeType, expected: Option<ChangeState>) {
        assert_eq!(from.next(action, change_type), expected, "{from} --{action}--> ({change_type})");
    }

    #[test]
    fn the_state_machine_follows_the_documented_path() {
        use ChangeAction as A;
        use ChangeState as S;
        use ChangeType::{Emergency, Normal};
        let table = [
            (S::Draft, A::Submit, Normal, Some(S::Submitted)),
            (S::Submitted, A::Assess, Normal, Some(S::Assessing)),
            (S::Assessing, A::Approve, Normal, Some(S::Approved)),
            (S::Assessing, A::Reject, Normal, Some(S::Rejected)),
            (S::Approved, A::Schedule, Normal, Some(S::Scheduled)),
            (S::Scheduled, A::Start, Normal, Some(S::Implementing)),
            (S::Approved, A::Start, Emergency, Some(S::Implementing)),
            (S::Implementing, A::Complete, Normal, Some(S::Implemented)),
            (S::Implementing, A::Fail, Normal, Some(S::Failed)),
            (S::Implementing, A::RollBack, Normal, Some(S::RolledBack)),
            (S::Implemented, A::Review, Emergency, Some(S::Reviewed)),
            (S::Reviewed, A::Close, Emergency, Some(S::Closed)),
            (S::Implemented, A::Close, Normal, Some(S::Closed)),
            // An emergency change closes only after its post-implementation review.
            (S::Implemented, A::Close, Emergency, None),
            // Nothing is approved without an assessment, nor deployed without an approval.
            (S::Draft, A::Approve, Normal, None),
            (S::Submitted, A::Approve, Normal, None),
            (S::Assessing, A::Start, Emergency, None),
            (S::Rejected, A::Start, Normal, None),
            (S::Rejected, A::Resubmit, Normal, Some(S::Submitted)),
            (S::Approved, A::Resubmit, Normal, Some(S::Submitted)),
            (S::Implementing, A::Withdraw, Normal, None),
            (S::Closed, A::Submit, Normal, None),
        ];
        for (from, action, change_type, expected) in table {
            check(from, action, change_type, expected);
        }
    }

    fn defaults() -> ReleaseDefaults {
        ReleaseDefaults { release_type: ReleaseType::Minor, planned_window: None }
    }

    #[test]
    fn a_change_without_rollback_plan_or_interval_names_every_field() {
        let input = ChangeInput {
            environment: "Prod".to_owned(),
            change_type: Some("urgent".to_owned()),
            justification: " ".to_owned(),
            rollback_minutes: Some(MAX_ROLLBACK_MINUTES + 1),
            tickets: vec!["T-1".to_owned(), "T-1".to_owned()],
            ..ChangeInput::default()
        };
        let fields: Vec<String> =
            input.parse(defaults()).expect_err("invalid").0.into_iter().map(|v| v.field).collect();
        assert_eq!(
            fields,
            [
                "environment",
                "change_type",
                "justification",
                "rollback_plan",
                "rollback_minutes",
                "tickets[1]",
                "planned_start"
            ]
        );
    }

    #[test]
    fn a_planned_interval_is_a_slot_of_at_most_a_month() {
        let input = |end: &str| ChangeInput {
            environment: "prod".to_owned(),
            justification: "ship it".to_owned(),
            rollback_plan: "redeploy 1.0".to_owned(),
            planned_start: Some("2026-12-01T00:00:00Z".to_owned()),
            planned_end: Some(end.to_owned()),
            ..ChangeInput::default()
        };
        assert!(input("2027-01-01T00:00:00Z").parse(defaults()).is_ok(), "31 days");
        let violations = input("2027-01-01T00:00:01Z").parse(defaults()).expect_err("longer");
        assert_eq!(violations.to_string(), "planned_end: at most 31 days after planned_start");
    }

    #[test]
    fn a_change_starts_from_its_release() {
        let window = PlannedWindow::new(
            "2026-12-01T10:00:00Z".parse().expect("a time"),
            "2026-12-01T11:00:00Z".parse().expect("a time"),
        )
        .expect("a window");
        let input = ChangeInput {
            environment: "prod".to_owned(),
            justification: "ship it".to_owned(),
            rollback_plan: "redeploy 1.0".to_owned(),
            ..ChangeInput::default()
        };
        let content = input
            .parse(ReleaseDefaults { release_type: ReleaseType::Emergency, planned_window: Some(window) })
            .expect("valid");
        assert_eq!((content.change_type, content.planned), (ChangeType::Emergency, window));
    }
}
