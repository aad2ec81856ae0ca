//! Reading `platform.toml` into a validated [`Platform`]. Every key is optional; a missing file
//! means the defaults. Validation collects every problem before failing, each naming the file,
//! the line when the key is present, and the dotted field path.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::model::events::{EventQueue, Workers};
use crate::model::monitoring::{Etl, Monitoring, Thresholds};
use crate::model::names::{Cidr, Name};
use crate::model::{DataBucket, Database, Delivery, EtlHost, GithubDelivery, Network, Platform};

/// Canonical's public SSM parameter for the current Ubuntu 24.04 LTS amd64 AMI on gp3.
pub const UBUNTU_2404_AMI_PARAMETER: &str =
    "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id";

/// Retention values CloudWatch Logs accepts.
const LOG_RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

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

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawNetwork {
    vpc_cidr: String,
    public_subnet_cidrs: Vec<String>,
    private_subnet_cidrs: Vec<String>,
    admin_cidrs: Vec<String>,
    http_cidrs: Vec<String>,
}

impl Default for RawNetwork {
    fn default() -> Self {
        Self {
            vpc_cidr: "10.20.0.0/16".into(),
            public_subnet_cidrs: vec!["10.20.0.0/24".into(), "10.20.1.0/24".into()],
            private_subnet_cidrs: vec!["10.20.10.0/24".into(), "10.20.11.0/24".into()],
            admin_cidrs: Vec::new(),
            http_cidrs: Vec::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawStorage {
    noncurrent_version_expiration_days: u32,
    access_log_expiration_days: u32,
    force_destroy: bool,
}

impl Default for RawStorage {
    fn default() -> Self {
        Self {
            noncurrent_version_expiration_days: 90,
            access_log_expiration_days: 365,
            force_destroy: false,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawCompute {
    instance_type: String,
    root_volume_gb: u32,
    ami_ssm_parameter: String,
}

impl Default for RawCompute {
    fn default() -> Self {
        Self {
            instance_type: "t3.small".into(),
            root_volume_gb: 30,
            ami_ssm_parameter: UBUNTU_2404_AMI_PARAMETER.into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawDatabase {
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

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawEtl {
    dataset: String,
    schedule_minutes: u32,
    jobs: u32,
    event_prefixes: Vec<String>,
    queue_visibility_timeout_seconds: u32,
    queue_max_receive_count: u32,
    queue_retention_days: u32,
    workers: Option<RawWorkers>,
}

impl Default for RawEtl {
    fn default() -> Self {
        Self {
            dataset: "events".into(),
            schedule_minutes: 60,
            jobs: 8,
            event_prefixes: vec!["raw/".into()],
            queue_visibility_timeout_seconds: 300,
            queue_max_receive_count: 5,
            queue_retention_days: 4,
            workers: None,
        }
    }
}

/// `[etl] workers = { min = 0, max = 4 }`: present means a fleet.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkers {
    min: u32,
    max: u32,
    #[serde(default = "default_backlog_per_instance")]
    backlog_per_instance: u32,
}

fn default_backlog_per_instance() -> u32 {
    100
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawMonitoring {
    log_retention_days: u32,
    alarm_email: String,
    host_cpu_percent: u32,
    host_memory_percent: u32,
    host_disk_percent: u32,
    db_cpu_percent: u32,
    db_free_storage_gb: u32,
    db_connections: u32,
    etl_rows_rejected: u32,
    queue_oldest_message_minutes: u32,
}

impl Default for RawMonitoring {
    fn default() -> Self {
        Self {
            log_retention_days: 365,
            alarm_email: String::new(),
            host_cpu_percent: 80,
            host_memory_percent: 85,
            host_disk_percent: 85,
            db_cpu_percent: 80,
            db_free_storage_gb: 5,
            db_connections: 50,
            etl_rows_rejected: 100,
            queue_oldest_message_minutes: 30,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawDelivery {
    github_repository: Option<String>,
    create_oidc_provider: bool,
    state_bucket: Option<String>,
    state_key: String,
}

impl Default for RawDelivery {
    fn default() -> Self {
        Self {
            github_repository: None,
            create_oidc_provider: true,
            state_bucket: None,
            state_key: "hadrian/terraform.tfstate".into(),
        }
    }
}

/// One invalid field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path, e.g. `network.vpc_cidr`.
    pub field: String,
    /// 1-based line of the key in the file, when it is there.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
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
    let mut v = Validator {
        text,
        errors: Vec::new(),
    };
    let platform = v.platform(raw);
    if v.errors.is_empty() {
        Ok(platform)
    } else {
        Err(ConfigError::Invalid(ValidationErrors {
            source: source.to_owned(),
            errors: v.errors,
        }))
    }
}

/// Collects field errors while building the model; placeholders keep the walk going.
struct Validator<'a> {
    text: &'a str,
    errors: Vec<FieldError>,
}

impl Validator<'_> {
    fn fail(&mut self, field: &str, message: impl Into<String>) {
        // A key of an inline table (`workers = { max = 3 }`) is reported at its table's line.
        let line = key_line(self.text, field).or_else(|| {
            field
                .rsplit_once('.')
                .filter(|(parent, _)| parent.contains('.'))
                .and_then(|(parent, _)| key_line(self.text, parent))
        });
        self.errors.push(FieldError {
            field: field.to_owned(),
            line,
            message: message.into(),
        });
    }

    fn check(&mut self, ok: bool, field: &str, message: &str) {
        if !ok {
            self.fail(field, message);
        }
    }

    fn cidr(&mut self, field: &str, text: &str) -> Option<Cidr> {
        Cidr::parse(text)
            .map_err(|message| self.fail(field, message))
            .ok()
    }

    fn cidrs(&mut self, field: &str, texts: &[String]) -> Vec<Cidr> {
        texts.iter().filter_map(|t| self.cidr(field, t)).collect()
    }

    fn pair(&mut self, field: &str, texts: &[String]) -> Option<[Cidr; 2]> {
        let cidrs = self.cidrs(field, texts);
        if let [a, b] = cidrs[..] {
            Some([a, b])
        } else {
            if cidrs.len() == texts.len() {
                self.fail(
                    field,
                    format!(
                        "needs exactly 2 CIDR blocks (one per AZ), found {}",
                        texts.len()
                    ),
                );
            }
            None
        }
    }

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
        let monitoring = self.monitoring(raw.monitoring, &database);
        let delivery = self.delivery(raw.delivery);
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

    fn delivery(&mut self, raw: RawDelivery) -> Delivery {
        if let Some(repository) = &raw.github_repository {
            self.check(
                is_github_repository(repository),
                "delivery.github_repository",
                "must be \"owner/name\" of a GitHub repository",
            );
        }
        if let Some(bucket) = &raw.state_bucket {
            self.check(
                is_bucket_name(bucket),
                "delivery.state_bucket",
                "must be an S3 bucket name (3-63 characters of a-z, 0-9, . and -)",
            );
        }
        self.check(
            !raw.state_key.is_empty()
                && raw.state_key.len() <= 1024
                && !raw.state_key.starts_with('/')
                && !raw
                    .state_key
                    .contains(|c: char| c.is_whitespace() || c == '*'),
            "delivery.state_key",
            "must be an S3 object key without a leading /, whitespace or *",
        );
        let github = match (raw.github_repository, raw.state_bucket) {
            (Some(repository), Some(state_bucket)) => Some(GithubDelivery {
                repository,
                create_oidc_provider: raw.create_oidc_provider,
                state_bucket,
                state_key: raw.state_key,
            }),
            (Some(_), None) => {
                self.fail(
                    "delivery.state_bucket",
                    "is required when delivery.github_repository is set (the CI roles read and write the state)",
                );
                None
            }
            (None, _) => None,
        };
        Delivery { github }
    }

    fn etl(&mut self, raw: RawEtl, database: &Database) -> Etl {
        self.check(
            is_identifier(&raw.dataset),
            "etl.dataset",
            "must be the dataset spec's name: 1-63 characters of a-z, 0-9 and _, starting with a letter",
        );
        self.check(
            Etl::SCHEDULE_MINUTES.contains(&raw.schedule_minutes),
            "etl.schedule_minutes",
            "must divide an hour or a day evenly (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440)",
        );
        self.check((1..=64).contains(&raw.jobs), "etl.jobs", "must be 1-64");
        let queue = EventQueue {
            prefixes: raw.event_prefixes,
            visibility_timeout_seconds: raw.queue_visibility_timeout_seconds,
            max_receive_count: raw.queue_max_receive_count,
            retention_days: raw.queue_retention_days,
        };
        let workers = raw.workers.map(|w| Workers {
            min: w.min,
            max: w.max,
            backlog_per_instance: w.backlog_per_instance,
        });
        let problems = queue.problems().into_iter().chain(
            workers
                .iter()
                .flat_map(|w| w.problems(raw.jobs, &database.instance_class)),
        );
        for (field, message) in problems {
            self.fail(field, message);
        }
        Etl {
            dataset: raw.dataset,
            schedule_minutes: raw.schedule_minutes,
            jobs: raw.jobs,
            queue,
            workers,
        }
    }

    fn monitoring(&mut self, raw: RawMonitoring, database: &Database) -> Monitoring {
        self.check(
            LOG_RETENTION_DAYS.contains(&raw.log_retention_days),
            "monitoring.log_retention_days",
            "must be a CloudWatch retention value (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, ...)",
        );
        self.check(
            raw.alarm_email.is_empty() || is_email(&raw.alarm_email),
            "monitoring.alarm_email",
            "must be an e-mail address (or empty for no subscription)",
        );
        for (field, value) in [
            ("monitoring.host_cpu_percent", raw.host_cpu_percent),
            ("monitoring.host_memory_percent", raw.host_memory_percent),
            ("monitoring.host_disk_percent", raw.host_disk_percent),
            ("monitoring.db_cpu_percent", raw.db_cpu_percent),
        ] {
            self.check(
                (1..=99).contains(&value),
                field,
                "must be a percentage, 1-99",
            );
        }
        self.check(
            raw.db_free_storage_gb >= 1 && raw.db_free_storage_gb < database.allocated_storage_gb,
            "monitoring.db_free_storage_gb",
            "must be at least 1 and below database.allocated_storage_gb",
        );
        self.check(
            raw.db_connections >= 1,
            "monitoring.db_connections",
            "must be at least 1",
        );
        self.check(
            (1..=20_160).contains(&raw.queue_oldest_message_minutes),
            "monitoring.queue_oldest_message_minutes",
            "must be 1-20160 (14 days, the longest a message can wait)",
        );
        Monitoring {
            log_retention_days: raw.log_retention_days,
            alarm_email: (!raw.alarm_email.is_empty()).then_some(raw.alarm_email),
            thresholds: Thresholds {
                host_cpu_percent: raw.host_cpu_percent,
                host_memory_percent: raw.host_memory_percent,
                host_disk_percent: raw.host_disk_percent,
                db_cpu_percent: raw.db_cpu_percent,
                db_free_storage_gb: raw.db_free_storage_gb,
                db_connections: raw.db_connections,
                etl_rows_rejected: raw.etl_rows_rejected,
                queue_oldest_message_minutes: raw.queue_oldest_message_minutes,
            },
        }
    }

    fn network(&mut self, raw: &RawNetwork) -> Network {
        let vpc_cidr = self.cidr("network.vpc_cidr", &raw.vpc_cidr);
        if let Some(vpc) = vpc_cidr {
            self.check(
                (16..=24).contains(&vpc.prefix()),
                "network.vpc_cidr",
                "prefix length must be between /16 and /24",
            );
        }
        let public = self.pair("network.public_subnet_cidrs", &raw.public_subnet_cidrs);
        let private = self.pair("network.private_subnet_cidrs", &raw.private_subnet_cidrs);
        if let (Some(vpc), Some(public), Some(private)) = (vpc_cidr, public, private) {
            let subnets = [
                ("network.public_subnet_cidrs", public),
                ("network.private_subnet_cidrs", private),
            ];
            for (field, pair) in subnets {
                for cidr in pair {
                    if !vpc.contains(cidr) {
                        self.fail(
                            field,
                            format!("{cidr} is not inside network.vpc_cidr {vpc}"),
                        );
                    }
                }
            }
            let all = [public[0], public[1], private[0], private[1]];
            for (i, a) in all.iter().enumerate() {
                for b in &all[i + 1..] {
                    if a.overlaps(*b) {
                        self.fail("network", format!("subnets {a} and {b} overlap"));
                    }
                }
            }
        }
        let admin_cidrs = self.cidrs("network.admin_cidrs", &raw.admin_cidrs);
        if admin_cidrs.iter().any(|c| c.prefix() == 0) {
            self.fail(
                "network.admin_cidrs",
                "0.0.0.0/0 would open SSH to the world; list your own ranges",
            );
        }
        let http_cidrs = self.cidrs("network.http_cidrs", &raw.http_cidrs);
        // Placeholders only reach the model when errors were recorded, and then it is discarded.
        let fallback = Cidr::default();
        Network {
            vpc_cidr: vpc_cidr.unwrap_or(fallback),
            public_subnet_cidrs: public.unwrap_or([fallback; 2]),
            private_subnet_cidrs: private.unwrap_or([fallback; 2]),
            admin_cidrs,
            http_cidrs,
        }
    }

    fn storage(&mut self, raw: &RawStorage) -> DataBucket {
        self.check(
            raw.noncurrent_version_expiration_days >= 1,
            "storage.noncurrent_version_expiration_days",
            "must be at least 1",
        );
        self.check(
            raw.access_log_expiration_days >= 1,
            "storage.access_log_expiration_days",
            "must be at least 1",
        );
        DataBucket {
            noncurrent_version_expiration_days: raw.noncurrent_version_expiration_days,
            access_log_expiration_days: raw.access_log_expiration_days,
            force_destroy: raw.force_destroy,
        }
    }

    fn compute(&mut self, raw: RawCompute) -> EtlHost {
        match raw.instance_type.split_once('.') {
            Some((family, size)) if is_word(family) && is_word(size) => {
                let graviton = family
                    .trim_start_matches(|c: char| c.is_ascii_lowercase())
                    .chars()
                    .nth(1)
                    == Some('g');
                self.check(
                    !graviton,
                    "compute.instance_type",
                    "must be an x86-64 type; the AMI parameter is amd64",
                );
            }
            _ => self.fail(
                "compute.instance_type",
                format!("{:?} is not an EC2 instance type", raw.instance_type),
            ),
        }
        self.check(
            (8..=16384).contains(&raw.root_volume_gb),
            "compute.root_volume_gb",
            "must be 8-16384",
        );
        self.check(
            raw.ami_ssm_parameter.starts_with('/')
                && !raw.ami_ssm_parameter.contains(char::is_whitespace),
            "compute.ami_ssm_parameter",
            "must be an SSM parameter path starting with /",
        );
        EtlHost {
            instance_type: raw.instance_type,
            root_volume_gb: raw.root_volume_gb,
            ami_ssm_parameter: raw.ami_ssm_parameter,
        }
    }

    fn database(&mut self, raw: RawDatabase, environment: &str) -> Database {
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
            multi_az: raw.multi_az.unwrap_or(environment == "prod"),
            backup_retention_days: raw.backup_retention_days,
            deletion_protection: raw.deletion_protection,
            db_name: raw.db_name,
            master_username: raw.master_username,
        }
    }
}

fn is_word(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

fn is_label(text: &str) -> bool {
    (1..=16).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_identifier(text: &str) -> bool {
    (1..=63).contains(&text.len())
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// One `@`, a non-empty local part, a dotted domain, no whitespace: enough to catch typos; SNS
/// confirms the address itself.
fn is_email(text: &str) -> bool {
    text.len() <= 254
        && !text.contains(char::is_whitespace)
        && text.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.split('.').count() >= 2
                && domain.split('.').all(|label| !label.is_empty())
        })
}

/// `owner/name` as GitHub allows them: the owner 1-39 of a-z, A-Z, 0-9 and inner hyphens, the
/// name 1-100 of a-z, A-Z, 0-9, `.`, `_` and `-`, and not `.` or `..`.
fn is_github_repository(text: &str) -> bool {
    let Some((owner, name)) = text.split_once('/') else {
        return false;
    };
    let owner_ok = (1..=39).contains(&owner.len())
        && owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !owner.starts_with('-')
        && !owner.ends_with('-');
    let name_ok = (1..=100).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && name != "."
        && name != "..";
    owner_ok && name_ok
}

fn is_bucket_name(text: &str) -> bool {
    (3..=63).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !text.contains("..")
}

fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| is_word(p))
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

/// The 1-based line where `field` (a dotted path) is set, found by scanning for its table
/// header and then its key; `None` when the key is absent, i.e. the default is in force.
fn key_line(text: &str, field: &str) -> Option<usize> {
    let (table, key) = field.rsplit_once('.').map_or(("", field), |(t, k)| (t, k));
    let mut current = String::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(header) = trimmed.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            header.trim().clone_into(&mut current);
            if current == field {
                return Some(index + 1);
            }
            continue;
        }
        let key_here = trimmed.split('=').next().map(str::trim);
        if current == table && trimmed.contains('=') && key_here == Some(key) {
            return Some(index + 1);
        }
    }
    None
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
