//! One insta snapshot per emitted file and fixture; the exact text, so formatting is covered.

use crate::support::{fixtures, modules};

#[test]
fn every_emitted_file_matches_its_snapshot() {
    for (fixture, files) in modules() {
        for (name, text) in &files {
            insta::assert_snapshot!(format!("{fixture}__{name}"), text);
        }
    }
}

#[test]
fn generation_is_deterministic() {
    let first = modules();
    let second = modules();
    assert_eq!(first, second);
    for (_, files) in first {
        for text in files.values() {
            assert!(text.ends_with("}\n") && !text.contains('\r'));
        }
    }
}

#[test]
fn outputs_are_exactly_the_contract() {
    for (_, files) in fixtures() {
        let outputs: serde_json::Value = serde_json::from_str(&files["outputs.tf.json"]).unwrap();
        let names: Vec<&String> = outputs["output"].as_object().unwrap().keys().collect();
        assert_eq!(
            names,
            [
                "data_bucket_arn",
                "data_bucket_name",
                "database_endpoint",
                "database_name",
                "database_port",
                "database_secret_arn",
                "etl_dead_letter_queue_url",
                "etl_deploy_document_name",
                "etl_ecr_repository_url",
                "etl_instance_id",
                "etl_public_dns",
                "etl_public_ip",
                "etl_queue_url",
                "kms_key_arn",
                "region",
            ]
        );
    }
}
