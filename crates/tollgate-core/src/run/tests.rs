use super::*;
use crate::plan::{OnFailure, StepAction, StepDuration};

fn at(value: &str) -> Timestamp {
    value.parse().expect("a timestamp")
}

fn step(position: u32, state: StepState, idempotent: bool) -> DeploymentStep {
    DeploymentStep {
        deployment: DeploymentId(7),
        position,
        phase: Phase::Deploy,
        service: ServiceName::parse("ledger").expect("name"),
        tier: StepName::parse("app").expect("name"),
        spec: StepSpec {
            name: StepName::parse(&format!("exec-{}", position + 1)).expect("name"),
            action: StepAction::Wait { duration: StepDuration::from_millis(0) },
            timeout: StepDuration::from_millis(1_000),
            retries: 0,
            backoff: StepDuration::from_millis(1_000),
            idempotent,
            reversible: true,
            per_target: false,
        },
        target: None,
        state,
        attempts: 1,
        started_at: None,
        finished_at: None,
        outcome: Some("exit status 3".to_owned()),
    }
}

fn check(states: &[(StepState, bool)], expected: &str) {
    let steps: Vec<DeploymentStep> =
        states.iter().enumerate().map(|(index, (state, idempotent))| step(index as u32, *state, *idempotent)).collect();
    let found = match next_action(Phase::Deploy, &steps) {
        NextAction::Start(position) => format!("start {position}"),
        NextAction::Rerun(position) => format!("rerun {position}"),
        NextAction::AskOperator { position, .. } => format!("ask operator {position}"),
        NextAction::AwaitJudgment(position) => format!("await judgment {position}"),
        NextAction::Succeed => "succeed".to_owned(),
        NextAction::Fail { position, reason } => format!("fail {position}: {reason}"),
    };
    assert_eq!(found, expected);
}

#[test]
fn the_first_unfinished_step_decides_what_runs_next() {
    use StepState::*;
    check(&[], "succeed");
    check(&[(Pending, false), (Pending, false)], "start 0");
    check(&[(Succeeded, false), (Skipped, false), (Pending, false)], "start 2");
    check(&[(Succeeded, false), (Succeeded, true)], "succeed");
    check(&[(Succeeded, false), (Running, true), (Pending, false)], "rerun 1");
    check(&[(Succeeded, false), (Running, false)], "ask operator 1");
    check(&[(Failed, false), (Pending, false)], "fail 0: step ledger/app/exec-1 failed: exit status 3");
}

#[test]
fn a_claim_is_checked_by_epoch_worker_expiry_and_state() {
    let worker = WorkerName::parse("replica-a").expect("name");
    let run = Run {
        deployment: DeploymentId(7),
        state: RunState::Active,
        phase: Phase::Deploy,
        worker: Some(worker.clone()),
        epoch: 3,
        claim_expires_at: Some(at("2026-12-01T10:00:10Z")),
        reason: None,
    };
    let claim =
        Claim { deployment: DeploymentId(7), worker: worker.clone(), epoch: 3, expires_at: at("2026-12-01T10:00:10Z") };
    assert_eq!(run.check_claim(&claim, at("2026-12-01T10:00:09Z")), Ok(()));
    assert!(!run.claimable(at("2026-12-01T10:00:09Z")));
    assert!(run.claimable(at("2026-12-01T10:00:10Z")));
    let expired = run.check_claim(&claim, at("2026-12-01T10:00:10Z")).expect_err("expired");
    assert_eq!(expired.to_string(), "worker replica-a lost deployment 7: its claim expired at 2026-12-01T10:00:10Z");
    let stale = Claim { epoch: 2, ..claim.clone() };
    let taken = run.check_claim(&stale, at("2026-12-01T10:00:01Z")).expect_err("taken over");
    assert_eq!(taken.to_string(), "worker replica-a lost deployment 7: its claim (epoch 2) was taken over (epoch 3)");
    let other = Claim { worker: WorkerName::parse("replica-b").expect("name"), ..claim.clone() };
    assert!(matches!(run.check_claim(&other, at("2026-12-01T10:00:01Z")), Err(ClaimError::TakenOver { .. })));
    // Paused, the run stays its worker's while the step it runs ends, and nobody claims it.
    let paused = Run { state: RunState::Paused, ..run.clone() };
    assert_eq!(paused.check_claim(&claim, at("2026-12-01T10:00:01Z")), Ok(()));
    assert!(!paused.claimable(at("2026-12-01T11:00:00Z")));
    let paused = Run { state: RunState::NeedsOperator, ..run };
    assert!(matches!(paused.check_claim(&claim, at("2026-12-01T10:00:01Z")), Err(ClaimError::NotActive { .. })));
    assert!(!paused.claimable(at("2026-12-01T11:00:00Z")));
}

#[test]
fn worker_names_are_bounded_and_plain() {
    assert!(WorkerName::parse("replica-3f2a.host_1").is_ok());
    assert!(WorkerName::parse("").is_err());
    assert!(WorkerName::parse("a b").is_err());
    assert!(WorkerName::parse(&"a".repeat(65)).is_err());
}

/// A run over `ledger` (depends on nothing) then `web`, each with one deploy step and, when
/// `rollback` says so, one rollback step; states given per deploy step.
fn two_services(
    deploy: [StepState; 2],
    rollback: [bool; 2],
    irreversible: [bool; 2],
) -> (Vec<DeploymentStep>, BTreeMap<ServiceName, DeploymentPlan>) {
    let services = ["ledger", "web"];
    let mut steps = Vec::new();
    for (index, service) in services.iter().enumerate() {
        let mut deploy_step = step(index as u32, deploy[index], false);
        deploy_step.service = ServiceName::parse(service).expect("name");
        deploy_step.spec.reversible = !irreversible[index];
        steps.push(deploy_step);
    }
    for (index, service) in services.iter().enumerate().rev() {
        if rollback[index] {
            let mut undo = step(steps.len() as u32, StepState::Pending, true);
            undo.phase = Phase::Rollback;
            undo.tier = StepName::parse(ROLLBACK_TIER).expect("name");
            undo.service = ServiceName::parse(service).expect("name");
            steps.push(undo);
        }
    }
    let plans = services
        .iter()
        .map(|service| {
            let plan = DeploymentPlan {
                tiers: Vec::new(),
                variables: BTreeMap::new(),
                secrets: Vec::new(),
                rollback: Vec::new(),
                on_failure: OnFailure::default(),
                targets: Vec::new(),
                strategy: Default::default(),
                strategies: BTreeMap::new(),
                traffic: None,
                verify: Vec::new(),
            };
            (ServiceName::parse(service).expect("name"), plan)
        })
        .collect();
    (steps, plans)
}

fn describe(start: RollbackStart) -> String {
    match start {
        RollbackStart::Nothing => "nothing".to_owned(),
        RollbackStart::Go { skip } => format!("go, skip {skip:?}"),
        RollbackStart::Confirm { skip, reason } => format!("confirm, skip {skip:?}: {reason}"),
        RollbackStart::Refused { reason } => format!("refused: {reason}"),
    }
}

#[test]
fn a_failed_deployment_rolls_back_only_the_services_whose_steps_began() {
    use StepState::*;
    let (steps, plans) = two_services([Failed, Pending], [true, true], [false, false]);
    // Positions: 0 ledger, 1 web, 2 web's rollback, 3 ledger's rollback.
    assert_eq!(describe(begin_rollback(&steps, &plans)), "go, skip [2]");
    let (steps, plans) = two_services([Succeeded, Failed], [true, true], [false, false]);
    assert_eq!(describe(begin_rollback(&steps, &plans)), "go, skip []");
    let (steps, plans) = two_services([Failed, Pending], [false, true], [false, false]);
    assert_eq!(describe(begin_rollback(&steps, &plans)), "nothing");
    let (steps, plans) = two_services([Failed, Pending], [false, false], [false, false]);
    assert_eq!(describe(begin_rollback(&steps, &plans)), "nothing");
}

#[test]
fn rolling_back_across_an_irreversible_step_needs_a_recovery_and_a_confirmation() {
    use StepState::*;
    let (steps, plans) = two_services([Succeeded, Failed], [true, true], [true, false]);
    assert_eq!(
        describe(begin_rollback(&steps, &plans)),
        "confirm, skip []: irreversible step ledger/app/exec-1 ran: rolling back runs the plan's recovery steps; \
         roll_back confirms, abort ends the deployment as failed"
    );
    let (steps, plans) = two_services([Succeeded, Failed], [false, true], [true, false]);
    assert_eq!(
        describe(begin_rollback(&steps, &plans)),
        "refused: rolling back is refused: irreversible step ledger/app/exec-1 ran, and its service declares no \
         rollback steps to recover with"
    );
    // An irreversible step that never began is not crossed.
    let (steps, plans) = two_services([Failed, Pending], [true, true], [false, true]);
    assert_eq!(describe(begin_rollback(&steps, &plans)), "go, skip [2]");
}

#[test]
fn a_plan_may_ask_for_the_rollback_to_be_confirmed() {
    use StepState::*;
    let (steps, mut plans) = two_services([Failed, Pending], [true, true], [false, false]);
    plans.get_mut(&ServiceName::parse("ledger").expect("name")).expect("plan").on_failure.rollback =
        RollbackMode::Manual;
    assert_eq!(
        describe(begin_rollback(&steps, &plans)),
        "confirm, skip [2]: the plan of ledger rolls back when an operator confirms: roll_back confirms, abort ends \
         the deployment as failed"
    );
    // A manual plan of a service that was never touched does not hold the rollback up.
    let (steps, mut plans) = two_services([Failed, Pending], [true, true], [false, false]);
    plans.get_mut(&ServiceName::parse("web").expect("name")).expect("plan").on_failure.rollback = RollbackMode::Manual;
    assert_eq!(describe(begin_rollback(&steps, &plans)), "go, skip [2]");
}

#[test]
fn the_rollback_phase_runs_its_own_steps_and_fails_on_its_own_failure() {
    use StepState::*;
    let (mut steps, _) = two_services([Succeeded, Failed], [true, true], [false, false]);
    assert_eq!(next_action(Phase::Rollback, &steps), NextAction::Start(2));
    steps[2].state = Succeeded;
    steps[3].state = Failed;
    assert_eq!(
        next_action(Phase::Rollback, &steps),
        NextAction::Fail {
            position: 3,
            reason: "rollback step ledger/rollback/exec-4 failed: exit status 3".to_owned()
        }
    );
    steps[3].state = Succeeded;
    assert_eq!(next_action(Phase::Rollback, &steps), NextAction::Succeed);
}

#[test]
fn quarantine_follows_the_plans_of_the_services_whose_steps_began() {
    use StepState::*;
    let (steps, mut plans) = two_services([Failed, Pending], [true, true], [false, false]);
    let check = |plans: &BTreeMap<ServiceName, DeploymentPlan>| {
        [RunOutcome::Succeeded, RunOutcome::Failed, RunOutcome::RolledBack, RunOutcome::RollbackFailed]
            .map(|outcome| quarantines(outcome, &steps, plans))
    };
    assert_eq!(check(&plans), [false, false, false, true]);
    let web = ServiceName::parse("web").expect("name");
    plans.get_mut(&web).expect("plan").on_failure.quarantine = QuarantineMode::Always;
    assert_eq!(check(&plans), [false, false, false, true], "web never began");
    let ledger = ServiceName::parse("ledger").expect("name");
    plans.get_mut(&ledger).expect("plan").on_failure.quarantine = QuarantineMode::Always;
    assert_eq!(check(&plans), [false, true, true, true]);
    plans.get_mut(&ledger).expect("plan").on_failure.quarantine = QuarantineMode::Never;
    assert_eq!(check(&plans), [false, false, false, false]);
}

#[test]
fn a_manual_step_waits_for_a_judgment_until_its_deadline() {
    use crate::plan::Judgment;
    let mut manual = step(0, StepState::Pending, true);
    manual.spec.action = StepAction::Manual { prompt: "Is the canary healthy?".to_owned(), default: Judgment::Reject };
    manual.spec.timeout = StepDuration::from_millis(1_800_000);
    assert_eq!(next_action(Phase::Deploy, std::slice::from_ref(&manual)), NextAction::AwaitJudgment(0));
    assert_eq!(manual.awaiting_judgment(), None, "a pending step waits for nothing yet");
    manual.state = StepState::Running;
    manual.started_at = Some(at("2026-12-01T10:00:00Z"));
    assert_eq!(next_action(Phase::Deploy, std::slice::from_ref(&manual)), NextAction::AwaitJudgment(0));
    assert_eq!(
        manual.awaiting_judgment(),
        Some(("Is the canary healthy?", at("2026-12-01T10:30:00Z"), Judgment::Reject))
    );
    manual.state = StepState::Succeeded;
    assert_eq!(next_action(Phase::Deploy, std::slice::from_ref(&manual)), NextAction::Succeed);
}
