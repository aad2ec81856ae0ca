//! The ETL host: Ubuntu 24.04 LTS from Canonical's SSM parameter, IMDSv2 only, encrypted gp3
//! root volume, detailed monitoring, an Elastic IP, the host tag the deploy role is limited to,
//! and the cloud-init document that makes it run the ETL by itself.
//!
//! The cloud-init document is rendered from `templates/user_data.yaml.j2` into a local (readable in
//! `compute.tf.json`) and sent gzip-compressed (`base64gzip`: EC2 takes 16 KiB, cloud-init unpacks
//! it). Workers get the same document with the role `worker`, which runs only the queue consumer. The host files of the
//! ETL (`etl/deploy/`) are embedded with `include_str!`, so the host always gets exactly the
//! committed files. Values only Terraform knows (the database address, the secret ARN, the
//! region) and the names of resources the host needs to exist first (the data bucket, the ETL
//! log group, the agent's SSM parameter) enter the document as holes that become `${...}`
//! references; everything else in it is escaped as a literal, so a shell `${VAR}` reaches the
//! host unchanged.
//!
//! `user_data_replace_on_change` is on, deliberately. cloud-init applies a document once per
//! instance, so changing `user_data` in place would stop and start the host and still leave it
//! running the old files: the host would silently differ from `out/`. Replacing it keeps the
//! host exactly what the document says, and the host holds no state (data lives in S3 and
//! PostgreSQL, the image in ECR, the Elastic IP moves to the new instance). The cost: a new host
//! has no image until the next deploy (run the deploy workflow after an apply that replaced it).

use std::collections::BTreeMap;

use minijinja::{Environment, context};

use crate::lower::ctx::{COMPUTE, Ctx, FLEET, PLATFORM_TAG};
use crate::lower::handles::{Buckets, Db, Events, Groups, Host, Net, Runtime, Telemetry, Vars};
use crate::model::ETL_HOST_TAG_KEY;
use crate::model::events::Workers;
use crate::tf::compute::{
    AsgTag, AwsAutoscalingGroup, AwsAutoscalingPolicy, AwsEip, AwsEipAssociation, AwsInstance,
    AwsLaunchTemplate, BlockDeviceMapping, CustomizedMetric, Enabled, InstanceRefresh,
    LaunchTemplateEbs, LaunchTemplateInterface, LaunchTemplateProfile, LaunchTemplateRef,
    MetadataOptions, MetricDimension, MetricId, MetricQuery, MetricStat, RefreshPreferences,
    RootBlockDevice, TagSpecification, TargetTracking,
};
use crate::tf::data::{AwsKmsKey, AwsSsmParameter};
use crate::tf::iam::AwsIamInstanceProfile;
use crate::tf::{Document, Handle, Meta, TfError, TfString, hole};
use serde_json::Value;

/// What the host is wired to, from the other areas.
pub(crate) struct HostDeps<'a> {
    pub(crate) net: &'a Net,
    pub(crate) groups: &'a Groups,
    pub(crate) key: &'a Handle<AwsKmsKey>,
    pub(crate) profile: &'a Handle<AwsIamInstanceProfile>,
    pub(crate) vars: &'a Vars,
    pub(crate) buckets: &'a Buckets,
    pub(crate) db: &'a Db,
    pub(crate) telemetry: &'a Telemetry,
    pub(crate) runtime: &'a Runtime,
    pub(crate) events: &'a Events,
}

const USER_DATA: &str = include_str!("../../templates/user_data.yaml.j2");
const SETUP_SCRIPT: &str = include_str!("../../templates/etl-host-setup.sh");
const COMPOSE: &str = include_str!("../../../etl/deploy/compose.yaml");
const DEPLOY_SCRIPT: &str = include_str!("../../../etl/deploy/deploy.sh");
const SERVICE: &str = include_str!("../../../etl/deploy/hadrian-etl.service");
const QUEUE_SERVICE: &str = include_str!("../../../etl/deploy/hadrian-etl-queue.service");

/// What an instance is for; the one cloud-init document serves both.
#[derive(Clone, Copy)]
enum Role {
    /// The single ETL host: the queue consumer and the listing sweep timer.
    Host,
    /// A worker of the Auto Scaling group: the queue consumer only.
    Worker,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::Worker => "worker",
        }
    }
}

/// The systemd `OnCalendar=` expression for a run every `minutes` (which divides an hour or a
/// day), aligned to the hour or to midnight so runs happen at predictable times.
fn on_calendar(minutes: u32) -> String {
    if minutes < 60 {
        format!("*-*-* *:00/{minutes}:00")
    } else {
        format!("*-*-* 00/{}:00:00", minutes / 60)
    }
}

/// Renders the cloud-init document. The template is compiled into the binary and tested, so a
/// failure here is a bug in this crate, reported as a serialization error of the instance.
fn user_data(ctx: &Ctx<'_>, deps: &HostDeps<'_>, role: Role) -> Result<TfString, TfError> {
    let platform = ctx.platform;
    let values = context! {
        role => role.as_str(),
        name => platform.name.to_string(),
        environment => &platform.environment,
        bucket => hole("bucket"),
        db_secret_arn => hole("db_secret_arn"),
        db_address => hole("db_address"),
        db_port => hole("db_port"),
        db_name => &platform.database.db_name,
        region => hole("region"),
        log_group => hole("log_group"),
        agent_parameter => hole("agent_parameter"),
        repository_url => hole("repository_url"),
        queue_url => hole("queue_url"),
        jobs => platform.etl.jobs,
        image_parameter => platform.etl_image_parameter_name(),
        interval_minutes => platform.etl.schedule_minutes,
        on_calendar => on_calendar(platform.etl.schedule_minutes),
        compose => COMPOSE,
        deploy_script => DEPLOY_SCRIPT,
        service => SERVICE,
        queue_service => QUEUE_SERVICE,
        setup_script => SETUP_SCRIPT,
    };
    let text = Environment::new()
        .render_str(USER_DATA, values)
        .map_err(|e| TfError::Serialize {
            address: format!("user_data of the ETL {}", role.as_str()),
            message: e.to_string(),
        })?;
    // References, not names: the host then also waits for the bucket, the log group and the
    // agent configuration it loads on first boot.
    let holes = BTreeMap::from([
        ("bucket", deps.buckets.data.attr("bucket")),
        ("log_group", deps.telemetry.etl_logs.attr("name")),
        (
            "agent_parameter",
            match (role, &deps.telemetry.worker_agent_parameter) {
                (Role::Worker, Some(parameter)) => parameter.attr("name"),
                _ => deps.telemetry.agent_parameter.attr("name"),
            },
        ),
        ("db_secret_arn", deps.db.secret_arn()),
        ("db_address", deps.db.instance.attr("address")),
        ("db_port", deps.db.instance.attr("port")),
        ("region", ctx.region.attr("name")),
        (
            "repository_url",
            deps.runtime.repository.attr("repository_url"),
        ),
        ("queue_url", deps.events.queue.attr("url")),
    ]);
    TfString::with_holes(&text, &holes)
}

/// Declares the local `etl_<role>_user_data` holding the document (readable in `compute.tf.json`)
/// and returns the compressed, encoded value EC2 takes.
fn user_data_local(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    deps: &HostDeps<'_>,
    role: Role,
) -> Result<TfString, TfError> {
    let name = format!("etl_{}_user_data", role.as_str());
    let document = user_data(ctx, deps, role)?;
    doc.local(
        COMPUTE,
        &name,
        Value::String(document.as_template().to_owned()),
    )?;
    Ok(TfString::base64gzip_of_local(&name))
}

pub(crate) fn lower(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    deps: &HostDeps<'_>,
) -> Result<Host, TfError> {
    let HostDeps {
        net,
        groups,
        key,
        profile,
        vars,
        ..
    } = deps;
    let host = &ctx.platform.compute;
    let mut tags = ctx.tags("etl-host");
    tags.insert(
        ETL_HOST_TAG_KEY.to_owned(),
        TfString::lit(ctx.platform.etl_host_tag_value()),
    );
    let ami = doc.data(
        COMPUTE,
        "ubuntu_ami",
        &AwsSsmParameter {
            name: vars.ami_parameter.string(),
        },
    )?;
    let user_data = user_data_local(doc, ctx, deps, Role::Host)?;
    let instance = doc.resource_with(
        COMPUTE,
        "etl_host",
        &AwsInstance {
            ami: ami.attr("insecure_value"),
            instance_type: TfString::lit(&host.instance_type),
            subnet_id: net.public[0].id(),
            vpc_security_group_ids: vec![groups.etl.id()],
            iam_instance_profile: profile.id(),
            monitoring: true,
            ebs_optimized: true,
            user_data_base64: user_data,
            user_data_replace_on_change: true,
            metadata_options: metadata_options(),
            root_block_device: RootBlockDevice {
                volume_type: "gp3",
                volume_size: host.root_volume_gb,
                encrypted: true,
                kms_key_id: key.arn(),
                delete_on_termination: true,
            },
            tags,
        },
        // A newer AMI in the parameter must not replace the running host by surprise.
        Meta {
            ignore_changes: vec!["ami"],
            ..Meta::default()
        },
    )?;
    let eip = doc.resource(
        COMPUTE,
        "etl_host",
        &AwsEip {
            domain: "vpc",
            tags: ctx.tags("etl-host"),
        },
    )?;
    doc.resource(
        COMPUTE,
        "etl_host",
        &AwsEipAssociation {
            instance_id: instance.id(),
            allocation_id: eip.id(),
        },
    )?;
    let fleet = match &ctx.platform.etl.workers {
        Some(workers) => Some(lower_fleet(doc, ctx, deps, &ami, workers)?),
        None => None,
    };
    Ok(Host {
        instance,
        eip,
        fleet,
    })
}

/// IMDSv2 only; hop limit 2 lets the ETL container (bridged) reach it for the role's credentials.
fn metadata_options() -> MetadataOptions {
    MetadataOptions {
        http_endpoint: "enabled",
        http_tokens: "required",
        http_put_response_hop_limit: 2,
        instance_metadata_tags: "disabled",
    }
}

/// The worker fleet: a launch template with the host's hardening and cloud-init (queue consumer
/// only), an Auto Scaling group over both public subnets, and target tracking on the backlog per
/// in-service instance.
fn lower_fleet(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    deps: &HostDeps<'_>,
    ami: &Handle<AwsSsmParameter>,
    workers: &Workers,
) -> Result<Handle<AwsAutoscalingGroup>, TfError> {
    let platform = ctx.platform;
    let Some(group) = &deps.groups.workers else {
        unreachable!("security::lower creates the workers' group whenever workers are configured")
    };
    // Instances and volumes the group launches get no provider default tags: the platform tag
    // (what the apply role's EC2 rights key on) is set here.
    let mut volume_tags = ctx.tags("etl-worker");
    volume_tags.insert(
        PLATFORM_TAG.to_owned(),
        TfString::lit(platform.name.to_string()),
    );
    let mut instance_tags = volume_tags.clone();
    // The deploy role may run the deploy document on every instance carrying the host tag.
    instance_tags.insert(
        ETL_HOST_TAG_KEY.to_owned(),
        TfString::lit(platform.etl_host_tag_value()),
    );
    let user_data = user_data_local(doc, ctx, deps, Role::Worker)?;
    let template = doc.resource_with(
        FLEET,
        "etl_worker",
        &AwsLaunchTemplate {
            name: ctx.named("etl-worker"),
            description: TfString::lit(
                "ETL queue worker: the ETL host's runtime, queue consumer only",
            ),
            image_id: ami.attr("insecure_value"),
            instance_type: TfString::lit(&platform.compute.instance_type),
            ebs_optimized: "true",
            user_data,
            update_default_version: true,
            iam_instance_profile: LaunchTemplateProfile {
                arn: deps.profile.arn(),
            },
            network_interfaces: vec![LaunchTemplateInterface {
                device_index: 0,
                associate_public_ip_address: "true",
                delete_on_termination: "true",
                security_groups: vec![group.id()],
            }],
            metadata_options: metadata_options(),
            block_device_mappings: vec![BlockDeviceMapping {
                // Canonical's Ubuntu AMIs boot from /dev/sda1.
                device_name: "/dev/sda1",
                ebs: LaunchTemplateEbs {
                    volume_type: "gp3",
                    volume_size: platform.compute.root_volume_gb,
                    encrypted: "true",
                    kms_key_id: deps.key.arn(),
                    delete_on_termination: "true",
                },
            }],
            monitoring: Enabled { enabled: true },
            tag_specifications: vec![
                TagSpecification {
                    resource_type: "instance",
                    tags: instance_tags,
                },
                TagSpecification {
                    resource_type: "volume",
                    tags: volume_tags,
                },
            ],
            tags: ctx.tags("etl-worker"),
        },
        // Like the host: a newer AMI in the parameter must not roll the fleet by surprise.
        Meta {
            ignore_changes: vec!["image_id"],
            ..Meta::default()
        },
    )?;
    let asg = doc.resource(
        FLEET,
        "etl_workers",
        &AwsAutoscalingGroup {
            name: TfString::lit(platform.etl_workers_group_name()),
            min_size: workers.min,
            max_size: workers.max,
            vpc_zone_identifier: deps.net.public.iter().map(Handle::id).collect(),
            launch_template: LaunchTemplateRef {
                id: template.id(),
                version: TfString::lit("$Default"),
            },
            health_check_type: "EC2",
            health_check_grace_period: 600,
            default_instance_warmup: 600,
            enabled_metrics: vec!["GroupInServiceInstances"],
            metrics_granularity: "1Minute",
            instance_refresh: InstanceRefresh {
                strategy: "Rolling",
                preferences: RefreshPreferences {
                    min_healthy_percentage: 50,
                },
            },
            tag: vec![AsgTag {
                key: "Name".into(),
                value: ctx.named("etl-worker"),
                propagate_at_launch: false,
            }],
        },
    )?;
    let queue_name = || MetricDimension {
        name: "QueueName",
        value: deps.events.queue.attr("name"),
    };
    doc.resource(
        FLEET,
        "etl_workers_backlog",
        &AwsAutoscalingPolicy {
            name: ctx.named("etl-workers-backlog"),
            autoscaling_group_name: asg.attr("name"),
            policy_type: "TargetTrackingScaling",
            target_tracking_configuration: TargetTracking {
                target_value: workers.backlog_per_instance,
                disable_scale_in: false,
                customized_metric_specification: CustomizedMetric {
                    metrics: vec![
                        MetricQuery {
                            id: "visible",
                            label: "Messages visible in the event queue",
                            expression: None,
                            metric_stat: Some(MetricStat {
                                metric: MetricId {
                                    namespace: "AWS/SQS",
                                    metric_name: "ApproximateNumberOfMessagesVisible",
                                    dimensions: vec![queue_name()],
                                },
                                stat: "Sum",
                            }),
                            return_data: false,
                        },
                        MetricQuery {
                            id: "in_service",
                            label: "Workers in service",
                            expression: None,
                            metric_stat: Some(MetricStat {
                                metric: MetricId {
                                    namespace: "AWS/AutoScaling",
                                    metric_name: "GroupInServiceInstances",
                                    dimensions: vec![MetricDimension {
                                        name: "AutoScalingGroupName",
                                        value: TfString::lit(platform.etl_workers_group_name()),
                                    }],
                                },
                                stat: "Average",
                            }),
                            return_data: false,
                        },
                        // With no worker in service the whole backlog counts, so the group
                        // scales out from zero; otherwise the backlog per worker.
                        MetricQuery {
                            id: "backlog_per_instance",
                            label: "Messages visible per worker",
                            expression: Some("IF(in_service > 0, visible / in_service, visible)"),
                            metric_stat: None,
                            return_data: true,
                        },
                    ],
                },
            },
        },
    )?;
    Ok(asg)
}

#[cfg(test)]
mod tests {
    use crate::lower::compute::on_calendar;
    use crate::model::etl::Etl;

    #[test]
    fn every_schedule_becomes_an_aligned_calendar() {
        assert_eq!(on_calendar(15), "*-*-* *:00/15:00");
        assert_eq!(on_calendar(60), "*-*-* 00/1:00:00");
        assert_eq!(on_calendar(1440), "*-*-* 00/24:00:00");
        for minutes in Etl::SCHEDULE_MINUTES {
            assert!(minutes < 60 && 60 % minutes == 0 || minutes % 60 == 0 && 1440 % minutes == 0);
        }
    }
}
