//! The spec's `[write]` table: whether an object's rows are appended (events) or merged by key (dimension tables,
//! snapshots, change-data-capture files).
//!
//! Merge mode needs a key that is never NULL (a row without it is rejected like any NULL in a `NOT NULL` column)
//! and, when given, an `order_by` column that is never NULL either: versions are compared as
//! `(order_by, object's LastModified, object's key)`, and a NULL would make two versions incomparable.
//!
//! A merged table is created half full (`fillfactor`, 50 unless the spec says): every load rewrites each key it
//! holds (its version moves forward even when its values do not), and a page with room for a second version of
//! each of its rows keeps those rewrites on the page, where PostgreSQL adds no index entry (a HOT update).

use serde::Deserialize;

use crate::spec::dataset::{Column, Ident};

/// The `[write]` table as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteSpec {
    /// `append` (default) or `merge`.
    #[serde(default)]
    pub mode: WriteModeSpec,
    /// Merge: the columns that identify a row.
    #[serde(default)]
    pub key: Vec<String>,
    /// Merge: between two versions of a key, the one with the greater value of this column wins.
    #[serde(default)]
    pub order_by: Option<String>,
    /// Merge: a row whose column equals this value deletes its key (a CDC delete marker).
    #[serde(default)]
    pub delete_when: Option<DeleteWhenSpec>,
    /// Merge: how full (percent) new rows leave each page of the table; the rest is room for their rewrites.
    #[serde(default)]
    pub fillfactor: Option<u32>,
}

/// The write mode as written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WriteModeSpec {
    /// Every row is added; a new version of an object replaces that object's rows.
    #[default]
    Append,
    /// Rows are merged into the table by key.
    Merge,
}

/// `delete_when = { column = "op", equals = "D" }` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteWhenSpec {
    /// The marker column.
    pub column: String,
    /// The marker column's text that means "delete this key".
    pub equals: String,
}

/// How a dataset's rows are written, validated against its columns.
#[derive(Debug, Clone, Default)]
pub enum Write {
    /// Every row is added.
    #[default]
    Append,
    /// Rows are merged by key.
    Merge(Merge),
}

/// A validated merge: column names are the dataset's own.
#[derive(Debug, Clone)]
pub struct Merge {
    /// The key columns, in the spec's order.
    pub key: Vec<Ident>,
    /// The column whose greater value wins between two versions of a key.
    pub order_by: Option<Ident>,
    /// The CDC delete marker.
    pub delete_when: Option<DeleteWhen>,
    /// The table's `fillfactor` storage parameter.
    pub fillfactor: u32,
}

/// A merged table's `fillfactor` when the spec gives none: room for one rewrite of every row on its own page.
const DEFAULT_FILLFACTOR: u32 = 50;

/// A validated delete marker.
#[derive(Debug, Clone)]
pub struct DeleteWhen {
    /// The marker column.
    pub column: Ident,
    /// The text that means "delete".
    pub equals: String,
}

/// The suffix of the table that keeps deleted keys (tombstones) beside a merged table.
pub const TOMBSTONE_SUFFIX: &str = "_etl_deleted";

impl Write {
    /// Validates the `[write]` table against the dataset's columns, adding every problem to `problems`.
    pub(crate) fn new(
        spec: &WriteSpec,
        table: &Ident,
        columns: &[Column],
        problems: &mut Vec<String>,
    ) -> Self {
        if spec.mode == WriteModeSpec::Append {
            if !spec.key.is_empty()
                || spec.order_by.is_some()
                || spec.delete_when.is_some()
                || spec.fillfactor.is_some()
            {
                problems.push(
                    "write.key, order_by, delete_when and fillfactor apply to mode = \"merge\""
                        .to_owned(),
                );
            }
            return Self::Append;
        }
        let mut find = |name: &str, role: &str, not_null: bool| -> Option<Ident> {
            let Some(column) = columns.iter().find(|c| c.name.as_str() == name) else {
                problems.push(format!(
                    "write.{role} names {name:?}, which is not a column"
                ));
                return None;
            };
            if not_null && column.nullable {
                problems.push(format!(
                    "write.{role} column {name:?} must be declared nullable = false (versions are compared by it)"
                ));
            }
            Some(column.name.clone())
        };
        let key: Vec<Ident> = spec
            .key
            .iter()
            .filter_map(|name| find(name, "key", true))
            .collect();
        let order_by = spec
            .order_by
            .as_deref()
            .and_then(|name| find(name, "order_by", true));
        let delete_when = spec.delete_when.as_ref().and_then(|d| {
            find(&d.column, "delete_when", false).map(|column| DeleteWhen {
                column,
                equals: d.equals.clone(),
            })
        });
        if spec.key.is_empty() {
            problems.push("write.key is required for mode = \"merge\"".to_owned());
        }
        for (i, name) in spec.key.iter().enumerate() {
            if spec.key[..i].contains(name) {
                problems.push(format!("write.key names {name:?} twice"));
            }
        }
        let in_key = |name: &str| spec.key.iter().any(|k| k == name);
        if let Some(name) = spec.order_by.as_deref().filter(|n| in_key(n)) {
            problems.push(format!("write.order_by {name:?} is a key column"));
        }
        if let Some(d) = spec.delete_when.as_ref().filter(|d| in_key(&d.column)) {
            problems.push(format!(
                "write.delete_when column {:?} is a key column",
                d.column
            ));
        }
        if delete_when.is_some() && table.as_str().len() + TOMBSTONE_SUFFIX.len() > 63 {
            problems.push(format!(
                "table {:?} is too long for its tombstone table {:?} (63 characters at most)",
                table.as_str(),
                format!("{}{TOMBSTONE_SUFFIX}", table.as_str())
            ));
        }
        let fillfactor = spec.fillfactor.unwrap_or(DEFAULT_FILLFACTOR);
        if !(10..=100).contains(&fillfactor) {
            problems.push(format!(
                "write.fillfactor is {fillfactor}: PostgreSQL takes 10 to 100 (percent of each page)"
            ));
        }
        Self::Merge(Merge {
            key,
            order_by,
            delete_when,
            fillfactor,
        })
    }

    /// The merge settings, in merge mode.
    pub fn merge(&self) -> Option<&Merge> {
        match self {
            Self::Append => None,
            Self::Merge(merge) => Some(merge),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::spec::Dataset;

    const COLUMNS: &str = "[[columns]]\nname = \"id\"\ntype = \"bigint\"\nnullable = false\n\
                           [[columns]]\nname = \"at\"\ntype = \"timestamptz\"\n\
                           [[columns]]\nname = \"op\"\ntype = \"text\"\n";

    fn problems(write: &str) -> String {
        let text = format!("name = \"x\"\ntable = \"x\"\n{COLUMNS}[write]\n{write}");
        Dataset::parse(Path::new("x.toml"), &text)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn merge_needs_a_non_null_key_and_order() {
        let text = format!(
            "name = \"x\"\ntable = \"x\"\n{COLUMNS}[write]\nmode = \"merge\"\nkey = [\"id\"]\n\
             delete_when = {{ column = \"op\", equals = \"D\" }}\n"
        );
        let dataset = Dataset::parse(Path::new("x.toml"), &text).unwrap();
        let merge = dataset.write.merge().unwrap();
        assert_eq!(merge.key[0].as_str(), "id");
        assert_eq!(merge.delete_when.as_ref().unwrap().equals, "D");
        assert_eq!(merge.fillfactor, 50);

        let all = problems(
            "mode = \"merge\"\nkey = [\"id\", \"id\", \"nope\"]\norder_by = \"at\"\n\
             delete_when = { column = \"id\", equals = \"D\" }\n",
        );
        for fragment in [
            "write.key names \"nope\", which is not a column",
            "write.key names \"id\" twice",
            "write.order_by column \"at\" must be declared nullable = false",
            "write.delete_when column \"id\" is a key column",
        ] {
            assert!(all.contains(fragment), "{fragment} missing from {all}");
        }
        assert!(problems("mode = \"merge\"\n").contains("write.key is required"));
        assert!(problems("key = [\"id\"]\n").contains("apply to mode = \"merge\""));
        assert!(problems("fillfactor = 90\n").contains("apply to mode = \"merge\""));
        assert!(
            problems("mode = \"merge\"\nkey = [\"id\"]\nfillfactor = 5\n")
                .contains("write.fillfactor is 5: PostgreSQL takes 10 to 100")
        );
    }
}
