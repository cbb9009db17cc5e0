//! `/catalog`: teams with their members, services with owners, criticality and dependencies,
//! the dependency graph (an SVG drawn on the server), environments and lifecycles.

use askama::Template;
use axum::extract::State;
use axum::response::Html;

use crate::ui::{render, Chrome, UiError, UiResult, WebUser};
use crate::AppState;

#[derive(Template)]
#[template(path = "catalog.html")]
pub(crate) struct CatalogPage {
    pub chrome: Chrome,
    pub teams: Vec<(String, String, String)>,
    pub services: Vec<ServiceLine>,
    /// The dependency graph as an SVG document (escaped when it was drawn).
    pub graph: String,
    pub environments: Vec<(String, &'static str, String)>,
    pub lifecycles: Vec<(String, String)>,
}

pub(crate) struct ServiceLine {
    pub name: String,
    pub owner: String,
    pub criticality: &'static str,
    pub depends_on: Vec<String>,
    pub description: String,
    pub labels: Vec<String>,
}

/// `GET /catalog`.
pub(crate) async fn page(State(state): State<AppState>, user: WebUser) -> UiResult<Html<String>> {
    let catalog = state
        .tollgate
        .catalog(&user.principal)
        .await
        .map_err(|error| UiError::from_service(error, Some(user.chrome("catalog"))))?;
    let graph = crate::ui_graph::service_graph_svg(&catalog.services);
    render(&CatalogPage {
        chrome: user.chrome("catalog"),
        teams: catalog
            .teams
            .iter()
            .map(|team| {
                let members = team.members.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                (team.name.to_string(), team.display_name.clone(), members)
            })
            .collect(),
        services: catalog
            .services
            .iter()
            .map(|service| ServiceLine {
                name: service.name.to_string(),
                owner: service.owner.to_string(),
                criticality: service.criticality.as_str(),
                depends_on: service.depends_on.iter().map(ToString::to_string).collect(),
                description: service.description.clone(),
                labels: service.labels.iter().map(ToString::to_string).collect(),
            })
            .collect(),
        graph,
        environments: catalog
            .environments
            .iter()
            .map(|environment| {
                let region = environment.region.as_ref().map(ToString::to_string).unwrap_or_default();
                (environment.name.to_string(), environment.tier.as_str(), region)
            })
            .collect(),
        lifecycles: catalog
            .lifecycles
            .iter()
            .map(|lifecycle| {
                let path = lifecycle.environments().iter().map(ToString::to_string).collect::<Vec<_>>().join(" → ");
                (lifecycle.name().to_string(), path)
            })
            .collect(),
    })
}
