//! `[database]`: the RDS instance class, storage, backups and names, read and checked; Multi-AZ
//! defaults to on in `prod`.

use serde::Deserialize;

use crate::model::Database;
use crate::model::config::validator::{Validator, is_identifier, is_production};

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawDatabase {
    instance_class: String,
    allocated_storage_gb: u32,
    max_allocated_storage_gb: u32,
    multi_az: Option<bool>,
    backup_retention_days: u32,
    deletion_protection: bool,
    db_name: String,
    master_username: String,
}

impl Default for RawDatabase {
    fn default() -> Self {
        Self {
            instance_class: "db.t4g.micro".into(),
            allocated_storage_gb: 20,
            max_allocated_storage_gb: 100,
            multi_az: None,
            backup_retention_days: 7,
            deletion_protection: true,
            db_name: "hadrian".into(),
            master_username: "hadrian_admin".into(),
        }
    }
}

impl Validator<'_> {
    pub(super) fn database(&mut self, raw: RawDatabase, environment: &str) -> Database {
        self.check(
            raw.instance_class
                .strip_prefix("db.")
                .is_some_and(|rest| rest.split_once('.').is_some()),
            "database.instance_class",
            "must be an RDS instance class such as db.t4g.micro",
        );
        self.check(
            (20..=65536).contains(&raw.allocated_storage_gb),
            "database.allocated_storage_gb",
            "must be 20-65536",
        );
        self.check(
            raw.max_allocated_storage_gb >= raw.allocated_storage_gb
                && raw.max_allocated_storage_gb <= 65536,
            "database.max_allocated_storage_gb",
            "must be at least database.allocated_storage_gb and at most 65536",
        );
        self.check(
            (1..=35).contains(&raw.backup_retention_days),
            "database.backup_retention_days",
            "must be 1-35",
        );
        self.check(
            is_identifier(&raw.db_name),
            "database.db_name",
            "must be 1-63 characters of a-z, 0-9 and _, starting with a letter",
        );
        self.check(
            is_identifier(&raw.master_username) && !["postgres", "rdsadmin", "admin"].contains(&raw.master_username.as_str()),
            "database.master_username",
            "must be 1-63 characters of a-z, 0-9 and _, starting with a letter, and not a reserved name",
        );
        Database {
            instance_class: raw.instance_class,
            allocated_storage_gb: raw.allocated_storage_gb,
            max_allocated_storage_gb: raw.max_allocated_storage_gb,
            multi_az: raw.multi_az.unwrap_or(is_production(environment)),
            backup_retention_days: raw.backup_retention_days,
            deletion_protection: raw.deletion_protection,
            db_name: raw.db_name,
            master_username: raw.master_username,
        }
    }
}
