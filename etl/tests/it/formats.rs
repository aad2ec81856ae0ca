//! Data as it arrives on AWS: which objects under a prefix are data, and values in their producers' formats.

use crate::support::{TestEnv, gzip, worker};

/// Events as Firehose and event SDKs write them: epoch milliseconds, `dd/mm/yyyy`, yes/no, padded text, JSON.
const EVENTS_SPEC: &str = r#"
name = "events"
table = "events"
[[columns]]
name = "id"
type = "bigint"
nullable = false
[[columns]]
name = "at"
type = "timestamptz"
format = "epoch_millis"
[[columns]]
name = "day"
type = "date"
format = "%d/%m/%Y"
[[columns]]
name = "ok"
type = "boolean"
true_values = ["yes"]
false_values = ["no"]
[[columns]]
name = "label"
type = "varchar(8)"
trim = true
[[columns]]
name = "attrs"
type = "jsonb"
"#;

#[tokio::test(flavor = "multi_thread")]
async fn values_in_producers_formats_load_as_declared_and_misfits_are_rejected_naming_the_format() {
    let env = TestEnv::new("value_formats").await;
    let spec = env.spec(EVENTS_SPEC);
    let csv = "id,at,day,ok,label,attrs\n\
               1,1700000000123,02/12/2026,yes,  padded  ,\"{\"\"k\"\": [1, 2]}\"\n\
               2,0,29/02/2024,no,x,\n\
               3,1700000000123,2026-12-02,yes,x,\n\
               4,1700000000123,01/01/2026,maybe,x,\n\
               5,17e11,01/01/2026,yes,x,\n\
               6,1,01/01/2026,t,x,\"{\"\"k\"\":\"\n";
    env.put("in/events.csv", csv).await;
    env.run(&["process", "--prefix", "in", "--dataset", &spec])
        .await
        .assert_code(0);
    let rows = env
        .rows("SELECT id::text, at::text, day::text, ok::text, label, attrs::text FROM events ORDER BY id")
        .await;
    let row = |cells: [Option<&str>; 6]| cells.map(|c| c.map(str::to_owned)).to_vec();
    assert_eq!(
        rows,
        vec![
            row([
                Some("1"),
                Some("2023-11-14 22:13:20.123+00"),
                Some("2026-12-02"),
                Some("true"),
                Some("padded"),
                Some("{\"k\": [1, 2]}"),
            ]),
            row([
                Some("2"),
                Some("1970-01-01 00:00:00+00"),
                Some("2024-02-29"),
                Some("false"),
                Some("x"),
                None,
            ]),
        ]
    );
    let rejects = env
        .rows("SELECT line::text, reason FROM etl_rejects ORDER BY line")
        .await;
    let reject = |line: &str, reason: &str| vec![Some(line.to_owned()), Some(reason.to_owned())];
    assert_eq!(
        rejects,
        vec![
            reject(
                "4",
                "column day: value \"2026-12-02\" does not match format \"%d/%m/%Y\""
            ),
            reject(
                "5",
                "column ok: value \"maybe\" is not a boolean (true_values [\"yes\"], false_values [\"no\"], or \
                 PostgreSQL's words)"
            ),
            reject(
                "6",
                "column at: value \"17e11\" does not match format \"epoch_millis\""
            ),
            reject("7", "column attrs: value \"{\\\"k\\\":\" is not JSON"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn markers_and_hidden_files_are_skipped_not_failed_in_both_modes() {
    let env = TestEnv::new("markers").await;
    let spec = env.spec(
        "name = \"t\"\ntable = \"t\"\n[source]\nexclude = [\"**/*.md\"]\n[[columns]]\nname = \"id\"\ntype = \"integer\"\n",
    );
    for (key, body) in [
        ("in/part-0.csv", "id\n1\n2\n"),
        ("in/day=2/part-1.csv", "id\n3\n"),
        ("in/_SUCCESS", ""),
        ("in/.keep", "x"),
        ("in/_temporary/0/part-9.csv", "not,a,valid,file\n"),
        ("in/README.md", "# notes\n"),
    ] {
        env.put(key, body).await;
    }
    let run = env
        .run(&["process", "--prefix", "in", "--dataset", &spec])
        .await;
    run.assert_code(0);
    assert_eq!(env.count("SELECT sum(id) FROM t").await, 6);
    let skipped: Vec<String> = run
        .logs("Skipped object.")
        .iter()
        .map(|l| {
            format!(
                "{} {}",
                l["key"].as_str().unwrap(),
                l["reason"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        skipped,
        [
            "in/.keep not data: a name below the prefix starts with _ or .",
            "in/README.md not data: matches a source.exclude glob",
            "in/_SUCCESS not data: a name below the prefix starts with _ or .",
            "in/_temporary/0/part-9.csv not data: a name below the prefix starts with _ or .",
        ]
    );
    let finished = &run.logs("Process finished.")[0];
    assert_eq!(
        (finished["loaded"].as_u64(), finished["skipped"].as_u64()),
        (Some(2), Some(4))
    );

    // The event path: the markers' events are deleted as skipped, the new data file loads.
    let queues = env.queues(5, 2).await;
    env.put("in/part-2.csv", "id\n10\n").await;
    env.put("in/_SUCCESS", "").await;
    let run = env.run(&worker(&queues, &spec)).await;
    run.assert_code(0);
    assert_eq!(env.count("SELECT sum(id) FROM t").await, 16);
    let reasons: Vec<String> = run
        .logs("Skipped object.")
        .iter()
        .filter(|l| l["key"] == "in/_SUCCESS")
        .map(|l| l["reason"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        reasons,
        ["not data: a name below the prefix starts with _ or ."]
    );
    assert_eq!(queues.depth(&queues.url).await, 0);
    assert!(queues.dead_letters().await.is_empty());
}

/// The columns of the equivalence fixtures (`etl/tests/fixtures/formats/gen.py`), with the source table added.
fn fixture_spec(table: &str, source: &str) -> String {
    format!(
        "name = \"{table}\"\ntable = \"{table}\"\n[source]\n{source}\n\
         [[columns]]\nname = \"id\"\ntype = \"bigint\"\nnullable = false\n\
         [[columns]]\nname = \"name\"\ntype = \"text\"\n\
         [[columns]]\nname = \"score\"\ntype = \"numeric(8,2)\"\n\
         [[columns]]\nname = \"active\"\ntype = \"boolean\"\n\
         [[columns]]\nname = \"day\"\ntype = \"date\"\n\
         [[columns]]\nname = \"at\"\ntype = \"timestamptz\"\n\
         [[columns]]\nname = \"attrs\"\ntype = \"jsonb\"\n"
    )
}

/// The table every fixture must load into, as computed by the generator from its own values.
fn expected_table() -> Vec<Vec<Option<String>>> {
    let path = crate::support::repo_root().join("etl/tests/fixtures/formats/expected.tsv");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            line.split('\t')
                .map(|cell| {
                    (cell != "\\N").then(|| {
                        cell.replace("\\n", "\n")
                            .replace("\\t", "\t")
                            .replace("\\\\", "\\")
                    })
                })
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_format_and_compression_loads_the_same_table() {
    let env = TestEnv::new("equivalence").await;
    let fixtures = crate::support::repo_root().join("etl/tests/fixtures/formats");
    let expected = expected_table();
    assert_eq!(expected.len(), 300);
    for (table, file, source) in [
        ("csv", "events.csv", "format = \"csv\""),
        ("csv_gz", "events.csv.gz", "format = \"csv\""),
        (
            "csv_zst",
            "events.csv.zst",
            "format = \"csv\"\ncompression = \"zstd\"",
        ),
        ("jsonl", "events.jsonl", "format = \"jsonl\""),
        (
            "jsonl_gz",
            "events.jsonl.gz",
            "format = \"jsonl\"\ninclude = [\"*.json.gz\", \"*.jsonl.gz\"]",
        ),
        (
            "parquet_snappy",
            "events.snappy.parquet",
            "format = \"parquet\"",
        ),
        (
            "parquet_zstd",
            "events.zstd.parquet",
            "format = \"parquet\"",
        ),
    ] {
        let body = std::fs::read(fixtures.join(file)).unwrap();
        // Stored without an extension (but the one the include glob asks for): compression is decided by the
        // object's bytes, never by its name.
        let key = if table == "jsonl_gz" {
            format!("{table}/part-00000.jsonl.gz")
        } else {
            format!("{table}/part-00000")
        };
        env.put(&key, body).await;
        env.put(&format!("{table}/_SUCCESS"), "").await;
        let spec = env.spec_named(table, &fixture_spec(table, source));
        let run = env
            .run(&["process", "--prefix", table, "--dataset", &spec])
            .await;
        run.assert_code(0);
        let loaded = env
            .rows(&format!(
                "SELECT id::text, name, score::text, CASE WHEN active THEN 't' WHEN NOT active THEN 'f' END, \
                 day::text, at::text, attrs::text FROM {table} ORDER BY {table}.id"
            ))
            .await;
        assert_eq!(loaded.len(), expected.len(), "{file}");
        for (got, want) in loaded.iter().zip(&expected) {
            assert_eq!(got, want, "{file}");
        }
        assert_eq!(
            env.count(&format!(
                "SELECT count(*) FROM etl_rejects r JOIN etl_objects o ON o.id = r.object_id WHERE o.dataset = '{table}'"
            ))
            .await,
            0,
            "{file}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_compressed_objects_fail_alone_and_leave_the_database_as_it_was() {
    let env = TestEnv::new("bad_compressed").await;
    let spec =
        env.spec("name = \"t\"\ntable = \"t\"\n[[columns]]\nname = \"id\"\ntype = \"integer\"\n");
    let csv: Vec<u8> = (1..=2000).fold(b"id\n".to_vec(), |mut out, i| {
        out.extend_from_slice(format!("{i}\n").as_bytes());
        out
    });
    let whole = gzip(&csv);
    let mut garbage = whole.clone();
    garbage.extend_from_slice(b"not a gzip member");
    let mut zstd = {
        let mut encoder = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
        encoder.include_checksum(true).unwrap();
        std::io::Write::write_all(&mut encoder, &csv).unwrap();
        encoder.finish().unwrap()
    };
    let last = zstd.len() - 1;
    zstd[last] ^= 0xff; // the frame's content checksum
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("good.csv.gz", gzip(b"id\n7\n"), ""),
        (
            "truncated.csv.gz",
            whole[..whole.len() / 2].to_vec(),
            "gzip: ",
        ),
        ("garbage.csv.gz", garbage, "gzip: garbage after member 1"),
        ("badsum.csv.zst", zstd, "zstd: "),
        (
            "old.csv.bz2",
            b"BZh91AY&SY\x00\x00".to_vec(),
            "bzip2-compressed",
        ),
    ];
    for (key, body, _) in &cases {
        env.put(&format!("in/{key}"), body.clone()).await;
    }
    let run = env
        .run(&["process", "--prefix", "in", "--dataset", &spec])
        .await;
    run.assert_code(2);
    assert_eq!(
        env.count("SELECT sum(id) FROM t").await,
        7,
        "only the good object's rows"
    );
    assert_eq!(env.count("SELECT count(*) FROM etl_objects").await, 1);
    assert_eq!(env.count("SELECT count(*) FROM etl_rejects").await, 0);
    let failures = run.logs("Object failed, nothing of it was loaded.");
    for (key, _, message) in cases.iter().skip(1) {
        let failure = failures
            .iter()
            .find(|f| f["key"] == format!("in/{key}"))
            .unwrap_or_else(|| panic!("{key} did not fail: {}", run.stdout));
        let error = failure["error"].as_str().unwrap();
        assert!(error.contains(message), "{key}: {error}");
        assert!(!error.contains('\n'), "one line: {error}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_json_lines_are_rejected_with_their_line_and_the_rest_loads() {
    let env = TestEnv::new("bad_jsonl").await;
    let spec = env.spec(
        "name = \"t\"\ntable = \"t\"\n[source]\nformat = \"jsonl\"\n\
         [[columns]]\nname = \"id\"\ntype = \"integer\"\nnullable = false\n\
         [[columns]]\nname = \"who\"\ntype = \"text\"\npath = \"/user/name\"\n",
    );
    let body: &[u8] = b"{\"id\": 1, \"user\": {\"name\": \"ann\"}}\r\n\
        [1, 2]\n\
        {\"id\": 3, \"user\": {\"name\": \"b\xff\"}}\n\
        {\"user\": {\"name\": \"no id\"}}\n\
        \n\
        {\"id\": \"x\"}\n\
        {\"id\": 7, \"extra\": [1]}\n";
    env.put("in/part-0.json", body.to_vec()).await;
    env.run(&["process", "--prefix", "in", "--dataset", &spec])
        .await
        .assert_code(0);
    assert_eq!(
        env.rows("SELECT id::text, who FROM t ORDER BY t.id").await,
        vec![
            vec![Some("1".to_owned()), Some("ann".to_owned())],
            vec![Some("7".to_owned()), None],
        ]
    );
    let rejects = env
        .rows("SELECT line::text, reason, record FROM etl_rejects ORDER BY line")
        .await;
    let got: Vec<(String, String)> = rejects
        .iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
        .collect();
    let want = [
        ("2", "malformed JSON line: a JSON array, not an object"),
        ("3", "malformed JSON line: invalid UTF-8"),
        ("4", "column id: NULL in a NOT NULL column"),
        ("6", "column id: value \"x\" is not an integer"),
    ];
    assert_eq!(
        got,
        want.map(|(l, r)| (l.to_owned(), r.to_owned())).to_vec()
    );
    assert_eq!(rejects[0][2].as_deref(), Some("[1, 2]"), "the line as read");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mistyped_or_cut_short_parquet_object_fails_alone_and_leaves_the_database_as_it_was() {
    let env = TestEnv::new("bad_parquet").await;
    let fixture = std::fs::read(
        crate::support::repo_root().join("etl/tests/fixtures/formats/events.snappy.parquet"),
    )
    .unwrap();
    env.put("in/good.parquet", fixture.clone()).await;
    env.put("in/cut.parquet", fixture[..fixture.len() / 2].to_vec())
        .await;
    let spec = env.spec(&fixture_spec("events", "format = \"parquet\""));
    let run = env
        .run(&["process", "--prefix", "in", "--dataset", &spec])
        .await;
    run.assert_code(2);
    assert_eq!(env.count("SELECT count(*) FROM events").await, 300);
    assert_eq!(env.count("SELECT count(*) FROM etl_objects").await, 1);
    let failure = &run.logs("Object failed, nothing of it was loaded.")[0];
    assert_eq!(failure["key"], "in/cut.parquet");
    assert!(
        failure["error"]
            .as_str()
            .unwrap()
            .starts_with("not a readable Parquet file: "),
        "{failure}"
    );

    // The same good file against a spec whose `day` is a timestamp: the object fails naming both types. The spec
    // has a table of its own: `events` has `day` as a date, so the migration would refuse the spec first.
    let mistyped = fixture_spec("events_ts", "format = \"parquet\"").replace(
        "name = \"day\"\ntype = \"date\"",
        "name = \"day\"\ntype = \"timestamp\"",
    );
    env.put("typed/good.parquet", fixture).await;
    let spec = env.spec_named("mistyped", &mistyped);
    let run = env
        .run(&["process", "--prefix", "typed", "--dataset", &spec])
        .await;
    run.assert_code(2);
    assert_eq!(env.count("SELECT count(*) FROM events").await, 300);
    assert_eq!(env.count("SELECT count(*) FROM events_ts").await, 0);
    assert_eq!(env.count("SELECT count(*) FROM etl_objects").await, 1);
    assert_eq!(
        run.logs("Object failed, nothing of it was loaded.")[0]["error"],
        "column day: the Parquet file's type Date32 does not load into timestamp"
    );
}
