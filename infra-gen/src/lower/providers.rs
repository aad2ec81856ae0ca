//! Terraform settings, the S3 backend, the AWS provider and the input variables. The bootstrap
//! module shares the settings and the provider ([`lower_settings`]), not the backend or the
//! platform's variables.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

use crate::lower::ctx::{BACKEND, PLATFORM_TAG, PROVIDERS, VARIABLES, VERSIONS};
use crate::lower::handles::Vars;
use crate::model::Platform;
use crate::model::names::Cidr;
use crate::tf::{
    Document, ProviderRequirement, TerraformBlock, TfError, TfString, Validation, VarRef, Variable,
};

#[derive(Serialize)]
struct AwsProvider {
    region: TfString,
    default_tags: DefaultTags,
}

#[derive(Serialize)]
struct DefaultTags {
    tags: BTreeMap<&'static str, TfString>,
}

/// A `list(string)` variable of IPv4 CIDR blocks (`cidrnetmask` refuses IPv6: each becomes a
/// rule's `cidr_ipv4`), defaulting to the configured ones. `extra` adds a
/// condition on each element `c` and the matching words to the error message.
fn cidr_variable(
    doc: &mut Document,
    name: &str,
    description: &'static str,
    cidrs: &[Cidr],
    extra: (&str, &str),
) -> Result<VarRef, TfError> {
    let (condition, message) = extra;
    doc.variable(
        VARIABLES,
        name,
        Variable {
            type_: "list(string)",
            description,
            default: Some(json!(
                cidrs.iter().map(ToString::to_string).collect::<Vec<_>>()
            )),
            validation: vec![Validation::new(
                &format!("alltrue([for c in var.{name} : can(cidrnetmask(c)){condition}])"),
                &format!("{name} must be IPv4 CIDR blocks{message}."),
            )],
        },
    )
}

/// The `terraform` requirements, the `region` variable and the AWS provider with the platform's
/// default tags: what every root module infra-gen emits starts with.
pub(crate) fn lower_settings(doc: &mut Document, platform: &Platform) -> Result<(), TfError> {
    doc.terraform(
        VERSIONS,
        TerraformBlock {
            required_version: Some(">= 1.10"),
            required_providers: BTreeMap::from([(
                "aws",
                ProviderRequirement {
                    source: "hashicorp/aws",
                    version: "~> 5.100",
                },
            )]),
            ..TerraformBlock::default()
        },
    );
    let tags = BTreeMap::from([
        ("Project", TfString::lit("hadrian-ml")),
        (PLATFORM_TAG, TfString::lit(platform.name.to_string())),
        ("Environment", TfString::lit(&platform.environment)),
        ("Owner", TfString::lit(&platform.owner)),
        ("ManagedBy", TfString::lit("infra-gen")),
    ]);
    let region = doc.variable(
        VARIABLES,
        "region",
        Variable {
            type_: "string",
            description: "AWS region to deploy into.",
            default: Some(json!(platform.region)),
            validation: vec![Validation::new(
                "can(regex(\"^[a-z]{2}(-[a-z]+)+-[0-9]$\", var.region))",
                "region must look like us-east-1.",
            )],
        },
    )?;
    doc.provider(
        PROVIDERS,
        "aws",
        &AwsProvider {
            region: region.string(),
            default_tags: DefaultTags { tags },
        },
    )?;
    Ok(())
}

pub(crate) fn lower(doc: &mut Document, platform: &Platform) -> Result<Vars, TfError> {
    lower_settings(doc, platform)?;
    doc.comment(
        BACKEND,
        "S3 state with native S3 locking. bucket, key and region are given at init: terraform init -backend-config=backend.hcl. For local state, delete this file or override it with backend_override.tf.json.",
    );
    doc.terraform(
        BACKEND,
        TerraformBlock {
            backend: BTreeMap::from([("s3", json!({ "use_lockfile": true, "encrypt": true }))]),
            ..TerraformBlock::default()
        },
    );
    let admin_cidrs = cidr_variable(
        doc,
        "admin_cidrs",
        "CIDR blocks allowed to SSH to the ETL host. Empty means SSM Session Manager only.",
        &platform.network.admin_cidrs,
        (
            " && !endswith(c, \"/0\")",
            ", and none may be world-open (/0)",
        ),
    )?;
    let http_cidrs = cidr_variable(
        doc,
        "http_cidrs",
        "CIDR blocks allowed to reach the ETL host on HTTP port 80.",
        &platform.network.http_cidrs,
        ("", ""),
    )?;
    let ami_parameter = doc.variable(
        VARIABLES,
        "ubuntu_ami_ssm_parameter",
        Variable {
            type_: "string",
            description: "SSM parameter holding the ETL host's Ubuntu 24.04 LTS AMI id (Canonical's public parameter by default).",
            default: Some(json!(platform.compute.ami_ssm_parameter)),
            validation: vec![Validation::new(
                "startswith(var.ubuntu_ami_ssm_parameter, \"/\")",
                "ubuntu_ami_ssm_parameter must be an SSM parameter path.",
            )],
        },
    )?;
    Ok(Vars {
        admin_cidrs,
        http_cidrs,
        ami_parameter,
    })
}
