//! Alarms: the encrypted SNS topic they notify (its key is the bootstrap module's), and one
//! CloudWatch metric alarm per intent.

use super::dashboard::dashboard;
use crate::lower::ctx::{ALARMS_KEY, Ctx, MONITORING};
use crate::lower::encrypted::{customer_key, existing_key};
use crate::lower::handles::{Db, Events, Host, PlatformNames, Telemetry};
use crate::model::monitoring::agent::DIMENSION_GROUP;
use crate::model::monitoring::{ETL_ERROR_LINES_METRIC, agent as agent_names, emf};
use crate::tf::data::{AwsIamPolicyDocument, Condition, Principals, Statement};
use crate::tf::monitoring::{
    AwsCloudwatchDashboard, AwsCloudwatchMetricAlarm, AwsSnsTopic, AwsSnsTopicPolicy,
    AwsSnsTopicSubscription,
};
use crate::tf::sqs::AwsSqsQueue;
use crate::tf::storage::AwsKmsKey;
use crate::tf::{Document, Handle, TfError, TfString};

/// Conditions limiting a service principal to this platform's alarms, `names`, by exact ARN
/// (`alarm:<name>-*` would also admit a platform named `<name>-x`).
fn own_alarms(ctx: &Ctx<'_>, names: &[&str]) -> Vec<Condition> {
    vec![
        Condition {
            test: "StringEquals",
            variable: "aws:SourceAccount",
            values: vec![ctx.account.attr("account_id")],
        },
        Condition {
            test: "ArnEquals",
            variable: "aws:SourceArn",
            values: names
                .iter()
                .map(|name| ctx.arn("cloudwatch", &format!("alarm:{name}")))
                .collect(),
        },
    ]
}

fn cloudwatch_principal() -> Vec<Principals> {
    vec![Principals {
        type_: "Service",
        identifiers: vec![TfString::lit("cloudwatch.amazonaws.com")],
    }]
}

/// The topic's own key (bootstrap module): only this platform's alarms may use it to publish.
pub(crate) fn lower_alarms_key(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    names: &PlatformNames,
) -> Result<Handle<AwsKmsKey>, TfError> {
    customer_key(
        doc,
        ctx,
        ALARMS_KEY,
        "alarms_key",
        "alarm notifications",
        vec![Statement {
            sid: "CloudWatchAlarmsPublish",
            effect: "Allow",
            actions: vec!["kms:Decrypt", "kms:GenerateDataKey*"],
            resources: vec![TfString::lit("*")],
            principals: cloudwatch_principal(),
            condition: own_alarms(ctx, &names.of_type::<AwsCloudwatchMetricAlarm>()),
        }],
    )
}

/// The encrypted topic, its policy and the optional e-mail subscription.
fn topic(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    alarms: &[&str],
) -> Result<Handle<AwsSnsTopic>, TfError> {
    let key = existing_key(doc, ctx, MONITORING, ALARMS_KEY)?;
    let topic = doc.resource(
        MONITORING,
        "alarms",
        &AwsSnsTopic {
            name: ctx.named("alarms"),
            kms_master_key_id: key.arn(),
            tags: ctx.tags("alarms"),
        },
    )?;
    let policy = doc.data(
        MONITORING,
        "alarms_topic",
        &AwsIamPolicyDocument {
            statement: vec![
                Statement {
                    sid: "CloudWatchAlarmsPublish",
                    effect: "Allow",
                    actions: vec!["sns:Publish"],
                    resources: vec![topic.arn()],
                    principals: cloudwatch_principal(),
                    condition: own_alarms(ctx, alarms),
                },
                Statement::deny_without_tls(vec!["sns:Publish"], vec![topic.arn()]),
            ],
        },
    )?;
    doc.resource(
        MONITORING,
        "alarms",
        &AwsSnsTopicPolicy {
            arn: topic.arn(),
            policy: policy.attr("json"),
        },
    )?;
    if let Some(email) = &ctx.platform.monitoring.alarm_email {
        doc.resource(
            MONITORING,
            "alarms_email",
            &AwsSnsTopicSubscription {
                topic_arn: topic.arn(),
                protocol: "email",
                endpoint: TfString::lit(email),
            },
        )?;
    }
    Ok(topic)
}

/// One alarm as an intent; [`lower_alarms`] turns each into a resource.
struct AlarmSpec {
    /// Resource name and, with hyphens, the alarm name suffix.
    name: &'static str,
    /// What it means and what to do.
    description: String,
    namespace: &'static str,
    metric: &'static str,
    dimensions: Vec<(&'static str, TfString)>,
    statistic: &'static str,
    period: u32,
    evaluation_periods: u32,
    threshold: u64,
    comparison: &'static str,
    missing: &'static str,
    /// Also notify on INSUFFICIENT_DATA: the publisher (the agent) stopped.
    notify_no_data: bool,
}

const GREATER: &str = "GreaterThanThreshold";
const LESS: &str = "LessThanThreshold";

fn alarm_specs(ctx: &Ctx<'_>, host: &Host, db: &Db, events: &Events) -> Vec<AlarmSpec> {
    let t = &ctx.platform.monitoring.thresholds;
    let instance = || vec![(agent_names::DIMENSION_INSTANCE, host.instance.id().string())];
    let database = || vec![("DBInstanceIdentifier", db.instance.attr("identifier"))];
    let dataset = || {
        vec![(
            emf::DIMENSION_DATASET,
            TfString::lit(&ctx.platform.etl.dataset),
        )]
    };
    let schedule = ctx.platform.etl.schedule_seconds();
    let queue = |q: &Handle<AwsSqsQueue>| vec![("QueueName", q.attr("name"))];
    let spec = |name, description: String, namespace, metric, dimensions| AlarmSpec {
        name,
        description,
        namespace,
        metric,
        dimensions,
        statistic: "Average",
        period: 300,
        evaluation_periods: 3,
        threshold: 0,
        comparison: GREATER,
        missing: "missing",
        notify_no_data: false,
    };
    vec![
        AlarmSpec {
            threshold: t.host_cpu_percent.into(),
            ..spec(
                "etl_host_cpu_high",
                format!("ETL host CPU above {}% for 15 minutes. Check the running ETL (journalctl -u hadrian-etl) and top over SSM; resize compute.instance_type if it is normal load.", t.host_cpu_percent),
                "AWS/EC2",
                "CPUUtilization",
                instance(),
            )
        },
        AlarmSpec {
            statistic: "Maximum",
            period: 60,
            evaluation_periods: 2,
            ..spec(
                "etl_host_status_check_failed",
                "ETL host failed an EC2 status check for 2 minutes. Check the instance's system log in the console; stop and start it to move hosts if the system check fails.".into(),
                "AWS/EC2",
                "StatusCheckFailed",
                instance(),
            )
        },
        AlarmSpec {
            threshold: t.host_memory_percent.into(),
            notify_no_data: true,
            ..spec(
                "etl_host_memory_high",
                format!("ETL host memory above {}% for 15 minutes (INSUFFICIENT_DATA: the CloudWatch agent stopped). Look for a runaway container (docker stats); resize the host if ETL runs need more.", t.host_memory_percent),
                agent_names::NAMESPACE,
                agent_names::MEM_USED_PERCENT,
                instance(),
            )
        },
        AlarmSpec {
            statistic: "Maximum",
            evaluation_periods: 1,
            threshold: t.host_disk_percent.into(),
            notify_no_data: true,
            ..spec(
                "etl_host_disk_high",
                format!("ETL host root filesystem above {}% (INSUFFICIENT_DATA: the CloudWatch agent stopped). Prune old images (docker image prune -a) and logs; grow compute.root_volume_gb.", t.host_disk_percent),
                agent_names::NAMESPACE,
                agent_names::DISK_USED_PERCENT,
                instance(),
            )
        },
        AlarmSpec {
            threshold: t.db_cpu_percent.into(),
            ..spec(
                "database_cpu_high",
                format!("PostgreSQL CPU above {}% for 15 minutes. Check Performance Insights for the top SQL; resize database.instance_class if it is normal load.", t.db_cpu_percent),
                "AWS/RDS",
                "CPUUtilization",
                database(),
            )
        },
        AlarmSpec {
            statistic: "Minimum",
            evaluation_periods: 1,
            threshold: u64::from(t.db_free_storage_gb) * 1024 * 1024 * 1024,
            comparison: LESS,
            ..spec(
                "database_free_storage_low",
                format!("PostgreSQL free storage below {} GiB. Storage autoscaling stops at database.max_allocated_storage_gb: raise it, or delete data.", t.db_free_storage_gb),
                "AWS/RDS",
                "FreeStorageSpace",
                database(),
            )
        },
        AlarmSpec {
            evaluation_periods: 2,
            threshold: t.db_connections.into(),
            ..spec(
                "database_connections_high",
                format!("More than {} PostgreSQL connections for 10 minutes. Look for stuck ETL runs (pg_stat_activity) before raising the limit.", t.db_connections),
                "AWS/RDS",
                "DatabaseConnections",
                database(),
            )
        },
        AlarmSpec {
            statistic: "Sum",
            period: schedule,
            evaluation_periods: 1,
            missing: "notBreaching",
            ..spec(
                "etl_objects_failed",
                "An ETL run failed to load at least one object. Read the ETL log group for the object key and error; fix the object or the rules and re-run (the ledger skips what loaded).".into(),
                emf::NAMESPACE,
                emf::OBJECTS_FAILED,
                dataset(),
            )
        },
        AlarmSpec {
            statistic: "Sum",
            period: schedule,
            evaluation_periods: 1,
            threshold: t.etl_rows_rejected.into(),
            missing: "notBreaching",
            ..spec(
                "etl_rows_rejected_high",
                format!("More than {} rows rejected within one ETL schedule interval. Check the source files' format against the dataset spec.", t.etl_rows_rejected),
                emf::NAMESPACE,
                emf::ROWS_REJECTED,
                dataset(),
            )
        },
        AlarmSpec {
            statistic: "Sum",
            period: schedule,
            evaluation_periods: 2,
            threshold: 1,
            comparison: LESS,
            missing: "breaching",
            ..spec(
                "etl_no_successful_run",
                format!("No successful ETL run within two schedule intervals ({} minutes). Check systemctl status hadrian-etl.timer hadrian-etl.service and the ETL log group.", 2 * ctx.platform.etl.schedule_minutes),
                emf::NAMESPACE,
                emf::RUN_SUCCEEDED,
                dataset(),
            )
        },
        AlarmSpec {
            statistic: "Sum",
            evaluation_periods: 1,
            missing: "notBreaching",
            ..spec(
                "etl_error_log_lines",
                "The ETL logged ERROR lines (backup for the EMF metrics). Read them in the ETL log group.".into(),
                emf::NAMESPACE,
                ETL_ERROR_LINES_METRIC,
                Vec::new(),
            )
        },
        AlarmSpec {
            statistic: "Maximum",
            evaluation_periods: 1,
            missing: "notBreaching",
            ..spec(
                "etl_dead_letter_not_empty",
                format!("A message reached the dead-letter queue {}: an event failed {} times (a poison object, or a message that is not an S3 event). Runbook: infra-gen/README.md, 'Dead-letter queue not empty'.", ctx.platform.etl_dead_letter_queue_name(), ctx.platform.etl.queue.max_receive_count),
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                queue(&events.dead_letter),
            )
        },
        AlarmSpec {
            statistic: "Maximum",
            evaluation_periods: 2,
            threshold: u64::from(t.queue_oldest_message_minutes) * 60,
            missing: "notBreaching",
            ..spec(
                "etl_queue_oldest_message_old",
                format!("The oldest event in {} has waited more than {} minutes for 10 minutes: the consumers are down or not keeping up. Runbook: infra-gen/README.md, 'Oldest event too old'.", ctx.platform.etl_queue_name(), t.queue_oldest_message_minutes),
                "AWS/SQS",
                "ApproximateAgeOfOldestMessage",
                queue(&events.queue),
            )
        },
    ]
    .into_iter()
    .chain(host.fleet.iter().flat_map(|_| {
        let group = || vec![(DIMENSION_GROUP, TfString::lit(ctx.platform.etl_workers_group_name()))];
        [
            AlarmSpec {
                threshold: t.host_cpu_percent.into(),
                ..spec(
                    "etl_workers_cpu_high",
                    format!("ETL workers' CPU above {}% on average for 15 minutes. If the backlog is also high, raise etl.workers.max (within the database's connections) or compute.instance_type.", t.host_cpu_percent),
                    "AWS/EC2",
                    "CPUUtilization",
                    group(),
                )
            },
            AlarmSpec {
                statistic: "Maximum",
                threshold: t.host_memory_percent.into(),
                ..spec(
                    "etl_workers_memory_high",
                    format!("A worker's memory above {}% for 15 minutes (the group's maximum). Lower etl.jobs or raise compute.instance_type.", t.host_memory_percent),
                    agent_names::NAMESPACE,
                    agent_names::MEM_USED_PERCENT,
                    group(),
                )
            },
            AlarmSpec {
                statistic: "Maximum",
                evaluation_periods: 1,
                threshold: t.host_disk_percent.into(),
                ..spec(
                    "etl_workers_disk_high",
                    format!("A worker's root filesystem above {}% (the group's maximum). Old images pile up on long-lived workers: start an instance refresh, or grow compute.root_volume_gb.", t.host_disk_percent),
                    agent_names::NAMESPACE,
                    agent_names::DISK_USED_PERCENT,
                    group(),
                )
            },
        ]
    }))
    .collect()
}

/// The topic, one alarm per spec, and the dashboard.
pub(crate) fn lower_alarms(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    telemetry: &Telemetry,
    host: &Host,
    db: &Db,
    events: &Events,
) -> Result<(), TfError> {
    let specs = alarm_specs(ctx, host, db, events);
    // Each alarm's suffix (its name in the platform's names and tags) and full name.
    let named: Vec<(String, String)> = specs
        .iter()
        .map(|spec| {
            let suffix = spec.name.replace('_', "-");
            let name = ctx.platform.alarm_name(&suffix);
            (suffix, name)
        })
        .collect();
    let topic = topic(
        doc,
        ctx,
        &named
            .iter()
            .map(|(_, name)| name.as_str())
            .collect::<Vec<_>>(),
    )?;
    for (spec, (suffix, name)) in specs.into_iter().zip(named) {
        doc.resource(
            MONITORING,
            spec.name,
            &AwsCloudwatchMetricAlarm {
                alarm_name: TfString::lit(name),
                alarm_description: TfString::lit(spec.description),
                namespace: TfString::lit(spec.namespace),
                metric_name: TfString::lit(spec.metric),
                dimensions: spec
                    .dimensions
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
                statistic: spec.statistic,
                period: spec.period,
                evaluation_periods: spec.evaluation_periods,
                datapoints_to_alarm: spec.evaluation_periods,
                threshold: spec.threshold,
                comparison_operator: spec.comparison,
                treat_missing_data: spec.missing,
                alarm_actions: vec![topic.arn()],
                ok_actions: vec![topic.arn()],
                insufficient_data_actions: if spec.notify_no_data {
                    vec![topic.arn()]
                } else {
                    Vec::new()
                },
                tags: ctx.tags(&suffix),
            },
        )?;
    }
    doc.resource(
        MONITORING,
        "main",
        &AwsCloudwatchDashboard {
            dashboard_name: ctx.named("platform"),
            dashboard_body: dashboard(ctx, telemetry, host, db, events).body()?,
        },
    )?;
    Ok(())
}
