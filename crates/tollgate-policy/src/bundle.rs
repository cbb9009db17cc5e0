//! A policy bundle: gate specs and user modules, checked and compiled once, then
//! evaluated against many input documents.
//!
//! Evaluation clones the compiled engine (cheap: its modules and compiled rules are shared),
//! so a [`Bundle`] is shared across threads; the one lock guards its cache of normalized
//! license strings, held for one lookup per distinct string. The input is converted once per
//! evaluation (see [`crate::input`]); each gate then sees it with its own `params` (built-ins
//! only), its own view if it has one, and the normalized license view beside the service's
//! fields.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use serde::Serialize;
use tollgate_core::digest::{canonical_json, Sha256Digest};
use tollgate_core::gate::{GateSource, GateSpec, PolicyModule};

use crate::builtin::{self, Availability};
use crate::coverage::CriticalPaths;
use crate::engine;
use crate::error::{one_line, InputError, PolicyError};
use crate::gate::{GateResult, GateViolation, Outcome};
use crate::input::{self, LicenseCache, PreparedInput};
use crate::license::LicensePolicy;

/// Bounds on one evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The largest input accepted, measured as its compact JSON encoding. Default 1 MiB.
    pub max_input_bytes: usize,
    /// The deepest nesting of arrays and objects accepted in the input. Default 64.
    pub max_input_depth: usize,
    /// How long one gate may run before it is stopped with [`Outcome::Error`]. Default 100 ms.
    ///
    /// The interpreter looks at a monotonic timer every few dozen steps of work; this is the
    /// only bound regorus offers on the interpreter (its instruction and memory limits belong
    /// to its bytecode VM and to a replacement global allocator, neither used here). Memory is
    /// bounded by the input limit, the time limit, and the capped `numbers.range`.
    pub max_gate_duration: Duration,
}

impl Default for Limits {
    /// 1 MiB of input, 64 levels of nesting, 100 ms per gate: a realistic input is a few
    /// dozen kilobytes and a realistic gate runs in well under a millisecond.
    fn default() -> Limits {
        Limits { max_input_bytes: 1024 * 1024, max_input_depth: 64, max_gate_duration: Duration::from_millis(100) }
    }
}

/// Gate specs and modules, validated and compiled, ready to evaluate many times.
#[derive(Clone)]
pub struct Bundle {
    gates: Vec<GateSpec>,
    // Invariant: one entry per gate, in the same order.
    compiled: Vec<CompiledGate>,
    // Invariant: compiled (every module parsed and the bundle compiled without error).
    engine: regorus::Engine,
    digest: Sha256Digest,
    /// License strings already normalized, shared by this bundle's clones.
    licenses: LicenseCache,
}

#[derive(Clone)]
struct CompiledGate {
    /// The rule evaluated, such as `data.tollgate.builtin.coverage.violations`.
    rule: String,
    /// The gate's `notes` rule, such as `data.tollgate.builtin.performance.notes`, when its
    /// module defines one.
    notes_rule: Option<String>,
    /// The built-in's parameters with defaults filled in; `None` for user gates.
    params: Option<regorus::Value>,
    /// A `coverage` gate's critical paths, whose matching files the gate reads from
    /// `input.critical_files`; `None` for every other gate.
    critical_paths: Option<CriticalPaths>,
    /// A `licenses` gate's allow and deny lists, whose verdict on each license string the gate
    /// reads from `input.license_verdicts`; `None` for every other gate.
    license_policy: Option<LicensePolicy>,
}

/// The format name at the start of the digested encoding; a new encoding gets a new name.
const DIGEST_FORMAT: &str = "tollgate.policy-bundle/v2";

impl Bundle {
    /// Validates and compiles a bundle.
    ///
    /// Fails with every problem found: a module that does not parse or compile (with its line
    /// and column), two modules with one path, a module in the reserved `tollgate.builtin`
    /// package, a gate name used twice, an unknown or unavailable built-in,
    /// invalid built-in parameters (naming the gate and the parameter), and a Rego gate whose
    /// module is missing or defines no `violations` rule.
    pub fn new(gates: Vec<GateSpec>, modules: Vec<PolicyModule>) -> Result<Bundle, Vec<PolicyError>> {
        let mut engine = engine::new_engine();
        let (packages, mut errors) = engine::add_modules(&mut engine, &modules);
        let mut compiled = Vec::with_capacity(gates.len());
        let mut names = std::collections::BTreeSet::new();
        for gate in &gates {
            if !names.insert(&gate.name) {
                errors.push(PolicyError::gate(gate.name.as_str(), "two gates have this name"));
            }
            match compile_gate(gate, &modules, &packages, &engine) {
                Ok(gate) => compiled.push(gate),
                Err(mut gate_errors) => errors.append(&mut gate_errors),
            }
        }
        if errors.is_empty() {
            if let Err(error) = engine::compile(&mut engine) {
                errors.push(error);
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let digest = digest(&gates, &modules);
        Ok(Bundle { gates, compiled, engine, digest, licenses: LicenseCache::default() })
    }

    /// The SHA-256 of the bundle's canonical encoding: the RFC 8785 JSON of
    /// `{"format": "tollgate.policy-bundle/v2", "library": {"version", "digest"}, "gates":
    /// [specs in order], "modules": [{path, source} sorted by path]}`, where each gate is
    /// core's [`GateSpec`] as it serializes (`{"name", "source": "builtin", "builtin",
    /// "params", "enforcement"}` with params as given, or `{"name", "source": "rego", "path",
    /// "enforcement"}`) and the library digest is the SHA-256 of the RFC 8785 JSON of the
    /// built-in modules' `[{path, source}]`. Equal bundles have equal digests on every machine
    /// and run. (`v1` nested the source as `"source": {"kind", "name" or "path", "params"}`.)
    pub fn digest(&self) -> Sha256Digest {
        self.digest
    }

    /// The gates, in evaluation order.
    pub fn gates(&self) -> &[GateSpec] {
        &self.gates
    }

    /// Evaluates every gate against one input document and returns one result per gate, in
    /// the bundle's order.
    ///
    /// Refuses, before any gate runs, an input that is not an object or is larger or deeper
    /// than `limits` allow. A gate that fails to evaluate, runs past `limits`, or returns
    /// something other than violations gets [`Outcome::Error`]; the other gates are unaffected.
    /// Never panics.
    pub fn evaluate(&self, input: &serde_json::Value, limits: &Limits) -> Result<Vec<GateResult>, InputError> {
        let prepared = input::prepare(input, limits, &self.licenses)?;
        let mut engine = self.engine.clone();
        engine::set_time_limit(&mut engine, limits.max_gate_duration);
        let results = self
            .gates
            .iter()
            .zip(&self.compiled)
            .map(|(gate, compiled)| {
                engine.set_input(compiled.input(&prepared));
                let evaluated = catch_unwind(AssertUnwindSafe(|| engine.eval_rule(compiled.rule.clone())));
                let (outcome, violations) = match evaluated {
                    Ok(Ok(value)) => judge(&value),
                    Ok(Err(error)) => (
                        Outcome::Error { reason: PolicyError::from_engine(&compiled.rule, &error).to_string() },
                        Vec::new(),
                    ),
                    Err(_) => (Outcome::Error { reason: "the policy engine panicked".to_owned() }, Vec::new()),
                };
                let (outcome, notes) = match (&compiled.notes_rule, outcome) {
                    (Some(notes_rule), outcome @ (Outcome::Pass | Outcome::Fail)) => {
                        match catch_unwind(AssertUnwindSafe(|| engine.eval_rule(notes_rule.clone()))) {
                            Ok(Ok(value)) => match read_notes(&value) {
                                Ok(notes) => (outcome, notes),
                                Err(reason) => (Outcome::Error { reason }, Vec::new()),
                            },
                            Ok(Err(error)) => (
                                Outcome::Error { reason: PolicyError::from_engine(notes_rule, &error).to_string() },
                                Vec::new(),
                            ),
                            Err(_) => (Outcome::Error { reason: "the policy engine panicked".to_owned() }, Vec::new()),
                        }
                    }
                    (_, outcome) => (outcome, Vec::new()),
                };
                let violations = if matches!(outcome, Outcome::Error { .. }) { Vec::new() } else { violations };
                GateResult { gate: gate.name.clone(), enforcement: gate.enforcement, outcome, violations, notes }
            })
            .collect();
        Ok(results)
    }

    /// The documents each gate's rule receives for `input`, in gate order, with the rule
    /// evaluated: what a plain Rego engine loaded with [`Bundle::modules`] must be given to
    /// reproduce [`Bundle::evaluate`]. For benchmarks and cross-checks.
    pub fn gate_inputs(
        &self,
        input: &serde_json::Value,
        limits: &Limits,
    ) -> Result<Vec<(String, serde_json::Value)>, InputError> {
        let prepared = input::prepare(input, limits, &self.licenses)?;
        Ok(self
            .compiled
            .iter()
            .map(|compiled| {
                let gate_input = compiled.input(&prepared);
                let json = serde_json::to_value(&gate_input).expect("an engine value converts to JSON");
                (compiled.rule.clone(), json)
            })
            .collect())
    }

    /// Every module the engine holds, the built-in library first: (path, source).
    pub fn modules(&self) -> Vec<PolicyModule> {
        let library = builtin::LIBRARY
            .iter()
            .map(|(path, source)| PolicyModule { path: (*path).to_owned(), source: (*source).to_owned() });
        let user = self.engine_modules();
        library.chain(user).collect()
    }

    fn engine_modules(&self) -> Vec<PolicyModule> {
        self.engine
            .get_policies()
            .unwrap_or_default()
            .into_iter()
            .map(|source| PolicyModule {
                path: source.get_path().to_string(),
                source: source.get_contents().to_string(),
            })
            .filter(|module| !module.path.starts_with("tollgate/builtin/"))
            .collect()
    }
}

impl CompiledGate {
    /// The document this gate's rule receives: the prepared input with the gate's `params`,
    /// a `coverage` gate's `critical_files` view and a `licenses` gate's `license_verdicts`.
    fn input(&self, prepared: &PreparedInput) -> regorus::Value {
        let mut gate_input = prepared.value.clone();
        let Ok(fields) = gate_input.as_object_mut() else { return gate_input };
        if let Some(params) = &self.params {
            fields.insert(regorus::Value::from("params"), params.clone());
        }
        if let Some(critical_paths) = &self.critical_paths {
            fields.insert(regorus::Value::from("critical_files"), critical_paths.view(&prepared.value));
        }
        if let Some(policy) = &self.license_policy {
            let verdicts: std::collections::BTreeMap<regorus::Value, regorus::Value> = prepared
                .licenses
                .iter()
                .map(|(raw, cached)| {
                    let verdict = policy.verdict(raw, &cached.normalized);
                    (regorus::Value::from(raw.as_str()), regorus::Value::from(verdict.as_str()))
                })
                .collect();
            fields.insert(regorus::Value::from("license_verdicts"), regorus::Value::from(verdicts));
        }
        gate_input
    }
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle")
            .field("gates", &self.gates)
            .field("digest", &self.digest.to_string())
            .finish_non_exhaustive()
    }
}

/// Checks one gate spec against the modules and the library.
fn compile_gate(
    gate: &GateSpec,
    modules: &[PolicyModule],
    packages: &[Option<String>],
    engine: &regorus::Engine,
) -> Result<CompiledGate, Vec<PolicyError>> {
    match &gate.source {
        GateSource::Builtin { builtin: name, params } => {
            let Some(info) = builtin::find(name) else {
                let known: Vec<&str> = builtin::builtin_gates().iter().map(|info| info.name).collect();
                return Err(vec![PolicyError::gate(
                    gate.name.as_str(),
                    format!("unknown built-in `{name}` (known: {})", known.join(", ")),
                )]);
            };
            if let Availability::Unavailable { reason } = info.availability {
                return Err(vec![PolicyError::gate(
                    gate.name.as_str(),
                    format!("built-in `{name}` cannot be used: {reason}"),
                )]);
            }
            let params = builtin::check_params(gate.name.as_str(), info, params)?;
            let critical_paths = match info.name {
                "coverage" => Some(
                    CriticalPaths::new(&params).map_err(|error| vec![PolicyError::gate(gate.name.as_str(), error)])?,
                ),
                _ => None,
            };
            let license_policy = (info.name == "licenses").then(|| LicensePolicy::new(&params));
            let params = regorus::Value::from(params);
            let library_path = format!("tollgate/builtin/{name}.rego");
            let notes_rule = matches!(engine.has_declared_rule_rooted_at(&library_path, "notes"), Ok(true))
                .then(|| format!("data.tollgate.builtin.{name}.notes"));
            Ok(CompiledGate {
                rule: format!("data.tollgate.builtin.{name}.violations"),
                notes_rule,
                params: Some(params),
                critical_paths,
                license_policy,
            })
        }
        GateSource::Rego { path } => {
            let Some(index) = modules.iter().position(|module| &module.path == path) else {
                return Err(vec![PolicyError::gate(gate.name.as_str(), format!("no module has the path `{path}`"))]);
            };
            // A module that did not parse has its own error already.
            let Some(package) = &packages[index] else { return Err(Vec::new()) };
            if !package.split('.').all(is_identifier) {
                return Err(vec![PolicyError::gate(
                    gate.name.as_str(),
                    format!("the package of `{path}` must be a dotted path of identifiers to be a gate"),
                )]);
            }
            match engine.has_declared_rule_rooted_at(path, "violations") {
                Ok(true) => Ok(CompiledGate {
                    rule: format!("{package}.violations"),
                    notes_rule: matches!(engine.has_declared_rule_rooted_at(path, "notes"), Ok(true))
                        .then(|| format!("{package}.notes")),
                    params: None,
                    critical_paths: None,
                    license_policy: None,
                }),
                Ok(false) => Err(vec![PolicyError::gate(
                    gate.name.as_str(),
                    format!("module `{path}` (package {}) defines no `violations` rule", &package["data.".len()..]),
                )]),
                Err(error) => Err(vec![PolicyError::gate(gate.name.as_str(), one_line(&format!("{error:#}")))]),
            }
        }
    }
}

/// Reads a gate's result: a set or array of `{"msg": string, "data": any}`.
fn judge(value: &regorus::Value) -> (Outcome, Vec<GateViolation>) {
    let items: Vec<&regorus::Value> = match value {
        regorus::Value::Set(items) => items.iter().collect(),
        regorus::Value::Array(items) => items.iter().collect(),
        regorus::Value::Undefined => {
            return (Outcome::Error { reason: "the gate's `violations` rule is undefined".to_owned() }, Vec::new())
        }
        _ => {
            return (
                Outcome::Error { reason: "the gate's `violations` is not a set or an array".to_owned() },
                Vec::new(),
            )
        }
    };
    let mut violations = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let message = match &item[&regorus::Value::from("msg")] {
            regorus::Value::String(message) => message.to_string(),
            _ => {
                return (
                    Outcome::Error { reason: format!("violation {index} of the gate has no string `msg`") },
                    Vec::new(),
                )
            }
        };
        let data = match &item[&regorus::Value::from("data")] {
            regorus::Value::Undefined => serde_json::Value::Null,
            data => serde_json::to_value(data).unwrap_or(serde_json::Value::Null),
        };
        violations.push(GateViolation { message, data });
    }
    let outcome = if violations.is_empty() { Outcome::Pass } else { Outcome::Fail };
    (outcome, violations)
}

/// Reads a gate's notes: undefined (none), or a set or array of strings.
fn read_notes(value: &regorus::Value) -> Result<Vec<String>, String> {
    let items: Vec<&regorus::Value> = match value {
        regorus::Value::Undefined => return Ok(Vec::new()),
        regorus::Value::Set(items) => items.iter().collect(),
        regorus::Value::Array(items) => items.iter().collect(),
        _ => return Err("the gate's `notes` is not a set or an array".to_owned()),
    };
    items
        .into_iter()
        .map(|item| match item {
            regorus::Value::String(note) => Ok(note.to_string()),
            _ => Err("the gate's `notes` holds something other than strings".to_owned()),
        })
        .collect()
}

fn digest(gates: &[GateSpec], modules: &[PolicyModule]) -> Sha256Digest {
    #[derive(Serialize)]
    struct Encoded<'a> {
        format: &'static str,
        library: Library,
        gates: &'a [GateSpec],
        modules: Vec<&'a PolicyModule>,
    }
    #[derive(Serialize)]
    struct Library {
        version: &'static str,
        digest: Sha256Digest,
    }
    let library = Library { version: builtin::LIBRARY_VERSION, digest: library_digest() };
    let mut modules: Vec<&PolicyModule> = modules.iter().collect();
    modules.sort_by(|left, right| left.path.cmp(&right.path));
    Sha256Digest::of(&canonical_json(&Encoded { format: DIGEST_FORMAT, library, gates, modules }))
}

/// The SHA-256 of the RFC 8785 JSON of the built-in library's modules, `[{path, source}]` in
/// library order: what a gate decision binds to besides the installed policy version.
pub fn library_digest() -> Sha256Digest {
    #[derive(Serialize)]
    struct LibraryModule {
        path: &'static str,
        source: &'static str,
    }
    let modules: Vec<LibraryModule> =
        builtin::LIBRARY.iter().map(|(path, source)| LibraryModule { path, source }).collect();
    Sha256Digest::of(&canonical_json(&modules))
}

fn is_identifier(part: &str) -> bool {
    part.starts_with(|first: char| first.is_ascii_alphabetic() || first == '_')
        && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}
