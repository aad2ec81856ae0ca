//! The PostgreSQL sink: frames rows in `COPY ... FROM STDIN (FORMAT binary)` into chunks of a few tens of KiB.
//!
//! Binary format hands PostgreSQL finished values: the transform has already parsed and checked every value, so
//! the server does not parse numbers and timestamps a second time. Each value is a length word and its bytes (the
//! transform's type encoder writes them straight into the chunk), NULL is length -1. Every row ends with the
//! ledger's object id so one object's rows can be replaced later (`--reprocess`, a new object version). The
//! encoder knows nothing of S3, CSV or column types.

use bytes::{BufMut, Bytes, BytesMut};

use crate::record::RowWriter;
use crate::spec::{Dataset, OBJECT_ID_COLUMN};

/// The binary COPY signature, then 32-bit flags (no OIDs) and header extension length, both zero.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// The field count that ends the data.
const TRAILER: i16 = -1;

/// The `COPY` statement for a dataset's table.
pub fn copy_statement(dataset: &Dataset) -> String {
    let columns: Vec<String> = dataset.columns.iter().map(|c| c.name.to_string()).collect();
    format!(
        "COPY {} ({}, \"{OBJECT_ID_COLUMN}\") FROM STDIN (FORMAT binary)",
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
    fields: i16,
    object_id: i64,
    rows: u64,
}

impl CopyEncoder {
    /// An encoder for the load `object_id` (written into every row) that cuts chunks of about `chunk_bytes`.
    pub fn new(object_id: i64, chunk_bytes: usize) -> Self {
        let mut buf = BytesMut::with_capacity(chunk_bytes * 2);
        buf.put_slice(HEADER);
        Self {
            buf,
            chunk_bytes,
            row_start: 0,
            fields: 0,
            object_id,
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

    /// Whatever is left at the end of the input, with the trailer (so always `Some`); call it once, last.
    pub fn take_rest(&mut self) -> Option<Bytes> {
        self.buf.put_i16(TRAILER);
        Some(self.split())
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
        self.fields = 0;
        // The field count, written when the row ends.
        self.buf.put_i16(0);
    }

    fn null(&mut self) {
        self.fields += 1;
        self.buf.put_i32(-1);
    }

    fn value<E>(&mut self, encode: impl FnOnce(&mut BytesMut) -> Result<(), E>) -> Result<(), E> {
        self.fields += 1;
        let at = self.buf.len();
        self.buf.put_i32(0);
        encode(&mut self.buf)?;
        // A value is far below 2 GiB: the parser refuses records over 16 MiB.
        let len = i32::try_from(self.buf.len() - at - 4).unwrap_or(i32::MAX);
        self.buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
        Ok(())
    }

    fn end_row(&mut self) {
        self.buf.put_i32(8);
        self.buf.put_i64(self.object_id);
        let count = self.fields + 1;
        self.buf[self.row_start..self.row_start + 2].copy_from_slice(&count.to_be_bytes());
        self.rows += 1;
    }

    fn cancel_row(&mut self) {
        self.buf.truncate(self.row_start);
    }
}

#[cfg(test)]
mod tests {
    use bytes::BufMut;

    use crate::record::RowWriter;
    use crate::sink::CopyEncoder;

    /// Appends one value with the given bytes.
    fn put(encoder: &mut CopyEncoder, bytes: &[u8]) {
        encoder
            .value(|buf| {
                buf.put_slice(bytes);
                Ok::<(), ()>(())
            })
            .unwrap();
    }

    #[test]
    fn binary_rows_nulls_and_cancelled_rows() {
        let mut encoder = CopyEncoder::new(7, 1 << 20);
        encoder.begin_row();
        put(&mut encoder, b"a\tb");
        encoder.null();
        put(&mut encoder, b"");
        encoder.end_row();
        encoder.begin_row();
        encoder
            .value(|buf| {
                buf.put_slice(b"dropped");
                Err(())
            })
            .unwrap_err();
        encoder.cancel_row();
        assert!(encoder.take_chunk().is_none());
        let rest = encoder.take_rest().unwrap();
        let mut expected = b"PGCOPY\n\xff\r\n\0".to_vec();
        expected.extend([0; 8]);
        expected.extend([0, 4]);
        expected.extend([0, 0, 0, 3]);
        expected.extend(b"a\tb");
        expected.extend([0xff; 4]);
        expected.extend([0; 4]);
        expected.extend([0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7]);
        expected.extend([0xff, 0xff]);
        assert_eq!(&rest[..], &expected[..]);
        assert_eq!(encoder.rows(), 1);
    }

    #[test]
    fn chunks_are_cut_on_row_boundaries() {
        let mut encoder = CopyEncoder::new(1, 56);
        let mut chunks = Vec::new();
        for _ in 0..10 {
            encoder.begin_row();
            put(&mut encoder, b"0123456789");
            encoder.end_row();
            chunks.extend(encoder.take_chunk());
        }
        chunks.extend(encoder.take_rest());
        // 19 header bytes, then 28 bytes a row: a chunk after every second row, and the trailer alone.
        assert_eq!(chunks.len(), 6);
        assert!(
            chunks[..5]
                .iter()
                .all(|c| c.ends_with(&[0, 0, 0, 0, 0, 0, 0, 1]))
        );
        assert_eq!(&chunks[5][..], &[0xff, 0xff]);
    }
}
