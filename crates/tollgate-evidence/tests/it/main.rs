//! Integration tests of tollgate-evidence: files written by real tools, and adversarial input.

mod adversarial;
mod real_tools;
