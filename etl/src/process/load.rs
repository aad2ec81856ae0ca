//! One object's load, in one transaction (or one savepoint of a group's): the ledger decides, then three stages
//! overlap: a task streams the S3 body into a bounded channel; a blocking thread parses, transforms and encodes
//! COPY chunks into a second bounded channel (`parse.rs`); the async side sends those chunks into the COPY. The
//! channels bound memory and give backpressure both ways. This is the only place that knows both the source and
//! the sink. Dropping the transaction on any error rolls everything of the object back.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::SinkExt;
use indicatif::ProgressBar;
use tokio::sync::mpsc::{Sender, channel};
use tokio_postgres::GenericClient;

use crate::error::ObjectError;
use crate::ledger::{self, Decision};
use crate::process::engine::Engine;
use crate::process::parse::ParseStage;
use crate::sink::{CopyEncoder, copy_statement};
use crate::source::{self, Body, ObjectVersion};

/// S3 body pieces buffered between the download and the parser.
const DOWNLOAD_QUEUE: usize = 16;
/// The largest piece: the HTTP client hands out chunks of up to a few hundred KiB, so the queue is bounded in
/// pieces of this size instead (16 x 64 KiB per load in flight).
const DOWNLOAD_PIECE: usize = 64 << 10;
/// COPY chunks buffered between the parser and PostgreSQL.
const COPY_QUEUE: usize = 4;

/// What one object's load inside its transaction (or savepoint) came to, before the commit.
pub(super) enum Outcome {
    Loaded {
        rows: u64,
        rejected: u64,
        bytes: u64,
        /// How often a broken download was resumed.
        resumes: u32,
        replaced: u64,
        version_id: String,
    },
    Skipped(&'static str),
    Busy,
}

/// Loads one object in one transaction (on a `Client`) or one savepoint (inside a group's `Transaction`);
/// dropping the transaction on any error rolls everything of this object back.
pub(super) async fn load_object<C: GenericClient>(
    client: &mut C,
    ctx: &Engine,
    object: &ObjectVersion,
) -> Result<Outcome, ObjectError> {
    let (config, s3, transform) = (&ctx.config, &ctx.s3, &ctx.transform);
    let dataset = &config.dataset;
    let tx = client
        .transaction()
        .await
        .map_err(|e| ObjectError::db("begin a transaction", &e))?;
    let replaced = match ledger::decide(
        &tx,
        &dataset.name,
        &dataset.qualified_table(),
        object,
        config.reprocess,
    )
    .await?
    {
        Decision::Load { replaced } => replaced,
        Decision::AlreadyLoaded => return Ok(Outcome::Skipped("already loaded")),
        Decision::Busy => return Ok(Outcome::Busy),
    };
    let opened = source::open(s3, object).await?;
    let object_id = ledger::begin(&tx, &dataset.name, object, &opened.version_id).await?;

    let (byte_tx, byte_rx) = channel(DOWNLOAD_QUEUE);
    let (chunk_tx, mut chunk_rx) = channel(COPY_QUEUE);
    let bar = crate::progress::bytes_bar(config.progress && config.jobs == 1, object.size);
    bar.set_message(object.key.clone());
    let download = tokio::spawn(download(opened.body, byte_tx, bar.clone()));
    let stage = ParseStage {
        transform: Arc::clone(transform),
        dataset: Arc::clone(dataset),
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
    let (bytes, resumes) = download
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
        resumes,
        replaced,
        version_id: opened.version_id,
    })
}

/// Streams the body into the channel (a break mid-stream is resumed by `Body`); returns the byte count and the
/// resumes. Stops quietly when the parser has gone.
async fn download(
    mut body: Body,
    out: Sender<Bytes>,
    bar: ProgressBar,
) -> Result<(u64, u32), ObjectError> {
    let mut bytes = 0;
    while let Some(mut chunk) = body.next_chunk().await? {
        bytes += chunk.len() as u64;
        bar.inc(chunk.len() as u64);
        while !chunk.is_empty() {
            let piece = chunk.split_to(chunk.len().min(DOWNLOAD_PIECE));
            if out.send(piece).await.is_err() {
                return Ok((bytes, body.resumes()));
            }
        }
    }
    Ok((bytes, body.resumes()))
}
