use super::*;

fn record(n: u64) -> AuditRecord {
    AuditRecord {
        at: "2026-03-01T12:00:00Z".parse().expect("timestamp"),
        actor: Actor::User(UserName::parse("ana").expect("name")),
        action: AuditAction::Create,
        object: ObjectRef::new(ObjectKind::Team, format!("team-{n}")),
        before: None,
        after: Some(serde_json::json!({"name": format!("team-{n}")})),
        reason: None,
        request_id: Some("req-1".to_owned()),
    }
}

struct Log {
    rows: Vec<(u64, [u8; 32], Vec<u8>)>,
}

fn log(n: u64) -> Log {
    let mut previous = GENESIS;
    let rows = (1..=n)
        .map(|seq| {
            let body = record(seq).canonical_bytes(seq);
            let hash = entry_hash(&previous, &body);
            previous = hash;
            (seq, hash, body)
        })
        .collect();
    Log { rows }
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

fn checkpoint(log: &Log, tree_size: u64) -> Checkpoint {
    let head = Sha256Digest::from_bytes(log.rows[tree_size as usize - 1].1);
    Checkpoint::sign(&key(), tree_size, head, "2026-03-01T12:00:00Z".parse().expect("timestamp"))
}

fn verify(log: &Log, checkpoints: Vec<Checkpoint>) -> String {
    let mut verifier = ChainVerifier::new(checkpoints, &[key().verifying_key()]);
    for (seq, hash, body) in &log.rows {
        if verifier.push(*seq, hash, body).is_err() {
            break;
        }
    }
    verifier.finish(None).to_string()
}

#[test]
fn the_canonical_entry_format_is_stable() {
    let body = String::from_utf8(record(1).canonical_bytes(7)).expect("utf-8");
    insta::assert_snapshot!(body, @r#"{"action":"team.create","actor":"ana","after":{"name":"team-1"},"at":"2026-03-01T12:00:00.000000Z","before":null,"object":{"id":"team-1","kind":"team"},"reason":null,"request_id":"req-1","seq":7,"v":1}"#);
}

#[test]
fn an_intact_chain_verifies_with_its_checkpoints() {
    let log = log(5);
    let checkpoints = vec![checkpoint(&log, 2), checkpoint(&log, 4)];
    let report = verify(&log, checkpoints);
    assert!(report.starts_with("ok: 5 entries verified, head sha256:"), "{report}");
    assert!(report.ends_with(", 2 signed checkpoints verified, 1 entries after the last checkpoint"), "{report}");
}

#[test]
fn an_edited_entry_is_named() {
    let mut log = log(5);
    log.rows[2].2 = record(99).canonical_bytes(3);
    assert_eq!(
        verify(&log, vec![]),
        "FAILED: entry 3: hash does not match its content and the previous entry (edited, reordered or replaced)"
    );
}

#[test]
fn a_deleted_entry_is_named() {
    let mut log = log(5);
    log.rows.remove(1);
    assert_eq!(verify(&log, vec![]), "FAILED: entry 2: missing (found entry 3 in its place)");
}

#[test]
fn reordered_entries_are_named() {
    let mut log = log(5);
    // Swap the contents of positions 2 and 3, keeping the positions in order.
    let (second, third) = (log.rows[1].clone(), log.rows[2].clone());
    log.rows[1] = (2, third.1, third.2);
    log.rows[2] = (3, second.1, second.2);
    assert_eq!(
        verify(&log, vec![]),
        "FAILED: entry 2: hash does not match its content and the previous entry (edited, reordered or replaced)"
    );
}

#[test]
fn entries_removed_from_the_end_are_caught_by_a_checkpoint() {
    let mut log = log(5);
    let checkpoints = vec![checkpoint(&log, 5)];
    log.rows.truncate(3);
    assert_eq!(
        verify(&log, checkpoints),
        "FAILED: entry 4: missing; a checkpoint covers 5 entries but the log ends after 3"
    );
}

#[test]
fn a_rewritten_chain_does_not_match_its_checkpoint() {
    let original = log(3);
    let checkpoints = vec![checkpoint(&original, 3)];
    // Rebuild a consistent chain with different content: every hash is valid, the checkpoint is not.
    let mut forged = Log { rows: Vec::new() };
    let mut previous = GENESIS;
    for seq in 1..=3 {
        let body = record(seq + 10).canonical_bytes(seq);
        let hash = entry_hash(&previous, &body);
        previous = hash;
        forged.rows.push((seq, hash, body));
    }
    assert_eq!(verify(&forged, checkpoints), "FAILED: entry 3: differs from the checkpoint signed at tree size 3");
}

#[test]
fn checkpoints_by_unknown_keys_or_with_bad_signatures_fail() {
    let log = log(3);
    let stranger = SigningKey::from_bytes(&[7; 32]);
    let head = Sha256Digest::from_bytes(log.rows[2].1);
    let foreign = Checkpoint::sign(&stranger, 3, head, "2026-03-01T12:00:00Z".parse().expect("timestamp"));
    let report = verify(&log, vec![foreign.clone()]);
    assert_eq!(report, format!("FAILED: checkpoint at tree size 3: signed by untrusted key {}", foreign.key_id));

    let mut tampered = checkpoint(&log, 3);
    tampered.signature[0] ^= 1;
    let report = verify(&log, vec![tampered.clone()]);
    assert_eq!(
        report,
        format!("FAILED: checkpoint at tree size 3: signature by key {} does not verify", tampered.key_id)
    );
}

#[test]
fn a_recorded_head_that_disagrees_is_caught() {
    let log = log(3);
    let mut verifier = ChainVerifier::new(vec![], &[]);
    for (seq, hash, body) in &log.rows[..2] {
        verifier.push(*seq, hash, body).expect("intact");
    }
    let report = verifier.finish(Some((3, Sha256Digest::from_bytes(log.rows[2].1))));
    assert_eq!(report.failure.expect("failure").seq, 3);
}

#[test]
fn an_export_verifies_offline_and_names_a_tampered_entry() {
    let log = log(4);
    let key = key();
    let checkpoint = checkpoint(&log, 4);
    let mut lines = vec![serde_json::to_string(&export::ExportLine::header(&key.verifying_key(), 4)).expect("json")];
    lines.push(serde_json::to_string(&export::ExportLine::checkpoint(&checkpoint)).expect("json"));
    for (seq, hash, body) in &log.rows {
        let line = export::ExportLine::entry(*seq, &Sha256Digest::from_bytes(*hash), body).expect("utf-8");
        lines.push(serde_json::to_string(&line).expect("json"));
    }
    let trusted = [key.verifying_key()];
    let report = export::verify_export(lines.iter().map(String::as_str), &trusted).expect("readable");
    assert!(report.is_ok() && report.entries == 4 && report.checkpoints_verified == 1, "{report}");

    let tampered: Vec<String> = lines.iter().map(|line| line.replace("team-3", "team-X")).collect();
    let report = export::verify_export(tampered.iter().map(String::as_str), &trusted).expect("readable");
    assert_eq!(
        report.to_string(),
        "FAILED: entry 3: hash does not match its content and the previous entry (edited, reordered or replaced)"
    );

    let truncated = &lines[..lines.len() - 1];
    let report = export::verify_export(truncated.iter().map(String::as_str), &trusted).expect("readable");
    assert_eq!(report.to_string(), "FAILED: entry 4: missing; a checkpoint covers 4 entries but the log ends after 3");

    let garbage = export::verify_export(["{\"type\":\"nope\"}"], &trusted);
    assert!(garbage.is_err_and(|e| e.line == 1));
}
