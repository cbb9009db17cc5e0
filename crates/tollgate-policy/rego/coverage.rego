# Built-in gate coverage: line and branch rates overall and on critical paths.
#
# Params: min_line_rate, min_branch_rate (a rate, or null for no check), critical_paths (a list
# of {path, min_line_rate, min_branch_rate}; path is a prefix of file paths, or a glob when it
# holds *, ? or [). Each coverage report is judged on its own; a critical path is judged on the
# files of every report that match it, which Tollgate gives as input.critical_files: {path:
# {"files": n, "lines_total": [per-file values], "lines_covered": [..], "branches_total": [..],
# "branches_covered": [..]}} (matching in Rego would compile each glob once per file, and
# summing per-file objects in a comprehension costs a lookup per file).
package tollgate.builtin.coverage

reports := [e | some e in input.evidence; e.facts.kind == "coverage"]

violations contains {"msg": "the release has no coverage evidence", "data": null} if count(reports) == 0

violations contains v if {
	some e in reports
	some measure in ["line", "branch"]
	v := overall(e, measure, input.params[sprintf("min_%s_rate", [measure])])
}

violations contains v if {
	some critical in input.params.critical_paths
	input.critical_files[critical.path].files == 0
	v := {
		"msg": sprintf("no file in the coverage evidence matches the critical path %q", [critical.path]),
		"data": {"path": critical.path},
	}
}

violations contains v if {
	some critical in input.params.critical_paths
	matched := input.critical_files[critical.path]
	matched.files > 0
	some measure in ["line", "branch"]
	v := on_path(critical, matched, measure, critical[sprintf("min_%s_rate", [measure])])
}

overall(e, measure, min) := v if {
	is_number(min)
	rate := e.facts[sprintf("%s_rate", [measure])]
	not is_number(rate)
	v := {
		"msg": sprintf("the coverage evidence of %s has no %s data", [where(e), measure]),
		"data": summary(e),
	}
}

overall(e, measure, min) := v if {
	is_number(min)
	rate := e.facts[sprintf("%s_rate", [measure])]
	is_number(rate)
	rate < min
	v := {
		"msg": sprintf("%s coverage %v%% is below %v%% in %s", [measure, percent(rate), percent(min), where(e)]),
		"data": object.union(summary(e), {"min": min}),
	}
}

on_path(critical, matched, measure, min) := v if {
	is_number(min)
	total := sum(matched[total_field[measure]])
	total == 0
	v := {
		"msg": sprintf("no %s data for the critical path %q", [measure, critical.path]),
		"data": {"path": critical.path, "files": matched.files},
	}
}

on_path(critical, matched, measure, min) := v if {
	is_number(min)
	total := sum(matched[total_field[measure]])
	total > 0
	covered := sum(matched[covered_field[measure]])
	rate := covered / total
	rate < min
	v := {
		"msg": sprintf(
			"%s coverage %v%% is below %v%% on the critical path %q",
			[measure, percent(rate), percent(min), critical.path],
		),
		"data": {"path": critical.path, "files": matched.files, "total": total, "covered": covered, "rate": rate, "min": min},
	}
}

total_field := {"line": "lines_total", "branch": "branches_total"}

covered_field := {"line": "lines_covered", "branch": "branches_covered"}

summary(e) := {
	"service": e.service,
	"digest": e.digest,
	"lines_total": e.facts.lines_total,
	"lines_covered": e.facts.lines_covered,
	"line_rate": e.facts.line_rate,
	"branches_total": e.facts.branches_total,
	"branches_covered": e.facts.branches_covered,
	"branch_rate": e.facts.branch_rate,
}

percent(rate) := round(rate * 1000) / 10

where(e) := sprintf("service %s", [e.service]) if is_string(e.service)
else := "the release"
