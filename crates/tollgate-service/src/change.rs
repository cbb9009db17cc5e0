//! Change requests: request, submit (risk assessed, route chosen by policy), approve or reject,
//! schedule against the calendar and other changes, review, withdraw and close; and the check
//! a deployment into an environment that requires a change must pass.
//!
//! Every transition and verdict is audited in the transaction that writes it. Approvals bind to
//! the release manifest digest: a release changed after its change was submitted needs the
//! change resubmitted, and the approvals given before count no more.

use std::collections::{BTreeMap, BTreeSet};

use tollgate_authz::{Action, ChangeRequestFacts, Context, Resource};
use tollgate_core::audit::{AuditAction, ObjectKind, ObjectRef};
use tollgate_core::change::approval::{judge, Approval, ApprovalRoute, ApprovalStatus, Verdict, MAX_COMMENT_LEN};
use tollgate_core::change::policy::ChangePolicy;
use tollgate_core::change::risk::{assess, ImpactedService, RiskInput, ScheduleFit};
use tollgate_core::change::{
    ChangeAction, ChangeConflict, ChangeId, ChangeInput, ChangeRequest, ChangeState, ChangeType, ConflictKind,
    ReleaseDefaults, Review, MAX_PLAN_LEN,
};
use tollgate_core::deployment::{Deployment, DeploymentStatus};
use tollgate_core::environment::Environment;
use tollgate_core::name::{check_text, EnvironmentName, Label, ServiceName, UserName};
use tollgate_core::release::Release;
use tollgate_core::user::Role;
use tollgate_core::{Entity, Page, Problem, Timestamp};
use tollgate_store::{ChangeFilter, Conn, StoreTx};

use crate::audit::Change;
use crate::catalog::{not_found, parse_key};
use crate::release::{get_in, ReleaseRef};
use crate::{Principal, ServiceError, ServiceResult, Tollgate};

/// A change request with what its pages show: the release's version, every verdict, where the
/// approvals stand for the release as it is now, and the conflicts of its planned interval.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeView {
    pub change: ChangeRequest,
    pub release_version: semver::Version,
    /// The release's manifest digest now.
    pub release_digest: tollgate_core::digest::Sha256Digest,
    /// Whether the release still has the manifest digest the change was submitted for.
    pub release_unchanged: bool,
    pub approvals: Vec<Approval>,
    /// Where the approvals stand; none before the change is assessed.
    pub status: Option<ApprovalStatus>,
    pub conflicts: Vec<ChangeConflict>,
}

/// Which changes to list.
#[derive(Debug, Clone, Default)]
pub struct ChangeQuery {
    pub release: Option<ReleaseRef>,
    pub environment: Option<String>,
    pub state: Option<String>,
    pub requested_by: Option<String>,
}

impl Tollgate {
    /// Creates a change request, in state draft, for `release` into `input.environment`.
    /// Fields left out start from the release (type, planned interval).
    pub async fn create_change(
        &self,
        principal: &Principal,
        release: &ReleaseRef,
        input: ChangeInput,
    ) -> ServiceResult<ChangeRequest> {
        let environment = parse_key(&input.environment, EnvironmentName::parse).map_err(|_| {
            ServiceError::invalid("environment", Problem::InvalidName { value: input.environment.clone() })
        })?;
        let facts = {
            let mut read = self.store.read().await?;
            let candidate = get_in(&mut read, release).await?;
            let target = find_environment(&mut read, &environment).await?;
            self.change_facts(&mut read, None, &principal.user.name, &candidate, &target, None).await?
        };
        self.authorize(principal, Action::ChangeRequest, Resource::ChangeRequest(facts), Context::default()).await?;
        let mut tx = self.store.begin().await?;
        let candidate = get_in(&mut tx, release).await?;
        let defaults = ReleaseDefaults {
            release_type: candidate.content.release_type,
            planned_window: candidate.content.planned_window,
        };
        let content = input.parse(defaults)?;
        find_environment(&mut tx, &content.environment).await?;
        let services: Vec<ServiceName> = candidate.content.services().cloned().collect();
        let problems = template_problems(&change_policy_in(&mut tx).await?, &content, &services);
        if !problems.is_empty() {
            return Err(ServiceError::invalid("template", Problem::Invalid { reason: problems.join("; ") }));
        }
        let now = self.now();
        let mut change = ChangeRequest {
            id: ChangeId(0),
            release: candidate.id,
            content,
            state: ChangeState::Draft,
            manifest_digest: candidate.manifest_digest(),
            impacted_services: impacted_services(&mut tx, &services).await?.into_keys().collect(),
            risk: None,
            route: None,
            requested_by: principal.user.name.clone(),
            created_at: now,
            updated_at: now,
            deployment: None,
            review_due_at: None,
            review: None,
            revision: 1,
        };
        change.id = tx.insert_change_request(&change).await?;
        let object = ObjectRef::new(ObjectKind::ChangeRequest, change.id);
        let audit = Change { action: AuditAction::Create, object, before: None, after: Some(&change), reason: None };
        self.record_for(&mut tx, principal, audit).await?;
        tx.commit().await?;
        Ok(change)
    }

    /// Submits a draft (or resubmits an approved, scheduled or rejected change, for the
    /// release as it is now): the risk is assessed, the approval policy picks the route, and a
    /// standard change of low risk is approved by the policy at once. Refused for a normal
    /// change whose requester has an overdue post-implementation review.
    pub async fn submit_change(&self, principal: &Principal, id: ChangeId) -> ServiceResult<ChangeView> {
        self.authorize_change(principal, Action::ChangeRequest, id, Context::default()).await?;
        let mut tx = self.store.begin().await?;
        let mut change = get_change_in(&mut tx, id).await?;
        let action = if change.state == ChangeState::Draft { ChangeAction::Submit } else { ChangeAction::Resubmit };
        change.transition(action)?;
        if change.content.change_type == ChangeType::Normal {
            let overdue = self.overdue_reviews_in(&mut tx, Some(&change.requested_by)).await?;
            if !overdue.is_empty() {
                let reasons = overdue
                    .iter()
                    .map(|late| {
                        let due = late.review_due_at.map(|due| due.to_string()).unwrap_or_default();
                        format!("the post-implementation review of emergency change {} was due at {due}", late.id)
                    })
                    .collect();
                return Err(ServiceError::ChangeRefused { change: id, reasons });
            }
        }
        let release = get_in(&mut tx, &ReleaseRef::Id(change.release)).await?;
        let environment = find_environment(&mut tx, &change.content.environment).await?;
        let services: Vec<ServiceName> = release.content.services().cloned().collect();
        // A standard change stays within its template, also when the release changed.
        let problems = template_problems(&change_policy_in(&mut tx).await?, &change.content, &services);
        if !problems.is_empty() {
            let reasons = problems.into_iter().map(|problem| format!("template: {problem}")).collect();
            return Err(ServiceError::ChangeRefused { change: id, reasons });
        }
        change.manifest_digest = release.manifest_digest();
        let impacted = impacted_services(&mut tx, &services).await?;
        // The labels of every impacted service: a CAB needs the teams configured for them.
        let labels: BTreeSet<Label> = impacted.values().flat_map(|service| service.labels.iter().cloned()).collect();
        change.impacted_services = impacted.into_keys().collect();
        change = self.move_change(&mut tx, principal, change, action, None).await?;
        let policy = change_policy_in(&mut tx).await?;
        let risk_input = self.risk_input(&mut tx, &change, &release, &environment, &policy).await?;
        change.risk = Some(assess(&risk_input, &policy.risk));
        let class = change.risk.as_ref().map(|risk| risk.class).expect("assessed above");
        // Every type and class has exactly one route: the policy's tests go through them all.
        let route = tollgate_policy::approval_route(change.content.change_type, class, &labels, &policy.approvals)
            .expect("the approval policy gives one route for every type and risk class");
        let automatic = matches!(route, ApprovalRoute::Automatic { .. });
        change.route = Some(route);
        change = self.move_change(&mut tx, principal, change, ChangeAction::Assess, None).await?;
        if automatic {
            let reason = format!("approved by the approval policy {}", tollgate_policy::approval_policy_version());
            change = self.move_change(&mut tx, principal, change, ChangeAction::Approve, Some(&reason)).await?;
        }
        let view = self.view_in(&mut tx, change).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Records `principal`'s verdict on a change being assessed, for the release as it is now,
    /// and approves or rejects the change when the verdicts decide it. Segregation of duties
    /// (never one's own change or release; one approver from outside the author's team for
    /// prod) is authorization's.
    pub async fn decide_change(
        &self,
        principal: &Principal,
        id: ChangeId,
        verdict: Verdict,
        comment: &str,
    ) -> ServiceResult<ChangeView> {
        check_text(comment, MAX_COMMENT_LEN, verdict == Verdict::Reject)
            .map_err(|problem| ServiceError::invalid("comment", problem))?;
        let context = {
            let mut read = self.store.read().await?;
            let change = get_change_in(&mut read, id).await?;
            let release = get_in(&mut read, &ReleaseRef::Id(change.release)).await?;
            let approval = self.approval_of(&mut read, principal, &change, &release, verdict, comment).await?;
            let approvals = read.list_approvals(id).await?;
            let author_teams = self.author_teams(&mut read, &change, &release).await?;
            let digest = release.manifest_digest();
            match &change.route {
                Some(route) => {
                    let before = judge(route, &approvals, &digest, &author_teams);
                    let mut with = approvals.clone();
                    with.push(approval.clone());
                    let after = judge(route, &with, &digest, &author_teams);
                    let outside = approvals.iter().any(|given| {
                        given.manifest_digest == digest
                            && given.verdict == Verdict::Approve
                            && given.approver_teams.is_disjoint(&author_teams)
                    });
                    Context {
                        completes_approvals: Some(!before.complete && after.complete),
                        outside_team_approved: Some(outside),
                        ..Context::default()
                    }
                }
                None => Context::default(),
            }
        };
        self.authorize_change(principal, Action::ChangeApprove, id, context).await?;
        let mut tx = self.store.begin().await?;
        let change = get_change_in(&mut tx, id).await?;
        if change.state != ChangeState::Assessing {
            let action = if verdict == Verdict::Approve { ChangeAction::Approve } else { ChangeAction::Reject };
            change.transition(action)?;
        }
        let release = get_in(&mut tx, &ReleaseRef::Id(change.release)).await?;
        if release.manifest_digest() != change.manifest_digest {
            let reason = format!(
                "release {} changed since change {id} was submitted (its manifest digest is now {}); resubmit the change",
                release.content.version,
                release.manifest_digest()
            );
            return Err(ServiceError::ChangeRefused { change: id, reasons: vec![reason] });
        }
        let approval = self.approval_of(&mut tx, principal, &change, &release, verdict, comment).await?;
        tx.insert_approval(&approval).await?;
        let object = ObjectRef::new(ObjectKind::ChangeRequest, id);
        let audit_action = if verdict == Verdict::Approve { AuditAction::Approve } else { AuditAction::Reject };
        let reason = Some(comment).filter(|comment| !comment.trim().is_empty());
        let audit = Change { action: audit_action, object, before: None, after: Some(&approval), reason };
        self.record_for(&mut tx, principal, audit).await?;
        let approvals = tx.list_approvals(id).await?;
        let author_teams = self.author_teams(&mut tx, &change, &release).await?;
        let route = change.route.clone().expect("an assessed change has a route");
        let status = judge(&route, &approvals, &release.manifest_digest(), &author_teams);
        let change = if status.rejected {
            self.move_change(&mut tx, principal, change, ChangeAction::Reject, Some(comment)).await?
        } else if status.complete {
            self.move_change(&mut tx, principal, change, ChangeAction::Approve, None).await?
        } else {
            change
        };
        let view = self.view_in(&mut tx, change).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Schedules an approved change: its planned interval, with the rollback time after it, is
    /// checked against the calendar and the other open changes, and refused with every
    /// conflict. An emergency change is scheduled despite conflicts, which stay on its record.
    pub async fn schedule_change(&self, principal: &Principal, id: ChangeId) -> ServiceResult<ChangeView> {
        self.authorize_change(principal, Action::ChangeRequest, id, Context::default()).await?;
        let mut tx = self.store.begin().await?;
        let change = get_change_in(&mut tx, id).await?;
        change.transition(ChangeAction::Schedule)?;
        let conflicts = self.conflicts_in(&mut tx, &change).await?;
        if !conflicts.is_empty() && change.content.change_type != ChangeType::Emergency {
            let reasons = conflicts.iter().map(|conflict| conflict.explanation.clone()).collect();
            return Err(ServiceError::ChangeRefused { change: id, reasons });
        }
        let change = self.move_change(&mut tx, principal, change, ChangeAction::Schedule, None).await?;
        let view = self.view_in(&mut tx, change).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Records the post-implementation review of an implemented, failed or rolled-back change.
    pub async fn review_change(&self, principal: &Principal, id: ChangeId, summary: &str) -> ServiceResult<ChangeView> {
        check_text(summary, MAX_PLAN_LEN, true).map_err(|problem| ServiceError::invalid("summary", problem))?;
        self.authorize_change(principal, Action::ChangeRequest, id, Context::default()).await?;
        let mut tx = self.store.begin().await?;
        let mut change = get_change_in(&mut tx, id).await?;
        change.transition(ChangeAction::Review)?;
        change.review = Some(Review { by: principal.user.name.clone(), at: self.now(), summary: summary.to_owned() });
        let change = self.move_change(&mut tx, principal, change, ChangeAction::Review, Some(summary)).await?;
        let view = self.view_in(&mut tx, change).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Withdraws a change that has not started, or closes one that is done.
    pub async fn end_change(
        &self,
        principal: &Principal,
        id: ChangeId,
        action: ChangeAction,
        reason: Option<&str>,
    ) -> ServiceResult<ChangeView> {
        if !matches!(action, ChangeAction::Withdraw | ChangeAction::Close) {
            let problem = Problem::NotOneOf { value: action.to_string(), accepted: &["withdraw", "close"] };
            return Err(ServiceError::invalid("action", problem));
        }
        if let Some(reason) = reason {
            check_text(reason, MAX_COMMENT_LEN, false).map_err(|problem| ServiceError::invalid("reason", problem))?;
        }
        self.authorize_change(principal, Action::ChangeRequest, id, Context::default()).await?;
        let mut tx = self.store.begin().await?;
        let change = get_change_in(&mut tx, id).await?;
        let change = self.move_change(&mut tx, principal, change, action, reason).await?;
        let view = self.view_in(&mut tx, change).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// One change request with its verdicts, approval status and conflicts.
    pub async fn get_change(&self, principal: &Principal, id: ChangeId) -> ServiceResult<ChangeView> {
        self.authorize_read(principal).await?;
        let mut read = self.store.read().await?;
        let change = get_change_in(&mut read, id).await?;
        self.view_in(&mut read, change).await
    }

    /// Change requests, newest first.
    pub async fn list_changes(
        &self,
        principal: &Principal,
        query: &ChangeQuery,
        page: Page,
    ) -> ServiceResult<Vec<ChangeRequest>> {
        let mut violations = tollgate_core::Violations::new();
        let environment =
            query.environment.as_deref().and_then(|name| violations.check("environment", EnvironmentName::parse(name)));
        let state = query.state.as_deref().and_then(|state| violations.check("state", state.parse::<ChangeState>()));
        let requested_by =
            query.requested_by.as_deref().and_then(|name| violations.check("requested_by", UserName::parse(name)));
        if !violations.is_empty() {
            return Err(violations.into());
        }
        self.authorize_read(principal).await?;
        let mut read = self.store.read().await?;
        let release = match &query.release {
            Some(release) => Some(get_in(&mut read, release).await?.id),
            None => None,
        };
        let filter = ChangeFilter { release, environment, states: state.into_iter().collect(), requested_by };
        Ok(read.list_change_requests(&filter, page).await?)
    }

    /// The CAB agenda: every change waiting for the change advisory board, oldest first, with
    /// its risk, conflicts and approvals so far.
    pub async fn cab_agenda(&self, principal: &Principal) -> ServiceResult<Vec<ChangeView>> {
        self.authorize_read(principal).await?;
        let mut read = self.store.read().await?;
        let filter = ChangeFilter { states: vec![ChangeState::Assessing], ..ChangeFilter::default() };
        let waiting = read.list_change_requests(&filter, Page { cursor: None, limit: Page::MAX_LIMIT }).await?;
        let mut agenda = Vec::new();
        for change in waiting.into_iter().rev() {
            if matches!(change.route, Some(ApprovalRoute::Cab { .. })) {
                agenda.push(self.view_in(&mut read, change).await?);
            }
        }
        Ok(agenda)
    }

    /// The open changes (of one environment, or all) whose planned interval with its rollback
    /// time overlaps `[from, to)`, with their conflicts: what the calendar shows. At most
    /// [`crate::calendar::MAX_QUERY_SPAN_DAYS`] days.
    pub async fn changes_between(
        &self,
        principal: &Principal,
        environment: Option<&str>,
        from: Timestamp,
        to: Timestamp,
    ) -> ServiceResult<Vec<ChangeView>> {
        let span = jiff::SignedDuration::from_hours(crate::calendar::MAX_QUERY_SPAN_DAYS * 24);
        if to <= from || to.duration_since(from) > span {
            let reason = format!("must be after from and at most {} days later", crate::calendar::MAX_QUERY_SPAN_DAYS);
            return Err(ServiceError::invalid("to", Problem::Invalid { reason }));
        }
        let environment = environment.map(|name| parse_key(name, EnvironmentName::parse)).transpose()?;
        self.authorize_read(principal).await?;
        let mut read = self.store.read().await?;
        let environments = match environment {
            Some(name) => vec![find_environment(&mut read, &name).await?],
            None => read.list_environments().await?,
        };
        let mut views = Vec::new();
        for environment in environments {
            for change in read.list_open_changes_between(&environment.name, from, to).await? {
                views.push(self.view_in(&mut read, change).await?);
            }
        }
        views.sort_by_key(|view| (view.change.content.planned.start(), view.change.id));
        Ok(views)
    }

    /// Emergency changes whose post-implementation review is overdue (of one requester, or all).
    pub async fn overdue_reviews(&self, principal: &Principal) -> ServiceResult<Vec<ChangeRequest>> {
        self.authorize_read(principal).await?;
        let mut read = self.store.read().await?;
        self.overdue_reviews_in(&mut read, None).await
    }

    async fn overdue_reviews_in(
        &self,
        conn: &mut Conn,
        requester: Option<&UserName>,
    ) -> ServiceResult<Vec<ChangeRequest>> {
        let filter = ChangeFilter {
            states: vec![ChangeState::Implemented, ChangeState::Failed, ChangeState::RolledBack],
            requested_by: requester.cloned(),
            ..ChangeFilter::default()
        };
        let done = conn.list_change_requests(&filter, Page { cursor: None, limit: Page::MAX_LIMIT }).await?;
        let now = self.now();
        Ok(done.into_iter().filter(|change| change.review_overdue(now)).collect())
    }

    /// Inside a deployment's write into `environment`: when the environment requires a change
    /// (every prod-tier environment), the approved change request this deployment implements;
    /// refused with every reason when there is none. Approvals must be complete for the
    /// release's manifest digest as it is now, and the change's planned interval must hold
    /// the deployment's start.
    pub(crate) async fn change_for_deployment_in(
        &self,
        tx: &mut Conn,
        release: &Release,
        environment: &Environment,
        at: Timestamp,
    ) -> ServiceResult<Option<ChangeRequest>> {
        if !change_policy_in(tx).await?.requires_change(environment) {
            return Ok(None);
        }
        let filter = ChangeFilter {
            release: Some(release.id),
            environment: Some(environment.name.clone()),
            states: vec![ChangeState::Approved, ChangeState::Scheduled],
            requested_by: None,
        };
        let candidates = tx.list_change_requests(&filter, Page { cursor: None, limit: Page::MAX_LIMIT }).await?;
        let digest = release.manifest_digest();
        let mut reasons = Vec::new();
        for change in candidates {
            let approvals = tx.list_approvals(change.id).await?;
            let author_teams = self.author_teams(tx, &change, release).await?;
            let route = change.route.clone().expect("an approved change has a route");
            let status = judge(&route, &approvals, &digest, &author_teams);
            let mut problems = Vec::new();
            if change.manifest_digest != digest {
                problems.push(format!(
                    "it was approved for manifest digest {}, the release now has {digest}",
                    change.manifest_digest
                ));
            } else if !status.complete {
                problems.push(format!("its approvals are incomplete: {}", status.missing.join("; ")));
            }
            let planned = change.content.planned;
            if at < planned.start() || at >= planned.end() {
                problems.push(format!(
                    "its planned interval {} to {} does not hold {at}",
                    planned.start(),
                    planned.end()
                ));
            }
            if problems.is_empty() {
                return Ok(Some(change));
            }
            reasons.push(format!("change {}: {}", change.id, problems.join("; ")));
        }
        if reasons.is_empty() {
            reasons.push(format!(
                "no approved change request for release {} in {}; request one with `tollgate change request --release {} --environment {}`",
                release.content.version, environment.name, release.content.version, environment.name
            ));
        }
        Err(ServiceError::ChangeRequired {
            release: release.content.version.clone(),
            environment: environment.name.clone(),
            reasons,
        })
    }

    /// Inside a deployment's write: moves the change the deployment implements along with the
    /// deployment's status (started, then implemented, failed or rolled back).
    pub(crate) async fn follow_deployment_in(
        &self,
        tx: &mut StoreTx,
        principal: &Principal,
        change: ChangeRequest,
        deployment: &Deployment,
    ) -> ServiceResult<()> {
        let mut change = change;
        if change.state.allows_deployment() {
            change.deployment = Some(deployment.id);
            change = self.move_change(tx, principal, change, ChangeAction::Start, None).await?;
        }
        let action = match deployment.status {
            DeploymentStatus::Running => return Ok(()),
            DeploymentStatus::Succeeded => ChangeAction::Complete,
            DeploymentStatus::Failed => ChangeAction::Fail,
            DeploymentStatus::RolledBack => ChangeAction::RollBack,
        };
        if change.transition(action).is_err() {
            return Ok(());
        }
        if let Some(ApprovalRoute::Emergency { review_days, .. }) = &change.route {
            if change.review_due_at.is_none() {
                let days = jiff::SignedDuration::from_hours(i64::from(*review_days) * 24);
                change.review_due_at = self.now().checked_add(days).ok();
            }
        }
        self.move_change(tx, principal, change, action, None).await?;
        Ok(())
    }

    /// The change a deployment implements, if any.
    pub(crate) async fn change_of_deployment_in(
        &self,
        tx: &mut StoreTx,
        deployment: &Deployment,
    ) -> ServiceResult<Option<ChangeRequest>> {
        let filter = ChangeFilter {
            release: Some(deployment.release),
            environment: Some(deployment.environment.clone()),
            states: vec![ChangeState::Implementing, ChangeState::Implemented],
            requested_by: None,
        };
        let changes = tx.list_change_requests(&filter, Page { cursor: None, limit: Page::MAX_LIMIT }).await?;
        Ok(changes.into_iter().find(|change| change.deployment == Some(deployment.id)))
    }

    /// Applies `action` to `change`, writes it and audits the transition; returns the change as
    /// stored (its revision one higher).
    async fn move_change(
        &self,
        tx: &mut StoreTx,
        principal: &Principal,
        mut change: ChangeRequest,
        action: ChangeAction,
        reason: Option<&str>,
    ) -> ServiceResult<ChangeRequest> {
        let before = get_change_in(tx, change.id).await?;
        change.state = change.transition(action)?;
        change.updated_at = self.now();
        tx.update_change_request(&change).await?;
        change.revision += 1;
        let object = ObjectRef::new(ObjectKind::ChangeRequest, change.id);
        let audit =
            Change { action: AuditAction::Transition, object, before: Some(&before), after: Some(&change), reason };
        self.record_for(tx, principal, audit).await?;
        Ok(change)
    }

    async fn view_in(&self, conn: &mut Conn, change: ChangeRequest) -> ServiceResult<ChangeView> {
        let release = get_in(conn, &ReleaseRef::Id(change.release)).await?;
        let approvals = conn.list_approvals(change.id).await?;
        let author_teams = self.author_teams(conn, &change, &release).await?;
        let status =
            change.route.as_ref().map(|route| judge(route, &approvals, &release.manifest_digest(), &author_teams));
        let conflicts = if change.state.is_open() { self.conflicts_in(conn, &change).await? } else { Vec::new() };
        Ok(ChangeView {
            release_unchanged: release.manifest_digest() == change.manifest_digest,
            release_digest: release.manifest_digest(),
            release_version: release.content.version.clone(),
            change,
            approvals,
            status,
            conflicts,
        })
    }

    /// The teams of the requester and of the release's author: an outside approver is in none.
    async fn author_teams(
        &self,
        conn: &mut Conn,
        change: &ChangeRequest,
        release: &Release,
    ) -> ServiceResult<BTreeSet<tollgate_core::name::TeamName>> {
        let mut teams = conn.teams_of(&change.requested_by).await?;
        teams.extend(conn.teams_of(&release.created_by).await?);
        Ok(teams)
    }

    /// `principal`'s verdict as it would be recorded now.
    async fn approval_of(
        &self,
        conn: &mut Conn,
        principal: &Principal,
        change: &ChangeRequest,
        release: &Release,
        verdict: Verdict,
        comment: &str,
    ) -> ServiceResult<Approval> {
        let now = self.now();
        let grants = conn.list_grants(Some(&principal.user.name), now).await?;
        let deployer = principal.user.roles.contains(&Role::Deployer)
            || grants.iter().any(|grant| {
                grant.role == Role::Deployer && grant.environment == change.content.environment && grant.is_active(now)
            });
        Ok(Approval {
            change: change.id,
            approver: principal.user.name.clone(),
            verdict,
            comment: comment.to_owned(),
            manifest_digest: release.manifest_digest(),
            approver_teams: conn.teams_of(&principal.user.name).await?,
            deployer,
            at: now,
        })
    }

    /// The change request `id` as authorization judges it.
    pub(crate) async fn change_resource_in(&self, conn: &mut Conn, id: ChangeId) -> ServiceResult<Resource> {
        let change = get_change_in(conn, id).await?;
        let release = get_in(conn, &ReleaseRef::Id(change.release)).await?;
        let environment = find_environment(conn, &change.content.environment).await?;
        let change_type = Some(change.content.change_type);
        let facts =
            self.change_facts(conn, Some(id), &change.requested_by, &release, &environment, change_type).await?;
        Ok(Resource::ChangeRequest(facts))
    }

    async fn authorize_change(
        &self,
        principal: &Principal,
        action: Action,
        id: ChangeId,
        context: Context,
    ) -> ServiceResult<()> {
        let resource = {
            let mut read = self.store.read().await?;
            self.change_resource_in(&mut read, id).await?
        };
        self.authorize(principal, action, resource, context).await.map(drop)
    }

    async fn change_facts(
        &self,
        conn: &mut Conn,
        id: Option<ChangeId>,
        requested_by: &UserName,
        release: &Release,
        environment: &Environment,
        change_type: Option<ChangeType>,
    ) -> ServiceResult<ChangeRequestFacts> {
        Ok(ChangeRequestFacts {
            id: id.map_or(0, |id| id.0),
            requested_by: requested_by.clone(),
            release: self.release_facts(conn, release).await?,
            environment: environment.name.clone(),
            tier: environment.tier,
            change_type: change_type.map_or("", ChangeType::as_str).to_owned(),
        })
    }

    /// What risk is judged on, read on `conn`.
    async fn risk_input(
        &self,
        conn: &mut Conn,
        change: &ChangeRequest,
        release: &Release,
        environment: &Environment,
        policy: &ChangePolicy,
    ) -> ServiceResult<RiskInput> {
        let own: Vec<ServiceName> = release.content.services().cloned().collect();
        let impacted = impacted_services(conn, &own).await?;
        let running =
            tollgate_core::deployment::running_at(&conn.current_releases(&environment.name).await?, self.now());
        let mut in_scope: BTreeSet<&ServiceName> = running.iter().map(|running| &running.service).collect();
        in_scope.extend(own.iter());
        let n_changed = release
            .content
            .artifacts
            .iter()
            .filter(|artifact| {
                !running.iter().any(|r| r.service == artifact.service && r.artifact.digest == artifact.digest)
            })
            .count();
        let window_days = jiff::SignedDuration::from_hours(i64::from(policy.risk.failure_window_days) * 24);
        let (n_deployments, n_failures) = conn.deployment_outcomes(&own, self.now() - window_days).await?;
        let conflicts = self.calendar_conflicts_in(conn, environment, &own, change).await?;
        let schedule = if conflicts.iter().any(|conflict| conflict.kind == ConflictKind::DenyPeriod) {
            ScheduleFit::InsideDenyPeriod
        } else if conflicts.is_empty() {
            ScheduleFit::Open
        } else {
            ScheduleFit::OutsideWindow
        };
        Ok(RiskInput {
            impacted: impacted
                .into_iter()
                .map(|(name, service)| ImpactedService {
                    deployed: own.contains(&name),
                    name,
                    criticality: service.criticality,
                })
                .collect(),
            n_changed,
            n_in_scope: in_scope.len(),
            n_deployments,
            n_failures,
            tier: environment.tier,
            schedule,
            change_type: change.content.change_type,
            evidence: self.evidence_state_in(conn, release, &environment.name).await?,
        })
    }
}

async fn get_change_in(conn: &mut Conn, id: ChangeId) -> ServiceResult<ChangeRequest> {
    conn.find_change_request(id).await?.ok_or_else(|| not_found(Entity::ChangeRequest, id))
}

async fn find_environment(conn: &mut Conn, name: &EnvironmentName) -> ServiceResult<Environment> {
    conn.find_environment(name).await?.ok_or_else(|| not_found(Entity::Environment, name))
}

/// The release's services and every service that depends on one of them, transitively, with
/// their criticality, by name.
async fn impacted_services(
    conn: &mut Conn,
    own: &[ServiceName],
) -> ServiceResult<BTreeMap<ServiceName, tollgate_core::service::Service>> {
    let services = conn.list_services().await?;
    let mut impacted = BTreeMap::new();
    let mut pending: Vec<ServiceName> = own.to_vec();
    while let Some(name) = pending.pop() {
        let Some(service) = services.iter().find(|service| service.name == name) else { continue };
        if impacted.insert(name.clone(), service.clone()).is_some() {
            continue;
        }
        pending.extend(services.iter().filter(|s| s.depends_on.contains(&name)).map(|s| s.name.clone()));
    }
    Ok(impacted)
}

/// Why a standard change does not follow its template (none when it does, or names none).
fn template_problems(
    policy: &ChangePolicy,
    content: &tollgate_core::change::ChangeContent,
    services: &[ServiceName],
) -> Vec<String> {
    let Some(name) = &content.template else { return Vec::new() };
    match policy.templates.get(name) {
        None => vec![format!("the change policy has no template {name}")],
        Some(template) => template.uncovered(services, &content.environment),
    }
}

/// The change policy in force: the one applied, or the defaults.
async fn change_policy_in(conn: &mut Conn) -> ServiceResult<ChangePolicy> {
    Ok(conn.find_change_policy().await?.unwrap_or_default())
}

impl Tollgate {
    /// Every conflict of an open change: the calendar's (deny periods, windows, the rollback time)
    /// and the other open changes in its environment touching one of its impacted services within
    /// the environment's stabilization gap of its interval. Reservations of shared environments
    /// will be checked here too once environments can be reserved.
    async fn conflicts_in(&self, conn: &mut Conn, change: &ChangeRequest) -> ServiceResult<Vec<ChangeConflict>> {
        let gap = change_policy_in(conn).await?.stabilization_gap(&change.content.environment);
        let environment = find_environment(conn, &change.content.environment).await?;
        let release = get_in(conn, &ReleaseRef::Id(change.release)).await?;
        let services: Vec<ServiceName> = release.content.services().cloned().collect();
        let mut conflicts = self.calendar_conflicts_in(conn, &environment, &services, change).await?;
        let planned = change.content.planned;
        let from = planned.start().checked_sub(gap).unwrap_or(planned.start());
        let deadline = change.content.rollback_deadline();
        let to = deadline.checked_add(gap).unwrap_or(deadline);
        for other in conn.list_open_changes_between(&environment.name, from, to).await? {
            if other.id == change.id {
                continue;
            }
            let shared: Vec<&str> = other
                .impacted_services
                .iter()
                .filter(|service| change.impacted_services.contains(service))
                .map(ServiceName::as_str)
                .collect();
            if shared.is_empty() {
                continue;
            }
            conflicts.push(ChangeConflict {
                kind: ConflictKind::Change,
                with: other.id.to_string(),
                explanation: format!(
                    "change {} ({}) is planned from {} to {} (rollback until {}) in {}, touching {}, within the stabilization gap of {} minutes",
                    other.id,
                    other.state,
                    other.content.planned.start(),
                    other.content.planned.end(),
                    other.content.rollback_deadline(),
                    environment.name,
                    shared.join(", "),
                    gap.as_mins()
                ),
            });
        }
        Ok(conflicts)
    }
}
