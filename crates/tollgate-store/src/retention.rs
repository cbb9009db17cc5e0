//! Retention policies, legal holds, and what retention decides from: which open releases refer
//! to an artifact and when one carrying it was last deployed.

use std::collections::BTreeMap;

use tollgate_core::artifact::{ArtifactName, Tag};
use tollgate_core::name::{TeamName, UserName};
use tollgate_core::release::ReleaseState;
use tollgate_core::retention::{LegalHold, PolicyId, RetentionPolicy, Selector};
use tollgate_core::{Entity, Timestamp};

use crate::conn::Conn;
use crate::error::StoreError;
use crate::rows::{micros, parse, timestamp};
use crate::tx::StoreTx;

#[derive(sqlx::FromRow)]
struct PolicyRow {
    id: i64,
    selector_kind: String,
    selector: String,
    keep_last: Option<i64>,
    keep_deployed_days: Option<i64>,
}

impl TryFrom<PolicyRow> for RetentionPolicy {
    type Error = StoreError;

    fn try_from(row: PolicyRow) -> Result<RetentionPolicy, StoreError> {
        const ENTITY: Entity = Entity::RetentionPolicy;
        let id = row.id;
        let selector = match row.selector_kind.as_str() {
            "name" => Selector::Name(parse(ENTITY, &id, ArtifactName::parse(&row.selector))?),
            "team" => Selector::Team(parse(ENTITY, &id, TeamName::parse(&row.selector))?),
            other => return Err(StoreError::corrupt(ENTITY, id, format!("unknown selector kind {other}"))),
        };
        let count = |value: Option<i64>| {
            value
                .map(|v| u32::try_from(v).map_err(|_| StoreError::corrupt(ENTITY, id, "count out of range")))
                .transpose()
        };
        Ok(RetentionPolicy {
            id: PolicyId(id),
            selector,
            keep_last: count(row.keep_last)?,
            keep_deployed_days: count(row.keep_deployed_days)?,
        })
    }
}

impl Conn {
    pub async fn list_retention_policies(&mut self) -> Result<Vec<RetentionPolicy>, StoreError> {
        let rows: Vec<PolicyRow> = sqlx::query_as(
            "SELECT id, selector_kind, selector, keep_last, keep_deployed_days FROM retention_policies ORDER BY id",
        )
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(RetentionPolicy::try_from).collect()
    }

    pub async fn list_legal_holds(&mut self) -> Result<Vec<LegalHold>, StoreError> {
        let rows: Vec<(String, String, String, i64)> =
            sqlx::query_as("SELECT tag, reason, created_by, created_at FROM legal_holds ORDER BY tag")
                .fetch_all(self.executor())
                .await
                .map_err(StoreError::from_sqlx)?;
        rows.into_iter()
            .map(|(tag, reason, created_by, created_at)| {
                Ok(LegalHold {
                    tag: parse(Entity::LegalHold, &tag, Tag::parse(&tag))?,
                    reason,
                    created_by: parse(Entity::LegalHold, &tag, UserName::parse(&created_by))?,
                    created_at: timestamp(Entity::LegalHold, &tag, created_at)?,
                })
            })
            .collect()
    }

    /// For each (artifact name, version) referenced by a release in none of `excluded_states`,
    /// the versions of those releases.
    pub async fn releases_referencing_artifacts(
        &mut self,
        excluded_states: &[ReleaseState],
    ) -> Result<BTreeMap<(String, String), Vec<String>>, StoreError> {
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT a.name, a.version, r.version, r.state FROM release_artifacts a JOIN releases r ON r.id = a.release_id ORDER BY r.id",
        )
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        let mut map: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for (name, version, release, state) in rows {
            let state: ReleaseState = parse(Entity::Release, &release, state.parse())?;
            if !excluded_states.contains(&state) {
                map.entry((name, version)).or_default().push(release);
            }
        }
        Ok(map)
    }

    /// For each (artifact name, version), when a release carrying it last finished a
    /// successful deployment.
    pub async fn last_deployments_of_artifacts(&mut self) -> Result<BTreeMap<(String, String), Timestamp>, StoreError> {
        let rows: Vec<(String, String, Option<i64>)> = sqlx::query_as(
            "SELECT a.name, a.version, MAX(d.finished_at) FROM release_artifacts a \
             JOIN deployments d ON d.release_id = a.release_id \
             WHERE d.status IN ('succeeded', 'rolled_back') GROUP BY a.name, a.version",
        )
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        let mut map = BTreeMap::new();
        for (name, version, at) in rows {
            if let Some(at) = at {
                map.insert((name.clone(), version), timestamp(Entity::Deployment, &name, at)?);
            }
        }
        Ok(map)
    }
}

impl StoreTx {
    /// Creates or replaces the policy for a selector.
    pub async fn upsert_retention_policy(
        &mut self,
        selector: &Selector,
        keep_last: Option<u32>,
        keep_deployed_days: Option<u32>,
        created_by: &UserName,
        now: Timestamp,
    ) -> Result<PolicyId, StoreError> {
        let (kind, value) = match selector {
            Selector::Name(name) => ("name", name.to_string()),
            Selector::Team(team) => ("team", team.to_string()),
        };
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO retention_policies (selector_kind, selector, keep_last, keep_deployed_days, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (selector_kind, selector) \
             DO UPDATE SET keep_last = excluded.keep_last, keep_deployed_days = excluded.keep_deployed_days RETURNING id",
        )
        .bind(kind)
        .bind(&value)
        .bind(keep_last.map(i64::from))
        .bind(keep_deployed_days.map(i64::from))
        .bind(created_by.as_str())
        .bind(micros(now))
        .fetch_one(self.executor())
        .await
        .map_err(StoreError::on_write(Entity::RetentionPolicy, &value))?;
        Ok(PolicyId(id))
    }

    pub async fn insert_legal_hold(
        &mut self,
        tag: &Tag,
        reason: &str,
        created_by: &UserName,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO legal_holds (tag, reason, created_by, created_at) VALUES ($1, $2, $3, $4)")
            .bind(tag.as_str())
            .bind(reason)
            .bind(created_by.as_str())
            .bind(micros(now))
            .execute(self.executor())
            .await
            .map_err(StoreError::on_write(Entity::LegalHold, tag))?;
        Ok(())
    }

    pub async fn delete_legal_hold(&mut self, tag: &Tag) -> Result<(), StoreError> {
        let result = sqlx::query("DELETE FROM legal_holds WHERE tag = $1")
            .bind(tag.as_str())
            .execute(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        if result.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound { entity: Entity::LegalHold, key: tag.to_string() })
        }
    }
}
