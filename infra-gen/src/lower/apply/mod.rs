//! The GitHub apply role's permissions, built from the model instead of an AWS managed policy:
//! exactly the calls Terraform makes to create, read, update and delete the resource types this
//! platform declares, scoped to the platform's names.
//!
//! Scoping follows what each service supports. Services with resource-level permissions (S3,
//! RDS, IAM, CloudWatch Logs, SNS, CloudWatch, SSM, ECR, SQS) get the exact ARNs of what the
//! platform module declares (`ApplyDeps::names`), never a `<name>-*` prefix another platform's
//! names could share; RDS's managed secret, whose name RDS chooses, is reached through its
//! instance tag; the two KMS keys are the bootstrap module's, named by their ARNs. EC2 only
//! supports tag-based control for new resources, so they must carry the provider's default
//! `Platform` tag (`aws:RequestTag`) and existing ones may be changed only when they already
//! carry it (`aws:ResourceTag`). The statements are
//! split into one customer managed policy per area so each stays under IAM's 6,144-character
//! limit for managed policies, one file per area beside this one; the tag helpers live in
//! `scope.rs`, below them, and this file only wires them into policies and attaches those. The
//! plan role's policies are derived from the same tables (`plan.rs`: each statement's
//! configuration reads, never data), so a new resource type reaches both roles.

use crate::lower::ctx::{Ctx, DELIVERY, IAM};
use crate::tf::data::{AwsIamPolicyDocument, Statement};
use crate::tf::iam::{AwsIamPolicy, AwsIamRole, AwsIamRolePolicyAttachment};
use crate::tf::{Document, Handle, TfError, TfString};

mod database;
mod delivery;
mod events;
mod identity;
mod network;
mod observability;
mod plan;
mod scope;
mod storage;

pub(crate) use crate::lower::apply::scope::ApplyDeps;

/// One customer managed policy of the apply role.
pub(crate) struct ApplyPolicy {
    /// Resource name suffix and policy name suffix, e.g. `network`.
    pub(crate) area: &'static str,
    /// What it grants.
    pub(crate) description: &'static str,
    /// What the plan policy derived from it grants.
    pub(crate) plan_description: &'static str,
    /// The statements.
    pub(crate) statements: Vec<Statement>,
}

/// The apply role's policies, one per area.
pub(crate) fn apply_policies(ctx: &Ctx<'_>, mut deps: ApplyDeps) -> Vec<ApplyPolicy> {
    let state = std::mem::take(&mut deps.state);
    vec![
        ApplyPolicy {
            area: "network",
            description: "terraform apply: creating and changing the platform's VPC, subnets, routes, security groups, EIP, ETL host, flow log",
            plan_description: "terraform plan: reading the platform's EC2 resources",
            statements: network::network(ctx, &deps),
        },
        ApplyPolicy {
            area: "lookups",
            description: "terraform apply: EC2 describe calls, the platform's instance and VPC attributes, the AMI parameter",
            plan_description: "terraform plan: EC2 describe calls, the platform's instance and VPC attributes, the AMI parameter",
            statements: network::lookups(ctx, &deps),
        },
        ApplyPolicy {
            area: "storage",
            description: "terraform apply: the platform's buckets, use of its KMS keys",
            plan_description: "terraform plan: the configuration of the platform's buckets, its KMS keys",
            statements: storage::storage(ctx, &deps),
        },
        ApplyPolicy {
            area: "database",
            description: "terraform apply: the platform's RDS instance, its groups and managed secret",
            plan_description: "terraform plan: the platform's RDS instance, its groups, its managed secret's metadata",
            statements: database::database(ctx, &deps),
        },
        ApplyPolicy {
            area: "identity",
            description: "terraform apply: the platform's roles, policies, instance profile, GitHub OIDC provider",
            plan_description: "terraform plan: the platform's roles, policies, instance profile",
            statements: identity::identity(ctx),
        },
        ApplyPolicy {
            area: "observability",
            description: "terraform apply: the platform's log groups, alarm topic, alarms, dashboard, agent parameter",
            plan_description: "terraform plan: the configuration of the platform's log groups, alarm topic, alarms, dashboard, the agent parameter",
            statements: observability::observability(ctx, &deps),
        },
        ApplyPolicy {
            area: "delivery",
            description: "terraform apply: state and lock, the ETL repository, the deploy document",
            plan_description: "terraform plan: the state object, the ETL repository's configuration, the deploy document",
            statements: delivery::delivery(ctx, &deps, state),
        },
        ApplyPolicy {
            area: "events",
            description: "terraform apply: the event queue and its notification, the ETL worker fleet",
            plan_description: "terraform plan: the configuration of the event queues and their notification, the ETL worker fleet",
            statements: events::events_and_fleet(ctx, &deps),
        },
    ]
}

/// The plan role's policies: of each apply policy, the reads a refresh makes on the same
/// resources (`plan.rs`), the policy that holds `state` (the state object's reads) included.
pub(crate) fn plan_policies(apply: &[ApplyPolicy], mut state: Vec<Statement>) -> Vec<ApplyPolicy> {
    apply
        .iter()
        .map(|policy| {
            let mut statements = if policy.area == "delivery" {
                std::mem::take(&mut state)
            } else {
                Vec::new()
            };
            statements.extend(plan::reads_of(&policy.statements));
            ApplyPolicy {
                area: policy.area,
                description: policy.plan_description,
                plan_description: policy.plan_description,
                statements,
            }
        })
        .filter(|policy| !policy.statements.is_empty())
        .collect()
}

/// Creates each policy of the CI role `purpose` (`apply`, `plan`) and attaches it to `role`.
pub(crate) fn attach_policies(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    purpose: &str,
    role: &Handle<AwsIamRole>,
    policies: Vec<ApplyPolicy>,
) -> Result<(), TfError> {
    for policy in policies {
        let name = format!("github_{purpose}_{}", policy.area);
        let document = doc.data(
            IAM,
            &name,
            &AwsIamPolicyDocument {
                statement: policy.statements,
            },
        )?;
        let managed = doc.resource(
            DELIVERY,
            &name,
            &AwsIamPolicy {
                name: ctx.named(&format!("github-{purpose}-{}", policy.area)),
                description: TfString::lit(policy.description),
                policy: document.attr("json"),
                tags: ctx.tags(&format!("github-{purpose}-{}", policy.area)),
            },
        )?;
        doc.resource(
            DELIVERY,
            &name,
            &AwsIamRolePolicyAttachment {
                role: role.id(),
                policy_arn: managed.arn(),
            },
        )?;
    }
    Ok(())
}
