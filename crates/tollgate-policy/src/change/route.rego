# Which approvals a change request needs, by its type and risk class. Exactly one `route`
# applies to any change:
# - an emergency change: one deployer now, and a post-implementation review within
#   `review_days` days;
# - a standard change of low risk: approved by this policy itself;
# - a high or critical risk: the change advisory board (a quorum, required teams, and one
#   approver from outside the author's teams);
# - anything else: one peer approver.
package tollgate.change

emergency if input.change.type == "emergency"

standard_low if {
	input.change.type == "standard"
	input.risk.class == "low"
}

high_risk if input.risk.class in {"high", "critical"}

route := {"kind": "emergency", "review_days": input.settings.review_days} if emergency

route := {"kind": "automatic"} if standard_low

route := {
	"kind": "cab",
	"quorum": input.settings.cab_quorum,
	"required_teams": input.settings.cab_required_teams,
	"outside_team": true,
} if {
	not emergency
	high_risk
}

route := {"kind": "peer"} if {
	not emergency
	not standard_low
	not high_risk
}
