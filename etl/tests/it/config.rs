//! Configuration: the RDS-managed secret, environment fallbacks, TLS settings, `etl migrate`.

use crate::support::{PEOPLE_SPEC, TestEnv, people, sdk_config, servers};

#[tokio::test(flavor = "multi_thread")]
async fn credentials_from_a_secret_and_every_setting_from_the_environment() {
    let env = TestEnv::new("secret").await;
    let config = sdk_config(&servers().moto_url).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let arn = secrets
        .create_secret()
        .name("rds!db-test")
        .secret_string(r#"{"username":"postgres","password":"not-checked-by-trust-auth"}"#)
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let spec = env.spec(PEOPLE_SPEC);
    let (csv, expected) = people(1, 5);
    env.put("s/p.csv", csv).await;
    let port = servers().pg_port.to_string();
    let db_name = format!("t_{}", env.name);
    let vars = [
        ("ETL_DATABASE_URL", ""),
        ("ETL_DB_SECRET_ARN", arn.as_str()),
        ("ETL_DB_HOST", "127.0.0.1"),
        ("ETL_DB_PORT", port.as_str()),
        ("ETL_DB_NAME", db_name.as_str()),
        ("ETL_DB_SSLMODE", "disable"),
        ("ETL_PREFIX", "s"),
        ("ETL_DATASET", spec.as_str()),
        ("ETL_MAX_REJECTS", "0"),
    ];
    let mut command = env.command(&["process"]);
    command
        .env_remove("ETL_DATABASE_URL")
        .envs(vars.iter().filter(|(_, v)| !v.is_empty()).copied());
    let out = command.output().await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let rows = env
        .rows("SELECT id::text, name, score::text, joined::text FROM people ORDER BY people.id")
        .await;
    assert_eq!(rows, expected);
}

async fn migrate_with_ca(env: &TestEnv, spec: &str, url: &str, ca: &str) -> crate::support::Run {
    env.run(&[
        "migrate",
        "--dataset",
        spec,
        "--database-url",
        url,
        "--db-ca-bundle",
        ca,
    ])
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_settings_are_checked_before_connecting() {
    let env = TestEnv::new("tls").await;
    let spec = env.spec(PEOPLE_SPEC);
    let url = env.database_url.replace("?sslmode=disable", "");
    let run = env
        .run(&["migrate", "--dataset", &spec, "--database-url", &url])
        .await;
    run.assert_code(2);
    assert!(
        run.error()
            .contains("sslmode verify-full needs a CA bundle"),
        "{}",
        run.error()
    );
    let run = env
        .run(&["migrate", "--dataset", &spec, "--db-sslmode", "require"])
        .await;
    run.assert_code(2);
    assert!(
        run.error().contains("sslmode \"require\" is not supported"),
        "{}",
        run.error()
    );
    let run = migrate_with_ca(&env, &spec, &url, "/nonexistent.pem").await;
    run.assert_code(2);
    assert!(
        run.error()
            .contains("cannot read CA bundle /nonexistent.pem"),
        "{}",
        run.error()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_is_idempotent_and_refuses_an_unsupported_type() {
    let env = TestEnv::new("migrate").await;
    let spec = env.spec(PEOPLE_SPEC);
    env.run(&["migrate", "--dataset", &spec])
        .await
        .assert_code(0);
    env.run(&["migrate", "--dataset", &spec])
        .await
        .assert_code(0);
    let columns = env
        .rows("SELECT column_name::text, data_type::text, is_nullable::text FROM information_schema.columns \
               WHERE table_name = 'people' ORDER BY ordinal_position")
        .await;
    let expected = [
        ["id", "bigint", "NO"],
        ["name", "text", "YES"],
        ["score", "integer", "YES"],
        ["joined", "date", "YES"],
        ["etl_object_id", "bigint", "NO"],
    ];
    let expected: Vec<Vec<Option<String>>> = expected
        .iter()
        .map(|r| r.iter().map(|v| Some((*v).to_owned())).collect())
        .collect();
    assert_eq!(columns, expected);

    let bad =
        env.spec("name = \"x\"\ntable = \"x\"\n[[columns]]\nname = \"a\"\ntype = \"money\"\n");
    let run = env.run(&["migrate", "--dataset", &bad]).await;
    run.assert_code(2);
    assert!(
        run.error()
            .contains("column \"a\": unsupported type \"money\""),
        "{}",
        run.error()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn large_files_go_up_in_parallel_parts_and_reruns_skip_them() {
    let env = TestEnv::new("multipart").await;
    let path = servers().dir.join("big.csv");
    let (csv, _) = people(1, 160_000);
    assert!(csv.len() > 5 << 20, "needs more than one 5 MiB part");
    std::fs::write(&path, &csv).unwrap();
    let path = path.display().to_string();
    let args = [
        "ingest",
        path.as_str(),
        "--prefix",
        "mp",
        "--part-size-mib",
        "5",
        "--upload-concurrency",
        "3",
    ];
    let run = env.run(&args).await;
    run.assert_code(0);
    assert_eq!(run.logs("Ingest finished.")[0]["uploaded"], 1);
    let object = env
        .s3
        .get_object()
        .bucket(&env.bucket)
        .key("mp/big.csv")
        .send()
        .await
        .unwrap();
    assert!(
        object.e_tag().unwrap().ends_with("-2\""),
        "multipart ETag: {:?}",
        object.e_tag()
    );
    let body = object.body.collect().await.unwrap().into_bytes();
    assert!(
        body == csv.as_bytes(),
        "uploaded bytes differ from the file"
    );
    let again = env.run(&args).await;
    again.assert_code(0);
    assert_eq!(again.logs("Ingest finished.")[0]["skipped"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_full_connects_over_tls_and_refuses_an_unknown_ca() {
    let env = TestEnv::new("tls_connect").await;
    env.db
        .batch_execute("CREATE ROLE tls_only LOGIN SUPERUSER")
        .await
        .ok();
    let spec = env.spec(PEOPLE_SPEC);
    let tls = servers().dir.join("tls");
    let url = format!(
        "postgres://tls_only@localhost:{}/t_{}",
        servers().pg_port,
        env.name
    );
    let ca = tls.join("ca.pem").display().to_string();
    let verified = format!("{url}?sslmode=verify-full&sslrootcert={ca}");
    env.run(&["migrate", "--dataset", &spec, "--database-url", &verified])
        .await
        .assert_code(0);

    // Without TLS the server turns the tls_only role away: the success above was encrypted.
    let plain = format!("{url}?sslmode=disable");
    let run = env
        .run(&["migrate", "--dataset", &spec, "--database-url", &plain])
        .await;
    run.assert_code(1);
    assert!(
        run.error().contains("pg_hba.conf rejects connection"),
        "{}",
        run.error()
    );

    let other = tls.join("other.pem").display().to_string();
    let run = migrate_with_ca(&env, &spec, &url, &other).await;
    run.assert_code(1);
    assert!(run.error().contains("certificate"), "{}", run.error());
}
