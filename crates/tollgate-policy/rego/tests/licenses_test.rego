package tollgate.builtin_test.licenses

import data.tollgate.builtin.licenses

sbom(licenses, without) := {"kind": "cyclonedx", "service": "ledger", "digest": "sha256:ee", "facts": {
	"kind": "sbom", "spec_version": "1.5", "components": 9, "licenses": licenses, "components_without_license": without,
	"vulnerabilities": [], "vulnerabilities_by_severity": {},
}}

view := {
	"MIT OR GPL-3.0-only": {"expression": "MIT OR GPL-3.0-only", "alternatives": [["MIT"], ["GPL-3.0-only"]]},
	"MIT AND GPL-3.0-only": {"expression": "MIT AND GPL-3.0-only", "alternatives": [["GPL-3.0-only", "MIT"]]},
	"Apache 2.0": {"expression": "Apache-2.0", "alternatives": [["Apache-2.0"]]},
	"BSD": {"expression": null, "alternatives": []},
}

# The verdicts Tollgate gives the gate for these strings with the allow list ["MIT",
# "Apache-2.0"] (the judging itself is tested in Rust, in the license module).
verdicts := {
	"MIT OR GPL-3.0-only": "accepted",
	"MIT AND GPL-3.0-only": "refused",
	"Apache 2.0": "accepted",
	"BSD": "unrecognized",
}

allow_permissive := {"allow": ["MIT", "Apache-2.0"], "deny": [], "allow_unlicensed": false}

run(found, given) := vs if {
	vs := licenses.violations with input as {
		"evidence": [sbom(found, 0)], "licenses": view, "license_verdicts": given, "params": allow_permissive,
	}
}

test_accepted_licenses_pass if {
	count(run({"MIT OR GPL-3.0-only": 2, "Apache 2.0": 1}, verdicts)) == 0
}

test_a_refused_license_is_named_with_its_expression if {
	vs := run({"MIT AND GPL-3.0-only": 3, "Apache 2.0": 1}, verdicts)
	count(vs) == 1
	some v in vs
	v.msg == "license MIT AND GPL-3.0-only (\"MIT AND GPL-3.0-only\", 3 components) is not allowed in the SBOM of service ledger"
	v.data == {"service": "ledger", "digest": "sha256:ee", "license": "MIT AND GPL-3.0-only", "expression": "MIT AND GPL-3.0-only", "components": 3}
}

test_a_refused_string_that_did_not_normalize_is_named_as_it_is if {
	some v in run({"BSD": 2}, {"BSD": "refused"})
	v.msg == "license BSD (\"BSD\", 2 components) is not allowed in the SBOM of service ledger"
	v.data.expression == null
}

test_an_unrecognized_license_is_named if {
	some v in run({"BSD": 4}, verdicts)
	v.data.license == "BSD"
	contains(v.msg, "unrecognized")
}

test_the_verdict_decides_whatever_the_string_normalizes_to if {
	count(run({"BSD": 4}, {"BSD": "accepted"})) == 0
	count(run({"Apache 2.0": 1}, {"Apache 2.0": "refused"})) == 1
}

test_components_without_a_license_are_a_violation_unless_allowed if {
	count(licenses.violations) == 1 with input as {"evidence": [sbom({}, 2)], "licenses": {}, "license_verdicts": {}, "params": allow_permissive}
	count(licenses.violations) == 0 with input as {"evidence": [sbom({}, 2)], "licenses": {}, "license_verdicts": {}, "params": object.union(allow_permissive, {"allow_unlicensed": true})}
}

test_one_component_is_counted_in_the_singular if {
	some v in run({"BSD": 1}, verdicts)
	v.msg == "unrecognized license \"BSD\" (1 component) in the SBOM of service ledger"
}
