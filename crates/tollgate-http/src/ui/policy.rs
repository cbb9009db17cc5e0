//! `/policy`: the quality-gate policy in force (each environment's gates, the user's Rego
//! modules, earlier versions), the authorization policies in Cedar with their version (for those
//! who may read them), and the just-in-time grants in force.

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use tollgate_core::gate::GateSource;
use tollgate_service::policy_view::PolicyOverview;

use crate::ui::format::{short_digest, when};
use crate::ui::{render, Chrome, UiError, UiResult, WebUser};
use crate::AppState;

#[derive(Template)]
#[template(path = "policy.html")]
pub(crate) struct PolicyPage {
    pub chrome: Chrome,
    pub gate_version: Option<String>,
    pub environments: Vec<(String, Vec<GateLine>)>,
    pub modules: Vec<(String, String)>,
    pub versions: Vec<(i64, String, String)>,
    pub may_read_authorization: bool,
    pub authz_version: String,
    pub cedar: Vec<CedarLine>,
    pub user_files: Vec<(String, String)>,
    pub grants: Vec<GrantLine>,
}

pub(crate) struct GateLine {
    pub name: String,
    pub source: String,
    pub parameters: String,
    pub enforcement: &'static str,
}

pub(crate) struct CedarLine {
    pub id: String,
    pub effect: &'static str,
    pub origin: String,
    pub reason: String,
}

pub(crate) struct GrantLine {
    pub user: String,
    pub role: &'static str,
    pub environment: String,
    pub reason: String,
    pub granted_by: String,
    pub until: String,
}

/// `GET /policy`.
pub(crate) async fn page(State(state): State<AppState>, user: WebUser) -> UiResult<Html<String>> {
    let overview = state
        .tollgate
        .policy_overview(&user.principal)
        .await
        .map_err(|error| UiError::from_service(error, Some(user.chrome("policy"))))?;
    render(&policy_page(user.chrome("policy"), overview))
}

fn policy_page(chrome: Chrome, overview: PolicyOverview) -> PolicyPage {
    let gate_version = overview.gate_policy.as_ref().map(|record| {
        format!(
            "version {} ({}), installed by {} on {}",
            record.version.seq,
            short_digest(&record.version.digest.to_string()),
            record.created_by,
            when(record.created_at)
        )
    });
    let (environments, modules) = match &overview.gate_policy {
        Some(record) => (
            record
                .policy
                .gates
                .iter()
                .map(|(environment, gates)| {
                    let lines = gates
                        .iter()
                        .map(|gate| {
                            let (source, parameters) = match &gate.source {
                                GateSource::Builtin { builtin, params } => {
                                    (format!("built-in {builtin}"), params.to_string())
                                }
                                GateSource::Rego { path } => (format!("Rego {path}"), String::new()),
                            };
                            GateLine {
                                name: gate.name.to_string(),
                                source,
                                parameters,
                                enforcement: gate.enforcement.as_str(),
                            }
                        })
                        .collect();
                    (environment.to_string(), lines)
                })
                .collect(),
            record.policy.modules.iter().map(|module| (module.path.clone(), module.source.clone())).collect(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    let (may_read_authorization, authz_version, cedar, user_files) = match overview.authorization {
        Some((version, policies)) => {
            let authz_version = version.as_ref().map_or_else(
                || "built-in policies only (no user policies applied)".to_owned(),
                |version| {
                    format!(
                        "user policies version {} ({}), applied by {} on {}",
                        version.sequence,
                        short_digest(&version.sha256),
                        version.applied_by,
                        when(version.applied_at)
                    )
                },
            );
            let files = version.map(|version| version.files.into_iter().map(|file| (file.name, file.text)).collect());
            let cedar = policies
                .into_iter()
                .map(|policy| CedarLine {
                    id: policy.id,
                    effect: if policy.permit { "permit" } else { "forbid" },
                    origin: match (policy.source, policy.file) {
                        (tollgate_service::authz::PolicySource::BuiltIn, _) => "built-in".to_owned(),
                        (tollgate_service::authz::PolicySource::User, Some(file)) => format!("user: {file}"),
                        (tollgate_service::authz::PolicySource::User, None) => "user".to_owned(),
                    },
                    reason: policy.reason,
                })
                .collect();
            (true, authz_version, cedar, files.unwrap_or_default())
        }
        None => (false, String::new(), Vec::new(), Vec::new()),
    };
    PolicyPage {
        chrome,
        gate_version,
        environments,
        modules,
        versions: overview
            .gate_versions
            .iter()
            .map(|record| {
                (record.version.seq, short_digest(&record.version.digest.to_string()), when(record.created_at))
            })
            .collect(),
        may_read_authorization,
        authz_version,
        cedar,
        user_files,
        grants: overview
            .grants
            .into_iter()
            .map(|grant| GrantLine {
                user: grant.user.to_string(),
                role: grant.role.as_str(),
                environment: grant.environment.to_string(),
                reason: grant.reason,
                granted_by: grant.granted_by.to_string(),
                until: when(grant.expires_at),
            })
            .collect(),
    }
}
