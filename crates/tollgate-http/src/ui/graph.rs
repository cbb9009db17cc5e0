//! The dependency graph of the catalog page.
//!
//! Until the layered SVG drawing lands, the graph is written as a nested list of dependencies.

use tollgate_core::service::Service;

/// The catalog's dependency graph as HTML (every name escaped).
pub(crate) fn draw(services: &[Service]) -> String {
    let mut html = String::from("<ul class=\"plain\">");
    for service in services {
        let dependencies: Vec<String> = service.depends_on.iter().map(|name| escape(name.as_str())).collect();
        html.push_str(&format!(
            "<li>{} → {}</li>",
            escape(service.name.as_str()),
            if dependencies.is_empty() { "nothing".to_owned() } else { dependencies.join(", ") }
        ));
    }
    html.push_str("</ul>");
    html
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
