//! Runs of orchestrated deployments: one `deployment_runs` row per run, its `deployment_steps`
//! and what each step printed (`deployment_logs`).
//!
//! Invariant: a worker's writes are fenced. A claim is taken by compare-and-swap on the run's
//! epoch (`claim_run` succeeds for one claimant of an epoch, whatever the backend), and a worker
//! writes only after `lock_run` has locked the run's row in its transaction (a no-op update, which
//! takes the row lock on PostgreSQL; SQLite has one writer) and the caller has checked its claim
//! against what it read, so a take-over cannot slip between the check and the write.

use std::collections::BTreeMap;

use tollgate_core::deployment::DeploymentId;
use tollgate_core::name::{ServiceName, StepName};
use tollgate_core::plan::DeploymentPlan;
use tollgate_core::run::{Claim, DeploymentStep, LogLine, NewStep, Phase, Run, RunState, StepState, WorkerName};
use tollgate_core::{Entity, Timestamp};

use crate::conn::Conn;
use crate::error::StoreError;
use crate::rows::{micros, parse, timestamp};
use crate::tx::StoreTx;

#[derive(sqlx::FromRow)]
struct RunRow {
    deployment_id: i64,
    state: String,
    phase: String,
    worker: Option<String>,
    epoch: i64,
    claim_expires_at: Option<i64>,
    reason: Option<String>,
}

impl TryFrom<RunRow> for Run {
    type Error = StoreError;

    fn try_from(row: RunRow) -> Result<Run, StoreError> {
        const ENTITY: Entity = Entity::Run;
        let key = row.deployment_id;
        Ok(Run {
            deployment: DeploymentId(key),
            state: parse(ENTITY, &key, row.state.parse())?,
            phase: parse(ENTITY, &key, row.phase.parse())?,
            worker: row.worker.map(|worker| parse(ENTITY, &key, WorkerName::parse(&worker))).transpose()?,
            epoch: u64::try_from(row.epoch).map_err(|error| StoreError::corrupt(ENTITY, key.to_string(), error))?,
            claim_expires_at: row.claim_expires_at.map(|at| timestamp(ENTITY, &key, at)).transpose()?,
            reason: row.reason,
        })
    }
}

#[derive(sqlx::FromRow)]
struct StepRow {
    deployment_id: i64,
    position: i64,
    phase: String,
    service: String,
    tier: String,
    spec: String,
    target: Option<String>,
    state: String,
    attempts: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    outcome: Option<String>,
}

impl TryFrom<StepRow> for DeploymentStep {
    type Error = StoreError;

    fn try_from(row: StepRow) -> Result<DeploymentStep, StoreError> {
        const ENTITY: Entity = Entity::DeploymentStep;
        let key = format!("{}/{}", row.deployment_id, row.position);
        let corrupt = |error: &dyn std::fmt::Display| StoreError::corrupt(ENTITY, key.clone(), error.to_string());
        Ok(DeploymentStep {
            deployment: DeploymentId(row.deployment_id),
            position: u32::try_from(row.position).map_err(|error| corrupt(&error))?,
            phase: parse(ENTITY, &key, row.phase.parse())?,
            service: parse(ENTITY, &key, ServiceName::parse(&row.service))?,
            tier: parse(ENTITY, &key, StepName::parse(&row.tier))?,
            spec: serde_json::from_str(&row.spec).map_err(|error| corrupt(&error))?,
            target: row
                .target
                .map(|target| serde_json::from_str(&target))
                .transpose()
                .map_err(|error| corrupt(&error))?,
            state: parse(ENTITY, &key, row.state.parse())?,
            attempts: u32::try_from(row.attempts).map_err(|error| corrupt(&error))?,
            started_at: row.started_at.map(|at| timestamp(ENTITY, &key, at)).transpose()?,
            finished_at: row.finished_at.map(|at| timestamp(ENTITY, &key, at)).transpose()?,
            outcome: row.outcome,
        })
    }
}

const RUN_COLUMNS: &str = "deployment_id, state, phase, worker, epoch, claim_expires_at, reason";
const STEP_COLUMNS: &str =
    "deployment_id, position, phase, service, tier, spec, target, state, attempts, started_at, finished_at, outcome";

impl Conn {
    /// The run of `deployment`, if it is an orchestrated one.
    pub async fn find_run(&mut self, deployment: DeploymentId) -> Result<Option<Run>, StoreError> {
        let row: Option<RunRow> =
            sqlx::query_as(&format!("SELECT {RUN_COLUMNS} FROM deployment_runs WHERE deployment_id = $1"))
                .bind(deployment.0)
                .fetch_optional(self.executor())
                .await
                .map_err(StoreError::from_sqlx)?;
        row.map(Run::try_from).transpose()
    }

    /// Runs a worker may claim at `at` (active, and unclaimed or with a lapsed claim), oldest
    /// first, at most `limit`.
    pub async fn list_claimable_runs(&mut self, at: Timestamp, limit: u32) -> Result<Vec<Run>, StoreError> {
        let rows: Vec<RunRow> = sqlx::query_as(&format!(
            "SELECT {RUN_COLUMNS} FROM deployment_runs \
             WHERE state = 'active' AND (claim_expires_at IS NULL OR claim_expires_at <= $1) \
             ORDER BY deployment_id LIMIT $2"
        ))
        .bind(micros(at))
        .bind(i64::from(limit))
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(Run::try_from).collect()
    }

    /// Whether a deployment of `release` into `environment` was rolled back by its plans'
    /// rollback steps (its run rolled back and its deployment ended `rolled_back`).
    pub async fn rollback_succeeded(
        &mut self,
        release: tollgate_core::release::ReleaseId,
        environment: &tollgate_core::name::EnvironmentName,
    ) -> Result<bool, StoreError> {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM deployments d JOIN deployment_runs r ON r.deployment_id = d.id \
             WHERE d.release_id = $1 AND d.environment = $2 AND d.status = 'rolled_back' AND r.phase = 'rollback'",
        )
        .bind(release.0)
        .bind(environment.as_str())
        .fetch_one(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        Ok(count > 0)
    }

    /// The runs in `state`, oldest first.
    pub async fn list_runs_in_state(&mut self, state: RunState) -> Result<Vec<Run>, StoreError> {
        let rows: Vec<RunRow> = sqlx::query_as(&format!(
            "SELECT {RUN_COLUMNS} FROM deployment_runs WHERE state = $1 ORDER BY deployment_id"
        ))
        .bind(state.as_str())
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(Run::try_from).collect()
    }

    /// The plans of the release's services as they were when `deployment` started.
    pub async fn run_plans(
        &mut self,
        deployment: DeploymentId,
    ) -> Result<BTreeMap<ServiceName, DeploymentPlan>, StoreError> {
        let (plans,): (String,) = sqlx::query_as("SELECT plans FROM deployment_runs WHERE deployment_id = $1")
            .bind(deployment.0)
            .fetch_optional(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?
            .ok_or_else(|| StoreError::NotFound { entity: Entity::Run, key: deployment.to_string() })?;
        serde_json::from_str(&plans).map_err(|error| StoreError::corrupt(Entity::Run, deployment.to_string(), error))
    }

    /// The steps of `deployment`'s run, in order; empty for a deployment that is not orchestrated.
    pub async fn list_steps(&mut self, deployment: DeploymentId) -> Result<Vec<DeploymentStep>, StoreError> {
        let rows: Vec<StepRow> = sqlx::query_as(&format!(
            "SELECT {STEP_COLUMNS} FROM deployment_steps WHERE deployment_id = $1 ORDER BY position"
        ))
        .bind(deployment.0)
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(DeploymentStep::try_from).collect()
    }

    /// The first step of `phase` in `deployment`'s run that neither succeeded nor was skipped:
    /// the one that decides what the run does next. `None` when every such step is done with.
    pub async fn next_unfinished_step(
        &mut self,
        deployment: DeploymentId,
        phase: Phase,
    ) -> Result<Option<DeploymentStep>, StoreError> {
        let row: Option<StepRow> = sqlx::query_as(&format!(
            "SELECT {STEP_COLUMNS} FROM deployment_steps WHERE deployment_id = $1 AND phase = $4 \
             AND state NOT IN ($2, $3) ORDER BY position LIMIT 1"
        ))
        .bind(deployment.0)
        .bind(StepState::Succeeded.as_str())
        .bind(StepState::Skipped.as_str())
        .bind(phase.as_str())
        .fetch_optional(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        row.map(DeploymentStep::try_from).transpose()
    }

    /// The step at `position` of `deployment`'s run.
    pub async fn find_step(
        &mut self,
        deployment: DeploymentId,
        position: u32,
    ) -> Result<Option<DeploymentStep>, StoreError> {
        let row: Option<StepRow> = sqlx::query_as(&format!(
            "SELECT {STEP_COLUMNS} FROM deployment_steps WHERE deployment_id = $1 AND position = $2"
        ))
        .bind(deployment.0)
        .bind(i64::from(position))
        .fetch_optional(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        row.map(DeploymentStep::try_from).transpose()
    }

    /// What the steps of `deployment` printed, in order, after line `after` of step `from`
    /// (everything when `None`), at most `limit` lines.
    pub async fn list_logs(
        &mut self,
        deployment: DeploymentId,
        after: Option<(u32, u64)>,
        limit: u32,
    ) -> Result<Vec<LogLine>, StoreError> {
        let (position, line) = after.map_or((-1, -1), |(position, line)| (i64::from(position), line as i64));
        let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(
            "SELECT position, line, at, text FROM deployment_logs WHERE deployment_id = $1 \
             AND (position > $2 OR (position = $2 AND line > $3)) ORDER BY position, line LIMIT $4",
        )
        .bind(deployment.0)
        .bind(position)
        .bind(line)
        .bind(i64::from(limit))
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        let key = deployment.to_string();
        rows.into_iter()
            .map(|(position, line, at, text)| {
                Ok(LogLine {
                    position: u32::try_from(position)
                        .map_err(|error| StoreError::corrupt(Entity::DeploymentStep, key.clone(), error))?,
                    line: line as u64,
                    at: timestamp(Entity::DeploymentStep, &key, at)?,
                    text,
                })
            })
            .collect()
    }
}

impl StoreTx {
    /// Stores the run of a deployment that was just recorded: its plans and its steps, all
    /// pending, unclaimed, epoch 0.
    pub async fn insert_run(
        &mut self,
        deployment: DeploymentId,
        plans: &BTreeMap<ServiceName, DeploymentPlan>,
        steps: &[NewStep],
    ) -> Result<(), StoreError> {
        let key = deployment.to_string();
        let plans = serde_json::to_string(plans).expect("plans serialize");
        let insert = sqlx::query(
            "INSERT INTO deployment_runs (deployment_id, state, epoch, plans) VALUES ($1, 'active', 0, $2)",
        )
        .bind(deployment.0)
        .bind(plans);
        self.execute(insert, Entity::Run, &key).await?;
        for (position, step) in steps.iter().enumerate() {
            let insert = sqlx::query(
                "INSERT INTO deployment_steps (deployment_id, position, service, tier, spec, state, attempts, phase, target) \
                 VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8)",
            )
            .bind(deployment.0)
            .bind(position as i64)
            .bind(step.service.as_str())
            .bind(step.tier.as_str())
            .bind(serde_json::to_string(&step.spec).expect("a step serializes"))
            .bind(StepState::Pending.as_str())
            .bind(step.phase.as_str())
            .bind(step.target.as_ref().map(|target| serde_json::to_string(target).expect("a target serializes")));
            self.execute(insert, Entity::DeploymentStep, &key).await?;
        }
        Ok(())
    }

    /// Claims the run for `claim.worker` until `claim.expires_at`, if at `now` its epoch is still
    /// `claim.epoch - 1` (nobody claimed it meanwhile) and the claim it has lapsed (nobody renewed
    /// it meanwhile). Returns whether the claim was taken.
    pub async fn claim_run(&mut self, claim: &Claim, now: Timestamp) -> Result<bool, StoreError> {
        let key = claim.deployment.to_string();
        let previous = claim.epoch.checked_sub(1).expect("a claim's epoch is at least 1") as i64;
        let query = sqlx::query(
            "UPDATE deployment_runs SET worker = $2, epoch = $3, claim_expires_at = $4 \
             WHERE deployment_id = $1 AND epoch = $5 AND state = 'active' \
             AND (claim_expires_at IS NULL OR claim_expires_at <= $6)",
        )
        .bind(claim.deployment.0)
        .bind(claim.worker.as_str())
        .bind(claim.epoch as i64)
        .bind(micros(claim.expires_at))
        .bind(previous)
        .bind(micros(now));
        Ok(self.execute(query, Entity::Run, &key).await? == 1)
    }

    /// Locks the run's row for the rest of the transaction and reads it, so a worker checks its
    /// claim and writes with no take-over in between.
    pub async fn lock_run(&mut self, deployment: DeploymentId) -> Result<Run, StoreError> {
        let key = deployment.to_string();
        let touch = sqlx::query("UPDATE deployment_runs SET epoch = epoch WHERE deployment_id = $1").bind(deployment.0);
        let affected = self.execute(touch, Entity::Run, &key).await?;
        StoreTx::expect_one(affected, Entity::Run, &key)?;
        self.find_run(deployment).await?.ok_or(StoreError::NotFound { entity: Entity::Run, key })
    }

    /// Stores a run's state, phase, claim and reason (the caller locked it with `lock_run`).
    pub async fn update_run(&mut self, run: &Run) -> Result<(), StoreError> {
        let key = run.deployment.to_string();
        let query = sqlx::query(
            "UPDATE deployment_runs SET state = $2, worker = $3, epoch = $4, claim_expires_at = $5, reason = $6, \
             phase = $7 WHERE deployment_id = $1",
        )
        .bind(run.deployment.0)
        .bind(run.state.as_str())
        .bind(run.worker.as_ref().map(ToString::to_string))
        .bind(run.epoch as i64)
        .bind(run.claim_expires_at.map(micros))
        .bind(run.reason.clone())
        .bind(run.phase.as_str());
        let affected = self.execute(query, Entity::Run, &key).await?;
        StoreTx::expect_one(affected, Entity::Run, &key)
    }

    /// Stores a step's state, attempts, times and outcome.
    pub async fn update_step(&mut self, step: &DeploymentStep) -> Result<(), StoreError> {
        let key = format!("{}/{}", step.deployment, step.position);
        let query = sqlx::query(
            "UPDATE deployment_steps SET state = $3, attempts = $4, started_at = $5, finished_at = $6, outcome = $7 \
             WHERE deployment_id = $1 AND position = $2",
        )
        .bind(step.deployment.0)
        .bind(i64::from(step.position))
        .bind(step.state.as_str())
        .bind(i64::from(step.attempts))
        .bind(step.started_at.map(micros))
        .bind(step.finished_at.map(micros))
        .bind(step.outcome.clone());
        let affected = self.execute(query, Entity::DeploymentStep, &key).await?;
        StoreTx::expect_one(affected, Entity::DeploymentStep, &key)
    }

    /// Appends lines to what step `position` of `deployment` printed, numbered after its last.
    pub async fn append_logs(
        &mut self,
        deployment: DeploymentId,
        position: u32,
        lines: &[(Timestamp, String)],
    ) -> Result<(), StoreError> {
        // Most steps of a busy run print nothing: no query for them on the engine's hot path.
        if lines.is_empty() {
            return Ok(());
        }
        let key = format!("{deployment}/{position}");
        let (last,): (Option<i64>,) =
            sqlx::query_as("SELECT MAX(line) FROM deployment_logs WHERE deployment_id = $1 AND position = $2")
                .bind(deployment.0)
                .bind(i64::from(position))
                .fetch_one(self.executor())
                .await
                .map_err(StoreError::from_sqlx)?;
        let mut line = last.unwrap_or(0);
        for (at, text) in lines {
            line += 1;
            let insert = sqlx::query(
                "INSERT INTO deployment_logs (deployment_id, position, line, at, text) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(deployment.0)
            .bind(i64::from(position))
            .bind(line)
            .bind(micros(*at))
            .bind(text.as_str());
            self.execute(insert, Entity::DeploymentStep, &key).await?;
        }
        Ok(())
    }
}
