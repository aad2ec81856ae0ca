//! The sample dataset end to end, reruns, `--reprocess` and new object versions.

use crate::support::{PEOPLE_SPEC, TestEnv, people, repo_root};

const PROCESS_SAMPLE: [&str; 5] = [
    "process",
    "--prefix",
    "raw/events",
    "--dataset",
    "data/events.toml",
];

const EVENT_COLUMNS: &str = "event_id, occurred_at, user_id, country, device, event_type, amount, session_seconds, is_fraud, comment";

/// The table as PostgreSQL text COPY output, ordered by id: the format of `data/events.expected.tsv`.
async fn events_as_copy_text(env: &TestEnv) -> String {
    let sql = format!("COPY (SELECT {EVENT_COLUMNS} FROM events ORDER BY event_id) TO STDOUT");
    let stream = env.db.copy_out(sql.as_str()).await.unwrap();
    let chunks: Vec<bytes::Bytes> = futures_util::TryStreamExt::try_collect(stream)
        .await
        .unwrap();
    String::from_utf8(chunks.concat()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn sample_loads_exactly_the_expected_rows_and_reruns_change_nothing() {
    let env = TestEnv::new("sample").await;
    let ingest = env
        .run(&["ingest", "data/events.csv", "--prefix", "raw/events"])
        .await;
    ingest.assert_code(0);
    assert_eq!(ingest.logs("Ingest finished.")[0]["uploaded"], 1);

    let process = env.run(&PROCESS_SAMPLE).await;
    process.assert_code(0);
    let expected = std::fs::read_to_string(repo_root().join("data/events.expected.tsv")).unwrap();
    assert!(
        events_as_copy_text(&env).await == expected,
        "table differs from data/events.expected.tsv"
    );

    // The three bad rows the generator planted are rejected with their line numbers and reasons.
    let planted = std::fs::read_to_string(repo_root().join("data/events.rejects.tsv")).unwrap();
    let rejects = env
        .rows("SELECT line, reason FROM etl_rejects ORDER BY etl_rejects.line")
        .await;
    assert_eq!(rejects.len(), 3);
    for (reject, planted) in rejects.iter().zip(planted.lines()) {
        let (line, fragment) = planted.split_once('\t').unwrap();
        assert_eq!(reject[0].as_deref(), Some(line));
        assert!(
            reject[1].as_deref().unwrap().contains(fragment),
            "{reject:?} should mention {fragment}"
        );
    }
    let ledger = env
        .rows("SELECT key, rows_loaded, rows_rejected, finished_at IS NOT NULL FROM etl_objects")
        .await;
    assert_eq!(
        ledger,
        [[
            Some("raw/events/events.csv"),
            Some("3000"),
            Some("3"),
            Some("t")
        ]
        .map(|v| v.map(str::to_owned))]
    );

    // EMF: one object record and one run record with RunSucceeded.
    let emf = process.emf();
    assert_eq!(emf.len(), 2, "{emf:?}");
    assert_eq!(
        (
            emf[0]["RowsLoaded"].as_u64(),
            emf[0]["RowsRejected"].as_u64()
        ),
        (Some(3000), Some(3))
    );
    assert_eq!(
        (
            emf[0]["ObjectsLoaded"].as_u64(),
            emf[0]["ObjectsFailed"].as_u64()
        ),
        (Some(1), Some(0))
    );
    assert_eq!(emf[0]["Dataset"], "events");
    assert_eq!(emf[1]["RunSucceeded"], 1);
    let summary = &process.logs("Loaded object.")[0];
    assert_eq!(
        (summary["rows"].as_u64(), summary["rejected"].as_u64()),
        (Some(3000), Some(3))
    );
    assert!(summary["bytes"].as_u64().unwrap() > 300_000 && summary["seconds"].as_f64().is_some());

    // Reruns: nothing uploaded, nothing loaded, nothing changed.
    let again = env
        .run(&["ingest", "data/events.csv", "--prefix", "raw/events"])
        .await;
    again.assert_code(0);
    assert_eq!(
        (
            again.logs("Ingest finished.")[0]["uploaded"].as_u64(),
            again.logs("Ingest finished.")[0]["skipped"].as_u64()
        ),
        (Some(0), Some(1))
    );
    let rerun = env.run(&PROCESS_SAMPLE).await;
    rerun.assert_code(0);
    let skipped = &rerun.logs("Skipped objects.")[0];
    assert_eq!(
        (skipped["objects"].as_u64(), skipped["reason"].as_str()),
        (Some(1), Some("already loaded"))
    );
    assert!(events_as_copy_text(&env).await == expected);
    assert_eq!(env.count("SELECT count(*) FROM etl_objects").await, 1);
    assert_eq!(env.count("SELECT count(*) FROM etl_rejects").await, 3);
    assert_eq!(rerun.emf().last().unwrap()["RunSucceeded"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn reprocess_replaces_rows_and_a_new_version_supersedes_the_old() {
    let env = TestEnv::new("reprocess").await;
    let spec = env.spec(PEOPLE_SPEC);
    let (csv, expected) = people(1, 50);
    env.put("in/people.csv", csv).await;
    env.run(&["process", "--prefix", "in", "--dataset", &spec])
        .await
        .assert_code(0);
    let table = "SELECT id::text, name, score::text, joined::text FROM people ORDER BY people.id";
    assert_eq!(env.rows(table).await, expected);

    let again = env
        .run(&[
            "process",
            "--prefix",
            "in",
            "--dataset",
            &spec,
            "--reprocess",
        ])
        .await;
    again.assert_code(0);
    assert_eq!(again.logs("Loaded object.").len(), 1);
    assert_eq!(
        again.logs("Replaced the previous version's rows.")[0]["replaced"],
        50
    );
    assert_eq!(env.rows(table).await, expected);
    assert_eq!(
        env.count("SELECT count(*) FROM etl_objects WHERE superseded_at IS NOT NULL")
            .await,
        1
    );

    // New content under the same key: the old version's rows go, the new ones come, in one transaction.
    let (csv, expected) = people(100, 20);
    env.put("in/people.csv", csv).await;
    env.run(&["process", "--prefix", "in", "--dataset", &spec])
        .await
        .assert_code(0);
    assert_eq!(env.rows(table).await, expected);
    assert_eq!(
        env.count("SELECT count(*) FROM etl_objects WHERE superseded_at IS NULL")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn transform_rules_apply_per_column_with_csv_null_semantics() {
    let env = TestEnv::new("rules").await;
    let spec = env.spec(PEOPLE_SPEC);
    let csv = "id,name,score,joined\n\
               1,dr. who,n/a,2024-02-29\n\
               2,\"Dr Strange, MD\",,\n\
               3,\"\",7,2024-03-01\n\
               4,,N/A,2024-03-01\n\
               5,address dr. 5,1,2024-03-01\n";
    env.put("r/people.csv", csv).await;
    let run = env
        .run(&["process", "--prefix", "r", "--dataset", &spec])
        .await;
    run.assert_code(0);
    let rows = env
        .rows("SELECT id::text, name, score::text, joined::text FROM people ORDER BY people.id")
        .await;
    let expected: Vec<Vec<Option<String>>> = [
        [Some("1"), Some("Dr who"), None, Some("2024-02-29")],
        [Some("2"), Some("Dr Strange, MD"), None, None],
        [Some("3"), Some(""), Some("7"), Some("2024-03-01")],
        [
            Some("5"),
            Some("address Dr 5"),
            Some("1"),
            Some("2024-03-01"),
        ],
    ]
    .iter()
    .map(|r| r.iter().map(|v| v.map(str::to_owned)).collect())
    .collect();
    assert_eq!(rows, expected);
    // "N/A" is not "n/a": null_if is exact, so the integer check rejects it.
    let rejects = env
        .rows("SELECT line::text, record, reason FROM etl_rejects")
        .await;
    assert_eq!(
        rejects,
        [[
            Some("5"),
            Some("4,,N/A,2024-03-01"),
            Some("column score: value \"N/A\" is not an integer")
        ]
        .map(|v| v.map(str::to_owned))]
    );
}

/// Excel's "Unicode Text" (UTF-16LE with a byte-order mark, tab-separated, CRLF) and its plain "CSV" on Windows
/// (Windows-1252, declared in the spec) load with every character intact; a byte malformed in the declared
/// encoding rejects only its row.
#[tokio::test(flavor = "multi_thread")]
async fn excel_unicode_text_and_windows_1252_files_load_decoded() {
    let env = TestEnv::new("encodings").await;
    let table = "SELECT id::text, name, score::text, joined::text FROM people ORDER BY people.id";
    let row = |id: &str, name: &str| {
        [id, name, "1", "2024-01-02"]
            .map(|v| Some(v.to_owned()))
            .to_vec()
    };

    let tab_spec = env.spec(&PEOPLE_SPEC.replace("[csv]\n", "[csv]\ndelimiter = \"\\t\"\n"));
    let text = "\u{feff}id\tname\tscore\tjoined\r\n1\tJosé 日本 😀\t1\t2024-01-02\r\n";
    let mut utf16: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    // An unpaired surrogate in row 2's name: that row alone is rejected.
    utf16.extend("2\tbad ".encode_utf16().flat_map(u16::to_le_bytes));
    utf16.extend_from_slice(&[0x2C, 0xDC]);
    utf16.extend(
        "\t1\t2024-01-02\r\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes),
    );
    env.put("unicode/people.txt", utf16).await;
    let run = env
        .run(&["process", "--prefix", "unicode", "--dataset", &tab_spec])
        .await;
    run.assert_code(0);
    assert_eq!(env.rows(table).await, [row("1", "José 日本 😀")]);
    assert_eq!(
        env.rows("SELECT line::text, reason FROM etl_rejects").await,
        [[
            Some("3".to_owned()),
            Some("column name: invalid UTF-8 at byte 4".to_owned())
        ]]
    );

    let ansi_spec =
        env.spec(&PEOPLE_SPEC.replace("[csv]\n", "[csv]\nencoding = \"windows-1252\"\n"));
    env.put(
        "ansi/people.csv",
        b"id,name,score,joined\r\n3,Caf\xE9 \x80 \xABok\xBB,1,2024-01-02\r\n".to_vec(),
    )
    .await;
    let run = env
        .run(&["process", "--prefix", "ansi", "--dataset", &ansi_spec])
        .await;
    run.assert_code(0);
    assert_eq!(
        env.rows(table).await,
        [row("1", "José 日本 😀"), row("3", "Café € «ok»")]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_excel_csv_utf8_file_with_a_byte_order_mark_loads() {
    let env = TestEnv::new("bom").await;
    let spec = env.spec(PEOPLE_SPEC);
    let (csv, expected) = people(1, 20);
    // Excel's "CSV UTF-8": a BOM before the header, CRLF line ends.
    let body = format!("\u{feff}{}", csv.replace('\n', "\r\n"));
    env.put("excel/people.csv", body).await;
    let run = env
        .run(&["process", "--prefix", "excel", "--dataset", &spec])
        .await;
    run.assert_code(0);
    assert_eq!(run.logs("Loaded object.")[0]["rows"], 20);
    let table = "SELECT id::text, name, score::text, joined::text FROM people ORDER BY people.id";
    assert_eq!(env.rows(table).await, expected);
    assert_eq!(env.count("SELECT count(*) FROM etl_rejects").await, 0);
}
