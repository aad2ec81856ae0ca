//! Listing mode (`etl process` without `--queue`): streams the `ListObjectsV2` pages of the prefix into the
//! engine, dropping what the ledger already holds with one query per page (only a pre-filter: each load checks
//! the ledger again under its claim), and totals the outcomes into the run's summary and exit status.

use std::collections::BTreeSet;
use std::time::Instant;

use tokio::sync::mpsc::{channel, unbounded_channel};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::error::{Error, ObjectError};
use crate::ledger;
use crate::metrics;
use crate::process::engine::{Engine, JobOutcome, LoadJob, report, run_loads};
use crate::source::Listing;

/// Totals of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Objects loaded in this run.
    pub objects_loaded: u64,
    /// Objects skipped: already loaded, or another loader held their key.
    pub objects_skipped: u64,
    /// Objects that failed (each rolled back).
    pub objects_failed: u64,
    /// Rows loaded, over all objects.
    pub rows_loaded: u64,
    /// Rows rejected, over all objects.
    pub rows_rejected: u64,
}

/// Runs `etl process` in listing mode: every object under the prefix, not yet loaded, through the engine.
pub async fn process(engine: &Engine, shutdown: CancellationToken) -> Result<RunSummary, Error> {
    let started = Instant::now();
    let config = engine.config();
    let dataset = &config.dataset;
    // For the per-page ledger queries.
    let client = crate::db::connect(&engine.db).await?;

    let (job_tx, job_rx) = channel(config.jobs * config.group_objects.max(2));
    let (pending_tx, mut pending_rx) = unbounded_channel();
    let produce = async {
        let mut listing = Listing::new(&engine.s3, &config.bucket, &config.prefix);
        let (mut listed, mut already, mut not_data) = (0_u64, 0_u64, 0_u64);
        // Stops early only when the engine has stopped taking jobs (it failed); its error is the run's.
        'pages: while let Some(page) = listing.next_page().await? {
            if shutdown.is_cancelled() {
                break;
            }
            listed += page.len() as u64;
            let mut data = Vec::with_capacity(page.len());
            for object in page {
                match dataset.selection.skip_reason(&config.prefix, &object.key) {
                    None => data.push(object),
                    Some(reason) => {
                        not_data += 1;
                        info!(dataset = %dataset.name, bucket = %object.bucket, key = %object.key, reason,
                              "Skipped object.");
                    }
                }
            }
            let page = data;
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
        Ok::<_, Error>((listed, already + not_data))
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
                JobOutcome::Loaded { loaded, .. } => {
                    summary.objects_loaded += 1;
                    summary.rows_loaded += loaded.rows;
                    summary.rows_rejected += loaded.rejected;
                }
                JobOutcome::Skipped(_) | JobOutcome::Busy => summary.objects_skipped += 1,
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
    let (loads, listed, (mut summary, first_failure)) = tokio::join!(
        run_loads(engine, job_rx, shutdown.clone()),
        produce,
        collect
    );
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
