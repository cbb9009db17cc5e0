//! Web sign-in records: password hashes, sessions, failed sign-ins, lockouts and the
//! installation's form-token secret.
//!
//! None of these are audit records themselves: sign-ins, sign-outs, password changes and
//! lockouts are audited by the service; failed attempts and "last seen" times are written
//! without an audit entry (`Store::begin_unaudited`), so anonymous requests never grow the log.
//! A session is stored under the SHA-256 of its secret; the secret is never stored.

use tollgate_core::digest::Sha256Digest;
use tollgate_core::name::UserName;
use tollgate_core::session::{Lockout, WebSession};
use tollgate_core::token::TokenId;
use tollgate_core::{Entity, Timestamp};

use crate::conn::Conn;
use crate::error::StoreError;
use crate::rows::{micros, parse, timestamp};
use crate::tx::StoreTx;

#[derive(sqlx::FromRow)]
struct SessionRow {
    user_name: String,
    token_id: Option<i64>,
    method: String,
    csrf: String,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    ended_at: Option<i64>,
}

impl TryFrom<SessionRow> for WebSession {
    type Error = StoreError;

    fn try_from(row: SessionRow) -> Result<WebSession, StoreError> {
        let key = row.user_name.clone();
        Ok(WebSession {
            user: parse(Entity::User, &key, UserName::parse(&row.user_name))?,
            method: parse(Entity::User, &key, row.method.parse())?,
            token: row.token_id.map(TokenId),
            csrf: row.csrf,
            created_at: timestamp(Entity::User, &key, row.created_at)?,
            last_seen_at: timestamp(Entity::User, &key, row.last_seen_at)?,
            expires_at: timestamp(Entity::User, &key, row.expires_at)?,
            ended_at: row.ended_at.map(|at| timestamp(Entity::User, &key, at)).transpose()?,
        })
    }
}

impl Conn {
    /// The session stored under this digest of its secret.
    pub async fn find_session(&mut self, digest: &Sha256Digest) -> Result<Option<WebSession>, StoreError> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT user_name, token_id, method, csrf, created_at, last_seen_at, expires_at, ended_at \
             FROM web_sessions WHERE id_digest = $1",
        )
        .bind(digest.as_bytes().to_vec())
        .fetch_optional(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        row.map(WebSession::try_from).transpose()
    }

    /// The argon2id hash (PHC string) of `user`'s password, when one is set.
    pub async fn find_password_hash(&mut self, user: &UserName) -> Result<Option<String>, StoreError> {
        let row: Option<(Option<String>,)> = sqlx::query_as("SELECT password_hash FROM users WHERE name = $1")
            .bind(user.as_str())
            .fetch_optional(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(row.and_then(|(hash,)| hash))
    }

    /// Failed sign-ins for `key` at or after `since`.
    pub async fn count_login_failures(&mut self, key: &str, since: Timestamp) -> Result<u64, StoreError> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM login_failures WHERE key = $1 AND at >= $2")
            .bind(key)
            .bind(micros(since))
            .fetch_one(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(count.unsigned_abs())
    }

    /// The latest lockout of `key`, over or not.
    pub async fn find_lockout(&mut self, key: &str) -> Result<Option<Lockout>, StoreError> {
        let row: Option<(i64, i64, i64)> =
            sqlx::query_as("SELECT locked_until, lockouts, locked_at FROM login_lockouts WHERE key = $1")
                .bind(key)
                .fetch_optional(self.executor())
                .await
                .map_err(StoreError::from_sqlx)?;
        row.map(|(locked_until, lockouts, locked_at)| {
            Ok(Lockout {
                locked_until: timestamp(Entity::User, &key, locked_until)?,
                lockouts: u32::try_from(lockouts).unwrap_or(u32::MAX),
                locked_at: timestamp(Entity::User, &key, locked_at)?,
            })
        })
        .transpose()
    }

    /// The installation's form-token secret, once it exists.
    pub async fn find_web_secret(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        let row: Option<(Vec<u8>,)> = sqlx::query_as("SELECT secret FROM web_secret WHERE id = 1")
            .fetch_optional(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(row.map(|(secret,)| secret))
    }
}

impl StoreTx {
    /// Stores a new session under the digest of its secret.
    pub async fn insert_session(&mut self, digest: &Sha256Digest, session: &WebSession) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO web_sessions (id_digest, user_name, token_id, method, csrf, created_at, last_seen_at, \
             expires_at, ended_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)",
        )
        .bind(digest.as_bytes().to_vec())
        .bind(session.user.as_str())
        .bind(session.token.map(|token| token.0))
        .bind(session.method.as_str())
        .bind(&session.csrf)
        .bind(micros(session.created_at))
        .bind(micros(session.last_seen_at))
        .bind(micros(session.expires_at))
        .execute(self.executor())
        .await
        .map_err(StoreError::on_write(Entity::User, session.user.as_str()))?;
        Ok(())
    }

    /// Records activity on a session that has not ended.
    pub async fn touch_session(&mut self, digest: &Sha256Digest, at: Timestamp) -> Result<(), StoreError> {
        sqlx::query("UPDATE web_sessions SET last_seen_at = $2 WHERE id_digest = $1 AND ended_at IS NULL")
            .bind(digest.as_bytes().to_vec())
            .bind(micros(at))
            .execute(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(())
    }

    /// Ends a session; returns whether it was still open.
    pub async fn end_session(&mut self, digest: &Sha256Digest, at: Timestamp) -> Result<bool, StoreError> {
        let result = sqlx::query("UPDATE web_sessions SET ended_at = $2 WHERE id_digest = $1 AND ended_at IS NULL")
            .bind(digest.as_bytes().to_vec())
            .bind(micros(at))
            .execute(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(result.rows_affected() == 1)
    }

    /// Deletes sessions that ended or expired before `before`: they can never be used again.
    pub async fn delete_stale_sessions(&mut self, before: Timestamp) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM web_sessions WHERE expires_at < $1 OR ended_at < $1")
            .bind(micros(before))
            .execute(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(result.rows_affected())
    }

    /// Sets `user`'s password hash (an argon2id PHC string); `NotFound` when there is no such user.
    pub async fn set_password_hash(&mut self, user: &UserName, hash: &str) -> Result<(), StoreError> {
        let result = sqlx::query("UPDATE users SET password_hash = $2 WHERE name = $1")
            .bind(user.as_str())
            .bind(hash)
            .execute(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound { entity: Entity::User, key: user.to_string() });
        }
        Ok(())
    }

    /// Records a failed sign-in for `key`, and forgets failures older than `forget_before`
    /// (for every key: only the counting window is ever asked about).
    pub async fn insert_login_failure(
        &mut self,
        key: &str,
        at: Timestamp,
        forget_before: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(micros(forget_before))
            .execute(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        sqlx::query("INSERT INTO login_failures (key, at) VALUES ($1, $2)")
            .bind(key)
            .bind(micros(at))
            .execute(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(())
    }

    /// Forgets the failed sign-ins of `key` (after a successful one).
    pub async fn clear_login_failures(&mut self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_failures WHERE key = $1")
            .bind(key)
            .execute(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(())
    }

    /// Stores `key`'s lockout, replacing the previous one.
    pub async fn put_lockout(&mut self, key: &str, lockout: &Lockout) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO login_lockouts (key, locked_until, lockouts, locked_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key) DO UPDATE SET locked_until = $2, lockouts = $3, locked_at = $4",
        )
        .bind(key)
        .bind(micros(lockout.locked_until))
        .bind(i64::from(lockout.lockouts))
        .bind(micros(lockout.locked_at))
        .execute(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        Ok(())
    }

    /// Stores `candidate` as the form-token secret unless one exists, and returns the one in force
    /// (so replicas starting together agree on one).
    pub async fn ensure_web_secret(&mut self, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
        sqlx::query("INSERT INTO web_secret (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING")
            .bind(candidate.to_vec())
            .execute(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        let (secret,): (Vec<u8>,) = sqlx::query_as("SELECT secret FROM web_secret WHERE id = 1")
            .fetch_one(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(secret)
    }
}
