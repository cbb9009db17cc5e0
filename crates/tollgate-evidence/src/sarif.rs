//! SARIF 2.1.0 logs into [`FindingFacts`].
//!
//! Only `version == "2.1.0"` is accepted; it is checked before anything else, so a log of
//! another version is refused at `$.version` rather than at whatever part of it differs. A
//! result's level is its `level`; when that is absent, the level of its rule's
//! `defaultConfiguration` (found by `ruleIndex`, `rule.index`, or the rule id among
//! `tool.driver.rules`); else `none` when its `kind` is present and not `fail`; else `warning`,
//! as SARIF 2.1.0 §3.27.10 says. The rule is `ruleId`, else `rule.id`, else the id of the rule
//! found by index; the file is the `uri` of
//! `locations[0].physicalLocation.artifactLocation`, else of the run's artifact it indexes.
//!
//! The structs below are this parser's own, minimal on purpose: everything else in a log is
//! skipped unread, so unknown properties never fail a parse.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::text::{excerpt, Source};
use crate::{json, EvidenceError, EvidenceKind, FindingFacts, FindingLevel};

/// Parses a SARIF 2.1.0 log.
pub(crate) fn parse(bytes: &[u8]) -> Result<FindingFacts, EvidenceError> {
    let source = Source::new(EvidenceKind::Sarif, bytes)?;
    json::check_structure(source)?;
    let header: Header = json::deserialize(source)?;
    if header.version != "2.1.0" {
        return Err(EvidenceError::at_path(
            source.kind,
            "$.version",
            format!("unsupported SARIF version {}, expected \"2.1.0\"", excerpt(&header.version)),
        ));
    }
    let log: Log = json::deserialize(source)?;
    Ok(facts(log))
}

#[derive(Deserialize)]
struct Header {
    version: String,
}

#[derive(Deserialize)]
struct Log {
    runs: Option<Vec<Run>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: Tool,
    results: Option<Vec<SarifResult>>,
    artifacts: Option<Vec<Artifact>>,
}

#[derive(Deserialize)]
struct Tool {
    driver: ToolComponent,
}

#[derive(Deserialize)]
struct ToolComponent {
    name: String,
    rules: Option<Vec<ReportingDescriptor>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReportingDescriptor {
    id: String,
    default_configuration: Option<ReportingConfiguration>,
}

#[derive(Deserialize)]
struct ReportingConfiguration {
    level: Option<FindingLevel>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: Option<String>,
    rule_index: Option<usize>,
    rule: Option<ReportingDescriptorReference>,
    kind: Option<ResultKind>,
    level: Option<FindingLevel>,
    locations: Option<Vec<Location>>,
}

#[derive(Deserialize)]
struct ReportingDescriptorReference {
    id: Option<String>,
    index: Option<usize>,
}

#[derive(Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
enum ResultKind {
    Pass,
    Open,
    Informational,
    NotApplicable,
    Review,
    Fail,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: Option<PhysicalLocation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: Option<ArtifactLocation>,
}

#[derive(Deserialize)]
struct ArtifactLocation {
    uri: Option<String>,
    index: Option<usize>,
}

#[derive(Deserialize)]
struct Artifact {
    location: Option<ArtifactLocation>,
}

fn facts(log: Log) -> FindingFacts {
    let mut facts = FindingFacts {
        total: 0,
        by_level: FindingLevel::ALL.into_iter().map(|level| (level, 0)).collect(),
        by_rule: BTreeMap::new(),
        by_file: BTreeMap::new(),
        tools: Vec::new(),
    };
    for run in log.runs.unwrap_or_default() {
        if !facts.tools.contains(&run.tool.driver.name) {
            facts.tools.push(run.tool.driver.name.clone());
        }
        let rules = run.tool.driver.rules.unwrap_or_default();
        let rule_by_id: HashMap<&str, &ReportingDescriptor> =
            rules.iter().map(|rule| (rule.id.as_str(), rule)).collect();
        let artifacts = run.artifacts.unwrap_or_default();
        for result in run.results.unwrap_or_default() {
            facts.total += 1;
            let rule_id =
                result.rule_id.as_deref().or_else(|| result.rule.as_ref().and_then(|rule| rule.id.as_deref()));
            let rule = result
                .rule_index
                .or_else(|| result.rule.as_ref().and_then(|rule| rule.index))
                .and_then(|index| rules.get(index))
                .or_else(|| rule_id.and_then(|id| rule_by_id.get(id).copied()));
            *facts.by_level.entry(level(&result, rule)).or_default() += 1;
            if let Some(rule_id) = rule_id.or_else(|| rule.map(|rule| rule.id.as_str())) {
                *facts.by_rule.entry(rule_id.to_owned()).or_default() += 1;
            }
            if let Some(uri) = first_uri(&result, &artifacts) {
                *facts.by_file.entry(uri.to_owned()).or_default() += 1;
            }
        }
    }
    facts
}

/// The effective level of a result, by SARIF 2.1.0 §3.27.10.
fn level(result: &SarifResult, rule: Option<&ReportingDescriptor>) -> FindingLevel {
    if let Some(level) = result.level {
        return level;
    }
    match &result.kind {
        Some(kind) if *kind != ResultKind::Fail => FindingLevel::None,
        _ => rule
            .and_then(|rule| rule.default_configuration.as_ref())
            .and_then(|configuration| configuration.level)
            .unwrap_or(FindingLevel::Warning),
    }
}

fn first_uri<'a>(result: &'a SarifResult, artifacts: &'a [Artifact]) -> Option<&'a str> {
    let artifact_location =
        result.locations.as_ref()?.first()?.physical_location.as_ref()?.artifact_location.as_ref()?;
    artifact_location
        .uri
        .as_deref()
        .or_else(|| artifacts.get(artifact_location.index?)?.location.as_ref()?.uri.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(input: &str) -> String {
        parse(input.as_bytes()).expect_err("an invalid log").to_string()
    }

    #[test]
    fn levels_fall_back_to_the_rule_then_the_kind_then_warning() {
        let facts = parse(
            br#"{
  "version": "2.1.0",
  "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
  "runs": [{
    "tool": {"driver": {"name": "demo", "rules": [
      {"id": "R1", "defaultConfiguration": {"level": "error"}},
      {"id": "R2"}
    ]}},
    "artifacts": [{"location": {"uri": "src/indexed.rs"}}],
    "results": [
      {"ruleId": "R1", "message": {"text": "a"}, "level": "note",
       "locations": [{"physicalLocation": {"artifactLocation": {"uri": "src/a.rs"}}}]},
      {"ruleId": "R1", "message": {"text": "b"},
       "locations": [{"physicalLocation": {"artifactLocation": {"index": 0}}}]},
      {"rule": {"index": 0}, "message": {"text": "c"}},
      {"ruleId": "R2", "message": {"text": "d"}},
      {"ruleId": "R2", "kind": "pass", "message": {"text": "e"}},
      {"message": {"text": "f"}}
    ]
  }, {"tool": {"driver": {"name": "demo"}}, "results": null}]
}"#,
        )
        .expect("a valid log");
        insta::assert_json_snapshot!(facts, @r#"
        {
          "total": 6,
          "by_level": {
            "error": 2,
            "warning": 2,
            "note": 1,
            "none": 1
          },
          "by_rule": {
            "R1": 3,
            "R2": 2
          },
          "by_file": {
            "src/a.rs": 1,
            "src/indexed.rs": 1
          },
          "tools": [
            "demo"
          ]
        }
        "#);
    }

    #[test]
    fn another_sarif_version_is_refused_at_its_path() {
        assert_eq!(
            error(r#"{"version": "2.0.0", "runs": [{"results": 3}]}"#),
            r#"sarif: at $.version: unsupported SARIF version "2.0.0", expected "2.1.0""#
        );
    }

    #[test]
    fn a_level_outside_the_spec_is_refused_at_its_path() {
        assert_eq!(
            error(
                r#"{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [
                {}, {}, {"level": "fatal"}]}]}"#
            ),
            "sarif: at $.runs[0].results[2].level: unknown variant `fatal`, expected one of `error`, `warning`, `note`, `none`"
        );
    }

    #[test]
    fn a_missing_version_is_refused() {
        assert_eq!(error(r#"{"runs": []}"#), "sarif: at $: missing field `version`");
    }

    #[test]
    fn a_run_without_a_tool_is_refused() {
        assert_eq!(
            error(r#"{"version": "2.1.0", "runs": [{"results": []}]}"#),
            "sarif: at $.runs[0]: missing field `tool`"
        );
    }
}
