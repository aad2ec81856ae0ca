//! CloudWatch Logs and the agent: the log groups, the ERROR-line metric filter, the agent
//! configuration in an encrypted SSM parameter, and what the host may do with them.

use std::collections::BTreeMap;

use crate::agent::{
    Agent, Config, Disk, Files, LogFile, Logs, LogsCollected, Metrics, MetricsCollected, Plugin,
};
use crate::lower::ctx::{Ctx, MONITORING};
use crate::lower::encrypted::log_group;
use crate::lower::handles::Telemetry;
use crate::lower::iam_helpers::allow;
use crate::model::Platform;
use crate::model::monitoring::agent::DIMENSION_GROUP;
use crate::model::monitoring::{ETL_ERROR_LINES_METRIC, HostLog, agent as agent_names, emf};
use crate::tf::data::{AwsKmsKey, Condition, Statement};
use crate::tf::logs::{AwsCloudwatchLogMetricFilter, MetricTransformation};
use crate::tf::monitoring::AwsSsmParameter;
use crate::tf::{Document, Handle, TfError, TfString};

/// The agent collects every 60 s; alarms on its metrics use 5-minute periods.
const AGENT_INTERVAL: u32 = 60;

/// The CloudWatch agent configuration for the ETL host, or (`worker`) for the workers: the same
/// metrics and logs, plus the Auto Scaling group's name appended and rolled up to on its own, so
/// each metric is also published per group (the alarms take the maximum over the instances).
fn agent_config(platform: &Platform, worker: bool) -> Config {
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
