//! Merge mode: an object's rows go by binary COPY into a temporary stage table, then one `MERGE` applies them to
//! the target table, in the object's load transaction (with its ledger row and rejects).
//!
//! Who wins between two versions of a key does not depend on the order in which objects commit: a version is
//! `(order_by value, the object's LastModified, the object's key)` and the greater one wins, ties going to the
//! newer load of the same object. A row in the table carries its object's ledger id, which gives that row's
//! version; a deleted key keeps a tombstone with its delete's version, so an older row that loads later cannot
//! bring it back. Within one object the last row of a key wins (by `order_by`, then by position).
//!
//! Applies to one table are serialised by a transaction-scoped advisory lock taken after the COPY (parsing and
//! staging still run in parallel): each apply then reads the committed result of every earlier one, which a
//! version check under concurrent `MERGE`s could not. When the object is newer than every object loaded before
//! (the usual case), its rows win against every row's object part and the apply skips joining the table's rows
//! to the ledger.
//!
//! A snapshot that changes nothing: when an object's staged rows (the binary COPY stream, under the same key,
//! `order_by` and delete marker) have the digest of the newest load before it, applying it would rewrite every row
//! it holds with the same values and only a newer version. Instead, that load's rows (and tombstones) are given
//! this object's version in the ledger (`rows_modified`, `rows_source`) and nothing in the table is rewritten:
//! every version comparison reads a row's version through its load's ledger row, so the outcome is the one a full
//! apply gives.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};
use tokio_postgres::Transaction;

use crate::error::ObjectError;
use crate::ledger::lock_key;
use crate::migrate::tombstone_table;
use crate::spec::{Dataset, Ident, Merge, OBJECT_ID_COLUMN};

/// The stage's column holding a row's position in the object, which decides between rows of one key.
const SEQ_COLUMN: &str = "etl_seq";

/// The object part of a table row's version, from its load's ledger row `o`: the load's own, unless a later load
/// with the same rows gave them its version.
const ROW_MODIFIED: &str = "COALESCE(o.rows_modified, o.last_modified)";
const ROW_SOURCE: &str = "COALESCE(o.rows_source, o.key)";

/// What one object's apply did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Merged {
    /// Keys inserted or updated.
    pub upserted: u64,
    /// Rows deleted by a delete marker.
    pub deleted: u64,
    /// The rows equal the newest earlier load's: they now carry this object's version, nothing was rewritten.
    pub unchanged: bool,
}

/// The temporary table one object's rows are staged in, and the digest of the rows sent to it.
pub struct Stage {
    name: String,
    digest: Sha256,
}

impl Stage {
    /// Creates the stage for the load `object_id` (dropped at the end of the apply, or with the transaction).
    pub async fn create(
        tx: &Transaction<'_>,
        dataset: &Dataset,
        merge: &Merge,
        object_id: i64,
    ) -> Result<Self, ObjectError> {
        let name = format!("etl_stage_{object_id}");
        let mut sql = format!("CREATE TEMP TABLE {name} (");
        for column in &dataset.columns {
            let _ = write!(sql, "{} {}, ", column.name, column.column_type);
        }
        let _ = write!(sql, "{SEQ_COLUMN} bigint NOT NULL) ON COMMIT DROP");
        tx.batch_execute(&sql)
            .await
            .map_err(|e| ObjectError::db("create the merge stage", &e))?;
        // The key, order and delete marker decide what equal rows mean (the fillfactor does not).
        let digest = Sha256::new_with_prefix(format!(
            "{:?}",
            (&merge.key, &merge.order_by, &merge.delete_when)
        ));
        Ok(Self { name, digest })
    }

    /// Adds a chunk of the COPY stream, as sent to the stage, to the rows' digest.
    pub fn digest(&mut self, chunk: &[u8]) {
        self.digest.update(chunk);
    }

    /// The stage's name, schema-qualified, for the COPY.
    pub fn table(&self) -> String {
        format!("pg_temp.{}", self.name)
    }

    /// The column the COPY's last field goes to: the row's position.
    pub fn last_column() -> &'static str {
        SEQ_COLUMN
    }

    /// Applies the staged rows of the load `object_id` (whose ledger row holds the object's `LastModified` and key)
    /// to the dataset's table, then drops the stage.
    pub async fn apply(
        self,
        tx: &Transaction<'_>,
        dataset: &Dataset,
        merge: &Merge,
        object_id: i64,
    ) -> Result<Merged, ObjectError> {
        let digest = self.digest.clone().finalize().to_vec();
        // Without statistics the planner takes the stage for a few hundred rows and looks every key up in the
        // table's primary key one by one; sampled (before the lock, so beside other objects' applies) it joins.
        // Rows that look unchanged are not joined, so they skip it (and get it under the lock if that changed).
        let analyzed = standing(tx, object_id, &digest).await?.same.is_none();
        if analyzed {
            self.analyze(tx).await?;
        }
        let table = dataset.qualified_table();
        tx.execute(
            "SELECT pg_advisory_xact_lock($1)",
            &[&lock_key("etl-merge", "", &table)],
        )
        .await
        .map_err(|e| ObjectError::db("wait for the table's merge lock", &e))?;
        let Standing {
            same: owner,
            newest,
        } = standing(tx, object_id, &digest).await?;
        let mut merged = Merged::default();
        if let Some(owner) = owner {
            carry(tx, dataset, merge, object_id, owner).await?;
            merged.unchanged = true;
        } else {
            if !analyzed {
                self.analyze(tx).await?;
            }
            let sql = Sql {
                dataset,
                merge,
                stage: &self.table(),
            };
            sql.run(tx, object_id, newest, &mut merged).await?;
        }
        tx.execute(
            "UPDATE etl_objects SET rows_sha256 = $2, rows_in = $3 WHERE id = $1",
            &[&object_id, &digest, &owner],
        )
        .await
        .map_err(|e| ObjectError::db("record the rows' digest", &e))?;
        tx.batch_execute(&format!("DROP TABLE {}", self.table()))
            .await
            .map_err(|e| ObjectError::db("drop the merge stage", &e))?;
        Ok(merged)
    }

    async fn analyze(&self, tx: &Transaction<'_>) -> Result<(), ObjectError> {
        tx.batch_execute(&format!("ANALYZE {}", self.table()))
            .await
            .map_err(|e| ObjectError::db("analyze the merge stage", &e))
    }
}

/// Where the load `$1` stands among its dataset's other loads, from the newest of them (`prev`): the load holding
/// `prev`'s rows when those had the digest `$2` and `$1` is newer (`$1`'s rows are the same, and applying them
/// would only give them `$1`'s version), and whether no other load is newer than `$1`.
const STANDING_SQL: &str = "\
    WITH me AS (SELECT id, dataset, last_modified, key FROM etl_objects WHERE id = $1), \
    prev AS (SELECT o.id, o.rows_sha256, o.rows_in, o.last_modified, o.key FROM etl_objects o, me \
      WHERE o.dataset = me.dataset AND o.id <> me.id \
      ORDER BY o.last_modified DESC, o.key DESC, o.id DESC LIMIT 1) \
    SELECT (SELECT COALESCE(prev.rows_in, prev.id) FROM prev \
        WHERE prev.rows_sha256 = $2 AND (prev.last_modified, prev.key) < (me.last_modified, me.key)), \
      NOT EXISTS (SELECT 1 FROM prev WHERE (prev.last_modified, prev.key) > (me.last_modified, me.key)) \
    FROM me";

/// See [`STANDING_SQL`].
struct Standing {
    /// The load whose rows equal this one's, as the newest before it.
    same: Option<i64>,
    /// No loaded object is newer than this one, so only `order_by` can make a table row win.
    newest: bool,
}

async fn standing(
    tx: &Transaction<'_>,
    object_id: i64,
    digest: &[u8],
) -> Result<Standing, ObjectError> {
    let row = tx
        .query_one(STANDING_SQL, &[&object_id, &digest])
        .await
        .map_err(|e| ObjectError::db("compare the object with the loaded ones", &e))?;
    Ok(Standing {
        same: row.get(0),
        newest: row.get(1),
    })
}

/// Gives the rows and tombstones of the load `owner` the version of the load `object_id`, whose rows are the same.
async fn carry(
    tx: &Transaction<'_>,
    dataset: &Dataset,
    merge: &Merge,
    object_id: i64,
    owner: i64,
) -> Result<(), ObjectError> {
    tx.execute(
        "UPDATE etl_objects o SET rows_modified = me.last_modified, rows_source = me.key \
         FROM etl_objects me WHERE o.id = $2 AND me.id = $1",
        &[&object_id, &owner],
    )
    .await
    .map_err(|e| ObjectError::db("give the rows this object's version", &e))?;
    if merge.delete_when.is_some() {
        tx.execute(
            &format!(
                "UPDATE {} d SET etl_modified = me.last_modified, etl_source = me.key \
                 FROM etl_objects me WHERE me.id = $1 AND d.\"{OBJECT_ID_COLUMN}\" = $2",
                tombstone_table(dataset)
            ),
            &[&object_id, &owner],
        )
        .await
        .map_err(|e| ObjectError::db("give the tombstones this object's version", &e))?;
    }
    Ok(())
}

/// The apply's statements for one dataset and stage. `$1` is the load's ledger id, `$2` the delete marker.
struct Sql<'a> {
    dataset: &'a Dataset,
    merge: &'a Merge,
    stage: &'a str,
}

impl Sql<'_> {
    /// The delete markers, then the upserts (`newest`: see [`Standing`]).
    async fn run(
        &self,
        tx: &Transaction<'_>,
        object_id: i64,
        newest: bool,
        merged: &mut Merged,
    ) -> Result<(), ObjectError> {
        let marker = self.merge.delete_when.as_ref().map(|d| d.equals.as_str());
        if let Some(marker) = marker {
            let row = tx
                .query_one(&self.deletes(), &[&object_id, &marker])
                .await
                .map_err(|e| ObjectError::db("apply the delete markers", &e))?;
            merged.deleted = u64::try_from(row.get::<_, i64>(0)).unwrap_or_default();
        }
        let upserts = self.upserts(newest);
        merged.upserted = match marker {
            Some(marker) => tx.execute(&upserts, &[&object_id, &marker]).await,
            None => tx.execute(&upserts, &[&object_id]).await,
        }
        .map_err(|e| ObjectError::db("merge the rows", &e))?;
        Ok(())
    }

    /// `me` (the object's version) and `latest` (the stage, one row per key: the greatest `order_by`, then the
    /// last in the object).
    fn with(&self) -> String {
        let key = list(&self.merge.key, "");
        let order = self
            .merge
            .order_by
            .as_ref()
            .map(|o| format!("{o} DESC, "))
            .unwrap_or_default();
        format!(
            "WITH me AS (SELECT last_modified, key FROM etl_objects WHERE id = $1), \
             latest AS (SELECT DISTINCT ON ({key}) * FROM {} ORDER BY {key}, {order}{SEQ_COLUMN} DESC)",
            self.stage
        )
    }

    /// A row's version: `(order_by, LastModified, key)` of the row `alias`, whose object part is in `object`.
    fn version(&self, alias: &str, modified: &str, source: &str) -> String {
        match &self.merge.order_by {
            Some(order_by) => format!("({alias}.{order_by}, {modified}, {source})"),
            None => format!("({modified}, {source})"),
        }
    }

    /// `a.k = b.k AND ...` over the key.
    fn key_equal(&self, a: &str, b: &str) -> String {
        let parts: Vec<String> = self
            .merge
            .key
            .iter()
            .map(|k| format!("{a}.{k} = {b}.{k}"))
            .collect();
        parts.join(" AND ")
    }

    /// The marker condition on the row `alias` (NULL is no marker).
    fn is_marker(&self, alias: &str) -> Option<String> {
        self.merge
            .delete_when
            .as_ref()
            .map(|d| format!("({alias}.{}::text = $2)", d.column))
    }

    /// Deletes the rows older than a delete marker of this object and keeps each marker's key as a tombstone
    /// (the newer of the stored and this one). Returns the deleted rows' count.
    fn deletes(&self) -> String {
        let table = self.dataset.qualified_table();
        let tomb = tombstone_table(self.dataset);
        let mine = self.version("d", "me.last_modified", "me.key");
        let marker = self.is_marker("l").unwrap_or_default();
        let typed: Vec<Ident> = self
            .merge
            .key
            .iter()
            .chain(&self.merge.order_by)
            .cloned()
            .collect();
        let columns = list(&typed, "");
        let values = list(&typed, "d.");
        let updated: Vec<String> = self
            .merge
            .order_by
            .iter()
            .map(ToString::to_string)
            .chain(
                [
                    "etl_modified",
                    "etl_source",
                    &format!("\"{OBJECT_ID_COLUMN}\""),
                ]
                .map(String::from),
            )
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        format!(
            "{with}, dead AS (SELECT * FROM latest l WHERE {marker}), \
             gone AS (DELETE FROM {table} t USING dead d, etl_objects o, me \
               WHERE {key_equal} AND o.id = t.\"{OBJECT_ID_COLUMN}\" AND {mine} >= {theirs} RETURNING 1), \
             kept AS (INSERT INTO {tomb} AS x ({columns}, etl_modified, etl_source, \"{OBJECT_ID_COLUMN}\") \
               SELECT {values}, me.last_modified, me.key, $1 FROM dead d, me \
               ON CONFLICT ({key}) DO UPDATE SET {updated} WHERE {newer} >= {older} RETURNING 1) \
             SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM kept)",
            with = self.with(),
            key_equal = self.key_equal("t", "d"),
            theirs = self.version("t", ROW_MODIFIED, ROW_SOURCE),
            key = list(&self.merge.key, ""),
            updated = updated.join(", "),
            newer = self.version("excluded", "excluded.etl_modified", "excluded.etl_source"),
            older = self.version("x", "x.etl_modified", "x.etl_source"),
        )
    }

    /// Inserts or updates the keys whose staged row is newer than both the table's row and the key's tombstone.
    /// `newest`: no loaded object is newer than this one, so only `order_by` can make a table row win.
    fn upserts(&self, newest: bool) -> String {
        let table = self.dataset.qualified_table();
        let mine = self.version("l", "me.last_modified", "me.key");
        let mut from = "latest l CROSS JOIN me".to_owned();
        let mut filters = Vec::new();
        if let Some(marker) = self.is_marker("l") {
            filters.push(format!("{marker} IS NOT TRUE"));
            let tomb = tombstone_table(self.dataset);
            let _ = write!(from, " LEFT JOIN {tomb} d ON {}", self.key_equal("d", "l"));
            filters.push(format!(
                "(d.{} IS NULL OR {mine} >= {})",
                self.merge.key[0],
                self.version("d", "d.etl_modified", "d.etl_source")
            ));
        }
        let matched = if newest {
            self.merge
                .order_by
                .as_ref()
                .map(|o| format!(" AND s.{o} >= t.{o}"))
                .unwrap_or_default()
        } else {
            let _ = write!(
                from,
                " LEFT JOIN {table} c ON {} LEFT JOIN etl_objects o ON o.id = c.\"{OBJECT_ID_COLUMN}\"",
                self.key_equal("c", "l")
            );
            filters.push(format!(
                "(c.{} IS NULL OR {mine} >= {})",
                self.merge.key[0],
                self.version("c", ROW_MODIFIED, ROW_SOURCE)
            ));
            String::new()
        };
        let filter = if filters.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", filters.join(" AND "))
        };
        let columns: Vec<Ident> = self
            .dataset
            .columns
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let mut sets: Vec<String> = columns
            .iter()
            .filter(|c| !self.merge.key.contains(c))
            .map(|c| format!("{c} = s.{c}"))
            .collect();
        sets.push(format!("\"{OBJECT_ID_COLUMN}\" = $1"));
        format!(
            "{with} MERGE INTO {table} t USING (SELECT l.* FROM {from}{filter}) s ON {on} \
             WHEN MATCHED{matched} THEN UPDATE SET {sets} \
             WHEN NOT MATCHED THEN INSERT ({columns}, \"{OBJECT_ID_COLUMN}\") VALUES ({values}, $1)",
            with = self.with(),
            on = self.key_equal("t", "s"),
            sets = sets.join(", "),
            columns = list(&columns, ""),
            values = list(&columns, "s."),
        )
    }
}

/// Quoted identifiers with a prefix (`"a", "b"` or `s."a", s."b"`).
fn list(names: &[Ident], prefix: &str) -> String {
    let parts: Vec<String> = names.iter().map(|n| format!("{prefix}{n}")).collect();
    parts.join(", ")
}
