//! Quality gates: installing the gate policy, evaluating an environment's gates for a release,
//! overriding a failed decision, replaying a decision, and the check that keeps a deployment
//! out of an environment whose blocking gates have not passed.
//!
//! A decision binds to the release's manifest digest, the digest of the evidence set it judged
//! (evidence files and signatures with their trust) and the policy version. A deployment needs
//! a decision with all three unchanged that passed, or was overridden. Evaluating runs the
//! policy engine off the async runtime, one evaluation per core at most (the same permits as
//! evidence parses), within the engine's input and time limits.

use serde_json::{json, Value};
use tollgate_authz::{Action, Context, Resource};
use tollgate_core::audit::{AuditAction, ObjectKind, ObjectRef};
use tollgate_core::change::ChangeRequest;
use tollgate_core::digest::{canonical_json, Sha256Digest};
use tollgate_core::environment::Environment;
use tollgate_core::evidence::EvidenceRecord;
use tollgate_core::gate::{
    check_reason, evidence_set_digest, parse_policy, EvidenceItem, GateBinding, GateDecided, GateDecision,
    GateDecisionId, GateOverride, GatePolicy, GatesInput, PolicyInstalled, PolicyVersion, PolicyVersionRecord,
    SignatureItem,
};
use tollgate_core::name::EnvironmentName;
use tollgate_core::release::Release;
use tollgate_core::{Entity, Page, Problem, Violations};
use tollgate_policy::{Bundle, GateResult, Limits as PolicyLimits};
use tollgate_store::{ChangeFilter, Conn, NewGateDecision, StoreTx};

use crate::audit::Change;
use crate::catalog::{not_found, parse_key};
use crate::error::{Busy, GateRefusal};
use crate::release::{get_in, ReleaseRef};
use crate::{Limits, Principal, ServiceError, ServiceResult, Tollgate};

/// Which policy an evaluation judges with.
#[derive(Debug, Clone)]
pub enum Evaluation {
    /// The installed policy; the decision is recorded and audited.
    Record,
    /// A policy not installed (gates for this environment and their modules); nothing is
    /// recorded.
    DryRun(GatesInput),
}

/// The result of evaluating an environment's gates for a release.
#[derive(Debug, Clone)]
pub struct GateEvaluation {
    pub release: semver::Version,
    pub environment: EnvironmentName,
    /// The recorded decision; `None` on a dry run or when no policy is installed.
    pub decision: Option<GateDecisionId>,
    /// What the decision binds to; `None` when no policy is installed.
    pub binding: Option<GateBinding>,
    pub input_digest: Sha256Digest,
    /// The document the gates judged, for `--explain`.
    pub input: Value,
    pub results: Vec<GateResult>,
    /// Whether every blocking gate passed.
    pub passed: bool,
}

/// A decision judged again from its stored input under its own policy version.
#[derive(Debug, Clone)]
pub struct GateReplay {
    pub decision: GateDecision,
    pub results: Vec<GateResult>,
    /// Whether the replay gives the recorded results.
    pub matches: bool,
}

/// What one evaluation reads, from one snapshot.
struct EvaluationSnapshot {
    release: Release,
    environment: Environment,
    input: Value,
    evidence_digest: Sha256Digest,
}

impl Tollgate {
    /// Evaluates the gates of `environment` for `release` and, with `Evaluation::Record`,
    /// records and audits the decision. Without an installed policy the result passes with no
    /// gates and records nothing.
    pub async fn evaluate_gates(
        &self,
        principal: &Principal,
        release: &ReleaseRef,
        environment: &str,
        evaluation: Evaluation,
    ) -> ServiceResult<GateEvaluation> {
        self.authorize_release(principal, Action::GateEvaluate, release).await?;
        let environment = parse_key(environment, EnvironmentName::parse)?;
        let (snapshot, installed) = {
            let mut read = self.store.read().await?;
            let snapshot = self.read_evaluation(&mut read, release, &environment).await?;
            (snapshot, read.find_current_policy().await?)
        };
        let (policy, version) = match evaluation {
            Evaluation::Record => match installed {
                Some(record) => (record.policy, Some(record.version)),
                None => (GatePolicy::default(), None),
            },
            // Validated like an installed policy; only the evaluated environment's gates run.
            Evaluation::DryRun(gates) => (parse_policy(gates.environments, gates.modules)?, None),
        };
        let results = self.run_gates(&policy, &environment, snapshot.input.clone()).await?;
        let passed = !results.iter().any(GateResult::blocks);
        let input_digest = Sha256Digest::of(&canonical_json(&snapshot.input));
        let binding = version.map(|policy| GateBinding {
            manifest_digest: snapshot.release.manifest_digest(),
            evidence_digest: snapshot.evidence_digest,
            policy,
            library: Some(tollgate_policy::library_digest()),
        });
        let mut evaluated = GateEvaluation {
            release: snapshot.release.content.version.clone(),
            environment: snapshot.environment.name.clone(),
            decision: None,
            binding: binding.clone(),
            input_digest,
            input: snapshot.input,
            results,
            passed,
        };
        if let Some(binding) = &binding {
            let mut tx = self.store.begin().await?;
            evaluated.decision =
                Some(self.record_decision(&mut tx, principal, &snapshot.release, binding, &evaluated).await?);
            tx.commit().await?;
        }
        Ok(evaluated)
    }

    /// Lets the current failed decision of `environment` for `release` pass, with a reason.
    /// Authorized as `override.gate` (admins by default; the reason is required by policy too). Refused when there is no current decision (none, or one whose release,
    /// evidence or policy changed since) or when it passed.
    pub async fn override_gates(
        &self,
        principal: &Principal,
        release: &ReleaseRef,
        environment: &str,
        reason: &str,
    ) -> ServiceResult<GateOverride> {
        let environment = parse_key(environment, EnvironmentName::parse)?;
        let reason = check_reason(reason).map_err(|problem| ServiceError::invalid("reason", problem))?;
        let facts = {
            let mut read = self.store.read().await?;
            let current = get_in(&mut read, release).await?;
            self.release_facts(&mut read, &current).await?
        };
        let context = Context { reason: Some(reason.clone()), ..Context::default() };
        self.authorize(principal, Action::OverrideGate, Resource::Release(facts), context).await?;
        let mut tx = self.store.begin().await?;
        let current = get_in(&mut tx, release).await?;
        let decision = match self.current_decision(&mut tx, &current, &environment).await? {
            Ok(decision) => decision,
            Err(refusal) => return Err(ServiceError::GatesNotPassed(refusal)),
        };
        if decision.passed {
            return Err(ServiceError::Conflict {
                entity: Entity::GateDecision,
                key: format!("{} (it passed)", decision.id),
            });
        }
        let id = tx.insert_gate_override(decision.id, &reason, &principal.user.name, self.now()).await?;
        let stored = tx.find_gate_override(decision.id).await?.ok_or_else(|| not_found(Entity::GateOverride, id))?;
        let object = ObjectRef::new(ObjectKind::GateOverride, id);
        let change =
            Change { action: AuditAction::Override, object, before: None, after: Some(&stored), reason: Some(&reason) };
        self.record_for(&mut tx, principal, change).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Judges a recorded decision again: its stored input, under the policy version it was
    /// made with.
    pub async fn replay_gate_decision(&self, principal: &Principal, id: GateDecisionId) -> ServiceResult<GateReplay> {
        self.authorize_read(principal).await?;
        let (decision, policy) = {
            let mut read = self.store.read().await?;
            let decision = read.find_gate_decision(id).await?.ok_or_else(|| not_found(Entity::GateDecision, id))?;
            let seq = decision.binding.policy.seq;
            let policy = read.find_policy_version(seq).await?.ok_or_else(|| not_found(Entity::PolicyVersion, seq))?;
            (decision, policy.policy)
        };
        let results = self.run_gates(&policy, &decision.environment, decision.input.clone()).await?;
        let matches = serde_json::to_value(&results).ok().as_ref() == Some(&decision.results);
        Ok(GateReplay { decision, results, matches })
    }

    pub async fn get_gate_decision(&self, principal: &Principal, id: GateDecisionId) -> ServiceResult<GateDecision> {
        self.authorize_read(principal).await?;
        let found = self.store.read().await?.find_gate_decision(id).await?;
        found.ok_or_else(|| not_found(Entity::GateDecision, id))
    }

    /// Decisions, newest first, optionally of one release and one environment.
    pub async fn list_gate_decisions(
        &self,
        principal: &Principal,
        release: Option<&ReleaseRef>,
        environment: Option<&str>,
        page: Page,
    ) -> ServiceResult<Vec<GateDecision>> {
        self.authorize_read(principal).await?;
        let environment = environment.map(|name| parse_key(name, EnvironmentName::parse)).transpose()?;
        let mut read = self.store.read().await?;
        let release = match release {
            Some(release) => Some(get_in(&mut read, release).await?.id),
            None => None,
        };
        Ok(read.list_gate_decisions(release, environment.as_ref(), page).await?)
    }

    /// The gate policy in force, if one was installed.
    pub async fn current_policy(&self, principal: &Principal) -> ServiceResult<Option<PolicyVersionRecord>> {
        self.authorize_read(principal).await?;
        Ok(self.store.read().await?.find_current_policy().await?)
    }

    /// Installed policy versions, newest first.
    pub async fn list_policy_versions(
        &self,
        principal: &Principal,
        page: Page,
    ) -> ServiceResult<Vec<PolicyVersionRecord>> {
        self.authorize_read(principal).await?;
        Ok(self.store.read().await?.list_policy_versions(page).await?)
    }

    /// Compiles every environment's gates of `policy`, reporting each problem at the path of
    /// the gate (`gates.prod[1]`) or, for a module, with the module's own line and column.
    pub(crate) fn compile_policy(&self, policy: &GatePolicy) -> ServiceResult<()> {
        let mut violations = Violations::new();
        let mut seen = std::collections::BTreeSet::new();
        for (environment, gates) in &policy.gates {
            let Err(errors) = Bundle::new(gates.clone(), policy.modules.clone()) else {
                continue;
            };
            for error in errors {
                // A module's problem is the same in every environment: report it once, at the
                // first gate that names the module.
                let field = match error.path.strip_prefix("gates.") {
                    Some(name) => match gates.iter().position(|gate| gate.name.as_str() == name) {
                        Some(index) => format!("gates.{environment}[{index}]"),
                        None => format!("gates.{environment}"),
                    },
                    None => first_gate_naming(policy, &error.path).unwrap_or_else(|| "modules".to_owned()),
                };
                if seen.insert((field.clone(), error.to_string())) {
                    violations.push(field, Problem::Invalid { reason: error.to_string() });
                }
            }
        }
        violations.into_result(())?;
        Ok(())
    }

    /// Records a new policy version inside an apply, with its audit entry.
    pub(crate) async fn install_policy_in(
        &self,
        tx: &mut StoreTx,
        principal: &Principal,
        policy: &GatePolicy,
    ) -> ServiceResult<PolicyVersion> {
        let before = tx.find_current_policy().await?;
        let version = tx.insert_policy_version(policy, &principal.user.name, self.now()).await?;
        let before = before.map(|record| PolicyInstalled::of(record.version, &record.policy));
        let after = PolicyInstalled::of(version, policy);
        let object = ObjectRef::new(ObjectKind::Policy, "gates");
        let action = if before.is_some() { AuditAction::Update } else { AuditAction::Create };
        let change = Change { action, object, before: before.as_ref(), after: Some(&after), reason: None };
        self.record_for(tx, principal, change).await?;
        Ok(version)
    }

    /// Inside a deployment's write: refuses unless every blocking gate of `environment` passed
    /// for `release` as it is now (or the failure was overridden). An environment with no
    /// blocking gate needs no decision.
    pub(crate) async fn check_gates_in(
        &self,
        tx: &mut Conn,
        release: &Release,
        environment: &EnvironmentName,
    ) -> ServiceResult<()> {
        let Some(policy) = tx.find_current_policy().await? else {
            return Ok(());
        };
        let blocking: Vec<String> = policy
            .policy
            .gates_of(environment)
            .iter()
            .filter(|gate| gate.enforcement == tollgate_core::gate::Enforcement::Block)
            .map(|gate| gate.name.to_string())
            .collect();
        if blocking.is_empty() {
            return Ok(());
        }
        let decision = match self.current_decision(tx, release, environment).await? {
            Ok(decision) => decision,
            Err(refusal) => return Err(ServiceError::GatesNotPassed(refusal)),
        };
        if decision.passed || tx.find_gate_override(decision.id).await?.is_some() {
            return Ok(());
        }
        let failed = blocking_failures(&decision.results);
        Err(ServiceError::GatesNotPassed(GateRefusal::Failed {
            release: release.content.version.clone(),
            environment: environment.clone(),
            decision: decision.id,
            gates: failed,
        }))
    }

    /// What the gates of `environment` say about `release` as it is now, for risk scoring:
    /// passing when the current decision passed (or was overridden), failing when it failed,
    /// missing when there is no current decision; without blocking gates, passing when there
    /// is evidence and missing when there is none.
    pub(crate) async fn evidence_state_in(
        &self,
        conn: &mut Conn,
        release: &Release,
        environment: &EnvironmentName,
    ) -> ServiceResult<tollgate_core::change::risk::EvidenceState> {
        use tollgate_core::change::risk::EvidenceState;
        let has_gates = match conn.find_current_policy().await? {
            Some(policy) => !policy.policy.gates_of(environment).is_empty(),
            None => false,
        };
        if !has_gates {
            let evidence = conn.list_evidence(release.id).await?;
            return Ok(if evidence.is_empty() { EvidenceState::Missing } else { EvidenceState::Passing });
        }
        Ok(match self.current_decision(conn, release, environment).await? {
            Ok(decision) if decision.passed => EvidenceState::Passing,
            Ok(decision) if conn.find_gate_override(decision.id).await?.is_some() => EvidenceState::Passing,
            Ok(_) => EvidenceState::Failing,
            Err(_) => EvidenceState::Missing,
        })
    }

    /// The newest decision for `release` in `environment` if it still binds (same manifest
    /// digest, evidence set, policy version and built-in library); otherwise why not.
    async fn current_decision(
        &self,
        conn: &mut Conn,
        release: &Release,
        environment: &EnvironmentName,
    ) -> ServiceResult<Result<GateDecision, GateRefusal>> {
        let version = release.content.version.clone();
        let Some(policy) = conn.find_current_policy().await? else {
            return Ok(Err(GateRefusal::NotEvaluated {
                release: version,
                environment: environment.clone(),
                policy: None,
            }));
        };
        let Some(decision) = conn.find_latest_gate_decision(release.id, environment).await? else {
            let policy = Some(policy.version);
            return Ok(Err(GateRefusal::NotEvaluated { release: version, environment: environment.clone(), policy }));
        };
        let records = conn.list_evidence(release.id).await?;
        let (_, evidence_digest) = self.evidence_set(conn, release, &records).await?;
        let mut changed = Vec::new();
        if decision.binding.manifest_digest != release.manifest_digest() {
            changed.push("the release's artifacts");
        }
        if decision.binding.evidence_digest != evidence_digest {
            changed.push("the evidence or signatures");
        }
        if decision.binding.policy.seq != policy.version.seq {
            changed.push("the gate policy");
        }
        if decision.binding.library != Some(tollgate_policy::library_digest()) {
            changed.push("the built-in gate library (Tollgate was upgraded)");
        }
        if !changed.is_empty() {
            return Ok(Err(GateRefusal::Stale {
                release: version,
                environment: environment.clone(),
                decision: decision.id,
                changed,
            }));
        }
        Ok(Ok(decision))
    }

    async fn record_decision(
        &self,
        tx: &mut StoreTx,
        principal: &Principal,
        release: &Release,
        binding: &GateBinding,
        evaluated: &GateEvaluation,
    ) -> ServiceResult<GateDecisionId> {
        let results = serde_json::to_value(&evaluated.results).expect("gate results convert to JSON");
        let new = NewGateDecision {
            release: release.id,
            environment: &evaluated.environment,
            binding,
            input: &evaluated.input,
            input_digest: &evaluated.input_digest,
            passed: evaluated.passed,
            results: &results,
            created_by: &principal.user.name,
            created_at: self.now(),
        };
        let id = tx.insert_gate_decision(&new).await?;
        let decided = GateDecided {
            release: release.content.version.clone(),
            environment: evaluated.environment.clone(),
            binding: binding.clone(),
            input_digest: evaluated.input_digest,
            passed: evaluated.passed,
            results,
        };
        let object = ObjectRef::new(ObjectKind::GateDecision, id);
        let change =
            Change { action: AuditAction::Evaluate, object, before: None, after: Some(&decided), reason: None };
        self.record_for(tx, principal, change).await?;
        Ok(id)
    }

    /// Compiles the gates of `environment` and evaluates them on a blocking thread, holding
    /// one of the per-core permits.
    async fn run_gates(
        &self,
        policy: &GatePolicy,
        environment: &EnvironmentName,
        input: Value,
    ) -> ServiceResult<Vec<GateResult>> {
        let gates = policy.gates_of(environment).to_vec();
        if gates.is_empty() {
            return Ok(Vec::new());
        }
        let modules = policy.modules.clone();
        let _permit = Limits::try_acquire(&self.limits.parses, Busy::Parse)?;
        tokio::task::spawn_blocking(move || -> ServiceResult<Vec<GateResult>> {
            let bundle = Bundle::new(gates, modules).map_err(policy_violations)?;
            bundle
                .evaluate(&input, &PolicyLimits::default())
                .map_err(|error| ServiceError::invalid("input", Problem::Invalid { reason: error.to_string() }))
        })
        .await
        .map_err(|error| ServiceError::Unavailable(tollgate_store::StoreError::Unavailable(Box::new(error))))?
    }

    /// Reads the release, the environment, and everything the gates judge, from one snapshot.
    async fn read_evaluation(
        &self,
        conn: &mut Conn,
        release: &ReleaseRef,
        environment: &EnvironmentName,
    ) -> ServiceResult<EvaluationSnapshot> {
        let release = get_in(conn, release).await?;
        let environment =
            conn.find_environment(environment).await?.ok_or_else(|| not_found(Entity::Environment, environment))?;
        // Read once: the evidence both goes into the input and is digested for the binding.
        let records = conn.list_evidence(release.id).await?;
        let (artifacts, evidence_digest) = self.evidence_set(conn, &release, &records).await?;
        let evidence = evidence_documents(records);
        let previous = match previous_release(conn, &release, &environment.name).await? {
            Some(previous) => {
                let evidence = evidence_documents(conn.list_evidence(previous.id).await?);
                json!({"version": previous.content.version.to_string(), "evidence": evidence})
            }
            None => Value::Null,
        };
        // The newest change request for this release and environment, whatever its state.
        let filter = ChangeFilter {
            release: Some(release.id),
            environment: Some(environment.name.clone()),
            ..ChangeFilter::default()
        };
        let change_request = match conn.list_change_requests(&filter, Page::first(1)).await?.first() {
            Some(change) => change_document(change),
            None => Value::Null,
        };
        let input = json!({
            "release": {
                "version": release.content.version.to_string(),
                "type": release.content.release_type.as_str(),
                "state": release.state.as_str(),
                "manifest_digest": release.manifest_digest().to_string(),
                "artifacts": artifacts,
            },
            "environment": {"name": environment.name.as_str(), "tier": environment.tier.as_str()},
            "evidence": evidence,
            "previous": previous,
            "change_request": change_request,
        });
        Ok(EvaluationSnapshot { release, environment, input, evidence_digest })
    }

    /// The release's artifacts with their signatures and trust, as the gate input shows them,
    /// and the digest of the evidence set (`records`, the release's evidence, and the
    /// signatures with their trust).
    async fn evidence_set(
        &self,
        conn: &mut Conn,
        release: &Release,
        records: &[EvidenceRecord],
    ) -> ServiceResult<(Vec<Value>, Sha256Digest)> {
        let signed = self.signature_trust(conn, release).await?;
        let evidence: Vec<EvidenceItem<'_>> = records
            .iter()
            .map(|record| EvidenceItem {
                kind: record.kind.as_str(),
                service: record.service.as_ref().map(|service| service.as_str()),
                digest: &record.digest,
            })
            .collect();
        let mut signatures = Vec::new();
        let mut artifacts = Vec::new();
        for artifact in &signed {
            let listed: Vec<Value> = artifact
                .signatures
                .iter()
                .map(|(key, team, trusted)| json!({"key": key, "team": team, "trusted": trusted}))
                .collect();
            artifacts.push(json!({
                "service": artifact.service,
                "name": artifact.name,
                "version": artifact.version,
                "digest": artifact.digest.to_string(),
                "signatures": listed,
            }));
            for (key, _, trusted) in &artifact.signatures {
                signatures.push(SignatureItem { artifact: &artifact.digest, key, trusted: *trusted });
            }
        }
        let digest = evidence_set_digest(evidence, signatures);
        Ok((artifacts, digest))
    }
}

/// The evidence of a release as the gate input shows it.
fn evidence_documents(records: Vec<EvidenceRecord>) -> Vec<Value> {
    records
        .into_iter()
        .map(|record| {
            json!({
                "kind": record.kind.as_str(),
                "service": record.service.map(|service| service.to_string()),
                "digest": record.digest.to_string(),
                "facts": record.facts,
            })
        })
        .collect()
}

/// The last other release that succeeded in `environment`: the baseline for comparisons.
async fn previous_release(
    conn: &mut Conn,
    release: &Release,
    environment: &EnvironmentName,
) -> ServiceResult<Option<Release>> {
    let history = conn.deployed_releases(environment).await?;
    let previous = history
        .iter()
        .filter(|deployed| deployed.deployment.release != release.id)
        .filter(|deployed| deployed.deployment.status == tollgate_core::deployment::DeploymentStatus::Succeeded)
        .max_by_key(|deployed| (deployed.deployment.started_at, deployed.deployment.id));
    match previous {
        Some(deployed) => Ok(Some(get_in(conn, &ReleaseRef::Id(deployed.deployment.release)).await?)),
        None => Ok(None),
    }
}

/// The field of the first gate (in environment order) that names module `path`.
fn first_gate_naming(policy: &GatePolicy, path: &str) -> Option<String> {
    policy.gates.iter().find_map(|(environment, gates)| {
        gates
            .iter()
            .position(
                |gate| matches!(&gate.source, tollgate_core::gate::GateSource::Rego { path: named } if named == path),
            )
            .map(|index| format!("gates.{environment}[{index}]"))
    })
}

/// The names of the blocking gates that did not pass, read from stored results.
fn blocking_failures(results: &Value) -> Vec<String> {
    let gates = results.as_array().map(Vec::as_slice).unwrap_or_default();
    gates
        .iter()
        .filter(|result| result["enforcement"] == "block" && result["outcome"] != "pass")
        .filter_map(|result| result["gate"].as_str().map(str::to_owned))
        .collect()
}

fn policy_violations(errors: Vec<tollgate_policy::PolicyError>) -> ServiceError {
    let mut violations = Violations::new();
    for error in errors {
        violations.push("gates", Problem::Invalid { reason: error.to_string() });
    }
    ServiceError::Invalid(violations)
}

/// A change request as gates see it: what a policy may judge (its type, state, risk and plan),
/// not its free text.
fn change_document(change: &ChangeRequest) -> Value {
    let content = &change.content;
    json!({
        "id": change.id.0,
        "type": content.change_type,
        "template": content.template.as_ref().map(|template| template.as_str()),
        "state": change.state,
        "risk": change.risk.as_ref().map(|risk| json!({"score": risk.score, "class": risk.class})),
        "planned_start": content.planned.start().to_string(),
        "planned_end": content.planned.end().to_string(),
        "rollback_minutes": content.rollback_minutes,
        "tickets": content.tickets,
    })
}
