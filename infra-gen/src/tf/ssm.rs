//! SSM: documents run on managed instances through Run Command.

use serde::Serialize;

use crate::tf::Tags;
use crate::tf::{TfString, resource_type};

/// `aws_ssm_document`.
#[derive(Debug, Serialize)]
pub struct AwsSsmDocument {
    /// Document name.
    pub name: TfString,
    /// `Command` for Run Command.
    pub document_type: &'static str,
    /// `JSON` or `YAML`.
    pub document_format: &'static str,
    /// Resource types the document may target, e.g. `/AWS::EC2::Instance`.
    pub target_type: &'static str,
    /// The document itself.
    pub content: TfString,
    /// Tags.
    pub tags: Tags,
}

resource_type! {
    AwsSsmDocument => "aws_ssm_document",
}
