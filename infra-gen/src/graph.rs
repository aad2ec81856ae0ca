//! A picture of the generated platform (`infra-gen graph`, and the diagram in the README), drawn
//! from the `tf` document alone, so it can never show something Terraform does not create.
//!
//! Nodes are resources; edges are the references Terraform resolves (`${type.name.attr}` in any
//! argument, `depends_on`), drawn from the referring resource to the one it refers to. A diagram of
//! ninety resources is not a picture, so it is condensed in three ways, all deterministic:
//! sub-resources merge into the resource they configure (`MERGES`: a bucket's policy, versioning
//! and encryption into the bucket; a role and its instance profile into the instance); three or
//! more remaining resources of one type in one area become one node (eleven alarms, four
//! subnets); references through `aws_iam_policy_document` data sources count as references of the
//! resource using the document, and references to KMS keys are left out (nearly everything is
//! encrypted with the platform key; the key's label says how many resources use it).
//! The data flow (objects from S3 through the ETL host into PostgreSQL; logs into CloudWatch,
//! alarms to SNS) is drawn as thick labelled arrows in the direction the data moves (`FLOWS`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;

use crate::tf::Document;

/// The output format of [`Graph::render`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// A Mermaid `flowchart` (GitHub renders it in Markdown).
    #[default]
    Mermaid,
    /// Graphviz DOT.
    Dot,
}

/// The areas the diagram groups resources into, in drawing order.
pub const AREAS: [&str; 6] = [
    "network",
    "storage",
    "compute",
    "database",
    "monitoring",
    "delivery",
];

/// The area of a resource, from the output file the lowering put it in.
fn area_of(file: &str) -> &'static str {
    match file {
        "network" | "security" => "network",
        "storage" => "storage",
        "database" => "database",
        "monitoring" => "monitoring",
        "delivery" => "delivery",
        _ => "compute",
    }
}

/// `(type prefix, argument)`: a resource of this type is drawn as one node with whatever its
/// argument refers to (the more important of the two names the node, see [`RANK`]).
const MERGES: &[(&str, &str)] = &[
    ("aws_s3_bucket_", "bucket"),
    ("aws_kms_alias", "target_key_id"),
    ("aws_route_table_association", "subnet_id"),
    ("aws_route", "route_table_id"),
    ("aws_route_table", "vpc_id"),
    ("aws_internet_gateway", "vpc_id"),
    ("aws_default_security_group", "vpc_id"),
    ("aws_flow_log", "vpc_id"),
    ("aws_flow_log", "iam_role_arn"),
    ("aws_security_group_rule", "security_group_id"),
    ("aws_iam_role_policy", "role"),
    ("aws_iam_role_policy_attachment", "role"),
    ("aws_iam_role_policy_attachment", "policy_arn"),
    ("aws_iam_instance_profile", "role"),
    ("aws_instance", "iam_instance_profile"),
    ("aws_eip_association", "instance_id"),
    ("aws_eip_association", "allocation_id"),
    ("aws_sns_topic_policy", "arn"),
    ("aws_cloudwatch_log_metric_filter", "log_group_name"),
    ("aws_db_instance", "db_subnet_group_name"),
    ("aws_db_instance", "parameter_group_name"),
    ("aws_db_instance", "monitoring_role_arn"),
];

/// Which member of a merged node names it: the first type in this list, else the smallest address.
const RANK: &[&str] = &[
    "aws_instance",
    "aws_db_instance",
    "aws_s3_bucket",
    "aws_vpc",
    "aws_security_group",
    "aws_subnet",
    "aws_kms_key",
    "aws_sns_topic",
    "aws_cloudwatch_log_group",
    "aws_iam_role",
];

/// References to these types are not drawn (see the module header).
const QUIET: &[&str] = &["aws_kms_key"];

/// The data flow, `(from type, to type, label, how it is found)`: drawn from a node holding the
/// first type to one holding the second, replacing the reference edge between them.
const FLOWS: &[(&str, &str, &str, Found)] = &[
    (
        "aws_s3_bucket",
        "aws_instance",
        "objects",
        Found::Referenced,
    ),
    (
        "aws_instance",
        "aws_db_instance",
        "COPY",
        Found::Referencing,
    ),
    (
        "aws_instance",
        "aws_cloudwatch_log_group",
        "logs",
        Found::Referencing,
    ),
    (
        "aws_cloudwatch_log_metric_filter",
        "aws_cloudwatch_metric_alarm",
        "metrics",
        Found::Present,
    ),
    (
        "aws_cloudwatch_metric_alarm",
        "aws_sns_topic",
        "notify",
        Found::Referencing,
    ),
];

/// When a flow of [`FLOWS`] is drawn between two nodes.
#[derive(Clone, Copy, Debug)]
enum Found {
    /// The source node refers to the target node.
    Referencing,
    /// The target node refers to the source node (the reader refers to what it reads).
    Referenced,
    /// Both exist (the link is by metric name, not by a Terraform reference).
    Present,
}

/// One drawn node: a resource with its merged sub-resources, or a group of same-type resources.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Node {
    area: &'static str,
    label: String,
    /// Resource types of every member, for [`FLOWS`].
    types: BTreeSet<String>,
}

/// A condensed picture of a [`Document`]. Build it with [`Graph::of`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Graph {
    nodes: BTreeMap<String, Node>,
    /// `(from, to) -> flow label`, `None` for a plain reference.
    edges: BTreeMap<(String, String), Option<&'static str>>,
}

/// A tiny union-find over resource addresses.
struct Merged(BTreeMap<String, String>);

impl Merged {
    fn root(&self, address: &str) -> String {
        let mut at = address.to_owned();
        while let Some(parent) = self.0.get(&at).filter(|p| **p != at) {
            at.clone_from(parent);
        }
        at
    }

    fn union(&mut self, a: &str, b: &str) {
        let (ra, rb) = (self.root(a), self.root(b));
        if ra == rb {
            return;
        }
        let (keep, drop) = if rank(&ra) <= rank(&rb) {
            (ra, rb)
        } else {
            (rb, ra)
        };
        self.0.insert(drop, keep);
    }
}

fn type_of(address: &str) -> &str {
    address.split_once('.').map_or(address, |(t, _)| t)
}

fn rank(address: &str) -> (usize, &str) {
    let type_ = type_of(address);
    let position = RANK.iter().position(|t| *t == type_).unwrap_or(RANK.len());
    (position, address)
}

/// The resource and data source addresses an expression text refers to.
fn references_in(text: &str, found: &mut BTreeSet<String>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        // `$${` is an escaped literal; `${` opens an interpolation that ends at its matching `}`.
        if bytes[i] == b'$' && bytes[i + 1] == b'$' {
            i += 2;
            continue;
        }
        if bytes[i] == b'$' && bytes[i + 1] == b'{' {
            let start = i + 2;
            let mut depth = 1;
            let mut end = start;
            while end < bytes.len() && depth > 0 {
                match bytes[end] {
                    b'{' => depth += 1,
                    b'}' => depth -= 1,
                    _ => {}
                }
                end += 1;
            }
            addresses_in(&text[start..end.saturating_sub(1).max(start)], found);
            i = end;
        } else {
            i += 1;
        }
    }
}

/// Addresses (`aws_x.name`, `data.aws_x.name`) among the identifier runs of an expression.
fn addresses_in(expression: &str, found: &mut BTreeSet<String>) {
    let runs = expression.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'));
    for run in runs {
        let parts: Vec<&str> = run.split('.').collect();
        match parts.as_slice() {
            ["data", type_, name, ..] if type_.starts_with("aws_") => {
                found.insert(format!("data.{type_}.{name}"));
            }
            [type_, name, ..] if type_.starts_with("aws_") && !name.is_empty() => {
                found.insert(format!("{type_}.{name}"));
            }
            _ => {}
        }
    }
}

/// Every reference in a block, by top-level argument.
fn references(body: &Value) -> BTreeMap<String, BTreeSet<String>> {
    fn walk(value: &Value, found: &mut BTreeSet<String>) {
        match value {
            Value::String(text) => references_in(text, found),
            Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
            Value::Object(map) => map.values().for_each(|v| walk(v, found)),
            _ => {}
        }
    }
    let mut by_argument = BTreeMap::new();
    if let Value::Object(map) = body {
        for (argument, value) in map {
            let mut found = BTreeSet::new();
            if argument == "depends_on" {
                let bare = value.as_array().into_iter().flatten();
                bare.filter_map(Value::as_str)
                    .for_each(|a| addresses_in(a, &mut found));
            } else {
                walk(value, &mut found);
            }
            if !found.is_empty() {
                by_argument.insert(argument.clone(), found);
            }
        }
    }
    by_argument
}

impl Graph {
    /// Condenses the document's resources and references into a picture.
    pub fn of(doc: &Document) -> Self {
        // References through policy documents belong to the resource that uses the document.
        let documents: BTreeMap<String, BTreeSet<String>> = doc
            .data_sources()
            .into_iter()
            .filter(|(type_, _, _)| *type_ == "aws_iam_policy_document")
            .map(|(type_, name, body)| {
                let all = references(body).into_values().flatten().collect();
                (format!("data.{type_}.{name}"), all)
            })
            .collect();
        let mut resources = BTreeMap::new();
        for view in doc.resources() {
            let address = format!("{}.{}", view.type_, view.name);
            let mut refs = references(view.body);
            for found in refs.values_mut() {
                let through: Vec<String> = found
                    .iter()
                    .filter_map(|a| documents.get(a))
                    .flatten()
                    .cloned()
                    .collect();
                found.extend(through);
                found.retain(|a| !a.starts_with("data."));
            }
            resources.insert(address, (area_of(view.file.0), refs));
        }

        let mut merged = Merged(BTreeMap::new());
        for (address, (_, refs)) in &resources {
            for (prefix, argument) in MERGES {
                let matches = if prefix.ends_with('_') {
                    type_of(address).starts_with(prefix)
                } else {
                    type_of(address) == *prefix
                };
                if !matches {
                    continue;
                }
                let targets = refs.get(*argument).into_iter().flatten();
                for target in targets.filter(|t| resources.contains_key(*t)) {
                    merged.union(address, target);
                }
            }
        }

        // Roots, then groups of three or more same-type roots per area.
        let mut members: BTreeMap<String, Vec<&String>> = BTreeMap::new();
        for address in resources.keys() {
            members
                .entry(merged.root(address))
                .or_default()
                .push(address);
        }
        let mut by_kind: BTreeMap<(&str, &str), Vec<&String>> = BTreeMap::new();
        for root in members.keys() {
            by_kind
                .entry((resources[root].0, type_of(root)))
                .or_default()
                .push(root);
        }
        let mut node_of: BTreeMap<&String, String> = BTreeMap::new();
        let mut nodes = BTreeMap::new();
        for ((area, type_), roots) in &by_kind {
            let grouped = roots.len() >= 3;
            for root in roots {
                let id = if grouped {
                    format!("{area}_{type_}")
                } else {
                    root.replace(['.', '-'], "_")
                };
                let parts = &members[*root];
                for part in parts {
                    node_of.insert(part, id.clone());
                }
                let node = nodes.entry(id).or_insert_with(|| Node {
                    area,
                    label: String::new(),
                    types: BTreeSet::new(),
                });
                node.types
                    .extend(parts.iter().map(|p| type_of(p).to_owned()));
                node.label = if grouped {
                    format!("{type_} ×{}", roots.len())
                } else if parts.len() == 2 {
                    format!("{root}\n+1 part")
                } else if parts.len() > 2 {
                    format!("{root}\n+{} parts", parts.len() - 1)
                } else {
                    (*root).clone()
                };
            }
        }

        let mut edges = BTreeMap::new();
        let mut quiet_uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (address, (_, refs)) in &resources {
            let from = &node_of[address];
            for target in refs.values().flatten() {
                let Some(to) = node_of.get(target) else {
                    continue;
                };
                if QUIET.contains(&type_of(target)) {
                    quiet_uses
                        .entry(to.clone())
                        .or_default()
                        .insert(from.clone());
                } else if from != to {
                    edges.insert((from.clone(), to.clone()), None);
                }
            }
        }
        for (id, users) in quiet_uses {
            let users = users.iter().filter(|u| **u != id).count();
            if let Some(node) = nodes.get_mut(&id) {
                let noun = if users == 1 { "node" } else { "nodes" };
                let _ = write!(node.label, "\nencrypts {users} {noun}");
            }
        }
        let holding = |type_: &str| -> Vec<String> {
            nodes
                .iter()
                .filter(|(_, n)| n.types.contains(type_))
                .map(|(id, _)| id.clone())
                .collect()
        };
        for (source_type, target_type, label, found) in FLOWS {
            for source in holding(source_type) {
                for target in holding(target_type) {
                    let forward = (source.clone(), target.clone());
                    let backward = (target.clone(), source.clone());
                    let present = match found {
                        Found::Referencing => edges.contains_key(&forward),
                        Found::Referenced => edges.contains_key(&backward),
                        Found::Present => source != target,
                    };
                    if present {
                        edges.remove(&backward);
                        edges.insert(forward, Some(*label));
                    }
                }
            }
        }
        Self { nodes, edges }
    }

    /// The picture as text in `format`; ends with a newline.
    pub fn render(&self, format: Format) -> String {
        let mermaid = format == Format::Mermaid;
        let mut text = String::from(if mermaid {
            "flowchart LR\n"
        } else {
            "digraph platform {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n"
        });
        for area in AREAS {
            let mut nodes = self.nodes.iter().filter(|(_, n)| n.area == area).peekable();
            if nodes.peek().is_none() {
                continue;
            }
            let _ = if mermaid {
                writeln!(text, "  subgraph area_{area}[\"{area}\"]")
            } else {
                writeln!(text, "  subgraph cluster_{area} {{\n    label=\"{area}\";")
            };
            for (id, node) in nodes {
                let _ = if mermaid {
                    let label = node.label.replace('\n', "<br/>");
                    writeln!(text, "    {id}[\"{label}\"]")
                } else {
                    let label = node.label.replace('\n', "\\n");
                    writeln!(text, "    {id} [label=\"{label}\"];")
                };
            }
            text.push_str(if mermaid { "  end\n" } else { "  }\n" });
        }
        for ((from, to), flow) in &self.edges {
            let _ = match (mermaid, flow) {
                (true, Some(label)) => writeln!(text, "  {from} ==>|{label}| {to}"),
                (true, None) => writeln!(text, "  {from} -.-> {to}"),
                (false, Some(label)) => {
                    writeln!(text, "  {from} -> {to} [penwidth=3, label=\"{label}\"];")
                }
                (false, None) => writeln!(text, "  {from} -> {to} [style=dashed];"),
            };
        }
        if !mermaid {
            text.push_str("}\n");
        }
        text
    }
}

/// Why the diagram could not be put into a Markdown file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EmbedError {
    /// The file has no fenced Mermaid block to replace.
    #[error("{file}: no ```mermaid block to hold the platform diagram")]
    NoBlock {
        /// The Markdown file.
        file: String,
    },
}

/// `markdown` with the body of its first fenced ```` ```mermaid ```` block replaced by `diagram`.
pub fn embed(markdown: &str, diagram: &str, file: &str) -> Result<String, EmbedError> {
    // Byte offsets of the body's first line and of the closing fence line.
    let mut body = None;
    let mut offset = 0;
    for line in markdown.split_inclusive('\n') {
        match body {
            None if line.trim_end() == "```mermaid" => body = Some(offset + line.len()),
            Some(start) if line.trim_end() == "```" => {
                return Ok(format!(
                    "{}{diagram}{}",
                    &markdown[..start],
                    &markdown[offset..]
                ));
            }
            _ => {}
        }
        offset += line.len();
    }
    Err(EmbedError::NoBlock {
        file: file.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use crate::graph::{EmbedError, addresses_in, embed, references_in};

    #[test]
    fn references_come_from_interpolations_only() {
        let mut found = BTreeSet::new();
        references_in(
            "arn: ${aws_s3_bucket.data.arn}/* $${aws_vpc.literal} aws_vpc.plain \
             ${jsonencode({a = data.aws_iam_policy_document.x.json})} ${var.region}",
            &mut found,
        );
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            ["aws_s3_bucket.data", "data.aws_iam_policy_document.x"]
        );
        let mut bare = BTreeSet::new();
        addresses_in("aws_db_instance.main", &mut bare);
        assert!(bare.contains("aws_db_instance.main"));
    }

    #[test]
    fn the_diagram_replaces_the_first_mermaid_block() {
        let markdown = "# Title\n\n```mermaid\nold\n```\n\ntext\n```mermaid\nsecond\n```\n";
        let out = embed(markdown, "flowchart LR\n  a --> b\n", "README.md").unwrap();
        assert_eq!(
            out,
            "# Title\n\n```mermaid\nflowchart LR\n  a --> b\n```\n\ntext\n```mermaid\nsecond\n```\n"
        );
        assert_eq!(embed(&out, "flowchart LR\n  a --> b\n", "x").unwrap(), out);
        assert_eq!(
            embed("no diagram\n", "x\n", "README.md").unwrap_err(),
            EmbedError::NoBlock {
                file: "README.md".into()
            }
        );
    }
}
