# Built-in gate no_sarif_errors: no static-analysis finding at or above params.level.
#
# Params: level (error, warning, note or none). Missing SARIF evidence is a violation.
package tollgate.builtin.no_sarif_errors

rank := {"error": 3, "warning": 2, "note": 1, "none": 0}

reports := [e | some e in input.evidence; e.facts.kind == "findings"]

violations contains {"msg": "the release has no static-analysis evidence", "data": null} if count(reports) == 0

violations contains v if {
	some e in reports
	offending := {level: n | some level, n in e.facts.by_level; n > 0; rank[level] >= rank[input.params.level]}
	count(offending) > 0
	total := sum([k | some k in offending])
	v := {
		"msg": sprintf("%d findings at or above %s in the static analysis of %s", [total, input.params.level, where(e)]),
		"data": {
			"service": e.service,
			"digest": e.digest,
			"by_level": offending,
			"by_rule": e.facts.by_rule,
			"tools": e.facts.tools,
		},
	}
}

where(e) := sprintf("service %s", [e.service]) if is_string(e.service)
else := "the release"
