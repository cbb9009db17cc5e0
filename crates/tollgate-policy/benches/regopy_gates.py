"""Runs the bundle written by `cargo bench -p tollgate-policy --bench gates` through regopy
(rego-cpp's Python binding) and prints p50, p99 and decisions per second, like the Rust bench.

    python3 -m venv $HOME/.cache/tollgate-venv-policy
    $HOME/.cache/tollgate-venv-policy/bin/pip install regopy
    $HOME/.cache/tollgate-venv-policy/bin/python crates/tollgate-policy/benches/regopy_gates.py [bundle.json]

The default bundle path is $TOLLGATE_POLICY_BENCH_DIR/bundle.json, else
/tmp/tollgate-policy-bench/bundle.json. Each decision evaluates every gate's rule on the document
Tollgate gives that rule.
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
    p99 = durations[min(len(durations) * 99 // 100, len(durations) - 1)]
    print(f"regopy {regopy.__version__} ({len(gates)} gates, {runs} runs): "
          f"p50 {p50 * 1000:.3f} ms, p99 {p99 * 1000:.3f} ms, {runs / sum(durations):.0f} decisions/s")
    for rule in sorted(unreadable):
        print(f"  {rule}: evaluated, but regopy's output is not valid JSON")


if __name__ == "__main__":
    main()
