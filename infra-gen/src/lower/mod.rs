//! Lowering: the only module that knows both the platform model and Terraform. One file per
//! model area; each returns the handles later areas need, so cross-area references are typed.

mod compute;
mod database;
mod iam;
mod network;
mod outputs;
mod providers;
mod security;
mod storage;

use crate::model::Platform;
use crate::tf::data::{AwsCallerIdentity, AwsPartition, AwsRegion};
use crate::tf::network::Tags;
use crate::tf::{Document, FileId, Handle, TfError, TfString};

/// Terraform settings: required providers and version.
pub const VERSIONS: FileId = FileId("versions");
/// The S3 backend; its settings come from `-backend-config` at init.
pub const BACKEND: FileId = FileId("backend");
/// Provider configuration and account facts.
pub const PROVIDERS: FileId = FileId("providers");
/// Input variables.
pub const VARIABLES: FileId = FileId("variables");
/// VPC, subnets, routing, flow logs.
pub const NETWORK: FileId = FileId("network");
/// Security groups and their rules.
pub const SECURITY: FileId = FileId("security");
/// KMS key and buckets.
pub const STORAGE: FileId = FileId("storage");
/// Roles and policies.
pub const IAM: FileId = FileId("iam");
/// The ETL host.
pub const COMPUTE: FileId = FileId("compute");
/// RDS PostgreSQL.
pub const DATABASE: FileId = FileId("database");
/// Outputs (names are a contract with the ETL and the local platform).
pub const OUTPUTS: FileId = FileId("outputs");

/// Facts every area needs: the platform, account data sources, tagging.
pub(crate) struct Ctx<'a> {
    pub(crate) platform: &'a Platform,
    pub(crate) account: Handle<AwsCallerIdentity>,
    pub(crate) partition: Handle<AwsPartition>,
    pub(crate) region: Handle<AwsRegion>,
}

impl Ctx<'_> {
    /// `<name>-<suffix>`, escaped as a literal.
    pub(crate) fn named(&self, suffix: &str) -> TfString {
        TfString::lit(format!("{}-{suffix}", self.platform.name))
    }

    /// The `Name` tag; the provider's default tags add the rest.
    pub(crate) fn tags(&self, suffix: &str) -> Tags {
        Tags::from([("Name".to_owned(), self.named(suffix))])
    }

    /// `arn:<partition>:<service>:<region>:<account>:<rest>` for a resource in this account.
    pub(crate) fn arn(&self, service: &str, rest: &str) -> TfString {
        TfString::concat([
            TfString::lit("arn:"),
            self.partition.attr("partition"),
            TfString::lit(format!(":{service}:")),
            self.region.attr("name"),
            TfString::lit(":"),
            self.account.attr("account_id"),
            TfString::lit(format!(":{rest}")),
        ])
    }

    /// The ARN of an AWS managed IAM policy.
    pub(crate) fn managed_policy(&self, path: &str) -> TfString {
        TfString::concat([
            TfString::lit("arn:"),
            self.partition.attr("partition"),
            TfString::lit(format!(":iam::aws:policy/{path}")),
        ])
    }

    /// The account root principal, for key policies.
    pub(crate) fn account_root(&self) -> TfString {
        TfString::concat([
            TfString::lit("arn:"),
            self.partition.attr("partition"),
            TfString::lit(":iam::"),
            self.account.attr("account_id"),
            TfString::lit(":root"),
        ])
    }
}

/// Translates a validated platform into a Terraform document.
pub fn lower(platform: &Platform) -> Result<Document, TfError> {
    let mut doc = Document::default();
    let vars = providers::lower(&mut doc, platform)?;
    let ctx = Ctx {
        platform,
        account: doc.data(PROVIDERS, "current", &AwsCallerIdentity {})?,
        partition: doc.data(PROVIDERS, "current", &AwsPartition {})?,
        region: doc.data(PROVIDERS, "current", &AwsRegion {})?,
    };
    let key = storage::lower_key(&mut doc, &ctx)?;
    let net = network::lower(&mut doc, &ctx, &key)?;
    let buckets = storage::lower_buckets(&mut doc, &ctx, &key)?;
    let groups = security::lower(&mut doc, &ctx, &net, &vars)?;
    let db = database::lower(&mut doc, &ctx, &net, &groups, &key)?;
    let profile = iam::lower_etl_role(&mut doc, &ctx, &buckets, &key, &db)?;
    let host = compute::lower(&mut doc, &ctx, &net, &groups, &key, &profile, &vars)?;
    outputs::lower(&mut doc, &ctx, &buckets, &key, &host, &db)?;
    Ok(doc)
}
