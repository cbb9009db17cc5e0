package tollgate.builtin_test.no_vulnerabilities

import data.tollgate.builtin.no_vulnerabilities

sbom(vulnerabilities) := {"kind": "cyclonedx", "service": "ledger", "digest": "sha256:dd", "facts": {
	"kind": "sbom", "spec_version": "1.5", "components": 3, "licenses": {}, "components_without_license": 0,
	"vulnerabilities": vulnerabilities, "vulnerabilities_by_severity": {},
}}

vulnerabilities := [
	{"id": "CVE-2024-2", "severity": "critical", "affects": ["pkg:a"]},
	{"id": "CVE-2024-1", "severity": "high", "affects": ["pkg:b"]},
	{"id": "CVE-2024-3", "severity": "medium", "affects": ["pkg:c"]},
	{"id": null, "severity": "unknown", "affects": ["pkg:d"]},
]

test_offending_ids_are_listed_in_order if {
	some v in no_vulnerabilities.violations with input as {"evidence": [sbom(vulnerabilities)], "params": {"at_or_above": "high", "count_unknown": false}}
	v.data.ids == ["CVE-2024-1", "CVE-2024-2"]
}

test_unrated_vulnerabilities_count_when_asked if {
	some v in no_vulnerabilities.violations with input as {"evidence": [sbom(vulnerabilities)], "params": {"at_or_above": "critical", "count_unknown": true}}
	v.data.ids == ["(no id)", "CVE-2024-2"]
}

test_a_clean_sbom_passes if {
	count(no_vulnerabilities.violations) == 0 with input as {"evidence": [sbom([])], "params": {"at_or_above": "low", "count_unknown": true}}
}
