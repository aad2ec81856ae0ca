//! The Terraform JSON vocabulary: a [`Document`] of blocks split into files, typed resources,
//! and the string type that keeps literals and expressions apart.
//!
//! This layer knows nothing about the platform. It guarantees three things the rest of the
//! crate relies on: a literal string can never be interpreted by Terraform (it is escaped on
//! construction), a reference can only be made from a [`Handle`] returned when a block was
//! declared, and every map that reaches the output is a `BTreeMap`, so emission is
//! deterministic.

pub mod compute;
pub mod data;
pub mod database;
pub mod ecr;
pub mod iam;
pub mod logs;
pub mod monitoring;
pub mod network;
pub mod sqs;
pub mod ssm;
pub mod storage;

mod handle;
mod string;

pub use handle::{Address, Handle, Ref, VarRef};
pub use string::{Expr, TfString, escape, hole};

use std::collections::{BTreeMap, BTreeSet};
use std::marker::PhantomData;

use serde::Serialize;
use serde_json::Value;

/// Resource tags; the provider adds the platform-wide default tags. Every resource file uses it.
pub type Tags = BTreeMap<String, TfString>;

/// A Terraform resource type: the struct serializes to the resource's arguments.
pub trait TfResource: Serialize {
    /// The Terraform type name, e.g. `aws_s3_bucket`.
    const TYPE: &'static str;
}

/// A Terraform data source type.
pub trait TfData: Serialize {
    /// The Terraform type name, e.g. `aws_iam_policy_document`.
    const TYPE: &'static str;

    /// A problem the provider would only report at plan time, caught at generation instead.
    fn problem(&self) -> Option<String> {
        None
    }
}

/// Declares the Terraform type name of a resource struct.
macro_rules! resource_type {
    ($($ty:ident => $name:literal),+ $(,)?) => {
        $(impl crate::tf::TfResource for $ty {
            const TYPE: &'static str = $name;
        })+
    };
}
pub(crate) use resource_type;

/// Declares the Terraform type name of a data source struct.
macro_rules! data_type {
    ($($ty:ident => $name:literal),+ $(,)?) => {
        $(impl crate::tf::TfData for $ty {
            const TYPE: &'static str = $name;
        })+
    };
}
pub(crate) use data_type;

/// The name of an output file without the `.tf.json` suffix, e.g. `network`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileId(pub &'static str);

/// A policy rule a resource is exempt from, with the reason written next to it in the output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppression {
    /// The rule id, e.g. `open-egress`.
    pub rule: &'static str,
    /// Why the exemption is safe.
    pub reason: &'static str,
}

/// Meta-arguments that apply to any resource.
#[derive(Clone, Debug, Default)]
pub struct Meta {
    /// One instance per element of a set (see [`Expr::set_of`]); none for an empty set.
    pub for_each: Option<Expr>,
    /// Explicit ordering for dependencies Terraform cannot see.
    pub depends_on: Vec<Address>,
    /// Attribute names whose drift Terraform ignores (bare names, never interpolated).
    pub ignore_changes: Vec<&'static str>,
    /// Policy rules this resource is exempt from; emitted as a `"//"` comment.
    pub suppressions: Vec<Suppression>,
}

/// A `variable` block.
#[derive(Clone, Debug, Serialize)]
pub struct Variable {
    /// Terraform type constraint, e.g. `list(string)`.
    #[serde(rename = "type")]
    pub type_: &'static str,
    /// What the variable is for.
    pub description: &'static str,
    /// The default value; `None` makes the variable required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// Validation rules.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub validation: Vec<Validation>,
}

/// A `validation` block inside a variable; `condition` is an HCL expression on `var.<name>`.
#[derive(Clone, Debug, Serialize)]
pub struct Validation {
    /// Raw expression text wrapped as an interpolation.
    pub condition: TfString,
    /// Shown to the user when the condition is false.
    pub error_message: TfString,
}

impl Validation {
    /// A validation whose condition is the given HCL expression over the variable.
    pub fn new(condition: &str, error_message: &str) -> Self {
        Self {
            condition: TfString::expr(condition),
            error_message: TfString::lit(error_message),
        }
    }
}

/// An `output` block.
#[derive(Clone, Debug, Serialize)]
pub struct Output {
    /// What the value is.
    pub description: &'static str,
    /// The value expression.
    pub value: TfString,
}

/// A `moved` block, recording a rename so Terraform moves state instead of replacing.
#[derive(Clone, Debug, Serialize)]
pub struct Moved {
    /// The old bare address.
    pub from: String,
    /// The new bare address.
    pub to: Address,
}

/// A `removed` block (Terraform >= 1.7): the resource leaves the configuration, and Terraform
/// either destroys it or only forgets it (leaves it running, unmanaged).
#[derive(Clone, Debug, Serialize)]
pub struct Removed {
    /// The old bare address.
    pub from: String,
    /// `{"destroy": bool}`.
    pub lifecycle: RemovedLifecycle,
}

/// The `lifecycle` of a [`Removed`] block.
#[derive(Clone, Debug, Serialize)]
pub struct RemovedLifecycle {
    /// `true` destroys the real object; `false` only removes it from the state.
    pub destroy: bool,
}

/// A provider requirement inside `terraform.required_providers`.
#[derive(Clone, Debug, Serialize)]
pub struct ProviderRequirement {
    /// Registry source, e.g. `hashicorp/aws`.
    pub source: &'static str,
    /// Version constraint.
    pub version: &'static str,
}

/// The `terraform` settings block.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TerraformBlock {
    /// Minimum Terraform CLI version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_version: Option<&'static str>,
    /// Provider requirements by local name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub required_providers: BTreeMap<&'static str, ProviderRequirement>,
    /// Backend type → its static settings; the rest comes from `-backend-config` at init.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub backend: BTreeMap<&'static str, Value>,
}

/// Everything that goes into one `.tf.json` file.
#[derive(Debug, Default, Serialize)]
struct FileBody {
    #[serde(rename = "//", skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    terraform: Option<TerraformBlock>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    provider: BTreeMap<&'static str, Value>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    variable: BTreeMap<String, Variable>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    locals: BTreeMap<String, Value>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    data: BTreeMap<&'static str, BTreeMap<String, Value>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    resource: BTreeMap<&'static str, BTreeMap<String, Value>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    output: BTreeMap<String, Output>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    moved: Vec<Moved>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    removed: Vec<Removed>,
}

/// A declared resource as the policy rules see it.
#[derive(Debug)]
pub struct ResourceView<'a> {
    /// The file the resource is written to.
    pub file: FileId,
    /// Terraform type.
    pub type_: &'a str,
    /// Resource name.
    pub name: &'a str,
    /// Arguments as JSON, meta-arguments included.
    pub body: &'a Value,
    /// Rules the resource is exempt from.
    pub suppressions: &'a [Suppression],
}

/// Errors from building a document.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TfError {
    /// The same address was declared twice.
    #[error("duplicate terraform address {0}")]
    Duplicate(String),
    /// A block the provider would refuse at plan time (a bug in lowering).
    #[error("{address}: {message}")]
    Invalid {
        /// The block's address.
        address: String,
        /// What the provider would refuse.
        message: String,
    },
    /// A document has a hole with no expression for it (a bug in lowering).
    #[error("no expression for the hole {0:?}")]
    Hole(String),
    /// A block could not be converted to JSON.
    #[error("cannot serialize {address}: {message}")]
    Serialize {
        /// The block's address.
        address: String,
        /// The serializer's message.
        message: String,
    },
}

/// A whole Terraform configuration, split into files.
#[derive(Debug, Default)]
pub struct Document {
    files: BTreeMap<FileId, FileBody>,
    addresses: BTreeSet<String>,
    suppressions: BTreeMap<(String, String), Vec<Suppression>>,
}

impl Document {
    fn claim(&mut self, address: String) -> Result<(), TfError> {
        if self.addresses.insert(address.clone()) {
            Ok(())
        } else {
            Err(TfError::Duplicate(address))
        }
    }

    fn file(&mut self, file: FileId) -> &mut FileBody {
        self.files.entry(file).or_default()
    }

    /// Sets the comment at the top of a file.
    pub fn comment(&mut self, file: FileId, text: &str) {
        self.file(file).comment = Some(text.to_owned());
    }

    /// Sets a file's `terraform` block.
    pub fn terraform(&mut self, file: FileId, block: TerraformBlock) {
        self.file(file).terraform = Some(block);
    }

    /// Adds a provider configuration.
    pub fn provider<P: Serialize>(
        &mut self,
        file: FileId,
        name: &'static str,
        config: &P,
    ) -> Result<(), TfError> {
        let value = to_value(&format!("provider.{name}"), config)?;
        self.claim(format!("provider.{name}"))?;
        self.file(file).provider.insert(name, value);
        Ok(())
    }

    /// Declares an input variable.
    pub fn variable(
        &mut self,
        file: FileId,
        name: &str,
        variable: Variable,
    ) -> Result<VarRef, TfError> {
        self.claim(format!("var.{name}"))?;
        self.file(file).variable.insert(name.to_owned(), variable);
        Ok(VarRef(name.to_owned()))
    }

    /// Declares a data source.
    pub fn data<T: TfData>(
        &mut self,
        file: FileId,
        name: &str,
        body: &T,
    ) -> Result<Handle<T>, TfError> {
        let address = format!("data.{}.{name}", T::TYPE);
        if let Some(message) = body.problem() {
            return Err(TfError::Invalid { address, message });
        }
        let value = to_value(&address, body)?;
        self.claim(address.clone())?;
        self.file(file)
            .data
            .entry(T::TYPE)
            .or_default()
            .insert(name.to_owned(), value);
        Ok(Handle {
            address: Address(address),
            kind: PhantomData,
        })
    }

    /// Declares a resource without meta-arguments.
    pub fn resource<T: TfResource>(
        &mut self,
        file: FileId,
        name: &str,
        body: &T,
    ) -> Result<Handle<T>, TfError> {
        self.resource_with(file, name, body, Meta::default())
    }

    /// Declares a resource with meta-arguments.
    pub fn resource_with<T: TfResource>(
        &mut self,
        file: FileId,
        name: &str,
        body: &T,
        meta: Meta,
    ) -> Result<Handle<T>, TfError> {
        let address = format!("{}.{name}", T::TYPE);
        let mut value = to_value(&address, body)?;
        if let Value::Object(map) = &mut value {
            if let Some(for_each) = &meta.for_each {
                map.insert("for_each".into(), Value::String(for_each.0.0.clone()));
            }
            if !meta.depends_on.is_empty() {
                let deps = meta
                    .depends_on
                    .iter()
                    .map(|a| Value::String(a.0.clone()))
                    .collect();
                map.insert("depends_on".into(), Value::Array(deps));
            }
            if !meta.ignore_changes.is_empty() {
                let attrs = meta
                    .ignore_changes
                    .iter()
                    .map(|a| Value::String((*a).into()))
                    .collect();
                map.insert(
                    "lifecycle".into(),
                    serde_json::json!({ "ignore_changes": Value::Array(attrs) }),
                );
            }
            if !meta.suppressions.is_empty() {
                let text = meta
                    .suppressions
                    .iter()
                    .map(|s| format!("policy rule {} suppressed: {}", s.rule, s.reason))
                    .collect::<Vec<_>>()
                    .join("; ");
                map.insert("//".into(), Value::String(text));
            }
        }
        self.claim(address.clone())?;
        self.file(file)
            .resource
            .entry(T::TYPE)
            .or_default()
            .insert(name.to_owned(), value);
        if !meta.suppressions.is_empty() {
            self.suppressions
                .insert((T::TYPE.to_owned(), name.to_owned()), meta.suppressions);
        }
        Ok(Handle {
            address: Address(address),
            kind: PhantomData,
        })
    }

    /// Declares an output.
    pub fn output(&mut self, file: FileId, name: &str, output: Output) -> Result<(), TfError> {
        self.claim(format!("output.{name}"))?;
        self.file(file).output.insert(name.to_owned(), output);
        Ok(())
    }

    /// Declares a local value.
    pub fn local(&mut self, file: FileId, name: &str, value: Value) -> Result<(), TfError> {
        self.claim(format!("local.{name}"))?;
        self.file(file).locals.insert(name.to_owned(), value);
        Ok(())
    }

    /// Records that the resource now at `to` used to live at `from`.
    pub fn moved<T>(&mut self, file: FileId, from: &str, to: &Handle<T>) {
        self.file(file).moved.push(Moved {
            from: from.to_owned(),
            to: to.address(),
        });
    }

    /// Records that the resource at `to` used to live at `from`, both bare addresses. `to` need
    /// not be declared: in a chain of moves (`a → b`, `b → c`) only the last one is.
    pub fn moved_address(&mut self, file: FileId, from: &str, to: &str) {
        self.file(file).moved.push(Moved {
            from: from.to_owned(),
            to: Address(to.to_owned()),
        });
    }

    /// Records that the resource at `from` left the configuration; `destroy` says whether
    /// Terraform destroys it or only forgets it. Refuses a `from` that is still declared.
    pub fn removed(&mut self, file: FileId, from: &str, destroy: bool) -> Result<(), TfError> {
        if self.addresses.contains(from) {
            return Err(TfError::Invalid {
                address: from.to_owned(),
                message: "declared removed but still generated".to_owned(),
            });
        }
        self.file(file).removed.push(Removed {
            from: from.to_owned(),
            lifecycle: RemovedLifecycle { destroy },
        });
        Ok(())
    }

    /// Whether a block (resource, data source, variable, ...) is declared at this address.
    pub fn declares(&self, address: &str) -> bool {
        self.addresses.contains(address)
    }

    /// Every declared data source as `(type, name, body)`, in file then type then name order.
    pub fn data_sources(&self) -> Vec<(&str, &str, &Value)> {
        let mut sources = Vec::new();
        for body in self.files.values() {
            for (type_, by_name) in &body.data {
                for (name, value) in by_name {
                    sources.push((*type_, name.as_str(), value));
                }
            }
        }
        sources
    }

    /// Every declared resource, in file then type then name order.
    pub fn resources(&self) -> Vec<ResourceView<'_>> {
        let mut views = Vec::new();
        for (file, body) in &self.files {
            for (type_, by_name) in &body.resource {
                for (name, value) in by_name {
                    let suppressions = self
                        .suppressions
                        .get(&((*type_).to_owned(), name.clone()))
                        .map_or(&[][..], Vec::as_slice);
                    views.push(ResourceView {
                        file: *file,
                        type_,
                        name,
                        body: value,
                        suppressions,
                    });
                }
            }
        }
        views
    }

    /// The body of a declared data source, by type and name.
    pub fn data_source(&self, type_: &str, name: &str) -> Option<&Value> {
        self.files
            .values()
            .find_map(|f| f.data.get(type_).and_then(|by_name| by_name.get(name)))
    }

    /// The default value of a declared variable, if it has one.
    pub fn variable_default(&self, name: &str) -> Option<&Value> {
        self.files
            .values()
            .find_map(|f| f.variable.get(name))
            .and_then(|v| v.default.as_ref())
    }

    /// Renders every file as pretty JSON with sorted keys and a trailing newline.
    pub fn render(&self) -> Result<BTreeMap<String, String>, TfError> {
        let mut out = BTreeMap::new();
        for (file, body) in &self.files {
            let name = format!("{}.tf.json", file.0);
            // Going through `Value` sorts object keys at every depth, whatever the struct order.
            let value = to_value(&name, body)?;
            let mut text =
                serde_json::to_string_pretty(&value).map_err(|e| TfError::Serialize {
                    address: name.clone(),
                    message: e.to_string(),
                })?;
            text.push('\n');
            out.insert(name, text);
        }
        Ok(out)
    }
}

fn to_value<T: Serialize + ?Sized>(address: &str, body: &T) -> Result<Value, TfError> {
    serde_json::to_value(body).map_err(|e| TfError::Serialize {
        address: address.to_owned(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use std::collections::BTreeMap;

    use crate::tf::Tags;
    use crate::tf::network::{AwsSubnet, AwsVpc};
    use crate::tf::{Document, Expr, FileId, Meta, TfError, TfString, escape, hole};

    const F: FileId = FileId("main");

    fn vpc(cidr: &str) -> AwsVpc {
        AwsVpc {
            cidr_block: TfString::lit(cidr),
            enable_dns_support: true,
            enable_dns_hostnames: true,
            tags: Tags::new(),
        }
    }

    #[test]
    fn literals_are_escaped_and_expressions_are_not() {
        assert_eq!(escape("a ${b} %{c} $d %e"), "a $${b} %%{c} $d %e");
        let lit = TfString::lit("echo ${HOME}");
        assert_eq!(lit.as_template(), "echo $${HOME}");
        let mixed = TfString::concat([TfString::expr("aws_s3_bucket.x.arn"), TfString::lit("/*")]);
        assert_eq!(mixed.as_template(), "${aws_s3_bucket.x.arn}/*");
    }

    #[test]
    fn holes_become_expressions_and_the_rest_stays_literal() {
        let holes = BTreeMap::from([("arn", TfString::expr("aws_s3_bucket.x.arn"))]);
        let text = format!("echo ${{HOME}} {} %{{x}}", hole("arn"));
        let filled = TfString::with_holes(&text, &holes).unwrap();
        assert_eq!(
            filled.as_template(),
            "echo $${HOME} ${aws_s3_bucket.x.arn} %%{x}"
        );
        let missing = TfString::with_holes(&hole("nope"), &holes).unwrap_err();
        assert_eq!(missing, TfError::Hole("nope".into()));
    }

    #[test]
    fn references_come_from_handles_and_meta_arguments_are_bare() {
        let mut doc = Document::default();
        let vpc = doc.resource(F, "main", &vpc("10.0.0.0/16")).unwrap();
        let subnet = AwsSubnet {
            vpc_id: vpc.id(),
            cidr_block: TfString::lit("10.0.1.0/24"),
            availability_zone: TfString::lit("us-east-1a"),
            map_public_ip_on_launch: false,
            tags: Tags::new(),
        };
        let meta = Meta {
            depends_on: vec![vpc.address()],
            ignore_changes: vec!["tags"],
            for_each: Some(Expr::set_of(&vpc.attr_expr("cidr_block_associations"))),
            ..Meta::default()
        };
        doc.resource_with(F, "a", &subnet, meta).unwrap();
        let files = doc.render().unwrap();
        let value: serde_json::Value = serde_json::from_str(&files["main.tf.json"]).unwrap();
        let body = &value["resource"]["aws_subnet"]["a"];
        assert_eq!(body["vpc_id"], json!("${aws_vpc.main.id}"));
        assert_eq!(body["depends_on"], json!(["aws_vpc.main"]));
        assert_eq!(body["lifecycle"], json!({"ignore_changes": ["tags"]}));
        assert_eq!(
            body["for_each"],
            json!("${toset(aws_vpc.main.cidr_block_associations)}")
        );
    }

    #[test]
    fn duplicate_addresses_are_refused() {
        let mut doc = Document::default();
        doc.resource(F, "main", &vpc("10.0.0.0/16")).unwrap();
        let err = doc.resource(F, "main", &vpc("10.1.0.0/16")).unwrap_err();
        assert_eq!(err, TfError::Duplicate("aws_vpc.main".into()));
    }

    #[test]
    fn moved_blocks_use_bare_addresses() {
        let mut doc = Document::default();
        let vpc = doc.resource(F, "main", &vpc("10.0.0.0/16")).unwrap();
        doc.moved(F, "aws_vpc.old", &vpc);
        let value: serde_json::Value =
            serde_json::from_str(&doc.render().unwrap()["main.tf.json"]).unwrap();
        assert_eq!(
            value["moved"],
            json!([{"from": "aws_vpc.old", "to": "aws_vpc.main"}])
        );
    }

    #[test]
    fn json_objects_iterate_in_sorted_order() {
        // Fails if any dependency turns on serde_json's `preserve_order`.
        let value: serde_json::Value = serde_json::from_str(r#"{"b":1,"a":2}"#).unwrap();
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["a", "b"]);
    }
}
