//! The audit index: written with every entry, agreeing with the entries, backfilled by its
//! migration, append-only, searched page by page, and no part of verification. Also the stored
//! results of scheduled verifications and the job claim that keeps them to one replica.

use ed25519_dalek::SigningKey;
use tollgate_core::audit::body::EntryBody;
use tollgate_core::audit::search::{AuditFilter, AuditFilterInput, AuditPage, ObjectFilter};
use tollgate_core::audit::{Actor, AuditAction, AuditRecord, Checkpoint, ObjectKind, ObjectRef, VerificationResult};
use tollgate_core::name::UserName;
use tollgate_core::Timestamp;
use tollgate_store::{AuditVerification, Backend, Job, Store, KEPT_VERIFICATIONS};
use tollgate_testkit::fixtures::at;

use crate::{on_every_backend, raw_pool};

/// An index row: seq, at (microseconds), actor, action, object kind, object id.
type IndexRow = (i64, i64, String, String, String, String);

const ACTORS: [&str; 3] = ["ana", "bo", "@system"];
const OBJECTS: [(ObjectKind, AuditAction); 4] = [
    (ObjectKind::Team, AuditAction::Create),
    (ObjectKind::Release, AuditAction::Transition),
    (ObjectKind::Release, AuditAction::Update),
    (ObjectKind::Deployment, AuditAction::Record),
];

/// The `n`th record of a varied log: three actors, four actions over three kinds of object, two
/// objects of each kind, a second and a few microseconds apart; every seventh written by a
/// clock three seconds behind.
fn record(n: u64) -> AuditRecord {
    let actor = match ACTORS[n as usize % ACTORS.len()] {
        "@system" => Actor::System,
        name => Actor::User(UserName::parse(name).expect("a name")),
    };
    let (kind, action) = OBJECTS[n as usize % OBJECTS.len()];
    let behind = if n % 7 == 0 { 3_000_000 } else { 0 };
    let at = Timestamp::from_microsecond(at("2026-03-01T12:00:00Z").as_microsecond() + n as i64 * 1_000_007 - behind)
        .expect("a time in range");
    AuditRecord {
        at,
        actor,
        action,
        object: ObjectRef::new(kind, format!("{kind}-{}", n % 2)),
        before: None,
        after: Some(serde_json::json!({ "n": n })),
        reason: None,
        request_id: None,
    }
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[5; 32])
}

/// Appends records 1 to `n` (entry `i` is `record(i)`), records `key()` and signs the head.
async fn log(store: &Store, n: u64) -> anyhow::Result<()> {
    let mut tx = store.begin().await?;
    tx.insert_signing_key(&key().verifying_key(), 0, at("2026-03-01T12:00:00Z")).await?;
    let mut last = None;
    for i in 1..=n {
        last = Some(tx.append_audit(&record(i)).await?);
    }
    let last = last.expect("entries were appended");
    tx.insert_checkpoint(&Checkpoint::sign(&key(), last.seq, last.hash, at("2026-03-01T13:00:00Z"))).await?;
    tx.commit().await?;
    Ok(())
}

fn trusting_key() -> AuditVerification {
    AuditVerification { trusted_keys: vec![key().verifying_key()], max_unsigned_tail: 0, witnesses: Vec::new() }
}

async fn index_rows(pool: &sqlx::AnyPool) -> anyhow::Result<Vec<IndexRow>> {
    Ok(sqlx::query_as("SELECT seq, at, actor, action, object_kind, object_id FROM audit_index ORDER BY seq")
        .fetch_all(pool)
        .await?)
}

/// What each stored entry's body says, as index rows: the time raised to the latest before it.
async fn rows_from_entries(pool: &sqlx::AnyPool) -> anyhow::Result<Vec<IndexRow>> {
    let entries: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, body FROM audit_entries ORDER BY seq").fetch_all(pool).await?;
    let mut latest = i64::MIN;
    entries
        .into_iter()
        .map(|(seq, body)| {
            let body: EntryBody = serde_json::from_slice(&body)?;
            latest = latest.max(body.at.as_microsecond());
            Ok((seq, latest, body.actor, body.action, body.object.kind, body.object.id))
        })
        .collect()
}

/// The time the index gives `record(seq)` in a log of `record(1..)`: the latest time up to it.
fn log_time(seq: u64) -> Timestamp {
    (1..=seq).map(|n| record(n).at).max().expect("seq is at least 1")
}

#[tokio::test]
async fn every_entry_has_an_index_row_that_agrees_with_its_body() {
    on_every_backend(|store| async move {
        log(&store, 12).await?;
        let pool = raw_pool(&store).await?;
        let rows = index_rows(&pool).await?;
        assert_eq!(rows, rows_from_entries(&pool).await?);
        assert_eq!(rows.len(), 12);
        // Entry 7's clock was behind: the index dates it as entry 6.
        assert_eq!((rows[6].1, rows[5].1), (rows[5].1, at("2026-03-01T12:00:06.000042Z").as_microsecond()));
        assert_eq!(
            rows[2],
            (
                3,
                at("2026-03-01T12:00:03.000021Z").as_microsecond(),
                "ana".into(),
                "deployment.record".into(),
                "deployment".into(),
                "deployment-1".into()
            )
        );
        pool.close().await;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_rolled_back_append_leaves_no_index_row() {
    on_every_backend(|store| async move {
        let mut tx = store.begin().await?;
        tx.append_audit(&record(1)).await?;
        drop(tx);
        let pool = raw_pool(&store).await?;
        assert_eq!(index_rows(&pool).await?, []);
        pool.close().await;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_migration_indexes_the_entries_stored_before_it() {
    on_every_backend(|store: Store| async move {
        log(&store, 9).await?;
        let pool = raw_pool(&store).await?;
        let written = index_rows(&pool).await?;
        // The database as it was before the index existed: the migration not applied, no index.
        for sql in [
            "DROP TABLE audit_index",
            "DROP TABLE audit_verifications",
            "DELETE FROM _sqlx_migrations WHERE version = 7",
        ] {
            sqlx::query(sql).execute(&pool).await?;
        }
        pool.close().await;
        let config = store.config().clone();
        store.close().await;
        let reopened = Store::open(&config).await?;
        let pool = raw_pool(&reopened).await?;
        assert_eq!(index_rows(&pool).await?, written, "the backfill reads each body as the append wrote it");
        pool.close().await;
        reopened.close().await;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_index_refuses_change_through_sql() {
    on_every_backend(|store: Store| async move {
        log(&store, 3).await?;
        let pool = raw_pool(&store).await?;
        for sql in ["UPDATE audit_index SET actor = 'mallory'", "DELETE FROM audit_index WHERE seq = 2"] {
            assert!(sqlx::query(sql).execute(&pool).await.is_err(), "{sql} must be refused");
        }
        if store.backend() == Backend::Postgres {
            assert!(sqlx::query("TRUNCATE audit_index").execute(&pool).await.is_err(), "TRUNCATE must be refused");
        }
        assert_eq!(index_rows(&pool).await?, rows_from_entries(&pool).await?);
        pool.close().await;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_tampered_or_missing_index_row_does_not_change_verification() {
    on_every_backend(|store: Store| async move {
        log(&store, 6).await?;
        let before = store.verify_audit(&trusting_key()).await?;
        assert!(before.is_ok(), "{before}");
        let pool = raw_pool(&store).await?;
        let drops: &[&str] = match store.backend() {
            Backend::Sqlite => &["DROP TRIGGER audit_index_no_update", "DROP TRIGGER audit_index_no_delete"],
            Backend::Postgres => &["ALTER TABLE audit_index DISABLE TRIGGER USER"],
        };
        for sql in drops {
            sqlx::query(sql).execute(&pool).await?;
        }
        sqlx::query("UPDATE audit_index SET actor = 'mallory', action = 'team.remove' WHERE seq = 2")
            .execute(&pool)
            .await?;
        sqlx::query("DELETE FROM audit_index WHERE seq = 4").execute(&pool).await?;
        assert_ne!(index_rows(&pool).await?, rows_from_entries(&pool).await?, "the index was tampered with");
        pool.close().await;
        let after = store.verify_audit(&trusting_key()).await?;
        assert_eq!(after, before, "verification reads the entries alone");

        // What a search shows is the stored entry, whatever the index row says; a missing row
        // hides its entry from searches only.
        let mallory = AuditFilterInput { actor: Some("mallory".into()), ..AuditFilterInput::default() };
        let found = store.read().await?.search_audit(&AuditFilter::parse(&mallory)?, AuditPage::newest(10)?).await?;
        let shown: Vec<EntryBody> =
            found.entries.iter().map(|entry| serde_json::from_slice(&entry.body)).collect::<Result<_, _>>()?;
        assert_eq!(shown.iter().map(|body| (body.seq, body.actor.as_str())).collect::<Vec<_>>(), [(2, "@system")]);
        let all = store.read().await?.search_audit(&AuditFilter::default(), AuditPage::newest(10)?).await?;
        assert_eq!(all.entries.iter().map(|entry| entry.seq).collect::<Vec<_>>(), [6, 5, 3, 2, 1]);
        Ok(())
    })
    .await;
}

/// Whether `record(seq)` matches `filter`, decided from the record itself: the reference the
/// database's answers are checked against.
fn matches(filter: &AuditFilter, seq: u64) -> bool {
    let record = record(seq);
    filter.actor.as_ref().is_none_or(|actor| *actor == record.actor)
        && filter.action.is_none_or(|action| action == record.action_name())
        && filter.object.as_ref().is_none_or(|object| match object {
            ObjectFilter::Kind(kind) => *kind == record.object.kind,
            ObjectFilter::One(object) => *object == record.object,
        })
        && filter.from.is_none_or(|from| log_time(seq) >= from)
        && filter.to.is_none_or(|to| log_time(seq) < to)
}

/// Reads every page of a search, `limit` entries at a time, and returns the positions in order.
async fn every_page(store: &Store, filter: &AuditFilter, limit: u32) -> anyhow::Result<Vec<u64>> {
    let mut seqs = Vec::new();
    let mut before = None;
    loop {
        let page = store.read().await?.search_audit(filter, AuditPage::new(before, limit)?).await?;
        assert!(page.entries.len() <= limit as usize);
        seqs.extend(page.entries.iter().map(|entry| entry.seq));
        match page.next_before {
            Some(next) => {
                assert_eq!(page.entries.len(), limit as usize, "only a full page has a next page");
                before = Some(next);
            }
            None => return Ok(seqs),
        }
    }
}

#[tokio::test]
async fn a_search_pages_through_the_matching_entries_newest_first() {
    on_every_backend(|store: Store| async move {
        const N: u64 = 40;
        log(&store, N).await?;
        let filters = [
            vec![],
            vec![("actor", "ana")],
            vec![("actor", "@system")],
            vec![("action", "release.transition")],
            vec![("object_kind", "release")],
            vec![("object_kind", "release"), ("object_id", "release-1")],
            vec![("from", "2026-03-01T12:00:10Z")],
            vec![("to", "2026-03-01T12:00:10.000070Z")],
            vec![("from", "2026-03-01T12:00:06.000042Z"), ("to", "2026-03-01T12:00:08Z")],
            vec![("from", "2026-03-01T12:00:04Z"), ("to", "2026-03-01T12:00:05Z")],
            vec![("from", "2026-03-01T12:01:00Z")],
            vec![("to", "2026-03-01T12:00:00Z")],
            vec![("from", "2026-03-01T12:00:05.000035Z"), ("to", "2026-03-01T12:00:30Z")],
            vec![("actor", "bo"), ("object_kind", "release"), ("from", "2026-03-01T12:00:07Z")],
            vec![("actor", "nobody")],
        ];
        for fields in filters {
            let mut input = AuditFilterInput::default();
            for (field, value) in &fields {
                let value = Some((*value).to_owned());
                match *field {
                    "actor" => input.actor = value,
                    "action" => input.action = value,
                    "object_kind" => input.object_kind = value,
                    "object_id" => input.object_id = value,
                    "from" => input.from = value,
                    _ => input.to = value,
                }
            }
            let filter = AuditFilter::parse(&input)?;
            let expected: Vec<u64> = (1..=N).rev().filter(|seq| matches(&filter, *seq)).collect();
            for limit in [1, 3, 7, 100] {
                assert_eq!(every_page(&store, &filter, limit).await?, expected, "{fields:?}, {limit} per page");
            }
        }
        // A page from the middle: strictly before the position given.
        let page = store.read().await?.search_audit(&AuditFilter::default(), AuditPage::new(Some(5), 2)?).await?;
        assert_eq!(page.entries.iter().map(|entry| entry.seq).collect::<Vec<_>>(), [4, 3]);
        assert_eq!(page.next_before, Some(3));
        let beyond =
            store.read().await?.search_audit(&AuditFilter::default(), AuditPage::new(Some(u64::MAX), 1)?).await?;
        assert_eq!(beyond.entries.iter().map(|entry| entry.seq).collect::<Vec<_>>(), [N]);
        Ok(())
    })
    .await;
}

fn verification(n: u64) -> VerificationResult {
    VerificationResult {
        verified_at: Timestamp::from_second(1_772_366_400 + n as i64).expect("a time in range"),
        ok: n % 2 == 0,
        entries: n * 10,
        checkpoints_verified: n,
        unsigned_tail: 3,
        failed_entry: (n % 2 == 1).then_some(n),
        message: format!("verification {n}"),
        duration: std::time::Duration::from_micros(1_500 + n),
    }
}

#[tokio::test]
async fn verification_results_keep_the_latest_hundred() {
    on_every_backend(|store: Store| async move {
        assert_eq!(store.read().await?.last_audit_verification().await?, None);
        for n in 1..=KEPT_VERIFICATIONS as u64 + 5 {
            let mut tx = store.begin_unaudited().await?;
            tx.insert_audit_verification(&verification(n)).await?;
            tx.commit().await?;
            assert_eq!(store.read().await?.last_audit_verification().await?, Some(verification(n)));
        }
        let pool = raw_pool(&store).await?;
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_verifications").fetch_one(&pool).await?;
        assert_eq!(count, KEPT_VERIFICATIONS);
        let (first_kept,): (String,) =
            sqlx::query_as("SELECT message FROM audit_verifications ORDER BY id LIMIT 1").fetch_one(&pool).await?;
        assert_eq!(first_kept, "verification 6");
        pool.close().await;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn one_replica_at_a_time_claims_a_job() {
    on_every_backend(|store: Store| async move {
        let first = store.claim_job(Job::ScheduledVerification).await?.expect("a free job is claimed");
        let second = store.claim_job(Job::ScheduledVerification).await?;
        match store.backend() {
            // One process owns an SQLite file: there is nobody to exclude.
            Backend::Sqlite => assert!(second.is_some()),
            Backend::Postgres => {
                assert!(second.is_none(), "a claimed job is not claimed again");
                let other = store.claim_job(Job::TimedCheckpoint).await?;
                assert!(other.is_some(), "another job is claimed independently");
            }
        }
        // Writers are not held up by a claim.
        let mut tx = store.begin().await?;
        tx.append_audit(&record(1)).await?;
        tx.commit().await?;
        first.release().await?;
        assert!(store.claim_job(Job::ScheduledVerification).await?.is_some(), "a released job is free again");
        Ok(())
    })
    .await;
}
