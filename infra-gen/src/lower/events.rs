//! The event path's infrastructure: the SQS queue that receives the data bucket's
//! `s3:ObjectCreated:*` notifications under the configured prefixes (keys ending with the
//! dataset's suffix, when one is declared), its dead-letter queue, the
//! queue policies, and the notification itself.
//!
//! Both queues are encrypted with the platform key; the key policy lets S3 use it for this queue
//! only (see `storage::lower_key`). The queue policy admits S3 for this bucket and account only
//! and denies any request without TLS. The notification depends on the queue policy: S3 sends a
//! test event when the configuration is written and refuses it if it cannot deliver.

use crate::lower::ctx::{Ctx, EVENTS};
use crate::lower::handles::{Buckets, Events};
use crate::lower::iam_helpers::allow;
use crate::model::events::EventQueue;
use crate::tf::Tags;
use crate::tf::data::{AwsIamPolicyDocument, AwsKmsKey, Condition, Principals, Statement};
use crate::tf::sqs::{AwsSqsQueue, AwsSqsQueuePolicy};
use crate::tf::storage::{AwsS3BucketNotification, QueueNotification};
use crate::tf::{Document, Handle, Meta, TfError, TfString};

const DAY_SECONDS: u32 = 86_400;

/// A queue's side of the dead-letter pairing: the event queue sends to the dead-letter queue, and
/// the dead-letter queue accepts only the event queue, so no other queue in the account can
/// redrive into it (and into its alarm and runbook).
enum Redrive {
    /// `redrive_policy`: the dead-letter queue and the receive count.
    To(TfString),
    /// `redrive_allow_policy`: the only source queue.
    AllowedFrom(TfString),
}

fn queue(
    ctx: &Ctx<'_>,
    name: &str,
    key: &Handle<AwsKmsKey>,
    retention_days: u32,
    redrive: Redrive,
) -> AwsSqsQueue {
    let (redrive_policy, redrive_allow_policy) = match redrive {
        Redrive::To(policy) => (Some(policy), None),
        Redrive::AllowedFrom(policy) => (None, Some(policy)),
    };
    AwsSqsQueue {
        name: TfString::lit(name),
        kms_master_key_id: key.arn(),
        // The default: one KMS call per data key per 5 minutes.
        kms_data_key_reuse_period_seconds: 300,
        message_retention_seconds: retention_days * DAY_SECONDS,
        receive_wait_time_seconds: EventQueue::RECEIVE_WAIT_SECONDS,
        visibility_timeout_seconds: ctx.platform.etl.queue.visibility_timeout_seconds,
        redrive_policy,
        redrive_allow_policy,
        tags: Tags::from([("Name".to_owned(), TfString::lit(name))]),
    }
}

/// A queue policy: `allow` (if any) and the TLS-only deny.
fn queue_policy(
    doc: &mut Document,
    name: &str,
    queue: &Handle<AwsSqsQueue>,
    allow: Option<Statement>,
) -> Result<Handle<AwsSqsQueuePolicy>, TfError> {
    let policy = doc.data(
        EVENTS,
        &format!("{name}_queue"),
        &AwsIamPolicyDocument {
            statement: allow
                .into_iter()
                .chain([Statement::deny_without_tls(
                    vec!["sqs:*"],
                    vec![queue.arn()],
                )])
                .collect(),
        },
    )?;
    doc.resource(
        EVENTS,
        name,
        &AwsSqsQueuePolicy {
            queue_url: queue.attr("id"),
            policy: policy.attr("json"),
        },
    )
}

pub(crate) fn lower(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    buckets: &Buckets,
    key: &Handle<AwsKmsKey>,
) -> Result<Events, TfError> {
    let platform = ctx.platform;
    let dead_letter = doc.resource(
        EVENTS,
        "etl_events_dead_letter",
        &queue(
            ctx,
            &platform.etl_dead_letter_queue_name(),
            key,
            EventQueue::DEAD_LETTER_RETENTION_DAYS,
            // The event queue's ARN from its name: the event queue refers to this queue, so a
            // reference back would be a cycle.
            Redrive::AllowedFrom(TfString::concat([
                TfString::lit(r#"{"redrivePermission":"byQueue","sourceQueueArns":[""#),
                ctx.etl_queue_arn(),
                TfString::lit(r#""]}"#),
            ])),
        ),
    )?;
    let redrive = TfString::concat([
        TfString::lit(r#"{"deadLetterTargetArn":""#),
        dead_letter.arn(),
        TfString::lit(format!(
            r#"","maxReceiveCount":{}}}"#,
            platform.etl.queue.max_receive_count
        )),
    ]);
    let queue = doc.resource(
        EVENTS,
        "etl_events",
        &queue(
            ctx,
            &platform.etl_queue_name(),
            key,
            platform.etl.queue.retention_days,
            Redrive::To(redrive),
        ),
    )?;
    let from_bucket = Statement {
        sid: "DataBucketObjectCreatedEvents",
        effect: "Allow",
        actions: vec!["sqs:SendMessage"],
        resources: vec![queue.arn()],
        principals: vec![Principals {
            type_: "Service",
            identifiers: vec![TfString::lit("s3.amazonaws.com")],
        }],
        condition: vec![
            Condition {
                test: "ArnEquals",
                variable: "aws:SourceArn",
                values: vec![buckets.data.arn()],
            },
            Condition {
                test: "StringEquals",
                variable: "aws:SourceAccount",
                values: vec![ctx.account.attr("account_id")],
            },
        ],
    };
    let policy = queue_policy(doc, "etl_events", &queue, Some(from_bucket))?;
    queue_policy(doc, "etl_events_dead_letter", &dead_letter, None)?;
    doc.resource_with(
        EVENTS,
        "data",
        &AwsS3BucketNotification {
            bucket: buckets.data.id(),
            queue: platform
                .etl
                .queue
                .prefixes
                .iter()
                .map(|prefix| QueueNotification {
                    queue_arn: queue.arn(),
                    events: vec!["s3:ObjectCreated:*"],
                    filter_prefix: TfString::lit(prefix),
                    filter_suffix: platform.etl.queue.suffix.as_deref().map(TfString::lit),
                })
                .collect(),
        },
        // S3 checks that it may deliver when the configuration is written.
        Meta {
            depends_on: vec![policy.address()],
            ..Meta::default()
        },
    )?;
    Ok(Events { queue, dead_letter })
}

/// What a consumer (the host's queue service, every worker) may do with the event queue: receive,
/// delete after the commit, extend visibility during a load, read the attributes; nothing else,
/// and nothing on the dead-letter queue (moving messages back is an operator's decision).
/// Decrypting with the platform key is already in the host role.
pub(crate) fn consumer_statements(events: &Events) -> Vec<Statement> {
    vec![allow(
        "ConsumeEtlEvents",
        vec![
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes",
        ],
        vec![events.queue.arn()],
    )]
}
