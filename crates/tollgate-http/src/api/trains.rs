//! Release trains: kept with the calendar, their departures, and releases boarding them.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use tollgate_core::train::{Departure, ReleaseTrain, TrainInput};
use utoipa::{IntoParams, ToSchema};

use crate::api::problem::{problems, JSON_BODY, PATH, QUERY};
use crate::api::releases::{release_ref, ReleaseResponse};
use crate::api::{parse_time, schema};
use crate::error::ApiError;
use crate::extract::{Auth, JsonBody, PathParam, QueryParams};
use crate::AppState;

/// A release train as typed.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainRequest {
    /// The IANA time zone of the departures (`Europe/Berlin`).
    pub tzid: String,
    /// The first departure, local: `2026-12-01T10:00`.
    pub first_departure: String,
    /// The cadence, an RFC 5545 RRULE (`FREQ=WEEKLY;INTERVAL=2;BYDAY=TU`).
    pub rule: String,
    /// How long each departure's release window lasts, an RFC 5545 duration (`PT4H`).
    pub length: String,
    /// How long before a departure boarding closes (`P3D`).
    pub cutoff: String,
    /// How long before a departure the scope freezes (`P1D`); not before the cut-off.
    pub freeze: String,
}

impl From<TrainRequest> for TrainInput {
    fn from(request: TrainRequest) -> TrainInput {
        TrainInput {
            tzid: request.tzid,
            first_departure: request.first_departure,
            rule: request.rule,
            length: request.length,
            cutoff: request.cutoff,
            freeze: request.freeze,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TrainResponse {
    #[schema(value_type = schema::Name)]
    pub name: String,
    pub tzid: String,
    pub first_departure: String,
    pub rule: String,
    pub length: String,
    pub cutoff: String,
    pub freeze: String,
}

impl From<ReleaseTrain> for TrainResponse {
    fn from(train: ReleaseTrain) -> TrainResponse {
        TrainResponse {
            name: train.name.to_string(),
            tzid: train.tzid,
            first_departure: train.first_departure.to_string(),
            rule: train.rule,
            length: train.length,
            cutoff: train.cutoff,
            freeze: train.freeze,
        }
    }
}

/// One departure of a train.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DepartureResponse {
    #[schema(value_type = schema::Name)]
    pub train: String,
    /// When its release window opens (UTC).
    #[schema(value_type = schema::Timestamp)]
    pub departs: jiff::Timestamp,
    #[schema(value_type = schema::Timestamp)]
    pub window_end: jiff::Timestamp,
    /// When boarding closes.
    #[schema(value_type = schema::Timestamp)]
    pub cutoff_at: jiff::Timestamp,
    /// When the scope of the releases aboard freezes.
    #[schema(value_type = schema::Timestamp)]
    pub freeze_at: jiff::Timestamp,
    /// The departure on the train's wall clock.
    pub departs_local: String,
    pub tzid: String,
}

impl From<Departure> for DepartureResponse {
    fn from(departure: Departure) -> DepartureResponse {
        DepartureResponse {
            train: departure.train.to_string(),
            departs: departure.departs,
            window_end: departure.window_end,
            cutoff_at: departure.cutoff_at,
            freeze_at: departure.freeze_at,
            departs_local: departure.departs_local.to_string(),
            tzid: departure.tzid,
        }
    }
}

#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeparturesQuery {
    #[param(value_type = schema::Timestamp)]
    pub from: String,
    /// At most three years after `from`.
    #[param(value_type = schema::Timestamp)]
    pub to: String,
    /// Only this train.
    #[param(value_type = Option<schema::Name>)]
    pub train: Option<String>,
}

/// Which train a release boards.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BoardRequest {
    #[schema(value_type = schema::Name)]
    pub train: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BoardResponse {
    /// The release with the departure's planned window and scope-freeze time.
    pub release: ReleaseResponse,
    pub departure: DepartureResponse,
}

problems!(ListTrainsProblems, [&[]]);

#[utoipa::path(get, path = "/trains", operation_id = "list_trains", tag = "calendar",
    responses((status = 200, body = Vec<TrainResponse>), ListTrainsProblems))]
pub async fn list_trains(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<Vec<TrainResponse>>, ApiError> {
    let trains = state.tollgate.list_trains(&principal).await?;
    Ok(Json(trains.into_iter().map(TrainResponse::from).collect()))
}

problems!(PutTrainProblems, [JSON_BODY, PATH, &["validation_failed"]]);

/// Creates or replaces a train (`calendar.edit`); a zone, rule, length or offset that means
/// nothing is refused naming the field.
#[utoipa::path(put, path = "/trains/{name}", operation_id = "put_train", tag = "calendar", params(("name" = schema::Name, Path)),
    request_body = TrainRequest, responses((status = 200, body = TrainResponse), PutTrainProblems))]
pub async fn put_train(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(name): PathParam<String>,
    JsonBody(request): JsonBody<TrainRequest>,
) -> Result<Json<TrainResponse>, ApiError> {
    Ok(Json(state.tollgate.put_train(&principal, &name, request.into()).await?.into()))
}

problems!(DeleteTrainProblems, [PATH, &["train_not_found"]]);

#[utoipa::path(delete, path = "/trains/{name}", operation_id = "delete_train", tag = "calendar", params(("name" = schema::Name, Path)),
    responses((status = 200, body = TrainResponse), DeleteTrainProblems))]
pub async fn delete_train(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(name): PathParam<String>,
) -> Result<Json<TrainResponse>, ApiError> {
    Ok(Json(state.tollgate.delete_train(&principal, &name).await?.into()))
}

problems!(DeparturesProblems, [QUERY, &["validation_failed", "train_not_found"]]);

/// The departures whose release window overlaps `[from, to)`, by departure.
#[utoipa::path(get, path = "/trains/departures", operation_id = "train_departures", tag = "calendar", params(DeparturesQuery),
    responses((status = 200, body = Vec<DepartureResponse>), DeparturesProblems))]
pub async fn departures(
    State(state): State<AppState>,
    Auth(principal): Auth,
    QueryParams(query): QueryParams<DeparturesQuery>,
) -> Result<Json<Vec<DepartureResponse>>, ApiError> {
    let from = parse_time("from", Some(&query.from))?.ok_or_else(|| ApiError::validation("from", "is required"))?;
    let to = parse_time("to", Some(&query.to))?.ok_or_else(|| ApiError::validation("to", "is required"))?;
    let departures = state.tollgate.train_departures(&principal, query.train.as_deref(), from, to).await?;
    Ok(Json(departures.into_iter().map(DepartureResponse::from).collect()))
}

problems!(
    BoardProblems,
    [
        JSON_BODY,
        PATH,
        &["forbidden", "release_not_found", "train_not_found", "scope_frozen", "conflict", "validation_failed"]
    ]
);

/// Boards a draft or planned release on the next departure of a train whose cut-off has not
/// passed: the release takes the departure's window and scope-freeze time (audited).
#[utoipa::path(post, path = "/releases/{release}/board", operation_id = "board_train", tag = "releases",
    params(("release" = schema::ReleaseRef, Path, description = "Release id or version")),
    request_body = BoardRequest, responses((status = 200, body = BoardResponse), BoardProblems))]
pub async fn board(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(release): PathParam<String>,
    JsonBody(request): JsonBody<BoardRequest>,
) -> Result<Json<BoardResponse>, ApiError> {
    let (release, departure) = state.tollgate.board_train(&principal, &release_ref(&release)?, &request.train).await?;
    Ok(Json(BoardResponse { release: release.into(), departure: departure.into() }))
}
