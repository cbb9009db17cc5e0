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

allow_permissive := {"allow": ["MIT", "Apache-2.0"], "deny": [], "allow_unlicensed": false}

run(found, params) := vs if {
	vs := licenses.violations with input as {"evidence": [sbom(found, 0)], "licenses": view, "params": params}
}

test_or_is_satisfied_by_one_allowed_alternative if {
	count(run({"MIT OR GPL-3.0-only": 2, "Apache 2.0": 1}, allow_permissive)) == 0
}

test_and_needs_every_license_allowed if {
	some v in run({"MIT AND GPL-3.0-only": 1}, allow_permissive)
	v.data.expression == "MIT AND GPL-3.0-only"
}

test_a_denied_license_refuses_its_alternative if {
	count(run({"MIT OR GPL-3.0-only": 1}, {"allow": [], "deny": ["GPL-3.0-only"], "allow_unlicensed": false})) == 0
	count(run({"MIT AND GPL-3.0-only": 1}, {"allow": [], "deny": ["GPL-3.0-only"], "allow_unlicensed": false})) == 1
}

test_an_unrecognized_license_is_named if {
	some v in run({"BSD": 4}, allow_permissive)
	v.data.license == "BSD"
	contains(v.msg, "unrecognized")
}

test_a_raw_string_in_the_allow_list_is_accepted_as_it_is if {
	count(run({"BSD": 4}, {"allow": ["BSD"], "deny": [], "allow_unlicensed": false})) == 0
}

test_components_without_a_license_are_a_violation_unless_allowed if {
	count(licenses.violations) == 1 with input as {"evidence": [sbom({}, 2)], "licenses": {}, "params": allow_permissive}
	count(licenses.violations) == 0 with input as {"evidence": [sbom({}, 2)], "licenses": {}, "params": object.union(allow_permissive, {"allow_unlicensed": true})}
}

test_one_component_is_counted_in_the_singular if {
	some v in run({"BSD": 1}, allow_permissive)
	v.msg == "unrecognized license \"BSD\" (1 component) in the SBOM of service ledger"
}
