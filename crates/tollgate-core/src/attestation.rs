//! Signed build attestations: DSSE envelopes carrying in-toto Statement v1 payloads, usually with
//! a SLSA provenance v1 predicate, signed and verified with ed25519.
//!
//! Formats followed exactly:
//! - DSSE v1 (`github.com/secure-systems-lab/dsse`): the JSON envelope and the pre-authentication
//!   encoding ([`pae`]) that signatures cover.
//! - in-toto Statement v1 (`https://in-toto.io/Statement/v1`), payload type
//!   `application/vnd.in-toto+json`.
//! - SLSA provenance v1 (`https://slsa.dev/provenance/v1`), of which [`Provenance`] models the
//!   fields Tollgate records and reads.
//!
//! Statements this module signs are RFC 8785 canonical JSON, so signing is deterministic. This
//! module only encodes, signs and checks: it reads no files and no clock (the instant a key's
//! revocation is judged at comes in as an argument), and it holds no private keys beyond a call.

use std::fmt;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePublicKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::audit::key_id;
use crate::digest::{canonical_json, Sha256Digest};
use crate::Timestamp;

/// The DSSE payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// The `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// The predicate type of SLSA provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";

/// An artifact an attestation is about: its name and its SHA-256 digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The artifact's file or package name; in-toto allows it to be empty.
    pub name: String,
    pub digest: Sha256Digest,
}

/// What a SLSA provenance v1 predicate says about a build, as far as Tollgate records it.
///
/// Encoded as `buildDefinition.buildType`, `buildDefinition.externalParameters.repository`,
/// one `buildDefinition.resolvedDependencies` entry `{"uri": repository, "digest": {"gitCommit":
/// commit}}`, `runDetails.builder.id` and `runDetails.metadata.{invocationId, startedOn,
/// finishedOn}`. Absent values are left out, which SLSA reads the same as null or empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// The URI of the build template, which defines what the parameters mean.
    pub build_type: String,
    /// The URI of the build platform that ran the build and vouches for this provenance.
    pub builder_id: String,
    /// The source repository, as a URI.
    pub repository: Option<String>,
    /// The git commit the source resolved to.
    pub commit: Option<String>,
    /// The build platform's id for this run, for finding its logs.
    pub invocation_id: Option<String>,
    /// When the build started, per the build platform.
    pub started_on: Option<Timestamp>,
    /// When the build finished, per the build platform.
    pub finished_on: Option<Timestamp>,
}

/// An in-toto Statement v1: the artifacts an attestation is about and what it says of them.
///
/// Subjects whose digest set has no `sha256` are not kept when a statement is read: Tollgate
/// names artifacts by SHA-256 only, so such a subject can never be the one asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub subjects: Vec<Subject>,
    /// The URI naming the predicate's schema, such as [`SLSA_PROVENANCE_V1`].
    pub predicate_type: String,
    /// The predicate; in-toto reads an empty object the same as an absent one.
    pub predicate: Map<String, Value>,
}

/// A DSSE envelope: a typed payload and signatures over its pre-authentication encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// What the payload is; [`verify`] accepts only [`PAYLOAD_TYPE`].
    pub payload_type: String,
    /// The payload bytes exactly as signed (base64 only on the wire).
    pub payload: Vec<u8>,
    /// Any number of signatures; one by a trusted key is enough.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeSignature {
    /// The signer's hint of which key made the signature (`keyid`). It is not signed, so it only
    /// helps reporting; [`verify`] tries every trusted key. Empty when the envelope has none.
    pub key_id: String,
    /// An ed25519 signature over [`pae`] of the envelope's payload type and payload.
    pub signature: [u8; 64],
}

/// A public key whose signatures are accepted, until it is revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    pub key: VerifyingKey,
    /// Who holds the key, for reports ("ci-release").
    pub name: String,
    /// From this instant on, signatures by the key are refused.
    pub revoked_at: Option<Timestamp>,
}

/// An attestation whose signature, statement and subject all checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAttestation {
    /// The id of the trusted key that signed, derived from the key (never the envelope's hint).
    pub key_id: String,
    pub key_name: String,
    pub statement: Statement,
    /// The provenance, when the predicate type is SLSA provenance v1.
    pub provenance: Option<Provenance>,
}

/// Why an envelope was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttestationError {
    /// The envelope JSON is not a DSSE envelope; `field` is the path of the offending member.
    #[error("malformed envelope: {field} {reason}")]
    MalformedEnvelope { field: String, reason: String },
    /// The envelope carries something other than an in-toto statement.
    #[error("payload type {found:?} is not {PAYLOAD_TYPE}")]
    WrongPayloadType { found: String },
    /// The envelope is unsigned.
    #[error("the envelope has no signatures")]
    NoSignatures,
    /// No trusted key made the signature; `key_id` is the envelope's unsigned hint.
    #[error("signature by untrusted key {}", hint(key_id))]
    UnknownKey { key_id: String },
    /// A trusted key made the signature, but the key was revoked at or before the instant
    /// verification was asked for.
    #[error("signature by key {key_id} ({name}), which was revoked at {revoked_at}")]
    RevokedKey { key_id: String, name: String, revoked_at: Timestamp },
    /// The signature names a trusted key, but neither it nor any other trusted key made it: the
    /// payload or the signature was changed.
    #[error("signature by key {key_id} does not verify")]
    BadSignature { key_id: String },
    /// The signed payload is not an in-toto Statement v1, or its SLSA provenance v1 predicate is
    /// malformed; `reason` names the field.
    #[error("malformed statement: {reason}")]
    MalformedStatement { reason: String },
    /// The statement is not about the expected artifact; `found` lists its subjects.
    #[error("the attestation is not about {expected}; its subjects are {}", list(found))]
    SubjectMismatch { expected: String, found: Vec<String> },
    /// The key is trusted only for artifacts built by one builder, and the signed provenance
    /// names another builder (or none): the builder comes from what was signed, never from
    /// what a push claimed.
    #[error("key {key_id} is trusted only for builder {trusted:?}; the signed provenance names {}", found.as_deref().map_or_else(|| "no builder".to_owned(), |found| format!("builder {found:?}")))]
    BuilderMismatch { key_id: String, trusted: String, found: Option<String> },
}

/// A PEM public key that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an ed25519 public key in PEM form: {reason}")]
pub struct PublicKeyPemError {
    pub reason: String,
}

impl fmt::Display for Subject {
    /// `name@sha256:<hex>`, the way image references name a digest.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.digest)
    }
}

impl Provenance {
    /// The SLSA provenance v1 predicate saying this.
    pub fn to_predicate(&self) -> Map<String, Value> {
        let mut external_parameters = Map::new();
        let mut resolved_dependencies = Vec::new();
        if let Some(repository) = &self.repository {
            external_parameters.insert("repository".to_owned(), json!(repository));
        }
        if self.repository.is_some() || self.commit.is_some() {
            let mut source = Map::new();
            if let Some(repository) = &self.repository {
                source.insert("uri".to_owned(), json!(repository));
            }
            if let Some(commit) = &self.commit {
                source.insert("digest".to_owned(), json!({ "gitCommit": commit }));
            }
            resolved_dependencies.push(Value::Object(source));
        }
        let mut build_definition = Map::new();
        build_definition.insert("buildType".to_owned(), json!(self.build_type));
        build_definition.insert("externalParameters".to_owned(), Value::Object(external_parameters));
        if !resolved_dependencies.is_empty() {
            build_definition.insert("resolvedDependencies".to_owned(), Value::Array(resolved_dependencies));
        }
        let mut metadata = Map::new();
        let timestamps = [("startedOn", self.started_on), ("finishedOn", self.finished_on)];
        if let Some(invocation_id) = &self.invocation_id {
            metadata.insert("invocationId".to_owned(), json!(invocation_id));
        }
        for (name, at) in timestamps {
            if let Some(at) = at {
                metadata.insert(name.to_owned(), json!(at.to_string()));
            }
        }
        let mut run_details = Map::new();
        run_details.insert("builder".to_owned(), json!({ "id": self.builder_id }));
        if !metadata.is_empty() {
            run_details.insert("metadata".to_owned(), Value::Object(metadata));
        }
        let mut predicate = Map::new();
        predicate.insert("buildDefinition".to_owned(), Value::Object(build_definition));
        predicate.insert("runDetails".to_owned(), Value::Object(run_details));
        predicate
    }

    /// Reads a SLSA provenance v1 predicate.
    ///
    /// The source is the first resolved dependency with a `gitCommit` digest, or else the first
    /// resolved dependency. Null and empty values count as absent, as SLSA requires; unknown
    /// fields are ignored. Fails when `buildType` or `builder.id` is absent, or a field has the
    /// wrong JSON type or is not an RFC 3339 timestamp where one is due.
    pub fn from_predicate(predicate: &Map<String, Value>) -> Result<Provenance, AttestationError> {
        read_provenance(&Value::Object(predicate.clone())).map_err(|error| within("predicate", error))
    }
}

impl Statement {
    /// A SLSA provenance v1 statement about one artifact.
    pub fn provenance(subject: Subject, provenance: &Provenance) -> Statement {
        Statement {
            subjects: vec![subject],
            predicate_type: SLSA_PROVENANCE_V1.to_owned(),
            predicate: provenance.to_predicate(),
        }
    }

    /// The statement as in-toto Statement v1 JSON.
    pub fn to_json_value(&self) -> Value {
        let subjects: Vec<Value> = self
            .subjects
            .iter()
            .map(|subject| {
                let digest_set = json!({ "sha256": subject.digest.to_hex() });
                json!({ "name": subject.name, "digest": digest_set })
            })
            .collect();
        json!({
            "_type": STATEMENT_TYPE,
            "subject": subjects,
            "predicateType": self.predicate_type,
            "predicate": self.predicate,
        })
    }

    /// The canonical (RFC 8785) JSON bytes of the statement: what [`sign`] puts in an envelope.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        canonical_json(&self.to_json_value())
    }

    /// Reads an in-toto Statement v1 from JSON bytes (canonical or not).
    ///
    /// Fails when the bytes are not a JSON object, `_type` is not [`STATEMENT_TYPE`], `subject`
    /// is absent or empty, a subject has no digest set or a malformed `sha256`, or
    /// `predicateType` is absent. Unknown fields are ignored, as in-toto requires.
    pub fn parse(payload: &[u8]) -> Result<Statement, AttestationError> {
        let statement: Value = serde_json::from_slice(payload).map_err(|error| {
            AttestationError::MalformedStatement { reason: format!("the payload is not JSON: {error}") }
        })?;
        if !statement.is_object() {
            return Err(malformed_statement(&[], "is not a JSON object"));
        }
        match string_at(&statement, &["_type"])? {
            Some(found) if found == STATEMENT_TYPE => {}
            Some(found) => return Err(malformed_statement(&["_type"], &format!("is {found:?}, not {STATEMENT_TYPE}"))),
            None => return Err(malformed_statement(&["_type"], "is missing")),
        }
        let predicate_type = string_at(&statement, &["predicateType"])?
            .ok_or_else(|| malformed_statement(&["predicateType"], "is missing"))?;
        let predicate = match value_at(&statement, &["predicate"]) {
            None => Map::new(),
            Some(Value::Object(predicate)) => predicate.clone(),
            Some(_) => return Err(malformed_statement(&["predicate"], "is not an object")),
        };
        Ok(Statement { subjects: parse_subjects(&statement)?, predicate_type, predicate })
    }
}

impl Envelope {
    /// The DSSE JSON envelope: standard base64 with padding, members in the specification's
    /// order, no white space.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Wire<'a> {
            payload: String,
            #[serde(rename = "payloadType")]
            payload_type: &'a str,
            signatures: Vec<WireSignature<'a>>,
        }
        #[derive(Serialize)]
        struct WireSignature<'a> {
            keyid: &'a str,
            sig: String,
        }
        let wire = Wire {
            payload: STANDARD.encode(&self.payload),
            payload_type: &self.payload_type,
            signatures: self
                .signatures
                .iter()
                .map(|signature| WireSignature { keyid: &signature.key_id, sig: STANDARD.encode(signature.signature) })
                .collect(),
        };
        serde_json::to_string(&wire).expect("serializing an in-memory value to JSON cannot fail")
    }

    /// Reads a DSSE JSON envelope.
    ///
    /// Accepts standard and URL-safe base64, with or without padding, as DSSE allows; a missing
    /// `keyid` reads as empty; unknown members are ignored. Fails, naming the member, when a
    /// required member is missing or of the wrong type, is not base64, or a signature is not the
    /// 64 bytes of an ed25519 signature. The payload type is not checked here but by [`verify`].
    pub fn from_json(json: &str) -> Result<Envelope, AttestationError> {
        let envelope: Value = serde_json::from_str(json)
            .map_err(|error| malformed_envelope("envelope", format!("is not JSON: {error}")))?;
        if !envelope.is_object() {
            return Err(malformed_envelope("envelope", "is not a JSON object"));
        }
        let payload_type = required_str(&envelope, "payloadType", "payloadType")?.to_owned();
        let payload = decode_base64(required_str(&envelope, "payload", "payload")?, "payload")?;
        let signatures = match envelope.get("signatures") {
            None | Some(Value::Null) => return Err(malformed_envelope("signatures", "is missing")),
            Some(Value::Array(signatures)) => signatures,
            Some(_) => return Err(malformed_envelope("signatures", "is not an array")),
        };
        let signatures = signatures
            .iter()
            .enumerate()
            .map(|(index, signature)| parse_signature(signature, &format!("signatures[{index}]")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Envelope { payload_type, payload, signatures })
    }
}

impl TrustedKey {
    /// The key's id, as [`crate::audit::key_id`] derives it.
    pub fn key_id(&self) -> String {
        key_id(&self.key)
    }

    fn is_revoked_at(&self, at: Timestamp) -> bool {
        self.revoked_at.is_some_and(|revoked_at| revoked_at <= at)
    }
}

/// The DSSE pre-authentication encoding: `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`,
/// lengths in ASCII decimal bytes. Signatures cover these bytes, so the payload type is signed
/// too and no payload can be read as another.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let header = format!("DSSEv1 {} {} {} ", payload_type.len(), payload_type, payload.len());
    let mut encoded = header.into_bytes();
    encoded.extend_from_slice(payload);
    encoded
}

/// Signs `statement` with `key`: an envelope of its canonical bytes with one signature, whose key
/// id is [`crate::audit::key_id`] of the public key. Deterministic, as ed25519 signing is.
pub fn sign(statement: &Statement, key: &SigningKey) -> Envelope {
    let payload = statement.canonical_bytes();
    let signature = key.sign(&pae(PAYLOAD_TYPE, &payload));
    Envelope {
        payload_type: PAYLOAD_TYPE.to_owned(),
        payload,
        signatures: vec![EnvelopeSignature { key_id: key_id(&key.verifying_key()), signature: signature.to_bytes() }],
    }
}

/// Checks that `envelope` is an in-toto attestation about `expected`, signed by a key in
/// `trusted` that is not revoked at `at`.
///
/// One verifying signature is enough; the `keyid` hints are not trusted, so each signature is
/// tried against every trusted key. When none verifies, the most telling failure is returned: a
/// signature by a revoked key, then one naming a trusted key that does not verify (tampering),
/// then an unknown key. The statement is only parsed once its signature has verified. Fails too
/// when the payload type is not [`PAYLOAD_TYPE`], the statement is malformed (a SLSA provenance
/// v1 predicate included), or `expected` (name and digest) is not among its subjects.
pub fn verify(
    envelope: &Envelope,
    trusted: &[TrustedKey],
    expected: &Subject,
    at: Timestamp,
) -> Result<VerifiedAttestation, AttestationError> {
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(AttestationError::WrongPayloadType { found: envelope.payload_type.clone() });
    }
    let signer = find_signer(envelope, trusted, at)?;
    let statement = Statement::parse(&envelope.payload)?;
    if !statement.subjects.contains(expected) {
        return Err(AttestationError::SubjectMismatch {
            expected: expected.to_string(),
            found: statement.subjects.iter().map(Subject::to_string).collect(),
        });
    }
    let provenance = if statement.predicate_type == SLSA_PROVENANCE_V1 {
        Some(Provenance::from_predicate(&statement.predicate)?)
    } else {
        None
    };
    Ok(VerifiedAttestation { key_id: signer.key_id(), key_name: signer.name.clone(), statement, provenance })
}

/// The SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`) of `key`, as OpenSSL writes it.
pub fn public_key_pem(key: &VerifyingKey) -> String {
    key.to_public_key_pem(LineEnding::LF).expect("encoding a valid ed25519 public key as PEM cannot fail")
}

/// Reads an ed25519 public key from SubjectPublicKeyInfo PEM.
pub fn parse_public_key_pem(pem: &str) -> Result<VerifyingKey, PublicKeyPemError> {
    VerifyingKey::from_public_key_pem(pem.trim()).map_err(|error| PublicKeyPemError { reason: error.to_string() })
}

// DSSE accepts both base64 alphabets; padding is optional when reading.
const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

fn find_signer<'a>(
    envelope: &Envelope,
    trusted: &'a [TrustedKey],
    at: Timestamp,
) -> Result<&'a TrustedKey, AttestationError> {
    let message = pae(&envelope.payload_type, &envelope.payload);
    let mut most_telling: Option<AttestationError> = None;
    for envelope_signature in &envelope.signatures {
        let signature = Signature::from_bytes(&envelope_signature.signature);
        let signers: Vec<&TrustedKey> =
            trusted.iter().filter(|trusted_key| trusted_key.key.verify_strict(&message, &signature).is_ok()).collect();
        if let Some(signer) = signers.iter().find(|signer| !signer.is_revoked_at(at)) {
            return Ok(signer);
        }
        let failure = match signers.first() {
            Some(revoked) => AttestationError::RevokedKey {
                key_id: revoked.key_id(),
                name: revoked.name.clone(),
                revoked_at: revoked.revoked_at.expect("a key that signed but was refused is revoked"),
            },
            None if trusted.iter().any(|trusted_key| trusted_key.key_id() == envelope_signature.key_id) => {
                AttestationError::BadSignature { key_id: envelope_signature.key_id.clone() }
            }
            None => AttestationError::UnknownKey { key_id: envelope_signature.key_id.clone() },
        };
        if most_telling.as_ref().is_none_or(|kept| rank(&failure) > rank(kept)) {
            most_telling = Some(failure);
        }
    }
    Err(most_telling.unwrap_or(AttestationError::NoSignatures))
}

fn rank(failure: &AttestationError) -> u8 {
    match failure {
        AttestationError::RevokedKey { .. } => 3,
        AttestationError::BadSignature { .. } => 2,
        AttestationError::UnknownKey { .. } => 1,
        _ => 0,
    }
}

fn parse_signature(signature: &Value, field: &str) -> Result<EnvelopeSignature, AttestationError> {
    if !signature.is_object() {
        return Err(malformed_envelope(field, "is not an object"));
    }
    let key_id = match signature.get("keyid") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(key_id)) => key_id.clone(),
        Some(_) => return Err(malformed_envelope(&format!("{field}.keyid"), "is not a string")),
    };
    let sig_field = format!("{field}.sig");
    let bytes = decode_base64(required_str(signature, "sig", &sig_field)?, &sig_field)?;
    let signature: [u8; 64] = bytes.as_slice().try_into().map_err(|_| {
        malformed_envelope(&sig_field, format!("is {} bytes long, not the 64 of an ed25519 signature", bytes.len()))
    })?;
    Ok(EnvelopeSignature { key_id, signature })
}

fn required_str<'a>(object: &'a Value, name: &str, field: &str) -> Result<&'a str, AttestationError> {
    match object.get(name) {
        None | Some(Value::Null) => Err(malformed_envelope(field, "is missing")),
        Some(Value::String(value)) => Ok(value),
        Some(_) => Err(malformed_envelope(field, "is not a string")),
    }
}

fn decode_base64(text: &str, field: &str) -> Result<Vec<u8>, AttestationError> {
    STANDARD_LENIENT
        .decode(text)
        .or_else(|_| URL_SAFE_LENIENT.decode(text))
        .map_err(|_| malformed_envelope(field, "is not base64"))
}

fn malformed_envelope(field: &str, reason: impl Into<String>) -> AttestationError {
    AttestationError::MalformedEnvelope { field: field.to_owned(), reason: reason.into() }
}

fn parse_subjects(statement: &Value) -> Result<Vec<Subject>, AttestationError> {
    let entries = match value_at(statement, &["subject"]) {
        None => return Err(malformed_statement(&["subject"], "is missing")),
        Some(Value::Array(entries)) if entries.is_empty() => return Err(malformed_statement(&["subject"], "is empty")),
        Some(Value::Array(entries)) => entries,
        Some(_) => return Err(malformed_statement(&["subject"], "is not an array")),
    };
    let mut subjects = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let field = format!("subject[{index}]");
        let name = string_at(entry, &["name"])
            .map_err(|_| malformed_statement(&[field.as_str(), "name"], "is not a string"))?;
        let digest_set = match value_at(entry, &["digest"]) {
            Some(Value::Object(digest_set)) if !digest_set.is_empty() => digest_set,
            Some(Value::Object(_)) | None => {
                return Err(malformed_statement(&[field.as_str(), "digest"], "is missing"))
            }
            Some(_) => return Err(malformed_statement(&[field.as_str(), "digest"], "is not an object")),
        };
        let Some(hex) = digest_set.get("sha256") else {
            continue;
        };
        let digest = hex
            .as_str()
            .and_then(|hex| Sha256Digest::parse(&format!("sha256:{}", hex.to_ascii_lowercase())).ok())
            .ok_or_else(|| malformed_statement(&[field.as_str(), "digest", "sha256"], "is not 64 hex characters"))?;
        subjects.push(Subject { name: name.unwrap_or_default(), digest });
    }
    Ok(subjects)
}

fn read_provenance(predicate: &Value) -> Result<Provenance, AttestationError> {
    let required = |path: &[&str]| string_at(predicate, path)?.ok_or_else(|| malformed_statement(path, "is missing"));
    let build_type = required(&["buildDefinition", "buildType"])?;
    let builder_id = required(&["runDetails", "builder", "id"])?;
    let (repository, commit) = match source_dependency(predicate)? {
        Some((index, source)) => {
            let field = format!("buildDefinition.resolvedDependencies[{index}]");
            (
                string_at(source, &["uri"]).map_err(|error| within(&field, error))?,
                string_at(source, &["digest", "gitCommit"]).map_err(|error| within(&field, error))?,
            )
        }
        None => (None, None),
    };
    let metadata = |name: &'static str| ["runDetails", "metadata", name];
    Ok(Provenance {
        build_type,
        builder_id,
        repository,
        commit,
        invocation_id: string_at(predicate, &metadata("invocationId"))?,
        started_on: timestamp_at(predicate, &metadata("startedOn"))?,
        finished_on: timestamp_at(predicate, &metadata("finishedOn"))?,
    })
}

/// The resolved dependency that is the build's source, and its index.
fn source_dependency(predicate: &Value) -> Result<Option<(usize, &Value)>, AttestationError> {
    let path = ["buildDefinition", "resolvedDependencies"];
    let dependencies = match value_at(predicate, &path) {
        None => return Ok(None),
        Some(Value::Array(dependencies)) => dependencies,
        Some(_) => return Err(malformed_statement(&path, "is not an array")),
    };
    let with_commit = dependencies
        .iter()
        .enumerate()
        .find(|(_, dependency)| value_at(dependency, &["digest", "gitCommit"]).is_some());
    Ok(with_commit.or(dependencies.first().map(|first| (0, first))))
}

/// The value at `path`, or `None` when it or an object on the way is absent, null or empty.
fn value_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut current = value;
    for name in path {
        current = current.get(name)?;
    }
    match current {
        Value::Null => None,
        Value::String(text) if text.is_empty() => None,
        _ => Some(current),
    }
}

fn string_at(value: &Value, path: &[&str]) -> Result<Option<String>, AttestationError> {
    match value_at(value, path) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(malformed_statement(path, "is not a string")),
    }
}

fn timestamp_at(value: &Value, path: &[&str]) -> Result<Option<Timestamp>, AttestationError> {
    string_at(value, path)?
        .map(|text| text.parse::<Timestamp>().map_err(|_| malformed_statement(path, "is not an RFC 3339 timestamp")))
        .transpose()
}

fn malformed_statement(path: &[&str], reason: &str) -> AttestationError {
    let field = if path.is_empty() { "the statement".to_owned() } else { path.join(".") };
    AttestationError::MalformedStatement { reason: format!("{field} {reason}") }
}

/// Puts a malformed-statement reason under the field `parent`.
fn within(parent: &str, error: AttestationError) -> AttestationError {
    match error {
        AttestationError::MalformedStatement { reason } => {
            AttestationError::MalformedStatement { reason: format!("{parent}.{reason}") }
        }
        other => other,
    }
}

fn hint(key_id: &str) -> &str {
    if key_id.is_empty() {
        "(no key id given)"
    } else {
        key_id
    }
}

fn list(subjects: &[String]) -> String {
    if subjects.is_empty() {
        "none with a sha256 digest".to_owned()
    } else {
        subjects.join(", ")
    }
}

#[cfg(test)]
mod tests;
