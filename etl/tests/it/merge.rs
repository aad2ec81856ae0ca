//! Merge mode: keyed rows with updates and CDC deletes give the same table in every load order, one object at a
//! time (CSV, and a composite key from gzip JSON Lines), with `--jobs 8`, and from three queue workers fed
//! duplicated, out-of-order events; a killed merge leaves nothing; a snapshot's rewrite stays on its pages; a table
//! whose key does not fit is refused.

use std::collections::BTreeMap;
use std::fmt::Write;

use etl::ledger::lock_key;

use crate::support::{Run, TestEnv, gzip, repo_root, wait_for_no_etl_backend, worker};

/// A DMS-style CDC dataset: `op` (I/U/D) marks deletes, `updated_at` orders versions of a user.
const USERS_SPEC: &str = r#"
name = "users"
table = "users"
[write]
mode = "merge"
key = ["user_id"]
order_by = "updated_at"
delete_when = { column = "op", equals = "D" }
[[columns]]
name = "op"
type = "text"
[[columns]]
name = "user_id"
type = "bigint"
nullable = false
[[columns]]
name = "name"
type = "text"
[[columns]]
name = "updated_at"
type = "bigint"
nullable = false
"#;

/// One CDC row: (op, user id, name, `updated_at`).
type Change = (&'static str, i64, String, i64);

/// A change's version: (`updated_at`, object's `LastModified` in seconds, object's key, line).
type Version = (i64, i64, String, usize);

/// A deterministic pseudo-random sequence (an LCG) so every run sees the same objects.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// `objects` objects of `rows` changes each over `users` user ids: inserts, updates and deletes with few
/// distinct `updated_at` values, so ties between objects are common and the objects' order must decide them.
fn changes(seed: u64, objects: usize, rows: usize, users: u64) -> Vec<Vec<Change>> {
    let mut rng = Lcg(seed);
    (0..objects)
        .map(|o| {
            (0..rows)
                .map(|r| {
                    let op = ["I", "U", "U", "D"][usize::try_from(rng.below(4)).unwrap()];
                    let id = i64::try_from(rng.below(users)).unwrap() + 1;
                    let at = i64::try_from(rng.below(4)).unwrap();
                    (op, id, format!("name {o}.{r}"), at)
                })
                .collect()
        })
        .collect()
}

fn csv(changes: &[Change]) -> String {
    let mut csv = String::from("op,user_id,name,updated_at\n");
    for (op, id, name, at) in changes {
        let _ = writeln!(csv, "{op},{id},{name},{at}");
    }
    csv
}

/// The expected table, computed without the ETL: per user, the change with the greatest
/// `(updated_at, object's LastModified, object's key, line)` wins; a winning delete leaves no row.
async fn reference(env: &TestEnv, objects: &[(String, Vec<Change>)]) -> Vec<Vec<Option<String>>> {
    let mut winners: BTreeMap<i64, (Version, &Change)> = BTreeMap::new();
    for (key, changes) in objects {
        let head = env
            .s3
            .head_object()
            .bucket(&env.bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        let modified = head.last_modified().unwrap().secs();
        for (line, change) in changes.iter().enumerate() {
            let version = (change.3, modified, key.clone(), line);
            let entry = winners.entry(change.1).or_insert((version.clone(), change));
            if version > entry.0 {
                *entry = (version, change);
            }
        }
    }
    winners
        .into_values()
        .filter(|(_, change)| change.0 != "D")
        .map(|(_, (op, id, name, at))| {
            vec![
                Some((*op).to_owned()),
                Some(id.to_string()),
                Some(name.clone()),
                Some(at.to_string()),
            ]
        })
        .collect()
}

async fn users_table(env: &TestEnv) -> Vec<Vec<Option<String>>> {
    env.rows("SELECT op, user_id::text, name, updated_at::text FROM users ORDER BY users.user_id")
        .await
}

/// Uploads the objects as `<prefix>/<i>/part.csv`: `--prefix <prefix>/<i>` loads one of them.
async fn upload(
    env: &TestEnv,
    prefix: &str,
    objects: &[Vec<Change>],
) -> Vec<(String, Vec<Change>)> {
    let mut uploaded = Vec::new();
    for (i, changes) in objects.iter().enumerate() {
        let key = format!("{prefix}/{i:02}/part.csv");
        env.put(&key, csv(changes)).await;
        uploaded.push((key, changes.clone()));
    }
    uploaded
}

/// `etl process` of the object `upload` (or a test, under the same prefix) put at index `i`.
async fn process_object(env: &TestEnv, spec: &str, i: usize) -> Run {
    env.run(&[
        "process",
        "--prefix",
        &format!("cdc/{i:02}"),
        "--dataset",
        spec,
    ])
    .await
}

/// Every permutation of `0..n`.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut all = Vec::new();
    for rest in permutations(n - 1) {
        for at in 0..=rest.len() {
            let mut p = rest.clone();
            p.insert(at, n - 1);
            all.push(p);
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread")]
async fn every_load_order_gives_the_reference_table() {
    let objects = changes(11, 4, 12, 6);
    for (n, order) in permutations(objects.len()).into_iter().enumerate() {
        let env = TestEnv::new(&format!("merge_order_{n}")).await;
        let spec = env.spec(USERS_SPEC);
        let uploaded = upload(&env, "cdc", &objects).await;
        for i in &order {
            process_object(&env, &spec, *i).await.assert_code(0);
        }
        assert_eq!(
            users_table(&env).await,
            reference(&env, &uploaded).await,
            "load order {order:?}"
        );
        // Rerunning changes nothing: every object is already loaded.
        env.run(&["process", "--prefix", "cdc", "--dataset", &spec])
            .await
            .assert_code(0);
        assert_eq!(users_table(&env).await, reference(&env, &uploaded).await);
    }
}

/// Tenants' items keyed by `(tenant, id)`, ordered by a timestamptz, with a delete marker, from JSON Lines.
const TENANT_SPEC: &str = r#"
name = "items"
table = "ml.items"
[source]
format = "jsonl"
[write]
mode = "merge"
key = ["tenant", "id"]
order_by = "at"
delete_when = { column = "op", equals = "D" }
fillfactor = 70
[[columns]]
name = "tenant"
type = "text"
nullable = false
[[columns]]
name = "id"
type = "integer"
nullable = false
[[columns]]
name = "at"
type = "timestamptz"
nullable = false
[[columns]]
name = "op"
type = "text"
[[columns]]
name = "v"
type = "text"
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_composite_key_from_gzip_json_lines_merges_the_same_in_every_load_order() {
    let objects = [
        // The initial load: the same id under two tenants.
        "{\"tenant\":\"a\",\"id\":1,\"at\":\"2026-01-01T00:00:00Z\",\"op\":\"I\",\"v\":\"a1\"}\n\
         {\"tenant\":\"b\",\"id\":1,\"at\":\"2026-01-01T00:00:00Z\",\"op\":\"I\",\"v\":\"b1\"}\n\
         {\"tenant\":\"a\",\"id\":2,\"at\":\"2026-01-01T00:00:00Z\",\"op\":\"I\",\"v\":\"a2\"}\n",
        // Changes: a's 1 deleted (b's 1 stays), b's 1 updated, two versions of a's 2 at the same time (the later
        // line wins), and a row without its tenant (a reject on line 5).
        "{\"tenant\":\"a\",\"id\":1,\"at\":\"2026-01-03T00:00:00+01:00\",\"op\":\"D\",\"v\":null}\n\
         {\"tenant\":\"b\",\"id\":1,\"at\":\"2026-01-02T00:00:00Z\",\"op\":\"U\",\"v\":\"b1 new\"}\n\
         {\"op\":\"U\",\"v\":\"a2 x\",\"at\":\"2026-01-02T00:00:00Z\",\"id\":2,\"tenant\":\"a\"}\n\
         {\"tenant\":\"a\",\"id\":2,\"at\":\"2026-01-02T00:00:00Z\",\"op\":\"U\",\"v\":\"a2 y\"}\n\
         {\"tenant\":null,\"id\":3,\"at\":\"2026-01-02T00:00:00Z\",\"op\":\"I\",\"v\":\"none\"}\n",
        // A late update of a's 1, older than its delete: the key stays deleted.
        "{\"tenant\":\"a\",\"id\":1,\"at\":\"2026-01-02T12:00:00Z\",\"op\":\"U\",\"v\":\"a1 late\"}\n",
    ];
    let expected: Vec<Vec<Option<String>>> = [("a", "2", "a2 y"), ("b", "1", "b1 new")]
        .iter()
        .map(|(t, id, v)| {
            vec![
                Some((*t).to_owned()),
                Some((*id).to_owned()),
                Some((*v).to_owned()),
            ]
        })
        .collect();
    for (n, order) in permutations(objects.len()).into_iter().enumerate() {
        let env = TestEnv::new(&format!("merge_tenants_{n}")).await;
        let spec = env.spec(TENANT_SPEC);
        for (i, object) in objects.iter().enumerate() {
            env.put(
                &format!("cdc/{i:02}/part.jsonl.gz"),
                gzip(object.as_bytes()),
            )
            .await;
        }
        for i in &order {
            process_object(&env, &spec, *i).await.assert_code(0);
        }
        assert_eq!(
            env.rows("SELECT tenant, id::text, v FROM ml.items ORDER BY tenant, id")
                .await,
            expected,
            "load order {order:?}"
        );
        assert_eq!(
            env.rows("SELECT tenant || ' ' || id || ' ' || at FROM ml.items_etl_deleted")
                .await,
            [[Some("a 1 2026-01-02 23:00:00+00".to_owned())]],
            "load order {order:?}"
        );
        assert_eq!(
            env.rows("SELECT line::text FROM etl_rejects").await,
            [[Some("5".to_owned())]]
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn eight_jobs_give_the_reference_table() {
    let env = TestEnv::new("merge_jobs").await;
    let spec = env.spec(USERS_SPEC);
    let uploaded = upload(&env, "cdc", &changes(12, 24, 40, 30)).await;
    env.run(&[
        "process",
        "--prefix",
        "cdc",
        "--dataset",
        &spec,
        "--jobs",
        "8",
    ])
    .await
    .assert_code(0);
    assert_eq!(users_table(&env).await, reference(&env, &uploaded).await);
    assert_eq!(
        env.count("SELECT count(*) FROM etl_objects WHERE finished_at IS NOT NULL")
            .await,
        24
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn three_queue_workers_with_duplicated_out_of_order_events_give_the_reference_table() {
    let env = TestEnv::new("merge_queue").await;
    let queues = env.queues(30, 5).await;
    let spec = env.spec(USERS_SPEC);
    let uploaded = upload(&env, "in", &changes(13, 16, 30, 20)).await;
    // Every object's event again, newest first, on top of the notifications S3 sent in upload order.
    for (key, _) in uploaded.iter().rev() {
        queues
            .send(
                &serde_json::json!({"Records": [{
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": env.bucket}, "object": {"key": key, "size": 1}},
                }]})
                .to_string(),
            )
            .await;
    }
    let args = worker(&queues, &spec);
    let workers: Vec<_> = (0..3)
        .map(|_| env.command(&args).spawn().unwrap())
        .collect();
    for child in workers {
        Run::from(child.wait_with_output().await.unwrap()).assert_code(0);
    }
    assert_eq!(users_table(&env).await, reference(&env, &uploaded).await);
    assert_eq!(queues.depth(&queues.url).await, 0);
    assert!(queues.dead_letters().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_older_insert_after_a_delete_does_not_bring_the_key_back() {
    let env = TestEnv::new("merge_tombstone").await;
    let spec = env.spec(USERS_SPEC);
    let insert = vec![
        ("I", 1, "first".to_owned(), 1),
        ("I", 2, "kept".to_owned(), 1),
    ];
    let delete = vec![("D", 1, "first".to_owned(), 5)];
    let late = vec![("U", 1, "stale update".to_owned(), 3)];
    let newer = vec![("U", 2, "newer".to_owned(), 0)];
    let uploaded = upload(&env, "cdc", &[insert, delete, late, newer]).await;
    for i in [1, 0, 2, 3] {
        process_object(&env, &spec, i).await.assert_code(0);
    }
    // User 2's update has a smaller updated_at than the insert it follows: order_by decides, not arrival.
    assert_eq!(
        users_table(&env).await,
        vec![vec![
            Some("I".to_owned()),
            Some("2".to_owned()),
            Some("kept".to_owned()),
            Some("1".to_owned())
        ]]
    );
    assert_eq!(users_table(&env).await, reference(&env, &uploaded).await);
    assert_eq!(
        env.rows("SELECT user_id::text, updated_at::text FROM users_etl_deleted")
            .await,
        vec![vec![Some("1".to_owned()), Some("5".to_owned())]]
    );
}

/// A snapshot whose rows equal the newest load's rewrites nothing: that load's rows and tombstones get the
/// snapshot's version, so objects older than the snapshot that load afterwards still lose to it (an update and an
/// insert of a deleted key, with the same `updated_at`), also through a second equal snapshot.
#[tokio::test(flavor = "multi_thread")]
async fn an_unchanged_snapshot_rewrites_nothing_and_older_objects_loaded_later_still_lose_to_it() {
    let env = TestEnv::new("merge_unchanged").await;
    let spec = env.spec(USERS_SPEC);
    let snapshot = vec![
        ("I", 1, "one".to_owned(), 5),
        ("I", 2, "two".to_owned(), 5),
        ("D", 3, "three".to_owned(), 5),
    ];
    let between = vec![
        ("U", 1, "between".to_owned(), 5),
        ("I", 3, "back".to_owned(), 5),
        ("I", 4, "new".to_owned(), 5),
    ];
    let later = vec![("U", 2, "later".to_owned(), 5)];
    // Versions in upload order: snapshot < between < snapshot < later < snapshot.
    let uploaded = upload(
        &env,
        "cdc",
        &[snapshot.clone(), between, snapshot.clone(), later, snapshot],
    )
    .await;
    process_object(&env, &spec, 0).await.assert_code(0);
    for i in [2, 4] {
        let run = process_object(&env, &spec, i).await;
        run.assert_code(0);
        assert_eq!(
            run.logs("The object's rows equal the newest load's: they now carry this object's version, nothing was rewritten.")
                .len(),
            1,
            "{}",
            run.stdout
        );
    }
    process_object(&env, &spec, 1).await.assert_code(0);
    process_object(&env, &spec, 3).await.assert_code(0);
    assert_eq!(users_table(&env).await, reference(&env, &uploaded).await);
    // The snapshots' loads point at the first one's, whose rows the table still holds, and count their rows.
    assert_eq!(
        env.rows(
            "SELECT o.key, o.rows_loaded::text, f.key FROM etl_objects o JOIN etl_objects f ON f.id = o.rows_in \
             ORDER BY o.key"
        )
        .await,
        ["cdc/02/part.csv", "cdc/04/part.csv"]
            .map(|k| vec![
                Some(k.to_owned()),
                Some("3".to_owned()),
                Some("cdc/00/part.csv".to_owned())
            ])
            .to_vec()
    );
    assert_eq!(
        env.rows("SELECT u.user_id::text, o.key FROM users u JOIN etl_objects o ON o.id = u.etl_object_id ORDER BY 1")
            .await,
        [("1", "cdc/00"), ("2", "cdc/00"), ("4", "cdc/01")]
            .map(|(id, k)| vec![Some(id.to_owned()), Some(format!("{k}/part.csv"))])
            .to_vec()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_merge_leaves_nothing_and_the_rerun_is_exact() {
    let env = TestEnv::new("merge_killed").await;
    let spec = env.spec(USERS_SPEC);
    let uploaded = upload(&env, "cdc", &changes(14, 1, 200, 50)).await;
    env.run(&["migrate", "--dataset", &spec])
        .await
        .assert_code(0);
    // Hold the table's merge lock on another connection (pg_stat_activity is read once per transaction): the
    // load stages its rows, then waits for the lock inside its transaction.
    let (holder, connection) = tokio_postgres::connect(&env.database_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let lock = lock_key("etl-merge", "", "\"users\"");
    holder.batch_execute("BEGIN").await.unwrap();
    holder
        .execute("SELECT pg_advisory_xact_lock($1)", &[&lock])
        .await
        .unwrap();
    let mut child = env
        .command(&["process", "--prefix", "cdc", "--dataset", &spec])
        .spawn()
        .unwrap();
    let waiting = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'etl' AND datname = 't_{}' \
         AND wait_event = 'advisory'",
        env.name
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while env.count(&waiting).await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "etl never waited for the merge lock"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    child.kill().await.unwrap();
    holder.batch_execute("COMMIT").await.unwrap();
    wait_for_no_etl_backend(&env).await;
    assert_eq!(env.count("SELECT count(*) FROM users").await, 0);
    assert_eq!(env.count("SELECT count(*) FROM etl_objects").await, 0);

    env.run(&["process", "--prefix", "cdc", "--dataset", &spec])
        .await
        .assert_code(0);
    assert_eq!(users_table(&env).await, reference(&env, &uploaded).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_and_its_correction_merge_and_a_reupload_keeps_unlisted_keys() {
    let env = TestEnv::new("merge_snapshot").await;
    let spec = env.spec(
        r#"
name = "products"
table = "products"
[write]
mode = "merge"
key = ["sku"]
[[columns]]
name = "sku"
type = "text"
nullable = false
[[columns]]
name = "price"
type = "numeric(8,2)"
"#,
    );
    env.put(
        "snap/day1.csv",
        "sku,price\na,1.00\nb,2.00\nb,2.50\n,9.99\n",
    )
    .await;
    let first = env
        .run(&["process", "--prefix", "snap", "--dataset", &spec])
        .await;
    first.assert_code(0);
    // The later row of a key in one object wins; a NULL key is a reject with its line.
    let table = "SELECT sku, price::text FROM products ORDER BY sku";
    let rows = |pairs: &[(&str, &str)]| -> Vec<Vec<Option<String>>> {
        pairs
            .iter()
            .map(|(a, b)| vec![Some((*a).to_owned()), Some((*b).to_owned())])
            .collect()
    };
    assert_eq!(env.rows(table).await, rows(&[("a", "1.00"), ("b", "2.50")]));
    assert_eq!(
        env.rows("SELECT line::text FROM etl_rejects").await,
        vec![vec![Some("5".to_owned())]]
    );
    // The same snapshot again under a new key changes nothing; a re-upload of day1 without `a` keeps `a`.
    env.put("snap/day2.csv", "sku,price\na,1.00\nb,2.50\n")
        .await;
    // S3's LastModified has whole seconds: the re-upload must be a later second to be the newer object.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    env.put("snap/day1.csv", "sku,price\nb,3.00\nc,4.00\n")
        .await;
    let second = env
        .run(&["process", "--prefix", "snap", "--dataset", &spec])
        .await;
    second.assert_code(0);
    assert_eq!(
        env.rows(table).await,
        rows(&[("a", "1.00"), ("b", "3.00"), ("c", "4.00")])
    );
    let merged = second.logs("Merged the object's rows.");
    assert_eq!(merged.len(), 2, "{merged:?}");
}

/// A merged table keyed by `sku`, with the fillfactor line `fill` (empty: the default).
fn products_spec(fill: &str) -> String {
    format!(
        "name = \"products\"\ntable = \"products\"\n[write]\nmode = \"merge\"\nkey = [\"sku\"]\n{fill}\n\
         [[columns]]\nname = \"sku\"\ntype = \"bigint\"\nnullable = false\n\
         [[columns]]\nname = \"label\"\ntype = \"text\"\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_rewrites_its_keys_in_place_and_the_fillfactor_follows_the_spec() {
    let env = TestEnv::new("merge_fill").await;
    let spec = env.spec(&products_spec(""));
    let snapshot = |day: u32| -> String {
        let mut csv = "sku,label\n".to_owned();
        for sku in 0..3000 {
            let _ = writeln!(csv, "{sku},day {day} label {sku:05}");
        }
        csv
    };
    env.put("day1/products.csv", snapshot(1)).await;
    env.run(&["process", "--prefix", "day1", "--dataset", &spec])
        .await
        .assert_code(0);
    let index = "SELECT pg_relation_size('products_pkey')";
    let before = env.count(index).await;
    assert_eq!(env.count("SELECT count(*) FROM products").await, 3000);
    // Every key's new version fits on its own page (half of each was left free): no index entry is added.
    env.put("day2/products.csv", snapshot(2)).await;
    env.run(&["process", "--prefix", "day2", "--dataset", &spec])
        .await
        .assert_code(0);
    assert_eq!(
        env.count("SELECT count(*) FROM products WHERE label LIKE 'day 2 %'")
            .await,
        3000
    );
    assert_eq!(env.count(index).await, before);
    let options =
        "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'products'";
    assert_eq!(
        env.rows(options).await,
        [[Some("fillfactor=50".to_owned())]]
    );

    // A spec that says otherwise changes the table once, logged; the next migration has nothing to do.
    let fuller = env.spec_named("fuller", &products_spec("fillfactor = 90"));
    let run = env.run(&["migrate", "--dataset", &fuller]).await;
    run.assert_code(0);
    let set = run.logs("Set the table's fillfactor.");
    assert_eq!(set.len(), 1, "{}", run.stdout);
    assert_eq!(
        (&set[0]["from"], &set[0]["to"]),
        (&"50".into(), &"90".into())
    );
    assert_eq!(
        env.rows(options).await,
        [[Some("fillfactor=90".to_owned())]]
    );
    let again = env.run(&["migrate", "--dataset", &fuller]).await;
    again.assert_code(0);
    assert!(again.logs("Set the table's fillfactor.").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_whose_key_does_not_fit_is_refused_and_left_as_it_was() {
    let env = TestEnv::new("merge_refused").await;
    let spec = env.spec(USERS_SPEC);
    env.db
        .batch_execute(
            "CREATE TABLE users (op text, user_id bigint NOT NULL, name text, updated_at bigint NOT NULL, \
             etl_object_id bigint NOT NULL); INSERT INTO users VALUES ('I', 1, 'a', 1, 0), ('I', 1, 'b', 2, 0)",
        )
        .await
        .unwrap();
    let run = env.run(&["migrate", "--dataset", &spec]).await;
    run.assert_code(2);
    let error = run.error();
    assert!(
        error.contains("cannot make (user_id) its primary key")
            && error.contains("remove the duplicate or NULL keys"),
        "{error}"
    );
    assert_eq!(env.count("SELECT count(*) FROM users").await, 2);

    env.db
        .batch_execute(
            "DELETE FROM users WHERE name = 'b'; ALTER TABLE users ADD PRIMARY KEY (user_id, op)",
        )
        .await
        .unwrap();
    let run = env.run(&["migrate", "--dataset", &spec]).await;
    run.assert_code(2);
    assert!(
        run.error()
            .contains("its primary key is (user_id, op) but write.key is (user_id)"),
        "{}",
        run.error()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_keyed_sample_loads_its_snapshot_then_its_correction() {
    let env = TestEnv::new("merge_sample").await;
    for file in ["snapshot", "correction"] {
        env.run(&[
            "ingest",
            &format!("data/users/{file}.csv"),
            "--prefix",
            "raw/users",
        ])
        .await
        .assert_code(0);
        env.run(&[
            "process",
            "--prefix",
            "raw/users",
            "--dataset",
            "data/users.toml",
        ])
        .await
        .assert_code(0);
    }
    let sql =
        "COPY (SELECT op, user_id, email, plan, changed_at FROM users ORDER BY user_id) TO STDOUT";
    let stream = env.db.copy_out(sql).await.unwrap();
    let chunks: Vec<bytes::Bytes> = futures_util::TryStreamExt::try_collect(stream)
        .await
        .unwrap();
    let expected = std::fs::read_to_string(repo_root().join("data/users.expected.tsv")).unwrap();
    assert_eq!(String::from_utf8(chunks.concat()).unwrap(), expected);
    assert_eq!(env.count("SELECT count(*) FROM etl_rejects").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_rejected_merges_the_fixed_rows_over_the_objects_own_version() {
    let env = TestEnv::new("merge_retry").await;
    let spec = |rules: &str| {
        format!(
            "name = \"prices\"\ntable = \"prices\"\n[write]\nmode = \"merge\"\nkey = [\"sku\"]\n\
             [[columns]]\nname = \"sku\"\ntype = \"text\"\nnullable = false\n\
             [[columns]]\nname = \"price\"\ntype = \"numeric(8,2)\"\n{rules}"
        )
    };
    let broken = env.spec_named("broken", &spec(""));
    env.put("p/a.csv", "sku,price\na,$1.00\nb,2.00\n").await;
    env.run(&["process", "--prefix", "p", "--dataset", &broken])
        .await
        .assert_code(0);
    assert_eq!(env.count("SELECT count(*) FROM etl_rejects").await, 1);
    let fixed = env.spec_named(
        "fixed",
        &spec("rules = [{ pattern = \"^\\\\$\", replace = \"\" }]\n"),
    );
    env.run_with(
        &["process", "--prefix", "p", "--dataset", &fixed],
        &[("ETL_RETRY_REJECTED", "true")],
    )
    .await
    .assert_code(0);
    assert_eq!(
        env.rows("SELECT sku, price::text FROM prices ORDER BY sku")
            .await,
        vec![
            vec![Some("a".to_owned()), Some("1.00".to_owned())],
            vec![Some("b".to_owned()), Some("2.00".to_owned())]
        ]
    );
    assert_eq!(env.count("SELECT count(*) FROM etl_rejects").await, 0);
    assert_eq!(
        env.count("SELECT count(*) FROM etl_objects WHERE superseded_at IS NULL")
            .await,
        1
    );
}
