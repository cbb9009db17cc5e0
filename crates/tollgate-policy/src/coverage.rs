//! The critical-path view of coverage evidence: for each critical path of a `coverage` gate,
//! how many files of the coverage reports it matches and, for each count (`lines_total`,
//! `lines_covered`, `branches_total`, `branches_covered`), the list of those files' values.
//!
//! Matching 300 files against each critical path in Rego compiled the glob again for every
//! file and every rule that asked; here each path is compiled once, when the bundle is built,
//! and matched once per evaluation. A path holding `*`, `?` or `[` is a glob matched as Rego's
//! `glob.match(path, ["/"], file)` matches it (`globset`, `*` not crossing `/`); any other
//! path is a prefix of file paths. The gate's Rego reads the view as `input.critical_files`.
//! The counts come as lists so the Rego sums each with one call of `sum` rather than a
//! comprehension over the files (a lookup per file, which cost most of the gate's time); it
//! still sums, so a value that is not a number fails the gate as it always did. This module
//! judges nothing: the thresholds stay in the Rego.

use globset::{GlobBuilder, GlobMatcher};
use std::collections::BTreeMap;

use serde_json::Value;

/// The per-file counts the view lists.
const COUNTS: [&str; 4] = ["lines_total", "lines_covered", "branches_total", "branches_covered"];

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

    /// `{critical path: {"files": n, "lines_total": [..], "lines_covered": [..],
    /// "branches_total": [..], "branches_covered": [..]}}`: the number of matching files of
    /// every coverage report (two reports may name one file; each counts) and each count of
    /// those files that has it, in file order. A path that matches nothing has `files` 0.
    /// Read from the converted input, whose values it shares.
    pub(crate) fn view(&self, input: &regorus::Value) -> regorus::Value {
        let facts_key = regorus::Value::from("facts");
        let kind_key = regorus::Value::from("kind");
        let by_file_key = regorus::Value::from("by_file");
        let coverage = regorus::Value::from("coverage");
        let count_keys = COUNTS.map(regorus::Value::from);
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
                let files: Vec<&regorus::Value> = by_file
                    .iter()
                    .flat_map(|files| files.iter())
                    .filter(|(file, _)| file.as_string().is_ok_and(|file| matcher.matches(path, file)))
                    .map(|(_, counts)| counts)
                    .collect();
                let mut columns = BTreeMap::new();
                columns.insert(regorus::Value::from("files"), regorus::Value::from(files.len()));
                for field in &count_keys {
                    let values: Vec<regorus::Value> = files
                        .iter()
                        .map(|counts| &counts[field])
                        .filter(|value| **value != regorus::Value::Undefined)
                        .cloned()
                        .collect();
                    columns.insert(field.clone(), regorus::Value::from(values));
                }
                (regorus::Value::from(path.as_str()), regorus::Value::from(columns))
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
        // Each file's lines_total says which file it is; charge.rs in the second report has
        // branch counts too.
        let input = json!({"evidence": [
            {"facts": {"kind": "coverage", "by_file": {
                "src/a/b/auth.rs": {"lines_total": 4}, "src/pay/charge.rs": {"lines_total": 1},
                "src/pay/refund.rs": {"lines_total": 2}, "src/ui/page.rs": {"lines_total": 3}}}},
            {"facts": {"kind": "tests", "by_file": {"src/pay/other.rs": {"lines_total": 5}}}},
            {"facts": {"kind": "coverage", "by_file": {
                "src/pay/charge.rs": {"lines_total": 1, "branches_total": 6, "branches_covered": 3}}}},
        ]});
        let input = crate::input::convert_unchecked(&input);
        assert_eq!(serde_json::to_value(compiled.view(&input)).expect("converts"), expected);
    }

    #[test]
    fn a_prefix_matches_the_files_under_it_in_every_coverage_report() {
        check(
            &["src/pay/"],
            json!({"src/pay/": {"files": 3, "lines_total": [1, 2, 1], "lines_covered": [], "branches_total": [6], "branches_covered": [3]}}),
        );
    }

    #[test]
    fn a_glob_star_stays_within_one_directory_and_a_double_star_crosses_them() {
        check(
            &["src/*/charge.rs", "src/*/auth.rs", "src/**/auth*.rs"],
            json!({
                "src/*/charge.rs": {"files": 2, "lines_total": [1, 1], "lines_covered": [], "branches_total": [6], "branches_covered": [3]},
                "src/*/auth.rs": {"files": 0, "lines_total": [], "lines_covered": [], "branches_total": [], "branches_covered": []},
                "src/**/auth*.rs": {"files": 1, "lines_total": [4], "lines_covered": [], "branches_total": [], "branches_covered": []},
            }),
        );
    }

    #[test]
    fn a_path_matching_nothing_has_no_files() {
        check(
            &["src/ledger/"],
            json!({"src/ledger/": {"files": 0, "lines_total": [], "lines_covered": [], "branches_total": [], "branches_covered": []}}),
        );
    }

    #[test]
    fn an_invalid_glob_is_refused() {
        assert!(check_path("src/[a").is_err());
        assert!(check_path("src/[ab]/*.rs").is_ok());
    }
}
