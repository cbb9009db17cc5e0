//! Turning a YAML tree into typed values, collecting every problem and where each value sits.
//!
//! A type is read from YAML through `Decode`. Strings, lists and optional values are implemented
//! here; a mapping with fixed keys is declared with `decode_mapping!` (see `schema`), so adding a
//! key or a section is adding a name there. Decoding never stops at the first problem: a value that
//! cannot be decoded records its problem and yields `None`, and its siblings are still decoded.
//! The walk follows the schema, not the document, so its depth is that of the schema.

use std::collections::BTreeMap;

use marked_yaml::types::MarkedMappingNode;
use marked_yaml::Node;

use crate::error::{ConfigProblem, ProblemKind, ValueKind};
use crate::source_map::Location;
use crate::yaml::{join_key, node_location, span_location, value_kind};

/// A type that can be read from a YAML node.
pub(crate) trait Decode: Sized {
    /// The kind of YAML value this type is read from, for messages.
    const EXPECTED: ValueKind;

    /// Reads `node`, written at `path`. Returns `None` after recording at least one problem.
    fn decode(node: &Node, path: &str, decoder: &mut Decoder) -> Option<Self>;

    /// The value of a mapping key that is absent or null, or `None` when the key is required.
    fn absent() -> Option<Self> {
        None
    }
}

/// Collects problems and locations while values are decoded.
#[derive(Debug, Default)]
pub(crate) struct Decoder {
    problems: Vec<ConfigProblem>,
    locations: BTreeMap<String, Location>,
}

/// A mapping being decoded as a record with fixed keys.
pub(crate) struct Fields<'node> {
    mapping: &'node MarkedMappingNode,
    path: &'node str,
    location: Location,
}

impl Decoder {
    pub(crate) fn new() -> Decoder {
        Decoder::default()
    }

    /// Decodes the top-level node as a `T`.
    pub(crate) fn decode_root<T: Decode>(&mut self, root: &Node) -> Option<T> {
        T::decode(root, "", self)
    }

    /// Every problem recorded and the location of every value decoded, by key path.
    pub(crate) fn finish(self) -> (Vec<ConfigProblem>, BTreeMap<String, Location>) {
        (self.problems, self.locations)
    }

    /// Checks that `node` is a mapping whose keys are all in `keys`, reporting each other key.
    /// `None` when `node` is not a mapping.
    pub(crate) fn mapping<'node>(
        &mut self,
        node: &'node Node,
        path: &'node str,
        keys: &'static [&'static str],
    ) -> Option<Fields<'node>> {
        let Node::Mapping(mapping) = node else {
            self.wrong_type(node, path, ValueKind::Mapping);
            return None;
        };
        for key in mapping.keys() {
            if !keys.contains(&key.as_str()) {
                self.push(
                    span_location(key.span()),
                    path,
                    ProblemKind::UnknownKey { key: key.as_str().to_owned(), expected: keys },
                );
            }
        }
        Some(Fields { mapping, path, location: node_location(node) })
    }

    /// Decodes the value of `key` in `fields`. An absent or null value takes `T::absent()`, and
    /// is reported as missing or mistyped when `T` is required.
    pub(crate) fn field<T: Decode>(&mut self, fields: &Fields<'_>, key: &'static str) -> Option<T> {
        let path = join_key(fields.path, key);
        let Some((key_node, value)) = fields.mapping.get_key_value(key) else {
            let absent = T::absent();
            if absent.is_none() {
                self.push(fields.location, fields.path, ProblemKind::MissingKey { key });
            }
            return absent;
        };
        let is_null = value_kind(value) == ValueKind::Null;
        // A key written with no value has its empty value marked on the next line; point at
        // the key instead.
        let location = if is_null && value.as_scalar().is_some_and(|scalar| scalar.is_empty()) {
            span_location(key_node.span())
        } else {
            node_location(value)
        };
        self.locations.insert(path.clone(), location);
        match T::absent() {
            Some(absent) if is_null => Some(absent),
            None if is_null => {
                let found = ValueKind::Null;
                let expected = T::EXPECTED;
                self.push(location, &path, ProblemKind::WrongType { expected, found });
                None
            }
            _ => T::decode(value, &path, self),
        }
    }

    /// Records that `node`, at `path`, is not of the `expected` kind.
    pub(crate) fn wrong_type(&mut self, node: &Node, path: &str, expected: ValueKind) {
        let found = value_kind(node);
        self.push(node_location(node), path, ProblemKind::WrongType { expected, found });
    }

    fn push(&mut self, location: Location, path: &str, kind: ProblemKind) {
        self.problems.push(ConfigProblem { location, path: path.to_owned(), kind });
    }
}

impl Decode for String {
    const EXPECTED: ValueKind = ValueKind::String;

    fn decode(node: &Node, path: &str, decoder: &mut Decoder) -> Option<String> {
        match node {
            Node::Scalar(scalar) if value_kind(node) == ValueKind::String => Some(scalar.as_str().to_owned()),
            _ => {
                decoder.wrong_type(node, path, Self::EXPECTED);
                None
            }
        }
    }
}

/// A number or a boolean, kept as written for core to read (`cab_quorum: 2`,
/// `requires_change: true`); text is refused here, so a quoted number is named as such.
impl Decode for tollgate_core::change::policy::Scalar {
    const EXPECTED: ValueKind = ValueKind::Number;

    fn decode(node: &Node, path: &str, decoder: &mut Decoder) -> Option<Self> {
        match node {
            Node::Scalar(scalar) if matches!(value_kind(node), ValueKind::Number | ValueKind::Boolean) => {
                Some(tollgate_core::change::policy::Scalar(scalar.as_str().to_owned()))
            }
            _ => {
                decoder.wrong_type(node, path, Self::EXPECTED);
                None
            }
        }
    }
}

/// An optional value: absent or null is `None`.
impl<T: Decode> Decode for Option<T> {
    const EXPECTED: ValueKind = T::EXPECTED;

    fn decode(node: &Node, path: &str, decoder: &mut Decoder) -> Option<Option<T>> {
        T::decode(node, path, decoder).map(Some)
    }

    fn absent() -> Option<Option<T>> {
        Some(None)
    }
}

/// A list: absent or null is empty. Every item is decoded, and located at `path[index]`.
impl<T: Decode> Decode for Vec<T> {
    const EXPECTED: ValueKind = ValueKind::List;

    fn decode(node: &Node, path: &str, decoder: &mut Decoder) -> Option<Vec<T>> {
        let Node::Sequence(sequence) = node else {
            decoder.wrong_type(node, path, Self::EXPECTED);
            return None;
        };
        let mut items = Some(Vec::with_capacity(sequence.len()));
        for (index, item_node) in sequence.iter().enumerate() {
            let item_path = format!("{path}[{index}]");
            decoder.locations.insert(item_path.clone(), node_location(item_node));
            let item = T::decode(item_node, &item_path, decoder);
            items = items.zip(item).map(|(mut items, item)| {
                items.push(item);
                items
            });
        }
        items
    }

    fn absent() -> Option<Vec<T>> {
        Some(Vec::new())
    }
}

/// The `gates` section: a mapping from environment names to lists of gates. The names are
/// checked by core; here only the shape.
impl Decode for tollgate_core::gate::GatesInput {
    const EXPECTED: ValueKind = ValueKind::Mapping;

    fn decode(node: &Node, path: &str, decoder: &mut Decoder) -> Option<Self> {
        let Node::Mapping(mapping) = node else {
            decoder.wrong_type(node, path, Self::EXPECTED);
            return None;
        };
        let mut environments = Some(Vec::with_capacity(mapping.len()));
        for (key, value) in mapping.iter() {
            let environment = key.as_str().to_owned();
            let gates_path = join_key(path, &environment);
            decoder.locations.insert(gates_path.clone(), node_location(value));
            let gates = Vec::<tollgate_core::gate::GateInput>::decode(value, &gates_path, decoder);
            environments = environments.zip(gates).map(|(mut environments, gates)| {
                environments.push(tollgate_core::gate::EnvironmentGatesInput { environment, gates });
                environments
            });
        }
        environments.map(|environments| tollgate_core::gate::GatesInput { environments, modules: Vec::new() })
    }
}

/// The `roles` mapping of the `sso` section: group names to lists of role names. Required;
/// the names are checked by core, here only the shape.
impl Decode for tollgate_core::sso::SsoRolesInput {
    const EXPECTED: ValueKind = ValueKind::Mapping;

    fn decode(node: &Node, path: &str, decoder: &mut Decoder) -> Option<Self> {
        let Node::Mapping(mapping) = node else {
            decoder.wrong_type(node, path, Self::EXPECTED);
            return None;
        };
        let mut groups = Some(Vec::with_capacity(mapping.len()));
        for (key, value) in mapping.iter() {
            let group = key.as_str().to_owned();
            let roles_path = join_key(path, &group);
            decoder.locations.insert(roles_path.clone(), node_location(value));
            let roles = Vec::<String>::decode(value, &roles_path, decoder);
            groups = groups.zip(roles).map(|(mut groups, roles)| {
                groups.push(tollgate_core::sso::GroupRolesInput { group, roles });
                groups
            });
        }
        groups.map(|groups| tollgate_core::sso::SsoRolesInput { groups })
    }
}

/// Any value, as JSON: the parameters of a built-in gate. Plain scalars keep the type YAML
/// gives them (numbers, booleans, null); quoted ones are strings.
impl Decode for serde_json::Value {
    const EXPECTED: ValueKind = ValueKind::Mapping;

    fn decode(node: &Node, path: &str, decoder: &mut Decoder) -> Option<Self> {
        match node {
            Node::Mapping(mapping) => {
                let mut object = Some(serde_json::Map::new());
                for (key, value) in mapping.iter() {
                    let item = serde_json::Value::decode(value, &join_key(path, key.as_str()), decoder);
                    object = object.zip(item).map(|(mut object, item)| {
                        object.insert(key.as_str().to_owned(), item);
                        object
                    });
                }
                object.map(serde_json::Value::Object)
            }
            Node::Sequence(sequence) => {
                let mut items = Some(Vec::with_capacity(sequence.len()));
                for (index, value) in sequence.iter().enumerate() {
                    let item = serde_json::Value::decode(value, &format!("{path}[{index}]"), decoder);
                    items = items.zip(item).map(|(mut items, item)| {
                        items.push(item);
                        items
                    });
                }
                items.map(serde_json::Value::Array)
            }
            Node::Scalar(scalar) => Some(match value_kind(node) {
                ValueKind::Null => serde_json::Value::Null,
                ValueKind::Boolean => serde_json::Value::Bool(matches!(scalar.as_str(), "true" | "True" | "TRUE")),
                ValueKind::Number => match scalar.as_str().parse::<i64>() {
                    Ok(integer) => serde_json::Value::from(integer),
                    Err(_) => match scalar.as_str().parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
                        Some(number) => serde_json::Value::Number(number),
                        None => {
                            decoder.wrong_type(node, path, ValueKind::Number);
                            return None;
                        }
                    },
                },
                _ => serde_json::Value::String(scalar.as_str().to_owned()),
            }),
        }
    }
}

/// Implements `Decode` for a struct read from a mapping whose keys are the struct's field names,
/// in the order given (which is the order listed in "unknown key" messages). Each field is read
/// by its own type's `Decode`: `String` is required, `Option` and `Vec` may be left out. Naming
/// every field makes a field added to the struct a compile error here until it is listed.
macro_rules! decode_mapping {
    ($type:path { $($field:ident),+ $(,)? }) => {
        impl $crate::decode::Decode for $type {
            const EXPECTED: $crate::error::ValueKind = $crate::error::ValueKind::Mapping;

            fn decode(
                node: &::marked_yaml::Node,
                path: &str,
                decoder: &mut $crate::decode::Decoder,
            ) -> Option<Self> {
                let fields = decoder.mapping(node, path, &[$(stringify!($field)),+])?;
                $(let $field = decoder.field(&fields, stringify!($field));)+
                Some(Self { $($field: $field?),+ })
            }
        }
    };
}

pub(crate) use decode_mapping;
