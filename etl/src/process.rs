//! `etl process`: every object under the prefix, not yet loaded, goes S3 → CSV → transform → COPY in one
//! transaction with its ledger row and rejects.
//!
//! Work arrives as `LoadJob`s from a producer (the listing here, or the queue consumer in `queue.rs`) and
//! `run_loads` loads them; each job's `JobOutcome` goes back to its producer, which reports it and, for a
//! queue message, decides whether to delete it. Per object, three stages overlap: a task streams the S3 body into
//! a bounded channel; a blocking thread parses, transforms and encodes COPY chunks into a second bounded channel;
//! the async side sends those chunks into the COPY. The channels bound memory and give backpressure both ways.
//! This is the only module that knows both the source and the sink.

use std::sync::Arc;
use std::time::Instant;

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use futures_util::SinkExt;
use indicatif::ProgressBar;
use tokio::sync::mpsc::{Receiver, Sender, channel};
use tokio::sync::oneshot;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;
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

/// The [`JobOutcome::Skipped`] reason when another transaction holds the key's claim. Unlike the other skips it
/// is not final for a queue message: the holder may be loading an older version, or may roll back, so the
/// consumer submits the job again a little later instead of deleting the message.
pub(crate) const SKIP_BUSY: &str = "another loader holds this key";

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

/// One object version to load, and where its outcome goes. The engine may group small jobs into one
/// transaction; each job still gets its own reply after the commit (or failure) that decided it.
pub(crate) struct LoadJob {
    pub(crate) object: ObjectVersion,
    pub(crate) reply: oneshot::Sender<JobOutcome>,
}

/// What became of one job. `Loaded` and `Skipped` are final (the caller may ack / delete a message);
/// `Failed` means nothing of it was committed (the caller must NOT ack; the message will be retried).
pub(crate) enum JobOutcome {
    Loaded {
        rows: u64,
        rejected: u64,
        bytes: u64,
        version_id: String,
        seconds: f64,
    },
    /// Already loaded (same ETag), or [`SKIP_BUSY`]: nothing to do now.
    Skipped(&'static str),
    Failed(ObjectError),
}

/// What the engine needs for every load: the run's settings, the clients and the compiled transform.
pub struct LoadContext {
    config: ProcessConfig,
    db: DbConfig,
    s3: aws_sdk_s3::Client,
    transform: Arc<Transform>,
}

impl LoadContext {
    /// Builds the S3 client and the transform, and brings the schema up to date (once, before any load).
    pub async fn new(config: &ProcessConfig, db: &DbConfig) -> Result<Self, Error> {
        let sdk = crate::aws::sdk_config(&config.aws).await;
        let s3 = crate::aws::s3_client(&sdk, &config.aws);
        let mut client = crate::db::connect(db).await?;
        crate::migrate::migrate(&mut client, &config.dataset).await?;
        Ok(Self {
            config: config.clone(),
            db: db.clone(),
            s3,
            transform: Arc::new(Transform::new(&config.dataset)),
        })
    }

    /// The run's settings.
    pub fn config(&self) -> &ProcessConfig {
        &self.config
    }
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

/// Runs loads until `jobs` is closed and every job has replied, or `shutdown` fires: then it takes no new job,
/// lets in-flight transactions commit or roll back, replies to every job it took, and returns.
///
/// This is the simple engine: one job at a time on one connection, through [`load_object`].
pub(crate) async fn run_loads(
    ctx: &LoadContext,
    mut jobs: Receiver<LoadJob>,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let mut client = crate::db::connect(&ctx.db).await?;
    loop {
        let job = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            job = jobs.recv() => match job {
                Some(job) => job,
                None => break,
            },
        };
        let started = Instant::now();
        let result = load_object(&mut client, ctx, &job.object).await;
        let outcome = match result {
            Ok(Outcome::Loaded {
                rows,
                rejected,
                bytes,
                replaced,
                version_id,
            }) => {
                if replaced > 0 {
                    info!(dataset = %ctx.config.dataset.name, bucket = %job.object.bucket, key = %job.object.key,
                          replaced, "Replaced the previous version's rows.");
                }
                JobOutcome::Loaded {
                    rows,
                    rejected,
                    bytes,
                    version_id,
                    seconds: started.elapsed().as_secs_f64(),
                }
            }
            Ok(Outcome::Skipped(reason)) => JobOutcome::Skipped(reason),
            Err(e) => JobOutcome::Failed(e),
        };
        // A producer that stopped waiting has nothing left to decide.
        let _ = job.reply.send(outcome);
        if client.is_closed() {
            warn!("PostgreSQL connection lost, reconnecting.");
            client = crate::db::connect(&ctx.db).await?;
        }
    }
    Ok(())
}

/// Logs one job's outcome and writes its EMF record: the one place both producers report what became of an
/// object. `message_id` names the queue message that asked for it, on the event path.
pub(crate) fn report(
    dataset: &str,
    object: &ObjectVersion,
    outcome: &JobOutcome,
    message_id: Option<&str>,
) {
    let (bucket, key) = (&object.bucket, &object.key);
    match outcome {
        JobOutcome::Loaded {
            rows,
            rejected,
            bytes,
            version_id,
            seconds,
        } => {
            info!(
                dataset,
                bucket,
                key,
                version_id,
                rows,
                rejected,
                bytes,
                seconds,
                message_id,
                "Loaded object."
            );
            let m = ObjectMetrics {
                rows_loaded: *rows,
                rows_rejected: *rejected,
                loaded: true,
                seconds: *seconds,
            };
            metrics::emit(&metrics::object_record(dataset, key, &m));
        }
        JobOutcome::Skipped(reason) => {
            info!(dataset, bucket, key, reason, message_id, "Skipped object.");
        }
        JobOutcome::Failed(e) => {
            error!(dataset, bucket, key, error = %e, message_id, "Object failed, nothing of it was loaded.");
            metrics::emit(&metrics::object_record(
                dataset,
                key,
                &ObjectMetrics::default(),
            ));
        }
    }
}

/// Runs `etl process` in listing mode against an already resolved database config: lists the prefix and submits
/// every object as a job. On `shutdown` it submits nothing more, lets the load in flight finish and returns the
/// summary so far.
pub async fn process(
    config: &ProcessConfig,
    db: &DbConfig,
    shutdown: CancellationToken,
) -> Result<RunSummary, Error> {
    let started = Instant::now();
    let dataset = &config.dataset;
    let ctx = LoadContext::new(config, db).await?;
    let objects = source::list(&ctx.s3, &config.bucket, &config.prefix).await?;
    info!(bucket = %config.bucket, prefix = %config.prefix, objects = objects.len(), "Listed objects.");

    let (job_tx, job_rx) = channel(1);
    let submit = async {
        let mut summary = RunSummary::default();
        let mut first_failure: Option<(String, bool)> = None;
        for object in &objects {
            if shutdown.is_cancelled() {
                break;
            }
            let (reply, outcome) = oneshot::channel();
            let job = LoadJob {
                object: object.clone(),
                reply,
            };
            // A closed channel or a dropped reply means the engine stopped (shutdown or a run-level error).
            if job_tx.send(job).await.is_err() {
                break;
            }
            let Ok(outcome) = outcome.await else { break };
            report(&dataset.name, object, &outcome, None);
            match outcome {
                JobOutcome::Loaded { rows, rejected, .. } => {
                    summary.objects_loaded += 1;
                    summary.rows_loaded += rows;
                    summary.rows_rejected += rejected;
                }
                JobOutcome::Skipped(_) => summary.objects_skipped += 1,
                JobOutcome::Failed(e) => {
                    summary.objects_failed += 1;
                    let message = format!("s3://{}/{}: {e}", object.bucket, object.key);
                    let runtime = !e.is_bad_input();
                    match &mut first_failure {
                        None => first_failure = Some((message, runtime)),
                        Some((_, any_runtime)) => *any_runtime |= runtime,
                    }
                }
            }
        }
        drop(job_tx);
        (summary, first_failure)
    };
    let ((summary, first_failure), loads) =
        tokio::join!(submit, run_loads(&ctx, job_rx, shutdown.clone()));
    loads?;
    let seconds = started.elapsed().as_secs_f64();
    let done = summary.objects_loaded + summary.objects_skipped + summary.objects_failed;
    if shutdown.is_cancelled() {
        warn!(dataset = %dataset.name, not_submitted = objects.len() as u64 - done,
              "Stopped by a signal; the next run picks up the objects not submitted.");
    }
    metrics::emit(&metrics::run_record(
        &dataset.name,
        seconds,
        first_failure.is_none() && !shutdown.is_cancelled(),
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
    ctx: &LoadContext,
    object: &ObjectVersion,
) -> Result<Outcome, ObjectError> {
    let config = &ctx.config;
    let dataset = &config.dataset;
    let tx = client
        .transaction()
        .await
        .map_err(|e| ObjectError::db("begin a transaction", &e))?;
    if !ledger::try_claim(&tx, &dataset.name, object).await? {
        return Ok(Outcome::Skipped(SKIP_BUSY));
    }
    let mut replaced = 0;
    if let Some(current) = ledger::current(&tx, &dataset.name, object).await? {
        if current.etag == object.etag && !config.reprocess {
            return Ok(Outcome::Skipped("already loaded"));
        }
        replaced = ledger::supersede(&tx, &dataset.qualified_table(), current.id).await?;
    }
    let opened = source::open(&ctx.s3, object).await?;
    let object_id = ledger::begin(&tx, &dataset.name, object, &opened.version_id).await?;

    let (byte_tx, byte_rx) = channel(DOWNLOAD_QUEUE);
    let (chunk_tx, mut chunk_rx) = channel(COPY_QUEUE);
    let bar = crate::progress::bytes_bar(config.progress, object.size);
    bar.set_message(object.key.clone());
    let download = tokio::spawn(download(opened.body, byte_tx, bar.clone()));
    let stage = ParseStage {
        transform: Arc::clone(&ctx.transform),
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
