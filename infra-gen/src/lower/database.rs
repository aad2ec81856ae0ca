//! RDS PostgreSQL 16 in the private tier: encrypted with the platform key, password managed by
//! RDS in Secrets Manager, TLS forced, logs exported to pre-created encrypted log groups.

use crate::lower::ctx::{Ctx, DATABASE};
use crate::lower::encrypted::log_group;
use crate::lower::handles::{Db, Groups, Net};
use crate::lower::iam_helpers::{attach_managed, service_role};
use crate::tf::data::AwsKmsKey;
use crate::tf::database::{AwsDbInstance, AwsDbParameterGroup, AwsDbSubnetGroup, DbParameter};
use crate::tf::{Document, Handle, Meta, TfError, TfString};

/// Logs RDS exports; each gets a log group created here first.
const LOG_EXPORTS: [&str; 2] = ["postgresql", "upgrade"];

fn parameter(name: &'static str, value: &str) -> DbParameter {
    DbParameter {
        name,
        value: TfString::lit(value),
        apply_method: "immediate",
    }
}

pub(crate) fn lower(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    net: &Net,
    groups: &Groups,
    key: &Handle<AwsKmsKey>,
) -> Result<Db, TfError> {
    let db = &ctx.platform.database;
    let identifier = ctx.platform.database_identifier();
    let subnets = doc.resource(
        DATABASE,
        "main",
        &AwsDbSubnetGroup {
            name: ctx.named("database"),
            description: TfString::lit("Private subnets for PostgreSQL"),
            subnet_ids: net.private.iter().map(Handle::id).collect(),
            tags: ctx.tags("database"),
        },
    )?;
    let parameters = doc.resource(
        DATABASE,
        "main",
        &AwsDbParameterGroup {
            name: ctx.named("postgres16"),
            family: "postgres16",
            description: TfString::lit("TLS only; connection, DDL, lock and slow-query logging"),
            parameter: vec![
                parameter("log_connections", "1"),
                parameter("log_disconnections", "1"),
                parameter("log_lock_waits", "1"),
                parameter("log_min_duration_statement", "1000"),
                parameter("log_statement", "ddl"),
                parameter("rds.force_ssl", "1"),
            ],
            tags: ctx.tags("postgres16"),
        },
    )?;
    let mut log_groups = Vec::new();
    for export in LOG_EXPORTS {
        let group = log_group(
            doc,
            ctx,
            DATABASE,
            &format!("database_{export}"),
            TfString::lit(format!("/aws/rds/instance/{identifier}/{export}")),
            key,
        )?;
        log_groups.push(group.address());
    }
    let monitoring = service_role(
        doc,
        ctx,
        "rds_monitoring",
        "monitoring.rds.amazonaws.com",
        "RDS enhanced monitoring",
    )?;
    attach_managed(
        doc,
        ctx,
        "rds_monitoring",
        &monitoring,
        "service-role/AmazonRDSEnhancedMonitoringRole",
    )?;
    let instance = doc.resource_with(
        DATABASE,
        "main",
        &AwsDbInstance {
            identifier: TfString::lit(&identifier),
            engine: "postgres",
            engine_version: "16",
            instance_class: TfString::lit(&db.instance_class),
            allocated_storage: db.allocated_storage_gb,
            max_allocated_storage: db.max_allocated_storage_gb,
            storage_type: "gp3",
            storage_encrypted: true,
            kms_key_id: key.arn(),
            db_name: TfString::lit(&db.db_name),
            username: TfString::lit(&db.master_username),
            manage_master_user_password: true,
            master_user_secret_kms_key_id: key.arn(),
            iam_database_authentication_enabled: true,
            db_subnet_group_name: subnets.id(),
            vpc_security_group_ids: vec![groups.database.id()],
            parameter_group_name: parameters.id(),
            publicly_accessible: false,
            multi_az: db.multi_az,
            backup_retention_period: db.backup_retention_days,
            backup_window: "03:00-04:00",
            maintenance_window: "sun:04:30-sun:05:30",
            deletion_protection: db.deletion_protection,
            skip_final_snapshot: !db.deletion_protection,
            final_snapshot_identifier: db
                .deletion_protection
                .then(|| TfString::lit(format!("{identifier}-final"))),
            copy_tags_to_snapshot: true,
            auto_minor_version_upgrade: true,
            performance_insights_enabled: true,
            performance_insights_kms_key_id: key.arn(),
            performance_insights_retention_period: 7,
            monitoring_interval: 60,
            monitoring_role_arn: monitoring.arn(),
            enabled_cloudwatch_logs_exports: LOG_EXPORTS.to_vec(),
            tags: ctx.tags("postgres"),
        },
        // RDS would otherwise create the export log groups itself, unencrypted and kept forever.
        Meta {
            depends_on: log_groups,
            ..Meta::default()
        },
    )?;
    Ok(Db { instance })
}
