use super::*;
use crate::lifecycle::LifecycleInput;
use crate::release::ReleaseInput;

fn at(value: &str) -> Timestamp {
    value.parse().expect("timestamp")
}

fn env(name: &str) -> EnvironmentName {
    EnvironmentName::parse(name).expect("name")
}

fn release(state: ReleaseState, release_type: &str) -> Release {
    let content = ReleaseInput {
        version: "1.0.0".to_owned(),
        lifecycle: "default".to_owned(),
        release_type: release_type.to_owned(),
        ..ReleaseInput::default()
    }
    .parse()
    .expect("valid");
    Release {
        id: ReleaseId(1),
        content,
        state,
        created_by: UserName::parse("ana").expect("name"),
        created_at: at("2026-01-01T00:00:00Z"),
        updated_at: at("2026-01-01T00:00:00Z"),
        revision: 1,
    }
}

fn lifecycle() -> Lifecycle {
    LifecycleInput {
        name: "default".to_owned(),
        environments: vec!["dev".to_owned(), "staging".to_owned(), "prod".to_owned()],
    }
    .parse()
    .expect("valid")
}

fn check(
    state: ReleaseState,
    release_type: &str,
    target: &str,
    succeeded: &[&str],
    expected: Result<Promotion, Vec<&str>>,
) {
    let succeeded_in = succeeded.iter().map(|name| env(name)).collect();
    let outcome = check_promotion(&release(state, release_type), &lifecycle(), &env(target), &succeeded_in)
        .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>());
    let expected = expected.map_err(|errors| errors.iter().map(|e| e.to_string()).collect::<Vec<_>>());
    assert_eq!(outcome, expected, "{release_type} release to {target} after {succeeded:?}");
}

#[test]
fn promotion_follows_the_lifecycle() {
    use ReleaseState as S;
    check(S::Ready, "minor", "dev", &[], Ok(Promotion::Followed));
    check(S::Deploying, "minor", "staging", &["dev"], Ok(Promotion::Followed));
    check(S::Deploying, "minor", "prod", &["dev", "staging"], Ok(Promotion::Followed));
    check(
        S::Deploying,
        "minor",
        "prod",
        &["dev"],
        Err(vec!["release 1.0.0 has not succeeded in staging, which comes before prod in lifecycle default"]),
    );
    check(S::Deploying, "emergency", "prod", &["dev"], Ok(Promotion::EmergencySkipped { skipped: env("staging") }));
    check(
        S::Planned,
        "minor",
        "qa",
        &[],
        Err(vec![
            "release 1.0.0 is planned; only a ready or deploying release can be deployed",
            "environment qa is not in lifecycle default (dev -> staging -> prod)",
        ]),
    );
}

fn deployed(
    id: i64,
    version: &str,
    services: &[(&str, &str)],
    finished: &str,
    rolled_back: Option<&str>,
) -> DeployedRelease {
    let artifacts = services
        .iter()
        .map(|(service, artifact_version)| ArtifactRef {
            service: ServiceName::parse(service).expect("name"),
            name: crate::artifact::ArtifactName::parse(service).expect("name"),
            version: crate::artifact::ArtifactVersion::parse(artifact_version).expect("version"),
            digest: Sha256Digest::of(format!("{service}{artifact_version}").as_bytes()),
        })
        .collect();
    DeployedRelease {
        deployment: Deployment {
            id: DeploymentId(id),
            release: ReleaseId(id),
            release_version: version.parse().expect("version"),
            environment: env("prod"),
            manifest_digest: Sha256Digest::of(version.as_bytes()),
            status: if rolled_back.is_some() { DeploymentStatus::RolledBack } else { DeploymentStatus::Succeeded },
            promotion: Promotion::Followed,
            actor: UserName::parse("ana").expect("name"),
            started_at: at(finished),
            finished_at: Some(at(finished)),
            rolled_back_at: rolled_back.map(at),
        },
        artifacts,
    }
}

fn versions_at(history: &[DeployedRelease], instant: &str) -> Vec<String> {
    running_at(history, at(instant))
        .iter()
        .map(|running| format!("{}={} ({})", running.service, running.artifact.version, running.release_version))
        .collect()
}

#[test]
fn the_register_answers_what_ran_at_an_instant() {
    let history = vec![
        deployed(1, "1.0.0", &[("api", "1.0"), ("ledger", "1.0")], "2026-03-01T10:00:00Z", None),
        deployed(2, "1.1.0", &[("api", "1.1")], "2026-03-02T10:00:00Z", None),
        deployed(
            3,
            "1.2.0",
            &[("api", "1.2"), ("ledger", "1.2")],
            "2026-03-03T10:00:00Z",
            Some("2026-03-03T11:00:00Z"),
        ),
    ];
    assert!(versions_at(&history, "2026-03-01T09:59:59Z").is_empty());
    assert_eq!(versions_at(&history, "2026-03-01T10:00:00Z"), ["api=1.0 (1.0.0)", "ledger=1.0 (1.0.0)"]);
    assert_eq!(versions_at(&history, "2026-03-02T12:00:00Z"), ["api=1.1 (1.1.0)", "ledger=1.0 (1.0.0)"]);
    assert_eq!(versions_at(&history, "2026-03-03T10:30:00Z"), ["api=1.2 (1.2.0)", "ledger=1.2 (1.2.0)"]);
    // After the roll-back, the versions from before it run again.
    assert_eq!(versions_at(&history, "2026-03-03T11:00:00Z"), ["api=1.1 (1.1.0)", "ledger=1.0 (1.0.0)"]);
}

#[test]
fn deployment_status_moves_only_forward() {
    let running = Deployment {
        status: DeploymentStatus::Running,
        finished_at: None,
        ..deployed(1, "1.0.0", &[], "2026-03-01T10:00:00Z", None).deployment
    };
    let now = at("2026-03-01T11:00:00Z");
    let succeeded = running.finish(DeploymentStatus::Succeeded, now).expect("allowed");
    assert_eq!(succeeded.finished_at, Some(now));
    let rolled_back = succeeded.finish(DeploymentStatus::RolledBack, now).expect("allowed");
    assert_eq!(rolled_back.rolled_back_at, Some(now));
    assert_eq!(
        rolled_back.finish(DeploymentStatus::Succeeded, now).map_err(|e| e.to_string()),
        Err("deployment 1 is rolled_back and cannot become succeeded; allowed: ".to_owned())
    );
}

#[test]
fn recorded_times_are_checked() {
    let now = at("2026-03-01T12:00:00Z");
    let input = |status: &str, started: &str, finished: Option<&str>| DeploymentInput {
        status: Some(status.to_owned()),
        started_at: Some(started.to_owned()),
        finished_at: finished.map(str::to_owned),
        override_window: None,
    };
    let ok = input("succeeded", "2026-03-01T10:00:00Z", Some("2026-03-01T10:05:00Z")).parse(now).expect("valid");
    assert_eq!(ok.finished_at, Some(at("2026-03-01T10:05:00Z")));
    let error = |input: DeploymentInput| input.parse(now).expect_err("invalid").to_string();
    assert_eq!(
        error(input("succeeded", "2026-03-01T10:00:00Z", Some("2026-03-01T09:00:00Z"))),
        "finished_at: end must be after start"
    );
    assert_eq!(error(input("running", "2026-03-01T13:00:00Z", None)), "started_at: lies in the future");
    assert_eq!(
        error(input("running", "2026-03-01T10:00:00Z", Some("2026-03-01T10:05:00Z"))),
        "finished_at: a running deployment has not finished"
    );
    assert_eq!(error(input("done", "yesterday", None)), "status: \"done\" is not one of running, succeeded, failed, rolled_back; started_at: \"yesterday\" is not an RFC 3339 timestamp");
}
