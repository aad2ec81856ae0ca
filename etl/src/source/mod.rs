//! The S3 source: list the objects under a prefix, resolve one key's current version, and stream one object's
//! body.
//!
//! Listing (`ListObjectsV2`) returns metadata only: keys, ETags, sizes. The ETag identifies an object's content, so
//! the ledger can tell a loaded object from a changed one without listing versions. `GetObject` is pinned to the
//! listed ETag (`If-Match`) and reports the version id it served, which the ledger records. Bodies are streamed
//! chunk by chunk as S3 sends them, so an object of any size costs a few chunks of memory.

pub mod csv;
pub mod jsonl;
pub mod parquet;
pub mod text;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;

use crate::aws::error_message;
use crate::error::{ObjectError, S3Error};

/// One object to load, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    pub bucket: String,
    pub key: String,
    pub etag: String,
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
    pub body: ByteStream,
    pub version_id: String,
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
    let output = client
        .get_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .if_match(&object.etag)
        .send()
        .await
        .map_err(|e| ObjectError::Download(error_message(&e.into_service_error())))?;
    let version_id = output.version_id().unwrap_or("null").to_owned();
    Ok(OpenObject {
        body: output.body,
        version_id,
    })
}
