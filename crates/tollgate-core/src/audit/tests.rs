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

/// Verifies `log` trusting `key()`, allowing `max_unsigned_tail` entries after the last
/// trusted checkpoint.
fn verify_with(log: &Log, checkpoints: Vec<Checkpoint>, policy: VerifyPolicy) -> String {
    let mut verifier = ChainVerifier::new(checkpoints, KeyTrust::Given(vec![key().verifying_key()]), policy);
    for (seq, hash, body) in &log.rows {
        if verifier.push(*seq, hash, body).is_err() {
            break;
        }
    }
    verifier.finish(None).to_string()
}

fn verify(log: &Log, checkpoints: Vec<Checkpoint>) -> String {
    verify_with(log, checkpoints, VerifyPolicy { max_unsigned_tail: 1000, ..VerifyPolicy::default() })
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
    assert!(
        report
            .ends_with(", 2 signed checkpoints verified, 1 entries after the last checkpoint; trusted 1 given key(s)"),
        "{report}"
    );
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
fn checkpoints_by_unknown_keys_vouch_for_nothing_and_bad_signatures_fail() {
    let log = log(3);
    let stranger = SigningKey::from_bytes(&[7; 32]);
    let head = Sha256Digest::from_bytes(log.rows[2].1);
    let foreign = Checkpoint::sign(&stranger, 3, head, "2026-03-01T12:00:00Z".parse().expect("timestamp"));
    let report = verify(&log, vec![foreign]);
    assert_eq!(report, "FAILED: entries 1 to 3: no checkpoint signed by a trusted key covers any entry");

    let mut tampered = checkpoint(&log, 3);
    tampered.signature[0] ^= 1;
    let report = verify(&log, vec![tampered.clone()]);
    assert_eq!(
        report,
        format!("FAILED: checkpoint at tree size 3: signature by key {} does not verify", tampered.key_id)
    );
}

#[test]
fn a_tail_longer_than_the_policy_allows_fails() {
    let log = log(5);
    let policy = VerifyPolicy { max_unsigned_tail: 2, ..VerifyPolicy::default() };
    let report = verify_with(&log, vec![checkpoint(&log, 2)], policy.clone());
    assert_eq!(
        report,
        "FAILED: entry 3: this and the 2 entries after it are not covered by a checkpoint signed by a trusted key (at most 2 may be)"
    );
    assert!(verify_with(&log, vec![checkpoint(&log, 3)], policy).starts_with("ok: 5 entries verified"));
}

#[test]
fn a_body_of_another_format_or_position_is_malformed() {
    let mut previous = GENESIS;
    let mut rows = Vec::new();
    for (seq, body) in [(1, record(1).canonical_bytes(1)), (2, record(2).canonical_bytes(9))] {
        let hash = entry_hash(&previous, &body);
        previous = hash;
        rows.push((seq, hash, body));
    }
    assert_eq!(verify(&Log { rows }, vec![]), "FAILED: entry 2: malformed: it says it is entry 9");

    let body = br#"{"action":"team.create","seq":1,"v":2}"#.to_vec();
    let rows = vec![(1, entry_hash(&GENESIS, &body), body)];
    assert_eq!(verify(&Log { rows }, vec![]), "FAILED: entry 1: malformed: format version 2, expected 1");

    // The same values as an array are not an entry; an entry without an action is one.
    let body = br#"[1,1,"team.create"]"#.to_vec();
    let rows = vec![(1, entry_hash(&GENESIS, &body), body)];
    let report = verify(&Log { rows }, vec![]);
    assert!(report.starts_with("FAILED: entry 1: malformed: not an audit entry: invalid type: sequence"), "{report}");
    let body = br#"{"seq":1,"v":1}"#.to_vec();
    let rows = vec![(1, entry_hash(&GENESIS, &body), body)];
    assert_eq!(
        verify(&Log { rows }, vec![]),
        "FAILED: entries 1 to 1: no checkpoint signed by a trusted key covers any entry"
    );
}

/// A log whose entry `at` enrolls (or, with `replaces`, rotates in) `new_key`.
fn log_with_key_entry(n: u64, at: u64, new_key: &SigningKey, replaces: Option<String>) -> Log {
    let mut previous = GENESIS;
    let rows = (1..=n)
        .map(|seq| {
            let mut entry = record(seq);
            if seq == at {
                entry.action = if replaces.is_some() { AuditAction::Rotate } else { AuditAction::Enroll };
                entry.object = ObjectRef::new(ObjectKind::SigningKey, key_id(&new_key.verifying_key()));
                let after = SigningKeyEntry::new(&new_key.verifying_key(), "replica-2", replaces.clone());
                entry.after = Some(serde_json::to_value(after).expect("json"));
            }
            let body = entry.canonical_bytes(seq);
            let hash = entry_hash(&previous, &body);
            previous = hash;
            (seq, hash, body)
        })
        .collect();
    Log { rows }
}

fn checkpoint_by(key: &SigningKey, log: &Log, tree_size: u64) -> Checkpoint {
    let head = Sha256Digest::from_bytes(log.rows[tree_size as usize - 1].1);
    Checkpoint::sign(key, tree_size, head, "2026-03-01T12:00:00Z".parse().expect("timestamp"))
}

#[test]
fn an_enrolled_key_is_trusted_once_a_trusted_checkpoint_endorses_it() {
    let replica = SigningKey::from_bytes(&[9; 32]);
    let log = log_with_key_entry(6, 3, &replica, None);
    let exact = VerifyPolicy { max_unsigned_tail: 0, ..VerifyPolicy::default() };
    // Endorsed at 3 by the trusted key: the replica's checkpoint at 6 then covers the end.
    let report = verify_with(&log, vec![checkpoint(&log, 3), checkpoint_by(&replica, &log, 6)], exact.clone());
    assert!(report.starts_with("ok: 6 entries verified"), "{report}");
    assert!(report.contains("2 signed checkpoints verified") && report.contains("1 keys endorsed"), "{report}");

    // Without the endorsement the replica's checkpoint vouches for nothing.
    let report = verify_with(&log, vec![checkpoint(&log, 2), checkpoint_by(&replica, &log, 6)], exact);
    assert!(report.starts_with("FAILED: entry 3: this and the 3 entries after it"), "{report}");
}

#[test]
fn a_key_rotated_out_vouches_for_nothing_after_the_endorsement() {
    let new_key = SigningKey::from_bytes(&[11; 32]);
    let log = log_with_key_entry(6, 3, &new_key, Some(key_id(&key().verifying_key())));
    let exact = VerifyPolicy { max_unsigned_tail: 0, ..VerifyPolicy::default() };
    let rotated = verify_with(&log, vec![checkpoint(&log, 3), checkpoint_by(&new_key, &log, 6)], exact.clone());
    assert!(rotated.starts_with("ok: 6 entries verified"), "{rotated}");
    // The old key signing at 6 (stolen, say) counts for nothing: the end is not covered.
    let report = verify_with(&log, vec![checkpoint(&log, 3), checkpoint(&log, 6)], exact);
    assert!(report.starts_with("FAILED: entry 4: this and the 2 entries after it"), "{report}");
}

#[test]
fn a_witness_catches_a_rewritten_or_truncated_history() {
    let original = log(5);
    let witness = checkpoint(&original, 3);
    let policy = |witness: &Checkpoint| VerifyPolicy {
        max_unsigned_tail: 1000,
        witnesses: vec![witness.clone()],
        declared_entries: None,
    };
    let report = verify_with(&original, vec![checkpoint(&original, 5)], policy(&witness));
    assert!(report.contains("1 witnesses matched"), "{report}");

    // Rewritten from entry 2 on and re-signed (the attacker holds the key now): the witness
    // still remembers the old entry 3.
    let mut forged = Log { rows: original.rows[..1].to_vec() };
    let mut previous = original.rows[0].1;
    for seq in 2..=5 {
        let body = record(seq + 10).canonical_bytes(seq);
        let hash = entry_hash(&previous, &body);
        previous = hash;
        forged.rows.push((seq, hash, body));
    }
    let report = verify_with(&forged, vec![checkpoint(&forged, 5)], policy(&witness));
    assert_eq!(report, "FAILED: entry 3: differs from the witness checkpoint at tree size 3 (history was rewritten)");

    let mut truncated = original;
    truncated.rows.truncate(2);
    let report = verify_with(&truncated, vec![checkpoint(&truncated, 2)], policy(&witness));
    assert_eq!(report, "FAILED: entry 3: missing; the witness checkpoint covers 3 entries but the log ends after 2");
}

#[test]
fn a_recorded_head_that_disagrees_is_caught() {
    let log = log(3);
    let mut verifier = ChainVerifier::new(vec![], KeyTrust::Recorded(vec![]), VerifyPolicy::default());
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
    let report = export::verify_export(lines.iter().map(String::as_str), &trusted, &[]).expect("readable");
    assert!(report.is_ok() && report.entries == 4 && report.checkpoints_verified == 1, "{report}");

    let tampered: Vec<String> = lines.iter().map(|line| line.replace("team-3", "team-X")).collect();
    let report = export::verify_export(tampered.iter().map(String::as_str), &trusted, &[]).expect("readable");
    assert_eq!(
        report.to_string(),
        "FAILED: entry 3: hash does not match its content and the previous entry (edited, reordered or replaced)"
    );

    let truncated = &lines[..lines.len() - 1];
    let report = export::verify_export(truncated.iter().map(String::as_str), &trusted, &[]).expect("readable");
    assert_eq!(report.to_string(), "FAILED: entry 4: missing; a checkpoint covers 4 entries but the log ends after 3");

    let garbage = export::verify_export(["{\"type\":\"nope\"}"], &trusted, &[]);
    assert!(garbage.is_err_and(|e| e.line == 1));
}

/// Export lines of `log` with `checkpoints`, declaring `declared` entries.
fn export_lines(log: &Log, checkpoints: &[Checkpoint], declared: u64) -> Vec<String> {
    let mut lines =
        vec![serde_json::to_string(&export::ExportLine::header(&key().verifying_key(), declared)).expect("json")];
    for checkpoint in checkpoints {
        lines.push(serde_json::to_string(&export::ExportLine::checkpoint(checkpoint)).expect("json"));
    }
    for (seq, hash, body) in &log.rows {
        let line = export::ExportLine::entry(*seq, &Sha256Digest::from_bytes(*hash), body).expect("utf-8");
        lines.push(serde_json::to_string(&line).expect("json"));
    }
    lines
}

fn verify_lines(lines: &[String]) -> String {
    let trusted = [key().verifying_key()];
    export::verify_export(lines.iter().map(String::as_str), &trusted, &[]).expect("readable").to_string()
}

#[test]
fn an_export_forged_after_dropping_its_checkpoints_fails() {
    // The attack: rewrite entry 2, recompute every hash after it, delete the checkpoint lines.
    let original = log(4);
    let mut forged = Log { rows: original.rows[..1].to_vec() };
    let mut previous = original.rows[0].1;
    for seq in 2..=4 {
        let body = if seq == 2 { record(99).canonical_bytes(2) } else { original.rows[seq as usize - 1].2.clone() };
        let hash = entry_hash(&previous, &body);
        previous = hash;
        forged.rows.push((seq, hash, body));
    }
    let lines = export_lines(&forged, &[], 4);
    assert_eq!(verify_lines(&lines), "FAILED: entries 1 to 4: no checkpoint signed by a trusted key covers any entry");

    // Keeping an old checkpoint that does not cover the end fails too.
    let lines = export_lines(&forged, &[checkpoint(&original, 1)], 4);
    assert_eq!(
        verify_lines(&lines),
        "FAILED: entry 2: this and the 2 entries after it are not covered by a checkpoint signed by a trusted key (at most 0 may be)"
    );
}

#[test]
fn an_export_must_hold_the_entries_its_header_declares() {
    let log = log(4);
    let lines = export_lines(&log, &[checkpoint(&log, 4)], 5);
    assert_eq!(verify_lines(&lines), "FAILED: entry 5: the log declares 5 entries but holds 4");
    let lines = export_lines(&log, &[checkpoint(&log, 4)], 4);
    assert!(verify_lines(&lines).starts_with("ok: 4 entries verified"));
}

#[test]
fn a_witness_reads_back_from_what_audit_checkpoint_prints() {
    let log = log(2);
    let cp = checkpoint(&log, 2);
    let text = serde_json::to_string(&export::ExportLine::checkpoint(&cp)).expect("json");
    assert_eq!(export::parse_witness(&text), Ok(cp));
    assert!(export::parse_witness("{\"type\":\"entry\",\"seq\":1,\"hash\":\"x\",\"body\":\"{}\"}").is_err());
}

#[test]
fn the_signing_key_entry_format_is_stable() {
    let entry = SigningKeyEntry::new(&key().verifying_key(), "replica-2", Some("0123456789abcdef".to_owned()));
    insta::assert_snapshot!(serde_json::to_string(&entry).expect("json"), @r#"{"key_id":"b600306cfa76723f","public_key":"197f6b23e16c8532c6abc838facd5ea789be0c76b2920334039bfa8b3d368d61","label":"replica-2","replaces":"0123456789abcdef"}"#);
    assert_eq!(entry.verifying_key(), Ok(key().verifying_key()));
}
