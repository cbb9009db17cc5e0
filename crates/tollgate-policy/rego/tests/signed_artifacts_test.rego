package tollgate.builtin_test.signed_artifacts

import data.tollgate.builtin.signed_artifacts

artifact(signatures) := {"service": "ledger", "name": "ledger", "version": "1.4.0", "digest": "sha256:ff", "signatures": signatures}

test_a_trusted_signature_passes if {
	count(signed_artifacts.violations) == 0 with input as {"release": {"artifacts": [artifact([{"key": "ci", "team": "payments", "trusted": true}])]}}
}

test_untrusted_and_missing_signatures_are_violations if {
	vs := signed_artifacts.violations with input as {"release": {"artifacts": [
		artifact([{"key": "old", "team": "payments", "trusted": false}]),
		object.remove(artifact([]), ["signatures"]),
	]}}
	count(vs) == 2
}
