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

/// Checks every rule against every resource.
pub fn check(doc: &Document) -> Result<(), PolicyViolations> {
    let resources = doc.resources();
    let mut found = Vec::new();
    for r in &resources {
        let mut fire = |rule: &'static str, message: String| found.push((r, rule, message));
        match r.type_ {
            "aws_security_group_rule" => security_group_rule(doc, r, &mut fire),
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
            "aws_cloudwatch_log_group" if r.body.get("kms_key_id").is_none() => {
                fire("encryption", "log group has no kms_key_id".into());
            }
            "aws_kms_key" if r.body["enable_key_rotation"] != Value::Bool(true) => {
                fire("kms-rotation", "enable_key_rotation must be true".into());
            }
            "aws_s3_bucket" => bucket(&resources, r, &mut fire),
            "aws_iam_role_policy" => identity_policy(doc, r, &mut fire),
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

/// The CIDRs a rule admits, resolving `${var.x}` to the variable's default.
fn cidrs<'a>(doc: &'a Document, value: &'a Value) -> Vec<&'a str> {
    let list = match value
        .as_str()
        .and_then(|s| s.strip_prefix("${var."))
        .and_then(|s| s.strip_suffix('}'))
    {
        Some(var) => doc.variable_default(var).unwrap_or(&Value::Null),
        None => value,
    };
    list.as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn security_group_rule(
    doc: &Document,
    r: &ResourceView<'_>,
    fire: &mut impl FnMut(&'static str, String),
) {
    let world = cidrs(doc, &r.body["cidr_blocks"])
        .into_iter()
        .any(|c| WORLD.contains(&c));
    if !world {
        return;
    }
    let from = r.body["from_port"].as_u64().unwrap_or(0);
    let to = r.body["to_port"].as_u64().unwrap_or(65535);
    if r.body["type"] == "egress" {
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

/// Identity policies must name exact resources and actions: no `*` resource, no `service:*`.
fn identity_policy(
    doc: &Document,
    r: &ResourceView<'_>,
    fire: &mut impl FnMut(&'static str, String),
) {
    let source = r.body["policy"]
        .as_str()
        .and_then(|p| p.strip_prefix("${data.aws_iam_policy_document."))
        .and_then(|p| p.strip_suffix(".json}"))
        .and_then(|name| doc.data_source("aws_iam_policy_document", name));
    let Some(policy) = source else {
        fire(
            "wildcard-identity-policy",
            "policy is not a declared aws_iam_policy_document".into(),
        );
        return;
    };
    for statement in policy["statement"].as_array().into_iter().flatten() {
        let strings = |key: &str| -> Vec<String> {
            statement[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        };
        let wide_actions: Vec<String> = strings("actions")
            .into_iter()
            .filter(|a| a == "*" || a.ends_with(":*"))
            .collect();
        if strings("resources").iter().any(|res| res == "*") || !wide_actions.is_empty() {
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
    use serde_json::json;

    use crate::policy::check;
    use crate::tf::data::{AwsIamPolicyDocument, Statement};
    use crate::tf::iam::{AwsIamRole, AwsIamRolePolicy};
    use crate::tf::network::{AwsSecurityGroup, AwsSecurityGroupRule, AwsVpc, Tags};
    use crate::tf::storage::AwsS3Bucket;
    use crate::tf::{Document, FileId, Meta, Suppression, TfString, Val, Variable};

    const F: FileId = FileId("t");

    fn doc_with_rule(
        type_: &'static str,
        port: u16,
        cidrs: Val<Vec<TfString>>,
        meta: Meta,
    ) -> Document {
        add_rule(Document::default(), type_, port, cidrs, meta)
    }

    fn add_rule(
        mut doc: Document,
        type_: &'static str,
        port: u16,
        cidrs: Val<Vec<TfString>>,
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
        let rule = AwsSecurityGroupRule {
            type_,
            description: "r".into(),
            security_group_id: sg.id(),
            from_port: port,
            to_port: port,
            protocol: "tcp",
            cidr_blocks: Some(cidrs),
            source_security_group_id: None,
        };
        doc.resource_with(F, "r", &rule, meta).unwrap();
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
        let world = Val::Lit(vec![TfString::lit("0.0.0.0/0")]);
        assert_eq!(
            rules(&doc_with_rule("ingress", 22, world, Meta::default())),
            ["ssh-world"]
        );
        let mut doc = Document::default();
        let variable = Variable {
            type_: "list(string)",
            description: "x",
            default: Some(json!(["::/0"])),
            validation: vec![],
        };
        let var = doc.variable(F, "cidrs", variable).unwrap();
        let doc = add_rule(doc, "ingress", 22, Val::Expr(var.expr()), Meta::default());
        assert_eq!(rules(&doc), ["ssh-world"]);
    }

    #[test]
    fn suppressions_need_a_firing_rule_and_are_emitted_as_comments() {
        let world = || Val::Lit(vec![TfString::lit("0.0.0.0/0")]);
        let suppress = || Meta {
            suppressions: vec![Suppression {
                rule: "open-egress",
                reason: "because",
            }],
            ..Meta::default()
        };
        let doc = doc_with_rule("egress", 443, world(), suppress());
        assert!(check(&doc).is_ok());
        let text = &doc.render().unwrap()["t.tf.json"];
        assert!(
            text.contains(r#""//": "policy rule open-egress suppressed: because""#),
            "{text}"
        );
        assert_eq!(
            rules(&doc_with_rule("egress", 443, world(), Meta::default())),
            ["open-egress"]
        );
        let narrow = Val::Lit(vec![TfString::lit("10.0.0.0/8")]);
        assert_eq!(
            rules(&doc_with_rule("egress", 443, narrow, suppress())),
            ["open-egress"]
        );
    }

    #[test]
    fn identity_policies_with_wildcards_are_refused() {
        let mut doc = Document::default();
        let role = doc
            .resource(
                F,
                "r",
                &AwsIamRole {
                    name: "r".into(),
                    description: "r".into(),
                    assume_role_policy: "{}".into(),
                    tags: Tags::new(),
                },
            )
            .unwrap();
        let statement = Statement {
            sid: "All",
            effect: "Allow",
            actions: vec!["s3:*"],
            resources: vec![TfString::lit("*")],
            principals: vec![],
            condition: vec![],
        };
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
        assert_eq!(rules(&doc), ["wildcard-identity-policy"]);
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
}
