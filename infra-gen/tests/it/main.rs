//! The one integration-test binary of `infra-gen`: snapshots of every emitted file, schema
//! honesty against the committed provider schema, monitoring consistency (alarms against what
//! is really published), the real `terraform` on the output, and the ETL host's cloud-init
//! document as the host receives it.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

mod access;
mod cli;
mod graph;
mod layering;
mod ledger;
mod lowering;
mod monitoring;
mod schema;
mod snapshots;
mod support;
mod terraform;
mod user_data;
