//! `etl process`: every object under the prefix, not yet loaded, goes S3 → CSV → transform → COPY in one
//! transaction with its ledger row and rejects.
//!
//! Per object, three stages overlap: a task streams the S3 body into a bounded channel; a blocking thread parses,
//! transforms and encodes COPY chunks into a second bounded channel; the async side sends those chunks into the
//! COPY. The channels bound memory and give backpressure both ways. This is the only module that knows both the
//! source and the sink.
//!
//! Across objects, `run_loads` is the engine both modes feed with `LoadJob`s: `jobs` workers, each with its
//! own PostgreSQL connection opened once, load at the same time, so the S3 reads of some objects overlap the COPYs
//! of others. Objects smaller than the group budget are gathered into one transaction (one savepoint per object,
//! so a bad object rolls back alone and its neighbours still commit), which saves a commit per small object.
//! Listing mode streams the listing page by page into the engine and drops what the ledger already holds with one
//! query per page.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use encoding_rs::Encoding;
use futures_util::SinkExt;
use indicatif::ProgressBar;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::mpsc::{Receiver, Sender, channel, unbounded_channel};
use tokio::sync::{Mutex, oneshot};
use tokio_postgres::{Client, GenericClient};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::aws::AwsOptions;
use crate::db::DbConfig;
use crate::error::{Error, ObjectError};
use crate::ledger::{self, Reject};
use crate::metrics::{self, ObjectMetrics};
use crate::record::Record;
use crate::sink::{CopyEncoder, copy_statement};
use crate::source::csv::CsvParser;
use crate::source::text::TextInput;
use crate::source::{self, Listing, ObjectVersion};
use crate::spec::Dataset;
use crate::transform::Transform;

/// S3 body pieces buffered between the download and the parser.
const DOWNLOAD_QUEUE: usize = 16;
/// The largest piece: the HTTP client hands out chunks of up to a few hundred KiB, so the queue is bounded in
/// pieces of this size instead (16 x 64 KiB per load in flight).
const DOWNLOAD_PIECE: usize = 64 << 10;
/// COPY chunks buffered between the parser and PostgreSQL.
const COPY_QUEUE: usize = 4;

/// The skip reason when another loader holds the key's claim (its load may still fail, so the queue retries).
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
    /// Draw a progress bar per object on stderr (only with one job: concurrent bars would overwrite each other).
    pub progress: bool,
    /// Loads in flight, each with its own PostgreSQL connection.
    pub jobs: usize,
    /// Objects smaller than this share a transaction, up to this many bytes in all.
    pub group_bytes: u64,
    /// At most this many objects share a transaction (1: no grouping).
    pub group_objects: usize,
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
#[derive(Debug)]
pub(crate) enum JobOutcome {
    Loaded {
        rows: u64,
        rejected: u64,
        bytes: u64,
        version_id: String,
        seconds: f64,
    },
    Skipped(&'static str),
    Failed(ObjectError),
}

/// What the engine shares between its workers: the clients, the dataset and its transform, and the tuning.
#[derive(Clone)]
pub(crate) struct LoadContext {
    pub(crate) config: Arc<ProcessConfig>,
    pub(crate) db: DbConfig,
    pub(crate) s3: aws_sdk_s3::Client,
    pub(crate) transform: Arc<Transform>,
}

impl LoadContext {
    /// The clients, and the schema brought up to date (an unreachable database fails here, before any job).
    pub(crate) async fn new(config: &ProcessConfig, db: &DbConfig) -> Result<Self, Error> {
        let sdk = crate::aws::sdk_config(&config.aws).await;
        let mut client = crate::db::connect(db).await?;
        crate::migrate::migrate(&mut client, &config.dataset).await?;
        Ok(Self {
            s3: crate::aws::s3_client(&sdk, &config.aws),
            transform: Arc::new(Transform::new(&config.dataset)),
            config: Arc::new(config.clone()),
            db: db.clone(),
        })
    }
}

/// What one object's load inside its transaction (or savepoint) came to, before the commit.
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
pub async fn process(
    config: &ProcessConfig,
    db: &DbConfig,
    shutdown: CancellationToken,
) -> Result<RunSummary, Error> {
    let started = Instant::now();
    let dataset = &config.dataset;
    let ctx = LoadContext::new(config, db).await?;
    // For the per-page ledger queries.
    let client = crate::db::connect(db).await?;

    let (job_tx, job_rx) = channel(config.jobs * config.group_objects.max(2));
    let (pending_tx, mut pending_rx) = unbounded_channel();
    let produce = async {
        let mut listing = Listing::new(&ctx.s3, &config.bucket, &config.prefix);
        let (mut listed, mut already) = (0_u64, 0_u64);
        // Stops early only when the engine has stopped taking jobs (it failed); its error is the run's.
        'pages: while let Some(page) = listing.next_page().await? {
            if shutdown.is_cancelled() {
                break;
            }
            listed += page.len() as u64;
            let loaded = if config.reprocess {
                BTreeSet::new()
            } else {
                ledger::loaded_keys(&client, &dataset.name, &config.bucket, &page).await?
            };
            for object in page {
                if shutdown.is_cancelled() {
                    break 'pages;
                }
                if loaded.contains(&object.key) {
                    already += 1;
                    debug!(dataset = %dataset.name, bucket = %object.bucket, key = %object.key, reason = "already loaded", "Skipped object.");
                    continue;
                }
                let (reply, outcome) = oneshot::channel();
                let job = LoadJob {
                    object: object.clone(),
                    reply,
                };
                if job_tx.send(job).await.is_err() {
                    break 'pages;
                }
                let _ = pending_tx.send((object, outcome));
            }
        }
        drop((job_tx, pending_tx));
        if already > 0 {
            info!(dataset = %dataset.name, bucket = %config.bucket, objects = already, reason = "already loaded", "Skipped objects.");
        }
        info!(bucket = %config.bucket, prefix = %config.prefix, objects = listed, "Listed objects.");
        Ok::<_, Error>((listed, already))
    };
    let collect = async {
        let mut summary = RunSummary::default();
        let mut first_failure: Option<(String, bool)> = None;
        while let Some((object, outcome)) = pending_rx.recv().await {
            let outcome = match outcome.await {
                Ok(outcome) => outcome,
                // The engine dropped a job it never started because a signal stopped the run:
                // nothing of it was written, and the next run (or sweep) picks it up.
                Err(_) if shutdown.is_cancelled() => continue,
                Err(_) => {
                    JobOutcome::Failed(ObjectError::Download("the load was abandoned".to_owned()))
                }
            };
            report(&dataset.name, &object, &outcome, None);
            match outcome {
                JobOutcome::Loaded { rows, rejected, .. } => {
                    summary.objects_loaded += 1;
                    summary.rows_loaded += rows;
                    summary.rows_rejected += rejected;
                }
                JobOutcome::Skipped(_) => summary.objects_skipped += 1,
                JobOutcome::Failed(e) => {
                    summary.objects_failed += 1;
                    let runtime = !e.is_bad_input();
                    match &mut first_failure {
                        None => {
                            let message = format!("s3://{}/{}: {e}", object.bucket, object.key);
                            first_failure = Some((message, runtime));
                        }
                        Some((_, any_runtime)) => *any_runtime |= runtime,
                    }
                }
            }
        }
        (summary, first_failure)
    };
    let (loads, listed, (mut summary, first_failure)) =
        tokio::join!(run_loads(&ctx, job_rx, shutdown.clone()), produce, collect);
    loads?;
    let (listed, already) = listed?;
    summary.objects_skipped += already;

    let seconds = started.elapsed().as_secs_f64();
    if shutdown.is_cancelled() {
        let done = summary.objects_loaded + summary.objects_skipped + summary.objects_failed;
        warn!(dataset = %dataset.name, not_done = listed.saturating_sub(done),
              "Stopped by a signal; the next run picks up the objects not loaded.");
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
            total: listed,
            first,
            runtime,
        }),
    }
}

/// Runs loads until `jobs` is closed and every job has replied, or `shutdown` fires: then it takes no new
/// job, lets in-flight transactions commit or roll back, replies to every job it took, and returns.
///
/// A dispatcher gathers small jobs into groups while more are waiting and hands each group (or big object) to
/// the first free worker; `jobs` workers each hold one connection for the whole run.
pub(crate) async fn run_loads(
    ctx: &LoadContext,
    mut jobs: Receiver<LoadJob>,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    // The first connection is opened now, so an unreachable database fails the run before it takes a job; the
    // others when their worker first has work, so a run with nothing to load opens only one.
    let first = crate::db::connect(&ctx.db).await?;
    let (work_tx, work_rx) = channel::<Vec<LoadJob>>(1);
    let work_rx = Arc::new(Mutex::new(work_rx));
    let handles: Vec<_> = std::iter::once(Some(first))
        .chain(std::iter::repeat_with(|| None))
        .take(ctx.config.jobs.max(1))
        .map(|client| {
            tokio::spawn(worker(
                ctx.clone(),
                client,
                Arc::clone(&work_rx),
                shutdown.clone(),
            ))
        })
        .collect();

    let config = &ctx.config;
    let mut group: Vec<LoadJob> = Vec::new();
    let mut group_bytes = 0;
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        let job = if group.is_empty() {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                job = jobs.recv() => match job {
                    Some(job) => job,
                    None => break,
                },
            }
        } else {
            match jobs.try_recv() {
                Ok(job) => job,
                // Nothing more waiting: send the group as it is rather than hold its objects back.
                Err(TryRecvError::Empty) => {
                    group_bytes = 0;
                    dispatch(&work_tx, std::mem::take(&mut group)).await;
                    continue;
                }
                Err(TryRecvError::Disconnected) => break,
            }
        };
        let size = job.object.size;
        if config.group_objects <= 1 || size >= config.group_bytes {
            dispatch(&work_tx, vec![job]).await;
            continue;
        }
        // A key appears at most once per group: its claim is an advisory lock the transaction
        // already holds, so a second job for the key in the same transaction would not wait for
        // the first one's commit (duplicate events deliver the same key twice).
        let same_key = group
            .iter()
            .any(|queued| queued.object.key == job.object.key);
        if same_key || group_bytes + size > config.group_bytes {
            group_bytes = 0;
            dispatch(&work_tx, std::mem::take(&mut group)).await;
        }
        group_bytes += size;
        group.push(job);
        if group.len() >= config.group_objects {
            group_bytes = 0;
            dispatch(&work_tx, std::mem::take(&mut group)).await;
        }
    }
    if !group.is_empty() {
        dispatch(&work_tx, group).await;
    }
    drop(work_tx);
    for handle in handles {
        if let Err(e) = handle.await {
            error!(error = %e, "A load worker panicked.");
        }
    }
    Ok(())
}

/// Hands a group to the next free worker; workers only stop once the channel closes, so this cannot fail.
async fn dispatch(work: &Sender<Vec<LoadJob>>, group: Vec<LoadJob>) {
    if let Err(e) = work.send(group).await {
        for job in e.0 {
            let _ = job.reply.send(JobOutcome::Failed(ObjectError::Download(
                "no load worker is left".to_owned(),
            )));
        }
    }
}

/// One worker: takes groups one at a time and loads each on its own connection, opened (or reopened after a
/// failure) when it has work.
async fn worker(
    ctx: LoadContext,
    mut client: Option<Client>,
    work: Arc<Mutex<Receiver<Vec<LoadJob>>>>,
    shutdown: CancellationToken,
) {
    loop {
        let Some(group) = work.lock().await.recv().await else {
            return;
        };
        // After a signal, a group not yet started is dropped unanswered: nothing of it was written,
        // and its producer counts it as not done (a queue message becomes visible again).
        if shutdown.is_cancelled() {
            continue;
        }
        let open = match client.take() {
            Some(open) if !open.is_closed() => Ok(open),
            lost => {
                if lost.is_some() {
                    warn!("PostgreSQL connection lost, reconnecting.");
                }
                crate::db::connect(&ctx.db).await
            }
        };
        match open {
            Ok(open) => load_group(&ctx, client.insert(open), group).await,
            Err(e) => {
                for job in group {
                    let failure = ObjectError::Db {
                        what: "connect",
                        message: e.to_string(),
                    };
                    finish(&ctx, job, Err(failure), 0.0);
                }
            }
        }
    }
}

/// Loads a group in one transaction, each object in its own savepoint, and replies to every job after the
/// commit. A group of one is an ordinary single-object transaction.
async fn load_group(ctx: &LoadContext, client: &mut Client, mut group: Vec<LoadJob>) {
    if group.len() == 1 {
        let job = group.remove(0);
        let started = Instant::now();
        let result = load_object(client, ctx, &job.object).await;
        finish(ctx, job, result, started.elapsed().as_secs_f64());
        return;
    }
    let mut tx = match client.transaction().await {
        Ok(tx) => tx,
        Err(e) => {
            let message = crate::error::pg_message(&e);
            for job in group {
                let failure = ObjectError::Db {
                    what: "begin a transaction",
                    message: message.clone(),
                };
                finish(ctx, job, Err(failure), 0.0);
            }
            return;
        }
    };
    let mut results = Vec::with_capacity(group.len());
    for job in group {
        let started = Instant::now();
        let result = load_object(&mut tx, ctx, &job.object).await;
        results.push((job, result, started));
    }
    let committed = tx.commit().await.map_err(|e| crate::error::pg_message(&e));
    for (job, result, started) in results {
        let result = match (&committed, result) {
            (Err(message), Ok(Outcome::Loaded { .. })) => Err(ObjectError::Db {
                what: "commit",
                message: message.clone(),
            }),
            (_, result) => result,
        };
        finish(ctx, job, result, started.elapsed().as_secs_f64());
    }
}

/// Replies to a job with its outcome; the caller logs it (`report`), knowing what the job came from.
fn finish(ctx: &LoadContext, job: LoadJob, result: Result<Outcome, ObjectError>, seconds: f64) {
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
                seconds,
            }
        }
        Ok(Outcome::Skipped(reason)) => JobOutcome::Skipped(reason),
        Err(e) => JobOutcome::Failed(e),
    };
    let _ = job.reply.send(outcome);
}

/// Logs one object's outcome and emits its metrics record (`message_id` when it came from the queue).
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
                resumes: 0,
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

/// Loads one object in one transaction (on a `Client`) or one savepoint (inside a group's `Transaction`);
/// dropping the transaction on any error rolls everything of this object back.
async fn load_object<C: GenericClient>(
    client: &mut C,
    ctx: &LoadContext,
    object: &ObjectVersion,
) -> Result<Outcome, ObjectError> {
    let (config, s3, transform) = (&ctx.config, &ctx.s3, &ctx.transform);
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
    let opened = source::open(s3, object).await?;
    let object_id = ledger::begin(&tx, &dataset.name, object, &opened.version_id).await?;

    let (byte_tx, byte_rx) = channel(DOWNLOAD_QUEUE);
    let (chunk_tx, mut chunk_rx) = channel(COPY_QUEUE);
    let bar = crate::progress::bytes_bar(config.progress && config.jobs == 1, object.size);
    bar.set_message(object.key.clone());
    let download = tokio::spawn(download(opened.body, byte_tx, bar.clone()));
    let stage = ParseStage {
        transform: Arc::clone(transform),
        delimiter: dataset.delimiter,
        header: dataset.header,
        encoding: dataset.encoding,
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
    mut body: source::Body,
    out: Sender<Bytes>,
    bar: ProgressBar,
) -> Result<u64, ObjectError> {
    let mut bytes = 0;
    while let Some(mut chunk) = body.next_chunk().await? {
        bytes += chunk.len() as u64;
        bar.inc(chunk.len() as u64);
        while !chunk.is_empty() {
            let piece = chunk.split_to(chunk.len().min(DOWNLOAD_PIECE));
            if out.send(piece).await.is_err() {
                return Ok(bytes);
            }
        }
    }
    Ok(bytes)
}

/// The blocking middle stage: parse, transform, encode.
struct ParseStage {
    transform: Arc<Transform>,
    delimiter: u8,
    header: bool,
    encoding: &'static Encoding,
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
        let mut text = TextInput::new(self.encoding);
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
            parser.feed(text.decode(&bytes, false)?, &mut emit)?;
        }
        parser.feed(text.decode(&[], true)?, &mut emit)?;
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
