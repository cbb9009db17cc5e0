//! The Tollgate domain core: records, validated values, state machines, canonical digests and the
//! audit chain.
//!
//! This crate is pure. It performs no I/O, reads no clock and draws no randomness: time, ids and
//! secrets come in as arguments. Storage, HTTP and the CLI live in other crates and depend on this
//! one, never the other way round.
#![forbid(unsafe_code)]

/// Gives a fieldless enum its stable text form: `as_str`, `Display`, `FromStr` and `ALL`.
#[macro_export]
macro_rules! keyword_enum {
    ($type:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $type {
            pub const ALL: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self { $($type::$variant => $text),+ }
            }
        }

        impl ::std::fmt::Display for $type {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $type {
            type Err = $crate::Problem;

            fn from_str(value: &str) -> Result<$type, $crate::Problem> {
                match value {
                    $($text => Ok($type::$variant),)+
                    _ => Err($crate::Problem::NotOneOf { value: value.to_owned(), accepted: $type::ALL }),
                }
            }
        }
    };
}

pub mod apply;
pub mod artifact;
pub mod attestation;
pub mod audit;
pub mod authz;
pub mod calendar;
pub mod change;
pub mod deployment;
pub mod digest;
pub mod entity;
pub mod environment;
pub mod evidence;
pub mod gate;
pub mod lease;
pub mod lifecycle;
pub mod name;
pub mod page;
pub mod plan;
pub mod quarantine;
pub mod release;
pub mod retention;
pub mod rollout;
pub mod run;
pub mod service;
pub mod session;
pub mod sso;
#[cfg(test)]
mod stored_formats;
pub mod team;
pub mod token;
pub mod train;
pub mod user;
pub mod violation;

/// An instant in time, always UTC. Core never reads the clock: callers pass `now` in.
pub type Timestamp = jiff::Timestamp;

pub use entity::Entity;
pub use page::Page;
pub use violation::{Problem, Violation, Violations};
