# Built-in gate performance: load-test results did not regress against the previous release.
#
# Params: max_regression_percent, metrics (among mean, p50, p90, p95, p99, max, error_rate and
# throughput), error_rate_tolerance (an absolute error rate added to the allowance, so a
# baseline of zero errors does not fail on the first one).
#
# Scenarios are matched by service and name between this release's load-test evidence and that
# of input.previous, the last release that succeeded in this environment. A latency regresses
# when it rose more than max_regression_percent; throughput when it fell more than that; the
# error rate when it exceeds previous * (1 + max_regression_percent / 100) + error_rate_tolerance.
# No load-test evidence for this release is a violation, and so is a scenario the previous
# release ran and this one did not. Without a previous release, or a previous release without
# load-test evidence, there is no baseline and the gate passes, saying so in its notes.
package tollgate.builtin.performance

latency_metrics := {"mean", "p50", "p90", "p95", "p99", "max"}

current := [{"service": e.service, "scenario": scenario} |
	some e in input.evidence
	e.facts.kind == "load_test"
	some scenario in e.facts.scenarios
]

previous := [{"service": e.service, "scenario": scenario} |
	is_object(input.previous)
	some e in input.previous.evidence
	e.facts.kind == "load_test"
	some scenario in e.facts.scenarios
]

violations contains {"msg": "the release has no load-test evidence", "data": null} if count(current) == 0

violations contains v if {
	count(current) > 0
	some before in previous
	not [before.service, before.scenario.name] in current_keys
	v := {
		"msg": sprintf(
			"load-test scenario %q of %s ran for the previous release %s but not for this one",
			[before.scenario.name, where(before), input.previous.version],
		),
		"data": {"service": before.service, "scenario": before.scenario.name},
	}
}

# Each metric is judged in a rule of its own (not in a function with a definition per kind of
# metric, which cost a call of each definition for every scenario and metric), over the pairs
# of scenarios found once. Rules referred to inside the loops are read into locals first (a
# reference to a rule costs far more than one to a local), and each metric is checked once
# rather than for every pair.
violations contains v if {
	pairs := compared
	some metric in input.params.metrics
	metric in latency_metrics
	some [now, before] in pairs
	was := before.latency_ms[metric]
	is := now.scenario.latency_ms[metric]
	is_number(was)
	is_number(is)
	was > 0
	change := ((is - was) / was) * 100
	change > input.params.max_regression_percent
	v := violation(metric, now, was, is, change, sprintf("%s latency rose", [metric]))
}

violations contains v if {
	pairs := compared
	some metric in input.params.metrics
	metric in latency_metrics
	some [now, before] in pairs
	is_number(before.latency_ms[metric])
	not is_number(now.scenario.latency_ms[metric])
	v := {
		"msg": sprintf("load-test scenario %q of %s has no %s latency to compare", [now.scenario.name, where(now), metric]),
		"data": {"service": now.service, "scenario": now.scenario.name, "metric": metric},
	}
}

violations contains v if {
	"error_rate" in input.params.metrics
	pairs := compared
	some [now, before] in pairs
	was := before.error_rate
	is := now.scenario.error_rate
	allowance := (was * (1 + (input.params.max_regression_percent / 100))) + input.params.error_rate_tolerance
	is > allowance
	change := relative(was, is)
	v := violation("error_rate", now, was, is, change, "error rate rose")
}

violations contains v if {
	"throughput" in input.params.metrics
	pairs := compared
	some [now, before] in pairs
	was := before.throughput_per_second
	is := now.scenario.throughput_per_second
	was > 0
	change := ((is - was) / was) * 100
	0 - change > input.params.max_regression_percent
	v := violation("throughput", now, was, is, change, "throughput fell")
}

# Why the gate passes without judging, when it has no baseline.
notes contains "no previous release succeeded in this environment: no baseline to compare with" if {
	count(current) > 0
	not is_object(input.previous)
}

notes contains msg if {
	count(current) > 0
	is_object(input.previous)
	count(previous) == 0
	msg := sprintf("the previous release %s has no load-test evidence: no baseline to compare with", [input.previous.version])
}

# This release's scenarios by [service, name], so that whether one ran is a lookup.
current_keys := {[now.service, now.scenario.name] | some now in current}

# Each scenario of this release with the same scenario of the previous release: [now, scenario],
# joined once for all the rules that compare them.
compared := [[now, before.scenario] |
	some now in current
	some before in previous
	now.service == before.service
	now.scenario.name == before.scenario.name
]

violation(metric, now, was, is, change, what) := {
	"msg": sprintf(
		"%s by %v%% in load-test scenario %q of %s (%v before, %v now), more than %v%% allowed",
		[what, abs_percent(change), now.scenario.name, where(now), was, is, input.params.max_regression_percent],
	),
	"data": {
		"service": now.service,
		"scenario": now.scenario.name,
		"metric": metric,
		"previous": was,
		"current": is,
		"change_percent": change,
		"max_regression_percent": input.params.max_regression_percent,
	},
}

relative(was, is) := ((is - was) / was) * 100 if was > 0
else := null

abs_percent(change) := round(abs(change) * 10) / 10 if is_number(change)
else := "(from zero)"

where(item) := sprintf("service %s", [item.service]) if is_string(item.service)
else := "the release"
