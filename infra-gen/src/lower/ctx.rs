//! The floor every area of `lower` stands on: the file ids that say where each resource is
//! written, the platform tag, and `Ctx`, the facts every area needs (platform, account data
//! sources, ARN builders). It sits below the areas and the shared helpers so that they import it
//! and `lower/mod.rs` only wires; it imports no area.

use crate::model::Platform;
use crate::tf::Tags;
use crate::tf::data::{AwsCallerIdentity, AwsPartition, AwsRegion};
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
/// Buckets (and the platform key's lookup).
pub const STORAGE: FileId = FileId("storage");
/// Roles and policies.
pub const IAM: FileId = FileId("iam");
/// The ETL host.
pub const COMPUTE: FileId = FileId("compute");
/// RDS PostgreSQL.
pub const DATABASE: FileId = FileId("database");
/// Log groups, the CloudWatch agent configuration, alarms, their topic, the dashboard.
pub const MONITORING: FileId = FileId("monitoring");
/// The CI/CD side: ECR, the deploy document, the GitHub OIDC provider and roles.
pub const DELIVERY: FileId = FileId("delivery");
/// The event queue, its dead-letter queue and the data bucket's notification.
pub const EVENTS: FileId = FileId("events");
/// The worker fleet: launch template, Auto Scaling group, scaling policy, security group.
pub const FLEET: FileId = FileId("fleet");
/// Outputs (names are a contract with the ETL and the local platform).
pub const OUTPUTS: FileId = FileId("outputs");
/// The bootstrap module's Terraform state bucket.
pub const STATE: FileId = FileId("state");
/// The bootstrap module's customer-managed keys (platform, alarms).
pub const KEYS: FileId = FileId("keys");

/// The platform key: S3, EBS, RDS, the DB secret, CloudWatch Logs, SQS, ECR.
pub(crate) const PLATFORM_KEY: &str = "platform";
/// The alarm topic's key.
pub(crate) const ALARMS_KEY: &str = "alarms";

/// The default tag naming the platform on every resource; the apply role's EC2 and KMS
/// permissions are conditioned on it.
pub(crate) const PLATFORM_TAG: &str = "Platform";

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

    /// `arn:<partition>:<service>:<region>:<account>:<resource>`, the one ARN layout every builder
    /// below fills in; an omitted region or account leaves its field empty, as global and
    /// account-less ARNs (S3, AWS managed policies, public AMIs and parameters) have it.
    pub(crate) fn arn_of(
        &self,
        service: &str,
        region: bool,
        account: Option<TfString>,
        resource: TfString,
    ) -> TfString {
        let mut parts = vec![
            TfString::lit("arn:"),
            self.partition.attr("partition"),
            TfString::lit(format!(":{service}:")),
        ];
        if region {
            parts.push(self.region.attr("name"));
        }
        parts.push(TfString::lit(":"));
        parts.extend(account);
        parts.push(TfString::lit(":"));
        parts.push(resource);
        TfString::concat(parts)
    }

    /// `arn:<partition>:<service>:<region>:<account>:<rest>` for a resource in this account.
    pub(crate) fn arn(&self, service: &str, rest: &str) -> TfString {
        self.arn_of(
            service,
            true,
            Some(self.account.attr("account_id")),
            TfString::lit(rest),
        )
    }

    /// `arn:<partition>:<service>::<account>:<rest>` for a global resource such as an IAM role.
    pub(crate) fn global_arn(&self, service: &str, rest: &str) -> TfString {
        self.arn_of(
            service,
            false,
            Some(self.account.attr("account_id")),
            TfString::lit(rest),
        )
    }

    /// `arn:<partition>:s3:::<path>` for a bucket or objects in it.
    pub(crate) fn s3_arn(&self, path: &str) -> TfString {
        self.arn_of("s3", false, None, TfString::lit(path))
    }

    /// The ARN of an AWS managed IAM policy.
    pub(crate) fn managed_policy(&self, path: &str) -> TfString {
        self.arn_of(
            "iam",
            false,
            Some(TfString::lit("aws")),
            TfString::lit(format!("policy/{path}")),
        )
    }

    /// The event queue's ARN built from its name, for the key policy, which exists before it.
    pub(crate) fn etl_queue_arn(&self) -> TfString {
        self.arn("sqs", &self.platform.etl_queue_name())
    }

    /// The permissions boundary every platform role carries; the bootstrap module creates it.
    pub(crate) fn permissions_boundary(&self) -> TfString {
        self.global_arn(
            "iam",
            &format!("policy/{}", self.platform.permissions_boundary_name()),
        )
    }

    /// `alias/<name>-<key>`: how the platform module finds a key the bootstrap module created.
    pub(crate) fn key_alias(&self, key: &str) -> String {
        format!("alias/{}-{key}", self.platform.name)
    }

    /// The account root principal, for key policies.
    pub(crate) fn account_root(&self) -> TfString {
        self.global_arn("iam", "root")
    }
}

/// The account facts every module reads, declared once per module.
pub(crate) fn context<'a>(doc: &mut Document, platform: &'a Platform) -> Result<Ctx<'a>, TfError> {
    Ok(Ctx {
        platform,
        account: doc.data(PROVIDERS, "current", &AwsCallerIdentity {})?,
        partition: doc.data(PROVIDERS, "current", &AwsPartition {})?,
        region: doc.data(PROVIDERS, "current", &AwsRegion {})?,
    })
}
