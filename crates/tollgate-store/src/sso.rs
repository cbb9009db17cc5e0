//! Single sign-on records: the settings in force (one row), the sign-ins under way, and the
//! provider identity of each user single sign-on created.
//!
//! Invariant: a pending sign-in is read and deleted in one statement pair inside one
//! transaction (`take_sso_login`), so two callbacks with the same state never both get it.
//! Identities are append-only (triggers refuse update and delete).

use tollgate_core::digest::Sha256Digest;
use tollgate_core::name::UserName;
use tollgate_core::sso::{PendingSsoLogin, SsoConfig};
use tollgate_core::{Entity, Timestamp};

use crate::conn::Conn;
use crate::error::StoreError;
use crate::rows::{micros, parse, timestamp};
use crate::tx::StoreTx;

#[derive(sqlx::FromRow)]
struct SsoConfigRow {
    config: String,
    digest: String,
}

impl TryFrom<SsoConfigRow> for SsoConfig {
    type Error = StoreError;

    fn try_from(row: SsoConfigRow) -> Result<SsoConfig, StoreError> {
        const ENTITY: Entity = Entity::SsoConfig;
        let config: SsoConfig = serde_json::from_str(&row.config).map_err(|e| StoreError::corrupt(ENTITY, "sso", e))?;
        let digest = parse(ENTITY, &"sso", Sha256Digest::parse(&row.digest))?;
        if config.digest() != digest {
            return Err(StoreError::corrupt(ENTITY, "sso", "the settings do not match their digest"));
        }
        Ok(config)
    }
}

#[derive(sqlx::FromRow)]
struct SsoLoginRow {
    state_digest: String,
    verifier: String,
    nonce: String,
    return_to: Option<String>,
    config_digest: String,
    created_at: i64,
    expires_at: i64,
}

impl TryFrom<SsoLoginRow> for PendingSsoLogin {
    type Error = StoreError;

    fn try_from(row: SsoLoginRow) -> Result<PendingSsoLogin, StoreError> {
        const ENTITY: Entity = Entity::SsoLogin;
        let key = row.state_digest.clone();
        Ok(PendingSsoLogin {
            state_digest: parse(ENTITY, &key, Sha256Digest::parse(&row.state_digest))?,
            verifier: row.verifier,
            nonce: row.nonce,
            return_to: row.return_to,
            config_digest: parse(ENTITY, &key, Sha256Digest::parse(&row.config_digest))?,
            created_at: timestamp(ENTITY, &key, row.created_at)?,
            expires_at: timestamp(ENTITY, &key, row.expires_at)?,
        })
    }
}

impl Conn {
    /// The single sign-on settings in force, if any were applied.
    pub async fn find_sso_config(&mut self) -> Result<Option<SsoConfig>, StoreError> {
        let row: Option<SsoConfigRow> = sqlx::query_as("SELECT config, digest FROM sso_config WHERE id = 1")
            .fetch_optional(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        row.map(SsoConfig::try_from).transpose()
    }

    /// The user a provider identity signed in as before, if any.
    pub async fn find_sso_identity(&mut self, issuer: &str, subject: &str) -> Result<Option<UserName>, StoreError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT user_name FROM sso_identities WHERE issuer = $1 AND subject = $2")
                .bind(issuer)
                .bind(subject)
                .fetch_optional(self.executor())
                .await
                .map_err(StoreError::from_sqlx)?;
        row.map(|(name,)| parse(Entity::SsoIdentity, &subject, UserName::parse(&name))).transpose()
    }

    /// The provider identity (issuer, subject) `user` was created for, if single sign-on
    /// created it.
    pub async fn find_sso_identity_of(&mut self, user: &UserName) -> Result<Option<(String, String)>, StoreError> {
        sqlx::query_as("SELECT issuer, subject FROM sso_identities WHERE user_name = $1")
            .bind(user.as_str())
            .fetch_optional(self.executor())
            .await
            .map_err(StoreError::from_sqlx)
    }

    /// How many sign-ins are under way (expired ones included until they are deleted).
    pub async fn count_sso_logins(&mut self) -> Result<u64, StoreError> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sso_logins")
            .fetch_one(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(u64::try_from(count).unwrap_or_default())
    }
}

impl StoreTx {
    /// Installs the first single sign-on settings.
    pub async fn insert_sso_config(
        &mut self,
        config: &SsoConfig,
        by: &UserName,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let query = sqlx::query(
            "INSERT INTO sso_config (id, config, digest, updated_by, updated_at) VALUES (1, $1, $2, $3, $4)",
        )
        .bind(config_json(config))
        .bind(config.digest().to_string())
        .bind(by.as_str())
        .bind(micros(at));
        self.execute(query, Entity::SsoConfig, "sso").await.map(drop)
    }

    /// Replaces the single sign-on settings in force.
    pub async fn update_sso_config(
        &mut self,
        config: &SsoConfig,
        by: &UserName,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let query = sqlx::query(
            "UPDATE sso_config SET config = $1, digest = $2, updated_by = $3, updated_at = $4 WHERE id = 1",
        )
        .bind(config_json(config))
        .bind(config.digest().to_string())
        .bind(by.as_str())
        .bind(micros(at));
        let affected = self.execute(query, Entity::SsoConfig, "sso").await?;
        if affected == 0 {
            return Err(StoreError::NotFound { entity: Entity::SsoConfig, key: "sso".to_owned() });
        }
        Ok(())
    }

    /// Deletes the sign-ins that expired at or before `now`; returns how many.
    pub async fn delete_expired_sso_logins(&mut self, now: Timestamp) -> Result<u64, StoreError> {
        let query = sqlx::query("DELETE FROM sso_logins WHERE expires_at <= $1").bind(micros(now));
        self.execute(query, Entity::SsoLogin, "expired").await
    }

    /// Records a sign-in under way.
    pub async fn insert_sso_login(&mut self, login: &PendingSsoLogin) -> Result<(), StoreError> {
        let key = login.state_digest.to_string();
        let query = sqlx::query(
            "INSERT INTO sso_logins (state_digest, verifier, nonce, return_to, config_digest, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(key.clone())
        .bind(login.verifier.clone())
        .bind(login.nonce.clone())
        .bind(login.return_to.clone())
        .bind(login.config_digest.to_string())
        .bind(micros(login.created_at))
        .bind(micros(login.expires_at));
        self.execute(query, Entity::SsoLogin, &key).await.map(drop)
    }

    /// Reads and deletes the sign-in whose state has `state_digest`: it can be used once.
    /// `None` when there is none (never begun, used already, or deleted as expired).
    pub async fn take_sso_login(&mut self, state_digest: &Sha256Digest) -> Result<Option<PendingSsoLogin>, StoreError> {
        let key = state_digest.to_string();
        let row: Option<SsoLoginRow> = sqlx::query_as(
            "SELECT state_digest, verifier, nonce, return_to, config_digest, created_at, expires_at \
             FROM sso_logins WHERE state_digest = $1",
        )
        .bind(key.clone())
        .fetch_optional(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let query = sqlx::query("DELETE FROM sso_logins WHERE state_digest = $1").bind(key.clone());
        // Another transaction that deleted it first (PostgreSQL, read committed) wins.
        if self.execute(query, Entity::SsoLogin, &key).await? == 0 {
            return Ok(None);
        }
        PendingSsoLogin::try_from(row).map(Some)
    }

    /// Records that the provider identity (`issuer`, `subject`) is `user`.
    pub async fn insert_sso_identity(
        &mut self,
        issuer: &str,
        subject: &str,
        user: &UserName,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let query =
            sqlx::query("INSERT INTO sso_identities (issuer, subject, user_name, created_at) VALUES ($1, $2, $3, $4)")
                .bind(issuer.to_owned())
                .bind(subject.to_owned())
                .bind(user.as_str().to_owned())
                .bind(micros(at));
        self.execute(query, Entity::SsoIdentity, subject).await.map(drop)
    }
}

fn config_json(config: &SsoConfig) -> String {
    String::from_utf8(tollgate_core::digest::canonical_json(config)).expect("canonical JSON is UTF-8")
}
