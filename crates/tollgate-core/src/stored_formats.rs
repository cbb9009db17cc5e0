//! Every type that goes into an audit entry's `before` or `after`, serialized as the log stores
//! it. The entries are signed: a renamed field or a changed spelling would silently change what
//! new entries say about the same record, so each shape is pinned by a snapshot here.
//! (`AuditRecord` itself, `SigningKeyEntry` and `EvidenceUploaded` have theirs beside their
//! types.)

use ed25519_dalek::SigningKey;

use crate::artifact::{
    Artifact, ArtifactId, ArtifactInput, PushAttempt, SignatureAttached, Tag, TrustedKeyId, TrustedKeyRecord,
};
use crate::deployment::{Deployment, DeploymentId, DeploymentStatus, Promotion};
use crate::digest::Sha256Digest;
use crate::environment::EnvironmentInput;
use crate::lifecycle::LifecycleInput;
use crate::name::{EnvironmentName, TeamName, UserName};
use crate::release::{ArtifactRefInput, Release, ReleaseId, ReleaseInput, ReleaseState, ScopeItemInput};
use crate::retention::{LegalHold, PolicyId, RetentionPolicy, Selector};
use crate::service::ServiceInput;
use crate::team::TeamInput;
use crate::token::{ApiToken, TokenId};
use crate::user::UserInput;
use crate::Timestamp;

fn at(value: &str) -> Timestamp {
    value.parse().expect("a timestamp")
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).expect("a stored format serializes")
}

#[test]
fn catalog_records() {
    let user = UserInput { name: "ana".into(), display_name: Some("Ana".into()), roles: vec!["auditor".into()] };
    insta::assert_snapshot!("user", json(&user.parse().expect("valid")));
    let team = TeamInput {
        name: "payments".into(),
        display_name: None,
        members: vec!["ana".into()],
        artifact_pattern: Some("payments/[a-z-]+".into()),
    };
    insta::assert_snapshot!("team", json(&team.parse().expect("valid")));
    let service = ServiceInput {
        name: "ledger".into(),
        owner: "payments".into(),
        criticality: Some("high".into()),
        depends_on: vec!["postgres-main".into()],
        description: Some("the books".into()),
        labels: vec!["pci".into()],
        deploy: None,
    };
    insta::assert_snapshot!("service", json(&service.parse().expect("valid")));
    let environment = EnvironmentInput { name: "prod".into(), tier: "prod".into(), region: Some("eu".into()) };
    insta::assert_snapshot!("environment", json(&environment.parse().expect("valid")));
    let lifecycle = LifecycleInput { name: "default".into(), environments: vec!["dev".into(), "prod".into()] };
    insta::assert_snapshot!("lifecycle", json(&lifecycle.parse().expect("valid")));
}

#[test]
fn tokens_releases_and_deployments() {
    let token = ApiToken {
        id: TokenId(7),
        user: UserName::parse("ana").expect("name"),
        description: "ci".into(),
        prefix: "tg_0123abcd".into(),
        created_at: at("2026-03-01T12:00:00Z"),
        expires_at: Some(at("2026-04-01T00:00:00Z")),
        revoked_at: None,
        parent: Some(TokenId(3)),
    };
    insta::assert_snapshot!("token", json(&token));
    let input = ReleaseInput {
        version: "1.4.0".into(),
        lifecycle: "default".into(),
        release_type: "minor".into(),
        artifacts: vec![ArtifactRefInput {
            service: "ledger".into(),
            name: "payments/ledger".into(),
            version: "1.4.0".into(),
            digest: Sha256Digest::of(b"ledger").to_string(),
        }],
        scope: vec![
            ScopeItemInput { ticket: "PAY-1".into(), title: "Faster refunds".into(), included: true, reason: None },
            ScopeItemInput {
                ticket: "PAY-2".into(),
                title: "Dark mode".into(),
                included: false,
                reason: Some("not tested".into()),
            },
        ],
        rollback_criteria: Some("error ratio above 1% for 5 minutes".into()),
        ..ReleaseInput::default()
    };
    let release = Release {
        id: ReleaseId(42),
        content: input.parse().expect("valid"),
        state: ReleaseState::ScopeFrozen,
        created_by: UserName::parse("ana").expect("name"),
        created_at: at("2026-03-01T12:00:00Z"),
        updated_at: at("2026-03-02T12:00:00Z"),
        revision: 3,
    };
    insta::assert_snapshot!("release", json(&release));
    let deployment = Deployment {
        id: DeploymentId(9),
        release: ReleaseId(42),
        release_version: "1.4.0".parse().expect("semver"),
        environment: EnvironmentName::parse("prod").expect("name"),
        manifest_digest: release.manifest_digest(),
        status: DeploymentStatus::Succeeded,
        promotion: Promotion::EmergencySkipped { skipped: EnvironmentName::parse("staging").expect("name") },
        actor: UserName::parse("ana").expect("name"),
        started_at: at("2026-03-03T10:00:00Z"),
        finished_at: Some(at("2026-03-03T10:05:00Z")),
        rolled_back_at: None,
    };
    insta::assert_snapshot!("deployment", json(&deployment));
}

#[test]
fn supply_chain_records() {
    let new = ArtifactInput {
        name: "payments/ledger".into(),
        version: "1.4.0".into(),
        team: "payments".into(),
        media_type: Some("application/gzip".into()),
        repository: Some("https://git.example/payments".into()),
        commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        build_id: Some("run-7".into()),
        builder: Some("https://ci.example".into()),
        tags: vec!["sox".into()],
    }
    .parse()
    .expect("valid");
    let artifact = Artifact {
        id: ArtifactId(5),
        name: new.name,
        version: new.version,
        team: new.team,
        digest: Sha256Digest::of(b"ledger"),
        size: 6,
        media_type: new.media_type,
        provenance: new.provenance,
        tags: new.tags,
        created_by: UserName::parse("ana").expect("name"),
        created_at: at("2026-03-01T12:00:00Z"),
    };
    insta::assert_snapshot!("artifact", json(&artifact));
    insta::assert_snapshot!(
        "push_attempt",
        json(&PushAttempt { digest: Sha256Digest::of(b"other").to_string(), size: 5 })
    );
    let signed = SignatureAttached {
        key_id: "0123456789abcdef".into(),
        key_name: "ci".into(),
        digest: Sha256Digest::of(b"ledger").to_string(),
    };
    insta::assert_snapshot!("signature_attached", json(&signed));
    let key = TrustedKeyRecord {
        id: TrustedKeyId(2),
        key_id: "0123456789abcdef".into(),
        name: "ci".into(),
        team: Some(TeamName::parse("payments").expect("name")),
        builder: None,
        public_key: SigningKey::from_bytes(&[1; 32]).verifying_key(),
        created_by: UserName::parse("ana").expect("name"),
        created_at: at("2026-03-01T12:00:00Z"),
        revoked_at: Some(at("2026-03-05T00:00:00Z")),
    };
    insta::assert_snapshot!("trusted_key", json(&key));
    let policy = RetentionPolicy {
        id: PolicyId(1),
        selector: Selector::Team(TeamName::parse("payments").expect("name")),
        keep_last: Some(10),
        keep_deployed_days: Some(90),
    };
    insta::assert_snapshot!("retention_policy", json(&policy));
    let hold = LegalHold {
        tag: Tag::parse("sox").expect("tag"),
        reason: "audit 2026".into(),
        created_by: UserName::parse("ana").expect("name"),
        created_at: at("2026-03-01T12:00:00Z"),
    };
    insta::assert_snapshot!("legal_hold", json(&hold));
}

#[test]
fn gate_records() {
    use crate::gate::{
        parse_policy, EnvironmentGatesInput, GateBinding, GateDecided, GateDecisionId, GateInput, GateOverride,
        GateOverrideId, PolicyInstalled, PolicyModule, PolicyVersion,
    };
    let gates = vec![EnvironmentGatesInput {
        environment: "prod".into(),
        gates: vec![
            GateInput {
                builtin: Some("test_pass_rate".into()),
                with: Some(serde_json::json!({"min": 1.0})),
                ..GateInput::default()
            },
            GateInput {
                rego: Some("policies/owners.rego".into()),
                enforcement: Some("warn".into()),
                ..GateInput::default()
            },
        ],
    }];
    let modules =
        vec![PolicyModule { path: "policies/owners.rego".into(), source: "package tollgate.gates.owners\n".into() }];
    let policy = parse_policy(gates, modules).expect("valid");
    let version = PolicyVersion { seq: 3, digest: policy.digest() };
    insta::assert_snapshot!("policy_installed", json(&PolicyInstalled::of(version, &policy)));
    let binding = GateBinding {
        manifest_digest: Sha256Digest::of(b"manifest"),
        evidence_digest: Sha256Digest::of(b"evidence"),
        policy: version,
        library: Some(Sha256Digest::of(b"library")),
    };
    let decided = GateDecided {
        release: "1.4.0".parse().expect("a version"),
        environment: EnvironmentName::parse("prod").expect("a name"),
        binding: binding.clone(),
        input_digest: Sha256Digest::of(b"input"),
        passed: false,
        results: serde_json::json!([{"gate": "test_pass_rate", "enforcement": "block", "outcome": "fail", "violations": []}]),
    };
    insta::assert_snapshot!("gate_decided", json(&decided));
    let overridden = GateOverride {
        id: GateOverrideId(2),
        decision: GateDecisionId(7),
        release: "1.4.0".parse().expect("a version"),
        environment: EnvironmentName::parse("prod").expect("a name"),
        binding,
        reason: "flaky suite quarantined, INC-7".into(),
        created_by: UserName::parse("ana").expect("a name"),
        created_at: at("2026-03-01T12:00:00Z"),
    };
    insta::assert_snapshot!("gate_override", json(&overridden));
}

#[test]
fn sign_in_records() {
    use crate::session::{LockoutRecord, SignInMethod, SignInRecord};
    let password = SignInRecord { method: SignInMethod::Password, token: None, expires_at: at("2026-11-30T18:00:00Z") };
    insta::assert_snapshot!("sign_in_password", json(&password));
    let token =
        SignInRecord { method: SignInMethod::Token, token: Some(TokenId(7)), expires_at: at("2026-11-30T18:00:00Z") };
    insta::assert_snapshot!("sign_in_token", json(&token));
    let lockout = LockoutRecord { key: "user:ana".to_owned(), locked_until: at("2026-11-30T06:01:00Z"), lockouts: 1 };
    insta::assert_snapshot!("lockout", json(&lockout));
}

#[test]
fn sso_settings() {
    use crate::sso::{GroupRolesInput, SsoInput, SsoRolesInput};
    let input = SsoInput {
        issuer: "https://login.example.com/realms/main".into(),
        client_id: "tollgate".into(),
        client_secret_env: "TOLLGATE_SSO_CLIENT_SECRET".into(),
        redirect_url: "https://tollgate.example.com/login/sso/callback".into(),
        username_claim: None,
        groups_claim: Some("roles".into()),
        roles: SsoRolesInput {
            groups: vec![
                GroupRolesInput { group: "release-managers".into(), roles: vec!["release_manager".into()] },
                GroupRolesInput { group: "engineering".into(), roles: vec!["member".into(), "viewer".into()] },
            ],
        },
        scopes: vec!["profile".into(), "groups".into()],
    };
    insta::assert_snapshot!("sso_config", json(&input.parse().expect("valid")));
}

#[test]
fn calendar_periods() {
    use crate::calendar::PeriodInput;
    use crate::name::PeriodId;
    let window = PeriodInput {
        name: "Weekday release window".into(),
        kind: "window".into(),
        scope: Some("environment:prod".into()),
        tzid: "Europe/Berlin".into(),
        start: "2026-01-06T10:00".into(),
        length: "PT6H".into(),
        rule: Some("RRULE:FREQ=WEEKLY;BYDAY=TU,WE,TH".into()),
        exdates: vec!["2026-12-24T10:00".into()],
        rdates: vec![],
    };
    let id = PeriodId::parse("weekday-window").expect("an id");
    insta::assert_snapshot!("calendar_period_window", json(&window.parse(id, None).expect("valid")));
    let freeze = PeriodInput {
        name: "Year-end freeze".into(),
        kind: "freeze".into(),
        scope: None,
        tzid: "America/New_York".into(),
        start: "2026-12-20".into(),
        length: "P15D".into(),
        rule: None,
        exdates: vec![],
        rdates: vec![],
    };
    let id = PeriodId::parse("ics-0123456789abcdef").expect("an id");
    let imported = freeze.parse(id, Some("year-end@example.com".into())).expect("valid");
    insta::assert_snapshot!("calendar_period_imported_freeze", json(&imported));
}

#[test]
fn window_override() {
    use crate::calendar::{OverrideKind, WindowOverride};
    let override_record = WindowOverride {
        environment: EnvironmentName::parse("prod").expect("a name"),
        at: at("2026-12-22T09:30:00Z"),
        closed_because: vec![
            "freeze \"Year-end freeze\" is in force from 2026-12-20T00:00:00 to 2027-01-04T00:00:00 Europe/Berlin (2026-12-19T23:00:00Z to 2027-01-03T23:00:00Z UTC)".into(),
        ],
        kind: OverrideKind::BreakGlass,
        reason: Some("payment outage fix".into()),
    };
    insta::assert_snapshot!("window_override", json(&override_record));
}

#[test]
fn change_records() {
    use crate::change::approval::{Approval, ApprovalRoute, Verdict};
    use crate::change::policy::ChangePolicyInput;
    use crate::change::risk::{assess, EvidenceState, ImpactedService, RiskInput, RiskPolicy, ScheduleFit};
    use crate::change::{ChangeId, ChangeInput, ChangeRequest, ChangeState, ReleaseDefaults, Review};
    use crate::environment::Tier;
    use crate::release::ReleaseType;
    use crate::service::Criticality;
    let content = ChangeInput {
        environment: "prod".into(),
        change_type: Some("normal".into()),
        template: None,
        justification: "new fee model".into(),
        implementation_plan: "deploy ledger, then api".into(),
        rollback_plan: "redeploy 1.3.0".into(),
        rollback_minutes: Some(20),
        tickets: vec!["PAY-7".into()],
        links: vec!["https://ci.example/run/42".into()],
        planned_start: Some("2026-12-01T10:00:00Z".into()),
        planned_end: Some("2026-12-01T12:00:00Z".into()),
    }
    .parse(ReleaseDefaults { release_type: ReleaseType::Minor, planned_window: None })
    .expect("valid");
    let risk = assess(
        &RiskInput {
            impacted: vec![ImpactedService {
                name: crate::name::ServiceName::parse("ledger").expect("a name"),
                criticality: Criticality::Critical,
                deployed: true,
            }],
            n_changed: 1,
            n_in_scope: 3,
            n_deployments: 12,
            n_failures: 1,
            tier: Tier::Prod,
            schedule: ScheduleFit::Open,
            change_type: crate::change::ChangeType::Normal,
            evidence: EvidenceState::Passing,
        },
        &RiskPolicy::default(),
    );
    let change = ChangeRequest {
        id: ChangeId(7),
        release: ReleaseId(3),
        content,
        state: ChangeState::Implemented,
        manifest_digest: Sha256Digest::of(b"manifest"),
        impacted_services: vec![crate::name::ServiceName::parse("ledger").expect("a name")],
        risk: Some(risk),
        route: Some(ApprovalRoute::Cab {
            policy: "sha256:0000000000000000000000000000000000000000000000000000000000000000".into(),
            quorum: 2,
            required_teams: vec!["security".into()],
            outside_team: true,
        }),
        requested_by: UserName::parse("bo").expect("a name"),
        created_at: at("2026-11-30T09:00:00Z"),
        updated_at: at("2026-12-01T12:05:00Z"),
        deployment: Some(DeploymentId(11)),
        review_due_at: Some(at("2026-12-06T12:05:00Z")),
        review: Some(Review {
            by: UserName::parse("bo").expect("a name"),
            at: at("2026-12-02T09:00:00Z"),
            summary: "held".into(),
        }),
        revision: 6,
    };
    insta::assert_snapshot!("change_request", json(&change));
    let approval = Approval {
        change: ChangeId(7),
        approver: UserName::parse("ana").expect("a name"),
        verdict: Verdict::Approve,
        comment: "rollback plan reviewed".into(),
        manifest_digest: Sha256Digest::of(b"manifest"),
        approver_teams: [TeamName::parse("security").expect("a name")].into_iter().collect(),
        deployer: false,
        at: at("2026-11-30T15:00:00Z"),
    };
    insta::assert_snapshot!("change_approval", json(&approval));
    insta::assert_snapshot!("change_policy_default", json(&ChangePolicyInput::default().parse().expect("valid")));
}

#[test]
fn release_train() {
    use crate::name::TrainName;
    use crate::train::TrainInput;
    let train = TrainInput {
        tzid: "Europe/Berlin".into(),
        first_departure: "2026-03-03T10:00".into(),
        rule: "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU".into(),
        length: "PT4H".into(),
        cutoff: "P3D".into(),
        freeze: "P1D".into(),
    }
    .parse(TrainName::parse("fortnightly").expect("a name"))
    .expect("valid");
    insta::assert_snapshot!("release_train", json(&train));
}

#[test]
fn lease() {
    use crate::lease::{Lease, LeaseTtl};
    use crate::name::ServiceName;
    let lease = Lease {
        deployment: DeploymentId(12),
        environment: EnvironmentName::parse("prod").expect("a name"),
        services: vec![ServiceName::parse("api").expect("a name"), ServiceName::parse("ledger").expect("a name")],
        holder: UserName::parse("ci").expect("a name"),
        epoch: 7,
        ttl: LeaseTtl::DEFAULT,
        acquired_at: at("2026-03-01T12:00:00Z"),
        expires_at: at("2026-03-01T12:15:00Z"),
        released_at: Some(at("2026-03-01T12:09:30Z")),
    };
    insta::assert_snapshot!("lease", json(&lease));
}

#[test]
fn deployment_plans_and_runs() {
    use crate::name::ServiceName;
    use crate::plan::{DeployInput, HealthStepInput, OnFailureInput, SecretInput, StepInput, TierInput};
    use crate::run::{DeploymentStep, Phase, Run, RunState, StepState, WorkerName};
    let plan = DeployInput {
        tiers: vec![
            TierInput {
                name: "migrate".into(),
                steps: vec![StepInput {
                    name: Some("migrate".into()),
                    exec: vec!["./migrate".into(), "--to".into(), "{{ release.version }}".into()],
                    env: Some(serde_json::json!({"DB_PASSWORD": "{{ secrets.db }}"})),
                    reversible: Some(crate::change::policy::Scalar("false".into())),
                    ..StepInput::default()
                }],
            },
            TierInput {
                name: "app".into(),
                steps: vec![StepInput {
                    health: Some(HealthStepInput {
                        http: Some("http://127.0.0.1:{{ vars.port }}/health".into()),
                        ..HealthStepInput::default()
                    }),
                    ..StepInput::default()
                }],
            },
        ],
        variables: Some(serde_json::json!({"staging": {"port": 8081}})),
        secrets: vec![SecretInput { name: "db".into(), env: Some("LEDGER_DB_PASSWORD".into()), file: None }],
        rollback: vec![StepInput {
            name: Some("restore".into()),
            exec: vec!["./restore".into(), "--from".into(), "backup-{{ deployment.id }}".into()],
            ..StepInput::default()
        }],
        on_failure: Some(OnFailureInput { rollback: Some("manual".into()), quarantine: Some("always".into()) }),
        ..DeployInput::default()
    }
    .parse()
    .expect("valid");
    insta::assert_snapshot!("deployment_plan", json(&plan));
    let step = DeploymentStep {
        deployment: DeploymentId(12),
        position: 0,
        phase: Phase::Deploy,
        service: ServiceName::parse("ledger").expect("a name"),
        tier: plan.tiers[0].name.clone(),
        spec: plan.tiers[0].steps[0].clone(),
        target: None,
        state: StepState::Succeeded,
        attempts: 1,
        started_at: Some(at("2026-03-01T12:00:00Z")),
        finished_at: Some(at("2026-03-01T12:00:04Z")),
        outcome: Some("exit status 0".into()),
    };
    insta::assert_snapshot!("deployment_step", json(&step));
    let run = Run {
        deployment: DeploymentId(12),
        state: RunState::NeedsOperator,
        phase: Phase::Rollback,
        worker: Some(WorkerName::parse("worker-4242-0a1b2c3d-0").expect("a name")),
        epoch: 3,
        claim_expires_at: Some(at("2026-03-01T12:00:15Z")),
        reason: Some("step ledger/migrate/migrate was running when its worker stopped".into()),
    };
    insta::assert_snapshot!("run", json(&run));
    let quarantine = crate::quarantine::Quarantine {
        environment: EnvironmentName::parse("prod").expect("a name"),
        deployment: Some(DeploymentId(12)),
        reason: "step ledger/app/exec-1 failed: exit status 3; the rollback failed: exit status 4".into(),
        since: at("2026-03-01T12:01:00Z"),
    };
    insta::assert_snapshot!("quarantine", json(&quarantine));
}

#[test]
fn rollout_plans_and_traffic_steps() {
    use crate::change::policy::Scalar;
    use crate::name::ServiceName;
    use crate::plan::{DeployInput, HealthStepInput, StepInput, TierInput};
    use crate::release::ReleaseId;
    use crate::rollout::{
        expand_plan, CanaryInput, GroupShare, NginxInput, Rollout, StrategyInput, TargetInput, TrafficInput,
    };
    use crate::run::{DeploymentStep, StepState};
    let target = |name: &str, port: u16, group: &str| TargetInput {
        name: name.into(),
        environment: "prod".into(),
        address: format!("127.0.0.1:{port}"),
        group: Some(group.into()),
        labels: Some(serde_json::json!({"zone": "a"})),
    };
    let plan = DeployInput {
        tiers: vec![TierInput {
            name: "app".into(),
            steps: vec![StepInput {
                name: Some("start".into()),
                exec: vec!["./start".into(), "{{ target.address }}".into()],
                per_target: Some(Scalar("true".into())),
                ..StepInput::default()
            }],
        }],
        targets: vec![target("blue-1", 8081, "blue"), target("green-1", 8091, "green")],
        strategy: Some(StrategyInput {
            canary: Some(CanaryInput {
                weights: vec![Scalar("25".into()), Scalar("100".into())],
                pause: Some("2m".into()),
            }),
            ..StrategyInput::default()
        }),
        traffic: Some(TrafficInput {
            nginx: Some(NginxInput {
                upstream: "ledger".into(),
                file: "/etc/nginx/ledger.conf".into(),
                ..NginxInput::default()
            }),
            command: Vec::new(),
        }),
        verify: vec![StepInput {
            name: Some("smoke".into()),
            health: Some(HealthStepInput {
                http: Some("http://127.0.0.1:8080/health".into()),
                ..HealthStepInput::default()
            }),
            ..StepInput::default()
        }],
        ..DeployInput::default()
    }
    .parse()
    .expect("valid");
    insta::assert_snapshot!("rollout_plan", json(&plan));
    let service = ServiceName::parse("ledger").expect("a name");
    let environment = EnvironmentName::parse("prod").expect("a name");
    let version = semver::Version::new(2, 0, 0);
    let live_share = GroupShare {
        group: crate::name::GroupName::parse("blue").expect("a name"),
        weight: 100,
        release: Some(ReleaseId(4)),
        version: Some(semver::Version::new(1, 0, 0)),
    };
    let live = std::collections::BTreeMap::from([(service.clone(), vec![live_share])]);
    let rollout = Rollout { environment: &environment, release: ReleaseId(5), version: &version, live: &live };
    let (deploy, _) = expand_plan(&service, &plan, &rollout).expect("expands");
    let step = |position: usize| DeploymentStep {
        deployment: DeploymentId(12),
        position: position as u32,
        phase: deploy[position].phase,
        service: service.clone(),
        tier: deploy[position].tier.clone(),
        spec: deploy[position].spec.clone(),
        target: deploy[position].target.clone(),
        state: StepState::Succeeded,
        attempts: 1,
        started_at: Some(at("2026-03-01T12:00:00Z")),
        finished_at: Some(at("2026-03-01T12:00:01Z")),
        outcome: Some("exit status 0".into()),
    };
    insta::assert_snapshot!("per_target_step", json(&step(0)));
    insta::assert_snapshot!("traffic_step", json(&step(1)));
}
