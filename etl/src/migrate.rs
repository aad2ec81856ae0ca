//! Schema setup: the ledger and rejects tables, and the dataset's target table, created idempotently and evolved
//! additively.
//!
//! `etl migrate` runs this explicitly and `etl process` runs it on start. A transaction-scoped advisory lock
//! serialises concurrent runs (two `CREATE TABLE IF NOT EXISTS` or `ADD COLUMN` racing can otherwise fail). An
//! existing target table is compared with the spec first and altered only after: a spec column it lacks is added
//! as a nullable column (earlier rows read NULL); a changed type or a column the spec no longer has is refused
//! with every difference on one line, and nothing is altered, because a type change or a dropped column loses or
//! rewrites data that only a person can judge.

use std::fmt::{self, Write};

use tokio_postgres::{Client, Transaction};
use tracing::info;

use crate::error::{DbError, pg_message};
use crate::spec::{
    Column, ColumnType, Dataset, HIDDEN_PREFIX, Ident, Merge, OBJECT_ID_COLUMN, TOMBSTONE_SUFFIX,
};

const LEDGER_SQL: &str = include_str!("../migrations/0001_ledger.sql");
const RECENCY_SQL: &str = include_str!("../migrations/0002_object_recency.sql");
const ROWS_DIGEST_SQL: &str = include_str!("../migrations/0003_rows_digest.sql");

/// Arbitrary constant key for the migration advisory lock ("etl-migr").
const MIGRATION_LOCK: i64 = 0x6574_6c2d_6d69_6772;

/// The target table's DDL, derived from the spec.
pub fn target_table_sql(dataset: &Dataset) -> String {
    let mut sql = String::new();
    if let Some(schema) = &dataset.schema {
        let _ = writeln!(sql, "CREATE SCHEMA IF NOT EXISTS {schema};");
    }
    let table = dataset.qualified_table();
    let _ = writeln!(sql, "CREATE TABLE IF NOT EXISTS {table} (");
    for column in &dataset.columns {
        let null = if column.nullable { "" } else { " NOT NULL" };
        let _ = writeln!(sql, "    {} {}{null},", column.name, column.column_type);
    }
    let _ = write!(sql, "    \"{OBJECT_ID_COLUMN}\" bigint NOT NULL");
    let Some(merge) = dataset.write.merge() else {
        // Append mode deletes an object's rows when a new version of it loads: by this index.
        let _ = writeln!(sql, "\n);");
        let index = format!("\"{}_{OBJECT_ID_COLUMN}_idx\"", dataset.table.as_str());
        let _ = writeln!(
            sql,
            "CREATE INDEX IF NOT EXISTS {index} ON {table} (\"{OBJECT_ID_COLUMN}\");"
        );
        return sql;
    };
    let _ = writeln!(
        sql,
        ",\n    PRIMARY KEY ({})\n) WITH (fillfactor = {});",
        key_list(merge),
        merge.fillfactor
    );
    if merge.delete_when.is_some() {
        let _ = writeln!(
            sql,
            "CREATE TABLE IF NOT EXISTS {} (",
            tombstone_table(dataset)
        );
        let typed = merge.key.iter().chain(&merge.order_by);
        for name in typed {
            if let Some(column) = dataset.columns.iter().find(|c| &c.name == name) {
                let _ = writeln!(sql, "    {name} {} NOT NULL,", column.column_type);
            }
        }
        let _ = writeln!(
            sql,
            "    etl_modified timestamptz NOT NULL,\n    etl_source text NOT NULL,\n    \
             \"{OBJECT_ID_COLUMN}\" bigint NOT NULL,\n    PRIMARY KEY ({})\n);",
            key_list(merge)
        );
    }
    sql
}

/// The key columns, quoted, comma-separated.
fn key_list(merge: &Merge) -> String {
    let key: Vec<String> = merge.key.iter().map(ToString::to_string).collect();
    key.join(", ")
}

/// The table of deleted keys beside a merged table with a delete marker: each key's newest delete, with its
/// version, so an older row that loads later cannot bring the key back.
pub fn tombstone_table(dataset: &Dataset) -> String {
    let name = format!("\"{}{TOMBSTONE_SUFFIX}\"", dataset.table.as_str());
    match &dataset.schema {
        Some(schema) => format!("{schema}.{name}"),
        None => name,
    }
}

/// Merge mode: the table's primary key must be the spec's key, and its `fillfactor` the spec's.
async fn ensure_merge_table(
    tx: &Transaction<'_>,
    dataset: &Dataset,
    merge: &Merge,
) -> Result<(), DbError> {
    let table = dataset.qualified_table();
    let row = tx
        .query_one(
            "SELECT (SELECT array_agg(a.attname::text ORDER BY k.n) FROM pg_index i \
               CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) \
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
               WHERE i.indrelid = c.oid AND i.indisprimary), \
             (SELECT option_value FROM pg_options_to_table(c.reloptions) WHERE option_name = 'fillfactor') \
             FROM pg_class c WHERE c.oid = $1::text::regclass",
            &[&table],
        )
        .await
        .map_err(|e| DbError::query("read the target table's primary key and fillfactor", &e))?;
    ensure_key(tx, &table, merge, row.get(0)).await?;
    ensure_fillfactor(tx, &table, merge, row.get(1)).await
}

/// The primary key `existing` must be the spec's key. A table without one gets it (which fails, naming a duplicate,
/// when the table holds the same key twice); a table with another refuses to load.
async fn ensure_key(
    tx: &Transaction<'_>,
    table: &str,
    merge: &Merge,
    existing: Option<Vec<String>>,
) -> Result<(), DbError> {
    let wanted: Vec<&str> = merge.key.iter().map(Ident::as_str).collect();
    match existing {
        Some(existing) if existing == wanted => Ok(()),
        Some(existing) => Err(DbError::Schema {
            table: table.to_owned(),
            message: format!(
                "its primary key is ({}) but write.key is ({}); change write.key back, or move the data to a new \
                 table",
                existing.join(", "),
                wanted.join(", ")
            ),
        }),
        None => {
            let sql = format!("ALTER TABLE {table} ADD PRIMARY KEY ({})", key_list(merge));
            tx.batch_execute(&sql)
                .await
                .map_err(|e| DbError::Schema {
                    table: table.to_owned(),
                    message: format!(
                        "cannot make ({}) its primary key: {}; remove the duplicate or NULL keys, or load into a new \
                         table",
                        wanted.join(", "),
                        pg_message(&e)
                    ),
                })?;
            info!(table = %table, key = %wanted.join(","), "Added the merge key as the primary key.");
            Ok(())
        }
    }
}

/// The table's `fillfactor` (`existing`, none when PostgreSQL's default of 100) follows the spec's; a change
/// applies to the pages written from then on. Altered only when it differs, so a run with nothing to change writes
/// nothing to the catalog.
async fn ensure_fillfactor(
    tx: &Transaction<'_>,
    table: &str,
    merge: &Merge,
    existing: Option<String>,
) -> Result<(), DbError> {
    let existing = existing.unwrap_or_else(|| "100".to_owned());
    let wanted = merge.fillfactor.to_string();
    if existing != wanted {
        tx.batch_execute(&format!("ALTER TABLE {table} SET (fillfactor = {wanted})"))
            .await
            .map_err(|e| DbError::query("set the target table's fillfactor", &e))?;
        info!(table = %table, from = %existing, to = %wanted, "Set the table's fillfactor.");
    }
    Ok(())
}

/// Creates the ledger, rejects and target tables if missing, then brings the target table to the spec by adding
/// the columns it lacks, or refuses (see the module header); in merge mode, the key must be its primary key.
pub async fn migrate(client: &mut Client, dataset: &Dataset) -> Result<(), DbError> {
    let tx = client
        .transaction()
        .await
        .map_err(|e| DbError::query("begin the migration", &e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| DbError::query("take the migration lock", &e))?;
    // "already exists, skipping" notices on every run are noise in the logs.
    tx.batch_execute("SET LOCAL client_min_messages = warning")
        .await
        .map_err(|e| DbError::query("set the migration's message level", &e))?;
    tx.batch_execute(LEDGER_SQL)
        .await
        .map_err(|e| DbError::query("create the ledger tables", &e))?;
    // `ALTER TABLE` locks the ledger exclusively even when the column exists, and loads in flight hold it: only
    // the first migration may run it (the migration lock makes the check and the change one step).
    for (column, sql, what) in [
        (
            "last_modified",
            RECENCY_SQL,
            "add the ledger's object recency",
        ),
        (
            "rows_sha256",
            ROWS_DIGEST_SQL,
            "add the ledger's row digests",
        ),
    ] {
        let present: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'etl_objects'::regclass \
                 AND attname = $1 AND NOT attisdropped)",
                &[&column],
            )
            .await
            .map_err(|e| DbError::query("read the ledger's columns", &e))?
            .get(0);
        if !present {
            tx.batch_execute(sql)
                .await
                .map_err(|e| DbError::query(what, &e))?;
        }
    }
    tx.batch_execute(&target_table_sql(dataset))
        .await
        .map_err(|e| DbError::query("create the target table", &e))?;
    let existing = table_columns(&tx, dataset).await?;
    let missing = plan(dataset, &existing).map_err(|refusals| DbError::Schema {
        table: dataset.qualified_table(),
        message: refusals
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    })?;
    add_columns(&tx, dataset, &missing).await?;
    if let Some(merge) = dataset.write.merge() {
        ensure_merge_table(&tx, dataset, merge).await?;
    }
    tx.commit()
        .await
        .map_err(|e| DbError::query("commit the migration", &e))?;
    info!(dataset = %dataset.name, table = %dataset.qualified_table(), "Schema is up to date.");
    Ok(())
}

/// A column of the existing target table, as PostgreSQL names its type (`format_type`).
#[derive(Debug)]
struct TableColumn {
    name: String,
    type_name: String,
}

/// The target table's columns, in order.
async fn table_columns(
    tx: &Transaction<'_>,
    dataset: &Dataset,
) -> Result<Vec<TableColumn>, DbError> {
    let rows = tx
        .query(
            "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute \
             WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            &[&dataset.qualified_table()],
        )
        .await
        .map_err(|e| DbError::query("read the target table's columns", &e))?;
    Ok(rows
        .iter()
        .map(|r| TableColumn {
            name: r.get(0),
            type_name: r.get(1),
        })
        .collect())
}

/// Why an existing table cannot be brought to the spec by adding columns; each says what to do instead.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// The table's column has another type than the spec's.
    TypeChanged {
        column: String,
        table_type: String,
        spec_type: ColumnType,
    },
    /// The table has a column the spec no longer names.
    Removed { column: String, table_type: String },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TypeChanged {
                column,
                table_type,
                spec_type,
            } => write!(
                f,
                "column {column} is {table_type} in the table but {spec_type} in the spec (etl never changes \
                 a column's type: add a new column and backfill it, or migrate the table by hand)"
            ),
            Self::Removed { column, table_type } => write!(
                f,
                "column {column} ({table_type}) is in the table but not in the spec (etl never drops a \
                 column: keep it in the spec, or drop it by hand if its values may go)"
            ),
        }
    }
}

/// Compares the existing table with the spec: the spec columns to add, or every reason to refuse. Types are
/// compared in the spec's vocabulary (`format_type`'s `character varying(10)` is `varchar(10)`); nullability is
/// not compared, because a column added to a table with rows must be nullable whatever the spec says (the
/// transform still rejects a NULL the spec forbids).
fn plan<'a>(dataset: &'a Dataset, table: &[TableColumn]) -> Result<Vec<&'a Column>, Vec<Refusal>> {
    // A type PostgreSQL names that no spec can (`money`, `json`) is shown as PostgreSQL writes it.
    let canonical = |type_name: &str| {
        ColumnType::parse(type_name).map_or_else(|_| type_name.to_owned(), |t| t.to_string())
    };
    let mut refusals = Vec::new();
    let mut missing = Vec::new();
    for column in &dataset.columns {
        match table.iter().find(|t| t.name == column.name.as_str()) {
            None => missing.push(column),
            Some(existing) if ColumnType::parse(&existing.type_name) != Ok(column.column_type) => {
                refusals.push(Refusal::TypeChanged {
                    column: existing.name.clone(),
                    table_type: canonical(&existing.type_name),
                    spec_type: column.column_type,
                });
            }
            Some(_) => {}
        }
    }
    for existing in table {
        if !existing.name.starts_with(HIDDEN_PREFIX)
            && !dataset
                .columns
                .iter()
                .any(|c| c.name.as_str() == existing.name)
        {
            refusals.push(Refusal::Removed {
                column: existing.name.clone(),
                table_type: canonical(&existing.type_name),
            });
        }
    }
    if refusals.is_empty() {
        Ok(missing)
    } else {
        Err(refusals)
    }
}

/// Adds the spec columns the table lacks, as nullable columns (earlier rows read NULL), logging each.
async fn add_columns(
    tx: &Transaction<'_>,
    dataset: &Dataset,
    columns: &[&Column],
) -> Result<(), DbError> {
    let table = dataset.qualified_table();
    for column in columns {
        tx.batch_execute(&format!(
            "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {} {}",
            column.name, column.column_type
        ))
        .await
        .map_err(|e| DbError::query("add a column to the target table", &e))?;
        info!(dataset = %dataset.name, table = %table, column = column.name.as_str(),
              column_type = %column.column_type, "Added a column.");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::migrate::{Refusal, TableColumn, plan, target_table_sql};
    use crate::spec::{ColumnType, Dataset};

    const SPEC: &str = "name = \"x\"\ntable = \"t\"\n[[columns]]\nname = \"id\"\ntype = \"BIGINT\"\n\
                        [[columns]]\nname = \"code\"\ntype = \"varchar(10)\"\n\
                        [[columns]]\nname = \"at\"\ntype = \"timestamptz\"\nnullable = false\n";

    fn table(columns: &[(&str, &str)]) -> Vec<TableColumn> {
        columns
            .iter()
            .map(|(name, type_name)| TableColumn {
                name: (*name).to_owned(),
                type_name: (*type_name).to_owned(),
            })
            .collect()
    }

    #[test]
    fn target_table_ddl_follows_the_spec() {
        let spec = "name = \"x\"\ntable = \"ml.features\"\n[[columns]]\nname = \"id\"\ntype = \"BIGINT\"\n\
                    nullable = false\n[[columns]]\nname = \"score\"\ntype = \"numeric(5,2)\"\n";
        let dataset = Dataset::parse(Path::new("x.toml"), spec).unwrap();
        assert_eq!(
            target_table_sql(&dataset),
            "CREATE SCHEMA IF NOT EXISTS \"ml\";\n\
             CREATE TABLE IF NOT EXISTS \"ml\".\"features\" (\n    \"id\" bigint NOT NULL,\n    \
             \"score\" numeric(5,2),\n    \"etl_object_id\" bigint NOT NULL\n);\n\
             CREATE INDEX IF NOT EXISTS \"features_etl_object_id_idx\" ON \"ml\".\"features\" (\"etl_object_id\");\n"
        );
    }

    #[test]
    fn a_merged_table_has_its_key_and_fillfactor() {
        let spec = "name = \"x\"\ntable = \"t\"\n[write]\nmode = \"merge\"\nkey = [\"id\"]\nfillfactor = 80\n\
                    [[columns]]\nname = \"id\"\ntype = \"bigint\"\nnullable = false\n";
        let dataset = Dataset::parse(Path::new("x.toml"), spec).unwrap();
        assert_eq!(
            target_table_sql(&dataset),
            "CREATE TABLE IF NOT EXISTS \"t\" (\n    \"id\" bigint NOT NULL,\n    \"etl_object_id\" bigint NOT NULL,\n    \
             PRIMARY KEY (\"id\")\n) WITH (fillfactor = 80);\n"
        );
    }

    #[test]
    fn a_table_matching_in_postgresql_words_needs_nothing_and_a_new_spec_column_is_added() {
        let dataset = Dataset::parse(Path::new("x.toml"), SPEC).unwrap();
        let same = table(&[
            ("id", "bigint"),
            ("code", "character varying(10)"),
            ("at", "timestamp with time zone"),
            ("etl_object_id", "bigint"),
            ("etl_later", "text"),
        ]);
        assert!(plan(&dataset, &same).unwrap().is_empty());
        let older = table(&[("id", "bigint"), ("etl_object_id", "bigint")]);
        let added: Vec<&str> = plan(&dataset, &older)
            .unwrap()
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(added, ["code", "at"]);
    }

    #[test]
    fn changed_types_and_removed_columns_are_all_refused() {
        let dataset = Dataset::parse(Path::new("x.toml"), SPEC).unwrap();
        let changed = table(&[
            ("id", "integer"),
            ("code", "character varying(20)"),
            ("gone", "money"),
            ("etl_object_id", "bigint"),
        ]);
        let refusals = plan(&dataset, &changed).unwrap_err();
        assert_eq!(
            refusals,
            [
                Refusal::TypeChanged {
                    column: "id".to_owned(),
                    table_type: "integer".to_owned(),
                    spec_type: ColumnType::BigInt
                },
                Refusal::TypeChanged {
                    column: "code".to_owned(),
                    table_type: "varchar(20)".to_owned(),
                    spec_type: ColumnType::Varchar(10)
                },
                Refusal::Removed {
                    column: "gone".to_owned(),
                    table_type: "money".to_owned()
                },
            ]
        );
        assert_eq!(
            refusals[0].to_string(),
            "column id is integer in the table but bigint in the spec (etl never changes a column's type: \
             add a new column and backfill it, or migrate the table by hand)"
        );
    }
}
