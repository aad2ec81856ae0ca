//! The event path and the worker fleet, in business terms: which keys of the data bucket raise
//! events, how the queue that carries them behaves, how many ETL processes may run at once, and
//! whether the database can hold their connections.
//!
//! The connection bound is checked here, before anything is generated, because the failure it
//! prevents (workers refused by PostgreSQL with "too many clients") only shows under load.

/// One invalid field: its dotted path and what is wrong; the config reader adds file and line.
pub type Problem = (&'static str, String);

/// The SQS queue of the data bucket's `s3:ObjectCreated:*` notifications and its dead-letter queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventQueue {
    /// Key prefixes whose new objects raise an event; S3 refuses overlapping prefixes.
    pub prefixes: Vec<String>,
    /// The key suffix the dataset's objects end with (`[etl] suffix`, e.g. `.json.gz`): only such
    /// keys raise an event. `None` lets every key under the prefixes raise one.
    pub suffix: Option<String>,
    /// Seconds a received message stays invisible; `etl` extends it while a load runs, so this
    /// only bounds how long a crashed consumer's message waits before another one retries it.
    pub visibility_timeout_seconds: u32,
    /// Receives before a message moves to the dead-letter queue.
    pub max_receive_count: u32,
    /// Days the queue keeps a message nobody deleted.
    pub retention_days: u32,
}

impl EventQueue {
    /// Days the dead-letter queue keeps a message: SQS's maximum, time to read and replay it.
    pub const DEAD_LETTER_RETENTION_DAYS: u32 = 14;
    /// Long polling: a receive waits up to this many seconds for a message (SQS's maximum).
    pub const RECEIVE_WAIT_SECONDS: u32 = 20;

    /// Every value SQS or S3 would refuse, as `etl.*` field problems.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let field = "etl.event_prefixes";
        if self.prefixes.is_empty() {
            problems.push((
                field,
                "must list at least one key prefix (\"\" for the whole bucket)".into(),
            ));
        }
        if self.prefixes.iter().any(|prefix| {
            prefix.len() > 1024
                || prefix.starts_with('/')
                || prefix.contains(|c: char| c.is_control() || c == '*')
        }) {
            problems.push((
                field,
                "each must be an S3 key prefix without a leading /, * or control characters".into(),
            ));
        }
        if self.suffix.as_ref().is_some_and(|suffix| {
            suffix.is_empty()
                || suffix.len() > 1024
                || suffix.contains(|c: char| c.is_control() || c == '*')
        }) {
            problems.push((
                "etl.suffix",
                "must be a non-empty S3 key suffix without * or control characters, e.g. \".json.gz\"".into(),
            ));
        }
        for (i, a) in self.prefixes.iter().enumerate() {
            for b in &self.prefixes[i + 1..] {
                if a.starts_with(b.as_str()) || b.starts_with(a.as_str()) {
                    problems.push((
                        field,
                        format!(
                            "{a:?} and {b:?} overlap; S3 refuses overlapping notification prefixes"
                        ),
                    ));
                }
            }
        }
        let ranges = [
            (
                "etl.queue_visibility_timeout_seconds",
                self.visibility_timeout_seconds,
                30..=43_200,
                "must be 30-43200 (SQS allows at most 12 hours)",
            ),
            (
                "etl.queue_max_receive_count",
                self.max_receive_count,
                1..=1000,
                "must be 1-1000",
            ),
            (
                "etl.queue_retention_days",
                self.retention_days,
                1..=Self::DEAD_LETTER_RETENTION_DAYS,
                "must be 1-14 (SQS keeps messages at most 14 days)",
            ),
        ];
        for (field, value, range, message) in ranges {
            if !range.contains(&value) {
                problems.push((field, message.into()));
            }
        }
        problems
    }
}

/// The EC2 Auto Scaling group of queue workers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workers {
    /// Instances when the queue is empty.
    pub min: u32,
    /// Instances at most; bounded by the database's connection limit.
    pub max: u32,
    /// Visible messages per in-service instance that target tracking keeps the group at.
    pub backlog_per_instance: u32,
}

impl Workers {
    /// The group's bounds, and the connection budget: every process (the host's sweep and its
    /// queue service, each worker's queue service) holds up to `jobs` connections, and together
    /// they must fit `instance_class`'s limit.
    pub fn problems(&self, jobs: u32, instance_class: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        if !(1..=100).contains(&self.max) {
            problems.push(("etl.workers.max", "must be 1-100".into()));
        }
        if self.min > self.max {
            problems.push(("etl.workers.min", "must be at most etl.workers.max".into()));
        }
        if !(1..=100_000).contains(&self.backlog_per_instance) {
            problems.push((
                "etl.workers.backlog_per_instance",
                "must be 1-100000".into(),
            ));
        }
        let Some(limit) = max_connections(instance_class) else {
            problems.push((
                "etl.workers",
                format!(
                    "cannot bound the connections of database.instance_class {instance_class:?}; use a db.t3/t4g/m5-m8/r5-r8 class or run without workers"
                ),
            ));
            return problems;
        };
        let needed = u64::from(self.max) * u64::from(jobs) + 2 * u64::from(jobs);
        let budget = limit.saturating_sub(RESERVED_CONNECTIONS);
        if needed > u64::from(budget) {
            problems.push((
                "etl.workers.max",
                format!(
                    "etl.workers.max {} x etl.jobs {jobs} + the host's 2 x {jobs} = {needed} connections exceed the {budget} that database.instance_class {instance_class} allows ({limit} max_connections - {RESERVED_CONNECTIONS} reserved); lower etl.workers.max or etl.jobs, or raise database.instance_class",
                    self.max
                ),
            ));
        }
        problems
    }
}

/// Connections kept free for people and tools: the RDS superuser reservation (3), a `psql`
/// session, `etl migrate` during a deploy, and the sweep's claim queries.
pub const RESERVED_CONNECTIONS: u32 = 10;

/// RDS PostgreSQL's default `max_connections`, `LEAST(DBInstanceClassMemory / 9531392, 5000)`,
/// for a known instance class; `None` when the class's memory is not known here.
///
/// `DBInstanceClassMemory` is the class's memory minus what RDS reserves for the OS and its
/// agents; RDS does not publish it per class. The bound below takes 75% of the nominal memory
/// (AWS's published EC2 memory per size, GiB), which is at or below every measured value we know
/// (db.t3.micro reports 81-87 against 84 here), so the check errs towards refusing.
pub fn max_connections(instance_class: &str) -> Option<u32> {
    let (family, size) = instance_class.strip_prefix("db.")?.split_once('.')?;
    let kind = family.chars().next()?;
    let gib: u64 = match (kind, size) {
        ('t', "micro") => 1,
        ('t', "small") => 2,
        ('t', "medium") => 4,
        ('t', "large") => 8,
        ('t', "xlarge") => 16,
        ('t', "2xlarge") => 32,
        ('m' | 'r', _) => {
            let vcpus: u64 = match size {
                "large" => 2,
                "xlarge" => 4,
                _ => 4 * size.strip_suffix("xlarge")?.parse::<u64>().ok()?,
            };
            let per_vcpu = if kind == 'm' { 4 } else { 8 };
            vcpus * per_vcpu
        }
        _ => return None,
    };
    // Only generations whose memory per vCPU is the classic 4 (m) or 8 (r) GiB.
    let generation = family[1..].chars().next()?;
    if !matches!(generation, '3'..='8') {
        return None;
    }
    let usable = gib * 1024 * 1024 * 1024 * 3 / 4;
    u32::try_from((usable / 9_531_392).min(5000)).ok()
}

#[cfg(test)]
mod tests {
    use crate::model::events::max_connections;

    #[test]
    fn connection_limits_follow_the_rds_formula_conservatively() {
        assert_eq!(max_connections("db.t4g.micro"), Some(84));
        assert_eq!(max_connections("db.t3.small"), Some(168));
        assert_eq!(max_connections("db.m6i.large"), Some(675));
        assert_eq!(max_connections("db.r6g.large"), Some(1351));
        assert_eq!(max_connections("db.r6g.16xlarge"), Some(5000));
        assert_eq!(max_connections("db.x2g.large"), None);
        assert_eq!(max_connections("db.m6i.metal"), None);
        assert_eq!(max_connections("db.m1.large"), None);
    }
}
