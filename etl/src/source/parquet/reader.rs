//! Parquet's [`AsyncFileReader`] over S3 range requests, so a Parquet object is never held whole in memory.
//!
//! Every request is a `GetObject` with `Range` and `If-Match` on the listed ETag: if the object is overwritten
//! while it is read, the next request fails (412) and the load fails and is retried as a whole, never mixing two
//! versions. The footer comes first, with one request for the last [`FOOTER_PREFETCH`] bytes (a second one only
//! when the metadata is larger). Then the reader asks for one row group's column chunks at a time; ranges less
//! than [`COALESCE_GAP`] apart are fetched with one request, so a row group usually costs one GET. [`ReadStats`]
//! counts requests, bytes and resumes, and keeps the version id S3 served. A request whose body breaks mid-stream is
//! resumed within its range, as any download is ([`crate::source::Body`]).

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use aws_sdk_s3::Client;
use bytes::{Bytes, BytesMut};
use futures_util::future::{BoxFuture, FutureExt};
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use crate::error::ObjectError;
use crate::source::{self, ObjectVersion};

/// How many bytes at the end of the object the first request reads: the footer and, usually, all metadata.
pub const FOOTER_PREFETCH: usize = 64 << 10;

/// Ranges closer than this are fetched together: a request costs more than reading 1 MiB it does not need.
pub const COALESCE_GAP: u64 = 1 << 20;

/// What one object's reads cost, shared between the reader and whoever watches it.
#[derive(Debug, Default)]
pub struct ReadStats {
    requests: AtomicU64,
    bytes: AtomicU64,
    resumes: AtomicU64,
    version_id: OnceLock<String>,
}

impl ReadStats {
    /// `GetObject` requests sent so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Body bytes received so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// How often a request's body broke mid-stream and was resumed (see [`crate::source::Body`]).
    pub fn resumes(&self) -> u64 {
        self.resumes.load(Ordering::Relaxed)
    }

    /// The version id S3 served (`"null"` in an unversioned bucket), once a request has succeeded.
    pub fn version_id(&self) -> Option<&str> {
        self.version_id.get().map(String::as_str)
    }
}

/// Reads byte ranges of one listed object version.
pub struct S3RangeReader {
    client: Client,
    object: ObjectVersion,
    stats: Arc<ReadStats>,
}

impl S3RangeReader {
    /// A reader of `object`; requests name its ETag, so a changed object fails rather than mixing versions.
    pub fn new(client: &Client, object: &ObjectVersion) -> Self {
        Self {
            client: client.clone(),
            object: object.clone(),
            stats: Arc::new(ReadStats::default()),
        }
    }

    /// This reader's request and byte counters, still readable once the reader is moved into the decoder.
    pub fn stats(&self) -> Arc<ReadStats> {
        Arc::clone(&self.stats)
    }

    /// One ranged, ETag-pinned `GetObject`, read whole (a range is at most one row group's column chunks).
    async fn get(&self, range: Range<u64>) -> Result<Bytes, ObjectError> {
        if range.is_empty() {
            return Ok(Bytes::new());
        }
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let opened = source::open_range(&self.client, &self.object, range.clone()).await?;
        self.stats.version_id.get_or_init(|| opened.version_id);
        let mut body = opened.body;
        let mut bytes = BytesMut::new();
        while let Some(chunk) = body.next_chunk().await? {
            bytes.extend_from_slice(&chunk);
        }
        self.stats
            .resumes
            .fetch_add(u64::from(body.resumes()), Ordering::Relaxed);
        let body = bytes.freeze();
        self.stats
            .bytes
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        if body.len() as u64 != range.end - range.start {
            return Err(ObjectError::Download(format!(
                "asked for bytes {}-{}, S3 sent {} bytes",
                range.start,
                range.end - 1,
                body.len()
            )));
        }
        Ok(body)
    }
}

/// Ranges merged where they overlap or are less than `gap` apart, sorted.
pub fn coalesce(ranges: &[Range<u64>], gap: u64) -> Vec<Range<u64>> {
    let mut sorted: Vec<Range<u64>> = ranges.iter().filter(|r| !r.is_empty()).cloned().collect();
    sorted.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(sorted.len());
    for range in sorted {
        match merged.last_mut() {
            Some(last) if range.start <= last.end.saturating_add(gap) => {
                last.end = last.end.max(range.end);
            }
            _ => merged.push(range),
        }
    }
    merged
}

/// An [`ObjectError`] carried through parquet's error type, so a download failure stays a download failure.
fn external(error: ObjectError) -> ParquetError {
    ParquetError::External(Box::new(error))
}

impl AsyncFileReader for S3RangeReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move { self.get(range).await.map_err(external) }.boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move {
            let mut fetched: Vec<(u64, Bytes)> = Vec::new();
            for range in coalesce(&ranges, COALESCE_GAP) {
                let start = range.start;
                fetched.push((start, self.get(range).await.map_err(external)?));
            }
            ranges
                .iter()
                .map(|range| {
                    if range.is_empty() {
                        return Ok(Bytes::new());
                    }
                    // The merged range that starts at or before this one holds it whole.
                    let at = fetched.partition_point(|(start, _)| *start <= range.start);
                    let (start, bytes) = &fetched[at - 1];
                    let offset = usize::try_from(range.start - start)
                        .map_err(|e| ParquetError::External(Box::new(e)))?;
                    let len = usize::try_from(range.end - range.start)
                        .map_err(|e| ParquetError::External(Box::new(e)))?;
                    Ok(bytes.slice(offset..offset + len))
                })
                .collect()
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        let size = self.object.size;
        async move {
            let metadata = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .with_prefetch_hint(Some(FOOTER_PREFETCH))
                .load_and_finish(&mut *self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

/// A parquet error as the object's failure: a download problem as such, anything else as an unreadable file.
pub fn object_error(error: ParquetError) -> ObjectError {
    match error {
        ParquetError::External(inner) => match inner.downcast::<ObjectError>() {
            Ok(error) => *error,
            Err(other) => ObjectError::Parquet(other.to_string()),
        },
        other => {
            let text = other.to_string();
            let text = text.strip_prefix("Parquet error: ").unwrap_or(&text);
            ObjectError::Parquet(text.replace('\n', " "))
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::source::parquet::reader::coalesce;

    #[test]
    fn near_ranges_are_fetched_together() {
        assert_eq!(
            coalesce(
                &[10..20, 0..5, 30..40, 2_000_000..2_000_010, 15..18, 7..7],
                10
            ),
            vec![0..40, 2_000_000..2_000_010]
        );
        assert_eq!(coalesce(&[0..5, 16..20], 10), vec![0..5, 16..20]);
        assert!(coalesce(&[], 10).is_empty());
    }
}
