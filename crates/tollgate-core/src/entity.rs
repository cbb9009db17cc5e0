//! The kinds of record a lookup or a write can be about, for errors that name what was not
//! found or what conflicted.
//!
//! One enum for every layer: store errors, service errors and the API's `*_not_found` codes all
//! name an `Entity`, so no layer matches on a string.

/// A kind of record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Entity {
    User,
    Team,
    TeamMember,
    Token,
    Service,
    ServiceDependency,
    Environment,
    Lifecycle,
    Release,
    ReleaseArtifact,
    Deployment,
    Artifact,
    ArtifactTag,
    ArtifactTombstone,
    TrustedKey,
    Signature,
    Evidence,
    RetentionPolicy,
    LegalHold,
    Blob,
    AuditEntry,
    AuditHead,
    AuditVerification,
    Checkpoint,
    SigningKey,
    PolicyVersion,
    GateDecision,
    GateOverride,
    Grant,
    AuthzPolicy,
    SsoConfig,
    SsoLogin,
    SsoIdentity,
    CalendarPeriod,
    ChangeRequest,
    ChangeApproval,
    ChangePolicy,
    Train,
    Lease,
    Run,
    DeploymentStep,
    Quarantine,
    TrafficSplit,
}

crate::keyword_enum!(Entity {
    User => "user", Team => "team", TeamMember => "team member", Token => "token",
    Service => "service", ServiceDependency => "service dependency", Environment => "environment",
    Lifecycle => "lifecycle", Release => "release", ReleaseArtifact => "release artifact",
    Deployment => "deployment", Artifact => "artifact", ArtifactTag => "artifact tag",
    ArtifactTombstone => "artifact tombstone", TrustedKey => "trusted key", Signature => "signature",
    Evidence => "evidence", RetentionPolicy => "retention policy", LegalHold => "legal hold",
    Blob => "blob", AuditEntry => "audit entry", AuditHead => "audit head",
    AuditVerification => "audit verification", Checkpoint => "checkpoint",
    SigningKey => "signing key", PolicyVersion => "policy version", GateDecision => "gate decision",
    GateOverride => "gate override", Grant => "grant", AuthzPolicy => "authorization policy",
    SsoConfig => "single sign-on settings", SsoLogin => "single sign-on login", SsoIdentity => "single sign-on identity",
    CalendarPeriod => "calendar period", ChangeRequest => "change request",
    ChangeApproval => "change approval", ChangePolicy => "change policy", Train => "release train",
    Lease => "lease", Run => "run", DeploymentStep => "deployment step", Quarantine => "quarantine",
    TrafficSplit => "traffic split",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entity_reads_back_from_its_words() {
        for words in Entity::ALL {
            let entity: Entity = words.parse().expect("listed words parse");
            assert_eq!(entity.as_str(), *words);
        }
    }
}
