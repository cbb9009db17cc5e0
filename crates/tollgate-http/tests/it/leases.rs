//! The lease API, as a CI job that deploys by itself uses it: acquire, renew, report; a second
//! deployer refused while the lease is held, a late one fenced off once it expired, a refusal
//! naming every precondition, and bad input refused without a write.

use jiff::SignedDuration;
use serde_json::{json, Value};
use tollgate_testkit::spawn_app;

use crate::{ready_release, with_catalog};

/// The body with its times and ids written as placeholders.
fn redacted(mut body: Value) -> Value {
    fn walk(value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, field) in map.iter_mut() {
                    let volatile = key.ends_with("_at") || matches!(key.as_str(), "id" | "release" | "deployment");
                    if volatile && !field.is_null() && !field.is_object() {
                        *field = json!("[redacted]");
                    } else {
                        walk(field);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut body);
    body
}

#[tokio::test]
async fn a_deployer_acquires_renews_and_reports_and_a_late_holder_is_fenced_off() {
    let app = spawn_app().await;
    with_catalog(&app).await;
    ready_release(&app, "1.0.0").await;
    ready_release(&app, "1.1.0").await;

    let acquired =
        app.post("/api/v1/leases", json!({ "release": "1.0.0", "environment": "dev", "ttl_seconds": 60 })).await;
    assert_eq!(acquired.status, 201, "{}", acquired.body);
    insta::assert_json_snapshot!(redacted(acquired.body.clone()), @r#"
    {
      "lease": {
        "deployment": "[redacted]",
        "environment": "dev",
        "services": [
          "api",
          "ledger"
        ],
        "holder": "admin",
        "epoch": 1,
        "ttl_seconds": 60,
        "acquired_at": "[redacted]",
        "expires_at": "[redacted]",
        "released_at": null,
        "state": "held"
      },
      "deployment": {
        "id": "[redacted]",
        "release": "[redacted]",
        "release_version": "1.0.0",
        "environment": "dev",
        "status": "running",
        "manifest_digest": "sha256:925459a44fe3d9e5a25ad57965e5592ea6a85f5e7ee4fe3d6861324a316969a5",
        "emergency_skipped": null,
        "actor": "admin",
        "started_at": "[redacted]",
        "finished_at": null,
        "rolled_back_at": null
      }
    }
    "#);
    let deployment = acquired.body["deployment"]["id"].as_i64().expect("an id");

    // A second deployer is refused while the lease is held, and told by whom.
    let before = app.app.row_counts().await;
    let second = app.post("/api/v1/leases", json!({ "release": "1.1.0", "environment": "dev" })).await;
    assert_eq!(
        (second.status.as_u16(), second.body["code"].as_str()),
        (409, Some("deployment_refused")),
        "{}",
        second.body
    );
    let errors = second.body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 2, "{}", second.body);
    let message = errors[0]["message"].as_str().expect("a message");
    assert!(message.starts_with("lock: api in dev is locked by"), "{message}");
    assert!(message.contains(&format!("deployment {deployment} of admin")), "{message}");
    // Recording a running deployment meets the lock in its transaction.
    let recorded = app.post("/api/v1/deployments", json!({ "release": "1.1.0", "environment": "dev" })).await;
    assert_eq!(
        (recorded.status.as_u16(), recorded.body["code"].as_str()),
        (409, Some("lease_held")),
        "{}",
        recorded.body
    );
    assert_eq!(app.app.row_counts().await, before);

    // Renewing needs the epoch (an integer, also written as 1.0); the holder keeps it alive,
    // then reports the outcome.
    let wrong = app.post(&format!("/api/v1/leases/{deployment}/renew"), json!({ "epoch": 2 })).await;
    assert_eq!((wrong.status.as_u16(), wrong.body["code"].as_str()), (409, Some("lease_lost")), "{}", wrong.body);
    app.app.clock.advance(SignedDuration::from_secs(45));
    let renewed =
        app.post(&format!("/api/v1/leases/{deployment}/renew"), json!({ "epoch": 1.0, "ttl_seconds": 120.0 })).await;
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    assert_eq!(renewed.body["ttl_seconds"], 120);
    let listed = app.get("/api/v1/leases?environment=dev").await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1), "{}", listed.body);
    let reported =
        app.post(&format!("/api/v1/leases/{deployment}/report"), json!({ "epoch": 1, "status": "succeeded" })).await;
    assert_eq!(reported.status, 200, "{}", reported.body);
    assert_eq!(reported.body["deployment"]["status"], "succeeded");
    assert_eq!(reported.body["lease"]["state"], "released");
    let register = app.get("/api/v1/register?environment=dev").await;
    assert_eq!(register.body["environments"][0]["services"][0]["release_version"], "1.0.0");

    // The next deployer holds dev with a greater epoch, then stops renewing; a third takes
    // over once it expired, and the late holder's report is refused.
    let next = app.post("/api/v1/leases", json!({ "release": "1.1.0", "environment": "dev", "ttl_seconds": 10 })).await;
    assert_eq!(next.status, 201, "{}", next.body);
    assert_eq!(next.body["lease"]["epoch"], 2);
    let stalled = next.body["deployment"]["id"].as_i64().expect("an id");
    app.app.clock.advance(SignedDuration::from_secs(11));
    let shown = app.get(&format!("/api/v1/leases/{stalled}")).await;
    assert_eq!(shown.body["state"], "expired", "{}", shown.body);
    let taker = app.post("/api/v1/leases", json!({ "release": "1.1.0", "environment": "dev" })).await;
    assert_eq!(taker.status, 201, "{}", taker.body);
    assert_eq!(taker.body["lease"]["epoch"], 3);
    let late =
        app.post(&format!("/api/v1/leases/{stalled}/report"), json!({ "epoch": 2, "status": "succeeded" })).await;
    assert_eq!((late.status.as_u16(), late.body["code"].as_str()), (409, Some("lease_lost")), "{}", late.body);
    assert_eq!(app.get(&format!("/api/v1/deployments/{stalled}")).await.body["status"], "failed");
}

#[tokio::test]
async fn an_acquisition_is_refused_with_every_reason_and_bad_input_changes_nothing() {
    let app = spawn_app().await;
    with_catalog(&app).await;
    ready_release(&app, "1.0.0").await;
    let before = app.app.row_counts().await;
    let refused = app.post("/api/v1/leases", json!({ "release": "1.0.0", "environment": "prod" })).await;
    assert_eq!(
        (refused.status.as_u16(), refused.body["code"].as_str()),
        (409, Some("deployment_refused")),
        "{}",
        refused.body
    );
    let messages: Vec<&str> = refused.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|error| error["message"].as_str())
        .collect();
    assert!(messages.iter().any(|message| message.starts_with("promotion: ")), "{messages:?}");
    assert!(messages.iter().any(|message| message.starts_with("change: ")), "{messages:?}");

    for (body, field) in [
        (json!({ "release": "1.0.0", "environment": "dev", "ttl_seconds": 9 }), "ttl_seconds"),
        (json!({ "release": "1.0.0", "environment": "dev", "ttl_seconds": 86_401 }), "ttl_seconds"),
    ] {
        let bad = app.post("/api/v1/leases", body).await;
        assert_eq!((bad.status.as_u16(), &bad.body["errors"][0]["field"]), (422, &json!(field)), "{}", bad.body);
    }
    let unknown_field =
        app.post("/api/v1/leases", json!({ "release": "1.0.0", "environment": "dev", "ttl": 60 })).await;
    assert_eq!(unknown_field.status, 422, "{}", unknown_field.body);
    let no_lease = app.post("/api/v1/leases/999/renew", json!({ "epoch": 1 })).await;
    assert_eq!(no_lease.status, 404, "{}", no_lease.body);
    let bad_status = app.post("/api/v1/leases/1/report", json!({ "epoch": 1, "status": "rolled_back" })).await;
    assert_eq!(bad_status.status, 422, "{}", bad_status.body);
    let bad_id = app.get("/api/v1/leases/0").await;
    assert_eq!(bad_id.status, 422, "{}", bad_id.body);
    assert_eq!(app.app.row_counts().await, before, "nothing refused was written");
}
