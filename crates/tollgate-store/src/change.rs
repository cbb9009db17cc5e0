//! Change requests and their approvals: one row per change (its lists and stored formats as
//! JSON or space-separated names), one row per verdict.
//!
//! Invariant: a change row is written only with the revision it was read at (`Conflict`
//! otherwise), so two writers never both move the same change; verdict rows are only inserted.

use std::collections::BTreeSet;

use tollgate_core::change::approval::{Approval, ApprovalRoute};
use tollgate_core::change::policy::ChangePolicy;
use tollgate_core::change::risk::RiskAssessment;
use tollgate_core::change::{
    ChangeContent, ChangeId, ChangeRequest, ChangeState, Review, MAX_PLANNED_DAYS, MAX_ROLLBACK_MINUTES,
};
use tollgate_core::deployment::DeploymentId;
use tollgate_core::digest::Sha256Digest;
use tollgate_core::name::{EnvironmentName, ServiceName, TeamName, TemplateName, UserName};
use tollgate_core::release::{PlannedWindow, ReleaseId};
use tollgate_core::{Entity, Page, Timestamp};

use crate::conn::Conn;
use crate::error::StoreError;
use crate::rows::{micros, parse, timestamp};
use crate::tx::StoreTx;

const COLUMNS: &str = "id, release_id, environment, change_type, template, state, justification, implementation_plan, \
    rollback_plan, rollback_minutes, tickets, links, planned_start, planned_end, manifest_digest, impacted_services, \
    risk, route, requested_by, created_at, updated_at, deployment_id, review_due_at, reviewed_by, reviewed_at, \
    review_summary, revision";

const APPROVAL_COLUMNS: &str = "change_id, approver, verdict, comment, manifest_digest, approver_teams, deployer, at";

/// Which change requests a list holds; every field narrows it.
#[derive(Debug, Clone, Default)]
pub struct ChangeFilter {
    pub release: Option<ReleaseId>,
    pub environment: Option<EnvironmentName>,
    /// Any of these states; empty means every state.
    pub states: Vec<ChangeState>,
    pub requested_by: Option<UserName>,
}

#[derive(sqlx::FromRow)]
struct ChangeRow {
    id: i64,
    release_id: i64,
    environment: String,
    change_type: String,
    template: Option<String>,
    state: String,
    justification: String,
    implementation_plan: String,
    rollback_plan: String,
    rollback_minutes: i64,
    tickets: String,
    links: String,
    planned_start: i64,
    planned_end: i64,
    manifest_digest: String,
    impacted_services: String,
    risk: Option<String>,
    route: Option<String>,
    requested_by: String,
    created_at: i64,
    updated_at: i64,
    deployment_id: Option<i64>,
    review_due_at: Option<i64>,
    reviewed_by: Option<String>,
    reviewed_at: Option<i64>,
    review_summary: Option<String>,
    revision: i64,
}

impl TryFrom<ChangeRow> for ChangeRequest {
    type Error = StoreError;

    fn try_from(row: ChangeRow) -> Result<ChangeRequest, StoreError> {
        const ENTITY: Entity = Entity::ChangeRequest;
        let key = row.id;
        let json = |text: &str| -> Result<Vec<String>, StoreError> {
            serde_json::from_str(text).map_err(|error| StoreError::corrupt(ENTITY, key, error))
        };
        let time = |value: i64| timestamp(ENTITY, &key, value);
        let planned = parse(ENTITY, &key, PlannedWindow::new(time(row.planned_start)?, time(row.planned_end)?))?;
        let review = match (row.reviewed_by, row.reviewed_at, row.review_summary) {
            (Some(by), Some(at), Some(summary)) => {
                Some(Review { by: parse(ENTITY, &key, UserName::parse(&by))?, at: time(at)?, summary })
            }
            (None, None, None) => None,
            _ => return Err(StoreError::corrupt(ENTITY, key, "a review without its author, time or summary")),
        };
        let risk: Option<RiskAssessment> = row
            .risk
            .map(|text| serde_json::from_str(&text).map_err(|error| StoreError::corrupt(ENTITY, key, error)))
            .transpose()?;
        let route: Option<ApprovalRoute> = row
            .route
            .map(|text| serde_json::from_str(&text).map_err(|error| StoreError::corrupt(ENTITY, key, error)))
            .transpose()?;
        Ok(ChangeRequest {
            id: ChangeId(row.id),
            release: ReleaseId(row.release_id),
            content: ChangeContent {
                environment: parse(ENTITY, &key, EnvironmentName::parse(&row.environment))?,
                change_type: parse(ENTITY, &key, row.change_type.parse())?,
                template: row.template.map(|name| parse(ENTITY, &key, TemplateName::parse(&name))).transpose()?,
                justification: row.justification,
                implementation_plan: row.implementation_plan,
                rollback_plan: row.rollback_plan,
                rollback_minutes: u32::try_from(row.rollback_minutes)
                    .map_err(|error| StoreError::corrupt(ENTITY, key, error))?,
                tickets: json(&row.tickets)?,
                links: json(&row.links)?,
                planned,
            },
            state: parse(ENTITY, &key, row.state.parse())?,
            manifest_digest: parse(ENTITY, &key, Sha256Digest::parse(&row.manifest_digest))?,
            impacted_services: row
                .impacted_services
                .split_whitespace()
                .map(|name| parse(ENTITY, &key, ServiceName::parse(name)))
                .collect::<Result<_, _>>()?,
            risk,
            route,
            requested_by: parse(ENTITY, &key, UserName::parse(&row.requested_by))?,
            created_at: time(row.created_at)?,
            updated_at: time(row.updated_at)?,
            deployment: row.deployment_id.map(DeploymentId),
            review_due_at: row.review_due_at.map(time).transpose()?,
            review,
            revision: row.revision,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ApprovalRow {
    change_id: i64,
    approver: String,
    verdict: String,
    comment: String,
    manifest_digest: String,
    approver_teams: String,
    deployer: i64,
    at: i64,
}

impl TryFrom<ApprovalRow> for Approval {
    type Error = StoreError;

    fn try_from(row: ApprovalRow) -> Result<Approval, StoreError> {
        const ENTITY: Entity = Entity::ChangeApproval;
        let key = format!("{}/{}", row.change_id, row.approver);
        let approver_teams: BTreeSet<TeamName> = row
            .approver_teams
            .split_whitespace()
            .map(|name| parse(ENTITY, &key, TeamName::parse(name)))
            .collect::<Result<_, _>>()?;
        Ok(Approval {
            change: ChangeId(row.change_id),
            approver: parse(ENTITY, &key, UserName::parse(&row.approver))?,
            verdict: parse(ENTITY, &key, row.verdict.parse())?,
            comment: row.comment,
            manifest_digest: parse(ENTITY, &key, Sha256Digest::parse(&row.manifest_digest))?,
            approver_teams,
            deployer: row.deployer != 0,
            at: timestamp(ENTITY, &key, row.at)?,
        })
    }
}

impl Conn {
    pub async fn find_change_request(&mut self, id: ChangeId) -> Result<Option<ChangeRequest>, StoreError> {
        let row: Option<ChangeRow> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM change_requests WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        row.map(ChangeRequest::try_from).transpose()
    }

    /// Change requests matching `filter`, newest first, one page.
    pub async fn list_change_requests(
        &mut self,
        filter: &ChangeFilter,
        page: Page,
    ) -> Result<Vec<ChangeRequest>, StoreError> {
        // States are keywords from core, never user text, so they are written into the query.
        let states = if filter.states.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = filter.states.iter().map(|state| format!("'{}'", state.as_str())).collect();
            format!(" AND state IN ({})", list.join(", "))
        };
        let rows: Vec<ChangeRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM change_requests WHERE ($1 IS NULL OR release_id = $1) \
             AND ($2 IS NULL OR environment = $2) AND ($3 IS NULL OR requested_by = $3) \
             AND ($4 IS NULL OR id < $4){states} ORDER BY id DESC LIMIT $5"
        ))
        .bind(filter.release.map(|release| release.0))
        .bind(filter.environment.as_ref().map(|environment| environment.to_string()))
        .bind(filter.requested_by.as_ref().map(|user| user.to_string()))
        .bind(page.cursor)
        .bind(page.bounded_limit())
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(ChangeRequest::try_from).collect()
    }

    /// Open change requests in `environment` whose planned interval, extended by its rollback
    /// time, overlaps `[from, to)`.
    pub async fn list_open_changes_between(
        &mut self,
        environment: &EnvironmentName,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<ChangeRequest>, StoreError> {
        // No change lasts longer than this with its rollback time, so the index on (environment,
        // planned_start) is read over a bounded range instead of every earlier change.
        let longest = jiff::SignedDuration::from_hours(MAX_PLANNED_DAYS * 24)
            + jiff::SignedDuration::from_mins(i64::from(MAX_ROLLBACK_MINUTES));
        let earliest = from.checked_sub(longest).unwrap_or(from);
        let rows: Vec<ChangeRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM change_requests WHERE environment = $1 \
             AND planned_start >= $4 AND planned_start < $3 \
             AND state IN ('submitted', 'assessing', 'approved', 'scheduled', 'implementing') \
             AND planned_end + rollback_minutes * 60000000 > $2 ORDER BY planned_start, id"
        ))
        .bind(environment.as_str())
        .bind(micros(from))
        .bind(micros(to))
        .bind(micros(earliest))
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(ChangeRequest::try_from).collect()
    }

    /// The change policy in force, if one was ever applied.
    pub async fn find_change_policy(&mut self) -> Result<Option<ChangePolicy>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT policy FROM change_policy WHERE id = 1")
            .fetch_optional(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        row.map(|(text,)| {
            serde_json::from_str(&text).map_err(|error| StoreError::corrupt(Entity::ChangePolicy, "changes", error))
        })
        .transpose()
    }

    /// Every verdict on a change, oldest first.
    pub async fn list_approvals(&mut self, change: ChangeId) -> Result<Vec<Approval>, StoreError> {
        let rows: Vec<ApprovalRow> = sqlx::query_as(&format!(
            "SELECT {APPROVAL_COLUMNS} FROM change_approvals WHERE change_id = $1 ORDER BY id"
        ))
        .bind(change.0)
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(Approval::try_from).collect()
    }

    /// How many deployments of releases carrying any of `services` started at or after `since`
    /// and how many of them failed or were rolled back: the history risk scoring reads.
    pub async fn deployment_outcomes(
        &mut self,
        services: &[ServiceName],
        since: Timestamp,
    ) -> Result<(u32, u32), StoreError> {
        if services.is_empty() {
            return Ok((0, 0));
        }
        let placeholders: Vec<String> = (0..services.len()).map(|index| format!("${}", index + 2)).collect();
        let sql = format!(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN d.status IN ('failed', 'rolled_back') THEN 1 ELSE 0 END), 0) \
             FROM deployments d WHERE d.started_at >= $1 AND d.status <> 'running' AND EXISTS (SELECT 1 FROM \
             release_artifacts a WHERE a.release_id = d.release_id AND a.service IN ({}))",
            placeholders.join(", ")
        );
        let mut query = sqlx::query_as::<_, (i64, i64)>(&sql).bind(micros(since));
        for service in services {
            query = query.bind(service.as_str());
        }
        let (total, failed) = query.fetch_one(self.executor()).await.map_err(StoreError::from_sqlx)?;
        let count = |value: i64| u32::try_from(value).unwrap_or(u32::MAX);
        Ok((count(total), count(failed)))
    }
}

impl StoreTx {
    /// Stores a new change request at revision 1; returns its id.
    pub async fn insert_change_request(&mut self, change: &ChangeRequest) -> Result<ChangeId, StoreError> {
        let sql = format!(
            "INSERT INTO change_requests ({}, revision) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
             $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, 1) RETURNING id",
            COLUMNS.trim_start_matches("id, ").trim_end_matches(", revision")
        );
        let (id,): (i64,) = bind_change(sqlx::query_as(&sql), change)
            .fetch_one(self.executor())
            .await
            .map_err(StoreError::on_write(Entity::ChangeRequest, change.release))?;
        Ok(ChangeId(id))
    }

    /// Replaces a change request's row, if its revision is still `change.revision`; the stored
    /// revision is then one higher.
    pub async fn update_change_request(&mut self, change: &ChangeRequest) -> Result<(), StoreError> {
        let assignments: Vec<String> = COLUMNS
            .trim_start_matches("id, ")
            .trim_end_matches(", revision")
            .split(", ")
            .enumerate()
            .map(|(index, column)| format!("{column} = ${}", index + 1))
            .collect();
        let sql = format!(
            "UPDATE change_requests SET {}, revision = revision + 1 WHERE id = $26 AND revision = $27",
            assignments.join(", ")
        );
        let query = bind_change(sqlx::query(&sql), change).bind(change.id.0).bind(change.revision);
        let affected = self.execute(query, Entity::ChangeRequest, &change.id.to_string()).await?;
        if affected != 1 {
            return Err(StoreError::Conflict { entity: Entity::ChangeRequest, key: change.id.to_string() });
        }
        Ok(())
    }

    /// Puts `policy` in force, replacing the one before.
    pub async fn put_change_policy(
        &mut self,
        policy: &ChangePolicy,
        by: &UserName,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(policy)
            .map_err(|error| StoreError::corrupt(Entity::ChangePolicy, "changes", error))?;
        let delete = sqlx::query("DELETE FROM change_policy WHERE id = 1");
        self.execute(delete, Entity::ChangePolicy, "changes").await?;
        let insert =
            sqlx::query("INSERT INTO change_policy (id, policy, updated_by, updated_at) VALUES (1, $1, $2, $3)")
                .bind(text)
                .bind(by.as_str())
                .bind(micros(at));
        self.execute(insert, Entity::ChangePolicy, "changes").await.map(drop)
    }

    /// Records a verdict.
    pub async fn insert_approval(&mut self, approval: &Approval) -> Result<(), StoreError> {
        let teams: Vec<&str> = approval.approver_teams.iter().map(TeamName::as_str).collect();
        let sql = format!("INSERT INTO change_approvals ({APPROVAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
        let query = sqlx::query(&sql)
            .bind(approval.change.0)
            .bind(approval.approver.as_str())
            .bind(approval.verdict.as_str())
            .bind(approval.comment.as_str())
            .bind(approval.manifest_digest.to_string())
            .bind(teams.join(" "))
            .bind(i64::from(approval.deployer))
            .bind(micros(approval.at));
        self.execute(query, Entity::ChangeApproval, &approval.change.to_string()).await.map(drop)
    }
}

/// Binds the change's columns, without id and revision, as $1 to $25 in the order of `COLUMNS`.
fn bind_change<'q, Q: Bindable<'q>>(query: Q, change: &'q ChangeRequest) -> Q {
    let content = &change.content;
    let json = |values: &[String]| serde_json::to_string(values).expect("strings serialize");
    let names: Vec<&str> = change.impacted_services.iter().map(ServiceName::as_str).collect();
    let review = change.review.as_ref();
    query
        .bind_i64(change.release.0)
        .bind_text(content.environment.to_string())
        .bind_text(content.change_type.as_str().to_owned())
        .bind_opt_text(content.template.as_ref().map(ToString::to_string))
        .bind_text(change.state.as_str().to_owned())
        .bind_text(content.justification.clone())
        .bind_text(content.implementation_plan.clone())
        .bind_text(content.rollback_plan.clone())
        .bind_i64(i64::from(content.rollback_minutes))
        .bind_text(json(&content.tickets))
        .bind_text(json(&content.links))
        .bind_i64(micros(content.planned.start()))
        .bind_i64(micros(content.planned.end()))
        .bind_text(change.manifest_digest.to_string())
        .bind_text(names.join(" "))
        .bind_opt_text(change.risk.as_ref().map(|risk| serde_json::to_string(risk).expect("a risk serializes")))
        .bind_opt_text(change.route.as_ref().map(|route| serde_json::to_string(route).expect("a route serializes")))
        .bind_text(change.requested_by.to_string())
        .bind_i64(micros(change.created_at))
        .bind_i64(micros(change.updated_at))
        .bind_opt_i64(change.deployment.map(|deployment| deployment.0))
        .bind_opt_i64(change.review_due_at.map(micros))
        .bind_opt_text(review.map(|review| review.by.to_string()))
        .bind_opt_i64(review.map(|review| micros(review.at)))
        .bind_opt_text(review.map(|review| review.summary.clone()))
}

/// `bind` for both query shapes (`query` and `query_as`), so one function binds a change row.
trait Bindable<'q>: Sized {
    fn bind_i64(self, value: i64) -> Self;
    fn bind_opt_i64(self, value: Option<i64>) -> Self;
    fn bind_text(self, value: String) -> Self;
    fn bind_opt_text(self, value: Option<String>) -> Self;
}

impl<'q> Bindable<'q> for sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    fn bind_i64(self, value: i64) -> Self {
        self.bind(value)
    }
    fn bind_opt_i64(self, value: Option<i64>) -> Self {
        self.bind(value)
    }
    fn bind_text(self, value: String) -> Self {
        self.bind(value)
    }
    fn bind_opt_text(self, value: Option<String>) -> Self {
        self.bind(value)
    }
}

impl<'q, O> Bindable<'q> for sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>> {
    fn bind_i64(self, value: i64) -> Self {
        self.bind(value)
    }
    fn bind_opt_i64(self, value: Option<i64>) -> Self {
        self.bind(value)
    }
    fn bind_text(self, value: String) -> Self {
        self.bind(value)
    }
    fn bind_opt_text(self, value: Option<String>) -> Self {
        self.bind(value)
    }
}
