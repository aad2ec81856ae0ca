//! Schema setup: the ledger and rejects tables, and the dataset's target table, created idempotently.
//!
//! `etl migrate` runs this explicitly and `etl process` runs it on start. A transaction-scoped advisory lock
//! serialises concurrent runs (two `CREATE TABLE IF NOT EXISTS` racing can otherwise fail). An existing target
//! table must have every spec column, or the run stops before touching any object.

use std::fmt::Write;

use tokio_postgres::Client;
use tracing::info;

use crate::error::DbError;
use crate::spec::{Dataset, OBJECT_ID_COLUMN};

const LEDGER_SQL: &str = include_str!("../migrations/0001_ledger.sql");

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
    let _ = writeln!(sql, "    \"{OBJECT_ID_COLUMN}\" bigint NOT NULL\n);");
    let index = format!("\"{}_{OBJECT_ID_COLUMN}_idx\"", dataset.table.as_str());
    let _ = writeln!(
        sql,
        "CREATE INDEX IF NOT EXISTS {index} ON {table} (\"{OBJECT_ID_COLUMN}\");"
    );
    sql
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
