//! Test support: one real PostgreSQL and one real `moto_server` per test binary, on free loopback ports, and a
//! fresh database and bucket per test (and, for the event path, its queues and bucket notification).
//!
//! PostgreSQL refuses to run as root, so as root the server runs as the `postgres` OS user (via `setpriv`, which
//! execs, so the pid we hold is the server's). A small reaper process stops both servers by pid and removes the
//! data directory once this test process exits, however it exits.

use std::fmt::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

pub(crate) struct Servers {
    /// Scratch directory, removed by the reaper.
    pub(crate) dir: PathBuf,
    pub(crate) pg_port: u16,
    pub(crate) moto_url: String,
}

static SERVERS: OnceLock<Servers> = OnceLock::new();

pub(crate) fn servers() -> &'static Servers {
    SERVERS.get_or_init(start_servers)
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Runs a PostgreSQL binary, as the `postgres` user when we are root.
fn pg_command(bin: &str) -> Command {
    let out = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .expect("pg_config on PATH");
    let bindir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let path = bindir.join(bin);
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ])
        .arg(path);
        c
    } else {
        Command::new(path)
    }
}

pub(crate) fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// The servers outlive every test; the reaper stops them by pid after this process exits, so nothing here waits.
#[allow(clippy::zombie_processes)]
fn start_servers() -> Servers {
    let dir = std::env::temp_dir().join(format!("etl-it-{}", std::process::id()));
    let data = dir.join("pg");
    std::fs::create_dir_all(&data).unwrap();
    chown_to_postgres(&dir);
    let init = pg_command("initdb")
        .args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C",
            "-D",
        ])
        .arg(&data)
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    let tls = make_certificates(&dir);
    // The `tls_only` role may only connect over TLS, so a test can prove a connection was encrypted.
    let hba = data.join("pg_hba.conf");
    let rules = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(&hba, format!("hostnossl all tls_only all reject\n{rules}")).unwrap();
    let pg_port = free_port();
    let log = std::fs::File::create(dir.join("pg.log")).unwrap();
    let pg = pg_command("postgres")
        .arg("-D")
        .arg(&data)
        .args(["-p", &pg_port.to_string(), "-h", "127.0.0.1", "-k"])
        .arg(&data)
        .args([
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ])
        .args(["-c", "max_connections=200", "-c", "ssl=on"])
        .arg("-c")
        .arg(format!(
            "ssl_cert_file={}",
            tls.join("server.pem").display()
        ))
        .arg("-c")
        .arg(format!("ssl_key_file={}", tls.join("server.key").display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let moto_port = free_port();
    let moto = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &moto_port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server on PATH");
    let reaper = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 0.3; done; kill -INT {pg}; kill {moto}; \
         for i in $(seq 50); do kill -0 {pg} 2>/dev/null || break; sleep 0.1; done; rm -rf {dir}",
        me = std::process::id(),
        pg = pg.id(),
        moto = moto.id(),
        dir = dir.display()
    );
    Command::new("sh")
        .args(["-c", &reaper])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(pg_port, "PostgreSQL");
    wait_for_port(moto_port, "moto_server");
    let ready = Instant::now() + Duration::from_secs(30);
    while !pg_command("pg_isready")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &pg_port.to_string(),
            "-U",
            "postgres",
        ])
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success()
    {
        assert!(Instant::now() < ready, "PostgreSQL is not ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    Servers {
        dir,
        pg_port,
        moto_url: format!("http://127.0.0.1:{moto_port}"),
    }
}

/// A test CA, a server certificate for `localhost`/127.0.0.1 signed by it, and an unrelated CA; returns the dir.
fn make_certificates(dir: &Path) -> PathBuf {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    std::fs::write(
        tls.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let steps: [&[&str]; 4] = [
        &[
            "req",
            "-x509",
            "-days",
            "2",
            "-subj",
            "/CN=etl test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
        &[
            "req",
            "-x509",
            "-days",
            "2",
            "-subj",
            "/CN=other CA",
            "-keyout",
            "other.key",
            "-out",
            "other.pem",
        ],
        &[
            "req",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ],
    ];
    for (i, step) in steps.iter().enumerate() {
        let mut command = Command::new("openssl");
        command.args(*step).current_dir(&tls);
        if i < 3 {
            command.args(ec);
        }
        let out = command.output().unwrap();
        assert!(
            out.status.success(),
            "openssl {step:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    chown_to_postgres(&tls);
    let ok = Command::new("chmod")
        .arg("600")
        .arg(tls.join("server.key"))
        .status()
        .unwrap();
    assert!(ok.success());
    tls
}

/// As root, hands `path` to the `postgres` user the server runs as.
fn chown_to_postgres(path: &Path) {
    if is_root() {
        let ok = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(path)
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

/// The repository root (where `data/` lives).
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Result of one `etl` run.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl From<std::process::Output> for Run {
    fn from(out: std::process::Output) -> Self {
        Self {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    /// The JSON lines of stdout (logs and EMF records).
    pub(crate) fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// EMF records only.
    pub(crate) fn emf(&self) -> Vec<Value> {
        self.json_lines()
            .into_iter()
            .filter(|v| v.get("_aws").is_some())
            .collect()
    }

    /// Log lines whose message is `message`.
    pub(crate) fn logs(&self, message: &str) -> Vec<Value> {
        self.json_lines()
            .into_iter()
            .filter(|v| v["message"] == message)
            .collect()
    }

    #[track_caller]
    pub(crate) fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code; stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// The final error line's text.
    pub(crate) fn error(&self) -> String {
        self.logs("etl failed.")
            .last()
            .map(|v| v["error"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default()
    }
}

/// One test's database and bucket.
pub(crate) struct TestEnv {
    pub(crate) name: String,
    pub(crate) bucket: String,
    pub(crate) database_url: String,
    pub(crate) s3: aws_sdk_s3::Client,
    pub(crate) db: Client,
}

const AWS_ENV: [(&str, &str); 4] = [
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

async fn connect(port: u16, dbname: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=postgres dbname={dbname}"),
        NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    client
}

impl TestEnv {
    /// A fresh database and bucket named after the test.
    pub(crate) async fn new(name: &str) -> Self {
        let servers = servers();
        let admin = connect(servers.pg_port, "postgres").await;
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS t_{name}"))
            .await
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE t_{name}"))
            .await
            .unwrap();
        let db = connect(servers.pg_port, &format!("t_{name}")).await;
        db.batch_execute("SET TIME ZONE 'UTC'").await.unwrap();
        let bucket = format!("t-{}", name.replace('_', "-"));
        let s3 = s3_client(&servers.moto_url).await;
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        let database_url = format!(
            "postgres://postgres@127.0.0.1:{}/t_{name}?sslmode=disable",
            servers.pg_port
        );
        Self {
            name: name.to_owned(),
            bucket,
            database_url,
            s3,
            db,
        }
    }

    /// `etl` with this test's bucket and database in the environment (flags may override them).
    pub(crate) fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_etl"));
        c.args(args)
            .current_dir(repo_root())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default());
        c.envs(AWS_ENV)
            .env("AWS_ENDPOINT_URL", &servers().moto_url)
            .env("ETL_BUCKET", &self.bucket)
            .env("ETL_DATABASE_URL", &self.database_url)
            .env("ETL_LOG_FORMAT", "json")
            .env("ETL_DB_CONNECT_ATTEMPTS", "2");
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        c
    }

    pub(crate) async fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[]).await
    }

    pub(crate) async fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let out = self
            .command(args)
            .envs(env.iter().copied())
            .output()
            .await
            .unwrap();
        Run::from(out)
    }

    pub(crate) async fn put(&self, key: &str, body: impl Into<Vec<u8>>) {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body.into()))
            .send()
            .await
            .unwrap();
    }

    /// Rows of a query as text (NULL is `None`), via the simple protocol so every type renders as PostgreSQL's text.
    pub(crate) async fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.db
            .simple_query(sql)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_owned))
                        .collect(),
                ),
                _ => None,
            })
            .collect()
    }

    /// Asserts the `people` table, the ledger and the rejects are all empty.
    pub(crate) async fn assert_people_empty(&self) {
        for table in ["people", "etl_objects", "etl_rejects"] {
            assert_eq!(
                self.count(&format!("SELECT count(*) FROM {table}")).await,
                0,
                "{table} is not empty"
            );
        }
    }

    /// A single number from a query.
    pub(crate) async fn count(&self, sql: &str) -> i64 {
        self.rows(sql).await[0][0]
            .as_deref()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Writes a spec file for this test and returns its path.
    pub(crate) fn spec(&self, toml: &str) -> String {
        self.spec_named(&self.name, toml)
    }

    /// Writes a spec file named `<name>.toml` (for tests with several datasets) and returns its path.
    pub(crate) fn spec_named(&self, name: &str, toml: &str) -> String {
        let path = servers().dir.join(format!("{}-{name}.toml", self.name));
        std::fs::write(&path, toml).unwrap();
        path.display().to_string()
    }
}

/// The SDK config of the tests' own clients: moto's endpoint and fixed credentials.
pub(crate) async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(etl::aws::https_client())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await
}

pub(crate) async fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    let s3 = aws_sdk_s3::config::Builder::from(&sdk_config(endpoint).await)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(s3)
}

/// A test's SQS side: the events queue, whose dead-letter queue takes a message after `max_receives` receives,
/// fed by the bucket's `ObjectCreated` notification (moto sends an `s3:TestEvent` first, as S3 does).
pub(crate) struct Queues {
    pub(crate) sqs: aws_sdk_sqs::Client,
    pub(crate) url: String,
    pub(crate) dlq_url: String,
}

impl TestEnv {
    pub(crate) async fn queues(&self, visibility_seconds: u32, max_receives: u32) -> Queues {
        let sqs = aws_sdk_sqs::Client::new(&sdk_config(&servers().moto_url).await);
        let create = |name: String| sqs.create_queue().queue_name(name);
        let dlq_url = create(format!("{}-dlq", self.bucket))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let redrive = serde_json::json!({
            "deadLetterTargetArn": queue_arn(&sqs, &dlq_url).await,
            "maxReceiveCount": max_receives,
        });
        let url = create(format!("{}-events", self.bucket))
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                visibility_seconds.to_string(),
            )
            .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let notification = QueueConfiguration::builder()
            .queue_arn(queue_arn(&sqs, &url).await)
            .events(Event::S3ObjectCreated)
            .build()
            .unwrap();
        self.s3
            .put_bucket_notification_configuration()
            .bucket(&self.bucket)
            .notification_configuration(
                NotificationConfiguration::builder()
                    .queue_configurations(notification)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        Queues { sqs, url, dlq_url }
    }
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone()
}

impl Queues {
    /// Messages in the queue at `url`: visible, in flight and delayed.
    pub(crate) async fn depth(&self, url: &str) -> u64 {
        let names = [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            QueueAttributeName::ApproximateNumberOfMessagesDelayed,
        ];
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .set_attribute_names(Some(names.to_vec()))
            .send()
            .await
            .unwrap();
        let attributes = out.attributes().unwrap();
        names
            .iter()
            .map(|n| attributes[n].parse::<u64>().unwrap())
            .sum()
    }

    /// The dead-letter queue's messages as (message id, body); each received once and left in place.
    pub(crate) async fn dead_letters(&self) -> Vec<(String, String)> {
        let mut letters = Vec::new();
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.dlq_url)
                .max_number_of_messages(10)
                .visibility_timeout(600)
                .send()
                .await
                .unwrap();
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                return letters;
            }
            letters.extend(
                messages
                    .into_iter()
                    .map(|m| (m.message_id.unwrap(), m.body.unwrap())),
            );
        }
    }

    /// Sends a message body to the events queue; returns its id.
    pub(crate) async fn send(&self, body: &str) -> String {
        self.sqs
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .unwrap()
            .message_id
            .unwrap()
    }
}

/// A worker on the test's queue that exits once the queue is empty (short polls keep the tests quick).
pub(crate) fn worker<'a>(queues: &'a Queues, spec: &'a str) -> [&'a str; 10] {
    [
        "process",
        "--queue",
        &queues.url,
        "--prefix",
        "in",
        "--dataset",
        spec,
        "--queue-wait-seconds",
        "1",
        "--exit-when-idle",
    ]
}

/// A small dataset used by most tests: `people(id bigint not null, name text, score integer, joined date)`.
pub(crate) const PEOPLE_SPEC: &str = r#"
name = "people"
table = "people"
[csv]
header = true
[[columns]]
name = "id"
type = "bigint"
nullable = false
[[columns]]
name = "name"
type = "text"
rules = [{ pattern = "(?i)\\bdr\\.? ", replace = "Dr " }]
[[columns]]
name = "score"
type = "integer"
null_if = ["n/a"]
[[columns]]
name = "joined"
type = "date"
"#;

pub(crate) const PEOPLE_HEADER: &str = "id,name,score,joined\n";

/// `n` people rows with ids from `first`, each expected back unchanged: `(csv, expected rows)`.
pub(crate) fn people(first: i64, n: i64) -> (String, Vec<Vec<Option<String>>>) {
    let mut csv = String::from(PEOPLE_HEADER);
    let mut rows = Vec::new();
    for id in first..first + n {
        let name = format!("person {id}, \"the {}\"", id % 7);
        let _ = writeln!(
            csv,
            "{id},\"{}\",{},2024-01-{:02}",
            name.replace('"', "\"\""),
            id % 100,
            id % 28 + 1
        );
        rows.push(vec![
            Some(id.to_string()),
            Some(name),
            Some((id % 100).to_string()),
            Some(format!("2024-01-{:02}", id % 28 + 1)),
        ]);
    }
    (csv, rows)
}

/// Uploads `objects` objects of `rows` people each; returns the total row count and sum of ids.
pub(crate) async fn upload_people(
    env: &TestEnv,
    prefix: &str,
    objects: i64,
    rows: i64,
) -> (i64, i64) {
    for i in 0..objects {
        let (csv, _) = people(i * rows + 1, rows);
        env.put(&format!("{prefix}/part-{i:03}.csv"), csv).await;
    }
    let n = objects * rows;
    (n, n * (n + 1) / 2)
}

pub(crate) async fn assert_loaded_once(env: &TestEnv, total: i64, id_sum: i64) {
    let counts = env
        .rows("SELECT count(*)::text, count(DISTINCT id)::text, sum(id)::text FROM people")
        .await;
    assert_eq!(
        counts[0],
        [
            Some(total.to_string()),
            Some(total.to_string()),
            Some(id_sum.to_string())
        ]
    );
}

/// Waits until one `etl` backend holds at least `n` advisory locks: its open transaction has claimed `n` objects.
pub(crate) async fn wait_for_claims(env: &TestEnv, n: i64) {
    let sql = format!(
        "SELECT coalesce(max(c), 0) FROM (SELECT count(*) AS c FROM pg_locks l JOIN pg_stat_activity a USING (pid) \
         WHERE a.application_name = 'etl' AND a.datname = 't_{}' AND l.locktype = 'advisory' GROUP BY pid) s",
        env.name
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while env.count(&sql).await < n {
        assert!(
            Instant::now() < deadline,
            "etl never claimed {n} objects in one transaction"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until the `etl` backend is running its COPY; returns its pid.
pub(crate) async fn wait_for_copy(env: &TestEnv) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = env
            .rows(&format!(
                "SELECT pid::text FROM pg_stat_activity WHERE application_name = 'etl' \
                 AND datname = 't_{}' AND query LIKE 'COPY%' AND state = 'active'",
                env.name
            ))
            .await;
        if let Some(row) = rows.first() {
            return row[0].as_deref().unwrap().parse().unwrap();
        }
        assert!(Instant::now() < deadline, "etl never reached COPY");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub(crate) async fn wait_for_no_etl_backend(env: &TestEnv) {
    let sql = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'etl' AND datname = 't_{}'",
        env.name
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while env.count(&sql).await > 0 {
        assert!(Instant::now() < deadline, "the etl backend did not go away");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// gzip of `text` as one member (flate2, header mtime 0).
pub(crate) fn gzip(text: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut encoder, text).unwrap();
    encoder.finish().unwrap()
}
