package tollgate.builtin_test.test_pass_rate

import data.tollgate.builtin.test_pass_rate

tests(facts) := {"kind": "junit", "service": "ledger", "digest": "sha256:aa", "facts": object.union({"kind": "tests", "suites": []}, facts)}

params := {"min": 1.0, "suites": null}

test_all_passing_tests_pass if {
	count(test_pass_rate.violations) == 0 with input as {"evidence": [tests({"total": 3, "passed": 2, "failed": 0, "errors": 0, "skipped": 1})], "params": params}
}

test_a_failure_is_a_violation_with_the_counts if {
	vs := test_pass_rate.violations with input as {"evidence": [tests({"total": 4, "passed": 3, "failed": 1, "errors": 0, "skipped": 0})], "params": params}
	some v in vs
	v.data.failed == 1
	v.data.pass_rate == 0.75
	contains(v.msg, "75%")
}

test_a_lower_minimum_accepts_some_failures if {
	count(test_pass_rate.violations) == 0 with input as {"evidence": [tests({"total": 4, "passed": 3, "failed": 1, "errors": 0, "skipped": 0})], "params": {"min": 0.75, "suites": null}}
}

test_no_test_evidence_is_a_violation if {
	count(test_pass_rate.violations) == 1 with input as {"evidence": [], "params": params}
}

test_nothing_run_is_a_violation if {
	count(test_pass_rate.violations) == 1 with input as {"evidence": [tests({"total": 2, "passed": 0, "failed": 0, "errors": 0, "skipped": 2})], "params": params}
}

test_a_suite_filter_judges_only_those_suites if {
	suites := [
		{"name": "unit", "total": 2, "passed": 2, "failed": 0, "errors": 0, "skipped": 0},
		{"name": "flaky", "total": 2, "passed": 1, "failed": 1, "errors": 0, "skipped": 0},
	]
	e := tests({"total": 4, "passed": 3, "failed": 1, "errors": 0, "skipped": 0, "suites": suites})
	count(test_pass_rate.violations) == 0 with input as {"evidence": [e], "params": {"min": 1.0, "suites": ["unit"]}}
	count(test_pass_rate.violations) == 1 with input as {"evidence": [e], "params": {"min": 1.0, "suites": ["unit", "flaky"]}}
}

test_a_named_suite_that_is_nowhere_is_a_violation if {
	e := tests({"total": 1, "passed": 1, "failed": 0, "errors": 0, "skipped": 0})
	some v in test_pass_rate.violations with input as {"evidence": [e], "params": {"min": 1.0, "suites": ["missing"]}}
	v.data.suite == "missing"
}
