//! CycloneDX JSON bills of materials (spec 1.4, 1.5, 1.6) into [`SbomFacts`].
//!
//! `bomFormat` must be `CycloneDX` and `specVersion` one of 1.4, 1.5 or 1.6; both are checked
//! before anything else, so a document of another version is refused at its path rather than at
//! whatever part of it differs. Components are counted with their nested `components`; the
//! subject of the bill in `metadata.component` is not a component of it. A license is an SPDX
//! `license.id`, else a `license.name`, or a whole `expression`. A vulnerability's severity is
//! the highest of its `ratings`, `unknown` when it has none, and it affects the `ref`s of its
//! `affects`.
//!
//! CycloneDX XML, services, dependencies and the rest of the schema are not read: the structs
//! below are this parser's own and skip everything else unread.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::text::{excerpt, Source};
use crate::{json, EvidenceError, EvidenceKind, SbomFacts, Severity, VulnerabilityFact};

/// The spec versions this parser reads.
const SPEC_VERSIONS: [&str; 3] = ["1.4", "1.5", "1.6"];

/// Parses a CycloneDX JSON bill of materials.
pub(crate) fn parse(bytes: &[u8]) -> Result<SbomFacts, EvidenceError> {
    let source = Source::new(EvidenceKind::Cyclonedx, bytes)?;
    json::check_structure(source)?;
    let header: Header = json::deserialize(source)?;
    if header.bom_format != "CycloneDX" {
        return Err(EvidenceError::at_path(
            source.kind,
            "$.bomFormat",
            format!("expected \"CycloneDX\", found {}", excerpt(&header.bom_format)),
        ));
    }
    if !SPEC_VERSIONS.contains(&header.spec_version.as_str()) {
        return Err(EvidenceError::at_path(
            source.kind,
            "$.specVersion",
            format!("unsupported CycloneDX spec version {}, expected 1.4, 1.5 or 1.6", excerpt(&header.spec_version)),
        ));
    }
    let bom: Bom = json::deserialize(source)?;
    facts(source, header.spec_version, bom)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    bom_format: String,
    spec_version: String,
}

#[derive(Deserialize)]
struct Bom {
    components: Option<Vec<Component>>,
    vulnerabilities: Option<Vec<Vulnerability>>,
}

#[derive(Deserialize)]
struct Component {
    licenses: Option<Vec<LicenseChoice>>,
    components: Option<Vec<Component>>,
}

#[derive(Deserialize)]
struct LicenseChoice {
    license: Option<License>,
    expression: Option<String>,
}

#[derive(Deserialize)]
struct License {
    id: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct Vulnerability {
    id: Option<String>,
    #[serde(rename = "bom-ref")]
    bom_ref: Option<String>,
    ratings: Option<Vec<Rating>>,
    affects: Option<Vec<Affect>>,
}

#[derive(Deserialize)]
struct Rating {
    severity: Option<Severity>,
}

#[derive(Deserialize)]
struct Affect {
    #[serde(rename = "ref")]
    reference: String,
}

fn facts(source: Source<'_>, spec_version: String, bom: Bom) -> Result<SbomFacts, EvidenceError> {
    let mut facts = SbomFacts {
        spec_version,
        components: 0,
        licenses: BTreeMap::new(),
        components_without_license: 0,
        vulnerabilities: Vec::new(),
        vulnerabilities_by_severity: Severity::ALL.into_iter().map(|severity| (severity, 0)).collect(),
    };
    count_components(source, &bom.components.unwrap_or_default(), "$", &mut facts)?;
    for vulnerability in bom.vulnerabilities.unwrap_or_default() {
        let severity = vulnerability
            .ratings
            .unwrap_or_default()
            .into_iter()
            .filter_map(|rating| rating.severity)
            .min_by_key(|&severity| rank(severity))
            .unwrap_or(Severity::Unknown);
        *facts.vulnerabilities_by_severity.entry(severity).or_default() += 1;
        facts.vulnerabilities.push(VulnerabilityFact {
            id: vulnerability.id.or(vulnerability.bom_ref),
            severity,
            affects: vulnerability.affects.unwrap_or_default().into_iter().map(|affect| affect.reference).collect(),
        });
    }
    Ok(facts)
}

/// Counts components and their licenses, nested components included. The JSON check bounded
/// the nesting, and so this recursion.
fn count_components(
    source: Source<'_>,
    components: &[Component],
    parent_path: &str,
    facts: &mut SbomFacts,
) -> Result<(), EvidenceError> {
    for (index, component) in components.iter().enumerate() {
        let path = format!("{parent_path}.components[{index}]");
        facts.components += 1;
        let licenses = component.licenses.as_deref().unwrap_or_default();
        if licenses.is_empty() {
            facts.components_without_license += 1;
        }
        for (license_index, choice) in licenses.iter().enumerate() {
            let license = match (&choice.license, &choice.expression) {
                (_, Some(expression)) => expression,
                (Some(License { id: Some(id), .. }), None) => id,
                (Some(License { name: Some(name), .. }), None) => name,
                (Some(_), None) => {
                    return Err(EvidenceError::at_path(
                        source.kind,
                        format!("{path}.licenses[{license_index}].license"),
                        "a license has neither an id nor a name",
                    ))
                }
                (None, None) => {
                    return Err(EvidenceError::at_path(
                        source.kind,
                        format!("{path}.licenses[{license_index}]"),
                        "a license entry has neither a license nor an expression",
                    ))
                }
            };
            *facts.licenses.entry(license.clone()).or_default() += 1;
        }
        count_components(source, component.components.as_deref().unwrap_or_default(), &path, facts)?;
    }
    Ok(())
}

/// Orders severities for "the highest": lower is more severe, and `unknown` loses to any rating.
fn rank(severity: Severity) -> u8 {
    match severity {
        Severity::Critical => 0,
        Severity::High => 1,
        Severity::Medium => 2,
        Severity::Low => 3,
        Severity::Info => 4,
        Severity::None => 5,
        Severity::Unknown => 6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(input: &str) -> String {
        parse(input.as_bytes()).expect_err("an invalid bill").to_string()
    }

    #[test]
    fn components_licenses_and_vulnerabilities_are_summarized() {
        let facts = parse(
            br#"{
  "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
  "metadata": {"component": {"type": "application", "name": "app", "licenses": [{"license": {"id": "MIT"}}]}},
  "components": [
    {"type": "library", "name": "a", "bom-ref": "a@1", "licenses": [{"expression": "MIT OR Apache-2.0"}],
     "components": [{"type": "library", "name": "a-inner", "licenses": [{"license": {"id": "MIT"}}]}]},
    {"type": "library", "name": "b", "bom-ref": "b@2", "licenses": [{"license": {"id": "MIT"}}, {"license": {"name": "Custom"}}]},
    {"type": "library", "name": "c", "bom-ref": "c@3"}
  ],
  "vulnerabilities": [
    {"id": "CVE-2024-0001", "ratings": [{"severity": "low"}, {"severity": "high"}, {"severity": "unknown"}],
     "affects": [{"ref": "a@1"}, {"ref": "b@2"}]},
    {"bom-ref": "vuln-2", "ratings": [], "affects": [{"ref": "c@3"}]}
  ]
}"#,
        )
        .expect("a valid bill");
        insta::assert_json_snapshot!(facts, @r#"
        {
          "spec_version": "1.6",
          "components": 4,
          "licenses": {
            "Custom": 1,
            "MIT": 2,
            "MIT OR Apache-2.0": 1
          },
          "components_without_license": 1,
          "vulnerabilities": [
            {
              "id": "CVE-2024-0001",
              "severity": "high",
              "affects": [
                "a@1",
                "b@2"
              ]
            },
            {
              "id": "vuln-2",
              "severity": "unknown",
              "affects": [
                "c@3"
              ]
            }
          ],
          "vulnerabilities_by_severity": {
            "critical": 0,
            "high": 1,
            "medium": 0,
            "low": 0,
            "info": 0,
            "none": 0,
            "unknown": 1
          }
        }
        "#);
    }

    #[test]
    fn another_spec_version_is_refused_at_its_path() {
        assert_eq!(
            error(r#"{"bomFormat": "CycloneDX", "specVersion": "1.3", "components": 7}"#),
            r#"cyclonedx: at $.specVersion: unsupported CycloneDX spec version "1.3", expected 1.4, 1.5 or 1.6"#
        );
    }

    #[test]
    fn another_bom_format_is_refused_at_its_path() {
        assert_eq!(
            error(r#"{"bomFormat": "SPDX", "specVersion": "1.5"}"#),
            r#"cyclonedx: at $.bomFormat: expected "CycloneDX", found "SPDX""#
        );
    }

    #[test]
    fn a_severity_outside_the_spec_is_refused_at_its_path() {
        let error = error(
            r#"{"bomFormat": "CycloneDX", "specVersion": "1.5",
                "vulnerabilities": [{"id": "x", "ratings": [{"severity": "severe"}]}]}"#,
        );
        assert!(
            error.starts_with("cyclonedx: at $.vulnerabilities[0].ratings[0].severity: unknown variant `severe`"),
            "{error}"
        );
    }

    #[test]
    fn a_license_without_id_or_name_is_refused_at_its_path() {
        assert_eq!(
            error(
                r#"{"bomFormat": "CycloneDX", "specVersion": "1.4",
                    "components": [{"name": "a", "components": [{"name": "b", "licenses": [{"license": {"url": "x"}}]}]}]}"#
            ),
            "cyclonedx: at $.components[0].components[0].licenses[0].license: a license has neither an id nor a name"
        );
    }
}
