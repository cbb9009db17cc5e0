//! Tamper tests: rows of a real database edited, deleted and reordered directly in SQLite, and
//! whole histories rewritten with recomputed hashes, as someone with file access (and, later,
//! even the signing key) could. `tollgate audit verify` must fail and name the entry.

use std::path::Path;

use tollgate_core::audit::{entry_hash, Checkpoint, GENESIS};
use tollgate_core::digest::Sha256Digest;

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
    connection.execute_batch(DROP_DEFENCES).expect("the triggers drop");
    connection.execute_batch(sql).expect("the tampering runs");
    drop(connection);
    let ran = run(tollgate(scratch).args(["audit", "verify", "--data-dir"]).arg(&copy)).failure();
    ran.stdout.trim().to_owned()
}

/// What an attacker with the file drops first: every trigger that refuses a change.
const DROP_DEFENCES: &str = "DROP TRIGGER audit_entries_no_update; DROP TRIGGER audit_entries_no_delete; \
     DROP TRIGGER audit_entries_append_at_head; DROP TRIGGER audit_checkpoints_no_update; \
     DROP TRIGGER audit_checkpoints_no_delete; DROP TRIGGER audit_head_forward_only; \
     DROP TRIGGER signing_keys_no_update; DROP TRIGGER signing_keys_no_delete;";

/// The full attack on a copy of `data_dir`: rename `team` to "team-X" in entry `seq` (the
/// entry that created it), recompute every later hash
/// and the head, delete every checkpoint; with `attacker`, also record the attacker's key and
/// sign a fresh checkpoint at the head with it. Returns the copy.
pub(crate) fn rewritten(
    data_dir: &Path,
    scratch: &Path,
    seq: i64,
    team: &str,
    attacker: Option<&ed25519_dalek::SigningKey>,
) -> std::path::PathBuf {
    let copy = scratch.join(format!("rewritten-{}", attacker.is_some()));
    std::fs::create_dir_all(&copy).expect("a directory");
    std::fs::copy(data_dir.join("tollgate.db"), copy.join("tollgate.db")).expect("a copy");
    let mut connection = rusqlite::Connection::open(copy.join("tollgate.db")).expect("the copy opens");
    connection.execute_batch(DROP_DEFENCES).expect("the triggers drop");
    let transaction = connection.transaction().expect("a transaction");
    transaction.execute("DELETE FROM audit_checkpoints", []).expect("checkpoints go");
    let rows: Vec<(i64, Vec<u8>)> = {
        let mut statement = transaction.prepare("SELECT seq, body FROM audit_entries ORDER BY seq").expect("a query");
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?))).expect("rows");
        rows.map(|row| row.expect("a row")).collect()
    };
    let mut previous = GENESIS;
    for (row_seq, body) in rows {
        let body = if row_seq == seq {
            let text = String::from_utf8(body).expect("utf-8");
            let quoted = format!("\"{team}\"");
            assert!(text.contains(&quoted), "entry {seq} does not name {team}, so nothing would be rewritten");
            text.replace(&quoted, "\"team-X\"").into_bytes()
        } else {
            body
        };
        let hash = entry_hash(&previous, &body);
        transaction
            .execute(
                "UPDATE audit_entries SET body = ?1, hash = ?2 WHERE seq = ?3",
                rusqlite::params![body, hash.to_vec(), row_seq],
            )
            .expect("the entry is rewritten");
        previous = hash;
    }
    transaction.execute("UPDATE audit_head SET hash = ?1", [previous.to_vec()]).expect("the head moves");
    if let Some(attacker) = attacker {
        let (head_seq,): (i64,) =
            (transaction.query_row("SELECT seq FROM audit_head", [], |row| row.get(0)).expect("head"),);
        let at = "2026-11-29T00:00:00Z".parse().expect("time");
        let forged = Checkpoint::sign(attacker, head_seq as u64, Sha256Digest::from_bytes(previous), at);
        transaction
            .execute(
                "INSERT INTO signing_keys (key_id, public_key, created_at) VALUES (?1, ?2, 0)",
                rusqlite::params![forged.key_id, attacker.verifying_key().as_bytes().to_vec()],
            )
            .expect("the attacker's key goes in");
        transaction
            .execute(
                "INSERT INTO audit_checkpoints (tree_size, key_id, head, signed_at, signature) VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![head_seq, forged.key_id, forged.head.as_bytes().to_vec(), at.as_microsecond(), forged.signature.to_vec()],
            )
            .expect("the forged checkpoint goes in");
    }
    transaction.commit().expect("the rewrite commits");
    copy
}

#[test]
fn edited_deleted_and_reordered_audit_rows_are_detected_and_named() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data_dir = populated(dir.path());
    let intact = run(tollgate(dir.path()).args(["audit", "verify", "--data-dir"]).arg(&data_dir)).success();
    assert!(intact.stdout.starts_with("ok: 17 entries verified"), "{}", intact.stdout);

    let edited = tampered(
        &data_dir,
        dir.path(),
        "UPDATE audit_entries SET body = replace(body, 'team-1', 'team-X') WHERE seq = 15;",
    );
    assert_eq!(
        edited,
        "FAILED: entry 15: hash does not match its content and the previous entry (edited, reordered or replaced)"
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
    assert_eq!(truncated, "FAILED: entry 13: missing; a checkpoint covers 15 entries but the log ends after 12");

    // A forged checkpoint by another key does not pass either.
    let forged =
        tampered(&data_dir, dir.path(), "UPDATE audit_checkpoints SET signature = zeroblob(64) WHERE tree_size = 10;");
    assert!(forged.starts_with("FAILED: checkpoint at tree size 10: signature by key"), "{forged}");
}

#[test]
fn a_history_rewritten_with_recomputed_hashes_fails_against_the_auditors_key() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data_dir = populated(dir.path());
    let public_key = data_dir.join("audit-signing.pub");
    let verify = |copy: &Path, with_key: bool| {
        let mut command = tollgate(dir.path());
        command.args(["audit", "verify", "--data-dir"]).arg(copy);
        if with_key {
            command.arg("--public-key").arg(&public_key);
        }
        run(&mut command)
    };
    let intact = verify(&data_dir, true).success();
    assert!(intact.stdout.contains("trusted 1 given key(s)"), "{}", intact.stdout);

    // Checkpoints deleted, entry 15 (team-1) rewritten, hashes and head recomputed.
    let copy = rewritten(&data_dir, dir.path(), 15, "team-1", None);
    let against_key = verify(&copy, true).failure();
    assert_eq!(
        against_key.stdout.trim(),
        "FAILED: entries 1 to 17: no checkpoint signed by a trusted key covers any entry"
    );
    verify(&copy, false).failure();

    // The same, with the attacker's own key row and a checkpoint it signed: it fools only a
    // verification that trusts the keys the database holds, and says so.
    let attacker = ed25519_dalek::SigningKey::from_bytes(&[66; 32]);
    let copy = rewritten(&data_dir, dir.path(), 15, "team-1", Some(&attacker));
    let fooled = verify(&copy, false).success();
    assert!(
        fooled.stdout.contains("recorded in the database itself, not a key held apart from it"),
        "{}",
        fooled.stdout
    );
    let caught = verify(&copy, true).failure();
    assert!(
        caught.stdout.starts_with("FAILED: entries 1 to 17: no checkpoint signed by a trusted key"),
        "{}",
        caught.stdout
    );
}
