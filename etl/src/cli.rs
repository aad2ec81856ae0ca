//! Command-line interface: every flag has an environment-variable fallback, and converts once into the library's
//! config types, so no clap type goes past this module.

// Doc comments here are the `--help` text: backticks and angle brackets would show up in the terminal.
#![allow(clippy::doc_markdown)]

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use etl::aws::AwsOptions;
use etl::config::DbSettings;
use etl::error::Error;
use etl::ingest::{Compress, IngestConfig};
use etl::ledger::Reload;
use etl::process::ProcessConfig;
use etl::queue::QueueConfig;
use etl::spec::Dataset;

/// Streams CSV objects from S3 through a regex transform into PostgreSQL, exactly once per object version.
///
/// Exit codes: 0 success; 2 bad input, configuration or usage (including objects whose content failed);
/// 1 runtime failure (S3, PostgreSQL, network).
#[derive(Debug, Parser)]
#[command(name = "etl", version, max_term_width = 110)]
pub(crate) struct Cli {
    /// Log format: `auto` is readable text on a terminal and JSON lines otherwise.
    #[arg(long, global = true, env = "ETL_LOG_FORMAT", value_enum, default_value_t = LogFormat::Auto)]
    pub(crate) log_format: LogFormat,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    Auto,
    Json,
    Text,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Upload local CSV files to S3 (multipart with parallel parts, SHA-256 checksums, unchanged files skipped).
    Ingest(IngestArgs),
    /// Load every not-yet-loaded object under the prefix into PostgreSQL, one transaction per object; with
    /// --queue, load the objects named by S3 event notifications on an SQS queue instead.
    ///
    /// SIGTERM or SIGINT stops taking work, lets loads in flight commit or roll back, and exits 0; a second
    /// signal aborts at once.
    Process(ProcessArgs),
    /// Create the ledger, rejects and target tables if missing, add the spec's new columns to an existing target
    /// table (nullable), then exit. A changed column type or a column the spec no longer has is refused, and
    /// the table is left as it was. etl process runs the same migration when it starts.
    Migrate(MigrateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct IngestArgs {
    /// Files to upload (each becomes <prefix><file name>).
    #[arg(
        env = "ETL_INGEST_PATHS",
        value_delimiter = ',',
        default_value = "data/events.csv"
    )]
    pub(crate) paths: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) location: Location,
    /// Files larger than this go up as multipart uploads in parts of this size (MiB, at least 5).
    #[arg(long, env = "ETL_PART_SIZE_MIB", default_value_t = 8, value_parser = clap::value_parser!(u64).range(5..=5120))]
    pub(crate) part_size_mib: u64,
    /// Parts uploaded in parallel.
    #[arg(long, env = "ETL_UPLOAD_CONCURRENCY", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(crate) upload_concurrency: u16,
    /// Show a progress bar (default: when stderr is a terminal).
    #[arg(long, env = "ETL_PROGRESS")]
    pub(crate) progress: Option<bool>,
    /// Compress each file while uploading it; the key gets the codec's suffix (.gz, .zst). The output is
    /// deterministic, so an unchanged file is still skipped on a rerun.
    #[arg(long, env = "ETL_COMPRESS", value_enum, default_value_t = CompressArg::None)]
    pub(crate) compress: CompressArg,
    #[command(flatten)]
    pub(crate) aws: AwsArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CompressArg {
    /// Upload the file as it is.
    None,
    /// gzip (deflate), which every tool reads.
    Gzip,
    /// zstd: faster and smaller than gzip.
    Zstd,
}

#[derive(Debug, Args)]
pub(crate) struct ProcessArgs {
    #[command(flatten)]
    pub(crate) location: Location,
    #[command(flatten)]
    pub(crate) dataset: DatasetArg,
    #[command(flatten)]
    pub(crate) db: DbArgs,
    /// An object with more rejected rows than this fails as a whole (0: any bad row fails the object).
    #[arg(long, env = "ETL_MAX_REJECTS", default_value_t = 1000)]
    pub(crate) max_rejects: u64,
    /// Reload objects that are already loaded, replacing their rows and rejects.
    #[arg(long, env = "ETL_REPROCESS")]
    pub(crate) reprocess: bool,
    /// Reload only the loaded objects that have rejected rows (after the spec's rules were fixed), replacing
    /// their rows and rejects; objects that loaded whole are not read again. New objects load as usual.
    #[arg(long, env = "ETL_RETRY_REJECTED")]
    pub(crate) retry_rejected: bool,
    /// Show a progress bar per object (default: when stderr is a terminal).
    #[arg(long, env = "ETL_PROGRESS")]
    pub(crate) progress: Option<bool>,
    /// SQS queue URL: run as a service that loads each key named by the S3 event notifications on this queue
    /// (the key's current version, through the same ledger), instead of listing the prefix.
    #[arg(long = "queue", env = "ETL_QUEUE_URL")]
    pub(crate) queue_url: Option<String>,
    /// With --queue: long-poll wait of one receive (seconds).
    #[arg(long, env = "ETL_QUEUE_WAIT_SECONDS", default_value_t = 20, value_parser = clap::value_parser!(u8).range(1..=20))]
    pub(crate) queue_wait_seconds: u8,
    /// With --queue: exit once a receive comes back empty and the queue holds no message, visible, delayed or
    /// in flight. For batch runs and tests; the service leaves it off.
    #[arg(long, env = "ETL_EXIT_WHEN_IDLE")]
    pub(crate) exit_when_idle: bool,
    /// Size of the COPY data chunks sent to PostgreSQL (KiB).
    #[arg(long, env = "ETL_COPY_CHUNK_KIB", default_value_t = 64, value_parser = clap::value_parser!(u32).range(4..=16384))]
    pub(crate) copy_chunk_kib: u32,
    /// Loads in flight at once, each with its own PostgreSQL connection (the run holds jobs + 1 connections).
    #[arg(long, env = "ETL_JOBS", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub(crate) jobs: u16,
    /// Objects smaller than this (bytes) share one transaction, up to this many bytes per transaction.
    #[arg(long, env = "ETL_GROUP_BYTES", default_value_t = 4 << 20)]
    pub(crate) group_bytes: u64,
    /// At most this many small objects share one transaction (1: one transaction per object).
    #[arg(long, env = "ETL_GROUP_OBJECTS", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) group_objects: u16,
    #[command(flatten)]
    pub(crate) aws: AwsArgs,
}

#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    #[command(flatten)]
    pub(crate) dataset: DatasetArg,
    #[command(flatten)]
    pub(crate) db: DbArgs,
    #[command(flatten)]
    pub(crate) aws: AwsArgs,
}

#[derive(Debug, Args)]
pub(crate) struct Location {
    /// S3 bucket.
    #[arg(long, env = "ETL_BUCKET")]
    pub(crate) bucket: String,
    /// Key prefix; a trailing `/` is added when missing.
    #[arg(long, env = "ETL_PREFIX", default_value = "")]
    pub(crate) prefix: String,
}

#[derive(Debug, Args)]
pub(crate) struct DatasetArg {
    /// Dataset spec (TOML): table, columns, CSV options and transform rules.
    #[arg(long, env = "ETL_DATASET", default_value = "data/events.toml")]
    pub(crate) dataset: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct DbArgs {
    /// PostgreSQL URL, e.g. postgres://user:pass@host:5432/db?sslmode=disable. With --db-secret-arn, give it
    /// without credentials (or use --db-host/--db-port/--db-name instead).
    #[arg(long, env = "ETL_DATABASE_URL", hide_env_values = true)]
    pub(crate) database_url: Option<String>,
    /// ARN of an RDS-managed secret (JSON with username and password) in Secrets Manager.
    #[arg(long, env = "ETL_DB_SECRET_ARN")]
    pub(crate) db_secret_arn: Option<String>,
    /// Database host, when the URL has none.
    #[arg(long, env = "ETL_DB_HOST")]
    pub(crate) db_host: Option<String>,
    /// Database port (overrides the URL's).
    #[arg(long, env = "ETL_DB_PORT")]
    pub(crate) db_port: Option<u16>,
    /// Database name (overrides the URL's).
    #[arg(long, env = "ETL_DB_NAME")]
    pub(crate) db_name: Option<String>,
    /// `verify-full` (default; needs --db-ca-bundle) or `disable`. Overrides the URL's sslmode.
    #[arg(long, env = "ETL_DB_SSLMODE")]
    pub(crate) db_sslmode: Option<String>,
    /// PEM CA bundle for verify-full (for RDS: the global bundle). Overrides the URL's sslrootcert.
    #[arg(long, env = "ETL_DB_CA_BUNDLE")]
    pub(crate) db_ca_bundle: Option<PathBuf>,
    /// Connection attempts before giving up (exponential backoff from 200 ms, capped at 5 s).
    #[arg(long, env = "ETL_DB_CONNECT_ATTEMPTS", default_value_t = 5)]
    pub(crate) db_connect_attempts: u32,
    /// Timeout of one connection attempt (seconds).
    #[arg(long, env = "ETL_DB_CONNECT_TIMEOUT", default_value_t = 10)]
    pub(crate) db_connect_timeout: u64,
}

#[derive(Debug, Args)]
pub(crate) struct AwsArgs {
    /// Endpoint override for S3, SQS and Secrets Manager (moto, LocalStack); turns on path-style addressing.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub(crate) endpoint_url: Option<String>,
    /// AWS region (default: the SDK's chain, e.g. AWS_REGION or the instance's region).
    #[arg(long, env = "ETL_AWS_REGION")]
    pub(crate) region: Option<String>,
    /// Use path-style S3 addressing (always on with an endpoint override).
    #[arg(long, env = "ETL_S3_FORCE_PATH_STYLE")]
    pub(crate) s3_force_path_style: bool,
    /// Attempts per AWS request with the SDK's standard retry mode (exponential backoff with jitter).
    #[arg(long, env = "ETL_AWS_MAX_ATTEMPTS", default_value_t = 5)]
    pub(crate) aws_max_attempts: u32,
}

impl AwsArgs {
    fn options(&self) -> AwsOptions {
        AwsOptions {
            endpoint_url: self.endpoint_url.clone().filter(|u| !u.is_empty()),
            region: self.region.clone(),
            force_path_style: self.s3_force_path_style,
            max_attempts: self.aws_max_attempts,
        }
    }
}

impl DbArgs {
    pub(crate) fn settings(&self) -> DbSettings {
        DbSettings {
            url: self.database_url.clone(),
            secret_arn: self.db_secret_arn.clone(),
            host: self.db_host.clone(),
            port: self.db_port,
            name: self.db_name.clone(),
            sslmode: self.db_sslmode.clone(),
            ca_bundle: self.db_ca_bundle.clone(),
            connect_attempts: self.db_connect_attempts,
            connect_timeout: Duration::from_secs(self.db_connect_timeout),
        }
    }
}

fn prefix(raw: &str) -> String {
    if raw.is_empty() || raw.ends_with('/') {
        raw.to_owned()
    } else {
        format!("{raw}/")
    }
}

impl IngestArgs {
    pub(crate) fn config(&self) -> IngestConfig {
        IngestConfig {
            paths: self.paths.clone(),
            bucket: self.location.bucket.clone(),
            prefix: prefix(&self.location.prefix),
            aws: self.aws.options(),
            part_bytes: self.part_size_mib << 20,
            concurrency: usize::from(self.upload_concurrency),
            progress: self
                .progress
                .unwrap_or_else(|| std::io::stderr().is_terminal()),
            compress: match self.compress {
                CompressArg::None => None,
                CompressArg::Gzip => Some(Compress::Gzip),
                CompressArg::Zstd => Some(Compress::Zstd),
            },
        }
    }
}

impl ProcessArgs {
    pub(crate) fn config(&self) -> Result<ProcessConfig, Error> {
        let queue = self.queue_config();
        let (reload, flag) = match (self.reprocess, self.retry_rejected) {
            (false, false) => (Reload::Changed, None),
            (true, false) => (Reload::All, Some("--reprocess")),
            (false, true) => (Reload::Rejected, Some("--retry-rejected")),
            (true, true) => {
                return Err(Error::Config(
                    "--reprocess already reloads every object; drop --retry-rejected".to_owned(),
                ));
            }
        };
        if let (Some(_), Some(flag)) = (&queue, flag) {
            return Err(Error::Config(format!(
                "{flag} reloads a listing; it does not combine with --queue"
            )));
        }
        if queue.is_none() && self.exit_when_idle {
            return Err(Error::Config("--exit-when-idle needs --queue".to_owned()));
        }
        Ok(ProcessConfig {
            bucket: self.location.bucket.clone(),
            prefix: prefix(&self.location.prefix),
            dataset: Arc::new(Dataset::load(&self.dataset.dataset)?),
            aws: self.aws.options(),
            max_rejects: self.max_rejects,
            reload,
            chunk_bytes: self.copy_chunk_kib as usize * 1024,
            progress: self
                .progress
                .unwrap_or_else(|| std::io::stderr().is_terminal()),
            jobs: usize::from(self.jobs),
            group_bytes: self.group_bytes,
            group_objects: usize::from(self.group_objects),
        })
    }
}

impl ProcessArgs {
    /// The queue settings, when --queue (or a non-empty ETL_QUEUE_URL) is given.
    pub(crate) fn queue_config(&self) -> Option<QueueConfig> {
        let url = self.queue_url.clone().filter(|u| !u.is_empty())?;
        Some(QueueConfig {
            url,
            wait_seconds: self.queue_wait_seconds,
            exit_when_idle: self.exit_when_idle,
        })
    }
}

impl MigrateArgs {
    pub(crate) fn aws_options(&self) -> AwsOptions {
        self.aws.options()
    }
}
