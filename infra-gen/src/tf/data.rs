//! Data sources: facts read from the provider at plan time.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::tf::{TfData, TfString, data_type};

/// `aws_caller_identity`: the account the plan runs in.
#[derive(Debug, Serialize)]
pub struct AwsCallerIdentity {}

/// `aws_partition`: `aws`, `aws-cn` or `aws-us-gov`, for ARNs.
#[derive(Debug, Serialize)]
pub struct AwsPartition {}

/// `aws_region`: the provider's region.
#[derive(Debug, Serialize)]
pub struct AwsRegion {}

/// `aws_availability_zones`.
#[derive(Debug, Serialize)]
pub struct AwsAvailabilityZones {
    /// `available` excludes impaired zones.
    pub state: &'static str,
    /// Filters; a `zone-name` filter pins the result set so a new AZ cannot shift indexes.
    pub filter: Vec<Filter>,
}

/// A `filter` block of an EC2 describe call.
#[derive(Debug, Serialize)]
pub struct Filter {
    /// Filter name, e.g. `zone-name`.
    pub name: &'static str,
    /// Accepted values.
    pub values: Vec<TfString>,
}

/// `aws_vpcs`: the ids of the VPCs that match the filters (none is not an error).
#[derive(Debug, Serialize)]
pub struct AwsVpcs {
    /// Filters, e.g. on a tag.
    pub filter: Vec<Filter>,
}

/// `aws_ssm_parameter`, e.g. a public AMI-id parameter.
#[derive(Debug, Serialize)]
pub struct AwsSsmParameter {
    /// Parameter name.
    pub name: TfString,
}

/// `aws_iam_openid_connect_provider`: an existing provider, found by its issuer URL.
#[derive(Debug, Serialize)]
pub struct AwsIamOpenidConnectProvider {
    /// Issuer URL.
    pub url: TfString,
}

/// `aws_kms_key`: an existing key, found by its alias (the bootstrap module's keys).
#[derive(Debug, Serialize)]
pub struct AwsKmsKey {
    /// `alias/<name>`, a key id or a key ARN.
    pub key_id: TfString,
}

/// `aws_iam_policy_document`: a policy built by the provider, so no JSON is hand-escaped.
#[derive(Debug, Serialize)]
pub struct AwsIamPolicyDocument {
    /// Statements, in order.
    pub statement: Vec<Statement>,
}

/// One policy statement.
#[derive(Clone, Debug, Serialize)]
pub struct Statement {
    /// Statement id.
    pub sid: &'static str,
    /// `Allow` or `Deny`.
    pub effect: &'static str,
    /// Actions.
    pub actions: Vec<&'static str>,
    /// Resource ARNs; empty for trust policies.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<TfString>,
    /// Principals; empty for identity policies.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<Principals>,
    /// Conditions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub condition: Vec<Condition>,
}

impl Statement {
    /// Denies `actions` on `resources` to anyone not using TLS, for resource policies.
    pub fn deny_without_tls(actions: Vec<&'static str>, resources: Vec<TfString>) -> Self {
        Self {
            sid: "DenyInsecureTransport",
            effect: "Deny",
            actions,
            resources,
            principals: vec![Principals {
                type_: "*",
                identifiers: vec![TfString::lit("*")],
            }],
            condition: vec![Condition {
                test: "Bool",
                variable: "aws:SecureTransport",
                values: vec![TfString::lit("false")],
            }],
        }
    }
}

/// A `principals` block.
#[derive(Clone, Debug, Serialize)]
pub struct Principals {
    /// `AWS`, `Service` or `*`.
    #[serde(rename = "type")]
    pub type_: &'static str,
    /// Identifiers of that type.
    pub identifiers: Vec<TfString>,
}

/// A `condition` block.
#[derive(Clone, Debug, Serialize)]
pub struct Condition {
    /// Operator, e.g. `StringEquals`.
    pub test: &'static str,
    /// Context key, e.g. `aws:SourceArn`.
    pub variable: &'static str,
    /// Accepted values.
    pub values: Vec<TfString>,
}

data_type! {
    AwsCallerIdentity => "aws_caller_identity",
    AwsPartition => "aws_partition",
    AwsRegion => "aws_region",
    AwsAvailabilityZones => "aws_availability_zones",
    AwsSsmParameter => "aws_ssm_parameter",
    AwsVpcs => "aws_vpcs",
    AwsIamOpenidConnectProvider => "aws_iam_openid_connect_provider",
    AwsKmsKey => "aws_kms_key",
}

impl TfData for AwsIamPolicyDocument {
    const TYPE: &'static str = "aws_iam_policy_document";

    /// The provider refuses two statements with the same non-empty Sid, but only when it
    /// evaluates the data source during a plan; `validate` and the snapshots never see it.
    fn problem(&self) -> Option<String> {
        let mut seen = BTreeSet::new();
        self.statement
            .iter()
            .map(|s| s.sid)
            .filter(|sid| !sid.is_empty())
            .find(|sid| !seen.insert(*sid))
            .map(|sid| format!("duplicate statement id {sid:?}"))
    }
}

#[cfg(test)]
mod tests {
    use crate::tf::data::{AwsIamPolicyDocument, Statement};
    use crate::tf::{Document, FileId, TfError, TfString};

    fn statement(sid: &'static str) -> Statement {
        Statement {
            sid,
            effect: "Allow",
            actions: vec!["s3:GetObject"],
            resources: vec![TfString::lit("*")],
            principals: vec![],
            condition: vec![],
        }
    }

    #[test]
    fn a_policy_document_with_two_equal_sids_is_refused() {
        let mut doc = Document::default();
        let twice = AwsIamPolicyDocument {
            statement: vec![statement("Read"), statement("Write"), statement("Read")],
        };
        let err = doc.data(FileId("iam"), "p", &twice).unwrap_err();
        assert!(matches!(&err, TfError::Invalid { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "data.aws_iam_policy_document.p: duplicate statement id \"Read\""
        );
    }

    #[test]
    fn empty_sids_may_repeat() {
        let mut doc = Document::default();
        let unnamed = AwsIamPolicyDocument {
            statement: vec![statement(""), statement("")],
        };
        assert!(doc.data(FileId("iam"), "p", &unnamed).is_ok());
    }
}
