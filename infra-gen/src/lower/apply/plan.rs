//! The plan role's permissions, derived from the apply role's tables: of each apply statement,
//! the read calls a refresh makes (`Describe*`, `Get*`, `List*`) on the same exact resources,
//! so a new resource type in an apply table reaches the plan too. Data reads are never kept,
//! whatever an apply table grants ([`DATA_READS`]), but for one: `kms:Decrypt` of a SecureString
//! parameter the plan reads anyway (a statement pinned to the parameters' ARNs by
//! [`PARAMETER_CONTEXT`]), since the provider refreshes a parameter with decryption. The state
//! object comes from the delivery area's own statements, passed in by `lower/delivery.rs`.

use crate::lower::apply::scope::{PARAMETER_CONTEXT, REQUEST_TAG};
use crate::tf::data::Statement;

/// Read calls that return data rather than configuration: a pull request's plan never needs
/// them. `ssm:GetParameter(s)` is not listed: the apply tables grant it only on the platform's
/// own non-secret parameters and the public AMI parameter (`tests/it/access.rs` checks both).
pub(crate) const DATA_READS: [&str; 14] = [
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "kms:Decrypt",
    "logs:FilterLogEvents",
    "logs:GetLogEvents",
    "logs:GetLogRecord",
    "logs:GetQueryResults",
    "logs:StartQuery",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "secretsmanager:GetSecretValue",
    "sqs:ReceiveMessage",
    "ssm:GetParameterHistory",
    "ssm:GetParametersByPath",
];

/// Verbs of the calls Terraform's refresh makes.
pub(crate) const READ_VERBS: [&str; 3] = ["Describe", "Get", "List"];

/// Whether `action` (`service:Call`) is a read the plan may make.
pub(crate) fn is_plan_read(action: &str) -> bool {
    let call = action.split_once(':').map_or(action, |(_, call)| call);
    READ_VERBS.iter().any(|verb| call.starts_with(verb)) && !DATA_READS.contains(&action)
}

/// The plan's statements for one apply area: each `Allow` narrowed to its reads, on the same
/// resources and under the same conditions but those on the request's tags (which only a
/// creation carries); statements left with no action, and every `Deny` (they deny writes the
/// plan never gets), are dropped.
pub(crate) fn reads_of(statements: &[Statement]) -> Vec<Statement> {
    statements
        .iter()
        .filter(|s| s.effect == "Allow")
        .filter_map(|s| {
            let parameters_only = s.condition.iter().any(|c| c.variable == PARAMETER_CONTEXT);
            let actions: Vec<&'static str> = s
                .actions
                .iter()
                .copied()
                .filter(|a| is_plan_read(a) || (parameters_only && *a == "kms:Decrypt"))
                .collect();
            (!actions.is_empty()).then(|| Statement {
                actions,
                condition: s
                    .condition
                    .iter()
                    .filter(|c| c.variable != REQUEST_TAG)
                    .cloned()
                    .collect(),
                ..s.clone()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::lower::apply::plan::is_plan_read;

    #[test]
    fn reads_are_describe_get_list_without_data() {
        assert!(is_plan_read("ec2:DescribeVpcs"));
        assert!(is_plan_read("s3:GetBucketPolicy"));
        assert!(is_plan_read("iam:ListRoleTags"));
        assert!(!is_plan_read("s3:GetObject"));
        assert!(!is_plan_read("secretsmanager:GetSecretValue"));
        assert!(!is_plan_read("ec2:CreateVpc"));
        assert!(!is_plan_read("kms:Decrypt"));
    }
}
