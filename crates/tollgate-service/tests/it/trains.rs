//! Release trains on every backend: departures on the train's wall clock across a
//! daylight-saving change, boarding the next departure whose cut-off has not passed (audited,
//! the release taking its window and scope freeze), and refusals that name the field.

use serde_json::Value;
use tollgate_core::release::ReleaseAction;
use tollgate_core::train::TrainInput;
use tollgate_service::release::ReleaseRef;
use tollgate_service::ServiceError;
use tollgate_testkit::fixtures::{at, release_input};
use tollgate_testkit::{TestApp, TestDb};

use crate::release::catalog;

fn fortnightly() -> TrainInput {
    TrainInput {
        tzid: "Europe/Berlin".into(),
        first_departure: "2026-03-03T10:00".into(),
        rule: "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU".into(),
        length: "PT4H".into(),
        cutoff: "P3D".into(),
        freeze: "P1D".into(),
    }
}

#[tokio::test]
async fn a_release_boards_the_next_departure_whose_cutoff_has_not_passed() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        catalog(&app).await;
        app.tollgate.put_train(&app.admin, "fortnightly", fortnightly()).await.expect("the train is kept");
        // 10:00 in Berlin is 09:00 UTC in winter and 08:00 UTC from 29 March.
        let departures = app
            .tollgate
            .train_departures(&app.admin, None, at("2026-03-01T00:00:00Z"), at("2026-04-30T00:00:00Z"))
            .await
            .expect("departures");
        let departs: Vec<String> = departures.iter().map(|departure| departure.departs.to_string()).collect();
        assert_eq!(
            departs,
            [
                "2026-03-03T09:00:00Z",
                "2026-03-17T09:00:00Z",
                "2026-03-31T08:00:00Z",
                "2026-04-14T08:00:00Z",
                "2026-04-28T08:00:00Z"
            ]
        );

        // Sunday 1 March, noon: boarding for 3 March closed on 28 February.
        let release = app
            .tollgate
            .create_release(&app.admin, release_input("1.0.0", &[("api", "1.0.0")]))
            .await
            .expect("created");
        let reference = ReleaseRef::Id(release.id);
        let (boarded, departure) =
            app.tollgate.board_train(&app.admin, &reference, "fortnightly").await.expect("boarded");
        assert_eq!(departure.departs, at("2026-03-17T09:00:00Z"));
        let window = boarded.content.planned_window.expect("a planned window");
        assert_eq!((window.start(), window.end()), (at("2026-03-17T09:00:00Z"), at("2026-03-17T13:00:00Z")));
        assert_eq!(boarded.content.scope_freeze_at, Some(at("2026-03-16T09:00:00Z")));
        assert_eq!(departure.cutoff_at, at("2026-03-14T09:00:00Z"));
        let entries = app.tollgate.list_audit(&app.admin, 0, 10_000).await.expect("audit");
        let last: Value = serde_json::from_slice(&entries.last().expect("an entry").body).expect("json");
        assert_eq!(last["action"], "release.update");
        assert_eq!(
            last["reason"],
            "boarded train fortnightly departing 2026-03-17T09:00:00Z (2026-03-17T10:00:00 Europe/Berlin); \
             boarding closed at 2026-03-14T09:00:00Z, scope freezes at 2026-03-16T09:00:00Z"
        );

        // A frozen scope boards nothing, and writes nothing.
        let shipper = app.shipper().await;
        for action in [ReleaseAction::Plan, ReleaseAction::FreezeScope] {
            app.tollgate.transition_release(&shipper, &reference, action, None).await.expect("moved");
        }
        let before = app.row_counts().await;
        let frozen = app.tollgate.board_train(&app.admin, &reference, "fortnightly").await;
        assert!(matches!(frozen, Err(ServiceError::Transition(_))), "{frozen:?}");
        assert_eq!(app.row_counts().await, before);
    }
}

#[tokio::test]
async fn a_train_that_means_nothing_is_refused_naming_the_field_and_nothing_is_written() {
    let app = TestApp::sqlite().await;
    let before = app.row_counts().await;
    let early_freeze = TrainInput { freeze: "P4D".into(), ..fortnightly() };
    let refused = app.tollgate.put_train(&app.admin, "fortnightly", early_freeze).await;
    let Err(ServiceError::Invalid(violations)) = refused else { panic!("expected invalid, got {refused:?}") };
    assert_eq!(
        violations.to_string(),
        "freeze: P4D comes before the cut-off P3D: the scope cannot freeze before boarding closes"
    );
    let moon = TrainInput { tzid: "Moon/Base".into(), ..fortnightly() };
    let Err(ServiceError::Invalid(violations)) = app.tollgate.put_train(&app.admin, "fortnightly", moon).await else {
        panic!("expected invalid")
    };
    assert_eq!(violations.0[0].field, "tzid");
    let bad_rule = TrainInput { rule: "FREQ=SOMETIMES".into(), ..fortnightly() };
    let Err(ServiceError::Invalid(violations)) = app.tollgate.put_train(&app.admin, "fortnightly", bad_rule).await
    else {
        panic!("expected invalid")
    };
    assert_eq!(violations.0[0].field, "rule");
    assert_eq!(app.row_counts().await, before);
    let missing =
        app.tollgate.board_train(&app.admin, &ReleaseRef::parse("9.9.9").expect("a ref"), "fortnightly").await;
    assert!(matches!(missing, Err(ServiceError::NotFound { .. })), "{missing:?}");
}
