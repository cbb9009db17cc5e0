//! Artifacts: streaming push and pull, signatures, verification, trusted keys, retention.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use tollgate_core::artifact::{Artifact, ArtifactId, ArtifactInput, TrustedKeyId, TrustedKeyRecord};
use tollgate_core::digest::Sha256Digest;
use tollgate_service::retention::Collection;
use utoipa::{IntoParams, ToSchema};

use crate::api::body_reader;
use crate::error::{ApiError, Problem};
use crate::extract::{Auth, JsonBody, QueryParams};
use crate::AppState;

#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PushQuery {
    pub name: String,
    pub version: String,
    /// The owning team; the name must match its naming pattern, if it has one.
    pub team: String,
    pub media_type: Option<String>,
    pub repository: Option<String>,
    pub commit: Option<String>,
    pub build_id: Option<String>,
    pub builder: Option<String>,
    /// Comma-separated tags (for legal holds).
    pub tags: Option<String>,
    /// The digest the content must have (`sha256:<hex>`); checked before anything is recorded.
    pub digest: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ArtifactResponse {
    pub id: i64,
    pub name: String,
    pub version: String,
    pub team: String,
    pub digest: String,
    pub size: u64,
    pub media_type: String,
    pub repository: Option<String>,
    pub commit: Option<String>,
    pub build_id: Option<String>,
    pub builder: Option<String>,
    pub tags: Vec<String>,
    pub created_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
}

impl From<Artifact> for ArtifactResponse {
    fn from(artifact: Artifact) -> ArtifactResponse {
        ArtifactResponse {
            id: artifact.id.0,
            name: artifact.name.to_string(),
            version: artifact.version.to_string(),
            team: artifact.team.to_string(),
            digest: artifact.digest.to_string(),
            size: artifact.size,
            media_type: artifact.media_type.as_str().to_owned(),
            repository: artifact.provenance.repository,
            commit: artifact.provenance.commit,
            build_id: artifact.provenance.build_id,
            builder: artifact.provenance.builder,
            tags: artifact.tags.iter().map(ToString::to_string).collect(),
            created_by: artifact.created_by.to_string(),
            created_at: artifact.created_at,
        }
    }
}

#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only versions of this name.
    pub name: Option<String>,
    /// With `name`: only this version.
    pub version: Option<String>,
}

#[utoipa::path(post, path = "/artifacts", tag = "artifacts", params(PushQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The content, streamed"),
    responses((status = 201, body = ArtifactResponse, description = "Stored"), (status = 200, body = ArtifactResponse, description = "The same content was already stored under this name and version"),
        (status = 409, body = Problem, description = "The name and version point at other content"), (status = 413, body = Problem), (status = 422, body = Problem)))]
pub async fn push(
    State(state): State<AppState>,
    Auth(principal): Auth,
    QueryParams(query): QueryParams<PushQuery>,
    body: Body,
) -> Result<(StatusCode, Json<ArtifactResponse>), ApiError> {
    let expected = query
        .digest
        .as_deref()
        .map(|digest| {
            Sha256Digest::parse(digest).map_err(|problem| ApiError::validation("digest", problem.to_string()))
        })
        .transpose()?;
    let input = ArtifactInput {
        name: query.name,
        version: query.version,
        team: query.team,
        media_type: query.media_type,
        repository: query.repository,
        commit: query.commit,
        build_id: query.build_id,
        builder: query.builder,
        tags: query.tags.map(|tags| tags.split(',').map(str::to_owned).collect()).unwrap_or_default(),
    };
    let mut content = body_reader(body);
    let pushed = state.tollgate.push_artifact(&principal, input, expected, &mut content).await?;
    let status = if pushed.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(pushed.artifact.into())))
}

#[utoipa::path(get, path = "/artifacts", tag = "artifacts", params(ListQuery), responses((status = 200, body = [ArtifactResponse], description = "Newest first")))]
pub async fn list(
    State(state): State<AppState>,
    Auth(principal): Auth,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<Vec<ArtifactResponse>>, ApiError> {
    let artifacts = match (&query.name, &query.version) {
        (Some(name), Some(version)) => vec![state.tollgate.find_artifact(&principal, name, version).await?],
        (None, Some(_)) => return Err(ApiError::validation("version", "a version needs a name")),
        (name, None) => state.tollgate.list_artifacts(&principal, name.as_deref()).await?,
    };
    Ok(Json(artifacts.into_iter().map(ArtifactResponse::from).collect()))
}

fn artifact_id(value: &str) -> Result<ArtifactId, ApiError> {
    value.parse().map(ArtifactId).map_err(|_| ApiError::validation("id", format!("{value:?} is not an artifact id")))
}

#[utoipa::path(get, path = "/artifacts/{id}", tag = "artifacts", params(("id" = i64, Path)), responses((status = 200, body = ArtifactResponse), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<ArtifactResponse>, ApiError> {
    Ok(Json(state.tollgate.get_artifact(&principal, artifact_id(&id)?).await?.into()))
}

#[utoipa::path(get, path = "/artifacts/{id}/content", tag = "artifacts", params(("id" = i64, Path)),
    responses((status = 200, content_type = "application/octet-stream", description = "The content, streamed; `x-tollgate-digest` names its digest"), (status = 404, body = Problem)))]
pub async fn content(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (artifact, stream) = state.tollgate.open_artifact_content(&principal, artifact_id(&id)?).await?;
    Ok((
        [
            (header::CONTENT_TYPE, artifact.media_type.as_str().to_owned()),
            (header::CONTENT_LENGTH, artifact.size.to_string()),
            (header::HeaderName::from_static("x-tollgate-digest"), artifact.digest.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignatureResponse {
    pub key_id: String,
    pub key_name: String,
    pub builder: Option<String>,
}

#[utoipa::path(post, path = "/artifacts/{id}/signatures", tag = "artifacts", params(("id" = i64, Path)),
    request_body(content = Object, description = "A DSSE envelope over an in-toto Statement v1 whose subject is the artifact"),
    responses((status = 201, body = SignatureResponse), (status = 404, body = Problem), (status = 422, body = Problem, description = "Refused, with the reason")))]
pub async fn sign(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    JsonBody(envelope): JsonBody<serde_json::Value>,
) -> Result<(StatusCode, Json<SignatureResponse>), ApiError> {
    let verified = state.tollgate.attach_signature(&principal, artifact_id(&id)?, &envelope.to_string()).await?;
    let builder = verified.provenance.map(|provenance| provenance.builder_id);
    Ok((StatusCode::CREATED, Json(SignatureResponse { key_id: verified.key_id, key_name: verified.key_name, builder })))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VerificationResponse {
    pub ok: bool,
    pub artifact: ArtifactResponse,
    /// Why the content on disk does not match the digest, if it does not.
    pub content_problem: Option<String>,
    pub signatures: Vec<SignatureCheck>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignatureCheck {
    pub key_id: String,
    pub valid: bool,
    /// The signer's key name when valid, the reason otherwise.
    pub detail: String,
}

#[utoipa::path(get, path = "/artifacts/{id}/verify", tag = "artifacts", params(("id" = i64, Path)),
    responses((status = 200, body = VerificationResponse), (status = 404, body = Problem)))]
pub async fn verify(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<VerificationResponse>, ApiError> {
    let check = state.tollgate.check_artifact(&principal, artifact_id(&id)?).await?;
    let signatures: Vec<SignatureCheck> = check
        .signatures
        .into_iter()
        .map(|(record, outcome)| match outcome {
            Ok(verified) => SignatureCheck { key_id: record.key_id, valid: true, detail: verified.key_name },
            Err(reason) => SignatureCheck { key_id: record.key_id, valid: false, detail: reason },
        })
        .collect();
    let ok = check.content_problem.is_none() && signatures.iter().any(|s| s.valid);
    Ok(Json(VerificationResponse {
        ok,
        artifact: check.artifact.into(),
        content_problem: check.content_problem,
        signatures,
    }))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyRequest {
    pub name: String,
    /// Trusted for this team's artifacts only; for every team when absent.
    pub team: Option<String>,
    /// Trusted for artifacts built by this builder only.
    pub builder: Option<String>,
    /// The ed25519 public key, PEM (`-----BEGIN PUBLIC KEY-----`).
    pub public_key: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KeyResponse {
    pub id: i64,
    pub key_id: String,
    pub name: String,
    pub team: Option<String>,
    pub builder: Option<String>,
    pub public_key: String,
    pub created_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<jiff::Timestamp>,
}

impl From<TrustedKeyRecord> for KeyResponse {
    fn from(key: TrustedKeyRecord) -> KeyResponse {
        KeyResponse {
            id: key.id.0,
            public_key: tollgate_core::attestation::public_key_pem(&key.public_key),
            key_id: key.key_id,
            name: key.name,
            team: key.team.map(|t| t.to_string()),
            builder: key.builder,
            created_by: key.created_by.to_string(),
            created_at: key.created_at,
            revoked_at: key.revoked_at,
        }
    }
}

#[utoipa::path(get, path = "/keys", tag = "keys", responses((status = 200, body = [KeyResponse])))]
pub async fn list_keys(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<Vec<KeyResponse>>, ApiError> {
    Ok(Json(state.tollgate.list_keys(&principal).await?.into_iter().map(KeyResponse::from).collect()))
}

#[utoipa::path(post, path = "/keys", tag = "keys", request_body = KeyRequest,
    responses((status = 201, body = KeyResponse), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn register_key(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<KeyRequest>,
) -> Result<(StatusCode, Json<KeyResponse>), ApiError> {
    let key = state
        .tollgate
        .register_key(
            &principal,
            &request.name,
            request.team.as_deref(),
            request.builder.as_deref(),
            &request.public_key,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(key.into())))
}

#[utoipa::path(post, path = "/keys/{id}/revoke", tag = "keys", params(("id" = i64, Path)),
    responses((status = 200, body = KeyResponse), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn revoke_key(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<KeyResponse>, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::validation("id", format!("{id:?} is not a key id")))?;
    Ok(Json(state.tollgate.revoke_key(&principal, TrustedKeyId(id)).await?.into()))
}

#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct GcQuery {
    /// Only report what would be removed and why.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CollectionResponse {
    pub dry_run: bool,
    pub removed_blobs: usize,
    pub decisions: Vec<DecisionResponse>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DecisionResponse {
    pub artifact: i64,
    pub name: String,
    pub version: String,
    /// `keep` or `remove` (`removed` after a real run).
    pub outcome: String,
    pub reasons: Vec<String>,
}

impl From<Collection> for CollectionResponse {
    fn from(collection: Collection) -> CollectionResponse {
        let dry_run = collection.dry_run;
        let decisions = collection
            .decisions
            .into_iter()
            .map(|(artifact, decision)| DecisionResponse {
                artifact: artifact.id.0,
                name: artifact.name.to_string(),
                version: artifact.version.to_string(),
                outcome: match (decision.keep, dry_run) {
                    (true, _) => "keep",
                    (false, true) => "remove",
                    (false, false) => "removed",
                }
                .to_owned(),
                reasons: if decision.keep {
                    decision.kept_because.iter().map(ToString::to_string).collect()
                } else {
                    decision.removable_because
                },
            })
            .collect();
        CollectionResponse { dry_run, removed_blobs: collection.removed_blobs, decisions }
    }
}

#[utoipa::path(post, path = "/artifacts/gc", tag = "retention", params(GcQuery), responses((status = 200, body = CollectionResponse), (status = 403, body = Problem)))]
pub async fn gc(
    State(state): State<AppState>,
    Auth(principal): Auth,
    QueryParams(query): QueryParams<GcQuery>,
) -> Result<Json<CollectionResponse>, ApiError> {
    Ok(Json(state.tollgate.collect_garbage(&principal, query.dry_run).await?.into()))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyRequest {
    /// `name:<artifact name>` or `team:<team>`.
    pub selector: String,
    pub keep_last: Option<u32>,
    pub keep_deployed_days: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PolicyResponse {
    pub id: i64,
    pub selector: String,
    pub keep_last: Option<u32>,
    pub keep_deployed_days: Option<u32>,
}

impl From<tollgate_core::retention::RetentionPolicy> for PolicyResponse {
    fn from(policy: tollgate_core::retention::RetentionPolicy) -> PolicyResponse {
        let selector = match policy.selector {
            tollgate_core::retention::Selector::Name(name) => format!("name:{name}"),
            tollgate_core::retention::Selector::Team(team) => format!("team:{team}"),
        };
        PolicyResponse {
            id: policy.id.0,
            selector,
            keep_last: policy.keep_last,
            keep_deployed_days: policy.keep_deployed_days,
        }
    }
}

#[utoipa::path(get, path = "/retention/policies", tag = "retention", responses((status = 200, body = [PolicyResponse])))]
pub async fn list_policies(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<Vec<PolicyResponse>>, ApiError> {
    Ok(Json(state.tollgate.list_retention_policies(&principal).await?.into_iter().map(PolicyResponse::from).collect()))
}

#[utoipa::path(put, path = "/retention/policies", tag = "retention", request_body = PolicyRequest,
    responses((status = 200, body = PolicyResponse, description = "Created or replaced for the selector"), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn put_policy(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<PolicyRequest>,
) -> Result<Json<PolicyResponse>, ApiError> {
    let policy = state
        .tollgate
        .set_retention_policy(&principal, &request.selector, request.keep_last, request.keep_deployed_days)
        .await?;
    Ok(Json(policy.into()))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    pub tag: String,
    pub reason: String,
}

#[utoipa::path(post, path = "/retention/holds", tag = "retention", request_body = HoldRequest,
    responses((status = 201, description = "Every artifact with the tag is kept until the hold is released"), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn hold(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<HoldRequest>,
) -> Result<StatusCode, ApiError> {
    state.tollgate.hold(&principal, &request.tag, &request.reason).await?;
    Ok(StatusCode::CREATED)
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseHoldRequest {
    pub reason: String,
}

#[utoipa::path(post, path = "/retention/holds/{tag}/release", tag = "retention", params(("tag" = String, Path)), request_body = ReleaseHoldRequest,
    responses((status = 204, description = "Released"), (status = 404, body = Problem)))]
pub async fn release_hold(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(tag): Path<String>,
    JsonBody(request): JsonBody<ReleaseHoldRequest>,
) -> Result<StatusCode, ApiError> {
    state.tollgate.release_hold(&principal, &tag, &request.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}
