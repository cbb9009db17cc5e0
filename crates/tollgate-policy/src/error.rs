//! The errors of this crate: a policy that cannot be compiled ([`PolicyError`], with a location)
//! and an input document that is refused before evaluation ([`InputError`]).
//!
//! A gate that fails while it is evaluated is not an error of this kind: it is that gate's
//! [`crate::Outcome::Error`], so one broken gate never hides the others.

use std::fmt;

use serde::Serialize;

/// Why a bundle could not be built: a module that does not parse or compile, or a gate
/// definition that names something unknown or has invalid parameters.
///
/// Displayed as `path:line:column: message`, or `path: message` when there is no position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct PolicyError {
    /// The module's path, or `gates.<name>` for a gate definition.
    pub path: String,
    /// The 1-based line, when the problem is in a module's source.
    pub line: Option<u32>,
    /// The 1-based column, when the problem is in a module's source.
    pub column: Option<u32>,
    /// What is wrong, in lower case without a trailing period.
    pub message: String,
}

/// Why an input document was refused before any gate saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum InputError {
    /// The input's JSON encoding is larger than [`crate::Limits::max_input_bytes`].
    #[error("the gate input is {size} bytes, more than the limit of {limit} bytes")]
    TooLarge {
        /// The size of the input's compact JSON encoding, in bytes.
        size: usize,
        /// The limit it exceeds.
        limit: usize,
    },
    /// The input nests arrays and objects deeper than [`crate::Limits::max_input_depth`].
    #[error("the gate input nests deeper than the limit of {limit} levels")]
    TooDeep {
        /// The limit it exceeds.
        limit: usize,
    },
    /// The input is not a JSON object.
    #[error("the gate input must be a JSON object")]
    NotAnObject,
}

impl PolicyError {
    /// An error about a gate definition: its path is `gates.<gate>`.
    pub(crate) fn gate(gate: &str, message: impl Into<String>) -> PolicyError {
        PolicyError { path: format!("gates.{gate}"), line: None, column: None, message: message.into() }
    }

    /// An error about a whole module, at no particular position.
    pub(crate) fn module(path: &str, message: impl Into<String>) -> PolicyError {
        PolicyError { path: path.to_owned(), line: None, column: None, message: message.into() }
    }

    /// Turns an error of the Rego engine into a located error.
    ///
    /// The engine writes located errors as `--> path:line:column`, the source line, a caret and
    /// `error: message`; this reads the position and the message back. Errors without a
    /// position are attributed to `fallback_path`.
    pub(crate) fn from_engine(fallback_path: &str, error: &anyhow::Error) -> PolicyError {
        let text = format!("{error:#}");
        match parse_located(&text) {
            Some((path, line, column, message)) => {
                PolicyError { path, line: Some(line), column: Some(column), message }
            }
            None => PolicyError::module(fallback_path, one_line(&text)),
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "{}:{line}:{column}: {}", self.path, self.message),
            (Some(line), None) => write!(f, "{}:{line}: {}", self.path, self.message),
            _ => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

/// Reads `(path, line, column, message)` out of the engine's located error text.
fn parse_located(text: &str) -> Option<(String, u32, u32, String)> {
    let start = text.find("--> ")? + 4;
    let location = text[start..].lines().next()?;
    let mut parts = location.rsplitn(3, ':');
    let column = parts.next()?.trim().parse().ok()?;
    let line = parts.next()?.trim().parse().ok()?;
    let path = parts.next()?.to_owned();
    let message = text
        .lines()
        .rev()
        .find_map(|line| line.trim_start().strip_prefix("error: "))
        .map(str::to_owned)
        .unwrap_or_else(|| one_line(&text[..start.saturating_sub(4)]));
    Some((path, line, column, message))
}

/// Joins a multi-line message into one line.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_error_with_a_position_is_read_back_as_path_line_and_column() {
        let text = "\n--> gates/x.rego:3:7\n  |\n3 | allow if {\n  |       ^\nerror: unexpected token";
        let error = PolicyError::from_engine("fallback.rego", &anyhow::anyhow!(text.to_owned()));
        assert_eq!(error.to_string(), "gates/x.rego:3:7: unexpected token");
    }

    #[test]
    fn an_engine_error_without_a_position_is_attributed_to_the_fallback_path() {
        let error = PolicyError::from_engine("fallback.rego", &anyhow::anyhow!("something\nwent wrong"));
        assert_eq!(error.to_string(), "fallback.rego: something went wrong");
    }
}
