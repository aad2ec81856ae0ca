//! `[compute]`: the ETL host's instance type (x86-64 only), root volume and AMI parameter, read
//! and checked.

use serde::Deserialize;

use crate::model::EtlHost;
use crate::model::config::validator::{Validator, is_word};

/// Canonical's public SSM parameter for the current Ubuntu 24.04 LTS amd64 AMI on gp3.
pub const UBUNTU_2404_AMI_PARAMETER: &str =
    "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id";

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawCompute {
    instance_type: String,
    root_volume_gb: u32,
    ami_ssm_parameter: String,
}

impl Default for RawCompute {
    fn default() -> Self {
        Self {
            instance_type: "t3.small".into(),
            root_volume_gb: 30,
            ami_ssm_parameter: UBUNTU_2404_AMI_PARAMETER.into(),
        }
    }
}

impl Validator<'_> {
    pub(super) fn compute(&mut self, raw: RawCompute) -> EtlHost {
        match raw.instance_type.split_once('.') {
            Some((family, size)) if is_word(family) && is_word(size) => {
                let graviton = family
                    .trim_start_matches(|c: char| c.is_ascii_lowercase())
                    .chars()
                    .nth(1)
                    == Some('g');
                self.check(
                    !graviton,
                    "compute.instance_type",
                    "must be an x86-64 type; the AMI parameter is amd64",
                );
            }
            _ => self.fail(
                "compute.instance_type",
                format!("{:?} is not an EC2 instance type", raw.instance_type),
            ),
        }
        self.check(
            (8..=16384).contains(&raw.root_volume_gb),
            "compute.root_volume_gb",
            "must be 8-16384",
        );
        self.check(
            raw.ami_ssm_parameter.starts_with('/')
                && !raw.ami_ssm_parameter.contains(char::is_whitespace),
            "compute.ami_ssm_parameter",
            "must be an SSM parameter path starting with /",
        );
        EtlHost {
            instance_type: raw.instance_type,
            root_volume_gb: raw.root_volume_gb,
            ami_ssm_parameter: raw.ami_ssm_parameter,
        }
    }
}
