//! `infra-gen`: a typed model of the Hadrian ML data platform that emits Terraform JSON.
//!
//! Reading order: [`model`] (the platform in business terms, read from `platform.toml`),
//! [`lower`] (the only module that knows both sides), [`tf`] (the Terraform JSON vocabulary),
//! [`policy`] (security rules over the emitted document), [`ledger`] (renames and removals must be
//! declared), [`graph`] (the picture of the platform), [`write`](mod@write) (files on disk and `--check`).
//! [`agent`] is the CloudWatch agent's configuration vocabulary, filled in by `lower` like `tf`.
//! Imports flow one way: `model` → `lower` → `tf`/`agent`; `tf`, `agent` and `policy` never
//! import `model`.
//!
//! ```
//! let platform = infra_gen::model::config::from_str("name = \"acme\"", "example.toml").unwrap();
//! let files = infra_gen::generate(&platform).unwrap();
//! assert!(files["storage.tf.json"].contains("acme-hadrian-ml-data-bucket"));
//! ```

#![warn(missing_docs)]
#![allow(
    clippy::doc_markdown,
    reason = "AWS product names (CloudWatch, PostgreSQL, IMDSv2) are prose here, not code"
)]

pub mod agent;
pub mod graph;
pub mod ledger;
pub mod lower;
pub mod model;
pub mod policy;
pub mod tf;
pub mod write;

use std::collections::BTreeMap;

use crate::ledger::{History, Module};
use crate::model::Platform;
use crate::policy::PolicyViolations;
use crate::tf::{Document, TfError};

/// Generated files by name (e.g. `network.tf.json`) with their exact contents.
pub type Files = BTreeMap<String, String>;

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// A bug in lowering: duplicate address or unserializable block.
    #[error(transparent)]
    Tf(#[from] TfError),
    /// The configuration breaks a security rule.
    #[error(transparent)]
    Policy(#[from] PolicyViolations),
}

/// The platform module (`out/`): lowers the platform, adds the `moved`/`removed` blocks
/// `history` calls for, and checks the policy rules. Pure: no I/O.
pub fn document(platform: &Platform, history: &History) -> Result<Document, GenerateError> {
    checked(lower::lower(platform)?, history, Module::Platform)
}

/// The bootstrap module (`out/bootstrap/`): the state bucket, the permissions boundary and the CI
/// identity, applied by an administrator before the platform. Renames there are declared in the
/// same `history` (its `bootstrap_removed` for removals of the bootstrap's own). Pure: no I/O.
pub fn bootstrap_document(
    platform: &Platform,
    history: &History,
) -> Result<Document, GenerateError> {
    checked(lower::bootstrap(platform)?, history, Module::Bootstrap)
}

fn checked(
    mut doc: Document,
    history: &History,
    module: Module,
) -> Result<Document, GenerateError> {
    ledger::declare(&mut doc, history, module)?;
    policy::check(&doc)?;
    Ok(doc)
}

/// [`document`] with the shipped [`ledger::HISTORY`], rendered into every file. Pure: no I/O.
pub fn generate(platform: &Platform) -> Result<Files, GenerateError> {
    Ok(document(platform, &ledger::HISTORY)?.render()?)
}

/// [`bootstrap_document`] with the shipped [`ledger::HISTORY`], rendered. Pure: no I/O.
pub fn generate_bootstrap(platform: &Platform) -> Result<Files, GenerateError> {
    Ok(bootstrap_document(platform, &ledger::HISTORY)?.render()?)
}
