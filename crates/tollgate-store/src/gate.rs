//! Quality gates: installed gate policy versions, gate decisions and their overrides.
//!
//! Invariant: all three tables are append-only (triggers refuse update and delete, and on
//! PostgreSQL truncate): a decision is never edited, a newer one supersedes it.

use tollgate_core::digest::Sha256Digest;
use tollgate_core::gate::{
    GateBinding, GateDecision, GateDecisionId, GateOverride, GateOverrideId, GatePolicy, PolicyVersion,
    PolicyVersionRecord,
};
use tollgate_core::name::{EnvironmentName, UserName};
use tollgate_core::release::ReleaseId;
use tollgate_core::{Entity, Page, Timestamp};

use crate::conn::Conn;
use crate::error::StoreError;
use crate::rows::{micros, parse, timestamp};
use crate::tx::StoreTx;

#[derive(sqlx::FromRow)]
struct PolicyVersionRow {
    seq: i64,
    digest: String,
    bundle: String,
    created_by: String,
    created_at: i64,
}

impl TryFrom<PolicyVersionRow> for PolicyVersionRecord {
    type Error = StoreError;

    fn try_from(row: PolicyVersionRow) -> Result<PolicyVersionRecord, StoreError> {
        const ENTITY: Entity = Entity::PolicyVersion;
        let seq = row.seq;
        let policy: GatePolicy = serde_json::from_str(&row.bundle).map_err(|e| StoreError::corrupt(ENTITY, seq, e))?;
        let digest = parse(ENTITY, &seq, Sha256Digest::parse(&row.digest))?;
        if policy.digest() != digest {
            return Err(StoreError::corrupt(ENTITY, seq, "the bundle does not match its digest"));
        }
        Ok(PolicyVersionRecord {
            version: PolicyVersion { seq, digest },
            policy,
            created_by: parse(ENTITY, &seq, UserName::parse(&row.created_by))?,
            created_at: timestamp(ENTITY, &seq, row.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct GateDecisionRow {
    id: i64,
    release_id: i64,
    environment: String,
    manifest_digest: String,
    evidence_digest: String,
    policy_seq: i64,
    policy_digest: String,
    library_digest: Option<String>,
    input: String,
    input_digest: String,
    passed: i64,
    results: String,
    created_by: String,
    created_at: i64,
}

impl TryFrom<GateDecisionRow> for GateDecision {
    type Error = StoreError;

    fn try_from(row: GateDecisionRow) -> Result<GateDecision, StoreError> {
        const ENTITY: Entity = Entity::GateDecision;
        let id = row.id;
        let digest = |value: &str| parse(ENTITY, &id, Sha256Digest::parse(value));
        let digests = [&row.manifest_digest, &row.evidence_digest, &row.policy_digest];
        Ok(GateDecision {
            id: GateDecisionId(id),
            release: ReleaseId(row.release_id),
            environment: parse(ENTITY, &id, EnvironmentName::parse(&row.environment))?,
            binding: binding(ENTITY, id, digests, row.policy_seq, row.library_digest.as_deref())?,
            input: serde_json::from_str(&row.input).map_err(|e| StoreError::corrupt(ENTITY, id, e))?,
            input_digest: digest(&row.input_digest)?,
            passed: row.passed != 0,
            results: serde_json::from_str(&row.results).map_err(|e| StoreError::corrupt(ENTITY, id, e))?,
            created_by: parse(ENTITY, &id, UserName::parse(&row.created_by))?,
            created_at: timestamp(ENTITY, &id, row.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct GateOverrideRow {
    id: i64,
    decision_id: i64,
    version: String,
    environment: String,
    manifest_digest: String,
    evidence_digest: String,
    policy_seq: i64,
    policy_digest: String,
    library_digest: Option<String>,
    reason: String,
    created_by: String,
    created_at: i64,
}

impl TryFrom<GateOverrideRow> for GateOverride {
    type Error = StoreError;

    fn try_from(row: GateOverrideRow) -> Result<GateOverride, StoreError> {
        const ENTITY: Entity = Entity::GateOverride;
        let id = row.id;
        let digests = [&row.manifest_digest, &row.evidence_digest, &row.policy_digest];
        Ok(GateOverride {
            id: GateOverrideId(id),
            decision: GateDecisionId(row.decision_id),
            release: row.version.parse().map_err(|e| StoreError::corrupt(ENTITY, id, e))?,
            environment: parse(ENTITY, &id, EnvironmentName::parse(&row.environment))?,
            binding: binding(ENTITY, id, digests, row.policy_seq, row.library_digest.as_deref())?,
            reason: row.reason,
            created_by: parse(ENTITY, &id, UserName::parse(&row.created_by))?,
            created_at: timestamp(ENTITY, &id, row.created_at)?,
        })
    }
}

/// A stored binding: the manifest, evidence-set and policy digests, the policy's sequence and
/// the built-in library's digest.
fn binding(
    entity: Entity,
    id: i64,
    [manifest, evidence, policy]: [&String; 3],
    seq: i64,
    library: Option<&str>,
) -> Result<GateBinding, StoreError> {
    let digest = |value: &str| parse(entity, &id, Sha256Digest::parse(value));
    Ok(GateBinding {
        manifest_digest: digest(manifest)?,
        evidence_digest: digest(evidence)?,
        policy: PolicyVersion { seq, digest: digest(policy)? },
        library: library.map(digest).transpose()?,
    })
}

const DECISION_COLUMNS: &str = "d.id, d.release_id, d.environment, d.manifest_digest, d.evidence_digest, \
     d.policy_seq, p.digest AS policy_digest, d.library_digest, d.input, d.input_digest, d.passed, d.results, d.created_by, d.created_at";

const OVERRIDE_COLUMNS: &str = "o.id, o.decision_id, r.version, d.environment, d.manifest_digest, d.evidence_digest, \
     d.policy_seq, p.digest AS policy_digest, d.library_digest, o.reason, o.created_by, o.created_at";

impl Conn {
    /// The gate policy in force: the newest version, if any was installed.
    pub async fn find_current_policy(&mut self) -> Result<Option<PolicyVersionRecord>, StoreError> {
        let row: Option<PolicyVersionRow> = sqlx::query_as(
            "SELECT seq, digest, bundle, created_by, created_at FROM policy_versions ORDER BY seq DESC LIMIT 1",
        )
        .fetch_optional(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        row.map(PolicyVersionRecord::try_from).transpose()
    }

    /// One policy version by its sequence number.
    pub async fn find_policy_version(&mut self, seq: i64) -> Result<Option<PolicyVersionRecord>, StoreError> {
        let row: Option<PolicyVersionRow> =
            sqlx::query_as("SELECT seq, digest, bundle, created_by, created_at FROM policy_versions WHERE seq = $1")
                .bind(seq)
                .fetch_optional(self.executor())
                .await
                .map_err(StoreError::from_sqlx)?;
        row.map(PolicyVersionRecord::try_from).transpose()
    }

    /// Every policy version, newest first.
    pub async fn list_policy_versions(&mut self, page: Page) -> Result<Vec<PolicyVersionRecord>, StoreError> {
        let rows: Vec<PolicyVersionRow> = sqlx::query_as(
            "SELECT seq, digest, bundle, created_by, created_at FROM policy_versions \
             WHERE ($1 IS NULL OR seq < $1) ORDER BY seq DESC LIMIT $2",
        )
        .bind(page.cursor)
        .bind(page.bounded_limit())
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(PolicyVersionRecord::try_from).collect()
    }

    pub async fn find_gate_decision(&mut self, id: GateDecisionId) -> Result<Option<GateDecision>, StoreError> {
        let query = format!(
            "SELECT {DECISION_COLUMNS} FROM gate_decisions d JOIN policy_versions p ON p.seq = d.policy_seq WHERE d.id = $1"
        );
        let row: Option<GateDecisionRow> =
            sqlx::query_as(&query).bind(id.0).fetch_optional(self.executor()).await.map_err(StoreError::from_sqlx)?;
        row.map(GateDecision::try_from).transpose()
    }

    /// The newest decision for a release in an environment, whatever it is bound to.
    pub async fn find_latest_gate_decision(
        &mut self,
        release: ReleaseId,
        environment: &EnvironmentName,
    ) -> Result<Option<GateDecision>, StoreError> {
        let query = format!(
            "SELECT {DECISION_COLUMNS} FROM gate_decisions d JOIN policy_versions p ON p.seq = d.policy_seq \
             WHERE d.release_id = $1 AND d.environment = $2 ORDER BY d.id DESC LIMIT 1"
        );
        let row: Option<GateDecisionRow> = sqlx::query_as(&query)
            .bind(release.0)
            .bind(environment.as_str())
            .fetch_optional(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        row.map(GateDecision::try_from).transpose()
    }

    /// Decisions, newest first, optionally of one release and one environment.
    pub async fn list_gate_decisions(
        &mut self,
        release: Option<ReleaseId>,
        environment: Option<&EnvironmentName>,
        page: Page,
    ) -> Result<Vec<GateDecision>, StoreError> {
        let query = format!(
            "SELECT {DECISION_COLUMNS} FROM gate_decisions d JOIN policy_versions p ON p.seq = d.policy_seq \
             WHERE ($1 IS NULL OR d.release_id = $1) AND ($2 IS NULL OR d.environment = $2) \
             AND ($3 IS NULL OR d.id < $3) ORDER BY d.id DESC LIMIT $4"
        );
        let rows: Vec<GateDecisionRow> = sqlx::query_as(&query)
            .bind(release.map(|release| release.0))
            .bind(environment.map(|environment| environment.as_str().to_owned()))
            .bind(page.cursor)
            .bind(page.bounded_limit())
            .fetch_all(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(GateDecision::try_from).collect()
    }

    /// The override of a decision, if it has one.
    pub async fn find_gate_override(&mut self, decision: GateDecisionId) -> Result<Option<GateOverride>, StoreError> {
        let query = format!(
            "SELECT {OVERRIDE_COLUMNS} FROM gate_overrides o JOIN gate_decisions d ON d.id = o.decision_id \
             JOIN releases r ON r.id = d.release_id JOIN policy_versions p ON p.seq = d.policy_seq \
             WHERE o.decision_id = $1"
        );
        let row: Option<GateOverrideRow> = sqlx::query_as(&query)
            .bind(decision.0)
            .fetch_optional(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        row.map(GateOverride::try_from).transpose()
    }
}

/// A gate decision about to be recorded.
#[derive(Debug, Clone)]
pub struct NewGateDecision<'a> {
    pub release: ReleaseId,
    pub environment: &'a EnvironmentName,
    pub binding: &'a GateBinding,
    pub input: &'a serde_json::Value,
    pub input_digest: &'a Sha256Digest,
    pub passed: bool,
    pub results: &'a serde_json::Value,
    pub created_by: &'a UserName,
    pub created_at: Timestamp,
}

impl StoreTx {
    /// Records a new policy version with the next sequence number and returns it.
    pub async fn insert_policy_version(
        &mut self,
        policy: &GatePolicy,
        created_by: &UserName,
        created_at: Timestamp,
    ) -> Result<PolicyVersion, StoreError> {
        let digest = policy.digest();
        let bundle = serde_json::to_string(policy).map_err(|e| StoreError::corrupt(Entity::PolicyVersion, "new", e))?;
        let (seq,): (i64,) = sqlx::query_as(
            "INSERT INTO policy_versions (seq, digest, bundle, created_by, created_at) \
             SELECT COALESCE(MAX(seq), 0) + 1, $1, $2, $3, $4 FROM policy_versions RETURNING seq",
        )
        .bind(digest.to_string())
        .bind(bundle)
        .bind(created_by.as_str())
        .bind(micros(created_at))
        .fetch_one(self.executor())
        .await
        .map_err(StoreError::on_write(Entity::PolicyVersion, "next"))?;
        Ok(PolicyVersion { seq, digest })
    }

    pub async fn insert_gate_decision(&mut self, new: &NewGateDecision<'_>) -> Result<GateDecisionId, StoreError> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO gate_decisions (release_id, environment, manifest_digest, evidence_digest, policy_seq, \
             input, input_digest, passed, results, created_by, created_at, library_digest) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(new.release.0)
        .bind(new.environment.as_str())
        .bind(new.binding.manifest_digest.to_string())
        .bind(new.binding.evidence_digest.to_string())
        .bind(new.binding.policy.seq)
        .bind(new.input.to_string())
        .bind(new.input_digest.to_string())
        .bind(i64::from(new.passed))
        .bind(new.results.to_string())
        .bind(new.created_by.as_str())
        .bind(micros(new.created_at))
        .bind(new.binding.library.map(|digest| digest.to_string()))
        .fetch_one(self.executor())
        .await
        .map_err(StoreError::on_write(Entity::GateDecision, new.release))?;
        Ok(GateDecisionId(id))
    }

    /// Records an override of `decision`. A decision is overridden at most once: a second
    /// override is a `Conflict`.
    pub async fn insert_gate_override(
        &mut self,
        decision: GateDecisionId,
        reason: &str,
        created_by: &UserName,
        created_at: Timestamp,
    ) -> Result<GateOverrideId, StoreError> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO gate_overrides (decision_id, reason, created_by, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(decision.0)
        .bind(reason)
        .bind(created_by.as_str())
        .bind(micros(created_at))
        .fetch_one(self.executor())
        .await
        .map_err(StoreError::on_write(Entity::GateOverride, decision))?;
        Ok(GateOverrideId(id))
    }
}
