//! Bad input gets a problem naming the field or reason, and writes nothing: every test compares
//! row counts (including the audit log) before and after.

use reqwest::Method;
use serde_json::{json, Value};
use tollgate_testkit::{spawn_app, SpawnedApp};

use crate::{ready_release, release, with_catalog};

/// Sends `body` to `path` and returns the problem, after checking nothing was written.
async fn refused(app: &SpawnedApp, method: Method, path: &str, body: Value) -> Value {
    let before = app.app.row_counts().await;
    let reply = app.call(method, path, Some(body)).await;
    assert!(reply.status.is_client_error(), "{path}: {} {:?}", reply.status, reply.body);
    assert_eq!(reply.content_type, "application/problem+json");
    assert_eq!(app.app.row_counts().await, before, "{path} wrote something");
    reply.body
}

#[tokio::test]
async fn malformed_and_mistyped_bodies_name_the_problem() {
    let app = spawn_app().await;
    with_catalog(&app).await;
    let before = app.app.row_counts().await;
    let syntax = app.call_raw(Method::POST, "/api/v1/teams", "application/json", b"{\"name\": ".to_vec()).await;
    assert_eq!((syntax.status.as_u16(), syntax.body["code"].as_str()), (400, Some("malformed_json")));
    let no_type = app.call_raw(Method::POST, "/api/v1/teams", "text/plain", b"{}".to_vec()).await;
    assert_eq!((no_type.status.as_u16(), no_type.body["code"].as_str()), (415, Some("unsupported_media_type")));
    let huge = app.call_raw(Method::POST, "/api/v1/teams", "application/json", vec![b' '; 2 * 1024 * 1024]).await;
    assert_eq!((huge.status.as_u16(), huge.body["code"].as_str()), (413, Some("payload_too_large")));
    assert_eq!(app.app.row_counts().await, before);

    let unknown = refused(&app, Method::POST, "/api/v1/teams", json!({ "name": "ops", "colour": "red" })).await;
    assert_eq!(unknown["code"], "invalid_body");
    assert!(unknown["detail"].as_str().expect("detail").contains("unknown field `colour`"), "{unknown}");
    let wrong_type = refused(
        &app,
        Method::POST,
        "/api/v1/services",
        json!({ "name": "x", "owner": "payments", "depends_on": "ledger" }),
    )
    .await;
    assert!(
        wrong_type["detail"]
            .as_str()
            .expect("detail")
            .contains("depends_on: invalid type: string \"ledger\", expected a sequence"),
        "{wrong_type}"
    );
}

#[tokio::test]
async fn an_invalid_release_lists_every_field_at_once() {
    let app = spawn_app().await;
    with_catalog(&app).await;
    let mut bad = release("1.0");
    bad["artifacts"][0]["digest"] = json!("sha256:1234");
    bad["artifacts"][1]["service"] = json!("billing");
    bad["lifecycle"] = json!("fast");
    let problem = refused(&app, Method::POST, "/api/v1/releases", bad).await;
    insta::assert_json_snapshot!(problem, @r#"
    {
      "type": "urn:tollgate:problem:validation_failed",
      "title": "Unprocessable Entity",
      "status": 422,
      "detail": "version: \"1.0\" is not a semantic version: unexpected end of input while parsing minor version number; artifacts[0].digest: \"sha256:1234\" is not a digest (expected sha256: followed by 64 lower-case hex characters); lifecycle: lifecycle \"fast\" does not exist; artifacts[1].service: service \"billing\" does not exist",
      "code": "validation_failed",
      "errors": [
        {
          "field": "version",
          "message": "\"1.0\" is not a semantic version: unexpected end of input while parsing minor version number"
        },
        {
          "field": "artifacts[0].digest",
          "message": "\"sha256:1234\" is not a digest (expected sha256: followed by 64 lower-case hex characters)"
        },
        {
          "field": "lifecycle",
          "message": "lifecycle \"fast\" does not exist"
        },
        {
          "field": "artifacts[1].service",
          "message": "service \"billing\" does not exist"
        }
      ]
    }
    "#);
}

#[tokio::test]
async fn unknown_references_and_duplicates_are_refused() {
    let app = spawn_app().await;
    with_catalog(&app).await;
    let dangling =
        refused(&app, Method::POST, "/api/v1/services", json!({ "name": "search", "owner": "nobody" })).await;
    assert_eq!(
        (dangling["code"].as_str(), dangling["errors"][0]["field"].as_str()),
        (Some("validation_failed"), Some("owner"))
    );
    let duplicate = refused(&app, Method::POST, "/api/v1/teams", json!({ "name": "payments" })).await;
    assert_eq!(duplicate["code"], "conflict");
    let cycle = refused(
        &app,
        Method::PUT,
        "/api/v1/services/postgres-main",
        json!({ "name": "postgres-main", "owner": "payments", "depends_on": ["api"] }),
    )
    .await;
    assert_eq!(cycle["detail"], "depends_on: dependency cycle: postgres-main -> api -> ledger -> postgres-main");
    let missing = app.get("/api/v1/releases/9.9.9").await;
    assert_eq!((missing.status.as_u16(), missing.body["code"].as_str()), (404, Some("release_not_found")));
    let no_route = app.get("/api/v1/nothing-here").await;
    assert_eq!(no_route.body["code"], "route_not_found");
}

#[tokio::test]
async fn illegal_transitions_name_the_state_and_what_is_allowed() {
    let app = spawn_app().await;
    with_catalog(&app).await;
    let created = app.post("/api/v1/releases", release("1.0.0")).await;
    let id = created.body["id"].as_i64().expect("id");
    let problem =
        refused(&app, Method::POST, &format!("/api/v1/releases/{id}/transitions"), json!({ "action": "mark_ready" }))
            .await;
    assert_eq!(
        (problem["code"].as_str(), problem["detail"].as_str()),
        (
            Some("invalid_transition"),
            Some("cannot mark_ready a release that is draft; allowed next states: planned, cancelled")
        )
    );
    let system_only = refused(
        &app,
        Method::POST,
        &format!("/api/v1/releases/{id}/transitions"),
        json!({ "action": "complete_deployment" }),
    )
    .await;
    assert_eq!(system_only["errors"][0]["field"], "action");
    let unreasoned =
        refused(&app, Method::POST, &format!("/api/v1/releases/{id}/transitions"), json!({ "action": "cancel" })).await;
    assert_eq!(unreasoned["code"], "reason_required");

    let ready = ready_release(&app, "2.0.0").await;
    let frozen = refused(&app, Method::PUT, &format!("/api/v1/releases/{ready}"), release("2.0.0")).await;
    assert_eq!(frozen["code"], "scope_frozen");
    let deploy_draft =
        refused(&app, Method::POST, "/api/v1/deployments", json!({ "release": "1.0.0", "environment": "dev" })).await;
    assert_eq!(deploy_draft["detail"], "release 1.0.0 is draft; only a ready or deploying release can be deployed");
    let future = refused(
        &app,
        Method::POST,
        "/api/v1/deployments",
        json!({ "release": "2.0.0", "environment": "dev", "started_at": "2999-01-01T00:00:00Z" }),
    )
    .await;
    assert_eq!(future["detail"], "started_at: lies in the future");
}

#[tokio::test]
async fn bad_query_parameters_are_problems_too() {
    let app = spawn_app().await;
    let bad_limit = app.get("/api/v1/releases?limit=many").await;
    assert_eq!((bad_limit.status.as_u16(), bad_limit.body["code"].as_str()), (400, Some("invalid_query")));
    let bad_time = app.get("/api/v1/register?at=yesterday").await;
    assert_eq!(bad_time.body["detail"], "at: \"yesterday\" is not an RFC 3339 timestamp");
}

/// Answers `path` with its status and problem code.
async fn outcome(app: &SpawnedApp, path: &str) -> (u16, String) {
    let reply = app.get(path).await;
    (reply.status.as_u16(), reply.body["code"].as_str().unwrap_or("").to_owned())
}

#[tokio::test]
async fn out_of_range_values_are_refused_not_clamped() {
    let app = spawn_app().await;
    let invalid_query = (400, "invalid_query".to_owned());
    for path in [
        "/api/v1/releases?limit=0",
        "/api/v1/releases?limit=501",
        "/api/v1/deployments?limit=-1",
        "/api/v1/audit?limit=1001",
        "/api/v1/audit?after=9223372036854775808",
    ] {
        assert_eq!(outcome(&app, path).await, invalid_query, "{path}");
    }
    for path in ["/api/v1/releases?limit=500", "/api/v1/audit?limit=1000&after=9223372036854775807"] {
        assert_eq!(outcome(&app, path).await, (200, String::new()), "{path}");
    }
    let far_future = outcome(&app, "/api/v1/register?at=9999-06-01T00:00:00Z").await;
    assert_eq!(far_future, (422, "validation_failed".to_owned()));
}

#[tokio::test]
async fn a_release_id_has_one_spelling() {
    let app = spawn_app().await;
    with_catalog(&app).await;
    let created = app.post("/api/v1/releases", release("1.0.0")).await;
    assert_eq!(created.body["id"], 1);
    for path in ["/api/v1/releases/1", "/api/v1/releases/1.0.0"] {
        assert_eq!(outcome(&app, path).await.0, 200, "{path}");
    }
    for path in ["/api/v1/releases/01", "/api/v1/releases/+1", "/api/v1/releases/0", "/api/v1/releases/-1"] {
        assert_eq!(outcome(&app, path).await, (422, "validation_failed".to_owned()), "{path}");
    }
    let undecodable = outcome(&app, "/api/v1/teams/%FF").await;
    assert_eq!(undecodable, (422, "validation_failed".to_owned()));
}

#[tokio::test]
async fn text_with_nul_is_refused_on_every_backend() {
    let app = spawn_app().await;
    let team = json!({ "name": "nul", "display_name": "a\u{0}b" });
    let problem = refused(&app, Method::POST, "/api/v1/teams", team).await;
    assert_eq!(
        (problem["code"].as_str(), problem["errors"][0]["field"].as_str()),
        (Some("validation_failed"), Some("display_name"))
    );
}

#[tokio::test]
async fn integers_may_be_written_with_a_zero_fraction() {
    let app = spawn_app().await;
    let policy = json!({ "selector": "name:ledger", "keep_last": 3.0, "keep_deployed_days": 30 });
    let reply = app.put("/api/v1/retention/policies", policy).await;
    assert_eq!((reply.status.as_u16(), &reply.body["keep_last"]), (200, &json!(3)), "{:?}", reply.body);
    let fraction =
        refused(&app, Method::PUT, "/api/v1/retention/policies", json!({ "selector": "name:x", "keep_last": 2.5 }))
            .await;
    assert_eq!(fraction["code"], "invalid_body");
}

/// The `maxLength` the OpenAPI document states for a named schema.
fn documented_max_length(schema: &str) -> usize {
    let document = serde_json::to_value(tollgate_http::openapi()).expect("the document serializes");
    let max = document["components"]["schemas"][schema]["maxLength"].as_u64().expect("a maxLength");
    usize::try_from(max).expect("a small number")
}

#[tokio::test]
async fn the_server_enforces_the_text_limits_the_document_states() {
    let app = spawn_app().await;
    let at_most = |schema: &str| "x".repeat(documented_max_length(schema));
    let over = |schema: &str| "x".repeat(documented_max_length(schema) + 1);
    let key = |seed: u8| {
        let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]).verifying_key();
        tollgate_core::attestation::public_key_pem(&key)
    };
    let cases = [
        (
            "/api/v1/tokens",
            json!({ "description": at_most("TokenDescription") }),
            json!({ "description": over("TokenDescription") }),
        ),
        (
            "/api/v1/keys",
            json!({ "name": at_most("KeyName"), "public_key": key(1) }),
            json!({ "name": over("KeyName"), "public_key": key(2) }),
        ),
        (
            "/api/v1/keys",
            json!({ "name": "ci", "builder": at_most("Builder"), "public_key": key(3) }),
            json!({ "name": "ci", "builder": over("Builder"), "public_key": key(4) }),
        ),
        (
            "/api/v1/audit/keys",
            json!({ "label": at_most("KeyName"), "public_key": key(5) }),
            json!({ "label": over("KeyName"), "public_key": key(6) }),
        ),
        (
            "/api/v1/retention/holds",
            json!({ "tag": "a", "reason": at_most("HoldReason") }),
            json!({ "tag": "b", "reason": over("HoldReason") }),
        ),
    ];
    for (path, accepted, too_long) in cases {
        let reply = app.post(path, accepted).await;
        assert_eq!(reply.status, 201, "{path}: {:?}", reply.body);
        let problem = refused(&app, Method::POST, path, too_long).await;
        assert_eq!(problem["code"], "validation_failed", "{path}");
    }
}
