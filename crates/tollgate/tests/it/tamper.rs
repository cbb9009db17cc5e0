//! Tamper tests: rows of a real database edited, deleted and reordered directly in SQLite, as
//! someone with file access could. `tollgate audit verify` must fail and name the entry.

use std::path::Path;

use crate::{run, tollgate, Server};

/// A stopped server's data directory with a few dozen audit entries and signed checkpoints.
fn populated(dir: &Path) -> std::path::PathBuf {
    let mut server = Server::start(dir);
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/tollgate.yaml");
    run(server.cli().args(["apply", "-f", example])).success();
    for n in 0..4 {
        run(server.cli().args(["team", "create", &format!("team-{n}")])).success();
    }
    server.stop();
    server.data_dir.clone()
}

/// Copies the data directory, runs `sql` on the copy's database (after dropping the triggers
/// that refuse changes, as an attacker would), and verifies it.
fn tampered(data_dir: &Path, scratch: &Path, sql: &str) -> String {
    let copy = scratch.join(format!("copy-{}", sql.len()));
    std::fs::create_dir_all(&copy).expect("a directory");
    for entry in std::fs::read_dir(data_dir).expect("the data directory") {
        let entry = entry.expect("an entry");
        if entry.path().is_dir() {
            continue;
        }
        std::fs::copy(entry.path(), copy.join(entry.file_name())).expect("a copy");
    }
    let connection = rusqlite::Connection::open(copy.join("tollgate.db")).expect("the copy opens");
    connection
        .execute_batch("DROP TRIGGER audit_entries_no_update; DROP TRIGGER audit_entries_no_delete;")
        .expect("the triggers drop");
    connection.execute_batch(sql).expect("the tampering runs");
    drop(connection);
    let ran = run(tollgate(scratch).args(["audit", "verify", "--data-dir"]).arg(&copy)).failure();
    ran.stdout.trim().to_owned()
}

#[test]
fn edited_deleted_and_reordered_audit_rows_are_detected_and_named() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data_dir = populated(dir.path());
    let intact = run(tollgate(dir.path()).args(["audit", "verify", "--data-dir"]).arg(&data_dir)).success();
    assert!(intact.stdout.starts_with("ok: 14 entries verified"), "{}", intact.stdout);

    let edited = tampered(
        &data_dir,
        dir.path(),
        "UPDATE audit_entries SET body = replace(body, 'team-1', 'team-X') WHERE seq = 12;",
    );
    assert_eq!(
        edited,
        "FAILED: entry 12: hash does not match its content and the previous entry (edited, reordered or replaced)"
    );

    let deleted = tampered(&data_dir, dir.path(), "DELETE FROM audit_entries WHERE seq = 7;");
    assert_eq!(deleted, "FAILED: entry 7: missing (found entry 8 in its place)");

    let reordered = tampered(
        &data_dir,
        dir.path(),
        "UPDATE audit_entries SET seq = -1 WHERE seq = 3; UPDATE audit_entries SET seq = 3 WHERE seq = 4; UPDATE audit_entries SET seq = 4 WHERE seq = -1;",
    );
    assert_eq!(
        reordered,
        "FAILED: entry 3: hash does not match its content and the previous entry (edited, reordered or replaced)"
    );

    // Removing the newest entries and rewinding the recorded head is caught by the signed checkpoint.
    let truncated = tampered(
        &data_dir,
        dir.path(),
        "DELETE FROM audit_entries WHERE seq > 12; UPDATE audit_head SET seq = 12, hash = (SELECT hash FROM audit_entries WHERE seq = 12);",
    );
    assert_eq!(truncated, "FAILED: entry 13: missing; a checkpoint covers 14 entries but the log ends after 12");

    // A forged checkpoint by another key does not pass either.
    let forged =
        tampered(&data_dir, dir.path(), "UPDATE audit_checkpoints SET signature = zeroblob(64) WHERE tree_size = 10;");
    assert!(forged.starts_with("FAILED: checkpoint at tree size 10: signature by key"), "{forged}");
}
