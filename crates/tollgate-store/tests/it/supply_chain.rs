//! The supply-chain records on every backend: artifacts with tags, signatures and tombstones,
//! trusted keys, evidence, retention policies and legal holds, and token trees.

use anyhow::Context;
use ed25519_dalek::SigningKey;
use tollgate_core::artifact::{ArtifactInput, ArtifactName, ArtifactVersion, Tag};
use tollgate_core::digest::Sha256Digest;
use tollgate_core::evidence::EvidenceKind;
use tollgate_core::name::{ServiceName, UserName};
use tollgate_core::release::ReleaseState;
use tollgate_core::retention::Selector;
use tollgate_core::token::{TokenId, TokenSecret};
use tollgate_core::Entity;
use tollgate_store::tx::NewToken;
use tollgate_store::{NewEvidence, NewTrustedKey, StoreError};
use tollgate_testkit::fixtures::{at, environment, lifecycle, release, service, team, user};

use crate::on_every_backend;

fn new_artifact(name: &str, version: &str, tags: &[&str]) -> tollgate_core::artifact::NewArtifact {
    ArtifactInput {
        name: name.to_owned(),
        version: version.to_owned(),
        team: "payments".to_owned(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        ..ArtifactInput::default()
    }
    .parse()
    .expect("a valid artifact")
}

/// A user, a team, a service, dev → prod, and release 1.0.0 naming `api@1.0.0`.
async fn catalog(store: &tollgate_store::Store) -> anyhow::Result<tollgate_core::release::ReleaseId> {
    let now = at("2026-03-01T12:00:00Z");
    let mut tx = store.begin().await?;
    tx.insert_user(&user("ana", "admin"), now).await?;
    tx.insert_team(&team("payments", &["ana"])).await?;
    tx.insert_service(&service("api", "payments", &[])).await?;
    tx.insert_environment(&environment("dev", "dev")).await?;
    tx.insert_lifecycle(&lifecycle("default", &["dev"])).await?;
    let id = tx.insert_release(&release("1.0.0", &[("api", "1.0.0")]), &UserName::parse("ana")?, now).await?;
    tx.commit().await?;
    Ok(id)
}

#[tokio::test]
async fn artifacts_keep_tags_and_signatures_and_leave_a_tombstone_when_removed() {
    on_every_backend(|store| async move {
        catalog(&store).await?;
        let now = at("2026-03-01T12:00:00Z");
        let ana = UserName::parse("ana")?;
        let digest = Sha256Digest::of(b"api@1.0.0");
        let mut tx = store.begin().await?;
        let id = tx.insert_artifact(&new_artifact("api", "1.0.0", &["sox", "release"]), &digest, 9, &ana, now).await?;
        tx.insert_signature(id, "0123456789abcdef", "{}", &ana, now).await?;
        let duplicate = tx.insert_artifact(&new_artifact("api", "1.0.0", &[]), &digest, 9, &ana, now).await;
        assert!(matches!(duplicate, Err(StoreError::Conflict { entity: Entity::Artifact, .. })), "{duplicate:?}");
        drop(tx);

        let mut tx = store.begin().await?;
        let id = tx.insert_artifact(&new_artifact("api", "1.0.0", &["sox", "release"]), &digest, 9, &ana, now).await?;
        tx.insert_signature(id, "0123456789abcdef", "{}", &ana, now).await?;
        tx.commit().await?;

        let mut read = store.read().await?;
        let (name, version) = (ArtifactName::parse("api")?, ArtifactVersion::parse("1.0.0")?);
        let stored = read.find_artifact(&name, &version).await?.context("stored")?;
        let tags: Vec<&str> = stored.tags.iter().map(Tag::as_str).collect();
        assert_eq!((stored.digest, tags), (digest, vec!["release", "sox"]));
        assert_eq!(read.list_signatures(id).await?.len(), 1);
        assert!(read.is_digest_referenced(&digest).await?);
        assert!(read.find_tombstone(&name, &version).await?.is_none());
        let open = read.releases_referencing_artifacts(&[ReleaseState::Closed, ReleaseState::Cancelled]).await?;
        assert_eq!(open[&("api".to_owned(), "1.0.0".to_owned())], vec!["1.0.0".to_owned()]);
        drop(read);

        let mut tx = store.begin().await?;
        tx.delete_artifact(&stored, now).await?;
        tx.commit().await?;
        let mut read = store.read().await?;
        assert!(read.find_artifact(&name, &version).await?.is_none());
        assert_eq!(read.find_tombstone(&name, &version).await?, Some(digest));
        assert!(!read.is_digest_referenced(&digest).await?);
        let counts = read.row_counts().await?;
        assert_eq!((counts["artifact_tags"], counts["artifact_signatures"]), (0, 0));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn trusted_keys_are_revoked_once_and_never_deleted() {
    on_every_backend(|store| async move {
        catalog(&store).await?;
        let now = at("2026-03-01T12:00:00Z");
        let ana = UserName::parse("ana")?;
        let key = SigningKey::from_bytes(&[8; 32]).verifying_key();
        let payments = tollgate_core::name::TeamName::parse("payments")?;
        let new = NewTrustedKey {
            name: "ci",
            team: Some(&payments),
            builder: Some("https://ci.example"),
            public_key: &key,
            created_by: &ana,
            created_at: now,
        };
        let mut tx = store.begin().await?;
        let id = tx.insert_trusted_key(&new).await?;
        let again = tx.insert_trusted_key(&new).await;
        assert!(matches!(again, Err(StoreError::Conflict { entity: Entity::TrustedKey, .. })), "{again:?}");
        drop(tx);
        let mut tx = store.begin().await?;
        let id = tx.insert_trusted_key(&new).await.unwrap_or(id);
        tx.revoke_trusted_key(id, now).await?;
        let twice = tx.revoke_trusted_key(id, now).await;
        assert!(matches!(twice, Err(StoreError::NotFound { entity: Entity::TrustedKey, .. })), "{twice:?}");
        tx.commit().await?;
        let keys = store.read().await?.list_trusted_keys().await?;
        assert_eq!(keys.len(), 1);
        assert_eq!((keys[0].public_key, keys[0].revoked_at, keys[0].team.clone()), (key, Some(now), Some(payments)));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn evidence_keeps_its_kind_digest_and_facts() {
    on_every_backend(|store| async move {
        let release = catalog(&store).await?;
        let ana = UserName::parse("ana")?;
        let api = ServiceName::parse("api")?;
        let digest = Sha256Digest::of(b"<testsuites/>");
        let facts = serde_json::json!({ "format_version": 1, "kind": "tests", "total": 3 });
        let mut tx = store.begin().await?;
        let new = NewEvidence {
            release,
            service: Some(&api),
            kind: EvidenceKind::Junit,
            digest: &digest,
            size: 13,
            facts: &facts,
            created_by: &ana,
            created_at: at("2026-03-01T12:00:00Z"),
        };
        let id = tx.insert_evidence(&new).await?;
        tx.commit().await?;
        let mut read = store.read().await?;
        let records = read.list_evidence(release).await?;
        assert_eq!(records.len(), 1);
        assert_eq!(
            (records[0].id, records[0].kind, records[0].digest, records[0].service.clone(), &records[0].facts),
            (id, EvidenceKind::Junit, digest, Some(api), &facts)
        );
        assert!(read.is_digest_referenced(&digest).await?);
        assert!(read.referenced_digests().await?.contains(&digest.to_string()));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn retention_policies_are_replaced_per_selector_and_holds_are_removed_once() {
    on_every_backend(|store| async move {
        catalog(&store).await?;
        let now = at("2026-03-01T12:00:00Z");
        let ana = UserName::parse("ana")?;
        let selector = Selector::Name(ArtifactName::parse("api")?);
        let mut tx = store.begin().await?;
        let first = tx.upsert_retention_policy(&selector, Some(5), None, &ana, now).await?;
        let second = tx.upsert_retention_policy(&selector, Some(2), Some(30), &ana, now).await?;
        let sox = Tag::parse("sox")?;
        tx.insert_legal_hold(&sox, "audit 2026", &ana, now).await?;
        tx.commit().await?;
        assert_eq!(first, second, "one policy per selector");
        let mut read = store.read().await?;
        let policies = read.list_retention_policies().await?;
        assert_eq!(policies.len(), 1);
        assert_eq!((policies[0].keep_last, policies[0].keep_deployed_days), (Some(2), Some(30)));
        let holds = read.list_legal_holds().await?;
        assert_eq!((holds[0].tag.as_str(), holds[0].reason.as_str()), ("sox", "audit 2026"));
        drop(read);
        let mut tx = store.begin().await?;
        tx.delete_legal_hold(&sox).await?;
        let twice = tx.delete_legal_hold(&sox).await;
        assert!(matches!(twice, Err(StoreError::NotFound { entity: Entity::LegalHold, .. })), "{twice:?}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_token_tree_holds_every_descendant() {
    on_every_backend(|store| async move {
        let now = at("2026-03-01T12:00:00Z");
        let ana = UserName::parse("ana")?;
        let mut tx = store.begin().await?;
        tx.insert_user(&user("ana", "admin"), now).await?;
        let mut ids: Vec<TokenId> = Vec::new();
        for (n, parent_index) in [(1u8, None), (2, Some(0)), (3, Some(1)), (4, None)] {
            let secret = TokenSecret::from_random_bytes([n; 32]);
            let parent = parent_index.map(|index: usize| ids[index]);
            let id = tx
                .insert_token(&NewToken {
                    user: &ana,
                    description: "t",
                    prefix: &secret.display_prefix(),
                    secret_digest: secret.digest(),
                    created_at: now,
                    expires_at: None,
                    parent,
                })
                .await?;
            ids.push(id);
        }
        tx.commit().await?;
        let mut read = store.read().await?;
        assert_eq!(read.token_tree(ids[0]).await?, vec![ids[0], ids[1], ids[2]]);
        assert_eq!(read.token_tree(ids[3]).await?, vec![ids[3]]);
        assert_eq!(read.find_token(ids[2]).await?.context("token")?.parent, Some(ids[1]));
        Ok(())
    })
    .await;
}
