//! Why a configuration file could not be loaded, with each problem located in the file.
//!
//! Problems carry data (the key, the expected and found kind of value); their text comes from
//! `Display` only. Callers show the messages and never branch on them.

use std::fmt;

use crate::source_map::Location;

/// Why `load` refused a configuration file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file is larger than `MAX_FILE_SIZE`; it was not parsed.
    #[error("{file_name}: the file is {size} bytes, more than the limit of {limit} bytes")]
    TooLarge { file_name: String, size: usize, limit: usize },
    /// The file is not a valid configuration. Holds every problem found, in file order, one
    /// message per line.
    #[error("{}", render_problems(file_name, problems))]
    Invalid { file_name: String, problems: Vec<ConfigProblem> },
}

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Where the problem is written.
    pub location: Location,
    /// Key path of the node the problem is about (`services[0]`), empty for the top level or
    /// when the YAML could not be parsed far enough to know it.
    pub path: String,
    /// What is wrong.
    pub kind: ProblemKind,
}

/// What is wrong in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// The text is not valid YAML; `message` is the parser's.
    Syntax { message: String },
    /// The file holds something other than a mapping at the top level.
    TopLevelNotMapping,
    /// An anchor (`&name`) or alias (`*name`). Refused so a small file cannot expand into a
    /// huge tree.
    Anchor,
    /// An explicit tag (`!!str`).
    Tag,
    /// A list or mapping used as a mapping key.
    KeyNotScalar,
    /// A second YAML document (`---` after content); only the first would be read.
    MultipleDocuments,
    /// The same key twice in one mapping.
    DuplicateKey { key: String, first: Location },
    /// A key the mapping does not accept.
    UnknownKey { key: String, expected: &'static [&'static str] },
    /// A required key is absent.
    MissingKey { key: &'static str },
    /// A value of the wrong kind.
    WrongType { expected: ValueKind, found: ValueKind },
}

/// The kind of a YAML value, as named in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    String,
    Number,
    Boolean,
    Null,
    List,
    Mapping,
}

impl ConfigError {
    /// One message per problem, each starting with `file:line:column:`.
    pub fn messages(&self) -> Vec<String> {
        match self {
            ConfigError::TooLarge { .. } => vec![self.to_string()],
            ConfigError::Invalid { file_name, problems } => {
                problems.iter().map(|problem| format!("{file_name}:{problem}")).collect()
            }
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.location, self.kind)
        } else {
            write!(f, "{}: {}: {}", self.location, self.path, self.kind)
        }
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProblemKind::Syntax { message } => write!(f, "invalid YAML: {message}"),
            ProblemKind::TopLevelNotMapping => write!(f, "the top level must be a mapping"),
            ProblemKind::Anchor => write!(f, "anchors and aliases are not supported"),
            ProblemKind::Tag => write!(f, "tags are not supported"),
            ProblemKind::KeyNotScalar => write!(f, "a key must be a string"),
            ProblemKind::MultipleDocuments => {
                write!(f, "a second YAML document starts here, but the file must hold one document")
            }
            ProblemKind::DuplicateKey { key, first } => {
                write!(f, "duplicate key {key:?} (first at {first})")
            }
            ProblemKind::UnknownKey { key, expected } => {
                write!(f, "unknown key {key:?} (expected one of: {})", expected.join(", "))
            }
            ProblemKind::MissingKey { key } => write!(f, "missing key {key:?}"),
            ProblemKind::WrongType { expected, found } => {
                write!(f, "expected {expected}, found {found}")?;
                if *expected == ValueKind::String && matches!(found, ValueKind::Number | ValueKind::Boolean) {
                    write!(f, " (quote it to use it as text)")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ValueKind::String => "a string",
            ValueKind::Number => "a number",
            ValueKind::Boolean => "a boolean",
            ValueKind::Null => "null",
            ValueKind::List => "a list",
            ValueKind::Mapping => "a mapping",
        };
        write!(f, "{name}")
    }
}

fn render_problems(file_name: &str, problems: &[ConfigProblem]) -> String {
    let lines: Vec<String> = problems.iter().map(|problem| format!("{file_name}:{problem}")).collect();
    lines.join("\n")
}
