//! The platform in business terms: what exists and who may talk to whom, with no Terraform
//! vocabulary. Values here are validated; [`config`] is the only way to build one from a file.
//!
//! The names other parts of the project rely on (the ECR repository, the deploy document, the
//! ETL log group, the agent's SSM parameter, the host tag) are methods on [`Platform`], so each
//! is spelled in exactly one place.

pub mod config;
pub mod etl;
pub mod events;
pub mod monitoring;
pub mod names;

use crate::model::etl::Etl;
use crate::model::monitoring::{HostLog, Monitoring};
use crate::model::names::{Cidr, Name};

/// The whole data platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    /// Prefix of every resource name; the data bucket is `<name>-hadrian-ml-data-bucket`.
    pub name: Name,
    /// Environment label, e.g. `dev` or `prod`, used in tags.
    pub environment: String,
    /// Team or person that owns the platform, used in tags.
    pub owner: String,
    /// AWS region the platform is deployed to by default.
    pub region: String,
    /// VPC layout and ingress sources.
    pub network: Network,
    /// The data bucket and its access-log bucket.
    pub storage: DataBucket,
    /// The EC2 host that runs the ETL.
    pub compute: EtlHost,
    /// The PostgreSQL database.
    pub database: Database,
    /// What the ETL host runs and how often.
    pub etl: Etl,
    /// Log retention, alarm recipients and thresholds.
    pub monitoring: Monitoring,
    /// The identity GitHub Actions uses to plan, apply and deploy.
    pub delivery: Delivery,
}

/// The tag key that marks the ETL host; its value is the platform name. The deploy role may run
/// the deploy document only on instances carrying it.
pub const ETL_HOST_TAG_KEY: &str = "hadrian:etl-host";

/// The prefix every bucket of the platform named `name` starts with. The apply role and the
/// boundary name the platform's buckets exactly, yet a bucket the platform must not manage (the
/// Terraform state) still may not start with it, so it can never be mistaken for (or become) one
/// of the platform's.
pub fn bucket_prefix(name: &Name) -> String {
    format!("{name}-hadrian-ml-")
}

impl Platform {
    /// The prefix of the platform's buckets, see [`bucket_prefix`].
    pub fn bucket_prefix(&self) -> String {
        bucket_prefix(&self.name)
    }

    /// The data bucket's name.
    pub fn data_bucket_name(&self) -> String {
        format!("{}data-bucket", self.bucket_prefix())
    }

    /// The Terraform state bucket the bootstrap module creates: `delivery.state_bucket`, or
    /// `<name>-tfstate` when no GitHub repository is configured.
    pub fn state_bucket_name(&self) -> String {
        self.delivery.github.as_ref().map_or_else(
            || format!("{}-tfstate", self.name),
            |github| github.state_bucket.clone(),
        )
    }

    /// The permissions boundary every role of the platform carries (created by the bootstrap
    /// module; the apply role may create roles only with it).
    pub fn permissions_boundary_name(&self) -> String {
        format!("{}-permissions-boundary", self.name)
    }

    /// The access-log bucket's name.
    pub fn log_bucket_name(&self) -> String {
        format!("{}access-logs", self.bucket_prefix())
    }

    /// The SSM parameter holding the CloudWatch agent configuration. The `AmazonCloudWatch-`
    /// prefix is the one the agent's documentation and managed policies expect; the host starts
    /// the agent with `amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -c ssm:<this> -s`.
    pub fn cloudwatch_agent_parameter_name(&self) -> String {
        format!("AmazonCloudWatch-{}-etl-host", self.name)
    }

    /// The workers' agent configuration (the host's plus the Auto Scaling group dimension).
    pub fn cloudwatch_agent_worker_parameter_name(&self) -> String {
        format!("AmazonCloudWatch-{}-etl-worker", self.name)
    }

    /// The ETL container's log group (Docker's `awslogs` driver, `ETL_LOG_GROUP` on the host);
    /// the EMF records and the ERROR-line metric filter live here too.
    pub fn etl_log_group_name(&self) -> String {
        format!("/hadrian/{}/etl", self.name)
    }

    /// The log group the agent ships one host log file into.
    pub fn host_log_group_name(&self, log: HostLog) -> String {
        format!("/hadrian/{}/host/{}", self.name, log.slug())
    }

    /// The VPC flow log group.
    pub fn flow_log_group_name(&self) -> String {
        format!("/hadrian-ml/{}/vpc-flow-logs", self.name)
    }

    /// The RDS instance identifier; RDS exports its logs to `/aws/rds/instance/<this>/<log>`.
    pub fn database_identifier(&self) -> String {
        format!("{}-postgres", self.name)
    }

    /// Name patterns (`*` = any text) covering every log group the platform creates: the
    /// platform key lets CloudWatch Logs use it for these groups only.
    pub fn log_group_patterns(&self) -> [String; 3] {
        [
            format!("/hadrian/{}/*", self.name),
            self.flow_log_group_name(),
            format!("/aws/rds/instance/{}/*", self.database_identifier()),
        ]
    }

    /// Prefix of every alarm name, e.g. `demo-etl-host-cpu-high`.
    pub fn alarm_name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.name)
    }

    /// The ECR repository of the ETL image, `<name>-etl`.
    pub fn etl_repository_name(&self) -> String {
        format!("{}-etl", self.name)
    }

    /// The SSM document that switches the host to an image digest, `<name>-etl-deploy`.
    pub fn etl_deploy_document_name(&self) -> String {
        format!("{}-etl-deploy", self.name)
    }

    /// The SSM parameter (String) holding the image digest last deployed successfully. The deploy
    /// workflow writes it after the deploy document succeeded; a new host's first boot deploys it.
    /// Not managed by Terraform, so an apply never resets it.
    pub fn etl_image_parameter_name(&self) -> String {
        format!("/hadrian/{}/etl/image-digest", self.name)
    }

    /// The value of the [`ETL_HOST_TAG_KEY`] tag on the ETL host.
    pub fn etl_host_tag_value(&self) -> String {
        self.name.to_string()
    }

    /// The SQS queue of the data bucket's object-created events.
    pub fn etl_queue_name(&self) -> String {
        format!("{}-etl-events", self.name)
    }

    /// The dead-letter queue messages move to after `etl.queue_max_receive_count` receives.
    pub fn etl_dead_letter_queue_name(&self) -> String {
        format!("{}-etl-events-dlq", self.name)
    }

    /// The Auto Scaling group of queue workers.
    pub fn etl_workers_group_name(&self) -> String {
        format!("{}-etl-workers", self.name)
    }

    /// The IAM role name a GitHub workflow assumes for `purpose` (`plan`, `apply`, `deploy`).
    pub fn github_role_name(&self, purpose: &str) -> String {
        format!("{}-github-{purpose}", self.name)
    }
}

/// A VPC across two availability zones with a public and a private tier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Network {
    /// VPC range.
    pub vpc_cidr: Cidr,
    /// One public subnet per AZ (the ETL host's tier).
    pub public_subnet_cidrs: [Cidr; 2],
    /// One private subnet per AZ (the database's tier).
    pub private_subnet_cidrs: [Cidr; 2],
    /// Sources allowed to reach the host on SSH; empty means SSM Session Manager only.
    pub admin_cidrs: Vec<Cidr>,
    /// Sources allowed to reach the host on HTTP.
    pub http_cidrs: Vec<Cidr>,
}

/// The data bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataBucket {
    /// Days before a noncurrent object version is deleted.
    pub noncurrent_version_expiration_days: u32,
    /// Days before an access-log object is deleted.
    pub access_log_expiration_days: u32,
    /// Whether `terraform destroy` may delete non-empty buckets.
    pub force_destroy: bool,
}

/// The EC2 host that runs the ETL in Docker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EtlHost {
    /// EC2 instance type (x86-64, to match the amd64 AMI).
    pub instance_type: String,
    /// Root volume size in GiB.
    pub root_volume_gb: u32,
    /// Name of the SSM parameter that holds the Ubuntu 24.04 LTS AMI id.
    pub ami_ssm_parameter: String,
}

/// RDS PostgreSQL 16 in the private tier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Database {
    /// RDS instance class.
    pub instance_class: String,
    /// Initial storage in GiB.
    pub allocated_storage_gb: u32,
    /// Storage autoscaling ceiling in GiB.
    pub max_allocated_storage_gb: u32,
    /// Standby in the second AZ.
    pub multi_az: bool,
    /// Days of automated backups.
    pub backup_retention_days: u32,
    /// Refuse deletion; when on, deletion also takes a final snapshot.
    pub deletion_protection: bool,
    /// Initial database name.
    pub db_name: String,
    /// Master user name (the password is managed by RDS in Secrets Manager).
    pub master_username: String,
}

/// The identity GitHub Actions uses (OIDC roles) to plan, apply and deploy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The GitHub repository and Terraform state the CI/CD roles are for; `None` generates no
    /// GitHub identity at all (nothing is trusted by default).
    pub github: Option<GithubDelivery>,
}

/// The GitHub side of the CI/CD identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GithubDelivery {
    /// `owner/name` of the repository whose workflows may assume the roles.
    pub repository: String,
    /// Create the account's GitHub OIDC provider; `false` uses the one that already exists
    /// (there can be only one per account).
    pub create_oidc_provider: bool,
    /// The Terraform state bucket (created by hand before the first apply).
    pub state_bucket: String,
    /// The state object key inside the bucket.
    pub state_key: String,
}
