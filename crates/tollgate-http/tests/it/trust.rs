//! The trust anchors over HTTP: who may verify and export, busy answers with `Retry-After`,
//! bounded metrics labels, witnesses, key enrollment, token lifetimes.

use reqwest::Method;
use serde_json::json;
use tollgate_testkit::spawn_app;

#[tokio::test]
async fn viewers_may_not_verify_or_export_and_auditors_may_but_change_nothing() {
    let app = spawn_app().await;
    for (name, role) in [("vic", "viewer"), ("ines", "auditor")] {
        let created = app.post("/api/v1/users", json!({ "name": name, "role": role })).await;
        assert_eq!(created.status, 201, "{:?}", created.body);
    }
    let token = |user: &str| {
        let app = &app;
        let user = user.to_owned();
        async move {
            let issued = app.post("/api/v1/tokens", json!({ "user": user, "description": "t" })).await;
            issued.body["secret"].as_str().expect("a secret").to_owned()
        }
    };
    let (viewer, auditor) = (token("vic").await, token("ines").await);
    for path in ["/api/v1/audit/verify", "/api/v1/audit/export"] {
        let refused = app.call_as(&viewer, Method::GET, path, None).await;
        assert_eq!((refused.status.as_u16(), refused.body["code"].as_str()), (403, Some("forbidden")), "{path}");
        let allowed = app.call_as(&auditor, Method::GET, path, None).await;
        assert_eq!(allowed.status, 200, "{path}");
    }
    let write = app.call_as(&auditor, Method::POST, "/api/v1/teams", Some(json!({ "name": "x" }))).await;
    assert_eq!(write.status, 403);
}

#[tokio::test]
async fn a_second_whole_log_scan_is_refused_as_busy_with_retry_after() {
    let app = spawn_app().await;
    // An export in progress (here started through the service, so it stays open) holds the
    // server's one permit for whole-log work.
    let export = app.app.tollgate.start_audit_export(&app.app.admin).await.expect("an export starts");
    for path in ["/api/v1/audit/verify", "/api/v1/audit/export"] {
        let busy = app
            .client
            .get(format!("{}{path}", app.base_url))
            .bearer_auth(&app.app.admin_token)
            .send()
            .await
            .expect("an answer");
        assert_eq!(busy.status(), 429, "{path}");
        assert_eq!(busy.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("10"), "{path}");
        let body: serde_json::Value = busy.json().await.expect("a problem");
        assert_eq!(body["code"], "busy", "{path}");
    }
    drop(export);
    assert_eq!(app.get("/api/v1/audit/verify").await.status, 200, "the permit is back once the export ended");
}

#[tokio::test]
async fn invented_methods_and_paths_cannot_grow_the_metrics() {
    let app = spawn_app().await;
    for n in 0..20 {
        let method = Method::from_bytes(format!("BREW{n}").as_bytes()).expect("a method");
        app.call(method, &format!("/api/v1/teams/{n}"), None).await;
        app.get(&format!("/no/such/path/{n}")).await;
    }
    let text =
        app.client.get(format!("{}/metrics", app.base_url)).send().await.expect("metrics").text().await.expect("text");
    assert!(!text.contains("BREW"), "{text}");
    assert!(!text.contains("/no/such/path"), "{text}");
    let series = text.lines().filter(|line| line.starts_with("tollgate_http_requests_total")).count();
    assert!(series <= 4, "a bounded set of series, found {series}:\n{text}");
}

#[tokio::test]
async fn the_latest_checkpoint_is_a_witness_and_keys_are_listed_and_enrolled() {
    let app = spawn_app().await;
    let checkpoint = app.get("/api/v1/audit/checkpoint").await;
    assert_eq!(checkpoint.status, 200, "{:?}", checkpoint.body);
    let witness = tollgate_core::audit::export::parse_witness(&checkpoint.body.to_string()).expect("a witness");
    assert_eq!(witness.key_id, tollgate_core::audit::key_id(&app.app.tollgate.verifying_key()));

    let replica = ed25519_dalek::SigningKey::from_bytes(&[77; 32]);
    let pem = tollgate_core::attestation::public_key_pem(&replica.verifying_key());
    let enrolled = app.post("/api/v1/audit/keys", json!({ "public_key": pem, "label": "replica-2" })).await;
    assert_eq!(enrolled.status, 201, "{:?}", enrolled.body);
    let again = app.post("/api/v1/audit/keys", json!({ "public_key": pem, "label": "replica-2" })).await;
    assert_eq!(again.status, 409, "{:?}", again.body);
    let keys = app.get("/api/v1/audit/keys").await;
    assert_eq!(keys.body.as_array().map(Vec::len), Some(2));
    // This server holds its key in memory: there is no file to rotate.
    let rotate = app.post("/api/v1/audit/keys/rotate", json!({})).await;
    assert_eq!((rotate.status.as_u16(), rotate.body["code"].as_str()), (409, Some("signing_key_not_rotatable")));
}

#[tokio::test]
async fn a_token_cannot_outlive_the_token_that_asks_for_it() {
    let app = spawn_app().await;
    let short = app
        .post(
            "/api/v1/tokens",
            json!({ "user": "admin", "description": "short", "expires_at": "2026-03-01T13:00:00Z" }),
        )
        .await;
    assert_eq!(short.status, 201, "{:?}", short.body);
    let secret = short.body["secret"].as_str().expect("a secret");
    let longer = json!({ "user": "admin", "description": "longer", "expires_at": "2026-03-02T00:00:00Z" });
    let refused = app.call_as(secret, Method::POST, "/api/v1/tokens", Some(longer)).await;
    assert_eq!((refused.status.as_u16(), refused.body["code"].as_str()), (422, Some("token_outlives_parent")));
}
