//! Searching the audit log through its index, and the results of scheduled chain verifications.
//!
//! `audit_index` holds one row per entry (time, actor, action, object), written by
//! `append_audit` in the entry's transaction. A search filters the index and returns the
//! entries' stored bytes, newest first, one page at a time in the database (keyset on `seq`).
//! An index row's time is its entry's, raised to the row before's when a clock stepped back, so
//! times never decrease along the log: a time range is a run of positions, and a search by time
//! and actor (or action, or object) is one range scan of that filter's index.
//! The index is not part of the hash chain: verification never reads it, and nothing here
//! updates or deletes its rows.
//!
//! `audit_verifications` keeps what the server's scheduled verifications found; it is not
//! audited and keeps only the latest [`KEPT_VERIFICATIONS`] rows.

use std::time::Duration;

use tollgate_core::audit::search::{AuditFilter, AuditPage, AuditSearchPage, ObjectFilter};
use tollgate_core::audit::{StoredEntry, VerificationResult};
use tollgate_core::Entity;

use crate::audit::stored_entry;
use crate::conn::Conn;
use crate::error::StoreError;
use crate::rows::{micros, timestamp};
use crate::tx::StoreTx;

/// How many scheduled verification results are kept; older ones are deleted.
pub const KEPT_VERIFICATIONS: i64 = 100;

/// The first and last positions a search may show, from its time range.
struct Positions {
    first: Option<i64>,
    last: Option<i64>,
}

/// A value bound to a search query.
enum Bind {
    Integer(i64),
    Text(String),
}

impl Conn {
    /// One page of the entries that match `filter`, newest first: up to `page.limit()` entries
    /// before `page.before()`, and the position to continue from when older matches may follow.
    pub async fn search_audit(&mut self, filter: &AuditFilter, page: AuditPage) -> Result<AuditSearchPage, StoreError> {
        let Some(positions) = self.positions_in_time(filter).await? else {
            return Ok(AuditSearchPage { entries: Vec::new(), next_before: None });
        };
        let (conditions, mut binds) = conditions(filter, positions, page);
        let limit = i64::from(page.limit());
        binds.push(Bind::Integer(limit + 1));
        // The page's positions come from the index alone, then the entries by primary key: no
        // planner walks the entries table beside the index.
        let sql = format!(
            "SELECT e.seq, e.hash, e.body FROM audit_entries e JOIN (SELECT i.seq FROM audit_index i \
             WHERE {} ORDER BY i.seq DESC LIMIT ${}) AS page ON e.seq = page.seq ORDER BY e.seq DESC",
            conditions.join(" AND "),
            binds.len()
        );
        let mut query = sqlx::query_as::<_, (i64, Vec<u8>, Vec<u8>)>(&sql);
        for bind in binds {
            query = match bind {
                Bind::Integer(value) => query.bind(value),
                Bind::Text(value) => query.bind(value),
            };
        }
        let rows = query.fetch_all(self.executor()).await.map_err(StoreError::from_sqlx)?;
        let mut entries = rows.into_iter().map(stored_entry).collect::<Result<Vec<StoredEntry>, _>>()?;
        let more = entries.len() as i64 > limit;
        entries.truncate(page.limit() as usize);
        let next_before = if more { entries.last().map(|entry| entry.seq) } else { None };
        Ok(AuditSearchPage { entries, next_before })
    }

    /// The positions of the entries in the filter's time range, as bounds (`None` when no entry
    /// is in it). Index times never decrease along the log, so the range is one run of
    /// positions, found with a seek on `audit_index_by_time` at each end.
    async fn positions_in_time(&mut self, filter: &AuditFilter) -> Result<Option<Positions>, StoreError> {
        let mut positions = Positions { first: None, last: None };
        if let Some(from) = filter.from {
            let first: Option<(i64,)> =
                sqlx::query_as("SELECT seq FROM audit_index WHERE at >= $1 ORDER BY at, seq LIMIT 1")
                    .bind(micros(from))
                    .fetch_optional(self.executor())
                    .await
                    .map_err(StoreError::from_sqlx)?;
            let Some((first,)) = first else { return Ok(None) };
            positions.first = Some(first);
        }
        if let Some(to) = filter.to {
            let last: Option<(i64,)> =
                sqlx::query_as("SELECT seq FROM audit_index WHERE at < $1 ORDER BY at DESC, seq DESC LIMIT 1")
                    .bind(micros(to))
                    .fetch_optional(self.executor())
                    .await
                    .map_err(StoreError::from_sqlx)?;
            let Some((last,)) = last else { return Ok(None) };
            positions.last = Some(last);
        }
        Ok(Some(positions))
    }

    /// The latest scheduled verification result, if any was stored.
    pub async fn last_audit_verification(&mut self) -> Result<Option<VerificationResult>, StoreError> {
        let row: Option<VerificationRow> = sqlx::query_as(
            "SELECT id, verified_at, ok, entries, checkpoints_verified, unsigned_tail, failed_seq, message, \
             duration_micros FROM audit_verifications ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        row.map(VerificationResult::try_from).transpose()
    }
}

impl StoreTx {
    /// Stores a scheduled verification's result and deletes all but the latest
    /// [`KEPT_VERIFICATIONS`] results. Runs in an unaudited transaction: results are the
    /// server's notes about the log, not changes the log records.
    pub async fn insert_audit_verification(&mut self, result: &VerificationResult) -> Result<(), StoreError> {
        let integer = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO audit_verifications (verified_at, ok, entries, checkpoints_verified, unsigned_tail, \
             failed_seq, message, duration_micros) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(micros(result.verified_at))
        .bind(i64::from(result.ok))
        .bind(integer(result.entries))
        .bind(integer(result.checkpoints_verified))
        .bind(integer(result.unsigned_tail))
        .bind(result.failed_entry.map(integer))
        .bind(&result.message)
        .bind(i64::try_from(result.duration.as_micros()).unwrap_or(i64::MAX))
        .fetch_one(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        sqlx::query("DELETE FROM audit_verifications WHERE id <= $1")
            .bind(id - KEPT_VERIFICATIONS)
            .execute(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(())
    }
}

/// The `WHERE` conditions of a search and the values they bind, numbered from `$1`. Each filter
/// is an equality on an indexed column; the time range and the page make one range of `seq`,
/// which every index ends with (one bound each way, so SQLite seeks with both).
fn conditions(filter: &AuditFilter, positions: Positions, page: AuditPage) -> (Vec<String>, Vec<Bind>) {
    let mut conditions = Vec::new();
    let mut binds = Vec::new();
    let mut push = |condition: &str, bind: Bind| {
        binds.push(bind);
        conditions.push(format!("{condition} ${}", binds.len()));
    };
    let before = page.before().map_or(i64::MAX, |before| i64::try_from(before).unwrap_or(i64::MAX));
    let last = positions.last.map_or(before - 1, |last| last.min(before - 1));
    push("i.seq <=", Bind::Integer(last));
    if let Some(first) = positions.first {
        push("i.seq >=", Bind::Integer(first));
    }
    if let Some(actor) = &filter.actor {
        push("i.actor =", Bind::Text(actor.to_string()));
    }
    if let Some(action) = &filter.action {
        push("i.action =", Bind::Text(action.to_string()));
    }
    match &filter.object {
        Some(ObjectFilter::Kind(kind)) => push("i.object_kind =", Bind::Text(kind.as_str().to_owned())),
        Some(ObjectFilter::One(object)) => {
            push("i.object_kind =", Bind::Text(object.kind.as_str().to_owned()));
            push("i.object_id =", Bind::Text(object.id.clone()));
        }
        None => {}
    }
    (conditions, binds)
}

#[derive(sqlx::FromRow)]
struct VerificationRow {
    id: i64,
    verified_at: i64,
    ok: i64,
    entries: i64,
    checkpoints_verified: i64,
    unsigned_tail: i64,
    failed_seq: Option<i64>,
    message: String,
    duration_micros: i64,
}

impl TryFrom<VerificationRow> for VerificationResult {
    type Error = StoreError;

    fn try_from(row: VerificationRow) -> Result<VerificationResult, StoreError> {
        let count = |value: i64| {
            u64::try_from(value).map_err(|_| StoreError::corrupt(Entity::AuditVerification, row.id, "negative count"))
        };
        Ok(VerificationResult {
            verified_at: timestamp(Entity::AuditVerification, &row.id, row.verified_at)?,
            ok: row.ok != 0,
            entries: count(row.entries)?,
            checkpoints_verified: count(row.checkpoints_verified)?,
            unsigned_tail: count(row.unsigned_tail)?,
            failed_entry: row.failed_seq.map(count).transpose()?,
            duration: Duration::from_micros(count(row.duration_micros)?),
            message: row.message,
        })
    }
}
