//! `[delivery]`: the GitHub repository and the Terraform state location the CI roles use, read and
//! checked (a repository needs a state bucket, which must lie outside the platform's own buckets).

use serde::Deserialize;

use crate::model::config::validator::Validator;
use crate::model::names::Name;
use crate::model::{Delivery, GithubDelivery, bucket_prefix};

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawDelivery {
    github_repository: Option<String>,
    create_oidc_provider: bool,
    state_bucket: Option<String>,
    state_key: String,
}

impl Default for RawDelivery {
    fn default() -> Self {
        Self {
            github_repository: None,
            create_oidc_provider: true,
            state_bucket: None,
            state_key: "hadrian/terraform.tfstate".into(),
        }
    }
}

impl Validator<'_> {
    /// `name` is the platform's: its bucket prefix is what the apply role may write and the
    /// boundary may read, so a state bucket under it would let the apply job rewrite the state
    /// and any platform role read it.
    pub(super) fn delivery(&mut self, raw: RawDelivery, name: &Name) -> Delivery {
        if let Some(repository) = &raw.github_repository {
            self.check(
                is_github_repository(repository),
                "delivery.github_repository",
                "must be \"owner/name\" of a GitHub repository",
            );
        }
        if let Some(bucket) = &raw.state_bucket {
            self.check(
                is_bucket_name(bucket),
                "delivery.state_bucket",
                "must be an S3 bucket name (3-63 characters of a-z, 0-9, . and -)",
            );
            let prefix = bucket_prefix(name);
            if bucket.starts_with(&prefix) {
                self.fail(
                    "delivery.state_bucket",
                    format!(
                        "{bucket:?} starts with {prefix:?}, the platform's own buckets, which the \
                         apply role may write and every platform role may read; choose a name \
                         outside it, e.g. \"{name}-tfstate\""
                    ),
                );
            }
        }
        self.check(
            !raw.state_key.is_empty()
                && raw.state_key.len() <= 1024
                && !raw.state_key.starts_with('/')
                && !raw
                    .state_key
                    .contains(|c: char| c.is_whitespace() || c == '*'),
            "delivery.state_key",
            "must be an S3 object key without a leading /, whitespace or *",
        );
        let github = match (raw.github_repository, raw.state_bucket) {
            (Some(repository), Some(state_bucket)) => Some(GithubDelivery {
                repository,
                create_oidc_provider: raw.create_oidc_provider,
                state_bucket,
                state_key: raw.state_key,
            }),
            (Some(_), None) => {
                self.fail(
                    "delivery.state_bucket",
                    "is required when delivery.github_repository is set (the CI roles read and write the state)",
                );
                None
            }
            (None, _) => None,
        };
        Delivery { github }
    }
}

/// `owner/name` as GitHub allows them: the owner 1-39 of a-z, A-Z, 0-9 and inner hyphens, the
/// name 1-100 of a-z, A-Z, 0-9, `.`, `_` and `-`, and not `.` or `..`.
fn is_github_repository(text: &str) -> bool {
    let Some((owner, name)) = text.split_once('/') else {
        return false;
    };
    let owner_ok = (1..=39).contains(&owner.len())
        && owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !owner.starts_with('-')
        && !owner.ends_with('-');
    let name_ok = (1..=100).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && name != "."
        && name != "..";
    owner_ok && name_ok
}

fn is_bucket_name(text: &str) -> bool {
    (3..=63).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !text.contains("..")
}
