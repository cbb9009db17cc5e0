//! API tests: the real router on a loopback port, a fresh SQLite database per test.

mod artifacts;
mod audit_search;
mod auth;
mod authz;
mod bad_input;
mod calendar;
mod changes;
mod contract;
mod flow;
mod leases;
mod trust;
mod ui;
mod ui_deployments;

use serde_json::{json, Value};
use tollgate_testkit::SpawnedApp;

/// The example catalog: a team, three services with dependencies, dev → staging → prod.
pub fn catalog() -> Value {
    json!({
        "teams": [{ "name": "payments" }],
        "environments": [
            { "name": "dev", "tier": "dev" },
            { "name": "staging", "tier": "staging" },
            { "name": "prod", "tier": "prod", "region": "eu" }
        ],
        "lifecycles": [{ "name": "default", "environments": ["dev", "staging", "prod"] }],
        "services": [
            { "name": "postgres-main", "owner": "payments", "criticality": "critical" },
            { "name": "ledger", "owner": "payments", "criticality": "high", "depends_on": ["postgres-main"] },
            { "name": "api", "owner": "payments", "depends_on": ["ledger"] }
        ]
    })
}

pub fn digest(text: &str) -> String {
    tollgate_core::digest::Sha256Digest::of(text.as_bytes()).to_string()
}

pub fn release(version: &str) -> Value {
    json!({
        "version": version,
        "lifecycle": "default",
        "release_type": "minor",
        "artifacts": [
            { "service": "api", "name": "api", "version": version, "digest": digest(&format!("api {version}")) },
            { "service": "ledger", "name": "ledger", "version": version, "digest": digest(&format!("ledger {version}")) }
        ],
        "scope": [
            { "ticket": "PAY-1", "title": "Faster refunds" },
            { "ticket": "PAY-2", "title": "Dark mode", "included": false, "reason": "not tested in time" }
        ],
        "rollback_criteria": "error ratio above 1% for 5 minutes"
    })
}

pub async fn with_catalog(app: &SpawnedApp) {
    let reply = app.post("/api/v1/apply", catalog()).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}

/// Pushes and signs (through the API) the artifacts `release(version)` refers to.
pub async fn stock(app: &SpawnedApp, version: &str) {
    let keys = app.get("/api/v1/keys").await;
    if keys.body.as_array().is_none_or(|keys| keys.is_empty()) {
        let public_key = tollgate_core::attestation::public_key_pem(&tollgate_testkit::signer().verifying_key());
        let key = app.post("/api/v1/keys", json!({ "name": "test-ci", "public_key": public_key })).await;
        assert_eq!(key.status, 201, "{:?}", key.body);
    }
    for service in ["api", "ledger"] {
        let content = format!("{service} {version}").into_bytes();
        let path = format!("/api/v1/artifacts?name={service}&version={version}&team=payments");
        let pushed = app.call_raw(reqwest::Method::POST, &path, "application/octet-stream", content.clone()).await;
        assert_eq!(pushed.status, 201, "{:?}", pushed.body);
        let envelope = tollgate_testkit::envelope_for(service, tollgate_core::digest::Sha256Digest::of(&content));
        let envelope: Value = serde_json::from_str(&envelope).expect("an envelope is JSON");
        let signed = app.post(&format!("/api/v1/artifacts/{}/signatures", pushed.body["id"]), envelope).await;
        assert_eq!(signed.status, 201, "{:?}", signed.body);
    }
}

/// Creates a release and takes it to ready; returns its id.
/// A token of `rita`, a member who authors releases (created on first use).
pub async fn author_token(app: &SpawnedApp) -> String {
    app.post("/api/v1/users", json!({ "name": "rita", "role": "member" })).await;
    let token = app.post("/api/v1/tokens", json!({ "user": "rita", "description": "author" })).await;
    token.body["secret"].as_str().expect("a secret").to_owned()
}

pub async fn ready_release(app: &SpawnedApp, version: &str) -> i64 {
    stock(app, version).await;
    // Authored by someone else than the admin, who marks it ready and deploys it: the author of
    // a release does not ship it to prod.
    let author = author_token(app).await;
    let created = app.call_as(&author, reqwest::Method::POST, "/api/v1/releases", Some(release(version))).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_i64().expect("an id");
    for action in ["plan", "freeze_scope", "mark_ready"] {
        let moved = app.post(&format!("/api/v1/releases/{id}/transitions"), json!({ "action": action })).await;
        assert_eq!(moved.status, 200, "{action}: {:?}", moved.body);
    }
    id
}
