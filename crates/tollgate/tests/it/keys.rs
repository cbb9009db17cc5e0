//! The audit signing key from the command line: a witness kept by an auditor, a rotation the
//! auditor's old public key still verifies, and a server that refuses to make up a new key for
//! an existing log.

use std::process::Stdio;

use crate::{run, tollgate, Server};

#[test]
fn a_witness_catches_a_history_rewritten_even_with_a_forged_key() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut server = Server::start(dir.path());
    for n in 0..3 {
        run(server.cli().args(["team", "create", &format!("team-{n}")])).success();
    }
    let witness = run(server.cli().args(["audit", "checkpoint"])).success();
    std::fs::write(dir.path().join("cp.json"), &witness.stdout).expect("the witness is kept");
    for n in 3..6 {
        run(server.cli().args(["team", "create", &format!("team-{n}")])).success();
    }
    server.stop();
    let verify = |data_dir: &std::path::Path| {
        run(tollgate(dir.path()).args(["audit", "verify", "--witness", "cp.json", "--data-dir"]).arg(data_dir))
    };
    let intact = verify(&server.data_dir).success();
    assert!(intact.stdout.contains("1 witnesses matched"), "{}", intact.stdout);

    // Rewritten from entry 5 (team-0, inside the witness's checkpoint) on, with the attacker's own
    // key and checkpoint: only the database's keys are trusted here (no --public-key), yet the
    // witness remembers entry 5 as it was.
    let attacker = ed25519_dalek::SigningKey::from_bytes(&[66; 32]);
    let copy = crate::tamper::rewritten(&server.data_dir, dir.path(), 5, "team-0", Some(&attacker));
    let caught = verify(&copy).failure();
    assert!(caught.stdout.starts_with("FAILED: entry 5: differs from the witness checkpoint"), "{}", caught.stdout);
}

#[test]
fn a_rotated_key_is_verified_with_the_original_public_key() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = Server::start(dir.path());
    let original = dir.path().join("original.pub");
    std::fs::copy(server.data_dir.join("audit-signing.pub"), &original).expect("the auditor keeps the key");
    run(server.cli().args(["team", "create", "payments"])).success();
    let rotated = run(server.cli().args(["audit", "key", "rotate", "--output", "json"])).success();
    let rotated: serde_json::Value = serde_json::from_str(&rotated.stdout).expect("json");
    run(server.cli().args(["team", "create", "platform"])).success();
    let keys = run(server.cli().args(["audit", "key", "list", "--output", "json"])).success();
    let keys: serde_json::Value = serde_json::from_str(&keys.stdout).expect("json");
    assert_eq!(keys.as_array().map(Vec::len), Some(2));
    assert!(keys[0]["retired_seq"].is_u64(), "the root key is retired: {keys}");
    let new_pub = std::fs::read_to_string(server.data_dir.join("audit-signing.pub")).expect("the new public key");
    assert_eq!(new_pub.trim(), rotated["public_key"].as_str().expect("a key").trim(), "the key file was replaced");

    let export = run(server.cli().args(["audit", "export"])).success();
    std::fs::write(dir.path().join("audit.jsonl"), &export.stdout).expect("written");
    let offline =
        run(tollgate(dir.path()).args(["audit", "verify", "--file", "audit.jsonl", "--public-key"]).arg(&original))
            .success();
    assert!(offline.stdout.contains("1 keys endorsed along the log"), "{}", offline.stdout);
}

#[test]
fn a_server_refuses_to_start_without_the_key_of_its_log() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut server = Server::start(dir.path());
    server.stop();
    std::fs::remove_file(server.data_dir.join("audit-signing.key")).expect("the key is lost");
    let refused = run(tollgate(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&server.data_dir)
        .stdin(Stdio::null()))
    .failure();
    assert!(
        refused.stderr.contains("audit-signing.key is missing, but the audit log already has 4 entries"),
        "{}",
        refused.stderr
    );
    assert!(!server.data_dir.join("audit-signing.key").exists(), "no key was made up");

    // Another key, never enrolled, is refused too.
    run(tollgate(dir.path()).args(["key", "generate", "--out", "stranger"])).success();
    let stranger = run(tollgate(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--signing-key", "stranger.key", "--data-dir"])
        .arg(&server.data_dir))
    .failure();
    assert!(stranger.stderr.contains("is not enrolled in this log"), "{}", stranger.stderr);
}
