//! S3 range requests for a Parquet object, so it is never held whole in memory.
//!
//! Every request is a `GetObject` with `Range` and `If-Match` on the listed ETag: if the object is overwritten
//! while it is read, the next request fails (412) and the load fails and is retried as a whole, never mixing two
//! versions. The footer comes first, through parquet's [`AsyncFileReader`], with one request for the last
//! [`FOOTER_PREFETCH`] bytes (a second one only when the metadata is larger). Beside it goes a request for the
//! object's first [`HEAD_SPECULATION`] bytes, where the first row group usually lies, so the first rows do not
//! wait for a second round trip after the footer (`object` keeps those bytes only when the spec's columns fill at
//! least half of them). Then `object` asks for one row group's column chunks at a time
//! ([`S3RangeReader::get_ranges`]; the next row group's while the current one is decoded); ranges less than
//! [`COALESCE_GAP`] apart are fetched with one request, so a row group usually costs one GET, none where the head
//! holds it. [`ReadStats`]
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
use crate::source::{self, ObjectVersion, Served};

/// How many bytes at the end of the object the first request reads: the footer and, usually, all metadata.
pub const FOOTER_PREFETCH: usize = 64 << 10;

/// Ranges closer than this are fetched together: a request costs more than reading 1 MiB it does not need.
pub const COALESCE_GAP: u64 = 1 << 20;

/// How much of the object's start is requested beside the footer: one 128k-row group of a typical table's
/// columns, compressed. A request costs a round trip (tens of milliseconds on S3 and on moto alike), about what
/// a few MiB take to arrive.
pub const HEAD_SPECULATION: u64 = 8 << 20;

/// Bytes of the object already fetched, from `start` on.
#[derive(Clone)]
pub struct Held {
    start: u64,
    bytes: Bytes,
}

impl Held {
    /// Where these bytes end in the object.
    pub fn end(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }
}

/// What one object's reads cost, shared between the reader and whoever watches it.
#[derive(Debug, Default)]
pub struct ReadStats {
    requests: AtomicU64,
    bytes: AtomicU64,
    resumes: AtomicU64,
    served: OnceLock<Served>,
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

    /// The version S3 served, once a request has succeeded.
    pub fn served(&self) -> Option<&Served> {
        self.served.get()
    }
}

/// Reads byte ranges of one listed object version; a clone shares the counters, so a prefetching task can read
/// beside the decoder.
#[derive(Clone)]
pub struct S3RangeReader {
    client: Client,
    object: ObjectVersion,
    stats: Arc<ReadStats>,
    /// The object's head, when it was fetched beside the footer and is worth keeping: spans it holds cost no request.
    held: Option<Held>,
}

impl S3RangeReader {
    /// A reader of `object`; requests name its ETag, so a changed object fails rather than mixing versions.
    pub fn new(client: &Client, object: &ObjectVersion) -> Self {
        Self {
            client: client.clone(),
            object: object.clone(),
            stats: Arc::new(ReadStats::default()),
            held: None,
        }
    }

    /// The range to request beside the footer: the object's first bytes up to [`HEAD_SPECULATION`], leaving out the
    /// magic number and what the footer's request reads; `None` for an object the footer's request reads whole.
    pub fn head_range(&self) -> Option<Range<u64>> {
        let end =
            (MAGIC + HEAD_SPECULATION).min(self.object.size.saturating_sub(FOOTER_PREFETCH as u64));
        (end > MAGIC).then_some(MAGIC..end)
    }

    /// Fetches `range` (the [`Self::head_range`]) to hold; counted in the stats only once [`Self::hold`] keeps it.
    pub async fn fetch_head(&self, range: Range<u64>) -> Result<Held, ObjectError> {
        let bytes = self.read(range.clone()).await?;
        Ok(Held {
            start: range.start,
            bytes,
        })
    }

    /// Serves later requests from `head` where it holds their spans.
    pub fn hold(&mut self, head: Held) {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        self.stats
            .bytes
            .fetch_add(head.bytes.len() as u64, Ordering::Relaxed);
        self.held = Some(head);
    }

    /// Lets the head go (it holds nothing the rest of the object needs).
    pub fn release(&mut self) {
        self.held = None;
    }

    /// Where the held head ends, if one is held.
    pub fn held_end(&self) -> Option<u64> {
        self.held.as_ref().map(Held::end)
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
        let body = self.read(range).await?;
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        self.stats
            .bytes
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        Ok(body)
    }

    /// `range` through one request, whole, counting only resumes (see [`Self::get`] and [`Self::hold`]).
    async fn read(&self, range: Range<u64>) -> Result<Bytes, ObjectError> {
        let opened = source::open_range(&self.client, &self.object, range.clone()).await?;
        self.stats.served.get_or_init(|| opened.served);
        let mut body = opened.body;
        // Sized up front: growing by doubling would hold up to twice a row group's chunks while it copies.
        let mut bytes =
            BytesMut::with_capacity(usize::try_from(range.end - range.start).unwrap_or(0));
        while let Some(chunk) = body.next_chunk().await? {
            bytes.extend_from_slice(&chunk);
        }
        self.stats
            .resumes
            .fetch_add(u64::from(body.resumes()), Ordering::Relaxed);
        let body = bytes.freeze();
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

    /// The bytes of each of `ranges` (a row group's column chunks), with one request per [`coalesce`]d span.
    pub async fn get_ranges(&self, ranges: &[Range<u64>]) -> Result<Vec<Bytes>, ObjectError> {
        let mut fetched: Vec<(u64, Bytes)> = Vec::new();
        for range in coalesce(ranges, COALESCE_GAP) {
            let start = range.start;
            fetched.push((start, self.get_span(range).await?));
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
                    .map_err(|e| ObjectError::Download(e.to_string()))?;
                let len = usize::try_from(range.end - range.start)
                    .map_err(|e| ObjectError::Download(e.to_string()))?;
                Ok(bytes.slice(offset..offset + len))
            })
            .collect()
    }

    /// One coalesced span: from the held head as far as it reaches, the rest (or all of it) by a request.
    async fn get_span(&self, span: Range<u64>) -> Result<Bytes, ObjectError> {
        let Some(held) = self
            .held
            .as_ref()
            .filter(|h| h.start <= span.start && span.start < h.end())
        else {
            return self.get(span).await;
        };
        let reach = span.end.min(held.end());
        let offset = |at: u64| usize::try_from(at - held.start).unwrap_or(usize::MAX);
        let from_head = held.bytes.slice(offset(span.start)..offset(reach));
        if reach == span.end {
            return Ok(from_head);
        }
        let rest = self.get(reach..span.end).await?;
        let mut joined = BytesMut::with_capacity(from_head.len() + rest.len());
        joined.extend_from_slice(&from_head);
        joined.extend_from_slice(&rest);
        Ok(joined.freeze())
    }
}

/// The bytes before a Parquet file's first column chunk: its magic number, `PAR1`.
const MAGIC: u64 = 4;

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
