//! Retention: which artifacts to keep and which to remove, and why, decided purely from the
//! artifacts, the policies, the releases and deployments that refer to them, and the legal holds.
//!
//! An artifact is kept when any reason keeps it; it is removed only when a policy applies to it
//! and no reason keeps it. An artifact no policy covers is kept.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::artifact::{Artifact, ArtifactId, ArtifactName, Tag};
use crate::name::{EnvironmentName, TeamName, UserName};
use crate::Timestamp;

/// A retention policy's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PolicyId(pub i64);

/// Which artifacts a policy covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Selector {
    Name(ArtifactName),
    Team(TeamName),
}

impl Selector {
    fn covers(&self, artifact: &Artifact) -> bool {
        match self {
            Selector::Name(name) => &artifact.name == name,
            Selector::Team(team) => &artifact.team == team,
        }
    }
}

/// A legal hold on a tag: every artifact carrying the tag is kept, whatever the policies say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegalHold {
    pub tag: Tag,
    pub reason: String,
    pub created_by: UserName,
    pub created_at: Timestamp,
}

/// Keep the last `keep_last` versions of each artifact name, and anything deployed in the last
/// `keep_deployed_days` days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionPolicy {
    pub id: PolicyId,
    pub selector: Selector,
    pub keep_last: Option<u32>,
    pub keep_deployed_days: Option<u32>,
}

/// Why an artifact is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum KeepReason {
    NoPolicy,
    AmongLatest { rank: usize, keep_last: u32 },
    DeployedRecently { at: Timestamp, days: u32 },
    RunningIn { environments: Vec<EnvironmentName> },
    ReferencedByOpenRelease { releases: Vec<String> },
    LegalHold { tag: Tag },
}

impl fmt::Display for KeepReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeepReason::NoPolicy => write!(f, "no retention policy covers it"),
            KeepReason::AmongLatest { rank, keep_last } => {
                write!(f, "version {rank} of the latest {keep_last}")
            }
            KeepReason::DeployedRecently { at, days } => {
                write!(f, "deployed at {at}, within {days} days")
            }
            KeepReason::RunningIn { environments } => {
                write!(f, "running in {}", environments.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
            }
            KeepReason::ReferencedByOpenRelease { releases } => {
                write!(f, "referenced by open release {}", releases.join(", "))
            }
            KeepReason::LegalHold { tag } => write!(f, "legal hold on tag {tag}"),
        }
    }
}

/// What is known about how artifacts are used.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    /// Versions of releases that are not closed or cancelled, by artifact.
    pub open_releases: BTreeMap<ArtifactId, Vec<String>>,
    /// The last successful deployment of each artifact.
    pub last_deployed: BTreeMap<ArtifactId, Timestamp>,
    /// Environments each artifact runs in now.
    pub running: BTreeMap<ArtifactId, Vec<EnvironmentName>>,
    /// Tags under legal hold.
    pub held_tags: BTreeSet<Tag>,
}

/// The decision for one artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub artifact: ArtifactId,
    pub keep: bool,
    /// Why it is kept (empty when removed).
    pub kept_because: Vec<KeepReason>,
    /// Why it would go: the policies it falls outside of.
    pub removable_because: Vec<String>,
}

/// Decides every artifact, in the order given.
pub fn decide(artifacts: &[Artifact], policies: &[RetentionPolicy], usage: &Usage, now: Timestamp) -> Vec<Decision> {
    let ranks = ranks(artifacts);
    artifacts
        .iter()
        .map(|artifact| {
            let applicable: Vec<&RetentionPolicy> = policies.iter().filter(|p| p.selector.covers(artifact)).collect();
            let mut kept_because = Vec::new();
            let mut removable_because = Vec::new();
            if applicable.is_empty() {
                kept_because.push(KeepReason::NoPolicy);
            }
            if let Some(tag) = artifact.tags.iter().find(|tag| usage.held_tags.contains(*tag)) {
                kept_because.push(KeepReason::LegalHold { tag: tag.clone() });
            }
            if let Some(releases) = usage.open_releases.get(&artifact.id) {
                kept_because.push(KeepReason::ReferencedByOpenRelease { releases: releases.clone() });
            }
            if let Some(environments) = usage.running.get(&artifact.id) {
                kept_because.push(KeepReason::RunningIn { environments: environments.clone() });
            }
            let rank = ranks[&artifact.id];
            for policy in applicable {
                if let Some(keep_last) = policy.keep_last {
                    if rank <= keep_last as usize {
                        kept_because.push(KeepReason::AmongLatest { rank, keep_last });
                    } else {
                        removable_because.push(format!("version {rank} of its name, beyond the latest {keep_last}"));
                    }
                }
                if let Some(days) = policy.keep_deployed_days {
                    let cutoff = now.checked_sub(jiff::SignedDuration::from_hours(24 * i64::from(days))).unwrap_or(now);
                    match usage.last_deployed.get(&artifact.id) {
                        Some(at) if *at >= cutoff => kept_because.push(KeepReason::DeployedRecently { at: *at, days }),
                        Some(at) => removable_because.push(format!("last deployed at {at}, more than {days} days ago")),
                        None => removable_because.push(format!(
                            "never deployed, and the policy keeps only what was deployed in {days} days"
                        )),
                    }
                }
            }
            let keep = !kept_because.is_empty();
            if keep {
                removable_because.clear();
            }
            Decision { artifact: artifact.id, keep, kept_because, removable_because }
        })
        .collect()
}

/// The rank of each artifact among the versions of its name, newest first (1 is the newest).
fn ranks(artifacts: &[Artifact]) -> BTreeMap<ArtifactId, usize> {
    let mut by_name: BTreeMap<&ArtifactName, Vec<&Artifact>> = BTreeMap::new();
    for artifact in artifacts {
        by_name.entry(&artifact.name).or_default().push(artifact);
    }
    let mut ranks = BTreeMap::new();
    for versions in by_name.values_mut() {
        versions.sort_by_key(|artifact| std::cmp::Reverse((artifact.created_at, artifact.id)));
        for (index, artifact) in versions.iter().enumerate() {
            ranks.insert(artifact.id, index + 1);
        }
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::{ArtifactProvenance, ArtifactVersion, MediaType};
    use crate::digest::Sha256Digest;
    use crate::name::UserName;

    fn at(value: &str) -> Timestamp {
        value.parse().expect("timestamp")
    }

    fn artifact(id: i64, name: &str, day: u32, tags: &[&str]) -> Artifact {
        Artifact {
            id: ArtifactId(id),
            name: ArtifactName::parse(name).expect("name"),
            version: ArtifactVersion::parse(&format!("1.0.{id}")).expect("version"),
            team: TeamName::parse("payments").expect("team"),
            digest: Sha256Digest::of(&id.to_le_bytes()),
            size: 1,
            media_type: MediaType::octet_stream(),
            provenance: ArtifactProvenance::default(),
            tags: tags.iter().map(|t| Tag::parse(t).expect("tag")).collect(),
            created_by: UserName::parse("ana").expect("user"),
            created_at: at(&format!("2026-03-{day:02}T00:00:00Z")),
        }
    }

    fn summary(decisions: &[Decision]) -> Vec<String> {
        decisions
            .iter()
            .map(|d| {
                let why: Vec<String> = if d.keep {
                    d.kept_because.iter().map(ToString::to_string).collect()
                } else {
                    d.removable_because.clone()
                };
                format!("{} {}: {}", d.artifact, if d.keep { "keep" } else { "remove" }, why.join("; "))
            })
            .collect()
    }

    #[test]
    fn every_decision_says_why() {
        let artifacts = vec![
            artifact(1, "ledger", 1, &[]),
            artifact(2, "ledger", 2, &["sox-2026"]),
            artifact(3, "ledger", 3, &[]),
            artifact(4, "ledger", 4, &[]),
            artifact(5, "ledger", 5, &[]),
            artifact(6, "ledger", 6, &[]),
            artifact(7, "api", 1, &[]),
        ];
        let policies = vec![RetentionPolicy {
            id: PolicyId(1),
            selector: Selector::Name(ArtifactName::parse("ledger").expect("name")),
            keep_last: Some(2),
            keep_deployed_days: Some(30),
        }];
        let prod = EnvironmentName::parse("prod").expect("env");
        let usage = Usage {
            open_releases: BTreeMap::from([(ArtifactId(3), vec!["2.0.0".to_owned()])]),
            last_deployed: BTreeMap::from([
                (ArtifactId(4), at("2026-03-20T00:00:00Z")),
                (ArtifactId(1), at("2026-01-01T00:00:00Z")),
            ]),
            running: BTreeMap::from([(ArtifactId(1), vec![prod])]),
            held_tags: BTreeSet::from([Tag::parse("sox-2026").expect("tag")]),
        };
        let decisions = decide(&artifacts, &policies, &usage, at("2026-04-01T00:00:00Z"));
        insta::assert_snapshot!(summary(&decisions).join("\n"), @r"
        1 keep: running in prod
        2 keep: legal hold on tag sox-2026
        3 keep: referenced by open release 2.0.0
        4 keep: deployed at 2026-03-20T00:00:00Z, within 30 days
        5 keep: version 2 of the latest 2
        6 keep: version 1 of the latest 2
        7 keep: no retention policy covers it
        ");
        let unused = decide(&artifacts[..3], &policies, &Usage::default(), at("2026-04-01T00:00:00Z"));
        assert_eq!(
            summary(&unused),
            [
                "1 remove: version 3 of its name, beyond the latest 2; never deployed, and the policy keeps only what was deployed in 30 days",
                "2 keep: version 2 of the latest 2",
                "3 keep: version 1 of the latest 2",
            ]
        );
    }
}
