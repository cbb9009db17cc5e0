//! Printing answers: tables for people by default, the API's JSON with `--output json`.
//!
//! Each response type says how it reads as a table ([`Tabular`]); a type that is listed says
//! what its row holds ([`Row`]). The cells are built from typed fields, and summarize what is
//! long (evidence facts, audit changes) instead of dumping it.

use comfy_table::{presets, Table};
use serde_json::Value;
use tollgate_http::api::Paginated;

use crate::args::OutputFormat;
use crate::client::Answer;

/// A response type as people read it.
pub trait Tabular {
    /// The text printed for `--output table`.
    fn table(&self) -> String;
}

/// A response type that is listed one item per row.
pub trait Row {
    /// The column headers, in order.
    const HEADERS: &'static [&'static str];

    /// One cell per header.
    fn cells(&self) -> Vec<String>;
}

impl<T: Row> Tabular for Vec<T> {
    fn table(&self) -> String {
        rows(self)
    }
}

impl<T: Row> Tabular for Paginated<T> {
    fn table(&self) -> String {
        rows(&self.items)
    }
}

/// Prints an answer as a table, or as the JSON the server sent.
pub fn print<T: Tabular>(format: OutputFormat, answer: &Answer<T>) {
    match format {
        OutputFormat::Json => print_json(&answer.json),
        OutputFormat::Table => println!("{}", answer.value.table()),
    }
}

pub fn print_json(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).expect("JSON values print"));
}

/// Items as a table with a header line.
pub fn rows<T: Row>(items: &[T]) -> String {
    let mut table = new_table();
    table.set_header(T::HEADERS.iter().map(|header| header.to_uppercase()));
    for item in items {
        table.add_row(item.cells());
    }
    render(&table)
}

/// One item of a listed type as a two-column table of its headers and cells.
pub fn item<T: Row>(item: &T) -> String {
    fields(T::HEADERS.iter().copied().zip(item.cells()))
}

/// Named values as a two-column table.
pub fn fields<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> String {
    let mut table = new_table();
    for (name, value) in pairs {
        table.add_row(vec![name.to_owned(), value]);
    }
    render(&table)
}

/// A missing value as a dash.
pub fn or_dash(value: Option<&str>) -> String {
    match value {
        Some(text) if !text.is_empty() => text.to_owned(),
        _ => "-".to_owned(),
    }
}

/// A list comma-separated, or a dash when empty.
pub fn list(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(", ")
    }
}

/// A time to the second, in UTC: `2026-03-01T12:00:00Z`.
pub fn time(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// An optional time, or a dash.
pub fn maybe_time(at: Option<jiff::Timestamp>) -> String {
    at.map_or_else(|| "-".to_owned(), time)
}

pub fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

/// A size for people: `812 B`, `4.2 KiB`, `1.5 GiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A JSON value as a short cell: strings bare, lists comma-separated, null as a dash.
pub fn json_cell(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(text) => text.clone(),
        Value::Array(items) if items.is_empty() => "-".to_owned(),
        Value::Array(items) => items.iter().map(json_cell).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn new_table() -> Table {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    table
}

/// The table's text without the padding at the end of its lines.
fn render(table: &Table) -> String {
    table.lines().map(|line| line.trim_end().to_owned()).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_binary_units() {
        let sizes: Vec<String> = [0, 1023, 1024, 4300, 1536 * 1024 * 1024].into_iter().map(size).collect();
        assert_eq!(sizes, ["0 B", "1023 B", "1.0 KiB", "4.2 KiB", "1.5 GiB"]);
    }

    #[test]
    fn times_are_shown_to_the_second() {
        let at: jiff::Timestamp = "2026-03-01T12:00:00.123456Z".parse().expect("a timestamp");
        assert_eq!(time(at), "2026-03-01T12:00:00Z");
    }
}
