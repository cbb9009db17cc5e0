//! Problems with user policies, each located by file, policy, line and column.

use std::fmt;

/// One problem with a user policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub file: String,
    /// The policy's `@id`, when the problem is about one policy.
    pub policy: Option<String>,
    /// 1-based line and column, when Cedar located the problem.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl PolicyError {
    /// A problem at byte `offset` of `text`.
    pub(crate) fn located(
        file: &str,
        policy: Option<&str>,
        text: &str,
        offset: Option<usize>,
        message: String,
    ) -> PolicyError {
        let (line, column) = match offset {
            Some(offset) => {
                let (line, column) = line_column(text, offset);
                (Some(line), Some(column))
            }
            None => (None, None),
        };
        PolicyError { file: file.to_owned(), policy: policy.map(str::to_owned), line, column, message }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, ":{line}:{column}")?;
        }
        if let Some(policy) = &self.policy {
            write!(f, " (policy {policy})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in a set of policy files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("; "))
    }
}

impl std::error::Error for PolicyErrors {}

impl PolicyErrors {
    pub(crate) fn push(&mut self, error: PolicyError) {
        self.0.push(error);
    }

    pub(crate) fn extend(&mut self, other: PolicyErrors) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn into_result<T>(self, value: T) -> Result<T, PolicyErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

/// 1-based line and column (in characters) of byte `offset` of `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |last| last.chars().count()) + 1;
    (line, column)
}
