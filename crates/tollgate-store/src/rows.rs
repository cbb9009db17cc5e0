//! Row types and their conversion into core records. A row that does not convert is reported
//! as `StoreError::Corrupt`, naming the row.

use std::collections::BTreeSet;

use ed25519_dalek::VerifyingKey;
use tollgate_core::artifact::{ArtifactName, ArtifactVersion};
use tollgate_core::audit::{key_id, Checkpoint};
use tollgate_core::deployment::{Deployment, DeploymentId, Promotion};
use tollgate_core::digest::Sha256Digest;
use tollgate_core::environment::Environment;
use tollgate_core::name::{EnvironmentName, Label, LifecycleName, RegionName, ServiceName, TeamName, UserName};
use tollgate_core::release::{
    ArtifactRef, PlannedWindow, Release, ReleaseContent, ReleaseId, ScopeDecision, ScopeItem,
};
use tollgate_core::service::Service;
use tollgate_core::team::Team;
use tollgate_core::token::{ApiToken, TokenId};
use tollgate_core::user::User;
use tollgate_core::Entity;
use tollgate_core::{Problem, Timestamp};

use crate::error::StoreError;

/// Microseconds since the epoch: how every time is stored.
pub(crate) fn micros(at: Timestamp) -> i64 {
    at.as_microsecond()
}

pub(crate) fn timestamp(entity: Entity, key: &impl ToString, value: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_microsecond(value).map_err(|error| StoreError::corrupt(entity, key.to_string(), error))
}

fn optional_timestamp(
    entity: Entity,
    key: &impl ToString,
    value: Option<i64>,
) -> Result<Option<Timestamp>, StoreError> {
    value.map(|value| timestamp(entity, key, value)).transpose()
}

/// Parses a stored value with a core parser, mapping failure to `Corrupt`.
pub(crate) fn parse<T>(entity: Entity, key: &impl ToString, parsed: Result<T, Problem>) -> Result<T, StoreError> {
    parsed.map_err(|problem| StoreError::corrupt(entity, key.to_string(), problem))
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    pub name: String,
    pub display_name: String,
}

impl UserRow {
    /// The user, with the roles stored for it.
    pub(crate) fn into_user(self, roles: Vec<String>) -> Result<User, StoreError> {
        let roles = roles
            .iter()
            .map(|role| parse(Entity::User, &self.name, role.parse::<tollgate_core::user::Role>()))
            .collect::<Result<_, _>>()?;
        Ok(User {
            name: parse(Entity::User, &self.name, UserName::parse(&self.name))?,
            display_name: self.display_name,
            roles,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TeamRow {
    pub name: String,
    pub display_name: String,
    pub artifact_pattern: Option<String>,
}

impl TeamRow {
    pub fn into_team(self, members: Vec<String>) -> Result<Team, StoreError> {
        let members = members
            .iter()
            .map(|member| parse(Entity::Team, &self.name, UserName::parse(member)))
            .collect::<Result<BTreeSet<_>, _>>()?;
        Ok(Team {
            name: parse(Entity::Team, &self.name, TeamName::parse(&self.name))?,
            display_name: self.display_name,
            members,
            artifact_pattern: self
                .artifact_pattern
                .map(|pattern| parse(Entity::Team, &self.name, tollgate_core::artifact::NamePattern::parse(&pattern)))
                .transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
    pub id: i64,
    pub user_name: String,
    pub description: String,
    pub prefix: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub parent_id: Option<i64>,
}

impl TryFrom<TokenRow> for ApiToken {
    type Error = StoreError;

    fn try_from(row: TokenRow) -> Result<ApiToken, StoreError> {
        let key = row.id;
        Ok(ApiToken {
            id: TokenId(row.id),
            user: parse(Entity::Token, &key, UserName::parse(&row.user_name))?,
            description: row.description,
            prefix: row.prefix,
            created_at: timestamp(Entity::Token, &key, row.created_at)?,
            expires_at: optional_timestamp(Entity::Token, &key, row.expires_at)?,
            revoked_at: optional_timestamp(Entity::Token, &key, row.revoked_at)?,
            parent: row.parent_id.map(TokenId),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ServiceRow {
    pub name: String,
    pub owner: String,
    pub criticality: String,
    pub description: String,
    /// Labels separated by spaces; empty for none.
    pub labels: String,
    /// The deployment plan as JSON, if any.
    pub deploy_plan: Option<String>,
}

/// A service's deployment plan as stored: core's stored format, as JSON.
pub(crate) fn plan_json(service: &Service) -> Option<String> {
    service.deploy.as_ref().map(|plan| serde_json::to_string(plan).expect("a plan serializes"))
}

/// A service's labels as stored: separated by spaces (a label has none).
pub(crate) fn joined_labels(service: &Service) -> String {
    service.labels.iter().map(Label::as_str).collect::<Vec<_>>().join(" ")
}

impl ServiceRow {
    pub fn into_service(self, depends_on: Vec<String>) -> Result<Service, StoreError> {
        let key = self.name.clone();
        let depends_on = depends_on
            .iter()
            .map(|name| parse(Entity::Service, &key, ServiceName::parse(name)))
            .collect::<Result<BTreeSet<_>, _>>()?;
        Ok(Service {
            name: parse(Entity::Service, &key, ServiceName::parse(&self.name))?,
            owner: parse(Entity::Service, &key, TeamName::parse(&self.owner))?,
            criticality: parse(Entity::Service, &key, self.criticality.parse())?,
            depends_on,
            description: self.description,
            labels: self
                .labels
                .split_whitespace()
                .map(|label| parse(Entity::Service, &key, Label::parse(label)))
                .collect::<Result<BTreeSet<_>, _>>()?,
            deploy: self
                .deploy_plan
                .map(|json| {
                    serde_json::from_str(&json)
                        .map_err(|error| StoreError::corrupt(Entity::Service, key.clone(), error))
                })
                .transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct EnvironmentRow {
    pub name: String,
    pub tier: String,
    pub region: Option<String>,
}

impl TryFrom<EnvironmentRow> for Environment {
    type Error = StoreError;

    fn try_from(row: EnvironmentRow) -> Result<Environment, StoreError> {
        let key = row.name.clone();
        Ok(Environment {
            name: parse(Entity::Environment, &key, EnvironmentName::parse(&row.name))?,
            tier: parse(Entity::Environment, &key, row.tier.parse())?,
            region: row
                .region
                .map(|region| parse(Entity::Environment, &key, RegionName::parse(&region)))
                .transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ReleaseRow {
    pub id: i64,
    pub version: String,
    pub lifecycle: String,
    pub release_type: String,
    pub strategy: String,
    pub planned_start: Option<i64>,
    pub planned_end: Option<i64>,
    pub scope_freeze_at: Option<i64>,
    pub rollback_criteria: String,
    pub state: String,
    pub manifest_digest: String,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub revision: i64,
}

#[derive(sqlx::FromRow)]
pub(crate) struct ReleaseArtifactRow {
    pub service: String,
    pub name: String,
    pub version: String,
    pub digest: String,
}

#[derive(sqlx::FromRow)]
pub(crate) struct ScopeItemRow {
    pub ticket: String,
    pub title: String,
    pub excluded_reason: Option<String>,
}

pub(crate) fn artifact(
    entity: Entity,
    key: &impl ToString,
    row: ReleaseArtifactRow,
) -> Result<ArtifactRef, StoreError> {
    Ok(ArtifactRef {
        service: parse(entity, key, ServiceName::parse(&row.service))?,
        name: parse(entity, key, ArtifactName::parse(&row.name))?,
        version: parse(entity, key, ArtifactVersion::parse(&row.version))?,
        digest: parse(entity, key, Sha256Digest::parse(&row.digest))?,
    })
}

impl ReleaseRow {
    pub fn into_release(
        self,
        artifacts: Vec<ReleaseArtifactRow>,
        scope: Vec<ScopeItemRow>,
    ) -> Result<Release, StoreError> {
        const ENTITY: Entity = Entity::Release;
        let key = self.id;
        let planned_window = match (self.planned_start, self.planned_end) {
            (Some(start), Some(end)) => Some(parse(
                ENTITY,
                &key,
                PlannedWindow::new(timestamp(ENTITY, &key, start)?, timestamp(ENTITY, &key, end)?),
            )?),
            _ => None,
        };
        let content = ReleaseContent {
            version: parse(ENTITY, &key, tollgate_core::release::parse_version(&self.version))?,
            lifecycle: parse(ENTITY, &key, LifecycleName::parse(&self.lifecycle))?,
            release_type: parse(ENTITY, &key, self.release_type.parse())?,
            strategy: parse(ENTITY, &key, self.strategy.parse())?,
            artifacts: artifacts.into_iter().map(|row| artifact(ENTITY, &key, row)).collect::<Result<_, _>>()?,
            scope: scope
                .into_iter()
                .map(|row| ScopeItem {
                    ticket: row.ticket,
                    title: row.title,
                    decision: match row.excluded_reason {
                        None => ScopeDecision::Included,
                        Some(reason) => ScopeDecision::Excluded { reason },
                    },
                })
                .collect(),
            planned_window,
            scope_freeze_at: optional_timestamp(ENTITY, &key, self.scope_freeze_at)?,
            rollback_criteria: self.rollback_criteria,
        };
        // The stored digest is a cache for queries; a mismatch means the row was altered.
        if content.manifest_digest().to_string() != self.manifest_digest {
            return Err(StoreError::corrupt(ENTITY, key, "manifest digest does not match its artifacts"));
        }
        Ok(Release {
            id: ReleaseId(self.id),
            content,
            state: parse(ENTITY, &key, self.state.parse())?,
            created_by: parse(ENTITY, &key, UserName::parse(&self.created_by))?,
            created_at: timestamp(ENTITY, &key, self.created_at)?,
            updated_at: timestamp(ENTITY, &key, self.updated_at)?,
            revision: self.revision,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DeploymentRow {
    pub id: i64,
    pub release_id: i64,
    pub release_version: String,
    pub environment: String,
    pub manifest_digest: String,
    pub status: String,
    pub skipped_environment: Option<String>,
    pub rollback_cause: Option<String>,
    pub actor: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub rolled_back_at: Option<i64>,
}

impl TryFrom<DeploymentRow> for Deployment {
    type Error = StoreError;

    fn try_from(row: DeploymentRow) -> Result<Deployment, StoreError> {
        const ENTITY: Entity = Entity::Deployment;
        let key = row.id;
        Ok(Deployment {
            id: DeploymentId(row.id),
            release: ReleaseId(row.release_id),
            release_version: parse(ENTITY, &key, tollgate_core::release::parse_version(&row.release_version))?,
            environment: parse(ENTITY, &key, EnvironmentName::parse(&row.environment))?,
            manifest_digest: parse(ENTITY, &key, Sha256Digest::parse(&row.manifest_digest))?,
            status: parse(ENTITY, &key, row.status.parse())?,
            promotion: match (row.skipped_environment, row.rollback_cause) {
                (_, Some(cause)) => Promotion::Rollback { cause },
                (None, None) => Promotion::Followed,
                (Some(skipped), None) => {
                    Promotion::EmergencySkipped { skipped: parse(ENTITY, &key, EnvironmentName::parse(&skipped))? }
                }
            },
            actor: parse(ENTITY, &key, UserName::parse(&row.actor))?,
            started_at: timestamp(ENTITY, &key, row.started_at)?,
            finished_at: optional_timestamp(ENTITY, &key, row.finished_at)?,
            rolled_back_at: optional_timestamp(ENTITY, &key, row.rolled_back_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CheckpointRow {
    pub tree_size: i64,
    pub key_id: String,
    pub head: Vec<u8>,
    pub signed_at: i64,
    pub signature: Vec<u8>,
}

impl TryFrom<CheckpointRow> for Checkpoint {
    type Error = StoreError;

    fn try_from(row: CheckpointRow) -> Result<Checkpoint, StoreError> {
        const ENTITY: Entity = Entity::Checkpoint;
        let key = row.tree_size;
        let head: [u8; 32] =
            row.head.as_slice().try_into().map_err(|_| StoreError::corrupt(ENTITY, key, "head is not 32 bytes"))?;
        Ok(Checkpoint {
            tree_size: u64::try_from(row.tree_size)
                .map_err(|_| StoreError::corrupt(ENTITY, key, "negative tree size"))?,
            head: Sha256Digest::from_bytes(head),
            signed_at: timestamp(ENTITY, &key, row.signed_at)?,
            key_id: row.key_id,
            signature: row
                .signature
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::corrupt(ENTITY, key, "signature is not 64 bytes"))?,
        })
    }
}

/// A stored public key, checked against the id it is stored under.
pub(crate) fn verifying_key(stored_id: &str, bytes: &[u8]) -> Result<VerifyingKey, StoreError> {
    let corrupt = |reason: &str| StoreError::corrupt(Entity::SigningKey, stored_id, reason);
    let array: [u8; 32] = bytes.try_into().map_err(|_| corrupt("public key is not 32 bytes"))?;
    let key = VerifyingKey::from_bytes(&array).map_err(|_| corrupt("not an ed25519 public key"))?;
    if key_id(&key) != stored_id {
        return Err(corrupt("key id does not match the key"));
    }
    Ok(key)
}
