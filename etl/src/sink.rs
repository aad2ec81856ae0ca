//! The PostgreSQL sink: encodes rows in `COPY ... FROM STDIN` text format into chunks of a few tens of KiB.
//!
//! Text format keeps NULL (`\N`) and the empty string apart without quoting, and needs escaping only for
//! backslash, tab, newline and carriage return. Every row ends with the ledger's object id so one object's rows
//! can be replaced later (`--reprocess`, a new object version). The encoder knows nothing of S3 or CSV.

use bytes::{Bytes, BytesMut};

use crate::record::RowWriter;
use crate::spec::{Dataset, OBJECT_ID_COLUMN};

/// The `COPY` statement for a dataset's table.
pub fn copy_statement(dataset: &Dataset) -> String {
    let columns: Vec<String> = dataset.columns.iter().map(|c| c.name.to_string()).collect();
    format!(
        "COPY {} ({}, \"{OBJECT_ID_COLUMN}\") FROM STDIN",
        dataset.qualified_table(),
        columns.join(", ")
    )
}

/// Encodes rows into `Bytes` chunks for `CopyInSink`.
#[derive(Debug)]
pub struct CopyEncoder {
    buf: BytesMut,
    chunk_bytes: usize,
    row_start: usize,
    first_value: bool,
    row_suffix: Vec<u8>,
    rows: u64,
}

impl CopyEncoder {
    pub fn new(object_id: i64, chunk_bytes: usize) -> Self {
        Self {
            buf: BytesMut::with_capacity(chunk_bytes * 2),
            chunk_bytes,
            row_start: 0,
            first_value: true,
            row_suffix: format!("\t{object_id}\n").into_bytes(),
            rows: 0,
        }
    }

    /// Rows encoded so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// A full chunk, once enough rows have accumulated.
    pub fn take_chunk(&mut self) -> Option<Bytes> {
        (self.buf.len() >= self.chunk_bytes).then(|| self.split())
    }

    /// Whatever is left at the end of the input.
    pub fn take_rest(&mut self) -> Option<Bytes> {
        (!self.buf.is_empty()).then(|| self.split())
    }

    fn split(&mut self) -> Bytes {
        let chunk = self.buf.split().freeze();
        self.buf.reserve(self.chunk_bytes * 2);
        chunk
    }
}

impl RowWriter for CopyEncoder {
    fn begin_row(&mut self) {
        self.row_start = self.buf.len();
        self.first_value = true;
    }

    fn value(&mut self, value: Option<&str>) {
        if !self.first_value {
            self.buf.extend_from_slice(b"\t");
        }
        self.first_value = false;
        let Some(value) = value else {
            self.buf.extend_from_slice(b"\\N");
            return;
        };
        // One pass: copy the runs between special bytes whole, escape the special bytes.
        let bytes = value.as_bytes();
        let mut run_start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let escaped: &[u8] = match b {
                b'\\' => b"\\\\",
                b'\t' => b"\\t",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                _ => continue,
            };
            self.buf.extend_from_slice(&bytes[run_start..i]);
            self.buf.extend_from_slice(escaped);
            run_start = i + 1;
        }
        self.buf.extend_from_slice(&bytes[run_start..]);
    }

    fn end_row(&mut self) {
        self.buf.extend_from_slice(&self.row_suffix);
        self.rows += 1;
    }

    fn cancel_row(&mut self) {
        self.buf.truncate(self.row_start);
    }
}

#[cfg(test)]
mod tests {
    use crate::record::RowWriter;
    use crate::sink::CopyEncoder;

    #[test]
    fn text_format_escapes_and_nulls() {
        let mut encoder = CopyEncoder::new(7, 1 << 20);
        encoder.begin_row();
        encoder.value(Some("a\tb\\c\nd\re"));
        encoder.value(None);
        encoder.value(Some(""));
        encoder.end_row();
        encoder.begin_row();
        encoder.value(Some("dropped"));
        encoder.cancel_row();
        assert!(encoder.take_chunk().is_none());
        let rest = encoder.take_rest().unwrap();
        assert_eq!(&rest[..], b"a\\tb\\\\c\\nd\\re\t\\N\t\t7\n");
        assert_eq!(encoder.rows(), 1);
    }

    #[test]
    fn chunks_are_cut_on_row_boundaries() {
        let mut encoder = CopyEncoder::new(1, 16);
        let mut chunks = Vec::new();
        for _ in 0..10 {
            encoder.begin_row();
            encoder.value(Some("0123456789"));
            encoder.end_row();
            chunks.extend(encoder.take_chunk());
        }
        chunks.extend(encoder.take_rest());
        assert_eq!(chunks.len(), 5);
        assert!(chunks.iter().all(|c| c.ends_with(b"\t1\n")));
    }
}
