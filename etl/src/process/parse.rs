//! The blocking middle stage of a load: the object's bytes (or Parquet record batches) in, COPY chunks out.
//!
//! Every format becomes the same [`Record`]s below the transform, so the transform and the sink never learn where a
//! row came from. A byte stream is decompressed (gzip or zstd, sniffed from its first bytes), decoded to UTF-8 and
//! parsed as CSV or JSON Lines; a Parquet batch is converted row by row. Each record is transformed and encoded,
//! counting rejects up to the configured limit. The stage knows no S3 and no PostgreSQL: only channels, so it can be
//! tested on its own.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc::{Receiver, Sender};

use crate::error::ObjectError;
use crate::ledger::Reject;
use crate::record::Record;
use crate::sink::CopyEncoder;
use crate::source::compress::Decompressor;
use crate::source::csv::CsvParser;
use crate::source::jsonl::{self, JsonColumn, JsonlParser};
use crate::source::parquet::{Batch, RowBatchRecords};
use crate::source::text::TextInput;
use crate::spec::{ColumnType, Dataset, Format};
use crate::transform::Transform;

/// What the stage reads.
pub(super) enum Input {
    /// A CSV or JSON Lines object's bytes, as downloaded.
    Bytes(Receiver<Bytes>),
    /// A Parquet object's record batches, and the converter that knows the file's schema.
    Batches(Receiver<Batch>, RowBatchRecords),
}

/// The text formats' parsers, fed the same decoded text.
enum Parser {
    Csv(CsvParser),
    Jsonl(JsonlParser),
}

impl Parser {
    fn new(dataset: &Dataset) -> Self {
        if dataset.format != Format::Jsonl {
            return Self::Csv(CsvParser::new(dataset.delimiter));
        }
        let columns: Vec<JsonColumn> = dataset
            .columns
            .iter()
            .map(|c| {
                let place = match &c.path {
                    // The spec checked the pointer's syntax.
                    Some(path) => {
                        JsonColumn::pointer(path).unwrap_or_else(|_| JsonColumn::member(path))
                    }
                    None => JsonColumn::member(c.name.as_str()),
                };
                if c.column_type == ColumnType::Jsonb {
                    place.as_json()
                } else {
                    place
                }
            })
            .collect();
        Self::Jsonl(JsonlParser::new(&columns))
    }

    fn feed<F>(&mut self, text: &[u8], emit: &mut F) -> Result<(), ObjectError>
    where
        F: FnMut(Record<'_>) -> Result<(), ObjectError>,
    {
        match self {
            Self::Csv(parser) => parser.feed(text, emit),
            Self::Jsonl(parser) => parser.feed(text, emit),
        }
    }

    fn finish<F>(&mut self, emit: &mut F) -> Result<(), ObjectError>
    where
        F: FnMut(Record<'_>) -> Result<(), ObjectError>,
    {
        match self {
            Self::Csv(parser) => parser.finish(emit),
            Self::Jsonl(parser) => parser.finish(emit),
        }
    }
}

/// The blocking middle stage: parse, transform, encode.
pub(super) struct ParseStage {
    pub(super) transform: Arc<Transform>,
    pub(super) dataset: Arc<Dataset>,
    pub(super) max_rejects: u64,
    pub(super) encoder: CopyEncoder,
}

impl ParseStage {
    /// Returns the rows encoded and the rejects, or the reason the whole object fails.
    pub(super) fn run(
        mut self,
        input: Input,
        output: &Sender<Bytes>,
    ) -> Result<(u64, Vec<Reject>), ObjectError> {
        let closed = || ObjectError::Db {
            what: "copy rows",
            message: "the COPY stream closed".to_owned(),
        };
        let dataset = &self.dataset;
        let mut rejects = Vec::new();
        let mut header_pending = dataset.header;
        let mut emit = |record: Record<'_>| -> Result<(), ObjectError> {
            if header_pending {
                header_pending = false;
                return self.transform.check_header(&record);
            }
            if let Err(reason) = self.transform.apply(&record, &mut self.encoder) {
                if rejects.len() as u64 >= self.max_rejects {
                    return Err(ObjectError::TooManyRejects {
                        line: record.line,
                        max: self.max_rejects,
                        reason,
                    });
                }
                let record_text = match dataset.format {
                    Format::Jsonl => jsonl::reject_text(&record),
                    Format::Csv | Format::Parquet => record.to_csv_line(dataset.delimiter),
                };
                rejects.push(Reject {
                    line: record.line,
                    record: record_text,
                    reason,
                });
            }
            if let Some(chunk) = self.encoder.take_chunk() {
                output.blocking_send(chunk).map_err(|_| closed())?;
            }
            Ok(())
        };
        match input {
            Input::Bytes(mut bytes) => {
                let mut decompressor = Decompressor::new(dataset.compression);
                let mut text = TextInput::new(dataset.encoding);
                let mut parser = Parser::new(dataset);
                let mut feed = |piece: &[u8]| parser.feed(text.decode(piece, false)?, &mut emit);
                while let Some(chunk) = bytes.blocking_recv() {
                    decompressor.push(&chunk, false, &mut feed)?;
                }
                decompressor.push(&[], true, &mut feed)?;
                parser.feed(text.decode(&[], true)?, &mut emit)?;
                parser.finish(&mut emit)?;
            }
            Input::Batches(mut batches, mut records) => {
                while let Some(batch) = batches.blocking_recv() {
                    records.for_each_record(&batch.rows, batch.first_line, &mut emit)?;
                }
            }
        }
        if header_pending {
            return Err(ObjectError::Empty);
        }
        if let Some(rest) = self.encoder.take_rest() {
            output.blocking_send(rest).map_err(|_| closed())?;
        }
        Ok((self.encoder.rows(), rejects))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use bytes::Bytes;
    use tokio::sync::mpsc::channel;

    use crate::error::ObjectError;
    use crate::process::parse::{Input, ParseStage};
    use crate::sink::{CopyEncoder, Trailer};
    use crate::spec::Dataset;
    use crate::transform::Transform;

    const SPEC: &str = "name = \"t\"\ntable = \"t\"\n[[columns]]\nname = \"id\"\ntype = \"integer\"\n\
                        nullable = false\n[[columns]]\nname = \"note\"\ntype = \"text\"\n";

    /// What one run of the stage produced: rows encoded, rejects as (line, reason), and the COPY bytes.
    type Output = (u64, Vec<(u64, String)>, Vec<u8>);

    /// A stage for the test spec: UTF-8 CSV with a header.
    fn stage(max_rejects: u64, chunk_bytes: usize) -> ParseStage {
        let dataset = Dataset::parse(Path::new("t.toml"), SPEC).unwrap();
        ParseStage {
            transform: Arc::new(Transform::new(&dataset)),
            dataset: Arc::new(dataset),
            max_rejects,
            encoder: CopyEncoder::new(Trailer::ObjectId(7), chunk_bytes),
        }
    }

    /// Runs the object given as `pieces` through a stage, collecting every COPY chunk.
    fn run(pieces: &[&[u8]], max_rejects: u64) -> Result<Output, ObjectError> {
        let stage = stage(max_rejects, 64);
        let (input, bytes) = channel(pieces.len() + 1);
        for piece in pieces {
            input.try_send(Bytes::copy_from_slice(piece)).unwrap();
        }
        drop(input);
        let (output, mut chunks) = channel(4096);
        let (rows, rejects) = stage.run(Input::Bytes(bytes), &output)?;
        drop(output);
        let mut copy = Vec::new();
        while let Ok(chunk) = chunks.try_recv() {
            copy.extend_from_slice(&chunk);
        }
        let rejects = rejects.into_iter().map(|r| (r.line, r.reason)).collect();
        Ok((rows, rejects, copy))
    }

    #[test]
    fn any_split_of_the_object_gives_the_same_rows_and_bytes() {
        let object: &[u8] = b"id,note\r\n1,\"a,b\"\n2,\nx,bad\n3,\"multi\nline\"\n";
        let whole = run(&[object], 10).unwrap();
        assert_eq!(whole.0, 3);
        assert_eq!(
            whole.1,
            vec![(4, "column id: value \"x\" is not an integer".to_owned())]
        );
        for at in 0..=object.len() {
            let (a, b) = object.split_at(at);
            assert_eq!(run(&[a, b], 10).unwrap(), whole, "split at {at}");
        }
        let bytes: Vec<&[u8]> = object.chunks(1).collect();
        assert_eq!(run(&bytes, 10).unwrap(), whole, "byte by byte");
    }

    #[test]
    fn object_level_problems_fail_the_object() {
        assert!(matches!(run(&[b""], 10), Err(ObjectError::Empty)));
        assert!(matches!(
            run(&[b"id,other\n1,x\n"], 10),
            Err(ObjectError::Header { .. })
        ));
        let too_many = run(&[b"id,note\nx,1\ny,2\n3,ok\n"], 1).unwrap_err();
        assert_eq!(
            too_many.to_string(),
            "line 3: more than 1 rejected rows, last: column id: value \"y\" is not an integer"
        );
    }

    #[test]
    fn a_closed_copy_stream_stops_the_stage() {
        let stage = stage(0, 16);
        let (input, bytes) = channel(1);
        input
            .try_send(Bytes::from_static(b"id,note\n1,a\n2,b\n"))
            .unwrap();
        drop(input);
        let (output, chunks) = channel(1);
        drop(chunks);
        let error = stage.run(Input::Bytes(bytes), &output).unwrap_err();
        assert_eq!(
            error.to_string(),
            "PostgreSQL failed to copy rows: the COPY stream closed"
        );
    }
}
