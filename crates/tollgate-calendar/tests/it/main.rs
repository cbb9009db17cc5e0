//! The integration tests of tollgate-calendar: one binary (see STYLE.md).

mod ics;
mod oracle;
mod rules;
