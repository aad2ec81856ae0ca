//! Bad input: each case gives the documented behaviour. Row-level problems reject the row (with its line) and load
//! the rest; object-level problems fail the object with one clear line and leave the database unchanged.

use crate::support::{PEOPLE_HEADER, PEOPLE_SPEC, TestEnv, free_port, people};

/// Uploads `body` as the only object and runs `etl process` on it.
async fn process_one(env: &TestEnv, body: &[u8], extra: &[&str]) -> crate::support::Run {
    let spec = env.spec(PEOPLE_SPEC);
    env.put("bad/object.csv", body.to_vec()).await;
    let mut args = vec!["process", "--prefix", "bad", "--dataset", spec.as_str()];
    args.extend(extra);
    env.run(&args).await
}

async fn rejects(env: &TestEnv) -> Vec<(String, String)> {
    env.rows("SELECT line::text, reason FROM etl_rejects ORDER BY etl_rejects.line")
        .await
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn row_problems_reject_the_row_with_its_line_and_load_the_rest() {
    let env = TestEnv::new("bad_rows").await;
    let mut body = PEOPLE_HEADER.as_bytes().to_vec();
    body.extend_from_slice(b"1,ok,1,2024-01-01\n");
    body.extend_from_slice(b"2,\"two\nlines\",2,2024-01-01\n");
    body.extend_from_slice(b"3,too,many,fields,here\n");
    body.extend_from_slice(b"4,bad \xff utf8,4,2024-01-01\n");
    body.extend_from_slice(b"5,big,99999999999,2024-01-01\n");
    body.extend_from_slice(b"6,feb,6,2023-02-29\n");
    body.extend_from_slice(b"7,stray\"quote,7,2024-01-01\n");
    body.extend_from_slice(b",no id,8,2024-01-01\n");
    body.extend_from_slice(b"9,last,9,2024-01-01");
    let run = process_one(&env, &body, &[]).await;
    run.assert_code(0);
    let ids = env
        .rows("SELECT id::text FROM people ORDER BY people.id")
        .await;
    assert_eq!(
        ids,
        [["1"], ["2"], ["9"]].map(|r| r.map(|v| Some(v.to_owned())))
    );
    let expected = [
        ("5", "expected 4 fields, found 5"),
        ("6", "column name: invalid UTF-8 at byte 4"),
        ("7", "column score: value \"99999999999\" is not an integer"),
        (
            "8",
            "column joined: value \"2023-02-29\" is not a date (YYYY-MM-DD)",
        ),
        ("9", "malformed CSV: quote inside an unquoted field"),
        ("10", "column id: NULL in a NOT NULL column"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(l, r)| ((*l).to_owned(), (*r).to_owned()))
        .collect();
    assert_eq!(rejects(&env).await, expected);
    assert_eq!(run.emf()[0]["RowsRejected"], 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn too_many_rejects_fail_the_object() {
    let env = TestEnv::new("max_rejects").await;
    let body = format!("{PEOPLE_HEADER}1,a,1,2024-01-01\nx,b,1,2024-01-01\ny,c,1,2024-01-01\n");
    let run = process_one(&env, body.as_bytes(), &["--max-rejects", "1"]).await;
    run.assert_code(2);
    assert!(
        run.error()
            .contains("s3://t-max-rejects/bad/object.csv: line 4: more than 1 rejected rows"),
        "{}",
        run.error()
    );
    env.assert_people_empty().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn object_problems_fail_the_object_and_leave_the_database_unchanged() {
    let utf32: Vec<u8> = "\u{feff}id,name,score,joined\n1,a,1,2024-01-01\n"
        .chars()
        .flat_map(|c| u32::from(c).to_le_bytes())
        .collect();
    let cases: [(&str, &[u8], &str); 4] = [
        (
            "unterminated",
            b"id,name,score,joined\n1,a,1,2024-01-01\n2,\"open,2,2024-01-01\n3,c,3,2024-01-01\n",
            "line 3: unterminated quoted field",
        ),
        ("empty", b"", "object is empty, expected a header line"),
        (
            "header",
            b"id,full_name,score,joined\n1,a,1,2024-01-01\n",
            "line 1: header \"id,full_name,score,joined\" does not match the spec's columns \"id,name,score,joined\"",
        ),
        (
            "utf32",
            &utf32,
            "line 1: the object starts with a UTF-32LE byte-order mark, an encoding etl does not read",
        ),
    ];
    for (name, body, message) in cases {
        let env = TestEnv::new(&format!("object_{name}")).await;
        let run = process_one(&env, body, &[]).await;
        run.assert_code(2);
        assert!(run.error().contains(message), "{name}: {}", run.error());
        env.assert_people_empty().await;
        let emf = run.emf();
        assert_eq!(emf[0]["ObjectsFailed"], 1, "{name}");
        assert!(emf[1].get("RunSucceeded").is_none(), "{name}");
    }
}

/// The bad object sorts first, so the good one loads on the same connection after a COPY was aborted.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_object_does_not_stop_the_others() {
    let env = TestEnv::new("mixed").await;
    let spec = env.spec(PEOPLE_SPEC);
    let (good, expected) = people(1, 10);
    env.put("m/b.csv", good).await;
    env.put("m/a.csv", "id,wrong\n").await;
    let run = env
        .run(&["process", "--prefix", "m", "--dataset", &spec])
        .await;
    run.assert_code(2);
    assert!(
        run.error()
            .starts_with("1 of 2 object(s) failed, first: s3://t-mixed/m/a.csv: line 1: header"),
        "{}",
        run.error()
    );
    let rows = env
        .rows("SELECT id::text, name, score::text, joined::text FROM people ORDER BY people.id")
        .await;
    assert_eq!(rows, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_bucket_is_a_usage_error() {
    let env = TestEnv::new("no_bucket").await;
    let spec = env.spec(PEOPLE_SPEC);
    let run = env
        .run(&["process", "--bucket", "no-such-bucket", "--dataset", &spec])
        .await;
    run.assert_code(2);
    assert_eq!(run.error(), "bucket no-such-bucket does not exist");
    let ingest = env
        .run(&["ingest", "data/events.csv", "--bucket", "no-such-bucket"])
        .await;
    ingest.assert_code(2);
    assert_eq!(ingest.error(), "bucket no-such-bucket does not exist");
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_down_is_a_runtime_error_after_bounded_retries() {
    let env = TestEnv::new("pg_down").await;
    let spec = env.spec(PEOPLE_SPEC);
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/x?sslmode=disable",
        free_port()
    );
    let run = env
        .run(&["process", "--dataset", &spec, "--database-url", &url])
        .await;
    run.assert_code(1);
    assert!(
        run.error()
            .starts_with("cannot connect to PostgreSQL at postgres@127.0.0.1:"),
        "{}",
        run.error()
    );
    assert!(
        run.error().contains("after 2 attempt(s)"),
        "{}",
        run.error()
    );
    assert_eq!(run.logs("PostgreSQL connect failed, retrying.").len(), 1);
}
