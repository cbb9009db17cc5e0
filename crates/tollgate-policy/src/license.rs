//! License strings as SBOMs carry them, normalized to SPDX expressions.
//!
//! Real bills of materials name licenses in many ways: SPDX ids (`MIT`), SPDX expressions
//! (`MIT OR Apache-2.0`), PyPI classifiers (`License :: OSI Approved :: Apache Software
//! License`), and free text (`Apache 2.0`, `Apache License, Version 2.0`, `GPLv3`). [`normalize`]
//! turns one such string into an SPDX expression and its alternatives, in this order:
//!
//! 1. an SPDX expression, parsed strictly (ids are case-sensitive);
//! 2. the [`ALIASES`] table, matched case-insensitively on the whole string, for names that
//!    name one license unambiguously (a classifier's `License :: OSI Approved ::` prefix is
//!    dropped first);
//! 3. the `spdx` crate's lax parsing, which accepts `/` for `OR` and its list of imprecise names
//!    (such as `Apache 2.0` or `GPLv3`); a string is accepted only when all of it parses.
//!
//! Ambiguous names are not guessed: a bare `BSD` or `BSD License` could be any of three
//! licenses, and `GPL` any version, so they stay unrecognized (and a licenses gate reports them)
//! unless a gate's allow list names the raw string itself. The alias table wins over the lax
//! parser, which maps some names (`GNU GPL v2`, `BSD`) to a license they do not name.
//!
//! A `licenses` gate's allow and deny lists judge normalized strings here too (`LicensePolicy`):
//! the lists are known when the bundle is built, and joining them with every alternative in
//! Rego cost most of the gate's time. The gate's Rego reads the verdicts.
//!
//! This module is pure and deterministic; it knows the SPDX license list of the `spdx` crate.

use serde::Serialize;

/// Names that mean one SPDX license, compared case-insensitively with the whole string.
///
/// A PyPI classifier's `License :: OSI Approved ::` (or `License ::`) prefix is removed before
/// the comparison, so `License :: OSI Approved :: MIT License` matches `MIT License`.
pub const ALIASES: &[(&str, &str)] = &[
    ("Apache 2", "Apache-2.0"),
    ("Apache 2.0", "Apache-2.0"),
    ("Apache License 2.0", "Apache-2.0"),
    ("Apache License Version 2.0", "Apache-2.0"),
    ("Apache License, Version 2.0", "Apache-2.0"),
    ("Apache Software License", "Apache-2.0"),
    ("Apache Software License 2.0", "Apache-2.0"),
    ("Apache-2", "Apache-2.0"),
    ("ASL 2.0", "Apache-2.0"),
    ("The Apache License, Version 2.0", "Apache-2.0"),
    ("The Apache Software License, Version 2.0", "Apache-2.0"),
    ("BSD 2-Clause", "BSD-2-Clause"),
    ("BSD 3-Clause", "BSD-3-Clause"),
    ("BSD-2", "BSD-2-Clause"),
    ("BSD-3", "BSD-3-Clause"),
    ("New BSD License", "BSD-3-Clause"),
    ("Simplified BSD License", "BSD-2-Clause"),
    ("The BSD 3-Clause License", "BSD-3-Clause"),
    ("Eclipse Public License 2.0", "EPL-2.0"),
    ("Eclipse Public License - v 2.0", "EPL-2.0"),
    ("GNU Affero General Public License v3", "AGPL-3.0-only"),
    ("GNU Affero General Public License v3 or later (AGPLv3+)", "AGPL-3.0-or-later"),
    ("GNU General Public License v2 (GPLv2)", "GPL-2.0-only"),
    ("GNU General Public License v2 or later (GPLv2+)", "GPL-2.0-or-later"),
    ("GNU General Public License v3 (GPLv3)", "GPL-3.0-only"),
    ("GNU General Public License v3 or later (GPLv3+)", "GPL-3.0-or-later"),
    ("GNU GPL v2", "GPL-2.0-only"),
    ("GNU GPL v3", "GPL-3.0-only"),
    ("GNU Lesser General Public License v2 (LGPLv2)", "LGPL-2.0-only"),
    ("GNU Lesser General Public License v2 or later (LGPLv2+)", "LGPL-2.0-or-later"),
    ("GNU Lesser General Public License v3 (LGPLv3)", "LGPL-3.0-only"),
    ("GNU Lesser General Public License v3 or later (LGPLv3+)", "LGPL-3.0-or-later"),
    ("GPLv2", "GPL-2.0-only"),
    ("GPLv2+", "GPL-2.0-or-later"),
    ("GPLv3", "GPL-3.0-only"),
    ("GPLv3+", "GPL-3.0-or-later"),
    ("ISC License", "ISC"),
    ("ISC License (ISCL)", "ISC"),
    ("LGPLv3", "LGPL-3.0-only"),
    ("MIT License", "MIT"),
    ("MIT license", "MIT"),
    ("Mozilla Public License 2.0 (MPL 2.0)", "MPL-2.0"),
    ("Mozilla Public License 2.0", "MPL-2.0"),
    ("MPL 2.0", "MPL-2.0"),
    ("Python Software Foundation License", "PSF-2.0"),
    ("The MIT License", "MIT"),
    ("The Unlicense (Unlicense)", "Unlicense"),
    ("Zlib License", "Zlib"),
];

/// Names that do not say which license they mean; never mapped to one.
pub const AMBIGUOUS: &[&str] =
    &["BSD", "BSD License", "GPL", "LGPL", "GNU GPL", "Public Domain", "Other/Proprietary License"];

/// At most this many alternatives are expanded from one expression; more is reported as
/// unrecognized rather than judged, since `AND` of many `OR`s multiplies them.
pub const MAX_ALTERNATIVES: usize = 64;

/// One license string, normalized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Normalized {
    /// The SPDX expression, such as `MIT OR Apache-2.0`; `None` when the string is not
    /// recognized.
    pub expression: Option<String>,
    /// The expression in disjunctive normal form: the expression is satisfied when every
    /// license of any one alternative is acceptable. Each license is an SPDX id, `+` for "or
    /// later" where the expression said so, and ` WITH <exception>` where it named one. Empty
    /// when the string is not recognized.
    pub alternatives: Vec<Vec<String>>,
    /// How the string was recognized.
    pub recognized_by: Recognition,
}

/// How a license string was recognized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Recognition {
    /// It is a valid SPDX expression.
    Spdx,
    /// It is in [`ALIASES`].
    Alias,
    /// The `spdx` crate's lax parsing accepted it.
    Imprecise,
    /// It is not recognized: ambiguous, unknown, empty or too complex.
    Unrecognized,
}

/// Normalizes one license string. See the module documentation for the order of attempts.
pub fn normalize(raw: &str) -> Normalized {
    let trimmed = raw.trim();
    let name = strip_classifier(trimmed);
    if name.is_empty() || AMBIGUOUS.iter().any(|ambiguous| ambiguous.eq_ignore_ascii_case(name)) {
        return Normalized::unrecognized();
    }
    if let Ok(expression) = spdx::Expression::parse_mode(trimmed, spdx::ParseMode::STRICT) {
        return from_expression(&expression, Recognition::Spdx);
    }
    if let Some((_, id)) = ALIASES.iter().find(|(alias, _)| alias.eq_ignore_ascii_case(name)) {
        return Normalized {
            expression: Some((*id).to_owned()),
            alternatives: vec![vec![(*id).to_owned()]],
            recognized_by: Recognition::Alias,
        };
    }
    match spdx::Expression::parse_mode(name, spdx::ParseMode::LAX) {
        Ok(expression) => from_expression(&expression, Recognition::Imprecise),
        Err(_) => Normalized::unrecognized(),
    }
}

impl Normalized {
    fn unrecognized() -> Normalized {
        Normalized { expression: None, alternatives: Vec::new(), recognized_by: Recognition::Unrecognized }
    }
}

/// Drops a PyPI classifier's prefix: `License :: OSI Approved :: MIT License` → `MIT License`.
fn strip_classifier(name: &str) -> &str {
    match name.strip_prefix("License ::") {
        Some(rest) => rest.rsplit("::").next().unwrap_or(rest).trim(),
        None => name,
    }
}

/// Expands a parsed expression into its alternatives (disjunctive normal form) and writes it
/// in canonical form: SPDX ids, upper-case operators, parentheses only where needed.
fn from_expression(expression: &spdx::Expression, recognized_by: Recognition) -> Normalized {
    // Each entry: the alternatives, the text, and whether the text is an OR at its top.
    let mut stack: Vec<(Vec<Vec<String>>, String, bool)> = Vec::new();
    for node in expression.iter() {
        match node {
            spdx::expression::ExprNode::Req(requirement) => {
                let license = requirement.req.to_string();
                stack.push((vec![vec![license.clone()]], license, false));
            }
            spdx::expression::ExprNode::Op(operator) => {
                let (Some(right), Some(left)) = (stack.pop(), stack.pop()) else {
                    return Normalized::unrecognized();
                };
                let entry = match operator {
                    spdx::expression::Operator::Or => {
                        (left.0.into_iter().chain(right.0).collect(), format!("{} OR {}", left.1, right.1), true)
                    }
                    spdx::expression::Operator::And => {
                        let text = format!("{} AND {}", grouped(&left.1, left.2), grouped(&right.1, right.2));
                        (and(&left.0, &right.0), text, false)
                    }
                };
                if entry.0.len() > MAX_ALTERNATIVES {
                    return Normalized::unrecognized();
                }
                stack.push(entry);
            }
        }
    }
    match (stack.pop(), stack.is_empty()) {
        (Some((mut alternatives, text, _)), true) => {
            for alternative in &mut alternatives {
                alternative.sort();
                alternative.dedup();
            }
            Normalized { expression: Some(text), alternatives, recognized_by }
        }
        _ => Normalized::unrecognized(),
    }
}

/// `text` in parentheses when it is an OR, for use as an operand of AND.
fn grouped(text: &str, is_or: bool) -> String {
    if is_or {
        format!("({text})")
    } else {
        text.to_owned()
    }
}

/// The alternatives of `left AND right`: every alternative of one joined with every alternative
/// of the other.
fn and(left: &[Vec<String>], right: &[Vec<String>]) -> Vec<Vec<String>> {
    let mut combined = Vec::with_capacity(left.len().saturating_mul(right.len()).min(MAX_ALTERNATIVES + 1));
    for left_alternative in left {
        for right_alternative in right {
            combined.push(left_alternative.iter().chain(right_alternative).cloned().collect());
            if combined.len() > MAX_ALTERNATIVES {
                return combined;
            }
        }
    }
    combined
}

/// A `licenses` gate's allow and deny lists, which judge normalized license strings.
///
/// A string's verdict ([`Verdict`]): refused when the raw string is denied; accepted when it is
/// allowed; unrecognized when it did not normalize; else accepted when every license of at
/// least one alternative is allowed, and refused otherwise. A license is allowed when neither it
/// nor (for `X WITH Y`) its base license `X` is denied, and the allow list is empty or names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LicensePolicy {
    allow: Vec<String>,
    deny: Vec<String>,
}

/// What a `licenses` gate makes of one license string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Accepted,
    Refused,
    Unrecognized,
}

impl LicensePolicy {
    /// The policy of checked `licenses` parameters (`allow` and `deny`, lists of strings).
    pub(crate) fn new(params: &serde_json::Value) -> LicensePolicy {
        let strings = |name: &str| -> Vec<String> {
            params[name].as_array().into_iter().flatten().filter_map(|item| item.as_str().map(str::to_owned)).collect()
        };
        LicensePolicy { allow: strings("allow"), deny: strings("deny") }
    }

    /// The verdict on `raw`, which normalizes to `normalized`.
    pub(crate) fn verdict(&self, raw: &str, normalized: &Normalized) -> Verdict {
        if self.deny.iter().any(|denied| denied == raw) {
            Verdict::Refused
        } else if self.allow.iter().any(|allowed| allowed == raw) {
            Verdict::Accepted
        } else if normalized.expression.is_none() {
            Verdict::Unrecognized
        } else if normalized
            .alternatives
            .iter()
            .any(|alternative| alternative.iter().all(|license| self.allows(license)))
        {
            Verdict::Accepted
        } else {
            Verdict::Refused
        }
    }

    fn allows(&self, license: &str) -> bool {
        let base = license.split(" WITH ").next().unwrap_or(license);
        let denied = self.deny.iter().any(|denied| denied == license || denied == base);
        !denied && (self.allow.is_empty() || self.allow.iter().any(|allowed| allowed == license))
    }
}

impl Verdict {
    /// The name the `licenses` gate reads.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::Refused => "refused",
            Verdict::Unrecognized => "unrecognized",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str, expected: Option<&str>, alternatives: &[&[&str]], recognized_by: Recognition) {
        let normalized = normalize(raw);
        assert_eq!(normalized.expression.as_deref(), expected, "{raw}");
        let expected_alternatives: Vec<Vec<String>> =
            alternatives.iter().map(|alternative| alternative.iter().map(|id| (*id).to_owned()).collect()).collect();
        assert_eq!(normalized.alternatives, expected_alternatives, "{raw}");
        assert_eq!(normalized.recognized_by, recognized_by, "{raw}");
    }

    #[test]
    fn spdx_ids_and_expressions_are_taken_as_they_are() {
        check("MIT", Some("MIT"), &[&["MIT"]], Recognition::Spdx);
        check("MIT OR Apache-2.0", Some("MIT OR Apache-2.0"), &[&["MIT"], &["Apache-2.0"]], Recognition::Spdx);
        check(
            "(MIT AND BSD-3-Clause) OR GPL-3.0-only",
            Some("MIT AND BSD-3-Clause OR GPL-3.0-only"),
            &[&["BSD-3-Clause", "MIT"], &["GPL-3.0-only"]],
            Recognition::Spdx,
        );
        check(
            "Apache-2.0 AND (MIT OR ISC)",
            Some("Apache-2.0 AND (MIT OR ISC)"),
            &[&["Apache-2.0", "MIT"], &["Apache-2.0", "ISC"]],
            Recognition::Spdx,
        );
        check(
            "GPL-2.0-only WITH Classpath-exception-2.0",
            Some("GPL-2.0-only WITH Classpath-exception-2.0"),
            &[&["GPL-2.0-only WITH Classpath-exception-2.0"]],
            Recognition::Spdx,
        );
    }

    #[test]
    fn names_found_in_real_sboms_map_to_their_spdx_id() {
        check(
            "License :: OSI Approved :: Apache Software License",
            Some("Apache-2.0"),
            &[&["Apache-2.0"]],
            Recognition::Alias,
        );
        check("Apache 2.0", Some("Apache-2.0"), &[&["Apache-2.0"]], Recognition::Alias);
        check("Apache License, Version 2.0", Some("Apache-2.0"), &[&["Apache-2.0"]], Recognition::Alias);
        check("MIT License", Some("MIT"), &[&["MIT"]], Recognition::Alias);
        check("GPLv3", Some("GPL-3.0-only"), &[&["GPL-3.0-only"]], Recognition::Alias);
        check("License :: OSI Approved :: MIT License", Some("MIT"), &[&["MIT"]], Recognition::Alias);
        check("GNU GPL v2", Some("GPL-2.0-only"), &[&["GPL-2.0-only"]], Recognition::Alias);
    }

    #[test]
    fn lax_spdx_syntax_is_accepted_when_all_of_it_parses() {
        check("MIT/Apache-2.0", Some("MIT OR Apache-2.0"), &[&["MIT"], &["Apache-2.0"]], Recognition::Imprecise);
        check("mit", Some("MIT"), &[&["MIT"]], Recognition::Imprecise);
    }

    #[test]
    fn ambiguous_unknown_and_empty_strings_are_not_recognized() {
        for raw in
            ["BSD", "License :: OSI Approved :: BSD License", "GPL", "", "  ", "Some Custom License v1", "MIT AND"]
        {
            check(raw, None, &[], Recognition::Unrecognized);
        }
    }

    #[test]
    fn an_expression_with_too_many_alternatives_is_not_recognized() {
        let clause = "(MIT OR ISC OR Zlib)";
        let raw = [clause; 5].join(" AND ");
        check(&raw, None, &[], Recognition::Unrecognized);
    }

    fn judge(allow: &[&str], deny: &[&str], raw: &str) -> Verdict {
        let policy = LicensePolicy::new(&serde_json::json!({"allow": allow, "deny": deny}));
        policy.verdict(raw, &normalize(raw))
    }

    #[test]
    fn an_or_is_satisfied_by_one_allowed_alternative() {
        assert_eq!(judge(&["MIT", "Apache-2.0"], &[], "MIT OR GPL-3.0-only"), Verdict::Accepted);
        assert_eq!(judge(&["MIT", "Apache-2.0"], &[], "Apache 2.0"), Verdict::Accepted);
    }

    #[test]
    fn an_and_needs_every_license_allowed() {
        assert_eq!(judge(&["MIT", "Apache-2.0"], &[], "MIT AND GPL-3.0-only"), Verdict::Refused);
        assert_eq!(judge(&["MIT", "Apache-2.0"], &[], "MIT AND Apache-2.0"), Verdict::Accepted);
    }

    #[test]
    fn a_denied_license_refuses_its_alternative_and_an_empty_allow_list_allows_the_rest() {
        assert_eq!(judge(&[], &["GPL-3.0-only"], "MIT OR GPL-3.0-only"), Verdict::Accepted);
        assert_eq!(judge(&[], &["GPL-3.0-only"], "MIT AND GPL-3.0-only"), Verdict::Refused);
        assert_eq!(judge(&[], &["GPL-3.0-only"], "GPLv3"), Verdict::Refused);
    }

    #[test]
    fn denying_a_license_denies_it_with_any_exception() {
        assert_eq!(judge(&[], &["GPL-2.0-only"], "GPL-2.0-only WITH Classpath-exception-2.0"), Verdict::Refused);
        assert_eq!(
            judge(&["GPL-2.0-only WITH Classpath-exception-2.0"], &[], "GPL-2.0-only WITH Classpath-exception-2.0"),
            Verdict::Accepted
        );
    }

    #[test]
    fn raw_strings_in_the_lists_are_judged_as_they_are() {
        assert_eq!(judge(&["MIT"], &[], "BSD"), Verdict::Unrecognized);
        assert_eq!(judge(&["BSD"], &[], "BSD"), Verdict::Accepted);
        assert_eq!(judge(&["MIT"], &["MIT License"], "MIT License"), Verdict::Refused);
        assert_eq!(judge(&["MIT License"], &["MIT License"], "MIT License"), Verdict::Refused);
    }
}
