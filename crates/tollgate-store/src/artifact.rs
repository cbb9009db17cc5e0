//! Artifacts: their metadata, tags and signatures, and which digests anything refers to.
//!
//! The content itself lives in the blob store (`blob.rs`); a row here names it by digest.

use std::collections::{BTreeMap, BTreeSet};

use tollgate_core::artifact::{
    Artifact, ArtifactId, ArtifactName, ArtifactProvenance, ArtifactVersion, MediaType, NewArtifact, SignatureRecord,
    Tag,
};
use tollgate_core::digest::Sha256Digest;
use tollgate_core::name::{TeamName, UserName};
use tollgate_core::{Entity, Page, Timestamp};

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
        const ENTITY: Entity = Entity::Artifact;
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

    /// A page of artifacts, newest first (by id), optionally those whose name contains `text`,
    /// each with its number of signatures; the cursor is the last id of the previous page.
    pub async fn list_artifact_page(
        &mut self,
        text: Option<&str>,
        page: Page,
    ) -> Result<Vec<(Artifact, u64)>, StoreError> {
        let pattern = text.map(|text| format!("%{}%", crate::conn::escape_like(&text.to_lowercase())));
        let rows: Vec<ArtifactRow> = sqlx::query_as(&format!(
            "SELECT {ARTIFACT_COLUMNS} FROM artifacts WHERE (CAST($1 AS TEXT) IS NULL OR LOWER(name) LIKE $1 ESCAPE '\\') \
             AND (CAST($2 AS BIGINT) IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
        ))
        .bind(pattern)
        .bind(page.cursor)
        .bind(page.bounded_limit())
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        let mut artifacts = Vec::with_capacity(rows.len());
        for row in rows {
            let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM artifact_signatures WHERE artifact_id = $1")
                .bind(row.id)
                .fetch_one(self.executor())
                .await
                .map_err(StoreError::from_sqlx)?;
            artifacts.push((row.into_artifact(Vec::new())?, count.unsigned_abs()));
        }
        Ok(artifacts)
    }

    /// The newest `limit` artifacts that carry no signature, and how many there are in all.
    pub async fn list_unsigned_artifacts(&mut self, limit: i64) -> Result<(Vec<Artifact>, u64), StoreError> {
        const UNSIGNED: &str = "NOT EXISTS (SELECT 1 FROM artifact_signatures s WHERE s.artifact_id = artifacts.id)";
        let (total,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM artifacts WHERE {UNSIGNED}"))
            .fetch_one(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        let rows: Vec<ArtifactRow> = sqlx::query_as(&format!(
            "SELECT {ARTIFACT_COLUMNS} FROM artifacts WHERE {UNSIGNED} ORDER BY created_at DESC, id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        let artifacts = rows.into_iter().map(|row| row.into_artifact(Vec::new())).collect::<Result<_, _>>()?;
        Ok((artifacts, total.unsigned_abs()))
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

    /// The digest a removed artifact's name and version keep pointing at, if one was removed.
    pub async fn find_tombstone(
        &mut self,
        name: &ArtifactName,
        version: &ArtifactVersion,
    ) -> Result<Option<Sha256Digest>, StoreError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT digest FROM artifact_tombstones WHERE name = $1 AND version = $2")
                .bind(name.as_str())
                .bind(version.as_str())
                .fetch_optional(self.executor())
                .await
                .map_err(StoreError::from_sqlx)?;
        row.map(|(digest,)| {
            parse(Entity::ArtifactTombstone, &format!("{name}@{version}"), Sha256Digest::parse(&digest))
        })
        .transpose()
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
                    created_by: parse(Entity::Signature, &id, UserName::parse(&created_by))?,
                    created_at: timestamp(Entity::Signature, &id, created_at)?,
                })
            })
            .collect()
    }
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
        .map_err(StoreError::on_write(Entity::Artifact, &key))?;
        for tag in &new.tags {
            sqlx::query("INSERT INTO artifact_tags (artifact_id, tag) VALUES ($1, $2)")
                .bind(id)
                .bind(tag.as_str())
                .execute(self.executor())
                .await
                .map_err(StoreError::on_write(Entity::ArtifactTag, tag))?;
        }
        Ok(ArtifactId(id))
    }

    /// Removes an artifact's metadata (its tags and signatures go with it) and leaves a
    /// tombstone: its name and version keep pointing at its digest.
    pub async fn delete_artifact(&mut self, artifact: &Artifact, now: Timestamp) -> Result<(), StoreError> {
        let id = artifact.id;
        sqlx::query(
            "INSERT INTO artifact_tombstones (name, version, digest, removed_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name, version) DO NOTHING",
        )
        .bind(artifact.name.as_str())
        .bind(artifact.version.as_str())
        .bind(artifact.digest.to_string())
        .bind(micros(now))
        .execute(self.executor())
        .await
        .map_err(StoreError::on_write(Entity::ArtifactTombstone, id))?;
        for sql in [
            "DELETE FROM artifact_tags WHERE artifact_id = $1",
            "DELETE FROM artifact_signatures WHERE artifact_id = $1",
            "DELETE FROM artifacts WHERE id = $1",
        ] {
            sqlx::query(sql)
                .bind(id.0)
                .execute(self.executor())
                .await
                .map_err(StoreError::on_write(Entity::Artifact, id))?;
        }
        Ok(())
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
        .map_err(StoreError::on_write(Entity::Signature, artifact))?;
        Ok(id)
    }
}
