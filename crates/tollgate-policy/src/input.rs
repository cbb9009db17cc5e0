//! The input document as the gates receive it: the service's JSON checked against the limits
//! while it is converted into an engine value, in one walk, and the normalized license view
//! added beside it.
//!
//! License strings repeat from one evaluation to the next (a service's dependencies change
//! little between releases), so each distinct string is normalized once per bundle and kept in
//! a small cache. This module judges nothing: verdicts and thresholds belong to the gates.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use regorus::Value;

use crate::bundle::Limits;
use crate::error::InputError;
use crate::license::{self, Normalized};

/// The most license strings a bundle keeps normalized; past it the cache starts again empty.
const MAX_CACHED_LICENSES: usize = 4096;

/// A converted input, with its license strings and what they normalize to.
pub(crate) struct PreparedInput {
    /// The input with `licenses` added when it has evidence.
    pub(crate) value: Value,
    /// Every distinct SBOM license string, sorted, with its normalization.
    pub(crate) licenses: Vec<(String, Arc<CachedLicense>)>,
}

/// One license string, normalized, and the same as an engine value.
pub(crate) struct CachedLicense {
    pub(crate) normalized: Normalized,
    value: Value,
}

/// Normalized license strings, shared by the clones of one bundle.
#[derive(Clone, Default)]
pub(crate) struct LicenseCache {
    // Invariant: at most MAX_CACHED_LICENSES entries, each the normalization of its key.
    entries: Arc<Mutex<HashMap<String, Arc<CachedLicense>>>>,
}

impl LicenseCache {
    /// `raws` normalized, in the same order.
    fn get_all<'a>(&self, raws: impl Iterator<Item = &'a str>) -> Vec<(String, Arc<CachedLicense>)> {
        // A panic while the lock is held cannot leave a half-written entry, so a poisoned
        // cache is still a valid one.
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        raws.map(|raw| {
            let cached = match entries.get(raw) {
                Some(cached) => Arc::clone(cached),
                None => {
                    if entries.len() >= MAX_CACHED_LICENSES {
                        entries.clear();
                    }
                    let cached = Arc::new(CachedLicense::new(raw));
                    entries.insert(raw.to_owned(), Arc::clone(&cached));
                    cached
                }
            };
            (raw.to_owned(), cached)
        })
        .collect()
    }
}

impl CachedLicense {
    fn new(raw: &str) -> CachedLicense {
        let normalized = license::normalize(raw);
        let json = serde_json::to_value(&normalized).expect("a normalized license converts to JSON");
        let value = convert_unchecked(&json);
        CachedLicense { normalized, value }
    }
}

/// Checks `input` against `limits` while converting it into an engine value, and adds the
/// normalized view of its SBOM license strings as `licenses` when it has an `evidence` list.
///
/// Refuses an input that is not an object, nests deeper than the limit (checked first), or
/// whose compact JSON encoding is larger than the limit (with its exact size).
pub(crate) fn prepare(
    input: &serde_json::Value,
    limits: &Limits,
    cache: &LicenseCache,
) -> Result<PreparedInput, InputError> {
    if !input.is_object() {
        return Err(InputError::NotAnObject);
    }
    let mut converter = Converter::new(limits.max_input_depth, limits.max_input_bytes);
    let converted = converter.convert(input, 0)?;
    let mut value = match converted {
        Some(value) if converter.size <= limits.max_input_bytes => value,
        _ => return Err(InputError::TooLarge { size: converter.size, limit: limits.max_input_bytes }),
    };
    let Some(evidence) = input.get("evidence").and_then(serde_json::Value::as_array) else {
        return Ok(PreparedInput { value, licenses: Vec::new() });
    };
    let mut raws: Vec<&str> = evidence
        .iter()
        .filter(|item| item["facts"]["kind"] == "sbom")
        .filter_map(|item| item["facts"]["licenses"].as_object())
        .flat_map(|licenses| licenses.keys().map(String::as_str))
        .collect();
    raws.sort_unstable();
    raws.dedup();
    let licenses = cache.get_all(raws.into_iter());
    let view: BTreeMap<Value, Value> =
        licenses.iter().map(|(raw, cached)| (Value::from(raw.as_str()), cached.value.clone())).collect();
    if let Ok(map) = value.as_object_mut() {
        map.insert(Value::from("licenses"), Value::from(view));
    }
    Ok(PreparedInput { value, licenses })
}

/// Converts JSON into an engine value as regorus's own deserialization does, without limits.
/// For documents this crate builds itself.
pub(crate) fn convert_unchecked(json: &serde_json::Value) -> Value {
    let mut converter = Converter::new(usize::MAX, usize::MAX);
    converter.convert(json, 0).ok().flatten().expect("no limit applies")
}

/// One walk over the JSON tree that converts it, measures the depth and counts the bytes of
/// its compact encoding. Once the count passes the size limit, converted values are dropped
/// as soon as they are made, so a refused input is never held whole, and the walk goes on
/// counting so the reported size is exact.
struct Converter {
    max_depth: usize,
    max_bytes: usize,
    size: usize,
}

impl Converter {
    fn new(max_depth: usize, max_bytes: usize) -> Converter {
        Converter { max_depth, max_bytes, size: 0 }
    }

    /// The converted value, or `None` when the size limit was passed; fails when `json` (at
    /// nesting `level`) is too deep. Recursion is bounded by the depth limit.
    fn convert(&mut self, json: &serde_json::Value, level: usize) -> Result<Option<Value>, InputError> {
        if level > self.max_depth {
            return Err(InputError::TooDeep { limit: self.max_depth });
        }
        let value = match json {
            serde_json::Value::Null => {
                self.size += 4;
                Value::Null
            }
            serde_json::Value::Bool(flag) => {
                self.size += if *flag { 4 } else { 5 };
                Value::Bool(*flag)
            }
            serde_json::Value::Number(number) => {
                self.size += number_length(number);
                if let Some(unsigned) = number.as_u64() {
                    Value::from(unsigned)
                } else if let Some(signed) = number.as_i64() {
                    Value::from(signed)
                } else {
                    Value::from(number.as_f64().expect("a JSON number is an integer or a finite float"))
                }
            }
            serde_json::Value::String(text) => {
                self.size += string_length(text);
                Value::from(text.as_str())
            }
            serde_json::Value::Array(items) => {
                // Brackets and the commas between items.
                self.size += 2 + items.len().saturating_sub(1);
                let mut converted = Vec::with_capacity(items.len());
                for item in items {
                    if let Some(item) = self.convert(item, level + 1)? {
                        converted.push(item);
                    }
                }
                Value::from(converted)
            }
            serde_json::Value::Object(map) => {
                // Braces, the commas between entries and a colon per entry.
                self.size += 2 + map.len().saturating_sub(1) + map.len();
                let mut converted = Vec::with_capacity(map.len());
                for (key, item) in map {
                    self.size += string_length(key);
                    if let Some(item) = self.convert(item, level + 1)? {
                        converted.push((Value::from(key.as_str()), item));
                    }
                }
                // The entries come sorted (a `serde_json` map is a `BTreeMap` of strings, ordered
                // as the engine orders strings), so the map is built in bulk.
                Value::from(converted.into_iter().collect::<BTreeMap<Value, Value>>())
            }
        };
        Ok((self.size <= self.max_bytes).then_some(value))
    }
}

/// The length of `text` as a JSON string: quotes, and escapes where `serde_json` writes them.
fn string_length(text: &str) -> usize {
    // Most strings need no escape; this count has no branch, so it runs on whole words.
    let n_special: usize = text.bytes().map(|byte| usize::from(byte < 0x20 || byte == b'"' || byte == b'\\')).sum();
    if n_special == 0 {
        return text.len() + 2;
    }
    let escapes: usize = text
        .bytes()
        .map(|byte| match byte {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 1,
            0..=0x1f => 5,
            _ => 0,
        })
        .sum();
    text.len() + escapes + 2
}

/// The length of `number` as `serde_json` writes it (its `Display` is its encoding).
fn number_length(number: &serde_json::Number) -> usize {
    if let Some(unsigned) = number.as_u64() {
        return decimal_digits(unsigned);
    }
    if let Some(signed) = number.as_i64() {
        return 1 + decimal_digits(signed.unsigned_abs());
    }
    struct Counter(usize);
    impl std::fmt::Write for Counter {
        fn write_str(&mut self, text: &str) -> std::fmt::Result {
            self.0 += text.len();
            Ok(())
        }
    }
    let mut counter = Counter(0);
    write!(counter, "{number}").expect("counting cannot fail");
    counter.0
}

fn decimal_digits(mut number: u64) -> usize {
    let mut n_digits = 1;
    while number >= 10 {
        number /= 10;
        n_digits += 1;
    }
    n_digits
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn limits(max_input_bytes: usize, max_input_depth: usize) -> Limits {
        Limits { max_input_bytes, max_input_depth, ..Limits::default() }
    }

    #[test]
    fn the_counted_size_is_the_length_of_the_compact_encoding() {
        let input = json!({
            "text": "quote \" backslash \\ newline \n tab \t bell \u{7} é ✓",
            "numbers": [0, 9, 10, 99, 100, -1, -12, i64::MIN, u64::MAX, 0.1, 1e300, -2.5e-8, 3.0],
            "nested": {"empty": {}, "list": [], "null": null, "yes": true, "no": false},
        });
        let expected = serde_json::to_vec(&input).expect("serializes").len();
        let mut converter = Converter::new(64, usize::MAX);
        converter.convert(&input, 0).expect("not too deep");
        assert_eq!(converter.size, expected);
    }

    #[test]
    fn the_converted_value_is_what_regorus_would_parse() {
        let input = json!({"a": [1, -2, 2.5, "x", null, true, {"b": {}}], "c": {"d": [[]]}});
        let parsed = Value::from_json_str(&input.to_string()).expect("parses");
        let prepared = prepare(&input, &Limits::default(), &LicenseCache::default()).expect("accepted");
        assert_eq!(prepared.value, parsed);
    }

    #[test]
    fn an_input_too_large_is_refused_with_its_exact_size() {
        let input = json!({"items": vec!["abcdefgh"; 100]});
        let size = serde_json::to_vec(&input).expect("serializes").len();
        let refused = prepare(&input, &limits(size - 1, 64), &LicenseCache::default()).err();
        assert_eq!(refused, Some(InputError::TooLarge { size, limit: size - 1 }));
        assert!(prepare(&input, &limits(size, 64), &LicenseCache::default()).is_ok());
    }

    #[test]
    fn depth_is_checked_before_size() {
        let input = json!({"a": {"b": {"c": "a long string that passes the size limit"}}});
        assert_eq!(
            prepare(&input, &limits(10, 2), &LicenseCache::default()).err(),
            Some(InputError::TooDeep { limit: 2 })
        );
        assert!(prepare(&input, &limits(1000, 3), &LicenseCache::default()).is_ok());
    }

    #[test]
    fn license_strings_are_normalized_once_and_listed_sorted() {
        let sbom = |licenses: serde_json::Value| json!({"facts": {"kind": "sbom", "licenses": licenses}});
        let input = json!({"evidence": [sbom(json!({"MIT": 1, "Apache 2.0": 2})), sbom(json!({"MIT": 3}))]});
        let cache = LicenseCache::default();
        let first = prepare(&input, &Limits::default(), &cache).expect("accepted");
        let second = prepare(&input, &Limits::default(), &cache).expect("accepted");
        let raws: Vec<&str> = first.licenses.iter().map(|(raw, _)| raw.as_str()).collect();
        assert_eq!(raws, ["Apache 2.0", "MIT"]);
        assert!(Arc::ptr_eq(&first.licenses[0].1, &second.licenses[0].1));
        let view = serde_json::to_value(&first.value[&Value::from("licenses")]).expect("converts");
        assert_eq!(view["Apache 2.0"]["expression"], "Apache-2.0");
    }
}
