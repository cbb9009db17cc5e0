//! Every action Tollgate authorizes: its Cedar name, the type of its resource, whether its
//! decisions are audited, and what it allows. One table, which the schema, the docs
//! (`docs/authorization.md`) and the service all follow; tests keep them equal.

use std::fmt;

/// The type of the resource an action is about. It follows from the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceType {
    /// The installation as a whole (`Tollgate::System::"tollgate"`).
    System,
    Team,
    Service,
    Environment,
    Lifecycle,
    Release,
    ChangeRequest,
}

impl ResourceType {
    /// The Cedar entity type, without the namespace.
    pub fn cedar_name(self) -> &'static str {
        match self {
            ResourceType::System => "System",
            ResourceType::Team => "Team",
            ResourceType::Service => "Service",
            ResourceType::Environment => "Environment",
            ResourceType::Lifecycle => "Lifecycle",
            ResourceType::Release => "Release",
            ResourceType::ChangeRequest => "ChangeRequest",
        }
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.cedar_name())
    }
}

/// Whether a decision on an action is written to the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audited {
    /// Neither allowed nor denied requests are audited beyond the change they make.
    No,
    /// Denials are audited (attempts at something sensitive).
    Denials,
    /// Every outcome is on record: a denial by its own entry, an allowed request by the audit
    /// entry of the change it makes (with its reason, for overrides and grants).
    Always,
}

/// Facts about one action.
#[derive(Debug, Clone, Copy)]
pub struct ActionInfo {
    pub action: Action,
    /// The Cedar action id (`Tollgate::Action::"<name>"`).
    pub name: &'static str,
    pub resource: ResourceType,
    pub audited: Audited,
    /// What the action allows, for the docs.
    pub description: &'static str,
}

macro_rules! actions {
    ($($variant:ident => $name:literal, $resource:ident, $audited:ident, $description:literal;)+) => {
        /// One action of the API, as Cedar names it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action { $($variant),+ }

        /// Every action, in the order of the docs.
        pub const ACTIONS: &[ActionInfo] = &[
            $(ActionInfo {
                action: Action::$variant,
                name: $name,
                resource: ResourceType::$resource,
                audited: Audited::$audited,
                description: $description,
            }),+
        ];
    };
}

actions! {
    ReadRecords => "read.records", System, No, "Read teams, services, environments, lifecycles, releases, artifacts, evidence, deployments, users and the audit entries.";
    AuditVerify => "audit.verify", System, No, "Verify the whole audit log.";
    AuditExport => "audit.export", System, No, "Export the whole audit log.";
    AuthzPolicyRead => "authz.policy.read", System, No, "Read the authorization policies applied.";
    AuthzCheck => "authz.check", System, No, "Ask why a request would be allowed or denied.";
    JitList => "jit.list", System, No, "List just-in-time grants.";
    UserCreate => "user.create", System, Always, "Create a user with roles.";
    UserEdit => "user.edit", System, Always, "Change a user's roles.";
    TokenCreate => "token.create", System, Denials, "Create an API token for the user in the context (`subject`).";
    TokenRevoke => "token.revoke", System, Denials, "Revoke a token of the user in the context (`subject`).";
    TokenListAll => "token.list_all", System, No, "List the tokens of every user.";
    SigningKeyEnroll => "signing_key.enroll", System, Always, "Enroll another replica's audit signing key.";
    SigningKeyRotate => "signing_key.rotate", System, Always, "Rotate this server's audit signing key.";
    KeyTrust => "key.trust", System, Always, "Register a public key trusted to sign artifacts.";
    KeyRevoke => "key.revoke", System, Always, "Revoke a trusted artifact signing key.";
    RetentionEdit => "retention.edit", System, Always, "Set retention policies, put and release legal holds.";
    RetentionGc => "retention.gc", System, Always, "Run garbage collection of artifacts.";
    AuthzPolicyApply => "authz.policy.apply", System, Always, "Apply user Cedar policies.";
    PolicyApply => "policy.apply", System, Always, "Install quality gate (Rego) policies.";
    CalendarEdit => "calendar.edit", System, Always, "Add, change, delete and import release-calendar periods (windows, freezes, blackouts).";
    JitGrant => "jit.grant", Environment, Always, "Grant a user (the context's `subject`) a role (`role`) in an environment (the resource) for a while.";
    JitRevoke => "jit.revoke", Environment, Always, "Revoke a just-in-time grant.";
    Apply => "apply", System, No, "Run `tollgate apply`; every object it creates or changes is authorized by its own action as well.";
    TeamCreate => "team.create", Team, No, "Create a team.";
    TeamEdit => "team.edit", Team, Denials, "Change a team's display name, members or naming pattern.";
    ServiceCreate => "service.create", Service, No, "Create a service owned by a team.";
    ServiceEdit => "service.edit", Service, Denials, "Change a service (its owner team's members).";
    EnvironmentCreate => "environment.create", Environment, No, "Create an environment.";
    EnvironmentEdit => "environment.edit", Environment, No, "Change an environment other than its tier.";
    EnvironmentTier => "environment.tier", Environment, Always, "Change an environment's tier (the context carries `new_tier`).";
    LifecycleCreate => "lifecycle.create", Lifecycle, No, "Create a lifecycle.";
    LifecycleEdit => "lifecycle.edit", Lifecycle, Always, "Change a lifecycle's environments.";
    ArtifactPush => "artifact.push", Team, Denials, "Push an artifact under a team.";
    ArtifactSign => "artifact.sign", Team, Denials, "Attach a signature to an artifact of a team.";
    EvidenceUpload => "evidence.upload", Release, No, "Upload evidence to a release.";
    ReleaseCreate => "release.create", Release, No, "Create a release.";
    ReleaseEdit => "release.edit", Release, No, "Change a release's content while its scope is open.";
    ReleasePlan => "release.plan", Release, No, "Plan a release.";
    ReleaseFreeze => "release.freeze", Release, No, "Freeze a release's scope.";
    ReleaseUnfreeze => "release.unfreeze", Release, No, "Unfreeze a release's scope.";
    ReleaseMarkReady => "release.mark_ready", Release, Denials, "Mark a release ready.";
    ReleaseClose => "release.close", Release, No, "Close a release.";
    ReleaseRollBack => "release.roll_back", Release, No, "Roll a release back.";
    ReleaseCancel => "release.cancel", Release, No, "Cancel a release.";
    GateEvaluate => "gate.evaluate", Release, No, "Evaluate a release's quality gates.";
    ChangeRequest => "change.request", ChangeRequest, No, "Request a change.";
    ChangeApprove => "change.approve", ChangeRequest, Always, "Approve a change.";
    Deploy => "deploy", Environment, Denials, "Record a deployment of the release in the context to an environment.";
    DeploymentFinish => "deployment.finish", Environment, Denials, "Record the outcome of a deployment to an environment.";
    QuarantineLift => "quarantine.lift", Environment, Always, "Lift an environment's quarantine, so deployments start there again (needs a `reason`).";
    OverrideGate => "override.gate", Release, Always, "Override a failed quality gate (needs a `reason`).";
    OverrideWindow => "override.window", Environment, Always, "Deploy outside a deployment window (needs a `reason`).";
    OverrideBreakGlass => "override.break_glass", Environment, Always, "Break glass: deploy around the usual checks (needs a `reason`).";
}

impl Action {
    /// The facts about this action.
    pub fn info(self) -> &'static ActionInfo {
        ACTIONS.iter().find(|info| info.action == self).expect("every action has a row in ACTIONS")
    }

    /// The Cedar action id.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    pub fn resource_type(self) -> ResourceType {
        self.info().resource
    }

    /// Whether this is an override, which needs a reason.
    pub fn is_override(self) -> bool {
        self.name().starts_with("override.")
    }

    /// The action with this Cedar name.
    pub fn parse(name: &str) -> Option<Action> {
        ACTIONS.iter().find(|info| info.name == name).map(|info| info.action)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The table of actions in Markdown, as `docs/authorization.md` carries it.
pub fn actions_table() -> String {
    let mut table = String::from("| action | resource | audited | allows |\n| --- | --- | --- | --- |\n");
    for info in ACTIONS {
        let audited = match info.audited {
            Audited::No => "no",
            Audited::Denials => "denials",
            Audited::Always => "always",
        };
        table.push_str(&format!("| `{}` | {} | {} | {} |\n", info.name, info.resource, audited, info.description));
    }
    table
}
