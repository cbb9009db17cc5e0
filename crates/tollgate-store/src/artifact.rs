//! Artifacts, their tags and signatures, trusted keys, evidence, retention policies and legal
//! holds.

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::VerifyingKey;
use tollgate_core::artifact::{
    Artifact, ArtifactId, ArtifactName, ArtifactProvenance, ArtifactVersion, MediaType, NewArtifact, SignatureRecord,
    Tag, TrustedKeyId, TrustedKeyRecord,
};
use tollgate_core::digest::Sha256Digest;
use tollgate_core::name::{ServiceName, TeamName, UserName};
use tollgate_core::release::ReleaseId;
use tollgate_core::retention::{PolicyId, RetentionPolicy, Selector};
use tollgate_core::Timestamp;

use crate::conn::Conn;
use crate::error::StoreError;
use crate::rows::{micros, parse, timestamp};
use crate::tx::StoreTx;

const ARTIFACT_COLUMNS: &str =
    "id, name, version, team, digest, size, media_type, repository, commit_sha, build_id, builder, created_by, created_at";

#[derive(sqlx::FromRow)]
struct ArtifactRow {
    id: i64,
    name: String,
    version: String,
    team: String,
    digest: String,
    size: i64,
    media_type: String,
    repository: Option<String>,
    commit_sha: Option<String>,
    build_id: Option<String>,
    builder: Option<String>,
    created_by: String,
    created_at: i64,
}

impl ArtifactRow {
    fn into_artifact(self, tags: Vec<String>) -> Result<Artifact, StoreError> {
        const ENTITY: &str = "artifact";
        let key = self.id;
        Ok(Artifact {
            id: ArtifactId(self.id),
            name: parse(ENTITY, &key, ArtifactName::parse(&self.name))?,
            version: parse(ENTITY, &key, ArtifactVersion::parse(&self.version))?,
            team: parse(ENTITY, &key, TeamName::parse(&self.team))?,
            digest: parse(ENTITY, &key, Sha256Digest::parse(&self.digest))?,
            size: u64::try_from(self.size).map_err(|_| StoreError::corrupt(ENTITY, key, "negative size"))?,
            media_type: parse(ENTITY, &key, MediaType::parse(&self.media_type))?,
            provenance: ArtifactProvenance {
                repository: self.repository,
                commit: self.commit_sha,
                build_id: self.build_id,
                builder: self.builder,
            },
            tags: tags.iter().map(|tag| parse(ENTITY, &key, Tag::parse(tag))).collect::<Result<BTreeSet<_>, _>>()?,
            created_by: parse(ENTITY, &key, UserName::parse(&self.created_by))?,
            created_at: timestamp(ENTITY, &key, self.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct TrustedKeyRow {
    id: i64,
    key_id: String,
    name: String,
    team: Option<String>,
    builder: Option<String>,
    public_key: Vec<u8>,
    created_by: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl TryFrom<TrustedKeyRow> for TrustedKeyRecord {
    type Error = StoreError;

    fn try_from(row: TrustedKeyRow) -> Result<TrustedKeyRecord, StoreError> {
        const ENTITY: &str = "trusted key";
        let key = row.id;
        Ok(TrustedKeyRecord {
            id: TrustedKeyId(row.id),
            public_key: crate::rows::verifying_key(&row.key_id, &row.public_key)?,
            key_id: row.key_id,
            name: row.name,
            team: row.team.map(|team| parse(ENTITY, &key, TeamName::parse(&team))).transpose()?,
            builder: row.builder,
            created_by: parse(ENTITY, &key, UserName::parse(&row.created_by))?,
            created_at: timestamp(ENTITY, &key, row.created_at)?,
            revoked_at: row.revoked_at.map(|at| timestamp(ENTITY, &key, at)).transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct EvidenceRow {
    id: i64,
    service: Option<String>,
    kind: String,
    digest: String,
    size: i64,
    facts: String,
    created_by: String,
    created_at: i64,
}

impl EvidenceRow {
    fn into_record(self, release: ReleaseId) -> Result<EvidenceRecord, StoreError> {
        const ENTITY: &str = "evidence";
        let id = self.id;
        Ok(EvidenceRecord {
            id,
            release,
            service: self.service.map(|s| parse(ENTITY, &id, ServiceName::parse(&s))).transpose()?,
            kind: self.kind,
            digest: parse(ENTITY, &id, Sha256Digest::parse(&self.digest))?,
            size: u64::try_from(self.size).map_err(|_| StoreError::corrupt(ENTITY, id, "negative size"))?,
            facts: serde_json::from_str(&self.facts).map_err(|e| StoreError::corrupt(ENTITY, id, e))?,
            created_by: parse(ENTITY, &id, UserName::parse(&self.created_by))?,
            created_at: timestamp(ENTITY, &id, self.created_at)?,
        })
    }
}

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
        const ENTITY: &str = "retention policy";
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

/// Stored evidence: the raw file's digest and the facts parsed from it.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceRecord {
    pub id: i64,
    pub release: ReleaseId,
    pub service: Option<ServiceName>,
    pub kind: String,
    pub digest: Sha256Digest,
    pub size: u64,
    pub facts: serde_json::Value,
    pub created_by: UserName,
    pub created_at: Timestamp,
}

/// A legal hold on a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalHold {
    pub tag: Tag,
    pub reason: String,
    pub created_by: UserName,
    pub created_at: Timestamp,
}

impl Conn {
    pub async fn find_artifact(
        &mut self,
        name: &ArtifactName,
        version: &ArtifactVersion,
    ) -> Result<Option<Artifact>, StoreError> {
        let row: Option<ArtifactRow> =
            sqlx::query_as(&format!("SELECT {ARTIFACT_COLUMNS} FROM artifacts WHERE name = $1 AND version = $2"))
                .bind(name.as_str())
                .bind(version.as_str())
                .fetch_optional(self.executor())
                .await
                .map_err(StoreError::from_sqlx)?;
        self.with_tags(row).await
    }

    pub async fn find_artifact_by_id(&mut self, id: ArtifactId) -> Result<Option<Artifact>, StoreError> {
        let row: Option<ArtifactRow> =
            sqlx::query_as(&format!("SELECT {ARTIFACT_COLUMNS} FROM artifacts WHERE id = $1"))
                .bind(id.0)
                .fetch_optional(self.executor())
                .await
                .map_err(StoreError::from_sqlx)?;
        self.with_tags(row).await
    }

    async fn with_tags(&mut self, row: Option<ArtifactRow>) -> Result<Option<Artifact>, StoreError> {
        let Some(row) = row else { return Ok(None) };
        let tags: Vec<(String,)> = sqlx::query_as("SELECT tag FROM artifact_tags WHERE artifact_id = $1 ORDER BY tag")
            .bind(row.id)
            .fetch_all(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        row.into_artifact(tags.into_iter().map(|(tag,)| tag).collect()).map(Some)
    }

    /// Artifacts, optionally of one name, newest first.
    pub async fn list_artifacts(&mut self, name: Option<&ArtifactName>) -> Result<Vec<Artifact>, StoreError> {
        let rows: Vec<ArtifactRow> = sqlx::query_as(&format!(
            "SELECT {ARTIFACT_COLUMNS} FROM artifacts WHERE ($1 IS NULL OR name = $1) ORDER BY created_at DESC, id DESC"
        ))
        .bind(name.map(|n| n.to_string()))
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        let tag_rows: Vec<(i64, String)> = sqlx::query_as("SELECT artifact_id, tag FROM artifact_tags ORDER BY tag")
            .fetch_all(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        let mut tags: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for (id, tag) in tag_rows {
            tags.entry(id).or_default().push(tag);
        }
        rows.into_iter()
            .map(|row| {
                let artifact_tags = tags.remove(&row.id).unwrap_or_default();
                row.into_artifact(artifact_tags)
            })
            .collect()
    }

    /// Whether an artifact or an evidence record points at `digest`.
    pub async fn is_digest_referenced(&mut self, digest: &Sha256Digest) -> Result<bool, StoreError> {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM artifacts WHERE digest = $1) + (SELECT COUNT(*) FROM evidence WHERE digest = $1)",
        )
        .bind(digest.to_string())
        .fetch_one(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        Ok(count > 0)
    }

    /// Every digest an artifact or an evidence record points at.
    pub async fn referenced_digests(&mut self) -> Result<BTreeSet<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT digest FROM artifacts UNION SELECT digest FROM evidence")
            .fetch_all(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(rows.into_iter().map(|(digest,)| digest).collect())
    }

    pub async fn list_trusted_keys(&mut self) -> Result<Vec<TrustedKeyRecord>, StoreError> {
        let rows: Vec<TrustedKeyRow> = sqlx::query_as(
            "SELECT id, key_id, name, team, builder, public_key, created_by, created_at, revoked_at FROM trusted_keys ORDER BY id",
        )
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(TrustedKeyRecord::try_from).collect()
    }

    pub async fn list_signatures(&mut self, artifact: ArtifactId) -> Result<Vec<SignatureRecord>, StoreError> {
        let rows: Vec<(i64, String, String, String, i64)> = sqlx::query_as(
            "SELECT id, key_id, envelope, created_by, created_at FROM artifact_signatures WHERE artifact_id = $1 ORDER BY id",
        )
        .bind(artifact.0)
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.into_iter()
            .map(|(id, key_id, envelope, created_by, created_at)| {
                Ok(SignatureRecord {
                    id,
                    artifact,
                    key_id,
                    envelope,
                    created_by: parse("signature", &id, UserName::parse(&created_by))?,
                    created_at: timestamp("signature", &id, created_at)?,
                })
            })
            .collect()
    }

    pub async fn list_evidence(&mut self, release: ReleaseId) -> Result<Vec<EvidenceRecord>, StoreError> {
        let rows: Vec<EvidenceRow> = sqlx::query_as(
            "SELECT id, service, kind, digest, size, facts, created_by, created_at FROM evidence WHERE release_id = $1 ORDER BY id",
        )
        .bind(release.0)
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(|row| row.into_record(release)).collect()
    }

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
                    tag: parse("legal hold", &tag, Tag::parse(&tag))?,
                    reason,
                    created_by: parse("legal hold", &tag, UserName::parse(&created_by))?,
                    created_at: timestamp("legal hold", &tag, created_at)?,
                })
            })
            .collect()
    }

    /// For each (artifact name, version) referenced by a release in one of `states`, the
    /// versions of those releases.
    pub async fn releases_referencing_artifacts(
        &mut self,
        excluded_states: &[&str],
    ) -> Result<BTreeMap<(String, String), Vec<String>>, StoreError> {
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT a.name, a.version, r.version, r.state FROM release_artifacts a JOIN releases r ON r.id = a.release_id ORDER BY r.id",
        )
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        let mut map: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for (name, version, release, state) in rows {
            if !excluded_states.contains(&state.as_str()) {
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
                map.insert((name.clone(), version), timestamp("deployment", &name, at)?);
            }
        }
        Ok(map)
    }
}

/// A trusted key about to be registered.
#[derive(Debug, Clone)]
pub struct NewTrustedKey<'a> {
    pub name: &'a str,
    pub team: Option<&'a TeamName>,
    pub builder: Option<&'a str>,
    pub public_key: &'a VerifyingKey,
    pub created_by: &'a UserName,
    pub created_at: Timestamp,
}

impl StoreTx {
    pub async fn insert_artifact(
        &mut self,
        new: &NewArtifact,
        digest: &Sha256Digest,
        size: u64,
        created_by: &UserName,
        now: Timestamp,
    ) -> Result<ArtifactId, StoreError> {
        let key = format!("{}@{}", new.name, new.version);
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO artifacts (name, version, team, digest, size, media_type, repository, commit_sha, build_id, builder, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(new.name.as_str())
        .bind(new.version.as_str())
        .bind(new.team.as_str())
        .bind(digest.to_string())
        .bind(i64::try_from(size).unwrap_or(i64::MAX))
        .bind(new.media_type.as_str())
        .bind(new.provenance.repository.clone())
        .bind(new.provenance.commit.clone())
        .bind(new.provenance.build_id.clone())
        .bind(new.provenance.builder.clone())
        .bind(created_by.as_str())
        .bind(micros(now))
        .fetch_one(self.executor())
        .await
        .map_err(StoreError::on_write("artifact", &key))?;
        for tag in &new.tags {
            sqlx::query("INSERT INTO artifact_tags (artifact_id, tag) VALUES ($1, $2)")
                .bind(id)
                .bind(tag.as_str())
                .execute(self.executor())
                .await
                .map_err(StoreError::on_write("artifact tag", tag))?;
        }
        Ok(ArtifactId(id))
    }

    /// Removes an artifact's metadata (its tags and signatures go with it).
    pub async fn delete_artifact(&mut self, id: ArtifactId) -> Result<(), StoreError> {
        for sql in [
            "DELETE FROM artifact_tags WHERE artifact_id = $1",
            "DELETE FROM artifact_signatures WHERE artifact_id = $1",
            "DELETE FROM artifacts WHERE id = $1",
        ] {
            sqlx::query(sql).bind(id.0).execute(self.executor()).await.map_err(StoreError::on_write("artifact", id))?;
        }
        Ok(())
    }

    pub async fn insert_trusted_key(&mut self, new: &NewTrustedKey<'_>) -> Result<TrustedKeyId, StoreError> {
        let key_id = tollgate_core::audit::key_id(new.public_key);
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO trusted_keys (key_id, name, team, builder, public_key, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&key_id)
        .bind(new.name)
        .bind(new.team.map(|t| t.to_string()))
        .bind(new.builder.map(str::to_owned))
        .bind(new.public_key.as_bytes().to_vec())
        .bind(new.created_by.as_str())
        .bind(micros(new.created_at))
        .fetch_one(self.executor())
        .await
        .map_err(StoreError::on_write("trusted key", &key_id))?;
        Ok(TrustedKeyId(id))
    }

    pub async fn revoke_trusted_key(&mut self, id: TrustedKeyId, at: Timestamp) -> Result<(), StoreError> {
        let result = sqlx::query("UPDATE trusted_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id.0)
            .bind(micros(at))
            .execute(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        if result.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound { entity: "trusted key", key: id.0.to_string() })
        }
    }

    pub async fn insert_signature(
        &mut self,
        artifact: ArtifactId,
        key_id: &str,
        envelope: &str,
        created_by: &UserName,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO artifact_signatures (artifact_id, key_id, envelope, created_by, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(artifact.0)
        .bind(key_id)
        .bind(envelope)
        .bind(created_by.as_str())
        .bind(micros(now))
        .fetch_one(self.executor())
        .await
        .map_err(StoreError::on_write("signature", artifact))?;
        Ok(id)
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn insert_evidence(
        &mut self,
        release: ReleaseId,
        service: Option<&ServiceName>,
        kind: &str,
        digest: &Sha256Digest,
        size: u64,
        facts: &serde_json::Value,
        created_by: &UserName,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO evidence (release_id, service, kind, digest, size, facts, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(release.0)
        .bind(service.map(|s| s.to_string()))
        .bind(kind)
        .bind(digest.to_string())
        .bind(i64::try_from(size).unwrap_or(i64::MAX))
        .bind(facts.to_string())
        .bind(created_by.as_str())
        .bind(micros(now))
        .fetch_one(self.executor())
        .await
        .map_err(StoreError::on_write("evidence", release))?;
        Ok(id)
    }

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
        .map_err(StoreError::on_write("retention policy", &value))?;
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
            .map_err(StoreError::on_write("legal hold", tag))?;
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
            Err(StoreError::NotFound { entity: "legal hold", key: tag.to_string() })
        }
    }
}
