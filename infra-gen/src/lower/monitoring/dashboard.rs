//! The platform's CloudWatch dashboard: host, database, ETL and queue panels, then the ETL's
//! latest ERROR lines.

use crate::lower::ctx::Ctx;
use crate::lower::handles::{Db, Events, Host, Telemetry};
use crate::model::monitoring::agent::DIMENSION_GROUP;
use crate::model::monitoring::{ETL_ERROR_LINES_METRIC, agent as agent_names, emf};
use crate::tf::monitoring::{Dashboard, Widget, WidgetProperties};
use crate::tf::sqs::AwsSqsQueue;
use crate::tf::{Handle, TfString};

/// Host, database and ETL rows, then the ETL's latest ERROR lines.
pub(super) fn dashboard(
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
            DIMENSION_GROUP,
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
