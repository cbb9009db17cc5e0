# Which approvals a change request needs, by its type and risk class. Exactly one `route`
# applies to any change:
# - an emergency change: one deployer now, and a post-implementation review within
#   `review_days` days;
# - a standard change of low risk: approved by this policy itself;
# - a high or critical risk: the change advisory board (a quorum, required teams, and one
#   approver from outside the author's teams). The required teams are the configured ones and,
#   for each label a touched service carries, the teams configured for that label; sorted,
#   each once;
# - anything else: one peer approver.
package tollgate.change

emergency if input.change.type == "emergency"

standard_low if {
	input.change.type == "standard"
	input.risk.class == "low"
}

high_risk if input.risk.class in {"high", "critical"}

label_teams contains team if {
	some entry in input.settings.cab_label_teams
	entry.label in input.change.labels
	some team in entry.teams
}

required_teams := sort({team | some team in input.settings.cab_required_teams} | label_teams)

route := {"kind": "emergency", "review_days": input.settings.review_days} if emergency

route := {"kind": "automatic"} if standard_low

route := {
	"kind": "cab",
	"quorum": input.settings.cab_quorum,
	"required_teams": required_teams,
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
