//! Who may do what, read from the whole output: the GitHub roles' trust, the apply role's managed
//! policies (scope, size limit, no way to change the bootstrap), the deploy role, the host's
//! image pull and agent policy, and the permissions boundary every platform role carries.

use serde_json::{Value, json};

/// The encryption context SSM gives KMS for a `SecureString` parameter.
const PARAMETER_CONTEXT: &str = "kms:EncryptionContext:PARAMETER_ARN";

use crate::support::{generated, platform_module};

const GITHUB: &str = "[delivery]\ngithub_repository = \"o/r\"\nstate_bucket = \"tfstate\"\n";

#[test]
fn github_roles_trust_only_the_repository_subjects_of_the_contract() {
    let doc = generated(GITHUB);
    let trust = |role: &str| {
        let statement =
            &doc["data"]["aws_iam_policy_document"][format!("github_{role}_trust")]["statement"][0];
        assert_eq!(
            statement["actions"],
            json!(["sts:AssumeRoleWithWebIdentity"])
        );
        assert_eq!(
            statement["principals"][0]["identifiers"],
            json!(["${aws_iam_openid_connect_provider.github.arn}"])
        );
        assert_eq!(
            statement["condition"][0],
            json!({"test": "StringEquals", "variable": "token.actions.githubusercontent.com:aud", "values": ["sts.amazonaws.com"]})
        );
        statement["condition"][1]["values"].clone()
    };
    assert_eq!(
        trust("plan"),
        json!(["repo:o/r:pull_request", "repo:o/r:ref:refs/heads/main"])
    );
    assert_eq!(trust("apply"), json!(["repo:o/r:environment:production"]));
    assert_eq!(trust("deploy"), json!(["repo:o/r:environment:deploy"]));
    let roles = &doc["resource"]["aws_iam_role"];
    assert_eq!(roles["github_apply"]["name"], "demo-github-apply");
    assert_eq!(
        doc["output"]["github_deploy_role_arn"]["value"],
        "${aws_iam_role.github_deploy.arn}"
    );
}

#[test]
fn state_access_follows_the_configured_bucket_and_key() {
    let doc = generated(GITHUB);
    let apply = &doc["data"]["aws_iam_policy_document"]["github_apply_delivery"]["statement"];
    assert_eq!(
        apply[1]["resources"],
        json!([
            "arn:${data.aws_partition.current.partition}:s3:::tfstate/hadrian/terraform.tfstate",
            "arn:${data.aws_partition.current.partition}:s3:::tfstate/hadrian/terraform.tfstate.tflock"
        ])
    );
    let plan = &doc["data"]["aws_iam_policy_document"]["github_plan_delivery"]["statement"];
    assert_eq!(plan[0]["actions"], json!(["s3:GetObject"]));
    assert_eq!(plan[0]["resources"], apply[1]["resources"]);
    assert_eq!(plan[1]["actions"], json!(["s3:ListBucket"]));
    assert_eq!(plan[1]["resources"], apply[0]["resources"]);
}

/// The policy JSON IAM stores for an `aws_iam_policy_document`, with every interpolation
/// replaced by the longest value it can take, so its length bounds the real one.
fn longest_policy_json(document: &Value) -> String {
    let statements: Vec<Value> = document["statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let mut conditions = serde_json::Map::new();
            for c in s["condition"].as_array().into_iter().flatten() {
                let test = conditions
                    .entry(c["test"].as_str().unwrap())
                    .or_insert_with(|| json!({}));
                test[c["variable"].as_str().unwrap()] = c["values"].clone();
            }
            json!({"Sid": s["sid"], "Effect": s["effect"], "Action": s["actions"],
                   "Resource": s["resources"], "Condition": conditions})
        })
        .collect();
    let text = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = start + rest[start..].find('}').unwrap();
        out.push_str(match &rest[start + 2..end] {
            "data.aws_partition.current.partition" => "aws-us-gov",
            "data.aws_region.current.name" => "ap-southeast-2",
            "data.aws_caller_identity.current.account_id" => "123456789012",
            // An ARN, a variable's value: generously long.
            _ => "arn:aws-us-gov:ec2:ap-southeast-2:123456789012:vpc/vpc-0123456789abcdef0xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The GitHub identity and a worker fleet: every apply policy area is present.
const GITHUB_WITH_WORKERS: &str = "[delivery]\ngithub_repository = \"o/r\"\nstate_bucket = \"tfstate\"\n[etl]\nworkers = { min = 0, max = 2 }\n";

/// The all-features fixture, whose platform declares the most names (every alarm, both agent
/// parameters, both queues, a final snapshot).
fn full_fixture() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/it/fixtures/full.toml"
    ))
    .unwrap()
}

#[test]
fn the_apply_role_has_only_its_own_managed_policies_each_within_the_size_limit() {
    for config in [
        GITHUB,
        GITHUB_WITH_WORKERS,
        &full_fixture(),
        &longest_name_fixture(),
    ] {
        role_policies_fit(config, "apply");
        role_policies_fit(config, "plan");
    }
}

/// Every managed policy of the full configuration under the longest platform name, the CI roles' and the
/// platform's alike (the boundary included), stays under IAM's 6,144 characters.
#[test]
fn every_managed_policy_fits_under_the_longest_name() {
    let doc = generated(&longest_name_fixture());
    let documents = &doc["data"]["aws_iam_policy_document"];
    let policies = doc["resource"]["aws_iam_policy"].as_object().unwrap();
    assert!(policies.contains_key("permissions_boundary") && policies.contains_key("ssm_agent"));
    for (name, policy) in policies {
        let source = policy["policy"].as_str().unwrap();
        let document = source
            .strip_prefix("${data.aws_iam_policy_document.")
            .and_then(|rest| rest.strip_suffix(".json}"))
            .unwrap_or_else(|| panic!("{name}: {source}"));
        let text = longest_policy_json(&documents[document]);
        assert!(text.len() < 6144, "{name}: {} characters", text.len());
    }
}

/// The full fixture under the longest name a platform may have: every exact ARN grows with it.
fn longest_name_fixture() -> String {
    let longest = full_fixture().replace(
        "name = \"acme-full\"",
        "name = \"abcdefghij-klmnopqrstuvw\"",
    );
    assert!(longest.contains("abcdefghij-klmnopqrstuvw"));
    longest
}

/// The CI role `purpose` (`apply`, `plan`) carries exactly its own managed policies, at most
/// 10, each under IAM's size limit, and no inline policy.
fn role_policies_fit(config: &str, purpose: &str) {
    let doc = generated(config);
    let attached: Vec<&Value> = doc["resource"]["aws_iam_role_policy_attachment"]
        .as_object()
        .unwrap()
        .values()
        .filter(|a| a["role"] == format!("${{aws_iam_role.github_{purpose}.id}}"))
        .map(|a| &a["policy_arn"])
        .collect();
    let mut policies = doc["resource"]["aws_iam_policy"]
        .as_object()
        .unwrap()
        .clone();
    policies.retain(|name, _| name.starts_with(&format!("github_{purpose}_")));
    assert!(!policies.is_empty(), "{purpose}");
    assert_eq!(attached.len(), policies.len());
    assert!(
        policies.len() <= 10,
        "IAM attaches at most 10 managed policies"
    );
    for (name, policy) in &policies {
        assert!(attached.contains(&&json!(format!("${{aws_iam_policy.{name}.arn}}"))));
        assert!(
            policy["name"]
                .as_str()
                .unwrap()
                .contains(&format!("-github-{purpose}-"))
        );
        let document = &doc["data"]["aws_iam_policy_document"][name];
        let text = longest_policy_json(document);
        assert!(text.len() < 6144, "{name}: {} characters", text.len());
    }
    assert!(doc["resource"]["aws_iam_role_policy"][format!("github_{purpose}")].is_null());
}

/// Reads that return data, not configuration: never the plan role's, whatever it plans.
const DATA_READS: [&str; 12] = [
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "kms:Decrypt",
    "logs:FilterLogEvents",
    "logs:GetLogEvents",
    "logs:GetQueryResults",
    "logs:StartQuery",
    "s3:GetObjectVersion",
    "secretsmanager:GetSecretValue",
    "sqs:ReceiveMessage",
    "ssm:GetParameterHistory",
    "ssm:GetParametersByPath",
];

/// Whether `action` is a configuration read by its verb.
fn reads(action: &str) -> bool {
    let call = action.split_once(':').unwrap().1;
    ["Describe", "Get", "List"]
        .iter()
        .any(|verb| call.starts_with(verb))
}

/// Every statement of the managed policies of the CI role `purpose`, by policy.
fn role_statements(doc: &Value, purpose: &str) -> Vec<(String, Value)> {
    doc["data"]["aws_iam_policy_document"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| {
            name.starts_with(&format!("github_{purpose}_")) && !name.ends_with("_trust")
        })
        .flat_map(|(name, d)| {
            d["statement"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| (name.clone(), s.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The plan role reads configuration only: no write, no data. Objects only at the state key
/// (and its lock file), parameters only the platform's own non-secret ones and the AMI's, and
/// AWS's `ReadOnlyAccess` is gone.
#[test]
fn the_plan_role_reads_configuration_never_data() {
    for config in [GITHUB, GITHUB_WITH_WORKERS, &full_fixture()] {
        let doc = generated(config);
        let platform = platform_module(config);
        let mut parameters: Vec<String> = platform["resource"]["aws_ssm_parameter"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, p)| {
                // The platform's only parameters are the agents' configurations: no secret in
                // them, though stored as a SecureString under the platform key.
                let name = p["name"].as_str().unwrap().to_owned();
                assert!(name.starts_with("AmazonCloudWatch-"), "{name}");
                format!("/{name}")
            })
            .collect();
        parameters.push(
            platform["variable"]["ubuntu_ami_ssm_parameter"]["default"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        // The objects the apply writes: the state object and its lock file.
        let state = role_statements(&doc, "apply")
            .into_iter()
            .map(|(_, s)| s)
            .find(|s| s["sid"] == "ReadWriteStateAndLock")
            .unwrap();
        let statements = role_statements(&doc, "plan");
        assert!(statements.len() > 15);
        for (policy, s) in &statements {
            assert_eq!(s["effect"], "Allow", "{policy}");
            for action in s["actions"].as_array().unwrap() {
                let action = action.as_str().unwrap();
                // A SecureString's refresh decrypts it: only through SSM, only those parameters.
                if action == "kms:Decrypt" {
                    let conditions = s["condition"].as_array().unwrap();
                    let variables: Vec<&str> = conditions
                        .iter()
                        .map(|c| c["variable"].as_str().unwrap())
                        .collect();
                    assert_eq!(variables, ["kms:ViaService", PARAMETER_CONTEXT], "{policy}");
                    assert!(
                        conditions[0]["values"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .all(|v| v.as_str().unwrap().starts_with("ssm.")),
                        "{policy}"
                    );
                    for parameter in conditions[1]["values"].as_array().unwrap() {
                        let parameter = parameter.as_str().unwrap();
                        assert!(
                            parameter.contains(":parameter/AmazonCloudWatch-"),
                            "{policy}: {parameter}"
                        );
                    }
                    continue;
                }
                assert!(reads(action), "{policy}: {action} is not a read");
                assert!(!DATA_READS.contains(&action), "{policy}: {action}");
                let resources = s["resources"].as_array().unwrap();
                if action == "s3:GetObject" {
                    assert_eq!(resources, state["resources"].as_array().unwrap());
                    assert!(resources[0].as_str().unwrap().ends_with(".tfstate"));
                }
                if action.starts_with("ssm:GetParameter") {
                    for r in resources {
                        let r = r.as_str().unwrap();
                        assert!(
                            parameters
                                .iter()
                                .any(|p| r.ends_with(&format!(":parameter{p}"))),
                            "{policy}: {action} on {r}"
                        );
                    }
                }
            }
        }
        let attachments = doc["resource"]["aws_iam_role_policy_attachment"].to_string();
        assert!(!attachments.contains("ReadOnlyAccess"), "{attachments}");
    }
}

/// The plan policies are a function of the apply tables: each apply statement's reads, on the
/// same resources under the same conditions (request-tag ones dropped: only creations carry
/// them), in the plan policy of the same area; nothing else but the state object's read.
#[test]
fn the_plan_role_reads_what_the_apply_role_reads() {
    for config in [GITHUB, GITHUB_WITH_WORKERS, &full_fixture()] {
        let doc = generated(config);
        let mut expected: Vec<(String, Value)> = Vec::new();
        for (policy, s) in role_statements(&doc, "apply") {
            if s["effect"] != "Allow" {
                continue;
            }
            let decrypts_parameters = s["condition"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["variable"] == PARAMETER_CONTEXT));
            let actions: Vec<&Value> = s["actions"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| {
                    let a = a.as_str().unwrap();
                    (reads(a) && !DATA_READS.contains(&a) && a != "s3:GetObject")
                        || (a == "kms:Decrypt" && decrypts_parameters)
                })
                .collect();
            if actions.is_empty() {
                continue;
            }
            let mut read = s.clone();
            read["actions"] = json!(actions);
            if let Some(conditions) = s["condition"].as_array() {
                let kept: Vec<&Value> = conditions
                    .iter()
                    .filter(|c| c["variable"] != "aws:RequestTag/Platform")
                    .collect();
                if kept.is_empty() {
                    read.as_object_mut().unwrap().remove("condition");
                } else {
                    read["condition"] = json!(kept);
                }
            }
            expected.push((policy.replacen("github_apply_", "github_plan_", 1), read));
        }
        let actual: Vec<(String, Value)> = role_statements(&doc, "plan")
            .into_iter()
            .filter(|(_, s)| s["sid"] != "ReadStateAndLock")
            .collect();
        assert_eq!(actual, expected);
        // What a refresh of the platform reads: each resource type's read is there.
        let plan: Vec<String> = actual
            .iter()
            .flat_map(|(_, s)| s["actions"].as_array().unwrap().clone())
            .map(|a| a.as_str().unwrap().to_owned())
            .collect();
        for action in [
            "ec2:DescribeVpcs",
            "ec2:DescribeInstances",
            "s3:GetBucketPolicy",
            "s3:GetBucketVersioning",
            "rds:DescribeDBInstances",
            "iam:GetRole",
            "logs:DescribeLogGroups",
            "sqs:GetQueueAttributes",
            "ecr:DescribeRepositories",
            "ssm:GetDocument",
            "kms:DescribeKey",
            "s3:ListBucket",
        ] {
            assert!(plan.iter().any(|a| a == action), "{action}");
        }
    }
}

#[test]
fn the_apply_role_is_scoped_to_the_platform() {
    for config in [GITHUB, GITHUB_WITH_WORKERS] {
        apply_role_is_scoped(config);
    }
}

fn apply_role_is_scoped(config: &str) {
    let doc = generated(config);
    let documents = doc["data"]["aws_iam_policy_document"].as_object().unwrap();
    let statements: Vec<&Value> = documents
        .iter()
        .filter(|(name, _)| name.starts_with("github_apply_") && !name.ends_with("_trust"))
        .flat_map(|(_, d)| d["statement"].as_array().unwrap())
        .collect();
    assert!(statements.len() > 20);
    for s in &statements {
        let conditioned = s["condition"].as_array().is_some_and(|c| !c.is_empty());
        for resource in s["resources"].as_array().unwrap() {
            let r = resource.as_str().unwrap();
            let scoped = r.contains("demo-")
                || r.contains("/demo/")
                || r.contains("rds!db-")
                || r.contains("token.actions.githubusercontent.com")
                || r.contains("tfstate/")
                || r.ends_with(":s3:::tfstate")
                || r.contains("::image/*")
                || r.ends_with("::parameter/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id")
                || r.contains(":iam::aws:policy/")
                || r.contains(":og:default:postgres-")
                || r == "${aws_kms_key.platform.arn}"
                || r == "${aws_kms_key.alarms.arn}";
            assert!(
                scoped
                    || conditioned
                    || r == "*"
                    || r.ends_with(":volume/*")
                    || r.ends_with(":network-interface/*"),
                "{}: {r}",
                s["sid"]
            );
        }
        let actions = s["actions"].as_array().unwrap();
        if actions.contains(&json!("iam:PassRole")) {
            assert_eq!(actions.len(), 1);
            assert_eq!(s["condition"][0]["variable"], "iam:PassedToService");
        }
        if actions
            .iter()
            .any(|a| a.as_str().unwrap().starts_with("ec2:Create"))
            && s["sid"] != "AdoptTheDefaultSecurityGroup"
        {
            assert!(conditioned, "{}", s["sid"]);
        }
    }
    let tag = |sid: &str| {
        statements
            .iter()
            .find(|s| s["sid"] == sid)
            .map(|s| s["condition"][0].clone())
            .unwrap()
    };
    assert_eq!(
        tag("CreateOnlyTaggedEc2"),
        json!({"test": "StringEquals", "variable": "aws:RequestTag/Platform", "values": ["demo"]})
    );
    assert_eq!(
        tag("ChangeOnlyPlatformEc2")["variable"],
        "aws:ResourceTag/Platform"
    );
    // The keys are the bootstrap module's: no key is created, tagged or administered, and every
    // KMS call names the two keys by ARN.
    for s in statements.iter().filter(|s| {
        s["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a.as_str().unwrap().starts_with("kms:"))
    }) {
        for action in s["actions"].as_array().unwrap() {
            let action = action.as_str().unwrap();
            assert!(
                [
                    "kms:DescribeKey",
                    "kms:CreateGrant",
                    "kms:Decrypt",
                    "kms:Encrypt",
                    "kms:GenerateDataKey",
                    "kms:GenerateDataKeyWithoutPlaintext",
                    "kms:ReEncryptFrom",
                    "kms:ReEncryptTo"
                ]
                .contains(&action),
                "{}: {action}",
                s["sid"]
            );
        }
        for r in s["resources"].as_array().unwrap() {
            assert!(
                r.as_str().unwrap().starts_with("${aws_kms_key."),
                "{}: {r}",
                s["sid"]
            );
        }
    }
    assert!(doc["provider"]["aws"]["default_tags"]["tags"]["Platform"] == "demo");
}

#[test]
fn the_deploy_role_reaches_only_the_tagged_host_with_the_deploy_document() {
    let doc = generated(GITHUB);
    let statements = &doc["data"]["aws_iam_policy_document"]["github_deploy"]["statement"];
    let send: Vec<&Value> = statements
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["actions"] == json!(["ssm:SendCommand"]))
        .collect();
    assert_eq!(send.len(), 2);
    assert_eq!(
        send[0]["resources"],
        json!([
            "arn:${data.aws_partition.current.partition}:ssm:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:document/demo-etl-deploy"
        ])
    );
    assert_eq!(
        send[1]["condition"],
        json!([{"test": "StringEquals", "variable": "ssm:resourceTag/hadrian:etl-host", "values": ["demo"]}])
    );
    assert_eq!(
        doc["resource"]["aws_instance"]["etl_host"]["tags"]["hadrian:etl-host"],
        "demo"
    );
    let content = doc["resource"]["aws_ssm_document"]["etl_deploy"]["content"]
        .as_str()
        .unwrap();
    let content: Value = serde_json::from_str(content).unwrap();
    assert_eq!(
        content["parameters"]["ImageDigest"]["allowedPattern"],
        "^sha256:[0-9a-f]{64}$"
    );
    assert_eq!(
        content["mainSteps"][0]["inputs"]["runCommand"],
        json!([
            "/opt/hadrian/etl/deploy.sh ${aws_ecr_repository.etl.repository_url} {{ ImageDigest }}"
        ])
    );
}

#[test]
fn without_a_repository_nothing_is_trusted_and_an_existing_provider_can_be_used() {
    let doc = generated("");
    assert!(doc["resource"]["aws_iam_openid_connect_provider"].is_null());
    assert!(doc["resource"]["aws_iam_role"]["github_plan"].is_null());
    assert_eq!(doc["output"]["github_plan_role_arn"]["value"], "${null}");
    assert_eq!(
        doc["output"]["etl_ecr_repository_url"]["value"],
        "${aws_ecr_repository.etl.repository_url}"
    );
    let doc = generated(&format!("{GITHUB}create_oidc_provider = false\n"));
    assert!(doc["resource"]["aws_iam_openid_connect_provider"].is_null());
    assert_eq!(
        doc["data"]["aws_iam_openid_connect_provider"]["github"]["url"],
        "https://token.actions.githubusercontent.com"
    );
}

const IMAGE_PARAMETER_ARN: &str = "arn:${data.aws_partition.current.partition}:ssm:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:parameter/hadrian/demo/etl/image-digest";

#[test]
fn the_host_pulls_only_from_its_own_repository() {
    let doc = generated("");
    let statements = &doc["data"]["aws_iam_policy_document"]["etl_host"]["statement"];
    let by_sid = |sid: &str| {
        statements
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["sid"] == sid)
            .unwrap()
            .clone()
    };
    assert_eq!(
        by_sid("PullEtlImage")["resources"],
        json!(["${aws_ecr_repository.etl.arn}"])
    );
    assert_eq!(by_sid("LogInToEcr")["resources"], json!(["*"]));
    let digest = by_sid("ReadDeployedImageDigest");
    assert_eq!(digest["actions"], json!(["ssm:GetParameter"]));
    assert_eq!(digest["resources"], json!([IMAGE_PARAMETER_ARN]));
    assert!(!statements.to_string().contains("ssm:PutParameter"));
    let deploy = generated(GITHUB);
    let record = deploy["data"]["aws_iam_policy_document"]["github_deploy"]["statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["sid"] == "RecordDeployedImageDigest")
        .unwrap()
        .clone();
    assert_eq!(record["actions"], json!(["ssm:PutParameter"]));
    assert_eq!(record["resources"], json!([IMAGE_PARAMETER_ARN]));
    let repository = &doc["resource"]["aws_ecr_repository"]["etl"];
    assert_eq!(repository["image_tag_mutability"], "IMMUTABLE");
    assert_eq!(
        repository["image_scanning_configuration"]["scan_on_push"],
        true
    );
    assert_eq!(
        repository["encryption_configuration"]["encryption_type"],
        "KMS"
    );
}

#[test]
fn every_platform_role_carries_a_boundary_that_covers_its_policies() {
    let doc = platform_module(GITHUB);
    assert!(doc["resource"]["aws_iam_openid_connect_provider"].is_null());
    let roles = doc["resource"]["aws_iam_role"].as_object().unwrap();
    assert_eq!(roles.len(), 3);
    for role in roles.values() {
        assert_eq!(
            role["permissions_boundary"],
            "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:policy/demo-permissions-boundary"
        );
    }
    let documents = &doc["data"]["aws_iam_policy_document"];
    let granted: Vec<&Value> = ["aws_iam_role_policy", "aws_iam_policy"]
        .iter()
        .flat_map(|t| doc["resource"][*t].as_object().into_iter().flatten())
        .map(|(_, p)| {
            let name = p["policy"].as_str().unwrap();
            let name = &name["${data.aws_iam_policy_document.".len()..name.len() - ".json}".len()];
            &documents[name]
        })
        .flat_map(|d| d["statement"].as_array().unwrap())
        .filter(|s| s["effect"] == "Allow")
        .flat_map(|s| s["actions"].as_array().unwrap())
        .collect();
    assert!(granted.len() > 20);
    let bootstrap = generated(GITHUB);
    let boundary: Vec<&Value> =
        bootstrap["data"]["aws_iam_policy_document"]["permissions_boundary"]["statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["actions"].as_array().unwrap())
            .collect();
    assert!(boundary.len() > 20, "{boundary:?}");
    for action in granted {
        assert!(
            boundary.contains(&action),
            "{action} is granted to a platform role but not in the permissions boundary"
        );
    }
}

#[test]
fn the_apply_role_cannot_change_the_bootstrap_or_create_unbounded_roles() {
    let doc = generated(GITHUB);
    let statements: Vec<Value> = role_statements(&doc, "apply")
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    let allowing = |action: &str| {
        statements
            .iter()
            .filter(|s| {
                s["effect"] == "Allow" && s["actions"].as_array().unwrap().contains(&json!(action))
            })
            .collect::<Vec<_>>()
    };
    let boundary = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:policy/demo-permissions-boundary";
    for action in ["iam:CreateRole", "iam:PutRolePermissionsBoundary"] {
        let allows = allowing(action);
        assert_eq!(allows.len(), 1, "{action}");
        assert_eq!(
            allows[0]["condition"],
            json!([{"test": "ArnEquals", "variable": "iam:PermissionsBoundary", "values": [boundary]}])
        );
    }
    assert!(allowing("iam:CreateOpenIDConnectProvider").is_empty());
    let by_sid = |sid: &str| statements.iter().find(|s| s["sid"] == sid).unwrap();
    let bootstrap = by_sid("NeverTouchTheBootstrapIdentity");
    assert_eq!(bootstrap["effect"], "Deny");
    for action in [
        "iam:CreatePolicyVersion",
        "iam:PutRolePolicy",
        "iam:UpdateAssumeRolePolicy",
        "iam:AttachRolePolicy",
    ] {
        assert!(
            bootstrap["actions"]
                .as_array()
                .unwrap()
                .contains(&json!(action))
        );
    }
    let denied = bootstrap["resources"].to_string();
    for target in [
        "role/demo-github-*",
        "policy/demo-github-*",
        "policy/demo-permissions-boundary",
    ] {
        assert!(denied.contains(target), "{target}");
    }
    assert_eq!(by_sid("NeverDropARolesBoundary")["effect"], "Deny");
    let state = by_sid("NeverTouchTheStateBucket");
    assert_eq!(
        state["resources"],
        json!(["arn:${data.aws_partition.current.partition}:s3:::tfstate"])
    );
    assert!(
        state["actions"]
            .as_array()
            .unwrap()
            .contains(&json!("s3:PutBucketPolicy"))
    );
}

#[test]
fn the_host_reads_no_parameter_through_its_ssm_agent_policy() {
    let doc = generated(GITHUB);
    let attachments = doc["resource"]["aws_iam_role_policy_attachment"]
        .as_object()
        .unwrap();
    let host: Vec<&Value> = attachments
        .values()
        .filter(|a| a["role"] == "${aws_iam_role.etl_host.id}")
        .map(|a| &a["policy_arn"])
        .collect();
    assert_eq!(host, [&json!("${aws_iam_policy.ssm_agent.arn}")]);
    let agent = doc["data"]["aws_iam_policy_document"]["ssm_agent"].to_string();
    assert!(agent.contains("ssm:UpdateInstanceInformation"));
    assert!(agent.contains("ssmmessages:OpenDataChannel"));
    assert!(agent.contains("ec2messages:GetMessages"));
    assert!(!agent.contains("Parameter"));
    assert!(!doc.to_string().contains("AmazonSSMManagedInstanceCore"));
}

/// What the apply role must name exactly, per Terraform type: the argument holding the name and
/// how the name ends an ARN.
const NAMED: [(&str, &str, &str); 14] = [
    ("aws_iam_role", "name", ":role/"),
    ("aws_iam_policy", "name", ":policy/"),
    ("aws_iam_instance_profile", "name", ":instance-profile/"),
    ("aws_db_instance", "identifier", ":db:"),
    ("aws_db_parameter_group", "name", ":pg:"),
    ("aws_db_subnet_group", "name", ":subgrp:"),
    ("aws_sns_topic", "name", ":"),
    ("aws_cloudwatch_metric_alarm", "alarm_name", ":alarm:"),
    ("aws_cloudwatch_dashboard", "dashboard_name", ":dashboard/"),
    ("aws_ecr_repository", "name", ":repository/"),
    ("aws_ssm_document", "name", ":document/"),
    ("aws_ssm_parameter", "name", ":parameter/"),
    ("aws_sqs_queue", "name", ":"),
    ("aws_cloudwatch_log_group", "name", ":log-group:"),
];

/// Wildcards at the end of a name the apply role or the boundary may keep, each with the reason a
/// reviewer can check: the part before `*` is not a name this platform chooses.
const DOCUMENTED_WILDCARDS: [(&str, &str); 2] = [
    (
        ":secret:rds!db-*",
        "RDS names the master-user secret rds!db-<uuid> when it creates it; every grant on it but \
         CreateSecret/TagResource (the secret does not exist yet) is conditioned on the secret's \
         aws:rds:primaryDBInstanceArn tag being the platform's instance",
    ),
    (
        ":og:default:postgres-*",
        "AWS's default option groups (default:postgres-16), which every PostgreSQL instance joins",
    ),
];

/// The apply role names what the platform module declares by exact ARN: every role, policy,
/// profile, database, group, topic, alarm, dashboard, repository, document, parameter, queue and
/// log group is named, and no grant (of the apply role or the boundary) ends in a name wildcard
/// (`acme-*` would also match `acme-full-…`, another platform's) without a documented reason.
#[test]
fn the_apply_role_names_exactly_what_the_platform_declares() {
    for config in [GITHUB, GITHUB_WITH_WORKERS, &full_fixture()] {
        let doc = generated(config);
        let platform = platform_module(config);
        let granted = |statements: Vec<Value>| -> Vec<String> {
            statements
                .into_iter()
                .filter(|s| s["effect"] == "Allow")
                .flat_map(|s| s["resources"].as_array().unwrap().clone())
                .map(|r| r.as_str().unwrap().to_owned())
                .collect()
        };
        let resources = granted(
            role_statements(&doc, "apply")
                .into_iter()
                .map(|(_, s)| s)
                .collect(),
        );
        let boundary = granted(
            doc["data"]["aws_iam_policy_document"]["permissions_boundary"]["statement"]
                .as_array()
                .unwrap()
                .clone(),
        );
        for r in resources.iter().chain(&boundary) {
            let Some(before) = r.strip_suffix('*') else {
                continue;
            };
            // `*` for a whole segment under an exact name or type (`instance/*`, `<log group>:*`,
            // `<topic ARN>:*`) names no other platform's resource.
            let whole_segment = before.ends_with('/') || before.ends_with(':') || before.is_empty();
            let documented = DOCUMENTED_WILDCARDS.iter().any(|(w, _)| r.ends_with(w));
            assert!(whole_segment || documented, "a name wildcard: {r}");
        }
        for (kind, argument, arn) in NAMED {
            for (address, resource) in platform["resource"][kind].as_object().unwrap() {
                let name = resource[argument].as_str().unwrap();
                let slash = if kind == "aws_ssm_parameter" && name.starts_with('/') {
                    &arn[..arn.len() - 1]
                } else {
                    arn
                };
                assert!(
                    resources
                        .iter()
                        .any(|r| r.ends_with(&format!("{slash}{name}"))),
                    "{kind}.{address} ({name}) is not among the apply role's resources"
                );
            }
        }
        for r in resources.iter().filter(|r| r.contains(":iam::")) {
            assert!(!r.ends_with('*'), "{r}");
        }
    }
}

/// The boundary is the platform: the database secret only through its instance tag, decryption
/// only with the platform key, logs and queues only the platform's own.
#[test]
fn the_boundary_names_only_the_platforms_own_resources() {
    let doc = generated(&full_fixture());
    let statements = doc["data"]["aws_iam_policy_document"]["permissions_boundary"]["statement"]
        .as_array()
        .unwrap()
        .clone();
    let by_sid = |sid: &str| statements.iter().find(|s| s["sid"] == sid).unwrap().clone();
    let secret = by_sid("ReadOnlyTheDatabaseSecret");
    assert_eq!(
        secret["condition"],
        json!([{"test": "StringEquals", "variable": "aws:ResourceTag/aws:rds:primaryDBInstanceArn",
                "values": ["arn:${data.aws_partition.current.partition}:rds:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:db:acme-full-postgres"]}])
    );
    assert_eq!(
        by_sid("UseOnlyThePlatformKey")["resources"],
        json!(["${aws_kms_key.platform.arn}"])
    );
    let queues = by_sid("ConsumeOnlyThePlatformsQueues");
    assert_eq!(queues["resources"].as_array().unwrap().len(), 2, "{queues}");
    let logs = by_sid("OnlyThePlatformsLogGroups");
    assert!(
        logs["actions"]
            .as_array()
            .unwrap()
            .contains(&json!("logs:GetLogEvents"))
    );
    // Whatever is left on `*` reads no data: no object, secret, parameter, key, log or message.
    let rest = by_sid("EverythingElseThePlatformRolesUse");
    assert_eq!(rest["resources"], json!(["*"]));
    for action in rest["actions"].as_array().unwrap() {
        let action = action.as_str().unwrap();
        assert!(
            ![
                "s3:",
                "secretsmanager:",
                "kms:",
                "sqs:",
                "ssm:GetParameter",
                "logs:GetLogEvents",
                "ecr:BatchGetImage"
            ]
            .iter()
            .any(|p| action.starts_with(p)),
            "{action} on *"
        );
    }
}

/// Only the platform's own alarms, each by exact ARN, may publish to its alarm topic and use the
/// alarm key: `alarm:<name>-*` would admit every alarm of a platform named `<name>-x`.
#[test]
fn only_the_platforms_alarms_publish_to_its_topic_and_use_its_key() {
    let config = full_fixture();
    let doc = generated(&config);
    let mut alarms: Vec<String> = platform_module(&config)["resource"]
        ["aws_cloudwatch_metric_alarm"]
        .as_object()
        .unwrap()
        .values()
        .map(|a| {
            format!(
                "arn:${{data.aws_partition.current.partition}}:cloudwatch:${{data.aws_region.current.name}}:${{data.aws_caller_identity.current.account_id}}:alarm:{}",
                a["alarm_name"].as_str().unwrap()
            )
        })
        .collect();
    alarms.sort();
    for document in ["alarms_topic", "alarms_key"] {
        let source = doc["data"]["aws_iam_policy_document"][document]["statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["condition"].as_array().into_iter().flatten())
            .find(|c| c["variable"] == "aws:SourceArn")
            .unwrap();
        assert_eq!(source["test"], "ArnEquals", "{document}");
        let mut named: Vec<String> = source["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        named.sort();
        assert_eq!(named, alarms, "{document}");
    }
}
