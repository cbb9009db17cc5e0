# Built-in gate signed_artifacts: every artifact of the release has a trusted signature.
#
# No params. A release without artifacts passes.
package tollgate.builtin.signed_artifacts

violations contains v if {
	some artifact in input.release.artifacts
	not trusted(artifact)
	v := {
		"msg": sprintf(
			"artifact %s %s of service %s has no trusted signature",
			[artifact.name, artifact.version, artifact.service],
		),
		"data": artifact,
	}
}

trusted(artifact) if {
	some signature in artifact.signatures
	signature.trusted == true
}
