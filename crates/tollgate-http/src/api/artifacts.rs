//! Artifacts: streaming push and pull, signatures, verification, trusted keys, retention.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use tollgate_core::artifact::{Artifact, ArtifactId, ArtifactInput, TrustedKeyId, TrustedKeyRecord};
use tollgate_core::digest::Sha256Digest;
use tollgate_service::artifact::AnnouncedDigest;
use tollgate_service::retention::Collection;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::RefOr;
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::api::json_integer;
use crate::api::problem::{problems, JSON_BODY, JSON_SYNTAX, PATH, QUERY};
use crate::api::schema::{self, members, with_rules};
use crate::api::trailed_body_reader;
use crate::error::ApiError;
use crate::extract::{Auth, JsonBody, PathParam, QueryParams};
use crate::AppState;

#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PushQuery {
    /// It must match the team's naming pattern, if the team has one.
    #[param(value_type = schema::ArtifactName)]
    pub name: String,
    #[param(value_type = schema::ArtifactVersion)]
    pub version: String,
    /// The owning team; it must exist.
    #[param(value_type = schema::Name)]
    pub team: String,
    /// `application/octet-stream` when absent.
    #[param(value_type = Option<schema::MediaType>)]
    pub media_type: Option<String>,
    #[param(value_type = Option<schema::ProvenanceText>)]
    pub repository: Option<String>,
    #[param(value_type = Option<schema::ProvenanceText>)]
    pub commit: Option<String>,
    #[param(value_type = Option<schema::ProvenanceText>)]
    pub build_id: Option<String>,
    #[param(value_type = Option<schema::ProvenanceText>)]
    pub builder: Option<String>,
    /// Comma-separated tags (for legal holds).
    #[param(value_type = Option<schema::TagList>)]
    pub tags: Option<String>,
    /// The digest the content must have; checked before anything is recorded. Instead, the
    /// client may announce it after the content, as an RFC 9530 `Content-Digest` trailer
    /// (`sha-256=:<base64>:`, declared with `Trailer: Content-Digest`), so it can hash while it
    /// sends.
    #[param(value_type = Option<schema::Digest>)]
    pub digest: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ArtifactResponse {
    #[schema(value_type = schema::Id)]
    pub id: i64,
    #[schema(value_type = schema::ArtifactName)]
    pub name: String,
    #[schema(value_type = schema::ArtifactVersion)]
    pub version: String,
    #[schema(value_type = schema::Name)]
    pub team: String,
    #[schema(value_type = schema::Digest)]
    pub digest: String,
    pub size: u64,
    #[schema(value_type = schema::MediaType)]
    pub media_type: String,
    #[schema(value_type = Option<schema::ProvenanceText>)]
    pub repository: Option<String>,
    #[schema(value_type = Option<schema::ProvenanceText>)]
    pub commit: Option<String>,
    #[schema(value_type = Option<schema::ProvenanceText>)]
    pub build_id: Option<String>,
    #[schema(value_type = Option<schema::ProvenanceText>)]
    pub builder: Option<String>,
    #[schema(value_type = Vec<schema::Tag>)]
    pub tags: Vec<String>,
    #[schema(value_type = schema::Name)]
    pub created_by: String,
    #[schema(value_type = schema::Timestamp)]
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
    #[param(value_type = Option<schema::ArtifactName>)]
    pub name: Option<String>,
    /// With `name` only: this version (404 when there is none).
    #[param(value_type = Option<schema::ArtifactVersion>)]
    pub version: Option<String>,
}

problems!(
    PushProblems,
    [
        QUERY,
        &[
            "forbidden",
            "validation_failed",
            "upload_interrupted",
            "content_too_large",
            "digest_mismatch",
            "artifact_immutable",
            "conflict",
        ],
    ]
);

/// Name and version are immutable: the same content again is a no-op (200), other content is
/// refused (409 `artifact_immutable`, and the attempt is audited).
#[utoipa::path(post, path = "/artifacts", operation_id = "push_artifact", tag = "artifacts", params(PushQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The content, streamed"),
    responses((status = 201, body = ArtifactResponse, description = "Stored"), (status = 200, body = ArtifactResponse, description = "The same content was already stored under this name and version"),
        PushProblems))]
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
    let trailers = Arc::new(Mutex::new(None));
    let mut content = trailed_body_reader(body, Arc::clone(&trailers));
    // Without a digest in the query, an RFC 9530 `Content-Digest` trailer may announce one,
    // so a client can hash while it sends instead of reading its file twice.
    let announced = match expected {
        Some(digest) => AnnouncedDigest::Before(Some(digest)),
        None => AnnouncedDigest::After(Box::new(move || {
            let trailers = trailers.lock().expect("the trailers lock is never poisoned").take();
            match trailers.as_ref().and_then(|map| map.get("content-digest")) {
                None => Ok(None),
                Some(value) => {
                    let text = value.to_str().map_err(|_| tollgate_core::Problem::Invalid {
                        reason: "the Content-Digest trailer is not text".to_owned(),
                    })?;
                    Sha256Digest::from_content_digest(text)
                }
            }
        })),
    };
    let pushed = state.tollgate.push_artifact(&principal, input, announced, &mut content).await?;
    let status = if pushed.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(pushed.artifact.into())))
}

problems!(ListProblems, [QUERY, &["artifact_not_found", "validation_failed"]]);

/// A `version` without a `name` is refused (422).
#[utoipa::path(get, path = "/artifacts", operation_id = "list_artifacts", tag = "artifacts", params(ListQuery),
    responses((status = 200, body = [ArtifactResponse], description = "Newest first"), ListProblems))]
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

problems!(GetProblems, [PATH, &["artifact_not_found"]]);

#[utoipa::path(get, path = "/artifacts/{id}", operation_id = "get_artifact", tag = "artifacts", params(("id" = schema::Id, Path)),
    responses((status = 200, body = ArtifactResponse), GetProblems))]
pub async fn get(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(id): PathParam<String>,
) -> Result<Json<ArtifactResponse>, ApiError> {
    Ok(Json(state.tollgate.get_artifact(&principal, artifact_id(&id)?).await?.into()))
}

problems!(ContentProblems, [PATH, &["artifact_not_found", "blob_not_found"]]);

#[utoipa::path(get, path = "/artifacts/{id}/content", operation_id = "get_artifact_content", tag = "artifacts", params(("id" = schema::Id, Path)),
    responses((status = 200, content_type = "*/*", description = "The content, streamed, as the artifact's media type",
        headers(("x-tollgate-digest" = schema::Digest, description = "The content's digest"))), ContentProblems))]
pub async fn content(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(id): PathParam<String>,
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

problems!(SignProblems, [JSON_SYNTAX, PATH, &["forbidden", "artifact_not_found", "signature_rejected"]]);

/// The envelope is verified against the trusted keys before it is attached (422
/// `signature_rejected` with the reason otherwise).
#[utoipa::path(post, path = "/artifacts/{id}/signatures", operation_id = "sign_artifact", tag = "artifacts", params(("id" = schema::Id, Path)),
    request_body(content = DsseEnvelope, description = "A DSSE envelope over an in-toto Statement v1 whose subject is the artifact"),
    responses((status = 201, body = SignatureResponse), SignProblems))]
pub async fn sign(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(id): PathParam<String>,
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

problems!(VerifyProblems, [PATH, &["artifact_not_found"]]);

#[utoipa::path(get, path = "/artifacts/{id}/verify", operation_id = "verify_artifact", tag = "artifacts", params(("id" = schema::Id, Path)),
    responses((status = 200, body = VerificationResponse), VerifyProblems))]
pub async fn verify(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(id): PathParam<String>,
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
    #[schema(value_type = schema::KeyName)]
    pub name: String,
    /// Trusted for this team's artifacts only (the team must exist); for every team when absent.
    #[schema(value_type = Option<schema::Name>)]
    pub team: Option<String>,
    /// Trusted for artifacts built by this builder only.
    #[schema(value_type = Option<schema::Builder>)]
    pub builder: Option<String>,
    /// The key; it must be a valid ed25519 point.
    #[schema(value_type = schema::PublicKeyPem)]
    pub public_key: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KeyResponse {
    #[schema(value_type = schema::Id)]
    pub id: i64,
    /// What signatures name the key by.
    pub key_id: String,
    #[schema(value_type = schema::KeyName)]
    pub name: String,
    #[schema(value_type = Option<schema::Name>)]
    pub team: Option<String>,
    #[schema(value_type = Option<schema::Builder>)]
    pub builder: Option<String>,
    #[schema(value_type = schema::PublicKeyPem)]
    pub public_key: String,
    #[schema(value_type = schema::Name)]
    pub created_by: String,
    #[schema(value_type = schema::Timestamp)]
    pub created_at: jiff::Timestamp,
    #[schema(value_type = Option<schema::Timestamp>)]
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

/// The outcome of a retention decision.
pub struct DecisionOutcome;

impl PartialSchema for DecisionOutcome {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["keep", "remove", "removed"]))
            .description(Some("`keep` or `remove` (`removed` after a real run)."))
            .into()
    }
}

impl ToSchema for DecisionOutcome {}

/// A DSSE envelope, as the server reads it: unknown members are ignored; a `keyid` is a hint.
pub struct DsseEnvelope;

impl PartialSchema for DsseEnvelope {
    fn schema() -> RefOr<Schema> {
        let text = |pattern: String, description: &str| -> Schema {
            ObjectBuilder::new().schema_type(Type::String).pattern(Some(pattern)).description(Some(description)).into()
        };
        let signature = ObjectBuilder::new()
            .property("keyid", ObjectBuilder::new().schema_type(SchemaType::Array(vec![Type::String, Type::Null])))
            .property("sig", text(schema::base64_pattern(Some(64)), "An ed25519 signature (64 bytes), base64."))
            .required("sig");
        ObjectBuilder::new()
            .property(
                "payloadType",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some([tollgate_core::attestation::PAYLOAD_TYPE])),
            )
            .property("payload", text(schema::base64_pattern(None), "The statement, base64."))
            .property("signatures", ArrayBuilder::new().items(signature))
            .required("payloadType")
            .required("payload")
            .required("signatures")
            .description(Some("Standard or URL-safe base64, padded or not, one alphabet per value."))
            .into()
    }
}

impl ToSchema for DsseEnvelope {}

#[utoipa::path(get, path = "/keys", tag = "keys", responses((status = 200, body = [KeyResponse])))]
pub async fn list_keys(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<Vec<KeyResponse>>, ApiError> {
    Ok(Json(state.tollgate.list_keys(&principal).await?.into_iter().map(KeyResponse::from).collect()))
}

problems!(RegisterKeyProblems, [JSON_BODY, &["forbidden", "conflict", "validation_failed"]]);

/// Only an admin registers keys; 409 when the key is registered already.
#[utoipa::path(post, path = "/keys", tag = "keys", request_body = KeyRequest,
    responses((status = 201, body = KeyResponse), RegisterKeyProblems))]
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

problems!(RevokeKeyProblems, [PATH, &["forbidden", "trusted_key_not_found", "conflict"]]);

/// Only an admin revokes keys; 409 when the key is revoked already.
#[utoipa::path(post, path = "/keys/{id}/revoke", tag = "keys", params(("id" = schema::Id, Path)),
    responses((status = 200, body = KeyResponse), RevokeKeyProblems))]
pub async fn revoke_key(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(id): PathParam<String>,
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
    #[schema(value_type = schema::Id)]
    pub artifact: i64,
    #[schema(value_type = schema::ArtifactName)]
    pub name: String,
    #[schema(value_type = schema::ArtifactVersion)]
    pub version: String,
    /// `keep` or `remove` (`removed` after a real run).
    #[schema(value_type = DecisionOutcome)]
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

problems!(GcProblems, [QUERY, &["forbidden"]]);

/// Only an admin removes artifacts; anyone may ask for a dry run.
#[utoipa::path(post, path = "/artifacts/gc", operation_id = "collect_garbage", tag = "retention", params(GcQuery),
    responses((status = 200, body = CollectionResponse), GcProblems))]
pub async fn gc(
    State(state): State<AppState>,
    Auth(principal): Auth,
    QueryParams(query): QueryParams<GcQuery>,
) -> Result<Json<CollectionResponse>, ApiError> {
    Ok(Json(state.tollgate.collect_garbage(&principal, query.dry_run).await?.into()))
}

/// A retention policy as written; its schema is that of [`PolicyBody`].
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PolicyFields)]
pub struct PolicyRequest {
    #[schema(value_type = schema::RetentionSelector)]
    pub selector: String,
    #[serde(default, deserialize_with = "json_integer")]
    #[schema(value_type = Option<schema::KeepLast>)]
    pub keep_last: Option<u32>,
    #[serde(default, deserialize_with = "json_integer")]
    #[schema(value_type = Option<schema::KeepDeployedDays>)]
    pub keep_deployed_days: Option<u32>,
}

/// The body of `PUT /retention/policies`: a policy keeps something.
pub struct PolicyBody;

impl PartialSchema for PolicyBody {
    fn schema() -> RefOr<Schema> {
        let keep_last = members(&["keep_last"], vec![("keep_last", schema::reference::<schema::KeepLast>())]);
        let keep_days = members(
            &["keep_deployed_days"],
            vec![("keep_deployed_days", schema::reference::<schema::KeepDeployedDays>())],
        );
        let keeps = utoipa::openapi::schema::AnyOfBuilder::new().item(keep_last).item(keep_days);
        let description = "A retention policy: it keeps the last N versions, what was deployed in D days, or both.";
        with_rules(PolicyRequest::schema(), [keeps.into()], description).into()
    }
}

impl ToSchema for PolicyBody {
    fn name() -> std::borrow::Cow<'static, str> {
        "PolicyRequest".into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        PolicyRequest::schemas(schemas);
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PolicyResponse {
    #[schema(value_type = schema::Id)]
    pub id: i64,
    #[schema(value_type = schema::RetentionSelector)]
    pub selector: String,
    #[schema(value_type = Option<schema::KeepLast>)]
    pub keep_last: Option<u32>,
    #[schema(value_type = Option<schema::KeepDeployedDays>)]
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

problems!(PutPolicyProblems, [JSON_BODY, &["forbidden", "validation_failed"]]);

/// Only an admin sets policies.
#[utoipa::path(put, path = "/retention/policies", tag = "retention", request_body = PolicyBody,
    responses((status = 200, body = PolicyResponse, description = "Created or replaced for the selector"), PutPolicyProblems))]
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
    #[schema(value_type = schema::Tag)]
    pub tag: String,
    #[schema(value_type = schema::HoldReason)]
    pub reason: String,
}

problems!(HoldProblems, [JSON_BODY, &["forbidden", "conflict", "validation_failed"]]);

/// Only an admin puts holds; 409 when the tag is held already.
#[utoipa::path(post, path = "/retention/holds", tag = "retention", request_body = HoldRequest,
    responses((status = 201, description = "Every artifact with the tag is kept until the hold is released"), HoldProblems))]
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
    /// Kept in the audit log.
    pub reason: String,
}

problems!(ReleaseHoldProblems, [JSON_BODY, PATH, &["forbidden", "legal_hold_not_found"]]);

/// Only an admin releases holds.
#[utoipa::path(post, path = "/retention/holds/{tag}/release", tag = "retention", params(("tag" = schema::Tag, Path)), request_body = ReleaseHoldRequest,
    responses((status = 204, description = "Released"), ReleaseHoldProblems))]
pub async fn release_hold(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(tag): PathParam<String>,
    JsonBody(request): JsonBody<ReleaseHoldRequest>,
) -> Result<StatusCode, ApiError> {
    state.tollgate.release_hold(&principal, &tag, &request.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}
