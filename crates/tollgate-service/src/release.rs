//! Releases: create, edit while the scope is open, and move through the state machine.

use std::fmt;

use tollgate_authz::{Action, Context, Resource};
use tollgate_core::audit::{AuditAction, ObjectKind, ObjectRef};
use tollgate_core::release::filter::ReleaseFilterInput;
use tollgate_core::release::{Release, ReleaseAction, ReleaseContent, ReleaseId, ReleaseInput, ReleaseSummary};
use tollgate_core::Entity;
use tollgate_core::Page;
use tollgate_core::{Problem, Violations};
use tollgate_store::StoreTx;

use crate::audit::Change;
use crate::catalog::not_found;
use crate::readiness::Binding;
use crate::{Principal, ServiceError, ServiceResult, Tollgate};

/// How a request names a release: by id (`42`) or by version (`1.4.0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseRef {
    Id(ReleaseId),
    Version(semver::Version),
}

impl ReleaseRef {
    pub fn parse(value: &str) -> Result<ReleaseRef, Problem> {
        if let Ok(id) = value.parse::<i64>() {
            return Ok(ReleaseRef::Id(ReleaseId(id)));
        }
        tollgate_core::release::parse_version(value).map(ReleaseRef::Version)
    }
}

impl fmt::Display for ReleaseRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReleaseRef::Id(id) => write!(f, "{id}"),
            ReleaseRef::Version(version) => write!(f, "{version}"),
        }
    }
}

impl Tollgate {
    /// Creates a release in state draft.
    pub async fn create_release(&self, principal: &Principal, input: ReleaseInput) -> ServiceResult<Release> {
        let facts = {
            let mut read = self.store.read().await?;
            let lifecycle = tollgate_core::name::LifecycleName::parse(&input.lifecycle).ok();
            let services: Vec<_> = input
                .artifacts
                .iter()
                .filter_map(|artifact| tollgate_core::name::ServiceName::parse(&artifact.service).ok())
                .collect();
            let mut facts = match &lifecycle {
                Some(lifecycle) => {
                    self.new_release_facts(&mut read, &principal.user.name, lifecycle, &services).await?
                }
                None => {
                    let unknown = tollgate_core::name::LifecycleName::parse("unknown").expect("a valid name");
                    self.new_release_facts(&mut read, &principal.user.name, &unknown, &services).await?
                }
            };
            facts.version = input.version.clone();
            facts
        };
        self.authorize(principal, Action::ReleaseCreate, Resource::Release(facts), Context::default()).await?;
        let mut tx = self.store.begin().await?;
        let content = validate(&mut tx, input).await?;
        let now = self.now();
        let id = tx.insert_release(&content, &principal.user.name, now).await?;
        let release = get_in(&mut tx, &ReleaseRef::Id(id)).await?;
        let object = ObjectRef::new(ObjectKind::Release, id);
        let change = Change { action: AuditAction::Create, object, before: None, after: Some(&release), reason: None };
        self.record_for(&mut tx, principal, change).await?;
        tx.commit().await?;
        Ok(release)
    }

    /// Replaces a release's content while its scope is open (draft or planned). With
    /// `expected_revision`, refuses to overwrite a change made since the caller read it.
    pub async fn update_release(
        &self,
        principal: &Principal,
        release: &ReleaseRef,
        input: ReleaseInput,
        expected_revision: Option<i64>,
    ) -> ServiceResult<Release> {
        self.authorize_release(principal, Action::ReleaseEdit, release).await?;
        let mut tx = self.store.begin().await?;
        let before = get_in(&mut tx, release).await?;
        before.check_content_editable()?;
        if let Some(expected) = expected_revision.filter(|revision| *revision != before.revision) {
            return Err(ServiceError::ReleaseChanged {
                release: before.id,
                checked: expected,
                current: before.revision,
            });
        }
        let content = validate(&mut tx, input).await?;
        tx.update_release_content(before.id, &content, before.revision, self.now()).await?;
        let after = get_in(&mut tx, &ReleaseRef::Id(before.id)).await?;
        let object = ObjectRef::new(ObjectKind::Release, before.id);
        let change =
            Change { action: AuditAction::Update, object, before: Some(&before), after: Some(&after), reason: None };
        self.record_for(&mut tx, principal, change).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Applies a manual action (plan, freeze scope, unfreeze scope, mark ready, close, roll
    /// back, cancel). The deployment actions follow from recorded deployments instead.
    pub async fn transition_release(
        &self,
        principal: &Principal,
        release: &ReleaseRef,
        action: ReleaseAction,
        reason: Option<&str>,
    ) -> ServiceResult<Release> {
        if !action.is_manual() {
            let mut violations = Violations::new();
            violations.push(
                "action",
                Problem::Invalid {
                    reason: format!("{action} follows from recorded deployments and cannot be asked for"),
                },
            );
            return Err(ServiceError::Invalid(violations));
        }
        {
            // A transition the state does not allow is refused as such, before authorization:
            // the state is no secret and the answer is more useful.
            let mut read = self.store.read().await?;
            get_in(&mut read, release).await?.transition(action, reason)?;
        }
        self.authorize_release(principal, release_action(action), release).await?;
        if action == ReleaseAction::MarkReady {
            return self.mark_ready(principal, release).await;
        }
        let mut tx = self.store.begin().await?;
        let current = get_in(&mut tx, release).await?;
        let updated = self.transition_in(&mut tx, principal, &current, action, reason).await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Marks a release ready once every artifact it names is stored, verifies on disk and (on a
    /// path to prod) is signed by a trusted key. The content is hashed outside any transaction;
    /// the write then refuses if the release changed since it was checked.
    async fn mark_ready(&self, principal: &Principal, release: &ReleaseRef) -> ServiceResult<Release> {
        let (checked, require_signatures, snapshot) = {
            let mut read = self.store.read().await?;
            let candidate = get_in(&mut read, release).await?;
            candidate.transition(ReleaseAction::MarkReady, None)?;
            let require_signatures = self.lifecycle_requires_signatures(&mut read, &candidate).await?;
            let snapshot = self.read_artifacts(&mut read, &candidate, require_signatures).await?;
            (candidate, require_signatures, snapshot)
        };
        let mut tx = self.hash_then_begin(&snapshot).await?;
        let current = self.recheck_in(&mut tx, &checked, Binding::Revision, require_signatures).await?;
        let updated = self.transition_in(&mut tx, principal, &current, ReleaseAction::MarkReady, None).await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Moves `release` by `action` inside `tx`, with its audit entry.
    pub(crate) async fn transition_in(
        &self,
        tx: &mut StoreTx,
        principal: &Principal,
        release: &Release,
        action: ReleaseAction,
        reason: Option<&str>,
    ) -> ServiceResult<Release> {
        let next = release.transition(action, reason)?;
        let now = self.now();
        tx.update_release_state(release.id, next, release.revision, now).await?;
        let updated = Release { state: next, updated_at: now, revision: release.revision + 1, ..release.clone() };
        let object = ObjectRef::new(ObjectKind::Release, release.id);
        let reason = reason.filter(|_| action.requires_reason());
        let change =
            Change { action: AuditAction::Transition, object, before: Some(release), after: Some(&updated), reason };
        self.record_for(tx, principal, change).await?;
        Ok(updated)
    }

    pub async fn get_release(&self, principal: &Principal, release: &ReleaseRef) -> ServiceResult<Release> {
        self.authorize_read(principal).await?;
        let mut read = self.store.read().await?;
        get_in(&mut read, release).await
    }

    /// A page of releases matching a filter, newest first, for the release list.
    pub async fn list_release_summaries(
        &self,
        principal: &Principal,
        filter: ReleaseFilterInput,
        page: Page,
    ) -> ServiceResult<Vec<ReleaseSummary>> {
        self.authorize_read(principal).await?;
        let filter = filter.parse()?;
        Ok(self.store.read().await?.list_release_summaries(&filter, page).await?)
    }

    /// Releases, newest first.
    pub async fn list_releases(&self, principal: &Principal, page: Page) -> ServiceResult<Vec<Release>> {
        self.authorize_read(principal).await?;
        Ok(self.store.read().await?.list_releases(page).await?)
    }
}

impl Tollgate {
    /// Authorizes `action` on the release `release` names, as it is now.
    pub(crate) async fn authorize_release(
        &self,
        principal: &Principal,
        action: Action,
        release: &ReleaseRef,
    ) -> ServiceResult<()> {
        let facts = {
            let mut read = self.store.read().await?;
            let current = get_in(&mut read, release).await?;
            self.release_facts(&mut read, &current).await?
        };
        self.authorize(principal, action, Resource::Release(facts), Context::default()).await.map(drop)
    }
}

/// The action that authorizes a manual release action.
pub(crate) fn release_action(action: ReleaseAction) -> Action {
    match action {
        ReleaseAction::Plan => Action::ReleasePlan,
        ReleaseAction::FreezeScope => Action::ReleaseFreeze,
        ReleaseAction::UnfreezeScope => Action::ReleaseUnfreeze,
        ReleaseAction::MarkReady => Action::ReleaseMarkReady,
        ReleaseAction::Close => Action::ReleaseClose,
        ReleaseAction::RollBack => Action::ReleaseRollBack,
        ReleaseAction::Cancel => Action::ReleaseCancel,
        // Not manual: refused before authorization.
        ReleaseAction::StartDeployment | ReleaseAction::CompleteDeployment => Action::ReleaseEdit,
    }
}

/// Validates a release input, including that its lifecycle and services exist.
async fn validate(tx: &mut StoreTx, input: ReleaseInput) -> ServiceResult<ReleaseContent> {
    let mut missing = Violations::new();
    if let Ok(lifecycle) = tollgate_core::name::LifecycleName::parse(&input.lifecycle) {
        if tx.find_lifecycle(&lifecycle).await?.is_none() {
            missing.push("lifecycle", Problem::UnknownReference { kind: "lifecycle", name: lifecycle.to_string() });
        }
    }
    for (index, artifact) in input.artifacts.iter().enumerate() {
        if let Ok(service) = tollgate_core::name::ServiceName::parse(&artifact.service) {
            if tx.find_service(&service).await?.is_none() {
                missing.push(
                    format!("artifacts[{index}].service"),
                    Problem::UnknownReference { kind: "service", name: service.to_string() },
                );
            }
        }
    }
    match input.parse() {
        Ok(content) if missing.is_empty() => Ok(content),
        Ok(_) => Err(ServiceError::Invalid(missing)),
        Err(mut violations) => {
            violations.0.extend(missing.0);
            Err(ServiceError::Invalid(violations))
        }
    }
}

/// The release a reference names, read through any open transaction.
pub(crate) async fn get_in(conn: &mut tollgate_store::Conn, release: &ReleaseRef) -> ServiceResult<Release> {
    let found = match release {
        ReleaseRef::Id(id) => conn.find_release(*id).await?,
        ReleaseRef::Version(version) => conn.find_release_by_version(version).await?,
    };
    found.ok_or_else(|| not_found(Entity::Release, release))
}
