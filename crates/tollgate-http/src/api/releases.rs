//! Releases: create, edit while the scope is open, move through the state machine.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tollgate_core::release::{ArtifactRefInput, Release, ReleaseAction, ReleaseInput, ScopeDecision, ScopeItemInput};
use tollgate_core::release::{MAX_ARTIFACTS, MAX_SCOPE_ITEMS};
use tollgate_service::release::ReleaseRef;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use crate::api::problem::{problems, JSON_BODY, PATH, QUERY};
use crate::api::schema::{self, members, not_blank, null, one_of_values, reference, with_rules};
use crate::api::{json_integer, PageQuery, Paginated};
use crate::error::ApiError;
use crate::extract::{Auth, JsonBody, PathParam, QueryParams};
use crate::AppState;

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArtifactRefBody {
    /// The service the artifact is for; it must exist, and have one artifact per release.
    #[schema(value_type = schema::Name)]
    pub service: String,
    #[schema(value_type = schema::ArtifactName)]
    pub name: String,
    #[schema(value_type = schema::ArtifactVersion)]
    pub version: String,
    #[schema(value_type = schema::Digest)]
    pub digest: String,
}

/// A ticket considered for a release: included (the default), or excluded with a reason.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeItemBody {
    pub ticket: String,
    pub title: String,
    #[serde(default = "included_by_default")]
    pub included: bool,
    pub reason: Option<String>,
}

fn included_by_default() -> bool {
    true
}

impl PartialSchema for ScopeItemBody {
    fn schema() -> RefOr<Schema> {
        let item = |included: bool, reason: RefOr<Schema>| {
            let builder = ObjectBuilder::new()
                .property("ticket", schema::reference::<schema::Ticket>())
                .property("title", schema::reference::<schema::Title>())
                .property("included", one_of_values(Type::Boolean, vec![included.into()]))
                .property("reason", reason)
                .required("ticket")
                .required("title")
                .additional_properties(Some(AdditionalProperties::FreeForm(false)));
            if included {
                builder
            } else {
                builder.required("included").required("reason")
            }
        };
        OneOfBuilder::new()
            .item(item(true, null().into()).description(Some("Included: ships with the release (the default).")))
            .item(item(false, reference::<schema::Reason>()).description(Some("Excluded, with the reason why.")))
            .description(Some("A ticket considered for a release; tickets are unique within a release."))
            .into()
    }
}

impl ToSchema for ScopeItemBody {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((schema::Ticket::name().into(), schema::Ticket::schema()));
        schemas.push((schema::Title::name().into(), schema::Title::schema()));
        schemas.push((schema::Reason::name().into(), schema::Reason::schema()));
    }
}

/// The artifacts of a release, one per service.
pub struct ArtifactRefList;

impl PartialSchema for ArtifactRefList {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(reference::<ArtifactRefBody>())
            .max_items(Some(MAX_ARTIFACTS))
            .description(Some("One artifact per service."))
            .into()
    }
}

impl ToSchema for ArtifactRefList {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((ArtifactRefBody::name().into(), ArtifactRefBody::schema()));
        ArtifactRefBody::schemas(schemas);
    }
}

/// The scope of a release.
pub struct ScopeList;

impl PartialSchema for ScopeList {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(reference::<ScopeItemBody>())
            .max_items(Some(MAX_SCOPE_ITEMS))
            .description(Some("The tickets considered, each once."))
            .into()
    }
}

impl ToSchema for ScopeList {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((ScopeItemBody::name().into(), ScopeItemBody::schema()));
        ScopeItemBody::schemas(schemas);
    }
}

/// A release as written; its schema is that of [`NewReleaseBody`] or [`ReleaseBody`].
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReleaseFields)]
pub struct ReleaseRequest {
    /// Unique among releases.
    #[schema(value_type = schema::Version)]
    pub version: String,
    /// The promotion path its deployments follow; it must exist.
    #[schema(value_type = schema::Name)]
    pub lifecycle: String,
    #[schema(value_type = schema::ReleaseType)]
    pub release_type: String,
    /// `big_bang` when absent.
    #[schema(value_type = Option<schema::RolloutStrategy>)]
    pub strategy: Option<String>,
    #[serde(default)]
    #[schema(value_type = ArtifactRefList)]
    pub artifacts: Vec<ArtifactRefBody>,
    #[serde(default)]
    #[schema(value_type = ScopeList)]
    pub scope: Vec<ScopeItemBody>,
    /// The planned window: both ends or neither, the end after the start.
    #[schema(value_type = Option<schema::Timestamp>)]
    pub planned_start: Option<String>,
    #[schema(value_type = Option<schema::Timestamp>)]
    pub planned_end: Option<String>,
    #[schema(value_type = Option<schema::Timestamp>)]
    pub scope_freeze_at: Option<String>,
    #[schema(value_type = Option<schema::RollbackCriteria>)]
    pub rollback_criteria: Option<String>,
    /// On `PUT`: the revision the change is based on; another stored revision is a conflict.
    #[serde(default, deserialize_with = "json_integer")]
    #[schema(value_type = Option<schema::Revision>)]
    pub revision: Option<i64>,
}

/// Both ends of the planned window, or neither.
fn planned_window_rule() -> Schema {
    let timestamp = reference::<schema::Timestamp>;
    OneOfBuilder::new()
        .item(members(&[], vec![("planned_start", null().into()), ("planned_end", null().into())]))
        .item(members(
            &["planned_start", "planned_end"],
            vec![("planned_start", timestamp()), ("planned_end", timestamp())],
        ))
        .into()
}

/// The body of `POST /releases`: a release without a revision.
pub struct NewReleaseBody;

impl PartialSchema for NewReleaseBody {
    fn schema() -> RefOr<Schema> {
        let no_revision = members(&[], vec![("revision", null().into())]);
        with_rules(ReleaseRequest::schema(), [planned_window_rule(), no_revision], "A new release.").into()
    }
}

impl ToSchema for NewReleaseBody {
    fn name() -> std::borrow::Cow<'static, str> {
        "NewReleaseRequest".into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        ReleaseRequest::schemas(schemas);
    }
}

/// The body of `PUT /releases/{release}`.
pub struct ReleaseBody;

impl PartialSchema for ReleaseBody {
    fn schema() -> RefOr<Schema> {
        with_rules(ReleaseRequest::schema(), [planned_window_rule()], "A release's new content.").into()
    }
}

impl ToSchema for ReleaseBody {
    fn name() -> std::borrow::Cow<'static, str> {
        "ReleaseRequest".into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        ReleaseRequest::schemas(schemas);
    }
}

impl From<ReleaseRequest> for ReleaseInput {
    fn from(request: ReleaseRequest) -> ReleaseInput {
        ReleaseInput {
            version: request.version,
            lifecycle: request.lifecycle,
            release_type: request.release_type,
            strategy: request.strategy,
            artifacts: request
                .artifacts
                .into_iter()
                .map(|a| ArtifactRefInput { service: a.service, name: a.name, version: a.version, digest: a.digest })
                .collect(),
            scope: request
                .scope
                .into_iter()
                .map(|s| ScopeItemInput { ticket: s.ticket, title: s.title, included: s.included, reason: s.reason })
                .collect(),
            planned_start: request.planned_start,
            planned_end: request.planned_end,
            scope_freeze_at: request.scope_freeze_at,
            rollback_criteria: request.rollback_criteria,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReleaseResponse {
    #[schema(value_type = schema::Id)]
    pub id: i64,
    #[schema(value_type = schema::Version)]
    pub version: String,
    #[schema(value_type = schema::Name)]
    pub lifecycle: String,
    #[schema(value_type = schema::ReleaseType)]
    pub release_type: String,
    #[schema(value_type = schema::RolloutStrategy)]
    pub strategy: String,
    #[schema(value_type = schema::ReleaseState)]
    pub state: String,
    /// The states one action away.
    #[schema(value_type = Vec<schema::ReleaseState>)]
    pub allowed_next_states: Vec<String>,
    /// SHA-256 over the canonical manifest (version and artifact digests): what approvals and
    /// deployments bind to.
    #[schema(value_type = schema::Digest)]
    pub manifest_digest: String,
    #[schema(value_type = ArtifactRefList)]
    pub artifacts: Vec<ArtifactRefBody>,
    #[schema(value_type = ScopeList)]
    pub scope: Vec<ScopeItemBody>,
    #[schema(value_type = Option<schema::Timestamp>)]
    pub planned_start: Option<jiff::Timestamp>,
    #[schema(value_type = Option<schema::Timestamp>)]
    pub planned_end: Option<jiff::Timestamp>,
    #[schema(value_type = Option<schema::Timestamp>)]
    pub scope_freeze_at: Option<jiff::Timestamp>,
    #[schema(value_type = schema::RollbackCriteria)]
    pub rollback_criteria: String,
    #[schema(value_type = schema::Name)]
    pub created_by: String,
    #[schema(value_type = schema::Timestamp)]
    pub created_at: jiff::Timestamp,
    #[schema(value_type = schema::Timestamp)]
    pub updated_at: jiff::Timestamp,
    #[schema(value_type = schema::Revision)]
    pub revision: i64,
}

impl From<Release> for ReleaseResponse {
    fn from(release: Release) -> ReleaseResponse {
        let content = &release.content;
        ReleaseResponse {
            id: release.id.0,
            version: content.version.to_string(),
            lifecycle: content.lifecycle.to_string(),
            release_type: content.release_type.to_string(),
            strategy: content.strategy.to_string(),
            state: release.state.to_string(),
            allowed_next_states: release
                .state
                .allowed_next(content.release_type)
                .iter()
                .map(ToString::to_string)
                .collect(),
            manifest_digest: release.manifest_digest().to_string(),
            artifacts: content
                .artifacts
                .iter()
                .map(|a| ArtifactRefBody {
                    service: a.service.to_string(),
                    name: a.name.to_string(),
                    version: a.version.to_string(),
                    digest: a.digest.to_string(),
                })
                .collect(),
            scope: content
                .scope
                .iter()
                .map(|item| {
                    let (included, reason) = match &item.decision {
                        ScopeDecision::Included => (true, None),
                        ScopeDecision::Excluded { reason } => (false, Some(reason.clone())),
                    };
                    ScopeItemBody { ticket: item.ticket.clone(), title: item.title.clone(), included, reason }
                })
                .collect(),
            planned_start: content.planned_window.map(|w| w.start()),
            planned_end: content.planned_window.map(|w| w.end()),
            scope_freeze_at: content.scope_freeze_at,
            rollback_criteria: content.rollback_criteria.clone(),
            created_by: release.created_by.to_string(),
            created_at: release.created_at,
            updated_at: release.updated_at,
            revision: release.revision,
        }
    }
}

/// An action on a release; `unfreeze_scope`, `roll_back` and `cancel` need a reason, which is
/// kept in the audit log.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    pub action: String,
    pub reason: Option<String>,
}

impl PartialSchema for TransitionRequest {
    fn schema() -> RefOr<Schema> {
        let request = |with_reason: bool, reason: Schema| {
            let actions = schema::manual_actions(with_reason).into_iter().map(Into::into).collect();
            let builder = ObjectBuilder::new()
                .property("action", one_of_values(Type::String, actions))
                .property("reason", reason)
                .required("action")
                .additional_properties(Some(AdditionalProperties::FreeForm(false)));
            if with_reason {
                builder.required("reason").description(Some("An action that must say why."))
            } else {
                builder.description(Some("An action that needs no reason; one given is ignored."))
            }
        };
        let any_text = ObjectBuilder::new().schema_type(SchemaType::Array(vec![Type::String, Type::Null])).into();
        OneOfBuilder::new().item(request(false, any_text)).item(request(true, not_blank())).into()
    }
}

impl ToSchema for TransitionRequest {}

/// Parses a release id or version from a path, a query or a body. An id is written without sign
/// or leading zeros, so each release has one spelling.
pub(crate) fn release_ref(value: &str) -> Result<ReleaseRef, ApiError> {
    let invalid = || ApiError::validation("release", format!("{value:?} is neither a release id nor a version"));
    match ReleaseRef::parse(value).map_err(|_| invalid())? {
        ReleaseRef::Id(id) if id.0 < 1 || id.0.to_string() != value => Err(invalid()),
        parsed => Ok(parsed),
    }
}

problems!(ListReleasesProblems, [QUERY]);

#[utoipa::path(get, path = "/releases", tag = "releases", params(PageQuery),
    responses((status = 200, body = Paginated<ReleaseResponse>, description = "Newest first"), ListReleasesProblems))]
pub async fn list_releases(
    State(state): State<AppState>,
    Auth(principal): Auth,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<Json<Paginated<ReleaseResponse>>, ApiError> {
    let page = query.page();
    let releases = state.tollgate.list_releases(&principal, page).await?;
    let items = releases.into_iter().map(ReleaseResponse::from).collect();
    Ok(Json(Paginated::new(items, page, |release: &ReleaseResponse| release.id)))
}

problems!(CreateReleaseProblems, [JSON_BODY, &["forbidden", "conflict", "validation_failed"]]);

/// 409 when the version is taken.
#[utoipa::path(post, path = "/releases", tag = "releases", request_body = NewReleaseBody,
    responses((status = 201, body = ReleaseResponse), CreateReleaseProblems))]
pub async fn create_release(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<ReleaseRequest>,
) -> Result<(StatusCode, Json<ReleaseResponse>), ApiError> {
    if request.revision.is_some() {
        return Err(ApiError::validation("revision", "a new release has no revision"));
    }
    let release = state.tollgate.create_release(&principal, request.into()).await?;
    Ok((StatusCode::CREATED, Json(release.into())))
}

problems!(GetReleaseProblems, [PATH, &["release_not_found"]]);

#[utoipa::path(get, path = "/releases/{release}", tag = "releases", params(("release" = schema::ReleaseRef, Path, description = "Release id or version")),
    responses((status = 200, body = ReleaseResponse), GetReleaseProblems))]
pub async fn get_release(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(release): PathParam<String>,
) -> Result<Json<ReleaseResponse>, ApiError> {
    let release = state.tollgate.get_release(&principal, &release_ref(&release)?).await?;
    Ok(Json(release.into()))
}

problems!(
    ReplaceReleaseProblems,
    [
        JSON_BODY,
        PATH,
        &["forbidden", "release_not_found", "scope_frozen", "release_changed", "conflict", "validation_failed"]
    ]
);

/// Only while the scope is open (draft or planned); 409 `release_changed` when `revision` is not
/// the stored one.
#[utoipa::path(put, path = "/releases/{release}", tag = "releases", params(("release" = schema::ReleaseRef, Path, description = "Release id or version")),
    request_body = ReleaseBody,
    responses((status = 200, body = ReleaseResponse), ReplaceReleaseProblems))]
pub async fn replace_release(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(release): PathParam<String>,
    JsonBody(request): JsonBody<ReleaseRequest>,
) -> Result<Json<ReleaseResponse>, ApiError> {
    let revision = request.revision;
    let release = state.tollgate.update_release(&principal, &release_ref(&release)?, request.into(), revision).await?;
    Ok(Json(release.into()))
}

problems!(
    TransitionReleaseProblems,
    [
        JSON_BODY,
        PATH,
        &[
            "forbidden",
            "release_not_found",
            "invalid_transition",
            "release_not_ready",
            "release_changed",
            "conflict",
            "reason_required",
            "validation_failed",
        ],
    ]
);

/// 409 `invalid_transition` when the state does not allow the action; `mark_ready` checks every
/// artifact (409 `release_not_ready`).
#[utoipa::path(post, path = "/releases/{release}/transitions", tag = "releases", params(("release" = schema::ReleaseRef, Path, description = "Release id or version")),
    request_body = TransitionRequest,
    responses((status = 200, body = ReleaseResponse), TransitionReleaseProblems))]
pub async fn transition_release(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(release): PathParam<String>,
    JsonBody(request): JsonBody<TransitionRequest>,
) -> Result<Json<ReleaseResponse>, ApiError> {
    let action: ReleaseAction = request
        .action
        .parse()
        .map_err(|problem: tollgate_core::Problem| ApiError::validation("action", problem.to_string()))?;
    let release = state
        .tollgate
        .transition_release(&principal, &release_ref(&release)?, action, request.reason.as_deref())
        .await?;
    Ok(Json(release.into()))
}
