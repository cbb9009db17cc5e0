//! Artifacts: immutable, content-addressed build outputs with provenance, owned by a team.
//!
//! Name and version together are immutable: they point at one digest forever. Pushing the same
//! digest again changes nothing; a different digest is refused. A team may require its artifact
//! names to match a pattern.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use crate::digest::Sha256Digest;
use crate::name::{check_text, check_token, TeamName, UserName};
use crate::release::ArtifactRef;
use crate::violation::{Problem, Violations};
use crate::Timestamp;

pub const MAX_ARTIFACT_NAME_LEN: usize = 128;
pub const MAX_ARTIFACT_VERSION_LEN: usize = 128;
pub const MAX_PROVENANCE_FIELD_LEN: usize = 512;
pub const MAX_TAGS: usize = 32;
/// The longest naming pattern accepted (in characters), and the compiled size it may reach.
pub const MAX_PATTERN_LEN: usize = 256;
const PATTERN_SIZE_LIMIT: usize = 64 * 1024;

/// An artifact's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ArtifactId(pub i64);

impl fmt::Display for ArtifactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

macro_rules! token_type {
    ($(#[$meta:meta])* $type:ident, $max:expr, $allowed:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $type(String);

        impl $type {
            pub fn parse(value: &str) -> Result<$type, Problem> {
                check_token(value, $max, $allowed).map(|()| $type(value.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

token_type!(
    /// An artifact name: lower-case letters, digits and `. _ / -` (`payments/ledger`).
    ArtifactName, MAX_ARTIFACT_NAME_LEN, |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._/-".contains(c)
);
token_type!(
    /// An artifact version: letters, digits and `. _ + -`.
    ArtifactVersion, MAX_ARTIFACT_VERSION_LEN, |c: char| c.is_ascii_alphanumeric() || "._+-".contains(c)
);
token_type!(
    /// A tag on an artifact, for legal holds: lower-case letters, digits and `. _ -`.
    Tag, 64, |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c)
);

/// A media type such as `application/gzip`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct MediaType(String);

impl MediaType {
    pub fn parse(value: &str) -> Result<MediaType, Problem> {
        let token =
            |part: &str| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c));
        match value.split_once('/') {
            Some((kind, subtype)) if value.len() <= 127 && token(kind) && token(subtype) => {
                Ok(MediaType(value.to_ascii_lowercase()))
            }
            _ => Err(Problem::Invalid { reason: format!("{value:?} is not a media type (type/subtype)") }),
        }
    }

    pub fn octet_stream() -> MediaType {
        MediaType("application/octet-stream".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where an artifact came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ArtifactProvenance {
    pub repository: Option<String>,
    pub commit: Option<String>,
    pub build_id: Option<String>,
    pub builder: Option<String>,
}

/// A stored artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Artifact {
    pub id: ArtifactId,
    pub name: ArtifactName,
    pub version: ArtifactVersion,
    pub team: TeamName,
    pub digest: Sha256Digest,
    pub size: u64,
    pub media_type: MediaType,
    pub provenance: ArtifactProvenance,
    pub tags: BTreeSet<Tag>,
    pub created_by: UserName,
    pub created_at: Timestamp,
}

/// An artifact's metadata as typed, before its content arrives.
#[derive(Debug, Clone, Default)]
pub struct ArtifactInput {
    pub name: String,
    pub version: String,
    pub team: String,
    pub media_type: Option<String>,
    pub repository: Option<String>,
    pub commit: Option<String>,
    pub build_id: Option<String>,
    pub builder: Option<String>,
    pub tags: Vec<String>,
}

/// Validated metadata of an artifact about to be pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewArtifact {
    pub name: ArtifactName,
    pub version: ArtifactVersion,
    pub team: TeamName,
    pub media_type: MediaType,
    pub provenance: ArtifactProvenance,
    pub tags: BTreeSet<Tag>,
}

impl ArtifactInput {
    /// Validates every field; the team's existence and naming pattern are checked by the caller.
    pub fn parse(self) -> Result<NewArtifact, Violations> {
        let mut violations = Violations::new();
        let name = violations.check("name", ArtifactName::parse(&self.name));
        let version = violations.check("version", ArtifactVersion::parse(&self.version));
        let team = violations.check("team", TeamName::parse(&self.team));
        let media_type = match &self.media_type {
            Some(value) => violations.check("media_type", MediaType::parse(value)),
            None => Some(MediaType::octet_stream()),
        };
        for (field, value) in [
            ("repository", &self.repository),
            ("commit", &self.commit),
            ("build_id", &self.build_id),
            ("builder", &self.builder),
        ] {
            if let Some(value) = value {
                violations.check(field, check_text(value, MAX_PROVENANCE_FIELD_LEN, true));
            }
        }
        if self.tags.len() > MAX_TAGS {
            violations.push("tags", Problem::Invalid { reason: format!("at most {MAX_TAGS} tags") });
        }
        let tags: BTreeSet<Tag> = self
            .tags
            .iter()
            .enumerate()
            .filter_map(|(index, tag)| violations.check(&format!("tags[{index}]"), Tag::parse(tag)))
            .collect();
        let provenance = ArtifactProvenance {
            repository: self.repository,
            commit: self.commit,
            build_id: self.build_id,
            builder: self.builder,
        };
        match (name, version, team, media_type) {
            (Some(name), Some(version), Some(team), Some(media_type)) if violations.is_empty() => {
                Ok(NewArtifact { name, version, team, media_type, provenance, tags })
            }
            _ => Err(violations),
        }
    }
}

/// What pushing content under a name and version does, given what is stored under them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// Nothing is stored under the name and version yet.
    Create,
    /// The same digest is already stored: a no-op.
    AlreadyPresent,
}

/// Why a push is refused: the name and version already point at other content, stored now or
/// removed earlier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("artifact {name}@{version} is immutable: it is {existing}{}, not {pushed}", if *.removed { " (removed, and kept as a tombstone)" } else { "" })]
pub struct ImmutableArtifact {
    pub name: ArtifactName,
    pub version: ArtifactVersion,
    pub existing: Sha256Digest,
    pub pushed: Sha256Digest,
    /// Whether the name and version point at the other content through a tombstone.
    pub removed: bool,
}

/// What is recorded under a name and version: a stored artifact, or the tombstone of a removed
/// one, which keeps its digest forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded<'a> {
    Nothing,
    Stored(&'a Artifact),
    Removed { digest: Sha256Digest },
}

/// Decides a push of `digest` under a name and version, given what is recorded under them. A
/// removed artifact's name and version accept only its own content again.
pub fn decide_push(
    recorded: Recorded<'_>,
    new: &NewArtifact,
    digest: Sha256Digest,
) -> Result<PushOutcome, ImmutableArtifact> {
    let refuse = |existing: Sha256Digest, removed: bool| ImmutableArtifact {
        name: new.name.clone(),
        version: new.version.clone(),
        existing,
        pushed: digest,
        removed,
    };
    match recorded {
        Recorded::Nothing => Ok(PushOutcome::Create),
        Recorded::Stored(artifact) if artifact.digest == digest => Ok(PushOutcome::AlreadyPresent),
        Recorded::Stored(artifact) => Err(refuse(artifact.digest, false)),
        Recorded::Removed { digest: removed } if removed == digest => Ok(PushOutcome::Create),
        Recorded::Removed { digest: removed } => Err(refuse(removed, true)),
    }
}

/// A team's naming convention for artifacts: a regular expression the whole name must match.
#[derive(Debug, Clone)]
pub struct NamePattern {
    source: String,
    // Invariant: `regex` is `source` anchored at both ends.
    regex: regex::Regex,
}

impl NamePattern {
    pub fn parse(source: &str) -> Result<NamePattern, Problem> {
        if source.chars().count() > MAX_PATTERN_LEN {
            return Err(Problem::TooLong { max: MAX_PATTERN_LEN });
        }
        crate::name::check_no_nul(source)?;
        let regex = regex::RegexBuilder::new(&format!("^(?:{source})$"))
            .size_limit(PATTERN_SIZE_LIMIT)
            .build()
            .map_err(|error| Problem::Invalid {
                reason: format!("{source:?} is not a valid pattern: {}", first_line(&error.to_string())),
            })?;
        Ok(NamePattern { source: source.to_owned(), regex })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `name` follows the convention.
    pub fn check(&self, name: &ArtifactName) -> Result<(), Problem> {
        if self.regex.is_match(name.as_str()) {
            Ok(())
        } else {
            Err(Problem::Invalid {
                reason: format!("{:?} does not match the team's naming pattern {:?}", name.as_str(), self.source),
            })
        }
    }
}

fn first_line(text: &str) -> String {
    text.lines().last().unwrap_or(text).trim().to_owned()
}

impl PartialEq for NamePattern {
    fn eq(&self, other: &NamePattern) -> bool {
        self.source == other.source
    }
}

impl Eq for NamePattern {}

impl Serialize for NamePattern {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

/// A trusted key's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct TrustedKeyId(pub i64);

/// A public key trusted to sign artifacts, registered for a team or a builder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustedKeyRecord {
    pub id: TrustedKeyId,
    /// `crate::audit::key_id` of the key: what signatures name.
    pub key_id: String,
    pub name: String,
    pub team: Option<TeamName>,
    pub builder: Option<String>,
    #[serde(serialize_with = "serialize_key")]
    pub public_key: ed25519_dalek::VerifyingKey,
    pub created_by: UserName,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

fn serialize_key<S: serde::Serializer>(key: &ed25519_dalek::VerifyingKey, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&hex::encode(key.as_bytes()))
}

/// A signature attached to an artifact: a DSSE envelope, verified when it was attached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureRecord {
    pub id: i64,
    pub artifact: ArtifactId,
    pub key_id: String,
    /// The DSSE envelope, as JSON.
    pub envelope: String,
    pub created_by: UserName,
    pub created_at: Timestamp,
}

/// What the audit log records about a refused push: the content that was offered. A stored
/// format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushAttempt {
    pub digest: String,
    pub size: u64,
}

/// What the audit log records when a signature is attached: the key that made it and the
/// digest it is about. A stored format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureAttached {
    pub key_id: String,
    pub key_name: String,
    pub digest: String,
}

/// Why a release is not ready to move to `ready`, or an artifact not fit to deploy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadinessProblem {
    #[error("artifact {}@{} of service {} is not in the artifact store", .artifact.name, .artifact.version, .artifact.service)]
    MissingArtifact { artifact: ArtifactRef },
    #[error("artifact {}@{} of service {} is stored as {stored}, but the release names {}", .artifact.name, .artifact.version, .artifact.service, .artifact.digest)]
    DigestMismatch { artifact: ArtifactRef, stored: Sha256Digest },
    #[error("artifact {}@{} of service {} does not verify on disk: {reason}", .artifact.name, .artifact.version, .artifact.service)]
    ContentCorrupt { artifact: ArtifactRef, reason: String },
    #[error("artifact {}@{} of service {} has no valid signature from a trusted key: {}", .artifact.name, .artifact.version, .artifact.service, .reasons.join("; "))]
    Unsigned { artifact: ArtifactRef, reasons: Vec<String> },
}

/// The first problem of a release's artifact that can be judged from the records alone: it is
/// not stored, or stored with another digest. `None` when the stored artifact is the one named.
pub fn record_problem(reference: &ArtifactRef, stored: Option<&Artifact>) -> Option<ReadinessProblem> {
    match stored {
        None => Some(ReadinessProblem::MissingArtifact { artifact: reference.clone() }),
        Some(artifact) if artifact.digest != reference.digest => {
            Some(ReadinessProblem::DigestMismatch { artifact: reference.clone(), stored: artifact.digest })
        }
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(value: &str) -> ArtifactName {
        ArtifactName::parse(value).expect("a valid name")
    }

    #[test]
    fn artifact_names_are_path_like_tokens() {
        for valid in ["ledger", "payments/ledger", "ledger-api_v2.tar"] {
            assert!(ArtifactName::parse(valid).is_ok(), "{valid}");
        }
        for invalid in ["", "/ledger", "Ledger", "a//b", "a/../b", "ledger/", "led ger", &"a".repeat(129)] {
            assert!(ArtifactName::parse(invalid).is_err(), "{invalid}");
        }
    }

    #[test]
    fn a_naming_pattern_must_match_the_whole_name() {
        let pattern = NamePattern::parse("payments/[a-z-]+").expect("a valid pattern");
        assert!(pattern.check(&name("payments/ledger")).is_ok());
        assert_eq!(
            pattern.check(&name("payments/ledger2")).map_err(|p| p.to_string()),
            Err("\"payments/ledger2\" does not match the team's naming pattern \"payments/[a-z-]+\"".to_owned())
        );
        assert!(pattern.check(&name("x/payments/ledger")).is_err(), "anchored at the start");
        assert!(NamePattern::parse("(unclosed").is_err());
        assert!(NamePattern::parse("a{1000}{1000}").is_err(), "bounded compiled size");
        assert!(NamePattern::parse(&"é".repeat(MAX_PATTERN_LEN)).is_ok(), "counted in characters");
        assert!(NamePattern::parse(&"a".repeat(MAX_PATTERN_LEN + 1)).is_err());
        assert!(NamePattern::parse("a\0b").is_err(), "no NUL, which PostgreSQL cannot store");
    }

    #[test]
    fn a_name_and_version_point_at_one_digest_forever() {
        let new = ArtifactInput {
            name: "ledger".into(),
            version: "1.0.0".into(),
            team: "payments".into(),
            ..ArtifactInput::default()
        }
        .parse()
        .expect("valid");
        let first = Sha256Digest::of(b"one");
        assert_eq!(decide_push(Recorded::Nothing, &new, first), Ok(PushOutcome::Create));
        let stored = Artifact {
            id: ArtifactId(1),
            name: new.name.clone(),
            version: new.version.clone(),
            team: new.team.clone(),
            digest: first,
            size: 3,
            media_type: MediaType::octet_stream(),
            provenance: ArtifactProvenance::default(),
            tags: BTreeSet::new(),
            created_by: UserName::parse("ana").expect("name"),
            created_at: "2026-03-01T12:00:00Z".parse().expect("time"),
        };
        assert_eq!(decide_push(Recorded::Stored(&stored), &new, first), Ok(PushOutcome::AlreadyPresent));
        let refused = decide_push(Recorded::Stored(&stored), &new, Sha256Digest::of(b"two")).expect_err("immutable");
        assert!(refused.to_string().starts_with("artifact ledger@1.0.0 is immutable: it is sha256:"), "{refused}");

        // Removed: the tombstone accepts the same content back, and nothing else.
        let removed = Recorded::Removed { digest: first };
        assert_eq!(decide_push(removed, &new, first), Ok(PushOutcome::Create));
        let refused = decide_push(removed, &new, Sha256Digest::of(b"two")).expect_err("tombstone");
        assert!(refused.to_string().contains("(removed, and kept as a tombstone)"), "{refused}");
    }
}
