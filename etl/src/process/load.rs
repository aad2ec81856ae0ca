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
use crate::merge::{Merged, Stage};
use crate::process::engine::Engine;
use crate::process::parse::{Input, ParseStage};
use crate::sink::{CopyEncoder, Trailer, copy_statement};
use crate::source::parquet::{self, Batch, ParquetSource, SpecColumn};
use crate::source::{self, Body, ObjectVersion, Served};
use crate::spec::{Dataset, Format};

/// S3 body pieces buffered between the download and the parser.
const DOWNLOAD_QUEUE: usize = 16;
/// The largest piece: the HTTP client hands out chunks of up to a few hundred KiB, so the queue is bounded in
/// pieces of this size instead (16 x 64 KiB per load in flight).
const DOWNLOAD_PIECE: usize = 64 << 10;
/// COPY chunks buffered between the parser and PostgreSQL.
const COPY_QUEUE: usize = 4;
/// Parquet record batches (of `parquet::BATCH_ROWS` rows) buffered between the reader and the parser.
const BATCH_QUEUE: usize = 2;

/// What the fetching task read of the object.
struct Fetched {
    bytes: u64,
    /// How often a broken download was resumed.
    resumes: u32,
}

/// An object opened for reading, by its format: a byte stream (CSV, JSON Lines) or a Parquet file read by row
/// group.
enum Opened {
    Bytes(source::OpenObject),
    Parquet(ParquetSource),
}

impl Opened {
    async fn open(
        s3: &aws_sdk_s3::Client,
        dataset: &Dataset,
        object: &ObjectVersion,
    ) -> Result<Self, ObjectError> {
        Ok(match dataset.format {
            Format::Csv | Format::Jsonl => Self::Bytes(source::open(s3, object).await?),
            Format::Parquet => {
                let columns: Vec<SpecColumn> = dataset
                    .columns
                    .iter()
                    .map(|c| SpecColumn {
                        name: c.name.as_str().to_owned(),
                        column_type: c.column_type,
                    })
                    .collect();
                Self::Parquet(parquet::open(s3, object, &columns).await?)
            }
        })
    }

    /// The version S3 served.
    fn served(&self) -> Served {
        match self {
            Self::Bytes(opened) => opened.served.clone(),
            Self::Parquet(source) => source.stats().served().cloned().unwrap_or_else(|| Served {
                version_id: "null".to_owned(),
                last_modified: None,
            }),
        }
    }
}

/// What a loaded object came to: what its log line and metrics record report.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) rows: u64,
    pub(crate) rejected: u64,
    pub(crate) bytes: u64,
    /// How often a broken download was resumed.
    pub(crate) resumes: u32,
    pub(crate) version_id: String,
}

/// What one object's load inside its transaction (or savepoint) came to, before the commit.
pub(super) enum Outcome {
    Loaded {
        loaded: Loaded,
        /// Rows of the key's previous version deleted in the same transaction.
        replaced: u64,
        /// In merge mode, what the apply did.
        merged: Option<Merged>,
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
    let merge = dataset.write.merge();
    let table = dataset.qualified_table();
    let replaced = match ledger::decide(
        &tx,
        &dataset.name,
        merge.is_none().then_some(table.as_str()),
        object,
        config.reload,
    )
    .await?
    {
        Decision::Load { replaced } => replaced,
        Decision::AlreadyLoaded => return Ok(Outcome::Skipped("already loaded")),
        Decision::Busy => return Ok(Outcome::Busy),
    };
    let opened = Opened::open(s3, dataset, object).await?;
    let served = opened.served();
    let object_id = ledger::begin(&tx, &dataset.name, object, &served).await?;
    let mut merging = match merge {
        Some(merge) => Some((Stage::create(&tx, dataset, merge, object_id).await?, merge)),
        None => None,
    };

    let (chunk_tx, mut chunk_rx) = channel(COPY_QUEUE);
    let bar = crate::progress::bytes_bar(config.progress && config.jobs == 1, object.size);
    bar.set_message(object.key.clone());
    let (input, fetch) = match opened {
        Opened::Bytes(opened) => {
            let (byte_tx, byte_rx) = channel(DOWNLOAD_QUEUE);
            let size = object.size;
            let task = tokio::spawn(download(opened.body, size, byte_tx, bar.clone()));
            (Input::Bytes(byte_rx), task)
        }
        Opened::Parquet(source) => {
            let (batch_tx, batch_rx) = channel(BATCH_QUEUE);
            let records = source.records();
            let task = tokio::spawn(read_batches(source, batch_tx, bar.clone()));
            (Input::Batches(batch_rx, records), task)
        }
    };
    let stage = ParseStage {
        transform: Arc::clone(transform),
        dataset: Arc::clone(dataset),
        max_rejects: config.max_rejects,
        encoder: CopyEncoder::new(
            match merging {
                Some(_) => Trailer::Position,
                None => Trailer::ObjectId(object_id),
            },
            config.chunk_bytes,
        ),
    };
    let parse = tokio::task::spawn_blocking(move || stage.run(input, &chunk_tx));

    let stage_table = merging.as_ref().map(|(stage, _)| stage.table());
    let into = stage_table.as_deref().map(|t| (t, Stage::last_column()));
    let sink = tx
        .copy_in(&copy_statement(dataset, into))
        .await
        .map_err(|e| ObjectError::db("start COPY", &e))?;
    futures_util::pin_mut!(sink);
    let mut copy_error = None;
    while let Some(chunk) = chunk_rx.recv().await {
        if let Some((stage, _)) = merging.as_mut() {
            stage.digest(&chunk);
        }
        if let Err(e) = sink.send(chunk).await {
            copy_error = Some(e);
            break;
        }
    }
    drop(chunk_rx);
    let parsed = parse
        .await
        .map_err(|e| ObjectError::Download(format!("parser task failed: {e}")))?;
    // A failed download wins over what the parser made of the cut input (a truncated gzip stream, say).
    let Fetched { bytes, resumes } = fetch
        .await
        .map_err(|e| ObjectError::Download(format!("download task failed: {e}")))??;
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
    let merged = match merging {
        Some((stage, merge)) => Some(stage.apply(&tx, dataset, merge, object_id).await?),
        None => None,
    };
    ledger::complete(&tx, object_id, rows, &rejects).await?;
    tx.commit()
        .await
        .map_err(|e| ObjectError::db("commit", &e))?;
    Ok(Outcome::Loaded {
        loaded: Loaded {
            rows,
            rejected: rejects.len() as u64,
            bytes,
            resumes,
            version_id: served.version_id,
        },
        replaced,
        merged,
    })
}

/// Streams the body into the channel (a break mid-stream is resumed by `Body`) and checks it had the listed size.
/// Stops quietly when the parser has gone: the parser's error is the object's.
async fn download(
    mut body: Body,
    size: u64,
    out: Sender<Bytes>,
    bar: ProgressBar,
) -> Result<Fetched, ObjectError> {
    let mut bytes = 0;
    while let Some(mut chunk) = body.next_chunk().await? {
        bytes += chunk.len() as u64;
        bar.inc(chunk.len() as u64);
        while !chunk.is_empty() {
            let piece = chunk.split_to(chunk.len().min(DOWNLOAD_PIECE));
            if out.send(piece).await.is_err() {
                return Ok(Fetched {
                    bytes,
                    resumes: body.resumes(),
                });
            }
        }
    }
    if bytes != size {
        return Err(ObjectError::Download(format!(
            "read {bytes} bytes, the listing said {size}"
        )));
    }
    Ok(Fetched {
        bytes,
        resumes: body.resumes(),
    })
}

/// Reads a Parquet object's record batches into the channel (the source fetches the next row group while this
/// task decodes the current one). Stops quietly when the parser has gone.
async fn read_batches(
    mut source: ParquetSource,
    out: Sender<Batch>,
    bar: ProgressBar,
) -> Result<Fetched, ObjectError> {
    while let Some(batch) = source.next_batch().await? {
        bar.set_position(source.stats().bytes());
        if out.send(batch).await.is_err() {
            break;
        }
    }
    Ok(Fetched {
        bytes: source.stats().bytes(),
        resumes: u32::try_from(source.stats().resumes()).unwrap_or(u32::MAX),
    })
}
