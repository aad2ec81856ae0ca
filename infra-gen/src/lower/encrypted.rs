//! Encrypted resources several areas create the same way: log groups under the platform key
//! and customer-managed keys with the account-administration statement. Below the areas, so
//! network, database, storage and monitoring share them without importing each other.

use crate::lower::ctx::Ctx;
use crate::tf::data::{AwsIamPolicyDocument, Principals, Statement};
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
    key: &Handle<AwsKmsKey>,
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

/// A customer-managed key `name` (rotated, 30-day deletion window, alias `<platform>-<name>`)
/// whose policy is the account administration statement followed by `statements`.
pub(crate) fn customer_key(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    file: FileId,
    name: &str,
    policy_name: &str,
    purpose: &str,
    statements: Vec<Statement>,
) -> Result<Handle<AwsKmsKey>, TfError> {
    let policy = doc.data(
        file,
        policy_name,
        &AwsIamPolicyDocument {
            statement: std::iter::once(account_administration(ctx))
                .chain(statements)
                .collect(),
        },
    )?;
    let key = doc.resource(
        file,
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
        file,
        name,
        &AwsKmsAlias {
            name: TfString::lit(format!("alias/{}-{name}", ctx.platform.name)),
            target_key_id: key.id(),
        },
    )?;
    Ok(key)
}
