//! A layered drawing of a directed acyclic graph, top to bottom: the positions of its nodes and
//! the points its edges pass. Knows nothing of services or SVG; it is given node widths and
//! edges, and measures in the same units as those widths.
//!
//! A simplified Sugiyama layering, deterministic for given inputs:
//! 1. [`break_cycles`] sets aside the edges that close cycles, so the rest can be layered.
//! 2. A node's layer is the length of the longest path to it from a node no edge enters.
//! 3. An edge spanning several layers passes a dummy point in each layer between, so it bends
//!    around nodes rather than crossing them.
//! 4. Barycenter sweeps order each layer to reduce crossings; the order with the fewest crossings
//!    seen is kept.
//! 5. Alternating passes pull each layer toward its neighbours in the next one: the least-squares
//!    positions that keep the order and the spacing (pool adjacent violators).
//!
//! With V nodes, E edges and D dummy points (at most E times the number of layers), it costs
//! O((V + D + E) · log(V + D) · sweeps) time and O(V + D + E) memory.

use std::collections::VecDeque;

pub(super) const NODE_HEIGHT: f64 = 30.0;
const LAYER_GAP: f64 = 56.0;
/// The horizontal space between two nodes in one layer.
const NODE_GAP: f64 = 24.0;
/// The horizontal space between an edge's dummy point and its neighbour in the layer.
const DUMMY_GAP: f64 = 10.0;
const MARGIN: f64 = 24.0;
/// Barycenter sweeps, each one down the layers and one up.
const ORDER_SWEEPS: usize = 4;
/// Placement passes, each one down the layers and one up.
const PLACEMENT_PASSES: usize = 4;

/// An edge as `(upper, lower)` node indices: the upper node is drawn above the lower one.
pub(super) type Edge = (usize, usize);

/// Where everything goes. Vertices are the nodes (same indices) followed by the dummy points of
/// edges that span more than one layer.
pub(super) struct Layout {
    /// Layer 0 is at the top.
    pub(super) layer_of: Vec<usize>,
    pub(super) width: Vec<f64>,
    /// Each vertex's neighbours in the layer above, left to right.
    pub(super) up: Vec<Vec<usize>>,
    /// Each vertex's neighbours in the layer below, left to right.
    pub(super) down: Vec<Vec<usize>>,
    /// For each edge, in order, the vertices it passes from its upper to its lower node.
    pub(super) routes: Vec<Vec<usize>>,
    /// Horizontal centre of each vertex; the leftmost edge of any vertex is at the margin.
    pub(super) x: Vec<f64>,
    /// The drawing's size, margins included.
    pub(super) total_width: f64,
    pub(super) total_height: f64,
}

impl Layout {
    /// Lays out nodes of the given widths joined by `edges`: `(upper, lower)` node indices,
    /// sorted, without repeats and without a cycle, as [`break_cycles`] leaves them.
    pub(super) fn new(node_widths: Vec<f64>, edges: &[Edge]) -> Layout {
        debug_assert!(edges.is_sorted(), "edges are sorted");
        let n_nodes = node_widths.len();
        let mut layer_of = assign_layers(n_nodes, edges);
        let mut width = node_widths;
        let mut up = vec![Vec::new(); n_nodes];
        let mut down = vec![Vec::new(); n_nodes];
        let mut routes = Vec::with_capacity(edges.len());
        for &(upper, lower) in edges {
            let mut route = vec![upper];
            for layer in layer_of[upper] + 1..layer_of[lower] {
                route.push(layer_of.len());
                layer_of.push(layer);
                width.push(0.0);
                up.push(Vec::new());
                down.push(Vec::new());
            }
            route.push(lower);
            for pair in route.windows(2) {
                down[pair[0]].push(pair[1]);
                up[pair[1]].push(pair[0]);
            }
            routes.push(route);
        }
        let n_layers = layer_of.iter().max().map_or(0, |last| last + 1);
        let mut layers = vec![Vec::new(); n_layers];
        for (vertex, &layer) in layer_of.iter().enumerate() {
            layers[layer].push(vertex);
        }
        order_layers(&mut layers, &up, &down);
        let mut x = place(&layers, &width, n_nodes, &up, &down);
        for neighbours in up.iter_mut().chain(down.iter_mut()) {
            neighbours.sort_by(|a, b| x[*a].total_cmp(&x[*b]).then(a.cmp(b)));
        }
        let left = (0..x.len()).map(|v| x[v] - width[v] / 2.0).fold(f64::INFINITY, f64::min);
        let shift = if left.is_finite() { MARGIN - left } else { 0.0 };
        x.iter_mut().for_each(|centre| *centre += shift);
        let right = (0..x.len()).map(|v| x[v] + width[v] / 2.0).fold(MARGIN, f64::max);
        let layers_height = match n_layers {
            0 => 0.0,
            n => n as f64 * NODE_HEIGHT + (n - 1) as f64 * LAYER_GAP,
        };
        Layout {
            layer_of,
            width,
            up,
            down,
            routes,
            x,
            total_width: right + MARGIN,
            total_height: layers_height + 2.0 * MARGIN,
        }
    }

    pub(super) fn top(&self, vertex: usize) -> f64 {
        MARGIN + self.layer_of[vertex] as f64 * (NODE_HEIGHT + LAYER_GAP)
    }

    pub(super) fn bottom(&self, vertex: usize) -> f64 {
        self.top(vertex) + NODE_HEIGHT
    }

    /// Where an edge to `neighbour` leaves or enters `vertex`: edges spread evenly over the
    /// node's width in the order of their other ends, so they do not cross at the node.
    pub(super) fn port(&self, vertex: usize, neighbours: &[usize], neighbour: usize) -> f64 {
        let index = neighbours.iter().position(|&other| other == neighbour).unwrap_or(0);
        let left = self.x[vertex] - self.width[vertex] / 2.0;
        left + self.width[vertex] * (index + 1) as f64 / (neighbours.len() + 1) as f64
    }
}

/// Splits sorted edges into those kept, which form no cycle, and those set aside. An iterative
/// depth-first search runs from every node in index order, following edges in their order; an
/// edge to a node still on the search path closes a cycle and is set aside (a self-loop
/// included). Each edge is followed once, so this ends on any input.
pub(super) fn break_cycles(n_nodes: usize, edges: Vec<Edge>) -> (Vec<Edge>, Vec<Edge>) {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let first_edge = first_edge_of(n_nodes, &edges);
    let mut marks = vec![Mark::New; n_nodes];
    let mut closes_cycle = vec![false; edges.len()];
    // Each entry is a node on the search path and the index of its next edge to follow.
    let mut path: Vec<(usize, usize)> = Vec::new();
    for root in 0..n_nodes {
        if marks[root] != Mark::New {
            continue;
        }
        marks[root] = Mark::Open;
        path.push((root, first_edge[root]));
        while let Some(entry) = path.last_mut() {
            let (node, next_edge) = *entry;
            if next_edge == first_edge[node + 1] {
                marks[node] = Mark::Done;
                path.pop();
                continue;
            }
            entry.1 += 1;
            let target = edges[next_edge].1;
            match marks[target] {
                Mark::New => {
                    marks[target] = Mark::Open;
                    path.push((target, first_edge[target]));
                }
                Mark::Open => closes_cycle[next_edge] = true,
                Mark::Done => {}
            }
        }
    }
    let (kept, cycle): (Vec<_>, Vec<_>) = edges.into_iter().zip(closes_cycle).partition(|(_, closes)| !closes);
    (kept.into_iter().map(|(edge, _)| edge).collect(), cycle.into_iter().map(|(edge, _)| edge).collect())
}

/// For edges sorted by their first node, the index of each node's first edge; node `n`'s edges
/// are `first_edge[n]..first_edge[n + 1]`.
fn first_edge_of(n_nodes: usize, edges: &[Edge]) -> Vec<usize> {
    let mut first_edge = vec![0; n_nodes + 1];
    for &(from, _) in edges {
        first_edge[from + 1] += 1;
    }
    for node in 0..n_nodes {
        first_edge[node + 1] += first_edge[node];
    }
    first_edge
}

/// The layer of each node: the length of the longest path reaching it, in topological order
/// (Kahn's algorithm). Edges must be sorted and acyclic.
fn assign_layers(n_nodes: usize, edges: &[Edge]) -> Vec<usize> {
    let first_edge = first_edge_of(n_nodes, edges);
    let mut in_degree = vec![0usize; n_nodes];
    for &(_, to) in edges {
        in_degree[to] += 1;
    }
    let mut ready: VecDeque<usize> = (0..n_nodes).filter(|&node| in_degree[node] == 0).collect();
    let mut layer = vec![0; n_nodes];
    while let Some(node) = ready.pop_front() {
        for &(_, to) in &edges[first_edge[node]..first_edge[node + 1]] {
            layer[to] = layer[to].max(layer[node] + 1);
            in_degree[to] -= 1;
            if in_degree[to] == 0 {
                ready.push_back(to);
            }
        }
    }
    layer
}

/// Orders each layer by barycenter sweeps, keeping the order with the fewest crossings seen.
fn order_layers(layers: &mut [Vec<usize>], up: &[Vec<usize>], down: &[Vec<usize>]) {
    let mut position = vec![0; up.len()];
    for layer in layers.iter() {
        for (index, &vertex) in layer.iter().enumerate() {
            position[vertex] = index;
        }
    }
    let mut best_crossings = count_crossings(layers, down, &position);
    let mut best = layers.to_vec();
    for _ in 0..ORDER_SWEEPS {
        for direction in [Direction::Down, Direction::Up] {
            if best_crossings == 0 {
                break;
            }
            sweep(layers, direction, up, down, &mut position);
            let crossings = count_crossings(layers, down, &position);
            if crossings < best_crossings {
                best_crossings = crossings;
                best.clone_from_slice(layers);
            }
        }
    }
    layers.clone_from_slice(&best);
}

/// Which way a sweep goes, and so which neighbours order a layer.
#[derive(Clone, Copy)]
enum Direction {
    /// From the top: each layer is ordered by its neighbours above.
    Down,
    /// From the bottom: each layer is ordered by its neighbours below.
    Up,
}

fn sweep(
    layers: &mut [Vec<usize>],
    direction: Direction,
    up: &[Vec<usize>],
    down: &[Vec<usize>],
    position: &mut [usize],
) {
    match direction {
        Direction::Down => {
            for index in 1..layers.len() {
                let above = layers[index - 1].len();
                reorder(&mut layers[index], up, above, position);
            }
        }
        Direction::Up => {
            for index in (0..layers.len().saturating_sub(1)).rev() {
                let below = layers[index + 1].len();
                reorder(&mut layers[index], down, below, position);
            }
        }
    }
}

/// Sorts one layer by the mean relative position of each vertex's neighbours in the adjacent
/// layer (of `adjacent_len` vertices); a vertex without neighbours there keeps its own.
fn reorder(layer: &mut [usize], neighbours: &[Vec<usize>], adjacent_len: usize, position: &mut [usize]) {
    let relative = |index: usize, len: usize| (index as f64 + 0.5) / len as f64;
    let mut keyed: Vec<(f64, usize)> = layer
        .iter()
        .map(|&vertex| {
            let around = &neighbours[vertex];
            let key = if around.is_empty() {
                relative(position[vertex], layer.len())
            } else {
                around.iter().map(|&other| relative(position[other], adjacent_len)).sum::<f64>() / around.len() as f64
            };
            (key, vertex)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(position[a.1].cmp(&position[b.1])));
    for (index, (_, vertex)) in keyed.into_iter().enumerate() {
        layer[index] = vertex;
        position[vertex] = index;
    }
}

/// Edge crossings between consecutive layers, counted as inversions with a Fenwick tree.
fn count_crossings(layers: &[Vec<usize>], down: &[Vec<usize>], position: &[usize]) -> u64 {
    let mut crossings = 0;
    for pair in layers.windows(2) {
        let mut ends: Vec<(usize, usize)> = pair[0]
            .iter()
            .flat_map(|&upper| down[upper].iter().map(move |&lower| (position[upper], position[lower])))
            .collect();
        ends.sort_unstable();
        let mut tree = vec![0u64; pair[1].len() + 1];
        for (seen, &(_, lower)) in ends.iter().enumerate() {
            let mut at_most = 0;
            let mut index = lower + 1;
            while index > 0 {
                at_most += tree[index];
                index &= index - 1;
            }
            crossings += seen as u64 - at_most;
            let mut index = lower + 1;
            while index < tree.len() {
                tree[index] += 1;
                index += index & index.wrapping_neg();
            }
        }
    }
    crossings
}

/// Horizontal centres: layers packed side by side, then alternately pulled toward the layer
/// above and the layer below.
fn place(layers: &[Vec<usize>], width: &[f64], n_nodes: usize, up: &[Vec<usize>], down: &[Vec<usize>]) -> Vec<f64> {
    let separation = |left: usize, right: usize| {
        let gap = if left < n_nodes && right < n_nodes { NODE_GAP } else { DUMMY_GAP };
        (width[left] + width[right]) / 2.0 + gap
    };
    let mut x = vec![0.0; width.len()];
    for layer in layers {
        let mut cursor = 0.0;
        for (index, &vertex) in layer.iter().enumerate() {
            if index > 0 {
                cursor += separation(layer[index - 1], vertex);
            }
            x[vertex] = cursor;
        }
        layer.iter().for_each(|&vertex| x[vertex] -= cursor / 2.0);
    }
    let align = |layer: &[usize], neighbours: &[Vec<usize>], x: &mut [f64]| {
        let desired: Vec<f64> = layer
            .iter()
            .map(|&vertex| match neighbours[vertex].len() {
                0 => x[vertex],
                n => neighbours[vertex].iter().map(|&other| x[other]).sum::<f64>() / n as f64,
            })
            .collect();
        let gaps: Vec<f64> = (0..layer.len())
            .map(|index| if index == 0 { 0.0 } else { separation(layer[index - 1], layer[index]) })
            .collect();
        for (&vertex, centre) in layer.iter().zip(fit_in_order(&desired, &gaps)) {
            x[vertex] = centre;
        }
    };
    for _ in 0..PLACEMENT_PASSES {
        for layer in layers.iter().skip(1) {
            align(layer, up, &mut x);
        }
        for layer in layers.iter().rev().skip(1) {
            align(layer, down, &mut x);
        }
    }
    x
}

/// The positions closest to `desired` (least squares) such that each is at least `gaps[i]` right
/// of the one before: isotonic regression by pool adjacent violators, in linear time.
fn fit_in_order(desired: &[f64], gaps: &[f64]) -> Vec<f64> {
    let mut offsets = Vec::with_capacity(desired.len());
    let mut offset = 0.0;
    for gap in gaps {
        offset += gap;
        offsets.push(offset);
    }
    // Each block is (sum of shifted targets, number of them); its value is their mean.
    let mut blocks: Vec<(f64, usize)> = Vec::new();
    for (target, offset) in desired.iter().zip(&offsets) {
        blocks.push((target - offset, 1));
        while let [.., (sum_before, n_before), (sum_last, n_last)] = blocks[..] {
            if sum_before / n_before as f64 <= sum_last / n_last as f64 {
                break;
            }
            blocks.pop();
            blocks.pop();
            blocks.push((sum_before + sum_last, n_before + n_last));
        }
    }
    let mut centres = Vec::with_capacity(desired.len());
    for (sum, n) in blocks {
        centres.extend(std::iter::repeat_n(sum / n as f64, n));
    }
    centres.iter_mut().zip(&offsets).for_each(|(centre, offset)| *centre += offset);
    centres
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lays out a graph whose nodes are `names`, sorted, and returns the layout and the edges
    /// set aside to break cycles.
    fn lay_out(names: &[&str], pairs: &[(&str, &str)]) -> (Layout, Vec<Edge>) {
        assert!(names.is_sorted(), "{names:?}");
        let index = |name: &str| names.iter().position(|&listed| listed == name).expect("a listed name");
        let mut edges: Vec<_> = pairs.iter().map(|&(upper, lower)| (index(upper), index(lower))).collect();
        edges.sort_unstable();
        edges.dedup();
        let (kept, set_aside) = break_cycles(names.len(), edges);
        let widths = names.iter().map(|name| 24.0 + 8.0 * name.len() as f64).collect();
        (Layout::new(widths, &kept), set_aside)
    }

    /// Every layer's vertices, dummy points included, left to right.
    fn vertex_layers(layout: &Layout) -> Vec<Vec<usize>> {
        let n_layers = layout.layer_of.iter().max().map_or(0, |last| last + 1);
        let mut layers = vec![Vec::new(); n_layers];
        for (vertex, &layer) in layout.layer_of.iter().enumerate() {
            layers[layer].push(vertex);
        }
        for layer in &mut layers {
            layer.sort_by(|a, b| layout.x[*a].total_cmp(&layout.x[*b]));
        }
        layers
    }

    /// Each layer's nodes by name, left to right.
    fn layer_names<'a>(names: &[&'a str], layout: &Layout) -> Vec<Vec<&'a str>> {
        let layers = vertex_layers(layout);
        layers.iter().map(|layer| layer.iter().filter_map(|&vertex| names.get(vertex).copied()).collect()).collect()
    }

    fn crossings(layers: &[Vec<usize>], layout: &Layout) -> u64 {
        let mut position = vec![0; layout.x.len()];
        for layer in layers {
            for (index, &vertex) in layer.iter().enumerate() {
                position[vertex] = index;
            }
        }
        count_crossings(layers, &layout.down, &position)
    }

    #[test]
    fn layers_follow_the_longest_path_from_the_top() {
        let check = |names: &[&str], pairs: &[(&str, &str)], expected: &[&[&str]]| {
            assert_eq!(layer_names(names, &lay_out(names, pairs).0), expected, "{pairs:?}");
        };
        check(&["a", "b", "c"], &[("a", "b"), ("b", "c")], &[&["a"], &["b"], &["c"]]);
        check(&["a", "b", "c", "d"], &[("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")], &[&["a"], &["b", "c"], &["d"]]);
        check(&["a", "b", "c"], &[("a", "b"), ("a", "c"), ("b", "c")], &[&["a"], &["b"], &["c"]]);
        check(&["a", "b", "z"], &[("a", "b")], &[&["a", "z"], &["b"]]);
        check(&["solo"], &[], &[&["solo"]]);
        check(&[], &[], &[]);
    }

    #[test]
    fn cycles_are_broken_at_the_edge_that_closes_them() {
        let check = |pairs: &[(&str, &str)], expected_set_aside: &[(&str, &str)], expected: &[&[&str]]| {
            let names = ["a", "b", "c"];
            let (layout, set_aside) = lay_out(&names, pairs);
            let set_aside: Vec<_> = set_aside.iter().map(|&(from, to)| (names[from], names[to])).collect();
            assert_eq!(set_aside, expected_set_aside, "{pairs:?}");
            assert_eq!(layer_names(&names, &layout), expected, "{pairs:?}");
        };
        check(&[("a", "b"), ("b", "c"), ("c", "a")], &[("c", "a")], &[&["a"], &["b"], &["c"]]);
        check(&[("b", "c"), ("c", "b"), ("a", "b")], &[("c", "b")], &[&["a"], &["b"], &["c"]]);
        check(&[("a", "a"), ("a", "b")], &[("a", "a")], &[&["a", "c"], &["b"]]);
        check(&[("a", "b"), ("b", "a"), ("b", "c"), ("c", "b")], &[("b", "a"), ("c", "b")], &[&["a"], &["b"], &["c"]]);
    }

    #[test]
    fn barycenter_sweeps_remove_avoidable_crossings() {
        let check = |names: &[&str], pairs: &[(&str, &str)]| {
            let (layout, _) = lay_out(names, pairs);
            let mut in_index_order = vertex_layers(&layout);
            in_index_order.iter_mut().for_each(|layer| layer.sort_unstable());
            assert!(crossings(&in_index_order, &layout) > 0, "the example starts with crossings: {pairs:?}");
            assert_eq!(crossings(&vertex_layers(&layout), &layout), 0, "{pairs:?}");
        };
        check(&["a", "b", "c", "d"], &[("a", "d"), ("b", "c")]);
        check(
            &["a1", "b2", "c1", "d2", "e1", "f2", "root1", "root2"],
            &[("root1", "a1"), ("root1", "c1"), ("root1", "e1"), ("root2", "b2"), ("root2", "d2"), ("root2", "f2")],
        );
        check(
            &["api", "cache", "db", "queue", "web", "worker"],
            &[("api", "cache"), ("api", "db"), ("web", "api"), ("web", "cache"), ("worker", "db"), ("worker", "queue")],
        );
    }

    #[test]
    fn positions_keep_order_and_spacing_closest_to_the_wish() {
        let check = |desired: &[f64], gaps: &[f64], expected: &[f64]| {
            assert_eq!(fit_in_order(desired, gaps), expected, "{desired:?} {gaps:?}");
        };
        check(&[], &[], &[]);
        check(&[5.0, 100.0], &[0.0, 10.0], &[5.0, 100.0]);
        check(&[0.0, 0.0, 0.0], &[0.0, 10.0, 10.0], &[-10.0, 0.0, 10.0]);
        check(&[10.0, 0.0], &[0.0, 4.0], &[3.0, 7.0]);
        check(&[0.0, 50.0, 50.0], &[0.0, 10.0, 10.0], &[0.0, 45.0, 55.0]);
    }

    #[test]
    fn no_two_vertices_of_a_large_graph_overlap() {
        let n_nodes = 500;
        let mut state: u64 = 0xda6;
        let mut below = |bound: usize| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as usize % bound
        };
        let mut edges: Vec<Edge> = (0..1500)
            .map(|_| {
                let upper = below(n_nodes - 1);
                (upper, upper + 1 + below(n_nodes - 1 - upper))
            })
            .collect();
        edges.sort_unstable();
        edges.dedup();
        let widths = (0..n_nodes).map(|index| 48.0 + (index % 40) as f64 * 7.8).collect();
        let layout = Layout::new(widths, &edges);
        for layer in vertex_layers(&layout) {
            for pair in layer.windows(2) {
                let (left, right) = (pair[0], pair[1]);
                let gap = (layout.x[right] - layout.width[right] / 2.0) - (layout.x[left] + layout.width[left] / 2.0);
                assert!(gap >= DUMMY_GAP - 0.001, "vertices {left} and {right} are {gap} apart");
            }
        }
        let within = |vertex: usize| {
            layout.x[vertex] - layout.width[vertex] / 2.0 >= MARGIN - 0.001
                && layout.x[vertex] + layout.width[vertex] / 2.0 <= layout.total_width - MARGIN + 0.001
        };
        assert!((0..layout.x.len()).all(within));
        assert!(layout
            .routes
            .iter()
            .all(|route| route.windows(2).all(|pair| layout.layer_of[pair[0]] + 1 == layout.layer_of[pair[1]])));
    }
}
