//! Reading `platform.toml` into a validated [`Platform`](crate::model::Platform). Every key is
//! optional; a missing file means the defaults. Validation collects every problem before
//! failing, each naming the file, the line when the key is present, and the dotted field path.
//!
//! One file per table of `platform.toml` (`network`, `storage`, `compute`, `database`, `etl`,
//! `monitoring`, `delivery`), each with its raw serde type and that type's validation side by
//! side; `platform.rs` holds the top level, the entry points and the errors, and
//! `validator.rs`, below every table, the `Validator` and the checks several tables share.
//! This file only declares and re-exports.

mod compute;
mod database;
mod delivery;
mod etl;
mod monitoring;
mod network;
mod platform;
mod storage;
mod validator;

pub use crate::model::config::compute::UBUNTU_2404_AMI_PARAMETER;
pub use crate::model::config::platform::{ConfigError, ValidationErrors, from_str, load};
pub use crate::model::config::validator::FieldError;
