//! The release calendar: periods (windows, maintenance windows, freezes, blackouts), their
//! concrete occurrences, `.ics` import and a subscribable `.ics` export, and the window state of
//! an environment.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use tollgate_core::calendar::{CalendarPeriod, Occurrence, PeriodInput};
use tollgate_core::name::ServiceName;
use tollgate_service::calendar::{CalendarQuery, ImportReport, PutOutcome, WindowState};
use utoipa::{IntoParams, ToSchema};

use crate::api::parse_time;
use crate::api::problem::{problems, JSON_BODY, PATH, QUERY};
use crate::api::schema;
use crate::error::ApiError;
use crate::extract::{Auth, JsonBody, PathParam, QueryParams};
use crate::{AppState, MAX_BODY_BYTES};

/// A calendar period as written: where it applies and its recurrence in its own time zone.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeriodRequest {
    /// What people call it ("Year-end freeze").
    pub name: String,
    /// `window`, `maintenance`, `freeze` or `blackout`.
    #[schema(value_type = schema::PeriodKind)]
    pub kind: String,
    /// `global` (the default), `environment:NAME`, `service:NAME` or `region:NAME`.
    #[schema(value_type = Option<schema::PeriodScope>)]
    pub scope: Option<String>,
    /// The IANA time zone of the local times (`Europe/Berlin`).
    pub tzid: String,
    /// The local start of the first occurrence: `2026-12-20T10:00` or `2026-12-20`.
    pub start: String,
    /// How long each occurrence lasts, as an RFC 5545 duration (`PT6H`, `P15D`).
    pub length: String,
    /// An RFC 5545 RRULE (`FREQ=WEEKLY;BYDAY=TU,WE`), with or without the `RRULE:` name.
    pub rule: Option<String>,
    /// Local starts the rule produces that do not happen (EXDATE).
    #[serde(default)]
    pub exdates: Vec<String>,
    /// Local starts added to the rule's (RDATE).
    #[serde(default)]
    pub rdates: Vec<String>,
}

impl From<PeriodRequest> for PeriodInput {
    fn from(request: PeriodRequest) -> PeriodInput {
        PeriodInput {
            name: request.name,
            kind: request.kind,
            scope: request.scope,
            tzid: request.tzid,
            start: request.start,
            length: request.length,
            rule: request.rule,
            exdates: request.exdates,
            rdates: request.rdates,
        }
    }
}

/// A calendar period as stored.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct PeriodResponse {
    #[schema(value_type = schema::Name)]
    pub id: String,
    pub name: String,
    #[schema(value_type = schema::PeriodKind)]
    pub kind: String,
    #[schema(value_type = schema::PeriodScope)]
    pub scope: String,
    pub tzid: String,
    /// The local start of the first occurrence (ISO 8601 civil date-time).
    pub start: String,
    pub length: String,
    pub rule: Option<String>,
    pub exdates: Vec<String>,
    pub rdates: Vec<String>,
    /// The UID of the `.ics` event it was imported from.
    pub uid: Option<String>,
}

impl From<CalendarPeriod> for PeriodResponse {
    fn from(period: CalendarPeriod) -> PeriodResponse {
        PeriodResponse {
            id: period.id.to_string(),
            name: period.name,
            kind: period.kind.to_string(),
            scope: period.scope.to_string(),
            tzid: period.tzid,
            start: period.start.to_string(),
            length: period.length,
            rule: period.rule,
            exdates: period.exdates.iter().map(ToString::to_string).collect(),
            rdates: period.rdates.iter().map(ToString::to_string).collect(),
            uid: period.uid,
        }
    }
}

/// One occurrence of a period: when it starts and ends, in UTC and on its zone's wall clock.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct OccurrenceResponse {
    pub name: String,
    #[schema(value_type = schema::PeriodKind)]
    pub kind: String,
    /// The start (inclusive), UTC.
    #[schema(value_type = schema::Timestamp)]
    pub start: jiff::Timestamp,
    /// The end (exclusive), UTC.
    #[schema(value_type = schema::Timestamp)]
    pub end: jiff::Timestamp,
    /// The wall-clock time in `tzid` at `start`.
    pub start_local: String,
    /// The wall-clock time in `tzid` at `end`.
    pub end_local: String,
    pub tzid: String,
    /// The RRULE, or empty for a period without one.
    pub rule: String,
    /// How a local time that does not exist or exists twice on that day (a daylight-saving
    /// change) was read; empty when nothing was adjusted.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub adjustment: String,
}

impl OccurrenceResponse {
    fn new(occurrence: Occurrence, adjustment: String) -> OccurrenceResponse {
        OccurrenceResponse {
            name: occurrence.name,
            kind: occurrence.kind.to_string(),
            start: occurrence.start,
            end: occurrence.end,
            start_local: occurrence.start_local.to_string(),
            end_local: occurrence.end_local.to_string(),
            tzid: occurrence.tzid,
            rule: occurrence.rule,
            adjustment,
        }
    }
}

#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OccurrencesQuery {
    /// The start of the range (inclusive).
    #[param(value_type = schema::Timestamp)]
    pub from: String,
    /// The end of the range (exclusive); at most three years after `from`.
    #[param(value_type = schema::Timestamp)]
    pub to: String,
    /// Only the periods that apply to this environment (its own, its region's, global ones).
    #[param(value_type = Option<schema::Name>)]
    pub environment: Option<String>,
    /// Only the periods that apply to this service (its own and global ones).
    #[param(value_type = Option<schema::Name>)]
    pub service: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// The kind of every imported period; default: the kind the event's CATEGORIES name, else
    /// `blackout`.
    #[param(value_type = Option<schema::PeriodKind>)]
    pub kind: Option<String>,
    /// Where the imported periods apply; default `global`.
    #[param(value_type = Option<schema::PeriodScope>)]
    pub scope: Option<String>,
}

/// What an import did: the period ids created, updated and left unchanged, in file order.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct ImportResponse {
    #[schema(value_type = Vec<schema::Name>)]
    pub created: Vec<String>,
    #[schema(value_type = Vec<schema::Name>)]
    pub updated: Vec<String>,
    #[schema(value_type = Vec<schema::Name>)]
    pub unchanged: Vec<String>,
}

impl From<ImportReport> for ImportResponse {
    fn from(report: ImportReport) -> ImportResponse {
        let ids = |ids: Vec<tollgate_core::name::PeriodId>| ids.into_iter().map(|id| id.to_string()).collect();
        ImportResponse { created: ids(report.created), updated: ids(report.updated), unchanged: ids(report.unchanged) }
    }
}

#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// Only the periods that apply to this environment.
    #[param(value_type = Option<schema::Name>)]
    pub environment: Option<String>,
    /// Only the periods that apply to this service.
    #[param(value_type = Option<schema::Name>)]
    pub service: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WindowQuery {
    /// The instant to judge; now when absent.
    #[param(value_type = Option<schema::Timestamp>)]
    pub at: Option<String>,
    /// A service the deployment carries: its own periods apply too (repeatable as a
    /// comma-separated list).
    #[param(value_type = Option<String>)]
    pub services: Option<String>,
}

/// Whether deployments into an environment may happen at an instant, why, and until when.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct WindowResponse {
    #[schema(value_type = schema::Name)]
    pub environment: String,
    #[schema(value_type = schema::Timestamp)]
    pub at: jiff::Timestamp,
    pub open: bool,
    /// One sentence for each reason it is closed; empty when open.
    pub reasons: Vec<String>,
    /// The freezes and blackouts in force.
    pub denied_by: Vec<OccurrenceResponse>,
    /// The window that is open, if any.
    pub allowed_by: Option<OccurrenceResponse>,
    /// Whether any allow window applies; without one the environment is open whenever no deny
    /// period is in force.
    pub has_windows: bool,
    /// When the state next changes, within 400 days.
    #[schema(value_type = Option<schema::Timestamp>)]
    pub next_change: Option<jiff::Timestamp>,
    /// What a deployment still running when the window closes does: `finish` or `pause` at
    /// its next step (the environment's `on_window_close` in the change policy).
    #[schema(value_type = schema::WindowClose)]
    pub on_close: String,
}

impl From<WindowState> for WindowResponse {
    fn from(state: WindowState) -> WindowResponse {
        WindowResponse {
            environment: state.environment.to_string(),
            at: state.at,
            open: state.open,
            reasons: state.reasons(),
            denied_by: state.denied_by.into_iter().map(|o| OccurrenceResponse::new(o, String::new())).collect(),
            allowed_by: state.allowed_by.map(|o| OccurrenceResponse::new(o, String::new())),
            has_windows: state.has_windows,
            next_change: state.next_change,
            on_close: state.on_close.as_str().to_owned(),
        }
    }
}

#[utoipa::path(get, path = "/calendar/periods", tag = "calendar",
    responses((status = 200, body = [PeriodResponse])))]
pub async fn list_periods(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<Vec<PeriodResponse>>, ApiError> {
    let periods = state.tollgate.list_calendar_periods(&principal).await?;
    Ok(Json(periods.into_iter().map(PeriodResponse::from).collect()))
}

problems!(PutPeriodProblems, [JSON_BODY, PATH, &["validation_failed"]]);

/// Creates (201) or replaces (200) a period; an unchanged period writes nothing. Release
/// managers and admins (`calendar.edit`). A time zone, rule or length that means nothing is
/// refused naming the field.
#[utoipa::path(put, path = "/calendar/periods/{id}", tag = "calendar", params(("id" = schema::Name, Path)),
    request_body = PeriodRequest,
    responses((status = 200, body = PeriodResponse), (status = 201, body = PeriodResponse), PutPeriodProblems))]
pub async fn put_period(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(id): PathParam<String>,
    JsonBody(request): JsonBody<PeriodRequest>,
) -> Result<(StatusCode, Json<PeriodResponse>), ApiError> {
    let (period, outcome) = state.tollgate.put_calendar_period(&principal, &id, request.into()).await?;
    let status = if outcome == PutOutcome::Created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(period.into())))
}

problems!(DeletePeriodProblems, [PATH, &["calendar_period_not_found"]]);

/// Deletes a period and answers it as it was (`calendar.edit`).
#[utoipa::path(delete, path = "/calendar/periods/{id}", tag = "calendar", params(("id" = schema::Name, Path)),
    responses((status = 200, body = PeriodResponse), DeletePeriodProblems))]
pub async fn delete_period(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(id): PathParam<String>,
) -> Result<Json<PeriodResponse>, ApiError> {
    let period = state.tollgate.delete_calendar_period(&principal, &id).await?;
    Ok(Json(period.into()))
}

problems!(OccurrencesProblems, [QUERY, &["validation_failed", "environment_not_found", "service_not_found"]]);

/// The concrete occurrences overlapping `[from, to)`, ordered by start.
#[utoipa::path(get, path = "/calendar/occurrences", tag = "calendar", params(OccurrencesQuery),
    responses((status = 200, body = [OccurrenceResponse]), OccurrencesProblems))]
pub async fn occurrences(
    State(state): State<AppState>,
    Auth(principal): Auth,
    QueryParams(query): QueryParams<OccurrencesQuery>,
) -> Result<Json<Vec<OccurrenceResponse>>, ApiError> {
    let query =
        CalendarQuery { from: query.from, to: query.to, environment: query.environment, service: query.service };
    let occurrences = state.tollgate.calendar_occurrences(&principal, query).await?;
    Ok(Json(occurrences.into_iter().map(|(occurrence, note)| OccurrenceResponse::new(occurrence, note)).collect()))
}

problems!(ImportProblems, [QUERY, &["validation_failed", "payload_too_large"]]);

/// Imports the VEVENTs of an `.ics` file, recurrences included, as periods; each event's
/// SUMMARY becomes the name, and its UID the key, so importing a file twice changes nothing.
/// All or nothing (`calendar.edit`).
#[utoipa::path(post, path = "/calendar/import", tag = "calendar", params(ImportQuery),
    request_body(content = String, content_type = "text/calendar", description = "An RFC 5545 calendar"),
    responses((status = 200, body = ImportResponse), ImportProblems))]
pub async fn import(
    State(state): State<AppState>,
    Auth(principal): Auth,
    QueryParams(query): QueryParams<ImportQuery>,
    body: Body,
) -> Result<Json<ImportResponse>, ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::new("payload_too_large", format!("the calendar is over {MAX_BODY_BYTES} bytes")))?;
    let text = std::str::from_utf8(&bytes).map_err(|error| ApiError::validation("file", error.to_string()))?;
    let report =
        state.tollgate.import_calendar(&principal, text, query.kind.as_deref(), query.scope.as_deref()).await?;
    Ok(Json(report.into()))
}

problems!(ExportProblems, [QUERY, &["validation_failed", "environment_not_found", "service_not_found"]]);

/// The periods that apply (all, or those of an environment and/or a service) as an RFC 5545
/// calendar with their time zones: a URL calendar applications subscribe to. Besides a bearer
/// token it accepts HTTP Basic authentication with an API token as the password, which is what
/// calendar applications send.
#[utoipa::path(get, path = "/calendar/export.ics", operation_id = "export_calendar", tag = "calendar", params(ExportQuery),
    responses((status = 200, content_type = "text/calendar", body = String), ExportProblems))]
pub async fn export(
    State(state): State<AppState>,
    Auth(principal): Auth,
    QueryParams(query): QueryParams<ExportQuery>,
) -> Result<Response, ApiError> {
    let text =
        state.tollgate.export_calendar(&principal, query.environment.as_deref(), query.service.as_deref()).await?;
    let headers = [
        (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
        (header::CONTENT_DISPOSITION, "inline; filename=\"tollgate.ics\""),
    ];
    Ok((headers, text).into_response())
}

problems!(WindowProblems, [PATH, QUERY, &["validation_failed", "environment_not_found"]]);

/// Whether deployments into the environment may happen now (or `at`), every reason it is
/// closed, and when that next changes. Deny periods always win; an environment with no allow
/// windows is open whenever none is in force.
#[utoipa::path(get, path = "/environments/{name}/window", tag = "calendar", params(("name" = schema::Name, Path), WindowQuery),
    responses((status = 200, body = WindowResponse), WindowProblems))]
pub async fn window(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(name): PathParam<String>,
    QueryParams(query): QueryParams<WindowQuery>,
) -> Result<Json<WindowResponse>, ApiError> {
    let at = parse_time("at", query.at.as_deref())?;
    let mut services = Vec::new();
    for name in query.services.iter().flat_map(|list| list.split(',')).filter(|name| !name.is_empty()) {
        services
            .push(ServiceName::parse(name).map_err(|problem| ApiError::validation("services", problem.to_string()))?);
    }
    let window = state.tollgate.window_state(&principal, &name, &services, at).await?;
    Ok(Json(window.into()))
}
