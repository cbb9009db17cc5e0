use tollgate_core::team::TeamInput;
use tollgate_service::catalog::Upsert;
use tollgate_testkit::TestApp;

#[tokio::test]
async fn checkpoints_are_signed_every_interval_and_the_chain_verifies() {
    let app = TestApp::sqlite_with_interval(3).await;
    for n in 0..5 {
        let input = TeamInput { name: format!("team-{n}"), ..TeamInput::default() };
        app.tollgate.put_team(&app.admin, input, Upsert::Create).await.expect("created");
    }
    let report = app.tollgate.verify_audit(&app.admin).await.expect("verified");
    // Opening enrolled the root key (1, endorsed at once), bootstrap wrote the admin and its
    // token (2, 3; the interval's checkpoint at 3), then 5 teams: 8 entries, checkpoints at 1, 3 and 6.
    assert_eq!((report.entries, report.checkpoints_verified, report.unsigned_tail), (8, 3, 2), "{report}");
    assert!(app.tollgate.checkpoint_now().await.expect("checkpoint").is_some());
    assert!(app.tollgate.checkpoint_now().await.expect("checkpoint").is_none(), "the head is already signed");
    let report = app.tollgate.verify_audit(&app.admin).await.expect("verified");
    assert_eq!(report.unsigned_tail, 0);
}

#[tokio::test]
async fn every_entry_names_actor_action_object_and_request() {
    let app = TestApp::sqlite().await;
    let principal = tollgate_service::Principal { request_id: Some("req-42".to_owned()), ..app.admin.clone() };
    app.tollgate
        .put_team(&principal, TeamInput { name: "payments".to_owned(), ..TeamInput::default() }, Upsert::Create)
        .await
        .expect("created");
    let entries = app.tollgate.list_audit(&app.admin, 3, 10).await.expect("entries");
    let body: serde_json::Value = serde_json::from_slice(&entries[0].body).expect("json");
    insta::assert_json_snapshot!(body, @r#"
    {
      "action": "team.create",
      "actor": "admin",
      "after": {
        "artifact_pattern": null,
        "display_name": "payments",
        "members": [],
        "name": "payments"
      },
      "at": "2026-03-01T12:00:00.000000Z",
      "before": null,
      "object": {
        "id": "payments",
        "kind": "team"
      },
      "reason": null,
      "request_id": "req-42",
      "seq": 4,
      "v": 1
    }
    "#);
}
