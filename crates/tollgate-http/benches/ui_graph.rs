//! Time to lay out and draw the catalog's dependency graph: `cargo bench -p tollgate-http
//! --bench ui_graph`. Prints the median of eleven runs for each shape of a 500-service,
//! 1,500-dependency catalog.
//!
//! Two shapes bracket real catalogs: "tiered" puts services in eight tiers, each depending mostly
//! on the next tier and sometimes on any lower one (short edges, few layers); "random" lets a
//! service depend on any service after it in name order (long edges, many layers, many dummy
//! points), a harder case than a catalog is likely to be.

use std::hint::black_box;
use std::time::{Duration, Instant};

use tollgate_core::service::Criticality;
use tollgate_http::ui_graph::{dependency_graph_svg, GraphEdge, GraphNode};

const N_SERVICES: usize = 500;
const N_EDGES: usize = 1500;
const RUNS: usize = 11;

fn main() {
    let names: Vec<String> = (0..N_SERVICES).map(|index| format!("service-{index:03}")).collect();
    let teams = ["payments", "storefront", "platform", "discovery", "supply-chain"];
    let criticalities = [Criticality::Low, Criticality::Medium, Criticality::High, Criticality::Critical];
    let nodes: Vec<GraphNode<'_>> = names
        .iter()
        .enumerate()
        .map(|(index, name)| GraphNode {
            name,
            team: teams[index % teams.len()],
            criticality: criticalities[index % criticalities.len()],
        })
        .collect();
    for (shape, pairs) in [("tiered", tiered(N_SERVICES, N_EDGES)), ("random", random_dag(N_SERVICES, N_EDGES))] {
        let edges: Vec<GraphEdge<'_>> = pairs
            .iter()
            .map(|&(dependent, dependency)| GraphEdge { dependent: &names[dependent], dependency: &names[dependency] })
            .collect();
        let bytes = dependency_graph_svg(&nodes, &edges).len();
        let mut durations: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let started = Instant::now();
                black_box(dependency_graph_svg(black_box(&nodes), black_box(&edges)));
                started.elapsed()
            })
            .collect();
        durations.sort();
        let millis: Vec<String> =
            durations.iter().map(|duration| format!("{:.2}", duration.as_secs_f64() * 1000.0)).collect();
        println!(
            "ui_graph {shape}: {N_SERVICES} services, {N_EDGES} dependencies, {} KB of SVG; \
             median {:.2} ms (runs in ms, sorted: {})",
            bytes / 1024,
            durations[RUNS / 2].as_secs_f64() * 1000.0,
            millis.join(", ")
        );
    }
}

struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: usize) -> usize {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as usize % bound
    }
}

fn tiered(n_services: usize, n_edges: usize) -> Vec<(usize, usize)> {
    let mut random = Lcg(0x5eed);
    let tier_size = n_services.div_ceil(8);
    (0..n_edges)
        .map(|_| {
            let dependent = random.below(n_services - tier_size);
            let first_below = (dependent / tier_size + 1) * tier_size;
            let reach =
                if random.below(4) == 0 { n_services - first_below } else { tier_size.min(n_services - first_below) };
            (dependent, first_below + random.below(reach))
        })
        .collect()
}

fn random_dag(n_services: usize, n_edges: usize) -> Vec<(usize, usize)> {
    let mut random = Lcg(0xda6);
    (0..n_edges)
        .map(|_| {
            let dependent = random.below(n_services - 1);
            (dependent, dependent + 1 + random.below(n_services - 1 - dependent))
        })
        .collect()
}
