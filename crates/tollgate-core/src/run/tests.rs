use super::*;
use crate::plan::{StepAction, StepDuration};

fn at(value: &str) -> Timestamp {
    value.parse().expect("a timestamp")
}

fn step(position: u32, state: StepState, idempotent: bool) -> DeploymentStep {
    DeploymentStep {
        deployment: DeploymentId(7),
        position,
        service: ServiceName::parse("ledger").expect("name"),
        tier: StepName::parse("app").expect("name"),
        spec: StepSpec {
            name: StepName::parse(&format!("exec-{}", position + 1)).expect("name"),
            action: StepAction::Wait { duration: StepDuration::from_millis(0) },
            timeout: StepDuration::from_millis(1_000),
            retries: 0,
            backoff: StepDuration::from_millis(1_000),
            idempotent,
        },
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
    let found = match next_action(&steps) {
        NextAction::Start(position) => format!("start {position}"),
        NextAction::Rerun(position) => format!("rerun {position}"),
        NextAction::AskOperator { position, .. } => format!("ask operator {position}"),
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
