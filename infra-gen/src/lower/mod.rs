//! Lowering: the only module that knows both the platform model and Terraform. One file per
//! model area; each returns the handles later areas need, so cross-area references are typed.
//! Areas never import each other: the handle types (`handles`) and the helpers several areas
//! share (`iam_helpers`, `encrypted`, and `apply` under delivery) sit below them, and this
//! file alone wires the areas in order, passing one area's results to the next as data.
//! Two root modules come out: the platform ([`lower`], `out/`) and the bootstrap
//! ([`bootstrap`], `out/bootstrap/`: state bucket, permissions boundary, CI identity), which an
//! administrator applies and the CI roles may not change.

mod apply;
mod compute;
mod database;
mod delivery;
mod encrypted;
mod events;
mod handles;
mod iam;
mod iam_helpers;
mod monitoring;
mod network;
mod outputs;
mod providers;
mod security;
mod storage;

use crate::lower::compute::HostDeps;
use crate::lower::iam::EtlRoleDeps;
use crate::model::Platform;
use crate::tf::data::{AwsCallerIdentity, AwsPartition, AwsRegion};
use crate::tf::network::Tags;
use crate::tf::{Document, FileId, Handle, TfError, TfString};

/// Terraform settings: required providers and version.
pub const VERSIONS: FileId = FileId("versions");
/// The S3 backend; its settings come from `-backend-config` at init.
pub const BACKEND: FileId = FileId("backend");
/// Provider configuration and account facts.
pub const PROVIDERS: FileId = FileId("providers");
/// Input variables.
pub const VARIABLES: FileId = FileId("variables");
/// VPC, subnets, routing, flow logs.
pub const NETWORK: FileId = FileId("network");
/// Security groups and their rules.
pub const SECURITY: FileId = FileId("security");
/// KMS key and buckets.
pub const STORAGE: FileId = FileId("storage");
/// Roles and policies.
pub const IAM: FileId = FileId("iam");
/// The ETL host.
pub const COMPUTE: FileId = FileId("compute");
/// RDS PostgreSQL.
pub const DATABASE: FileId = FileId("database");
/// Log groups, the CloudWatch agent configuration, alarms, their topic, the dashboard.
pub const MONITORING: FileId = FileId("monitoring");
/// The CI/CD side: ECR, the deploy document, the GitHub OIDC provider and roles.
pub const DELIVERY: FileId = FileId("delivery");
/// The event queue, its dead-letter queue and the data bucket's notification.
pub const EVENTS: FileId = FileId("events");
/// The worker fleet: launch template, Auto Scaling group, scaling policy, security group.
pub const FLEET: FileId = FileId("fleet");
/// Outputs (names are a contract with the ETL and the local platform).
pub const OUTPUTS: FileId = FileId("outputs");
/// The bootstrap module's Terraform state bucket.
pub const STATE: FileId = FileId("state");

/// The default tag naming the platform on every resource; the apply role's EC2 and KMS
/// permissions are conditioned on it.
pub(crate) const PLATFORM_TAG: &str = "Platform";

/// Facts every area needs: the platform, account data sources, tagging.
pub(crate) struct Ctx<'a> {
    pub(crate) platform: &'a Platform,
    pub(crate) account: Handle<AwsCallerIdentity>,
    pub(crate) partition: Handle<AwsPartition>,
    pub(crate) region: Handle<AwsRegion>,
}

impl Ctx<'_> {
    /// `<name>-<suffix>`, escaped as a literal.
    pub(crate) fn named(&self, suffix: &str) -> TfString {
        TfString::lit(format!("{}-{suffix}", self.platform.name))
    }

    /// The `Name` tag; the provider's default tags add the rest.
    pub(crate) fn tags(&self, suffix: &str) -> Tags {
        Tags::from([("Name".to_owned(), self.named(suffix))])
    }

    /// `arn:<partition>:<service>:<region>:<account>:<resource>`, the one ARN layout every builder
    /// below fills in; an omitted region or account leaves its field empty, as global and
    /// account-less ARNs (S3, AWS managed policies, public AMIs and parameters) have it.
    pub(crate) fn arn_of(
        &self,
        service: &str,
        region: bool,
        account: Option<TfString>,
        resource: TfString,
    ) -> TfString {
        let mut parts = vec![
            TfString::lit("arn:"),
            self.partition.attr("partition"),
            TfString::lit(format!(":{service}:")),
        ];
        if region {
            parts.push(self.region.attr("name"));
        }
        parts.push(TfString::lit(":"));
        parts.extend(account);
        parts.push(TfString::lit(":"));
        parts.push(resource);
        TfString::concat(parts)
    }

    /// `arn:<partition>:<service>:<region>:<account>:<rest>` for a resource in this account.
    pub(crate) fn arn(&self, service: &str, rest: &str) -> TfString {
        self.arn_of(
            service,
            true,
            Some(self.account.attr("account_id")),
            TfString::lit(rest),
        )
    }

    /// `arn:<partition>:<service>::<account>:<rest>` for a global resource such as an IAM role.
    pub(crate) fn global_arn(&self, service: &str, rest: &str) -> TfString {
        self.arn_of(
            service,
            false,
            Some(self.account.attr("account_id")),
            TfString::lit(rest),
        )
    }

    /// `arn:<partition>:s3:::<path>` for a bucket or objects in it.
    pub(crate) fn s3_arn(&self, path: &str) -> TfString {
        self.arn_of("s3", false, None, TfString::lit(path))
    }

    /// The ARN of an AWS managed IAM policy.
    pub(crate) fn managed_policy(&self, path: &str) -> TfString {
        self.arn_of(
            "iam",
            false,
            Some(TfString::lit("aws")),
            TfString::lit(format!("policy/{path}")),
        )
    }

    /// The event queue's ARN built from its name, for the key policy, which exists before it.
    pub(crate) fn etl_queue_arn(&self) -> TfString {
        self.arn("sqs", &self.platform.etl_queue_name())
    }

    /// The permissions boundary every platform role carries; the bootstrap module creates it.
    pub(crate) fn permissions_boundary(&self) -> TfString {
        self.global_arn(
            "iam",
            &format!("policy/{}", self.platform.permissions_boundary_name()),
        )
    }

    /// The account root principal, for key policies.
    pub(crate) fn account_root(&self) -> TfString {
        self.global_arn("iam", "root")
    }
}

/// The account facts every module reads, declared once per module.
fn context<'a>(doc: &mut Document, platform: &'a Platform) -> Result<Ctx<'a>, TfError> {
    Ok(Ctx {
        platform,
        account: doc.data(PROVIDERS, "current", &AwsCallerIdentity {})?,
        partition: doc.data(PROVIDERS, "current", &AwsPartition {})?,
        region: doc.data(PROVIDERS, "current", &AwsRegion {})?,
    })
}

/// Translates a validated platform into the bootstrap module: what must exist before the
/// platform's first apply and what the CI roles must never change.
pub fn bootstrap(platform: &Platform) -> Result<Document, TfError> {
    let mut doc = Document::default();
    providers::lower_settings(&mut doc, platform)?;
    let ctx = context(&mut doc, platform)?;
    let state = storage::lower_state_bucket(&mut doc, &ctx, STATE)?;
    let boundary = iam::lower_boundary(&mut doc, &ctx)?;
    let github = delivery::lower_github(&mut doc, &ctx)?;
    outputs::lower_bootstrap(&mut doc, &state, &boundary, github.as_ref())?;
    Ok(doc)
}

/// Translates a validated platform into a Terraform document.
pub fn lower(platform: &Platform) -> Result<Document, TfError> {
    let mut doc = Document::default();
    let vars = providers::lower(&mut doc, platform)?;
    let ctx = context(&mut doc, platform)?;
    let key = storage::lower_key(&mut doc, &ctx)?;
    let net = network::lower(&mut doc, &ctx, &key)?;
    let buckets = storage::lower_buckets(&mut doc, &ctx, &key)?;
    let events = events::lower(&mut doc, &ctx, &buckets, &key)?;
    let groups = security::lower(&mut doc, &ctx, &net, &vars)?;
    let db = database::lower(&mut doc, &ctx, &net, &groups, &key)?;
    let telemetry = monitoring::lower_logs(&mut doc, &ctx, &key)?;
    let runtime = delivery::lower_runtime(&mut doc, &ctx, &key)?;
    let ssm_agent = iam::lower_ssm_agent_policy(&mut doc, &ctx)?;
    let identity = iam::lower_etl_role(
        &mut doc,
        &ctx,
        EtlRoleDeps {
            buckets: &buckets,
            key: &key,
            db: &db,
            telemetry: monitoring::host_statements(&telemetry),
            metrics: monitoring::host_metrics_statement(),
            runtime: &runtime,
            ssm_agent: &ssm_agent,
        },
    )?;
    iam_helpers::inline_policy(
        &mut doc,
        &ctx,
        "etl_host_events",
        &identity.role,
        events::consumer_statements(&events),
    )?;
    let host = compute::lower(
        &mut doc,
        &ctx,
        &HostDeps {
            net: &net,
            groups: &groups,
            key: &key,
            profile: &identity.profile,
            events: &events,
            vars: &vars,
            buckets: &buckets,
            db: &db,
            telemetry: &telemetry,
            runtime: &runtime,
        },
    )?;
    monitoring::lower_alarms(&mut doc, &ctx, &telemetry, &host, &db, &events)?;
    outputs::lower(&mut doc, &ctx, &buckets, &key, &host, &db, &events)?;
    outputs::lower_delivery(&mut doc, &runtime)?;
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::lower::iam::boundary_actions;
    use crate::model::config::from_str;
    use crate::{generate, generate_bootstrap};

    /// Generated files merged into one JSON value per top-level block kind.
    fn merged(files: &[String]) -> Value {
        let mut merged = json!({});
        for text in files {
            let doc: Value = serde_json::from_str(text).unwrap();
            for (kind, blocks) in doc.as_object().unwrap() {
                for (key, value) in blocks.as_object().into_iter().flatten() {
                    let slot = &mut merged[kind][key];
                    match (slot.as_object_mut(), value.as_object()) {
                        (Some(have), Some(more)) => have.extend(more.clone()),
                        _ => *slot = value.clone(),
                    }
                }
            }
        }
        merged
    }

    /// Both modules merged (they share only the provider, its data sources and `region`).
    fn generated(toml: &str) -> Value {
        let platform = from_str(toml, "test.toml").unwrap();
        let mut files: Vec<String> = generate(&platform).unwrap().into_values().collect();
        files.extend(generate_bootstrap(&platform).unwrap().into_values());
        merged(&files)
    }

    /// The platform module alone.
    fn platform_module(toml: &str) -> Value {
        let platform = from_str(toml, "test.toml").unwrap();
        let files: Vec<String> = generate(&platform).unwrap().into_values().collect();
        merged(&files)
    }

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

    const GITHUB: &str = "[delivery]\ngithub_repository = \"o/r\"\nstate_bucket = \"tfstate\"\n";

    #[test]
    fn github_roles_trust_only_the_repository_subjects_of_the_contract() {
        let doc = generated(GITHUB);
        let trust = |role: &str| {
            let statement = &doc["data"]["aws_iam_policy_document"][format!("github_{role}_trust")]
                ["statement"][0];
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
        assert_eq!(trust("deploy"), json!(["repo:o/r:ref:refs/heads/main"]));
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
        let plan = &doc["data"]["aws_iam_policy_document"]["github_plan"]["statement"];
        assert_eq!(plan[1]["actions"], json!(["s3:GetObject"]));
        assert_eq!(plan[2]["effect"], "Deny");
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

    #[test]
    fn the_apply_role_has_only_its_own_managed_policies_each_within_the_size_limit() {
        for config in [GITHUB, GITHUB_WITH_WORKERS] {
            apply_policies_fit(config);
        }
    }

    fn apply_policies_fit(config: &str) {
        let doc = generated(config);
        let attached: Vec<&Value> = doc["resource"]["aws_iam_role_policy_attachment"]
            .as_object()
            .unwrap()
            .values()
            .filter(|a| a["role"] == "${aws_iam_role.github_apply.id}")
            .map(|a| &a["policy_arn"])
            .collect();
        let mut policies = doc["resource"]["aws_iam_policy"]
            .as_object()
            .unwrap()
            .clone();
        policies.retain(|name, _| name.starts_with("github_apply_"));
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
                    .starts_with("demo-github-apply-")
            );
            let document = &doc["data"]["aws_iam_policy_document"][name];
            let text = longest_policy_json(document);
            assert!(text.len() < 6144, "{name}: {} characters", text.len());
        }
        assert!(doc["resource"]["aws_iam_role_policy"]["github_apply"].is_null());
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
                    || r.contains(":og:default:postgres-");
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
        assert_eq!(
            tag("CreateOnlyTaggedKeys")["variable"],
            "aws:RequestTag/Platform"
        );
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
                let name =
                    &name["${data.aws_iam_policy_document.".len()..name.len() - ".json}".len()];
                &documents[name]
            })
            .flat_map(|d| d["statement"].as_array().unwrap())
            .filter(|s| s["effect"] == "Allow")
            .flat_map(|s| s["actions"].as_array().unwrap())
            .collect();
        assert!(granted.len() > 20);
        let boundary = boundary_actions();
        for action in granted {
            assert!(
                boundary.contains(&action.as_str().unwrap()),
                "{action} is granted to a platform role but not in the permissions boundary"
            );
        }
    }

    #[test]
    fn the_apply_role_cannot_change_the_bootstrap_or_create_unbounded_roles() {
        let doc = generated(GITHUB);
        let statements: Vec<Value> = doc["data"]["aws_iam_policy_document"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(name, _)| name.starts_with("github_apply_") && !name.ends_with("_trust"))
            .flat_map(|(_, d)| d["statement"].as_array().unwrap().clone())
            .collect();
        let allowing = |action: &str| {
            statements
                .iter()
                .filter(|s| {
                    s["effect"] == "Allow"
                        && s["actions"].as_array().unwrap().contains(&json!(action))
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
        assert_eq!(queue["kms_master_key_id"], "${aws_kms_key.platform.arn}");
        assert_eq!(queue["receive_wait_time_seconds"], 20);
        assert_eq!(
            queue["redrive_policy"],
            "{\"deadLetterTargetArn\":\"${aws_sqs_queue.etl_events_dead_letter.arn}\",\"maxReceiveCount\":7}"
        );
        assert_eq!(
            doc["resource"]["aws_sqs_queue"]["etl_events_dead_letter"]["message_retention_seconds"],
            14 * 86_400
        );
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
            key["condition"][0]["values"],
            json!([
                "arn:${data.aws_partition.current.partition}:sqs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:demo-etl-events"
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
            "${aws_kms_key.platform.arn}"
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
            resources["aws_vpc_security_group_ingress_rule"]["database_postgres_from_etl_workers"]
                ["referenced_security_group_id"],
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
}
