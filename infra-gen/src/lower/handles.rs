//! The handles areas pass each other: what one area creates and a later one refers to. They
//! live below every area (which only fill them in or read them), so no area file needs
//! another; `lower/mod.rs` hands each one on in order.

use std::collections::BTreeMap;

use crate::tf::compute::{AwsAutoscalingGroup, AwsEip, AwsInstance};
use crate::tf::database::AwsDbInstance;
use crate::tf::ecr::AwsEcrRepository;
use crate::tf::iam::{AwsIamInstanceProfile, AwsIamRole};
use crate::tf::logs::AwsCloudwatchLogGroup;
use crate::tf::monitoring::{AwsCloudwatchDashboard, AwsCloudwatchMetricAlarm, AwsSsmParameter};
use crate::tf::network::{AwsSecurityGroup, AwsSubnet, AwsVpc};
use crate::tf::sqs::AwsSqsQueue;
use crate::tf::ssm::AwsSsmDocument;
use crate::tf::storage::{AwsKmsKey, AwsS3Bucket};
use crate::tf::{Document, Handle, TfResource, TfString, VarRef};

/// The bootstrap module's customer-managed keys, which the apply role may use by exact ARN.
pub(crate) struct Keys {
    pub(crate) platform: Handle<AwsKmsKey>,
    pub(crate) alarms: Handle<AwsKmsKey>,
}

/// Handles the other areas place resources into.
pub(crate) struct Net {
    pub(crate) vpc: Handle<AwsVpc>,
    pub(crate) public: [Handle<AwsSubnet>; 2],
    pub(crate) private: [Handle<AwsSubnet>; 2],
}

/// The groups.
pub(crate) struct Groups {
    pub(crate) etl: Handle<AwsSecurityGroup>,
    pub(crate) database: Handle<AwsSecurityGroup>,
    /// The workers' group, when `[etl] workers` is configured.
    pub(crate) workers: Option<Handle<AwsSecurityGroup>>,
}

/// Handles to the two buckets.
pub(crate) struct Buckets {
    pub(crate) data: Handle<AwsS3Bucket>,
}

/// Handle to the instance.
pub(crate) struct Db {
    pub(crate) instance: Handle<AwsDbInstance>,
}

impl Db {
    /// ARN of the master-user secret RDS manages.
    pub(crate) fn secret_arn(&self) -> TfString {
        self.instance.attr("master_user_secret[0].secret_arn")
    }
}

/// The log groups and the agent parameter, which the host role and the alarms refer to.
pub(crate) struct Telemetry {
    /// The ETL containers' log group; the host's env file names it for the awslogs driver.
    pub(crate) etl_logs: Handle<AwsCloudwatchLogGroup>,
    /// The host logs the agent ships, one group each.
    pub(crate) host_logs: Vec<Handle<AwsCloudwatchLogGroup>>,
    /// The agent configuration; the host's setup script loads it by name.
    pub(crate) agent_parameter: Handle<AwsSsmParameter>,
    /// The workers' agent configuration (with `[etl] workers`): the host's, plus the group's
    /// name as a dimension, so the fleet alarms can watch every instance the group starts.
    pub(crate) worker_agent_parameter: Option<Handle<AwsSsmParameter>>,
}

/// Handles the host and the outputs read.
pub(crate) struct Runtime {
    pub(crate) repository: Handle<AwsEcrRepository>,
    pub(crate) document: Handle<AwsSsmDocument>,
}

/// The roles the workflows assume.
pub(crate) struct GithubRoles {
    pub(crate) plan: Handle<AwsIamRole>,
    pub(crate) apply: Handle<AwsIamRole>,
    pub(crate) deploy: Handle<AwsIamRole>,
}

/// Handles the outputs and alarms read.
pub(crate) struct Host {
    pub(crate) instance: Handle<AwsInstance>,
    pub(crate) eip: Handle<AwsEip>,
    /// The worker group, when `[etl] workers` is configured.
    pub(crate) fleet: Option<Handle<AwsAutoscalingGroup>>,
}

/// Handles to the input variables other areas read.
pub(crate) struct Vars {
    pub(crate) admin_cidrs: VarRef,
    pub(crate) http_cidrs: VarRef,
    pub(crate) ami_parameter: VarRef,
}

/// The queue and its dead-letter queue, for the host role, the workers and the alarms.
pub(crate) struct Events {
    pub(crate) queue: Handle<AwsSqsQueue>,
    pub(crate) dead_letter: Handle<AwsSqsQueue>,
}

/// The role the host and the workers run as, and its instance profile.
pub(crate) struct EtlIdentity {
    pub(crate) role: Handle<AwsIamRole>,
    pub(crate) profile: Handle<AwsIamInstanceProfile>,
}

/// The argument that holds each named resource type's name, for [`PlatformNames`]; `name` for
/// the types not listed.
const NAME_ARGUMENTS: [(&str, &str); 4] = [
    (AwsDbInstance::TYPE, "identifier"),
    (AwsCloudwatchMetricAlarm::TYPE, "alarm_name"),
    (AwsCloudwatchDashboard::TYPE, "dashboard_name"),
    (AwsS3Bucket::TYPE, "bucket"),
];

/// What the platform module declares, by Terraform type, with the literal names it gives them:
/// the bootstrap module's policies (the apply role's grants, the permissions boundary) name
/// exactly these, never a `<name>-*` prefix that another platform's names could share.
/// `lower/mod.rs` reads them from the platform document it lowers beside the bootstrap.
#[derive(Debug, Default)]
pub(crate) struct PlatformNames {
    by_type: BTreeMap<String, Vec<String>>,
    /// The database instance's final snapshot, when the configuration keeps one.
    final_snapshots: Vec<String>,
}

impl PlatformNames {
    /// The literal names of every resource `doc` declares (interpolated names are not names the
    /// platform chose, so they are left out).
    pub(crate) fn of(doc: &Document) -> Self {
        let mut names = Self::default();
        for resource in doc.resources() {
            let argument = NAME_ARGUMENTS
                .iter()
                .find(|(type_, _)| *type_ == resource.type_)
                .map_or("name", |(_, argument)| argument);
            let literal = |argument: &str| {
                resource.body[argument]
                    .as_str()
                    .filter(|name| !name.contains("${"))
                    .map(str::to_owned)
            };
            if let Some(name) = literal(argument) {
                names
                    .by_type
                    .entry(resource.type_.to_owned())
                    .or_default()
                    .push(name);
            }
            if resource.type_ == AwsDbInstance::TYPE {
                names
                    .final_snapshots
                    .extend(literal("final_snapshot_identifier"));
            }
        }
        names
    }

    /// The names of the platform's resources of type `T`, sorted.
    pub(crate) fn of_type<T: TfResource>(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .by_type
            .get(T::TYPE)
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        names
    }

    /// The database's final snapshot identifiers (none when it is deleted without one).
    pub(crate) fn final_snapshots(&self) -> &[String] {
        &self.final_snapshots
    }
}
