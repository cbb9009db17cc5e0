//! The critical-path view of coverage evidence: for each critical path of a `coverage` gate,
//! the per-file counts of every coverage report's files that the path matches.
//!
//! Matching 300 files against each critical path in Rego compiled the glob again for every
//! file and every rule that asked; here each path is compiled once, when the bundle is built,
//! and matched once per evaluation. A path holding `*`, `?` or `[` is a glob matched as Rego's
//! `glob.match(path, ["/"], file)` matches it (`globset`, `*` not crossing `/`); any other
//! path is a prefix of file paths. The gate's Rego reads the view as `input.critical_files`.
//! This module judges nothing: the thresholds stay in the Rego.

use globset::{GlobBuilder, GlobMatcher};
use std::collections::BTreeMap;

use serde_json::Value;

/// The critical paths of one `coverage` gate, compiled.
#[derive(Debug, Clone)]
pub(crate) struct CriticalPaths {
    paths: Vec<(String, Matcher)>,
}

#[derive(Debug, Clone)]
enum Matcher {
    Prefix,
    Glob(GlobMatcher),
}

impl CriticalPaths {
    /// Compiles the `critical_paths` of checked coverage parameters.
    pub(crate) fn new(params: &Value) -> Result<CriticalPaths, String> {
        let listed = params.get("critical_paths").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let mut paths = Vec::with_capacity(listed.len());
        for critical in listed {
            let path = critical.get("path").and_then(Value::as_str).unwrap_or_default();
            paths.push((path.to_owned(), matcher(path)?));
        }
        Ok(CriticalPaths { paths })
    }

    /// `{critical path: [per-file counts of each matching file of each coverage report]}`,
    /// with an empty list for a path that matches nothing. Two reports may name one file, so
    /// it is a list. Read from the converted input, whose values it shares.
    pub(crate) fn view(&self, input: &regorus::Value) -> regorus::Value {
        let facts_key = regorus::Value::from("facts");
        let kind_key = regorus::Value::from("kind");
        let by_file_key = regorus::Value::from("by_file");
        let coverage = regorus::Value::from("coverage");
        let evidence = match &input[&regorus::Value::from("evidence")] {
            regorus::Value::Array(items) => items.iter().collect(),
            _ => Vec::new(),
        };
        let by_file: Vec<&regorus::value::Object> = evidence
            .into_iter()
            .map(|item| &item[&facts_key])
            .filter(|facts| facts[&kind_key] == coverage)
            .filter_map(|facts| facts[&by_file_key].as_object().ok())
            .collect();
        let view: BTreeMap<regorus::Value, regorus::Value> = self
            .paths
            .iter()
            .map(|(path, matcher)| {
                let files: Vec<regorus::Value> = by_file
                    .iter()
                    .flat_map(|files| files.iter())
                    .filter(|(file, _)| file.as_string().is_ok_and(|file| matcher.matches(path, file)))
                    .map(|(_, counts)| counts.clone())
                    .collect();
                (regorus::Value::from(path.as_str()), regorus::Value::from(files))
            })
            .collect();
        regorus::Value::from(view)
    }
}

impl Matcher {
    fn matches(&self, path: &str, file: &str) -> bool {
        match self {
            Matcher::Prefix => file.starts_with(path),
            Matcher::Glob(glob) => glob.is_match(file),
        }
    }
}

/// Checks one critical path: fails, saying what was expected, on a glob that does not parse.
pub(crate) fn check_path(path: &str) -> Result<(), String> {
    matcher(path).map(drop)
}

/// A prefix, or a glob when `path` holds `*`, `?` or `[`; fails on a glob that does not parse.
fn matcher(path: &str) -> Result<Matcher, String> {
    if !path.contains(['*', '?', '[']) {
        return Ok(Matcher::Prefix);
    }
    GlobBuilder::new(path)
        .literal_separator(true)
        .build()
        .map(|glob| Matcher::Glob(glob.compile_matcher()))
        .map_err(|error| format!("a valid glob ({})", error.kind()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(paths: &[&str], expected: Value) {
        let critical: Vec<Value> = paths.iter().map(|path| json!({"path": path})).collect();
        let compiled = CriticalPaths::new(&json!({"critical_paths": critical})).expect("valid paths");
        let files = |names: &[&str]| -> Value {
            names
                .iter()
                .map(|name| ((*name).to_owned(), json!({"file": name})))
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        let input = json!({"evidence": [
            {"facts": {"kind": "coverage", "by_file": files(&["src/pay/charge.rs", "src/pay/refund.rs", "src/ui/page.rs", "src/a/b/auth.rs"])}},
            {"facts": {"kind": "tests", "by_file": files(&["src/pay/other.rs"])}},
            {"facts": {"kind": "coverage", "by_file": files(&["src/pay/charge.rs"])}},
        ]});
        let input = crate::input::convert_unchecked(&input);
        assert_eq!(serde_json::to_value(compiled.view(&input)).expect("converts"), expected);
    }

    #[test]
    fn a_prefix_matches_the_files_under_it_in_every_coverage_report() {
        check(
            &["src/pay/"],
            json!({"src/pay/": [{"file": "src/pay/charge.rs"}, {"file": "src/pay/refund.rs"}, {"file": "src/pay/charge.rs"}]}),
        );
    }

    #[test]
    fn a_glob_star_stays_within_one_directory_and_a_double_star_crosses_them() {
        check(
            &["src/*/charge.rs", "src/*/auth.rs", "src/**/auth*.rs"],
            json!({
                "src/*/charge.rs": [{"file": "src/pay/charge.rs"}, {"file": "src/pay/charge.rs"}],
                "src/*/auth.rs": [],
                "src/**/auth*.rs": [{"file": "src/a/b/auth.rs"}],
            }),
        );
    }

    #[test]
    fn a_path_matching_nothing_has_an_empty_list() {
        check(&["src/ledger/"], json!({"src/ledger/": []}));
    }

    #[test]
    fn an_invalid_glob_is_refused() {
        assert!(check_path("src/[a").is_err());
        assert!(check_path("src/[ab]/*.rs").is_ok());
    }
}
