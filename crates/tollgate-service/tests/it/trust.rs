//! The trust anchors as use cases: signing keys enrolled, rotated and refused; tokens that
//! cannot outlive their parent; who may verify and export; bounded whole-log work; timed
//! checkpoints; and many writers at once on PostgreSQL.

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use tokio::io::AsyncWriteExt;
use tollgate_core::attestation::public_key_pem;
use tollgate_core::audit::export::{verify_export, ExportLine};
use tollgate_core::team::TeamInput;
use tollgate_service::catalog::Upsert;
use tollgate_service::release::ReleaseRef;
use tollgate_service::signing::{KeySource, SigningKeyFile, SigningKeyProblem};
use tollgate_service::{Busy, ServiceError, Settings, Tollgate};
use tollgate_store::blob::BlobStore;
use tollgate_store::Store;
use tollgate_testkit::fixtures::release_input;
use tollgate_testkit::{admin, ManualClock, TestApp, TestDb};

use crate::release::catalog;

/// An application whose key lives in a file in the database's directory, as `serve` runs it.
async fn with_key_file(db: &TestDb, store: &Store, file: &str) -> Result<Tollgate, ServiceError> {
    let blobs = BlobStore::open(&db.dir().join("blobs")).await.expect("blobs");
    let clock = ManualClock::new("2026-03-01T12:00:00Z".parse().expect("time"));
    let (key, key_file) = KeySource::File(SigningKeyFile::new(db.dir().join(file))).load(store).await?;
    Tollgate::open(store.clone(), blobs, key, key_file, clock, Settings::default()).await
}

/// The whole log as export lines, the way the HTTP export writes them.
async fn export(tollgate: &Tollgate, principal: &tollgate_service::Principal) -> Vec<String> {
    let export = tollgate.start_audit_export(principal).await.expect("export");
    let mut lines = vec![serde_json::to_string(&ExportLine::header(&export.public_key, export.head)).expect("json")];
    lines.extend(export.checkpoints.iter().map(|c| serde_json::to_string(&ExportLine::checkpoint(c)).expect("json")));
    let entries = tollgate.export_page(&export, 0, 1000).await.expect("entries");
    for entry in entries {
        let line = ExportLine::entry(entry.seq, &entry.hash, &entry.body).expect("utf-8");
        lines.push(serde_json::to_string(&line).expect("json"));
    }
    lines
}

#[tokio::test]
async fn enrolled_and_rotated_keys_verify_against_the_root_key_alone() {
    let db = TestDb::sqlite();
    let store = Store::open(db.config()).await.expect("store");
    let first = with_key_file(&db, &store, "audit.key").await.expect("a fresh log takes a new key");
    let issued = first.bootstrap(|_| Ok::<(), std::convert::Infallible>(())).await.expect("bootstrap");
    let token = issued.expect("kept").expect("bootstrapped").token.secret.expose().to_owned();
    let admin = admin(&first, &token).await;
    let root = first.verifying_key();

    // A replica with its own key may sign only once that key is enrolled.
    let replica_key = SigningKey::from_bytes(&[44; 32]);
    let unenrolled = Tollgate::open(
        store.clone(),
        BlobStore::open(&db.dir().join("blobs")).await.expect("blobs"),
        replica_key.clone(),
        None,
        ManualClock::new("2026-03-01T12:00:00Z".parse().expect("time")),
        Settings::default(),
    )
    .await;
    assert!(
        matches!(unenrolled, Err(ServiceError::SigningKey(SigningKeyProblem::NotEnrolled { .. }))),
        "{unenrolled:?}"
    );
    first
        .enroll_signing_key(&admin, &public_key_pem(&replica_key.verifying_key()), "replica-2")
        .await
        .expect("enrolled");
    let replica = Tollgate::open(
        store.clone(),
        BlobStore::open(&db.dir().join("blobs")).await.expect("blobs"),
        replica_key,
        None,
        ManualClock::new("2026-03-01T12:00:00Z".parse().expect("time")),
        Settings::default(),
    )
    .await
    .expect("an enrolled key may sign");
    replica
        .put_team(&admin, TeamInput { name: "payments".to_owned(), ..TeamInput::default() }, Upsert::Create)
        .await
        .expect("team");
    assert!(replica.checkpoint_now().await.expect("signed").is_some());

    // The first server rotates its key: the file now holds the new key. (The test keeps the
    // old one, to show that it cannot sign again.)
    std::fs::copy(db.dir().join("audit.key"), db.dir().join("retired.key")).expect("a copy of the root key");
    let rotated = first.rotate_signing_key(&admin).await.expect("rotated");
    let on_disk = SigningKeyFile::new(db.dir().join("audit.key")).load().expect("readable").expect("a key");
    assert_eq!(rotated.public_key, on_disk.verifying_key());
    assert_ne!(on_disk.verifying_key(), root);
    first
        .put_team(&admin, TeamInput { name: "platform".to_owned(), ..TeamInput::default() }, Upsert::Create)
        .await
        .expect("team");

    // An auditor holding only the root key verifies it all: the replica's and the new key are endorsed along the log.
    let lines = export(&first, &admin).await;
    let report = verify_export(lines.iter().map(String::as_str), &[root], &[]).expect("readable");
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.endorsed_keys, 2, "{report}");

    // The retired key cannot come back.
    let old = Tollgate::open(
        store.clone(),
        BlobStore::open(&db.dir().join("blobs")).await.expect("blobs"),
        signing_key_for(&root, &db),
        None,
        ManualClock::new("2026-03-01T12:00:00Z".parse().expect("time")),
        Settings::default(),
    )
    .await;
    assert!(matches!(old, Err(ServiceError::SigningKey(SigningKeyProblem::Retired { .. }))), "{old:?}");
}

/// The private key whose public half is `public`, kept beside the database by the first start.
fn signing_key_for(public: &ed25519_dalek::VerifyingKey, db: &TestDb) -> SigningKey {
    let retired = db.dir().join("retired.key");
    assert!(retired.exists(), "the test saved the root key before rotating");
    let key = SigningKeyFile::new(retired).load().expect("readable").expect("a key");
    assert_eq!(&key.verifying_key(), public);
    key
}

#[tokio::test]
async fn a_missing_key_file_never_becomes_a_new_key_for_an_existing_log() {
    let db = TestDb::sqlite();
    let store = Store::open(db.config()).await.expect("store");
    with_key_file(&db, &store, "audit.key").await.expect("a fresh log takes a new key");
    std::fs::remove_file(db.dir().join("audit.key")).expect("the key is lost");
    let refused = with_key_file(&db, &store, "audit.key").await;
    let message = refused.map(|_| ()).map_err(|e| e.to_string()).expect_err("refused");
    assert!(message.contains("is missing, but the audit log already has 1 entries"), "{message}");
    assert!(!db.dir().join("audit.key").exists(), "no key was made up");
}

#[tokio::test]
async fn a_token_never_outlives_the_token_that_creates_it_and_dies_with_it() {
    let app = TestApp::sqlite().await;
    let (ana, _) = app.user("ana", "member").await;
    let expires = app.tollgate.now().checked_add(jiff::SignedDuration::from_hours(1)).expect("in range");
    let short = app.tollgate.create_token(&ana, "ana", "short", Some(expires)).await.expect("issued");
    let short_principal = admin(&app.tollgate, short.secret.expose()).await;
    let longer = app.tollgate.now().checked_add(jiff::SignedDuration::from_hours(2)).expect("in range");
    let refused = app.tollgate.create_token(&short_principal, "ana", "longer", Some(longer)).await;
    assert!(matches!(refused, Err(ServiceError::TokenLifetime(_))), "{refused:?}");
    let child = app.tollgate.create_token(&short_principal, "ana", "child", None).await.expect("issued");
    assert_eq!((child.token.expires_at, child.token.parent), (Some(expires), Some(short.token.id)));
    let grandchild_principal = admin(&app.tollgate, child.secret.expose()).await;
    let grandchild = app.tollgate.create_token(&grandchild_principal, "ana", "grandchild", None).await.expect("issued");

    let before = app.row_counts().await;
    app.tollgate.revoke_token(&ana, short.token.id).await.expect("revoked");
    assert_eq!(app.row_counts().await["audit_entries"], before["audit_entries"] + 3, "one entry per token");
    for secret in [&short.secret, &child.secret, &grandchild.secret] {
        let rejected = app.tollgate.authenticate(secret.expose(), None).await;
        assert!(matches!(rejected, Err(ServiceError::Unauthenticated { reason: "token revoked" })), "{rejected:?}");
    }
}

#[tokio::test]
async fn only_admins_and_auditors_verify_and_export_and_auditors_change_nothing() {
    let app = TestApp::sqlite().await;
    let (auditor, _) = app.user("ines", "auditor").await;
    let (viewer, _) = app.user("vic", "viewer").await;
    assert!(app.tollgate.verify_audit(&auditor).await.expect("verified").is_ok());
    drop(app.tollgate.start_audit_export(&auditor).await.expect("an auditor exports"));
    for refused in
        [app.tollgate.verify_audit(&viewer).await.err(), app.tollgate.start_audit_export(&viewer).await.err()]
    {
        assert!(matches!(refused, Some(ServiceError::Forbidden { .. })), "{refused:?}");
    }
    let write = app
        .tollgate
        .put_team(&auditor, TeamInput { name: "x".to_owned(), ..TeamInput::default() }, Upsert::Create)
        .await;
    assert!(matches!(write, Err(ServiceError::Forbidden { .. })), "{write:?}");
}

#[tokio::test]
async fn whole_log_work_and_parses_are_bounded_and_refused_as_busy() {
    let db = TestDb::sqlite();
    let settings = Settings { max_parallel_parses: 1, ..Settings::default() };
    let app = Arc::new(TestApp::with_settings(db, settings).await);
    let export = app.tollgate.start_audit_export(&app.admin).await.expect("export");
    let busy = app.tollgate.verify_audit(&app.admin).await;
    assert!(matches!(busy, Err(ServiceError::Busy(Busy::AuditScan))), "{busy:?}");
    drop(export);
    assert!(app.tollgate.verify_audit(&app.admin).await.expect("verified").is_ok());

    catalog(&app).await;
    let release =
        app.tollgate.create_release(&app.admin, release_input("1.0.0", &[("api", "1.0.0")])).await.expect("created");
    let reference = ReleaseRef::Id(release.id);
    // An upload whose body is still arriving holds the only parser.
    let (mut sender, mut body) = tokio::io::duplex(64);
    let slow = {
        let (app, reference) = (Arc::clone(&app), reference.clone());
        tokio::spawn(
            async move { app.tollgate.upload_evidence(&app.admin, &reference, None, "junit", &mut body).await },
        )
    };
    // The duplex holds 64 bytes: once 200 are written, the upload is reading, its permit held.
    sender.write_all(&[b' '; 200]).await.expect("the upload reads");
    let mut junit: &[u8] = b"<testsuites/>";
    let second = app.tollgate.upload_evidence(&app.admin, &reference, None, "junit", &mut junit).await;
    assert!(matches!(second, Err(ServiceError::Busy(Busy::Parse))), "{second:?}");
    drop(sender);
    assert!(matches!(slow.await.expect("the task ends"), Err(ServiceError::Evidence(_))), "blank is not JUnit");
}

#[tokio::test]
async fn a_timed_checkpoint_signs_only_when_entries_came_and_never_twice_per_tree_size() {
    for db in TestDb::every_backend().await {
        let config = db.config().clone();
        let app = TestApp::on(db, 1000).await;
        assert!(app.tollgate.timed_checkpoint().await.expect("tick").is_none(), "bootstrap signed the head");
        let payments = TeamInput { name: "payments".to_owned(), ..TeamInput::default() };
        app.tollgate.put_team(&app.admin, payments, Upsert::Create).await.expect("team");
        if app.store.backend() == tollgate_store::Backend::Sqlite {
            // One process owns a SQLite database: its ticks simply run one after the other.
            assert!(app.tollgate.timed_checkpoint().await.expect("tick").is_some());
            assert!(app.tollgate.timed_checkpoint().await.expect("tick").is_none());
            continue;
        }
        // Two replicas tick at once: one signs, the other skips (or finds it signed).
        let second_store = Store::open(&config).await.expect("store");
        let second = Tollgate::open(
            second_store,
            app.blobs.clone(),
            tollgate_testkit::audit_key(),
            None,
            app.clock.clone(),
            Settings::default(),
        )
        .await
        .expect("a replica with the same key");
        let (a, b) = tokio::join!(app.tollgate.timed_checkpoint(), second.timed_checkpoint());
        let signed = [a.expect("tick"), b.expect("tick")].into_iter().flatten().count();
        assert_eq!(signed, 1, "exactly one replica signed the new head");
        assert!(app.tollgate.timed_checkpoint().await.expect("tick").is_none());
        let report = app.tollgate.verify_audit(&app.admin).await.expect("verified");
        assert_eq!((report.is_ok(), report.unsigned_tail), (true, 0), "{report}");
    }
}

#[tokio::test]
async fn a_bootstrap_token_that_cannot_be_kept_creates_nothing() {
    let db = TestDb::sqlite();
    let store = Store::open(db.config()).await.expect("store");
    let blobs = BlobStore::open(&db.dir().join("blobs")).await.expect("blobs");
    let clock = ManualClock::new("2026-03-01T12:00:00Z".parse().expect("time"));
    let key = tollgate_testkit::audit_key();
    let tollgate = Tollgate::open(store.clone(), blobs, key, None, clock, Settings::default()).await.expect("opens");
    let lost = tollgate.bootstrap(|_| Err("the disk is full")).await.expect("the database answers");
    assert_eq!(lost.map(|issued| issued.is_some()), Err("the disk is full"));
    let counts = store.read().await.expect("a read").row_counts().await.expect("counts");
    assert_eq!(
        (counts["users"], counts["api_tokens"], counts["audit_entries"]),
        (0, 0, 1),
        "only the key's enrollment"
    );
    let kept = tollgate.bootstrap(|_| Ok::<(), &str>(())).await.expect("the database answers");
    assert!(kept.expect("kept").is_some(), "the next start bootstraps");
}
