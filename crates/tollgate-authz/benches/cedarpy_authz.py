#!/usr/bin/env python3
"""The requests of `cargo bench -p tollgate-authz --bench authz` through cedarpy (the Python
binding of the same Cedar engine): the same policies, entities and requests, each decision
timed alone; checks every decision agrees with Tollgate's.

The Rust bench runs this script itself at the end of its run, with $TOLLGATE_BENCH_PYTHON, else
the venv that scripts/ensure-bench-venv.sh makes (cedarpy pinned there), and prints the figures
beside its own. To run it by hand:

    bash scripts/ensure-bench-venv.sh
    cargo bench -p tollgate-authz --bench authz
    ~/.cache/tollgate-venv-bench/bin/python crates/tollgate-authz/benches/cedarpy_authz.py [DIR]

cedarpy parses the policies and entities on every call (its API takes them as text), so two
figures are printed: one call per request as cedarpy is meant to be used (DECISIONS of them,
~1 ms each, ~10 s in all), and a batch call of 1,000 requests, whose per-request cost is closest
to the engine's own evaluation.

The last line printed is one JSON object for the Rust bench to read: engine, version, requests,
disagreements, decisions, p50_ms, p90_ms, p99_ms, max_ms and batch_mean_ms. The exit status is 1
when a decision differs from Tollgate's.
"""
import importlib.metadata
import json
import os
import sys
import tempfile
import time

import cedarpy

DECISIONS = 10_000


def main() -> int:
    directory = sys.argv[1] if len(sys.argv) > 1 else os.path.join(tempfile.gettempdir(), "tollgate-authz-bench")
    with open(os.path.join(directory, "policies.cedar")) as f:
        policies = f.read()
    with open(os.path.join(directory, "requests.jsonl")) as f:
        cases = [json.loads(line) for line in f]
    prepared = [(case["request"], json.dumps(case["entities"]), case["allowed"]) for case in cases]

    disagreements = 0
    for request, entities, allowed in prepared:
        result = cedarpy.is_authorized(request, policies, entities)
        if (result.decision == cedarpy.Decision.Allow) != allowed:
            disagreements += 1
    print(f"cedarpy {importlib.metadata.version('cedarpy')}: "
          f"{len(prepared)} requests, {disagreements} decisions differ from Tollgate's")

    durations = []
    for index in range(DECISIONS):
        request, entities, _ = prepared[index % len(prepared)]
        started = time.perf_counter_ns()
        cedarpy.is_authorized(request, policies, entities)
        durations.append(time.perf_counter_ns() - started)
    durations.sort()

    def at(q: float) -> float:
        return durations[min(int(len(durations) * q), len(durations) - 1)] / 1_000_000

    print(f"cedarpy is_authorized, one call per request: p50 {at(0.5) * 1000:.1f}µs, p90 {at(0.9) * 1000:.1f}µs, "
          f"p99 {at(0.99) * 1000:.1f}µs, max {durations[-1] / 1000:.1f}µs")

    # A batch shares one parse of the policies and entities among its requests.
    batch = [case["request"] for case in cases[:1]] * 1000
    entities = json.dumps(cases[0]["entities"])
    started = time.perf_counter_ns()
    cedarpy.is_authorized_batch(batch, policies, entities)
    elapsed = time.perf_counter_ns() - started
    print(f"cedarpy is_authorized_batch, 1000 requests sharing parsed policies and entities: "
          f"{elapsed / len(batch) / 1000:.1f}µs per request (mean)")
    print(json.dumps({
        "engine": "cedarpy",
        "version": importlib.metadata.version("cedarpy"),
        "requests": len(prepared),
        "disagreements": disagreements,
        "decisions": DECISIONS,
        "p50_ms": at(0.5),
        "p90_ms": at(0.9),
        "p99_ms": at(0.99),
        "max_ms": durations[-1] / 1_000_000,
        "batch_mean_ms": elapsed / len(batch) / 1_000_000,
    }))
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
