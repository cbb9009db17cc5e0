//! Change requests over HTTP: request, bad input named field by field with nothing written,
//! submit, self-approval refused, approval by another, the CAB agenda, a prod deployment
//! refused without an approved change, and the shapes of the answers.

use serde_json::json;
use tollgate_testkit::spawn_app;

use crate::{author_token, ready_release, with_catalog};

fn change(release: &str) -> serde_json::Value {
    json!({
        "release": release,
        "environment": "prod",
        "justification": "customers need 1.0.0",
        "rollback_plan": "redeploy the previous release",
        "rollback_minutes": 20,
        "tickets": ["PAY-7"],
        "planned_start": "2026-03-01T11:00:00Z",
        "planned_end": "2026-03-01T15:00:00Z"
    })
}

#[tokio::test]
async fn a_change_is_requested_submitted_and_approved_over_http_and_then_prod_takes_the_release() {
    let app = spawn_app().await;
    with_catalog(&app).await;
    ready_release(&app, "1.0.0").await;
    for environment in ["dev", "staging"] {
        let body = json!({ "release": "1.0.0", "environment": environment, "status": "succeeded" });
        assert_eq!(app.post("/api/v1/deployments", body).await.status, 201);
    }
    let refused = app
        .post("/api/v1/deployments", json!({ "release": "1.0.0", "environment": "prod", "status": "succeeded" }))
        .await;
    insta::assert_json_snapshot!(refused.body, @r#"
    {
      "type": "urn:tollgate:problem:change_required",
      "title": "Conflict",
      "status": 409,
      "detail": "deploying release 1.0.0 to prod needs an approved change request: no approved change request for release 1.0.0 in prod; request one with `tollgate change request --release 1.0.0 --environment prod`",
      "code": "change_required",
      "errors": [
        {
          "field": "",
          "message": "no approved change request for release 1.0.0 in prod; request one with `tollgate change request --release 1.0.0 --environment prod`"
        }
      ]
    }
    "#);

    // Bad input names every field and writes nothing.
    let before = app.app.row_counts().await;
    let bad = json!({
        "release": "1.0.0", "environment": "prod", "change_type": "urgent", "justification": " ",
        "rollback_plan": "", "planned_start": "tomorrow", "planned_end": "2026-03-01T15:00:00Z"
    });
    let invalid = app.post("/api/v1/changes", bad).await;
    assert_eq!(invalid.status, 422);
    let fields: Vec<&str> = invalid.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("a field"))
        .collect();
    assert_eq!(fields, ["change_type", "justification", "rollback_plan", "planned_start"]);
    assert_eq!(app.app.row_counts().await, before);

    let author = author_token(&app).await;
    let created = app.call_as(&author, reqwest::Method::POST, "/api/v1/changes", Some(change("1.0.0"))).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_i64().expect("an id");
    let submitted = app.call_as(&author, reqwest::Method::POST, &format!("/api/v1/changes/{id}/submit"), None).await;
    assert_eq!(submitted.status, 200, "{:?}", submitted.body);
    insta::assert_json_snapshot!(submitted.body, {
        ".change.route.policy" => "[policy]",
        ".change.manifest_digest" => "[digest]",
    }, @r#"
    {
      "change": {
        "id": 1,
        "release": 1,
        "environment": "prod",
        "change_type": "normal",
        "template": null,
        "state": "assessing",
        "justification": "customers need 1.0.0",
        "implementation_plan": "",
        "rollback_plan": "redeploy the previous release",
        "rollback_minutes": 20,
        "tickets": [
          "PAY-7"
        ],
        "links": [],
        "planned_start": "2026-03-01T11:00:00Z",
        "planned_end": "2026-03-01T15:00:00Z",
        "manifest_digest": "[digest]",
        "impacted_services": [
          "api",
          "ledger"
        ],
        "risk": {
          "score": 45,
          "class": "medium",
          "factors": [
            {
              "kind": "blast_radius",
              "value": 0.31,
              "weight": 20,
              "points": 6.2,
              "explanation": "2 service(s) impacted, none downstream"
            },
            {
              "kind": "size",
              "value": 1.0,
              "weight": 15,
              "points": 15.0,
              "explanation": "2 of 2 service(s) in the environment change"
            },
            {
              "kind": "failure_rate",
              "value": 0.17,
              "weight": 20,
              "points": 3.4,
              "explanation": "0 of 2 deployment(s) of these services failed in 90 days; rate with the prior 0.08"
            },
            {
              "kind": "environment_tier",
              "value": 1.0,
              "weight": 15,
              "points": 15.0,
              "explanation": "an environment of tier prod"
            },
            {
              "kind": "schedule",
              "value": 0.0,
              "weight": 10,
              "points": 0.0,
              "explanation": "planned inside an open window"
            },
            {
              "kind": "emergency",
              "value": 0.0,
              "weight": 10,
              "points": 0.0,
              "explanation": "a normal change"
            },
            {
              "kind": "evidence",
              "value": 0.5,
              "weight": 10,
              "points": 5.0,
              "explanation": "no current gate decision or no evidence for this content"
            }
          ]
        },
        "route": {
          "kind": "peer",
          "policy": "[policy]",
          "quorum": null,
          "required_teams": null,
          "outside_team": null,
          "review_days": null
        },
        "requested_by": "rita",
        "created_at": "2026-03-01T12:00:00Z",
        "updated_at": "2026-03-01T12:00:00Z",
        "deployment": null,
        "review_due_at": null,
        "review": null,
        "revision": 3
      },
      "release_version": "1.0.0",
      "release_unchanged": true,
      "approvals": [],
      "approval_status": {
        "complete": false,
        "rejected": false,
        "missing": [
          "one approval"
        ],
        "stale": 0
      },
      "conflicts": []
    }
    "#);

    // The author of the release and of the change does not approve it.
    let own =
        app.call_as(&author, reqwest::Method::POST, &format!("/api/v1/changes/{id}/approve"), Some(json!({}))).await;
    assert_eq!((own.status.as_u16(), own.body["code"].as_str()), (403, Some("forbidden")), "{:?}", own.body);

    app.post("/api/v1/users", json!({ "name": "ana", "role": "approver" })).await;
    let token = app.post("/api/v1/tokens", json!({ "user": "ana", "description": "cab" })).await;
    let ana = token.body["secret"].as_str().expect("a secret").to_owned();
    let approved = app
        .call_as(
            &ana,
            reqwest::Method::POST,
            &format!("/api/v1/changes/{id}/approve"),
            Some(json!({ "comment": "ok" })),
        )
        .await;
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    assert_eq!(approved.body["change"]["state"], "approved");
    assert_eq!(approved.body["approvals"][0]["current"], true);

    let deployed = app
        .post("/api/v1/deployments", json!({ "release": "1.0.0", "environment": "prod", "status": "succeeded" }))
        .await;
    assert_eq!(deployed.status, 201, "{:?}", deployed.body);
    let detail = app.get(&format!("/api/v1/changes/{id}")).await;
    assert_eq!(
        (detail.body["change"]["state"].as_str(), detail.body["change"]["deployment"].as_i64()),
        (Some("implemented"), deployed.body["id"].as_i64())
    );
    let listed = app.get("/api/v1/changes?environment=prod&state=implemented").await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1));
    let missing = app.get("/api/v1/changes/999").await;
    assert_eq!((missing.status.as_u16(), missing.body["code"].as_str()), (404, Some("change_request_not_found")));
    let agenda = app.get("/api/v1/changes/cab-agenda").await;
    assert_eq!(agenda.body, json!([]));
}
