package tollgate.builtin_test.coverage

import data.tollgate.builtin.coverage

report(line_rate, branch_rate, by_file) := {"kind": "cobertura", "service": "ledger", "digest": "sha256:bb", "facts": {
	"kind": "coverage", "lines_total": 100, "lines_covered": 100 * line_rate, "line_rate": line_rate,
	"branches_total": 10, "branches_covered": 5, "branch_rate": branch_rate, "files": 2, "by_file": by_file,
}}

files := {
	"src/pay/charge.rs": {"lines_total": 50, "lines_covered": 45, "branches_total": 10, "branches_covered": 9},
	"src/pay/refund.rs": {"lines_total": 50, "lines_covered": 25, "branches_total": 0, "branches_covered": 0},
	"src/ui/page.rs": {"lines_total": 10, "lines_covered": 0, "branches_total": 0, "branches_covered": 0},
}

# input.critical_files for a critical path matching these of the files above.
matched(names) := {
	"files": count(names),
	"lines_total": [files[name].lines_total | some name in names],
	"lines_covered": [files[name].lines_covered | some name in names],
	"branches_total": [files[name].branches_total | some name in names],
	"branches_covered": [files[name].branches_covered | some name in names],
}

params(critical) := {"min_line_rate": 0.8, "min_branch_rate": null, "critical_paths": critical}

test_enough_line_coverage_passes if {
	count(coverage.violations) == 0 with input as {"evidence": [report(0.9, null, files)], "params": params([])}
}

test_low_line_coverage_is_a_violation if {
	some v in coverage.violations with input as {"evidence": [report(0.5, null, files)], "params": params([])}
	v.data.line_rate == 0.5
}

test_a_branch_minimum_without_branch_data_is_a_violation if {
	vs := coverage.violations with input as {"evidence": [report(0.9, null, files)], "params": {"min_line_rate": 0.8, "min_branch_rate": 0.5, "critical_paths": []}}
	count(vs) == 1
}

test_a_critical_prefix_is_judged_on_its_files if {
	critical := [{"path": "src/pay/", "min_line_rate": 0.75, "min_branch_rate": null}]
	view := {"src/pay/": matched(["src/pay/charge.rs", "src/pay/refund.rs"])}
	some v in coverage.violations with input as {"evidence": [report(0.9, null, files)], "params": params(critical), "critical_files": view}
	v.data == {"path": "src/pay/", "files": 2, "total": 100, "covered": 70, "rate": 0.7, "min": 0.75}
}

test_a_critical_glob_is_judged_on_its_files if {
	critical := [{"path": "src/*/charge.rs", "min_line_rate": 0.9, "min_branch_rate": 0.9}]
	view := {"src/*/charge.rs": matched(["src/pay/charge.rs"])}
	count(coverage.violations) == 0 with input as {"evidence": [report(0.9, null, files)], "params": params(critical), "critical_files": view}
}

test_a_critical_path_matching_nothing_is_a_violation if {
	critical := [{"path": "src/ledger/", "min_line_rate": 0.5, "min_branch_rate": null}]
	some v in coverage.violations with input as {"evidence": [report(0.9, null, files)], "params": params(critical), "critical_files": {"src/ledger/": matched([])}}
	v.data == {"path": "src/ledger/"}
}

test_no_coverage_evidence_is_a_violation if {
	count(coverage.violations) == 1 with input as {"evidence": [], "params": params([])}
}

test_a_critical_path_without_branch_data_is_a_violation_when_branches_are_judged if {
	critical := [{"path": "src/pay/refund.rs", "min_line_rate": null, "min_branch_rate": 0.5}]
	view := {"src/pay/refund.rs": matched(["src/pay/refund.rs"])}
	some v in coverage.violations with input as {"evidence": [report(0.9, null, files)], "params": params(critical), "critical_files": view}
	v.data == {"path": "src/pay/refund.rs", "files": 1}
}
