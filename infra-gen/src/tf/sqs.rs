//! SQS: the event queue, its dead-letter queue and the queue policy.

use serde::Serialize;

use crate::tf::Tags;
use crate::tf::{TfString, resource_type};

/// `aws_sqs_queue`.
#[derive(Debug, Serialize)]
pub struct AwsSqsQueue {
    /// Queue name.
    pub name: TfString,
    /// Customer key for SSE-KMS.
    pub kms_master_key_id: TfString,
    /// Seconds SQS reuses a data key before asking KMS again (fewer KMS calls, same key).
    pub kms_data_key_reuse_period_seconds: u32,
    /// Seconds a message is kept.
    pub message_retention_seconds: u32,
    /// Long polling: seconds a receive waits for a message.
    pub receive_wait_time_seconds: u32,
    /// Seconds a received message stays invisible to other consumers.
    pub visibility_timeout_seconds: u32,
    /// JSON `{"deadLetterTargetArn": ..., "maxReceiveCount": n}`; absent on the dead-letter queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redrive_policy: Option<TfString>,
    /// JSON `{"redrivePermission": "byQueue", "sourceQueueArns": [...]}`: which queues may use
    /// this one as their dead-letter queue; set on the dead-letter queue only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redrive_allow_policy: Option<TfString>,
    /// Tags.
    pub tags: Tags,
}

/// `aws_sqs_queue_policy`.
#[derive(Debug, Serialize)]
pub struct AwsSqsQueuePolicy {
    /// The queue's URL (its id).
    pub queue_url: TfString,
    /// Policy JSON.
    pub policy: TfString,
}

resource_type! {
    AwsSqsQueue => "aws_sqs_queue",
    AwsSqsQueuePolicy => "aws_sqs_queue_policy",
}
