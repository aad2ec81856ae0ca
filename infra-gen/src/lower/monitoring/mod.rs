//! Monitoring and logging: the log groups every writer needs (created here, never by a writer),
//! the CloudWatch agent configuration in SSM, the ERROR-line metric filter, the ETL host's
//! permission to write exactly those, and alarms on an encrypted SNS topic plus a dashboard (the
//! topic's key is lowered into the bootstrap module).
//!
//! Every alarm is built from the same names the publishers use ([`emf`], [`agent_names`], the
//! agent configuration built here), and the integration tests check the emitted alarms against
//! what the agent configuration and `etl/src/metrics.rs` really publish.
//!
//! One area in three files (this one only declares and re-exports): `logs.rs` (log groups, metric filter, agent parameter, the host's
//! grants for them; lowered before compute, which reads the parameter), `alarms.rs` (the topic
//! and the alarms) and `dashboard.rs`, both lowered after compute, which they watch.
//!
//! [`emf`]: crate::model::monitoring::emf
//! [`agent_names`]: crate::model::monitoring::agent

mod alarms;
mod dashboard;
mod logs;

pub(crate) use alarms::{lower_alarms, lower_alarms_key};
pub(crate) use logs::{host_metrics_statement, host_statements, lower_logs};
