//! The shared row types: a parsed CSV record on the way in and a row writer on the way out.
//!
//! These are the only types the source (CSV parser), the transform and the sink (COPY encoder) share, so none of
//! them needs to know the others. Both are views over reused buffers: no allocation per row.

use bytes::BytesMut;

/// One field of a record: a range into the record's data and whether it was quoted.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Start of the field's bytes in the record's data.
    pub start: usize,
    /// End (exclusive) of the field's bytes in the record's data.
    pub end: usize,
    /// A quoted empty field is an empty string; an unquoted empty field is NULL (PostgreSQL CSV semantics).
    pub quoted: bool,
}

/// One CSV record, borrowed from the parser's buffers.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// 1-based line number where the record starts in the object.
    pub line: u64,
    /// The bytes of the record's field values, which `fields` index into.
    pub data: &'a [u8],
    /// The record's fields, in order.
    pub fields: &'a [Field],
    /// The first RFC 4180 violation in the record (for example a stray quote), if any.
    pub error: Option<&'static str>,
}

impl Record<'_> {
    /// The bytes of field `i` and whether it was quoted.
    pub fn field(&self, i: usize) -> (&[u8], bool) {
        let f = self.fields[i];
        (&self.data[f.start..f.end], f.quoted)
    }

    /// The record re-encoded as one CSV line for the rejects table: lossy UTF-8, and a NUL byte (which a text
    /// column cannot hold) becomes U+FFFD too.
    pub fn to_csv_line(&self, delimiter: u8) -> String {
        let mut line = String::new();
        for i in 0..self.fields.len() {
            if i > 0 {
                line.push(char::from(delimiter));
            }
            let (bytes, quoted) = self.field(i);
            let text = String::from_utf8_lossy(bytes).replace('\0', "\u{fffd}");
            let special =
                |c: char| c == '"' || c == '\n' || c == '\r' || c == char::from(delimiter);
            if quoted || text.contains(special) {
                line.push('"');
                line.push_str(&text.replace('"', "\"\""));
                line.push('"');
            } else {
                line.push_str(&text);
            }
        }
        line
    }
}

/// Receives transformed rows value by value; a row may be cancelled half-written when a later value is bad.
pub trait RowWriter {
    /// Starts a new row.
    fn begin_row(&mut self);
    /// Appends a NULL as the next column's value.
    fn null(&mut self);
    /// Appends the next column's value: `encode` writes its binary `COPY` form straight into the writer's buffer,
    /// so no value is copied twice. After an error the caller cancels the row.
    fn value<E>(&mut self, encode: impl FnOnce(&mut BytesMut) -> Result<(), E>) -> Result<(), E>;
    /// Finishes the row begun by `begin_row`.
    fn end_row(&mut self);
    /// Forgets everything written since `begin_row`.
    fn cancel_row(&mut self);
}
