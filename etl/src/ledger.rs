//! The ledger: claims, exactly-once bookkeeping and rejects, all inside the object's load transaction.
//!
//! Per object, in one transaction: take a transaction-scoped advisory lock on (dataset, bucket, key) without
//! waiting (another loader holding it is loading that key: skip it); look up the key's current ledger row (same
//! ETag, i.e. same content: already loaded, skip); supersede an older version (delete its rows and rejects);
//! insert the new ledger row with the version id S3 served; COPY; insert rejects; record the counts; commit.
//! Nothing of an object is visible until the commit, and a crash anywhere rolls all of it back, so each object
//! version is loaded once. When small objects share a transaction, each runs these steps in its own savepoint of
//! it: a failed object rolls back to its savepoint, the others commit together. The claim never waits, so loaders
//! claiming keys in any order cannot deadlock.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};
use tokio_postgres::{Client, Transaction};

use crate::error::{DbError, ObjectError};
use crate::source::ObjectVersion;

/// A rejected row, kept until the object's COPY is done.
#[derive(Debug, Clone)]
pub struct Reject {
    /// The line the rejected row starts on (for Parquet, its 1-based row index).
    pub line: u64,
    /// The row as read, re-encoded as one CSV line.
    pub record: String,
    /// Why the row was rejected.
    pub reason: String,
}

/// The key's current load, if any.
#[derive(Debug)]
struct Current {
    id: i64,
    etag: String,
}

/// The advisory lock key for one S3 key of one dataset (64 bits of SHA-256: collisions are negligible, and a
/// collision would only make one loader skip a key that the next run picks up).
pub fn lock_key(dataset: &str, bucket: &str, key: &str) -> i64 {
    let digest = Sha256::new()
        .chain_update(dataset)
        .chain_update([0])
        .chain_update(bucket)
        .chain_update([0])
        .chain_update(key)
        .finalize();
    let mut first = [0; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// Tries to claim the key for this transaction; `false` means another loader holds it.
async fn try_claim(
    tx: &Transaction<'_>,
    dataset: &str,
    object: &ObjectVersion,
) -> Result<bool, ObjectError> {
    let key = lock_key(dataset, &object.bucket, &object.key);
    let row = tx
        .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&key])
        .await
        .map_err(|e| ObjectError::db("claim the object", &e))?;
    Ok(row.get(0))
}

/// The keys among `objects` (one listing page of one bucket) whose current load has the listed ETag: one query
/// per page, so a run with nothing new costs about one listing. Only a pre-filter: each load still checks the
/// ledger under its claim.
pub async fn loaded_keys(
    client: &Client,
    dataset: &str,
    bucket: &str,
    objects: &[ObjectVersion],
) -> Result<BTreeSet<String>, DbError> {
    let keys: Vec<&str> = objects.iter().map(|o| o.key.as_str()).collect();
    let etags: Vec<&str> = objects.iter().map(|o| o.etag.as_str()).collect();
    let rows = client
        .query(
            "SELECT l.key FROM unnest($3::text[], $4::text[]) AS l(key, etag) \
             JOIN etl_objects o ON o.dataset = $1 AND o.bucket = $2 AND o.key = l.key AND o.etag = l.etag \
             AND o.superseded_at IS NULL",
            &[&dataset, &bucket, &keys, &etags],
        )
        .await
        .map_err(|e| DbError::query("compare the listing with the ledger", &e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// What the ledger decides for one object version, under the key's claim, before anything is read from S3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Load it; `replaced` rows of the key's previous version were deleted in this transaction.
    Load {
        /// Rows of the key's previous version deleted in this transaction (0 for a first load).
        replaced: u64,
    },
    /// The key's current load has this ETag: final, nothing to do.
    AlreadyLoaded,
    /// Another loader holds the key's claim; its load may still fail, so the caller may retry later.
    Busy,
}

/// The one place a load is skipped or goes ahead: claims the key (never waiting), compares the current load's
/// ETag, and supersedes an older version. `reprocess` loads the same content again.
pub async fn decide(
    tx: &Transaction<'_>,
    dataset: &str,
    table: &str,
    object: &ObjectVersion,
    reprocess: bool,
) -> Result<Decision, ObjectError> {
    if !try_claim(tx, dataset, object).await? {
        return Ok(Decision::Busy);
    }
    let Some(current) = current(tx, dataset, object).await? else {
        return Ok(Decision::Load { replaced: 0 });
    };
    if current.etag == object.etag && !reprocess {
        return Ok(Decision::AlreadyLoaded);
    }
    let replaced = supersede(tx, table, current.id).await?;
    Ok(Decision::Load { replaced })
}

/// The key's current ledger row.
async fn current(
    tx: &Transaction<'_>,
    dataset: &str,
    object: &ObjectVersion,
) -> Result<Option<Current>, ObjectError> {
    let row = tx
        .query_opt(
            "SELECT id, etag FROM etl_objects \
             WHERE dataset = $1 AND bucket = $2 AND key = $3 AND superseded_at IS NULL",
            &[&dataset, &object.bucket, &object.key],
        )
        .await
        .map_err(|e| ObjectError::db("read the ledger", &e))?;
    Ok(row.map(|r| Current {
        id: r.get(0),
        etag: r.get(1),
    }))
}

/// Removes a previous load's rows and rejects and marks its ledger row superseded.
async fn supersede(tx: &Transaction<'_>, table: &str, id: i64) -> Result<u64, ObjectError> {
    let deleted = tx
        .execute(
            &format!(
                "DELETE FROM {table} WHERE \"{}\" = $1",
                crate::spec::OBJECT_ID_COLUMN
            ),
            &[&id],
        )
        .await
        .map_err(|e| ObjectError::db("delete the previous load's rows", &e))?;
    tx.execute("DELETE FROM etl_rejects WHERE object_id = $1", &[&id])
        .await
        .map_err(|e| ObjectError::db("delete the previous load's rejects", &e))?;
    tx.execute(
        "UPDATE etl_objects SET superseded_at = clock_timestamp() WHERE id = $1",
        &[&id],
    )
    .await
    .map_err(|e| ObjectError::db("supersede the previous load", &e))?;
    Ok(deleted)
}

/// Inserts the ledger row for this load and returns its id.
pub async fn begin(
    tx: &Transaction<'_>,
    dataset: &str,
    object: &ObjectVersion,
    version_id: &str,
) -> Result<i64, ObjectError> {
    let size = i64::try_from(object.size).unwrap_or(i64::MAX);
    let row = tx
        .query_one(
            "INSERT INTO etl_objects (dataset, bucket, key, version_id, etag, size_bytes) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &dataset,
                &object.bucket,
                &object.key,
                &version_id,
                &object.etag,
                &size,
            ],
        )
        .await
        .map_err(|e| ObjectError::db("insert the ledger row", &e))?;
    Ok(row.get(0))
}

/// Writes the rejects and the final counts.
pub async fn complete(
    tx: &Transaction<'_>,
    id: i64,
    rows: u64,
    rejects: &[Reject],
) -> Result<(), ObjectError> {
    if !rejects.is_empty() {
        let lines: Vec<i64> = rejects
            .iter()
            .map(|r| i64::try_from(r.line).unwrap_or(i64::MAX))
            .collect();
        let records: Vec<&str> = rejects.iter().map(|r| r.record.as_str()).collect();
        let reasons: Vec<&str> = rejects.iter().map(|r| r.reason.as_str()).collect();
        tx.execute(
            "INSERT INTO etl_rejects (object_id, line, record, reason) \
             SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[])",
            &[&id, &lines, &records, &reasons],
        )
        .await
        .map_err(|e| ObjectError::db("insert the rejects", &e))?;
    }
    let rows = i64::try_from(rows).unwrap_or(i64::MAX);
    let rejected = i64::try_from(rejects.len()).unwrap_or(i64::MAX);
    tx.execute(
        "UPDATE etl_objects SET rows_loaded = $2, rows_rejected = $3, finished_at = clock_timestamp() WHERE id = $1",
        &[&id, &rows, &rejected],
    )
    .await
    .map_err(|e| ObjectError::db("update the ledger row", &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::ledger::lock_key;

    #[test]
    fn lock_keys_separate_fields() {
        assert_ne!(lock_key("d", "b", "k1"), lock_key("d", "b", "k2"));
        assert_ne!(lock_key("d", "bk", "1"), lock_key("d", "b", "k1"));
        assert_eq!(lock_key("d", "b", "k"), lock_key("d", "b", "k"));
    }
}
