"""Runs the bundle written by `cargo bench -p tollgate-policy --bench gates` through regopy
(rego-cpp's Python binding) and prints p50, p99 and decisions per second, like the Rust bench.

The Rust bench runs this script itself at the end of its run, with $TOLLGATE_BENCH_PYTHON, else
the venv that scripts/ensure-bench-venv.sh makes (regopy pinned there), and prints the figures
beside its own. To run it by hand:

    bash scripts/ensure-bench-venv.sh
    $HOME/.cache/tollgate-venv-bench/bin/python crates/tollgate-policy/benches/regopy_gates.py [bundle.json]

The default bundle path is $TOLLGATE_POLICY_BENCH_DIR/bundle.json, else
/tmp/tollgate-policy-bench/bundle.json. Each decision evaluates every gate's rule on the document
Tollgate gives that rule. regopy takes most of a second per decision, so it makes the few decisions
the bundle names ("runs", 20 as the bench writes it; $RUNS overrides) after one warm-up. p99 is
printed only for 100 decisions or more: below that it would be the slowest one.

The last line printed is one JSON object for the Rust bench to read: engine, version, gates, runs,
p50_ms, p99_ms (null under 100 runs), max_ms and decisions_per_second.
"""

import json
import os
import sys
import time

import regopy


def main():
    default_dir = os.environ.get("TOLLGATE_POLICY_BENCH_DIR", "/tmp/tollgate-policy-bench")
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(default_dir, "bundle.json")
    with open(path) as file:
        bundle = json.load(file)
    runs = int(os.environ.get("RUNS", bundle["runs"]))
    interpreter = regopy.Interpreter()
    for module in bundle["modules"]:
        interpreter.add_module(module["path"], module["source"])
    gates = [(gate["rule"], json.dumps(gate["input"])) for gate in bundle["gates"]]

    unreadable = set()

    def decide():
        outputs = []
        for rule, document in gates:
            interpreter.set_input_term(document)
            try:
                output = interpreter.query(rule)
            except json.JSONDecodeError:
                # regopy evaluated the rule but wrote output that is not JSON (rego-cpp keeps the
                # quotes of input strings joined by concat inside sprintf); the time still counts.
                unreadable.add(rule)
                continue
            if not output.ok():
                raise RuntimeError(f"{rule}: {output}")
            outputs.append(output)
        return outputs

    decide()
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        decide()
        durations.append(time.perf_counter() - started)
    durations.sort()
    p50 = durations[len(durations) * 50 // 100]
    p99 = durations[min(len(durations) * 99 // 100, len(durations) - 1)] if runs >= 100 else None
    per_second = runs / sum(durations)
    shown_p99 = f"p99 {p99 * 1000:.3f} ms" if p99 is not None else f"max {durations[-1] * 1000:.3f} ms"
    print(f"regopy {regopy.__version__} ({len(gates)} gates, {runs} runs): "
          f"p50 {p50 * 1000:.3f} ms, {shown_p99}, {per_second:.2f} decisions/s")
    for rule in sorted(unreadable):
        print(f"  {rule}: evaluated, but regopy's output is not valid JSON")
    print(json.dumps({
        "engine": "regopy",
        "version": regopy.__version__,
        "gates": len(gates),
        "runs": runs,
        "p50_ms": p50 * 1000,
        "p99_ms": p99 * 1000 if p99 is not None else None,
        "max_ms": durations[-1] * 1000,
        "decisions_per_second": per_second,
    }))


if __name__ == "__main__":
    main()
