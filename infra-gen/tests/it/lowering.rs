//! Whole-output rules of the lowering that no single emitted file shows: routing, log delivery,
//! settings that must converge on moto and AWS, deletion protection, security group rules, the
//! event queue's policies, the workers' scaling and the escaping of configuration text. They
//! read the generated files merged into one JSON value, as Terraform reads the folder.

use serde_json::{Value, json};

use crate::support::generated;

#[test]
fn only_the_public_tier_routes_to_the_internet() {
    let doc = generated("");
    let routes = doc["resource"]["aws_route"].as_object().unwrap();
    assert_eq!(routes.len(), 1);
    assert_eq!(
        routes["public_internet"]["route_table_id"],
        "${aws_route_table.public.id}"
    );
    let assoc = &doc["resource"]["aws_route_table_association"];
    assert_eq!(
        assoc["private_a"]["route_table_id"],
        "${aws_route_table.private.id}"
    );
    assert_eq!(
        assoc["private_b"]["route_table_id"],
        "${aws_route_table.private.id}"
    );
}

#[test]
fn log_delivery_is_allowed_first_and_only_for_the_log_prefix() {
    let doc = generated("");
    let statements = &doc["data"]["aws_iam_policy_document"]["access_logs_bucket"]["statement"];
    assert_eq!(statements[0]["sid"], "AllowS3ServerAccessLogs");
    assert_eq!(
        statements[0]["resources"],
        json!(["${aws_s3_bucket.access_logs.arn}/data-bucket/*"])
    );
    assert_eq!(statements[1]["effect"], "Deny");
    let logging = &doc["resource"]["aws_s3_bucket_logging"]["data"];
    assert_eq!(logging["target_prefix"], "data-bucket/");
    assert_eq!(
        logging["depends_on"],
        json!(["aws_s3_bucket_policy.access_logs"])
    );
}

#[test]
fn settings_that_must_converge_on_moto_and_aws() {
    let doc = generated("");
    let key = &doc["resource"]["aws_kms_key"]["platform"];
    assert_eq!(key["enable_key_rotation"], true);
    assert!(key.get("rotation_period_in_days").is_none());
    let host = &doc["resource"]["aws_instance"]["etl_host"];
    assert!(host.get("associate_public_ip_address").is_none());
    assert_eq!(host["monitoring"], true);
    assert_eq!(
        doc["resource"]["aws_eip_association"]["etl_host"]["instance_id"],
        "${aws_instance.etl_host.id}"
    );
    assert!(
        doc["provider"]["aws"]
            .get("skip_requesting_account_id")
            .is_none()
    );
    assert_eq!(
        doc["data"]["aws_ssm_parameter"]["ubuntu_ami"]["name"],
        "${var.ubuntu_ami_ssm_parameter}"
    );
}

#[test]
fn deletion_protection_and_force_destroy_follow_the_config() {
    let doc = generated("");
    let db = &doc["resource"]["aws_db_instance"]["main"];
    assert_eq!(
        (&db["deletion_protection"], &db["skip_final_snapshot"]),
        (&json!(true), &json!(false))
    );
    assert_eq!(
        doc["resource"]["aws_s3_bucket"]["data"]["force_destroy"],
        false
    );
    let doc =
        generated("[database]\ndeletion_protection = false\n[storage]\nforce_destroy = true\n");
    let db = &doc["resource"]["aws_db_instance"]["main"];
    assert_eq!(
        (&db["deletion_protection"], &db["skip_final_snapshot"]),
        (&json!(false), &json!(true))
    );
    assert!(db.get("final_snapshot_identifier").is_none());
    assert_eq!(
        doc["resource"]["aws_s3_bucket"]["access_logs"]["force_destroy"],
        true
    );
}
#[test]
fn every_security_group_rule_has_one_peer_and_variable_cidrs_one_rule_each() {
    let doc = generated("[network]\nadmin_cidrs = [\"203.0.113.0/24\", \"198.51.100.7/32\"]\n");
    assert!(doc["resource"]["aws_security_group_rule"].is_null());
    let mut rules = 0;
    for direction in ["ingress", "egress"] {
        let typed = &doc["resource"][format!("aws_vpc_security_group_{direction}_rule")];
        for rule in typed.as_object().unwrap().values() {
            rules += 1;
            let peers = ["cidr_ipv4", "referenced_security_group_id"]
                .iter()
                .filter(|k| rule.get(**k).is_some())
                .count();
            assert_eq!(peers, 1, "{rule}");
            assert_eq!(rule["ip_protocol"], "tcp");
        }
    }
    assert_eq!(rules, 6);
    let ssh = &doc["resource"]["aws_vpc_security_group_ingress_rule"]["etl_host_ssh"];
    assert_eq!(ssh["for_each"], "${toset(var.admin_cidrs)}");
    assert_eq!(ssh["cidr_ipv4"], "${each.value}");
    assert_eq!(
        doc["variable"]["admin_cidrs"]["default"],
        json!(["203.0.113.0/24", "198.51.100.7/32"])
    );
    let db = &doc["resource"]["aws_vpc_security_group_ingress_rule"]["database_postgres_in"];
    assert_eq!(
        db["referenced_security_group_id"],
        "${aws_security_group.etl_host.id}"
    );
}

#[test]
fn no_successful_run_means_two_schedule_intervals_and_silence_breaches() {
    let doc = generated("[etl]\nschedule_minutes = 15\n");
    let alarm = &doc["resource"]["aws_cloudwatch_metric_alarm"]["etl_no_successful_run"];
    assert_eq!(
        [
            &alarm["period"],
            &alarm["evaluation_periods"],
            &alarm["datapoints_to_alarm"]
        ],
        [&json!(900), &json!(2), &json!(2)]
    );
    assert_eq!(alarm["treat_missing_data"], "breaching");
    assert_eq!(
        (&alarm["comparison_operator"], &alarm["threshold"]),
        (&json!("LessThanThreshold"), &json!(1))
    );
}

#[test]
fn the_event_queue_admits_only_the_data_bucket_and_the_key_only_this_queue() {
    let doc =
        generated("[etl]\nevent_prefixes = [\"raw/\", \"in/\"]\nqueue_max_receive_count = 7\n");
    let queue = &doc["resource"]["aws_sqs_queue"]["etl_events"];
    assert_eq!(
        queue["kms_master_key_id"],
        "${data.aws_kms_key.platform.arn}"
    );
    assert_eq!(queue["receive_wait_time_seconds"], 20);
    assert_eq!(
        queue["redrive_policy"],
        "{\"deadLetterTargetArn\":\"${aws_sqs_queue.etl_events_dead_letter.arn}\",\"maxReceiveCount\":7}"
    );
    let dead_letter = &doc["resource"]["aws_sqs_queue"]["etl_events_dead_letter"];
    assert_eq!(dead_letter["message_retention_seconds"], 14 * 86_400);
    assert_eq!(
        dead_letter["redrive_allow_policy"],
        "{\"redrivePermission\":\"byQueue\",\"sourceQueueArns\":[\"arn:${data.aws_partition.current.partition}:sqs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:demo-etl-events\"]}"
    );
    assert!(queue.get("redrive_allow_policy").is_none());
    let policy = &doc["data"]["aws_iam_policy_document"]["etl_events_queue"]["statement"];
    assert_eq!(
        policy[0]["principals"][0]["identifiers"],
        json!(["s3.amazonaws.com"])
    );
    assert_eq!(
        policy[0]["condition"],
        json!([
            {"test": "ArnEquals", "variable": "aws:SourceArn", "values": ["${aws_s3_bucket.data.arn}"]},
            {"test": "StringEquals", "variable": "aws:SourceAccount", "values": ["${data.aws_caller_identity.current.account_id}"]}
        ])
    );
    assert_eq!(policy[1]["sid"], "DenyInsecureTransport");
    let notification = &doc["resource"]["aws_s3_bucket_notification"]["data"];
    assert_eq!(
        notification["depends_on"],
        json!(["aws_sqs_queue_policy.etl_events"])
    );
    let prefixes: Vec<&Value> = notification["queue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| &q["filter_prefix"])
        .collect();
    assert_eq!(prefixes, [&json!("raw/"), &json!("in/")]);
    assert!(
        notification["queue"]
            .as_array()
            .unwrap()
            .iter()
            .all(|q| q.get("filter_suffix").is_none()),
        "no suffix declared, no suffix filter"
    );
    let key = doc["data"]["aws_iam_policy_document"]["kms_key"]["statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["sid"] == "S3EventsIntoTheEtlQueue")
        .unwrap()
        .clone();
    assert_eq!(
        key["actions"],
        json!(["kms:GenerateDataKey", "kms:Decrypt"])
    );
    assert_eq!(
        key["condition"],
        json!([
            {"test": "StringEquals", "variable": "kms:EncryptionContext:aws:sqs:arn", "values": [
                "arn:${data.aws_partition.current.partition}:sqs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:demo-etl-events"
            ]},
            {"test": "ArnEquals", "variable": "aws:SourceArn", "values": [
                "arn:${data.aws_partition.current.partition}:s3:::demo-hadrian-ml-data-bucket"
            ]},
            {"test": "StringEquals", "variable": "aws:SourceAccount", "values": [
                "${data.aws_caller_identity.current.account_id}"
            ]}
        ])
    );
    assert!(doc["resource"]["aws_autoscaling_group"].is_null());
}

#[test]
fn workers_scale_on_the_backlog_per_worker_from_their_own_group() {
    let doc = generated("[etl]\nworkers = { min = 0, max = 4, backlog_per_instance = 25 }\n");
    let group = &doc["resource"]["aws_autoscaling_group"]["etl_workers"];
    assert_eq!(
        (&group["min_size"], &group["max_size"]),
        (&json!(0), &json!(4))
    );
    assert_eq!(group["enabled_metrics"], json!(["GroupInServiceInstances"]));
    let tracking = &doc["resource"]["aws_autoscaling_policy"]["etl_workers_backlog"]["target_tracking_configuration"];
    assert_eq!(tracking["target_value"], 25);
    let metrics = tracking["customized_metric_specification"]["metrics"]
        .as_array()
        .unwrap();
    assert_eq!(
        metrics[2]["expression"],
        "IF(in_service > 0, visible / in_service, visible)"
    );
    assert_eq!(
        metrics[1]["metric_stat"]["metric"]["dimensions"][0]["value"],
        group["name"]
    );
    let template = &doc["resource"]["aws_launch_template"]["etl_worker"];
    assert_eq!(template["metadata_options"]["http_tokens"], "required");
    assert_eq!(
        template["metadata_options"]["http_put_response_hop_limit"],
        2
    );
    assert_eq!(
        template["block_device_mappings"][0]["ebs"]["kms_key_id"],
        "${data.aws_kms_key.platform.arn}"
    );
    assert_eq!(
        template["tag_specifications"][0]["tags"]["hadrian:etl-host"],
        "demo"
    );
    assert_eq!(
        template["iam_instance_profile"]["arn"],
        "${aws_iam_instance_profile.etl_host.arn}"
    );
    // Nothing inbound to the workers; the database admits them.
    let resources = doc["resource"].as_object().unwrap();
    let to_workers = "${aws_security_group.etl_workers.id}";
    assert!(
        !resources["aws_vpc_security_group_ingress_rule"]
            .as_object()
            .unwrap()
            .values()
            .any(|r| r["security_group_id"] == to_workers)
    );
    assert_eq!(
        resources["aws_vpc_security_group_ingress_rule"]["database_postgres_from_etl_workers"]["referenced_security_group_id"],
        to_workers
    );
    assert!(
        resources["aws_vpc_security_group_egress_rule"]
            .as_object()
            .unwrap()
            .values()
            .any(|r| r["security_group_id"] == to_workers)
    );
}

#[test]
fn config_text_reaches_terraform_as_an_escaped_literal() {
    let doc = generated("owner = \"team ${evil} %{if x}\"\n");
    let tags = &doc["provider"]["aws"]["default_tags"]["tags"];
    assert_eq!(tags["Owner"], "team $${evil} %%{if x}");
}

#[test]
fn a_declared_suffix_filters_every_prefix_of_the_notification() {
    let doc = generated("[etl]\nevent_prefixes = [\"raw/\", \"in/\"]\nsuffix = \".json.gz\"\n");
    let filters: Vec<(&Value, &Value)> =
        doc["resource"]["aws_s3_bucket_notification"]["data"]["queue"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| (&q["filter_prefix"], &q["filter_suffix"]))
            .collect();
    assert_eq!(
        filters,
        [
            (&json!("raw/"), &json!(".json.gz")),
            (&json!("in/"), &json!(".json.gz"))
        ]
    );
}
