//! Approvals of change requests and their judgment against the route policy chose.
//!
//! An approval binds to the release manifest digest it was given for: only approvals for the
//! digest the release has now count, so any change to the release invalidates them. Who may
//! approve at all (segregation of duties, roles) is authorization's call, made before an
//! approval is recorded; this module judges whether the approvals recorded are enough.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::change::ChangeId;
use crate::digest::Sha256Digest;
use crate::name::{Label, TeamName, UserName};
use crate::Timestamp;

/// Longest approval comment accepted.
pub const MAX_COMMENT_LEN: usize = 2000;

/// The approvals a change needs, as chosen by the approval policy when it is assessed. A stored
/// format (in the change request and its audit entries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ApprovalRoute {
    /// Approved by the policy itself (standard changes of low risk); `policy` is the version
    /// of the approval policy that decided.
    Automatic { policy: String },
    /// One approver.
    Peer { policy: String },
    /// The change advisory board: `quorum` distinct approvers, a member of each of
    /// `required_teams` among them, and (when `outside_team`) one from outside the requester's
    /// and the release author's teams.
    Cab { policy: String, quorum: u32, required_teams: Vec<String>, outside_team: bool },
    /// One approver who holds the deployer role (or a just-in-time deployer grant) for the
    /// environment; a post-implementation review is due within `review_days` days.
    Emergency { policy: String, review_days: u32 },
}

impl ApprovalRoute {
    /// The route's name as the API and the CLI show it.
    pub fn kind(&self) -> &'static str {
        match self {
            ApprovalRoute::Automatic { .. } => "automatic",
            ApprovalRoute::Peer { .. } => "peer",
            ApprovalRoute::Cab { .. } => "cab",
            ApprovalRoute::Emergency { .. } => "emergency",
        }
    }

    /// The approval policy version that chose the route.
    pub fn policy(&self) -> &str {
        match self {
            ApprovalRoute::Automatic { policy }
            | ApprovalRoute::Peer { policy }
            | ApprovalRoute::Cab { policy, .. }
            | ApprovalRoute::Emergency { policy, .. } => policy,
        }
    }
}

/// The settings the approval policy reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalSettings {
    /// How many distinct approvers a CAB needs.
    pub cab_quorum: u32,
    /// Teams of which a CAB needs a member among its approvers.
    pub cab_required_teams: Vec<TeamName>,
    /// Teams of which a CAB needs a member when the change touches a service with a label:
    /// `security` services need a member of the security team.
    #[serde(default)]
    pub cab_label_teams: Vec<LabelTeams>,
    /// Days after implementation by which an emergency change must be reviewed.
    pub review_days: u32,
}

/// The teams a CAB needs for changes touching services that carry `label`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelTeams {
    pub label: Label,
    pub teams: Vec<TeamName>,
}

impl Default for ApprovalSettings {
    fn default() -> ApprovalSettings {
        ApprovalSettings { cab_quorum: 2, cab_required_teams: Vec::new(), cab_label_teams: Vec::new(), review_days: 5 }
    }
}

/// An approver's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Reject,
}

crate::keyword_enum!(Verdict { Approve => "approve", Reject => "reject" });

/// One approver's verdict on a change, for one manifest digest. A stored format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Approval {
    pub change: ChangeId,
    pub approver: UserName,
    pub verdict: Verdict,
    pub comment: String,
    /// The release manifest digest the verdict was given for.
    pub manifest_digest: Sha256Digest,
    /// The approver's teams when they decided.
    pub approver_teams: BTreeSet<TeamName>,
    /// Whether the approver held the deployer role, or a just-in-time deployer grant for the
    /// change's environment, when they decided.
    pub deployer: bool,
    pub at: Timestamp,
}

/// Where a change's approvals stand for the release as it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalStatus {
    /// The approvals are enough.
    pub complete: bool,
    /// Someone rejected the change for this digest.
    pub rejected: bool,
    /// Each requirement not yet met, as a sentence.
    pub missing: Vec<String>,
    /// Verdicts given for another digest, which no longer count.
    pub n_stale: usize,
}

/// Judges `approvals` against `route` for the release digest `digest`. `author_teams` are the
/// teams of the requester and of the release's author, which an outside approver is not in.
pub fn judge(
    route: &ApprovalRoute,
    approvals: &[Approval],
    digest: &Sha256Digest,
    author_teams: &BTreeSet<TeamName>,
) -> ApprovalStatus {
    let current: Vec<&Approval> = approvals.iter().filter(|approval| &approval.manifest_digest == digest).collect();
    let n_stale = approvals.len() - current.len();
    let rejected = current.iter().any(|approval| approval.verdict == Verdict::Reject);
    let approving: Vec<&Approval> =
        current.iter().copied().filter(|approval| approval.verdict == Verdict::Approve).collect();
    let approvers: BTreeSet<&UserName> = approving.iter().map(|approval| &approval.approver).collect();
    let mut missing = Vec::new();
    match route {
        ApprovalRoute::Automatic { .. } => {}
        ApprovalRoute::Peer { .. } => {
            if approvers.is_empty() {
                missing.push("one approval".to_owned());
            }
        }
        ApprovalRoute::Cab { quorum, required_teams, outside_team, .. } => {
            let quorum = *quorum as usize;
            if approvers.len() < quorum {
                missing.push(format!("{} more CAB approval(s) (quorum {quorum})", quorum - approvers.len()));
            }
            for team in required_teams {
                let member_approved =
                    approving.iter().any(|approval| approval.approver_teams.iter().any(|t| t.as_str() == team));
                if !member_approved {
                    missing.push(format!("an approval from a member of team {team}"));
                }
            }
            let outside = approving.iter().any(|approval| approval.approver_teams.is_disjoint(author_teams));
            if *outside_team && !outside {
                missing.push("an approval from outside the author's teams".to_owned());
            }
        }
        ApprovalRoute::Emergency { .. } => {
            if !approving.iter().any(|approval| approval.deployer) {
                missing.push("one approval by a deployer (held or granted just in time)".to_owned());
            }
        }
    }
    ApprovalStatus { complete: missing.is_empty() && !rejected, rejected, missing, n_stale }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(text: &str) -> Sha256Digest {
        Sha256Digest::of(text.as_bytes())
    }

    fn approval(approver: &str, teams: &[&str], verdict: Verdict, for_digest: &str) -> Approval {
        Approval {
            change: ChangeId(1),
            approver: UserName::parse(approver).expect("a name"),
            verdict,
            comment: String::new(),
            manifest_digest: digest(for_digest),
            approver_teams: teams.iter().map(|team| TeamName::parse(team).expect("a name")).collect(),
            deployer: approver.starts_with("ops"),
            at: "2026-12-01T10:00:00Z".parse().expect("a time"),
        }
    }

    fn cab() -> ApprovalRoute {
        ApprovalRoute::Cab {
            policy: "p".to_owned(),
            quorum: 2,
            required_teams: vec!["security".to_owned()],
            outside_team: true,
        }
    }

    fn check(route: &ApprovalRoute, approvals: &[Approval], expected_missing: &[&str]) -> ApprovalStatus {
        let author_teams = BTreeSet::from([TeamName::parse("payments").expect("a name")]);
        let status = judge(route, approvals, &digest("now"), &author_teams);
        assert_eq!(status.missing, expected_missing, "{status:?}");
        status
    }

    #[test]
    fn a_cab_needs_a_quorum_the_required_teams_and_an_outsider() {
        use Verdict::Approve;
        check(
            &cab(),
            &[],
            &[
                "2 more CAB approval(s) (quorum 2)",
                "an approval from a member of team security",
                "an approval from outside the author's teams",
            ],
        );
        // The same approver twice is one approval; a member of the author's team is no outsider.
        let twice = [approval("ana", &["payments"], Approve, "now"), approval("ana", &["payments"], Approve, "now")];
        check(
            &cab(),
            &twice,
            &[
                "1 more CAB approval(s) (quorum 2)",
                "an approval from a member of team security",
                "an approval from outside the author's teams",
            ],
        );
        let enough = [approval("ana", &["payments"], Approve, "now"), approval("sec", &["security"], Approve, "now")];
        assert!(check(&cab(), &enough, &[]).complete);
    }

    #[test]
    fn approvals_for_another_digest_do_not_count() {
        let old = [
            approval("ana", &["ops"], Verdict::Approve, "before"),
            approval("sec", &["security"], Verdict::Approve, "before"),
        ];
        let status = check(
            &cab(),
            &old,
            &[
                "2 more CAB approval(s) (quorum 2)",
                "an approval from a member of team security",
                "an approval from outside the author's teams",
            ],
        );
        assert_eq!((status.complete, status.n_stale), (false, 2));
    }

    #[test]
    fn a_rejection_stops_the_change_and_an_emergency_needs_a_deployer() {
        let peer = ApprovalRoute::Peer { policy: "p".to_owned() };
        let status = check(
            &peer,
            &[approval("ana", &[], Verdict::Approve, "now"), approval("bo", &[], Verdict::Reject, "now")],
            &[],
        );
        assert_eq!((status.complete, status.rejected), (false, true));
        let emergency = ApprovalRoute::Emergency { policy: "p".to_owned(), review_days: 5 };
        check(
            &emergency,
            &[approval("ana", &[], Verdict::Approve, "now")],
            &["one approval by a deployer (held or granted just in time)"],
        );
        assert!(check(&emergency, &[approval("ops-1", &[], Verdict::Approve, "now")], &[]).complete);
        assert!(check(&ApprovalRoute::Automatic { policy: "p".to_owned() }, &[], &[]).complete);
    }
}
