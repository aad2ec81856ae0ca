//! The event path: moto's S3 notifications on a real SQS queue, `etl process --queue` workers, the dead-letter
//! queue, and the signals that stop a worker.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{
    PEOPLE_SPEC, Run, TestEnv, assert_loaded_once, people, servers, upload_people, wait_for_claims,
    wait_for_copy, wait_for_no_etl_backend, worker,
};

/// An S3 event notification for `key` (already encoded as S3 encodes keys in events).
fn s3_event(bucket: &str, key: &str) -> String {
    json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventTime": "2026-01-01T00:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1, "eTag": "0"}},
    }]})
    .to_string()
}

/// The whole `people` table, ordered by id, as text.
async fn people_table(env: &TestEnv) -> Vec<Vec<Option<String>>> {
    env.rows("SELECT id::text, name, score::text, joined::text FROM people ORDER BY people.id")
        .await
}

/// Sum of one EMF metric over the runs.
fn emf_sum(runs: &[&Run], metric: &str) -> usize {
    runs.iter()
        .flat_map(|r| r.emf())
        .filter_map(|r| r.get(metric).and_then(Value::as_u64))
        .map(|n| usize::try_from(n).unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn three_workers_and_a_sweep_load_every_object_exactly_once() {
    let env = TestEnv::new("queue_once").await;
    let queues = env.queues(30, 3).await;
    let spec = env.spec(PEOPLE_SPEC);
    let mut expected = Vec::new();
    for i in 0..24 {
        let (csv, rows) = people(i * 10 + 1, 10);
        // One key needs decoding: S3 writes it as `in/odd+name%2B%C3%A9.csv` in the event.
        let key = if i == 0 {
            "in/odd name+é.csv".to_owned()
        } else {
            format!("in/part-{i:02}.csv")
        };
        env.put(&key, csv).await;
        expected.extend(rows);
    }
    env.put("elsewhere/x.csv", people(1000, 1).0).await;

    let args = worker(&queues, &spec);
    let workers: Vec<_> = (0..3)
        .map(|_| env.command(&args).spawn().unwrap())
        .collect();
    let sweep_args = ["process", "--prefix", "in", "--dataset", &spec];
    let sweep = env.run(&sweep_args);
    let outputs = futures_util::future::join_all(
        workers
            .into_iter()
            .map(tokio::process::Child::wait_with_output),
    );
    let (sweep, outputs) = tokio::join!(sweep, outputs);
    let runs: Vec<Run> = outputs.into_iter().map(|o| Run::from(o.unwrap())).collect();
    sweep.assert_code(0);
    for run in &runs {
        run.assert_code(0);
    }

    assert_eq!(people_table(&env).await, expected);
    assert_eq!(
        env.count("SELECT count(*) FROM etl_objects").await,
        24,
        "one ledger row per key: nothing was loaded twice"
    );
    assert_eq!(
        env.count("SELECT count(DISTINCT key) FROM etl_objects WHERE superseded_at IS NULL")
            .await,
        24
    );
    assert_eq!(queues.depth(&queues.url).await, 0);
    assert!(queues.dead_letters().await.is_empty());
    let all: Vec<&Run> = runs.iter().chain([&sweep]).collect();
    assert_eq!(
        all.iter()
            .map(|r| r.logs("Loaded object.").len())
            .sum::<usize>(),
        24
    );
    let workers: Vec<&Run> = runs.iter().collect();
    // 24 objects, the key outside the prefix and the test event; SQS delivers at least once, so a
    // message released by one worker (its key busy in another's transaction) may be received again.
    assert!(emf_sum(&workers, "MessagesReceived") >= 26);
    assert_eq!(
        emf_sum(&workers, "EventObjectsLoaded"),
        runs.iter()
            .map(|r| r.logs("Loaded object.").len())
            .sum::<usize>()
    );
    let logged = |message: &str| runs.iter().map(|r| r.logs(message).len()).sum::<usize>();
    assert_eq!(logged("Dropped the S3 test event."), 1);
    assert_eq!(logged("Ignored a key outside the prefix."), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_workers_messages_come_back_and_the_table_is_exact() {
    let env = TestEnv::new("queue_kill").await;
    let queues = env.queues(2, 10).await;
    let spec = env.spec(PEOPLE_SPEC);
    let (total, id_sum) = upload_people(&env, "in", 3, 100_000).await;
    let args = worker(&queues, &spec);

    let mut child = env.command(&args).spawn().unwrap();
    wait_for_copy(&env).await;
    child.kill().await.unwrap();
    wait_for_no_etl_backend(&env).await;
    let committed = env.count("SELECT count(*) FROM etl_objects").await;
    assert!(committed < 3, "the kill came during a load");
    assert_eq!(
        env.count("SELECT count(*) FROM people").await,
        committed * 100_000,
        "only whole objects are visible"
    );

    let run = env.run_with(&args, &[("ETL_LOG", "info,etl=debug")]).await;
    run.assert_code(0);
    assert_loaded_once(&env, total, id_sum).await;
    assert_eq!(env.count("SELECT count(*) FROM etl_objects").await, 3);
    let redelivered = run
        .logs("Received message.")
        .iter()
        .filter(|l| l["receive_count"].as_str().unwrap().parse::<u32>().unwrap() >= 2)
        .count();
    assert!(
        redelivered >= 1,
        "the killed worker's messages came back after the visibility timeout:\n{}",
        run.stdout
    );
    assert_eq!(queues.depth(&queues.url).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_in_the_middle_of_a_group_commits_nothing_and_its_messages_come_back() {
    let env = TestEnv::new("queue_kill_group").await;
    let queues = env.queues(2, 10).await;
    let spec = env.spec(PEOPLE_SPEC);
    let (total, id_sum) = upload_people(&env, "in", 20, 2000).await;
    // One worker: while it loads, the messages that arrive wait and form the next group.
    let grouped = [
        "--jobs",
        "1",
        "--group-objects",
        "20",
        "--group-bytes",
        "1000000000",
    ];
    let args: Vec<&str> = worker(&queues, &spec).into_iter().chain(grouped).collect();

    let mut child = env.command(&args).spawn().unwrap();
    // Several objects of one transaction are claimed and loading, none committed.
    wait_for_claims(&env, 4).await;
    child.kill().await.unwrap();
    wait_for_no_etl_backend(&env).await;
    let committed = env.count("SELECT count(*) FROM etl_objects").await;
    assert!(committed < 20, "the kill came during a group");
    assert_eq!(
        env.count("SELECT count(*) FROM people").await,
        committed * 2000,
        "only whole objects of committed groups are visible"
    );

    let run = env.run_with(&args, &[("ETL_LOG", "info,etl=debug")]).await;
    run.assert_code(0);
    assert_loaded_once(&env, total, id_sum).await;
    assert_eq!(env.count("SELECT count(*) FROM etl_objects").await, 20);
    let redelivered = run
        .logs("Received message.")
        .iter()
        .filter(|l| l["receive_count"].as_str().unwrap().parse::<u32>().unwrap() >= 2)
        .count();
    assert!(redelivered >= 1, "the killed group's messages came back");
    assert_eq!(queues.depth(&queues.url).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poison_object_goes_to_the_dead_letter_queue_and_the_others_load() {
    let env = TestEnv::new("queue_poison").await;
    let queues = env.queues(1, 2).await;
    let spec = env.spec(PEOPLE_SPEC);
    let mut expected = Vec::new();
    for i in 0..3 {
        let (csv, rows) = people(i * 10 + 1, 10);
        env.put(&format!("in/good-{i}.csv"), csv).await;
        expected.extend(rows);
    }
    env.put("in/bad.csv", "id,name\n1,x\n").await;

    let run = env.run(&worker(&queues, &spec)).await;
    run.assert_code(0);
    assert_eq!(people_table(&env).await, expected);
    assert_eq!(env.count("SELECT count(*) FROM etl_objects").await, 3);
    let letters = queues.dead_letters().await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    let body: Value = serde_json::from_str(&letters[0].1).unwrap();
    assert_eq!(body["Records"][0]["s3"]["object"]["key"], "in%2Fbad.csv");
    // One error line per attempt (the redrive count), each naming the key and the reason.
    let failures = run.logs("Object failed, nothing of it was loaded.");
    assert_eq!(failures.len(), 2, "{}", run.stdout);
    for failure in &failures {
        assert_eq!(failure["key"], "in/bad.csv");
        assert_eq!(failure["bucket"], env.bucket.as_str());
        assert!(
            failure["error"].as_str().unwrap().contains("header"),
            "{failure}"
        );
        assert!(failure["message_id"].is_string());
    }
    assert_eq!(queues.depth(&queues.url).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_that_are_not_s3_events_of_the_bucket_go_to_the_dead_letter_queue() {
    let env = TestEnv::new("queue_garbage").await;
    let queues = env.queues(1, 1).await;
    let spec = env.spec(PEOPLE_SPEC);
    let (csv, expected) = people(1, 5);
    env.put("in/good.csv", csv).await;
    let not_json = queues.send("hello").await;
    let other_shape = queues.send(r#"{"Message": "an SNS envelope?"}"#).await;
    let other_bucket = queues
        .send(&s3_event("someone-elses", "in%2Fgood.csv"))
        .await;

    let run = env.run(&worker(&queues, &spec)).await;
    run.assert_code(0);
    assert_eq!(people_table(&env).await, expected);
    let mut letters: Vec<String> = queues
        .dead_letters()
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    letters.sort();
    let mut sent = vec![not_json.clone(), other_shape.clone(), other_bucket.clone()];
    sent.sort();
    assert_eq!(letters, sent);
    let errors = run.logs("Message left for the dead-letter queue.");
    assert_eq!(errors.len(), 3, "one error line each:\n{}", run.stdout);
    let error_of = |id: &str| {
        errors
            .iter()
            .map(|e| e["error"].as_str().unwrap())
            .find(|e| e.contains(id))
            .unwrap_or_else(|| panic!("no error line names message {id}"))
            .to_owned()
    };
    assert!(error_of(&not_json).contains("is not an S3 event notification: not JSON"));
    assert!(error_of(&other_shape).contains("no Records array"));
    assert!(error_of(&other_bucket).contains(&format!(
        "Records[0] is for bucket someone-elses, not {}",
        env.bucket
    )));
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_stale_and_out_of_order_events_change_nothing() {
    let env = TestEnv::new("queue_dupes").await;
    let queues = env.queues(5, 3).await;
    let spec = env.spec(PEOPLE_SPEC);
    // Two versions of one key: both events are queued, and both resolve to the current (second) version.
    env.put("in/k.csv", people(1, 5).0).await;
    let (current, mut expected) = people(100, 5);
    env.put("in/k.csv", current).await;
    let (csv, rows) = people(200, 3);
    env.put("in/d.csv", csv).await;
    expected.extend(rows);
    // A duplicate delivery of d's event.
    queues.send(&s3_event(&env.bucket, "in%2Fd.csv")).await;

    let run = env.run(&worker(&queues, &spec)).await;
    run.assert_code(0);
    assert_eq!(people_table(&env).await, expected);
    assert_eq!(run.logs("Loaded object.").len(), 2);
    assert_eq!(run.logs("Loaded object.").len(), 2, "{}", run.stdout);
    let ledger = "SELECT key, etag, superseded_at IS NULL FROM etl_objects ORDER BY key";
    let before = env.rows(ledger).await;
    assert_eq!(before.len(), 2, "the first version was never loaded");

    // Later: the old version's event arrives again, out of order, and d's once more. Nothing changes.
    queues.send(&s3_event(&env.bucket, "in%2Fk.csv")).await;
    queues.send(&s3_event(&env.bucket, "in/d.csv")).await;
    let run = env.run(&worker(&queues, &spec)).await;
    run.assert_code(0);
    assert_eq!(run.logs("Loaded object.").len(), 0);
    assert_eq!(run.logs("Skipped object.").len(), 2);
    assert_eq!(people_table(&env).await, expected);
    assert_eq!(env.rows(ledger).await, before);
    assert_eq!(queues.depth(&queues.url).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_load_exits_0_and_leaves_whole_objects_only() {
    let env = TestEnv::new("queue_term").await;
    let queues = env.queues(30, 5).await;
    let spec = env.spec(PEOPLE_SPEC);
    let (total, id_sum) = upload_people(&env, "in", 3, 100_000).await;
    let mut args = worker(&queues, &spec).to_vec();
    args.pop(); // a service: no --exit-when-idle

    let child = env.command(&args).spawn().unwrap();
    wait_for_copy(&env).await;
    signal(child.id().unwrap(), "TERM");
    let run = Run::from(child.wait_with_output().await.unwrap());
    run.assert_code(0);
    assert_eq!(run.logs("Queue consumer stopped.").len(), 1);
    let loaded = env.count("SELECT count(*) FROM etl_objects").await;
    assert!(loaded >= 1, "the load in flight was allowed to commit");
    assert_eq!(
        env.count("SELECT count(*) FROM people").await,
        loaded * 100_000,
        "only whole objects are visible"
    );
    // Loaded objects' messages are deleted; the others are visible again at once (not after the 30 s timeout).
    assert_eq!(
        queues.depth(&queues.url).await,
        3 - u64::try_from(loaded).unwrap()
    );

    let run = env.run(&worker(&queues, &spec)).await;
    run.assert_code(0);
    assert_loaded_once(&env, total, id_sum).await;
    assert_eq!(env.count("SELECT count(*) FROM etl_objects").await, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_stops_a_listing_run_between_objects_with_exit_0() {
    let env = TestEnv::new("list_int").await;
    let spec = env.spec(PEOPLE_SPEC);
    let (total, id_sum) = upload_people(&env, "in", 3, 100_000).await;
    // One load at a time and no grouping, so the signal lands between objects.
    let args = [
        "process",
        "--prefix",
        "in",
        "--dataset",
        spec.as_str(),
        "--jobs",
        "1",
        "--group-objects",
        "1",
    ];

    let child = env.command(&args).spawn().unwrap();
    wait_for_copy(&env).await;
    signal(child.id().unwrap(), "INT");
    let run = Run::from(child.wait_with_output().await.unwrap());
    run.assert_code(0);
    let loaded = env.count("SELECT count(*) FROM etl_objects").await;
    assert!(
        (1..3).contains(&loaded),
        "stopped after the load in flight: {loaded} loaded"
    );
    assert_eq!(
        env.count("SELECT count(*) FROM people").await,
        loaded * 100_000
    );
    env.run(&args).await.assert_code(0);
    assert_loaded_once(&env, total, id_sum).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_queue_is_a_usage_error() {
    let env = TestEnv::new("queue_missing").await;
    let spec = env.spec(PEOPLE_SPEC);
    let url = format!("{}/123456789012/no-such-queue", servers().moto_url);
    let run = env
        .run(&["process", "--queue", &url, "--dataset", &spec])
        .await;
    run.assert_code(2);
    assert_eq!(run.error(), format!("queue {url} does not exist"));
}

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
    // Let the signal land before anything else is checked.
    std::thread::sleep(Duration::from_millis(50));
}
