//! Security policy rules, run on every generated document before anything is written.
//!
//! The rules read the Terraform JSON of each resource, so they judge what is emitted, not what
//! the model meant. A resource may be exempt from a rule only through a [`Suppression`] with a
//! written reason, which is emitted next to it as a `"//"` comment. A suppression for a rule that
//! does not fire is itself a violation, so exemptions cannot outlive their cause.
//!
//! [`Suppression`]: crate::tf::Suppression

use std::collections::BTreeSet;
use std::fmt;

use serde_json::Value;

use crate::tf::{Document, ResourceView};

/// One broken rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Rule id.
    pub rule: &'static str,
    /// Resource address.
    pub address: String,
    /// What is wrong.
    pub message: String,
}

/// Every violation in a document.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct PolicyViolations(pub Vec<Violation>);

impl fmt::Display for PolicyViolations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} policy violation(s)", self.0.len())?;
        for v in &self.0 {
            write!(f, "\n  {}: [{}] {}", v.address, v.rule, v.message)?;
        }
        Ok(())
    }
}

const WORLD: [&str; 2] = ["0.0.0.0/0", "::/0"];

/// Why an EC2 `Describe*` call may name no resource.
const EC2_DESCRIBE: &str =
    "EC2 Describe* calls do not support resource-level permissions; the resource must be *";

/// Why an Auto Scaling `Describe*` call may name no resource.
const AUTOSCALING_DESCRIBE: &str = "Auto Scaling Describe* calls do not support resource-level permissions; the resource must be *";

/// Why the SSM agent's Session Manager channels may name no resource.
const SSM_MESSAGES: &str =
    "ssmmessages defines no resource type: the agent opens channels for its own instance only";

/// Why the SSM agent's Run Command message calls may name no resource.
const EC2_MESSAGES: &str =
    "ec2messages defines no resource type: the agent polls the messages for its own instance only";

/// Actions that have no resource-level permissions in IAM, so a statement granting only these
/// may (and must) use the resource `*`; each with the reason.
pub const UNSCOPED_ACTIONS: [(&str, &str); 42] = [
    (
        "ecr:GetAuthorizationToken",
        "the registry login token is account-wide; ECR defines no resource for it",
    ),
    (
        "ssm:GetCommandInvocation",
        "Run Command results are read by command id; SSM defines no resource for it",
    ),
    (
        "ssm:CancelCommand",
        "commands are cancelled by command id; SSM defines no resource for it (nor a condition key), so the \
         deploy role could cancel another command in flight: availability only, it reads and changes nothing",
    ),
    (
        "ssm:DescribeParameters",
        "listing parameters defines no resource; reads and writes are scoped to names",
    ),
    (
        "iam:ListOpenIDConnectProviders",
        "listing the account's OIDC providers defines no resource; changes name the GitHub provider",
    ),
    (
        "logs:DescribeLogGroups",
        "listing log groups is not controlled per group; changes are scoped to the platform's groups",
    ),
    ("ssmmessages:CreateControlChannel", SSM_MESSAGES),
    ("ssmmessages:CreateDataChannel", SSM_MESSAGES),
    ("ssmmessages:OpenControlChannel", SSM_MESSAGES),
    ("ssmmessages:OpenDataChannel", SSM_MESSAGES),
    ("ec2messages:AcknowledgeMessage", EC2_MESSAGES),
    ("ec2messages:DeleteMessage", EC2_MESSAGES),
    ("ec2messages:FailMessage", EC2_MESSAGES),
    ("ec2messages:GetEndpoint", EC2_MESSAGES),
    ("ec2messages:GetMessages", EC2_MESSAGES),
    ("ec2messages:SendReply", EC2_MESSAGES),
    ("ec2:DescribeAccountAttributes", EC2_DESCRIBE),
    ("ec2:DescribeLaunchTemplateVersions", EC2_DESCRIBE),
    ("ec2:DescribeLaunchTemplates", EC2_DESCRIBE),
    (
        "autoscaling:DescribeAutoScalingGroups",
        AUTOSCALING_DESCRIBE,
    ),
    (
        "autoscaling:DescribeInstanceRefreshes",
        AUTOSCALING_DESCRIBE,
    ),
    ("autoscaling:DescribeLifecycleHooks", AUTOSCALING_DESCRIBE),
    ("autoscaling:DescribePolicies", AUTOSCALING_DESCRIBE),
    (
        "autoscaling:DescribeScalingActivities",
        AUTOSCALING_DESCRIBE,
    ),
    ("autoscaling:DescribeWarmPool", AUTOSCALING_DESCRIBE),
    ("ec2:DescribeAddresses", EC2_DESCRIBE),
    ("ec2:DescribeAddressesAttribute", EC2_DESCRIBE),
    ("ec2:DescribeAvailabilityZones", EC2_DESCRIBE),
    ("ec2:DescribeFlowLogs", EC2_DESCRIBE),
    ("ec2:DescribeImages", EC2_DESCRIBE),
    ("ec2:DescribeInstanceCreditSpecifications", EC2_DESCRIBE),
    ("ec2:DescribeInstanceTypes", EC2_DESCRIBE),
    ("ec2:DescribeInstances", EC2_DESCRIBE),
    ("ec2:DescribeInternetGateways", EC2_DESCRIBE),
    ("ec2:DescribeNetworkInterfaces", EC2_DESCRIBE),
    ("ec2:DescribeRouteTables", EC2_DESCRIBE),
    ("ec2:DescribeSecurityGroupRules", EC2_DESCRIBE),
    ("ec2:DescribeSecurityGroups", EC2_DESCRIBE),
    ("ec2:DescribeSubnets", EC2_DESCRIBE),
    ("ec2:DescribeTags", EC2_DESCRIBE),
    ("ec2:DescribeVolumes", EC2_DESCRIBE),
    ("ec2:DescribeVpcs", EC2_DESCRIBE),
];

/// Managed policies that grant IAM administration and must never be attached.
const ADMIN_POLICIES: [&str; 2] = ["AdministratorAccess", "IAMFullAccess"];

/// AWS managed policies that grant whole services or most of AWS: never least privilege.
/// `ReadOnlyAccess` reads every object, parameter, log and secret's metadata of the account.
const BROAD_POLICIES: [&str; 3] = ["PowerUserAccess", "FullAccess", "/ReadOnlyAccess"];

/// Checks every rule against every resource.
pub fn check(doc: &Document) -> Result<(), PolicyViolations> {
    let resources = doc.resources();
    let mut found = Vec::new();
    for r in &resources {
        let mut fire = |rule: &'static str, message: String| found.push((r, rule, message));
        match r.type_ {
            "aws_vpc_security_group_ingress_rule" | "aws_vpc_security_group_egress_rule" => {
                security_group_rule(doc, r, &mut fire);
            }
            "aws_db_instance" => {
                if r.body["publicly_accessible"] != Value::Bool(false) {
                    fire(
                        "public-database",
                        "publicly_accessible must be false".into(),
                    );
                }
                if r.body["storage_encrypted"] != Value::Bool(true) {
                    fire("encryption", "storage_encrypted must be true".into());
                }
            }
            "aws_instance" => {
                if r.body["metadata_options"]["http_tokens"] != "required" {
                    fire(
                        "imdsv2",
                        "metadata_options.http_tokens must be \"required\"".into(),
                    );
                }
                if r.body["root_block_device"]["encrypted"] != Value::Bool(true) {
                    fire(
                        "encryption",
                        "root_block_device.encrypted must be true".into(),
                    );
                }
            }
            "aws_launch_template" => {
                if r.body["metadata_options"]["http_tokens"] != "required" {
                    fire(
                        "imdsv2",
                        "metadata_options.http_tokens must be \"required\"".into(),
                    );
                }
                let devices = r.body["block_device_mappings"].as_array();
                if devices.is_none_or(|d| {
                    d.is_empty() || d.iter().any(|m| m["ebs"]["encrypted"] != "true")
                }) {
                    fire(
                        "encryption",
                        "every block_device_mappings.ebs must be encrypted".into(),
                    );
                }
            }
            "aws_sqs_queue"
                if r.body["kms_master_key_id"]
                    .as_str()
                    .is_none_or(str::is_empty) =>
            {
                fire("encryption", "queue has no kms_master_key_id".into());
            }
            "aws_sqs_queue_policy" => {
                let denies_plain_http = policy_document(doc, &r.body["policy"])
                    .and_then(|d| d["statement"].as_array())
                    .is_some_and(|statements| {
                        statements.iter().any(|s| {
                            s["effect"] == "Deny"
                                && s["condition"].as_array().is_some_and(|c| {
                                    c.iter().any(|c| {
                                        c["variable"] == "aws:SecureTransport"
                                            && c["values"] == serde_json::json!(["false"])
                                    })
                                })
                        })
                    });
                if !denies_plain_http {
                    fire(
                        "tls-only",
                        "the queue policy must deny requests without TLS (aws:SecureTransport false)".into(),
                    );
                }
            }
            "aws_cloudwatch_log_group" if r.body.get("kms_key_id").is_none() => {
                fire("encryption", "log group has no kms_key_id".into());
            }
            "aws_kms_key" if r.body["enable_key_rotation"] != Value::Bool(true) => {
                fire("kms-rotation", "enable_key_rotation must be true".into());
            }
            "aws_s3_bucket" => bucket(&resources, r, &mut fire),
            "aws_iam_role_policy" | "aws_iam_policy" => identity_policy(doc, r, &mut fire),
            "aws_iam_role" => oidc_trust(doc, r, &mut fire),
            "aws_iam_role_policy_attachment" => {
                let arn = r.body["policy_arn"].as_str().unwrap_or_default();
                if ADMIN_POLICIES
                    .iter()
                    .any(|p| arn.ends_with(&format!("/{p}")))
                {
                    fire("admin-policy", format!("attaches the managed policy {arn}"));
                } else if arn.contains(":iam::aws:policy/")
                    && BROAD_POLICIES.iter().any(|p| arn.ends_with(p))
                {
                    fire(
                        "broad-managed-policy",
                        format!("attaches the broad AWS managed policy {arn}"),
                    );
                }
            }
            _ => {}
        }
    }

    let mut violations = Vec::new();
    let mut fired = BTreeSet::new();
    for (r, rule, message) in found {
        fired.insert((r.type_, r.name, rule));
        if !r.suppressions.iter().any(|s| s.rule == rule) {
            violations.push(Violation {
                rule,
                address: format!("{}.{}", r.type_, r.name),
                message,
            });
        }
    }
    for r in &resources {
        for s in r
            .suppressions
            .iter()
            .filter(|s| !fired.contains(&(r.type_, r.name, s.rule)))
        {
            violations.push(Violation {
                rule: s.rule,
                address: format!("{}.{}", r.type_, r.name),
                message: "suppression for a rule that does not fire; remove it".into(),
            });
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(PolicyViolations(violations))
    }
}

/// The CIDRs a rule admits: its `cidr_ipv4`, or for a rule repeated over
/// `for_each = "${toset(var.x)}"` with `cidr_ipv4 = "${each.value}"`, the variable's default.
fn cidrs<'a>(doc: &'a Document, body: &'a Value) -> Vec<&'a str> {
    let Some(cidr) = body["cidr_ipv4"].as_str() else {
        return Vec::new();
    };
    if cidr != "${each.value}" {
        return vec![cidr];
    }
    body["for_each"]
        .as_str()
        .and_then(|s| s.strip_prefix("${toset(var."))
        .and_then(|s| s.strip_suffix(")}"))
        .and_then(|var| doc.variable_default(var))
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn security_group_rule(
    doc: &Document,
    r: &ResourceView<'_>,
    fire: &mut impl FnMut(&'static str, String),
) {
    let world = cidrs(doc, r.body).into_iter().any(|c| WORLD.contains(&c));
    if !world {
        return;
    }
    let from = r.body["from_port"].as_u64().unwrap_or(0);
    let to = r.body["to_port"].as_u64().unwrap_or(65535);
    if r.type_ == "aws_vpc_security_group_egress_rule" {
        fire(
            "open-egress",
            format!("egress to the whole internet on ports {from}-{to}"),
        );
    } else if (from..=to).contains(&22) {
        fire("ssh-world", "SSH open to the whole internet".into());
    } else if !(from == to && (from == 80 || from == 443)) {
        fire(
            "world-ingress",
            format!("ports {from}-{to} open to the whole internet"),
        );
    }
}

/// The `aws_iam_policy_document` a `${data.aws_iam_policy_document.<name>.json}` reference names.
fn policy_document<'a>(doc: &'a Document, reference: &Value) -> Option<&'a Value> {
    reference
        .as_str()
        .and_then(|p| p.strip_prefix("${data.aws_iam_policy_document."))
        .and_then(|p| p.strip_suffix(".json}"))
        .and_then(|name| doc.data_source("aws_iam_policy_document", name))
}

/// The strings in `statement[key]`, for `actions`, `resources` and `values`.
fn strings(statement: &Value, key: &str) -> Vec<String> {
    statement[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// A role trusted through a web identity (GitHub's OIDC provider) must pin the token's audience
/// to `sts.amazonaws.com` and its subject to exact values with `StringEquals`; without the
/// `sub` condition any repository on GitHub could assume it.
fn oidc_trust(doc: &Document, r: &ResourceView<'_>, fire: &mut impl FnMut(&'static str, String)) {
    let Some(policy) = policy_document(doc, &r.body["assume_role_policy"]) else {
        return;
    };
    for statement in policy["statement"].as_array().into_iter().flatten() {
        let federated = statement["principals"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["type"] == "Federated");
        if !federated {
            continue;
        }
        let conditions: Vec<&Value> = statement["condition"]
            .as_array()
            .into_iter()
            .flatten()
            .collect();
        let exact = |suffix: &str| {
            conditions
                .iter()
                .filter(|c| {
                    c["test"] == "StringEquals"
                        && c["variable"].as_str().is_some_and(|v| v.ends_with(suffix))
                })
                .map(|c| strings(c, "values"))
                .next()
        };
        if exact(":aud").as_deref() != Some(&["sts.amazonaws.com".to_owned()][..]) {
            fire(
                "oidc-trust",
                format!(
                    "statement {} does not pin the audience to sts.amazonaws.com with StringEquals",
                    statement["sid"]
                ),
            );
        }
        let subjects = exact(":sub").unwrap_or_default();
        if subjects.is_empty() || subjects.iter().any(|s| s.contains(['*', '?'])) {
            fire(
                "oidc-trust",
                format!(
                    "statement {} does not pin the subject to exact values with StringEquals",
                    statement["sid"]
                ),
            );
        }
        if conditions.iter().any(|c| {
            c["test"] != "StringEquals"
                && c["variable"].as_str().is_some_and(|v| v.ends_with(":sub"))
        }) {
            fire(
                "oidc-trust",
                format!(
                    "statement {} widens the subject with a pattern test",
                    statement["sid"]
                ),
            );
        }
    }
}

/// Identity policies must name exact resources and actions: no `service:*`, and the resource `*`
/// only for a statement whose every action is in [`UNSCOPED_ACTIONS`]. No request-tag condition
/// makes `*` acceptable: it does not say which existing resource a call may touch (tagging a
/// foreign KMS key with the platform tag would bring it under the platform's grants).
fn identity_policy(
    doc: &Document,
    r: &ResourceView<'_>,
    fire: &mut impl FnMut(&'static str, String),
) {
    let Some(policy) = policy_document(doc, &r.body["policy"]) else {
        fire(
            "wildcard-identity-policy",
            "policy is not a declared aws_iam_policy_document".into(),
        );
        return;
    };
    for statement in policy["statement"].as_array().into_iter().flatten() {
        let actions = strings(statement, "actions");
        let wide_actions: Vec<&String> = actions
            .iter()
            .filter(|a| *a == "*" || a.ends_with(":*"))
            .collect();
        let unscoped = actions
            .iter()
            .all(|a| UNSCOPED_ACTIONS.iter().any(|(u, _)| u == a));
        let any_resource = strings(statement, "resources").iter().any(|res| res == "*");
        if any_resource && !unscoped || !wide_actions.is_empty() {
            fire(
                "wildcard-identity-policy",
                format!(
                    "statement {} grants wildcard resources or actions {wide_actions:?}",
                    statement["sid"]
                ),
            );
        }
    }
}

fn bucket(
    resources: &[ResourceView<'_>],
    r: &ResourceView<'_>,
    fire: &mut impl FnMut(&'static str, String),
) {
    let id = format!("${{aws_s3_bucket.{}.id}}", r.name);
    let config = |type_: &str| {
        resources
            .iter()
            .find(|c| c.type_ == type_ && c.body["bucket"] == id.as_str())
    };
    if config("aws_s3_bucket_server_side_encryption_configuration").is_none() {
        fire(
            "encryption",
            "bucket has no server-side encryption configuration".into(),
        );
    }
    let blocked = config("aws_s3_bucket_public_access_block").is_some_and(|pab| {
        [
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        ]
        .iter()
        .all(|k| pab.body[*k] == Value::Bool(true))
    });
    if !blocked {
        fire(
            "public-access",
            "bucket lacks a public access block with all four settings on".into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::marker::PhantomData;

    use serde_json::json;

    use crate::policy::{UNSCOPED_ACTIONS, check};
    use crate::tf::compute::{
        AwsLaunchTemplate, BlockDeviceMapping, Enabled, LaunchTemplateEbs, LaunchTemplateProfile,
        MetadataOptions,
    };
    use crate::tf::data::{AwsIamPolicyDocument, Condition, Principals, Statement};
    use crate::tf::iam::{AwsIamRole, AwsIamRolePolicy, AwsIamRolePolicyAttachment};
    use crate::tf::network::{
        AwsSecurityGroup, AwsVpc, AwsVpcSecurityGroupRule, Egress, Ingress, Peer,
    };
    use crate::tf::sqs::{AwsSqsQueue, AwsSqsQueuePolicy};
    use crate::tf::storage::AwsS3Bucket;
    use crate::tf::{
        Document, Expr, FileId, Handle, Meta, Ref, Suppression, Tags, TfString, Variable,
    };

    const F: FileId = FileId("t");

    fn doc_with_rule(direction: &str, port: u16, cidr: &str, meta: Meta) -> Document {
        add_rule(
            Document::default(),
            direction,
            port,
            TfString::lit(cidr),
            meta,
        )
    }

    fn rule<D>(
        group: Ref<AwsSecurityGroup>,
        port: u16,
        cidr: TfString,
    ) -> AwsVpcSecurityGroupRule<D> {
        AwsVpcSecurityGroupRule {
            security_group_id: group,
            description: "r".into(),
            ip_protocol: "tcp",
            from_port: port,
            to_port: port,
            peer: Peer::Cidr(cidr),
            direction: PhantomData,
        }
    }

    fn add_rule(
        mut doc: Document,
        direction: &str,
        port: u16,
        cidr: TfString,
        meta: Meta,
    ) -> Document {
        let vpc = doc
            .resource(
                F,
                "v",
                &AwsVpc {
                    cidr_block: "10.0.0.0/16".into(),
                    enable_dns_support: true,
                    enable_dns_hostnames: true,
                    tags: Tags::new(),
                },
            )
            .unwrap();
        let sg = doc
            .resource(
                F,
                "g",
                &AwsSecurityGroup {
                    name: "g".into(),
                    description: "g".into(),
                    vpc_id: vpc.id(),
                    tags: Tags::new(),
                },
            )
            .unwrap();
        if direction == "egress" {
            doc.resource_with(F, "r", &rule::<Egress>(sg.id(), port, cidr), meta)
                .unwrap();
        } else {
            doc.resource_with(F, "r", &rule::<Ingress>(sg.id(), port, cidr), meta)
                .unwrap();
        }
        doc
    }

    fn rules(doc: &Document) -> Vec<&'static str> {
        check(doc)
            .err()
            .map(|v| v.0.iter().map(|v| v.rule).collect())
            .unwrap_or_default()
    }

    #[test]
    fn ssh_from_the_world_is_refused_also_through_a_variable_default() {
        assert_eq!(
            rules(&doc_with_rule("ingress", 22, "0.0.0.0/0", Meta::default())),
            ["ssh-world"]
        );
        let mut doc = Document::default();
        let variable = Variable {
            type_: "list(string)",
            description: "x",
            default: Some(json!(["10.0.0.0/8", "0.0.0.0/0"])),
            validation: vec![],
        };
        let var = doc.variable(F, "cidrs", variable).unwrap();
        let each = Meta {
            for_each: Some(Expr::set_of(&var.expr())),
            ..Meta::default()
        };
        let doc = add_rule(doc, "ingress", 22, TfString::each_value(), each);
        assert_eq!(rules(&doc), ["ssh-world"]);
    }

    #[test]
    fn suppressions_need_a_firing_rule_and_are_emitted_as_comments() {
        let suppress = || Meta {
            suppressions: vec![Suppression {
                rule: "open-egress",
                reason: "because",
            }],
            ..Meta::default()
        };
        let doc = doc_with_rule("egress", 443, "0.0.0.0/0", suppress());
        assert!(check(&doc).is_ok());
        let text = &doc.render().unwrap()["t.tf.json"];
        assert!(
            text.contains(r#""//": "policy rule open-egress suppressed: because""#),
            "{text}"
        );
        assert_eq!(
            rules(&doc_with_rule("egress", 443, "0.0.0.0/0", Meta::default())),
            ["open-egress"]
        );
        assert_eq!(
            rules(&doc_with_rule("egress", 443, "10.0.0.0/8", suppress())),
            ["open-egress"]
        );
    }

    /// Adds a role `name` with `assume_role_policy`.
    fn add_role(
        doc: &mut Document,
        name: &str,
        assume_role_policy: TfString,
    ) -> Handle<AwsIamRole> {
        doc.resource(
            F,
            name,
            &AwsIamRole {
                name: name.into(),
                description: name.into(),
                assume_role_policy,
                permissions_boundary: None,
                tags: Tags::new(),
            },
        )
        .unwrap()
    }

    /// Adds a role with `assume_role_policy` and an inline policy of one `statement`.
    fn with_role_policy(
        mut doc: Document,
        assume_role_policy: TfString,
        statement: Statement,
    ) -> Document {
        let role = add_role(&mut doc, "r", assume_role_policy);
        let policy = doc
            .data(
                F,
                "p",
                &AwsIamPolicyDocument {
                    statement: vec![statement],
                },
            )
            .unwrap();
        doc.resource(
            F,
            "p",
            &AwsIamRolePolicy {
                name: "p".into(),
                role: role.id(),
                policy: policy.attr("json"),
            },
        )
        .unwrap();
        doc
    }

    fn statement(actions: Vec<&'static str>, resource: &str) -> Statement {
        Statement {
            sid: "S",
            effect: "Allow",
            actions,
            resources: vec![TfString::lit(resource)],
            principals: vec![],
            condition: vec![],
        }
    }

    #[test]
    fn identity_policies_with_wildcards_are_refused() {
        let doc = with_role_policy(
            Document::default(),
            "{}".into(),
            statement(vec!["s3:*"], "*"),
        );
        assert_eq!(rules(&doc), ["wildcard-identity-policy"]);
    }

    /// A document with one role trusted through `Federated` with the given conditions, and an
    /// inline policy with one statement of `actions` on `resource`.
    fn role_doc(
        conditions: Vec<Condition>,
        actions: Vec<&'static str>,
        resource: &str,
    ) -> Document {
        let mut doc = Document::default();
        let trust = doc
            .data(
                F,
                "trust",
                &AwsIamPolicyDocument {
                    statement: vec![Statement {
                        sid: "Oidc",
                        effect: "Allow",
                        actions: vec!["sts:AssumeRoleWithWebIdentity"],
                        resources: vec![],
                        principals: vec![Principals {
                            type_: "Federated",
                            identifiers: vec![TfString::lit("arn:aws:iam::1:oidc-provider/x")],
                        }],
                        condition: conditions,
                    }],
                },
            )
            .unwrap();
        with_role_policy(doc, trust.attr("json"), statement(actions, resource))
    }

    fn condition(test: &'static str, variable: &'static str, value: &str) -> Condition {
        Condition {
            test,
            variable,
            values: vec![TfString::lit(value)],
        }
    }

    const AUD: &str = "token.actions.githubusercontent.com:aud";
    const SUB: &str = "token.actions.githubusercontent.com:sub";

    #[test]
    fn oidc_trust_must_pin_audience_and_exact_subjects() {
        let aud = || condition("StringEquals", AUD, "sts.amazonaws.com");
        let sub = || condition("StringEquals", SUB, "repo:o/r:ref:refs/heads/main");
        let ok = vec!["s3:GetObject"];
        let arn = "arn:aws:s3:::b/k";
        assert!(check(&role_doc(vec![aud(), sub()], ok.clone(), arn)).is_ok());
        assert_eq!(
            rules(&role_doc(vec![sub()], ok.clone(), arn)),
            ["oidc-trust"]
        );
        assert_eq!(
            rules(&role_doc(vec![aud()], ok.clone(), arn)),
            ["oidc-trust"]
        );
        let pattern = condition("StringLike", SUB, "repo:o/*");
        assert_eq!(
            rules(&role_doc(vec![aud(), sub(), pattern], ok.clone(), arn)),
            ["oidc-trust"]
        );
        let wildcard = condition("StringEquals", SUB, "repo:o/r:*");
        assert_eq!(
            rules(&role_doc(vec![aud(), wildcard], ok, arn)),
            ["oidc-trust"]
        );
    }

    #[test]
    fn the_any_resource_is_allowed_only_for_actions_without_resource_permissions() {
        let pinned = || {
            vec![
                condition("StringEquals", AUD, "sts.amazonaws.com"),
                condition("StringEquals", SUB, "repo:o/r:pull_request"),
            ]
        };
        let login = vec!["ecr:GetAuthorizationToken", "ec2:DescribeInstances"];
        assert!(check(&role_doc(pinned(), login, "*")).is_ok());
        let mixed = vec!["ecr:GetAuthorizationToken", "ecr:PutImage"];
        assert_eq!(
            rules(&role_doc(pinned(), mixed, "*")),
            ["wildcard-identity-policy"]
        );
        let create = || statement(vec!["kms:CreateKey", "kms:TagResource"], "*");
        let untagged = with_role_policy(Document::default(), "{}".into(), create());
        assert_eq!(rules(&untagged), ["wildcard-identity-policy"]);
        let tagged = Statement {
            condition: vec![condition("StringEquals", "aws:RequestTag/Platform", "p")],
            ..create()
        };
        assert_eq!(
            rules(&with_role_policy(Document::default(), "{}".into(), tagged)),
            ["wildcard-identity-policy"]
        );
        for (action, reason) in &UNSCOPED_ACTIONS {
            assert!(action.contains(':') && !action.ends_with('*'), "{action}");
            assert!(reason.len() > 20, "{action} needs a reason");
        }
    }

    #[test]
    fn admin_policies_are_never_attached() {
        let mut doc = role_doc(vec![], vec!["s3:GetObject"], "arn:aws:s3:::b/k");
        let role = add_role(&mut doc, "admin", "{}".into());
        doc.resource(
            F,
            "admin",
            &AwsIamRolePolicyAttachment {
                role: role.id(),
                policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".into(),
            },
        )
        .unwrap();
        assert_eq!(rules(&doc), ["oidc-trust", "oidc-trust", "admin-policy"]);
    }

    #[test]
    fn broad_aws_managed_policies_are_never_attached() {
        let attach = |arn: &str| {
            let mut doc = Document::default();
            let role = add_role(&mut doc, "r", "{}".into());
            doc.resource(
                F,
                "a",
                &AwsIamRolePolicyAttachment {
                    role: role.id(),
                    policy_arn: arn.into(),
                },
            )
            .unwrap();
            rules(&doc)
        };
        assert_eq!(
            attach("arn:aws:iam::aws:policy/PowerUserAccess"),
            ["broad-managed-policy"]
        );
        assert_eq!(
            attach("arn:aws:iam::aws:policy/AmazonEC2FullAccess"),
            ["broad-managed-policy"]
        );
        assert_eq!(
            attach("arn:aws:iam::aws:policy/ReadOnlyAccess"),
            ["broad-managed-policy"]
        );
        assert!(attach("arn:aws:iam::aws:policy/AWSSupportServiceRolePolicy").is_empty());
        assert!(attach("arn:aws:iam::1:policy/demo-FullAccess").is_empty());
    }

    #[test]
    fn bare_buckets_are_refused() {
        let mut doc = Document::default();
        doc.resource(
            F,
            "b",
            &AwsS3Bucket {
                bucket: "b".into(),
                force_destroy: false,
                tags: Tags::new(),
            },
        )
        .unwrap();
        assert_eq!(rules(&doc), ["encryption", "public-access"]);
    }

    /// A queue and its policy, the policy built from `statements`.
    fn queue_doc(key: &str, statements: Vec<Statement>) -> Document {
        let mut doc = Document::default();
        let queue = doc
            .resource(
                F,
                "q",
                &AwsSqsQueue {
                    name: "q".into(),
                    kms_master_key_id: TfString::lit(key),
                    kms_data_key_reuse_period_seconds: 300,
                    message_retention_seconds: 86_400,
                    receive_wait_time_seconds: 20,
                    visibility_timeout_seconds: 300,
                    redrive_policy: None,
                    redrive_allow_policy: None,
                    tags: Tags::new(),
                },
            )
            .unwrap();
        let policy = doc
            .data(
                F,
                "q",
                &AwsIamPolicyDocument {
                    statement: statements,
                },
            )
            .unwrap();
        doc.resource(
            F,
            "q",
            &AwsSqsQueuePolicy {
                queue_url: queue.attr("id"),
                policy: policy.attr("json"),
            },
        )
        .unwrap();
        doc
    }

    #[test]
    fn queues_are_encrypted_and_their_policies_deny_plain_http() {
        let tls_deny = || Statement::deny_without_tls(vec!["sqs:*"], vec![TfString::lit("*")]);
        assert!(check(&queue_doc("arn:aws:kms:k", vec![tls_deny()])).is_ok());
        let rules = |doc: &Document| -> Vec<&'static str> {
            check(doc).unwrap_err().0.iter().map(|v| v.rule).collect()
        };
        assert_eq!(rules(&queue_doc("", vec![tls_deny()])), ["encryption"]);
        let allow_only = Statement {
            effect: "Allow",
            condition: Vec::new(),
            ..tls_deny()
        };
        assert_eq!(
            rules(&queue_doc("arn:aws:kms:k", vec![allow_only])),
            ["tls-only"]
        );
    }

    #[test]
    fn launch_templates_need_imdsv2_and_encrypted_volumes() {
        let template = |http_tokens: &'static str, encrypted: &'static str| {
            let mut doc = Document::default();
            doc.resource(
                F,
                "lt",
                &AwsLaunchTemplate {
                    name: "lt".into(),
                    description: "d".into(),
                    image_id: "ami".into(),
                    instance_type: "t3.small".into(),
                    ebs_optimized: "true",
                    user_data: TfString::default(),
                    update_default_version: true,
                    iam_instance_profile: LaunchTemplateProfile { arn: "p".into() },
                    network_interfaces: Vec::new(),
                    metadata_options: MetadataOptions {
                        http_endpoint: "enabled",
                        http_tokens,
                        http_put_response_hop_limit: 2,
                        instance_metadata_tags: "disabled",
                    },
                    block_device_mappings: vec![BlockDeviceMapping {
                        device_name: "/dev/sda1",
                        ebs: LaunchTemplateEbs {
                            volume_type: "gp3",
                            volume_size: 8,
                            encrypted,
                            kms_key_id: "k".into(),
                            delete_on_termination: "true",
                        },
                    }],
                    monitoring: Enabled { enabled: true },
                    tag_specifications: Vec::new(),
                    tags: Tags::new(),
                },
            )
            .unwrap();
            doc
        };
        assert!(check(&template("required", "true")).is_ok());
        let violations = check(&template("optional", "false")).unwrap_err().0;
        let rules: Vec<&str> = violations.iter().map(|v| v.rule).collect();
        assert_eq!(rules, ["imdsv2", "encryption"]);
    }
}
