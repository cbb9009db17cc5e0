//! The `/api/v1` endpoints, one module per aggregate, collected into one OpenAPI document.

pub mod apply;
pub mod artifacts;
pub mod audit;
pub mod authz;
pub mod calendar;
pub mod catalog;
pub mod changes;
pub mod deployments;
pub mod evidence;
pub mod gates;
pub mod health;
pub mod leases;
pub mod people;
pub mod plans;
pub mod problem;
pub mod quarantines;
pub mod releases;
pub mod runs;
pub mod schema;
pub mod trains;

use std::sync::Arc;

use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, FieldError, Problem};
use crate::extract::Auth;
use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tollgate API",
        description = "Release, change and deployment management. Every endpoint needs `Authorization: Bearer <token>`.\n\n\
            Every error is an RFC 9457 `application/problem+json` document whose `code` is listed in `docs/api-errors.md`; \
            each response below names the codes it can carry in `x-problem-codes`. \
            A path that is not listed here is answered 404 `route_not_found`, a method a path does not list 405 `method_not_allowed`."
    ),
    servers((url = "/api/v1", description = "This server")),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(
        Problem, FieldError,
        schema::Name, schema::NameSet, schema::LabelSet, schema::EnvironmentPath, schema::DisplayName, schema::ServiceDescription,
        schema::ArtifactPattern, schema::Role, schema::HeldRole, schema::Tier, schema::Criticality, schema::ReleaseType,
        schema::RolloutStrategy, schema::ReleaseState, schema::NewDeploymentStatus, schema::DeploymentStatus, schema::EvidenceKind,
        schema::ArtifactName, schema::ArtifactVersion, schema::Tag, schema::TagList, schema::MediaType,
        schema::ProvenanceText, schema::Digest, schema::Ticket, schema::Title, schema::Reason, schema::HoldReason, schema::RollbackCriteria, schema::Version,
        schema::ReleaseRef, schema::Timestamp, schema::TokenDescription, schema::KeyName, schema::Builder,
        schema::PublicKeyPem, schema::RetentionSelector, schema::Id, schema::Cursor, schema::Revision,
        schema::GateName, schema::ModulePath, schema::ModuleSource, schema::Enforcement, schema::GateOutcome,
        schema::GrantReason, schema::PolicyFileName, schema::PolicyText, schema::ActionName,
        schema::PageLimit, schema::AuditLimit, schema::AuditPosition, schema::KeepLast, schema::KeepDeployedDays,
        schema::AuditBefore, schema::AuditSearchLimit, schema::AuditActor, schema::AuditAction, schema::ObjectKind,
        schema::ObjectId, schema::PeriodKind, schema::PeriodScope,
    ))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API's routes and their OpenAPI document, complete with the problems every operation can
/// answer.
pub fn split() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut openapi) = router().split_for_parts();
    problem::CommonProblems.modify(&mut openapi);
    (router, openapi)
}

fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(people::list_users, people::create_user))
        .routes(routes!(people::me))
        .routes(routes!(people::set_password))
        .routes(routes!(people::list_tokens, people::create_token))
        .routes(routes!(people::revoke_token))
        .routes(routes!(catalog::list_teams, catalog::create_team))
        .routes(routes!(catalog::get_team, catalog::replace_team))
        .routes(routes!(catalog::list_services, catalog::create_service))
        .routes(routes!(catalog::get_service, catalog::replace_service))
        .routes(routes!(catalog::list_environments, catalog::create_environment))
        .routes(routes!(catalog::get_environment, catalog::replace_environment))
        .routes(routes!(catalog::list_lifecycles, catalog::create_lifecycle))
        .routes(routes!(catalog::get_lifecycle, catalog::replace_lifecycle))
        .routes(routes!(releases::list_releases, releases::create_release))
        .routes(routes!(releases::get_release, releases::replace_release))
        .routes(routes!(releases::transition_release))
        .routes(routes!(deployments::list_deployments, deployments::record_deployment))
        .routes(routes!(deployments::check_deployment))
        .routes(routes!(deployments::get_deployment))
        .routes(routes!(deployments::finish_deployment))
        .routes(routes!(deployments::register))
        .routes(routes!(leases::list_leases, leases::acquire_lease))
        .routes(routes!(leases::get_lease))
        .routes(routes!(leases::renew_lease))
        .routes(routes!(leases::report_lease))
        .routes(routes!(runs::start_deployment))
        .routes(routes!(runs::roll_back))
        .routes(routes!(runs::get_run))
        .routes(routes!(runs::list_logs))
        .routes(routes!(runs::stream_logs))
        .routes(routes!(runs::decide))
        .routes(routes!(quarantines::list_quarantines))
        .routes(routes!(quarantines::lift_quarantine))
        .routes(routes!(audit::list_audit))
        .routes(routes!(audit::search_audit))
        .routes(routes!(audit::verify_audit))
        .routes(routes!(audit::export_audit))
        .routes(routes!(audit::latest_checkpoint))
        .routes(routes!(audit::list_signing_keys, audit::enroll_signing_key))
        .routes(routes!(audit::rotate_signing_key))
        .routes(routes!(apply::apply))
        .routes(routes!(artifacts::list, artifacts::push))
        .routes(routes!(artifacts::get))
        .routes(routes!(artifacts::content))
        .routes(routes!(artifacts::sign))
        .routes(routes!(artifacts::verify))
        .routes(routes!(artifacts::gc))
        .routes(routes!(artifacts::list_keys, artifacts::register_key))
        .routes(routes!(artifacts::revoke_key))
        .routes(routes!(artifacts::list_policies, artifacts::put_policy))
        .routes(routes!(artifacts::hold))
        .routes(routes!(artifacts::release_hold))
        .routes(routes!(authz::list_grants, authz::create_grant))
        .routes(routes!(authz::revoke_grant))
        .routes(routes!(authz::list_authz_policies, authz::apply_authz_policies))
        .routes(routes!(authz::check_authorization))
        .routes(routes!(evidence::list, evidence::upload))
        .routes(routes!(gates::evaluate))
        .routes(routes!(gates::list_decisions))
        .routes(routes!(gates::get_decision))
        .routes(routes!(gates::replay))
        .routes(routes!(gates::override_gates))
        .routes(routes!(gates::get_policy))
        .routes(routes!(gates::list_policy_versions))
        .routes(routes!(calendar::list_periods))
        .routes(routes!(calendar::put_period, calendar::delete_period))
        .routes(routes!(calendar::occurrences))
        .routes(routes!(calendar::import))
        .routes(routes!(calendar::export))
        .routes(routes!(calendar::window))
        .routes(routes!(changes::list_changes, changes::create_change))
        .routes(routes!(changes::cab_agenda))
        .routes(routes!(changes::overdue_reviews))
        .routes(routes!(changes::get_change))
        .routes(routes!(changes::submit_change))
        .routes(routes!(changes::approve_change))
        .routes(routes!(changes::reject_change))
        .routes(routes!(changes::schedule_change))
        .routes(routes!(changes::review_change))
        .routes(routes!(changes::withdraw_change))
        .routes(routes!(changes::close_change))
        .routes(routes!(trains::list_trains))
        .routes(routes!(trains::departures))
        .routes(routes!(trains::put_train, trains::delete_train))
        .routes(routes!(trains::board))
}

/// `GET /api/v1/openapi.json`.
pub async fn openapi_json(
    _auth: Auth,
    Extension(openapi): Extension<Arc<utoipa::openapi::OpenApi>>,
) -> impl IntoResponse {
    Json(openapi.as_ref().clone())
}

pub async fn not_found() -> ApiError {
    ApiError::new("route_not_found", "no such endpoint")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new("method_not_allowed", "this endpoint does not accept that method")
}

/// Paging of long lists: up to `limit` items after `cursor` (from the previous page).
#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Items per page, 1 to 500 (default 50).
    #[serde(default, deserialize_with = "page_limit")]
    #[param(value_type = Option<schema::PageLimit>)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(value_type = Option<schema::Cursor>)]
    pub cursor: Option<i64>,
}

impl PageQuery {
    fn page(&self) -> tollgate_core::Page {
        tollgate_core::Page { cursor: self.cursor, limit: self.limit.unwrap_or(50) }
    }
}

/// A page limit of 1 to [`schema::MAX_PAGE_LIMIT`]; anything else is refused, not clamped.
pub(crate) fn page_limit<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    bounded(deserializer, 1, schema::MAX_PAGE_LIMIT)
}

/// An optional integer from `minimum` to `maximum`.
pub(crate) fn bounded<'de, D, T>(deserializer: D, minimum: T, maximum: T) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + PartialOrd + std::fmt::Display,
{
    match Option::<T>::deserialize(deserializer)? {
        Some(value) if value < minimum || value > maximum => {
            Err(serde::de::Error::custom(format!("{value} is out of range: it must be from {minimum} to {maximum}")))
        }
        value => Ok(value),
    }
}

/// A page of items and the cursor of the next page, if there is one.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Paginated<T> {
    pub items: Vec<T>,
    #[schema(value_type = Option<schema::Cursor>)]
    pub next_cursor: Option<i64>,
}

impl<T> Paginated<T> {
    /// A page whose next cursor is the id of its last item, when the page is full.
    fn new(items: Vec<T>, page: tollgate_core::Page, id: impl Fn(&T) -> i64) -> Paginated<T> {
        let full =
            i64::try_from(items.len()).unwrap_or(i64::MAX) >= page.limit.clamp(1, tollgate_core::Page::MAX_LIMIT);
        let next_cursor = if full { items.last().map(id) } else { None };
        Paginated { items, next_cursor }
    }
}

/// A request body as a byte stream the service reads to its end, without holding it whole.
pub(crate) fn body_reader(body: axum::body::Body) -> impl tokio::io::AsyncRead + Unpin {
    use futures::TryStreamExt;
    tokio_util::io::StreamReader::new(body.into_data_stream().map_err(std::io::Error::other))
}

/// `body_reader`, keeping the body's trailers (HTTP/1.1 chunked trailer fields) in `trailers`
/// once the last byte is read.
pub(crate) fn trailed_body_reader(
    body: axum::body::Body,
    trailers: std::sync::Arc<std::sync::Mutex<Option<axum::http::HeaderMap>>>,
) -> impl tokio::io::AsyncRead + Unpin {
    use http_body_util::BodyExt as _;
    let frames = futures::stream::unfold((body, trailers), |(mut body, trailers)| async move {
        loop {
            let frame = match body.frame().await? {
                Ok(frame) => frame,
                Err(error) => return Some((Err(std::io::Error::other(error)), (body, trailers))),
            };
            match frame.into_data() {
                Ok(data) => return Some((Ok(data), (body, trailers))),
                Err(frame) => {
                    if let Ok(fields) = frame.into_trailers() {
                        *trailers.lock().expect("the trailers lock is never poisoned") = Some(fields);
                    }
                }
            }
        }
    });
    tokio_util::io::StreamReader::new(Box::pin(frames))
}

/// An optional integer in a JSON body, also when written with a zero fraction (`5.0`): JSON
/// Schema's `integer` is any number without a fractional part, so clients may send either.
pub(crate) fn json_integer<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i128>,
{
    struct Integer(i128);

    impl<'de> Deserialize<'de> for Integer {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Integer, D::Error> {
            deserializer.deserialize_any(IntegerVisitor)
        }
    }

    struct IntegerVisitor;

    impl serde::de::Visitor<'_> for IntegerVisitor {
        type Value = Integer;

        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("an integer")
        }

        fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Integer, E> {
            Ok(Integer(value.into()))
        }

        fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Integer, E> {
            Ok(Integer(value.into()))
        }

        fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Integer, E> {
            // Every f64 without a fraction and below 2^127 converts exactly.
            if value.fract() == 0.0 && value.abs() < 1.0e38 {
                Ok(Integer(value as i128))
            } else {
                Err(E::invalid_type(serde::de::Unexpected::Float(value), &self))
            }
        }
    }

    match Option::<Integer>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Integer(value)) => {
            T::try_from(value).map(Some).map_err(|_| serde::de::Error::custom(format!("{value} is out of range")))
        }
    }
}

/// A required integer in a JSON body, also when written with a zero fraction (see [`json_integer`]).
pub(crate) fn json_required_integer<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i128>,
{
    json_integer(deserializer)?.ok_or_else(|| serde::de::Error::custom("an integer is required, not null"))
}

/// Parses an optional RFC 3339 timestamp from a query or body field.
pub(crate) fn parse_time(field: &str, value: Option<&str>) -> Result<Option<tollgate_core::Timestamp>, ApiError> {
    value
        .map(|value| {
            tollgate_core::release::parse_timestamp(value)
                .map_err(|problem| ApiError::validation(field, problem.to_string()))
        })
        .transpose()
}
