//! Validation outcomes that name the offending field and say what is wrong with it.
//!
//! Checks collect every violation instead of stopping at the first, so a user fixes all problems
//! in one round trip. Messages are produced by `Display`; callers never branch on the text.

use std::fmt;

/// One problem with one field of an input, located by a path such as `services[1].owner`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Dotted path of the field, relative to the input (`artifacts[0].digest`).
    pub field: String,
    /// What is wrong with it.
    pub problem: Problem,
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The field is required but empty or missing.
    Required,
    /// The value is longer than allowed.
    TooLong { max: usize },
    /// The value is not a valid name (lower-case letters, digits and dashes).
    InvalidName { value: String },
    /// The value is not a semantic version.
    InvalidVersion { value: String, reason: String },
    /// The value is not a `sha256:` digest of 64 hex characters.
    InvalidDigest { value: String },
    /// The value is not an RFC 3339 timestamp.
    InvalidTimestamp { value: String },
    /// The value appears twice where it must be unique.
    Duplicate { value: String },
    /// The field refers to an object that does not exist.
    UnknownReference { kind: &'static str, name: String },
    /// The references form a cycle.
    Cycle { path: Vec<String> },
    /// The end of a range is not after its start.
    EmptyRange,
    /// The value is not one of the accepted ones.
    NotOneOf { value: String, accepted: &'static [&'static str] },
    /// A free-form rule, for checks whose data is a short sentence about the field.
    Invalid { reason: String },
}

/// Every violation found by one check. Empty means the input is valid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations(pub Vec<Violation>);

impl Violation {
    pub fn new(field: impl Into<String>, problem: Problem) -> Violation {
        Violation { field: field.into(), problem }
    }

    /// The same violation, with `prefix.` put before its field path.
    pub fn within(mut self, prefix: &str) -> Violation {
        self.field = if self.field.is_empty() {
            prefix.to_owned()
        } else if self.field.starts_with('[') {
            format!("{prefix}{}", self.field)
        } else {
            format!("{prefix}.{}", self.field)
        };
        self
    }
}

impl Violations {
    pub fn new() -> Violations {
        Violations(Vec::new())
    }

    pub fn push(&mut self, field: impl Into<String>, problem: Problem) {
        self.0.push(Violation::new(field, problem));
    }

    /// Records the error of a parse, if any, and returns its value.
    pub fn check<T>(&mut self, field: &str, parsed: Result<T, Problem>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(problem) => {
                self.push(field, problem);
                None
            }
        }
    }

    pub fn extend_within(&mut self, prefix: &str, other: Violations) {
        self.0.extend(other.0.into_iter().map(|violation| violation.within(prefix)));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was recorded, the violations otherwise.
    pub fn into_result<T>(self, value: T) -> Result<T, Violations> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Required => write!(f, "is required"),
            Problem::TooLong { max } => write!(f, "is longer than {max} characters"),
            Problem::InvalidName { value } => write!(
                f,
                "{value:?} is not a valid name (1 to 63 lower-case letters, digits or dashes, starting with a letter or digit)"
            ),
            Problem::InvalidVersion { value, reason } => {
                write!(f, "{value:?} is not a semantic version: {reason}")
            }
            Problem::InvalidDigest { value } => write!(
                f,
                "{value:?} is not a digest (expected sha256: followed by 64 lower-case hex characters)"
            ),
            Problem::InvalidTimestamp { value } => {
                write!(f, "{value:?} is not an RFC 3339 timestamp")
            }
            Problem::Duplicate { value } => write!(f, "{value:?} appears more than once"),
            Problem::UnknownReference { kind, name } => write!(f, "{kind} {name:?} does not exist"),
            Problem::Cycle { path } => write!(f, "dependency cycle: {}", path.join(" -> ")),
            Problem::EmptyRange => write!(f, "end must be after start"),
            Problem::NotOneOf { value, accepted } => {
                write!(f, "{value:?} is not one of {}", accepted.join(", "))
            }
            Problem::Invalid { reason } => write!(f, "{reason}"),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.problem)
        } else {
            write!(f, "{}: {}", self.field, self.problem)
        }
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let messages: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        write!(f, "{}", messages.join("; "))
    }
}

impl std::error::Error for Violations {}

impl std::error::Error for Problem {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_prefixes_field_paths() {
        let violation = Violation::new("owner", Problem::Required).within("services[1]");
        assert_eq!(violation.to_string(), "services[1].owner: is required");
        let indexed = Violation::new("[0]", Problem::Required).within("depends_on");
        assert_eq!(indexed.field, "depends_on[0]");
    }
}
