//! Artifacts over HTTP: streamed push and pull, immutability, signatures, evidence, retention.

use reqwest::Method;
use serde_json::{json, Value};
use tollgate_testkit::{spawn_app, SpawnedApp};

use crate::with_catalog;

async fn push(app: &SpawnedApp, name: &str, version: &str, content: &[u8]) -> tollgate_testkit::Reply {
    let path =
        format!("/api/v1/artifacts?name={name}&version={version}&team=payments&builder=https%3A%2F%2Fci.example");
    app.call_raw(Method::POST, &path, "application/octet-stream", content.to_vec()).await
}

#[tokio::test]
async fn an_artifact_streams_in_and_out_unchanged() {
    let app = spawn_app().await;
    with_catalog(&app).await;
    let content: Vec<u8> = (0..3_000_000u32).map(|n| (n % 251) as u8).collect();
    let pushed = push(&app, "ledger", "1.0.0", &content).await;
    assert_eq!(pushed.status, 201, "{:?}", pushed.body);
    let digest = tollgate_core::digest::Sha256Digest::of(&content).to_string();
    assert_eq!(
        (pushed.body["digest"].as_str(), pushed.body["size"].as_u64()),
        (Some(digest.as_str()), Some(3_000_000))
    );
    let pulled = app
        .client
        .get(format!("{}/api/v1/artifacts/{}/content", app.base_url, pushed.body["id"]))
        .bearer_auth(&app.app.admin_token)
        .send()
        .await
        .expect("pulled");
    assert_eq!(pulled.headers().get("x-tollgate-digest").and_then(|v| v.to_str().ok()), Some(digest.as_str()));
    assert_eq!(pulled.bytes().await.expect("bytes").as_ref(), content.as_slice());
    let again = push(&app, "ledger", "1.0.0", &content).await;
    assert_eq!(again.status, 200, "the same content again is a no-op");
}

#[tokio::test]
async fn other_content_under_an_existing_version_is_a_conflict() {
    let app = spawn_app().await;
    with_catalog(&app).await;
    push(&app, "ledger", "1.0.0", b"one").await;
    let before = app.app.row_counts().await;
    let conflict = push(&app, "ledger", "1.0.0", b"two").await;
    assert_eq!((conflict.status.as_u16(), conflict.body["code"].as_str()), (409, Some("artifact_immutable")));
    let after = app.app.row_counts().await;
    assert_eq!((after["artifacts"], after["audit_entries"]), (before["artifacts"], before["audit_entries"] + 1));
    let wrong_digest = app
        .call_raw(
            Method::POST,
            &format!("/api/v1/artifacts?name=ledger&version=2.0.0&team=payments&digest=sha256:{}", "0".repeat(64)),
            "application/octet-stream",
            b"three".to_vec(),
        )
        .await;
    assert_eq!((wrong_digest.status.as_u16(), wrong_digest.body["code"].as_str()), (422, Some("digest_mismatch")));
    assert_eq!(app.app.row_counts().await, after, "a mismatched digest records nothing");
}

#[tokio::test]
async fn signatures_are_checked_when_attached() {
    let app = spawn_app().await;
    with_catalog(&app).await;
    let pushed = push(&app, "api", "1.0.0", b"api").await;
    let envelope: Value =
        serde_json::from_str(&tollgate_testkit::envelope_for("api", tollgate_core::digest::Sha256Digest::of(b"api")))
            .expect("json");
    let path = format!("/api/v1/artifacts/{}/signatures", pushed.body["id"]);
    let untrusted = app.post(&path, envelope.clone()).await;
    assert_eq!((untrusted.status.as_u16(), untrusted.body["code"].as_str()), (422, Some("signature_rejected")));
    let public_key = tollgate_core::attestation::public_key_pem(&tollgate_testkit::signer().verifying_key());
    let key = app.post("/api/v1/keys", json!({ "name": "ci", "team": "payments", "public_key": public_key })).await;
    assert_eq!(key.status, 201, "{:?}", key.body);
    let signed = app.post(&path, envelope).await;
    assert_eq!((signed.status.as_u16(), signed.body["key_name"].as_str()), (201, Some("ci")));
    let verify = app.get(&format!("/api/v1/artifacts/{}/verify", pushed.body["id"])).await;
    assert_eq!(verify.body["ok"], true, "{:?}", verify.body);
    let garbage = app.post(&path, json!({ "payloadType": "x" })).await;
    assert_eq!(garbage.body["detail"], "malformed envelope: payload is missing");
}

#[tokio::test]
async fn evidence_that_does_not_parse_is_refused_with_its_location_and_writes_nothing() {
    let app = spawn_app().await;
    with_catalog(&app).await;
    let release = app.post("/api/v1/releases", crate::release("1.0.0")).await;
    assert_eq!(release.status, 201);
    let before = app.app.row_counts().await;
    let sarif =
        br#"{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "clippy"}}, "results": [{"level": 7}]}]}"#;
    let refused = app
        .call_raw(
            Method::POST,
            "/api/v1/releases/1.0.0/evidence?kind=sarif",
            "application/octet-stream",
            sarif.to_vec(),
        )
        .await;
    assert_eq!(
        (refused.status.as_u16(), refused.body["code"].as_str()),
        (422, Some("invalid_evidence")),
        "{:?}",
        refused.body
    );
    let detail = refused.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with("sarif: ") && (detail.contains("$.runs[0].results[0]") || detail.contains("line 1, column")),
        "{detail}"
    );
    let laughs = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><testsuites>&lol2;</testsuites>"#;
    let entity = app
        .call_raw(
            Method::POST,
            "/api/v1/releases/1.0.0/evidence?kind=junit",
            "application/octet-stream",
            laughs.to_vec(),
        )
        .await;
    assert_eq!(entity.status, 422, "{:?}", entity.body);
    assert_eq!(app.app.row_counts().await, before);

    let sbom = include_bytes!("../../../tollgate-evidence/tests/fixtures/tollgate.cdx.json");
    let stored = app
        .call_raw(
            Method::POST,
            "/api/v1/releases/1.0.0/evidence?kind=cyclonedx",
            "application/octet-stream",
            sbom.to_vec(),
        )
        .await;
    assert_eq!(stored.status, 201, "{:?}", stored.body);
    assert!(stored.body["facts"]["components"].as_u64().is_some_and(|n| n > 100), "{:?}", stored.body["facts"]);
    let listed = app.get("/api/v1/releases/1.0.0/evidence").await;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_legal_hold_keeps_what_a_policy_would_remove() {
    let app = spawn_app().await;
    with_catalog(&app).await;
    for version in ["1", "2", "3"] {
        let tags = if version == "1" { "&tags=sox-2026" } else { "" };
        let path = format!("/api/v1/artifacts?name=api&version={version}&team=payments{tags}");
        let pushed = app.call_raw(Method::POST, &path, "application/octet-stream", version.as_bytes().to_vec()).await;
        assert_eq!(pushed.status, 201, "{:?}", pushed.body);
        app.app.clock.advance(jiff::SignedDuration::from_mins(1));
    }
    let policy = app
        .call(Method::PUT, "/api/v1/retention/policies", Some(json!({ "selector": "name:api", "keep_last": 1 })))
        .await;
    assert_eq!(policy.status, 200, "{:?}", policy.body);
    let hold = app.post("/api/v1/retention/holds", json!({ "tag": "sox-2026", "reason": "audit of FY2026" })).await;
    assert_eq!(hold.status, 201, "{:?}", hold.body);
    let plan = app.post("/api/v1/artifacts/gc?dry_run=true", json!({})).await;
    let outcomes: Vec<String> = plan.body["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .map(|d| {
            format!(
                "{} {}: {}",
                d["version"].as_str().unwrap_or_default(),
                d["outcome"].as_str().unwrap_or_default(),
                d["reasons"][0].as_str().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            "3 keep: version 1 of the latest 1",
            "2 remove: version 2 of its name, beyond the latest 1",
            "1 keep: legal hold on tag sox-2026"
        ]
    );
}

/// Pushes `content` with `digest` as an RFC 9530 `Content-Digest` trailer (no digest in the query).
async fn push_with_trailer(app: &SpawnedApp, version: &str, content: &[u8], digest: &str) -> (u16, Value) {
    use http_body_util::channel::Channel;
    let (mut frames, body) = Channel::<axum::body::Bytes, std::io::Error>::new(2);
    let (content, digest) = (content.to_vec(), digest.to_owned());
    tokio::spawn(async move {
        for piece in content.chunks(64 * 1024) {
            frames.send_data(piece.to_vec().into()).await.expect("the request reads its body");
        }
        let mut trailers = reqwest::header::HeaderMap::new();
        trailers.insert("content-digest", digest.parse().expect("a header value"));
        frames.send_trailers(trailers).await.expect("the trailers go out");
    });
    let response = app
        .client
        .post(format!("{}/api/v1/artifacts?name=ledger&version={version}&team=payments", app.base_url))
        .bearer_auth(&app.app.admin_token)
        .header("content-type", "application/octet-stream")
        .header("trailer", "content-digest")
        .body(reqwest::Body::wrap(body))
        .send()
        .await
        .expect("an answer");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_digest_announced_in_a_trailer_is_checked_before_anything_is_recorded() {
    let app = spawn_app().await;
    with_catalog(&app).await;
    let content: Vec<u8> = (0..1_000_000u32).map(|n| (n % 249) as u8).collect();
    let digest = tollgate_core::digest::Sha256Digest::of(&content);
    let (status, body) = push_with_trailer(&app, "2.0.0", &content, &digest.to_content_digest()).await;
    assert_eq!((status, body["digest"].as_str()), (201, Some(digest.to_string().as_str())), "{body}");

    let before = app.app.row_counts().await;
    let other = tollgate_core::digest::Sha256Digest::of(b"something else").to_content_digest();
    let (status, body) = push_with_trailer(&app, "2.0.1", &content, &other).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("digest_mismatch")), "{body}");
    let (status, body) = push_with_trailer(&app, "2.0.2", &content, "sha-256=:not base64:").await;
    assert_eq!((status, body["code"].as_str()), (422, Some("validation_failed")), "{body}");
    assert_eq!(app.app.row_counts().await, before, "a refused push records nothing");
    let leftovers = std::fs::read_dir(app.app.db.dir().join("blobs/tmp")).expect("the temporary directory").count();
    assert_eq!(leftovers, 0, "and leaves no partial upload");
}
