//! The problem responses of the OpenAPI document: which `code`s an operation can answer, grouped
//! by status, each an `application/problem+json` document.
//!
//! An operation declares its own codes with [`problems!`] next to its handler; [`CommonProblems`]
//! adds the ones every `/api/v1` operation can answer (no or a bad token, the database down, an
//! internal error). Every problem response names its codes in `x-problem-codes`, so clients and
//! the tests can read them. The meanings come from `ERROR_CODES`, the one table of codes.

use std::collections::BTreeMap;

use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::header::Header;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr};
use utoipa::Modify;

use crate::error::ERROR_CODES;

/// The media type of every problem document.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The extension listing the codes of a problem response.
pub const CODES_EXTENSION: &str = "x-problem-codes";

/// What every operation with a JSON body can answer about it.
pub const JSON_BODY: &[&str] = &["malformed_json", "unsupported_media_type", "payload_too_large", "invalid_body"];

/// What an operation whose JSON body may be any JSON value can answer about it.
pub const JSON_SYNTAX: &[&str] = &["malformed_json", "unsupported_media_type", "payload_too_large"];

/// What every operation with query parameters can answer about them.
pub const QUERY: &[&str] = &["invalid_query"];

/// What every operation with path parameters can answer about them: each is parsed.
pub const PATH: &[&str] = &["validation_failed"];

/// What every `/api/v1` operation can answer.
pub const EVERY_OPERATION: &[&str] = &["unauthenticated", "forbidden", "internal", "service_unavailable"];

/// Declares the problems one operation can answer, besides [`EVERY_OPERATION`], as a type for
/// the `responses(..)` of its `#[utoipa::path]`: `problems!(GetTeamProblems, [PATH, &["team_not_found"]]);`.
macro_rules! problems {
    ($type:ident, [$($codes:expr),+ $(,)?]) => {
        pub struct $type;

        impl utoipa::IntoResponses for $type {
            fn responses() -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::response::Response>> {
                let groups: &[&[&str]] = &[$($codes),+];
                crate::api::problem::responses(&groups.concat())
            }
        }
    };
}
pub(crate) use problems;

/// The problem responses for `codes`, one per status.
pub fn responses(codes: &[&str]) -> BTreeMap<String, RefOr<Response>> {
    let mut by_status: BTreeMap<u16, Vec<&str>> = BTreeMap::new();
    for code in codes {
        let status = status_of(code);
        let entry = by_status.entry(status).or_default();
        if !entry.contains(code) {
            entry.push(code);
        }
    }
    by_status.into_iter().map(|(status, codes)| (status.to_string(), RefOr::T(response(status, &codes)))).collect()
}

/// Adds [`EVERY_OPERATION`]'s problems to every operation, merged with those it declares.
pub struct CommonProblems;

impl Modify for CommonProblems {
    fn modify(&self, openapi: &mut OpenApi) {
        for path_item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut path_item.get,
                &mut path_item.put,
                &mut path_item.post,
                &mut path_item.delete,
                &mut path_item.patch,
                &mut path_item.head,
                &mut path_item.options,
                &mut path_item.trace,
            ];
            for operation in operations.into_iter().flatten() {
                add_problems(operation, EVERY_OPERATION);
            }
        }
    }
}

/// The codes a response declares in [`CODES_EXTENSION`].
pub fn codes_of(response: &Response) -> Vec<String> {
    response
        .extensions
        .as_ref()
        .and_then(|extensions| extensions.get(CODES_EXTENSION))
        .and_then(|codes| codes.as_array())
        .map(|codes| codes.iter().filter_map(|code| code.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn add_problems(operation: &mut Operation, codes: &[&str]) {
    let mut all: Vec<String> = operation
        .responses
        .responses
        .values()
        .filter_map(|response| match response {
            RefOr::T(response) => Some(codes_of(response)),
            RefOr::Ref(_) => None,
        })
        .flatten()
        .collect();
    all.extend(codes.iter().map(|code| (*code).to_owned()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    operation.responses.responses.extend(responses(&all));
}

fn status_of(code: &str) -> u16 {
    ERROR_CODES
        .iter()
        .find(|(known, ..)| *known == code)
        .map(|(_, status, _)| *status)
        .unwrap_or_else(|| panic!("problem code {code:?} is not in ERROR_CODES"))
}

fn meaning_of(code: &str) -> &'static str {
    ERROR_CODES.iter().find(|(known, ..)| *known == code).map_or("", |(_, _, meaning)| *meaning)
}

fn response(status: u16, codes: &[&str]) -> Response {
    let description = codes.iter().map(|code| format!("`{code}`: {}", meaning_of(code))).collect::<Vec<_>>().join("\n");
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
    let extensions: Extensions = [(CODES_EXTENSION, serde_json::json!(codes))].into_iter().collect();
    let mut builder = ResponseBuilder::new().description(description).content(PROBLEM_JSON, content);
    if status == 429 {
        let seconds = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
            .minimum(Some(0));
        let mut header = Header::new(seconds);
        header.description = Some("Seconds to wait before trying again.".to_owned());
        builder = builder.header("Retry-After", header);
    }
    builder.extensions(Some(extensions)).build()
}
