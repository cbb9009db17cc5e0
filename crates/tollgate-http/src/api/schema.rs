//! The value schemas of the OpenAPI document: every rule the server applies to a string or
//! number it reads, written once, from the core's constants where it has them.
//!
//! Each rule is a unit type whose schema is a named component (`Name`, `Version`, `Digest`, ..),
//! used by request and response types through `#[schema(value_type = ..)]`. Patterns are
//! ECMA-262 expressions that mean the same in Rust's `regex` and Python's `re`: character
//! classes, groups and counted repetition, anchored, without look-around or `\d`, `\s`, `\w`
//! (whose meaning differs between engines). The tests check every pattern against the parser it
//! describes, on tables of values and on every short string over a small alphabet.
//!
//! Rules that need the database (references, uniqueness among stored objects) or the clock (a
//! time in the future) cannot be stated here; the operations answer them with 404, 409 or 422.

use utoipa::openapi::schema::{
    AllOfBuilder, AnyOfBuilder, ArrayBuilder, KnownFormat, Object, ObjectBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use tollgate_core::artifact::{
    MAX_ARTIFACT_NAME_LEN, MAX_ARTIFACT_VERSION_LEN, MAX_PATTERN_LEN, MAX_PROVENANCE_FIELD_LEN, MAX_TAGS,
};
use tollgate_core::name::MAX_NAME_LEN;
use tollgate_core::release::{
    ReleaseAction, MAX_REASON_LEN, MAX_ROLLBACK_CRITERIA_LEN, MAX_TICKET_LEN, MAX_TIMESTAMP_YEAR, MAX_TITLE_LEN,
};
use tollgate_core::service::MAX_DESCRIPTION_LEN;
use tollgate_core::team::MAX_DISPLAY_NAME_LEN;

/// Team, user, service, environment, lifecycle and region names.
pub const NAME_PATTERN: &str = "^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$";
/// Artifact names: `payments/ledger`. No `//` or `..`, not starting with `/`, `.` or `-`, not
/// ending with `/` or `.`: runs of separators alternate, and a name character closes each.
pub const ARTIFACT_NAME_PATTERN: &str = "^[a-z0-9_][a-z0-9_-]*(?:(?:/(?:\\./)*\\.?|\\.(?:/\\.)*/?)[a-z0-9_-]+)*$";
/// Artifact versions: `1.4.0`, `2026.03.01-rc+5`. No `..`, not starting with `.` or `-`, not
/// ending with `.`.
pub const ARTIFACT_VERSION_PATTERN: &str = "^[A-Za-z0-9_+][A-Za-z0-9_+-]*(?:\\.[A-Za-z0-9_+-]+)*$";
/// Artifact tags (for legal holds): `audit-2026`. No `..`, not starting with `.` or `-`, not
/// ending with `.`.
pub const TAG_PATTERN: &str = "^[a-z0-9_][a-z0-9_-]*(?:\\.[a-z0-9_-]+)*$";
/// The longest tag.
pub const MAX_TAG_LEN: usize = 64;
/// Ticket ids of scope items: `PAY-12`, `#4711`, `team/42`. Shaped like artifact names, with
/// upper-case letters and `#`.
pub const TICKET_PATTERN: &str = "^[A-Za-z0-9_#][A-Za-z0-9_#-]*(?:(?:/(?:\\./)*\\.?|\\.(?:/\\.)*/?)[A-Za-z0-9_#-]+)*$";
/// SHA-256 digests, in their one spelling.
pub const DIGEST_PATTERN: &str = "^sha256:[0-9a-f]{64}$";
/// Media types: `type/subtype`, each a token.
pub const MEDIA_TYPE_PATTERN: &str = "^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+$";
/// The longest media type.
pub const MAX_MEDIA_TYPE_LEN: usize = 127;
/// Text that says something: at least one character that is not white space, as Rust's
/// `char::is_whitespace` (Unicode `White_Space`) has it. Unanchored: some character matches.
pub const NOT_BLANK_PATTERN: &str =
    "[^\\t\\n\\u000b\\u000c\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
/// Stored free text: no NUL (U+0000), which PostgreSQL cannot store.
pub const STORED_TEXT_PATTERN: &str = "^[^\\u0000]*$";
/// Stored free text that must say something: no NUL, and a character that is neither NUL nor
/// white space.
pub const STORED_STATEMENT_PATTERN: &str = "^[^\\u0000]*[^\\u0000\\t\\n\\u000b\\u000c\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$";
/// The longest token description.
pub const MAX_TOKEN_DESCRIPTION_LEN: usize = 200;
/// The longest trusted key name.
pub const MAX_KEY_NAME_LEN: usize = 100;
/// The longest builder id of a trusted key.
pub const MAX_KEY_BUILDER_LEN: usize = 512;
/// The longest reason for a legal hold.
pub const MAX_HOLD_REASON_LEN: usize = 2000;
/// An ed25519 public key in PEM: the SubjectPublicKeyInfo of every ed25519 key starts with the
/// same 12 bytes (`MCowBQYDK2VwAyEA` in base64), then the 32 key bytes.
pub const PUBLIC_KEY_PEM_PATTERN: &str = "^[\\t\\n\\r ]*-----BEGIN PUBLIC KEY-----\\r?\\nMCowBQYDK2VwAyEA[A-Za-z0-9+/]{43}=\\r?\\n-----END PUBLIC KEY-----[\\t\\n\\r ]*$";
/// The largest page of a paged list.
pub const MAX_PAGE_LIMIT: i64 = tollgate_core::Page::MAX_LIMIT;
/// The largest page of audit entries.
pub const MAX_AUDIT_LIMIT: i64 = 1000;

/// A semantic version (`1.4.0`, `2.0.0-rc.1+build.5`) as the `semver` crate reads it: major,
/// minor and patch without leading zeros and at most `u64::MAX`.
pub fn version_pattern() -> String {
    format!("^{}$", version_body())
}

/// A release: its id (a positive integer without leading zeros) or its version.
pub fn release_ref_pattern() -> String {
    format!("^(?:{}|{})$", decimal_up_to(i64::MAX.unsigned_abs(), false), version_body())
}

/// The retention selector for one artifact name.
pub fn name_selector_pattern() -> String {
    format!("^name:{}", &ARTIFACT_NAME_PATTERN[1..])
}

/// The retention selector for one team.
pub fn team_selector_pattern() -> String {
    format!("^team:{}", &NAME_PATTERN[1..])
}

/// The shape of a comma-separated list of 1 to `MAX_TAGS` tags.
pub fn tag_list_pattern() -> String {
    let tag = &TAG_PATTERN[1..TAG_PATTERN.len() - 1];
    format!("^{tag}(?:,{tag}){{0,{}}}$", MAX_TAGS - 1)
}

/// The length of each tag in a comma-separated list: a second pattern, since a pattern cannot
/// count the characters of an alternation.
pub fn tag_list_length_pattern() -> String {
    format!("^[^,]{{1,{MAX_TAG_LEN}}}(?:,[^,]{{1,{MAX_TAG_LEN}}}){{0,{}}}$", MAX_TAGS - 1)
}

/// An actor as audit entries name it: a user name, or `@system`.
pub fn actor_pattern() -> String {
    format!("^(?:{}|{})$", tollgate_core::audit::search::SYSTEM_ACTOR, &NAME_PATTERN[1..NAME_PATTERN.len() - 1])
}

/// An action as audit entries name it: `<object kind>.<verb>`.
pub fn audit_action_pattern() -> String {
    let kinds = tollgate_core::audit::ObjectKind::ALL.join("|");
    let verbs = tollgate_core::audit::AuditAction::ALL.join("|");
    format!("^(?:{kinds})\\.(?:{verbs})$")
}

/// The written year of a timestamp, 0000 to `MAX_TIMESTAMP_YEAR`; the rest is `format: date-time`.
pub fn timestamp_pattern() -> String {
    format!("^{}-", decimal_with_digits_up_to(4, MAX_TIMESTAMP_YEAR.unsigned_abs().into()))
}

/// Standard or URL-safe base64 (one alphabet per value), padded, partly padded or not, with zero
/// trailing bits, as the `base64` crate decodes it leniently; of exactly `bytes` bytes when given.
pub fn base64_pattern(bytes: Option<usize>) -> String {
    let encoding = |extra: &str| {
        let symbol = format!("[A-Za-z0-9{extra}]");
        let one_byte = format!("{symbol}[AQgw](?:==?)?");
        let two_bytes = format!("{symbol}{{2}}[AEIMQUYcgkosw048]=?");
        match bytes {
            Some(bytes) => {
                let groups = format!("(?:{symbol}{{4}}){{{}}}", bytes / 3);
                match bytes % 3 {
                    0 => groups,
                    1 => format!("{groups}{one_byte}"),
                    _ => format!("{groups}{two_bytes}"),
                }
            }
            None => format!("(?:{symbol}{{4}})*(?:{one_byte}|{two_bytes})?"),
        }
    };
    format!("^(?:{}|{})$", encoding("+/"), encoding("_-"))
}

fn version_body() -> String {
    let number = decimal_up_to(u64::MAX, true);
    let pre = "(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)";
    let build = "[0-9A-Za-z-]+";
    format!("{number}\\.{number}\\.{number}(?:-{pre}(?:\\.{pre})*)?(?:\\+{build}(?:\\.{build})*)?")
}

/// A group matching the decimal numbers from 0 (or 1) to `max`, without leading zeros.
fn decimal_up_to(max: u64, with_zero: bool) -> String {
    let digits: Vec<u8> = max.to_string().bytes().map(|b| b - b'0').collect();
    let mut alternatives = Vec::new();
    if with_zero {
        alternatives.push("0".to_owned());
    }
    match digits.len() {
        1 => {}
        2 => alternatives.push("[1-9]".to_owned()),
        n => alternatives.push(format!("[1-9][0-9]{{0,{}}}", n - 2)),
    }
    if max > 0 {
        alternatives.push(at_most(&digits, 1));
    }
    format!("(?:{})", alternatives.join("|"))
}

/// A group matching exactly `width` digits (leading zeros included) up to `max`.
fn decimal_with_digits_up_to(width: usize, max: u64) -> String {
    let digits: Vec<u8> = format!("{max:0width$}").bytes().map(|b| b - b'0').collect();
    format!("(?:{})", at_most(&digits, 0))
}

/// Numbers of exactly `digits.len()` digits, at most `digits`, the first at least `lowest_first`.
fn at_most(digits: &[u8], lowest_first: u8) -> String {
    let class = |low: u8, high: u8| if low == high { low.to_string() } else { format!("[{low}-{high}]") };
    let rest = digits.len() - 1;
    if rest == 0 {
        return class(lowest_first, digits[0]);
    }
    let mut alternatives = Vec::new();
    if digits[0] > lowest_first {
        let any = if rest == 1 { "[0-9]".to_owned() } else { format!("[0-9]{{{rest}}}") };
        alternatives.push(format!("{}{any}", class(lowest_first, digits[0] - 1)));
    }
    alternatives.push(format!("{}{}", digits[0], at_most(&digits[1..], 0)));
    if alternatives.len() == 1 {
        alternatives.remove(0)
    } else {
        format!("(?:{})", alternatives.join("|"))
    }
}

fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).description(Some(description))
}

fn patterned(pattern: impl Into<String>, max_length: usize, description: &str) -> Object {
    string(description).pattern(Some(pattern)).max_length(Some(max_length)).build()
}

/// Free text of at most `max_length` characters, as `check_text` has it; `required` text must not
/// be blank.
fn text(max_length: usize, required: bool, description: &str) -> Object {
    let pattern = if required { STORED_STATEMENT_PATTERN } else { STORED_TEXT_PATTERN };
    string(description).max_length(Some(max_length)).pattern(Some(pattern)).build()
}

fn keywords(values: &[&str], description: &str) -> Object {
    string(description).enum_values(Some(values.iter().copied())).build()
}

fn integer(minimum: i64, maximum: u64, description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(minimum))
        .maximum(Some(maximum))
        .description(Some(description))
        .build()
}

/// Declares a unit type whose schema is a named component.
macro_rules! value_schema {
    ($(#[$meta:meta])* $type:ident => $schema:expr) => {
        $(#[$meta])*
        pub struct $type;

        impl PartialSchema for $type {
            fn schema() -> RefOr<Schema> {
                Schema::from($schema).into()
            }
        }

        impl ToSchema for $type {}
    };
}

value_schema!(
    /// A name.
    Name => patterned(
        NAME_PATTERN,
        MAX_NAME_LEN,
        "1 to 63 lower-case ASCII letters, digits and dashes, starting and ending with a letter or digit.",
    )
);
value_schema!(
    /// Names of other objects, each once.
    NameSet => ArrayBuilder::new().items(reference::<Name>()).unique_items(true).description(Some("Names, each at most once."))
);
value_schema!(
    /// A service's labels.
    LabelSet => ArrayBuilder::new()
        .items(reference::<Name>())
        .max_items(Some(tollgate_core::service::MAX_LABELS))
        .unique_items(true)
        .description(Some("Labels (names), each at most once, at most 32."))
);
value_schema!(
    /// A promotion path.
    EnvironmentPath => ArrayBuilder::new()
        .items(reference::<Name>())
        .min_items(Some(1))
        .unique_items(true)
        .description(Some("Environment names, first environment first; at least one, each at most once."))
);
value_schema!(
    /// A display name.
    DisplayName => text(MAX_DISPLAY_NAME_LEN, true, "Free text that is not blank; the name when absent.")
);
value_schema!(
    /// A service description.
    ServiceDescription => text(MAX_DESCRIPTION_LEN, false, "Free text.")
);
value_schema!(
    /// A team's artifact naming pattern.
    ArtifactPattern => string(
        "A regular expression in Rust `regex` syntax that the whole of every artifact name of the team \
         must match; its compiled form is limited in size.",
    )
    .max_length(Some(MAX_PATTERN_LEN))
    .pattern(Some(STORED_TEXT_PATTERN))
    .build()
);
value_schema!(
    /// A role name as a request gives it.
    Role => keywords(
        tollgate_core::user::ROLE_NAMES,
        "A built-in role (see `docs/authorization.md`): `viewer` reads; `auditor` reads, verifies and exports \
         the audit log; `developer` pushes its teams' artifacts and moves releases; `release_manager` moves \
         releases and may override a gate; `approver` approves changes; `deployer` records deployments (the \
         only role that deploys to prod); `admin` does everything segregation of duties allows. `member` \
         stands for developer and deployer.",
    )
);
value_schema!(
    /// A role a user holds.
    HeldRole => keywords(tollgate_core::user::Role::ALL, "A built-in role (see `docs/authorization.md`).")
);
value_schema!(
    /// An environment's tier.
    Tier => keywords(tollgate_core::environment::Tier::ALL, "The kind of environment.")
);
value_schema!(
    /// A service's criticality.
    Criticality => keywords(tollgate_core::service::Criticality::ALL, "How much harm an outage of the service does.")
);
value_schema!(
    /// A release's type.
    ReleaseType => keywords(
        tollgate_core::release::ReleaseType::ALL,
        "How big a change the release is; an emergency release may skip planning and promotion steps.",
    )
);
value_schema!(
    /// A release's rollout strategy.
    RolloutStrategy => keywords(tollgate_core::release::RolloutStrategy::ALL, "How the release is rolled out.")
);
value_schema!(
    /// A release's state.
    ReleaseState => keywords(tollgate_core::release::ReleaseState::ALL, "Where the release stands in its lifecycle.")
);
value_schema!(
    /// The status a deployment is recorded with.
    NewDeploymentStatus => keywords(&new_deployment_statuses(), "Where the deployment stands when it is recorded.")
);
value_schema!(
    /// A deployment's status.
    DeploymentStatus => keywords(tollgate_core::deployment::DeploymentStatus::ALL, "Where the deployment stands.")
);
value_schema!(
    /// An evidence kind.
    EvidenceKind => keywords(tollgate_core::evidence::EvidenceKind::ALL, "The format of an evidence file.")
);
value_schema!(
    /// The name of a gate.
    GateName => patterned(
        "^[a-z][a-z0-9_-]{0,62}$",
        tollgate_core::gate::MAX_GATE_NAME_LEN,
        "1 to 63 lower-case ASCII letters, digits, dashes and underscores, starting with a letter.",
    )
);
value_schema!(
    /// The path of a user's Rego module.
    ModulePath => string("A path such as `policies/licenses.rego`, as the gates name it.")
        .min_length(Some(1))
        .max_length(Some(tollgate_core::gate::MAX_MODULE_PATH_LEN))
        .pattern(Some("^[^\\u0000]+$"))
);
value_schema!(
    /// The text of a user's Rego module.
    ModuleSource => string("Rego source (v1 syntax).").max_length(Some(tollgate_core::gate::MAX_MODULE_SIZE))
);
value_schema!(
    /// What a failing gate does.
    Enforcement => keywords(tollgate_core::gate::Enforcement::ALL, "`block` stops the promotion; `warn` records and shows the failure.")
);
value_schema!(
    /// The outcome of one gate.
    GateOutcome => keywords(&["pass", "fail", "error"], "`error`: the gate could not be judged (see `reason`); a blocking gate that errors blocks.")
);
value_schema!(
    /// An artifact name.
    ArtifactName => patterned(
        ARTIFACT_NAME_PATTERN,
        MAX_ARTIFACT_NAME_LEN,
        "Lower-case letters, digits and `._/-`, like a relative path: not starting with `/`, `.` or `-`, \
         not ending with `/` or `.`, without `//` or `..`.",
    )
);
value_schema!(
    /// An artifact version.
    ArtifactVersion => patterned(
        ARTIFACT_VERSION_PATTERN,
        MAX_ARTIFACT_VERSION_LEN,
        "Letters, digits and `._+-`: not starting with `.` or `-`, not ending with `.`, without `..`.",
    )
);
value_schema!(
    /// A tag.
    Tag => patterned(
        TAG_PATTERN,
        MAX_TAG_LEN,
        "Lower-case letters, digits and `._-`: not starting with `.` or `-`, not ending with `.`, without `..`.",
    )
);
value_schema!(
    /// Tags, comma-separated.
    TagList => AllOfBuilder::new()
        .item(string("1 to 32 tags, comma-separated, each as `Tag` describes.").pattern(Some(tag_list_pattern())).build())
        .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some(tag_list_length_pattern())).build())
);
value_schema!(
    /// A media type.
    MediaType => patterned(MEDIA_TYPE_PATTERN, MAX_MEDIA_TYPE_LEN, "A media type, `type/subtype`.")
);
value_schema!(
    /// A provenance field of an artifact.
    ProvenanceText => text(MAX_PROVENANCE_FIELD_LEN, true, "Free text that is not blank.")
);
value_schema!(
    /// A SHA-256 digest.
    Digest => patterned(DIGEST_PATTERN, 71, "`sha256:` followed by 64 lower-case hex digits.")
);
value_schema!(
    /// A ticket id.
    Ticket => patterned(
        TICKET_PATTERN,
        MAX_TICKET_LEN,
        "ASCII letters, digits and `._#/-`: not starting with `/`, `.` or `-`, not ending with `/` or `.`, \
         without `//` or `..`.",
    )
);
value_schema!(
    /// The title of a scope item.
    Title => text(MAX_TITLE_LEN, true, "Free text that is not blank.")
);
value_schema!(
    /// A reason that goes on record.
    Reason => text(MAX_REASON_LEN, true, "Free text that is not blank.")
);
value_schema!(
    /// The reason for a just-in-time grant or an override.
    GrantReason => text(tollgate_core::authz::MAX_REASON_LEN, true, "Free text that is not blank.")
);
value_schema!(
    /// The name of a file of Cedar policies.
    PolicyFileName => text(200, true, "A file name, for errors and the policies' origin.")
);
value_schema!(
    /// Cedar policies.
    PolicyText => text(tollgate_service::authz::MAX_POLICY_FILE_BYTES, false, "Cedar policy text.")
);
value_schema!(
    /// An authorization action.
    ActionName => keywords(&tollgate_service::authz::action_names(), "An action of `docs/authorization.md`.")
);
value_schema!(
    /// The reason for a legal hold.
    HoldReason => text(MAX_HOLD_REASON_LEN, true, "Free text that is not blank.")
);
value_schema!(
    /// Rollback criteria of a release.
    RollbackCriteria => text(MAX_ROLLBACK_CRITERIA_LEN, false, "Free text.")
);
value_schema!(
    /// A semantic version.
    Version => string(
        "A semantic version (`1.4.0`, `2.0.0-rc.1+build.5`); major, minor and patch are at most 18446744073709551615.",
    )
    .pattern(Some(version_pattern()))
    .build()
);
value_schema!(
    /// A release id or version.
    ReleaseRef => string("A release id (a positive integer without leading zeros) or a release version.")
        .pattern(Some(release_ref_pattern()))
        .build()
);
value_schema!(
    /// The kind of a calendar period.
    PeriodKind => keywords(
        &["window", "maintenance", "freeze", "blackout"],
        "`window` and `maintenance` allow deployments while open; `freeze` and `blackout` deny them.",
    )
);
value_schema!(
    /// Where a calendar period applies.
    PeriodScope => string("`global`, `environment:NAME`, `service:NAME` or `region:NAME`.")
        .pattern(Some(format!("^(?:global|(?:environment|service|region):{})$", NAME_PATTERN.trim_start_matches('^').trim_end_matches('$'))))
        .max_length(Some("environment:".len() + MAX_NAME_LEN))
        .build()
);
value_schema!(
    /// An instant.
    Timestamp => string("An RFC 3339 date-time with an offset, written in a year up to 9998.")
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .pattern(Some(timestamp_pattern()))
        .build()
);
value_schema!(
    /// A token description.
    TokenDescription => text(MAX_TOKEN_DESCRIPTION_LEN, false, "Free text.")
);
value_schema!(
    /// A trusted key's name.
    KeyName => text(MAX_KEY_NAME_LEN, true, "Free text that is not blank.")
);
value_schema!(
    /// A builder id.
    Builder => text(MAX_KEY_BUILDER_LEN, true, "The builder (a URI, say) whose artifacts the key may sign.")
);
value_schema!(
    /// An ed25519 public key.
    PublicKeyPem => string("An ed25519 public key, PEM (`-----BEGIN PUBLIC KEY-----`).")
        .pattern(Some(PUBLIC_KEY_PEM_PATTERN))
        .build()
);
value_schema!(
    /// A retention selector.
    RetentionSelector => AnyOfBuilder::new()
        .item(patterned(name_selector_pattern(), 5 + MAX_ARTIFACT_NAME_LEN, "`name:` and an artifact name."))
        .item(patterned(team_selector_pattern(), 5 + MAX_NAME_LEN, "`team:` and a team name."))
        .description(Some("The artifacts a policy is about: `name:<artifact name>` or `team:<team>`."))
);
value_schema!(
    /// A database id.
    Id => integer(1, i64::MAX.unsigned_abs(), "An id.")
);
value_schema!(
    /// A cursor of a paged list.
    Cursor => integer(i64::MIN, i64::MAX.unsigned_abs(), "The `next_cursor` of the previous page.")
);
value_schema!(
    /// The revision a change is based on.
    Revision => integer(i64::MIN, i64::MAX.unsigned_abs(), "The revision the change is based on.")
);
value_schema!(
    /// The size of a page.
    PageLimit => integer(1, MAX_PAGE_LIMIT.unsigned_abs(), "Items per page (default 50).")
);
value_schema!(
    /// The size of a page of audit entries.
    AuditLimit => integer(1, MAX_AUDIT_LIMIT.unsigned_abs(), "Entries per page (default 100).")
);
value_schema!(
    /// A position in the audit log.
    AuditPosition => integer(0, i64::MAX.unsigned_abs(), "Entries after this position (default 0: from the start).")
);
value_schema!(
    /// A position before which a search reads.
    AuditBefore => integer(
        1,
        i64::MAX.unsigned_abs(),
        "Entries before this position: the `next_before` of the previous page (default: from the newest entry).",
    )
);
value_schema!(
    /// The size of a page of a search of the audit log.
    AuditSearchLimit => integer(
        1,
        tollgate_core::audit::search::MAX_SEARCH_LIMIT.into(),
        "Entries per page (default 50).",
    )
);
value_schema!(
    /// Who an audit entry names as its actor.
    AuditActor => patterned(actor_pattern(), MAX_NAME_LEN, "A user name, or `@system` for Tollgate itself.")
);
value_schema!(
    /// An action as audit entries name it.
    AuditAction => string("`<object kind>.<verb>`, such as `release.transition`.")
        .pattern(Some(audit_action_pattern()))
        .build()
);
value_schema!(
    /// The kind of object an audit entry is about.
    ObjectKind => keywords(tollgate_core::audit::ObjectKind::ALL, "The kind of object an audit entry is about.")
);
value_schema!(
    /// The key of the object an audit entry is about.
    ObjectId => string("A name, version or numeric id, as audit entries write it.")
        .min_length(Some(1))
        .max_length(Some(tollgate_core::audit::search::MAX_OBJECT_ID_LEN))
        .pattern(Some("^[^\\u0000]+$"))
);
value_schema!(
    /// How many versions a policy keeps.
    KeepLast => integer(1, u32::MAX.into(), "Keep the last this many versions.")
);
value_schema!(
    /// How long a policy keeps what was deployed.
    KeepDeployedDays => integer(0, u32::MAX.into(), "Keep what was deployed in the last this many days.")
);

/// `fields` (a derived object schema) and `rules` between its fields, all of which must hold.
pub fn with_rules(fields: RefOr<Schema>, rules: impl IntoIterator<Item = Schema>, description: &str) -> Schema {
    let builder = rules.into_iter().fold(AllOfBuilder::new().item(fields), |builder, rule| builder.item(rule));
    builder.description(Some(description)).into()
}

/// An object rule: `required` members are present, and members meet their schemas when present.
pub fn members(required: &[&str], properties: Vec<(&str, RefOr<Schema>)>) -> Schema {
    let builder = required.iter().fold(ObjectBuilder::new(), |builder, name| builder.required(*name));
    properties.into_iter().fold(builder, |builder, (name, schema)| builder.property(name, schema)).into()
}

/// Only `null`.
pub fn null() -> Schema {
    ObjectBuilder::new().schema_type(Type::Null).into()
}

/// Only these values.
pub fn one_of_values(schema_type: Type, values: Vec<serde_json::Value>) -> Schema {
    ObjectBuilder::new().schema_type(schema_type).enum_values(Some(values)).into()
}

/// A reference to a named component.
pub fn reference<T: ToSchema>() -> RefOr<Schema> {
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(T::name()))
}

/// Text that is not blank, of any length.
pub fn not_blank() -> Schema {
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(NOT_BLANK_PATTERN)).into()
}

/// The statuses a deployment may be recorded with; `rolled_back` comes later, by finishing one.
pub fn new_deployment_statuses() -> Vec<&'static str> {
    tollgate_core::deployment::DeploymentStatus::ALL.iter().copied().filter(|status| *status != "rolled_back").collect()
}

/// The release actions a person asks for, as `POST /releases/{release}/transitions` takes them;
/// the deployment actions follow from recorded deployments.
pub fn manual_actions(with_reason: bool) -> Vec<&'static str> {
    ReleaseAction::ALL
        .iter()
        .copied()
        .filter(|text| {
            text.parse::<ReleaseAction>()
                .is_ok_and(|action| action.is_manual() && action.requires_reason() == with_reason)
        })
        .collect()
}

#[cfg(test)]
mod tests;
value_schema!(
    /// A change request's type.
    ChangeType => keywords(
        tollgate_core::change::ChangeType::ALL,
        "How the change is governed: standard (pre-approved routine), normal (reviewed) or emergency (now, reviewed afterwards).",
    )
);
value_schema!(
    /// A change request's state.
    ChangeState => keywords(tollgate_core::change::ChangeState::ALL, "Where the change request stands.")
);
value_schema!(
    /// A risk class.
    RiskClass => keywords(tollgate_core::change::risk::RiskClass::ALL, "The class of a risk score, at the configured cut-offs.")
);
value_schema!(
    /// A risk factor.
    RiskFactorKind => keywords(tollgate_core::change::risk::RiskFactorKind::ALL, "One factor of a change's risk.")
);
value_schema!(
    /// What a change conflicts with.
    ConflictKind => keywords(tollgate_core::change::ConflictKind::ALL, "What the change's planned interval conflicts with.")
);
value_schema!(
    /// An approval route.
    ApprovalRouteKind => keywords(&["automatic", "peer", "cab", "emergency"], "Which approvals the change needs, as the approval policy chose.")
);
value_schema!(
    /// An approver's verdict.
    Verdict => keywords(tollgate_core::change::approval::Verdict::ALL, "An approver's verdict.")
);
value_schema!(
    /// A justification or plan of a change, required.
    PlanStatement => text(tollgate_core::change::MAX_PLAN_LEN, true, "Free text that is not blank.")
);
value_schema!(
    /// An implementation plan, optional.
    PlanText => text(tollgate_core::change::MAX_PLAN_LEN, false, "Free text.")
);
value_schema!(
    /// A ticket id or a link.
    Reference => text(tollgate_core::change::MAX_REFERENCE_LEN, true, "A ticket id or a link, not blank.")
);
value_schema!(
    /// An approver's comment.
    Comment => text(tollgate_core::change::approval::MAX_COMMENT_LEN, false, "Free text; required (not blank) for a rejection.")
);
value_schema!(
    /// A rollback time in minutes.
    RollbackMinutes => integer(0, u64::from(tollgate_core::change::MAX_ROLLBACK_MINUTES), "Minutes; 0 when absent.")
);
value_schema!(
    /// One precondition of a deployment.
    Precondition => keywords(tollgate_core::deployment::Precondition::ALL, "authorization: the caller may deploy there; promotion: the release's state and lifecycle order; artifacts: present, unchanged and (prod) signed by a trusted key; gates: the blocking gates passed; window: the deployment window is open; change: an approved change request covers it; lock: no lease of another deployment holds one of the release's services there.")
);
value_schema!(
    /// How long a lease lasts unless renewed.
    LeaseTtlSeconds => integer(
        tollgate_core::lease::LeaseTtl::MIN_SECONDS.into(),
        tollgate_core::lease::LeaseTtl::MAX_SECONDS.into(),
        "Seconds from its acquisition or renewal until the lease expires: 10 to 86400 (a day); 900 when absent.",
    )
);
value_schema!(
    /// A lease's fencing token.
    Epoch => integer(1, i64::MAX.unsigned_abs(), "The lease's epoch, as its acquisition answered it.")
);
value_schema!(
    /// Where a lease stands.
    LeaseState => keywords(tollgate_core::lease::LeaseState::ALL, "held: it locks its services; expired: it was not renewed in time, and the next deployment to its services takes it over; released: it ended.")
);
value_schema!(
    /// The outcome a lease's holder reports.
    Outcome => keywords(&["succeeded", "failed"], "How the deployment ended.")
);
value_schema!(
    /// What happens to a running deployment when its window closes.
    WindowClose => keywords(tollgate_core::change::policy::WindowClose::ALL, "finish: it runs to its end; pause: it pauses at its next step boundary.")
);
value_schema!(
    /// Where the run of an orchestrated deployment stands.
    RunState => keywords(tollgate_core::run::RunState::ALL, "active: workers carry it out; needs_operator: a worker stopped in a step that is not idempotent (an operator resumes, skips or aborts), or a rollback waits for confirmation (roll_back or abort); paused: an operator paused it (the running step ends, no further one starts until resumed); finished: its deployment ended.")
);
value_schema!(
    /// Where a step of a run stands.
    StepState => keywords(tollgate_core::run::StepState::ALL, "pending: not started; running: a worker carries it out; succeeded; failed; skipped: an operator went on without it.")
);
value_schema!(
    /// What a step does.
    StepKind => keywords(&["exec", "http", "health", "wait", "manual", "traffic"], "exec: runs a program; http: sends a request; health: probes until healthy or unhealthy; wait: pauses; manual: waits for a person's judgment; traffic: moves traffic between the service's targets (added by a rollout strategy).")
);
value_schema!(
    /// An operator's decision on a run that needs one.
    OperatorDecision => keywords(tollgate_core::run::OperatorDecision::ALL, "resume: run the stopped step again; skip: go on without it; abort: stop deploying and roll back as the plans say (while rolling back: stop the rollback, the deployment failed); roll_back: confirm a rollback that waits, or roll back at once; approve and reject: judge a manual step that waits; pause: start no further step until resumed (resume goes on); promote: move a canary at once to all of the traffic, skipping its lower weights, pauses and their verification.")
);
value_schema!(
    /// A person's judgment of a manual step.
    Judgment => keywords(tollgate_core::plan::Judgment::ALL, "approve: the step succeeds; reject: the step fails.")
);
value_schema!(
    /// Whether a failed deployment rolls back by itself.
    RollbackMode => keywords(tollgate_core::plan::RollbackMode::ALL, "automatic: the rollback steps start when a step fails; manual: an operator confirms the rollback first.")
);
value_schema!(
    /// When a failed deployment quarantines its environment.
    QuarantineMode => keywords(tollgate_core::plan::QuarantineMode::ALL, "always: after every failed deployment; on_rollback_failure: when a rollback was needed and did not succeed; never.")
);
value_schema!(
    /// Which half of a run: deploying, or undoing what was deployed.
    RunPhase => keywords(tollgate_core::run::Phase::ALL, "deploy: the plans' tiers; rollback: the plans' rollback steps, after a failure or an operator's decision.")
);
value_schema!(
    /// A log line's position: the step's position and the line's number within it.
    LogCursor => patterned(r"^[0-9]{1,6}:[0-9]{1,12}$", 20, "`STEP:LINE`, as the last line read answered it.")
);
value_schema!(
    /// A duration in a deployment plan.
    PlanDuration => patterned(r"^[0-9]{1,12}(ms|s|m|h)$", 14, "A whole number followed by `ms`, `s`, `m` or `h`, at most `24h`.")
);
value_schema!(
    /// A template or text of a deployment plan's step.
    StepText => text(tollgate_core::plan::MAX_TEXT_LEN, false, "Text (a minijinja template where the field renders), at most 4096 bytes, without NUL.")
);
value_schema!(
    /// The method of an `http` step.
    HttpMethod => keywords(tollgate_core::plan::HttpMethod::ALL, "GET when absent.")
);
value_schema!(
    /// A secret's or variable's name in a deployment plan.
    PlanIdentifier => patterned(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", 64, "Letters, digits and `_`, not starting with a digit.")
);
value_schema!(
    /// How many times a failed step is tried again.
    StepRetries => integer(0, u64::from(tollgate_core::plan::MAX_RETRIES), "0 when absent.")
);
value_schema!(
    /// The status an `http` step expects.
    ExpectedStatus => integer(100, 599, "200 when absent.")
);
value_schema!(
    /// A number of health probes in a row.
    ProbeCount => integer(1, 100, "Successes: 1 when absent; failures: 3 when absent.")
);
value_schema!(
    /// A canary's percentage of traffic for the new version.
    CanaryWeight => integer(1, 100, "A percentage of traffic for the new version.")
);
