//! `[monitoring]`: log retention (a year at least in `prod`), the alarm address and the alarm
//! thresholds, read and checked.

use serde::Deserialize;

use crate::model::Database;
use crate::model::config::validator::{Validator, is_production};
use crate::model::monitoring::{Monitoring, Thresholds};

/// The shortest retention a production platform may keep its logs: a year, so an incident, an
/// audit or a slow exfiltration can be traced back across a full cycle (checkov's CKV_AWS_338
/// holds every configuration to it; only non-production platforms may keep less to save cost).
const PRODUCTION_MIN_LOG_RETENTION_DAYS: u32 = 365;

/// Retention values CloudWatch Logs accepts.
pub(super) const LOG_RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawMonitoring {
    log_retention_days: u32,
    alarm_email: String,
    host_cpu_percent: u32,
    host_memory_percent: u32,
    host_disk_percent: u32,
    db_cpu_percent: u32,
    db_free_storage_gb: u32,
    db_connections: u32,
    etl_rows_rejected: u32,
    queue_oldest_message_minutes: u32,
}

impl Default for RawMonitoring {
    fn default() -> Self {
        Self {
            log_retention_days: 365,
            alarm_email: String::new(),
            host_cpu_percent: 80,
            host_memory_percent: 85,
            host_disk_percent: 85,
            db_cpu_percent: 80,
            db_free_storage_gb: 5,
            db_connections: 50,
            etl_rows_rejected: 100,
            queue_oldest_message_minutes: 30,
        }
    }
}

impl Validator<'_> {
    pub(super) fn monitoring(
        &mut self,
        raw: RawMonitoring,
        database: &Database,
        environment: &str,
    ) -> Monitoring {
        self.check(
            LOG_RETENTION_DAYS.contains(&raw.log_retention_days),
            "monitoring.log_retention_days",
            "must be a CloudWatch retention value (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, ...)",
        );
        if is_production(environment) && raw.log_retention_days < PRODUCTION_MIN_LOG_RETENTION_DAYS
        {
            self.fail(
                "monitoring.log_retention_days",
                format!(
                    "must be at least {PRODUCTION_MIN_LOG_RETENTION_DAYS} when environment = \"prod\": \
                     production logs are kept a year"
                ),
            );
        }
        self.check(
            raw.alarm_email.is_empty() || is_email(&raw.alarm_email),
            "monitoring.alarm_email",
            "must be an e-mail address (or empty for no subscription)",
        );
        for (field, value) in [
            ("monitoring.host_cpu_percent", raw.host_cpu_percent),
            ("monitoring.host_memory_percent", raw.host_memory_percent),
            ("monitoring.host_disk_percent", raw.host_disk_percent),
            ("monitoring.db_cpu_percent", raw.db_cpu_percent),
        ] {
            self.check(
                (1..=99).contains(&value),
                field,
                "must be a percentage, 1-99",
            );
        }
        self.check(
            raw.db_free_storage_gb >= 1 && raw.db_free_storage_gb < database.allocated_storage_gb,
            "monitoring.db_free_storage_gb",
            "must be at least 1 and below database.allocated_storage_gb",
        );
        self.check(
            raw.db_connections >= 1,
            "monitoring.db_connections",
            "must be at least 1",
        );
        self.check(
            (1..=20_160).contains(&raw.queue_oldest_message_minutes),
            "monitoring.queue_oldest_message_minutes",
            "must be 1-20160 (14 days, the longest a message can wait)",
        );
        Monitoring {
            log_retention_days: raw.log_retention_days,
            alarm_email: (!raw.alarm_email.is_empty()).then_some(raw.alarm_email),
            thresholds: Thresholds {
                host_cpu_percent: raw.host_cpu_percent,
                host_memory_percent: raw.host_memory_percent,
                host_disk_percent: raw.host_disk_percent,
                db_cpu_percent: raw.db_cpu_percent,
                db_free_storage_gb: raw.db_free_storage_gb,
                db_connections: raw.db_connections,
                etl_rows_rejected: raw.etl_rows_rejected,
                queue_oldest_message_minutes: raw.queue_oldest_message_minutes,
            },
        }
    }
}

/// One `@`, a non-empty local part, a dotted domain, no whitespace: enough to catch typos; SNS
/// confirms the address itself.
fn is_email(text: &str) -> bool {
    text.len() <= 254
        && !text.contains(char::is_whitespace)
        && text.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.split('.').count() >= 2
                && domain.split('.').all(|label| !label.is_empty())
        })
}
