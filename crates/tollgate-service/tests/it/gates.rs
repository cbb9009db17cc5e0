//! Quality gates on every backend: a deployment into an environment with blocking gates needs a
//! passing decision bound to the release, its evidence and the policy as they are now; an
//! override needs an admin and a reason; a broken policy is refused before it is installed; a
//! runaway gate fails that gate only; a decision replays to the same results.

use std::sync::Arc;

use serde_json::json;
use tollgate_core::apply::ApplyInput;
use tollgate_core::deployment::DeploymentInput;
use tollgate_core::gate::{EnvironmentGatesInput, GateInput, GatesInput, PolicyModule};
use tollgate_core::release::ReleaseAction;
use tollgate_service::apply::ApplyMode;
use tollgate_service::gate::Evaluation;
use tollgate_service::release::ReleaseRef;
use tollgate_service::{GateRefusal, Principal, ServiceError};
use tollgate_testkit::fixtures::release_input;
use tollgate_testkit::{TestApp, TestDb};

use crate::release::catalog;

const PASSING_TESTS: &[u8] =
    include_bytes!("../../../tollgate-evidence/tests/fixtures/nextest-tollgate-core.junit.xml");
const FAILING_TESTS: &[u8] = include_bytes!("../../../tollgate-evidence/tests/fixtures/pytest-demo.junit.xml");

async fn on_every_backend<F, Fut>(story: F)
where
    F: Fn(Arc<TestApp>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for db in TestDb::every_backend().await {
        let app = Arc::new(TestApp::on(db, 1000).await);
        catalog(&app).await;
        story(app).await;
    }
}

fn gate(builtin: &str, with: serde_json::Value) -> GateInput {
    GateInput { builtin: Some(builtin.to_owned()), with: Some(with), ..GateInput::default() }
}

/// Installs `gates` for prod (and a warning-only gate for staging) through apply.
async fn install(app: &TestApp, prod: Vec<GateInput>, modules: Vec<PolicyModule>) -> Result<(), ServiceError> {
    let environments = vec![
        EnvironmentGatesInput { environment: "prod".into(), gates: prod },
        EnvironmentGatesInput {
            environment: "staging".into(),
            gates: vec![GateInput { enforcement: Some("warn".into()), ..gate("test_pass_rate", json!({"min": 1.0})) }],
        },
    ];
    let document = ApplyInput { gates: Some(GatesInput { environments, modules }), ..ApplyInput::default() };
    app.tollgate.apply(&app.admin, document, ApplyMode::Apply).await.map(|_| ())
}

/// A ready release of `api@version` with `tests` as its JUnit evidence, deployed to dev and staging.
async fn ready_release(app: &TestApp, version: &str, tests: &[u8]) -> ReleaseRef {
    app.stock("payments", &[("api", version)]).await;
    let release =
        app.tollgate.create_release(&app.admin, release_input(version, &[("api", version)])).await.expect("created");
    let reference = ReleaseRef::Id(release.id);
    upload(app, &reference, tests).await;
    // The author (the admin) does not ship to prod; the shipper does.
    let shipper = app.shipper().await;
    for action in [ReleaseAction::Plan, ReleaseAction::FreezeScope, ReleaseAction::MarkReady] {
        app.tollgate.transition_release(&shipper, &reference, action, None).await.expect("transition");
    }
    for environment in ["dev", "staging"] {
        deploy(&shipper, app, &reference, environment).await.expect("no blocking gates before prod");
    }
    app.approved_change(&reference, "prod").await;
    reference
}

async fn upload(app: &TestApp, release: &ReleaseRef, tests: &[u8]) {
    let mut content = tests;
    app.tollgate.upload_evidence(&app.admin, release, None, "junit", &mut content).await.expect("evidence");
}

async fn deploy(
    shipper: &Principal,
    app: &TestApp,
    release: &ReleaseRef,
    environment: &str,
) -> Result<(), ServiceError> {
    let input = DeploymentInput { status: Some("succeeded".into()), ..DeploymentInput::default() };
    app.tollgate.record_deployment(shipper, release, environment, input).await.map(|_| ())
}

async fn evaluate(app: &TestApp, release: &ReleaseRef) -> tollgate_service::gate::GateEvaluation {
    app.tollgate.evaluate_gates(&app.admin, release, "prod", Evaluation::Record).await.expect("evaluated")
}

fn refusal(outcome: Result<(), ServiceError>) -> GateRefusal {
    match outcome {
        Err(ServiceError::GatesNotPassed(refusal)) => refusal,
        other => panic!("expected a gate refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_release_enters_prod_only_with_a_passing_decision_for_what_it_is_now() {
    on_every_backend(|app| async move {
        install(&app, vec![gate("test_pass_rate", json!({"min": 1.0})), gate("signed_artifacts", json!({}))], vec![])
            .await
            .expect("installed");
        let release = ready_release(&app, "1.0.0", PASSING_TESTS).await;
        let shipper = app.shipper().await;
        let before = app.row_counts().await;
        let unevaluated = refusal(deploy(&shipper, &app, &release, "prod").await);
        assert!(matches!(unevaluated, GateRefusal::NotEvaluated { .. }), "{unevaluated}");
        assert_eq!(app.row_counts().await, before, "a refused deployment changes nothing");

        let evaluated = evaluate(&app, &release).await;
        assert!(evaluated.passed, "{:?}", evaluated.results);
        // New evidence after the pass: the decision no longer holds.
        upload(&app, &release, PASSING_TESTS).await;
        let stale = refusal(deploy(&shipper, &app, &release, "prod").await);
        assert!(
            matches!(&stale, GateRefusal::Stale { changed, .. } if changed == &["the evidence or signatures"]),
            "{stale}"
        );
        evaluate(&app, &release).await;
        // A new policy version after the pass: the same.
        install(&app, vec![gate("test_pass_rate", json!({"min": 0.99}))], vec![]).await.expect("installed");
        let stale = refusal(deploy(&shipper, &app, &release, "prod").await);
        assert!(matches!(&stale, GateRefusal::Stale { changed, .. } if changed == &["the gate policy"]), "{stale}");
        evaluate(&app, &release).await;
        deploy(&shipper, &app, &release, "prod").await.expect("a current passing decision lets it in");
    })
    .await;
}

#[tokio::test]
async fn a_pass_judged_by_another_built_in_library_no_longer_holds() {
    on_every_backend(|app| async move {
        install(&app, vec![gate("test_pass_rate", json!({"min": 1.0}))], vec![]).await.expect("installed");
        let release = ready_release(&app, "1.0.0", PASSING_TESTS).await;
        let evaluated = evaluate(&app, &release).await;
        assert!(evaluated.passed, "{:?}", evaluated.results);
        let binding = evaluated.binding.clone().expect("a recorded decision");
        assert_eq!(binding.library, Some(tollgate_policy::library_digest()));

        // The same pass as a Tollgate whose built-in gates differed would have recorded it
        // (or one from before decisions named their library): newer than the real one.
        let release_id = app.tollgate.get_release(&app.admin, &release).await.expect("release").id;
        let prod = tollgate_core::name::EnvironmentName::parse("prod").expect("a name");
        let results = serde_json::to_value(&evaluated.results).expect("json");
        for library in [Some(tollgate_core::digest::Sha256Digest::of(b"an older library")), None] {
            let forged = tollgate_core::gate::GateBinding { library, ..binding.clone() };
            let mut tx = app.store.begin_unaudited().await.expect("a transaction");
            tx.insert_gate_decision(&tollgate_store::NewGateDecision {
                release: release_id,
                environment: &prod,
                binding: &forged,
                input: &evaluated.input,
                input_digest: &evaluated.input_digest,
                passed: true,
                results: &results,
                created_by: &app.admin.user.name,
                created_at: tollgate_core::Timestamp::now(),
            })
            .await
            .expect("a decision");
            tx.commit().await.expect("committed");
            let stale = refusal(deploy(&app.shipper().await, &app, &release, "prod").await);
            assert!(
                matches!(&stale, GateRefusal::Stale { changed, .. }
                    if changed == &["the built-in gate library (Tollgate was upgraded)"]),
                "{stale}"
            );
        }
        evaluate(&app, &release).await;
        deploy(&app.shipper().await, &app, &release, "prod").await.expect("judged again by this library");
    })
    .await;
}

#[tokio::test]
async fn a_failed_decision_blocks_until_an_admin_overrides_it_with_a_reason() {
    on_every_backend(|app| async move {
        install(&app, vec![gate("test_pass_rate", json!({"min": 1.0}))], vec![]).await.expect("installed");
        let release = ready_release(&app, "1.0.0", FAILING_TESTS).await;
        let shipper = app.shipper().await;
        let evaluated = evaluate(&app, &release).await;
        assert!(!evaluated.passed);
        let failed = refusal(deploy(&shipper, &app, &release, "prod").await);
        assert!(matches!(&failed, GateRefusal::Failed { gates, .. } if gates == &["test_pass_rate"]), "{failed}");

        let (member, _) = app.user("bo", "member").await;
        let forbidden = app.tollgate.override_gates(&member, &release, "prod", "ship it").await;
        assert!(matches!(forbidden, Err(ServiceError::Forbidden { .. })), "{forbidden:?}");
        let blank = app.tollgate.override_gates(&app.admin, &release, "prod", "   ").await;
        assert!(matches!(blank, Err(ServiceError::Invalid(_))), "{blank:?}");
        assert!(deploy(&shipper, &app, &release, "prod").await.is_err(), "no override yet");

        let overridden =
            app.tollgate.override_gates(&app.admin, &release, "prod", "flaky suite, INC-7").await.expect("override");
        assert_eq!(Some(overridden.decision), evaluated.decision);
        let twice = app.tollgate.override_gates(&app.admin, &release, "prod", "again").await;
        assert!(matches!(twice, Err(ServiceError::Conflict { .. })), "{twice:?}");
        deploy(&shipper, &app, &release, "prod").await.expect("the override lets it in");
    })
    .await;
}

#[tokio::test]
async fn an_override_lapses_with_the_decision_it_overrode() {
    on_every_backend(|app| async move {
        install(&app, vec![gate("test_pass_rate", json!({"min": 1.0}))], vec![]).await.expect("installed");
        let release = ready_release(&app, "1.0.0", FAILING_TESTS).await;
        let shipper = app.shipper().await;
        evaluate(&app, &release).await;
        app.tollgate.override_gates(&app.admin, &release, "prod", "accepted risk").await.expect("override");
        upload(&app, &release, FAILING_TESTS).await;
        let stale = refusal(deploy(&shipper, &app, &release, "prod").await);
        assert!(matches!(stale, GateRefusal::Stale { .. }), "{stale}");
    })
    .await;
}

#[tokio::test]
async fn warn_gates_are_recorded_and_never_block() {
    on_every_backend(|app| async move {
        install(&app, vec![gate("test_pass_rate", json!({"min": 1.0}))], vec![]).await.expect("installed");
        let release = ReleaseRef::Version("1.0.0".parse().expect("a version"));
        ready_release(&app, "1.0.0", FAILING_TESTS).await;
        let staging =
            app.tollgate.evaluate_gates(&app.admin, &release, "staging", Evaluation::Record).await.expect("evaluated");
        assert!(staging.passed, "a failing warn gate does not fail the evaluation");
        assert_eq!(staging.results[0].outcome, tollgate_service::Outcome::Fail);
        assert!(staging.decision.is_some(), "the warning is recorded");
    })
    .await;
}

#[tokio::test]
async fn a_policy_that_does_not_compile_is_refused_with_its_location_and_nothing_is_installed() {
    let app = TestApp::sqlite().await;
    catalog(&app).await;
    let broken = PolicyModule {
        path: "policies/owners.rego".into(),
        source: "package tollgate.gates.owners\n\nviolations contains v if {\n  v := \n}\n".into(),
    };
    let before = app.row_counts().await;
    let rego = GateInput { rego: Some("policies/owners.rego".into()), ..GateInput::default() };
    let outcome = install(&app, vec![rego], vec![broken]).await;
    let Err(ServiceError::Invalid(violations)) = outcome else { panic!("expected violations, got {outcome:?}") };
    let messages: Vec<String> = violations.0.iter().map(ToString::to_string).collect();
    assert_eq!(messages, ["gates.prod[0]: policies/owners.rego:4:5: expecting `}` while parsing set"]);
    assert_eq!(app.row_counts().await, before, "nothing was installed");
    assert!(app.tollgate.current_policy(&app.admin).await.expect("read").is_none());
}

#[tokio::test]
async fn a_runaway_gate_fails_alone_and_the_server_goes_on() {
    let app = TestApp::sqlite().await;
    catalog(&app).await;
    let runaway = PolicyModule {
        path: "policies/spin.rego".into(),
        source: "package tollgate.gates.spin\n\nviolations contains {\"msg\": \"never\", \"data\": n} if {\n  some n in numbers.range(1, 1000000)\n  some m in numbers.range(1, 1000000)\n  n * m < 0\n}\n"
            .into(),
    };
    let spin = GateInput { rego: Some("policies/spin.rego".into()), ..GateInput::default() };
    install(&app, vec![spin, gate("test_pass_rate", json!({"min": 1.0}))], vec![runaway]).await.expect("installed");
    let release = ready_release(&app, "1.0.0", PASSING_TESTS).await;
    let evaluated = evaluate(&app, &release).await;
    let outcomes: Vec<String> =
        evaluated.results.iter().map(|result| format!("{} {:?}", result.gate, result.outcome)).collect();
    assert!(matches!(evaluated.results[0].outcome, tollgate_service::Outcome::Error { .. }), "{outcomes:?}");
    assert_eq!(evaluated.results[1].outcome, tollgate_service::Outcome::Pass, "{outcomes:?}");
    assert!(!evaluated.passed, "a blocking gate that errors blocks");
    assert!(app.tollgate.current_policy(&app.admin).await.is_ok(), "the server still answers");
}

#[tokio::test]
async fn a_decision_replays_to_the_same_results_and_a_dry_run_records_nothing() {
    on_every_backend(|app| async move {
        install(&app, vec![gate("test_pass_rate", json!({"min": 1.0}))], vec![]).await.expect("installed");
        let release = ready_release(&app, "1.0.0", FAILING_TESTS).await;
        let evaluated = evaluate(&app, &release).await;
        let id = evaluated.decision.expect("recorded");
        // A later policy does not change what the old decision replays to.
        install(&app, vec![gate("test_pass_rate", json!({"min": 0.5}))], vec![]).await.expect("installed");
        let replay = app.tollgate.replay_gate_decision(&app.admin, id).await.expect("replayed");
        assert!(replay.matches, "{:?} vs {}", replay.results, replay.decision.results);

        let before = app.row_counts().await;
        let dry = GatesInput {
            environments: vec![EnvironmentGatesInput {
                environment: "prod".into(),
                gates: vec![gate("test_pass_rate", json!({"min": 0.0}))],
            }],
            modules: vec![],
        };
        let tried =
            app.tollgate.evaluate_gates(&app.admin, &release, "prod", Evaluation::DryRun(dry)).await.expect("dry run");
        assert!(tried.passed && tried.decision.is_none());
        assert_eq!(app.row_counts().await, before, "a dry run records nothing");
    })
    .await;
}

#[tokio::test]
async fn a_user_gate_judges_the_change_request_of_the_release_and_environment() {
    on_every_backend(|app| async move {
        let module = PolicyModule {
            path: "policies/change.rego".into(),
            source: "package tollgate.gates.change\n\n\
                     violations contains {\"msg\": \"prod needs an approved change\", \"data\": input.change_request} if {\n\
                     \tinput.environment.tier == \"prod\"\n\
                     \tnot input.change_request.state in {\"approved\", \"scheduled\"}\n\
                     }\n"
                .into(),
        };
        let gate = GateInput { rego: Some("policies/change.rego".into()), ..GateInput::default() };
        install(&app, vec![gate], vec![module]).await.expect("installed");

        // ready_release requests and approves a change into prod.
        let approved = ready_release(&app, "1.0.0", PASSING_TESTS).await;
        let evaluated = evaluate(&app, &approved).await;
        assert!(evaluated.passed, "{:?}", evaluated.results);
        let change = &evaluated.input["change_request"];
        assert_eq!((&change["state"], &change["type"]), (&json!("approved"), &json!("normal")), "{change}");
        assert!(change["risk"]["score"].is_u64() && change["planned_start"].is_string(), "{change}");

        // A release without a change request into prod: the input says so, and the gate fails.
        app.stock("payments", &[("api", "2.0.0")]).await;
        let release =
            app.tollgate.create_release(&app.admin, release_input("2.0.0", &[("api", "2.0.0")])).await.expect("created");
        let evaluated = evaluate(&app, &ReleaseRef::Id(release.id)).await;
        assert_eq!(evaluated.input["change_request"], json!(null));
        assert!(!evaluated.passed);
        assert_eq!(evaluated.results[0].violations[0].message, "prod needs an approved change");
    })
    .await;
}
