//! Evidence from CI as Tollgate records it: the kind of report, the raw file's digest and the
//! normalized facts parsed from it. Parsing itself lives in `tollgate-evidence`, which reads
//! bytes into facts; this module holds what is stored and shown.

use serde::Serialize;

use crate::digest::Sha256Digest;
use crate::name::{ServiceName, UserName};
use crate::release::ReleaseId;
use crate::Timestamp;

/// The formats of evidence Tollgate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// A JUnit XML test report, as written by cargo-nextest, pytest, Maven Surefire and others.
    Junit,
    /// A Cobertura XML coverage report.
    Cobertura,
    /// An LCOV tracefile.
    Lcov,
    /// A SARIF 2.1.0 static-analysis log.
    Sarif,
    /// A CycloneDX JSON software bill of materials, spec version 1.4, 1.5 or 1.6.
    Cyclonedx,
    /// A k6 end-of-test summary in JSON: `k6 run --summary-export` or the data `handleSummary`
    /// receives.
    K6,
    /// A JMeter results file (JTL) in CSV form, with its header line.
    Jmeter,
}

crate::keyword_enum!(EvidenceKind {
    Junit => "junit", Cobertura => "cobertura", Lcov => "lcov", Sarif => "sarif", Cyclonedx => "cyclonedx",
    K6 => "k6", Jmeter => "jmeter",
});

impl EvidenceKind {
    /// Every kind, in the order of `ALL`.
    pub const KINDS: [EvidenceKind; 7] = [
        EvidenceKind::Junit,
        EvidenceKind::Cobertura,
        EvidenceKind::Lcov,
        EvidenceKind::Sarif,
        EvidenceKind::Cyclonedx,
        EvidenceKind::K6,
        EvidenceKind::Jmeter,
    ];
}

/// An evidence record's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct EvidenceId(pub i64);

impl std::fmt::Display for EvidenceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Stored evidence: the raw file's digest and the facts parsed from it.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceRecord {
    pub id: EvidenceId,
    pub release: ReleaseId,
    pub service: Option<ServiceName>,
    pub kind: EvidenceKind,
    pub digest: Sha256Digest,
    pub size: u64,
    /// The normalized facts (`tollgate-evidence`'s stored format, `format_version: 1`).
    pub facts: serde_json::Value,
    pub created_by: UserName,
    pub created_at: Timestamp,
}

/// What the audit log records about an upload: where the file went, the digests of the file and
/// of its facts, and a one-line summary. Not the facts themselves, which can be megabytes; they
/// are stored with the record, and `facts_digest` (SHA-256 of their canonical JSON) binds them.
/// A stored format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceUploaded {
    pub release: String,
    pub service: Option<ServiceName>,
    pub kind: EvidenceKind,
    pub digest: Sha256Digest,
    pub size: u64,
    pub facts_digest: Sha256Digest,
    pub summary: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_text_form() {
        for kind in EvidenceKind::KINDS {
            assert_eq!(kind.to_string().parse::<EvidenceKind>(), Ok(kind));
        }
        assert_eq!(EvidenceKind::KINDS.len(), EvidenceKind::ALL.len());
    }

    #[test]
    fn the_upload_entry_format_is_stable() {
        let uploaded = EvidenceUploaded {
            release: "1.4.0".to_owned(),
            service: Some(ServiceName::parse("ledger").expect("name")),
            kind: EvidenceKind::Junit,
            digest: Sha256Digest::of(b"report"),
            size: 6,
            facts_digest: Sha256Digest::of(b"facts"),
            summary: "7 tests: 5 passed, 1 failed, 1 skipped".to_owned(),
        };
        insta::assert_snapshot!(serde_json::to_string(&uploaded).expect("json"), @r#"{"release":"1.4.0","service":"ledger","kind":"junit","digest":"sha256:845e91831319e89c4d656bdb80c278ac09a7230d61e5dfd2e1b1fbb436ac8917","size":6,"facts_digest":"sha256:0694aacb66d62e742a92e8d5f1e82bd9d2a8ca1be88744201fbe63d0f5007502","summary":"7 tests: 5 passed, 1 failed, 1 skipped"}"#);
    }

    #[test]
    fn an_unknown_kind_is_refused_with_the_list_of_known_ones() {
        let problem = "JUnit".parse::<EvidenceKind>().expect_err("kinds are lower case");
        assert_eq!(
            problem.to_string(),
            r#""JUnit" is not one of junit, cobertura, lcov, sarif, cyclonedx, k6, jmeter"#
        );
    }
}
