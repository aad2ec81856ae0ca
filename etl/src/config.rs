//! Database settings as given on the command line, resolved into a ready [`DbConfig`].
//!
//! Credentials come from the URL or from an RDS-managed secret in Secrets Manager. Such a secret holds only
//! `username` and `password`, so host, port and database name come from the URL (given without credentials) or
//! from `--db-host`/`--db-port`/`--db-name`.

use std::path::PathBuf;
use std::time::Duration;

use crate::aws::{AwsOptions, error_message};
use crate::db::{DbConfig, SecretCredentials, Tls, apply_tls, split_tls_params};
use crate::error::{DbError, Error};

/// Database flags, before the secret is read.
#[derive(Debug, Clone, Default)]
pub struct DbSettings {
    /// A `postgres://` URL, with credentials unless `secret_arn` gives them.
    pub url: Option<String>,
    /// The ARN of an RDS-managed secret holding the username and password.
    pub secret_arn: Option<String>,
    /// The database host, when the URL does not give it.
    pub host: Option<String>,
    /// The database port, when the URL does not give it.
    pub port: Option<u16>,
    /// The database name, when the URL does not give it.
    pub name: Option<String>,
    /// `disable` or `verify-full` (the default when `None`).
    pub sslmode: Option<String>,
    /// The CA bundle (PEM) the server's certificate is checked against under `verify-full`.
    pub ca_bundle: Option<PathBuf>,
    /// Attempts to connect before giving up; 0 counts as 1.
    pub connect_attempts: u32,
    /// How long one connection attempt may take.
    pub connect_timeout: Duration,
}

impl DbSettings {
    /// Builds the connection config, reading the secret if one is named.
    pub async fn resolve(&self, aws: &AwsOptions) -> Result<DbConfig, Error> {
        let (mut pg, url_mode, url_root) = match &self.url {
            Some(url) => {
                let (url, mode, root) = split_tls_params(url);
                let pg = url
                    .parse::<tokio_postgres::Config>()
                    .map_err(|e| Error::Config(format!("bad database URL: {e}")))?;
                (pg, mode, root)
            }
            None if self.secret_arn.is_some() => (tokio_postgres::Config::new(), None, None),
            None => {
                return Err(Error::Config(
                    "give --database-url or --db-secret-arn".to_owned(),
                ));
            }
        };
        if pg.get_hosts().is_empty() {
            let host = self.host.as_deref().ok_or_else(|| {
                Error::Config(
                    "no database host: put it in --database-url or give --db-host".to_owned(),
                )
            })?;
            pg.host(host);
        }
        if let Some(port) = self.port {
            pg.port(port);
        }
        if let Some(name) = &self.name {
            pg.dbname(name);
        }
        if let Some(arn) = &self.secret_arn {
            let secret = read_secret(arn, aws).await?;
            pg.user(secret.username);
            pg.password(secret.password);
        }
        if pg.get_user().is_none() {
            return Err(Error::Config(
                "no database user: put it in --database-url or use --db-secret-arn".to_owned(),
            ));
        }
        let mode = self
            .sslmode
            .clone()
            .or(url_mode)
            .unwrap_or_else(|| "verify-full".to_owned());
        let tls = match mode.as_str() {
            "disable" => Tls::Disable,
            "verify-full" => {
                let ca_bundle = self.ca_bundle.clone().or(url_root.map(PathBuf::from)).ok_or_else(|| {
                    Error::Config(
                        "sslmode verify-full needs a CA bundle: give --db-ca-bundle (for RDS, the global bundle)"
                            .to_owned(),
                    )
                })?;
                Tls::VerifyFull { ca_bundle }
            }
            other => {
                return Err(Error::Config(format!(
                    "sslmode {other:?} is not supported: use verify-full or disable"
                )));
            }
        };
        apply_tls(&mut pg, &tls);
        pg.application_name("etl");
        pg.connect_timeout(self.connect_timeout);
        Ok(DbConfig {
            pg,
            tls,
            connect_attempts: self.connect_attempts.max(1),
        })
    }
}

async fn read_secret(arn: &str, aws: &AwsOptions) -> Result<SecretCredentials, DbError> {
    let sdk = crate::aws::sdk_config(aws).await;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let secret_error = |message: String| DbError::Secret {
        arn: arn.to_owned(),
        message,
    };
    let output = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| secret_error(error_message(&e.into_service_error())))?;
    let text = output
        .secret_string()
        .ok_or_else(|| secret_error("the secret has no string value".to_owned()))?;
    serde_json::from_str(text)
        .map_err(|e| secret_error(format!("expected JSON with username and password: {e}")))
}
