//! The client commands: each calls the API and prints the result.

pub mod apply;
pub mod artifact;
pub mod audit;
pub mod authz;
pub mod calendar;
pub mod catalog;
pub mod change;
pub mod evidence;
pub mod gate;
pub mod lease;
pub mod release;
pub mod run;
pub mod train;

use crate::args::OutputFormat;
use crate::client::Client;

/// What every client command needs.
pub struct Context {
    pub client: Client,
    pub output: OutputFormat,
}
