//! Parquet objects as the same [`crate::record::Record`]s the CSV parser produces.
//!
//! Three parts, each on its own thread of work: `reader` fetches byte ranges of one S3 object version (the footer,
//! then one row group's column chunks at a time); `object` opens the file, checks its schema against the spec and
//! streams decoded record batches (async, on the download side), fetching the next row group's chunks while it
//! decodes the current one's; `convert` turns one batch into records (sync, on the parse thread), writing each
//! value as the text the transform's type check reads.

pub mod convert;
pub mod object;
pub mod reader;

pub use convert::{RowBatchRecords, SpecColumn, maps};
pub use object::{Batch, ParquetSource, open};
pub use reader::{ReadStats, S3RangeReader};
