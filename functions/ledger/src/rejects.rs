//! The rejects report of a ledger (contract section 5), spooled to a local temporary file
//! as refused lines arrive, so memory stays constant however many lines are refused.
//!
//! Lines refused by the decoder arrive in line order; the few refused later by SQS (a
//! `SenderFault` entry) arrive in send order and are merged in by line number at the end.

use ledger_format::LineError;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use tempfile::{NamedTempFile, TempPath};

/// Writing the spool failed (local disk).
#[derive(Debug, thiserror::Error)]
#[error("could not spool the rejects report to local disk")]
pub struct SpoolError(#[source] pub std::io::Error);

impl From<std::io::Error> for SpoolError {
    fn from(e: std::io::Error) -> Self {
        SpoolError(e)
    }
}

/// A rejects report being written.
pub struct RejectsSpool {
    file: Option<BufWriter<NamedTempFile>>,
    /// Refused lines written (decoder) so far.
    count: u64,
    /// Line errors that arrive out of line order (SQS refusals), merged in at the end.
    late: Vec<LineError>,
}

impl RejectsSpool {
    pub fn new() -> Self {
        Self {
            file: None,
            count: 0,
            late: Vec::new(),
        }
    }

    /// Appends a refused line; lines must come in line order.
    pub fn write(&mut self, error: &LineError) -> Result<(), SpoolError> {
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(BufWriter::new(NamedTempFile::new()?)),
        };
        serde_json::to_writer(&mut *file, error).map_err(std::io::Error::from)?;
        file.write_all(b"\n")?;
        self.count += 1;
        Ok(())
    }

    /// Adds a refused line that may come out of line order.
    pub fn write_late(&mut self, error: LineError) {
        self.late.push(error);
    }

    /// Refused lines so far.
    pub fn count(&self) -> u64 {
        self.count + self.late.len() as u64
    }

    /// The finished report in line order, or `None` when no line was refused. The file is
    /// deleted when the returned path is dropped.
    pub fn finish(self) -> Result<Option<TempPath>, SpoolError> {
        let mut late = self.late;
        let spooled = match self.file {
            None if late.is_empty() => return Ok(None),
            None => None,
            Some(f) => Some(f.into_inner().map_err(|e| e.into_error())?),
        };
        if late.is_empty() {
            return Ok(spooled.map(NamedTempFile::into_temp_path));
        }
        late.sort_by_key(|e| e.line);
        let mut merged = BufWriter::new(NamedTempFile::new()?);
        let mut late = late.into_iter().peekable();
        if let Some(mut spooled) = spooled {
            spooled.as_file_mut().seek(SeekFrom::Start(0))?;
            for text in BufReader::new(spooled.as_file()).lines() {
                let text = text?;
                let line = line_of(&text)?;
                while let Some(e) = late.next_if(|e| e.line < line) {
                    write_entry(&mut merged, &e)?;
                }
                merged.write_all(text.as_bytes())?;
                merged.write_all(b"\n")?;
            }
        }
        for e in late {
            write_entry(&mut merged, &e)?;
        }
        let merged = merged.into_inner().map_err(|e| e.into_error())?;
        Ok(Some(merged.into_temp_path()))
    }
}

impl Default for RejectsSpool {
    fn default() -> Self {
        Self::new()
    }
}

fn write_entry(out: &mut impl Write, e: &LineError) -> Result<(), SpoolError> {
    serde_json::to_writer(&mut *out, e).map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// The `line` of a spooled entry.
fn line_of(text: &str) -> Result<u64, SpoolError> {
    #[derive(serde::Deserialize)]
    struct Line {
        line: u64,
    }
    serde_json::from_str::<Line>(text)
        .map(|l| l.line)
        .map_err(|e| SpoolError(e.into()))
}

/// `text` cut at 1 KiB on a character boundary, like the decoder's excerpts.
pub fn excerpt(text: &str) -> String {
    let mut end = text.len().min(ledger_format::MAX_TEXT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use convoy_core::Field;

    fn err(line: u64, field: Option<Field>) -> LineError {
        LineError {
            line,
            field,
            reason: format!("reason {line}"),
            text: format!("text {line}"),
        }
    }

    fn read(path: &TempPath) -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn nothing_refused_gives_no_report() {
        assert!(RejectsSpool::new().finish().unwrap().is_none());
    }

    #[test]
    fn the_report_is_one_json_object_per_line_in_line_order() {
        let mut spool = RejectsSpool::new();
        spool.write(&err(3, Some(Field::Amount))).unwrap();
        spool.write(&err(9, None)).unwrap();
        spool.write_late(err(12, None));
        spool.write_late(err(1, Some(Field::OrderId)));
        spool.write_late(err(5, None));
        assert_eq!(spool.count(), 5);
        let path = spool.finish().unwrap().unwrap();
        let got = read(&path);
        let lines: Vec<u64> = got.iter().map(|v| v["line"].as_u64().unwrap()).collect();
        assert_eq!(lines, vec![1, 3, 5, 9, 12]);
        assert_eq!(
            got[1],
            serde_json::json!({"line": 3, "field": "amount", "reason": "reason 3", "text": "text 3"})
        );
        assert_eq!(got[3]["field"], serde_json::Value::Null);
    }

    #[test]
    fn only_late_entries_make_a_report_too() {
        let mut spool = RejectsSpool::new();
        spool.write_late(err(4, None));
        let path = spool.finish().unwrap().unwrap();
        assert_eq!(read(&path).len(), 1);
    }

    #[test]
    fn excerpts_are_cut_at_1_kib_on_a_char_boundary() {
        assert_eq!(excerpt("abc"), "abc");
        let s = format!("{}€", "a".repeat(1022));
        assert_eq!(excerpt(&s), "a".repeat(1022));
    }
}
