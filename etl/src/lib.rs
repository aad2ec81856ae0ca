//! `etl`: streams CSV and JSON Lines objects (plain, gzip or zstd) and Parquet files from S3 through a regex
//! transform into PostgreSQL, exactly once per object version.
//!
//! Modules in reading order: the dataset [`spec`]; the shared [`record`] types; the [`source`] (S3 listing and
//! the streaming CSV parser); the pure [`transform`]; the COPY [`sink`]; the [`ledger`] that makes loads
//! exactly-once; [`migrate`] for the schema; [`process`] and [`ingest`], the two pipelines; [`queue`], the S3
//! event consumer that feeds `process`; and the plumbing:
//! [`aws`], [`db`], [`config`], [`metrics`], [`progress`], [`error`].

#![warn(missing_docs)]

pub mod aws;
pub mod config;
pub mod db;
pub mod error;
pub mod ingest;
pub mod ledger;
pub mod metrics;
pub mod migrate;
pub mod process;
pub mod progress;
pub mod queue;
pub mod record;
pub mod sink;
pub mod source;
pub mod spec;
pub mod transform;
