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
    /// The spec file could not be opened or read.
    #[error("cannot read dataset spec {path}: {source}")]
    Read {
        /// The spec file.
        path: PathBuf,
        /// The I/O error from the file system.
        source: std::io::Error,
    },
    /// The spec file is not well-formed TOML or does not fit the spec's shape.
    #[error("dataset spec {path} is not valid TOML: {message}")]
    Toml {
        /// The spec file.
        path: PathBuf,
        /// The TOML parser's message, with the position it points at.
        message: String,
    },
    /// The spec parsed but breaks one or more rules; all problems are reported at once.
    #[error("dataset spec {path} is invalid: {problems}")]
    Invalid {
        /// The spec file.
        path: PathBuf,
        /// Every problem found, joined into one line.
        problems: String,
    },
}

/// A PostgreSQL problem outside one object's load.
#[derive(Debug, Error)]
pub enum DbError {
    /// Every connection attempt failed or timed out.
    #[error("cannot connect to PostgreSQL at {target} after {attempts} attempt(s): {message}")]
    Connect {
        /// `user@host:port/dbname`, never the password.
        target: String,
        /// How many attempts were made before giving up.
        attempts: u32,
        /// The last attempt's error.
        message: String,
    },
    /// The CA bundle cannot be read or parsed, or the TLS connector cannot be built.
    #[error("cannot set up TLS for PostgreSQL: {0}")]
    Tls(String),
    /// The RDS-managed secret cannot be fetched or has no usable username and password.
    #[error("cannot read database secret {arn}: {message}")]
    Secret {
        /// The secret's ARN.
        arn: String,
        /// Why it could not be read.
        message: String,
    },
    /// A statement outside an object's load (migration, ledger query) failed.
    #[error("PostgreSQL failed to {what}: {message}")]
    Query {
        /// What was being done, as a verb phrase ("commit the migration").
        what: &'static str,
        /// The server's message, from [`pg_message`].
        message: String,
    },
    /// The target table exists but lacks columns the dataset spec (or the ledger) needs.
    #[error("table {table} does not match the dataset spec: {message}")]
    Schema {
        /// The target table, schema-qualified when the spec names a schema.
        table: String,
        /// Which columns are missing.
        message: String,
    },
}

impl DbError {
    /// A [`DbError::Query`] for `what`, with the server's message taken from `source`.
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
    /// The bucket to list or upload to does not exist.
    #[error("bucket {bucket} does not exist")]
    NoSuchBucket {
        /// The bucket that was asked for.
        bucket: String,
    },
    /// Listing the objects under the prefix failed.
    #[error("cannot list s3://{bucket}/{prefix}: {message}")]
    List {
        /// The bucket that was listed.
        bucket: String,
        /// The key prefix that was listed.
        prefix: String,
        /// The S3 error, with its AWS error code.
        message: String,
    },
    /// Uploading a local file failed (`etl ingest`).
    #[error("cannot upload {path} to s3://{bucket}/{key}: {message}")]
    Upload {
        /// The local file being uploaded.
        path: PathBuf,
        /// The destination bucket.
        bucket: String,
        /// The destination key.
        key: String,
        /// The S3 error, with its AWS error code.
        message: String,
    },
    /// A local file to upload could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The local file.
        path: PathBuf,
        /// The I/O error from the file system.
        source: std::io::Error,
    },
}

/// An SQS problem of the queue consumer; each names the queue and, for one message's trouble, the message id.
#[derive(Debug, Error)]
pub enum QueueError {
    /// The queue URL names a queue that does not exist.
    #[error("queue {queue} does not exist")]
    NoSuchQueue {
        /// The queue URL.
        queue: String,
    },
    /// The queue's attributes (checked at startup) cannot be read.
    #[error("cannot read the attributes of queue {queue}: {message}")]
    Attributes {
        /// The queue URL.
        queue: String,
        /// The SQS error, with its AWS error code.
        message: String,
    },
    /// A `ReceiveMessage` call failed.
    #[error("cannot receive from queue {queue}: {message}")]
    Receive {
        /// The queue URL.
        queue: String,
        /// The SQS error, with its AWS error code.
        message: String,
    },
    /// A handled message could not be deleted, so it will be delivered again.
    #[error("cannot delete message {message_id} from queue {queue}: {message}")]
    Delete {
        /// The queue URL.
        queue: String,
        /// The SQS message id.
        message_id: String,
        /// The SQS error, with its AWS error code.
        message: String,
    },
    /// A message's visibility timeout could not be extended or reset.
    #[error("cannot change the visibility of message {message_id} in queue {queue}: {message}")]
    Visibility {
        /// The queue URL.
        queue: String,
        /// The SQS message id.
        message_id: String,
        /// The SQS error, with its AWS error code.
        message: String,
    },
    /// A message's body is not JSON in the shape of an S3 event notification.
    #[error("message {message_id} in queue {queue} is not an S3 event notification: {reason}")]
    NotAnEvent {
        /// The queue URL.
        queue: String,
        /// The SQS message id.
        message_id: String,
        /// What about the body does not fit.
        reason: String,
    },
    /// The object a message names could not be looked up with `HeadObject`.
    #[error("message {message_id} in queue {queue}: cannot read s3://{bucket}/{key}: {message}")]
    Head {
        /// The queue URL.
        queue: String,
        /// The SQS message id.
        message_id: String,
        /// The object's bucket.
        bucket: String,
        /// The object's key.
        key: String,
        /// The S3 error, with its AWS error code.
        message: String,
    },
}

/// Why one object failed; the object's failure rolls back everything it wrote.
#[derive(Debug, Error)]
pub enum ObjectError {
    /// The spec expects a header, but the object has no records at all.
    #[error("object is empty, expected a header line")]
    Empty,
    /// The CSV header line names other columns, or the same in another order, than the spec.
    #[error("line 1: header {found:?} does not match the spec's columns {expected:?}")]
    Header {
        /// The spec's column names, joined by commas.
        expected: String,
        /// The object's header record, as a CSV line.
        found: String,
    },
    /// The object starts with a byte-order mark of an encoding that is not read (UTF-32).
    #[error(
        "line 1: the object starts with a {encoding} byte-order mark, an encoding etl does not read: save it as UTF-8 (Excel: \"CSV UTF-8\") or UTF-16"
    )]
    Encoding {
        /// The encoding the byte-order mark belongs to.
        encoding: &'static str,
    },
    /// The object ends inside a quoted CSV field.
    #[error("line {line}: unterminated quoted field (the quote opened on this line never closes)")]
    UnterminatedQuote {
        /// The line the quote opened on.
        line: u64,
    },
    /// One CSV record grew past the size limit, which bounds the parser's memory.
    #[error("line {line}: record is larger than {max} bytes (unterminated quote?)")]
    RecordTooLarge {
        /// The line the record starts on.
        line: u64,
        /// The limit in bytes.
        max: usize,
    },
    /// One JSON line grew past the size limit, which bounds the parser's memory.
    #[error("line {line}: JSON line is longer than {max} bytes")]
    LineTooLarge {
        /// The line's number.
        line: u64,
        /// The limit in bytes.
        max: usize,
    },
    /// The object is not a Parquet file the reader can decode (bad footer, unsupported encoding, corrupt page).
    #[error("not a readable Parquet file: {0}")]
    Parquet(String),
    /// A spec column has no column of that name in the Parquet file.
    #[error("column {column} ({spec_type}) is not in the Parquet file, which has: {found}")]
    ParquetMissing {
        /// The spec column's name.
        column: String,
        /// The spec column's SQL type.
        spec_type: String,
        /// The Parquet file's column names, so a typo is easy to see.
        found: String,
    },
    /// A Parquet column's type cannot be converted to the spec column's SQL type.
    #[error("column {column}: the Parquet file's type {file_type} does not load into {spec_type}")]
    ParquetColumn {
        /// The column's name.
        column: String,
        /// The column's type in the Parquet file.
        file_type: String,
        /// The spec column's SQL type.
        spec_type: String,
    },
    /// More rows were rejected than `--max-rejects` allows, so the object is not loaded.
    #[error("line {line}: more than {max} rejected rows, last: {reason}")]
    TooManyRejects {
        /// The line of the rejected row that went over the limit.
        line: u64,
        /// The limit, `--max-rejects`.
        max: u64,
        /// Why that last row was rejected.
        reason: String,
    },
    /// With `compression = "auto"`, the object's first bytes show a format etl does not read (bzip2, zip, ...).
    #[error("the object is {found}, which etl does not read: {advice}")]
    Unreadable {
        /// What the first bytes look like.
        found: String,
        /// What the user can do instead.
        advice: &'static str,
    },
    /// The spec names a compression and the object's first bytes show another one, or none.
    #[error("the spec says compression = \"{expected}\", but the object is {found}")]
    CompressionMismatch {
        /// The compression the spec names.
        expected: &'static str,
        /// What the first bytes look like.
        found: String,
    },
    /// The compressed stream is corrupt or truncated.
    #[error("{codec}: {problem} at compressed byte {offset}")]
    Decompress {
        /// The codec, `gzip` or `zstd`.
        codec: &'static str,
        /// What the decoder found wrong.
        problem: String,
        /// How many compressed bytes were read when the problem showed.
        offset: u64,
    },
    /// Reading the object from S3 failed, or a download or parser task stopped; the environment's fault.
    #[error("download failed: {0}")]
    Download(String),
    /// A statement of the object's load (ledger claim, COPY, commit) failed; the environment's fault.
    #[error("PostgreSQL failed to {what}: {message}")]
    Db {
        /// What was being done, as a verb phrase.
        what: &'static str,
        /// The server's message, from [`pg_message`].
        message: String,
    },
}

impl ObjectError {
    /// Whether the object's content is at fault (exit 2) rather than the environment (exit 1).
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, Self::Download(_) | Self::Db { .. })
    }

    /// An [`ObjectError::Db`] for `what`, with the server's message taken from `source`.
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
    /// The dataset spec cannot be read or is invalid.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A flag or environment variable is missing, contradicts another or has a bad value.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// PostgreSQL failed outside one object's load.
    #[error(transparent)]
    Db(#[from] DbError),
    /// S3 or a local file failed outside one object's load.
    #[error(transparent)]
    S3(#[from] S3Error),
    /// The SQS queue consumer failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// At the end of a `process` run, one or more objects had failed; the others were loaded.
    #[error("{failed} of {total} object(s) failed, first: {first}")]
    ObjectsFailed {
        /// How many objects failed.
        failed: u64,
        /// How many objects were listed.
        total: u64,
        /// The first failure, with its `s3://bucket/key`.
        first: String,
        /// Whether any failure was the environment's (exit 1) rather than only bad content (exit 2).
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
