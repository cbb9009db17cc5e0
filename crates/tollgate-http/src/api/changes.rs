//! Change requests: request, submit, approve or reject, schedule, review, withdraw, close; the
//! CAB agenda and the overdue post-implementation reviews.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tollgate_core::change::approval::{Approval, ApprovalRoute, ApprovalStatus, Verdict};
use tollgate_core::change::risk::RiskAssessment;
use tollgate_core::change::{ChangeAction, ChangeConflict, ChangeId, ChangeInput, ChangeRequest};
use tollgate_service::change::{ChangeQuery, ChangeView};
use utoipa::{IntoParams, ToSchema};

use crate::api::problem::{problems, JSON_BODY, PATH, QUERY};
use crate::api::releases::release_ref;
use crate::api::schema;
use crate::api::{page_limit, PageQuery, Paginated};
use crate::error::ApiError;
use crate::extract::{Auth, JsonBody, PathParam, QueryParams};
use crate::AppState;

/// A change request as typed.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequestBody {
    /// The release to put into the environment (id or version).
    #[schema(value_type = schema::ReleaseRef)]
    pub release: String,
    #[schema(value_type = schema::Name)]
    pub environment: String,
    /// Emergency for an emergency release, normal otherwise, when absent.
    #[schema(value_type = Option<schema::ChangeType>)]
    pub change_type: Option<String>,
    /// Required for a standard change: the pre-approved template of the change policy it follows.
    #[schema(value_type = Option<schema::Name>)]
    pub template: Option<String>,
    #[schema(value_type = schema::PlanStatement)]
    pub justification: String,
    #[schema(value_type = Option<schema::PlanText>)]
    pub implementation_plan: Option<String>,
    /// Required: how the change is undone.
    #[schema(value_type = schema::PlanStatement)]
    pub rollback_plan: String,
    /// How long undoing the change takes; the window must hold it after the planned end.
    #[schema(value_type = Option<schema::RollbackMinutes>)]
    pub rollback_minutes: Option<u32>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<schema::Reference>>)]
    pub tickets: Vec<String>,
    /// Links to evidence, runbooks, dashboards.
    #[serde(default)]
    #[schema(value_type = Option<Vec<schema::Reference>>)]
    pub links: Vec<String>,
    /// The release's planned window start when absent.
    #[schema(value_type = Option<schema::Timestamp>)]
    pub planned_start: Option<String>,
    /// The release's planned window end when absent.
    #[schema(value_type = Option<schema::Timestamp>)]
    pub planned_end: Option<String>,
}

/// A verdict's comment (required for a rejection).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerdictRequest {
    #[schema(value_type = Option<schema::Comment>)]
    pub comment: Option<String>,
}

/// A post-implementation review.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    #[schema(value_type = schema::PlanStatement)]
    pub summary: String,
}

/// Why a change is withdrawn or closed.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndRequest {
    #[schema(value_type = Option<schema::Comment>)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RiskFactorResponse {
    #[schema(value_type = schema::RiskFactorKind)]
    pub kind: String,
    /// Between 0 and 1.
    pub value: f64,
    pub weight: u32,
    /// This factor's share of the score.
    pub points: f64,
    pub explanation: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RiskResponse {
    /// 0 to 100.
    pub score: u8,
    #[schema(value_type = schema::RiskClass)]
    pub class: String,
    pub factors: Vec<RiskFactorResponse>,
}

impl From<RiskAssessment> for RiskResponse {
    fn from(risk: RiskAssessment) -> RiskResponse {
        RiskResponse {
            score: risk.score,
            class: risk.class.to_string(),
            factors: risk
                .factors
                .into_iter()
                .map(|factor| RiskFactorResponse {
                    kind: factor.kind.to_string(),
                    value: factor.value,
                    weight: factor.weight,
                    points: factor.points,
                    explanation: factor.explanation,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RouteResponse {
    #[schema(value_type = schema::ApprovalRouteKind)]
    pub kind: String,
    /// The version (SHA-256) of the approval policy that chose the route.
    #[schema(value_type = schema::Digest)]
    pub policy: String,
    /// For a CAB: the distinct approvers needed.
    pub quorum: Option<u32>,
    /// For a CAB: teams of which an approver must be a member.
    #[schema(value_type = Option<Vec<schema::Name>>)]
    pub required_teams: Option<Vec<String>>,
    /// For a CAB: whether one approver must come from outside the author's teams.
    pub outside_team: Option<bool>,
    /// For an emergency: the days within which the post-implementation review is due.
    pub review_days: Option<u32>,
}

impl From<ApprovalRoute> for RouteResponse {
    fn from(route: ApprovalRoute) -> RouteResponse {
        let mut response = RouteResponse {
            kind: route.kind().to_owned(),
            policy: route.policy().to_owned(),
            quorum: None,
            required_teams: None,
            outside_team: None,
            review_days: None,
        };
        match route {
            ApprovalRoute::Cab { quorum, required_teams, outside_team, .. } => {
                response.quorum = Some(quorum);
                response.required_teams = Some(required_teams);
                response.outside_team = Some(outside_team);
            }
            ApprovalRoute::Emergency { review_days, .. } => response.review_days = Some(review_days),
            ApprovalRoute::Automatic { .. } | ApprovalRoute::Peer { .. } => {}
        }
        response
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReviewResponse {
    #[schema(value_type = schema::Name)]
    pub by: String,
    #[schema(value_type = schema::Timestamp)]
    pub at: jiff::Timestamp,
    pub summary: String,
}

/// A change request.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChangeResponse {
    #[schema(value_type = schema::Id)]
    pub id: i64,
    #[schema(value_type = schema::Id)]
    pub release: i64,
    #[schema(value_type = schema::Name)]
    pub environment: String,
    #[schema(value_type = schema::ChangeType)]
    pub change_type: String,
    #[schema(value_type = Option<schema::Name>)]
    pub template: Option<String>,
    #[schema(value_type = schema::ChangeState)]
    pub state: String,
    pub justification: String,
    pub implementation_plan: String,
    pub rollback_plan: String,
    pub rollback_minutes: u32,
    pub tickets: Vec<String>,
    pub links: Vec<String>,
    #[schema(value_type = schema::Timestamp)]
    pub planned_start: jiff::Timestamp,
    #[schema(value_type = schema::Timestamp)]
    pub planned_end: jiff::Timestamp,
    /// The release manifest digest the change was last submitted for.
    #[schema(value_type = schema::Digest)]
    pub manifest_digest: String,
    /// The release's services and all their transitive dependents.
    #[schema(value_type = Vec<schema::Name>)]
    pub impacted_services: Vec<String>,
    /// Set once the change is submitted.
    pub risk: Option<RiskResponse>,
    /// Set once the change is submitted.
    pub route: Option<RouteResponse>,
    #[schema(value_type = schema::Name)]
    pub requested_by: String,
    #[schema(value_type = schema::Timestamp)]
    pub created_at: jiff::Timestamp,
    #[schema(value_type = schema::Timestamp)]
    pub updated_at: jiff::Timestamp,
    /// The deployment recorded under the change.
    #[schema(value_type = Option<schema::Id>)]
    pub deployment: Option<i64>,
    /// When the post-implementation review is due (emergency changes).
    #[schema(value_type = Option<schema::Timestamp>)]
    pub review_due_at: Option<jiff::Timestamp>,
    pub review: Option<ReviewResponse>,
    pub revision: i64,
}

impl From<ChangeRequest> for ChangeResponse {
    fn from(change: ChangeRequest) -> ChangeResponse {
        let content = change.content;
        ChangeResponse {
            id: change.id.0,
            release: change.release.0,
            environment: content.environment.to_string(),
            change_type: content.change_type.to_string(),
            template: content.template.as_ref().map(ToString::to_string),
            state: change.state.to_string(),
            justification: content.justification,
            implementation_plan: content.implementation_plan,
            rollback_plan: content.rollback_plan,
            rollback_minutes: content.rollback_minutes,
            tickets: content.tickets,
            links: content.links,
            planned_start: content.planned.start(),
            planned_end: content.planned.end(),
            manifest_digest: change.manifest_digest.to_string(),
            impacted_services: change.impacted_services.iter().map(ToString::to_string).collect(),
            risk: change.risk.map(RiskResponse::from),
            route: change.route.map(RouteResponse::from),
            requested_by: change.requested_by.to_string(),
            created_at: change.created_at,
            updated_at: change.updated_at,
            deployment: change.deployment.map(|deployment| deployment.0),
            review_due_at: change.review_due_at,
            review: change.review.map(|review| ReviewResponse {
                by: review.by.to_string(),
                at: review.at,
                summary: review.summary,
            }),
            revision: change.revision,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApprovalResponse {
    #[schema(value_type = schema::Name)]
    pub approver: String,
    #[schema(value_type = schema::Verdict)]
    pub verdict: String,
    pub comment: String,
    /// The release manifest digest the verdict was given for.
    #[schema(value_type = schema::Digest)]
    pub manifest_digest: String,
    /// Whether the verdict was given for the release as it is now (others count no more).
    pub current: bool,
    #[schema(value_type = Vec<schema::Name>)]
    pub approver_teams: Vec<String>,
    /// Whether the approver held the deployer role (or a just-in-time deployer grant).
    pub deployer: bool,
    #[schema(value_type = schema::Timestamp)]
    pub at: jiff::Timestamp,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApprovalStatusResponse {
    pub complete: bool,
    pub rejected: bool,
    /// Each requirement not yet met.
    pub missing: Vec<String>,
    /// Verdicts given for another manifest digest, which no longer count.
    pub stale: usize,
}

impl From<ApprovalStatus> for ApprovalStatusResponse {
    fn from(status: ApprovalStatus) -> ApprovalStatusResponse {
        ApprovalStatusResponse {
            complete: status.complete,
            rejected: status.rejected,
            missing: status.missing,
            stale: status.n_stale,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConflictResponse {
    #[schema(value_type = schema::ConflictKind)]
    pub kind: String,
    /// The calendar period's id, the environment, the window's name or the other change's number.
    pub with: String,
    pub explanation: String,
}

impl From<ChangeConflict> for ConflictResponse {
    fn from(conflict: ChangeConflict) -> ConflictResponse {
        ConflictResponse { kind: conflict.kind.to_string(), with: conflict.with, explanation: conflict.explanation }
    }
}

/// A change request with its verdicts, approval status and conflicts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChangeDetailResponse {
    pub change: ChangeResponse,
    #[schema(value_type = schema::Version)]
    pub release_version: String,
    /// Whether the release still has the manifest digest the change was submitted for.
    pub release_unchanged: bool,
    pub approvals: Vec<ApprovalResponse>,
    /// Where the approvals stand for the release as it is now; none before submission.
    pub approval_status: Option<ApprovalStatusResponse>,
    /// The conflicts of an open change's planned interval.
    pub conflicts: Vec<ConflictResponse>,
}

impl From<ChangeView> for ChangeDetailResponse {
    fn from(view: ChangeView) -> ChangeDetailResponse {
        let digest = view.release_digest;
        let approval = |approval: Approval| ApprovalResponse {
            current: approval.manifest_digest == digest,
            approver: approval.approver.to_string(),
            verdict: approval.verdict.to_string(),
            comment: approval.comment,
            manifest_digest: approval.manifest_digest.to_string(),
            approver_teams: approval.approver_teams.iter().map(ToString::to_string).collect(),
            deployer: approval.deployer,
            at: approval.at,
        };
        ChangeDetailResponse {
            release_version: view.release_version.to_string(),
            release_unchanged: view.release_unchanged,
            approvals: view.approvals.into_iter().map(approval).collect(),
            approval_status: view.status.map(ApprovalStatusResponse::from),
            conflicts: view.conflicts.into_iter().map(ConflictResponse::from).collect(),
            change: view.change.into(),
        }
    }
}

#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChangeListQuery {
    /// Only changes of this release (id or version).
    #[param(value_type = Option<schema::ReleaseRef>)]
    pub release: Option<String>,
    #[param(value_type = Option<schema::Name>)]
    pub environment: Option<String>,
    #[param(value_type = Option<schema::ChangeState>)]
    pub state: Option<String>,
    #[param(value_type = Option<schema::Name>)]
    pub requested_by: Option<String>,
    #[serde(default, deserialize_with = "page_limit")]
    #[param(value_type = Option<schema::PageLimit>)]
    pub limit: Option<i64>,
    #[param(value_type = Option<schema::Cursor>)]
    pub cursor: Option<i64>,
}

fn change_id(value: &str) -> Result<ChangeId, ApiError> {
    value
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(ChangeId)
        .ok_or_else(|| ApiError::validation("id", format!("{value:?} is not a change request number")))
}

problems!(
    CreateChangeProblems,
    [JSON_BODY, &["forbidden", "release_not_found", "environment_not_found", "validation_failed"]]
);

/// Requests a change (state draft). Type and planned interval start from the release when left out.
#[utoipa::path(post, path = "/changes", operation_id = "create_change", tag = "changes", request_body = ChangeRequestBody,
    responses((status = 201, body = ChangeResponse), CreateChangeProblems))]
pub async fn create_change(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<ChangeRequestBody>,
) -> Result<(StatusCode, Json<ChangeResponse>), ApiError> {
    let release = release_ref(&request.release)?;
    let input = ChangeInput {
        environment: request.environment,
        change_type: request.change_type,
        template: request.template,
        justification: request.justification,
        implementation_plan: request.implementation_plan.unwrap_or_default(),
        rollback_plan: request.rollback_plan,
        rollback_minutes: request.rollback_minutes,
        tickets: request.tickets,
        links: request.links,
        planned_start: request.planned_start,
        planned_end: request.planned_end,
    };
    let change = state.tollgate.create_change(&principal, &release, input).await?;
    Ok((StatusCode::CREATED, Json(change.into())))
}

problems!(ListChangesProblems, [QUERY, &["release_not_found", "validation_failed"]]);

#[utoipa::path(get, path = "/changes", operation_id = "list_changes", tag = "changes", params(ChangeListQuery),
    responses((status = 200, body = Paginated<ChangeResponse>, description = "Newest first"), ListChangesProblems))]
pub async fn list_changes(
    State(state): State<AppState>,
    Auth(principal): Auth,
    QueryParams(query): QueryParams<ChangeListQuery>,
) -> Result<Json<Paginated<ChangeResponse>>, ApiError> {
    let page = PageQuery { limit: query.limit, cursor: query.cursor }.page();
    let filter = ChangeQuery {
        release: query.release.as_deref().map(release_ref).transpose()?,
        environment: query.environment,
        state: query.state,
        requested_by: query.requested_by,
    };
    let changes = state.tollgate.list_changes(&principal, &filter, page).await?;
    let items = changes.into_iter().map(ChangeResponse::from).collect();
    Ok(Json(Paginated::new(items, page, |change: &ChangeResponse| change.id)))
}

problems!(GetChangeProblems, [PATH, &["change_request_not_found", "validation_failed"]]);

#[utoipa::path(get, path = "/changes/{id}", operation_id = "get_change", tag = "changes", params(("id" = schema::Id, Path)),
    responses((status = 200, body = ChangeDetailResponse), GetChangeProblems))]
pub async fn get_change(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(id): PathParam<String>,
) -> Result<Json<ChangeDetailResponse>, ApiError> {
    Ok(Json(state.tollgate.get_change(&principal, change_id(&id)?).await?.into()))
}

problems!(
    MoveChangeProblems,
    [
        PATH,
        &[
            "forbidden",
            "change_request_not_found",
            "invalid_change_transition",
            "change_refused",
            "conflict",
            "validation_failed"
        ]
    ]
);

/// Submits a draft, or resubmits an approved, scheduled or rejected change for the release as
/// it is now: the risk is assessed and the approval policy picks the route; a standard change
/// of low risk is approved at once.
#[utoipa::path(post, path = "/changes/{id}/submit", operation_id = "submit_change", tag = "changes", params(("id" = schema::Id, Path)),
    responses((status = 200, body = ChangeDetailResponse), MoveChangeProblems))]
pub async fn submit_change(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(id): PathParam<String>,
) -> Result<Json<ChangeDetailResponse>, ApiError> {
    Ok(Json(state.tollgate.submit_change(&principal, change_id(&id)?).await?.into()))
}

problems!(
    VerdictProblems,
    [
        JSON_BODY,
        PATH,
        &[
            "forbidden",
            "change_request_not_found",
            "invalid_change_transition",
            "change_refused",
            "conflict",
            "validation_failed"
        ]
    ]
);

/// Approves a change being assessed, for the release as it is now; the change is approved when
/// the approvals its route needs are complete. Never one's own change or release.
#[utoipa::path(post, path = "/changes/{id}/approve", operation_id = "approve_change", tag = "changes", params(("id" = schema::Id, Path)),
    request_body = VerdictRequest, responses((status = 200, body = ChangeDetailResponse), VerdictProblems))]
pub async fn approve_change(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(id): PathParam<String>,
    JsonBody(request): JsonBody<VerdictRequest>,
) -> Result<Json<ChangeDetailResponse>, ApiError> {
    decide(&state, &principal, &id, Verdict::Approve, request).await
}

/// Rejects a change being assessed, with a comment.
#[utoipa::path(post, path = "/changes/{id}/reject", operation_id = "reject_change", tag = "changes", params(("id" = schema::Id, Path)),
    request_body = VerdictRequest, responses((status = 200, body = ChangeDetailResponse), VerdictProblems))]
pub async fn reject_change(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(id): PathParam<String>,
    JsonBody(request): JsonBody<VerdictRequest>,
) -> Result<Json<ChangeDetailResponse>, ApiError> {
    decide(&state, &principal, &id, Verdict::Reject, request).await
}

async fn decide(
    state: &AppState,
    principal: &tollgate_service::Principal,
    id: &str,
    verdict: Verdict,
    request: VerdictRequest,
) -> Result<Json<ChangeDetailResponse>, ApiError> {
    let comment = request.comment.unwrap_or_default();
    Ok(Json(state.tollgate.decide_change(principal, change_id(id)?, verdict, &comment).await?.into()))
}

/// Schedules an approved change, refused with every conflict of its planned interval (an
/// emergency change is scheduled despite them).
#[utoipa::path(post, path = "/changes/{id}/schedule", operation_id = "schedule_change", tag = "changes", params(("id" = schema::Id, Path)),
    responses((status = 200, body = ChangeDetailResponse), MoveChangeProblems))]
pub async fn schedule_change(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(id): PathParam<String>,
) -> Result<Json<ChangeDetailResponse>, ApiError> {
    Ok(Json(state.tollgate.schedule_change(&principal, change_id(&id)?).await?.into()))
}

/// Records the post-implementation review of an implemented, failed or rolled-back change.
#[utoipa::path(post, path = "/changes/{id}/review", operation_id = "review_change", tag = "changes", params(("id" = schema::Id, Path)),
    request_body = ReviewRequest, responses((status = 200, body = ChangeDetailResponse), VerdictProblems))]
pub async fn review_change(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(id): PathParam<String>,
    JsonBody(request): JsonBody<ReviewRequest>,
) -> Result<Json<ChangeDetailResponse>, ApiError> {
    Ok(Json(state.tollgate.review_change(&principal, change_id(&id)?, &request.summary).await?.into()))
}

/// Withdraws a change that has not started.
#[utoipa::path(post, path = "/changes/{id}/withdraw", operation_id = "withdraw_change", tag = "changes", params(("id" = schema::Id, Path)),
    request_body = EndRequest, responses((status = 200, body = ChangeDetailResponse), VerdictProblems))]
pub async fn withdraw_change(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(id): PathParam<String>,
    JsonBody(request): JsonBody<EndRequest>,
) -> Result<Json<ChangeDetailResponse>, ApiError> {
    let id = change_id(&id)?;
    let view = state.tollgate.end_change(&principal, id, ChangeAction::Withdraw, request.reason.as_deref()).await?;
    Ok(Json(view.into()))
}

/// Closes a change that is done (an emergency change once reviewed).
#[utoipa::path(post, path = "/changes/{id}/close", operation_id = "close_change", tag = "changes", params(("id" = schema::Id, Path)),
    request_body = EndRequest, responses((status = 200, body = ChangeDetailResponse), VerdictProblems))]
pub async fn close_change(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(id): PathParam<String>,
    JsonBody(request): JsonBody<EndRequest>,
) -> Result<Json<ChangeDetailResponse>, ApiError> {
    let id = change_id(&id)?;
    let view = state.tollgate.end_change(&principal, id, ChangeAction::Close, request.reason.as_deref()).await?;
    Ok(Json(view.into()))
}

problems!(AgendaProblems, [&[]]);

/// The CAB agenda: changes waiting for the change advisory board, oldest first, with their
/// risk, conflicts and approvals so far.
#[utoipa::path(get, path = "/changes/cab-agenda", operation_id = "cab_agenda", tag = "changes",
    responses((status = 200, body = Vec<ChangeDetailResponse>), AgendaProblems))]
pub async fn cab_agenda(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<Vec<ChangeDetailResponse>>, ApiError> {
    let agenda = state.tollgate.cab_agenda(&principal).await?;
    Ok(Json(agenda.into_iter().map(ChangeDetailResponse::from).collect()))
}

/// Emergency changes whose post-implementation review is overdue; each blocks its requester's
/// next normal change.
#[utoipa::path(get, path = "/changes/overdue-reviews", operation_id = "overdue_reviews", tag = "changes",
    responses((status = 200, body = Vec<ChangeResponse>), AgendaProblems))]
pub async fn overdue_reviews(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<Vec<ChangeResponse>>, ApiError> {
    let overdue = state.tollgate.overdue_reviews(&principal).await?;
    Ok(Json(overdue.into_iter().map(ChangeResponse::from).collect()))
}
