//! Monitoring and logging: the log groups every writer needs (created here, never by a writer),
//! the CloudWatch agent configuration in SSM, the ERROR-line metric filter, the ETL host's
//! permission to write exactly those, and alarms on an encrypted SNS topic plus a dashboard.
//!
//! Every alarm is built from the same names the publishers use ([`emf`], [`agent_names`], the
//! agent configuration built here), and the integration tests check the emitted alarms against
//! what the agent configuration and `etl/src/metrics.rs` really publish.

use std::collections::BTreeMap;

use crate::agent::{
    Agent, Config, Disk, Files, LogFile, Logs, LogsCollected, Metrics, MetricsCollected, Plugin,
};
use crate::lower::encrypted::{customer_key, log_group};
use crate::lower::handles::{Db, Events, Host, Telemetry};
use crate::lower::iam_helpers::allow;
use crate::lower::{Ctx, MONITORING};
use crate::model::Platform;
use crate::model::monitoring::{ETL_ERROR_LINES_METRIC, HostLog, agent as agent_names, emf};
use crate::tf::data::{AwsIamPolicyDocument, Condition, Principals, Statement};
use crate::tf::logs::{AwsCloudwatchLogMetricFilter, MetricTransformation};
use crate::tf::monitoring::{
    AwsCloudwatchDashboard, AwsCloudwatchMetricAlarm, AwsSnsTopic, AwsSnsTopicPolicy,
    AwsSnsTopicSubscription, AwsSsmParameter, Dashboard, Widget, WidgetProperties,
};
use crate::tf::sqs::AwsSqsQueue;
use crate::tf::storage::AwsKmsKey;
use crate::tf::{Document, Handle, TfError, TfString};

/// The dimension the workers' agent adds, and the one the fleet alarms use.
const DIMENSION_GROUP: &str = "AutoScalingGroupName";

/// The agent collects every 60 s; alarms on its metrics use 5-minute periods.
const AGENT_INTERVAL: u32 = 60;

/// The CloudWatch agent configuration for the ETL host, or (`worker`) for the workers: the same
/// metrics and logs, plus the Auto Scaling group's name appended and rolled up to on its own, so
/// each metric is also published per group (the alarms take the maximum over the instances).
pub(crate) fn agent_config(platform: &Platform, worker: bool) -> Config {
    let instance = agent_names::DIMENSION_INSTANCE.to_owned();
    let mut append_dimensions = BTreeMap::from([(instance.clone(), "${aws:InstanceId}".into())]);
    let mut aggregation_dimensions = vec![vec![instance]];
    if worker {
        append_dimensions.insert(
            DIMENSION_GROUP.to_owned(),
            "${aws:AutoScalingGroupName}".into(),
        );
        aggregation_dimensions.push(vec![DIMENSION_GROUP.to_owned()]);
    }
    let plugin = |metric: &str| Plugin {
        measurement: vec![metric.to_owned()],
        metrics_collection_interval: AGENT_INTERVAL,
    };
    Config {
        agent: Agent {
            metrics_collection_interval: AGENT_INTERVAL,
            logfile: "/opt/aws/amazon-cloudwatch-agent/logs/amazon-cloudwatch-agent.log".into(),
            usage_data: false,
        },
        metrics: Metrics {
            namespace: agent_names::NAMESPACE.into(),
            append_dimensions,
            // The disk plugin tags each point with path, fstype and device; the roll-up to
            // InstanceId alone (and dropping the original) gives the root disk exactly the one
            // dimension the alarm uses. mem and swap carry InstanceId only and are not rolled up.
            aggregation_dimensions,
            metrics_collected: MetricsCollected {
                mem: Some(plugin(agent_names::MEM_USED_PERCENT)),
                disk: Some(Disk {
                    measurement: vec![agent_names::DISK_USED_PERCENT.into()],
                    metrics_collection_interval: AGENT_INTERVAL,
                    resources: vec!["/".into()],
                    drop_device: true,
                    drop_original_metrics: vec![agent_names::DISK_USED_PERCENT.into()],
                }),
                swap: Some(plugin(agent_names::SWAP_USED_PERCENT)),
            },
        },
        logs: Logs {
            logs_collected: LogsCollected {
                files: Files {
                    collect_list: HostLog::ALL
                        .iter()
                        .map(|log| LogFile {
                            file_path: log.file_path().into(),
                            log_group_name: platform.host_log_group_name(*log),
                            log_stream_name: "{instance_id}".into(),
                            timezone: "UTC".into(),
                        })
                        .collect(),
                },
            },
        },
    }
}

/// Log groups, the ERROR-line metric filter and the agent parameter.
pub(crate) fn lower_logs(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    key: &Handle<AwsKmsKey>,
) -> Result<Telemetry, TfError> {
    let platform = ctx.platform;
    let etl_logs = log_group(
        doc,
        ctx,
        MONITORING,
        "etl_containers",
        TfString::lit(platform.etl_log_group_name()),
        key,
    )?;
    let mut host_logs = Vec::new();
    for log in HostLog::ALL {
        host_logs.push(log_group(
            doc,
            ctx,
            MONITORING,
            &format!("host_{}", log.slug().replace('-', "_")),
            TfString::lit(platform.host_log_group_name(log)),
            key,
        )?);
    }
    doc.resource(
        MONITORING,
        "etl_error_lines",
        &AwsCloudwatchLogMetricFilter {
            name: ctx.named("etl-error-lines"),
            // `etl` logs tracing JSON with the level as a top-level field.
            pattern: TfString::lit(r#"{ $.level = "ERROR" }"#),
            log_group_name: etl_logs.id(),
            metric_transformation: MetricTransformation {
                name: TfString::lit(ETL_ERROR_LINES_METRIC),
                namespace: TfString::lit(emf::NAMESPACE),
                value: "1",
                unit: "Count",
            },
        },
    )?;
    let agent_parameter = agent_parameter_resource(doc, ctx, key, false)?;
    let worker_agent_parameter = match platform.etl.workers {
        Some(_) => Some(agent_parameter_resource(doc, ctx, key, true)?),
        None => None,
    };
    Ok(Telemetry {
        etl_logs,
        host_logs,
        agent_parameter,
        worker_agent_parameter,
    })
}

/// The SSM parameter holding the host's (or the workers') agent configuration.
fn agent_parameter_resource(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    key: &Handle<AwsKmsKey>,
    worker: bool,
) -> Result<Handle<AwsSsmParameter>, TfError> {
    let platform = ctx.platform;
    let (name, resource, what) = if worker {
        (
            platform.cloudwatch_agent_worker_parameter_name(),
            "cloudwatch_agent_workers",
            "the ETL workers",
        )
    } else {
        (
            platform.cloudwatch_agent_parameter_name(),
            "cloudwatch_agent",
            "the ETL host",
        )
    };
    let config =
        serde_json::to_string(&agent_config(platform, worker)).map_err(|e| TfError::Serialize {
            address: format!("aws_ssm_parameter.{resource}"),
            message: e.to_string(),
        })?;
    doc.resource(
        MONITORING,
        resource,
        &AwsSsmParameter {
            name: TfString::lit(name),
            description: TfString::lit(format!("CloudWatch agent configuration of {what}")),
            // The agent reads it with decryption; the host role may decrypt with the key.
            type_: "SecureString",
            key_id: key.arn(),
            tier: "Standard",
            value: TfString::lit(config),
            tags: ctx.tags(&resource.replace('_', "-")),
        },
    )
}

/// What the ETL host may do with its telemetry: write to its own log groups (the agent's host
/// logs and Docker's awslogs driver for the container) and read the agent configuration.
pub(crate) fn host_statements(telemetry: &Telemetry) -> Vec<Statement> {
    let groups = std::iter::once(&telemetry.etl_logs).chain(&telemetry.host_logs);
    let mut resources = Vec::new();
    for group in groups {
        resources.push(group.arn());
        resources.push(TfString::concat([
            group.arn(),
            TfString::lit(":log-stream:*"),
        ]));
    }
    vec![
        allow(
            "WriteOwnLogGroups",
            vec![
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
            ],
            resources,
        ),
        allow(
            "ReadAgentConfiguration",
            vec!["ssm:GetParameter"],
            std::iter::once(&telemetry.agent_parameter)
                .chain(&telemetry.worker_agent_parameter)
                .map(Handle::arn)
                .collect(),
        ),
    ]
}

/// `cloudwatch:PutMetricData` has no resource type, so it can only be scoped by namespace.
pub(crate) fn host_metrics_statement() -> Statement {
    Statement {
        condition: vec![Condition {
            test: "StringEquals",
            variable: "cloudwatch:namespace",
            values: vec![TfString::lit(agent_names::NAMESPACE)],
        }],
        ..allow(
            "PutAgentMetrics",
            vec!["cloudwatch:PutMetricData"],
            vec![TfString::lit("*")],
        )
    }
}

/// Conditions limiting a service principal to this platform's alarms.
fn own_alarms(ctx: &Ctx<'_>) -> Vec<Condition> {
    vec![
        Condition {
            test: "StringEquals",
            variable: "aws:SourceAccount",
            values: vec![ctx.account.attr("account_id")],
        },
        Condition {
            test: "ArnLike",
            variable: "aws:SourceArn",
            values: vec![ctx.arn(
                "cloudwatch",
                &format!("alarm:{}", ctx.platform.alarm_name("*")),
            )],
        },
    ]
}

fn cloudwatch_principal() -> Vec<Principals> {
    vec![Principals {
        type_: "Service",
        identifiers: vec![TfString::lit("cloudwatch.amazonaws.com")],
    }]
}

/// The topic's own key: only this platform's alarms may use it to publish.
fn topic_key(doc: &mut Document, ctx: &Ctx<'_>) -> Result<Handle<AwsKmsKey>, TfError> {
    customer_key(
        doc,
        ctx,
        MONITORING,
        "alarms",
        "alarms_key",
        "alarm notifications",
        vec![Statement {
            sid: "CloudWatchAlarmsPublish",
            effect: "Allow",
            actions: vec!["kms:Decrypt", "kms:GenerateDataKey*"],
            resources: vec![TfString::lit("*")],
            principals: cloudwatch_principal(),
            condition: own_alarms(ctx),
        }],
    )
}

/// The encrypted topic, its policy and the optional e-mail subscription.
fn topic(doc: &mut Document, ctx: &Ctx<'_>) -> Result<Handle<AwsSnsTopic>, TfError> {
    let key = topic_key(doc, ctx)?;
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
                    condition: own_alarms(ctx),
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
    let topic = topic(doc, ctx)?;
    for spec in alarm_specs(ctx, host, db, events) {
        let suffix = spec.name.replace('_', "-");
        doc.resource(
            MONITORING,
            spec.name,
            &AwsCloudwatchMetricAlarm {
                alarm_name: TfString::lit(ctx.platform.alarm_name(&suffix)),
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

/// Host, database and ETL rows, then the ETL's latest ERROR lines.
fn dashboard(
    ctx: &Ctx<'_>,
    telemetry: &Telemetry,
    host: &Host,
    db: &Db,
    events: &Events,
) -> Dashboard {
    let region = || ctx.region.attr("name");
    let line = |namespace: &str, metric: &str, dimension: Option<(&str, TfString)>| {
        let mut line = vec![TfString::lit(namespace), TfString::lit(metric)];
        if let Some((name, value)) = dimension {
            line.extend([TfString::lit(name), value]);
        }
        line
    };
    let instance = || Some((agent_names::DIMENSION_INSTANCE, host.instance.id().string()));
    let database = || Some(("DBInstanceIdentifier", db.instance.attr("identifier")));
    let dataset = || {
        Some((
            emf::DIMENSION_DATASET,
            TfString::lit(&ctx.platform.etl.dataset),
        ))
    };
    let queue = |q: &Handle<AwsSqsQueue>| Some(("QueueName", q.attr("name")));
    let group = || {
        Some((
            "AutoScalingGroupName",
            TfString::lit(ctx.platform.etl_workers_group_name()),
        ))
    };
    let mut panels: Vec<(&str, &'static str, Vec<Vec<TfString>>)> = vec![
        (
            "ETL host CPU (%)",
            "Average",
            vec![line("AWS/EC2", "CPUUtilization", instance())],
        ),
        (
            "ETL host memory, root disk, swap used (%)",
            "Average",
            [
                agent_names::MEM_USED_PERCENT,
                agent_names::DISK_USED_PERCENT,
                agent_names::SWAP_USED_PERCENT,
            ]
            .iter()
            .map(|m| line(agent_names::NAMESPACE, m, instance()))
            .collect(),
        ),
        (
            "PostgreSQL CPU (%) and connections",
            "Average",
            vec![
                line("AWS/RDS", "CPUUtilization", database()),
                line("AWS/RDS", "DatabaseConnections", database()),
            ],
        ),
        (
            "PostgreSQL free storage (bytes)",
            "Minimum",
            vec![line("AWS/RDS", "FreeStorageSpace", database())],
        ),
        (
            "ETL rows loaded and rejected",
            "Sum",
            [emf::ROWS_LOADED, emf::ROWS_REJECTED]
                .iter()
                .map(|m| line(emf::NAMESPACE, m, dataset()))
                .collect(),
        ),
        (
            "ETL objects loaded/failed, successful runs, error lines",
            "Sum",
            [emf::OBJECTS_LOADED, emf::OBJECTS_FAILED, emf::RUN_SUCCEEDED]
                .iter()
                .map(|m| line(emf::NAMESPACE, m, dataset()))
                .chain([line(emf::NAMESPACE, ETL_ERROR_LINES_METRIC, None)])
                .collect(),
        ),
        (
            "Event queue: visible, in flight, dead-lettered",
            "Maximum",
            vec![
                line(
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    queue(&events.queue),
                ),
                line(
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesNotVisible",
                    queue(&events.queue),
                ),
                line(
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    queue(&events.dead_letter),
                ),
            ],
        ),
        (
            "Event queue: oldest message age (s)",
            "Maximum",
            vec![line(
                "AWS/SQS",
                "ApproximateAgeOfOldestMessage",
                queue(&events.queue),
            )],
        ),
    ];
    if host.fleet.is_some() {
        panels.extend([
            (
                "ETL workers in service and desired",
                "Average",
                vec![
                    line("AWS/AutoScaling", "GroupInServiceInstances", group()),
                    line("AWS/AutoScaling", "GroupDesiredCapacity", group()),
                ],
            ),
            (
                "ETL workers' CPU (%)",
                "Average",
                vec![line("AWS/EC2", "CPUUtilization", group())],
            ),
        ]);
    }
    let rows = u32::try_from(panels.len().div_ceil(2)).unwrap_or(u32::MAX);
    let mut widgets: Vec<Widget> = panels
        .into_iter()
        .zip(0u32..)
        .map(|((title, stat, metrics), index)| Widget {
            type_: "metric",
            x: (index % 2) * 12,
            y: (index / 2) * 6,
            width: 12,
            height: 6,
            properties: WidgetProperties::Metric {
                title: TfString::lit(title),
                region: region(),
                view: "timeSeries",
                stat,
                period: 300,
                metrics,
            },
        })
        .collect();
    widgets.push(Widget {
        type_: "log",
        x: 0,
        y: rows * 6,
        width: 24,
        height: 6,
        properties: WidgetProperties::Log {
            title: TfString::lit("Latest ETL ERROR lines"),
            region: region(),
            view: "table",
            query: TfString::concat([
                TfString::lit("SOURCE '"),
                telemetry.etl_logs.attr("name"),
                TfString::lit(
                    "' | fields @timestamp, message, target | filter level = \"ERROR\" | sort @timestamp desc | limit 50",
                ),
            ]),
        },
    });
    Dashboard { widgets }
}
