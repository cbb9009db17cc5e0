//! Release-calendar periods: one row each, the recurrence kept as written.
//!
//! Invariant: a row holds exactly what core's `CalendarPeriod` holds; occurrences are computed
//! by `tollgate-calendar` from it and never stored. Deleting a period is allowed (its history
//! stays in the audit log).

use jiff::civil::DateTime;
use tollgate_core::calendar::{local_date_time, CalendarPeriod, PeriodScope};
use tollgate_core::name::{PeriodId, UserName};
use tollgate_core::{Entity, Timestamp};

use crate::conn::Conn;
use crate::error::StoreError;
use crate::rows::{micros, parse};
use crate::tx::StoreTx;

const COLUMNS: &str = "id, name, kind, scope_kind, scope_name, tzid, start_local, length, rule, exdates, rdates, uid";

#[derive(sqlx::FromRow)]
struct PeriodRow {
    id: String,
    name: String,
    kind: String,
    scope_kind: String,
    scope_name: Option<String>,
    tzid: String,
    start_local: String,
    length: String,
    rule: Option<String>,
    exdates: String,
    rdates: String,
    uid: Option<String>,
}

impl TryFrom<PeriodRow> for CalendarPeriod {
    type Error = StoreError;

    fn try_from(row: PeriodRow) -> Result<CalendarPeriod, StoreError> {
        const ENTITY: Entity = Entity::CalendarPeriod;
        let key = row.id.clone();
        let scope = match (row.scope_kind.as_str(), row.scope_name) {
            ("global", None) => PeriodScope::Global,
            (kind, Some(name)) => parse(ENTITY, &key, PeriodScope::parse(&format!("{kind}:{name}")))?,
            (kind, None) => return Err(StoreError::corrupt(ENTITY, &key, format!("scope {kind} without a name"))),
        };
        let dates = |text: &str| -> Result<Vec<DateTime>, StoreError> {
            text.split_whitespace().map(|value| parse(ENTITY, &key, local_date_time(value))).collect()
        };
        Ok(CalendarPeriod {
            id: parse(ENTITY, &key, PeriodId::parse(&row.id))?,
            name: row.name,
            kind: parse(ENTITY, &key, row.kind.parse())?,
            scope,
            tzid: row.tzid,
            start: parse(ENTITY, &key, local_date_time(&row.start_local))?,
            length: row.length,
            rule: row.rule,
            exdates: dates(&row.exdates)?,
            rdates: dates(&row.rdates)?,
            uid: row.uid,
        })
    }
}

impl Conn {
    /// The calendar's revision: it moves forward with every period written or deleted, in the
    /// same transaction, so periods read on one snapshot belong to the revision read on it.
    pub async fn calendar_revision(&mut self) -> Result<i64, StoreError> {
        let (revision,): (i64,) = sqlx::query_as("SELECT revision FROM calendar_revision WHERE id = 1")
            .fetch_one(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(revision)
    }

    /// Every calendar period, by id.
    pub async fn list_calendar_periods(&mut self) -> Result<Vec<CalendarPeriod>, StoreError> {
        let rows: Vec<PeriodRow> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM calendar_periods ORDER BY id"))
            .fetch_all(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(CalendarPeriod::try_from).collect()
    }

    pub async fn find_calendar_period(&mut self, id: &PeriodId) -> Result<Option<CalendarPeriod>, StoreError> {
        let row: Option<PeriodRow> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM calendar_periods WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        row.map(CalendarPeriod::try_from).transpose()
    }
}

impl StoreTx {
    /// Adds a period; `Conflict` when its id is taken.
    pub async fn insert_calendar_period(
        &mut self,
        period: &CalendarPeriod,
        by: &UserName,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO calendar_periods (id, name, kind, scope_kind, scope_name, tzid, start_local, length, \
                   rule, exdates, rdates, uid, updated_by, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
        self.execute(bound(sql, period, by, at), Entity::CalendarPeriod, period.id.as_str()).await?;
        self.next_calendar_revision().await
    }

    /// Replaces a period; `NotFound` when there is none with its id.
    pub async fn update_calendar_period(
        &mut self,
        period: &CalendarPeriod,
        by: &UserName,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE calendar_periods SET name = $2, kind = $3, scope_kind = $4, scope_name = $5, tzid = $6, \
                   start_local = $7, length = $8, rule = $9, exdates = $10, rdates = $11, uid = $12, \
                   updated_by = $13, updated_at = $14 WHERE id = $1";
        let affected = self.execute(bound(sql, period, by, at), Entity::CalendarPeriod, period.id.as_str()).await?;
        if affected == 0 {
            return Err(StoreError::NotFound { entity: Entity::CalendarPeriod, key: period.id.to_string() });
        }
        self.next_calendar_revision().await
    }

    /// Deletes a period; `NotFound` when there is none with this id.
    pub async fn delete_calendar_period(&mut self, id: &PeriodId) -> Result<(), StoreError> {
        let query = sqlx::query("DELETE FROM calendar_periods WHERE id = $1").bind(id.as_str());
        let affected = self.execute(query, Entity::CalendarPeriod, id.as_str()).await?;
        if affected == 0 {
            return Err(StoreError::NotFound { entity: Entity::CalendarPeriod, key: id.to_string() });
        }
        self.next_calendar_revision().await
    }

    /// Moves the calendar's revision forward; every period write ends with it.
    async fn next_calendar_revision(&mut self) -> Result<(), StoreError> {
        let query = sqlx::query("UPDATE calendar_revision SET revision = revision + 1 WHERE id = 1");
        let affected = self.execute(query, Entity::CalendarPeriod, "revision").await?;
        Self::expect_one(affected, Entity::CalendarPeriod, "revision")
    }
}

/// `sql` with the period's columns bound as $1 to $14, in the order of the table.
fn bound<'q>(
    sql: &'q str,
    period: &'q CalendarPeriod,
    by: &'q UserName,
    at: Timestamp,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    sqlx::query(sql)
        .bind(period.id.as_str())
        .bind(period.name.as_str())
        .bind(period.kind.as_str())
        .bind(period.scope.kind())
        .bind(period.scope.name())
        .bind(period.tzid.as_str())
        .bind(period.start.to_string())
        .bind(period.length.as_str())
        .bind(period.rule.as_deref())
        .bind(joined(&period.exdates))
        .bind(joined(&period.rdates))
        .bind(period.uid.as_deref())
        .bind(by.as_str())
        .bind(micros(at))
}

fn joined(dates: &[DateTime]) -> String {
    dates.iter().map(DateTime::to_string).collect::<Vec<_>>().join(" ")
}
