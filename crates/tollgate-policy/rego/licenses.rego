# Built-in gate licenses: every license of every SBOM is allowed.
#
# Params: allow and deny (lists of SPDX ids, or of raw license strings), allow_unlicensed.
# Licenses are judged on input.licenses, the normalized view Tollgate adds to the input: for each
# raw string, its SPDX expression and alternatives. An expression is allowed when all licenses of
# at least one alternative are allowed. A license is allowed when neither it nor (for `X WITH Y`)
# its base license X is denied, and the allow list is empty or names it. A raw string named in
# deny is refused, and one named in allow is accepted, whatever it normalizes to. An unrecognized
# string is a violation naming it. Missing SBOM evidence is a violation.
#
# Tollgate judges each string by these rules when it evaluates the gate (the lists are known
# when the bundle is built, and joining them with every alternative in Rego cost most of the
# gate's time) and gives the verdicts as input.license_verdicts: {raw: "accepted", "refused" or
# "unrecognized"}. This module turns them into violations.
package tollgate.builtin.licenses

reports := [e | some e in input.evidence; e.facts.kind == "sbom"]

violations contains {"msg": "the release has no SBOM evidence", "data": null} if count(reports) == 0

violations contains v if {
	some e in reports
	some raw, n in e.facts.licenses
	input.license_verdicts[raw] == "unrecognized"
	v := {
		"msg": sprintf("unrecognized license %q (%s) in the SBOM of %s", [raw, components(n), where(e)]),
		"data": {"service": e.service, "digest": e.digest, "license": raw, "components": n},
	}
}

violations contains v if {
	some e in reports
	some raw, n in e.facts.licenses
	input.license_verdicts[raw] == "refused"
	v := {
		"msg": sprintf("license %s (%q, %s) is not allowed in the SBOM of %s", [expression(raw), raw, components(n), where(e)]),
		"data": {
			"service": e.service,
			"digest": e.digest,
			"license": raw,
			"expression": object.get(input.licenses, [raw, "expression"], null),
			"components": n,
		},
	}
}

violations contains v if {
	input.params.allow_unlicensed != true
	some e in reports
	e.facts.components_without_license > 0
	v := {
		"msg": sprintf("%s no license in the SBOM of %s", [components_declare(e.facts.components_without_license), where(e)]),
		"data": {"service": e.service, "digest": e.digest, "components": e.facts.components_without_license},
	}
}

expression(raw) := input.licenses[raw].expression if is_string(input.licenses[raw].expression)
else := raw

components(n) := "1 component" if n == 1
else := sprintf("%d components", [n])

components_declare(n) := "1 component declares" if n == 1
else := sprintf("%d components declare", [n])

where(e) := sprintf("service %s", [e.service]) if is_string(e.service)
else := "the release"
