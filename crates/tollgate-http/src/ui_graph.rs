//! The catalog's service dependency graph, drawn on the server as an SVG document.
//!
//! [`dependency_graph_svg`] turns services and their "depends on" edges into an `<svg>` element
//! for the catalog page to embed inline: every service is a link to its row
//! (`/catalog#service-NAME`), drawn above the services it depends on, with an arrow from the
//! dependent down to the dependency. It owns the layout and the markup; it does not read the
//! catalog, choose which services to show, or style anything beyond neutral fallbacks.
//!
//! The layout (module `layout`) is a simplified Sugiyama layering, deterministic for a given set
//! of nodes and edges whatever their order; 500 services with 1,500 dependencies take
//! milliseconds.
//!
//! The `<svg>` is a named `role="group"` described by its `<desc>` ("12 services, 15
//! dependencies. ..."), not a `role="img"`: an image's children are presentational, so the links
//! inside it would be focusable yet hidden from assistive technology (axe's
//! `nested-interactive`). Each link's `<title>` names the service, its team and criticality. The
//! element ids are fixed ([`TITLE_ID`], [`DESC_ID`], [`ARROW_ID`]), so a page holds one graph.
//!
//! The markup uses classes, never a `style` attribute or a `<style>` element, which the
//! Content-Security-Policy (`style-src 'self'`) forbids. A few presentation attributes (`fill`,
//! `stroke`, `font-size`) keep the picture readable where the stylesheet is missing; any
//! stylesheet rule overrides them. Suggested rules:
//!
//! ```css
//! .dependency-graph { max-width: 100%; height: auto; }
//! .dependency-graph .node rect { fill: #fff; stroke: #6e7781; stroke-width: 1.5; }
//! .dependency-graph .node text { font: 13px ui-monospace, SFMono-Regular, Menlo, monospace; fill: #1f2328; }
//! .dependency-graph .node:hover rect, .dependency-graph .node:focus-visible rect { fill: #eef4ff; stroke-width: 3; }
//! .dependency-graph .crit-low rect { stroke: #8c959f; }
//! .dependency-graph .crit-medium rect { stroke: #0969da; }
//! .dependency-graph .crit-high rect { stroke: #bc4c00; stroke-width: 2.5; }
//! .dependency-graph .crit-critical rect { stroke: #cf222e; stroke-width: 3; fill: #fff5f5; }
//! .dependency-graph .edge { fill: none; stroke: #8c959f; stroke-width: 1.25; }
//! .dependency-graph .edge.cycle { stroke: #cf222e; stroke-dasharray: 4 3; }
//! .dependency-graph .arrow { fill: #8c959f; }
//! ```

mod layout;

use std::collections::HashMap;
use std::fmt::{self, Write as _};

use tollgate_core::service::{Criticality, Service};

use layout::{break_cycles, Edge, Layout, NODE_HEIGHT};

/// The `id` of the graph's `<title>`, which names the graph (`aria-labelledby`).
pub const TITLE_ID: &str = "dependency-graph-title";

/// The `id` of the graph's `<desc>`, which counts services and dependencies (`aria-describedby`).
pub const DESC_ID: &str = "dependency-graph-desc";

/// The `id` of the arrowhead marker.
pub const ARROW_ID: &str = "dependency-graph-arrow";

/// A service as the graph shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GraphNode<'a> {
    pub name: &'a str,
    pub team: &'a str,
    pub criticality: Criticality,
}

/// `dependent` depends on `dependency`: an arrow from the dependent down to the dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GraphEdge<'a> {
    pub dependent: &'a str,
    pub dependency: &'a str,
}

impl<'a> From<&'a Service> for GraphNode<'a> {
    fn from(service: &'a Service) -> GraphNode<'a> {
        GraphNode { name: service.name.as_str(), team: service.owner.as_str(), criticality: service.criticality }
    }
}

/// Draws the dependency graph of catalog services: one node per service, one edge per entry of
/// its `depends_on`.
pub fn service_graph_svg(services: &[Service]) -> String {
    let nodes: Vec<GraphNode<'_>> = services.iter().map(GraphNode::from).collect();
    let edges: Vec<GraphEdge<'_>> = services
        .iter()
        .flat_map(|service| {
            service
                .depends_on
                .iter()
                .map(|dependency| GraphEdge { dependent: service.name.as_str(), dependency: dependency.as_str() })
        })
        .collect();
    dependency_graph_svg(&nodes, &edges)
}

/// Draws a dependency graph as an SVG document (an `<svg>` element with its namespace, ready to
/// embed in HTML or to serve as `image/svg+xml`).
///
/// Nodes are taken by name: of several nodes with one name, the least (by team, then
/// criticality) is drawn. An edge naming a node that is not given is left out, as is a repeated
/// edge. The output depends only on the set of nodes and edges, not on their order.
///
/// A dependency cycle cannot be stored in the catalog, but one given here is broken, never looped
/// on: a depth-first search from the nodes in name order, following dependencies in name order,
/// sets aside every edge that closes a cycle (a self-dependency included). Those edges take no
/// part in the layering and are drawn last, pointing up (a self-dependency as a loop on the
/// node's right), with the classes `edge cycle`; the description counts them.
pub fn dependency_graph_svg(nodes: &[GraphNode<'_>], edges: &[GraphEdge<'_>]) -> String {
    let graph = Graph::new(nodes, edges);
    let node_widths = graph.nodes.iter().map(|node| node_width(node.name)).collect();
    let layout = Layout::new(node_widths, &graph.edges);
    render(&graph, &layout)
}

/// The width of one character of a label, assuming a monospace font at [`FONT_SIZE`] (an
/// advance of 0.6 em); proportional fonts are narrower on average, so labels fit.
const CHAR_WIDTH: f64 = 7.8;
const FONT_SIZE: f64 = 13.0;
const NODE_PADDING: f64 = 12.0;
const NODE_MIN_WIDTH: f64 = 48.0;
/// How far a self-dependency's loop reaches right of its node.
const LOOP_REACH: f64 = 24.0;

/// The nodes and edges to draw, checked and sorted.
struct Graph<'a> {
    /// Sorted by name, one node per name.
    nodes: Vec<GraphNode<'a>>,
    /// Sorted, without repeats; no cycle among them.
    edges: Vec<Edge>,
    /// Edges set aside to break cycles, self-dependencies included.
    cycle_edges: Vec<Edge>,
}

impl<'a> Graph<'a> {
    fn new(nodes: &[GraphNode<'a>], edges: &[GraphEdge<'_>]) -> Graph<'a> {
        let mut nodes = nodes.to_vec();
        nodes.sort_unstable();
        nodes.dedup_by(|later, earlier| later.name == earlier.name);
        let index: HashMap<&str, usize> = nodes.iter().enumerate().map(|(i, node)| (node.name, i)).collect();
        let mut pairs: Vec<Edge> =
            edges.iter().filter_map(|edge| Some((*index.get(edge.dependent)?, *index.get(edge.dependency)?))).collect();
        pairs.sort_unstable();
        pairs.dedup();
        let (edges, cycle_edges) = break_cycles(nodes.len(), pairs);
        Graph { nodes, edges, cycle_edges }
    }
}

fn node_width(name: &str) -> f64 {
    (name.chars().count() as f64 * CHAR_WIDTH + 2.0 * NODE_PADDING).max(NODE_MIN_WIDTH)
}

fn render(graph: &Graph<'_>, layout: &Layout) -> String {
    let mut svg = String::with_capacity(256 + 320 * graph.nodes.len() + 160 * graph.edges.len());
    let loop_reach = if graph.cycle_edges.iter().any(|(from, to)| from == to) { LOOP_REACH } else { 0.0 };
    let (width, height) = (Number(layout.total_width + loop_reach), Number(layout.total_height));
    // Writing to a String cannot fail, so the results of `write!` below are ignored.
    let _ = writeln!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="dependency-graph" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="group" aria-labelledby="{TITLE_ID}" aria-describedby="{DESC_ID}" font-size="{size}" font-family="ui-monospace, monospace">"##,
        size = Number(FONT_SIZE),
    );
    let _ = writeln!(svg, r#"<title id="{TITLE_ID}">Service dependency graph</title>"#);
    let _ = writeln!(svg, r#"<desc id="{DESC_ID}">{}</desc>"#, describe(graph));
    let _ = writeln!(
        svg,
        r##"<defs><marker id="{ARROW_ID}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" markerUnits="userSpaceOnUse" orient="auto"><path class="arrow" d="M0,0L10,5L0,10z" fill="#8c959f"/></marker></defs>"##
    );
    let _ = writeln!(svg, r##"<g class="edges" fill="none" stroke="#8c959f">"##);
    for route in &layout.routes {
        render_route(&mut svg, layout, route);
    }
    for &(dependent, dependency) in &graph.cycle_edges {
        render_cycle_edge(&mut svg, layout, dependent, dependency);
    }
    let _ = writeln!(svg, "</g>");
    let _ = writeln!(svg, r#"<g class="nodes">"#);
    for (index, node) in graph.nodes.iter().enumerate() {
        render_node(&mut svg, layout, index, node);
    }
    let _ = writeln!(svg, "</g>");
    let _ = writeln!(svg, "</svg>");
    svg
}

fn describe(graph: &Graph<'_>) -> String {
    let n_dependencies = graph.edges.len() + graph.cycle_edges.len();
    let mut text = format!(
        "{}, {}. Each service is drawn above the services it depends on.",
        counted(graph.nodes.len(), "service", "services"),
        counted(n_dependencies, "dependency", "dependencies"),
    );
    match graph.cycle_edges.len() {
        0 => {}
        1 => text.push_str(" 1 dependency closes a cycle and is drawn pointing up."),
        n => {
            let _ = write!(text, " {n} dependencies close cycles and are drawn pointing up.");
        }
    }
    text
}

fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn render_route(svg: &mut String, layout: &Layout, route: &[usize]) {
    let [first, ref dummies @ .., last] = route[..] else {
        // A route holds its dependent and its dependency at least; anything shorter draws nothing.
        return;
    };
    let second = dummies.first().copied().unwrap_or(last);
    let before_last = dummies.last().copied().unwrap_or(first);
    let mut from = (layout.port(first, &layout.down[first], second), layout.bottom(first));
    let _ = write!(svg, r#"<path class="edge" d="M{},{}"#, Number(from.0), Number(from.1));
    for &dummy in dummies {
        let to = (layout.x[dummy], layout.top(dummy));
        curve(svg, from, to);
        from = (to.0, layout.bottom(dummy));
        let _ = write!(svg, "L{},{}", Number(from.0), Number(from.1));
    }
    let to = (layout.port(last, &layout.up[last], before_last), layout.top(last));
    curve(svg, from, to);
    let _ = writeln!(svg, r#"" marker-end="url(#{ARROW_ID})"/>"#);
}

/// A cubic curve leaving `from` and reaching `to` vertically.
fn curve(svg: &mut String, from: (f64, f64), to: (f64, f64)) {
    let middle = Number((from.1 + to.1) / 2.0);
    let _ = write!(svg, "C{},{} {},{} {},{}", Number(from.0), middle, Number(to.0), middle, Number(to.0), Number(to.1));
}

fn render_cycle_edge(svg: &mut String, layout: &Layout, dependent: usize, dependency: usize) {
    let _ = write!(svg, r#"<path class="edge cycle" d="M"#);
    if dependent == dependency {
        let right = layout.x[dependent] + layout.width[dependent] / 2.0;
        let (top, bottom) = (layout.top(dependent), layout.bottom(dependent));
        let _ = write!(
            svg,
            "{},{}C{},{} {},{} {},{}",
            Number(right),
            Number(top + 8.0),
            Number(right + LOOP_REACH),
            Number(top - 4.0),
            Number(right + LOOP_REACH),
            Number(bottom + 4.0),
            Number(right),
            Number(bottom - 8.0)
        );
    } else {
        let from = (layout.x[dependent], layout.top(dependent));
        let to = (layout.x[dependency], layout.bottom(dependency));
        let _ = write!(svg, "{},{}", Number(from.0), Number(from.1));
        curve(svg, from, to);
    }
    let _ = writeln!(svg, r#"" marker-end="url(#{ARROW_ID})"/>"#);
}

fn render_node(svg: &mut String, layout: &Layout, index: usize, node: &GraphNode<'_>) {
    let (centre, top, width) = (layout.x[index], layout.top(index), layout.width[index]);
    let _ = writeln!(
        svg,
        r##"<a class="node crit-{criticality}" href="/catalog#service-{anchor}"><title>{name}: team {team}, criticality {criticality}</title><rect x="{x}" y="{y}" width="{width}" height="{height}" rx="4" fill="#fff" stroke="#57606a"/><text x="{centre}" y="{baseline}" text-anchor="middle">{name}</text></a>"##,
        criticality = node.criticality.as_str(),
        anchor = PercentEncoded(node.name),
        name = Escaped(node.name),
        team = Escaped(node.team),
        x = Number(centre - width / 2.0),
        y = Number(top),
        width = Number(width),
        height = Number(NODE_HEIGHT),
        centre = Number(centre),
        baseline = Number(top + NODE_HEIGHT / 2.0 + FONT_SIZE * 0.35),
    );
}

/// A coordinate, rounded to a tenth and written without a trailing `.0`.
struct Number(f64);

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Written as whole tenths: formatting integers is several times faster than floats, and
        // a large graph writes tens of thousands of coordinates.
        let tenths = (self.0 * 10.0).round() as i64;
        let (whole, tenth) = (tenths / 10, (tenths % 10).abs());
        if tenths < 0 && whole == 0 {
            f.write_char('-')?;
        }
        write!(f, "{whole}")?;
        if tenth != 0 {
            write!(f, ".{tenth}")?;
        }
        Ok(())
    }
}

/// Text escaped for XML content and attribute values alike.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for character in self.0.chars() {
            match character {
                '&' => f.write_str("&amp;")?,
                '<' => f.write_str("&lt;")?,
                '>' => f.write_str("&gt;")?,
                '"' => f.write_str("&quot;")?,
                '\'' => f.write_str("&#39;")?,
                other => f.write_char(other)?,
            }
        }
        Ok(())
    }
}

/// Text percent-encoded for a URL fragment: every byte but RFC 3986's unreserved characters.
/// The result needs no further escaping in an attribute.
struct PercentEncoded<'a>(&'a str);

impl fmt::Display for PercentEncoded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &byte in self.0.as_bytes() {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                f.write_char(char::from(byte))?;
            } else {
                write!(f, "%{byte:02X}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use quick_xml::escape::resolve_predefined_entity;
    use quick_xml::events::{BytesStart, Event};
    use quick_xml::{Reader, XmlVersion};
    use tollgate_core::service::ServiceInput;

    use super::*;

    fn node(name: &str) -> GraphNode<'_> {
        GraphNode { name, team: "platform", criticality: Criticality::Medium }
    }

    fn edges<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<GraphEdge<'a>> {
        pairs.iter().map(|&(dependent, dependency)| GraphEdge { dependent, dependency }).collect()
    }

    #[test]
    fn a_cycle_is_drawn_pointing_up_and_named_in_the_description() {
        let check = |pairs: &[(&str, &str)], n_cycle_edges: usize, description: &str| {
            let svg = dependency_graph_svg(&[node("a"), node("b"), node("c")], &edges(pairs));
            assert_eq!(svg.matches(r#"<path class="edge cycle""#).count(), n_cycle_edges, "{pairs:?}");
            let parsed = parse(&svg);
            assert_eq!(parsed.elements_named("path").count(), pairs.len() + 1, "edges and the arrowhead");
            assert_eq!(parsed.text_of("desc"), description);
        };
        check(
            &[("a", "b"), ("b", "c"), ("c", "a")],
            1,
            "3 services, 3 dependencies. Each service is drawn above the services it depends on. \
             1 dependency closes a cycle and is drawn pointing up.",
        );
        check(
            &[("a", "a"), ("b", "c"), ("c", "b")],
            2,
            "3 services, 3 dependencies. Each service is drawn above the services it depends on. \
             2 dependencies close cycles and are drawn pointing up.",
        );
    }

    #[test]
    fn coordinates_are_written_in_tenths() {
        let check = |value: f64, expected: &str| assert_eq!(Number(value).to_string(), expected, "{value}");
        check(0.0, "0");
        check(-0.0, "0");
        check(-0.04, "0");
        check(12.0, "12");
        check(12.25, "12.3");
        check(129.64, "129.6");
        check(-0.5, "-0.5");
        check(-12.34, "-12.3");
        check(-20.0, "-20");
    }

    #[test]
    fn names_and_teams_are_escaped_in_text_and_attributes() {
        let name = r#"a<b&"c'>"#;
        let team = "<script>alert(1)</script>";
        let nodes = [GraphNode { name, team, criticality: Criticality::Critical }, node("plain")];
        let svg = dependency_graph_svg(&nodes, &edges(&[(name, "plain")]));
        assert!(!svg.contains("<b") && !svg.contains("<script"), "{svg}");
        assert!(svg.contains("a&lt;b&amp;&quot;c&#39;&gt;"), "{svg}");
        let parsed = parse(&svg);
        let link = parsed
            .elements_named("a")
            .find(|attributes| attributes.get("class").is_some_and(|class| class.ends_with("crit-critical")));
        let link = link.expect("the critical service's link");
        assert_eq!(link["href"], "/catalog#service-a%3Cb%26%22c%27%3E");
        assert!(parsed.texts.contains(&("text".to_owned(), name.to_owned())), "{:?}", parsed.texts);
        let tooltip = format!("{name}: team {team}, criticality critical");
        assert!(parsed.texts.contains(&("title".to_owned(), tooltip)), "{:?}", parsed.texts);
    }

    #[test]
    fn the_same_graph_in_any_order_renders_the_same_document() {
        let names = ["web", "api", "db", "cache", "queue", "worker"];
        let pairs = [("web", "api"), ("api", "db"), ("worker", "queue"), ("worker", "db"), ("api", "cache")];
        let nodes: Vec<_> = names.iter().map(|name| node(name)).collect();
        let first = dependency_graph_svg(&nodes, &edges(&pairs));
        let reversed_nodes: Vec<_> = nodes.iter().rev().copied().collect();
        let mut shuffled_pairs: Vec<_> = pairs.iter().rev().copied().collect();
        shuffled_pairs.extend_from_slice(&pairs[..2]);
        let second = dependency_graph_svg(&reversed_nodes, &edges(&shuffled_pairs));
        assert_eq!(first, second);
    }

    #[test]
    fn unknown_services_and_repeated_names_are_left_out() {
        let nodes = [
            GraphNode { name: "api", team: "web", criticality: Criticality::High },
            GraphNode { name: "api", team: "core", criticality: Criticality::Low },
            node("db"),
        ];
        let svg = dependency_graph_svg(&nodes, &edges(&[("api", "db"), ("api", "gone"), ("gone", "db")]));
        let parsed = parse(&svg);
        assert_eq!(parsed.elements_named("a").count(), 2);
        assert!(parsed.texts.contains(&("title".to_owned(), "api: team core, criticality low".to_owned())));
        assert_eq!(
            parsed.text_of("desc"),
            "2 services, 1 dependency. Each service is drawn above the services it depends on."
        );
    }

    #[test]
    fn catalog_services_are_drawn_with_their_dependencies() {
        let service = |name: &str, owner: &str, criticality: &str, depends_on: &[&str]| {
            ServiceInput {
                name: name.to_owned(),
                owner: owner.to_owned(),
                criticality: Some(criticality.to_owned()),
                depends_on: depends_on.iter().map(|&name| name.to_owned()).collect(),
                description: None,
                labels: Vec::new(),
                deploy: None,
            }
            .parse()
            .expect("a valid service")
        };
        let services = [
            service("checkout", "shop", "critical", &["ledger", "payments"]),
            service("ledger", "payments", "high", &[]),
            service("payments", "payments", "high", &["ledger"]),
        ];
        let svg = service_graph_svg(&services);
        let parsed = parse(&svg);
        let classes: Vec<&str> = parsed.elements_named("a").map(|attributes| attributes["class"].as_str()).collect();
        assert_eq!(classes, ["node crit-critical", "node crit-high", "node crit-high"]);
        let tops: Vec<&str> = parsed.elements_named("rect").map(|attributes| attributes["y"].as_str()).collect();
        assert_eq!(tops, ["24", "196", "110"], "checkout above payments above ledger");
        assert_eq!(
            parsed.text_of("desc"),
            "3 services, 3 dependencies. Each service is drawn above the services it depends on."
        );
    }

    #[test]
    fn a_small_graph_renders_as_in_the_snapshot() {
        let nodes = [
            GraphNode { name: "web", team: "storefront", criticality: Criticality::High },
            GraphNode { name: "api", team: "storefront", criticality: Criticality::Critical },
            GraphNode { name: "db", team: "platform", criticality: Criticality::Low },
        ];
        let svg = dependency_graph_svg(&nodes, &edges(&[("web", "api"), ("api", "db"), ("web", "db")]));
        insta::assert_snapshot!(svg, @r##"
        <svg xmlns="http://www.w3.org/2000/svg" class="dependency-graph" width="113" height="250" viewBox="0 0 113 250" role="group" aria-labelledby="dependency-graph-title" aria-describedby="dependency-graph-desc" font-size="13" font-family="ui-monospace, monospace">
        <title id="dependency-graph-title">Service dependency graph</title>
        <desc id="dependency-graph-desc">3 services, 3 dependencies. Each service is drawn above the services it depends on.</desc>
        <defs><marker id="dependency-graph-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" markerUnits="userSpaceOnUse" orient="auto"><path class="arrow" d="M0,0L10,5L0,10z" fill="#8c959f"/></marker></defs>
        <g class="edges" fill="none" stroke="#8c959f">
        <path class="edge" d="M48,140C48,168 57,168 57,196" marker-end="url(#dependency-graph-arrow)"/>
        <path class="edge" d="M57,54C57,82 48,82 48,110" marker-end="url(#dependency-graph-arrow)"/>
        <path class="edge" d="M73,54C73,82 82,82 82,110L82,140C82,168 73,168 73,196" marker-end="url(#dependency-graph-arrow)"/>
        </g>
        <g class="nodes">
        <a class="node crit-critical" href="/catalog#service-api"><title>api: team storefront, criticality critical</title><rect x="24" y="110" width="48" height="30" rx="4" fill="#fff" stroke="#57606a"/><text x="48" y="129.6" text-anchor="middle">api</text></a>
        <a class="node crit-low" href="/catalog#service-db"><title>db: team platform, criticality low</title><rect x="41" y="196" width="48" height="30" rx="4" fill="#fff" stroke="#57606a"/><text x="65" y="215.6" text-anchor="middle">db</text></a>
        <a class="node crit-high" href="/catalog#service-web"><title>web: team storefront, criticality high</title><rect x="41" y="24" width="48" height="30" rx="4" fill="#fff" stroke="#57606a"/><text x="65" y="43.6" text-anchor="middle">web</text></a>
        </g>
        </svg>
        "##);
    }

    #[test]
    fn every_document_is_well_formed_xml_with_one_link_per_service() {
        let check = |names: &[&str], pairs: &[(&str, &str)]| {
            let nodes: Vec<_> = names.iter().map(|name| node(name)).collect();
            let parsed = parse(&dependency_graph_svg(&nodes, &edges(pairs)));
            let root = &parsed.elements[0];
            assert_eq!((root.0.as_str(), root.1["xmlns"].as_str()), ("svg", "http://www.w3.org/2000/svg"));
            assert_eq!(root.1["aria-labelledby"], TITLE_ID);
            assert_eq!(parsed.elements_named("a").count(), names.len(), "{names:?}");
            assert_eq!(parsed.elements_named("path").count(), pairs.len() + 1, "{pairs:?}");
            let summary = format!("{} service", names.len());
            assert!(parsed.text_of("desc").starts_with(&summary), "{names:?}");
        };
        check(&[], &[]);
        check(&["solo"], &[]);
        check(&["a", "b", "c"], &[("a", "b"), ("b", "c"), ("a", "c")]);
        check(&["a", "b"], &[("a", "a"), ("a", "b"), ("b", "a")]);
        check(&["<&>", "\"'"], &[("<&>", "\"'")]);
    }

    #[test]
    fn five_hundred_services_render_to_a_bounded_document() {
        let (names, pairs) = large_catalog(500, 1500);
        let nodes: Vec<_> = names.iter().map(|name| node(name)).collect();
        let edge_list: Vec<_> =
            pairs.iter().map(|&(from, to)| GraphEdge { dependent: &names[from], dependency: &names[to] }).collect();
        let n_distinct = pairs.iter().collect::<BTreeSet<_>>().len();
        let svg = dependency_graph_svg(&nodes, &edge_list);
        assert!(svg.len() < 1_000_000, "{} bytes", svg.len());
        let parsed = parse(&svg);
        assert_eq!(parsed.elements_named("a").count(), 500);
        assert_eq!(parsed.elements_named("path").count(), n_distinct + 1);
    }

    /// A deterministic catalog: services in eight tiers, each depending on services in lower
    /// tiers, mostly the next one, as real catalogs do.
    fn large_catalog(n_services: usize, n_edges: usize) -> (Vec<String>, Vec<Edge>) {
        let names = (0..n_services).map(|index| format!("service-{index:03}")).collect();
        let mut state: u64 = 0x5eed;
        let mut random = move |below: usize| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as usize % below
        };
        let tier_size = n_services.div_ceil(8);
        let mut pairs = Vec::with_capacity(n_edges);
        while pairs.len() < n_edges {
            let dependent = random(n_services - tier_size);
            let first_below = (dependent / tier_size + 1) * tier_size;
            let reach = if random(4) == 0 { n_services - first_below } else { tier_size.min(n_services - first_below) };
            pairs.push((dependent, first_below + random(reach)));
        }
        (names, pairs)
    }

    /// What a test reads back from a rendered document.
    #[derive(Debug, Default)]
    struct Parsed {
        /// Every element's name and attributes, in document order.
        elements: Vec<(String, BTreeMap<String, String>)>,
        /// Every element's name and its text, in the order the elements close.
        texts: Vec<(String, String)>,
    }

    impl Parsed {
        fn elements_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a BTreeMap<String, String>> + 'a {
            self.elements.iter().filter(move |(element, _)| element == name).map(|(_, attributes)| attributes)
        }

        fn text_of(&self, name: &str) -> &str {
            self.texts.iter().find(|(element, _)| element == name).map_or("", |(_, text)| text.as_str())
        }
    }

    /// Reads a document as XML, failing the test when it is not well formed.
    fn parse(svg: &str) -> Parsed {
        let mut reader = Reader::from_str(svg);
        let mut parsed = Parsed::default();
        let mut open: Vec<(String, String)> = Vec::new();
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Start(start) => {
                    let element = element(&start);
                    open.push((element.0.clone(), String::new()));
                    parsed.elements.push(element);
                }
                Event::Empty(start) => parsed.elements.push(element(&start)),
                Event::Text(text) => {
                    if let Some((_, content)) = open.last_mut() {
                        content.push_str(&text.decode().expect("UTF-8"));
                    }
                }
                Event::GeneralRef(reference) => {
                    let resolved = match reference.resolve_char_ref().expect("a valid character reference") {
                        Some(character) => character.to_string(),
                        None => resolve_predefined_entity(&reference.decode().expect("UTF-8"))
                            .expect("a predefined entity")
                            .to_owned(),
                    };
                    if let Some((_, content)) = open.last_mut() {
                        content.push_str(&resolved);
                    }
                }
                Event::End(_) => parsed.texts.push(open.pop().expect("an open element")),
                Event::Eof => break,
                _ => {}
            }
        }
        assert!(open.is_empty(), "unclosed elements: {open:?}");
        assert_eq!(parsed.texts.last().map(|(name, _)| name.as_str()), Some("svg"), "one root element");
        parsed
    }

    fn element(start: &BytesStart<'_>) -> (String, BTreeMap<String, String>) {
        let name = String::from_utf8(start.name().as_ref().to_vec()).expect("UTF-8 name");
        let attributes = start
            .attributes()
            .map(|attribute| {
                let attribute = attribute.expect("a well-formed attribute");
                let key = String::from_utf8(attribute.key.as_ref().to_vec()).expect("UTF-8 key");
                let value = attribute.normalized_value(XmlVersion::Implicit1_0).expect("a well-formed value");
                (key, value.into_owned())
            })
            .collect();
        (name, attributes)
    }
}
