//! Validated names: the keys by which teams, users, services, environments and lifecycles are
//! known in the API, the CLI and `tollgate.yaml`.

use std::fmt;

use crate::violation::Problem;

/// The longest name accepted, so a name fits a DNS label.
pub const MAX_NAME_LEN: usize = 63;

macro_rules! name_type {
    ($(#[$meta:meta])* $type:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $type(String);

        impl $type {
            /// Parses a name: 1 to 63 lower-case ASCII letters, digits and dashes, starting
            /// and ending with a letter or digit.
            pub fn parse(value: &str) -> Result<$type, Problem> {
                validate_name(value).map(|()| $type(value.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $type {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// Read back from a stored format: the name is checked again, so a stored value that
        /// is no valid name is refused rather than trusted.
        impl<'de> serde::Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<$type, D::Error> {
                let value = <String as serde::Deserialize>::deserialize(deserializer)?;
                $type::parse(&value).map_err(serde::de::Error::custom)
            }
        }
    };
}

name_type!(
    /// The name of a team.
    TeamName
);
name_type!(
    /// The login name of a user.
    UserName
);
name_type!(
    /// The name of a service.
    ServiceName
);
name_type!(
    /// The name of an environment.
    EnvironmentName
);
name_type!(
    /// The name of a lifecycle (a promotion path).
    LifecycleName
);
name_type!(
    /// A region an environment runs in.
    RegionName
);
name_type!(
    /// The key of a release-calendar period (`year-end-freeze`; an imported `.ics` event gets
    /// `ics-` and 16 hex digits of its UID's SHA-256).
    PeriodId
);

name_type!(
    /// The name of a release train (`fortnightly`).
    TrainName
);
name_type!(
    /// The name of a pre-approved template of standard changes (`certificate-rotation`).
    TemplateName
);
name_type!(
    /// The name of a tier or a step of a deployment plan (`migrate`, `health-1`).
    StepName
);
name_type!(
    /// The name of a deployment target: one place a service's instance runs in an environment
    /// (`web-1`, `blue-2`).
    TargetName
);
name_type!(
    /// A weight group of deployment targets (`blue`, `green`, `stable`, `canary`): the unit
    /// traffic moves between.
    GroupName
);
name_type!(
    /// A label on a service (`security`, `pci`): what policies select services by, such as
    /// the teams a change advisory board needs for changes touching them.
    Label
);

fn validate_name(value: &str) -> Result<(), Problem> {
    let bytes = value.as_bytes();
    let allowed = |byte: &u8| byte.is_ascii_lowercase() || byte.is_ascii_digit() || *byte == b'-';
    let well_formed = !bytes.is_empty()
        && bytes.len() <= MAX_NAME_LEN
        && bytes.iter().all(allowed)
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-';
    if well_formed {
        Ok(())
    } else {
        Err(Problem::InvalidName { value: value.to_owned() })
    }
}

/// Checks a free-text field: trimmed non-empty when `required`, at most `max` characters, and
/// without NUL (U+0000), which PostgreSQL cannot store in text.
pub fn check_text(value: &str, max: usize, required: bool) -> Result<(), Problem> {
    if required && value.trim().is_empty() {
        return Err(Problem::Required);
    }
    if value.chars().count() > max {
        return Err(Problem::TooLong { max });
    }
    check_no_nul(value)
}

/// Refuses text with NUL (U+0000): PostgreSQL cannot store it in a text column.
pub fn check_no_nul(value: &str) -> Result<(), Problem> {
    if value.contains('\0') {
        return Err(Problem::Invalid { reason: "contains a NUL character (U+0000)".to_owned() });
    }
    Ok(())
}

/// Checks an identifier-like value (artifact names and versions, tags, tickets): not empty, at
/// most `max` bytes, only characters `allowed` accepts, not starting with `/`, `.` or `-`, not
/// ending with `/` or `.`, and with no `//` or `..` (so it can never name a path outside its own).
pub(crate) fn check_token(value: &str, max: usize, allowed: impl Fn(char) -> bool) -> Result<(), Problem> {
    if value.is_empty() {
        return Err(Problem::Required);
    }
    if value.len() > max {
        return Err(Problem::TooLong { max });
    }
    let edges_ok = !value.starts_with(['/', '.', '-']) && !value.ends_with(['/', '.']);
    if !value.chars().all(allowed) || !edges_ok || value.contains("//") || value.contains("..") {
        return Err(Problem::Invalid {
            reason: format!("{value:?} contains characters or a shape that is not allowed"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, valid: bool) {
        assert_eq!(ServiceName::parse(input).is_ok(), valid, "{input:?}");
    }

    #[test]
    fn names_are_lower_case_dns_labels() {
        check("ledger", true);
        check("ledger-api-2", true);
        check("a", true);
        check(&"a".repeat(63), true);
        check(&"a".repeat(64), false);
        check("", false);
        check("-ledger", false);
        check("ledger-", false);
        check("Ledger", false);
        check("led ger", false);
        check("ledger_api", false);
        check("lédger", false);
    }

    #[test]
    fn free_text_is_bounded_says_something_when_required_and_has_no_nul() {
        assert_eq!(check_text("release notes", 20, true), Ok(()));
        assert_eq!(check_text("", 20, false), Ok(()));
        assert_eq!(check_text(" \t\n", 20, true), Err(Problem::Required));
        assert_eq!(check_text("ééé", 3, true), Ok(()), "counted in characters");
        assert_eq!(check_text("éééé", 3, true), Err(Problem::TooLong { max: 3 }));
        assert!(check_text("a\0b", 20, false).is_err(), "PostgreSQL cannot store NUL");
    }

    #[test]
    fn an_invalid_name_is_reported_with_its_value() {
        let problem = TeamName::parse("Pay Ments").expect_err("upper case is refused");
        assert_eq!(problem, Problem::InvalidName { value: "Pay Ments".to_owned() });
    }
}
