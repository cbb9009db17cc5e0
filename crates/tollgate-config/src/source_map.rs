//! Where each field of a loaded configuration is written, by key path.
//!
//! Paths use the syntax of core violations: keys joined by dots, list items by index in brackets
//! (`services[1].depends_on[0]`). The map holds the fields the loader read; it does not know
//! about keys the schema ignores or the file does not contain.

use std::collections::BTreeMap;
use std::fmt;

use tollgate_core::Violation;

/// A position in a file, both counted from 1. Columns count characters, not bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

/// The key paths of a loaded file and where their values start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceMap {
    file_name: String,
    locations: BTreeMap<String, Location>,
}

impl SourceMap {
    /// A source map of `file_name` from paths and locations.
    pub fn new(file_name: &str, locations: BTreeMap<String, Location>) -> SourceMap {
        SourceMap { file_name: file_name.to_owned(), locations }
    }

    /// The file name given to `load`.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// Where the value at `path` starts: the first character of a string, the first item of a
    /// list, the first key of a mapping (the bracket of a flow collection). A key written with no
    /// value is located at the key. `None` when nothing is written at that path.
    pub fn locate(&self, path: &str) -> Option<Location> {
        self.locations.get(path).copied()
    }

    /// `tollgate.yaml:12:12: services[1].owner`. A path that is not written in the file (an
    /// optional key left out) is located at its nearest written ancestor; a path with none is
    /// returned as it is.
    pub fn describe(&self, path: &str) -> String {
        let mut candidate = path;
        loop {
            if let Some(location) = self.locate(candidate) {
                return format!("{}:{location}: {path}", self.file_name);
            }
            match parent(candidate) {
                Some(parent_path) => candidate = parent_path,
                None => return path.to_owned(),
            }
        }
    }

    /// A core violation as `tollgate.yaml:12:12: services[1].owner: team "x" does not exist`.
    pub fn describe_violation(&self, violation: &Violation) -> String {
        if violation.field.is_empty() {
            format!("{}: {}", self.file_name, violation.problem)
        } else {
            format!("{}: {}", self.describe(&violation.field), violation.problem)
        }
    }
}

impl Location {
    /// The first character of a file.
    pub const START: Location = Location { line: 1, column: 1 };
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// `services[1]` for `services[1].owner`, `services` for `services[1]`, `None` for `services`.
fn parent(path: &str) -> Option<&str> {
    path.rfind(['.', '[']).map(|index| &path[..index])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_of_a_path_drops_its_last_key_or_index() {
        assert_eq!(parent("services[1].owner"), Some("services[1]"));
        assert_eq!(parent("services[1]"), Some("services"));
        assert_eq!(parent("teams[0].members[2]"), Some("teams[0].members"));
        assert_eq!(parent("services"), None);
    }
}
