//! The decision for one request: the built-in policies (roles, guards, segregation of duties)
//! and the user's policies, validated against the schema, evaluated by Cedar.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Context as CedarContext, Decision as CedarDecision, Effect, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    PolicyId, PolicySet, Request as CedarRequest, RestrictedExpression, Schema, ValidationMode, Validator,
};
use tollgate_core::Timestamp;

use crate::error::{PolicyError, PolicyErrors};
use crate::request::{ReleaseFacts, Request, Resource};

/// The Cedar schema, in Cedar's schema syntax.
pub const SCHEMA: &str = include_str!("schema.cedarschema");
/// The built-in role policies.
pub const ROLE_POLICIES: &str = include_str!("roles.cedar");
/// Guards no configuration turns off: reasons for overrides, no self-grants, prod deploys by
/// deployers, no self-approval.
pub const GUARD_POLICIES: &str = include_str!("guards.cedar");
/// Segregation of duties that a setting may switch off.
pub const SEGREGATION_POLICIES: &str = include_str!("sod.cedar");

/// The largest policy file accepted, in bytes.
pub const MAX_POLICY_FILE_BYTES: usize = 128 * 1024;
/// The most user policies in force at once.
pub const MAX_POLICIES: usize = 1000;
/// The deepest nesting of brackets accepted in a policy; Cedar's parser recurses.
pub const MAX_NESTING: usize = 32;

/// Which optional segregation-of-duties rules are in force. Both are on by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segregation {
    /// The author of a release does not mark it ready on a path to prod nor deploy it to prod.
    pub author_does_not_ship_to_prod: bool,
    /// For prod, at least one approver comes from outside the author's team.
    pub outside_team_approver_for_prod: bool,
}

impl Default for Segregation {
    fn default() -> Segregation {
        Segregation { author_does_not_ship_to_prod: true, outside_team_approver_for_prod: true }
    }
}

/// A file of user policies: its name (for errors and ids) and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFile {
    pub name: String,
    pub text: String,
}

/// Where a policy in force comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicySource {
    BuiltIn,
    User,
}

/// One policy in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInfo {
    pub id: String,
    pub permit: bool,
    pub reason: String,
    pub source: PolicySource,
    /// The file it came from (user policies).
    pub file: Option<String>,
}

/// A policy that decided a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeterminingPolicy {
    pub id: String,
    pub permit: bool,
    pub reason: String,
}

/// The answer to a request, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The policies that decided: the permits that allowed it, or the forbids that denied it
    /// (none when nothing permitted it).
    pub policies: Vec<DeterminingPolicy>,
    /// The just-in-time grants the principal held for this request.
    pub grants: Vec<i64>,
    /// Policies that could not be evaluated. An error in a forbid policy denies.
    pub errors: Vec<String>,
    /// What was asked, for messages: `user ana`, `deploy`, `Environment "prod"`.
    pub summary: String,
}

impl Decision {
    /// The human reason: which policies decided, and why.
    pub fn reason(&self) -> String {
        if self.allowed {
            let reasons: Vec<String> =
                self.policies.iter().map(|policy| format!("{} ({})", policy.reason, policy.id)).collect();
            return format!("{} is allowed: {}", self.summary, reasons.join("; "));
        }
        let mut reasons: Vec<String> =
            self.policies.iter().map(|policy| format!("{} ({})", policy.reason, policy.id)).collect();
        reasons.extend(self.errors.iter().cloned());
        if reasons.is_empty() {
            format!("{} is denied: no policy permits it", self.summary)
        } else {
            format!("{} is denied: {}", self.summary, reasons.join("; "))
        }
    }
}

/// The policies in force and the schema they are checked against.
#[derive(Debug, Clone)]
pub struct Authorizer {
    schema: Schema,
    policies: PolicySet,
    info: HashMap<String, PolicyInfo>,
    engine: cedar_policy::Authorizer,
}

impl Authorizer {
    /// The built-in policies (with the segregation rules `segregation` keeps) and `user`'s
    /// policies. Fails with every problem of the user's files, located.
    pub fn new(segregation: Segregation, user: &[PolicyFile]) -> Result<Authorizer, PolicyErrors> {
        let schema = schema();
        let mut policies = PolicySet::new();
        let mut info = HashMap::new();
        let mut builtin = vec![("roles.cedar", ROLE_POLICIES), ("guards.cedar", GUARD_POLICIES)];
        if segregation.author_does_not_ship_to_prod || segregation.outside_team_approver_for_prod {
            builtin.push(("sod.cedar", SEGREGATION_POLICIES));
        }
        for (file, text) in builtin {
            let parsed = parse_file(&PolicyFile { name: file.to_owned(), text: text.to_owned() })
                .expect("the built-in policies parse");
            for (policy, reason) in parsed {
                let id = policy.id().to_string();
                let keep = match id.as_str() {
                    "sod.author_does_not_ship_to_prod" | "sod.author_does_not_deploy_to_prod" => {
                        segregation.author_does_not_ship_to_prod
                    }
                    "sod.outside_team_approver_for_prod" => segregation.outside_team_approver_for_prod,
                    _ => true,
                };
                if keep {
                    let permit = policy.effect() == Effect::Permit;
                    info.insert(
                        id.clone(),
                        PolicyInfo { id, permit, reason, source: PolicySource::BuiltIn, file: None },
                    );
                    policies.add(policy).expect("built-in policy ids are unique");
                }
            }
        }
        let user_policies = check_user_files(&schema, &policies, user)?;
        for (policy, reason, file) in user_policies {
            let id = policy.id().to_string();
            let permit = policy.effect() == Effect::Permit;
            info.insert(id.clone(), PolicyInfo { id, permit, reason, source: PolicySource::User, file: Some(file) });
            policies.add(policy).expect("checked for duplicate ids");
        }
        Ok(Authorizer { schema, policies, info, engine: cedar_policy::Authorizer::new() })
    }

    /// Checks user policy files against the schema and the built-in policies, without building
    /// an authorizer: what `authz policy apply` runs first.
    pub fn validate(user: &[PolicyFile]) -> Result<Vec<PolicyInfo>, PolicyErrors> {
        let authorizer = Authorizer::new(Segregation::default(), user)?;
        Ok(authorizer.policies().into_iter().filter(|policy| policy.source == PolicySource::User).collect())
    }

    /// Every policy in force, built-in first, by id.
    pub fn policies(&self) -> Vec<PolicyInfo> {
        let mut policies: Vec<PolicyInfo> = self.info.values().cloned().collect();
        policies.sort_by(|a, b| {
            (a.source == PolicySource::User, &a.file, &a.id).cmp(&(b.source == PolicySource::User, &b.file, &b.id))
        });
        policies
    }

    /// Decides `request`. Never fails: a request that cannot be evaluated is denied with the
    /// reason.
    pub fn authorize(&self, request: &Request) -> Decision {
        let summary =
            format!("user {} doing {} on {}", request.principal.name, request.action, describe(&request.resource));
        let grants: Vec<i64> = active_grants(request).iter().map(|grant| grant.id).collect();
        let denied = |errors: Vec<String>| Decision {
            allowed: false,
            policies: Vec::new(),
            grants: grants.clone(),
            errors,
            summary: summary.clone(),
        };
        if request.resource.resource_type() != request.action.resource_type() {
            return denied(vec![format!(
                "action {} is about a {}, not a {}",
                request.action,
                request.action.resource_type(),
                request.resource.resource_type()
            )]);
        }
        let (cedar_request, entities) = match self.cedar_request(request) {
            Ok(built) => built,
            Err(error) => return denied(vec![error]),
        };
        let response = self.engine.is_authorized(&cedar_request, &self.policies, &entities);
        let mut errors = Vec::new();
        let mut failed_forbid = false;
        for error in response.diagnostics().errors() {
            let cedar_policy::AuthorizationError::PolicyEvaluationError(error) = error;
            let id = error.policy_id().to_string();
            if self.info.get(&id).is_some_and(|info| !info.permit) {
                failed_forbid = true;
            }
            errors.push(format!("policy {id} could not be evaluated: {}", error.inner()));
        }
        let policies: Vec<DeterminingPolicy> = response
            .diagnostics()
            .reason()
            .map(|id| {
                let info = self.info.get(&id.to_string());
                DeterminingPolicy {
                    id: id.to_string(),
                    permit: info.is_none_or(|info| info.permit),
                    reason: info.map_or_else(|| format!("policy {id}"), |info| info.reason.clone()),
                }
            })
            .collect();
        let allowed = response.decision() == CedarDecision::Allow && !failed_forbid;
        // A forbid that failed to evaluate denies: a broken guard must not open the door.
        let policies = if !allowed && failed_forbid { Vec::new() } else { policies };
        Decision { allowed, policies, grants, errors, summary }
    }

    /// The request in Cedar's JSON forms, `(request, entities, policies)`: the request as
    /// `{"principal", "action", "resource", "context"}`, its entities, and the text of every
    /// policy in force. For running the same decision through another Cedar implementation.
    pub fn cedar_json(&self, request: &Request) -> Result<(String, String, String), String> {
        let mut entities = EntityBuilder::default();
        let principal = entities.principal(request);
        let resource = entities.resource(&request.resource);
        let context = entities.context(request)?;
        let action = uid("Action", request.action.name());
        let context = context.to_json_value().map_err(|error| error.to_string())?;
        let quoted = |uid: &EntityUid| format!("\"{}\"", uid.to_string().replace('\\', "\\\\").replace('"', "\\\""));
        let request_json = format!(
            "{{\"principal\":{},\"action\":{},\"resource\":{},\"context\":{}}}",
            quoted(&principal),
            quoted(&action),
            quoted(&resource),
            context
        );
        let entities = Entities::from_entities(entities.into_entities()?, Some(&self.schema))
            .map_err(|error| error.to_string())?;
        let entities_json = entities.to_json_value().map_err(|error| error.to_string())?.to_string();
        Ok((request_json, entities_json, self.policies.to_string()))
    }

    fn cedar_request(&self, request: &Request) -> Result<(CedarRequest, Entities), String> {
        let mut entities = EntityBuilder::default();
        let principal = entities.principal(request);
        let resource = entities.resource(&request.resource);
        let context = entities.context(request)?;
        let action = uid("Action", request.action.name());
        let cedar_request = CedarRequest::new(principal, action, resource, context, Some(&self.schema))
            .map_err(|error| format!("the request does not match the schema: {error}"))?;
        let entities = Entities::from_entities(entities.into_entities()?, Some(&self.schema))
            .map_err(|error| format!("the request's entities do not match the schema: {error}"))?;
        Ok((cedar_request, entities))
    }
}

/// The schema, parsed.
pub fn schema() -> Schema {
    let (schema, _warnings) = Schema::from_cedarschema_str(SCHEMA).expect("the built-in schema parses");
    schema
}

/// The grants of the principal that count for this request: active at its time, for its
/// environment.
pub fn active_grants(request: &Request) -> Vec<&crate::request::Grant> {
    let environment = request.resource.environment();
    request
        .principal
        .grants
        .iter()
        .filter(|grant| grant.is_active(request.at) && environment == Some(&grant.environment))
        .collect()
}

/// Cedar entities for one request, each once.
#[derive(Default)]
struct EntityBuilder {
    entities: HashMap<EntityUid, Entity>,
    errors: Vec<String>,
}

impl EntityBuilder {
    fn add(&mut self, uid: EntityUid, attrs: Vec<(&str, RestrictedExpression)>, parents: HashSet<EntityUid>) {
        let attrs = attrs.into_iter().map(|(name, value)| (name.to_owned(), value)).collect();
        match Entity::new(uid.clone(), attrs, parents) {
            Ok(entity) => {
                self.entities.entry(uid).or_insert(entity);
            }
            Err(error) => self.errors.push(error.to_string()),
        }
    }

    fn principal(&mut self, request: &Request) -> EntityUid {
        let principal = &request.principal;
        let mut parents: HashSet<EntityUid> = principal.roles.iter().map(|role| uid("Role", role.as_str())).collect();
        for grant in active_grants(request) {
            parents.insert(uid("Role", grant.role.as_str()));
        }
        for team in &principal.teams {
            parents.insert(uid("Team", team.as_str()));
        }
        for parent in &parents {
            self.add(parent.clone(), Vec::new(), HashSet::new());
        }
        let user = uid("User", principal.name.as_str());
        self.add(user.clone(), vec![("name", string(principal.name.as_str()))], parents);
        user
    }

    fn resource(&mut self, resource: &Resource) -> EntityUid {
        match resource {
            Resource::System => {
                let system = uid("System", "tollgate");
                self.add(system.clone(), Vec::new(), HashSet::new());
                system
            }
            Resource::Team(team) => {
                let team = uid("Team", team.as_str());
                self.add(team.clone(), Vec::new(), HashSet::new());
                team
            }
            Resource::Service { name, owner, criticality, labels } => {
                let owner = uid("Team", owner.as_str());
                self.add(owner.clone(), Vec::new(), HashSet::new());
                let service = uid("Service", name);
                let attrs = vec![
                    ("name", string(name)),
                    ("owner", RestrictedExpression::new_entity_uid(owner)),
                    ("criticality", string(criticality)),
                    ("labels", strings(labels)),
                ];
                self.add(service.clone(), attrs, HashSet::new());
                service
            }
            Resource::Environment { name, tier } => self.environment(name.as_str(), tier.as_str()),
            Resource::Lifecycle { name, reaches_prod } => {
                let lifecycle = uid("Lifecycle", name);
                let attrs =
                    vec![("name", string(name)), ("reaches_prod", RestrictedExpression::new_bool(*reaches_prod))];
                self.add(lifecycle.clone(), attrs, HashSet::new());
                lifecycle
            }
            Resource::Release(release) => self.release(release),
            Resource::ChangeRequest(change) => {
                let release = self.release(&change.release);
                let environment = self.environment(change.environment.as_str(), change.tier.as_str());
                let change_uid = uid("ChangeRequest", &change.id.to_string());
                let attrs = vec![
                    ("requested_by", user_ref(change.requested_by.as_str())),
                    ("release", RestrictedExpression::new_entity_uid(release)),
                    ("environment", RestrictedExpression::new_entity_uid(environment)),
                    ("change_type", string(&change.change_type)),
                ];
                self.add(change_uid.clone(), attrs, HashSet::new());
                change_uid
            }
        }
    }

    fn environment(&mut self, name: &str, tier: &str) -> EntityUid {
        let environment = uid("Environment", name);
        self.add(environment.clone(), vec![("name", string(name)), ("tier", string(tier))], HashSet::new());
        environment
    }

    fn release(&mut self, release: &ReleaseFacts) -> EntityUid {
        let release_uid = uid("Release", &release.id.to_string());
        let teams = |teams: &BTreeSet<tollgate_core::name::TeamName>| {
            RestrictedExpression::new_set(
                teams.iter().map(|team| RestrictedExpression::new_entity_uid(uid("Team", team.as_str()))),
            )
        };
        let attrs = vec![
            ("version", string(&release.version)),
            ("state", string(&release.state)),
            ("author", user_ref(release.author.as_str())),
            ("teams", teams(&release.teams)),
            ("author_teams", teams(&release.author_teams)),
            ("reaches_prod", RestrictedExpression::new_bool(release.reaches_prod)),
            ("labels", strings(&release.labels)),
        ];
        self.add(release_uid.clone(), attrs, HashSet::new());
        release_uid
    }

    fn context(&mut self, request: &Request) -> Result<CedarContext, String> {
        let context = &request.context;
        let mut pairs = vec![("time".to_owned(), time(request.at)?)];
        if let Some(reason) = &context.reason {
            pairs.push(("reason".to_owned(), string(reason.trim())));
        }
        if let Some(release) = &context.release {
            let release = self.release(release);
            pairs.push(("release".to_owned(), RestrictedExpression::new_entity_uid(release)));
        }
        if let Some(subject) = &context.subject {
            pairs.push(("subject".to_owned(), user_ref(subject.as_str())));
        }
        if let Some(role) = context.role {
            pairs.push(("role".to_owned(), string(role.as_str())));
        }
        if let Some(tier) = context.new_tier {
            pairs.push(("new_tier".to_owned(), string(tier.as_str())));
        }
        if let Some(approved) = context.outside_team_approved {
            pairs.push(("outside_team_approved".to_owned(), RestrictedExpression::new_bool(approved)));
        }
        if let Some(completes) = context.completes_approvals {
            pairs.push(("completes_approvals".to_owned(), RestrictedExpression::new_bool(completes)));
        }
        CedarContext::from_pairs(pairs).map_err(|error| format!("the request's context is invalid: {error}"))
    }

    fn into_entities(self) -> Result<Vec<Entity>, String> {
        if let Some(error) = self.errors.into_iter().next() {
            return Err(format!("the request's entities are invalid: {error}"));
        }
        Ok(self.entities.into_values().collect())
    }
}

/// `context.time`: the day of the week, hour and minute (UTC) and the Unix time.
fn time(at: Timestamp) -> Result<RestrictedExpression, String> {
    let seconds = at.as_second();
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    // 1970-01-01 was a Thursday.
    let day = ["thu", "fri", "sat", "sun", "mon", "tue", "wed"][days.rem_euclid(7) as usize];
    RestrictedExpression::new_record([
        ("day_of_week".to_owned(), string(day)),
        ("hour".to_owned(), RestrictedExpression::new_long(of_day / 3600)),
        ("minute".to_owned(), RestrictedExpression::new_long(of_day % 3600 / 60)),
        ("unix".to_owned(), RestrictedExpression::new_long(seconds)),
    ])
    .map_err(|error| error.to_string())
}

fn uid(kind: &str, id: &str) -> EntityUid {
    let type_name =
        EntityTypeName::from_str(&format!("Tollgate::{kind}")).expect("Tollgate's entity type names are valid");
    EntityUid::from_type_name_and_id(type_name, EntityId::new(id))
}

fn user_ref(name: &str) -> RestrictedExpression {
    RestrictedExpression::new_entity_uid(uid("User", name))
}

fn strings(values: &BTreeSet<String>) -> RestrictedExpression {
    RestrictedExpression::new_set(values.iter().map(|value| string(value)))
}

fn string(value: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(value.to_owned())
}

/// `Environment "prod"`, for messages.
pub(crate) fn describe(resource: &Resource) -> String {
    let kind = resource.resource_type();
    match resource {
        Resource::System => "the system".to_owned(),
        Resource::Team(team) => format!("{kind} {:?}", team.as_str()),
        Resource::Service { name, .. } | Resource::Lifecycle { name, .. } => format!("{kind} {name:?}"),
        Resource::Environment { name, .. } => format!("{kind} {:?}", name.as_str()),
        Resource::Release(release) => format!("{kind} {}", release.version),
        Resource::ChangeRequest(change) => format!("{kind} {}", change.id),
    }
}

/// Parses one file of policies: each must carry `@id`; `@reason` is optional.
fn parse_file(file: &PolicyFile) -> Result<Vec<(cedar_policy::Policy, String)>, PolicyErrors> {
    let mut errors = PolicyErrors::default();
    check_shape(file, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    let parsed = match PolicySet::from_str(&file.text) {
        Ok(parsed) => parsed,
        Err(parse_errors) => {
            for error in parse_errors.iter() {
                errors.push(PolicyError::located(&file.name, None, &file.text, first_offset(error), error.to_string()));
            }
            return Err(errors);
        }
    };
    if parsed.templates().next().is_some() {
        errors.push(PolicyError::located(&file.name, None, &file.text, None, "templates are not supported".into()));
    }
    let mut policies: Vec<(usize, cedar_policy::Policy, String)> = Vec::new();
    for policy in parsed.policies() {
        let offset = policy_offset(&file.text, policy);
        let Some(id) = policy.annotation("id").map(str::trim).filter(|id| !id.is_empty()) else {
            let message = "the policy has no @id(\"...\") annotation".to_owned();
            errors.push(PolicyError::located(&file.name, None, &file.text, offset, message));
            continue;
        };
        let reason = policy.annotation("reason").map_or_else(|| format!("policy {id}"), str::to_owned);
        policies.push((offset.unwrap_or(0), policy.new_id(PolicyId::new(id)), reason));
    }
    policies.sort_by_key(|(offset, _, _)| *offset);
    errors.into_result(policies.into_iter().map(|(_, policy, reason)| (policy, reason)).collect())
}

/// Refuses what Cedar should never be asked to parse: over-large files, deep nesting (the
/// parser recurses), NUL bytes.
fn check_shape(file: &PolicyFile, errors: &mut PolicyErrors) {
    if file.text.len() > MAX_POLICY_FILE_BYTES {
        let message = format!("the file is {} bytes, more than the limit of {MAX_POLICY_FILE_BYTES}", file.text.len());
        errors.push(PolicyError::located(&file.name, None, &file.text, None, message));
        return;
    }
    if let Some(offset) = file.text.find('\0') {
        errors.push(PolicyError::located(&file.name, None, &file.text, Some(offset), "a NUL byte".into()));
        return;
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut in_comment = false;
    let bytes = file.text.as_bytes();
    for (offset, byte) in bytes.iter().enumerate() {
        if in_comment {
            in_comment = *byte != b'\n';
            continue;
        }
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'/' if bytes.get(offset + 1) == Some(&b'/') => in_comment = true,
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    let message = format!("nested deeper than {MAX_NESTING} brackets");
                    errors.push(PolicyError::located(&file.name, None, &file.text, Some(offset), message));
                    return;
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            // `!!!!x` and `- - - x` recurse as well.
            b'!' | b'-' if bytes.get(offset + 1).is_some_and(|next| *next == b'!' || *next == b'-') => {
                let run = bytes[offset..].iter().take_while(|b| **b == b'!' || **b == b'-' || **b == b' ').count();
                if run > MAX_NESTING {
                    let message = format!("more than {MAX_NESTING} unary operators in a row");
                    errors.push(PolicyError::located(&file.name, None, &file.text, Some(offset), message));
                    return;
                }
            }
            _ => {}
        }
    }
}

/// Parses and validates the user's files against the schema, with ids unique across files and
/// the built-in policies.
fn check_user_files(
    schema: &Schema,
    builtin: &PolicySet,
    files: &[PolicyFile],
) -> Result<Vec<(cedar_policy::Policy, String, String)>, PolicyErrors> {
    let mut errors = PolicyErrors::default();
    let mut policies = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut texts: HashMap<String, (String, String)> = HashMap::new();
    for file in files {
        match parse_file(file) {
            Ok(parsed) => {
                for (policy, reason) in parsed {
                    let id = policy.id().to_string();
                    let offset = policy_offset(&file.text, &policy);
                    if builtin.policy(policy.id()).is_some() {
                        let message = format!("policy id {id:?} is the id of a built-in policy");
                        errors.push(PolicyError::located(&file.name, Some(&id), &file.text, offset, message));
                    } else if let Some(other) = seen.insert(id.clone(), file.name.clone()) {
                        let message = format!("policy id {id:?} is used twice (also in {other})");
                        errors.push(PolicyError::located(&file.name, Some(&id), &file.text, offset, message));
                    }
                    texts.insert(id, (file.name.clone(), file.text.clone()));
                    policies.push((policy, reason, file.name.clone()));
                }
            }
            Err(file_errors) => errors.extend(file_errors),
        }
    }
    if policies.len() > MAX_POLICIES {
        errors.push(PolicyError {
            file: String::new(),
            policy: None,
            line: None,
            column: None,
            message: format!("{} policies, more than the limit of {MAX_POLICIES}", policies.len()),
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut set = PolicySet::new();
    for (policy, _, _) in &policies {
        set.add(policy.clone()).expect("ids are unique");
    }
    let validation = Validator::new(schema.clone()).validate(&set, ValidationMode::Strict);
    for error in validation.validation_errors() {
        let id = error.policy_id().to_string();
        let (file, text) = texts.get(&id).cloned().unwrap_or_default();
        errors.push(PolicyError::located(&file, Some(&id), &text, first_offset(error), error.to_string()));
    }
    errors.into_result(policies)
}

/// Where a policy starts in its file.
fn policy_offset(text: &str, policy: &cedar_policy::Policy) -> Option<usize> {
    let source = policy.to_string();
    text.find(source.trim())
}

/// The first labelled byte offset of a Cedar diagnostic.
fn first_offset(diagnostic: &dyn miette::Diagnostic) -> Option<usize> {
    diagnostic.labels().and_then(|mut labels| labels.next()).map(|label| label.offset())
}
