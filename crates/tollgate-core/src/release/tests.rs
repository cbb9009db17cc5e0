use super::*;

fn input() -> ReleaseInput {
    ReleaseInput {
        version: "1.4.0".to_owned(),
        lifecycle: "default".to_owned(),
        release_type: "minor".to_owned(),
        strategy: None,
        artifacts: vec![
            ArtifactRefInput {
                service: "ledger".to_owned(),
                name: "ledger".to_owned(),
                version: "1.4.0".to_owned(),
                digest: format!("sha256:{}", "a".repeat(64)),
            },
            ArtifactRefInput {
                service: "api".to_owned(),
                name: "payments/api".to_owned(),
                version: "7.1.2".to_owned(),
                digest: format!("sha256:{}", "b".repeat(64)),
            },
        ],
        scope: vec![ScopeItemInput {
            ticket: "PAY-1".to_owned(),
            title: "Faster refunds".to_owned(),
            included: true,
            reason: None,
        }],
        ..ReleaseInput::default()
    }
}

fn release(state: ReleaseState, release_type: ReleaseType) -> Release {
    let mut content = input().parse().expect("valid input");
    content.release_type = release_type;
    let at: Timestamp = "2026-03-01T12:00:00Z".parse().expect("timestamp");
    Release {
        id: ReleaseId(1),
        content,
        state,
        created_by: UserName::parse("ana").expect("name"),
        created_at: at,
        updated_at: at,
        revision: 1,
    }
}

/// Applies `action` to a release in state `from` and returns the new state or the error text.
fn check(from: ReleaseState, action: ReleaseAction, expected: Result<ReleaseState, &str>) {
    let outcome =
        release(from, ReleaseType::Minor).transition(action, Some("because")).map_err(|error| error.to_string());
    assert_eq!(outcome, expected.map_err(str::to_owned), "{from} --{action}-->");
}

#[test]
fn the_release_state_machine_allows_only_its_transitions() {
    use ReleaseAction as A;
    use ReleaseState as S;
    check(S::Draft, A::Plan, Ok(S::Planned));
    check(S::Planned, A::FreezeScope, Ok(S::ScopeFrozen));
    check(S::ScopeFrozen, A::MarkReady, Ok(S::Ready));
    check(S::ScopeFrozen, A::UnfreezeScope, Ok(S::Planned));
    check(S::Ready, A::UnfreezeScope, Ok(S::Planned));
    check(S::Ready, A::StartDeployment, Ok(S::Deploying));
    check(S::Deploying, A::CompleteDeployment, Ok(S::Deployed));
    check(S::Deploying, A::RollBack, Ok(S::RolledBack));
    check(S::Deployed, A::RollBack, Ok(S::RolledBack));
    check(S::Deployed, A::Close, Ok(S::Closed));
    check(S::RolledBack, A::Close, Ok(S::Closed));
    check(S::Ready, A::Cancel, Ok(S::Cancelled));
    check(
        S::Draft,
        A::FreezeScope,
        Err("cannot freeze_scope a release that is draft; allowed next states: planned, cancelled"),
    );
    check(
        S::Draft,
        A::MarkReady,
        Err("cannot mark_ready a release that is draft; allowed next states: planned, cancelled"),
    );
    check(
        S::Deploying,
        A::Cancel,
        Err("cannot cancel a release that is deploying; allowed next states: deployed, rolled_back"),
    );
    check(S::Closed, A::Plan, Err("cannot plan a release that is closed; allowed next states: none (final state)"));
    check(
        S::Cancelled,
        A::Plan,
        Err("cannot plan a release that is cancelled; allowed next states: none (final state)"),
    );
}

#[test]
fn an_emergency_release_may_skip_planning() {
    let emergency = release(ReleaseState::Draft, ReleaseType::Emergency);
    assert_eq!(emergency.transition(ReleaseAction::MarkReady, None), Ok(ReleaseState::Ready));
}

#[test]
fn unfreezing_needs_a_reason() {
    let frozen = release(ReleaseState::ScopeFrozen, ReleaseType::Minor);
    assert_eq!(
        frozen.transition(ReleaseAction::UnfreezeScope, Some("  ")),
        Err(TransitionError::ReasonRequired { action: ReleaseAction::UnfreezeScope })
    );
}

#[test]
fn content_is_locked_from_scope_freeze_on() {
    for state in [ReleaseState::Draft, ReleaseState::Planned] {
        assert!(release(state, ReleaseType::Minor).check_content_editable().is_ok());
    }
    let frozen = release(ReleaseState::ScopeFrozen, ReleaseType::Minor);
    assert_eq!(
        frozen.check_content_editable().map_err(|e| e.to_string()),
        Err("scope is frozen: a release that is scope_frozen cannot change its content; unfreeze it first".to_owned())
    );
}

#[test]
fn manifest_digest_follows_what_is_deployed_only() {
    let content = input().parse().expect("valid");
    let digest = content.manifest_digest();
    // The expected value was computed independently, with Python's hashlib over
    // json.dumps(manifest, sort_keys=True, separators=(",", ":")).
    assert_eq!(digest.to_string(), "sha256:367f9499878d0463c8e8d4091c3c4fcc92181830facfaa11f165b99b717f0252");

    // Reordering the input does not change the digest: artifacts are sorted by service.
    let mut reordered = input();
    reordered.artifacts.reverse();
    assert_eq!(reordered.parse().expect("valid").manifest_digest(), digest);

    // Scope and planning are not deployed.
    let mut replanned = content.clone();
    replanned.scope.clear();
    replanned.rollback_criteria = "error rate above 1%".to_owned();
    assert_eq!(replanned.manifest_digest(), digest);

    // A different artifact digest or version is a different manifest.
    let mut rebuilt = content.clone();
    rebuilt.artifacts[0].digest = Sha256Digest::of(b"other build");
    assert_ne!(rebuilt.manifest_digest(), digest);
    let mut renumbered = content;
    renumbered.version = semver::Version::new(1, 4, 1);
    assert_ne!(renumbered.manifest_digest(), digest);
}

#[test]
fn every_problem_of_a_release_is_reported() {
    let mut bad = input();
    bad.version = "1.4".to_owned();
    bad.release_type = "hotfix".to_owned();
    bad.artifacts[0].digest = "sha256:abc".to_owned();
    bad.artifacts[1].service = "ledger".to_owned();
    bad.scope.push(ScopeItemInput {
        ticket: "PAY-2".to_owned(),
        title: "Dark mode".to_owned(),
        included: false,
        reason: None,
    });
    bad.planned_start = Some("2026-03-02T10:00:00Z".to_owned());
    bad.planned_end = Some("2026-03-02T09:00:00Z".to_owned());
    let violations = bad.parse().expect_err("invalid");
    let lines: Vec<String> = violations.0.iter().map(ToString::to_string).collect();
    insta::assert_snapshot!(lines.join("\n"), @r###"
    version: "1.4" is not a semantic version: unexpected end of input while parsing minor version number
    release_type: "hotfix" is not one of major, minor, patch, emergency
    artifacts[0].digest: "sha256:abc" is not a digest (expected sha256: followed by 64 lower-case hex characters)
    artifacts[1].service: service ledger already has an artifact in this release
    scope[1].reason: is required
    planned_end: end must be after start
    "###);
}

#[test]
fn timestamps_are_written_in_years_up_to_9998() {
    let check = |value: &str, expected: Result<&str, &str>| {
        let parsed = parse_timestamp(value).map(|t| t.to_string()).map_err(|p| p.to_string());
        assert_eq!(parsed.as_deref().map_err(String::as_str), expected, "{value}");
    };
    check("2026-03-01T12:00:00Z", Ok("2026-03-01T12:00:00Z"));
    check("2026-03-01T12:00:00.5+01:00", Ok("2026-03-01T11:00:00.5Z"));
    check("0000-01-01T00:00:00Z", Ok("0000-01-01T00:00:00Z"));
    check("9998-12-31T23:59:59-23:59", Ok("9999-01-01T23:58:59Z"));
    check("9999-01-01T00:00:00Z", Err("\"9999-01-01T00:00:00Z\" lies after the year 9998"));
    check("9999-12-31T23:59:59Z", Err("\"9999-12-31T23:59:59Z\" lies after the year 9998"));
    check("yesterday", Err("\"yesterday\" is not an RFC 3339 timestamp"));
}
