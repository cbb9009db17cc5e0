package tollgate.builtin_test.performance

import data.tollgate.builtin.performance

scenario(name, p95, error_rate, throughput) := {
	"name": name, "requests": 1000, "failed": 0, "error_rate": error_rate, "throughput_per_second": throughput, "duration_seconds": 60,
	"latency_ms": {"mean": 20, "p50": 18, "p90": 30, "p95": p95, "p99": 80, "max": 200},
}

load_test(scenarios) := {"kind": "k6", "service": "ledger", "digest": "sha256:11", "facts": {"kind": "load_test", "tool": "k6", "scenarios": scenarios}}

params := {"max_regression_percent": 10, "metrics": ["p95", "error_rate", "throughput"], "error_rate_tolerance": 0.001}

previous := {"version": "1.3.0", "evidence": [load_test([scenario("checkout", 40, 0, 100)])]}

run(scenarios) := vs if {
	vs := performance.violations with input as {"evidence": [load_test(scenarios)], "previous": previous, "params": params}
}

test_small_changes_pass if {
	count(run([scenario("checkout", 43, 0.0005, 95)])) == 0
}

test_a_p95_rise_beyond_the_allowance_is_a_violation if {
	some v in run([scenario("checkout", 50, 0, 100)])
	v.data.metric == "p95"
	v.data.change_percent == 25
}

test_an_error_rate_rise_and_a_throughput_fall_are_violations if {
	vs := run([scenario("checkout", 40, 0.01, 80)])
	{v.data.metric | some v in vs} == {"error_rate", "throughput"}
}

test_a_scenario_no_longer_run_is_a_violation if {
	some v in run([scenario("search", 40, 0, 100)])
	v.data == {"service": "ledger", "scenario": "checkout"}
}

test_without_a_previous_release_the_gate_passes if {
	count(performance.violations) == 0 with input as {"evidence": [load_test([scenario("checkout", 400, 0.5, 1)])], "previous": null, "params": params}
}

test_missing_load_test_evidence_is_a_violation if {
	count(performance.violations) == 1 with input as {"evidence": [], "previous": previous, "params": params}
}

test_without_a_baseline_the_gate_says_so_in_its_notes if {
	notes := performance.notes with input as {"evidence": [load_test([scenario("checkout", 400, 0.5, 1)])], "previous": null, "params": params}
	count(notes) == 1
	without_evidence := performance.notes with input as {"evidence": [load_test([scenario("checkout", 40, 0, 100)])], "previous": {"version": "1.3.0", "evidence": []}, "params": params}
	without_evidence == {"the previous release 1.3.0 has no load-test evidence: no baseline to compare with"}
	with_baseline := performance.notes with input as {"evidence": [load_test([scenario("checkout", 40, 0, 100)])], "previous": previous, "params": params}
	count(with_baseline) == 0
}
