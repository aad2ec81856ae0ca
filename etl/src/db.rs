//! PostgreSQL connections: credentials from a URL or an RDS-managed secret, TLS, and bounded connect retries.
//!
//! `sslmode` is `disable` (local runs) or `verify-full` (the default: certificate chain checked against a CA bundle
//! and the host name checked against the certificate). Unverified TLS (`require`) is not offered. The session
//! time zone is UTC so timestamps without a zone load the same on every host.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, NoTls};
use tracing::{debug, warn};

use crate::error::DbError;

/// How the connection is encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// No TLS: for local runs only.
    Disable,
    /// TLS with the certificate chain and the host name verified.
    VerifyFull {
        /// The CA bundle (PEM) the server's certificate chain is checked against.
        ca_bundle: PathBuf,
    },
}

/// A complete, validated database target.
#[derive(Clone)]
pub struct DbConfig {
    /// Host, port, user, password and database name.
    pub pg: tokio_postgres::Config,
    /// How the connection is encrypted.
    pub tls: Tls,
    /// Attempts to connect before giving up (at least 1).
    pub connect_attempts: u32,
}

impl fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbConfig")
            .field("target", &self.target())
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl DbConfig {
    /// `user@host:port/dbname`, never the password.
    pub fn target(&self) -> String {
        let host = match self.pg.get_hosts().first() {
            Some(Host::Tcp(host)) => host.clone(),
            Some(Host::Unix(path)) => path.display().to_string(),
            None => "localhost".to_owned(),
        };
        let port = self.pg.get_ports().first().copied().unwrap_or(5432);
        let user = self.pg.get_user().unwrap_or("?");
        let dbname = self.pg.get_dbname().unwrap_or(user);
        format!("{user}@{host}:{port}/{dbname}")
    }
}

/// The fields of an RDS-managed master user secret this tool uses.
#[derive(Deserialize)]
pub struct SecretCredentials {
    /// The database user.
    pub username: String,
    /// The user's password.
    pub password: String,
}

/// Splits `sslmode` and `sslrootcert` out of a URL's query (tokio-postgres knows neither `verify-full` nor
/// `sslrootcert`); returns the URL without them and their values.
pub fn split_tls_params(url: &str) -> (String, Option<String>, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), None, None);
    };
    let (mut mode, mut root) = (None, None);
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.split_once('=') {
            Some(("sslmode", v)) => {
                mode = Some(v.to_owned());
                false
            }
            Some(("sslrootcert", v)) => {
                root = Some(v.to_owned());
                false
            }
            _ => !pair.is_empty(),
        })
        .collect();
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (url, mode, root)
}

/// Connects with bounded retries and exponential backoff, then sets the session up.
pub async fn connect(db: &DbConfig) -> Result<Client, DbError> {
    let mut delay = Duration::from_millis(200);
    let tls = match &db.tls {
        Tls::Disable => None,
        Tls::VerifyFull { ca_bundle } => Some(rustls_connector(ca_bundle)?),
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = match &tls {
            None => db.pg.connect(NoTls).await.map(|(client, connection)| {
                tokio::spawn(drive(connection));
                client
            }),
            Some(tls) => db
                .pg
                .connect(tls.clone())
                .await
                .map(|(client, connection)| {
                    tokio::spawn(drive(connection));
                    client
                }),
        };
        match result {
            Ok(client) => {
                client
                    .batch_execute("SET TIME ZONE 'UTC'")
                    .await
                    .map_err(|e| DbError::query("set the session time zone", &e))?;
                debug!(target = %db.target(), attempt, "Connected to PostgreSQL.");
                return Ok(client);
            }
            Err(e) if attempt < db.connect_attempts && retriable(&e) => {
                warn!(target = %db.target(), attempt, error = %crate::error::pg_message(&e), "PostgreSQL connect failed, retrying.");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                return Err(DbError::Connect {
                    target: db.target(),
                    attempts: attempt,
                    message: crate::error::pg_message(&e),
                });
            }
        }
    }
}

async fn drive<F>(connection: F)
where
    F: Future<Output = Result<(), tokio_postgres::Error>>,
{
    if let Err(e) = connection.await {
        debug!(error = %crate::error::pg_message(&e), "PostgreSQL connection closed.");
    }
}

/// Server errors (bad password, unknown database) will not heal by retrying; network errors and a server that
/// is still starting up may.
fn retriable(error: &tokio_postgres::Error) -> bool {
    match error.code() {
        Some(code) => code.code() == "57P03",
        None => error.as_db_error().is_none(),
    }
}

fn rustls_connector(
    ca_bundle: &PathBuf,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, DbError> {
    let pem = std::fs::read(ca_bundle).map_err(|e| {
        DbError::Tls(format!(
            "cannot read CA bundle {}: {e}",
            ca_bundle.display()
        ))
    })?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.map_err(|e| {
            DbError::Tls(format!("bad certificate in {}: {e}", ca_bundle.display()))
        })?;
        roots.add(cert).map_err(|e| {
            DbError::Tls(format!("bad certificate in {}: {e}", ca_bundle.display()))
        })?;
    }
    if roots.is_empty() {
        return Err(DbError::Tls(format!(
            "CA bundle {} holds no certificates",
            ca_bundle.display()
        )));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DbError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Applies the TLS choice to the driver config (TLS is then required, never silently skipped).
pub fn apply_tls(pg: &mut tokio_postgres::Config, tls: &Tls) {
    pg.ssl_mode(match tls {
        Tls::Disable => SslMode::Disable,
        Tls::VerifyFull { .. } => SslMode::Require,
    });
}

#[cfg(test)]
mod tests {
    use crate::db::split_tls_params;

    #[test]
    fn tls_params_are_split_out_of_the_url() {
        let (url, mode, root) = split_tls_params(
            "postgres://u:p@h:5432/db?sslmode=verify-full&application_name=x&sslrootcert=/ca.pem",
        );
        assert_eq!(url, "postgres://u:p@h:5432/db?application_name=x");
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root.as_deref(), Some("/ca.pem"));
        assert_eq!(
            split_tls_params("postgres://h/db?sslmode=disable").0,
            "postgres://h/db"
        );
    }
}
