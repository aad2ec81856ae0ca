//! The S3 source: list the objects under a prefix, resolve one key's current version, and stream one object's
//! body.
//!
//! Listing (`ListObjectsV2`) returns metadata only: keys, ETags, sizes. The ETag identifies an object's content, so
//! the ledger can tell a loaded object from a changed one without listing versions. `GetObject` is pinned to the
//! listed ETag (`If-Match`) and reports the version id it served, which the ledger records. Bodies are streamed
//! chunk by chunk as S3 sends them, so an object of any size costs a few chunks of memory.
//!
//! A body that breaks mid-stream (a connection reset on a long download, which the SDK does not retry once the
//! body has started) is continued where it broke: [`Body`] asks again for the rest (`Range: bytes=N-`), still
//! pinned to the ETag being read, so its reader sees one unbroken body and nothing is read twice. A transient
//! fault then costs a request instead of the object's load.

pub mod compress;
pub mod csv;
pub mod jsonl;
pub mod parquet;
pub mod text;

use std::ops::Range;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use tracing::warn;

use crate::aws::error_message;
use crate::error::{ObjectError, S3Error};

/// Attempts per object body when the client has no retry configuration (the CLI always sets one).
const DEFAULT_ATTEMPTS: u32 = 3;
/// The wait before the first resume; it doubles with each further attempt without progress.
const RESUME_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between two resume attempts.
const RESUME_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// One object to load, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    /// The bucket the object is in.
    pub bucket: String,
    /// The object's key.
    pub key: String,
    /// The ETag S3 listed, which identifies the object's content in the ledger.
    pub etag: String,
    /// The object's size in bytes.
    pub size: u64,
}

impl ObjectVersion {
    /// From S3's metadata fields (a missing ETag or size reads as empty or 0, and then never matches a load).
    fn from_s3(bucket: &str, key: &str, etag: Option<&str>, size: Option<i64>) -> Self {
        Self {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            etag: etag.unwrap_or_default().to_owned(),
            size: size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
        }
    }
}

/// An opened object: its body and the version S3 served (`"null"` in an unversioned bucket, as S3 reports it).
pub struct OpenObject {
    /// The object's bytes, as they arrive.
    pub body: Body,
    /// The version id S3 served.
    pub version_id: String,
}

/// An object's body that resumes where it broke; see the module header.
///
/// Each break is followed by up to `max_attempts - 1` resume requests (the SDK's own retry budget per request,
/// `--aws-max-attempts`), with exponential backoff; the count starts again once a resumed body delivers bytes, so
/// only a fault that keeps the download from moving fails it. A resume that finds the object changed (S3 answers
/// `412 PreconditionFailed` to the `If-Match`) fails the load, as opening a changed object does.
pub struct Body {
    client: Client,
    bucket: String,
    key: String,
    etag: String,
    stream: ByteStream,
    /// The object's offset of the next byte to hand out: where a resumed request starts.
    offset: u64,
    /// The object's offset just past the body's last byte, when known (S3 announced the length, or a range asked
    /// for it).
    end: Option<u64>,
    max_attempts: u32,
    resumes: u32,
}

/// Why one resume request did not give the rest of the body.
enum ResumeError {
    /// The object no longer has the ETag being read.
    Changed(String),
    /// Anything else; the next attempt may succeed.
    Failed(String),
}

impl Body {
    /// The next chunk of the body, as S3 sends it, or `None` at its end.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, ObjectError> {
        let mut failures = 0;
        loop {
            let mut error = match self.stream.try_next().await {
                Ok(Some(chunk)) => {
                    self.offset += chunk.len() as u64;
                    return Ok(Some(chunk));
                }
                Ok(None) => return Ok(None),
                Err(e) => DisplayErrorContext(&e).to_string().replace('\n', " "),
            };
            if self.end.is_some_and(|end| self.offset >= end) {
                // Every byte arrived; only the end of the response broke.
                return Ok(None);
            }
            loop {
                failures += 1;
                if failures >= self.max_attempts {
                    return Err(ObjectError::Download(format!(
                        "the body broke at byte {} and {} attempt(s) to resume it failed, last: {error}",
                        self.offset,
                        failures - 1
                    )));
                }
                warn!(bucket = %self.bucket, key = %self.key, offset = self.offset, attempt = failures,
                      error = %error, "Resuming the download.");
                tokio::time::sleep(backoff(failures)).await;
                match self.resume().await {
                    Ok(stream) => {
                        self.stream = stream;
                        self.resumes += 1;
                        break;
                    }
                    Err(ResumeError::Changed(message)) => {
                        return Err(ObjectError::Download(format!(
                            "the object changed while it was read (resuming at byte {} with If-Match {}): {message}",
                            self.offset, self.etag
                        )));
                    }
                    Err(ResumeError::Failed(message)) => error = message,
                }
            }
        }
    }

    /// How many times the body was resumed so far.
    pub fn resumes(&self) -> u32 {
        self.resumes
    }

    /// Asks for the rest of the body, from the first byte not yet handed out (to the end of a ranged body).
    async fn resume(&self) -> Result<ByteStream, ResumeError> {
        let range = match self.end {
            Some(end) => format!("bytes={}-{}", self.offset, end - 1),
            None => format!("bytes={}-", self.offset),
        };
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .if_match(&self.etag)
            .range(range)
            .send()
            .await
            .map_err(|e| {
                let e = e.into_service_error();
                if e.code() == Some("PreconditionFailed") {
                    ResumeError::Changed(error_message(&e))
                } else {
                    ResumeError::Failed(error_message(&e))
                }
            })?;
        // A server that ignored the range would send the whole body again, and its start would be read twice.
        let expected = format!("bytes {}-", self.offset);
        match output.content_range() {
            Some(range) if range.starts_with(&expected) => Ok(output.body),
            range => Err(ResumeError::Failed(format!(
                "asked for bytes {}- and got content range {range:?}",
                self.offset
            ))),
        }
    }
}

/// The wait before resume attempt `attempt` (from 1): 100 ms, doubling, at most 5 s.
fn backoff(attempt: u32) -> Duration {
    RESUME_BACKOFF
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(RESUME_BACKOFF_MAX)
}

/// The objects under a prefix, one `ListObjectsV2` page (up to 1,000 keys) at a time, so loading can start while
/// listing continues. S3 returns keys in UTF-8 binary order, so pages arrive sorted by key.
pub struct Listing {
    client: Client,
    bucket: String,
    prefix: String,
    /// The continuation token of the next page.
    token: Option<String>,
    done: bool,
}

impl Listing {
    /// A listing of the keys under `prefix` in `bucket`; no request is sent until the first page is asked for.
    pub fn new(client: &Client, bucket: &str, prefix: &str) -> Self {
        Self {
            client: client.clone(),
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            token: None,
            done: false,
        }
    }

    /// The next page's objects (directory markers skipped), or `None` after the last page.
    pub async fn next_page(&mut self) -> Result<Option<Vec<ObjectVersion>>, S3Error> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&self.prefix)
            .set_continuation_token(self.token.take())
            .send()
            .await
            .map_err(|e| {
                let e = e.into_service_error();
                if aws_sdk_s3::error::ProvideErrorMetadata::code(&e) == Some("NoSuchBucket") {
                    S3Error::NoSuchBucket {
                        bucket: self.bucket.clone(),
                    }
                } else {
                    S3Error::List {
                        bucket: self.bucket.clone(),
                        prefix: self.prefix.clone(),
                        message: error_message(&e),
                    }
                }
            })?;
        self.token = page
            .next_continuation_token()
            .filter(|_| page.is_truncated() == Some(true))
            .map(str::to_owned);
        self.done = self.token.is_none();
        let objects = page
            .contents()
            .iter()
            .filter_map(|object| {
                let key = object.key().filter(|k| !k.ends_with('/'))?;
                Some(ObjectVersion::from_s3(
                    &self.bucket,
                    key,
                    object.e_tag(),
                    object.size(),
                ))
            })
            .collect();
        Ok(Some(objects))
    }
}

/// The key's current version (`HeadObject`), or `None` when the key does not exist; `Err` is S3's one-line reason.
pub async fn head(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<Option<ObjectVersion>, String> {
    match client.head_object().bucket(bucket).key(key).send().await {
        Ok(head) => Ok(Some(ObjectVersion::from_s3(
            bucket,
            key,
            head.e_tag(),
            head.content_length(),
        ))),
        Err(e) => {
            let e = e.into_service_error();
            if e.is_not_found() {
                Ok(None)
            } else {
                Err(error_message(&e))
            }
        }
    }
}

/// Opens the listed object, refusing a different content (a concurrent overwrite) with `If-Match`.
pub async fn open(client: &Client, object: &ObjectVersion) -> Result<OpenObject, ObjectError> {
    get(client, object, None).await
}

/// Opens bytes `range` of the listed object (a Parquet footer or row group), pinned like [`open`]; a break is
/// resumed within the range.
pub async fn open_range(
    client: &Client,
    object: &ObjectVersion,
    range: Range<u64>,
) -> Result<OpenObject, ObjectError> {
    get(client, object, Some(range)).await
}

async fn get(
    client: &Client,
    object: &ObjectVersion,
    range: Option<Range<u64>>,
) -> Result<OpenObject, ObjectError> {
    let output = client
        .get_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .if_match(&object.etag)
        .set_range(
            range
                .as_ref()
                .map(|r| format!("bytes={}-{}", r.start, r.end - 1)),
        )
        .send()
        .await
        .map_err(|e| {
            let message = error_message(&e.into_service_error());
            match &range {
                Some(r) => {
                    ObjectError::Download(format!("bytes {}-{}: {message}", r.start, r.end - 1))
                }
                None => ObjectError::Download(message),
            }
        })?;
    let version_id = output.version_id().unwrap_or("null").to_owned();
    let max_attempts = client.config().retry_config().map_or(
        DEFAULT_ATTEMPTS,
        aws_sdk_s3::config::retry::RetryConfig::max_attempts,
    );
    Ok(OpenObject {
        body: Body {
            client: client.clone(),
            bucket: object.bucket.clone(),
            key: object.key.clone(),
            etag: object.etag.clone(),
            end: match &range {
                Some(r) => Some(r.end),
                None => output.content_length().and_then(|l| u64::try_from(l).ok()),
            },
            stream: output.body,
            offset: range.as_ref().map_or(0, |r| r.start),
            max_attempts,
            resumes: 0,
        },
        version_id,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::source::backoff;

    #[test]
    fn resume_backoff_doubles_from_100_ms_up_to_5_s() {
        let waits: Vec<Duration> = (1..=8).map(backoff).collect();
        let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(backoff(u32::MAX), Duration::from_secs(5));
    }
}
