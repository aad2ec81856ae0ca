//! `etl process`: every object under the prefix, not yet loaded, goes S3 → CSV → transform → COPY in one
//! transaction with its ledger row and rejects.
//!
//! Per object, three stages overlap: a task streams the S3 body into a bounded channel; a blocking thread parses,
//! transforms and encodes COPY chunks into a second bounded channel; the async side sends those chunks into the
//! COPY. The channels bound memory and give backpressure both ways. This is the only module that knows both the
//! source and the sink.

use std::sync::Arc;
use std::time::Instant;

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use futures_util::SinkExt;
use indicatif::ProgressBar;
use tokio::sync::mpsc::{Receiver, Sender, channel};
use tokio_postgres::Client;
use tracing::{error, info, warn};

use crate::aws::AwsOptions;
use crate::db::DbConfig;
use crate::error::{Error, ObjectError};
use crate::ledger::{self, Reject};
use crate::metrics::{self, ObjectMetrics};
use crate::record::Record;
use crate::sink::{CopyEncoder, copy_statement};
use crate::source::csv::CsvParser;
use crate::source::{self, ObjectVersion};
use crate::spec::Dataset;
use crate::transform::Transform;

/// S3 body chunks buffered between the download and the parser.
const DOWNLOAD_QUEUE: usize = 16;
/// COPY chunks buffered between the parser and PostgreSQL.
const COPY_QUEUE: usize = 4;

/// Everything `etl process` needs, validated.
#[derive(Debug, Clone)]
pub struct ProcessConfig {
    pub bucket: String,
    pub prefix: String,
    pub dataset: Arc<Dataset>,
    pub aws: AwsOptions,
    pub max_rejects: u64,
    pub reprocess: bool,
    pub chunk_bytes: usize,
    /// Draw a progress bar per object on stderr.
    pub progress: bool,
}

/// Totals of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub objects_loaded: u64,
    pub objects_skipped: u64,
    pub objects_failed: u64,
    pub rows_loaded: u64,
    pub rows_rejected: u64,
}

enum Outcome {
    Loaded {
        rows: u64,
        rejected: u64,
        bytes: u64,
        replaced: u64,
        version_id: String,
    },
    Skipped(&'static str),
}

/// Runs `etl process` against an already resolved database config.
pub async fn process(config: &ProcessConfig, db: &DbConfig) -> Result<RunSummary, Error> {
    let started = Instant::now();
    let dataset = &config.dataset;
    let transform = Arc::new(Transform::new(dataset));
    let sdk = crate::aws::sdk_config(&config.aws).await;
    let s3 = crate::aws::s3_client(&sdk, &config.aws);
    let mut client = crate::db::connect(db).await?;
    crate::migrate::migrate(&mut client, dataset).await?;
    let objects = source::list(&s3, &config.bucket, &config.prefix).await?;
    info!(bucket = %config.bucket, prefix = %config.prefix, objects = objects.len(), "Listed objects.");

    let mut summary = RunSummary::default();
    let mut first_failure: Option<(String, bool)> = None;
    for object in &objects {
        let object_started = Instant::now();
        let result = load_object(&mut client, &s3, config, &transform, object).await;
        let seconds = object_started.elapsed().as_secs_f64();
        match result {
            Ok(Outcome::Loaded {
                rows,
                rejected,
                bytes,
                replaced,
                version_id,
            }) => {
                summary.objects_loaded += 1;
                summary.rows_loaded += rows;
                summary.rows_rejected += rejected;
                info!(dataset = %dataset.name, bucket = %object.bucket, key = %object.key, version_id = %version_id,
                      rows, rejected, bytes, replaced, seconds, "Loaded object.");
                let m = ObjectMetrics {
                    rows_loaded: rows,
                    rows_rejected: rejected,
                    loaded: true,
                    seconds,
                };
                metrics::emit(&metrics::object_record(&dataset.name, &object.key, &m));
            }
            Ok(Outcome::Skipped(reason)) => {
                summary.objects_skipped += 1;
                info!(dataset = %dataset.name, bucket = %object.bucket, key = %object.key, reason, "Skipped object.");
            }
            Err(e) => {
                summary.objects_failed += 1;
                let message = format!("s3://{}/{}: {e}", object.bucket, object.key);
                error!(dataset = %dataset.name, bucket = %object.bucket, key = %object.key, error = %e, seconds, "Object failed, nothing of it was loaded.");
                metrics::emit(&metrics::object_record(
                    &dataset.name,
                    &object.key,
                    &ObjectMetrics {
                        seconds,
                        ..ObjectMetrics::default()
                    },
                ));
                let runtime = !e.is_bad_input();
                match &mut first_failure {
                    None => first_failure = Some((message, runtime)),
                    Some((_, any_runtime)) => *any_runtime |= runtime,
                }
                if client.is_closed() {
                    warn!("PostgreSQL connection lost, reconnecting.");
                    client = crate::db::connect(db).await?;
                }
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    metrics::emit(&metrics::run_record(
        &dataset.name,
        seconds,
        first_failure.is_none(),
    ));
    info!(dataset = %dataset.name, loaded = summary.objects_loaded, skipped = summary.objects_skipped,
          failed = summary.objects_failed, rows = summary.rows_loaded, rejected = summary.rows_rejected, seconds,
          "Process finished.");
    match first_failure {
        None => Ok(summary),
        Some((first, runtime)) => Err(Error::ObjectsFailed {
            failed: summary.objects_failed,
            total: objects.len() as u64,
            first,
            runtime,
        }),
    }
}

/// Loads one object in one transaction; dropping the transaction on any error rolls everything back.
async fn load_object(
    client: &mut Client,
    s3: &aws_sdk_s3::Client,
    config: &ProcessConfig,
    transform: &Arc<Transform>,
    object: &ObjectVersion,
) -> Result<Outcome, ObjectError> {
    let dataset = &config.dataset;
    let tx = client
        .transaction()
        .await
        .map_err(|e| ObjectError::db("begin a transaction", &e))?;
    if !ledger::try_claim(&tx, &dataset.name, object).await? {
        return Ok(Outcome::Skipped("another loader holds this key"));
    }
    let mut replaced = 0;
    if let Some(current) = ledger::current(&tx, &dataset.name, object).await? {
        if current.etag == object.etag && !config.reprocess {
            return Ok(Outcome::Skipped("already loaded"));
        }
        replaced = ledger::supersede(&tx, &dataset.qualified_table(), current.id).await?;
    }
    let opened = source::open(s3, object).await?;
    let object_id = ledger::begin(&tx, &dataset.name, object, &opened.version_id).await?;

    let (byte_tx, byte_rx) = channel(DOWNLOAD_QUEUE);
    let (chunk_tx, mut chunk_rx) = channel(COPY_QUEUE);
    let bar = crate::progress::bytes_bar(config.progress, object.size);
    bar.set_message(object.key.clone());
    let download = tokio::spawn(download(opened.body, byte_tx, bar.clone()));
    let stage = ParseStage {
        transform: Arc::clone(transform),
        delimiter: dataset.delimiter,
        header: dataset.header,
        max_rejects: config.max_rejects,
        encoder: CopyEncoder::new(object_id, config.chunk_bytes),
    };
    let parse = tokio::task::spawn_blocking(move || stage.run(byte_rx, &chunk_tx));

    let sink = tx
        .copy_in(&copy_statement(dataset))
        .await
        .map_err(|e| ObjectError::db("start COPY", &e))?;
    futures_util::pin_mut!(sink);
    let mut copy_error = None;
    while let Some(chunk) = chunk_rx.recv().await {
        if let Err(e) = sink.send(chunk).await {
            copy_error = Some(e);
            break;
        }
    }
    drop(chunk_rx);
    let parsed = parse
        .await
        .map_err(|e| ObjectError::Download(format!("parser task failed: {e}")))?;
    let bytes = download
        .await
        .map_err(|e| ObjectError::Download(format!("download task failed: {e}")))??;
    if bytes != object.size {
        return Err(ObjectError::Download(format!(
            "read {bytes} bytes, the listing said {}",
            object.size
        )));
    }
    if let Some(e) = copy_error {
        return Err(ObjectError::db("copy rows", &e));
    }
    let (encoded, rejects) = parsed?;
    let rows = sink
        .as_mut()
        .finish()
        .await
        .map_err(|e| ObjectError::db("finish COPY", &e))?;
    debug_assert_eq!(rows, encoded);
    ledger::complete(&tx, object_id, rows, &rejects).await?;
    tx.commit()
        .await
        .map_err(|e| ObjectError::db("commit", &e))?;
    Ok(Outcome::Loaded {
        rows,
        rejected: rejects.len() as u64,
        bytes,
        replaced,
        version_id: opened.version_id,
    })
}

/// Streams the body into the channel; returns the byte count. Stops quietly when the parser has gone.
async fn download(
    mut body: ByteStream,
    out: Sender<Bytes>,
    bar: ProgressBar,
) -> Result<u64, ObjectError> {
    let mut bytes = 0;
    while let Some(chunk) = body
        .try_next()
        .await
        .map_err(|e| ObjectError::Download(e.to_string()))?
    {
        bytes += chunk.len() as u64;
        bar.inc(chunk.len() as u64);
        if out.send(chunk).await.is_err() {
            break;
        }
    }
    Ok(bytes)
}

/// The blocking middle stage: parse, transform, encode.
struct ParseStage {
    transform: Arc<Transform>,
    delimiter: u8,
    header: bool,
    max_rejects: u64,
    encoder: CopyEncoder,
}

impl ParseStage {
    /// Returns the rows encoded and the rejects, or the reason the whole object fails.
    fn run(
        mut self,
        mut input: Receiver<Bytes>,
        output: &Sender<Bytes>,
    ) -> Result<(u64, Vec<Reject>), ObjectError> {
        let closed = || ObjectError::Db {
            what: "copy rows",
            message: "the COPY stream closed".to_owned(),
        };
        let mut parser = CsvParser::new(self.delimiter);
        let mut rejects = Vec::new();
        let mut header_pending = self.header;
        let mut emit = |record: Record<'_>| -> Result<(), ObjectError> {
            if header_pending {
                header_pending = false;
                return self.transform.check_header(&record);
            }
            if let Err(reason) = self.transform.apply(&record, &mut self.encoder) {
                if rejects.len() as u64 >= self.max_rejects {
                    return Err(ObjectError::TooManyRejects {
                        line: record.line,
                        max: self.max_rejects,
                        reason,
                    });
                }
                rejects.push(Reject {
                    line: record.line,
                    record: record.to_csv_line(self.delimiter),
                    reason,
                });
            }
            if let Some(chunk) = self.encoder.take_chunk() {
                output.blocking_send(chunk).map_err(|_| closed())?;
            }
            Ok(())
        };
        while let Some(bytes) = input.blocking_recv() {
            parser.feed(&bytes, &mut emit)?;
        }
        parser.finish(&mut emit)?;
        if header_pending {
            return Err(ObjectError::Empty);
        }
        if let Some(rest) = self.encoder.take_rest() {
            output.blocking_send(rest).map_err(|_| closed())?;
        }
        Ok((self.encoder.rows(), rejects))
    }
}
