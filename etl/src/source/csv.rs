//! A streaming RFC 4180 parser with PostgreSQL CSV semantics.
//!
//! It is push-based: bytes arrive in whatever chunks S3 delivers, and the parser keeps its state between them, so
//! an object is never held whole. Unlike the `csv` crate it records whether each field was quoted (an unquoted
//! empty field is NULL, a quoted one an empty string, as in `COPY ... CSV`), counts lines inside quoted fields so
//! rejects name the right line, and reports an unterminated quote instead of silently swallowing the rest. It reads
//! UTF-8 bytes: `super::text` has already dropped a byte-order mark and decoded other encodings.

use crate::error::ObjectError;
use crate::record::{Field, Record};

/// A record larger than this is refused: it is almost always an unterminated quote, and it bounds memory.
pub const MAX_RECORD_BYTES: usize = 16 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
    AfterCr,
}

/// Parser state carried across chunks.
#[derive(Debug)]
pub struct CsvParser {
    delimiter: u8,
    /// Bytes that end a run of unquoted field data: delimiter, quote, CR, LF (a table beats four compares).
    stops: [bool; 256],
    state: State,
    data: Vec<u8>,
    fields: Vec<Field>,
    field_start: usize,
    quoted: bool,
    line: u64,
    record_line: u64,
    in_record: bool,
    error: Option<&'static str>,
}

impl CsvParser {
    /// A parser for fields separated by `delimiter`.
    pub fn new(delimiter: u8) -> Self {
        let mut stops = [false; 256];
        for b in [delimiter, b'"', b'\r', b'\n'] {
            stops[usize::from(b)] = true;
        }
        Self {
            delimiter,
            stops,
            state: State::FieldStart,
            data: Vec::with_capacity(4096),
            fields: Vec::with_capacity(32),
            field_start: 0,
            quoted: false,
            line: 1,
            record_line: 1,
            in_record: false,
            error: None,
        }
    }

    /// Parses `chunk`, calling `emit` for every complete record.
    pub fn feed<F>(&mut self, chunk: &[u8], emit: &mut F) -> Result<(), ObjectError>
    where
        F: FnMut(Record<'_>) -> Result<(), ObjectError>,
    {
        let delimiter = self.delimiter;
        let mut i = 0;
        while i < chunk.len() {
            match self.state {
                State::FieldStart => {
                    if !self.in_record {
                        self.in_record = true;
                        self.record_line = self.line;
                    }
                    let b = chunk[i];
                    if b == b'"' {
                        self.quoted = true;
                        self.state = State::Quoted;
                        i += 1;
                    } else if b == delimiter || b == b'\n' || b == b'\r' {
                        self.terminator(b, emit)?;
                        i += 1;
                    } else {
                        self.state = State::Unquoted;
                    }
                }
                State::Unquoted => {
                    let rest = &chunk[i..];
                    let run = rest
                        .iter()
                        .position(|&b| self.stops[usize::from(b)])
                        .unwrap_or(rest.len());
                    self.push(&rest[..run])?;
                    i += run;
                    if let Some(&b) = chunk.get(i) {
                        if b == b'"' {
                            self.error.get_or_insert("quote inside an unquoted field");
                            self.push(b"\"")?;
                        } else {
                            self.terminator(b, emit)?;
                        }
                        i += 1;
                    }
                }
                State::Quoted => {
                    let rest = &chunk[i..];
                    let run = memchr::memchr(b'"', rest).unwrap_or(rest.len());
                    self.line += memchr::memchr_iter(b'\n', &rest[..run]).count() as u64;
                    self.push(&rest[..run])?;
                    i += run;
                    if i < chunk.len() {
                        self.state = State::QuoteInQuoted;
                        i += 1;
                    }
                }
                State::QuoteInQuoted => {
                    let b = chunk[i];
                    if b == b'"' {
                        self.push(b"\"")?;
                        self.state = State::Quoted;
                    } else if b == delimiter || b == b'\n' || b == b'\r' {
                        self.terminator(b, emit)?;
                    } else {
                        self.error.get_or_insert("characters after a closing quote");
                        self.push(&[b])?;
                        self.state = State::Unquoted;
                    }
                    i += 1;
                }
                State::AfterCr => {
                    if chunk[i] == b'\n' {
                        i += 1;
                    }
                    self.state = State::FieldStart;
                }
            }
        }
        Ok(())
    }

    /// Ends the input: emits a last record without a line break, or fails on an open quote.
    pub fn finish<F>(&mut self, emit: &mut F) -> Result<(), ObjectError>
    where
        F: FnMut(Record<'_>) -> Result<(), ObjectError>,
    {
        match self.state {
            State::Quoted => Err(ObjectError::UnterminatedQuote {
                line: self.record_line,
            }),
            State::Unquoted | State::QuoteInQuoted | State::FieldStart if self.in_record => {
                self.end_field();
                self.end_record(emit)
            }
            _ => Ok(()),
        }
    }

    fn push(&mut self, bytes: &[u8]) -> Result<(), ObjectError> {
        if self.data.len() + bytes.len() > MAX_RECORD_BYTES {
            return Err(ObjectError::RecordTooLarge {
                line: self.record_line,
                max: MAX_RECORD_BYTES,
            });
        }
        self.data.extend_from_slice(bytes);
        Ok(())
    }

    fn terminator<F>(&mut self, b: u8, emit: &mut F) -> Result<(), ObjectError>
    where
        F: FnMut(Record<'_>) -> Result<(), ObjectError>,
    {
        self.end_field();
        self.state = State::FieldStart;
        if b == self.delimiter {
            return Ok(());
        }
        self.line += 1;
        if b == b'\r' {
            self.state = State::AfterCr;
        }
        self.end_record(emit)
    }

    fn end_field(&mut self) {
        self.fields.push(Field {
            start: self.field_start,
            end: self.data.len(),
            quoted: self.quoted,
        });
        self.field_start = self.data.len();
        self.quoted = false;
    }

    fn end_record<F>(&mut self, emit: &mut F) -> Result<(), ObjectError>
    where
        F: FnMut(Record<'_>) -> Result<(), ObjectError>,
    {
        // A blank line is one unquoted empty field; it carries no data and is skipped.
        let blank = self.fields.len() == 1 && self.data.is_empty() && !self.fields[0].quoted;
        let result = if blank {
            Ok(())
        } else {
            emit(Record {
                line: self.record_line,
                data: &self.data,
                fields: &self.fields,
                error: self.error,
            })
        };
        self.data.clear();
        self.fields.clear();
        self.field_start = 0;
        self.error = None;
        self.in_record = false;
        result
    }
}

#[cfg(test)]
mod tests {
    use crate::error::ObjectError;
    use crate::source::csv::CsvParser;

    /// One expected record: line, fields (`None` for NULL) and the RFC 4180 violation.
    type Expected<'a> = (u64, Vec<Option<&'a str>>, Option<&'a str>);

    /// Parses `input` fed in chunks of every size from 1 to 7 bytes and checks each split gives the same records:
    /// `(line, fields)` where a field is `None` for NULL.
    #[track_caller]
    fn check(input: &str, expected: &[Expected<'_>]) {
        for chunk_size in 1..=7 {
            let mut parser = CsvParser::new(b',');
            let mut got = Vec::new();
            let mut emit = |r: crate::record::Record<'_>| {
                let fields = (0..r.fields.len())
                    .map(|i| {
                        let (bytes, quoted) = r.field(i);
                        (quoted || !bytes.is_empty())
                            .then(|| String::from_utf8(bytes.to_vec()).unwrap())
                    })
                    .collect::<Vec<_>>();
                got.push((r.line, fields, r.error));
                Ok(())
            };
            for chunk in input.as_bytes().chunks(chunk_size) {
                parser.feed(chunk, &mut emit).unwrap();
            }
            parser.finish(&mut emit).unwrap();
            let expected: Vec<_> = expected
                .iter()
                .map(|(line, fields, error)| {
                    (
                        *line,
                        fields
                            .iter()
                            .map(|f| f.map(str::to_owned))
                            .collect::<Vec<_>>(),
                        *error,
                    )
                })
                .collect();
            assert_eq!(got, expected, "chunk size {chunk_size}");
        }
    }

    #[test]
    fn rfc4180_content() {
        check(
            "a,\"b,c\",\"say \"\"hi\"\"\"\r\n\"multi\nline\",,\"\"\nlast,é,日本",
            &[
                (1, vec![Some("a"), Some("b,c"), Some("say \"hi\"")], None),
                (2, vec![Some("multi\nline"), None, Some("")], None),
                (4, vec![Some("last"), Some("é"), Some("日本")], None),
            ],
        );
    }

    #[test]
    fn blank_lines_are_skipped_and_bare_cr_ends_a_line() {
        check(
            "a\n\n\"\"\rb\r\n",
            &[
                (1, vec![Some("a")], None),
                (3, vec![Some("")], None),
                (4, vec![Some("b")], None),
            ],
        );
    }

    #[test]
    fn stray_quotes_are_flagged_not_fatal() {
        check(
            "ab\"c,d\n\"x\"y,z\nok,1\n",
            &[
                (
                    1,
                    vec![Some("ab\"c"), Some("d")],
                    Some("quote inside an unquoted field"),
                ),
                (
                    2,
                    vec![Some("xy"), Some("z")],
                    Some("characters after a closing quote"),
                ),
                (3, vec![Some("ok"), Some("1")], None),
            ],
        );
    }

    #[test]
    fn unterminated_quote_is_fatal_with_its_line() {
        let mut parser = CsvParser::new(b',');
        let mut emit = |_: crate::record::Record<'_>| Ok(());
        parser.feed(b"a,b\nc,\"open\nmore\n", &mut emit).unwrap();
        let err = parser.finish(&mut emit).unwrap_err();
        assert!(
            matches!(err, ObjectError::UnterminatedQuote { line: 2 }),
            "{err:?}"
        );
    }
}
