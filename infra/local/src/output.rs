//! How commands print: tables for people, JSON Lines for scripts (`--json`: one JSON object
//! per thing listed, one line each, so `jq` and line tools read them as they come).

use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use serde::Serialize;
use std::io::Write;

/// Where a command's results go, and in which form.
pub struct Output<'a> {
    json: bool,
    out: &'a mut dyn Write,
}

impl<'a> Output<'a> {
    pub fn new(json: bool, out: &'a mut dyn Write) -> Self {
        Output { json, out }
    }

    /// Whether results are JSON Lines.
    pub fn json(&self) -> bool {
        self.json
    }

    /// Where the results go, for a command that writes them itself.
    pub fn writer(&mut self) -> &mut dyn Write {
        &mut *self.out
    }

    /// One JSON object on a line of its own.
    pub fn line(&mut self, value: &impl Serialize) -> std::io::Result<()> {
        let text = serde_json::to_string(value).map_err(std::io::Error::other)?;
        writeln!(self.out, "{text}")
    }

    /// Text as it is.
    pub fn text(&mut self, text: &str) -> std::io::Result<()> {
        writeln!(self.out, "{text}")
    }

    /// A table with these headers and rows (an empty one prints `(none)`).
    pub fn table<R, C>(&mut self, headers: &[&str], rows: R) -> std::io::Result<()>
    where
        R: IntoIterator<Item = Vec<C>>,
        C: Into<comfy_table::Cell>,
    {
        let mut table = Table::new();
        table
            .load_preset(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(headers.iter().copied());
        let mut empty = true;
        for row in rows {
            empty = false;
            table.add_row(row);
        }
        if empty {
            writeln!(self.out, "(none)")
        } else {
            writeln!(self.out, "{table}")
        }
    }

    /// Fields and their values, a row each.
    pub fn fields(&mut self, fields: &[(&str, String)]) -> std::io::Result<()> {
        self.table(
            &["field", "value"],
            fields
                .iter()
                .map(|(name, value)| vec![(*name).to_owned(), value.clone()]),
        )
    }
}

/// A value for a table cell: the text, or `-` for none.
pub fn or_dash(value: Option<impl ToString>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_one_object_per_line() {
        let mut buf = Vec::new();
        let mut out = Output::new(true, &mut buf);
        out.line(&serde_json::json!({"a": 1})).unwrap();
        out.line(&serde_json::json!({"b": [1, 2]})).unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "{\"a\":1}\n{\"b\":[1,2]}\n"
        );
    }

    #[test]
    fn tables_have_headers_and_say_when_empty() {
        let mut buf = Vec::new();
        let mut out = Output::new(false, &mut buf);
        out.table(&["order", "status"], [vec!["A-1", "open"]])
            .unwrap();
        out.table(&["order"], Vec::<Vec<&str>>::new()).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(text.contains("order") && text.contains("A-1") && text.contains("open"));
        assert!(text.ends_with("(none)\n"), "{text}");
        assert_eq!(or_dash(None::<u64>), "-");
        assert_eq!(or_dash(Some(3)), "3");
    }
}
