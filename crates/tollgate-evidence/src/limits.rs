//! The bounds this crate puts on the work one input can cause.
//!
//! Every parser is streaming or zero-copy where the input is large, so memory stays near the
//! input's size; these limits additionally refuse inputs that no real tool writes and that exist
//! only to make a parser work hard. They are not a limit on the input's total size, which is the
//! caller's job.
//!
//! Largest inputs tested: a generated 52 MB JUnit report (the `junit` benchmark, about 330 MB/s
//! in a release build, memory near the input's size), and, each refused within milliseconds
//! and without copying, a 10 MiB XML attribute, a 16 MiB XML text node, a 10 MiB LCOV line and
//! 100,000 levels of XML or JSON nesting (the adversarial tests).

/// The deepest nesting of XML elements, or of JSON arrays and objects, that is accepted.
pub const MAX_DEPTH: usize = 100;

/// The longest XML attribute value accepted, in bytes before unescaping.
pub const MAX_ATTRIBUTE_BYTES: usize = 64 * 1024;

/// The most attributes one XML element may have.
pub const MAX_ATTRIBUTES: usize = 256;

/// The longest XML element name accepted, in bytes.
pub const MAX_NAME_BYTES: usize = 1024;

/// The longest XML text, CDATA section or comment accepted, in bytes. Test reports carry
/// captured output and stack traces in text, hence the generous limit.
pub const MAX_TEXT_BYTES: usize = 16 * 1024 * 1024;

/// The longest JSON string accepted, in bytes as written. CycloneDX may embed whole license
/// texts, hence the limit above the XML attribute limit.
pub const MAX_JSON_STRING_BYTES: usize = 1024 * 1024;

/// The longest LCOV line accepted, in bytes.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// The most scenarios (k6 scenarios, JMeter labels) one load-test result may have. Real tests
/// have a handful; a label per URL with ids in it is a test plan mistake that would make the
/// facts as large as the input.
pub const MAX_SCENARIOS: usize = 1_000;

/// The most rows one JMeter results file may have. Memory does not grow with rows (latencies are
/// kept as counts per distinct millisecond value), so this bounds only time: about a gigabyte
/// of CSV.
pub const MAX_JTL_ROWS: u64 = 10_000_000;
