//! The audit log in the database: appends, verification, and the schema's own defences. Every
//! attack here is made with plain SQL, as someone holding the database file or credentials would.

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use tollgate_core::audit::{
    entry_hash, Actor, AuditAction, AuditRecord, ChainProblem, Checkpoint, ObjectKind, ObjectRef, GENESIS,
};
use tollgate_core::digest::Sha256Digest;
use tollgate_core::name::UserName;
use tollgate_store::{AuditVerification, Backend, Store};
use tollgate_testkit::fixtures::at;

use crate::{on_every_backend, raw_pool};

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

fn key() -> SigningKey {
    SigningKey::from_bytes(&[3; 32])
}

/// Verification as an auditor holding `key()` does it, allowing `max_unsigned_tail`.
fn trusting_key(max_unsigned_tail: u64) -> AuditVerification {
    AuditVerification { trusted_keys: vec![key().verifying_key()], max_unsigned_tail, witnesses: Vec::new() }
}

/// Appends `n` entries in one transaction, records `key()` and signs a checkpoint at the end.
async fn sealed_log(store: &Store, n: usize) -> anyhow::Result<Checkpoint> {
    let mut tx = store.begin().await?;
    tx.insert_signing_key(&key().verifying_key(), 0, at("2026-03-01T12:00:00Z")).await?;
    let mut last = None;
    for i in 0..n {
        last = Some(tx.append_audit(&record(i)).await?);
    }
    let last = last.expect("entries were appended");
    let checkpoint = Checkpoint::sign(&key(), last.seq, last.hash, at("2026-03-01T12:00:00Z"));
    tx.insert_checkpoint(&checkpoint).await?;
    tx.commit().await?;
    Ok(checkpoint)
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
        sealed_log(&store, 1).await?;
        let report = store.verify_audit(&trusting_key(0)).await?;
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.entries, 81);
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
        sealed_log(&store, 1).await?;
        assert_eq!(store.read().await?.audit_head().await?.0, 1);
        assert!(store.verify_audit(&trusting_key(0)).await?.is_ok());
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn verification_needs_a_trusted_checkpoint_and_a_short_unsigned_tail() {
    on_every_backend(|store| async move {
        sealed_log(&store, 4).await?;
        let report = store.verify_audit(&AuditVerification::default()).await?;
        assert_eq!((report.entries, report.checkpoints_verified, report.unsigned_tail), (4, 1, 0), "{report}");
        assert!(report.to_string().contains("recorded in the database itself"), "{report}");

        let stranger = SigningKey::from_bytes(&[4; 32]).verifying_key();
        let untrusting = AuditVerification { trusted_keys: vec![stranger], ..AuditVerification::default() };
        let report = store.verify_audit(&untrusting).await?;
        assert_eq!(report.failure.map(|f| f.problem), Some(ChainProblem::NoTrustedCheckpoint { entries: 4 }));

        let mut tx = store.begin().await?;
        for n in 0..3 {
            tx.append_audit(&record(10 + n)).await?;
        }
        tx.commit().await?;
        assert!(store.verify_audit(&trusting_key(3)).await?.is_ok());
        let report = store.verify_audit(&trusting_key(2)).await?;
        assert_eq!(report.failure.map(|f| f.problem), Some(ChainProblem::UnsignedTail { unsigned: 3, max: 2 }));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_audit_tables_refuse_change_through_sql() {
    on_every_backend(|store: Store| async move {
        sealed_log(&store, 2).await?;
        let pool = raw_pool(&store).await?;
        let refused = [
            "UPDATE audit_entries SET body = body",
            "DELETE FROM audit_entries",
            "UPDATE audit_checkpoints SET tree_size = 1",
            "DELETE FROM audit_checkpoints",
            "UPDATE signing_keys SET created_at = 0",
            "DELETE FROM signing_keys",
            "DELETE FROM audit_head",
            "UPDATE audit_head SET seq = seq - 1",
            "UPDATE audit_head SET seq = seq + 1",
        ];
        for sql in refused {
            assert!(sqlx::query(sql).execute(&pool).await.is_err(), "{sql} must be refused");
        }
        let out_of_place = sqlx::query("INSERT INTO audit_entries (seq, hash, body) VALUES ($1, $2, $3)")
            .bind(7i64)
            .bind(vec![0u8; 32])
            .bind(b"{}".to_vec())
            .execute(&pool)
            .await;
        assert!(out_of_place.is_err(), "an entry away from the head must be refused");
        if store.backend() == Backend::Postgres {
            for table in ["audit_entries", "audit_checkpoints", "signing_keys", "signing_key_retirements", "audit_head"]
            {
                let truncate = sqlx::query(&format!("TRUNCATE {table} CASCADE")).execute(&pool).await;
                assert!(truncate.is_err(), "TRUNCATE {table} must be refused");
            }
        }
        pool.close().await;
        assert!(store.verify_audit(&trusting_key(0)).await?.is_ok());
        Ok(())
    })
    .await;
}

/// The whole attack on a database: drop the defences, delete the checkpoints, rewrite an entry,
/// recompute every later hash and the head. Optionally add the attacker's key and a fresh
/// checkpoint signed with it.
async fn rewrite_history(store: &Store, with_forged_key: bool) -> anyhow::Result<()> {
    let pool = raw_pool(store).await?;
    let drops: &[&str] = match store.backend() {
        Backend::Sqlite => &[
            "DROP TRIGGER audit_entries_no_update",
            "DROP TRIGGER audit_entries_no_delete",
            "DROP TRIGGER audit_entries_append_at_head",
            "DROP TRIGGER audit_checkpoints_no_delete",
            "DROP TRIGGER audit_head_forward_only",
        ],
        Backend::Postgres => &[
            "ALTER TABLE audit_entries DISABLE TRIGGER USER",
            "ALTER TABLE audit_checkpoints DISABLE TRIGGER USER",
            "ALTER TABLE audit_head DISABLE TRIGGER USER",
        ],
    };
    for sql in drops {
        sqlx::query(sql).execute(&pool).await?;
    }
    sqlx::query("DELETE FROM audit_checkpoints").execute(&pool).await?;
    let rows: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, body FROM audit_entries ORDER BY seq").fetch_all(&pool).await?;
    let mut previous = GENESIS;
    for (seq, body) in rows {
        let body = if seq == 2 { record(99).canonical_bytes(2) } else { body };
        let hash = entry_hash(&previous, &body);
        sqlx::query("UPDATE audit_entries SET body = $1, hash = $2 WHERE seq = $3")
            .bind(body)
            .bind(hash.to_vec())
            .bind(seq)
            .execute(&pool)
            .await?;
        previous = hash;
    }
    sqlx::query("UPDATE audit_head SET hash = $1").bind(previous.to_vec()).execute(&pool).await?;
    if with_forged_key {
        let attacker = SigningKey::from_bytes(&[66; 32]);
        let (seq,): (i64,) = sqlx::query_as("SELECT seq FROM audit_head").fetch_one(&pool).await?;
        let forged =
            Checkpoint::sign(&attacker, seq as u64, Sha256Digest::from_bytes(previous), at("2026-03-02T00:00:00Z"));
        sqlx::query("INSERT INTO signing_keys (key_id, public_key, created_at) VALUES ($1, $2, 0)")
            .bind(&forged.key_id)
            .bind(attacker.verifying_key().as_bytes().to_vec())
            .execute(&pool)
            .await?;
        sqlx::query(
            "INSERT INTO audit_checkpoints (tree_size, key_id, head, signed_at, signature) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(seq)
        .bind(&forged.key_id)
        .bind(forged.head.as_bytes().to_vec())
        .bind(forged.signed_at.as_microsecond())
        .bind(forged.signature.to_vec())
        .execute(&pool)
        .await?;
    }
    pool.close().await;
    Ok(())
}

#[tokio::test]
async fn a_database_rewritten_with_recomputed_hashes_fails_against_the_auditors_key() {
    on_every_backend(|store: Store| async move {
        sealed_log(&store, 4).await?;
        rewrite_history(&store, false).await?;
        let report = store.verify_audit(&trusting_key(1000)).await?;
        assert_eq!(report.failure.map(|f| f.problem), Some(ChainProblem::NoTrustedCheckpoint { entries: 4 }));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn an_added_key_row_fools_only_a_verifier_that_trusts_the_database() {
    on_every_backend(|store: Store| async move {
        sealed_log(&store, 4).await?;
        rewrite_history(&store, true).await?;
        let against_own_keys =
            store.verify_audit(&AuditVerification { max_unsigned_tail: 0, ..Default::default() }).await?;
        assert!(against_own_keys.is_ok(), "the forged key vouches for the forged log: {against_own_keys}");
        assert!(against_own_keys.to_string().contains("recorded in the database itself"), "{against_own_keys}");
        let report = store.verify_audit(&trusting_key(1000)).await?;
        assert_eq!(report.untrusted_checkpoints, 1, "{report}");
        assert_eq!(report.failure.map(|f| f.problem), Some(ChainProblem::NoTrustedCheckpoint { entries: 4 }));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_witness_catches_truncation_and_reordering() {
    on_every_backend(|store: Store| async move {
        let witness = sealed_log(&store, 4).await?;
        let with_witness = AuditVerification { witnesses: vec![witness], ..trusting_key(1000) };
        assert!(store.verify_audit(&with_witness).await?.is_ok());

        // Swap entries 2 and 3 (triggers dropped), leaving the hashes as stored.
        let pool = raw_pool(&store).await?;
        let drop = match store.backend() {
            Backend::Sqlite => "DROP TRIGGER audit_entries_no_update",
            Backend::Postgres => "ALTER TABLE audit_entries DISABLE TRIGGER USER",
        };
        sqlx::query(drop).execute(&pool).await?;
        swap_entries(&pool).await?;
        let swapped = store.verify_audit(&with_witness).await?;
        assert_eq!(swapped.failure.map(|f| f.seq), Some(2), "a reordered pair is caught at entry 2");

        // Truncated to 2 entries (and the head moved back): below the witness.
        swap_entries(&pool).await?;
        let drops: &[&str] = match store.backend() {
            Backend::Sqlite => &[
                "DROP TRIGGER audit_entries_no_delete",
                "DROP TRIGGER audit_checkpoints_no_delete",
                "DROP TRIGGER audit_head_forward_only",
            ],
            Backend::Postgres => {
                &["ALTER TABLE audit_checkpoints DISABLE TRIGGER USER", "ALTER TABLE audit_head DISABLE TRIGGER USER"]
            }
        };
        for sql in drops {
            sqlx::query(sql).execute(&pool).await?;
        }
        sqlx::query("DELETE FROM audit_entries WHERE seq > 2").execute(&pool).await?;
        sqlx::query("DELETE FROM audit_checkpoints").execute(&pool).await?;
        let (hash,): (Vec<u8>,) =
            sqlx::query_as("SELECT hash FROM audit_entries WHERE seq = 2").fetch_one(&pool).await?;
        sqlx::query("UPDATE audit_head SET seq = 2, hash = $1").bind(hash).execute(&pool).await?;
        pool.close().await;
        let truncated = store.verify_audit(&with_witness).await?;
        assert_eq!(
            truncated.failure.map(|f| f.problem),
            Some(ChainProblem::WitnessBeyondEnd { tree_size: 4, entries: 2 })
        );
        Ok(())
    })
    .await;
}

/// Swaps the rows at positions 2 and 3 (hashes and bodies move with them).
async fn swap_entries(pool: &sqlx::AnyPool) -> anyhow::Result<()> {
    for (from, to) in [(2i64, -2i64), (3, 2), (-2, 3)] {
        sqlx::query("UPDATE audit_entries SET seq = $1 WHERE seq = $2").bind(to).bind(from).execute(pool).await?;
    }
    Ok(())
}

#[tokio::test]
async fn verification_while_writers_append_never_raises_a_false_alarm() {
    on_every_backend(|store: Store| async move {
        sealed_log(&store, 1).await?;
        let store = Arc::new(store);
        let writer = {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for n in 0..200 {
                    let mut tx = store.begin().await?;
                    let entry = tx.append_audit(&record(1000 + n)).await?;
                    if entry.seq % 10 == 0 {
                        let checkpoint = Checkpoint::sign(&key(), entry.seq, entry.hash, at("2026-03-01T12:00:00Z"));
                        tx.insert_checkpoint(&checkpoint).await?;
                    }
                    tx.commit().await?;
                }
                Ok::<_, tollgate_store::StoreError>(())
            })
        };
        let mut n_verifications = 0;
        while !writer.is_finished() {
            let report = store.verify_audit(&trusting_key(10)).await?;
            assert!(report.is_ok(), "verification {n_verifications} raised a false alarm: {report}");
            n_verifications += 1;
        }
        writer.await??;
        assert!(n_verifications > 0);
        Ok(())
    })
    .await;
}
