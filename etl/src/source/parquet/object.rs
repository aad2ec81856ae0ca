//! One Parquet object opened for loading: the footer read and the schema checked before any row, then decoded
//! record batches one at a time.
//!
//! Memory per object in flight, whatever the file's size: the projected column chunks of one row group
//! (compressed, as fetched: one `GetObject` body), the decompressed page being decoded for each projected column,
//! and one decoded batch of at most [`BATCH_ROWS`] rows; plus the footer metadata. Only the spec's columns are
//! fetched. A file written with the common 128k-row groups and ten columns of ~10 bytes costs roughly its
//! compressed row-group size (a few MiB) plus 8192 × row width (under 1 MiB) here.
//!
//! A row's line number is its 1-based row index in the file: every [`Batch`] says where it starts.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use aws_sdk_s3::Client;
use futures_util::StreamExt;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::arrow::async_reader::{ParquetRecordBatchStream, ParquetRecordBatchStreamBuilder};
use parquet::basic::LogicalType;

use crate::error::ObjectError;
use crate::source::ObjectVersion;
use crate::source::parquet::convert::{RowBatchRecords, SpecColumn};
use crate::source::parquet::reader::{ReadStats, S3RangeReader, object_error};

/// Rows per decoded batch: large enough to amortize decoding, small enough to keep a batch well under a MiB for
/// typical rows.
pub const BATCH_ROWS: usize = 8192;

/// Decoded rows and the line number (1-based row index in the file) of the first.
pub struct Batch {
    /// The 1-based row index in the file of the batch's first row.
    pub first_line: u64,
    /// The decoded rows.
    pub rows: RecordBatch,
}

/// An opened Parquet object whose schema fits the spec.
pub struct ParquetSource {
    stream: ParquetRecordBatchStream<S3RangeReader>,
    records: RowBatchRecords,
    stats: Arc<ReadStats>,
    next_line: u64,
    rows: u64,
    row_groups: usize,
}

/// Reads the footer of the listed object version and checks that every spec column is a top-level field whose
/// type maps onto the column's (see `convert`; a dictionary-encoded column is read as its value type); a file that
/// is not Parquet, is cut short or does not fit fails with one line.
pub async fn open(
    client: &Client,
    object: &ObjectVersion,
    columns: &[SpecColumn],
) -> Result<ParquetSource, ObjectError> {
    let mut reader = S3RangeReader::new(client, object);
    let stats = reader.stats();
    let mut loaded = ArrowReaderMetadata::load_async(&mut reader, ArrowReaderOptions::new())
        .await
        .map_err(object_error)?;
    if let Some(schema) = without_dictionaries(loaded.schema()) {
        let options = ArrowReaderOptions::new().with_schema(schema);
        loaded = ArrowReaderMetadata::try_new(Arc::clone(loaded.metadata()), options)
            .map_err(object_error)?;
    }
    let builder = ParquetRecordBatchStreamBuilder::new_with_metadata(reader, loaded);
    let file_schema = Arc::clone(builder.schema());
    let descriptor = builder.parquet_schema();
    let roots = descriptor.root_schema().get_fields();
    // A UUID column: FIXED_LEN_BYTE_ARRAY(16) with the UUID logical type (arrow-rs reads it as plain 16 bytes).
    let uuids: Vec<&str> = roots
        .iter()
        .filter(|t| {
            t.is_primitive() && t.get_basic_info().logical_type_ref() == Some(&LogicalType::Uuid)
        })
        .map(|t| t.name())
        .collect();
    // Checked against the whole file first, so a missing column's error lists the file's columns.
    RowBatchRecords::with_uuids(&file_schema, columns, &uuids)?;
    let mut wanted: Vec<usize> = columns
        .iter()
        .filter_map(|c| file_schema.index_of(&c.name).ok())
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let projected = file_schema
        .project(&wanted)
        .map_err(|e| ObjectError::Parquet(e.to_string()))?;
    let records = RowBatchRecords::with_uuids(&projected, columns, &uuids)?;
    let mask = ProjectionMask::roots(descriptor, wanted.iter().copied());
    let metadata = builder.metadata();
    let rows = u64::try_from(metadata.file_metadata().num_rows()).unwrap_or_default();
    let row_groups = metadata.num_row_groups();
    let stream = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(object_error)?;
    Ok(ParquetSource {
        stream,
        records,
        stats,
        next_line: 1,
        rows,
        row_groups,
    })
}

/// The file's schema with each top-level dictionary column (pyarrow writes a pandas categorical so) read as its
/// plain value type instead, or `None` when there is none: the reader then decodes the dictionary pages into plain
/// arrays, and the converter needs no dictionary case.
fn without_dictionaries(schema: &Schema) -> Option<SchemaRef> {
    let mut changed = false;
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|field| match field.data_type() {
            DataType::Dictionary(_, value) => {
                changed = true;
                field
                    .as_ref()
                    .clone()
                    .with_data_type(value.as_ref().clone())
            }
            _ => field.as_ref().clone(),
        })
        .collect();
    changed.then(|| Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())))
}

impl ParquetSource {
    /// The next decoded rows, or `None` after the last row group.
    pub async fn next_batch(&mut self) -> Result<Option<Batch>, ObjectError> {
        let Some(rows) = self.stream.next().await.transpose().map_err(object_error)? else {
            return Ok(None);
        };
        let first_line = self.next_line;
        self.next_line += rows.num_rows() as u64;
        Ok(Some(Batch { first_line, rows }))
    }

    /// A converter for this object's batches, to move to the parse thread.
    pub fn records(&self) -> RowBatchRecords {
        self.records.clone()
    }

    /// Rows in the file, from its footer.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Row groups in the file, from its footer.
    pub fn row_groups(&self) -> usize {
        self.row_groups
    }

    /// Requests, bytes and the version id S3 served.
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use crate::source::parquet::convert::RowBatchRecords;
    use crate::source::parquet::object::ParquetSource;

    /// The lead's pipeline moves the source into a download task and the converter onto the parse thread.
    #[test]
    fn source_and_converter_can_move_between_threads() {
        fn sendable<T: Send + 'static>() {}
        sendable::<ParquetSource>();
        sendable::<RowBatchRecords>();
    }
}
