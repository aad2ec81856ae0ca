//! The S3 source: list the latest version of every object under a prefix, and stream one object's body.
//!
//! Listing returns metadata only (keys, version ids, ETags); bodies are streamed chunk by chunk as S3 sends them,
//! so an object of any size costs a few chunks of memory. A `GetObject` pins the listed version and ETag, so what
//! is loaded is exactly what the ledger records.

pub mod csv;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;

use crate::aws::error_message;
use crate::error::{ObjectError, S3Error};

/// One object version to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    pub bucket: String,
    pub key: String,
    /// `"null"` in an unversioned bucket, as S3 itself reports it.
    pub version_id: String,
    pub etag: String,
    pub size: u64,
}

/// Lists the latest version of every object under `prefix`, sorted by key (directory markers skipped).
pub async fn list(
    client: &Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<ObjectVersion>, S3Error> {
    let mut objects = Vec::new();
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let page = client
            .list_object_versions()
            .bucket(bucket)
            .prefix(prefix)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
            .map_err(|e| {
                let e = e.into_service_error();
                if aws_sdk_s3::error::ProvideErrorMetadata::code(&e) == Some("NoSuchBucket") {
                    S3Error::NoSuchBucket {
                        bucket: bucket.to_owned(),
                    }
                } else {
                    S3Error::List {
                        bucket: bucket.to_owned(),
                        prefix: prefix.to_owned(),
                        message: error_message(&e),
                    }
                }
            })?;
        for version in page.versions() {
            let (Some(key), Some(true)) = (version.key(), version.is_latest()) else {
                continue;
            };
            if key.ends_with('/') {
                continue;
            }
            objects.push(ObjectVersion {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                version_id: version.version_id().unwrap_or("null").to_owned(),
                etag: version.e_tag().unwrap_or_default().to_owned(),
                size: version
                    .size()
                    .and_then(|s| u64::try_from(s).ok())
                    .unwrap_or(0),
            });
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        version_marker = page.next_version_id_marker().map(str::to_owned);
    }
    objects.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(objects)
}

/// Opens the listed version's body as a stream.
pub async fn open(client: &Client, object: &ObjectVersion) -> Result<ByteStream, ObjectError> {
    let mut request = client
        .get_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .if_match(&object.etag);
    if object.version_id != "null" {
        request = request.version_id(&object.version_id);
    }
    let output = request
        .send()
        .await
        .map_err(|e| ObjectError::Download(error_message(&e.into_service_error())))?;
    Ok(output.body)
}
