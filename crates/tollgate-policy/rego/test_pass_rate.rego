# Built-in gate test_pass_rate: the share of tests that ran and passed is at least params.min.
#
# Params: min (a rate from 0 to 1), suites (null for whole reports, else suite names).
# Skipped tests do not count as run. Missing test evidence, a report where nothing ran and a
# named suite found in no report are violations.
package tollgate.builtin.test_pass_rate

reports := [e | some e in input.evidence; e.facts.kind == "tests"]

outcomes := ["total", "passed", "failed", "errors", "skipped"]

violations contains {"msg": "the release has no test evidence", "data": null} if count(reports) == 0

violations contains v if {
	input.params.suites == null
	some e in reports
	counts := {k: e.facts[k] | some k in outcomes}
	v := judge(e, counts)
}

violations contains v if {
	is_array(input.params.suites)
	some e in reports
	selected := [s | some s in e.facts.suites; s.name in input.params.suites]
	count(selected) > 0
	counts := {k: sum([s[k] | some s in selected]) | some k in outcomes}
	v := judge(e, counts)
}

violations contains v if {
	is_array(input.params.suites)
	some name in input.params.suites
	not suite_found(name)
	v := {"msg": sprintf("no test suite named %q in the test evidence", [name]), "data": {"suite": name}}
}

suite_found(name) if {
	some e in reports
	some s in e.facts.suites
	s.name == name
}

judge(e, counts) := v if {
	counts.total - counts.skipped == 0
	v := {
		"msg": sprintf("no tests ran in the test evidence of %s", [where(e)]),
		"data": object.union(counts, {"service": e.service, "digest": e.digest}),
	}
}

judge(e, counts) := v if {
	ran := counts.total - counts.skipped
	ran > 0
	rate := counts.passed / ran
	rate < input.params.min
	v := {
		"msg": sprintf(
			"pass rate %v%% is below %v%% in the test evidence of %s: %d failed and %d errors of %d run",
			[percent(rate), percent(input.params.min), where(e), counts.failed, counts.errors, ran],
		),
		"data": object.union(counts, {"service": e.service, "digest": e.digest, "pass_rate": rate, "min": input.params.min}),
	}
}

percent(rate) := round(rate * 1000) / 10

where(e) := sprintf("service %s", [e.service]) if is_string(e.service)
else := "the release"
