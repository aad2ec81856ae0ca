//! The dataset spec: a small TOML file that describes one dataset without recompiling (`dataset.rs`), the column
//! types it may name (`types.rs`), its `[source]` table (`source.rs`) and per-column value formats (`format.rs`).

mod dataset;
mod format;
mod source;
mod types;

pub use crate::spec::dataset::{
    Column, ColumnSpec, CsvOptions, Dataset, DatasetSpec, HIDDEN_PREFIX, Ident, OBJECT_ID_COLUMN,
    Rule, RuleSpec,
};
pub use crate::spec::format::{BoolWords, TimeFormat};
pub use crate::spec::source::{Compression, Format, Selection, SourceSpec};
pub use crate::spec::types::ColumnType;
