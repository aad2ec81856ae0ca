//! Monitoring consistency: the checks that catch a silent alarm or a log writer without a group.
//!
//! Every alarm must watch a (namespace, metric, dimension names) triple that something really
//! publishes: the host agent (its configuration is read back from the generated SSM
//! parameter and its published shapes computed by `infra_gen::agent`), the `etl` crate's EMF
//! records (constants parsed from `etl/src/metrics.rs`), the generated metric filter, or the
//! AWS services' own metrics. Every log group a writer uses must be created by Terraform.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use infra_gen::agent::Config;
use infra_gen::model::monitoring::emf;
use serde_json::Value;

use crate::support::{fixtures, platforms};

/// `(namespace, metric, sorted dimension names)`.
type Shape = (String, String, BTreeSet<String>);

fn repo_file(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every resource of every file, by type then name.
fn resources(files: &infra_gen::Files) -> BTreeMap<String, BTreeMap<String, Value>> {
    let mut all: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for text in files.values() {
        let doc: Value = serde_json::from_str(text).unwrap();
        for (type_, by_name) in doc["resource"].as_object().into_iter().flatten() {
            for (name, body) in by_name.as_object().unwrap() {
                all.entry(type_.clone())
                    .or_default()
                    .insert(name.clone(), body.clone());
            }
        }
    }
    all
}

/// `*` matches any text; everything else matches itself (IAM `ArnLike` semantics for names).
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            text.starts_with(head) && (head.len()..=text.len()).any(|i| glob(tail, &text[i..]))
        }
    }
}

/// Undoes Terraform template escaping of a literal.
fn unescape(template: &str) -> String {
    template.replace("$${", "${").replace("%%{", "%{")
}

/// The agent configuration exactly as the host will read it from SSM.
fn agent_config(resources: &BTreeMap<String, BTreeMap<String, Value>>) -> Config {
    agent_config_of(resources, "cloudwatch_agent").unwrap()
}

/// The agent configuration in the SSM parameter resource `name`, if it is declared.
fn agent_config_of(
    resources: &BTreeMap<String, BTreeMap<String, Value>>,
    name: &str,
) -> Option<Config> {
    let value = resources["aws_ssm_parameter"].get(name)?["value"]
        .as_str()
        .unwrap();
    Some(serde_json::from_str(&unescape(value)).unwrap())
}

/// `pub const NAME: &str = "value";` lines of `etl/src/metrics.rs`.
fn etl_metric_constants() -> BTreeMap<String, String> {
    repo_file("etl/src/metrics.rs")
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("pub const ")?;
            let (name, value) = rest.split_once(": &str = ")?;
            let value = value.strip_suffix(';')?.trim_matches('"');
            Some((name.to_owned(), value.to_owned()))
        })
        .collect()
}

fn names(dimensions: &[&str]) -> BTreeSet<String> {
    dimensions.iter().map(|d| (*d).to_owned()).collect()
}

/// Everything that is really published, from every source.
fn published(resources: &BTreeMap<String, BTreeMap<String, Value>>) -> BTreeSet<Shape> {
    // The host's agent, and the workers' when there is a fleet.
    let mut shapes: BTreeSet<Shape> = ["cloudwatch_agent", "cloudwatch_agent_workers"]
        .iter()
        .filter_map(|name| agent_config_of(resources, name))
        .flat_map(|config| config.published())
        .map(|p| (p.namespace, p.metric, p.dimensions))
        .collect();
    let etl = etl_metric_constants();
    for (name, metric) in &etl {
        if name != "NAMESPACE" && !name.starts_with("DIMENSION_") {
            shapes.insert((
                etl["NAMESPACE"].clone(),
                metric.clone(),
                names(&[&etl["DIMENSION_DATASET"]]),
            ));
        }
    }
    for filter in resources["aws_cloudwatch_log_metric_filter"].values() {
        let t = &filter["metric_transformation"];
        shapes.insert((
            t["namespace"].as_str().unwrap().to_owned(),
            t["name"].as_str().unwrap().to_owned(),
            BTreeSet::new(),
        ));
    }
    // AWS service metrics, as documented for EC2, RDS and SQS; EC2 also aggregates the
    // instances of an Auto Scaling group by its name.
    for metric in ["CPUUtilization", "StatusCheckFailed"] {
        shapes.insert(("AWS/EC2".into(), metric.into(), names(&["InstanceId"])));
    }
    if resources.contains_key("aws_autoscaling_group") {
        shapes.insert((
            "AWS/EC2".into(),
            "CPUUtilization".into(),
            names(&["AutoScalingGroupName"]),
        ));
    }
    for metric in [
        "ApproximateNumberOfMessagesVisible",
        "ApproximateAgeOfOldestMessage",
    ] {
        shapes.insert(("AWS/SQS".into(), metric.into(), names(&["QueueName"])));
    }
    for metric in ["CPUUtilization", "FreeStorageSpace", "DatabaseConnections"] {
        shapes.insert((
            "AWS/RDS".into(),
            metric.into(),
            names(&["DBInstanceIdentifier"]),
        ));
    }
    shapes
}

#[test]
fn the_checked_copy_of_the_emf_names_matches_etl() {
    let etl = etl_metric_constants();
    let copy = [
        ("NAMESPACE", emf::NAMESPACE),
        ("DIMENSION_DATASET", emf::DIMENSION_DATASET),
        ("ROWS_LOADED", emf::ROWS_LOADED),
        ("ROWS_REJECTED", emf::ROWS_REJECTED),
        ("OBJECTS_LOADED", emf::OBJECTS_LOADED),
        ("OBJECTS_FAILED", emf::OBJECTS_FAILED),
        ("DURATION_SECONDS", emf::DURATION_SECONDS),
        ("RUN_SUCCEEDED", emf::RUN_SUCCEEDED),
        ("MESSAGES_RECEIVED", emf::MESSAGES_RECEIVED),
        ("EVENT_OBJECTS_LOADED", emf::EVENT_OBJECTS_LOADED),
        ("EVENT_TO_COMMIT_SECONDS", emf::EVENT_TO_COMMIT_SECONDS),
        ("DOWNLOAD_RESUMES", emf::DOWNLOAD_RESUMES),
    ];
    let copy: BTreeMap<String, String> = copy
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(
        copy, etl,
        "infra-gen's model::monitoring::emf drifted from etl/src/metrics.rs"
    );
}

#[test]
fn every_alarm_watches_something_that_is_published() {
    let dataset = repo_file("data/events.toml")
        .lines()
        .find_map(|l| {
            l.strip_prefix("name = ")
                .map(|v| v.trim_matches('"').to_owned())
        })
        .unwrap();
    for (fixture, files) in fixtures() {
        let resources = resources(&files);
        let published = published(&resources);
        let alarms = &resources["aws_cloudwatch_metric_alarm"];
        // 13, and three more on the workers' group when there is one.
        let fleet = resources.contains_key("aws_autoscaling_group");
        assert_eq!(alarms.len(), 13 + 3 * usize::from(fleet), "{fixture}");
        for (name, alarm) in alarms {
            let dimensions = alarm["dimensions"].as_object().cloned().unwrap_or_default();
            let shape = (
                alarm["namespace"].as_str().unwrap().to_owned(),
                alarm["metric_name"].as_str().unwrap().to_owned(),
                dimensions.keys().cloned().collect(),
            );
            assert!(
                published.contains(&shape),
                "{fixture}: alarm {name} watches {shape:?}, which nothing publishes"
            );
            for (key, value) in &dimensions {
                let expected = match key.as_str() {
                    "InstanceId" => "${aws_instance.etl_host.id}",
                    "DBInstanceIdentifier" => "${aws_db_instance.main.identifier}",
                    "Dataset" => dataset.as_str(),
                    "QueueName" if name == "etl_dead_letter_not_empty" => {
                        "${aws_sqs_queue.etl_events_dead_letter.name}"
                    }
                    "QueueName" => "${aws_sqs_queue.etl_events.name}",
                    // The group's literal name, which must be the group's own.
                    "AutoScalingGroupName" => {
                        resources["aws_autoscaling_group"]["etl_workers"]["name"]
                            .as_str()
                            .unwrap()
                    }
                    other => panic!("{fixture}: alarm {name}: unexpected dimension {other}"),
                };
                assert_eq!(value, expected, "{fixture}: alarm {name}: {key}");
            }
        }
    }
}

#[test]
fn the_root_disk_is_published_with_the_instance_dimension_only() {
    for (fixture, files) in fixtures() {
        let disk: Vec<_> = agent_config(&resources(&files))
            .published()
            .into_iter()
            .filter(|p| p.metric == "disk_used_percent")
            .map(|p| p.dimensions.into_iter().collect::<Vec<_>>())
            .collect();
        assert_eq!(disk, [vec!["InstanceId".to_owned()]], "{fixture}");
    }
}

#[test]
fn every_alarm_notifies_the_encrypted_topic() {
    for (fixture, files) in fixtures() {
        let resources = resources(&files);
        let topic = &resources["aws_sns_topic"]["alarms"];
        assert_eq!(
            topic["kms_master_key_id"], "${data.aws_kms_key.alarms.arn}",
            "{fixture}"
        );
        for (name, alarm) in &resources["aws_cloudwatch_metric_alarm"] {
            assert_eq!(
                alarm["alarm_actions"],
                serde_json::json!(["${aws_sns_topic.alarms.arn}"]),
                "{fixture}: {name}"
            );
            assert_eq!(
                alarm["ok_actions"], alarm["alarm_actions"],
                "{fixture}: {name}"
            );
            if let Some(no_data) = alarm.get("insufficient_data_actions") {
                assert_eq!(no_data, &alarm["alarm_actions"], "{fixture}: {name}");
            }
        }
        let subscriptions = resources.get("aws_sns_topic_subscription");
        match fixture {
            // Only the production and full fixtures set `monitoring.alarm_email`.
            "default" | "github" => assert!(subscriptions.is_none()),
            _ => assert_eq!(
                subscriptions.unwrap()["alarms_email"]["topic_arn"],
                "${aws_sns_topic.alarms.arn}"
            ),
        }
    }
}

#[test]
fn every_log_group_a_writer_uses_is_created_by_terraform() {
    let compose = repo_file("etl/deploy/compose.yaml");
    assert!(
        compose.contains("awslogs-group: ${ETL_LOG_GROUP:"),
        "compose.yaml no longer takes its log group from ETL_LOG_GROUP"
    );
    assert!(compose.contains("awslogs-create-group: \"false\""));
    for ((fixture, files), (_, platform)) in fixtures().into_iter().zip(platforms()) {
        let resources = resources(&files);
        let groups: BTreeSet<String> = resources["aws_cloudwatch_log_group"]
            .values()
            .map(|g| unescape(g["name"].as_str().unwrap()))
            .collect();
        assert_eq!(
            groups.len(),
            resources["aws_cloudwatch_log_group"].len(),
            "{fixture}: two resources manage the same log group"
        );
        let by_address: BTreeMap<String, &Value> = resources["aws_cloudwatch_log_group"]
            .iter()
            .map(|(name, g)| (format!("${{aws_cloudwatch_log_group.{name}.id}}"), g))
            .collect();
        let mut used = BTreeSet::new();
        // The agent's host logs.
        for file in agent_config(&resources)
            .logs
            .logs_collected
            .files
            .collect_list
        {
            used.insert(file.log_group_name);
        }
        // The container's awslogs driver (compose: ETL_LOG_GROUP), which also carries the EMF
        // records; the host's env file sets ETL_LOG_GROUP once the runtime writes it.
        used.insert(platform.etl_log_group_name());
        let user_data = crate::user_data::user_data_template(&files, "host").unwrap();
        for line in user_data.lines() {
            if let Some(value) = line.trim().strip_prefix("ETL_LOG_GROUP=") {
                // Either a literal name or a reference to a declared group's name.
                let group = value
                    .trim_matches('"')
                    .strip_prefix("${aws_cloudwatch_log_group.")
                    .and_then(|r| r.strip_suffix(".name}"))
                    .map_or_else(
                        || unescape(value.trim_matches('"')),
                        |name| {
                            let group = &resources["aws_cloudwatch_log_group"][name];
                            unescape(group["name"].as_str().unwrap())
                        },
                    );
                used.insert(group);
            }
        }
        // RDS log exports.
        let db = &resources["aws_db_instance"]["main"];
        for export in db["enabled_cloudwatch_logs_exports"].as_array().unwrap() {
            used.insert(format!(
                "/aws/rds/instance/{}/{}",
                db["identifier"].as_str().unwrap(),
                export.as_str().unwrap()
            ));
        }
        let missing: Vec<_> = used.difference(&groups).collect();
        assert!(
            missing.is_empty(),
            "{fixture}: no log group for {missing:?}"
        );
        // Metric filters sit on a declared group.
        for filter in resources["aws_cloudwatch_log_metric_filter"].values() {
            let group = filter["log_group_name"].as_str().unwrap();
            assert!(by_address.contains_key(group), "{fixture}: {group}");
        }
        assert!(
            resources["aws_flow_log"]["main"]["log_destination"]
                .as_str()
                .unwrap()
                .starts_with("${aws_cloudwatch_log_group.")
        );
        // The platform key (bootstrap module) admits CloudWatch Logs for exactly these names.
        let bootstrap = infra_gen::generate_bootstrap(&platform).unwrap();
        let keys: Value = serde_json::from_str(&bootstrap["keys.tf.json"]).unwrap();
        let patterns: Vec<String> = keys["data"]["aws_iam_policy_document"]["kms_key"]["statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["condition"].as_array().cloned().unwrap_or_default())
            .filter(|c| c["variable"] == "kms:EncryptionContext:aws:logs:arn")
            .flat_map(|c| c["values"].as_array().cloned().unwrap())
            .map(|v| {
                let v = unescape(v.as_str().unwrap());
                v[v.find(":log-group:").unwrap() + 11..].to_owned()
            })
            .collect();
        for group in &groups {
            assert!(
                patterns.iter().any(|p| glob(p, group)),
                "{fixture}: the platform key's policy does not admit log group {group} ({patterns:?})"
            );
        }
        // Every group is encrypted and expires.
        for group in resources["aws_cloudwatch_log_group"].values() {
            assert!(
                group["kms_key_id"]
                    .as_str()
                    .unwrap()
                    .starts_with("${data.aws_kms_key.")
            );
            assert_eq!(
                group["retention_in_days"],
                platform.monitoring.log_retention_days
            );
        }
    }
}

#[test]
fn the_agent_parameter_fits_the_standard_tier_and_has_the_model_name() {
    for ((fixture, files), (_, platform)) in fixtures().into_iter().zip(platforms()) {
        let resources = resources(&files);
        let parameter = &resources["aws_ssm_parameter"]["cloudwatch_agent"];
        assert_eq!(
            parameter["name"],
            platform.cloudwatch_agent_parameter_name().as_str()
        );
        assert!(
            parameter["name"]
                .as_str()
                .unwrap()
                .starts_with("AmazonCloudWatch-"),
            "{fixture}"
        );
        let value = unescape(parameter["value"].as_str().unwrap());
        assert!(value.len() < 4096, "{fixture}: {} bytes", value.len());
    }
}

#[test]
fn agent_configuration_and_alarms_match_their_snapshots() {
    for (fixture, files) in fixtures() {
        let resources = resources(&files);
        let config = serde_json::to_string_pretty(&agent_config(&resources)).unwrap();
        insta::assert_snapshot!(format!("{fixture}__cloudwatch_agent.json"), config);
        let alarms: Vec<String> = resources["aws_cloudwatch_metric_alarm"]
            .values()
            .map(|a| {
                format!(
                    "{}: {} {} {} {} {}s x{} {} {} missing={}",
                    a["alarm_name"].as_str().unwrap(),
                    a["namespace"].as_str().unwrap(),
                    a["metric_name"].as_str().unwrap(),
                    a["dimensions"],
                    a["statistic"].as_str().unwrap(),
                    a["period"],
                    a["evaluation_periods"],
                    a["comparison_operator"].as_str().unwrap(),
                    a["threshold"],
                    a["treat_missing_data"].as_str().unwrap(),
                )
            })
            .collect();
        insta::assert_snapshot!(format!("{fixture}__alarms"), alarms.join("\n"));
    }
}

#[test]
fn the_host_may_write_exactly_the_log_groups_it_feeds_and_read_its_agent_config() {
    for ((fixture, files), (_, platform)) in fixtures().into_iter().zip(platforms()) {
        let resources = resources(&files);
        let iam: Value = serde_json::from_str(&files["iam.tf.json"]).unwrap();
        let statements = iam["data"]["aws_iam_policy_document"]["etl_host"]["statement"]
            .as_array()
            .unwrap();
        let sid = |sid: &str| -> BTreeSet<String> {
            statements
                .iter()
                .find(|s| s["sid"] == sid)
                .unwrap_or_else(|| panic!("{fixture}: no statement {sid}"))["resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_owned())
                .collect()
        };
        let mut expected = BTreeSet::new();
        let mut writers: Vec<String> = agent_config(&resources)
            .logs
            .logs_collected
            .files
            .collect_list
            .into_iter()
            .map(|f| f.log_group_name)
            .collect();
        writers.push(platform.etl_log_group_name());
        for group in writers {
            let (name, _) = resources["aws_cloudwatch_log_group"]
                .iter()
                .find(|(_, g)| unescape(g["name"].as_str().unwrap()) == group)
                .unwrap();
            let arn = format!("${{aws_cloudwatch_log_group.{name}.arn}}");
            expected.insert(format!("{arn}:log-stream:*"));
            expected.insert(arn);
        }
        assert_eq!(sid("WriteOwnLogGroups"), expected, "{fixture}");
        // The host's configuration, and the workers' (same role) when there is a fleet.
        let configurations: BTreeSet<String> = resources["aws_ssm_parameter"]
            .keys()
            .filter(|name| name.starts_with("cloudwatch_agent"))
            .map(|name| format!("${{aws_ssm_parameter.{name}.arn}}"))
            .collect();
        assert_eq!(
            configurations.len(),
            1 + usize::from(resources.contains_key("aws_autoscaling_group")),
            "{fixture}"
        );
        assert_eq!(sid("ReadAgentConfiguration"), configurations, "{fixture}");
        assert!(
            resources["aws_iam_role_policy_attachment"]
                .values()
                .all(|a| !a["policy_arn"]
                    .as_str()
                    .unwrap()
                    .contains("CloudWatchAgent")),
            "{fixture}: the managed agent policy would allow logs:CreateLogGroup on *"
        );
    }
}
