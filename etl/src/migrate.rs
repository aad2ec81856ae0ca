//! Schema setup: the ledger and rejects tables, and the dataset's target table, created idempotently.
//!
//! `etl migrate` runs this explicitly and `etl process` runs it on start. A transaction-scoped advisory lock
//! serialises concurrent runs (two `CREATE TABLE IF NOT EXISTS` racing can otherwise fail). An existing target
//! table must have every spec column, or the run stops before touching any object.

use std::fmt::Write;

use tokio_postgres::Client;
use tracing::info;

use crate::error::{DbError, pg_message};
use crate::spec::{Dataset, Ident, Merge, OBJECT_ID_COLUMN, TOMBSTONE_SUFFIX};

const LEDGER_SQL: &str = include_str!("../migrations/0001_ledger.sql");
const RECENCY_SQL: &str = include_str!("../migrations/0002_object_recency.sql");

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
    let _ = writeln!(sql, ",\n    PRIMARY KEY ({})\n);", key_list(merge));
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

/// Merge mode: the table's primary key must be the spec's key. A table without one gets it (which fails, naming
/// a duplicate, when the table holds the same key twice); a table with another refuses to load.
async fn ensure_key(
    tx: &tokio_postgres::Transaction<'_>,
    dataset: &Dataset,
    merge: &Merge,
) -> Result<(), DbError> {
    let table = dataset.qualified_table();
    let row = tx
        .query_one(
            "SELECT array_agg(a.attname::text ORDER BY k.n) FROM pg_index i \
             CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
             WHERE i.indrelid = $1::text::regclass AND i.indisprimary",
            &[&table],
        )
        .await
        .map_err(|e| DbError::query("read the target table's primary key", &e))?;
    let existing: Option<Vec<String>> = row.get(0);
    let wanted: Vec<&str> = merge.key.iter().map(Ident::as_str).collect();
    match existing {
        Some(existing) if existing == wanted => Ok(()),
        Some(existing) => Err(DbError::Schema {
            table,
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
                    table: table.clone(),
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

/// Creates the ledger, rejects and target tables if missing and checks the target table's columns.
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
    tx.batch_execute(RECENCY_SQL)
        .await
        .map_err(|e| DbError::query("add the ledger's object recency", &e))?;
    tx.batch_execute(&target_table_sql(dataset))
        .await
        .map_err(|e| DbError::query("create the target table", &e))?;
    let schema = dataset.schema.as_ref().map(|s| s.as_str().to_owned());
    let rows = tx
        .query(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_name = $1 AND table_schema = coalesce($2, current_schema())",
            &[&dataset.table.as_str(), &schema],
        )
        .await
        .map_err(|e| DbError::query("read the target table's columns", &e))?;
    let existing: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    let missing: Vec<&str> = dataset
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .chain([OBJECT_ID_COLUMN])
        .filter(|name| !existing.iter().any(|e| e == name))
        .collect();
    if !missing.is_empty() {
        return Err(DbError::Schema {
            table: dataset.qualified_table(),
            message: format!("missing column(s) {}", missing.join(", ")),
        });
    }
    if let Some(merge) = dataset.write.merge() {
        ensure_key(&tx, dataset, merge).await?;
    }
    tx.commit()
        .await
        .map_err(|e| DbError::query("commit the migration", &e))?;
    info!(dataset = %dataset.name, table = %dataset.qualified_table(), "Schema is up to date.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::migrate::target_table_sql;
    use crate::spec::Dataset;

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
}
