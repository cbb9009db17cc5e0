//! Authorization over HTTP: a denial is 403 problem+json naming the policy, a bad policy is 422
//! with its location and changes nothing, grants and checks round-trip.

use reqwest::Method;
use serde_json::json;
use tollgate_testkit::{spawn_app, Reply, SpawnedApp};

use crate::{author_token, ready_release, with_catalog};

async fn check(app: &SpawnedApp, token: &str, body: serde_json::Value) -> Reply {
    app.call_as(token, Method::POST, "/api/v1/authz/check", Some(body)).await
}

async fn grant(app: &SpawnedApp, body: serde_json::Value) -> Reply {
    app.post("/api/v1/authz/grants", body).await
}

async fn apply_policies(app: &SpawnedApp, files: serde_json::Value) -> Reply {
    app.post("/api/v1/authz/policies", json!({ "files": files })).await
}

#[tokio::test]
async fn a_denied_request_is_a_403_problem_naming_the_policy_and_is_audited() {
    let app = spawn_app().await;
    with_catalog(&app).await;
    let rita = author_token(&app).await;
    let before = app.app.row_counts().await;
    let edit = json!({ "name": "payments", "members": ["rita"] });
    let denied = app.call_as(&rita, Method::PUT, "/api/v1/teams/payments", Some(edit)).await;
    assert_eq!(denied.status, 403, "{:?}", denied.body);
    assert_eq!(denied.content_type, "application/problem+json");
    assert_eq!(denied.body["code"], "forbidden");
    assert_eq!(denied.body["detail"], "user rita doing team.edit on Team \"payments\" is denied: no policy permits it");
    let after = app.app.row_counts().await;
    assert_eq!(after["team_members"], before["team_members"]);
    assert_eq!(after["audit_entries"], before["audit_entries"] + 1, "the denial is audited");
    let last = app.get(&format!("/api/v1/audit?after={}&limit=1", before["audit_entries"])).await;
    assert_eq!(last.body[0]["entry"]["action"], "authz_decision.deny", "{:?}", last.body);
}

#[tokio::test]
async fn a_bad_policy_is_refused_with_its_location_and_changes_nothing() {
    let app = spawn_app().await;
    let before = app.app.row_counts().await;
    let refused = apply_policies(
        &app,
        json!([{ "name": "ops.cedar", "text": "@id(\"x\")\npermit (principal, action, resource)\n  when { resource.colour };" }]),
    )
    .await;
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    assert_eq!(refused.body["code"], "validation_failed");
    let message = refused.body["errors"][0]["message"].as_str().expect("a message");
    assert!(message.starts_with("ops.cedar:3:") && message.contains("(policy x)"), "{message}");
    let syntax = apply_policies(&app, json!([{ "name": "a.cedar", "text": "permit (principal," }])).await;
    assert_eq!(syntax.status, 422, "{:?}", syntax.body);
    let huge = apply_policies(&app, json!([{ "name": "a.cedar", "text": "(".repeat(100_000) }])).await;
    assert_eq!(huge.status, 422, "{:?}", huge.body);
    assert_eq!(app.app.row_counts().await, before);
    // The server is still there, and the built-in policies are in force.
    let listed = app.get("/api/v1/authz/policies").await;
    assert_eq!(listed.status, 200);
    assert!(listed.body["version"].is_null());
    assert!(listed.body["policies"].as_array().expect("policies").iter().any(|p| p["id"] == "prod.deploy_by_deployer"));
}

#[tokio::test]
async fn a_grant_lets_a_developer_deploy_to_prod_until_it_expires() {
    let app = spawn_app().await;
    with_catalog(&app).await;
    let release = ready_release(&app, "1.0.0").await;
    for environment in ["dev", "staging"] {
        let body = json!({ "release": "1.0.0", "environment": environment, "status": "succeeded" });
        assert_eq!(app.post("/api/v1/deployments", body).await.status, 201);
    }
    app.post("/api/v1/users", json!({ "name": "olli", "roles": ["developer"] })).await;
    let olli = app.post("/api/v1/tokens", json!({ "user": "olli" })).await.body["secret"]
        .as_str()
        .expect("a secret")
        .to_owned();
    let question = json!({ "action": "deploy", "resource": "prod", "release": release.to_string() });
    let before = check(&app, &olli, question.clone()).await;
    assert_eq!((before.status.as_u16(), &before.body["allowed"]), (200, &json!(false)), "{:?}", before.body);
    assert_eq!(before.body["policies"][0]["id"], "prod.deploy_by_deployer");

    let self_grant = grant(
        &app,
        json!({ "user": "admin", "role": "deployer", "environment": "prod", "duration_seconds": 3600, "reason": "x" }),
    )
    .await;
    assert_eq!(self_grant.status, 403, "{:?}", self_grant.body);
    let granted =
        grant(&app, json!({ "user": "olli", "role": "deployer", "environment": "prod", "duration_seconds": 3600, "reason": "incident 42" })).await;
    assert_eq!(granted.status, 201, "{:?}", granted.body);
    let after = check(&app, &olli, question.clone()).await;
    assert_eq!(after.body["allowed"], true, "{:?}", after.body);
    assert_eq!(after.body["grants"], json!([granted.body["id"]]));

    app.app.clock.advance(jiff::SignedDuration::from_secs(3600));
    let expired = check(&app, &olli, question).await;
    assert_eq!(expired.body["allowed"], false, "{:?}", expired.body);
    assert_eq!(app.get("/api/v1/authz/grants").await.body, json!([]));
    let revoked = app.call(Method::DELETE, &format!("/api/v1/authz/grants/{}", granted.body["id"]), None).await;
    assert_eq!(revoked.status, 200, "revoking an expired grant is allowed: {:?}", revoked.body);
    let missing = app.call(Method::DELETE, "/api/v1/authz/grants/999", None).await;
    assert_eq!((missing.status.as_u16(), &missing.body["code"]), (404, &json!("grant_not_found")));
}
