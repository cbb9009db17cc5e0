//! Printing results: human tables by default, the API's JSON with `--output json`.

use comfy_table::{presets, Table};
use serde_json::Value;

use crate::args::OutputFormat;

/// A column: its header and where its value sits in each item (a JSON pointer).
pub type Column = (&'static str, &'static str);

/// Prints a list of items as a table, or as JSON.
pub fn print_list(format: OutputFormat, items: &Value, columns: &[Column]) {
    match format {
        OutputFormat::Json => print_json(items),
        OutputFormat::Table => println!("{}", table(items.as_array().map(Vec::as_slice).unwrap_or_default(), columns)),
    }
}

/// Prints one item as a two-column table of fields, or as JSON.
pub fn print_item(format: OutputFormat, item: &Value, columns: &[Column]) {
    match format {
        OutputFormat::Json => print_json(item),
        OutputFormat::Table => {
            let mut table = new_table();
            for (header, pointer) in columns {
                table.add_row(vec![header.to_string(), cell(item.pointer(pointer).unwrap_or(&Value::Null))]);
            }
            println!("{table}");
        }
    }
}

pub fn print_json(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).expect("JSON values print"));
}

/// A table of `items` with `columns`.
pub fn table(items: &[Value], columns: &[Column]) -> Table {
    let mut table = new_table();
    table.set_header(columns.iter().map(|(header, _)| header.to_uppercase()));
    for item in items {
        table.add_row(columns.iter().map(|(_, pointer)| cell(item.pointer(pointer).unwrap_or(&Value::Null))));
    }
    table
}

fn new_table() -> Table {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    table
}

/// A value as a table cell: strings bare, lists comma-separated, null as a dash.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(text) => text.clone(),
        Value::Array(items) if items.is_empty() => "-".to_owned(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}
