//! Encrypted resources several areas create the same way: log groups under the platform key,
//! customer-managed keys with the account-administration statement (bootstrap module) and the
//! platform module's lookup of those keys. Below the areas, so network, database, storage and
//! monitoring share them without importing each other.

use crate::lower::ctx::{Ctx, KEYS};
use crate::tf::data::{self, AwsIamPolicyDocument, Principals, Statement};
use crate::tf::logs::AwsCloudwatchLogGroup;
use crate::tf::storage::{AwsKmsAlias, AwsKmsKey};
use crate::tf::{Document, FileId, Handle, TfError, TfString};

/// A log group encrypted with the platform key and kept for the configured retention.
pub(crate) fn log_group(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    file: FileId,
    name: &str,
    group: TfString,
    key: &Handle<data::AwsKmsKey>,
) -> Result<Handle<AwsCloudwatchLogGroup>, TfError> {
    doc.resource(
        file,
        name,
        &AwsCloudwatchLogGroup {
            name: group,
            retention_in_days: ctx.platform.monitoring.log_retention_days,
            kms_key_id: key.arn(),
            tags: ctx.tags(&name.replace('_', "-")),
        },
    )
}

/// AWS's default key-policy statement: the account administers the key, and IAM policies
/// decide who in the account may use it.
fn account_administration(ctx: &Ctx<'_>) -> Statement {
    Statement {
        sid: "AccountAdministration",
        effect: "Allow",
        actions: vec!["kms:*"],
        // In a key policy "*" means this key.
        resources: vec![TfString::lit("*")],
        principals: vec![Principals {
            type_: "AWS",
            identifiers: vec![ctx.account_root()],
        }],
        condition: Vec::new(),
    }
}

/// A customer-managed key `name` of the bootstrap module (rotated, 30-day deletion window, alias
/// `<platform>-<name>`) whose policy is the account administration statement followed by
/// `statements`. The administrator creates the keys, so the apply role never needs
/// `kms:CreateKey` or `kms:TagResource`, which IAM cannot scope to a key that does not exist yet.
pub(crate) fn customer_key(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    name: &str,
    policy_name: &str,
    purpose: &str,
    statements: Vec<Statement>,
) -> Result<Handle<AwsKmsKey>, TfError> {
    let policy = doc.data(
        KEYS,
        policy_name,
        &AwsIamPolicyDocument {
            statement: std::iter::once(account_administration(ctx))
                .chain(statements)
                .collect(),
        },
    )?;
    let key = doc.resource(
        KEYS,
        name,
        &AwsKmsKey {
            description: TfString::lit(format!("{} data platform: {purpose}", ctx.platform.name)),
            enable_key_rotation: true,
            deletion_window_in_days: 30,
            policy: policy.attr("json"),
            tags: ctx.tags(&format!("{name}-key")),
        },
    )?;
    doc.resource(
        KEYS,
        name,
        &AwsKmsAlias {
            name: TfString::lit(ctx.key_alias(name)),
            target_key_id: key.id(),
        },
    )?;
    Ok(key)
}

/// The platform module's view of the bootstrap key `name`, found by its alias.
pub(crate) fn existing_key(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    file: FileId,
    name: &str,
) -> Result<Handle<data::AwsKmsKey>, TfError> {
    doc.data(
        file,
        name,
        &data::AwsKmsKey {
            key_id: TfString::lit(ctx.key_alias(name)),
        },
    )
}
