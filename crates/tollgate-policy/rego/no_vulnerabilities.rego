# Built-in gate no_vulnerabilities: no SBOM vulnerability at or above params.at_or_above.
#
# Params: at_or_above (critical, high, medium, low, info or none), count_unknown (whether a
# vulnerability without a rating counts as offending). Missing SBOM evidence is a violation.
package tollgate.builtin.no_vulnerabilities

rank := {"critical": 6, "high": 5, "medium": 4, "low": 3, "info": 2, "none": 1, "unknown": 0}

reports := [e | some e in input.evidence; e.facts.kind == "sbom"]

violations contains {"msg": "the release has no SBOM evidence", "data": null} if count(reports) == 0

violations contains v if {
	some e in reports
	severities := counted
	offending := [vulnerability | some vulnerability in e.facts.vulnerabilities; vulnerability.severity in severities]
	count(offending) > 0
	ids := sort([id(vulnerability) | some vulnerability in offending])
	v := {
		"msg": sprintf(
			"%d vulnerabilities at or above %s in the SBOM of %s: %s",
			[count(offending), input.params.at_or_above, where(e), concat(", ", ids)],
		),
		"data": {"service": e.service, "digest": e.digest, "ids": ids, "vulnerabilities": offending},
	}
}

# The severities that count as offending, decided once rather than for each vulnerability (and
# read into a local before the loop: a reference to a rule costs far more than one to a local).
counted contains severity if {
	some severity, severity_rank in rank
	severity != "unknown"
	severity_rank >= rank[input.params.at_or_above]
}

counted contains "unknown" if input.params.count_unknown == true

id(vulnerability) := vulnerability.id if is_string(vulnerability.id)
else := "(no id)"

where(e) := sprintf("service %s", [e.service]) if is_string(e.service)
else := "the release"
