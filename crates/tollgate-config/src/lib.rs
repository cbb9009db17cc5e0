//! Config as code: loads the text of `tollgate.yaml` into the apply input of core.
//!
//! `load` parses the YAML with a parser that keeps positions, checks its shape (known keys,
//! strings where strings belong, no duplicate keys) and returns the `ApplyInput` together with a
//! `SourceMap`, which turns the field paths of core violations (`services[1].owner`) back into
//! lines and columns of the file. Every shape problem is reported, in file order; a YAML syntax
//! error is reported alone, since nothing after it can be trusted.
//!
//! This crate deliberately does not read files (the caller does), does not validate values
//! (names, tiers, references: that is `tollgate_core::apply::plan`), and supports no anchors,
//! aliases, tags or multiple documents, which keeps a hostile file from expanding in memory.

#![forbid(unsafe_code)]

mod decode;
mod error;
mod schema;
mod source_map;
mod yaml;

#[cfg(test)]
mod tests;

use tollgate_core::apply::ApplyInput;
use tollgate_core::Violation;

use crate::decode::Decoder;

pub use crate::error::{ConfigError, ConfigProblem, ProblemKind, ValueKind};
pub use crate::source_map::{Location, SourceMap};

/// The largest file `load` accepts, in bytes (1 MiB): configuration files are kilobytes.
///
/// A parsed YAML tree takes far more memory than its text (up to about 90 times for a file made
/// of one-character list items), so the text is bounded before parsing.
pub const MAX_FILE_SIZE: usize = 1024 * 1024;

/// A loaded configuration file: what it declares and where each declaration is written.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// The declared objects, ready for `tollgate_core::apply::plan`.
    pub input: ApplyInput,
    /// Where each field of `input` is written in the file.
    pub source_map: SourceMap,
}

/// Loads the text of a configuration file. `file_name` is used in messages only.
///
/// An empty file, or one holding only comments, is a valid and empty configuration.
///
/// Fails with `ConfigError::TooLarge` when `text` is longer than `MAX_FILE_SIZE` bytes, and with
/// `ConfigError::Invalid` listing every problem found: unknown keys, missing keys, values of the
/// wrong type (a number or boolean where a string is expected is an error, not converted),
/// duplicate keys, anchors, aliases, tags, more than one document, or a YAML syntax error.
pub fn load(file_name: &str, text: &str) -> Result<ConfigFile, ConfigError> {
    if text.len() > MAX_FILE_SIZE {
        return Err(ConfigError::TooLarge { file_name: file_name.to_owned(), size: text.len(), limit: MAX_FILE_SIZE });
    }
    let invalid = |problems| ConfigError::Invalid { file_name: file_name.to_owned(), problems };
    let root = yaml::parse(text).map_err(|problem| invalid(vec![problem]))?;
    let mut decoder = Decoder::new();
    let input = decoder.decode_root::<ApplyInput>(&root);
    let (mut problems, locations) = decoder.finish();
    if let Some(location) = yaml::find_second_document(text) {
        problems.push(ConfigProblem { location, path: String::new(), kind: ProblemKind::MultipleDocuments });
    }
    problems.sort_by_key(|problem| problem.location);
    // Invariant: decoding yields `None` only after recording a problem, so `problems` is never
    // empty on the error path.
    match input {
        Some(input) if problems.is_empty() => {
            Ok(ConfigFile { input, source_map: SourceMap::new(file_name, locations) })
        }
        _ => Err(invalid(problems)),
    }
}

impl ConfigFile {
    /// Where the node at `path` (as in core violations: `services[1].owner`) starts. `None` when
    /// nothing is written at that path.
    pub fn locate(&self, path: &str) -> Option<Location> {
        self.source_map.locate(path)
    }

    /// `tollgate.yaml:12:12: services[1].owner` for a core violation path; see
    /// `SourceMap::describe`.
    pub fn describe(&self, path: &str) -> String {
        self.source_map.describe(path)
    }

    /// A core violation as a message that names the file, line and column:
    /// `tollgate.yaml:12:12: services[1].owner: team "x" does not exist`.
    pub fn describe_violation(&self, violation: &Violation) -> String {
        self.source_map.describe_violation(violation)
    }
}
