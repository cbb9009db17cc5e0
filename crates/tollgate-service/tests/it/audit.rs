use tollgate_core::audit::body::EntryBody;
use tollgate_core::audit::search::{AuditFilter, AuditFilterInput, AuditPage, AuditSearchPage};
use tollgate_core::team::TeamInput;
use tollgate_service::catalog::Upsert;
use tollgate_service::Clock;
use tollgate_store::Job;
use tollgate_testkit::{TestApp, TestDb};

#[tokio::test]
async fn checkpoints_are_signed_every_interval_and_the_chain_verifies() {
    let app = TestApp::sqlite_with_interval(3).await;
    for n in 0..4 {
        let input = TeamInput { name: format!("team-{n}"), ..TeamInput::default() };
        app.tollgate.put_team(&app.admin, input, Upsert::Create).await.expect("created");
    }
    let report = app.tollgate.verify_audit(&app.admin).await.expect("verified");
    // Opening enrolled the root key (1, endorsed at once), bootstrap wrote the admin, its token
    // and its password (2, 3, 4; the interval's checkpoint at 3, bootstrap's own at 4), then 4
    // teams: 8 entries, checkpoints at 1, 3, 4 and 6.
    assert_eq!((report.entries, report.checkpoints_verified, report.unsigned_tail), (8, 4, 2), "{report}");
    assert!(app.tollgate.checkpoint_now().await.expect("checkpoint").is_some());
    assert!(app.tollgate.checkpoint_now().await.expect("checkpoint").is_none(), "the head is already signed");
    let report = app.tollgate.verify_audit(&app.admin).await.expect("verified");
    assert_eq!(report.unsigned_tail, 0);
}

#[tokio::test]
async fn every_entry_names_actor_action_object_and_request() {
    let app = TestApp::sqlite().await;
    let principal = tollgate_service::Principal { request_id: Some("req-42".to_owned()), ..app.admin.clone() };
    app.tollgate
        .put_team(&principal, TeamInput { name: "payments".to_owned(), ..TeamInput::default() }, Upsert::Create)
        .await
        .expect("created");
    // Bootstrap wrote entries 1 to 4 (key, admin, token, password): the team is entry 5.
    let entries = app.tollgate.list_audit(&app.admin, 4, 10).await.expect("entries");
    let body: serde_json::Value = serde_json::from_slice(&entries[0].body).expect("json");
    insta::assert_json_snapshot!(body, @r#"
    {
      "action": "team.create",
      "actor": "admin",
      "after": {
        "artifact_pattern": null,
        "display_name": "payments",
        "members": [],
        "name": "payments"
      },
      "at": "2026-03-01T12:00:00.000000Z",
      "before": null,
      "object": {
        "id": "payments",
        "kind": "team"
      },
      "reason": null,
      "request_id": "req-42",
      "seq": 5,
      "v": 1
    }
    "#);
}

/// Statements that edit entry 2 (the bootstrap admin's creation) in place, as someone with the
/// database's credentials would, past the append-only triggers.
fn tamper_with_entry_2(db: &TestDb) -> [&'static str; 2] {
    match db.backend_name() {
        "sqlite" => [
            "DROP TRIGGER audit_entries_no_update",
            "UPDATE audit_entries SET body = CAST(REPLACE(CAST(body AS TEXT), 'admin', 'admim') AS BLOB) WHERE seq = 2",
        ],
        _ => [
            "ALTER TABLE audit_entries DISABLE TRIGGER USER",
            "UPDATE audit_entries SET body = convert_to(replace(convert_from(body, 'UTF8'), 'admin', 'admim'), 'UTF8') \
             WHERE seq = 2",
        ],
    }
}

#[tokio::test]
async fn a_scheduled_verification_stores_its_result_ok_or_not() {
    for db in TestDb::every_backend().await {
        let backend = db.backend_name();
        let app = TestApp::on(db, 4).await;
        let (viewer, _) = app.user("vic", "viewer").await;
        assert_eq!(app.tollgate.last_audit_verification(&viewer).await.expect("read"), None, "{backend}");
        for n in 0..3 {
            let input = TeamInput { name: format!("team-{n}"), ..TeamInput::default() };
            app.tollgate.put_team(&app.admin, input, Upsert::Create).await.expect("created");
        }
        let entries = app.tollgate.audit_length().await.expect("length");

        let passed = app.tollgate.scheduled_audit_verification().await.expect("ran").expect("not skipped");
        assert!(passed.ok, "{backend}: {}", passed.message);
        assert_eq!((passed.entries, passed.failed_entry), (entries, None), "{backend}");
        assert_eq!(passed.verified_at, app.clock.now(), "{backend}");
        assert_eq!(app.tollgate.last_audit_verification(&viewer).await.expect("read"), Some(passed.clone()));

        if backend == "postgres" {
            // Another replica runs it now: this one skips the tick.
            let other = app.store.claim_job(Job::ScheduledVerification).await.expect("claimed").expect("free");
            assert_eq!(app.tollgate.scheduled_audit_verification().await.expect("no error"), None);
            other.release().await.expect("released");
        }

        app.clock.advance(jiff::SignedDuration::from_secs(3600));
        app.db.execute_raw(&tamper_with_entry_2(&app.db)).await.expect("tampered");
        let failed = app.tollgate.scheduled_audit_verification().await.expect("ran").expect("not skipped");
        assert!(!failed.ok, "{backend}: a tampered entry fails");
        assert_eq!((failed.entries, failed.failed_entry), (1, Some(2)), "{backend}: {}", failed.message);
        assert!(failed.message.starts_with("FAILED: entry 2: hash does not match"), "{backend}: {}", failed.message);
        assert_eq!(app.tollgate.last_audit_verification(&viewer).await.expect("read"), Some(failed), "{backend}");
        assert_eq!(app.tollgate.audit_length().await.expect("length"), entries, "{backend}: verifying appends nothing");
    }
}

#[tokio::test]
async fn an_entry_that_cannot_be_read_is_a_failed_verification_not_an_error() {
    for db in TestDb::every_backend().await {
        let backend = db.backend_name();
        let app = TestApp::on(db, 4).await;
        // A position no entry can have: the row does not even read as an entry.
        let negate = match backend {
            "sqlite" => ["DROP TRIGGER audit_entries_no_update", "UPDATE audit_entries SET seq = -2 WHERE seq = 2"],
            _ => ["ALTER TABLE audit_entries DISABLE TRIGGER USER", "UPDATE audit_entries SET seq = -2 WHERE seq = 2"],
        };
        app.db.execute_raw(&negate).await.expect("tampered");
        let failed = app.tollgate.scheduled_audit_verification().await.expect("ran").expect("not skipped");
        assert!(!failed.ok, "{backend}");
        assert_eq!(failed.message, "FAILED: stored audit entry -2 is corrupt: negative seq", "{backend}");
        assert_eq!(app.tollgate.last_audit_verification(&app.admin).await.expect("read"), Some(failed), "{backend}");
    }
}

#[tokio::test]
async fn a_scheduled_verification_is_skipped_while_a_whole_log_scan_runs() {
    let app = TestApp::sqlite().await;
    let export = app.tollgate.start_audit_export(&app.admin).await.expect("an export starts");
    assert_eq!(app.tollgate.scheduled_audit_verification().await.expect("no error"), None);
    drop(export);
    assert!(app.tollgate.scheduled_audit_verification().await.expect("ran").is_some());
}

#[tokio::test]
async fn anyone_who_reads_records_searches_the_log_newest_first() {
    for db in TestDb::every_backend().await {
        let backend = db.backend_name();
        let app = TestApp::on(db, 1000).await;
        let (viewer, _) = app.user("vic", "viewer").await;
        for n in 0..3 {
            let input = TeamInput { name: format!("team-{n}"), ..TeamInput::default() };
            app.tollgate.put_team(&app.admin, input, Upsert::Create).await.expect("created");
        }
        let input = AuditFilterInput {
            actor: Some("admin".to_owned()),
            action: Some("team.create".to_owned()),
            ..AuditFilterInput::default()
        };
        let filter = AuditFilter::parse(&input).expect("a filter");
        let first = app.tollgate.search_audit(&viewer, &filter, AuditPage::newest(2).expect("a page")).await;
        let first = first.expect("searched");
        let names = |page: &AuditSearchPage| -> Vec<String> {
            page.entries
                .iter()
                .map(|entry| {
                    let body: EntryBody = serde_json::from_slice(&entry.body).expect("a body");
                    body.object.id
                })
                .collect()
        };
        assert_eq!(names(&first), ["team-2", "team-1"], "{backend}");
        let next = AuditPage::new(first.next_before, 2).expect("a page");
        let second = app.tollgate.search_audit(&viewer, &filter, next).await.expect("searched");
        assert_eq!((names(&second), second.next_before), (vec!["team-0".to_owned()], None), "{backend}");
    }
}
