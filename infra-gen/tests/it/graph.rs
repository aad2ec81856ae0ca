//! The picture of the platform: a snapshot per fixture, a structural check of the Mermaid text
//! (no renderer runs offline here), its size and story for every fixture, and the README's
//! embedded diagram matching the default.

use std::collections::BTreeSet;
use std::process::Command;

use infra_gen::graph::{Format, Graph};
use infra_gen::ledger;

use crate::support::{TempDir, platforms};

fn graphs(format: Format) -> Vec<(&'static str, String)> {
    platforms()
        .into_iter()
        .map(|(name, platform)| {
            let doc = infra_gen::document(&platform, &ledger::HISTORY).unwrap();
            (name, Graph::of(&doc).render(format))
        })
        .collect()
}

/// The story every picture tells: `(from, label, to)` as node ids, and with workers the same
/// for the workers' group.
const STORY: [(&str, &str, &str); 12] = [
    ("etl_ingest", "upload CSV", "aws_s3_bucket_data"),
    (
        "aws_s3_bucket_data",
        "object events",
        "aws_sqs_queue_etl_events",
    ),
    (
        "aws_sqs_queue_etl_events",
        "messages",
        "aws_instance_etl_host",
    ),
    ("aws_s3_bucket_data", "objects", "aws_instance_etl_host"),
    ("aws_instance_etl_host", "COPY", "aws_db_instance_main"),
    (
        "aws_instance_etl_host",
        "logs",
        "monitoring_aws_cloudwatch_log_group",
    ),
    (
        "monitoring_aws_cloudwatch_log_group",
        "metrics",
        "monitoring_aws_cloudwatch_metric_alarm",
    ),
    (
        "monitoring_aws_cloudwatch_metric_alarm",
        "notify",
        "aws_sns_topic_alarms",
    ),
    ("github_actions", "image", "aws_ecr_repository_etl"),
    ("github_actions", "deploy", "aws_ssm_document_etl_deploy"),
    ("aws_ecr_repository_etl", "pull", "aws_instance_etl_host"),
    (
        "aws_ssm_document_etl_deploy",
        "run",
        "aws_instance_etl_host",
    ),
];

/// The workers' part of the story, with `[etl] workers`.
const WORKERS_STORY: [(&str, &str, &str); 5] = [
    (
        "aws_sqs_queue_etl_events",
        "messages",
        "aws_autoscaling_group_etl_workers",
    ),
    (
        "aws_s3_bucket_data",
        "objects",
        "aws_autoscaling_group_etl_workers",
    ),
    (
        "aws_autoscaling_group_etl_workers",
        "COPY",
        "aws_db_instance_main",
    ),
    (
        "aws_autoscaling_group_etl_workers",
        "logs",
        "monitoring_aws_cloudwatch_log_group",
    ),
    (
        "aws_ecr_repository_etl",
        "pull",
        "aws_autoscaling_group_etl_workers",
    ),
];

#[test]
fn every_fixture_graph_matches_its_snapshot() {
    for (fixture, text) in graphs(Format::Mermaid) {
        insta::assert_snapshot!(format!("{fixture}__graph.mmd"), text);
    }
    let (_, dot) = &graphs(Format::Dot)[0];
    insta::assert_snapshot!("default__graph.dot", dot);
}

fn is_id(text: &str) -> bool {
    !text.is_empty()
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !["end", "graph", "subgraph", "flowchart"].contains(&text)
}

/// What [`assert_valid_mermaid`] read: nodes, thick flows `(from, label, to)` and dashed
/// references between areas.
struct Drawn {
    nodes: BTreeSet<String>,
    areas: BTreeSet<String>,
    flows: Vec<(String, String, String)>,
    references: Vec<(String, String)>,
}

/// Mermaid flowchart syntax as this module writes it, line by line: a header, balanced
/// subgraphs with quoted titles, nodes `id["label"]` declared once with no quote or bracket in
/// the label, flows `a ==>|label| b` between declared nodes and references `area_a -.-> area_b`
/// between declared subgraphs.
#[track_caller]
fn assert_valid_mermaid(text: &str) -> Drawn {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("flowchart LR"));
    let mut depth = 0;
    let mut drawn = Drawn {
        nodes: BTreeSet::new(),
        areas: BTreeSet::new(),
        flows: Vec::new(),
        references: Vec::new(),
    };
    for line in lines {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("subgraph ") {
            let (id, title) = rest.split_once("[\"").expect(line);
            assert!(is_id(id) && title.ends_with("\"]"), "{line}");
            assert!(
                drawn.areas.insert(id.to_owned()),
                "duplicate subgraph {line}"
            );
            assert_eq!(depth, 0, "nested subgraph {line}");
            depth += 1;
        } else if line == "end" {
            assert_eq!(depth, 1, "unbalanced end");
            depth -= 1;
        } else if let Some((id, label)) = line.split_once("[\"") {
            let label = label.strip_suffix("\"]").expect(line);
            assert!(is_id(id), "{line}");
            assert!(!label.contains(['"', '[', ']', '|']), "{line}");
            assert_eq!(depth, 1, "node outside an area: {line}");
            assert!(
                drawn.nodes.insert(id.to_owned()),
                "node declared twice: {line}"
            );
        } else if let Some((from, rest)) = line.split_once(" ==>|") {
            let (label, to) = rest.split_once("| ").expect(line);
            assert!(!label.is_empty(), "{line}");
            drawn
                .flows
                .push((from.to_owned(), label.to_owned(), to.to_owned()));
        } else {
            let parts: Vec<&str> = line.split(' ').collect();
            match parts.as_slice() {
                [from, "-.->", to] => drawn
                    .references
                    .push(((*from).to_owned(), (*to).to_owned())),
                _ => panic!("not a mermaid line this module writes: {line:?}"),
            }
        }
    }
    assert_eq!(depth, 0, "unclosed subgraph");
    for (from, _, to) in &drawn.flows {
        assert!(
            drawn.nodes.contains(from) && drawn.nodes.contains(to),
            "{from} -> {to}"
        );
        assert_ne!(from, to);
    }
    let mut pairs = BTreeSet::new();
    for (from, to) in &drawn.references {
        assert!(
            drawn.areas.contains(from) && drawn.areas.contains(to),
            "{from} -.-> {to}"
        );
        assert_ne!(from, to);
        let pair = if from < to { (from, to) } else { (to, from) };
        assert!(pairs.insert(pair), "two references between {from} and {to}");
    }
    drawn
}

#[test]
fn every_fixture_graph_is_well_formed_small_and_tells_the_data_story() {
    for ((fixture, text), (_, platform)) in graphs(Format::Mermaid).into_iter().zip(platforms()) {
        let drawn = assert_valid_mermaid(&text);
        let (nodes, edges) = (
            drawn.nodes.len(),
            drawn.flows.len() + drawn.references.len(),
        );
        assert!(
            nodes <= 20 && edges <= 25,
            "{fixture}: {nodes} nodes, {edges} edges\n{text}"
        );
        let workers = platform.etl.workers.is_some();
        let story = STORY.iter().chain(WORKERS_STORY.iter().filter(|_| workers));
        for (from, label, to) in story {
            let flow = ((*from).to_owned(), (*label).to_owned(), (*to).to_owned());
            assert!(
                drawn.flows.contains(&flow),
                "{fixture}: no {from} ==>|{label}| {to}\n{text}"
            );
        }
        assert_eq!(
            drawn.flows.len(),
            STORY.len() + if workers { WORKERS_STORY.len() } else { 0 },
            "{fixture}: a flow that is not the story\n{text}"
        );
        assert!(
            drawn.areas.contains("area_outside") && drawn.areas.contains("area_network"),
            "{fixture}: {:?}",
            drawn.areas
        );
    }
}

#[test]
fn the_readme_embeds_the_default_diagram() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let (_, default) = &graphs(Format::Mermaid)[0];
    assert!(
        readme.contains(&format!("```mermaid\n{default}```\n")),
        "README.md's diagram is stale: run `just gen`"
    );
}

#[test]
fn gen_keeps_the_readme_diagram_current_and_check_fails_when_it_is_stale() {
    let dir = TempDir::new("graph-readme");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_infra-gen"))
            .args(args)
            .current_dir(&dir.0)
            .output()
            .unwrap()
    };
    let readme = dir.0.join("README.md");
    std::fs::write(
        &readme,
        "# Platform\n\n```mermaid\nold\n```\n\nMore text.\n",
    )
    .unwrap();
    assert!(run(&["gen"]).status.success());
    let check_readme = run(&["gen", "--check"]);
    assert_eq!(check_readme.status.code(), Some(0), "{check_readme:?}");
    let (_, default) = &graphs(Format::Mermaid)[0];
    let text = std::fs::read_to_string(&readme).unwrap();
    assert_eq!(
        text,
        format!("# Platform\n\n```mermaid\n{default}```\n\nMore text.\n")
    );

    std::fs::write(&readme, text.replace("aws_vpc_main", "aws_vpc_old")).unwrap();
    let stale = run(&["gen", "--check"]);
    assert_eq!(stale.status.code(), Some(1), "{stale:?}");
    let diff = String::from_utf8(stale.stdout).unwrap();
    assert!(diff.contains("README.md (on disk)"), "{diff}");
    assert!(diff.contains("+    aws_vpc_main["), "{diff}");

    // Another output directory is another configuration: its picture stays out of the README.
    std::fs::write(&readme, "no diagram here\n").unwrap();
    assert!(run(&["gen", "--out", "other"]).status.success());
    let refused = run(&["gen"]);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let log: serde_json::Value = serde_json::from_slice(&refused.stderr).unwrap();
    assert_eq!(
        log["message"],
        "README.md: no ```mermaid block to hold the platform diagram"
    );
}
