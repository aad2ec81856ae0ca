//! A picture of the generated platform (`infra-gen graph`, and the diagram in the README) that
//! tells the data's story, drawn from the `tf` document alone, so it can never show a resource
//! Terraform does not create.
//!
//! The story is drawn as thick labelled arrows in the direction the data moves (`FLOWS`): a CSV
//! uploaded by `etl ingest` lands in the data bucket, whose object events go to the queue that
//! the host and the workers drain; they read the objects and COPY them into the database; their
//! logs and the metrics filtered from them feed the alarms, which notify the topic; GitHub Actions
//! (plan, apply, deploy) pushes the image and runs the deploy document. The two actors outside
//! AWS (`ACTORS`) are the only nodes that are not resources.
//!
//! Everything else is condensed, deterministically. Areas are the files the lowering wrote each
//! resource to (lower's own file ids, read from the document), drawn as subgraphs named after the
//! file. Sub-resources merge into the resource they configure (`MERGES`: a bucket's policy,
//! versioning and notification into the bucket; a role, its profile and security group into the
//! instance; the launch template and scaling policy into the workers' group; subnets, routes
//! and flow logs into the VPC); three or more remaining resources of one type in one area become
//! one node (sixteen alarms). References are found in the
//! `${type.name.attr}` interpolations (through `aws_iam_policy_document` data sources, and
//! `depends_on`) and folded: at most one dashed edge per pair of areas, drawn between the
//! subgraphs, and none where a flow already joins them. References to KMS keys are left out
//! (nearly everything is encrypted with the platform key; its label says how many nodes use it).

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

/// The area of the actors, which no output file holds.
const OUTSIDE: &str = "outside";

/// `(node id, label)`: who moves data into the platform from outside AWS. Each is drawn only when
/// a flow of [`FLOWS`] starts from it to a node that exists.
const ACTORS: [(&str, &str); 2] = [
    ("etl_ingest", "etl ingest"),
    ("github_actions", "GitHub Actions\nplan, apply, deploy"),
];

/// `(type prefix, argument)`: a resource of this type is drawn as one node with whatever its
/// argument refers to (the more important of the two names the node, see [`RANK`]).
const MERGES: &[(&str, &str)] = &[
    ("aws_s3_bucket_", "bucket"),
    ("aws_kms_alias", "target_key_id"),
    ("aws_subnet", "vpc_id"),
    ("aws_route_table_association", "subnet_id"),
    ("aws_route", "route_table_id"),
    ("aws_route_table", "vpc_id"),
    ("aws_internet_gateway", "vpc_id"),
    ("aws_default_security_group", "vpc_id"),
    ("aws_flow_log", "vpc_id"),
    ("aws_flow_log", "iam_role_arn"),
    ("aws_flow_log", "log_destination"),
    ("aws_security_group_rule", "security_group_id"),
    ("aws_vpc_security_group_ingress_rule", "security_group_id"),
    ("aws_vpc_security_group_egress_rule", "security_group_id"),
    ("aws_iam_role_policy", "role"),
    ("aws_iam_role_policy_attachment", "role"),
    ("aws_iam_role_policy_attachment", "policy_arn"),
    ("aws_iam_instance_profile", "role"),
    ("aws_instance", "iam_instance_profile"),
    ("aws_instance", "vpc_security_group_ids"),
    ("aws_eip_association", "instance_id"),
    ("aws_eip_association", "allocation_id"),
    ("aws_launch_template", "vpc_security_group_ids"),
    ("aws_launch_template", "network_interfaces"),
    ("aws_autoscaling_group", "launch_template"),
    ("aws_autoscaling_policy", "autoscaling_group_name"),
    ("aws_sqs_queue", "redrive_policy"),
    ("aws_sqs_queue_policy", "queue_url"),
    ("aws_sqs_queue_redrive_allow_policy", "queue_url"),
    ("aws_sns_topic", "kms_master_key_id"),
    ("aws_sns_topic_policy", "arn"),
    ("aws_sns_topic_subscription", "topic_arn"),
    ("aws_cloudwatch_log_metric_filter", "log_group_name"),
    ("aws_db_instance", "db_subnet_group_name"),
    ("aws_db_instance", "parameter_group_name"),
    ("aws_db_instance", "monitoring_role_arn"),
    ("aws_db_instance", "vpc_security_group_ids"),
    ("aws_db_instance", "depends_on"),
];

/// Which member of a merged node names it: the first type in this list, else the smallest address.
const RANK: &[&str] = &[
    "aws_instance",
    "aws_autoscaling_group",
    "aws_db_instance",
    "aws_s3_bucket",
    "aws_vpc",
    "aws_sqs_queue",
    "aws_sns_topic",
    "aws_security_group",
    "aws_subnet",
    "aws_kms_key",
    "aws_cloudwatch_log_group",
    "aws_iam_role",
];

/// References to these types are not drawn (see the module header).
const QUIET: &[&str] = &["aws_kms_key"];

/// The data flow, `(from, to, label, how it is found)`: drawn from the node of the first kind to
/// the node of the second. The workers run the host's runtime with the host's role, whose grants
/// merge into the host, so their flows are found by presence. A kind is the type naming a node (or an actor's id), else a
/// sub-resource type merged into one node (the data bucket is the one with the notification).
const FLOWS: &[(&str, &str, &str, Found)] = &[
    (
        "etl_ingest",
        "aws_s3_bucket_notification",
        "upload CSV",
        Found::Present,
    ),
    (
        "aws_s3_bucket_notification",
        "aws_sqs_queue",
        "object events",
        Found::Referencing,
    ),
    (
        "aws_sqs_queue",
        "aws_instance",
        "messages",
        Found::Referenced,
    ),
    (
        "aws_sqs_queue",
        "aws_autoscaling_group",
        "messages",
        Found::Present,
    ),
    (
        "aws_s3_bucket_notification",
        "aws_instance",
        "objects",
        Found::Referenced,
    ),
    (
        "aws_s3_bucket_notification",
        "aws_autoscaling_group",
        "objects",
        Found::Present,
    ),
    (
        "aws_instance",
        "aws_db_instance",
        "COPY",
        Found::Referencing,
    ),
    (
        "aws_autoscaling_group",
        "aws_db_instance",
        "COPY",
        Found::Present,
    ),
    (
        "aws_instance",
        "aws_cloudwatch_log_group",
        "logs",
        Found::Referencing,
    ),
    (
        "aws_autoscaling_group",
        "aws_cloudwatch_log_group",
        "logs",
        Found::Present,
    ),
    (
        "aws_cloudwatch_log_group",
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
    (
        "github_actions",
        "aws_ecr_repository",
        "image",
        Found::Present,
    ),
    (
        "github_actions",
        "aws_ssm_document",
        "deploy",
        Found::Present,
    ),
    (
        "aws_ecr_repository",
        "aws_instance",
        "pull",
        Found::Referenced,
    ),
    (
        "aws_ecr_repository",
        "aws_autoscaling_group",
        "pull",
        Found::Present,
    ),
    ("aws_ssm_document", "aws_instance", "run", Found::Present),
];

/// When a flow of [`FLOWS`] is drawn between two nodes.
#[derive(Clone, Copy, Debug)]
enum Found {
    /// The source node refers to the target node.
    Referencing,
    /// The target node refers to the source node (the reader refers to what it reads).
    Referenced,
    /// Both exist (the link is by name or by a person, not by a Terraform reference).
    Present,
}

/// One drawn node: a resource with its merged sub-resources, a group of same-type resources, or
/// an actor.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Node {
    /// The file the node's resources are written to ([`OUTSIDE`] for an actor).
    area: &'static str,
    label: String,
    /// The type naming the node (its root's, or its group's), or the actor's id, for [`FLOWS`].
    kind: String,
    /// The types of every member, for a flow that names a sub-resource.
    types: BTreeSet<String>,
}

/// A condensed picture of a [`Document`]. Build it with [`Graph::of`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Graph {
    nodes: BTreeMap<String, Node>,
    /// The data flow: `(from node, to node) -> label`.
    flows: BTreeMap<(String, String), &'static str>,
    /// Folded references: `(from area, to area)`, one per pair of areas no flow joins.
    references: BTreeSet<(&'static str, &'static str)>,
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

/// Each resource's area (the file it is written to) and references by argument.
type Resources = BTreeMap<String, (&'static str, BTreeMap<String, BTreeSet<String>>)>;

/// Every resource's area and references, with references through policy documents counted as
/// the resource's own and data sources left out.
fn resources_of(doc: &Document) -> Resources {
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
        resources.insert(address, (view.file.0, refs));
    }
    resources
}

/// The nodes the resources condense into (sub-resources merged by [`MERGES`], then three or more
/// same-type roots of one area grouped), and each resource's node id.
fn condense(resources: &Resources) -> (BTreeMap<String, Node>, BTreeMap<String, String>) {
    let mut merged = Merged(BTreeMap::new());
    for (address, (_, refs)) in resources {
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
    let mut members: BTreeMap<String, Vec<&String>> = BTreeMap::new();
    for address in resources.keys() {
        members
            .entry(merged.root(address))
            .or_default()
            .push(address);
    }
    let mut by_kind: BTreeMap<(&'static str, &str), Vec<&String>> = BTreeMap::new();
    for root in members.keys() {
        by_kind
            .entry((resources[root].0, type_of(root)))
            .or_default()
            .push(root);
    }
    let mut node_of = BTreeMap::new();
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
                node_of.insert((*part).clone(), id.clone());
            }
            let label = if grouped {
                format!("{type_} ×{}", roots.len())
            } else if parts.len() == 2 {
                format!("{root}\n+1 part")
            } else if parts.len() > 2 {
                format!("{root}\n+{} parts", parts.len() - 1)
            } else {
                (*root).clone()
            };
            let node = nodes.entry(id).or_insert_with(|| Node {
                area,
                label: String::new(),
                kind: (*type_).to_owned(),
                types: BTreeSet::new(),
            });
            node.label = label;
            node.types
                .extend(parts.iter().map(|p| type_of(p).to_owned()));
        }
    }
    (nodes, node_of)
}

/// The flows of [`FLOWS`] between `nodes`, found in `referring` (node pairs, from the referring
/// node to the one it refers to) or by presence.
fn story(
    nodes: &BTreeMap<String, Node>,
    referring: &BTreeSet<(String, String)>,
) -> BTreeMap<(String, String), &'static str> {
    let naming: BTreeSet<&str> = nodes.values().map(|n| n.kind.as_str()).collect();
    let of_kind = |kind: &str| -> Vec<&String> {
        nodes
            .iter()
            .filter(|(_, n)| {
                if naming.contains(kind) {
                    n.kind == kind
                } else {
                    n.types.contains(kind)
                }
            })
            .map(|(id, _)| id)
            .collect()
    };
    let mut flows = BTreeMap::new();
    for (source_kind, target_kind, label, found) in FLOWS {
        for source in of_kind(source_kind) {
            for target in of_kind(target_kind) {
                let forward = (source.clone(), target.clone());
                let backward = (target.clone(), source.clone());
                let present = match found {
                    Found::Referencing => referring.contains(&forward),
                    Found::Referenced => referring.contains(&backward),
                    Found::Present => source != target,
                };
                if present {
                    flows.insert(forward, *label);
                }
            }
        }
    }
    flows
}

/// The references folded to one per pair of areas, and none where a flow already joins them.
fn fold(
    nodes: &BTreeMap<String, Node>,
    referring: &BTreeSet<(String, String)>,
    flows: &BTreeMap<(String, String), &'static str>,
) -> BTreeSet<(&'static str, &'static str)> {
    let pair = |a: &'static str, b: &'static str| if a <= b { (a, b) } else { (b, a) };
    let joined: BTreeSet<(&str, &str)> = flows
        .keys()
        .map(|(from, to)| pair(nodes[from].area, nodes[to].area))
        .collect();
    let mut references = BTreeSet::new();
    let mut folded = BTreeSet::new();
    for (from, to) in referring {
        let (a, b) = (nodes[from].area, nodes[to].area);
        if a != b && !joined.contains(&pair(a, b)) && folded.insert(pair(a, b)) {
            references.insert((a, b));
        }
    }
    references
}

impl Graph {
    /// Condenses the document's resources and references into the data's story.
    pub fn of(doc: &Document) -> Self {
        let resources = resources_of(doc);
        let (mut nodes, node_of) = condense(&resources);
        let mut referring: BTreeSet<(String, String)> = BTreeSet::new();
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
                    referring.insert((from.clone(), to.clone()));
                }
            }
        }
        for (id, users) in quiet_uses {
            let users = users.iter().filter(|u| **u != id).count();
            if let Some(node) = nodes.get_mut(&id).filter(|_| users > 0) {
                let noun = if users == 1 { "node" } else { "nodes" };
                let _ = write!(node.label, "\nencrypts {users} {noun}");
            }
        }
        for (id, label) in ACTORS {
            nodes.insert(
                id.to_owned(),
                Node {
                    area: OUTSIDE,
                    label: label.to_owned(),
                    kind: id.to_owned(),
                    types: BTreeSet::new(),
                },
            );
        }
        let flows = story(&nodes, &referring);
        // An actor is drawn only when something it feeds exists.
        nodes.retain(|id, node| node.area != OUTSIDE || flows.keys().any(|(from, _)| from == id));
        let references = fold(&nodes, &referring, &flows);
        Self {
            nodes,
            flows,
            references,
        }
    }

    /// The areas in drawing order: the actors first, then the files in name order.
    fn areas(&self) -> Vec<&'static str> {
        let files: BTreeSet<&'static str> = self
            .nodes
            .values()
            .map(|n| n.area)
            .filter(|a| *a != OUTSIDE)
            .collect();
        let outside = self.nodes.values().any(|n| n.area == OUTSIDE);
        outside
            .then_some(OUTSIDE)
            .into_iter()
            .chain(files)
            .collect()
    }

    /// The picture as text in `format`; ends with a newline.
    pub fn render(&self, format: Format) -> String {
        let mermaid = format == Format::Mermaid;
        let mut text = String::from(if mermaid {
            "flowchart LR\n"
        } else {
            "digraph platform {\n  rankdir=LR;\n  compound=true;\n  node [shape=box, fontname=\"Helvetica\"];\n"
        });
        let mut first_of = BTreeMap::new();
        for area in self.areas() {
            let title = if area == OUTSIDE {
                "outside AWS".to_owned()
            } else {
                format!("{area}.tf.json")
            };
            let _ = if mermaid {
                writeln!(text, "  subgraph area_{area}[\"{title}\"]")
            } else {
                writeln!(text, "  subgraph cluster_{area} {{\n    label=\"{title}\";")
            };
            for (id, node) in self.nodes.iter().filter(|(_, n)| n.area == area) {
                first_of.entry(area).or_insert(id);
                let _ = if mermaid {
                    let label = node.label.replace('\n', "<br/>");
                    writeln!(text, "    {id}[\"{label}\"]")
                } else {
                    let label = node.label.replace('\n', "\\n").replace("<br/>", "\\n");
                    writeln!(text, "    {id} [label=\"{label}\"];")
                };
            }
            text.push_str(if mermaid { "  end\n" } else { "  }\n" });
        }
        for ((from, to), label) in &self.flows {
            let _ = if mermaid {
                writeln!(text, "  {from} ==>|{label}| {to}")
            } else {
                writeln!(text, "  {from} -> {to} [penwidth=3, label=\"{label}\"];")
            };
        }
        for (from, to) in &self.references {
            let _ = if mermaid {
                writeln!(text, "  area_{from} -.-> area_{to}")
            } else {
                writeln!(
                    text,
                    "  {} -> {} [style=dashed, ltail=cluster_{from}, lhead=cluster_{to}];",
                    first_of[from], first_of[to]
                )
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
