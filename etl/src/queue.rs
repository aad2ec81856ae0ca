//! `etl process --queue`: S3 event notifications on SQS as a source of work.
//!
//! S3 delivers each notification at least once and in no particular order, so a message is only a hint that a key
//! changed: the consumer resolves the key's current version (`HeadObject`) and submits it as a `LoadJob`, and the
//! ledger decides. Duplicate, stale and out-of-order events therefore change nothing. A message is deleted only
//! once every record in it reached a final outcome (loaded or skipped, i.e. after the commit). A failed load, or a
//! message that is not an S3 event of our bucket, stays in the queue: it comes back after the visibility timeout
//! and, after the queue's redrive count, moves to the dead-letter queue, without holding up the other messages.
//! While a message is in hand its visibility is extended before it lapses. This module knows SQS and the S3 event
//! JSON, nothing of PostgreSQL.

use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde_json::Value;
use tokio::sync::mpsc::{Sender, channel};
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio::time::{Instant, interval_at, sleep};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::aws::error_message;
use crate::error::{Error, QueueError};
use crate::metrics;
use crate::process::{Engine, JobOutcome, LoadJob, report, run_loads};
use crate::source;
use crate::spec::Selection;

/// Messages asked for per receive (the most SQS returns).
const BATCH: usize = 10;
/// Messages in hand at once: two batches, so the next batch is already waiting while one is loading. A message in
/// hand costs only its visibility extensions, never memory of its object.
const MAX_IN_HAND: usize = 2 * BATCH;
/// Pause before a job whose key another loader holds is submitted again.
const BUSY_RETRY: Duration = Duration::from_secs(1);

/// The queue side of `etl process --queue`.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// The SQS queue URL.
    pub url: String,
    /// Long-poll wait of one receive, 1–20 seconds.
    pub wait_seconds: u8,
    /// Stop once a receive comes back empty and the queue holds no message (visible, delayed or in flight).
    pub exit_when_idle: bool,
}

/// Consumes the queue until `shutdown` fires (or, with `exit_when_idle`, until the queue is empty), loading every
/// changed key through `run_loads`. Object failures are per message (left for a retry, then the dead-letter
/// queue), so they do not end the run; only the queue or the database being unusable does.
pub async fn serve(
    engine: &Engine,
    queue: &QueueConfig,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let config = engine.config();
    let sdk = crate::aws::sdk_config(&config.aws).await;
    let (job_tx, job_rx) = channel(BATCH);
    let mut consumer = Consumer {
        sqs: crate::aws::sqs_client(&sdk),
        s3: crate::aws::s3_client(&sdk, &config.aws),
        queue: queue.url.clone(),
        bucket: config.bucket.clone(),
        prefix: config.prefix.clone(),
        dataset: config.dataset.name.clone(),
        selection: config.dataset.selection.clone(),
        visibility: 0,
        jobs: job_tx,
        // Also fires when the engine stops on its own (database gone), so the consumer does not keep receiving.
        stop: shutdown.child_token(),
    };
    let [visibility] = consumer
        .attributes([QueueAttributeName::VisibilityTimeout])
        .await?;
    consumer.visibility = i32::try_from(visibility).unwrap_or(i32::MAX).max(1);
    info!(queue = %queue.url, bucket = %config.bucket, prefix = %config.prefix,
          visibility_seconds = consumer.visibility, "Consuming S3 events from the queue.");
    let stop = consumer.stop.clone();
    let loads = async {
        let result = run_loads(engine, job_rx, shutdown.clone()).await;
        stop.cancel();
        result
    };
    let (tally, loaded) = tokio::join!(
        Arc::new(consumer).run(queue.wait_seconds, queue.exit_when_idle),
        loads
    );
    let (tally, consumed) = tally;
    info!(queue = %queue.url, received = tally.received, deleted = tally.deleted, left = tally.left,
          released = tally.released, "Queue consumer stopped.");
    loaded?;
    consumed?;
    Ok(())
}

/// What to do with a message once its work is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Every record reached a final outcome: delete it.
    Delete,
    /// A load failed or the message is unusable: leave it, so it comes back after the visibility timeout and
    /// reaches the dead-letter queue after the redrive count.
    Leave,
    /// The run stopped before its loads were decided: make it visible again at once for another worker.
    Release,
}

/// Message counts of one consumer's life, for its last log line.
#[derive(Debug, Default)]
struct Tally {
    received: u64,
    deleted: u64,
    left: u64,
    released: u64,
}

impl Tally {
    /// Counts a finished handler; one that panicked left its message, which comes back.
    fn add(&mut self, finished: Result<Verdict, tokio::task::JoinError>) {
        match finished.unwrap_or(Verdict::Leave) {
            Verdict::Delete => self.deleted += 1,
            Verdict::Leave => self.left += 1,
            Verdict::Release => self.released += 1,
        }
    }
}

struct Consumer {
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
    queue: String,
    bucket: String,
    prefix: String,
    dataset: String,
    /// Which keys below the prefix are data.
    selection: Selection,
    /// The queue's visibility timeout (seconds): the extension applied while a message is in hand.
    visibility: i32,
    jobs: Sender<LoadJob>,
    stop: CancellationToken,
}

impl Consumer {
    /// Receives until stopped (or idle), one task per message, at most [`MAX_IN_HAND`] at once; then waits for the
    /// messages in hand, whose loads commit or roll back.
    async fn run(
        self: Arc<Self>,
        wait_seconds: u8,
        exit_when_idle: bool,
    ) -> (Tally, Result<(), QueueError>) {
        let mut tally = Tally::default();
        let mut handlers = JoinSet::new();
        let mut result = Ok(());
        loop {
            while let Some(done) = handlers.try_join_next() {
                tally.add(done);
            }
            let room = MAX_IN_HAND - handlers.len();
            if room == 0 {
                tokio::select! {
                    () = self.stop.cancelled() => break,
                    Some(done) = handlers.join_next() => tally.add(done),
                }
                continue;
            }
            // A receive cut short here loses nothing: what SQS had handed out reappears after its timeout.
            let received = tokio::select! {
                () = self.stop.cancelled() => break,
                received = self.receive(room.min(BATCH), wait_seconds) => received,
            };
            match received {
                Err(e) => {
                    result = Err(e);
                    break;
                }
                Ok(messages) if messages.is_empty() => {
                    if exit_when_idle && handlers.is_empty() {
                        match self.is_drained().await {
                            Ok(true) => {
                                info!(queue = %self.queue, "The queue is empty; exiting as asked (--exit-when-idle).");
                                break;
                            }
                            Ok(false) => {}
                            Err(e) => {
                                result = Err(e);
                                break;
                            }
                        }
                    }
                }
                Ok(messages) => {
                    tally.received += messages.len() as u64;
                    metrics::emit(&metrics::received_record(&self.dataset, messages.len()));
                    for message in messages {
                        handlers.spawn(Arc::clone(&self).handle(message));
                    }
                }
            }
        }
        while let Some(done) = handlers.join_next().await {
            tally.add(done);
        }
        (tally, result)
    }

    async fn receive(&self, max: usize, wait_seconds: u8) -> Result<Vec<Message>, QueueError> {
        let output = self
            .sqs
            .receive_message()
            .queue_url(&self.queue)
            .max_number_of_messages(i32::try_from(max).unwrap_or(10))
            .wait_time_seconds(i32::from(wait_seconds))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| {
                self.failure(&e.into_service_error(), |queue, message| {
                    QueueError::Receive { queue, message }
                })
            })?;
        Ok(output.messages.unwrap_or_default())
    }

    /// A failed queue-wide call: a queue that does not exist is a configuration error, anything else `other`.
    fn failure<E>(&self, error: &E, other: fn(String, String) -> QueueError) -> QueueError
    where
        E: ProvideErrorMetadata + std::error::Error,
    {
        if matches!(
            error.code(),
            Some("QueueDoesNotExist" | "AWS.SimpleQueueService.NonExistentQueue")
        ) {
            QueueError::NoSuchQueue {
                queue: self.queue.clone(),
            }
        } else {
            other(self.queue.clone(), error_message(error))
        }
    }

    /// Numeric queue attributes, in the order asked (a missing one reads as 0).
    async fn attributes<const N: usize>(
        &self,
        names: [QueueAttributeName; N],
    ) -> Result<[u64; N], QueueError> {
        let output = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue)
            .set_attribute_names(Some(names.to_vec()))
            .send()
            .await
            .map_err(|e| {
                self.failure(&e.into_service_error(), |queue, message| {
                    QueueError::Attributes { queue, message }
                })
            })?;
        let attributes = output.attributes();
        Ok(names.map(|name| {
            attributes
                .and_then(|a| a.get(&name))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        }))
    }

    /// No message visible, delayed or in flight (SQS's counts are approximate; a late one waits for the next run
    /// or the listing sweep).
    async fn is_drained(&self) -> Result<bool, QueueError> {
        let counts = self
            .attributes([
                QueueAttributeName::ApproximateNumberOfMessages,
                QueueAttributeName::ApproximateNumberOfMessagesDelayed,
                QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            ])
            .await?;
        Ok(counts.iter().all(|&n| n == 0))
    }

    /// Works one message to its verdict while keeping it invisible to other consumers, then acts on the verdict.
    async fn handle(self: Arc<Self>, message: Message) -> Verdict {
        let id = message.message_id().unwrap_or("(no id)");
        let Some(receipt) = message.receipt_handle() else {
            error!(queue = %self.queue, message_id = id, "Message has no receipt handle; leaving it.");
            return Verdict::Leave;
        };
        let receive_count = message
            .attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .map_or("", String::as_str);
        debug!(queue = %self.queue, message_id = id, receive_count, "Received message.");
        // Extend at half the timeout, so one late extension still lands before the message reappears.
        let half = Duration::from_millis(u64::try_from(self.visibility).unwrap_or(1) * 500);
        let mut heartbeat = interval_at(Instant::now() + half, half);
        let mut work = pin!(self.work(id, message.body().unwrap_or_default()));
        let verdict = loop {
            tokio::select! {
                verdict = &mut work => break verdict,
                _ = heartbeat.tick() => self.set_visibility(id, receipt, self.visibility).await,
            }
        };
        match verdict {
            Verdict::Delete => self.delete(id, receipt).await,
            Verdict::Leave => {}
            Verdict::Release => self.set_visibility(id, receipt, 0).await,
        }
        verdict
    }

    /// Parses the message and loads the current version of every key it names.
    async fn work(&self, id: &str, body: &str) -> Verdict {
        let changes = match parse_event(body, &self.bucket) {
            Ok(Event::Test) => {
                info!(queue = %self.queue, message_id = id, "Dropped the S3 test event.");
                return Verdict::Delete;
            }
            Ok(Event::Changes(changes)) => changes,
            Err(reason) => {
                let e = QueueError::NotAnEvent {
                    queue: self.queue.clone(),
                    message_id: id.to_owned(),
                    reason,
                };
                error!(error = %e, "Message left for the dead-letter queue.");
                return Verdict::Leave;
            }
        };
        let mut verdict = Verdict::Delete;
        for change in changes {
            match self.load(id, &change).await {
                Verdict::Delete => {}
                Verdict::Leave => verdict = Verdict::Leave,
                Verdict::Release => return Verdict::Release,
            }
        }
        verdict
    }

    /// One record: "key K changed". Loads K's current version and waits for the ledger's decision.
    async fn load(&self, id: &str, change: &Change) -> Verdict {
        let key = &change.key;
        // Keys outside the prefix are another dataset's or a folder marker: this worker can never load them, so
        // keeping the message would only cycle it into the dead-letter queue and raise its alarm for nothing. A
        // notification filter wider than the prefix is the usual cause; the right dataset's sweep still finds
        // its objects.
        if !key.starts_with(&self.prefix) || key.ends_with('/') {
            info!(queue = %self.queue, message_id = id, bucket = %self.bucket, key = %key, prefix = %self.prefix,
                  "Ignored a key outside the prefix.");
            return Verdict::Delete;
        }
        // Not data (a `_SUCCESS` marker, a key outside the spec's globs): final, like a load that skipped it.
        if let Some(reason) = self.selection.skip_reason(&self.prefix, key) {
            info!(dataset = %self.dataset, queue = %self.queue, message_id = id, bucket = %self.bucket, key = %key,
                  reason, "Skipped object.");
            return Verdict::Delete;
        }
        let object = match source::head(&self.s3, &self.bucket, key).await {
            Ok(Some(object)) => object,
            Ok(None) => {
                // Removals are out of scope: a key that is gone has nothing to load.
                info!(queue = %self.queue, message_id = id, bucket = %self.bucket, key = %key,
                      "The key no longer exists; nothing to load.");
                return Verdict::Delete;
            }
            Err(message) => {
                let e = QueueError::Head {
                    queue: self.queue.clone(),
                    message_id: id.to_owned(),
                    bucket: self.bucket.clone(),
                    key: key.clone(),
                    message,
                };
                error!(error = %e, "Message left for a retry.");
                return Verdict::Leave;
            }
        };
        loop {
            let (reply, outcome) = oneshot::channel();
            let job = LoadJob {
                object: object.clone(),
                reply,
            };
            // The engine has stopped (a signal, or the database is gone) before deciding this job.
            if self.jobs.send(job).await.is_err() {
                return Verdict::Release;
            }
            let Ok(outcome) = outcome.await else {
                return Verdict::Release;
            };
            report(&self.dataset, &object, &outcome, Some(id));
            match outcome {
                JobOutcome::Loaded { .. } => {
                    let seconds = change.event_time.and_then(|t| {
                        SystemTime::now()
                            .duration_since(t)
                            .ok()
                            .map(|d| d.as_secs_f64())
                    });
                    metrics::emit(&metrics::event_loaded_record(&self.dataset, key, seconds));
                    return Verdict::Delete;
                }
                JobOutcome::Busy => {
                    tokio::select! {
                        () = self.stop.cancelled() => return Verdict::Release,
                        () = sleep(BUSY_RETRY) => {}
                    }
                }
                JobOutcome::Skipped(_) => return Verdict::Delete,
                JobOutcome::Failed(_) => return Verdict::Leave,
            }
        }
    }

    /// Deletes a message; a failure only means it comes back, and the ledger then skips it.
    async fn delete(&self, id: &str, receipt: &str) {
        let result = self
            .sqs
            .delete_message()
            .queue_url(&self.queue)
            .receipt_handle(receipt)
            .send()
            .await;
        if let Err(e) = result {
            let e = QueueError::Delete {
                queue: self.queue.clone(),
                message_id: id.to_owned(),
                message: error_message(&e.into_service_error()),
            };
            warn!(error = %e, "The message will come back; the ledger will skip it.");
        }
    }

    /// Sets a message's remaining invisibility; a failure only means it may reappear early (the ledger decides).
    async fn set_visibility(&self, id: &str, receipt: &str, seconds: i32) {
        let result = self
            .sqs
            .change_message_visibility()
            .queue_url(&self.queue)
            .receipt_handle(receipt)
            .visibility_timeout(seconds)
            .send()
            .await;
        if let Err(e) = result {
            let e = QueueError::Visibility {
                queue: self.queue.clone(),
                message_id: id.to_owned(),
                message: error_message(&e.into_service_error()),
            };
            warn!(error = %e, "Could not change the message's visibility.");
        }
    }
}

/// A message's meaning.
#[derive(Debug, PartialEq)]
enum Event {
    /// The `s3:TestEvent` S3 sends when a notification is configured.
    Test,
    /// One entry per record.
    Changes(Vec<Change>),
}

/// "This key changed", as one record of an S3 event says it.
#[derive(Debug, PartialEq)]
struct Change {
    key: String,
    event_time: Option<SystemTime>,
}

/// Parses an S3 event notification of `bucket`; `Err` says in one line what is wrong with the message.
fn parse_event(body: &str, bucket: &str) -> Result<Event, String> {
    let value: Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Event::Test);
    }
    let records = value
        .get("Records")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
        .ok_or("no Records array with at least one record")?;
    let mut changes = Vec::with_capacity(records.len());
    for (i, record) in records.iter().enumerate() {
        let field = |path: &[&str]| {
            path.iter()
                .try_fold(record, |v, name| v.get(name))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    format!("Records[{i}].{} is missing or not a string", path.join("."))
                })
        };
        let name = field(&["s3", "bucket", "name"])?;
        if name != bucket {
            return Err(format!("Records[{i}] is for bucket {name}, not {bucket}"));
        }
        let key = decode_key(field(&["s3", "object", "key"])?)
            .map_err(|e| format!("Records[{i}].s3.object.key: {e}"))?;
        let event_time = field(&["eventTime"]).ok().and_then(parse_time);
        changes.push(Change { key, event_time });
    }
    Ok(Event::Changes(changes))
}

/// Decodes a key as S3 writes it into event notifications: `+` is a space, `%XX` a byte, the bytes UTF-8.
fn decode_key(raw: &str) -> Result<String, String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .ok_or_else(|| format!("{raw:?} has a bad %-escape at byte {i}"))?;
                // Two ASCII hex digits always parse.
                let text = std::str::from_utf8(hex).unwrap_or_default();
                out.push(u8::from_str_radix(text, 16).unwrap_or_default());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("{raw:?} is not UTF-8 once decoded"))
}

/// An S3 `eventTime` (`2024-05-01T12:00:00.123Z`); a time without a zone is taken as UTC, as moto writes it.
fn parse_time(text: &str) -> Option<SystemTime> {
    let zoned = if text.ends_with('Z') || text.ends_with('z') {
        text.to_owned()
    } else {
        format!("{text}Z")
    };
    DateTime::from_str(&zoned, Format::DateTime)
        .ok()
        .and_then(|t| SystemTime::try_from(t).ok())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use crate::queue::{Change, Event, decode_key, parse_event, parse_time};

    #[test]
    fn keys_decode_as_s3_encodes_them() {
        assert_eq!(decode_key("raw/a+b%2Bc.csv").unwrap(), "raw/a b+c.csv");
        assert_eq!(decode_key("raw%2Fx%25y").unwrap(), "raw/x%y");
        assert_eq!(decode_key("caf%C3%A9%20%E2%82%AC").unwrap(), "café €");
        assert_eq!(decode_key("plain-key_1.csv").unwrap(), "plain-key_1.csv");
        assert!(decode_key("bad%2").unwrap_err().contains("bad %-escape"));
        assert!(decode_key("bad%+1").unwrap_err().contains("bad %-escape"));
        assert!(decode_key("%FF").unwrap_err().contains("not UTF-8"));
    }

    #[test]
    fn event_times_parse_with_or_without_a_zone() {
        let at = |s| parse_time(s).unwrap().duration_since(UNIX_EPOCH).unwrap();
        assert_eq!(
            at("2024-05-01T12:00:00.250Z"),
            Duration::from_millis(1_714_564_800_250)
        );
        assert_eq!(
            at("2024-05-01T12:00:00.250000"),
            Duration::from_millis(1_714_564_800_250)
        );
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn s3_events_parse_and_everything_else_says_why_not() {
        let event = r#"{"Records":[{"eventTime":"2024-05-01T12:00:00.000Z","eventName":"ObjectCreated:Put",
            "s3":{"bucket":{"name":"data"},"object":{"key":"raw/a+b.csv","size":3,"eTag":"x"}}}]}"#;
        assert_eq!(
            parse_event(event, "data").unwrap(),
            Event::Changes(vec![Change {
                key: "raw/a b.csv".to_owned(),
                event_time: Some(UNIX_EPOCH + Duration::from_secs(1_714_564_800)),
            }])
        );
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"x","Bucket":"data"}"#;
        assert_eq!(parse_event(test, "data").unwrap(), Event::Test);
        let cases = [
            ("hello", "not JSON"),
            (r#"{"Records":[]}"#, "no Records array"),
            (r#"{"Message":"x"}"#, "no Records array"),
            (
                r#"{"Records":[{"s3":{"bucket":{"name":"data"}}}]}"#,
                "Records[0].s3.object.key is missing or not a string",
            ),
            (
                r#"{"Records":[{"s3":{"bucket":{"name":"other"},"object":{"key":"k"}}}]}"#,
                "Records[0] is for bucket other, not data",
            ),
            (
                r#"{"Records":[{"s3":{"bucket":{"name":"data"},"object":{"key":"%zz"}}}]}"#,
                "Records[0].s3.object.key: \"%zz\" has a bad %-escape at byte 0",
            ),
        ];
        for (body, expected) in cases {
            let error = parse_event(body, "data").unwrap_err();
            assert!(error.contains(expected), "{body}: {error}");
        }
    }
}
