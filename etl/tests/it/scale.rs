//! Many small objects: concurrent jobs, small objects sharing a transaction, and the bulk skip of loaded objects.

use std::fmt::Write;

use futures_util::future::join_all;

use crate::support::{PEOPLE_HEADER, PEOPLE_SPEC, TestEnv, people};
use crate::support::{assert_loaded_once, upload_people, wait_for_claims, wait_for_no_etl_backend};

/// Uploads `objects` objects of a few people each under `prefix`, every third with a row that is rejected.
async fn upload_small(env: &TestEnv, prefix: &str, objects: i64) {
    join_all((0..objects).map(|i| {
        let (mut csv, _) = people(i * 10 + 1, 5);
        if i % 3 == 0 {
            let _ = writeln!(csv, "{},bad score,abc,2024-01-01", i * 10 + 9);
        }
        async move { env.put(&format!("{prefix}/o-{i:04}.csv"), csv).await }
    }))
    .await;
}

/// The table, ledger and rejects as text, with each row's object named by key (ledger ids depend on the order
/// concurrent transactions commit in, the contents must not).
async fn dump(env: &TestEnv) -> Vec<Vec<Vec<Option<String>>>> {
    let queries = [
        "SELECT o.key, p.id, p.name, p.score, p.joined FROM people p JOIN etl_objects o ON o.id = p.etl_object_id \
         ORDER BY o.key, p.id",
        "SELECT key, version_id, etag, size_bytes, rows_loaded, rows_rejected, superseded_at IS NULL, \
         finished_at IS NOT NULL FROM etl_objects ORDER BY key",
        "SELECT o.key, r.line, r.record, r.reason FROM etl_rejects r JOIN etl_objects o ON o.id = r.object_id \
         ORDER BY o.key, r.line",
    ];
    let mut out = Vec::new();
    for sql in queries {
        out.push(env.rows(sql).await);
    }
    out
}

/// `etl process` over `prefix` with `spec`, then `extra` flags.
fn process_args<'a>(prefix: &'a str, spec: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    [
        &["process", "--prefix", prefix, "--dataset", spec][..],
        extra,
    ]
    .concat()
}

fn finished(run: &crate::support::Run, field: &str) -> u64 {
    run.logs("Process finished.")[0][field].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn grouped_concurrent_loads_give_the_same_tables_as_one_at_a_time() {
    let env = TestEnv::new("grouped_same").await;
    let spec = env.spec(PEOPLE_SPEC);
    upload_small(&env, "g", 90).await;
    let one = process_args("g", &spec, &["--jobs", "1", "--group-objects", "1"]);
    env.run(&one).await.assert_code(0);
    let expected = dump(&env).await;
    assert_eq!(expected[0].len(), 90 * 5);
    assert_eq!(expected[1].len(), 90);
    assert_eq!(expected[2].len(), 30);

    env.db
        .batch_execute("TRUNCATE people, etl_rejects, etl_objects")
        .await
        .unwrap();
    let many = process_args("g", &spec, &["--jobs", "4", "--group-objects", "7"]);
    let run = env.run(&many).await;
    run.assert_code(0);
    assert_eq!(dump(&env).await, expected);
    assert_eq!(
        (finished(&run, "loaded"), finished(&run, "rejected")),
        (90, 30)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_object_in_a_group_fails_alone_and_its_neighbours_load() {
    let env = TestEnv::new("grouped_bad").await;
    let spec = env.spec(PEOPLE_SPEC);
    upload_small(&env, "b", 12).await;
    // Fails after its COPY has started (unterminated quote at the end), so its savepoint must roll back a COPY.
    let (mut bad, _) = people(1000, 50);
    bad.push_str("1050,\"never closed,1,2024-01-01\n");
    env.put("b/o-0005-bad.csv", bad).await;
    // Fails before its COPY (wrong header).
    env.put(
        "b/o-0009-header.csv",
        "id,nom,score,joined\n1,x,1,2024-01-01\n",
    )
    .await;
    let args = process_args("b", &spec, &["--jobs", "1", "--group-objects", "100"]);
    let run = env.run(&args).await;
    run.assert_code(2);
    assert_eq!(
        run.error(),
        format!(
            "2 of 14 object(s) failed, first: s3://{}/b/o-0005-bad.csv: line 52: unterminated quoted field \
             (the quote opened on this line never closes)",
            env.bucket
        )
    );
    let failed: Vec<(String, String)> = run
        .logs("Object failed, nothing of it was loaded.")
        .iter()
        .map(|l| {
            (
                l["key"].as_str().unwrap().to_owned(),
                l["error"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0].0, "b/o-0005-bad.csv");
    assert_eq!(failed[1].0, "b/o-0009-header.csv");
    assert!(failed[1].1.starts_with("line 1: header"), "{failed:?}");
    // The twelve good objects committed with their rejects, nothing of the bad ones.
    assert_eq!(
        env.rows("SELECT count(*)::text, string_agg(key, ',' ORDER BY key) FILTER (WHERE key LIKE '%bad%' OR key LIKE '%header%') FROM etl_objects")
            .await[0],
        [Some("12".to_owned()), None]
    );
    assert_eq!(env.count("SELECT count(*) FROM people").await, 12 * 5);
    assert_eq!(env.count("SELECT count(*) FROM etl_rejects").await, 4);
    assert_eq!(
        env.count("SELECT count(*) FROM people WHERE id >= 1000")
            .await,
        0
    );
    assert_eq!(finished(&run, "loaded"), 12);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_group_commits_nothing_and_a_rerun_loads_everything() {
    let env = TestEnv::new("grouped_killed").await;
    let spec = env.spec(PEOPLE_SPEC);
    let (total, id_sum) = upload_people(&env, "k", 120, 2000).await;
    let one_group = [
        "--jobs",
        "1",
        "--group-objects",
        "120",
        "--group-bytes",
        "1000000000",
    ];
    let args = process_args("k", &spec, &one_group);
    let mut child = env.command(&args).spawn().unwrap();
    // Several objects of the group are loaded (each claim is taken before its load), none committed.
    wait_for_claims(&env, 4).await;
    child.kill().await.unwrap();
    wait_for_no_etl_backend(&env).await;
    env.assert_people_empty().await;

    let run = env.run(&process_args("k", &spec, &[])).await;
    run.assert_code(0);
    assert_loaded_once(&env, total, id_sum).await;
    assert_eq!(env.count("SELECT count(*) FROM etl_objects").await, 120);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_concurrent_grouped_runs_load_each_version_once() {
    let env = TestEnv::new("grouped_concurrent").await;
    let spec = env.spec(PEOPLE_SPEC);
    let (total, id_sum) = upload_people(&env, "c", 150, 20).await;
    let args = process_args("c", &spec, &["--jobs", "4", "--group-objects", "5"]);
    let (a, b) = tokio::join!(env.run(&args), env.run(&args));
    a.assert_code(0);
    b.assert_code(0);
    assert_loaded_once(&env, total, id_sum).await;
    assert_eq!(env.count("SELECT count(*) FROM etl_objects").await, 150);
    assert_eq!(finished(&a, "loaded") + finished(&b, "loaded"), 150);
    assert_eq!(finished(&a, "skipped") + finished(&b, "skipped"), 150);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rerun_with_nothing_new_loads_nothing_across_listing_pages() {
    let env = TestEnv::new("bulk_skip").await;
    let spec = env.spec(PEOPLE_SPEC);
    // More than one listing page (1,000 keys).
    join_all((0..1005).map(|i| {
        let env = &env;
        async move {
            env.put(
                &format!("s/o-{i:04}.csv"),
                format!("{PEOPLE_HEADER}{i},p,1,2024-01-01\n"),
            )
            .await;
        }
    }))
    .await;
    let args = process_args("s", &spec, &[]);
    let first = env.run(&args).await;
    first.assert_code(0);
    assert_eq!(finished(&first, "loaded"), 1005);
    let ledger = "SELECT id, key, etag, finished_at FROM etl_objects ORDER BY id";
    let before = env.rows(ledger).await;
    assert_eq!(before.len(), 1005);

    let rerun = env.run(&args).await;
    rerun.assert_code(0);
    assert_eq!(
        (finished(&rerun, "loaded"), finished(&rerun, "skipped")),
        (0, 1005)
    );
    assert!(rerun.logs("Loaded object.").is_empty());
    assert_eq!(env.rows(ledger).await, before);
    assert_eq!(env.count("SELECT count(*) FROM people").await, 1005);

    // A changed object among them is the only one loaded again.
    env.put(
        "s/o-0500.csv",
        format!("{PEOPLE_HEADER}5000,changed,1,2024-01-01\n"),
    )
    .await;
    let third = env.run(&args).await;
    third.assert_code(0);
    assert_eq!(
        (finished(&third, "loaded"), finished(&third, "skipped")),
        (1, 1004)
    );
    assert_eq!(
        env.count("SELECT count(*) FROM people WHERE id = 500")
            .await,
        0
    );
    assert_eq!(
        env.count("SELECT count(*) FROM people WHERE id = 5000")
            .await,
        1
    );
}
