//! Quality gates: which gates guard each environment, the policy version that holds them, and
//! the records of their evaluation (decisions) and of their overrides.
//!
//! A gate is a named condition on a release's evidence, written in Rego (built in or by the
//! user) with an enforcement level. Evaluating Rego is not done here: that is the
//! `tollgate-policy` crate. This module owns the validated configuration and the stored formats
//! that go into the audit log, so that every layer names a gate, a policy version or a decision
//! with the same types.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::name::{EnvironmentName, UserName};
use crate::release::ReleaseId;
use crate::violation::{Problem, Violations};
use crate::Timestamp;

/// The longest gate name accepted.
pub const MAX_GATE_NAME_LEN: usize = 63;

/// The longest path of a user's Rego module.
pub const MAX_MODULE_PATH_LEN: usize = 255;

/// The largest user Rego module accepted, in bytes.
pub const MAX_MODULE_SIZE: usize = 256 * 1024;

/// The most user Rego modules a policy may hold.
pub const MAX_MODULES: usize = 100;

/// The most gates one environment may have.
pub const MAX_GATES_PER_ENVIRONMENT: usize = 50;

/// The longest override reason accepted: that of every audited reason.
pub use crate::release::MAX_REASON_LEN;

/// The name of a gate, unique within its environment: 1 to 63 lower-case ASCII letters,
/// digits, dashes and underscores, starting with a letter (so it is a Rego identifier once
/// dashes are replaced).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GateName(String);

impl TryFrom<String> for GateName {
    type Error = Problem;

    fn try_from(value: String) -> Result<GateName, Problem> {
        GateName::parse(&value)
    }
}

impl From<GateName> for String {
    fn from(name: GateName) -> String {
        name.0
    }
}

impl GateName {
    pub fn parse(value: &str) -> Result<GateName, Problem> {
        let bytes = value.as_bytes();
        let allowed = |byte: &u8| byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'-' | b'_');
        let well_formed = !bytes.is_empty()
            && bytes.len() <= MAX_GATE_NAME_LEN
            && bytes[0].is_ascii_lowercase()
            && bytes.iter().all(allowed);
        if well_formed {
            Ok(GateName(value.to_owned()))
        } else {
            Err(Problem::Invalid {
                reason: format!(
                    "{value:?} is not a gate name (1 to {MAX_GATE_NAME_LEN} lower-case letters, digits, '-' and '_', starting with a letter)"
                ),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a failing gate does to a promotion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Enforcement {
    /// A failure stops the promotion until a new evaluation passes or the failure is overridden.
    Block,
    /// A failure is recorded and shown; the promotion goes on.
    Warn,
}

crate::keyword_enum!(Enforcement { Block => "block", Warn => "warn" });

/// Where a gate's Rego comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum GateSource {
    /// A gate of the built-in library, with its parameters (checked by the policy engine).
    Builtin { builtin: String, params: serde_json::Value },
    /// A gate written by the user: the path of one of the policy's Rego modules.
    Rego { path: String },
}

/// One gate of an environment, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateSpec {
    pub name: GateName,
    #[serde(flatten)]
    pub source: GateSource,
    pub enforcement: Enforcement,
}

/// A user's Rego module, as installed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyModule {
    pub path: String,
    pub source: String,
}

/// The whole gate policy: the gates of every environment and the user's Rego modules. Its
/// SHA-256 over canonical JSON is the policy digest.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GatePolicy {
    #[serde(deserialize_with = "deserialize_gates")]
    pub gates: BTreeMap<EnvironmentName, Vec<GateSpec>>,
    pub modules: Vec<PolicyModule>,
}

impl GatePolicy {
    /// The SHA-256 of the policy's canonical JSON (RFC 8785): the same policy always has the
    /// same digest, whatever order it was written in.
    pub fn digest(&self) -> Sha256Digest {
        Sha256Digest::of(&crate::digest::canonical_json(self))
    }

    /// The gates of `environment`; none when it has no gates.
    pub fn gates_of(&self, environment: &EnvironmentName) -> &[GateSpec] {
        self.gates.get(environment).map(Vec::as_slice).unwrap_or_default()
    }
}

fn deserialize_gates<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<EnvironmentName, Vec<GateSpec>>, D::Error> {
    let named = BTreeMap::<String, Vec<GateSpec>>::deserialize(deserializer)?;
    named
        .into_iter()
        .map(|(name, gates)| Ok((EnvironmentName::parse(&name).map_err(serde::de::Error::custom)?, gates)))
        .collect()
}

/// A gate as typed in `tollgate.yaml` or an API request, before validation.
#[derive(Debug, Clone, Default)]
pub struct GateInput {
    pub name: Option<String>,
    pub builtin: Option<String>,
    pub rego: Option<String>,
    pub with: Option<serde_json::Value>,
    pub enforcement: Option<String>,
}

/// The `gates` section as typed: each environment's gates, in the order written.
#[derive(Debug, Clone, Default)]
pub struct GatesInput {
    pub environments: Vec<EnvironmentGatesInput>,
    /// The user's Rego modules that gates name by path. Not written in `tollgate.yaml` itself:
    /// the CLI reads the files the gates name and sends their text.
    pub modules: Vec<PolicyModule>,
}

/// The gates of one environment as typed.
#[derive(Debug, Clone, Default)]
pub struct EnvironmentGatesInput {
    pub environment: String,
    pub gates: Vec<GateInput>,
}

/// Validates the declared gates of every environment and the module sources that came with
/// them. Every problem is reported with the path of its field (`gates.prod[1].builtin`).
/// Environment names are checked for form here; whether they exist is the caller's question.
pub fn parse_policy(gates: Vec<EnvironmentGatesInput>, modules: Vec<PolicyModule>) -> Result<GatePolicy, Violations> {
    let mut violations = Violations::new();
    let mut policy = GatePolicy::default();
    if modules.len() > MAX_MODULES {
        violations.push("modules", Problem::Invalid { reason: format!("more than {MAX_MODULES} modules") });
    }
    for (index, module) in modules.iter().enumerate() {
        let field = format!("modules[{index}]");
        if module.path.is_empty() || module.path.len() > MAX_MODULE_PATH_LEN || module.path.contains('\0') {
            violations.push(
                format!("{field}.path"),
                Problem::Invalid { reason: format!("a module path has 1 to {MAX_MODULE_PATH_LEN} characters") },
            );
        }
        if module.source.len() > MAX_MODULE_SIZE {
            violations.push(
                format!("{field}.source"),
                Problem::Invalid {
                    reason: format!(
                        "module {} is {} bytes; the limit is {MAX_MODULE_SIZE}",
                        module.path,
                        module.source.len()
                    ),
                },
            );
        }
        if modules[..index].iter().any(|earlier| earlier.path == module.path) {
            violations.push(
                format!("{field}.path"),
                Problem::Invalid { reason: format!("module {} is given twice", module.path) },
            );
        }
    }
    for declared in gates {
        let Some(environment) =
            violations.check(&format!("gates.{}", declared.environment), EnvironmentName::parse(&declared.environment))
        else {
            continue;
        };
        if declared.gates.len() > MAX_GATES_PER_ENVIRONMENT {
            violations.push(
                format!("gates.{environment}"),
                Problem::Invalid { reason: format!("more than {MAX_GATES_PER_ENVIRONMENT} gates") },
            );
        }
        let mut specs: Vec<GateSpec> = Vec::with_capacity(declared.gates.len());
        for (index, gate) in declared.gates.into_iter().enumerate() {
            let field = format!("gates.{environment}[{index}]");
            let Some(spec) = parse_gate(gate, &field, &modules, &mut violations) else {
                continue;
            };
            if specs.iter().any(|earlier| earlier.name == spec.name) {
                violations.push(
                    format!("{field}.name"),
                    Problem::Invalid { reason: format!("gate {} is declared twice for {environment}", spec.name) },
                );
                continue;
            }
            specs.push(spec);
        }
        if policy.gates.insert(environment.clone(), specs).is_some() {
            violations.push(format!("gates.{environment}"), Problem::Invalid { reason: "given twice".to_owned() });
        }
    }
    policy.modules = modules;
    violations.into_result(policy)
}

fn parse_gate(gate: GateInput, field: &str, modules: &[PolicyModule], violations: &mut Violations) -> Option<GateSpec> {
    let enforcement = match &gate.enforcement {
        Some(text) => violations.check(&format!("{field}.enforcement"), text.parse::<Enforcement>())?,
        None => Enforcement::Block,
    };
    let (source, default_name) = match (gate.builtin, gate.rego) {
        (Some(builtin), None) => {
            let params = gate.with.unwrap_or_else(|| serde_json::Value::Object(serde_json::Map::new()));
            if !params.is_object() {
                violations
                    .push(format!("{field}.with"), Problem::Invalid { reason: "parameters are a mapping".to_owned() });
                return None;
            }
            (GateSource::Builtin { builtin: builtin.clone(), params }, builtin)
        }
        (None, Some(path)) => {
            if gate.with.is_some() {
                violations.push(
                    format!("{field}.with"),
                    Problem::Invalid {
                        reason: "parameters are for built-in gates; a Rego gate reads data itself".to_owned(),
                    },
                );
                return None;
            }
            if !modules.iter().any(|module| module.path == path) {
                violations
                    .push(format!("{field}.rego"), Problem::Invalid { reason: format!("module {path} was not given") });
                return None;
            }
            let stem = path.rsplit('/').next().unwrap_or(&path).trim_end_matches(".rego").replace('.', "_");
            (GateSource::Rego { path }, stem)
        }
        _ => {
            violations.push(
                field.to_owned(),
                Problem::Invalid { reason: "a gate names exactly one of builtin or rego".to_owned() },
            );
            return None;
        }
    };
    let name =
        violations.check(&format!("{field}.name"), GateName::parse(gate.name.as_deref().unwrap_or(&default_name)))?;
    Some(GateSpec { name, source, enforcement })
}

/// An installed gate policy: a sequence number counting versions from 1, and the digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PolicyVersion {
    pub seq: i64,
    pub digest: Sha256Digest,
}

impl fmt::Display for PolicyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.seq, self.digest)
    }
}

/// A stored gate policy version.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyVersionRecord {
    pub version: PolicyVersion,
    pub policy: GatePolicy,
    pub created_by: UserName,
    pub created_at: Timestamp,
}

/// What the audit log records about an installed policy: the version, each environment's
/// gates, and the digest of each module (not its text, which the policy record keeps).
/// A stored format.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyInstalled {
    pub version: PolicyVersion,
    pub gates: BTreeMap<EnvironmentName, Vec<GateSpec>>,
    pub modules: BTreeMap<String, Sha256Digest>,
}

impl PolicyInstalled {
    pub fn of(version: PolicyVersion, policy: &GatePolicy) -> PolicyInstalled {
        let modules = policy
            .modules
            .iter()
            .map(|module| (module.path.clone(), Sha256Digest::of(module.source.as_bytes())))
            .collect();
        PolicyInstalled { version, gates: policy.gates.clone(), modules }
    }
}

/// A gate decision's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct GateDecisionId(pub i64);

impl fmt::Display for GateDecisionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a gate decision is bound to: a pass holds only while all four are unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateBinding {
    pub manifest_digest: Sha256Digest,
    /// The digest of the evidence set the gates judged (see `evidence_set_digest`).
    pub evidence_digest: Sha256Digest,
    pub policy: PolicyVersion,
    /// The digest of the built-in gate library the gates were judged with, so an upgrade that
    /// changes a built-in gate needs a new evaluation; `None` for decisions recorded before
    /// decisions named it (never current).
    pub library: Option<Sha256Digest>,
}

/// One stored evaluation of an environment's gates for a release.
#[derive(Debug, Clone, PartialEq)]
pub struct GateDecision {
    pub id: GateDecisionId,
    pub release: ReleaseId,
    pub environment: EnvironmentName,
    pub binding: GateBinding,
    /// The input document the gates judged, kept so the decision can be replayed.
    pub input: serde_json::Value,
    pub input_digest: Sha256Digest,
    /// Whether every blocking gate passed.
    pub passed: bool,
    /// The result of each gate (the policy engine's stored format).
    pub results: serde_json::Value,
    pub created_by: UserName,
    pub created_at: Timestamp,
}

/// What the audit log records about a decision: everything but the input, which it binds by
/// digest. A stored format.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateDecided {
    pub release: semver::Version,
    pub environment: EnvironmentName,
    #[serde(flatten)]
    pub binding: GateBinding,
    pub input_digest: Sha256Digest,
    pub passed: bool,
    pub results: serde_json::Value,
}

/// An override's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct GateOverrideId(pub i64);

impl fmt::Display for GateOverrideId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An authorized person's decision to let one failed gate decision pass. It is bound to that
/// decision, so it lapses with it: new evidence, a changed release or a new policy version
/// needs a new evaluation. A stored format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateOverride {
    pub id: GateOverrideId,
    pub decision: GateDecisionId,
    pub release: semver::Version,
    pub environment: EnvironmentName,
    #[serde(flatten)]
    pub binding: GateBinding,
    pub reason: String,
    pub created_by: UserName,
    pub created_at: Timestamp,
}

/// Checks an override reason: required, at most `MAX_REASON_LEN` characters.
pub fn check_reason(reason: &str) -> Result<String, Problem> {
    let trimmed = reason.trim();
    if trimmed.is_empty() {
        return Err(Problem::Invalid { reason: "a reason is required".to_owned() });
    }
    crate::name::check_text(trimmed, MAX_REASON_LEN, false)?;
    Ok(trimmed.to_owned())
}

/// One piece of evidence, as the evidence-set digest sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceItem<'a> {
    pub kind: &'a str,
    pub service: Option<&'a str>,
    pub digest: &'a Sha256Digest,
}

/// One signature on a release's artifact, as the evidence-set digest sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureItem<'a> {
    pub artifact: &'a Sha256Digest,
    pub key: &'a str,
    pub trusted: bool,
}

/// The digest of what a gate evaluation judged besides the release itself: every evidence
/// file and every signature with its trust. It changes when evidence is uploaded or a
/// signature is added or loses its trust, and not when the release moves between states.
/// Order does not matter: the items are sorted first.
pub fn evidence_set_digest(
    mut evidence: Vec<EvidenceItem<'_>>,
    mut signatures: Vec<SignatureItem<'_>>,
) -> Sha256Digest {
    evidence.sort_by(|a, b| (a.kind, a.service, a.digest.to_hex()).cmp(&(b.kind, b.service, b.digest.to_hex())));
    signatures.sort_by(|a, b| (a.artifact.to_hex(), a.key, a.trusted).cmp(&(b.artifact.to_hex(), b.key, b.trusted)));
    #[derive(Serialize)]
    struct Set<'a> {
        evidence: Vec<EvidenceItem<'a>>,
        signatures: Vec<SignatureItem<'a>>,
    }
    Sha256Digest::of(&crate::digest::canonical_json(&Set { evidence, signatures }))
}

#[cfg(test)]
mod tests;
