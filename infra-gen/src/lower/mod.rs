//! Lowering: the only module that knows both the platform model and Terraform. One file per
//! model area; each returns the handles later areas need, so cross-area references are typed.

mod compute;
mod database;
mod iam;
mod monitoring;
mod network;
mod outputs;
mod providers;
mod security;
mod storage;

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
/// Outputs (names are a contract with the ETL and the local platform).
pub const OUTPUTS: FileId = FileId("outputs");

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

    /// `arn:<partition>:<service>:<region>:<account>:<rest>` for a resource in this account.
    pub(crate) fn arn(&self, service: &str, rest: &str) -> TfString {
        TfString::concat([
            TfString::lit("arn:"),
            self.partition.attr("partition"),
            TfString::lit(format!(":{service}:")),
            self.region.attr("name"),
            TfString::lit(":"),
            self.account.attr("account_id"),
            TfString::lit(format!(":{rest}")),
        ])
    }

    /// The ARN of an AWS managed IAM policy.
    pub(crate) fn managed_policy(&self, path: &str) -> TfString {
        TfString::concat([
            TfString::lit("arn:"),
            self.partition.attr("partition"),
            TfString::lit(format!(":iam::aws:policy/{path}")),
        ])
    }

    /// The account root principal, for key policies.
    pub(crate) fn account_root(&self) -> TfString {
        TfString::concat([
            TfString::lit("arn:"),
            self.partition.attr("partition"),
            TfString::lit(":iam::"),
            self.account.attr("account_id"),
            TfString::lit(":root"),
        ])
    }
}

/// Translates a validated platform into a Terraform document.
pub fn lower(platform: &Platform) -> Result<Document, TfError> {
    let mut doc = Document::default();
    let vars = providers::lower(&mut doc, platform)?;
    let ctx = Ctx {
        platform,
        account: doc.data(PROVIDERS, "current", &AwsCallerIdentity {})?,
        partition: doc.data(PROVIDERS, "current", &AwsPartition {})?,
        region: doc.data(PROVIDERS, "current", &AwsRegion {})?,
    };
    let key = storage::lower_key(&mut doc, &ctx)?;
    let net = network::lower(&mut doc, &ctx, &key)?;
    let buckets = storage::lower_buckets(&mut doc, &ctx, &key)?;
    let groups = security::lower(&mut doc, &ctx, &net, &vars)?;
    let db = database::lower(&mut doc, &ctx, &net, &groups, &key)?;
    let telemetry = monitoring::lower_logs(&mut doc, &ctx, &key)?;
    let profile = iam::lower_etl_role(&mut doc, &ctx, &buckets, &key, &db, &telemetry)?;
    let host = compute::lower(&mut doc, &ctx, &net, &groups, &key, &profile, &vars)?;
    monitoring::lower_alarms(&mut doc, &ctx, &telemetry, &host, &db)?;
    outputs::lower(&mut doc, &ctx, &buckets, &key, &host, &db)?;
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::generate;
    use crate::model::config::from_str;

    /// Every generated file merged into one JSON value per top-level block kind.
    fn generated(toml: &str) -> Value {
        let files = generate(&from_str(toml, "test.toml").unwrap()).unwrap();
        let mut merged = json!({});
        for text in files.values() {
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
        assert_eq!(doc["provider"]["aws"]["skip_requesting_account_id"], false);
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
    fn config_text_reaches_terraform_as_an_escaped_literal() {
        let doc = generated("owner = \"team ${evil} %{if x}\"\n");
        let tags = &doc["provider"]["aws"]["default_tags"]["tags"];
        assert_eq!(tags["Owner"], "team $${evil} %%{if x}");
    }
}
