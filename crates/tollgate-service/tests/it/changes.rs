//! Change requests on every backend: the whole path from draft to closed through a CAB, the
//! approval route the policy picks, approvals bound to the release manifest digest (and lost
//! when the release changes), self-approval refused, prod deployments refused without an
//! approved change, emergency changes and their overdue reviews, conflicts when scheduling, and
//! two approvers deciding at the same instant.

use std::sync::Arc;

use serde_json::Value;
use tollgate_core::change::approval::Verdict;
use tollgate_core::change::risk::RiskClass;
use tollgate_core::change::{ChangeAction, ChangeId, ChangeInput, ChangeState, ConflictKind};
use tollgate_core::release::{ReleaseAction, ReleaseInput};
use tollgate_service::catalog::Upsert;
use tollgate_service::release::ReleaseRef;
use tollgate_service::ServiceError;
use tollgate_testkit::fixtures::release_input;
use tollgate_testkit::{TestApp, TestDb};

use crate::release::{catalog, ready_release, succeeded};

fn change_input(environment: &str, change_type: &str) -> ChangeInput {
    ChangeInput {
        environment: environment.to_owned(),
        change_type: Some(change_type.to_owned()),
        justification: "customers need the new ledger".to_owned(),
        implementation_plan: "deploy api, then ledger".to_owned(),
        rollback_plan: "redeploy the previous release".to_owned(),
        rollback_minutes: Some(30),
        tickets: vec!["PAY-1".to_owned()],
        planned_start: Some("2026-03-01T10:00:00Z".to_owned()),
        planned_end: Some("2026-03-01T18:00:00Z".to_owned()),
        ..ChangeInput::default()
    }
}

/// A two-day freeze of prod over the planned interval of `change_input`: planned inside it, the
/// change scores 10 more and is high risk.
async fn freeze_prod_over_the_plan(app: &TestApp) {
    let freeze = tollgate_core::calendar::PeriodInput {
        name: "Quarter close".to_owned(),
        kind: "freeze".to_owned(),
        scope: Some("environment:prod".to_owned()),
        tzid: "Europe/Berlin".to_owned(),
        start: "2026-03-01T00:00".to_owned(),
        length: "P2D".to_owned(),
        ..Default::default()
    };
    app.tollgate.put_calendar_period(&app.admin, "quarter-close", freeze).await.expect("freeze");
}

/// The catalog and a ready release 1.0.0 deployed to dev and staging, on every backend.
async fn on_every_backend<F, Fut>(story: F)
where
    F: Fn(Arc<TestApp>, ReleaseRef) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for db in TestDb::every_backend().await {
        let app = Arc::new(TestApp::on(db, 1000).await);
        catalog(&app).await;
        let release = ready_release(&app, "1.0.0", "minor").await;
        for environment in ["dev", "staging"] {
            let shipper = app.shipper().await;
            app.tollgate.record_deployment(&shipper, &release, environment, succeeded()).await.expect("deployed");
        }
        story(app, release).await;
    }
}

/// The audit entries about change requests: (action, state after, reason).
async fn change_entries(app: &TestApp) -> Vec<(String, String, String)> {
    let entries = app.tollgate.list_audit(&app.admin, 0, 10_000).await.expect("audit");
    entries
        .iter()
        .map(|entry| serde_json::from_slice::<Value>(&entry.body).expect("json"))
        .filter(|body| body["object"]["kind"] == "change_request")
        .map(|body| {
            let state = body["after"]["state"].as_str().or(body["after"]["verdict"].as_str()).unwrap_or("");
            (
                body["action"].as_str().unwrap_or("").to_owned(),
                state.to_owned(),
                body["reason"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_change_goes_through_the_cab_into_prod_and_is_closed() {
    on_every_backend(|app, release| async move {
        let (ana, _) = app.user("ana", "approver").await;
        let (bo, _) = app.user("bo", "approver").await;
        let created =
            app.tollgate.create_change(&app.admin, &release, change_input("prod", "normal")).await.expect("requested");
        assert_eq!(created.state, ChangeState::Draft);
        assert_eq!(created.impacted_services.iter().map(|s| s.as_str()).collect::<Vec<_>>(), ["api", "ledger"]);

        let submitted = app.tollgate.submit_change(&app.admin, created.id).await.expect("submitted");
        let risk = submitted.change.risk.clone().expect("assessed");
        // Two services of medium criticality (2 + 2 of 16: 0.25 × 20), both new in prod (15),
        // two good deployments with the prior ((0 + 1) / 12, doubled: 0.17 × 20), prod (15), no
        // period, no evidence (0.5 × 10): 5 + 15 + 3.4 + 15 + 5 = 43.4.
        assert_eq!((risk.score, risk.class), (43, RiskClass::Medium), "{risk:#?}");
        assert_eq!(submitted.change.state, ChangeState::Assessing);
        assert_eq!(submitted.change.route.as_ref().map(|route| route.kind()), Some("peer"));

        let approved =
            app.tollgate.decide_change(&ana, created.id, Verdict::Approve, "looks right").await.expect("approved");
        assert_eq!(approved.change.state, ChangeState::Approved);
        // A second verdict on an approved change is refused: nothing is pending.
        let late = app.tollgate.decide_change(&bo, created.id, Verdict::Approve, "").await;
        assert!(matches!(late, Err(ServiceError::ChangeTransition(_))), "{late:?}");

        app.clock.set("2026-03-01T12:00:00Z".parse().expect("a time"));
        let deployment = app
            .tollgate
            .record_deployment(&app.shipper().await, &release, "prod", succeeded())
            .await
            .expect("deployed");
        let implemented = app.tollgate.get_change(&app.admin, created.id).await.expect("change");
        assert_eq!(
            (implemented.change.state, implemented.change.deployment),
            (ChangeState::Implemented, Some(deployment.id))
        );
        let closed = app.tollgate.end_change(&app.admin, created.id, ChangeAction::Close, None).await.expect("closed");
        assert_eq!(closed.change.state, ChangeState::Closed);

        let entries = change_entries(&app).await;
        let actions: Vec<(&str, &str)> =
            entries.iter().map(|(action, state, _)| (action.as_str(), state.as_str())).collect();
        assert_eq!(
            actions,
            [
                ("change_request.create", "draft"),
                ("change_request.transition", "submitted"),
                ("change_request.transition", "assessing"),
                ("change_request.approve", "approve"),
                ("change_request.transition", "approved"),
                ("change_request.transition", "implementing"),
                ("change_request.transition", "implemented"),
                ("change_request.transition", "closed"),
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn a_high_risk_change_needs_a_cab_quorum_with_an_outsider() {
    on_every_backend(|app, release| async move {
        // The same change planned inside a freeze (+ 10) is high.
        let (ana, _) = app.user("ana", "approver").await;
        let (bo, _) = app.user("bo", "approver").await;
        let (cy, _) = app.user("cy", "approver").await;
        let team = tollgate_core::team::TeamInput {
            name: "payments".to_owned(),
            members: vec!["ana".to_owned(), "bo".to_owned(), "admin".to_owned()],
            ..Default::default()
        };
        app.tollgate.put_team(&app.admin, team, Upsert::Replace).await.expect("the team changes");
        freeze_prod_over_the_plan(&app).await;
        let created =
            app.tollgate.create_change(&app.admin, &release, change_input("prod", "normal")).await.expect("requested");
        let submitted = app.tollgate.submit_change(&app.admin, created.id).await.expect("submitted");
        let risk = submitted.change.risk.clone().expect("assessed");
        assert_eq!((risk.score, risk.class), (53, RiskClass::High), "{risk:#?}");
        assert_eq!(submitted.change.route.as_ref().map(|route| route.kind()), Some("cab"));
        let view = app.tollgate.decide_change(&ana, created.id, Verdict::Approve, "").await.expect("one of two");
        assert_eq!(view.change.state, ChangeState::Assessing);
        // bo makes the quorum, but both are in the author's team: the CAB needs an outsider.
        let view = app.tollgate.decide_change(&bo, created.id, Verdict::Approve, "").await.expect("recorded");
        assert_eq!(view.change.state, ChangeState::Assessing);
        assert_eq!(view.status.expect("judged").missing, ["an approval from outside the author's teams"]);
        let approved = app.tollgate.decide_change(&cy, created.id, Verdict::Approve, "").await.expect("the outsider");
        assert_eq!(approved.change.state, ChangeState::Approved);
        assert_eq!(approved.status.expect("judged").missing, Vec::<String>::new());
    })
    .await;
}

#[tokio::test]
async fn a_cab_for_a_change_touching_a_labelled_service_needs_the_labels_team() {
    use tollgate_core::apply::ApplyInput;
    use tollgate_core::change::policy::{ApprovalSettingsInput, ChangePolicyInput, LabelTeamsInput};
    use tollgate_core::service::ServiceInput;
    use tollgate_core::team::TeamInput;
    use tollgate_service::apply::ApplyMode;
    on_every_backend(|app, release| async move {
        let (ana, _) = app.user("ana", "approver").await;
        let (bo, _) = app.user("bo", "approver").await;
        let (sec, _) = app.user("sec", "approver").await;
        let security = TeamInput { name: "security".to_owned(), members: vec!["sec".to_owned()], ..Default::default() };
        app.tollgate.put_team(&app.admin, security, Upsert::Create).await.expect("the team");
        // ledger (which api's release carries) handles card data.
        let ledger = ServiceInput {
            name: "ledger".to_owned(),
            owner: "payments".to_owned(),
            labels: vec!["pci".to_owned()],
            ..ServiceInput::default()
        };
        let labelled = app.tollgate.put_service(&app.admin, ledger, Upsert::Replace).await.expect("labelled");
        assert_eq!(labelled.labels.iter().map(|label| label.as_str()).collect::<Vec<_>>(), ["pci"]);
        let catalog = app.tollgate.catalog(&app.admin).await.expect("the catalog");
        let stored = catalog.services.iter().find(|service| service.name.as_str() == "ledger").expect("ledger");
        assert_eq!(stored.labels, labelled.labels, "read back as written");
        let approvals = ApprovalSettingsInput {
            cab_label_teams: vec![
                LabelTeamsInput { label: "pci".to_owned(), teams: vec!["security".to_owned()] },
                LabelTeamsInput { label: "public".to_owned(), teams: vec!["payments".to_owned()] },
            ],
            ..Default::default()
        };
        let changes = ChangePolicyInput { approvals: Some(approvals), ..Default::default() };
        let document = ApplyInput { changes: Some(changes), ..ApplyInput::default() };
        app.tollgate.apply(&app.admin, document, ApplyMode::Apply).await.expect("the policy applies");

        // Planned inside a freeze, the change is high risk (as in the CAB test above).
        freeze_prod_over_the_plan(&app).await;
        let created =
            app.tollgate.create_change(&app.admin, &release, change_input("prod", "normal")).await.expect("requested");
        let submitted = app.tollgate.submit_change(&app.admin, created.id).await.expect("submitted");
        let route = submitted.change.route.clone().expect("routed");
        let tollgate_core::change::approval::ApprovalRoute::Cab { required_teams, .. } = &route else {
            panic!("expected the CAB, got {route:?}")
        };
        // pci is on ledger, so its team is required; nothing carries public.
        assert_eq!(required_teams, &["security"]);
        app.tollgate.decide_change(&ana, created.id, Verdict::Approve, "").await.expect("one");
        let view = app.tollgate.decide_change(&bo, created.id, Verdict::Approve, "").await.expect("two");
        assert_eq!(view.change.state, ChangeState::Assessing, "a quorum without security is not enough");
        assert_eq!(view.status.expect("judged").missing, ["an approval from a member of team security"]);
        let approved = app.tollgate.decide_change(&sec, created.id, Verdict::Approve, "").await.expect("security");
        assert_eq!(approved.change.state, ChangeState::Approved);
    })
    .await;
}

#[tokio::test]
async fn nobody_approves_their_own_change_or_release_and_a_refusal_writes_nothing() {
    on_every_backend(|app, release| async move {
        let (requester, _) = app.user("rita", "developer,approver").await;
        let created =
            app.tollgate.create_change(&requester, &release, change_input("prod", "normal")).await.expect("requested");
        app.tollgate.submit_change(&requester, created.id).await.expect("submitted");
        let before = app.row_counts().await;
        let own = app.tollgate.decide_change(&requester, created.id, Verdict::Approve, "").await;
        let Err(ServiceError::Forbidden { reason }) = own else { panic!("expected forbidden, got {own:?}") };
        assert!(reason.contains("sod.no_self_approval"), "{reason}");
        // The admin authored the release: no approval of it either, admin or not.
        let author = app.tollgate.decide_change(&app.admin, created.id, Verdict::Approve, "").await;
        let Err(ServiceError::Forbidden { reason }) = author else { panic!("expected forbidden, got {author:?}") };
        assert!(reason.contains("sod.no_self_approval"), "{reason}");
        let mut after = app.row_counts().await;
        // Denials of `change.approve` are audited (with their index rows); nothing else is written.
        for table in ["audit_entries", "audit_index"] {
            assert_eq!(after[table] - before[table], 2, "{table}");
            after.insert(table, before[table]);
        }
        assert_eq!(after, before);
        let state = app.tollgate.get_change(&app.admin, created.id).await.expect("change");
        assert_eq!((state.change.state, state.approvals.len()), (ChangeState::Assessing, 0));

        // A peer route for prod: the one approval that completes it may not come from inside
        // the release author's team (the admin's, here).
        assert_eq!(state.change.route.as_ref().map(|route| route.kind()), Some("peer"));
        let (mate, _) = app.user("mate", "approver").await;
        let team = tollgate_core::team::TeamInput {
            name: "payments".to_owned(),
            members: vec!["mate".to_owned(), "admin".to_owned()],
            ..Default::default()
        };
        app.tollgate.put_team(&app.admin, team, Upsert::Replace).await.expect("the team changes");
        let teammate = app.tollgate.decide_change(&mate, created.id, Verdict::Approve, "").await;
        let Err(ServiceError::Forbidden { reason }) = teammate else { panic!("expected forbidden, got {teammate:?}") };
        assert!(reason.contains("sod.outside_team_approver_for_prod"), "{reason}");
    })
    .await;
}

#[tokio::test]
async fn approvals_for_an_earlier_release_digest_count_no_more() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        catalog(&app).await;
        app.stock("payments", &[("api", "1.0.0"), ("ledger", "1.0.0"), ("ledger", "1.0.1")]).await;
        let release = app
            .tollgate
            .create_release(&app.admin, release_input("1.0.0", &[("api", "1.0.0"), ("ledger", "1.0.0")]))
            .await
            .expect("created");
        let reference = ReleaseRef::Id(release.id);
        let shipper = app.shipper().await;
        app.tollgate.transition_release(&shipper, &reference, ReleaseAction::Plan, None).await.expect("planned");
        let change = app.approved_change(&reference, "prod").await;
        // Another change of the same release waits for its approval meanwhile.
        let pending = app
            .tollgate
            .create_change(&app.admin, &reference, change_input("staging", "normal"))
            .await
            .expect("requested");
        app.tollgate.submit_change(&app.admin, pending.id).await.expect("submitted");

        // The release changes after its change was approved: another ledger build.
        let edited: ReleaseInput = release_input("1.0.0", &[("api", "1.0.0"), ("ledger", "1.0.1")]);
        let current = app.tollgate.get_release(&app.admin, &reference).await.expect("release");
        app.tollgate.update_release(&app.admin, &reference, edited, Some(current.revision)).await.expect("edited");
        for action in [ReleaseAction::FreezeScope, ReleaseAction::MarkReady] {
            app.tollgate.transition_release(&shipper, &reference, action, None).await.expect("moved");
        }
        for environment in ["dev", "staging"] {
            app.tollgate.record_deployment(&shipper, &reference, environment, succeeded()).await.expect("deployed");
        }
        let before = app.row_counts().await;
        let refused = app.tollgate.record_deployment(&shipper, &reference, "prod", succeeded()).await;
        let Err(ServiceError::ChangeRequired { reasons, .. }) = refused else {
            panic!("expected change_required, got {refused:?}")
        };
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert!(
            reasons[0].starts_with(&format!(
                "change {}: it was approved for manifest digest {}",
                change.id, change.manifest_digest
            )),
            "{reasons:?}"
        );
        assert_eq!(app.row_counts().await, before, "a refused deployment writes nothing");

        // Approving what was submitted for the old content is refused until it is resubmitted.
        let (late, _) = app.user("late", "approver").await;
        let refused = app.tollgate.decide_change(&late, pending.id, Verdict::Approve, "").await;
        let Err(ServiceError::ChangeRefused { reasons, .. }) = refused else {
            panic!("expected change_refused, got {refused:?}")
        };
        assert!(
            reasons[0].starts_with(&format!("release 1.0.0 changed since change {} was submitted", pending.id)),
            "{reasons:?}"
        );
        // Resubmitted, the change needs new approvals: the earlier ones are stale.
        let resubmitted = app.tollgate.submit_change(&app.admin, change.id).await.expect("resubmitted");
        assert_eq!(resubmitted.change.state, ChangeState::Assessing);
        let status = resubmitted.status.expect("judged");
        assert!(!status.complete && status.n_stale >= 1, "{status:?}");
        assert!(resubmitted.approvals.iter().all(|approval| approval.manifest_digest != resubmitted.release_digest));
    }
}

#[tokio::test]
async fn a_prod_deployment_without_an_approved_change_is_refused_with_every_reason() {
    on_every_backend(|app, release| async move {
        let shipper = app.shipper().await;
        let before = app.row_counts().await;
        let refused = app.tollgate.record_deployment(&shipper, &release, "prod", succeeded()).await;
        let Err(ServiceError::ChangeRequired { reasons, .. }) = refused else {
            panic!("expected change_required, got {refused:?}")
        };
        assert_eq!(
            reasons,
            ["no approved change request for release 1.0.0 in prod; request one with `tollgate change request --release 1.0.0 --environment prod`"]
        );
        // Approved, but for another afternoon: the planned interval must hold the start.
        let change = app.approved_change(&release, "prod").await;
        let mut input = change_input("prod", "normal");
        input.planned_start = Some("2026-03-02T10:00:00Z".to_owned());
        input.planned_end = Some("2026-03-02T12:00:00Z".to_owned());
        app.tollgate.end_change(&app.admin, change.id, ChangeAction::Withdraw, Some("replanned")).await.expect("withdrawn");
        let later = app.tollgate.create_change(&app.admin, &release, input).await.expect("requested");
        app.tollgate.submit_change(&app.admin, later.id).await.expect("submitted");
        let (ana, _) = app.user("ana", "approver").await;
        app.tollgate.decide_change(&ana, later.id, Verdict::Approve, "").await.expect("approved");
        let counts = app.row_counts().await;
        let refused = app.tollgate.record_deployment(&shipper, &release, "prod", succeeded()).await;
        let Err(ServiceError::ChangeRequired { reasons, .. }) = refused else {
            panic!("expected change_required, got {refused:?}")
        };
        assert_eq!(
            reasons,
            [format!(
                "change {}: its planned interval 2026-03-02T10:00:00Z to 2026-03-02T12:00:00Z does not hold 2026-03-01T12:00:00Z",
                later.id
            )]
        );
        assert_eq!(app.row_counts().await, counts, "a refused deployment writes nothing");
        assert!(before["change_requests"] < counts["change_requests"]);
        // Staging requires no change.
        let staging = app.tollgate.list_deployments(&app.admin, Some("staging"), None, tollgate_core::Page::first(100)).await;
        assert_eq!(staging.expect("deployments").len(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_standard_low_risk_change_is_approved_by_the_policy_itself() {
    use tollgate_core::apply::ApplyInput;
    use tollgate_core::change::policy::{ChangePolicyInput, ChangeTemplateInput};
    use tollgate_service::apply::ApplyMode;
    on_every_backend(|app, release| async move {
        let template = ChangeTemplateInput {
            name: "routine".to_owned(),
            description: Some("library bumps of api and ledger in dev".to_owned()),
            services: vec!["api".to_owned(), "ledger".to_owned()],
            environments: vec!["dev".to_owned()],
        };
        let changes = ChangePolicyInput { templates: vec![template], ..Default::default() };
        let document = ApplyInput { changes: Some(changes), ..ApplyInput::default() };
        app.tollgate.apply(&app.admin, document, ApplyMode::Apply).await.expect("the template applies");
        // A standard change names its template, and stays within it.
        let before = app.row_counts().await;
        let bare = app.tollgate.create_change(&app.admin, &release, change_input("dev", "standard")).await;
        let Err(ServiceError::Invalid(violations)) = bare else { panic!("expected invalid, got {bare:?}") };
        assert_eq!(violations.to_string(), "template: a standard change names the pre-approved template it follows");
        let outside = ChangeInput { template: Some("routine".to_owned()), ..change_input("prod", "standard") };
        let Err(ServiceError::Invalid(violations)) = app.tollgate.create_change(&app.admin, &release, outside).await
        else {
            panic!("expected invalid")
        };
        assert_eq!(violations.to_string(), "template: it does not cover environment prod");
        assert_eq!(app.row_counts().await, before);
        let input = ChangeInput { template: Some("routine".to_owned()), ..change_input("dev", "standard") };
        let created = app.tollgate.create_change(&app.admin, &release, input).await.expect("requested");
        let view = app.tollgate.submit_change(&app.admin, created.id).await.expect("submitted");
        assert_eq!(view.change.risk.as_ref().map(|risk| risk.class), Some(RiskClass::Low));
        assert_eq!(view.change.state, ChangeState::Approved);
        let policy = tollgate_policy::approval_policy_version();
        let entries = change_entries(&app).await;
        let last = entries.last().expect("entries");
        assert_eq!(
            (last.1.as_str(), last.2.clone()),
            ("approved", format!("approved by the approval policy {policy}"))
        );
    })
    .await;
}

#[tokio::test]
async fn an_emergency_change_needs_a_deployer_and_its_overdue_review_blocks_the_next_normal_change() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        catalog(&app).await;
        let release = ready_release(&app, "1.0.1", "emergency").await;
        let (dev, _) = app.user("dev", "developer").await;
        let created = app
            .tollgate
            .create_change(&dev, &release, ChangeInput { change_type: None, ..change_input("prod", "normal") })
            .await
            .expect("requested");
        assert_eq!(created.content.change_type, tollgate_core::change::ChangeType::Emergency, "from the release");
        let submitted = app.tollgate.submit_change(&dev, created.id).await.expect("submitted");
        assert_eq!(submitted.change.route.as_ref().map(|route| route.kind()), Some("emergency"));
        // An approver who is no deployer is heard, but does not make the approval.
        let (ana, _) = app.user("ana", "approver").await;
        let view = app.tollgate.decide_change(&ana, created.id, Verdict::Approve, "").await.expect("recorded");
        assert_eq!(view.status.expect("judged").missing, ["one approval by a deployer (held or granted just in time)"]);
        let (ops, _) = app.user("ops", "deployer").await;
        let view = app.tollgate.decide_change(&ops, created.id, Verdict::Approve, "go").await.expect("approved");
        assert_eq!(view.change.state, ChangeState::Approved);
        app.tollgate.record_deployment(&app.shipper().await, &release, "prod", succeeded()).await.expect("deployed");
        let done = app.tollgate.get_change(&app.admin, created.id).await.expect("change");
        assert_eq!(done.change.state, ChangeState::Implemented);
        assert_eq!(done.change.review_due_at, Some("2026-03-06T12:00:00Z".parse().expect("a time")));
        let closing = app.tollgate.end_change(&dev, created.id, ChangeAction::Close, None).await;
        assert!(matches!(closing, Err(ServiceError::ChangeTransition(_))), "an emergency closes after its review");

        // Six days later the review is overdue: the requester's next normal change waits for it.
        app.clock.advance(jiff::SignedDuration::from_hours(6 * 24));
        let overdue = app.tollgate.overdue_reviews(&app.admin).await.expect("overdue");
        assert_eq!(overdue.iter().map(|change| change.id).collect::<Vec<_>>(), [created.id]);
        let next = ready_release(&app, "1.1.0", "minor").await;
        let normal = app.tollgate.create_change(&dev, &next, change_input("dev", "normal")).await.expect("requested");
        let blocked = app.tollgate.submit_change(&dev, normal.id).await;
        let Err(ServiceError::ChangeRefused { reasons, .. }) = blocked else {
            panic!("expected change_refused, got {blocked:?}")
        };
        assert_eq!(
            reasons,
            [format!(
                "the post-implementation review of emergency change {} was due at 2026-03-06T12:00:00Z",
                created.id
            )]
        );
        app.tollgate.review_change(&dev, created.id, "the fix held; add a regression test").await.expect("reviewed");
        app.tollgate.submit_change(&dev, normal.id).await.expect("the review done, the change goes on");
        let closed = app.tollgate.end_change(&dev, created.id, ChangeAction::Close, None).await.expect("closed");
        assert_eq!(closed.change.state, ChangeState::Closed);
    }
}

#[tokio::test]
async fn scheduling_is_refused_with_every_conflict_explained() {
    on_every_backend(|app, release| async move {
        let freeze = tollgate_core::calendar::PeriodInput {
            name: "Quarter close".to_owned(),
            kind: "freeze".to_owned(),
            scope: Some("environment:prod".to_owned()),
            tzid: "America/New_York".to_owned(),
            start: "2026-03-01T11:00".to_owned(),
            length: "PT2H".to_owned(),
            ..Default::default()
        };
        app.tollgate.put_calendar_period(&app.admin, "quarter-close", freeze).await.expect("freeze");
        let first = app.approved_change(&release, "prod").await;
        let second =
            app.tollgate.create_change(&app.admin, &release, change_input("prod", "normal")).await.expect("requested");
        app.tollgate.submit_change(&app.admin, second.id).await.expect("submitted");
        let (ana, _) = app.user("ana", "approver").await;
        let (bo, _) = app.user("bo", "approver").await;
        let mut view = app.tollgate.decide_change(&ana, second.id, Verdict::Approve, "").await.expect("approved");
        if view.change.state == ChangeState::Assessing {
            view = app.tollgate.decide_change(&bo, second.id, Verdict::Approve, "").await.expect("approved");
        }
        assert_eq!(view.change.state, ChangeState::Approved);
        let kinds: Vec<ConflictKind> = view.conflicts.iter().map(|conflict| conflict.kind).collect();
        assert_eq!(kinds, [ConflictKind::DenyPeriod, ConflictKind::Change]);
        assert_eq!(
            view.conflicts[0].explanation,
            "freeze \"Quarter close\" is in force from 2026-03-01T11:00:00 to 2026-03-01T13:00:00 America/New_York \
             (2026-03-01T16:00:00Z to 2026-03-01T18:00:00Z UTC), overlapping the planned interval and its rollback \
             time (until 2026-03-01T18:30:00Z)"
        );
        assert_eq!(view.conflicts[1].with, first.id.to_string());
        let before = app.row_counts().await;
        let refused = app.tollgate.schedule_change(&app.admin, second.id).await;
        let Err(ServiceError::ChangeRefused { reasons, .. }) = refused else {
            panic!("expected change_refused, got {refused:?}")
        };
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert_eq!(app.row_counts().await, before, "a refused schedule writes nothing");
    })
    .await;
}

#[tokio::test]
async fn two_approvers_deciding_at_once_approve_the_change_exactly_once() {
    for db in TestDb::every_backend().await {
        let app = Arc::new(TestApp::on(db, 1000).await);
        catalog(&app).await;
        let release = ready_release(&app, "1.0.0", "minor").await;
        let created =
            app.tollgate.create_change(&app.admin, &release, change_input("prod", "normal")).await.expect("requested");
        app.tollgate.submit_change(&app.admin, created.id).await.expect("submitted");
        let (ana, _) = app.user("ana", "approver").await;
        let (bo, _) = app.user("bo", "approver").await;
        let id: ChangeId = created.id;
        let (first, second) = tokio::join!(
            app.tollgate.decide_change(&ana, id, Verdict::Approve, ""),
            app.tollgate.decide_change(&bo, id, Verdict::Approve, ""),
        );
        // One of them may find the change approved already; never both approve it.
        let outcomes = [first.is_ok(), second.is_ok()];
        assert!(outcomes.contains(&true), "{first:?} {second:?}");
        let view = app.tollgate.get_change(&app.admin, id).await.expect("change");
        assert_eq!(view.change.state, ChangeState::Approved);
        let approvals = change_entries(&app).await.iter().filter(|(_, state, _)| state == "approved").count();
        assert_eq!(approvals, 1);
    }
}

#[tokio::test]
async fn the_applied_change_policy_decides_where_a_change_is_needed_and_who_approves_it() {
    use tollgate_core::apply::ApplyInput;
    use tollgate_core::change::approval::ApprovalRoute;
    use tollgate_core::change::policy::{
        ApprovalSettingsInput, ChangePolicyInput, EnvironmentChangeRulesInput, RiskClassesInput, RiskPolicyInput,
        Scalar,
    };
    use tollgate_service::apply::ApplyMode;
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        catalog(&app).await;
        let release = ready_release(&app, "1.0.0", "minor").await;
        let shipper = app.shipper().await;
        app.tollgate.record_deployment(&shipper, &release, "dev", succeeded()).await.expect("dev needs no change");
        let number = |text: &str| Some(Scalar(text.to_owned()));
        let changes = ChangePolicyInput {
            risk: Some(RiskPolicyInput {
                classes: Some(RiskClassesInput { high: number("30"), critical: number("90"), ..Default::default() }),
                ..Default::default()
            }),
            approvals: Some(ApprovalSettingsInput { cab_quorum: number("3"), ..Default::default() }),
            environments: vec![EnvironmentChangeRulesInput {
                name: "staging".to_owned(),
                requires_change: number("true"),
                ..Default::default()
            }],
            ..Default::default()
        };
        let document = ApplyInput { changes: Some(changes), ..ApplyInput::default() };
        app.tollgate.apply(&app.admin, document, ApplyMode::Apply).await.expect("the policy applies");
        let entries = app.tollgate.list_audit(&app.admin, 0, 10_000).await.expect("audit");
        let applied = entries
            .iter()
            .map(|entry| serde_json::from_slice::<Value>(&entry.body).expect("json"))
            .filter(|body| body["action"] == "change_policy.create")
            .count();
        assert_eq!(applied, 1);

        let refused = app.tollgate.record_deployment(&shipper, &release, "staging", succeeded()).await;
        assert!(matches!(refused, Err(ServiceError::ChangeRequired { .. })), "staging now needs a change: {refused:?}");
        let created = app
            .tollgate
            .create_change(&app.admin, &release, change_input("staging", "normal"))
            .await
            .expect("requested");
        let view = app.tollgate.submit_change(&app.admin, created.id).await.expect("submitted");
        // Medium by the defaults (5 + 15 + 3.6 + 7.5 + 5 = 36), high from 30 by the policy.
        let risk = view.change.risk.clone().expect("assessed");
        assert_eq!((risk.score, risk.class), (36, RiskClass::High), "{risk:#?}");
        let Some(ApprovalRoute::Cab { quorum, .. }) = view.change.route else { panic!("a CAB route: {view:?}") };
        assert_eq!(quorum, 3);
    }
}

#[tokio::test]
async fn a_just_in_time_deployer_grant_approves_an_emergency_change_until_it_expires() {
    use tollgate_core::authz::GrantInput;
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        catalog(&app).await;
        let release = ready_release(&app, "1.0.1", "emergency").await;
        let created = app
            .tollgate
            .create_change(&app.admin, &release, change_input("prod", "emergency"))
            .await
            .expect("requested");
        app.tollgate.submit_change(&app.admin, created.id).await.expect("submitted");
        // On call is a developer: no approver, no deployer.
        let (olli, _) = app.user("olli", "developer").await;
        let refused = app.tollgate.decide_change(&olli, created.id, Verdict::Approve, "").await;
        assert!(matches!(refused, Err(ServiceError::Forbidden { .. })), "{refused:?}");
        let grant = GrantInput {
            user: "olli".into(),
            role: "deployer".into(),
            environment: "prod".into(),
            seconds: 3600,
            reason: "incident 42".into(),
        };
        app.tollgate.grant(&app.admin, grant).await.expect("granted");
        let approved =
            app.tollgate.decide_change(&olli, created.id, Verdict::Approve, "hotfix verified").await.expect("approved");
        assert_eq!(approved.change.state, ChangeState::Approved);
        assert!(approved.approvals[0].deployer, "the grant made the approver a deployer for prod");
    }
}

#[tokio::test]
async fn authz_check_explains_who_may_approve_a_change() {
    use tollgate_service::authz::CheckInput;
    on_every_backend(|app, release| async move {
        let created =
            app.tollgate.create_change(&app.admin, &release, change_input("prod", "normal")).await.expect("requested");
        let (_ana, _) = app.user("ana", "approver").await;
        let check = |principal: &str, resource: &str| CheckInput {
            principal: Some(principal.into()),
            action: "change.approve".into(),
            resource: Some(resource.into()),
            release: None,
            reason: None,
        };
        let id = created.id.to_string();
        let ana = app.tollgate.check_authz(&app.admin, check("ana", &id)).await.expect("checked");
        assert!(ana.allowed, "{}", ana.reason());
        let own = app.tollgate.check_authz(&app.admin, check("admin", &id)).await.expect("checked");
        assert!(!own.allowed && own.reason().contains("sod.no_self_approval"), "{}", own.reason());
        let bad = app.tollgate.check_authz(&app.admin, check("ana", "seven")).await;
        assert!(matches!(bad, Err(ServiceError::Invalid(_))), "{bad:?}");
    })
    .await;
}

#[tokio::test]
async fn a_change_withdrawn_between_the_deployments_checks_and_its_write_refuses_the_deployment() {
    use tollgate_service::hooks::HookPoint;
    on_every_backend(|app, release| async move {
        let change = app.approved_change(&release, "prod").await;
        let pause = app.tollgate.hooks().arm(HookPoint::AfterReadinessCheck);
        let deploying = {
            let (app, release) = (Arc::clone(&app), release.clone());
            tokio::spawn(async move {
                app.tollgate.record_deployment(&app.shipper().await, &release, "prod", succeeded()).await
            })
        };
        pause.reached().await;
        app.tollgate
            .end_change(&app.admin, change.id, ChangeAction::Withdraw, Some("rollback plan untested"))
            .await
            .expect("withdrawn");
        let before = app.row_counts().await;
        pause.resume();
        let outcome = deploying.await.expect("the task ends");
        let Err(ServiceError::ChangeRequired { reasons, .. }) = outcome else {
            panic!("expected change_required, got {outcome:?}")
        };
        assert!(reasons[0].starts_with("no approved change request for release 1.0.0 in prod"), "{reasons:?}");
        assert_eq!(app.row_counts().await, before, "nothing was recorded");
        let withdrawn = app.tollgate.get_change(&app.admin, change.id).await.expect("change");
        assert_eq!((withdrawn.change.state, withdrawn.change.deployment), (ChangeState::Closed, None));
    })
    .await;
}
