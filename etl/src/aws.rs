//! AWS clients (S3, SQS), built once: default credential and region chain, standard retries, optional endpoint
//! override.
//!
//! An endpoint override (moto, LocalStack, a VPC endpoint by IP) turns path-style addressing on, because
//! virtual-host style needs DNS for `bucket.host`, which an IP endpoint does not have.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::ResponseChecksumValidation;
use aws_sdk_s3::config::SharedHttpClient;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// AWS settings shared by every subcommand.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// An endpoint to send every request to instead of AWS's (moto, LocalStack, a VPC endpoint); `None`: AWS's own.
    pub endpoint_url: Option<String>,
    /// The region, overriding the default chain's; `None`: the chain decides.
    pub region: Option<String>,
    /// Address buckets by path rather than by host name even without `endpoint_url` (which turns it on anyway).
    pub force_path_style: bool,
    /// Attempts per request, the first included, for the SDK's standard retries.
    pub max_attempts: u32,
}

/// The HTTPS client every AWS client and credential provider (IMDS, SSO, STS) uses: rustls on ring, the same
/// crypto provider as the PostgreSQL TLS, so only one is compiled.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// Loads the SDK config from the default chain plus the overrides.
pub async fn sdk_config(options: &AwsOptions) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .retry_config(RetryConfig::standard().with_max_attempts(options.max_attempts.max(1)));
    if let Some(url) = &options.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(region) = &options.region {
        loader = loader.region(Region::new(region.clone()));
    }
    loader.load().await
}

/// The S3 client; path-style when asked or whenever the endpoint is overridden.
pub fn s3_client(config: &SdkConfig, options: &AwsOptions) -> aws_sdk_s3::Client {
    let path_style = options.force_path_style || config.endpoint_url().is_some();
    // Integrity of bodies comes from TLS and the pinned ETag; SDK-side checksum validation would hash every
    // body again and cannot check multipart objects (it warns on each).
    let s3 = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(path_style)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .build();
    aws_sdk_s3::Client::from_conf(s3)
}

/// The SQS client of the queue consumer: the same endpoint override and retry settings as S3 (both come from the
/// shared [`SdkConfig`]).
pub fn sqs_client(config: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(config)
}

/// One line for an SDK error: the AWS error code when the service sent one, else the full cause chain.
pub fn error_message<E>(error: &E) -> String
where
    E: ProvideErrorMetadata + std::error::Error,
{
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => DisplayErrorContext(error).to_string().replace('\n', " "),
    }
}
