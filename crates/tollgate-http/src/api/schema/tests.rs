use regex::Regex;
use tollgate_core::artifact::{ArtifactName, ArtifactVersion, MediaType, Tag};
use tollgate_core::attestation::Envelope;
use tollgate_core::digest::Sha256Digest;
use tollgate_core::name::{check_text, TeamName};
use tollgate_core::release::{parse_timestamp, parse_version, ArtifactRefInput, ReleaseInput, ScopeItemInput};

use super::*;

/// Every string of up to `max_len` characters over `alphabet`.
fn strings(alphabet: &[char], max_len: usize) -> Vec<String> {
    let mut all = vec![String::new()];
    let mut last = vec![String::new()];
    for _ in 0..max_len {
        last = last.iter().flat_map(|prefix| alphabet.iter().map(move |c| format!("{prefix}{c}"))).collect();
        all.extend(last.iter().cloned());
    }
    all
}

/// Checks that a string schema (pattern and maximum length) accepts exactly what `parser` does.
fn check(pattern: &str, max_len: Option<usize>, values: &[String], parser: impl Fn(&str) -> bool) {
    let regex = Regex::new(pattern).expect("the pattern compiles");
    let mut disagreements = Vec::new();
    for value in values {
        let documented = regex.is_match(value) && max_len.is_none_or(|max| value.chars().count() <= max);
        if documented != parser(value) {
            disagreements.push(format!("{value:?}: document {documented}, server {}", !documented));
        }
    }
    assert!(disagreements.is_empty(), "{pattern}\n{}", disagreements.join("\n"));
}

fn table(values: &[&str]) -> Vec<String> {
    values.iter().map(|value| (*value).to_owned()).collect()
}

fn with_lengths(values: Vec<String>, unit: &str, lengths: &[usize]) -> Vec<String> {
    values.into_iter().chain(lengths.iter().map(|n| unit.repeat(*n))).collect()
}

const TOKEN_ALPHABET: &[char] = &['a', 'Z', '0', '-', '_', '.', '/', '+', '#'];

#[test]
fn the_name_pattern_is_the_name_parser() {
    let values = with_lengths(strings(&['a', 'Z', '0', '-', '_', '.', ' ', 'é'], 4), "a", &[62, 63, 64]);
    check(NAME_PATTERN, Some(MAX_NAME_LEN), &values, |value| TeamName::parse(value).is_ok());
}

#[test]
fn the_artifact_patterns_are_the_artifact_parsers() {
    let values = with_lengths(strings(TOKEN_ALPHABET, 5), "a", &[64, 65, 127, 128, 129]);
    check(ARTIFACT_NAME_PATTERN, Some(MAX_ARTIFACT_NAME_LEN), &values, |value| ArtifactName::parse(value).is_ok());
    check(ARTIFACT_VERSION_PATTERN, Some(MAX_ARTIFACT_VERSION_LEN), &values, |value| {
        ArtifactVersion::parse(value).is_ok()
    });
    check(TAG_PATTERN, Some(MAX_TAG_LEN), &values, |value| Tag::parse(value).is_ok());
    let longer = table(&["payments/ledger", "a./b", "a/./b", "a/.", "a.-.b", "a//b", "a/../b", "./a", "_a", "-a"]);
    check(ARTIFACT_NAME_PATTERN, Some(MAX_ARTIFACT_NAME_LEN), &longer, |value| ArtifactName::parse(value).is_ok());
}

/// Whether a release with one artifact and one scope item built by `edit` has no problem with
/// `field`.
fn release_accepts(field: &str, edit: impl Fn(&mut ArtifactRefInput, &mut ScopeItemInput)) -> bool {
    let mut artifact = ArtifactRefInput {
        service: "ledger".into(),
        name: "ledger".into(),
        version: "1.0.0".into(),
        digest: Sha256Digest::of(b"ledger").to_string(),
    };
    let mut item = ScopeItemInput { ticket: "PAY-1".into(), title: "Refunds".into(), included: true, reason: None };
    edit(&mut artifact, &mut item);
    let input = ReleaseInput {
        version: "1.0.0".into(),
        lifecycle: "default".into(),
        release_type: "minor".into(),
        artifacts: vec![artifact],
        scope: vec![item],
        ..ReleaseInput::default()
    };
    match input.parse() {
        Ok(_) => true,
        Err(violations) => !violations.0.iter().any(|violation| violation.field == field),
    }
}

#[test]
fn a_release_reads_artifact_names_versions_and_tickets_by_these_patterns() {
    let values = with_lengths(strings(TOKEN_ALPHABET, 4), "a", &[64, 65, 128, 129]);
    check(ARTIFACT_NAME_PATTERN, Some(MAX_ARTIFACT_NAME_LEN), &values, |value| {
        release_accepts("artifacts[0].name", |artifact, _| artifact.name = value.to_owned())
    });
    check(ARTIFACT_VERSION_PATTERN, Some(MAX_ARTIFACT_VERSION_LEN), &values, |value| {
        release_accepts("artifacts[0].version", |artifact, _| artifact.version = value.to_owned())
    });
    check(TICKET_PATTERN, Some(MAX_TICKET_LEN), &values, |value| {
        release_accepts("scope[0].ticket", |_, item| item.ticket = value.to_owned())
    });
}

#[test]
fn the_digest_and_media_type_patterns_are_their_parsers() {
    let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    let digests = table(&[
        &format!("sha256:{hex}"),
        &format!("sha256:{}", hex.to_uppercase()),
        &format!("sha256:{}", &hex[1..]),
        &format!("sha256:{hex}0"),
        &format!("sha512:{hex}"),
        &format!("sha256:{}g", &hex[1..]),
        hex,
        "",
    ]);
    check(DIGEST_PATTERN, None, &digests, |value| Sha256Digest::parse(value).is_ok());
    let values = with_lengths(strings(&['a', 'Z', '/', '+', ';', ' ', '$'], 4), "a", &[]);
    let long = table(&[&format!("a/{}", "b".repeat(125)), &format!("a/{}", "b".repeat(126))]);
    for values in [values, long] {
        check(MEDIA_TYPE_PATTERN, Some(MAX_MEDIA_TYPE_LEN), &values, |value| MediaType::parse(value).is_ok());
    }
}

#[test]
fn the_text_patterns_are_the_text_check_on_every_character() {
    let not_blank = Regex::new(NOT_BLANK_PATTERN).expect("the pattern compiles");
    let statement = Regex::new(STORED_STATEMENT_PATTERN).expect("the pattern compiles");
    let text = Regex::new(STORED_TEXT_PATTERN).expect("the pattern compiles");
    for character in (0..=0x10FFFF).filter_map(char::from_u32) {
        let alone = character.to_string();
        let blank = character.is_whitespace();
        assert_eq!(not_blank.is_match(&alone), !blank, "U+{:04X}", u32::from(character));
        for value in [alone.clone(), format!(" {alone}x"), format!("x{alone} ")] {
            assert_eq!(statement.is_match(&value), check_text(&value, 10, true).is_ok(), "{value:?}");
            assert_eq!(text.is_match(&value), check_text(&value, 10, false).is_ok(), "{value:?}");
        }
    }
    for value in ["", " ", " \t x \n"] {
        assert_eq!(statement.is_match(value), check_text(value, 10, true).is_ok(), "{value:?}");
        assert_eq!(text.is_match(value), check_text(value, 10, false).is_ok(), "{value:?}");
    }
}

#[test]
fn numbers_are_bounded_exactly() {
    let regex =
        |max: u64, with_zero: bool| Regex::new(&format!("^{}$", decimal_up_to(max, with_zero))).expect("compiles");
    for (max, with_zero) in [(u64::MAX, true), (i64::MAX.unsigned_abs(), false), (5, true), (10, false), (100, true)] {
        let regex = regex(max, with_zero);
        let digits = max.to_string();
        let mut values = table(&["0", "1", "9", "10", "01", "00", "", "-1", "+1"]);
        values.extend([digits.clone(), format!("{digits}0"), format!("0{digits}")]);
        for position in 0..digits.len() {
            for digit in '0'..='9' {
                let mut candidate = digits.clone().into_bytes();
                candidate[position] = digit as u8;
                values.push(String::from_utf8(candidate).expect("ASCII"));
            }
        }
        for value in values {
            let parsed = value.parse::<u64>().ok().filter(|_| value == "0" || !value.starts_with(['0', '+']));
            let expected = parsed.is_some_and(|number| number <= max && (with_zero || number > 0));
            assert_eq!(regex.is_match(&value), expected, "{value} against {max}");
        }
    }
}

#[test]
fn the_version_pattern_is_the_semver_parser() {
    let mut values = strings(&['0', '1', '.', '-', '+', 'a'], 6);
    values.retain(|value| value.matches('.').count() >= 2);
    values.extend(table(&[
        "1.0.0",
        "1.4.0-rc.1+build.5",
        "18446744073709551615.0.0",
        "18446744073709551616.0.0",
        "0.0.99999999999999999999",
        "1.0.0-01",
        "1.0.0-0a",
        "1.0.0-99999999999999999999999",
        "1.0.0+01",
        "1.0.0-",
        "1.0.0+",
        "1.0.0-a..b",
        "v1.0.0",
        " 1.0.0",
        "1.0.0 ",
        "1.0",
    ]));
    check(&version_pattern(), None, &values, |value| parse_version(value).is_ok());
}

#[test]
fn the_release_reference_pattern_is_the_release_reference_parser() {
    let mut values = table(&[
        "1",
        "42",
        "0",
        "007",
        "+5",
        "-1",
        "9223372036854775807",
        "9223372036854775808",
        "1.0.0",
        "1.0",
        "abc",
        "",
    ]);
    values.extend(strings(&['0', '1', '.', '-', '+'], 5));
    check(&release_ref_pattern(), None, &values, |value| crate::api::releases::release_ref(value).is_ok());
}

#[test]
fn the_timestamp_pattern_is_the_year_limit_of_the_timestamp_parser() {
    let years = (0..=9999).map(|year| format!("{year:04}-06-15T12:00:00Z")).collect::<Vec<_>>();
    check(&timestamp_pattern(), None, &years, |value| parse_timestamp(value).is_ok());
}

#[test]
fn the_tag_list_patterns_are_the_push_tag_rules() {
    let pattern = Regex::new(&tag_list_pattern()).expect("compiles");
    let length = Regex::new(&tag_list_length_pattern()).expect("compiles");
    let mut values = strings(&['a', ',', '.', '-', 'Z'], 5);
    let tag = "a".repeat(MAX_TAG_LEN);
    values.extend([
        tag.clone(),
        format!("{tag}a"),
        format!("b,{tag}"),
        format!("b,{tag}a"),
        vec!["x"; MAX_TAGS].join(","),
        vec!["x"; MAX_TAGS + 1].join(","),
    ]);
    for value in values {
        let tags: Vec<&str> = value.split(',').collect();
        let expected = tags.len() <= MAX_TAGS && tags.iter().all(|tag| Tag::parse(tag).is_ok());
        assert_eq!(pattern.is_match(&value) && length.is_match(&value), expected, "{value:?}");
    }
}

#[test]
fn the_selector_patterns_are_the_selector_rules() {
    let name = Regex::new(&name_selector_pattern()).expect("compiles");
    let team = Regex::new(&team_selector_pattern()).expect("compiles");
    let mut values: Vec<String> = strings(&['a', '/', '-', ':'], 4)
        .iter()
        .flat_map(|rest| ["name:", "team:", "tag:", ""].iter().map(move |kind| format!("{kind}{rest}")))
        .collect();
    values.extend([format!("name:{}", "a".repeat(128)), format!("name:{}", "a".repeat(129))]);
    values.extend([format!("team:{}", "a".repeat(63)), format!("team:{}", "a".repeat(64))]);
    for value in values {
        // The rule of `set_retention_policy`: the kind before the first colon, the rest parsed.
        let expected = match value.split_once(':') {
            Some(("name", rest)) => ArtifactName::parse(rest).is_ok(),
            Some(("team", rest)) => TeamName::parse(rest).is_ok(),
            _ => false,
        };
        let length = value.chars().count();
        let documented = (name.is_match(&value) && length <= 5 + MAX_ARTIFACT_NAME_LEN)
            || (team.is_match(&value) && length <= 5 + MAX_NAME_LEN);
        assert_eq!(documented, expected, "{value:?}");
    }
}

#[test]
fn the_public_key_pattern_accepts_the_keys_the_server_reads() {
    let pem = tollgate_core::attestation::public_key_pem(&tollgate_testkit::signer().verifying_key());
    let regex = Regex::new(PUBLIC_KEY_PEM_PATTERN).expect("compiles");
    let readable = |value: &str| tollgate_core::attestation::parse_public_key_pem(value).is_ok();
    let variants = [
        pem.clone(),
        pem.trim_end().to_owned(),
        pem.replace('\n', "\r\n"),
        format!("\n  {pem}\n\n"),
        pem.replace("-----\nMCow", "-----\n\nMCow"),
        pem.replace("PUBLIC KEY", "PRIVATE KEY"),
        pem.replace("MCow", "MCox"),
        pem.replacen('=', "", 1),
    ];
    for variant in variants {
        assert_eq!(regex.is_match(&variant), readable(&variant), "{variant:?}");
    }
}

#[test]
fn the_base64_patterns_are_the_envelope_parser() {
    let payload = Regex::new(&base64_pattern(None)).expect("compiles");
    let signature = Regex::new(&base64_pattern(Some(64))).expect("compiles");
    let parses = |payload: &str, signature: &str| {
        let envelope = serde_json::json!({
            "payloadType": "application/vnd.in-toto+json",
            "payload": payload,
            "signatures": [{ "sig": signature }],
        });
        Envelope::from_json(&envelope.to_string()).is_ok()
    };
    let valid_signature = "A".repeat(86);
    for value in strings(&['A', 'B', 'Q', '+', '_', '-', '/', '='], 5) {
        assert_eq!(payload.is_match(&value), parses(&value, &valid_signature), "payload {value:?}");
    }
    let valid_payload = "";
    for value in [
        "A".repeat(86),
        format!("{}==", "A".repeat(86)),
        format!("{}=", "A".repeat(86)),
        format!("{}B", "A".repeat(85)),
        format!("{}Q", "A".repeat(85)),
        "A".repeat(87),
        "A".repeat(84),
        format!("{}-_", "A".repeat(84)),
        format!("{}+_", "A".repeat(84)),
    ] {
        assert_eq!(signature.is_match(&value), parses(valid_payload, &value), "signature {value:?}");
    }
}

#[test]
fn keyword_lists_come_from_the_parsers() {
    let now: tollgate_core::Timestamp = "2026-03-01T12:00:00Z".parse().expect("a time");
    for status in tollgate_core::deployment::DeploymentStatus::ALL {
        let input =
            tollgate_core::deployment::DeploymentInput { status: Some((*status).to_owned()), ..Default::default() };
        assert_eq!(new_deployment_statuses().contains(status), input.parse(now).is_ok(), "{status}");
    }
    assert_eq!(manual_actions(false), ["plan", "freeze_scope", "mark_ready", "close"]);
    assert_eq!(manual_actions(true), ["unfreeze_scope", "roll_back", "cancel"]);
}

#[test]
fn the_audit_filter_patterns_are_the_filter_parser() {
    use tollgate_core::audit::search::{parse_actor, ActionName, AuditFilter, AuditFilterInput, MAX_OBJECT_ID_LEN};

    let actors = with_lengths(strings(&['a', '0', '-', '@', 's', 'S'], 4), "a", &[62, 63, 64]);
    let actors = actors.into_iter().chain(table(&["@system", "system", "@System", "@system ", "@systems"])).collect();
    let actors: Vec<String> = actors;
    check(&actor_pattern(), Some(MAX_NAME_LEN), &actors, |value| parse_actor(value).is_ok());

    let kinds = tollgate_core::audit::ObjectKind::ALL;
    let verbs = tollgate_core::audit::AuditAction::ALL;
    let mut actions: Vec<String> =
        kinds.iter().flat_map(|kind| verbs.iter().map(move |verb| format!("{kind}.{verb}"))).collect();
    actions.extend(table(&[
        "release",
        "release.",
        ".create",
        "release.transition.x",
        "Release.create",
        "release_create",
        "releasex.create",
        "release.createx",
        "jit_grant.revoke",
    ]));
    actions.extend(strings(&['a', '.', 'x'], 3));
    check(&audit_action_pattern(), None, &actions, |value| ActionName::parse(value).is_ok());

    let ids = with_lengths(strings(&['a', '\0', ' ', 'é'], 3), "é", &[255, 256, 257]);
    check("^[^\\u0000]+$", Some(MAX_OBJECT_ID_LEN), &ids, |value| {
        let input = AuditFilterInput {
            object_kind: Some("release".to_owned()),
            object_id: Some(value.to_owned()),
            ..AuditFilterInput::default()
        };
        AuditFilter::parse(&input).is_ok()
    });
}
