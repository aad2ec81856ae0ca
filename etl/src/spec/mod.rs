//! The dataset spec: a small TOML file that describes one dataset without recompiling (`dataset.rs`), and the
//! column types it may name (`types.rs`).

mod dataset;
mod types;

pub use crate::spec::dataset::{
    Column, ColumnSpec, CsvOptions, Dataset, DatasetSpec, Ident, OBJECT_ID_COLUMN, Rule, RuleSpec,
};
pub use crate::spec::types::ColumnType;
