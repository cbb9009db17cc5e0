use reqwest::Method;
use serde_json::json;
use tollgate_testkit::spawn_app;

#[tokio::test]
async fn health_and_metrics_need_no_token_and_everything_else_does() {
    let app = spawn_app().await;
    assert_eq!(app.call_as("", Method::GET, "/healthz", None).await.status, 200);
    assert_eq!(app.call_as("", Method::GET, "/readyz", None).await.status, 200);
    let metrics = app.client.get(format!("{}/metrics", app.base_url)).send().await.expect("metrics");
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.expect("text");
    // Bootstrap: the key, the admin, its token and its password.
    assert!(text.contains("tollgate_audit_entries 4"), "{text}");

    for path in ["/api/v1/teams", "/api/v1/openapi.json", "/api/v1/audit/verify", "/api/v1/register"] {
        let reply = app.call_as("", Method::GET, path, None).await;
        assert_eq!((reply.status.as_u16(), reply.body["code"].as_str()), (401, Some("unauthenticated")), "{path}");
        assert_eq!(reply.content_type, "application/problem+json");
    }
    let wrong = app.call_as(&format!("tg_{}", "0".repeat(64)), Method::GET, "/api/v1/teams", None).await;
    insta::assert_json_snapshot!(wrong.body, @r#"
    {
      "type": "urn:tollgate:problem:unauthenticated",
      "title": "Unauthorized",
      "status": 401,
      "detail": "unknown token",
      "code": "unauthenticated"
    }
    "#);
    let malformed = app.call_as("hunter2", Method::GET, "/api/v1/teams", None).await;
    assert_eq!(malformed.body["detail"], "malformed token");
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let response = app.client.get(format!("{}/healthz", app.base_url)).send().await.expect("health");
    let id = response.headers().get("x-request-id").expect("a request id").to_str().expect("ascii");
    assert_eq!(id.len(), 36, "{id}");
    let echoed = app
        .client
        .get(format!("{}/healthz", app.base_url))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .expect("health");
    assert_eq!(echoed.headers().get("x-request-id").and_then(|v| v.to_str().ok()), Some("abc-123"));
}

#[tokio::test]
async fn the_openapi_document_describes_every_endpoint() {
    let app = spawn_app().await;
    let reply = app.get("/api/v1/openapi.json").await;
    assert_eq!(reply.status, 200);
    assert!(reply.body["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let mut paths: Vec<String> = reply.body["paths"].as_object().expect("paths").keys().cloned().collect();
    paths.sort();
    insta::assert_snapshot!(paths.join("\n"), @"
    /apply
    /artifacts
    /artifacts/gc
    /artifacts/{id}
    /artifacts/{id}/content
    /artifacts/{id}/signatures
    /artifacts/{id}/verify
    /audit
    /audit/checkpoint
    /audit/entries
    /audit/export
    /audit/keys
    /audit/keys/rotate
    /audit/verify
    /authz/check
    /authz/grants
    /authz/grants/{id}
    /authz/policies
    /calendar/export.ics
    /calendar/import
    /calendar/occurrences
    /calendar/periods
    /calendar/periods/{id}
    /changes
    /changes/cab-agenda
    /changes/overdue-reviews
    /changes/{id}
    /changes/{id}/approve
    /changes/{id}/close
    /changes/{id}/reject
    /changes/{id}/review
    /changes/{id}/schedule
    /changes/{id}/submit
    /changes/{id}/withdraw
    /deployments
    /deployments/check
    /deployments/rollback
    /deployments/start
    /deployments/{id}
    /deployments/{id}/decision
    /deployments/{id}/finish
    /deployments/{id}/logs
    /deployments/{id}/logs/stream
    /deployments/{id}/run
    /environments
    /environments/{name}
    /environments/{name}/window
    /gates/decisions
    /gates/decisions/{id}
    /gates/decisions/{id}/replay
    /gates/evaluate
    /gates/overrides
    /keys
    /keys/{id}/revoke
    /leases
    /leases/{deployment}
    /leases/{deployment}/renew
    /leases/{deployment}/report
    /lifecycles
    /lifecycles/{name}
    /policy
    /policy/versions
    /quarantines
    /quarantines/{environment}/lift
    /register
    /releases
    /releases/{release}
    /releases/{release}/board
    /releases/{release}/evidence
    /releases/{release}/transitions
    /retention/holds
    /retention/holds/{tag}/release
    /retention/policies
    /services
    /services/{name}
    /teams
    /teams/{name}
    /tokens
    /tokens/{id}
    /trains
    /trains/departures
    /trains/{name}
    /users
    /users/me
    /users/{name}/password
    ");

    assert_eq!(reply.body["servers"][0]["url"], "/api/v1");
    assert!(reply.body["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn tokens_are_shown_once_and_stop_working_when_revoked() {
    let app = spawn_app().await;
    let user = app.post("/api/v1/users", json!({ "name": "bo", "role": "viewer" })).await;
    assert_eq!(user.status, 201, "{:?}", user.body);
    let issued = app.post("/api/v1/tokens", json!({ "user": "bo", "description": "laptop" })).await;
    assert_eq!(issued.status, 201, "{:?}", issued.body);
    let secret = issued.body["secret"].as_str().expect("a secret").to_owned();
    let id = issued.body["token"]["id"].as_i64().expect("an id");
    let listed = app.get("/api/v1/tokens").await;
    assert!(!listed.body.to_string().contains(&secret), "a listing never shows a secret");

    let me = app.call_as(&secret, Method::GET, "/api/v1/users/me", None).await;
    assert_eq!(me.body["role"], "viewer");
    let write = app.call_as(&secret, Method::POST, "/api/v1/teams", Some(json!({ "name": "ops" }))).await;
    assert_eq!((write.status.as_u16(), write.body["code"].as_str()), (403, Some("forbidden")));

    let revoked = app.call(Method::DELETE, &format!("/api/v1/tokens/{id}"), None).await;
    assert_eq!(revoked.status, 200);
    assert!(revoked.body["revoked_at"].is_string());
    let after = app.call_as(&secret, Method::GET, "/api/v1/users/me", None).await;
    assert_eq!((after.status.as_u16(), after.body["detail"].as_str()), (401, Some("token revoked")));
}
