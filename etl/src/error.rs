//! Error types, one per boundary, each carrying the identifiers a human needs (file, bucket, key, line, column).
//!
//! Every error renders as one line. [`Error::exit_code`] maps them onto the CLI contract: 2 for bad input,
//! configuration or usage, 1 for runtime failures.

use std::fmt::Write;
use std::path::PathBuf;

use thiserror::Error;

/// A problem with the dataset spec file.
#[derive(Debug, Error)]
pub enum SpecError {
    #[error("cannot read dataset spec {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("dataset spec {path} is not valid TOML: {message}")]
    Toml { path: PathBuf, message: String },
    #[error("dataset spec {path} is invalid: {problems}")]
    Invalid { path: PathBuf, problems: String },
}

/// A PostgreSQL problem outside one object's load.
#[derive(Debug, Error)]
pub enum DbError {
    #[error("cannot connect to PostgreSQL at {target} after {attempts} attempt(s): {message}")]
    Connect {
        target: String,
        attempts: u32,
        message: String,
    },
    #[error("cannot set up TLS for PostgreSQL: {0}")]
    Tls(String),
    #[error("cannot read database secret {arn}: {message}")]
    Secret { arn: String, message: String },
    #[error("PostgreSQL failed to {what}: {message}")]
    Query { what: &'static str, message: String },
    #[error("table {table} does not match the dataset spec: {message}")]
    Schema { table: String, message: String },
}

impl DbError {
    pub fn query(what: &'static str, source: &tokio_postgres::Error) -> Self {
        Self::Query {
            what,
            message: pg_message(source),
        }
    }
}

/// An S3 or local file problem outside one object's load.
#[derive(Debug, Error)]
pub enum S3Error {
    #[error("bucket {bucket} does not exist")]
    NoSuchBucket { bucket: String },
    #[error("cannot list s3://{bucket}/{prefix}: {message}")]
    List {
        bucket: String,
        prefix: String,
        message: String,
    },
    #[error("cannot upload {path} to s3://{bucket}/{key}: {message}")]
    Upload {
        path: PathBuf,
        bucket: String,
        key: String,
        message: String,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// An SQS problem of the queue consumer; each names the queue and, for one message's trouble, the message id.
#[derive(Debug, Error)]
pub enum QueueError {
    #[error("queue {queue} does not exist")]
    NoSuchQueue { queue: String },
    #[error("cannot read the attributes of queue {queue}: {message}")]
    Attributes { queue: String, message: String },
    #[error("cannot receive from queue {queue}: {message}")]
    Receive { queue: String, message: String },
    #[error("cannot delete message {message_id} from queue {queue}: {message}")]
    Delete {
        queue: String,
        message_id: String,
        message: String,
    },
    #[error("cannot change the visibility of message {message_id} in queue {queue}: {message}")]
    Visibility {
        queue: String,
        message_id: String,
        message: String,
    },
    #[error("message {message_id} in queue {queue} is not an S3 event notification: {reason}")]
    NotAnEvent {
        queue: String,
        message_id: String,
        reason: String,
    },
    #[error("message {message_id} in queue {queue}: cannot read s3://{bucket}/{key}: {message}")]
    Head {
        queue: String,
        message_id: String,
        bucket: String,
        key: String,
        message: String,
    },
}

/// Why one object failed; the object's failure rolls back everything it wrote.
#[derive(Debug, Error)]
pub enum ObjectError {
    #[error("object is empty, expected a header line")]
    Empty,
    #[error("line 1: header {found:?} does not match the spec's columns {expected:?}")]
    Header { expected: String, found: String },
    #[error(
        "line 1: the object starts with a {encoding} byte-order mark, an encoding etl does not read: save it as UTF-8 (Excel: \"CSV UTF-8\") or UTF-16"
    )]
    Encoding { encoding: &'static str },
    #[error("line {line}: unterminated quoted field (the quote opened on this line never closes)")]
    UnterminatedQuote { line: u64 },
    #[error("line {line}: record is larger than {max} bytes (unterminated quote?)")]
    RecordTooLarge { line: u64, max: usize },
    #[error("line {line}: JSON line is longer than {max} bytes")]
    LineTooLarge { line: u64, max: usize },
    #[error("not a readable Parquet file: {0}")]
    Parquet(String),
    #[error("column {column} ({spec_type}) is not in the Parquet file, which has: {found}")]
    ParquetMissing {
        column: String,
        spec_type: String,
        found: String,
    },
    #[error("column {column}: the Parquet file's type {file_type} does not load into {spec_type}")]
    ParquetColumn {
        column: String,
        file_type: String,
        spec_type: String,
    },
    #[error("line {line}: more than {max} rejected rows, last: {reason}")]
    TooManyRejects { line: u64, max: u64, reason: String },
    #[error("the object is {found}, which etl does not read: {advice}")]
    Unreadable { found: String, advice: &'static str },
    #[error("the spec says compression = \"{expected}\", but the object is {found}")]
    CompressionMismatch {
        expected: &'static str,
        found: String,
    },
    #[error("{codec}: {problem} at compressed byte {offset}")]
    Decompress {
        codec: &'static str,
        problem: String,
        offset: u64,
    },
    #[error("download failed: {0}")]
    Download(String),
    #[error("PostgreSQL failed to {what}: {message}")]
    Db { what: &'static str, message: String },
}

impl ObjectError {
    /// Whether the object's content is at fault (exit 2) rather than the environment (exit 1).
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, Self::Download(_) | Self::Db { .. })
    }

    pub fn db(what: &'static str, source: &tokio_postgres::Error) -> Self {
        Self::Db {
            what,
            message: pg_message(source),
        }
    }
}

/// Everything the library can return to `main`.
#[derive(Debug, Error)]
pub enum Error {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    S3(#[from] S3Error),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("{failed} of {total} object(s) failed, first: {first}")]
    ObjectsFailed {
        failed: u64,
        total: u64,
        first: String,
        runtime: bool,
    },
}

impl Error {
    /// The process exit code for this error: 2 for bad input or configuration, 1 for runtime failures.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Spec(_)
            | Self::Config(_)
            | Self::S3(S3Error::NoSuchBucket { .. } | S3Error::Read { .. })
            | Self::Queue(QueueError::NoSuchQueue { .. })
            | Self::Db(DbError::Schema { .. } | DbError::Tls(_))
            | Self::ObjectsFailed { runtime: false, .. } => 2,
            Self::Db(_) | Self::S3(_) | Self::Queue(_) | Self::ObjectsFailed { .. } => 1,
        }
    }
}

/// One line from a PostgreSQL error: the server's message, detail and context when there is a server error.
pub fn pg_message(error: &tokio_postgres::Error) -> String {
    let text = match error.as_db_error() {
        Some(db) => {
            let mut text = format!("{}: {}", db.severity(), db.message());
            if let Some(detail) = db.detail() {
                let _ = write!(text, " ({detail})");
            }
            if let Some(where_) = db.where_() {
                let _ = write!(text, " [{where_}]");
            }
            text
        }
        None => match std::error::Error::source(error) {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        },
    };
    text.replace('\n', " ")
}
