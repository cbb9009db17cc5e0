use std::sync::Arc;

use ed25519_dalek::SigningKey;
use tollgate_core::audit::{Actor, AuditAction, AuditRecord, Checkpoint, ObjectKind, ObjectRef};
use tollgate_core::name::UserName;
use tollgate_store::Store;
use tollgate_testkit::fixtures::at;

use crate::on_every_backend;

fn record(n: usize) -> AuditRecord {
    AuditRecord {
        at: at("2026-03-01T12:00:00Z"),
        actor: Actor::User(UserName::parse("ana").expect("name")),
        action: AuditAction::Create,
        object: ObjectRef::new(ObjectKind::Team, format!("team-{n}")),
        before: None,
        after: Some(serde_json::json!({ "n": n })),
        reason: None,
        request_id: None,
    }
}

#[tokio::test]
async fn concurrent_appends_form_one_gapless_chain() {
    on_every_backend(|store| async move {
        let store = Arc::new(store);
        let mut tasks = Vec::new();
        for writer in 0..8 {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                for n in 0..10 {
                    let mut tx = store.begin().await?;
                    tx.append_audit(&record(writer * 100 + n)).await?;
                    tx.commit().await?;
                }
                Ok::<_, tollgate_store::StoreError>(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        let (seq, _) = store.read().await?.audit_head().await?;
        assert_eq!(seq, 80);
        let report = store.verify_audit(&[]).await?;
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.entries, 80);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_rolled_back_transaction_leaves_no_entry() {
    on_every_backend(|store| async move {
        let mut tx = store.begin().await?;
        tx.append_audit(&record(1)).await?;
        drop(tx);
        let mut tx = store.begin().await?;
        let entry = tx.append_audit(&record(2)).await?;
        tx.commit().await?;
        assert_eq!(entry.seq, 1);
        assert!(store.verify_audit(&[]).await?.is_ok());
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn checkpoints_are_verified_with_recorded_or_given_keys() {
    on_every_backend(|store| async move {
        let key = SigningKey::from_bytes(&[3; 32]);
        let mut tx = store.begin().await?;
        tx.insert_signing_key(&key.verifying_key(), at("2026-03-01T12:00:00Z")).await?;
        let mut last = None;
        for n in 0..4 {
            last = Some(tx.append_audit(&record(n)).await?);
        }
        let last = last.expect("entries were appended");
        tx.insert_checkpoint(&Checkpoint::sign(&key, last.seq, last.hash, at("2026-03-01T12:00:00Z"))).await?;
        tx.commit().await?;

        let report = store.verify_audit(&[]).await?;
        assert_eq!((report.entries, report.checkpoints_verified, report.unsigned_tail), (4, 1, 0), "{report}");

        let stranger = SigningKey::from_bytes(&[4; 32]).verifying_key();
        let report = store.verify_audit(&[stranger]).await?;
        assert!(!report.is_ok(), "a checkpoint by an untrusted key must fail: {report}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn audit_entries_cannot_be_updated_or_deleted_through_sql() {
    on_every_backend(|store: Store| async move {
        let mut tx = store.begin().await?;
        tx.append_audit(&record(1)).await?;
        tx.commit().await?;
        let pool_config = store.config().clone();
        let url = match &pool_config {
            tollgate_store::DatabaseConfig::Sqlite { path } => {
                format!("sqlite://{}", path.display())
            }
            tollgate_store::DatabaseConfig::Postgres { url } => url.clone(),
        };
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await?;
        let update = sqlx::query("UPDATE audit_entries SET body = $1").bind(b"{}".to_vec()).execute(&pool).await;
        assert!(update.is_err(), "an update must be refused");
        let delete = sqlx::query("DELETE FROM audit_entries").execute(&pool).await;
        assert!(delete.is_err(), "a delete must be refused");
        pool.close().await;
        assert!(store.verify_audit(&[]).await?.is_ok());
        Ok(())
    })
    .await;
}
