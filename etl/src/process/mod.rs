//! `etl process`: every object not yet loaded goes S3 → decode → transform → COPY in one transaction with its
//! ledger row and rejects.
//!
//! Three rooms, each importing only the ones below it: `listing.rs` (listing mode: the prefix's pages into the
//! engine) and the queue consumer (`crate::queue`) both feed `engine.rs` (workers, groups of small objects in one
//! transaction, replies and reports), which runs `load.rs` per object (the ledger's decision, download, COPY) with
//! `parse.rs` as its blocking middle stage. This is the only module that wires the source and the sink.

mod engine;
mod listing;
mod load;
mod parse;

pub use crate::process::engine::{Engine, ProcessConfig};
pub(crate) use crate::process::engine::{JobOutcome, LoadJob, report, run_loads};
pub use crate::process::listing::{RunSummary, process};
