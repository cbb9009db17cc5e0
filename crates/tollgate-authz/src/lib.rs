//! Tollgate's authorization, in Cedar: the schema (principals, actions, resources), the
//! built-in role policies, guards and segregation-of-duties rules, user policies validated
//! against the schema, and the decision for one request with the policies that made it.
//!
//! Pure: no I/O and no clock. The service reads what a request is about from the store and the
//! time from its clock, and hands both in as a `Request`.
#![forbid(unsafe_code)]

mod action;
mod authorizer;
mod error;
mod request;

pub use crate::action::{actions_table, Action, ActionInfo, Audited, ResourceType, ACTIONS};
pub use crate::authorizer::{
    active_grants, schema, Authorizer, Decision, DeterminingPolicy, PolicyFile, PolicyInfo, PolicySource, Segregation,
    GUARD_POLICIES, MAX_NESTING, MAX_POLICIES, MAX_POLICY_FILE_BYTES, ROLE_POLICIES, SCHEMA, SEGREGATION_POLICIES,
};
pub use crate::error::{PolicyError, PolicyErrors};
pub use crate::request::{ChangeRequestFacts, Context, Grant, PrincipalFacts, ReleaseFacts, Request, Resource};
