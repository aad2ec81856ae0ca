//! `[storage]`: the data and access-log buckets' lifecycle and `force_destroy`, read and checked.

use serde::Deserialize;

use crate::model::DataBucket;
use crate::model::config::validator::Validator;

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawStorage {
    noncurrent_version_expiration_days: u32,
    access_log_expiration_days: u32,
    force_destroy: bool,
}

impl Default for RawStorage {
    fn default() -> Self {
        Self {
            noncurrent_version_expiration_days: 90,
            access_log_expiration_days: 365,
            force_destroy: false,
        }
    }
}

impl Validator<'_> {
    pub(super) fn storage(&mut self, raw: &RawStorage) -> DataBucket {
        self.check(
            raw.noncurrent_version_expiration_days >= 1,
            "storage.noncurrent_version_expiration_days",
            "must be at least 1",
        );
        self.check(
            raw.access_log_expiration_days >= 1,
            "storage.access_log_expiration_days",
            "must be at least 1",
        );
        DataBucket {
            noncurrent_version_expiration_days: raw.noncurrent_version_expiration_days,
            access_log_expiration_days: raw.access_log_expiration_days,
            force_destroy: raw.force_destroy,
        }
    }
}
