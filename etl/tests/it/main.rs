//! The etl integration tests: the real `etl` binary against a real PostgreSQL and a real `moto_server`.

// Helpers outside #[test] fns panic on purpose: a failed unwrap is a failed test. Product names stay unquoted.
#![allow(clippy::unwrap_used)]

mod bad_input;
mod config;
mod evolve;
mod faults;
mod formats;
mod ingest_compress;
mod merge;
mod parquet;
mod queue;
mod resume;
mod retry;
mod sample;
mod scale;
mod support;
mod types;
