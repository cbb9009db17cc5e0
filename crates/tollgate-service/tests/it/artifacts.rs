//! The supply chain: immutable artifacts, naming conventions, signatures, readiness, the check
//! before deploy, evidence and retention.

use tollgate_core::artifact::{ArtifactInput, TrustedKeyId};
use tollgate_core::deployment::DeploymentInput;
use tollgate_core::release::ReleaseAction;
use tollgate_core::team::TeamInput;
use tollgate_service::catalog::Upsert;
use tollgate_service::release::ReleaseRef;
use tollgate_service::ServiceError;
use tollgate_testkit::fixtures::release_input;
use tollgate_testkit::TestApp;

use crate::release::catalog;

async fn push(
    app: &TestApp,
    name: &str,
    version: &str,
    content: &[u8],
) -> Result<tollgate_service::artifact::Pushed, ServiceError> {
    let input = ArtifactInput {
        name: name.to_owned(),
        version: version.to_owned(),
        team: "payments".to_owned(),
        ..ArtifactInput::default()
    };
    let mut reader = content;
    app.tollgate
        .push_artifact(&app.admin, input, tollgate_service::artifact::AnnouncedDigest::Before(None), &mut reader)
        .await
}

async fn last_action(app: &TestApp) -> serde_json::Value {
    let entries = app.tollgate.list_audit(&app.admin, 0, 1000).await.expect("audit");
    serde_json::from_slice(&entries.last().expect("an entry").body).expect("json")
}

#[tokio::test]
async fn a_name_and_version_are_immutable_and_a_refused_push_is_audited() {
    let app = TestApp::sqlite().await;
    catalog(&app).await;
    let first = push(&app, "ledger", "1.0.0", b"build one").await.expect("pushed");
    assert!(first.created);
    let again = push(&app, "ledger", "1.0.0", b"build one").await.expect("a no-op");
    assert_eq!((again.created, again.artifact.id), (false, first.artifact.id));
    let before = app.row_counts().await;
    let other = push(&app, "ledger", "1.0.0", b"build two").await;
    assert!(matches!(other, Err(ServiceError::Immutable(_))), "{other:?}");
    let after = app.row_counts().await;
    assert_eq!(after["artifacts"], before["artifacts"], "nothing changed but the audit log");
    assert_eq!(after["audit_entries"], before["audit_entries"] + 1);
    let entry = last_action(&app).await;
    assert_eq!(
        (entry["action"].as_str(), entry["object"]["id"].as_str()),
        (Some("artifact.refuse"), Some("ledger@1.0.0"))
    );
    assert!(entry["reason"].as_str().is_some_and(|r| r.contains("is immutable")), "{entry}");
}

#[tokio::test]
async fn identical_content_is_stored_once() {
    let app = TestApp::sqlite().await;
    catalog(&app).await;
    push(&app, "ledger", "1.0.0", b"same bytes").await.expect("pushed");
    push(&app, "ledger-copy", "1.0.0", b"same bytes").await.expect("pushed");
    assert_eq!(app.blobs.list().await.expect("blobs").len(), 1);
}

#[tokio::test]
async fn a_team_naming_pattern_is_enforced() {
    let app = TestApp::sqlite().await;
    catalog(&app).await;
    let strict = TeamInput {
        name: "payments".to_owned(),
        artifact_pattern: Some("payments/[a-z-]+".to_owned()),
        ..TeamInput::default()
    };
    app.tollgate.put_team(&app.admin, strict, Upsert::Replace).await.expect("the pattern is set");
    let refused = push(&app, "ledger", "1.0.0", b"x").await;
    match refused {
        Err(ServiceError::Invalid(violations)) => assert_eq!(
            violations.to_string(),
            "name: \"ledger\" does not match the team's naming pattern \"payments/[a-z-]+\""
        ),
        other => panic!("expected a naming violation, got {other:?}"),
    }
    push(&app, "payments/ledger", "1.0.0", b"x").await.expect("a conforming name is accepted");
}

#[tokio::test]
async fn a_release_is_ready_only_with_stored_verified_and_signed_artifacts() {
    let app = TestApp::sqlite().await;
    catalog(&app).await;
    // api is pushed but not signed; ledger is not pushed at all.
    push(&app, "api", "1.0.0", b"api@1.0.0").await.expect("pushed");
    let release = app
        .tollgate
        .create_release(&app.admin, release_input("1.0.0", &[("api", "1.0.0"), ("ledger", "1.0.0")]))
        .await
        .expect("created");
    let reference = ReleaseRef::Id(release.id);
    for action in [ReleaseAction::Plan, ReleaseAction::FreezeScope] {
        app.tollgate.transition_release(&app.shipper().await, &reference, action, None).await.expect("transition");
    }
    let refused =
        app.tollgate.transition_release(&app.shipper().await, &reference, ReleaseAction::MarkReady, None).await;
    assert_eq!(
        refused.map(|_| ()).map_err(|e| e.to_string()),
        Err("artifact api@1.0.0 of service api has no valid signature from a trusted key: it has no signature; \
             artifact ledger@1.0.0 of service ledger is not in the artifact store"
            .to_owned())
    );
    app.stock("payments", &[("ledger", "1.0.0")]).await;
    let api = app.tollgate.find_artifact(&app.admin, "api", "1.0.0").await.expect("api");
    app.sign_artifact(&api).await;
    app.tollgate
        .transition_release(&app.shipper().await, &reference, ReleaseAction::MarkReady, None)
        .await
        .expect("ready now");
}

#[tokio::test]
async fn a_signature_by_an_untrusted_or_revoked_key_is_refused_with_a_reason() {
    let app = TestApp::sqlite().await;
    catalog(&app).await;
    let artifact = push(&app, "api", "1.0.0", b"api@1.0.0").await.expect("pushed").artifact;
    let untrusted =
        app.tollgate.attach_signature(&app.admin, artifact.id, &tollgate_testkit::provenance_envelope(&artifact)).await;
    assert!(
        untrusted.as_ref().is_err_and(|e| e.to_string().starts_with("signature by untrusted key")),
        "{untrusted:?}"
    );

    app.sign_artifact(&artifact).await;
    let keys = app.tollgate.list_keys(&app.admin).await.expect("keys");
    let revoked: TrustedKeyId = keys[0].id;
    app.clock.advance(jiff::SignedDuration::from_secs(1));
    app.tollgate.revoke_key(&app.admin, revoked).await.expect("revoked");
    let check = app.tollgate.check_artifact(&app.admin, artifact.id).await.expect("checked");
    let reason = check.signatures[0].1.as_ref().expect_err("the revoked key no longer counts");
    assert!(reason.contains("which was revoked at"), "{reason}");
}

#[tokio::test]
async fn a_blob_edited_on_disk_is_caught_before_deploy() {
    let app = TestApp::sqlite().await;
    catalog(&app).await;
    app.stock("payments", &[("api", "1.0.0")]).await;
    let release =
        app.tollgate.create_release(&app.admin, release_input("1.0.0", &[("api", "1.0.0")])).await.expect("created");
    let reference = ReleaseRef::Id(release.id);
    for action in [ReleaseAction::Plan, ReleaseAction::FreezeScope, ReleaseAction::MarkReady] {
        app.tollgate.transition_release(&app.shipper().await, &reference, action, None).await.expect("transition");
    }
    let artifact = app.tollgate.find_artifact(&app.admin, "api", "1.0.0").await.expect("api");
    std::fs::write(app.blobs.path(&artifact.digest), b"api@1.0.0 with a backdoor").expect("tampered");
    let shipper = app.shipper().await;
    let before = app.row_counts().await;
    let succeeded = DeploymentInput { status: Some("succeeded".to_owned()), ..DeploymentInput::default() };
    let refused = app.tollgate.record_deployment(&shipper, &reference, "dev", succeeded).await;
    let message = refused.map(|_| ()).map_err(|e| e.to_string()).expect_err("refused");
    assert!(
        message
            .starts_with("artifact api@1.0.0 of service api does not verify on disk: the content's digest is sha256:"),
        "{message}"
    );
    assert_eq!(app.row_counts().await, before, "nothing recorded");
}

#[tokio::test]
async fn evidence_is_parsed_and_a_broken_file_stores_nothing() {
    let app = TestApp::sqlite().await;
    catalog(&app).await;
    let release =
        app.tollgate.create_release(&app.admin, release_input("1.0.0", &[("api", "1.0.0")])).await.expect("created");
    let reference = ReleaseRef::Id(release.id);
    let junit = include_bytes!("../../../tollgate-evidence/tests/fixtures/nextest-tollgate-core.junit.xml");
    let record = app
        .tollgate
        .upload_evidence(&app.admin, &reference, Some("api"), "junit", &mut &junit[..])
        .await
        .expect("stored");
    assert_eq!((record.facts["failed"].as_u64(), record.kind.as_str()), (Some(0), "junit"));
    assert!(record.facts["total"].as_u64().is_some_and(|total| total > 0));

    let before = app.row_counts().await;
    let blobs_before = app.blobs.list().await.expect("blobs").len();
    let truncated = &junit[..junit.len() / 2];
    let refused = app.tollgate.upload_evidence(&app.admin, &reference, None, "junit", &mut &truncated[..]).await;
    assert!(matches!(refused, Err(ServiceError::Evidence(_))), "{refused:?}");
    let unknown_kind = app.tollgate.upload_evidence(&app.admin, &reference, None, "pdf", &mut &junit[..]).await;
    assert!(matches!(unknown_kind, Err(ServiceError::Invalid(_))), "{unknown_kind:?}");
    let foreign_service =
        app.tollgate.upload_evidence(&app.admin, &reference, Some("ledger"), "junit", &mut &junit[..]).await;
    assert_eq!(
        foreign_service.map(|_| ()).map_err(|e| e.to_string()),
        Err("invalid input: service: release 1.0.0 has no artifact for service ledger".to_owned())
    );
    assert_eq!(app.row_counts().await, before);
    assert_eq!(app.blobs.list().await.expect("blobs").len(), blobs_before);
}

#[tokio::test]
async fn garbage_collection_says_why_and_never_removes_what_a_release_uses() {
    let app = TestApp::sqlite().await;
    catalog(&app).await;
    for version in ["1.0.0", "1.0.1", "1.0.2", "1.0.3"] {
        push(&app, "api", version, format!("api@{version}").as_bytes()).await.expect("pushed");
        app.clock.advance(jiff::SignedDuration::from_mins(1));
    }
    // 1.0.0 is in an open release: kept whatever the policy says.
    app.tollgate.create_release(&app.admin, release_input("9.0.0", &[("api", "1.0.0")])).await.expect("created");
    app.tollgate.set_retention_policy(&app.admin, "name:api", Some(2), None).await.expect("policy");
    let before = app.row_counts().await;
    let plan = app.tollgate.collect_garbage(&app.admin, true).await.expect("dry run");
    let outcomes: Vec<String> = plan
        .decisions
        .iter()
        .map(|(artifact, decision)| format!("{} {}", artifact.version, if decision.keep { "keep" } else { "remove" }))
        .collect();
    assert_eq!(outcomes, ["1.0.3 keep", "1.0.2 keep", "1.0.1 remove", "1.0.0 keep"]);
    assert_eq!(app.row_counts().await, before, "a dry run changes nothing");

    let done = app.tollgate.collect_garbage(&app.admin, false).await.expect("collected");
    assert_eq!(done.removed_blobs, 1);
    let remaining: Vec<String> = app
        .tollgate
        .list_artifacts(&app.admin, Some("api"))
        .await
        .expect("list")
        .iter()
        .map(|a| a.version.to_string())
        .collect();
    assert_eq!(remaining, ["1.0.3", "1.0.2", "1.0.0"]);
    assert_eq!(last_action(&app).await["action"], "artifact.remove");
    let again = app.tollgate.collect_garbage(&app.admin, false).await.expect("collected again");
    assert_eq!(again.removed_blobs, 0, "running it again is safe and removes nothing more");
    assert!(app.tollgate.verify_audit(&app.admin).await.expect("verify").is_ok());
}

/// A DSSE envelope about `artifact` with a SLSA provenance naming `builder`, signed by `key`.
fn envelope_by(artifact: &tollgate_core::artifact::Artifact, key: &ed25519_dalek::SigningKey, builder: &str) -> String {
    use tollgate_core::attestation::{sign, Provenance, Statement, Subject};
    let subject = Subject { name: artifact.name.to_string(), digest: artifact.digest };
    let provenance = Provenance {
        build_type: "https://tollgate.dev/test-build/v1".to_owned(),
        builder_id: builder.to_owned(),
        repository: None,
        commit: None,
        invocation_id: None,
        started_on: None,
        finished_on: None,
    };
    sign(&Statement::provenance(subject, &provenance), key).to_json()
}

#[tokio::test]
async fn a_team_key_counts_only_for_the_services_its_team_owns() {
    let app = TestApp::sqlite().await;
    catalog(&app).await;
    let web = TeamInput { name: "web".to_owned(), members: vec!["admin".to_owned()], ..TeamInput::default() };
    app.tollgate.put_team(&app.admin, web, Upsert::Create).await.expect("the web team");
    let web_key = ed25519_dalek::SigningKey::from_bytes(&[61; 32]);
    let pem = tollgate_core::attestation::public_key_pem(&web_key.verifying_key());
    app.tollgate.register_key(&app.admin, "web-ci", Some("web"), None, &pem).await.expect("registered for web");

    // An artifact named like payments' service api, pushed under the web team and signed by
    // web's key: the signature is good for the artifact's own team...
    let input = ArtifactInput {
        name: "api".to_owned(),
        version: "2.0.0".to_owned(),
        team: "web".to_owned(),
        ..ArtifactInput::default()
    };
    let mut content: &[u8] = b"api@2.0.0";
    let artifact = app
        .tollgate
        .push_artifact(&app.admin, input, tollgate_service::artifact::AnnouncedDigest::Before(None), &mut content)
        .await
        .expect("pushed")
        .artifact;
    app.tollgate
        .attach_signature(&app.admin, artifact.id, &envelope_by(&artifact, &web_key, "https://ci.example/web"))
        .await
        .expect("web's key signs web's artifact");
    // ...but shipped as api, which payments owns, it does not count.
    let release =
        app.tollgate.create_release(&app.admin, release_input("2.0.0", &[("api", "2.0.0")])).await.expect("created");
    let reference = ReleaseRef::Id(release.id);
    let shipper = app.shipper().await;
    for action in [ReleaseAction::Plan, ReleaseAction::FreezeScope] {
        app.tollgate.transition_release(&shipper, &reference, action, None).await.expect("transition");
    }
    let ready = app.tollgate.transition_release(&shipper, &reference, ReleaseAction::MarkReady, None).await;
    let message = ready.map(drop).map_err(|error| error.to_string()).expect_err("not ready");
    assert!(
        message.contains("artifact api@2.0.0 of service api has no valid signature from a trusted key"),
        "{message}"
    );
}

#[tokio::test]
async fn a_key_trusted_for_a_builder_counts_only_for_what_that_builder_built() {
    let app = TestApp::sqlite().await;
    catalog(&app).await;
    let key = ed25519_dalek::SigningKey::from_bytes(&[62; 32]);
    let pem = tollgate_core::attestation::public_key_pem(&key.verifying_key());
    let builder = "https://ci.example/release-builder";
    app.tollgate.register_key(&app.admin, "release-ci", None, Some(builder), &pem).await.expect("registered");
    let artifact = push(&app, "api", "1.0.0", b"api@1.0.0").await.expect("pushed").artifact;
    let before = app.row_counts().await;
    // Signed by the right key, but the signed provenance names another builder.
    let other = envelope_by(&artifact, &key, "https://ci.example/someone-else");
    let refused = app.tollgate.attach_signature(&app.admin, artifact.id, &other).await;
    let message = refused.map(drop).map_err(|error| error.to_string()).expect_err("refused");
    assert!(message.contains(builder) && message.contains("someone-else"), "{message}");
    let mut after = app.row_counts().await;
    // The refusal is audited; nothing else is written.
    for table in ["audit_entries", "audit_index"] {
        after.insert(table, before[table]);
    }
    assert_eq!(after, before);
    app.tollgate
        .attach_signature(&app.admin, artifact.id, &envelope_by(&artifact, &key, builder))
        .await
        .expect("what that builder built is accepted");
}
