//! The load engine both modes feed with [`LoadJob`]s: `jobs` workers, each with its own PostgreSQL connection
//! opened once, load at the same time, so the S3 reads of some objects overlap the COPYs of others. A dispatcher
//! gathers objects smaller than the group budget into one transaction (one savepoint per object, so a bad object
//! rolls back alone and its neighbours still commit), which saves a commit per small object. Every job gets its
//! reply only after the commit or rollback that decided it.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::mpsc::{Receiver, Sender, channel};
use tokio::sync::{Mutex, oneshot};
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::aws::AwsOptions;
use crate::db::DbConfig;
use crate::error::{Error, ObjectError};
use crate::ledger::Reload;
use crate::merge::Merged;
use crate::metrics::{self, ObjectMetrics};
use crate::process::load::{Loaded, Outcome, load_object};
use crate::source::ObjectVersion;
use crate::spec::Dataset;
use crate::transform::Transform;

/// How a busy key is logged: another loader holds its claim.
const BUSY: &str = "another loader holds this key";

/// Everything `etl process` needs, validated.
#[derive(Debug, Clone)]
pub struct ProcessConfig {
    /// The bucket to list or to take events for.
    pub bucket: String,
    /// Only keys under this prefix are loaded.
    pub prefix: String,
    /// The validated dataset spec: target table, columns, format.
    pub dataset: Arc<Dataset>,
    /// AWS endpoint, region and retry settings.
    pub aws: AwsOptions,
    /// Rejected rows one object may have before it fails (`--max-rejects`).
    pub max_rejects: u64,
    /// Which objects the ledger already holds are loaded again (`--reprocess`, `--retry-rejected`).
    pub reload: Reload,
    /// The size of the COPY chunks sent to PostgreSQL, which bounds the sink's memory.
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
        loaded: Loaded,
        seconds: f64,
    },
    Skipped(&'static str),
    /// Another loader holds the key's claim: not final (its load may still fail), so the queue retries it.
    Busy,
    Failed(ObjectError),
}

/// The load engine both modes feed: the clients, the dataset and its transform, and the tuning, shared by its
/// workers. Built once per run by [`Engine::start`].
#[derive(Clone)]
pub struct Engine {
    pub(crate) config: Arc<ProcessConfig>,
    pub(crate) db: DbConfig,
    pub(crate) s3: aws_sdk_s3::Client,
    pub(crate) transform: Arc<Transform>,
}

impl Engine {
    /// The run's validated settings.
    pub fn config(&self) -> &ProcessConfig {
        &self.config
    }

    /// The clients, and the schema brought up to date (an unreachable database fails here, before any job).
    pub async fn start(config: &ProcessConfig, db: &DbConfig) -> Result<Self, Error> {
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

/// Runs loads until `jobs` is closed and every job has replied, or `shutdown` fires: then it takes no new
/// job, lets in-flight transactions commit or roll back, replies to every job it took, and returns.
///
/// A dispatcher gathers small jobs into groups while more are waiting and hands each group (or big object) to
/// the first free worker; `jobs` workers each hold one connection for the whole run.
pub(crate) async fn run_loads(
    ctx: &Engine,
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
    ctx: Engine,
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
async fn load_group(ctx: &Engine, client: &mut Client, mut group: Vec<LoadJob>) {
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
fn finish(ctx: &Engine, job: LoadJob, result: Result<Outcome, ObjectError>, seconds: f64) {
    let outcome = match result {
        Ok(Outcome::Loaded {
            loaded,
            replaced,
            merged,
        }) => {
            if replaced > 0 {
                info!(dataset = %ctx.config.dataset.name, bucket = %job.object.bucket, key = %job.object.key,
                      replaced, "Replaced the previous version's rows.");
            }
            match merged {
                Some(Merged {
                    unchanged: true, ..
                }) => {
                    info!(dataset = %ctx.config.dataset.name, bucket = %job.object.bucket, key = %job.object.key,
                          "The object's rows equal the newest load's: they now carry this object's version, \
                           nothing was rewritten.");
                }
                Some(Merged {
                    upserted, deleted, ..
                }) => {
                    info!(dataset = %ctx.config.dataset.name, bucket = %job.object.bucket, key = %job.object.key,
                          upserted, deleted, stale = loaded.rows.saturating_sub(upserted + deleted),
                          "Merged the object's rows.");
                }
                None => {}
            }
            JobOutcome::Loaded { loaded, seconds }
        }
        Ok(Outcome::Skipped(reason)) => JobOutcome::Skipped(reason),
        Ok(Outcome::Busy) => JobOutcome::Busy,
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
        JobOutcome::Loaded { loaded, seconds } => {
            let Loaded {
                rows,
                rejected,
                bytes,
                resumes,
                version_id,
            } = loaded;
            info!(
                dataset,
                bucket,
                key,
                version_id,
                rows,
                rejected,
                bytes,
                resumes,
                seconds,
                message_id,
                "Loaded object."
            );
            let m = ObjectMetrics {
                rows_loaded: *rows,
                rows_rejected: *rejected,
                loaded: true,
                seconds: *seconds,
                resumes: *resumes,
            };
            metrics::emit(&metrics::object_record(dataset, key, &m));
        }
        JobOutcome::Skipped(reason) => {
            info!(dataset, bucket, key, reason, message_id, "Skipped object.");
        }
        JobOutcome::Busy => {
            info!(
                dataset,
                bucket,
                key,
                reason = BUSY,
                message_id,
                "Skipped object."
            );
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
