//! Hostile and broken input: every parser must fail cleanly (an error, never a panic), fast,
//! and without expanding anything.

use std::time::{Duration, Instant};

use tollgate_evidence::limits::{MAX_ATTRIBUTES, MAX_ATTRIBUTE_BYTES, MAX_DEPTH, MAX_SCENARIOS, MAX_TEXT_BYTES};
use tollgate_evidence::{parse, EvidenceError, EvidenceKind, Location};

/// Generous: these inputs take milliseconds in a release build; the bound only catches
/// expansion or quadratic work, even in an unoptimized test build.
const FAST: Duration = Duration::from_secs(10);

fn refused(kind: EvidenceKind, input: &[u8]) -> EvidenceError {
    let started = Instant::now();
    let error = parse(kind, input).expect_err("hostile input is refused");
    let elapsed = started.elapsed();
    assert!(elapsed < FAST, "{kind} took {elapsed:?} to refuse: {error}");
    assert_eq!(error.kind, kind);
    error
}

fn is_line_column(error: &EvidenceError) -> bool {
    matches!(error.location, Location::LineColumn { .. })
}

const BILLION_LAUGHS: &str = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<testsuites><testsuite name="&lol9;"/></testsuites>"#;

#[test]
fn a_billion_laughs_is_refused_at_its_doctype_without_expanding_it() {
    for kind in [EvidenceKind::Junit, EvidenceKind::Cobertura] {
        let error = refused(kind, BILLION_LAUGHS.as_bytes());
        assert_eq!(error.location, Location::LineColumn { line: 2, column: 1 });
        assert!(error.message.contains("internal subset"), "{error}");
    }
}

#[test]
fn an_external_entity_is_refused_at_its_doctype() {
    let input =
        r#"<?xml version="1.0"?><!DOCTYPE t [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><testsuite name="&xxe;"/>"#;
    let error = refused(EvidenceKind::Junit, input.as_bytes());
    assert!(error.message.contains("internal subset"), "{error}");
}

#[test]
fn an_undeclared_entity_is_refused() {
    let error = refused(EvidenceKind::Junit, b"<testsuite><testcase name=\"&lol9;\"/></testsuite>");
    assert!(error.message.contains("lol9"), "{error}");
    let error = refused(EvidenceKind::Cobertura, b"<coverage>&lol9;</coverage>");
    assert!(error.message.starts_with("unknown entity reference &lol9;"), "{error}");
}

#[test]
fn a_ten_megabyte_attribute_is_refused_at_the_attribute() {
    let input = format!("<testsuites>\n<testsuite name=\"{}\"/></testsuites>", "A".repeat(10 * 1024 * 1024));
    let error = refused(EvidenceKind::Junit, input.as_bytes());
    assert_eq!(error.location, Location::LineColumn { line: 2, column: 18 });
    assert_eq!(
        error.message,
        format!("attribute name is 10485760 bytes long, more than the limit of {MAX_ATTRIBUTE_BYTES} bytes")
    );
}

#[test]
fn an_attribute_at_the_limit_is_accepted() {
    let input = format!("<testsuite name=\"{}\"/>", "A".repeat(MAX_ATTRIBUTE_BYTES));
    parse(EvidenceKind::Junit, input.as_bytes()).expect("exactly the limit is fine");
}

#[test]
fn too_many_attributes_are_refused() {
    let attributes: String = (0..=MAX_ATTRIBUTES).map(|n| format!(" a{n}=\"\"")).collect();
    let error = refused(EvidenceKind::Junit, format!("<testsuite{attributes}/>").as_bytes());
    assert!(error.message.contains("more than 256 attributes"), "{error}");
}

#[test]
fn a_text_longer_than_the_limit_is_refused() {
    let input = format!(
        "<testsuite><testcase><system-out>{}</system-out></testcase></testsuite>",
        "x".repeat(MAX_TEXT_BYTES + 1)
    );
    let error = refused(EvidenceKind::Junit, input.as_bytes());
    assert!(error.message.contains("longer than the limit"), "{error}");
    let input = format!("<coverage><![CDATA[{}]]></coverage>", "x".repeat(MAX_TEXT_BYTES + 1));
    let error = refused(EvidenceKind::Cobertura, input.as_bytes());
    assert!(error.message.starts_with("a CDATA section of"), "{error}");
}

#[test]
fn a_hundred_thousand_levels_of_xml_nesting_are_refused_at_the_limit() {
    let input = format!("<testsuites>{}", "<x>".repeat(100_000));
    let error = refused(EvidenceKind::Junit, input.as_bytes());
    // `<testsuites>` takes columns 1 to 12; the refused element is the 100th `<x>`.
    let column = 12 + 3 * (MAX_DEPTH as u64 - 1) + 1;
    assert_eq!(error.location, Location::LineColumn { line: 1, column });
    assert_eq!(error.message, format!("elements are nested more than {MAX_DEPTH} deep"));
}

#[test]
fn a_hundred_thousand_levels_of_json_nesting_are_refused_at_the_limit() {
    for kind in [EvidenceKind::Sarif, EvidenceKind::Cyclonedx] {
        let input = format!("{{\"a\":{}", "[".repeat(100_000));
        let error = refused(kind, input.as_bytes());
        assert!(is_line_column(&error), "{error}");
        assert!(error.message.contains(&format!("nested more than {MAX_DEPTH} deep")), "{error}");
    }
}

#[test]
fn deeply_nested_components_within_the_limit_are_counted() {
    let depth = 40;
    let input = format!(
        r#"{{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [{}{}]}}"#,
        r#"{"name": "c", "components": ["#.repeat(depth),
        "]}".repeat(depth)
    );
    let facts = tollgate_evidence::parse_cyclonedx(input.as_bytes()).expect("40 levels are fine");
    assert_eq!(facts.components, depth as u64);
}

#[test]
fn empty_input_is_refused_for_every_kind() {
    for kind in EvidenceKind::KINDS {
        for input in [&b""[..], b"   \n", b"\xEF\xBB\xBF"] {
            let error = refused(kind, input);
            assert_eq!(error.to_string(), format!("{kind}: empty input"));
        }
    }
}

#[test]
fn utf16_input_is_refused_as_not_utf8_for_every_kind() {
    let utf16: Vec<u8> = "\u{feff}<testsuites/>".encode_utf16().flat_map(u16::to_le_bytes).collect();
    for kind in EvidenceKind::KINDS {
        let error = refused(kind, &utf16);
        assert_eq!(
            error.to_string(),
            format!("{kind}: line 1, column 1: input is not UTF-8: byte 0xff cannot start or continue a character")
        );
    }
}

#[test]
fn latin1_bytes_inside_a_document_are_refused_where_they_are() {
    let error = refused(EvidenceKind::Lcov, b"SF:caf\xe9.c\nend_of_record\n");
    assert_eq!(error.location, Location::LineColumn { line: 1, column: 7 });
}

#[test]
fn the_wrong_root_element_is_refused() {
    let error = refused(EvidenceKind::Junit, b"<?xml version=\"1.0\"?>\n<coverage line-rate=\"1\"/>");
    assert_eq!(
        error.to_string(),
        "junit: line 2, column 1: expected the root element <testsuites> or <testsuite>, found <coverage>"
    );
    let error = refused(EvidenceKind::Cobertura, b"<html><body/></html>");
    assert!(error.message.contains("found <html>"), "{error}");
}

#[test]
fn json_that_is_not_an_object_is_refused() {
    for kind in [EvidenceKind::Sarif, EvidenceKind::Cyclonedx] {
        for (input, found) in
            [("[]", "an array"), ("42", "a number"), ("null", "null"), ("<xml/>", "something that is not JSON")]
        {
            let error = refused(kind, input.as_bytes());
            assert_eq!(error.location, Location::JsonPath("$".to_owned()));
            assert_eq!(error.message, format!("expected a JSON object at the top level, found {found}"));
        }
    }
}

#[test]
fn xml_given_to_the_lcov_parser_is_refused_at_its_first_line() {
    let error = refused(EvidenceKind::Lcov, b"<?xml version=\"1.0\"?>\n<coverage/>");
    assert_eq!(error.to_string(), r#"lcov: line 1, column 1: expected TAG:VALUE, found "<?xml version=\"1.0\"?>""#);
}

#[test]
fn an_overlong_lcov_line_is_refused() {
    let input = format!("SF:{}\nend_of_record\n", "a".repeat(10 * 1024 * 1024));
    let error = refused(EvidenceKind::Lcov, input.as_bytes());
    assert!(error.message.contains("longer than the limit"), "{error}");
}

/// Every strict prefix of a valid document must be refused (never accepted, never a panic).
fn every_truncation_is_refused(kind: EvidenceKind, document: &[u8], step: usize) {
    parse(kind, document).expect("the whole document is valid");
    let end_of_content = document.trim_ascii_end().len();
    for cut in (1..end_of_content).step_by(step) {
        let prefix = &document[..cut];
        if prefix.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse(kind, prefix) {
            Ok(facts) => panic!("{kind}: a document cut at byte {cut} was accepted as {facts:?}"),
            Err(error) => assert!(
                is_line_column(&error) || matches!(error.location, Location::Whole | Location::JsonPath(_)),
                "{error}"
            ),
        }
    }
}

#[test]
fn truncated_junit_is_refused_with_a_line_and_column() {
    let document = include_bytes!("../fixtures/pytest-demo.junit.xml");
    every_truncation_is_refused(EvidenceKind::Junit, document, 1);
    let half = &document[..document.len() / 2];
    let error = refused(EvidenceKind::Junit, half);
    assert!(is_line_column(&error), "{error}");
}

#[test]
fn truncated_cobertura_is_refused() {
    every_truncation_is_refused(
        EvidenceKind::Cobertura,
        include_bytes!("../fixtures/coveragepy-demo.cobertura.xml"),
        3,
    );
}

#[test]
fn truncated_lcov_is_refused() {
    // A cut right after a complete `end_of_record` line is a valid, shorter tracefile, so only
    // cuts inside the last record are refused for sure.
    let document = include_bytes!("../fixtures/coveragepy-demo.lcov");
    let last_record = document.trim_ascii_end().strip_suffix(b"end_of_record").expect("ends with a record");
    let start_of_last_record =
        last_record.windows(3).rposition(|window| window == b"SF:").expect("the last record has an SF line");
    for cut in start_of_last_record + 1..last_record.len() {
        let error = refused(EvidenceKind::Lcov, &document[..cut]);
        assert!(is_line_column(&error) || error.location == Location::Whole, "{error}");
    }
}

#[test]
fn truncated_json_is_refused() {
    every_truncation_is_refused(EvidenceKind::Sarif, include_bytes!("../fixtures/demo.clippy.sarif"), 13);
    every_truncation_is_refused(EvidenceKind::Cyclonedx, &include_bytes!("../fixtures/tollgate.cdx.json")[..], 4099);
    every_truncation_is_refused(EvidenceKind::K6, include_bytes!("../fixtures/k6-scenarios.summary-export.json"), 7);
}

#[test]
fn a_jmeter_row_cut_short_is_refused_at_its_line() {
    // A cut at the end of a row leaves a valid, shorter results file, and so does one inside a
    // trailing column that is not read (Latency); a cut up to the `success` column does not.
    let document = include_bytes!("../fixtures/jmeter-demo.jtl");
    let last_row_start = document[..document.len() - 1].iter().rposition(|&byte| byte == b'\n').expect("rows") + 1;
    let success_end = last_row_start
        + document[last_row_start..].windows(6).position(|window| window == b",true,").expect("the last row passed")
        + 5;
    let n_lines = document.iter().filter(|&&byte| byte == b'\n').count() as u64;
    for cut in last_row_start + 1..=success_end {
        let error = refused(EvidenceKind::Jmeter, &document[..cut]);
        assert_eq!(error.location, Location::LineColumn { line: n_lines, column: 1 }, "cut at {cut}: {error}");
    }
}

#[test]
fn more_jmeter_labels_than_the_limit_are_refused() {
    let rows: String = (0..=MAX_SCENARIOS).map(|n| format!("{n},1,label {n},true\n")).collect();
    let error = refused(EvidenceKind::Jmeter, format!("timeStamp,elapsed,label,success\n{rows}").as_bytes());
    assert_eq!(
        error.to_string(),
        format!("jmeter: line {}, column 1: more than the limit of {MAX_SCENARIOS} labels", MAX_SCENARIOS + 2)
    );
}

#[test]
fn more_k6_scenarios_than_the_limit_are_refused() {
    let metrics: Vec<String> =
        (0..=MAX_SCENARIOS).map(|n| format!(r#""http_reqs{{scenario:s{n:04}}}": {{"count": 1, "rate": 1}}"#)).collect();
    let error = refused(EvidenceKind::K6, format!(r#"{{"metrics": {{{}}}}}"#, metrics.join(",")).as_bytes());
    assert_eq!(error.location, Location::JsonPath(r#"$.metrics["http_reqs{scenario:s1000}"]"#.to_owned()));
}

#[test]
fn random_bytes_never_panic() {
    let mut state: u64 = 0x0dd_ba11;
    for length in (0..4096).step_by(61) {
        let bytes: Vec<u8> = (0..length)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let byte = (state >> 56) as u8;
                // Mostly markup-ish ASCII, so the parsers get past their first checks.
                b"<>/=\"' \n:,{}[]&;#abcSFDAend_of_record0123456789"[usize::from(byte) % 47]
            })
            .collect();
        for kind in EvidenceKind::KINDS {
            let _ = parse(kind, &bytes);
        }
    }
}
