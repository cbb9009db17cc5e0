use super::*;

fn timestamp(text: &str) -> Timestamp {
    text.parse().expect("a valid timestamp")
}

/// The key CI signs with, trusted as "ci-release".
fn ci_key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

/// A key that was trusted as "old-ci" and is revoked in some tests.
fn old_key() -> SigningKey {
    SigningKey::from_bytes(&[8; 32])
}

/// A key nobody trusts.
fn stranger_key() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

fn trusted(key: &SigningKey, name: &str, revoked_at: Option<&str>) -> TrustedKey {
    TrustedKey { key: key.verifying_key(), name: name.to_owned(), revoked_at: revoked_at.map(timestamp) }
}

fn subject() -> Subject {
    Subject { name: "tollgate-1.4.2.tar.gz".to_owned(), digest: Sha256Digest::of(b"tollgate-1.4.2.tar.gz") }
}

fn provenance() -> Provenance {
    Provenance {
        build_type: "https://tollgate.dev/build/cargo-release/v1".to_owned(),
        builder_id: "https://ci.example.com/runners/linux-x86_64".to_owned(),
        repository: Some("https://git.example.com/tollgate/tollgate".to_owned()),
        commit: Some("7fd1a60b01f91b314f59955a4e4d4e80d8edf11d".to_owned()),
        invocation_id: Some("build-1842".to_owned()),
        started_on: Some(timestamp("2026-03-01T11:52:10Z")),
        finished_on: Some(timestamp("2026-03-01T11:58:43.250Z")),
    }
}

fn signed_by(key: &SigningKey) -> Envelope {
    sign(&Statement::provenance(subject(), &provenance()), key)
}

/// One verification: an envelope, the trusted keys, the artifact asked about, and when.
struct Case {
    envelope: Envelope,
    trusted: Vec<TrustedKey>,
    expected: Subject,
    at: Timestamp,
}

impl Case {
    /// CI's provenance of the artifact, signed by CI, checked against CI's key.
    fn signed() -> Case {
        Case {
            envelope: signed_by(&ci_key()),
            trusted: vec![trusted(&ci_key(), "ci-release", None)],
            expected: subject(),
            at: timestamp("2026-03-01T12:00:00Z"),
        }
    }
}

/// Verifies `case` and compares the outcome, as a line of text, with `expected`.
fn check(case: Case, expected: &str) {
    let outcome = match verify(&case.envelope, &case.trusted, &case.expected, case.at) {
        Ok(verified) => format!("verified: signed by {} ({})", verified.key_name, verified.key_id),
        Err(error) => error.to_string(),
    };
    assert_eq!(outcome, expected);
}

#[test]
fn a_signed_provenance_verifies_and_reads_back_unchanged() {
    let case = Case::signed();
    let verified = verify(&case.envelope, &case.trusted, &case.expected, case.at).expect("it verifies");
    assert_eq!(verified.key_id, "fe812c12f3ab4ce6");
    assert_eq!(verified.key_name, "ci-release");
    assert_eq!(verified.statement, Statement::provenance(subject(), &provenance()));
    assert_eq!(verified.provenance, Some(provenance()));
}

#[test]
fn an_envelope_reads_back_from_its_json_unchanged() {
    let envelope = signed_by(&ci_key());
    assert_eq!(Envelope::from_json(&envelope.to_json()), Ok(envelope));
}

#[test]
fn a_payload_changed_by_one_byte_does_not_verify() {
    let mut case = Case::signed();
    case.envelope.payload[20] ^= 1;
    check(case, "signature by key fe812c12f3ab4ce6 does not verify");
}

#[test]
fn a_signature_over_another_payload_type_does_not_verify() {
    let mut case = Case::signed();
    let signed_as_text = ci_key().sign(&pae("text/plain", &case.envelope.payload));
    case.envelope.signatures[0].signature = signed_as_text.to_bytes();
    check(case, "signature by key fe812c12f3ab4ce6 does not verify");
}

#[test]
fn a_signature_by_an_untrusted_key_is_refused() {
    let mut case = Case::signed();
    case.envelope = signed_by(&stranger_key());
    check(case, "signature by untrusted key dbc298251c51321b");
}

#[test]
fn a_signature_without_a_key_id_by_an_untrusted_key_says_so() {
    let mut case = Case::signed();
    case.envelope = signed_by(&stranger_key());
    case.envelope.signatures[0].key_id = String::new();
    check(case, "signature by untrusted key (no key id given)");
}

#[test]
fn the_key_id_hint_is_not_needed_to_find_the_trusted_key() {
    let mut case = Case::signed();
    case.envelope.signatures[0].key_id = "sha256:somewhere-else".to_owned();
    check(case, "verified: signed by ci-release (fe812c12f3ab4ce6)");
}

#[test]
fn a_key_revoked_before_the_verification_instant_is_refused_as_revoked() {
    let mut case = Case::signed();
    case.envelope = signed_by(&old_key());
    case.trusted.push(trusted(&old_key(), "old-ci", Some("2026-02-01T00:00:00Z")));
    check(case, "signature by key 5c29b78f10a35a49 (old-ci), which was revoked at 2026-02-01T00:00:00Z");
}

#[test]
fn a_key_revoked_at_the_verification_instant_is_already_revoked() {
    let mut case = Case::signed();
    case.envelope = signed_by(&old_key());
    case.trusted = vec![trusted(&old_key(), "old-ci", Some("2026-03-01T12:00:00Z"))];
    check(case, "signature by key 5c29b78f10a35a49 (old-ci), which was revoked at 2026-03-01T12:00:00Z");
}

#[test]
fn a_key_revoked_after_the_verification_instant_is_still_accepted() {
    let mut case = Case::signed();
    case.envelope = signed_by(&old_key());
    case.trusted = vec![trusted(&old_key(), "old-ci", Some("2026-04-01T00:00:00Z"))];
    check(case, "verified: signed by old-ci (5c29b78f10a35a49)");
}

#[test]
fn one_verifying_signature_among_several_is_enough() {
    let mut case = Case::signed();
    let stranger = signed_by(&stranger_key()).signatures[0].clone();
    case.envelope.signatures.insert(0, stranger);
    check(case, "verified: signed by ci-release (fe812c12f3ab4ce6)");
}

#[test]
fn a_revoked_key_is_reported_before_a_bad_signature_or_an_unknown_key() {
    let mut case = Case::signed();
    let revoked = signed_by(&old_key()).signatures[0].clone();
    let stranger = signed_by(&stranger_key()).signatures[0].clone();
    case.envelope.signatures[0].signature[0] ^= 1;
    case.envelope.signatures.insert(0, stranger);
    case.envelope.signatures.push(revoked);
    case.trusted.push(trusted(&old_key(), "old-ci", Some("2026-02-01T00:00:00Z")));
    check(case, "signature by key 5c29b78f10a35a49 (old-ci), which was revoked at 2026-02-01T00:00:00Z");
}

#[test]
fn a_bad_signature_is_reported_before_an_unknown_key() {
    let mut case = Case::signed();
    let stranger = signed_by(&stranger_key()).signatures[0].clone();
    case.envelope.signatures[0].signature[0] ^= 1;
    case.envelope.signatures.push(stranger);
    check(case, "signature by key fe812c12f3ab4ce6 does not verify");
}

#[test]
fn an_envelope_without_signatures_is_refused() {
    let mut case = Case::signed();
    case.envelope.signatures.clear();
    check(case, "the envelope has no signatures");
}

#[test]
fn a_payload_type_other_than_in_toto_is_refused() {
    let mut case = Case::signed();
    case.envelope.payload_type = "application/vnd.dev.sigstore.bundle+json".to_owned();
    check(case, r#"payload type "application/vnd.dev.sigstore.bundle+json" is not application/vnd.in-toto+json"#);
}

#[test]
fn an_attestation_about_another_digest_is_a_subject_mismatch() {
    let mut case = Case::signed();
    case.expected.digest = Sha256Digest::of(b"something else");
    check(
        case,
        "the attestation is not about tollgate-1.4.2.tar.gz@sha256:f41f3fa625ff120ddca7ef456bf66371ecea23c129f4e4c32367101edb516cf8; \
         its subjects are tollgate-1.4.2.tar.gz@sha256:43216fdeb749400af2ddf407c49ae5b5495acad04a480a7d1619ff9948cd0c4f",
    );
}

#[test]
fn an_attestation_about_another_name_is_a_subject_mismatch() {
    let mut case = Case::signed();
    case.expected.name = "tollgate-1.4.3.tar.gz".to_owned();
    check(
        case,
        "the attestation is not about tollgate-1.4.3.tar.gz@sha256:43216fdeb749400af2ddf407c49ae5b5495acad04a480a7d1619ff9948cd0c4f; \
         its subjects are tollgate-1.4.2.tar.gz@sha256:43216fdeb749400af2ddf407c49ae5b5495acad04a480a7d1619ff9948cd0c4f",
    );
}

#[test]
fn a_statement_by_another_producer_is_read_leniently() {
    // Not canonical, extra fields, a sha512-only subject, SLSA's GitHub Actions layout, and a
    // null that SLSA reads as absent.
    let payload = format!(
        r#"{{
          "_type": "https://in-toto.io/Statement/v1",
          "subject": [
            {{"name": "checksums.txt", "digest": {{"sha512": "00ff"}}}},
            {{"name": "tollgate-1.4.2.tar.gz", "digest": {{"sha256": "{}", "sha512": "00ff"}}}}
          ],
          "predicateType": "https://slsa.dev/provenance/v1",
          "predicate": {{
            "buildDefinition": {{
              "buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
              "externalParameters": {{"workflow": {{"ref": "refs/tags/v1.4.2", "repository": "https://github.com/o/tollgate", "path": ".github/workflows/release.yml"}}}},
              "resolvedDependencies": [
                {{"uri": "pkg:cargo/serde@1.0.200", "digest": {{"sha256": "ab"}}}},
                {{"uri": "git+https://github.com/o/tollgate@refs/tags/v1.4.2", "digest": {{"gitCommit": "7fd1a60b01f91b314f59955a4e4d4e80d8edf11d"}}}}
              ]
            }},
            "runDetails": {{
              "builder": {{"id": "https://github.com/actions/runner/github-hosted"}},
              "metadata": {{"invocationId": "https://github.com/o/tollgate/actions/runs/1/attempts/1", "startedOn": null}},
              "byproducts": []
            }}
          }},
          "vendor_extra": true
        }}"#,
        subject().digest.to_hex().to_uppercase()
    );
    let key = ci_key();
    let signature = key.sign(&pae(PAYLOAD_TYPE, payload.as_bytes()));
    let envelope = Envelope {
        payload_type: PAYLOAD_TYPE.to_owned(),
        payload: payload.into_bytes(),
        signatures: vec![EnvelopeSignature { key_id: String::new(), signature: signature.to_bytes() }],
    };
    let case = Case::signed();
    let verified = verify(&envelope, &case.trusted, &subject(), case.at).expect("it verifies");
    assert_eq!(verified.statement.subjects, vec![subject()]);
    assert_eq!(
        verified.provenance,
        Some(Provenance {
            build_type: "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1".to_owned(),
            builder_id: "https://github.com/actions/runner/github-hosted".to_owned(),
            repository: Some("git+https://github.com/o/tollgate@refs/tags/v1.4.2".to_owned()),
            commit: Some("7fd1a60b01f91b314f59955a4e4d4e80d8edf11d".to_owned()),
            invocation_id: Some("https://github.com/o/tollgate/actions/runs/1/attempts/1".to_owned()),
            started_on: None,
            finished_on: None,
        })
    );
}

#[test]
fn malformed_statements_say_what_is_wrong() {
    let digest = subject().digest.to_hex();
    let subject_json = format!(r#"[{{"name": "tollgate-1.4.2.tar.gz", "digest": {{"sha256": "{digest}"}}}}]"#);
    let slsa = |predicate: &str| {
        format!(
            r#"{{"_type": "https://in-toto.io/Statement/v1", "subject": {subject_json}, "predicateType": "https://slsa.dev/provenance/v1", "predicate": {predicate}}}"#
        )
    };
    let cases = [
        ("not json".to_owned(), "malformed statement: the payload is not JSON: expected ident at line 1 column 2"),
        ("[]".to_owned(), "malformed statement: the statement is not a JSON object"),
        (
            format!(r#"{{"_type": "https://in-toto.io/Statement/v0.1", "subject": {subject_json}, "predicateType": "x"}}"#),
            r#"malformed statement: _type is "https://in-toto.io/Statement/v0.1", not https://in-toto.io/Statement/v1"#,
        ),
        (
            r#"{"_type": "https://in-toto.io/Statement/v1", "predicateType": "x"}"#.to_owned(),
            "malformed statement: subject is missing",
        ),
        (
            r#"{"_type": "https://in-toto.io/Statement/v1", "subject": [], "predicateType": "x"}"#.to_owned(),
            "malformed statement: subject is empty",
        ),
        (
            r#"{"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "a"}], "predicateType": "x"}"#.to_owned(),
            "malformed statement: subject[0].digest is missing",
        ),
        (
            r#"{"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "a", "digest": {"sha256": "abc"}}], "predicateType": "x"}"#.to_owned(),
            "malformed statement: subject[0].digest.sha256 is not 64 hex characters",
        ),
        (
            format!(r#"{{"_type": "https://in-toto.io/Statement/v1", "subject": {subject_json}}}"#),
            "malformed statement: predicateType is missing",
        ),
        (
            format!(r#"{{"_type": "https://in-toto.io/Statement/v1", "subject": {subject_json}, "predicateType": "x", "predicate": 3}}"#),
            "malformed statement: predicate is not an object",
        ),
        (
            slsa(r#"{"buildDefinition": {"buildType": "t"}, "runDetails": {"builder": {}}}"#),
            "malformed statement: predicate.runDetails.builder.id is missing",
        ),
        (
            slsa(r#"{"buildDefinition": {"buildType": "t"}, "runDetails": {"builder": {"id": "b"}, "metadata": {"startedOn": "yesterday"}}}"#),
            "malformed statement: predicate.runDetails.metadata.startedOn is not an RFC 3339 timestamp",
        ),
        (
            slsa(r#"{"buildDefinition": {"buildType": "t", "resolvedDependencies": [{"uri": 1, "digest": {"gitCommit": "c"}}]}, "runDetails": {"builder": {"id": "b"}}}"#),
            "malformed statement: predicate.buildDefinition.resolvedDependencies[0].uri is not a string",
        ),
    ];
    for (payload, expected) in cases {
        let mut case = Case::signed();
        case.envelope.payload = payload.into_bytes();
        let signature = ci_key().sign(&pae(PAYLOAD_TYPE, &case.envelope.payload));
        case.envelope.signatures[0].signature = signature.to_bytes();
        check(case, expected);
    }
}

#[test]
fn malformed_envelopes_name_the_field() {
    let sig = STANDARD.encode([1u8; 64]);
    let cases = [
        ("{", "malformed envelope: envelope is not JSON: EOF while parsing an object at line 1 column 1".to_owned()),
        ("[]", "malformed envelope: envelope is not a JSON object".to_owned()),
        (r#"{"payloadType": "t", "signatures": []}"#, "malformed envelope: payload is missing".to_owned()),
        (r#"{"payload": "aGk=", "signatures": []}"#, "malformed envelope: payloadType is missing".to_owned()),
        (
            r#"{"payload": "not base64!", "payloadType": "t", "signatures": []}"#,
            "malformed envelope: payload is not base64".to_owned(),
        ),
        (
            r#"{"payload": 5, "payloadType": "t", "signatures": []}"#,
            "malformed envelope: payload is not a string".to_owned(),
        ),
        (r#"{"payload": "aGk=", "payloadType": "t"}"#, "malformed envelope: signatures is missing".to_owned()),
        (
            r#"{"payload": "aGk=", "payloadType": "t", "signatures": {}}"#,
            "malformed envelope: signatures is not an array".to_owned(),
        ),
        (
            r#"{"payload": "aGk=", "payloadType": "t", "signatures": ["x"]}"#,
            "malformed envelope: signatures[0] is not an object".to_owned(),
        ),
        (
            r#"{"payload": "aGk=", "payloadType": "t", "signatures": [{"keyid": "k"}]}"#,
            "malformed envelope: signatures[0].sig is missing".to_owned(),
        ),
        (
            &*format!(
                r#"{{"payload": "aGk=", "payloadType": "t", "signatures": [{{"sig": "{sig}"}}, {{"sig": "$$"}}]}}"#
            ),
            "malformed envelope: signatures[1].sig is not base64".to_owned(),
        ),
        (
            r#"{"payload": "aGk=", "payloadType": "t", "signatures": [{"sig": "aGVsbG8="}]}"#,
            "malformed envelope: signatures[0].sig is 5 bytes long, not the 64 of an ed25519 signature".to_owned(),
        ),
        (
            &*format!(r#"{{"payload": "aGk=", "payloadType": "t", "signatures": [{{"keyid": 7, "sig": "{sig}"}}]}}"#),
            "malformed envelope: signatures[0].keyid is not a string".to_owned(),
        ),
    ];
    for (json, expected) in cases {
        let outcome = match Envelope::from_json(json) {
            Ok(envelope) => format!("parsed: {envelope:?}"),
            Err(error) => error.to_string(),
        };
        assert_eq!(outcome, expected, "{json}");
    }
}

#[test]
fn envelopes_in_url_safe_base64_without_padding_and_unknown_members_are_read() {
    let json = r#"{"payload": "-_8", "payloadType": "t", "signatures": [{"sig": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ"}], "extra": 1}"#;
    assert_eq!(
        Envelope::from_json(json),
        Ok(Envelope {
            payload_type: "t".to_owned(),
            payload: vec![0xfb, 0xff],
            signatures: vec![EnvelopeSignature { key_id: String::new(), signature: [1; 64] }],
        })
    );
}

#[test]
fn pae_matches_the_dsse_test_vector() {
    assert_eq!(
        pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    );
    assert_eq!(pae("", b""), b"DSSEv1 0  0 ");
}

#[test]
fn pae_counts_bytes_not_characters() {
    assert_eq!(pae("é", "ü".as_bytes()), "DSSEv1 2 é 2 ü".as_bytes());
}

#[test]
fn the_signed_statement_is_canonical_json() {
    let payload = signed_by(&ci_key()).payload;
    insta::assert_snapshot!(String::from_utf8(payload).expect("utf-8"), @r#"{"_type":"https://in-toto.io/Statement/v1","predicate":{"buildDefinition":{"buildType":"https://tollgate.dev/build/cargo-release/v1","externalParameters":{"repository":"https://git.example.com/tollgate/tollgate"},"resolvedDependencies":[{"digest":{"gitCommit":"7fd1a60b01f91b314f59955a4e4d4e80d8edf11d"},"uri":"https://git.example.com/tollgate/tollgate"}]},"runDetails":{"builder":{"id":"https://ci.example.com/runners/linux-x86_64"},"metadata":{"finishedOn":"2026-03-01T11:58:43.25Z","invocationId":"build-1842","startedOn":"2026-03-01T11:52:10Z"}}},"predicateType":"https://slsa.dev/provenance/v1","subject":[{"digest":{"sha256":"43216fdeb749400af2ddf407c49ae5b5495acad04a480a7d1619ff9948cd0c4f"},"name":"tollgate-1.4.2.tar.gz"}]}"#);
}

/// `scripts/check-dsse-interop.py` verifies this envelope with independent implementations.
#[test]
fn the_envelope_signed_by_a_fixed_key_is_stable() {
    insta::assert_snapshot!(signed_by(&ci_key()).to_json(), @r#"{"payload":"eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEiLCJwcmVkaWNhdGUiOnsiYnVpbGREZWZpbml0aW9uIjp7ImJ1aWxkVHlwZSI6Imh0dHBzOi8vdG9sbGdhdGUuZGV2L2J1aWxkL2NhcmdvLXJlbGVhc2UvdjEiLCJleHRlcm5hbFBhcmFtZXRlcnMiOnsicmVwb3NpdG9yeSI6Imh0dHBzOi8vZ2l0LmV4YW1wbGUuY29tL3RvbGxnYXRlL3RvbGxnYXRlIn0sInJlc29sdmVkRGVwZW5kZW5jaWVzIjpbeyJkaWdlc3QiOnsiZ2l0Q29tbWl0IjoiN2ZkMWE2MGIwMWY5MWIzMTRmNTk5NTVhNGU0ZDRlODBkOGVkZjExZCJ9LCJ1cmkiOiJodHRwczovL2dpdC5leGFtcGxlLmNvbS90b2xsZ2F0ZS90b2xsZ2F0ZSJ9XX0sInJ1bkRldGFpbHMiOnsiYnVpbGRlciI6eyJpZCI6Imh0dHBzOi8vY2kuZXhhbXBsZS5jb20vcnVubmVycy9saW51eC14ODZfNjQifSwibWV0YWRhdGEiOnsiZmluaXNoZWRPbiI6IjIwMjYtMDMtMDFUMTE6NTg6NDMuMjVaIiwiaW52b2NhdGlvbklkIjoiYnVpbGQtMTg0MiIsInN0YXJ0ZWRPbiI6IjIwMjYtMDMtMDFUMTE6NTI6MTBaIn19fSwicHJlZGljYXRlVHlwZSI6Imh0dHBzOi8vc2xzYS5kZXYvcHJvdmVuYW5jZS92MSIsInN1YmplY3QiOlt7ImRpZ2VzdCI6eyJzaGEyNTYiOiI0MzIxNmZkZWI3NDk0MDBhZjJkZGY0MDdjNDlhZTViNTQ5NWFjYWQwNGE0ODBhN2QxNjE5ZmY5OTQ4Y2QwYzRmIn0sIm5hbWUiOiJ0b2xsZ2F0ZS0xLjQuMi50YXIuZ3oifV19","payloadType":"application/vnd.in-toto+json","signatures":[{"keyid":"fe812c12f3ab4ce6","sig":"azVULfGEAILjuxtWj4PDnyqKwkUwR67LPHmDH1tUAjKgW8x+pe0nOi7vADoSmfq/VZXxHJEF3ZYZTrjKCnw8AQ=="}]}"#);
}

#[test]
fn a_public_key_round_trips_through_pem() {
    let key = ci_key().verifying_key();
    let pem = public_key_pem(&key);
    insta::assert_snapshot!(pem, @"
    -----BEGIN PUBLIC KEY-----
    MCowBQYDK2VwAyEA6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw=
    -----END PUBLIC KEY-----
    ");
    assert_eq!(parse_public_key_pem(&pem), Ok(key));
}

#[test]
fn a_malformed_pem_public_key_is_refused() {
    let error =
        parse_public_key_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").expect_err("not a key");
    assert!(error.to_string().starts_with("not an ed25519 public key in PEM form: "), "{error}");
}
