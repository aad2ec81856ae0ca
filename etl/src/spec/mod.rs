//! The dataset spec: a small TOML file that describes one dataset without recompiling (`dataset.rs`), the column
//! types it may name (`types.rs`), its `[source]` table (`source.rs`), per-column value formats (`format.rs`) and
//! its `[write]` table (`write.rs`: append, or merge by key).

mod dataset;
mod format;
mod source;
mod types;
mod write;

pub use crate::spec::dataset::{
    Column, ColumnSpec, CsvOptions, Dataset, DatasetSpec, HIDDEN_PREFIX, Ident, OBJECT_ID_COLUMN,
    Rule, RuleSpec,
};
pub use crate::spec::format::{BoolWords, TimeFormat};
pub use crate::spec::source::{Compression, Format, Selection, SourceSpec};
pub use crate::spec::types::ColumnType;
pub use crate::spec::write::{
    DeleteWhen, DeleteWhenSpec, Merge, TOMBSTONE_SUFFIX, Write, WriteModeSpec, WriteSpec,
};
