//! IAM resources: roles, inline policies, managed-policy attachments, instance profiles, and the
//! OpenID Connect provider that lets GitHub Actions assume roles without stored keys.

use serde::Serialize;

use crate::tf::Tags;
use crate::tf::{Ref, TfString, resource_type};

/// `aws_iam_role`.
#[derive(Debug, Serialize)]
pub struct AwsIamRole {
    /// Role name.
    pub name: TfString,
    /// What the role is for.
    pub description: TfString,
    /// Trust policy JSON.
    pub assume_role_policy: TfString,
    /// The managed policy that caps what the role's own policies can grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<TfString>,
    /// Tags.
    pub tags: Tags,
}

/// `aws_iam_role_policy`: an inline policy, so it lives and dies with its role.
#[derive(Debug, Serialize)]
pub struct AwsIamRolePolicy {
    /// Policy name.
    pub name: TfString,
    /// The role.
    pub role: Ref<AwsIamRole>,
    /// Policy JSON.
    pub policy: TfString,
}

/// `aws_iam_policy`: a customer managed policy, for policies too large for a role's inline
/// quota (10,240 characters per role; a managed policy may hold 6,144).
#[derive(Debug, Serialize)]
pub struct AwsIamPolicy {
    /// Policy name.
    pub name: TfString,
    /// What the policy grants.
    pub description: TfString,
    /// Policy JSON.
    pub policy: TfString,
    /// Tags.
    pub tags: Tags,
}

/// `aws_iam_role_policy_attachment`.
#[derive(Debug, Serialize)]
pub struct AwsIamRolePolicyAttachment {
    /// The role (its name; the provider's `id` of a role is its name).
    pub role: Ref<AwsIamRole>,
    /// Managed policy ARN.
    pub policy_arn: TfString,
}

/// `aws_iam_instance_profile`.
#[derive(Debug, Serialize)]
pub struct AwsIamInstanceProfile {
    /// Profile name.
    pub name: TfString,
    /// The role.
    pub role: Ref<AwsIamRole>,
    /// Tags.
    pub tags: Tags,
}

/// `aws_iam_openid_connect_provider`.
#[derive(Debug, Serialize)]
pub struct AwsIamOpenidConnectProvider {
    /// Issuer URL.
    pub url: TfString,
    /// Audiences (client ids) tokens must be issued for.
    pub client_id_list: Vec<TfString>,
    /// Tags.
    pub tags: Tags,
}

resource_type! {
    AwsIamOpenidConnectProvider => "aws_iam_openid_connect_provider",
    AwsIamRole => "aws_iam_role",
    AwsIamPolicy => "aws_iam_policy",
    AwsIamRolePolicy => "aws_iam_role_policy",
    AwsIamRolePolicyAttachment => "aws_iam_role_policy_attachment",
    AwsIamInstanceProfile => "aws_iam_instance_profile",
}
