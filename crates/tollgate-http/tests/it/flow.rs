use serde_json::json;
use tollgate_core::release::ReleaseId;
use tollgate_service::release::ReleaseRef;
use tollgate_testkit::spawn_app;

use crate::{catalog, ready_release, with_catalog};

#[tokio::test]
async fn applying_twice_plans_unchanged_and_writes_nothing() {
    let app = spawn_app().await;
    let first = app.post("/api/v1/apply?dry_run=true", catalog()).await;
    assert_eq!((first.status.as_u16(), &first.body["applied"]), (200, &json!(false)));
    assert!(first.body["changes"].as_array().expect("changes").iter().all(|c| c["op"] == "create"));
    with_catalog(&app).await;
    let before = app.app.row_counts().await;
    let second = app.post("/api/v1/apply", catalog()).await;
    assert_eq!(second.body["applied"], json!(false));
    assert!(second.body["changes"].as_array().expect("changes").iter().all(|c| c["op"] == "unchanged"));
    assert_eq!(app.app.row_counts().await, before);

    let mut changed = catalog();
    changed["environments"][2]["region"] = json!("us");
    let third = app.post("/api/v1/apply", changed).await;
    let updates: Vec<_> =
        third.body["changes"].as_array().expect("changes").iter().filter(|c| c["op"] == "update").collect();
    assert_eq!(updates, [&json!({ "kind": "environment", "name": "prod", "op": "update", "fields": ["region"] })]);
}

#[tokio::test]
async fn a_release_moves_through_the_lifecycle_and_the_register_answers_for_any_instant() {
    let app = spawn_app().await;
    with_catalog(&app).await;
    let first = ready_release(&app, "1.0.0").await;
    app.app.approved_change(&ReleaseRef::Id(ReleaseId(first)), "prod").await;
    for environment in ["dev", "staging", "prod"] {
        let recorded = app
            .post(
                "/api/v1/deployments",
                json!({ "release": "1.0.0", "environment": environment, "status": "succeeded" }),
            )
            .await;
        assert_eq!(recorded.status, 201, "{environment}: {:?}", recorded.body);
        app.app.clock.advance(jiff::SignedDuration::from_hours(1));
    }
    let release = app.get(&format!("/api/v1/releases/{first}")).await;
    assert_eq!(release.body["state"], "deployed");
    assert_eq!(release.body["allowed_next_states"], json!(["closed", "rolled_back"]));

    ready_release(&app, "1.1.0").await;
    let dev = app.post("/api/v1/deployments", json!({ "release": "1.1.0", "environment": "dev" })).await;
    assert_eq!(dev.body["status"], "running");
    let finished =
        app.post(&format!("/api/v1/deployments/{}/finish", dev.body["id"]), json!({ "status": "succeeded" })).await;
    assert_eq!(finished.body["status"], "succeeded", "{:?}", finished.body);

    let skip = app
        .post("/api/v1/deployments", json!({ "release": "1.1.0", "environment": "prod", "status": "succeeded" }))
        .await;
    insta::assert_json_snapshot!(skip.body, @r#"
    {
      "type": "urn:tollgate:problem:promotion_refused",
      "title": "Conflict",
      "status": 409,
      "detail": "release 1.1.0 has not succeeded in staging, which comes before prod in lifecycle default",
      "code": "promotion_refused",
      "errors": [
        {
          "field": "",
          "message": "release 1.1.0 has not succeeded in staging, which comes before prod in lifecycle default"
        }
      ]
    }
    "#);

    let register = app.get("/api/v1/register").await;
    insta::assert_json_snapshot!(register.body, { ".environments[].services[].digest" => "[digest]" }, @r#"
    {
      "at": "2026-03-01T15:00:00Z",
      "environments": [
        {
          "environment": "dev",
          "tier": "dev",
          "services": [
            {
              "service": "api",
              "artifact": "api",
              "version": "1.1.0",
              "digest": "[digest]",
              "release": 2,
              "release_version": "1.1.0",
              "deployment": 4,
              "deployed_at": "2026-03-01T15:00:00Z",
              "emergency_skipped": null
            },
            {
              "service": "ledger",
              "artifact": "ledger",
              "version": "1.1.0",
              "digest": "[digest]",
              "release": 2,
              "release_version": "1.1.0",
              "deployment": 4,
              "deployed_at": "2026-03-01T15:00:00Z",
              "emergency_skipped": null
            }
          ]
        },
        {
          "environment": "prod",
          "tier": "prod",
          "services": [
            {
              "service": "api",
              "artifact": "api",
              "version": "1.0.0",
              "digest": "[digest]",
              "release": 1,
              "release_version": "1.0.0",
              "deployment": 3,
              "deployed_at": "2026-03-01T14:00:00Z",
              "emergency_skipped": null
            },
            {
              "service": "ledger",
              "artifact": "ledger",
              "version": "1.0.0",
              "digest": "[digest]",
              "release": 1,
              "release_version": "1.0.0",
              "deployment": 3,
              "deployed_at": "2026-03-01T14:00:00Z",
              "emergency_skipped": null
            }
          ]
        },
        {
          "environment": "staging",
          "tier": "staging",
          "services": [
            {
              "service": "api",
              "artifact": "api",
              "version": "1.0.0",
              "digest": "[digest]",
              "release": 1,
              "release_version": "1.0.0",
              "deployment": 2,
              "deployed_at": "2026-03-01T13:00:00Z",
              "emergency_skipped": null
            },
            {
              "service": "ledger",
              "artifact": "ledger",
              "version": "1.0.0",
              "digest": "[digest]",
              "release": 1,
              "release_version": "1.0.0",
              "deployment": 2,
              "deployed_at": "2026-03-01T13:00:00Z",
              "emergency_skipped": null
            }
          ]
        }
      ]
    }
    "#);

    // What ran in dev before 1.1.0 arrived.
    let earlier = app.get("/api/v1/register?environment=dev&at=2026-03-01T14:30:00Z").await;
    assert_eq!(earlier.body["environments"][0]["services"][0]["release_version"], "1.0.0");
    let history = app.get("/api/v1/deployments?environment=dev").await;
    let versions: Vec<_> =
        history.body["items"].as_array().expect("items").iter().map(|d| d["release_version"].clone()).collect();
    assert_eq!(versions, [json!("1.1.0"), json!("1.0.0")]);
}

#[tokio::test]
async fn the_audit_log_records_every_change_and_verifies() {
    let app = spawn_app().await;
    with_catalog(&app).await;
    ready_release(&app, "1.0.0").await;
    let entries = app.get("/api/v1/audit?limit=1000").await;
    let actions: Vec<&str> = entries
        .body
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["entry"]["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        [
            "signing_key.enroll",
            "user.create",
            "token.create",
            "user.set_password",
            "team.create",
            "environment.create",
            "environment.create",
            "environment.create",
            "lifecycle.create",
            "service.create",
            "service.create",
            "service.create",
            "trusted_key.create",
            "artifact.create",
            "artifact.sign",
            "artifact.create",
            "artifact.sign",
            "user.create",
            "token.create",
            "release.create",
            "release.transition",
            "release.transition",
            "release.transition"
        ]
    );
    let verify = app.get("/api/v1/audit/verify").await;
    assert_eq!(
        (verify.body["ok"].as_bool(), verify.body["entries"].as_u64()),
        (Some(true), Some(23)),
        "{:?}",
        verify.body
    );

    let export = app
        .client
        .get(format!("{}/api/v1/audit/export", app.base_url))
        .bearer_auth(&app.app.admin_token)
        .send()
        .await
        .expect("export");
    assert_eq!(export.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/x-ndjson"));
    let text = export.text().await.expect("text");
    let key = app.app.tollgate.verifying_key();
    let report = tollgate_core::audit::export::verify_export(text.lines(), &[key], &[]).expect("a readable export");
    assert!(report.is_ok() && report.entries == 23 && report.unsigned_tail == 0, "{report}");
}
