//! The top level of `platform.toml`: the raw file (every table optional), its validation into a
//! [`Platform`] (the top-level keys here, each table in its own file), and the entry points
//! [`load`] and [`from_str`] with their errors.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::model::Platform;
use crate::model::config::compute::RawCompute;
use crate::model::config::database::RawDatabase;
use crate::model::config::delivery::RawDelivery;
use crate::model::config::etl::RawEtl;
use crate::model::config::monitoring::RawMonitoring;
use crate::model::config::network::RawNetwork;
use crate::model::config::storage::RawStorage;
use crate::model::config::validator::{FieldError, Validator, is_label, is_region};
use crate::model::names::Name;

/// The file as written; every table and key is optional.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawPlatform {
    name: String,
    environment: String,
    owner: String,
    region: String,
    network: RawNetwork,
    storage: RawStorage,
    compute: RawCompute,
    database: RawDatabase,
    etl: RawEtl,
    monitoring: RawMonitoring,
    delivery: RawDelivery,
}

impl Default for RawPlatform {
    fn default() -> Self {
        Self {
            name: "demo".into(),
            environment: "dev".into(),
            owner: "data-platform".into(),
            region: "us-east-1".into(),
            network: RawNetwork::default(),
            storage: RawStorage::default(),
            compute: RawCompute::default(),
            database: RawDatabase::default(),
            etl: RawEtl::default(),
            monitoring: RawMonitoring::default(),
            delivery: RawDelivery::default(),
        }
    }
}

/// Every problem found in one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationErrors {
    /// The file, or `<defaults>` when none was read.
    pub source: String,
    /// The problems, in field order.
    pub errors: Vec<FieldError>,
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} invalid field(s) in {}",
            self.errors.len(),
            self.source
        )?;
        for e in &self.errors {
            match e.line {
                Some(line) => write!(f, "\n  {}:{line}: {}: {}", self.source, e.field, e.message)?,
                None => write!(f, "\n  {}: {}: {}", self.source, e.field, e.message)?,
            }
        }
        Ok(())
    }
}

/// Why a platform could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has a key of the wrong type or an unknown key.
    #[error("{}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// toml's message, which names line, column and key.
        message: String,
    },
    /// The values are out of range or inconsistent.
    #[error("{0}")]
    Invalid(ValidationErrors),
}

/// Loads `path`, or the defaults when `path` is `None`.
pub fn load(path: Option<&Path>) -> Result<Platform, ConfigError> {
    let Some(path) = path else {
        return from_str("", "<defaults>");
    };
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    from_str(&text, &path.display().to_string())
}

/// Parses and validates TOML text; `source` names it in messages.
pub fn from_str(text: &str, source: &str) -> Result<Platform, ConfigError> {
    let raw: RawPlatform = toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: PathBuf::from(source),
        message: e.to_string().trim_end().replace('\n', " "),
    })?;
    let mut v = Validator::new(text);
    let platform = v.platform(raw);
    let errors = v.into_errors();
    if errors.is_empty() {
        Ok(platform)
    } else {
        Err(ConfigError::Invalid(ValidationErrors {
            source: source.to_owned(),
            errors,
        }))
    }
}

impl Validator<'_> {
    /// The top level of the file, then each table in the order later ones depend on.
    fn platform(&mut self, raw: RawPlatform) -> Platform {
        let name = Name::parse(&raw.name).unwrap_or_else(|message| {
            self.fail("name", message);
            Name::parse("invalid").unwrap_or_else(|_| unreachable!("constant is valid"))
        });
        self.check(
            is_label(&raw.environment),
            "environment",
            "must be 1-16 characters of a-z, 0-9 and hyphens",
        );
        self.check(
            !raw.owner.trim().is_empty() && raw.owner.len() <= 64,
            "owner",
            "must be 1-64 characters",
        );
        self.check(
            is_region(&raw.region),
            "region",
            "must look like an AWS region, e.g. us-east-1",
        );
        let network = self.network(&raw.network);
        let storage = self.storage(&raw.storage);
        let compute = self.compute(raw.compute);
        let database = self.database(raw.database, &raw.environment);
        let etl = self.etl(raw.etl, &database);
        let monitoring = self.monitoring(raw.monitoring, &database, &raw.environment);
        let delivery = self.delivery(raw.delivery, &name);
        Platform {
            name,
            environment: raw.environment,
            owner: raw.owner,
            region: raw.region,
            network,
            storage,
            compute,
            database,
            etl,
            monitoring,
            delivery,
        }
    }
}
#[cfg(test)]
mod tests {
    use crate::model::config::{ConfigError, from_str};

    #[track_caller]
    fn errors(text: &str) -> Vec<String> {
        match from_str(text, "platform.toml") {
            Err(ConfigError::Invalid(v)) => v
                .errors
                .iter()
                .map(|e| format!("{}@{:?}", e.field, e.line))
                .collect(),
            other => panic!("expected validation errors, got {other:?}"),
        }
    }

    #[test]
    fn defaults_need_no_file() {
        let platform = from_str("", "<defaults>").unwrap();
        assert_eq!(platform.data_bucket_name(), "demo-hadrian-ml-data-bucket");
        assert!(!platform.database.multi_az);
        assert!(platform.database.deletion_protection);
    }

    #[test]
    fn prod_defaults_to_multi_az() {
        assert!(
            from_str("environment = \"prod\"", "p")
                .unwrap()
                .database
                .multi_az
        );
    }

    #[test]
    fn every_problem_is_reported_with_field_and_line() {
        let text = "name = \"Bad_Name\"\nregion = \"mars\"\n\n[network]\nvpc_cidr = \"10.0.0.1/16\"\nadmin_cidrs = [\"0.0.0.0/0\"]\n\n[database]\nbackup_retention_days = 0\n";
        assert_eq!(
            errors(text),
            [
                "name@Some(1)",
                "region@Some(2)",
                "network.vpc_cidr@Some(5)",
                "network.admin_cidrs@Some(6)",
                "database.backup_retention_days@Some(9)",
            ]
        );
    }

    #[test]
    fn overlapping_subnets_and_graviton_hosts_are_rejected() {
        let text = "[network]\npublic_subnet_cidrs = [\"10.20.0.0/24\", \"10.20.0.0/25\"]\n[compute]\ninstance_type = \"t4g.small\"\n";
        assert_eq!(
            errors(text),
            ["network@Some(1)", "compute.instance_type@Some(4)"]
        );
    }

    #[test]
    fn monitoring_and_schedule_values_are_checked() {
        let text = "[etl]\nschedule_minutes = 7\n[monitoring]\nalarm_email = \"ops at example\"\nhost_cpu_percent = 100\ndb_free_storage_gb = 20\n";
        assert_eq!(
            errors(text),
            [
                "etl.schedule_minutes@Some(2)",
                "monitoring.alarm_email@Some(4)",
                "monitoring.host_cpu_percent@Some(5)",
                "monitoring.db_free_storage_gb@Some(6)",
            ]
        );
        let platform = from_str("[monitoring]\nalarm_email = \"ops@example.com\"\n", "p").unwrap();
        assert_eq!(
            platform.monitoring.alarm_email.as_deref(),
            Some("ops@example.com")
        );
        assert_eq!(from_str("", "p").unwrap().monitoring.alarm_email, None);
    }

    #[test]
    fn production_keeps_logs_a_year() {
        let text = "environment = \"prod\"\n[monitoring]\nlog_retention_days = 180\n";
        assert_eq!(errors(text), ["monitoring.log_retention_days@Some(3)"]);
        assert!(
            from_str(
                "environment = \"prod\"\n[monitoring]\nlog_retention_days = 400\n",
                "p"
            )
            .is_ok()
        );
        assert!(from_str("[monitoring]\nlog_retention_days = 30\n", "p").is_ok());
    }

    #[test]
    fn delivery_defaults_trust_no_repository() {
        let delivery = from_str("", "<defaults>").unwrap().delivery;
        assert_eq!(delivery.github, None);
        let text = "[delivery]\ngithub_repository = \"acme/ml\"\nstate_bucket = \"acme-tfstate\"\n";
        let github = from_str(text, "p").unwrap().delivery.github.unwrap();
        assert_eq!(
            (github.repository.as_str(), github.state_key.as_str()),
            ("acme/ml", "hadrian/terraform.tfstate")
        );
        assert!(github.create_oidc_provider);
    }

    #[test]
    fn delivery_values_are_checked() {
        let text = "[delivery]\ngithub_repository = \"-acme/ml/x\"\nstate_key = \"/abs\"\n";
        assert_eq!(
            errors(text),
            [
                "delivery.github_repository@Some(2)",
                "delivery.state_key@Some(3)",
                "delivery.state_bucket@None",
            ]
        );
        assert_eq!(
            errors("[delivery]\nstate_bucket = \"Bad_Bucket\"\n"),
            ["delivery.state_bucket@Some(2)"]
        );
    }

    #[test]
    fn the_state_bucket_lies_outside_the_platforms_buckets() {
        for bucket in ["acme-hadrian-ml-tfstate", "acme-hadrian-ml-data-bucket"] {
            let text = format!(
                "name = \"acme\"\n[delivery]\ngithub_repository = \"acme/ml\"\nstate_bucket = \"{bucket}\"\n"
            );
            assert_eq!(errors(&text), ["delivery.state_bucket@Some(4)"], "{bucket}");
        }
        // Another platform's prefix is not this one's.
        let text = "name = \"acme\"\n[delivery]\ngithub_repository = \"acme/ml\"\nstate_bucket = \"acme-tfstate-hadrian-ml-x\"\n";
        assert!(from_str(text, "p").is_ok());
    }

    #[test]
    fn ssh_sources_may_not_add_up_to_more_than_a_slash_8() {
        for cidrs in [
            r#"["0.0.0.0/0"]"#,
            r#"["0.0.0.0/1", "128.0.0.0/1"]"#,
            r#"["10.0.0.0/8", "11.0.0.0/32"]"#,
            r#"["10.0.0.0/7"]"#,
        ] {
            assert_eq!(
                errors(&format!("[network]\nadmin_cidrs = {cidrs}\n")),
                ["network.admin_cidrs@Some(2)"],
                "{cidrs}"
            );
        }
        let text = "[network]\nadmin_cidrs = [\"10.0.0.0/8\", \"10.1.0.0/16\"]\n";
        assert!(from_str(text, "p").is_ok());
    }

    #[test]
    fn http_from_the_whole_internet_needs_http_public() {
        for cidrs in [r#"["0.0.0.0/0"]"#, r#"["0.0.0.0/1", "128.0.0.0/1"]"#] {
            assert_eq!(
                errors(&format!("[network]\nhttp_cidrs = {cidrs}\n")),
                ["network.http_cidrs@Some(2)"],
                "{cidrs}"
            );
            let text = format!("[network]\nhttp_cidrs = {cidrs}\nhttp_public = true\n");
            assert!(from_str(&text, "p").is_ok(), "{cidrs}");
        }
        // IPv6 is not a source the rules accept at all, so `::/0` never reaches them.
        assert_eq!(
            errors("[network]\nhttp_cidrs = [\"::/0\"]\nhttp_public = true\n"),
            ["network.http_cidrs@Some(2)"]
        );
        assert!(from_str("[network]\nhttp_cidrs = [\"192.0.2.0/24\"]\n", "p").is_ok());
    }

    #[test]
    fn the_event_queue_has_defaults_and_checked_values() {
        let etl = from_str("", "p").unwrap().etl;
        assert_eq!(
            (etl.jobs, etl.queue.prefixes.as_slice(), etl.workers),
            (8, ["raw/".to_owned()].as_slice(), None)
        );
        let text = "[etl]\njobs = 0\nevent_prefixes = [\"raw/\", \"raw/a/\"]\nqueue_visibility_timeout_seconds = 5\nqueue_max_receive_count = 0\nqueue_retention_days = 15\n";
        assert_eq!(
            errors(text),
            [
                "etl.jobs@Some(2)",
                "etl.event_prefixes@Some(3)",
                "etl.queue_visibility_timeout_seconds@Some(4)",
                "etl.queue_max_receive_count@Some(5)",
                "etl.queue_retention_days@Some(6)",
            ]
        );
    }

    #[test]
    fn the_event_suffix_is_optional_non_empty_and_without_wildcards() {
        assert_eq!(from_str("", "p").unwrap().etl.queue.suffix, None);
        let etl = from_str("[etl]\nsuffix = \".json.gz\"\n", "p").unwrap().etl;
        assert_eq!(etl.queue.suffix.as_deref(), Some(".json.gz"));
        for bad in ["\"\"", "\"*.csv\"", "\".csv\\n\""] {
            assert_eq!(
                errors(&format!("[etl]\nsuffix = {bad}\n")),
                ["etl.suffix@Some(2)"],
                "{bad}"
            );
        }
    }

    #[test]
    fn workers_must_fit_the_database_connection_limit() {
        // db.t4g.micro: 84 connections, 74 after the reserve; 8 x 8 + 2 x 8 = 80.
        let text = "[etl]\nworkers = { min = 0, max = 8 }\n";
        assert_eq!(errors(text), ["etl.workers.max@Some(2)"]);
        let err = from_str(text, "platform.toml").unwrap_err().to_string();
        assert!(
            err.contains(
                "etl.workers.max 8 x etl.jobs 8 + the host's 2 x 8 = 80 connections exceed the 74"
            ),
            "{err}"
        );
        let fits = "[etl]\njobs = 4\nworkers = { min = 1, max = 8 }\n";
        let workers = from_str(fits, "p").unwrap().etl.workers.unwrap();
        assert_eq!(
            (workers.min, workers.max, workers.backlog_per_instance),
            (1, 8, 100)
        );
        let text = "[database]\ninstance_class = \"db.x2g.large\"\n[etl]\nworkers = { min = 3, max = 2 }\n";
        assert_eq!(
            errors(text),
            ["etl.workers.min@Some(4)", "etl.workers@Some(4)"]
        );
        // Without workers an unknown class is fine.
        assert!(from_str("[database]\ninstance_class = \"db.x2g.large\"\n", "p").is_ok());
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_the_line() {
        let err = from_str("[database]\nmulti_az = \"yes\"\n", "platform.toml").unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with("platform.toml: "), "{message}");
        assert!(message.contains("line 2"), "{message}");
        let err = from_str("colour = 1\n", "platform.toml").unwrap_err();
        assert!(err.to_string().contains("unknown field `colour`"), "{err}");
    }
}
