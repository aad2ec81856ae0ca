//! What the platform watches: log retention, where alarms go, their thresholds, and the names
//! other parts of the system publish under (the ETL's Embedded Metric Format records, the
//! CloudWatch agent's host metrics). Alarms are only useful when their namespace, metric name
//! and dimensions match what is really published, so those names live here once and the
//! consistency tests compare them with `etl/src/metrics.rs` and the generated agent config.

/// Namespace, dimension and metric names of the ETL's Embedded Metric Format records. A checked
/// copy of the constants in `etl/src/metrics.rs`; a test parses that file and fails on drift.
pub mod emf {
    /// Metric namespace.
    pub const NAMESPACE: &str = "HadrianML/ETL";
    /// The one dimension of every record; its value is the dataset name.
    pub const DIMENSION_DATASET: &str = "Dataset";
    /// Rows copied into PostgreSQL, per object.
    pub const ROWS_LOADED: &str = "RowsLoaded";
    /// Rows the transform rejected, per object.
    pub const ROWS_REJECTED: &str = "RowsRejected";
    /// 1 per object loaded.
    pub const OBJECTS_LOADED: &str = "ObjectsLoaded";
    /// 1 per object that failed to load.
    pub const OBJECTS_FAILED: &str = "ObjectsFailed";
    /// Seconds per object and per run.
    pub const DURATION_SECONDS: &str = "DurationSeconds";
    /// 1 at the end of a run in which no object failed; absent otherwise.
    pub const RUN_SUCCEEDED: &str = "RunSucceeded";
    /// Messages one receive from the event queue brought (`etl process --queue`).
    pub const MESSAGES_RECEIVED: &str = "MessagesReceived";
    /// 1 per object loaded on the event path.
    pub const EVENT_OBJECTS_LOADED: &str = "EventObjectsLoaded";
    /// Seconds from an S3 event's `eventTime` to the commit of the load it caused.
    pub const EVENT_TO_COMMIT_SECONDS: &str = "EventToCommitSeconds";
    /// Times an object's download resumed after its body broke mid-stream, per object.
    pub const DOWNLOAD_RESUMES: &str = "DownloadResumes";
}

/// Names of the host metrics the CloudWatch agent publishes.
pub mod agent {
    /// The agent's default namespace, stated explicitly in the generated configuration.
    pub const NAMESPACE: &str = "CWAgent";
    /// The one dimension every host metric carries (after the root disk is rolled up to it).
    pub const DIMENSION_INSTANCE: &str = "InstanceId";
    /// The dimension the workers' agent adds, and the one the fleet alarms and dashboard use.
    pub const DIMENSION_GROUP: &str = "AutoScalingGroupName";
    /// Memory used, percent.
    pub const MEM_USED_PERCENT: &str = "mem_used_percent";
    /// Root filesystem used, percent.
    pub const DISK_USED_PERCENT: &str = "disk_used_percent";
    /// Swap used, percent.
    pub const SWAP_USED_PERCENT: &str = "swap_used_percent";
}

/// The metric the ERROR-line metric filter on the ETL log group publishes (no dimensions).
pub const ETL_ERROR_LINES_METRIC: &str = "ErrorLogLines";

/// A host log file the agent ships, each into its own log group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostLog {
    /// cloud-init's output: package installs, the runtime setup, `cloud-init status` failures.
    CloudInitOutput,
    /// The system log (journald forwarded by rsyslog): systemd, Docker daemon, the agent.
    Syslog,
    /// The ETL runtime's own files on the host: `hadrian-etl.service` output and deploy runs.
    EtlRuntime,
}

impl HostLog {
    /// Every host log, in a fixed order.
    pub const ALL: [HostLog; 3] = [Self::CloudInitOutput, Self::Syslog, Self::EtlRuntime];

    /// The file (or glob) the agent tails.
    pub fn file_path(self) -> &'static str {
        match self {
            Self::CloudInitOutput => "/var/log/cloud-init-output.log",
            Self::Syslog => "/var/log/syslog",
            Self::EtlRuntime => "/var/log/hadrian/*.log",
        }
    }

    /// Short name used in the log group name and resource names.
    pub fn slug(self) -> &'static str {
        match self {
            Self::CloudInitOutput => "cloud-init-output",
            Self::Syslog => "syslog",
            Self::EtlRuntime => "etl-runtime",
        }
    }
}

/// Alarm thresholds; each alarm's README entry says what to do when it fires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thresholds {
    /// ETL host CPU, percent (5-minute average, 3 periods in a row).
    pub host_cpu_percent: u32,
    /// ETL host memory used, percent.
    pub host_memory_percent: u32,
    /// ETL host root filesystem used, percent.
    pub host_disk_percent: u32,
    /// Database CPU, percent.
    pub db_cpu_percent: u32,
    /// Database free storage below this many GiB.
    pub db_free_storage_gb: u32,
    /// Database connections above this many.
    pub db_connections: u32,
    /// Rows rejected by the transform within one schedule interval above this many.
    pub etl_rows_rejected: u32,
    /// The event queue's oldest message older than this many minutes: consumers are not keeping up.
    pub queue_oldest_message_minutes: u32,
}

/// Logging and alarm settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Monitoring {
    /// Days CloudWatch keeps log events, for every log group.
    pub log_retention_days: u32,
    /// Who gets alarm e-mails; `None` creates the topic without a subscription.
    pub alarm_email: Option<String>,
    /// Alarm thresholds.
    pub thresholds: Thresholds,
}
