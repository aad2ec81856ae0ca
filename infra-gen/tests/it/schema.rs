//! Schema honesty: every emitted argument and block exists in the hashicorp/aws provider schema
//! at the right nesting, with a compatible type; no computed-only attribute is set; every
//! required attribute and block is present.
//!
//! The schema is a committed subset of `terraform providers schema -json` for the types we emit
//! (`infra-gen/schema/aws-provider.json`). Refresh it after adding a resource type or moving the
//! provider version:
//!
//! ```sh
//! INFRA_GEN_REFRESH_SCHEMA=1 cargo test -p infra-gen --test it schema
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Map, Value, json};

use crate::support::{TempDir, modules, terraform, terraform_init};

/// Arguments Terraform itself handles on every resource and data source.
const META_ARGUMENTS: [&str; 6] = [
    "//",
    "count",
    "depends_on",
    "for_each",
    "lifecycle",
    "provider",
];

fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema/aws-provider.json")
}

/// `(kind, type) → [(address, body)]` for every resource and data source in every fixture.
fn emitted() -> BTreeMap<(&'static str, String), Vec<(String, Value)>> {
    let mut blocks: BTreeMap<(&'static str, String), Vec<(String, Value)>> = BTreeMap::new();
    for (fixture, files) in modules() {
        for (file, text) in files {
            let doc: Value = serde_json::from_str(&text).unwrap();
            for (kind, key) in [
                ("resource_schemas", "resource"),
                ("data_source_schemas", "data"),
            ] {
                for (type_, by_name) in doc[key].as_object().into_iter().flatten() {
                    for (name, body) in by_name.as_object().unwrap() {
                        blocks.entry((kind, type_.clone())).or_default().push((
                            format!("{fixture}/{file}: {key}.{type_}.{name}"),
                            body.clone(),
                        ));
                    }
                }
            }
        }
    }
    blocks
}

/// Drops descriptions and other documentation from a schema block, keeping structure and types.
fn strip(block: &Value) -> Value {
    let attributes: Map<String, Value> = block["attributes"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, a)| {
            let kept: Map<String, Value> = ["type", "required", "optional", "computed"]
                .iter()
                .filter_map(|k| a.get(*k).map(|v| ((*k).to_owned(), v.clone())))
                .collect();
            (name.clone(), Value::Object(kept))
        })
        .collect();
    let blocks: Map<String, Value> = block["block_types"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, b)| {
            let mut kept = Map::new();
            for k in ["nesting_mode", "min_items", "max_items"] {
                if let Some(v) = b.get(k) {
                    kept.insert(k.to_owned(), v.clone());
                }
            }
            kept.insert("block".into(), strip(&b["block"]));
            (name.clone(), Value::Object(kept))
        })
        .collect();
    json!({ "attributes": attributes, "block_types": blocks })
}

fn refresh(types: &[(&'static str, String)]) {
    let dir = TempDir::new("schema");
    std::fs::write(
        dir.0.join("main.tf.json"),
        r#"{"terraform":{"required_providers":{"aws":{"source":"hashicorp/aws","version":"5.100.0"}}}}"#,
    )
    .unwrap();
    terraform_init(&dir.0, &[]);
    let full: Value =
        serde_json::from_str(&terraform(&dir.0, &["providers", "schema", "-json"])).unwrap();
    let aws = &full["provider_schemas"]["registry.terraform.io/hashicorp/aws"];
    let mut subset = json!({
        "//": "Subset of `terraform providers schema -json` for hashicorp/aws 5.100.0, descriptions removed. Refresh: INFRA_GEN_REFRESH_SCHEMA=1 cargo test -p infra-gen --test it schema",
        "resource_schemas": {},
        "data_source_schemas": {},
    });
    for (kind, type_) in types {
        let block = &aws[*kind][type_]["block"];
        assert!(block.is_object(), "{type_} is not in the provider schema");
        subset[*kind][type_] = strip(block);
    }
    std::fs::write(
        schema_path(),
        serde_json::to_string_pretty(&subset).unwrap() + "\n",
    )
    .unwrap();
}

fn is_expression(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.starts_with("${") && s.ends_with('}'))
}

/// Whether a JSON value fits a Terraform type (cty JSON encoding).
fn fits(value: &Value, type_: &Value) -> bool {
    if is_expression(value) {
        return true;
    }
    match (type_, value) {
        (Value::String(t), _) => match t.as_str() {
            "string" => value.is_string(),
            "number" => value.is_number(),
            "bool" => value.is_boolean(),
            _ => true,
        },
        (Value::Array(t), Value::Array(items)) if t[0] == "list" || t[0] == "set" => {
            items.iter().all(|i| fits(i, &t[1]))
        }
        (Value::Array(t), Value::Object(map)) if t[0] == "map" => {
            map.values().all(|v| fits(v, &t[1]))
        }
        (Value::Array(t), Value::Object(_)) => t[0] == "object",
        _ => false,
    }
}

fn check_block(path: &str, body: &Value, schema: &Value, top: bool, problems: &mut Vec<String>) {
    let Some(body) = body.as_object() else {
        problems.push(format!("{path}: expected an object"));
        return;
    };
    for (key, value) in body {
        if top && META_ARGUMENTS.contains(&key.as_str()) || key == "//" {
            continue;
        }
        if let Some(attr) = schema["attributes"].get(key) {
            let settable = attr["required"] == true || attr["optional"] == true;
            if !settable {
                problems.push(format!("{path}.{key}: computed-only attribute is set"));
            } else if !fits(value, &attr["type"]) {
                problems.push(format!(
                    "{path}.{key}: {value} does not fit type {}",
                    attr["type"]
                ));
            }
        } else if let Some(block) = schema["block_types"].get(key) {
            let items = match value {
                Value::Array(items) => items.clone(),
                other => vec![other.clone()],
            };
            if let Some(max) = block["max_items"].as_u64()
                && items.len() as u64 > max
            {
                problems.push(format!(
                    "{path}.{key}: {} blocks, at most {max}",
                    items.len()
                ));
            }
            for (i, item) in items.iter().enumerate() {
                check_block(
                    &format!("{path}.{key}[{i}]"),
                    item,
                    &block["block"],
                    false,
                    problems,
                );
            }
        } else {
            problems.push(format!("{path}.{key}: no such argument or block"));
        }
    }
    for (name, attr) in schema["attributes"].as_object().into_iter().flatten() {
        if attr["required"] == true && !body.contains_key(name) {
            problems.push(format!("{path}: required attribute {name} is missing"));
        }
    }
    for (name, block) in schema["block_types"].as_object().into_iter().flatten() {
        if block["min_items"].as_u64().unwrap_or(0) > 0 && !body.contains_key(name) {
            problems.push(format!("{path}: required block {name} is missing"));
        }
    }
}

#[test]
fn every_emitted_argument_exists_in_the_provider_schema() {
    let blocks = emitted();
    if std::env::var_os("INFRA_GEN_REFRESH_SCHEMA").is_some() {
        refresh(&blocks.keys().cloned().collect::<Vec<_>>());
    }
    let text =
        std::fs::read_to_string(schema_path()).expect("schema/aws-provider.json is committed");
    let schema: Value = serde_json::from_str(&text).unwrap();
    let mut problems = Vec::new();
    for ((kind, type_), instances) in &blocks {
        let Some(block) = schema[*kind].get(type_) else {
            problems.push(format!(
                "{type_}: not in the committed schema; refresh it (see module docs)"
            ));
            continue;
        };
        for (address, body) in instances {
            check_block(address, body, block, true, &mut problems);
        }
    }
    assert!(
        problems.is_empty(),
        "schema problems:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_catches_unknown_wrong_typed_and_missing_arguments() {
    let schema = json!({
        "attributes": {
            "bucket": {"type": "string", "required": true},
            "arn": {"type": "string", "computed": true},
            "force_destroy": {"type": "bool", "optional": true},
        },
        "block_types": {"rule": {"nesting_mode": "list", "max_items": 1, "block": {"attributes": {"id": {"type": "string", "optional": true}}}}},
    });
    let mut problems = Vec::new();
    let body = json!({"arn": "x", "force_destroy": "yes", "colour": 1, "rule": [{"id": "a"}, {"idd": "b"}]});
    check_block("t", &body, &schema, true, &mut problems);
    assert_eq!(
        problems,
        [
            "t.arn: computed-only attribute is set",
            "t.colour: no such argument or block",
            "t.force_destroy: \"yes\" does not fit type \"bool\"",
            "t.rule: 2 blocks, at most 1",
            "t.rule[1].idd: no such argument or block",
            "t: required attribute bucket is missing",
        ]
    );
}
