package tollgate.builtin_test.no_sarif_errors

import data.tollgate.builtin.no_sarif_errors

findings(by_level) := {"kind": "sarif", "service": null, "digest": "sha256:cc", "facts": {
	"kind": "findings", "total": sum([n | some n in by_level]), "by_level": by_level,
	"by_rule": {"clippy::unwrap_used": 2}, "by_file": {}, "tools": ["clippy"],
}}

test_warnings_pass_an_error_gate if {
	count(no_sarif_errors.violations) == 0 with input as {"evidence": [findings({"error": 0, "warning": 2, "note": 0, "none": 0})], "params": {"level": "error"}}
}

test_warnings_fail_a_warning_gate if {
	some v in no_sarif_errors.violations with input as {"evidence": [findings({"error": 0, "warning": 2, "note": 1, "none": 0})], "params": {"level": "warning"}}
	v.data.by_level == {"warning": 2}
	contains(v.msg, "the release")
}

test_no_sarif_evidence_is_a_violation if {
	count(no_sarif_errors.violations) == 1 with input as {"evidence": [], "params": {"level": "error"}}
}
