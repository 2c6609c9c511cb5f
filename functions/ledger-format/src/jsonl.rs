//! JSON Lines ledgers line by line, keeping numbers exactly as written.
//!
//! Lines are split on `\n` (a `\r` before it is dropped). Each object is read in one
//! pass with borrowed keys; each known field's value is taken as a [`RawValue`] so a
//! number keeps its text (`1e2` stays `1e2`, `1.0` stays `1.0`), and unknown fields are
//! skipped ([`IgnoredAny`]).

use super::carry::Carry;
use super::decoder::{is_blank, too_long, Parsed};
use super::error::LineError;
use super::fields::{push_parsed, Source, Value};
use super::utf8::Utf8Window;
use super::MAX_LINE_BYTES;
use convoy_core::field::Field;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// The lines of a JSON Lines ledger.
pub(crate) struct JsonLines {
    /// `\n` bytes seen so far: the number of complete physical lines.
    newlines: u64,
    /// Bytes fed so far, counted from where the text starts (see [`JsonLines::resume`]).
    fed: u64,
    /// Where the line after the last `\n` starts (the current line, not yet complete).
    line_start: u64,
    /// The start of a line that spans chunks (a `\r` may end it, hence the `+ 1`).
    carry: Carry,
}

impl JsonLines {
    pub(crate) fn new() -> Self {
        Self::resume(0, 0)
    }

    /// The lines of a ledger whose first `lines` lines, `offset` bytes, are done: the
    /// text fed next starts at that offset, on line `lines + 1`.
    pub(crate) fn resume(lines: u64, offset: u64) -> Self {
        Self {
            newlines: lines,
            fed: offset,
            line_start: offset,
            carry: Carry::new(MAX_LINE_BYTES + 1),
        }
    }

    pub(crate) fn newlines(&self) -> u64 {
        self.newlines
    }

    /// Where the current (incomplete) line starts: every line before it is decoded.
    pub(crate) fn line_start(&self) -> u64 {
        self.line_start
    }

    pub(crate) fn feed(&mut self, input: &[u8], out: &mut Vec<Parsed>) {
        let mut utf8 = Utf8Window::new(input);
        let mut start = 0;
        while let Some(i) = memchr::memchr(b'\n', &input[start..]) {
            let end = start + i;
            self.newlines += 1;
            let line = self.newlines;
            if self.carry.is_empty() {
                let raw = &input[start..end];
                let text_end = end - usize::from(raw.ends_with(b"\r"));
                decode_line(line, raw, false, utf8.get(start, text_end), out);
            } else {
                self.end_carried_line(line, &input[start..end], out);
            }
            start = end + 1;
        }
        if start > 0 {
            self.line_start = self.fed + start as u64;
        }
        self.fed += input.len() as u64;
        if start < input.len() {
            self.carry.extend(&input[start..]);
        }
    }

    #[cfg(test)]
    pub(crate) fn buffered(&self) -> usize {
        self.carry.capacity()
    }

    /// End of input: the last line needs no `\n`.
    pub(crate) fn finish(&mut self, out: &mut Vec<Parsed>) {
        if !self.carry.is_empty() {
            self.end_carried_line(self.newlines + 1, &[], out);
        }
    }

    fn end_carried_line(&mut self, line: u64, last: &[u8], out: &mut Vec<Parsed>) {
        self.carry.extend(last);
        let overlong = self.carry.is_overlong();
        let held = self.carry.take();
        decode_line(line, &held, overlong, None, out);
        self.carry.restore(held);
    }
}

/// One physical line (without its `\n`) into a transaction, a refusal, or nothing if blank.
/// `text` is the line (without `\r`) if it is already known to be UTF-8.
fn decode_line(line: u64, raw: &[u8], overlong: bool, text: Option<&str>, out: &mut Vec<Parsed>) {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let refuse = |field: Option<Field>, reason: String| {
        Parsed::Refused(LineError::new(line, field, reason, raw))
    };
    if overlong || raw.len() > MAX_LINE_BYTES {
        out.push(refuse(None, too_long()));
        return;
    }
    let text = match text.map_or_else(|| std::str::from_utf8(raw), Ok) {
        Ok(text) => text,
        Err(e) => {
            out.push(refuse(
                None,
                format!("not valid UTF-8 (byte {})", e.valid_up_to() + 1),
            ));
            return;
        }
    };
    if is_blank(raw) {
        return;
    }
    match parse_object(text) {
        Ok(fields) => push_parsed(&fields, line, raw, out),
        Err(why) => out.push(refuse(None, why)),
    }
}

/// The raw fields of a line that holds one JSON object, or why the line is not one.
pub(crate) fn parse_object(text: &str) -> Result<RawFields<'_>, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = de.deserialize_map(ObjectVisitor).and_then(|fields| {
        de.end()?;
        Ok(fields)
    });
    parsed.map_err(|e| why_not_an_object(text, &e))
}

fn why_not_an_object(text: &str, e: &serde_json::Error) -> String {
    if !text.trim_start().starts_with('{') {
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
            let what = match value {
                serde_json::Value::Array(_) => "an array",
                serde_json::Value::String(_) => "a string",
                serde_json::Value::Number(_) => "a number",
                serde_json::Value::Bool(_) => "a boolean",
                serde_json::Value::Null | serde_json::Value::Object(_) => "null",
            };
            return format!("not a JSON object but {what}");
        }
    }
    format!("not valid JSON: {e}")
}

/// A field's value in a JSON line: like [`Value`], but a string with escapes owns its text.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) enum Raw<'a> {
    /// Not in the line (absent key or JSON `null`).
    #[default]
    Absent,
    /// A JSON string, unescaped.
    Text(Cow<'a, str>),
    /// A JSON number exactly as written.
    Number(&'a str),
    /// A JSON value of another type: "a boolean", "an object", "an array".
    Other(&'static str),
    /// The key is given more than once.
    Repeated,
    /// A string whose escapes make no text (a lone surrogate).
    Unreadable,
}

/// The values of the eight known fields of a JSON line, indexed by [`Field`].
#[derive(Debug, Default)]
pub(crate) struct RawFields<'a> {
    values: [Raw<'a>; 8],
}

impl<'a> RawFields<'a> {
    pub(crate) fn set(&mut self, field: Field, value: Raw<'a>) {
        self.values[field as usize] = value;
    }

    #[cfg(test)]
    pub(crate) fn get(&self, field: Field) -> &Raw<'a> {
        &self.values[field as usize]
    }
}

impl Source for RawFields<'_> {
    fn value(&self, field: Field) -> Value<'_> {
        match &self.values[field as usize] {
            Raw::Absent => Value::Absent,
            Raw::Text(s) => Value::Text(s),
            Raw::Number(s) => Value::Number(s),
            Raw::Other(what) => Value::Other(what),
            Raw::Repeated => Value::Repeated,
            Raw::Unreadable => Value::Unreadable,
        }
    }
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = RawFields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = RawFields::default();
        let mut seen = 0u8;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match key {
                Some(field) => {
                    let raw: &'de RawValue = map.next_value()?;
                    let bit = 1u8 << (field as u8);
                    let value = if seen & bit != 0 {
                        Raw::Repeated
                    } else {
                        classify(raw.get())
                    };
                    seen |= bit;
                    fields.set(field, value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(fields)
    }
}

/// A key: `Some(field)` for a known field, `None` for any other.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Option<Field>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Option<Field>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(match key {
            "order_id" => Some(Field::OrderId),
            "seq" => Some(Field::Seq),
            "op" => Some(Field::Op),
            "txn_id" => Some(Field::TxnId),
            "amount" => Some(Field::Amount),
            "currency" => Some(Field::Currency),
            "at" => Some(Field::At),
            "note" => Some(Field::Note),
            _ => None,
        })
    }
}

/// The raw value of a known field from its JSON text (already checked to be valid JSON).
fn classify(json: &str) -> Raw<'_> {
    match json.as_bytes().first() {
        Some(b'"') => match json.get(1..json.len() - 1) {
            // No escapes: the text between the quotes is the string.
            Some(inner) if !inner.contains('\\') => Raw::Text(Cow::Borrowed(inner)),
            _ => match serde_json::from_str::<String>(json) {
                Ok(text) => Raw::Text(Cow::Owned(text)),
                Err(_) => Raw::Unreadable,
            },
        },
        Some(b'n') => Raw::Absent,
        Some(b't' | b'f') => Raw::Other("a boolean"),
        Some(b'{') => Raw::Other("an object"),
        Some(b'[') => Raw::Other("an array"),
        _ => Raw::Number(json),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(text: &str, field: Field) -> Raw<'_> {
        parse_object(text).unwrap().get(field).clone()
    }

    #[test]
    fn strings_numbers_and_other_types() {
        let line = r#"{"order_id":"A\"1","seq":12,"op":"add","txn_id":true,"amount":1e2,"currency":null,"at":[1],"note":{"a":1},"x":[{"y":null}]}"#;
        assert_eq!(
            get(line, Field::OrderId),
            Raw::Text(Cow::Owned("A\"1".into()))
        );
        assert_eq!(get(line, Field::Seq), Raw::Number("12"));
        assert_eq!(get(line, Field::Op), Raw::Text(Cow::Borrowed("add")));
        assert_eq!(get(line, Field::TxnId), Raw::Other("a boolean"));
        assert_eq!(get(line, Field::Amount), Raw::Number("1e2"));
        assert_eq!(get(line, Field::Currency), Raw::Absent);
        assert_eq!(get(line, Field::At), Raw::Other("an array"));
        assert_eq!(get(line, Field::Note), Raw::Other("an object"));
    }

    #[test]
    fn numbers_keep_their_text_and_whitespace_is_allowed() {
        let line = " { \"seq\" : 1.0 , \"amount\" : -0.50 } \t";
        assert_eq!(get(line, Field::Seq), Raw::Number("1.0"));
        assert_eq!(get(line, Field::Amount), Raw::Number("-0.50"));
    }

    #[test]
    fn escaped_keys_and_unicode_escapes_are_read() {
        let line = r#"{"order\u005fid":"caf\u00e9 \ud83d\ude00"}"#;
        assert_eq!(
            get(line, Field::OrderId),
            Raw::Text(Cow::Owned("café 😀".into()))
        );
    }

    #[test]
    fn a_lone_surrogate_is_unreadable_not_invalid_json() {
        assert_eq!(get(r#"{"note":"\ud800"}"#, Field::Note), Raw::Unreadable);
        assert_eq!(get(r#"{"note":"a\udc00b"}"#, Field::Note), Raw::Unreadable);
    }

    #[test]
    fn repeated_known_keys_are_marked_and_unknown_ones_ignored() {
        let line = r#"{"seq":1,"x":1,"seq":2,"x":2}"#;
        assert_eq!(get(line, Field::Seq), Raw::Repeated);
        let line = r#"{"note":"a","note":"a","note":"a"}"#;
        assert_eq!(get(line, Field::Note), Raw::Repeated);
    }

    #[test]
    fn a_line_with_every_field_at_its_longest_is_accepted() {
        let txn = convoy_core::bounds::longest::transaction();
        let line = serde_json::to_string(&txn).unwrap();
        let mut out = Vec::new();
        decode_line(1, line.as_bytes(), false, None, &mut out);
        assert!(
            matches!(&out[..], [Parsed::Txn { txn: t, .. }] if *t == txn),
            "{out:?}"
        );
    }

    #[test]
    fn not_json_or_not_an_object() {
        for (line, needle) in [
            ("[1,2]", "not a JSON object but an array"),
            ("\"x\"", "not a JSON object but a string"),
            ("12", "not a JSON object but a number"),
            ("null", "not a JSON object but null"),
            ("{", "not valid JSON"),
            ("{\"a\":1} x", "not valid JSON"),
            ("{\"a\":1}{}", "not valid JSON"),
            ("{'a':1}", "not valid JSON"),
            ("{\"a\":\"\u{1}\"}", "not valid JSON"),
            ("{\"seq\":01}", "not valid JSON"),
            ("nonsense", "not valid JSON"),
        ] {
            let why = parse_object(line).unwrap_err();
            assert!(why.contains(needle), "{line}: {why}");
        }
    }
}
