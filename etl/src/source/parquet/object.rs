//! One Parquet object opened for loading: the footer read and the schema checked before any row, then decoded
//! record batches one at a time by parquet's push decoder, which is handed each row group's column chunks. While
//! one row group is decoded, the next one's chunks are fetched on their own task (one row group ahead, never
//! more), so download and decoding overlap as they do for a streamed CSV body. The object's first
//! [`HEAD_SPECULATION`](crate::source::parquet::reader::HEAD_SPECULATION) bytes are requested beside the footer
//! and kept when the spec's columns fill at least half of them, so the first row group does not wait for a request
//! sent after the footer arrives.
//!
//! Memory per object in flight, whatever the file's size: the projected column chunks of two row groups
//! (compressed, as fetched: the one being decoded and the next) or, while row groups in it are read, the head
//! (8 MiB at most), the decoding state of one row group (for each projected column its decompressed page and, for
//! a dictionary-encoded one, its decoded dictionary), and one decoded batch of at most [`BATCH_ROWS`] rows (its
//! strings are views into those pages and dictionaries, which it keeps alive until it is converted); plus the
//! footer metadata. Only the spec's columns are fetched, besides a head not worth keeping.
//!
//! A row's line number is its 1-based row index in the file: every [`Batch`] says where it starts.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use aws_sdk_s3::Client;
use bytes::Bytes;
use parquet::DecodeResult;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::arrow::push_decoder::{ParquetPushDecoder, ParquetPushDecoderBuilder};
use parquet::basic::LogicalType;
use parquet::file::metadata::ParquetMetaData;
use tokio::task::JoinHandle;

use crate::error::ObjectError;
use crate::source::ObjectVersion;
use crate::source::parquet::convert::{RowBatchRecords, SpecColumn};
use crate::source::parquet::reader::{
    COALESCE_GAP, ReadStats, S3RangeReader, coalesce, object_error,
};

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
    decoder: ParquetPushDecoder,
    reader: S3RangeReader,
    /// Each row group's projected column chunks, in file order, from the one being decoded on: what the decoder
    /// will ask for, so the next can be fetched before it does.
    plan: VecDeque<Vec<Range<u64>>>,
    /// The next row group's column chunks, being fetched while the current one is decoded.
    prefetch: Option<Fetching<Vec<Range<u64>>, Vec<Bytes>>>,
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
    let head = reader.head_range().map(|range| {
        let reader = reader.clone();
        let task = tokio::spawn({
            let range = range.clone();
            async move { reader.fetch_head(range).await }
        });
        Fetching { asked: range, task }
    });
    let mut loaded = ArrowReaderMetadata::load_async(&mut reader, ArrowReaderOptions::new())
        .await
        .map_err(object_error)?;
    if let Some(schema) = read_schema(loaded.schema()) {
        let options = ArrowReaderOptions::new().with_schema(schema);
        loaded = ArrowReaderMetadata::try_new(Arc::clone(loaded.metadata()), options)
            .map_err(object_error)?;
    }
    let builder = ParquetPushDecoderBuilder::new_with_metadata(loaded);
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
    let plan = column_chunks(metadata, &mask);
    if let Some(head) = head
        && worth_holding(&plan, &head.asked)
    {
        reader.hold(head.finish("the head's request").await?);
    }
    let decoder = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(object_error)?;
    Ok(ParquetSource {
        decoder,
        reader,
        plan,
        prefetch: None,
        records,
        stats,
        next_line: 1,
        rows,
        row_groups,
    })
}

/// Each row group's column chunks in `mask`, in leaf order: the ranges the decoder asks for when it reads a row
/// group whole (no row selection, no filter), as `parquet`'s `InMemoryRowGroup::fetch_ranges` lists them.
fn column_chunks(metadata: &ParquetMetaData, mask: &ProjectionMask) -> VecDeque<Vec<Range<u64>>> {
    metadata
        .row_groups()
        .iter()
        .map(|group| {
            (0..group.num_columns())
                .filter(|leaf| mask.leaf_included(*leaf))
                .map(|leaf| {
                    let (start, len) = group.column(leaf).byte_range();
                    start..start + len
                })
                .collect()
        })
        .collect()
}

/// Whether the spec's columns fill at least half of the object's `head`: then waiting for it (it is on its way)
/// costs less than a request after the footer; else the head is dropped unread (a narrow projection).
fn worth_holding(plan: &VecDeque<Vec<Range<u64>>>, head: &Range<u64>) -> bool {
    let wanted: u64 = plan
        .iter()
        .flat_map(|group| coalesce(group, COALESCE_GAP))
        .map(|span| {
            span.end
                .min(head.end)
                .saturating_sub(span.start.max(head.start))
        })
        .sum();
    wanted * 2 >= head.end - head.start
}

/// Requests on a task of their own, with what they asked for (`asked`); dropping it unfinished cancels them. The
/// head's request beside the footer, and a row group's column chunks fetched ahead of the decoder.
struct Fetching<A, T> {
    asked: A,
    task: JoinHandle<Result<T, ObjectError>>,
}

impl<A, T> Fetching<A, T> {
    /// The fetched bytes; `what` names the task if it failed.
    async fn finish(mut self, what: &str) -> Result<T, ObjectError> {
        (&mut self.task)
            .await
            .map_err(|e| ObjectError::Download(format!("{what} failed: {e}")))?
    }
}

impl<A, T> Drop for Fetching<A, T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The file's schema as the reader should decode it, or `None` when that is the file's own. A top-level
/// dictionary column (pyarrow writes a pandas categorical so) is read as its plain value type, so the converter
/// needs no dictionary case. A top-level string column is read as a string view: its values then stay where the
/// page or dictionary decoder put them instead of being copied into one contiguous buffer per batch, which was a
/// tenth of a string-heavy load's decoding time; the converter copies each value once, into the row's text.
fn read_schema(schema: &Schema) -> Option<SchemaRef> {
    let as_read = |data_type: &DataType| match data_type {
        DataType::Utf8 | DataType::LargeUtf8 => Some(DataType::Utf8View),
        _ => None,
    };
    let mut changed = false;
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|field| {
            let read = match field.data_type() {
                DataType::Dictionary(_, value) => {
                    Some(as_read(value).unwrap_or_else(|| value.as_ref().clone()))
                }
                other => as_read(other),
            };
            changed |= read.is_some();
            match read {
                Some(data_type) => field.as_ref().clone().with_data_type(data_type),
                None => field.as_ref().clone(),
            }
        })
        .collect();
    changed.then(|| Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())))
}

impl ParquetSource {
    /// The next decoded rows, or `None` after the last row group. When the decoder takes a row group's column
    /// chunks, the next row group's are requested on another task, so fetching overlaps decoding; at most one row
    /// group is fetched ahead.
    pub async fn next_batch(&mut self) -> Result<Option<Batch>, ObjectError> {
        loop {
            match self.decoder.try_decode().map_err(object_error)? {
                DecodeResult::Data(rows) => {
                    let first_line = self.next_line;
                    self.next_line += rows.num_rows() as u64;
                    return Ok(Some(Batch { first_line, rows }));
                }
                DecodeResult::Finished => return Ok(None),
                DecodeResult::NeedsData(ranges) => {
                    let data = self.fetch(&ranges).await?;
                    self.decoder
                        .push_ranges(ranges.clone(), data)
                        .map_err(object_error)?;
                    self.prefetch_after(&ranges);
                }
            }
        }
    }

    /// The bytes the decoder asked for: the prefetched row group's when they are those ranges (they are, unless the
    /// decoder skipped a row group), else fetched now.
    async fn fetch(&mut self, ranges: &[Range<u64>]) -> Result<Vec<Bytes>, ObjectError> {
        if let Some(prefetch) = self.prefetch.take()
            && prefetch.asked == ranges
        {
            return prefetch.finish("prefetch task").await;
        }
        self.reader.get_ranges(ranges).await
    }

    /// Starts fetching the row group after the one whose column chunks are `ranges`, if there is one. Ranges the
    /// plan does not hold mean the decoder reads otherwise than planned: nothing is fetched ahead then.
    fn prefetch_after(&mut self, ranges: &[Range<u64>]) {
        let Some(at) = self.plan.iter().position(|planned| planned == ranges) else {
            return;
        };
        self.plan.drain(..=at);
        // The head goes once no row group left starts in it.
        if let (Some(end), Some(next)) = (self.reader.held_end(), self.plan.front())
            && next.iter().all(|range| range.start >= end)
        {
            self.reader.release();
        }
        if let Some(next) = self.plan.front() {
            let (reader, ranges) = (self.reader.clone(), next.clone());
            let task = tokio::spawn({
                let ranges = ranges.clone();
                async move { reader.get_ranges(&ranges).await }
            });
            self.prefetch = Some(Fetching {
                asked: ranges,
                task,
            });
        }
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
