//! Downloads that break mid-stream: through `fault_proxy.py`, which cuts `GetObject` bodies half-way with a reset,
//! the first run still loads every object exactly, resuming each cut body where it broke (however often, as long
//! as each resume brings bytes); an object overwritten between the first part and the resumed one fails cleanly
//! and loads on the next run; a body that cannot be resumed fails after the configured attempts.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use crate::support::{
    PEOPLE_SPEC, TestEnv, assert_loaded_once, free_port, people, servers, upload_people,
    wait_for_port,
};

/// A running `fault_proxy.py` in front of moto; killed when dropped.
struct FaultProxy {
    url: String,
    log: PathBuf,
    _child: tokio::process::Child,
}

impl FaultProxy {
    fn start(name: &str, args: &[&str]) -> Self {
        let moto_port = servers().moto_url.rsplit(':').next().unwrap();
        let port = free_port();
        let log = servers().dir.join(format!("{name}.proxy.log"));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fault_proxy.py");
        let child = tokio::process::Command::new("python3")
            .arg(script)
            .args([port.to_string().as_str(), moto_port])
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 on PATH");
        wait_for_port(port, "fault_proxy.py");
        Self {
            url: format!("http://127.0.0.1:{port}"),
            log,
            _child: child,
        }
    }

    /// The proxy's lines about the bodies it broke.
    fn faults(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .filter(|l| {
                ["cut ", "changed ", "refused "]
                    .iter()
                    .any(|p| l.starts_with(p))
            })
            .map(str::to_owned)
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_cut_mid_stream_are_resumed_and_the_first_run_is_exact() {
    let env = TestEnv::new("resume_cut").await;
    let spec = env.spec(PEOPLE_SPEC);
    // 12 objects of about 400 KiB: the SDK has handed over the body long before half of it.
    let (total, id_sum) = upload_people(&env, "r", 12, 8000).await;
    let proxy = FaultProxy::start("resume_cut", &["--cut", "0.3", "--seed", "3"]);

    let run = env
        .run_with(
            &["process", "--prefix", "r", "--dataset", spec.as_str()],
            &[("AWS_ENDPOINT_URL", proxy.url.as_str())],
        )
        .await;
    run.assert_code(0);
    assert_loaded_once(&env, total, id_sum).await;
    assert_eq!(env.count("SELECT count(*) FROM etl_objects").await, 12);
    assert_eq!(env.count("SELECT count(*) FROM etl_rejects").await, 0);

    let cuts = proxy.faults();
    let resumes = run.logs("Resuming the download.");
    assert!(cuts.len() >= 3, "the proxy cut too few bodies: {cuts:?}");
    // Every cut body was resumed once (a resumed body may be cut again, and is resumed again).
    assert_eq!(resumes.len(), cuts.len(), "{cuts:?}\n{resumes:?}");
    for resume in &resumes {
        let key = resume["key"].as_str().unwrap();
        assert!(key.starts_with("r/part-"), "{resume}");
        assert!(resume["offset"].as_u64().unwrap() > 0, "{resume}");
        assert_eq!(resume["attempt"], 1, "{resume}");
        assert!(!resume["error"].as_str().unwrap().is_empty(), "{resume}");
    }
    assert_eq!(run.logs("Loaded object.").len(), 12);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_object_changed_between_its_parts_fails_cleanly_and_loads_on_the_next_run() {
    let env = TestEnv::new("resume_changed").await;
    let spec = env.spec(PEOPLE_SPEC);
    upload_people(&env, "c", 3, 8000).await;
    // The new version of the middle object, which the proxy PUTs after sending half of the old one.
    let (new_csv, _) = people(100_001, 8000);
    let new_file = servers().dir.join("resume_changed.new.csv");
    std::fs::write(&new_file, new_csv).unwrap();
    let change = format!("c/part-001.csv={}", new_file.display());
    let proxy = FaultProxy::start("resume_changed", &["--change", change.as_str()]);
    let args = ["process", "--prefix", "c", "--dataset", spec.as_str()];

    let run = env
        .run_with(&args, &[("AWS_ENDPOINT_URL", proxy.url.as_str())])
        .await;
    // A download failure is a runtime failure (exit 1): the next run retries the object.
    run.assert_code(1);
    assert_eq!(proxy.faults().len(), 1, "{:?}", proxy.faults());
    let error = run.error();
    assert!(
        error.starts_with("1 of 3 object(s) failed, first: s3://t-resume-changed/c/part-001.csv: download failed: the object changed while it was read (resuming at byte "),
        "{error}"
    );
    assert!(error.contains("PreconditionFailed"), "{error}");
    assert_eq!(run.logs("Resuming the download.").len(), 1);
    // The other two objects loaded; nothing of the changed one, in the table or the ledger.
    let sum = |first: i64, n: i64| (first..first + n).sum::<i64>();
    assert_loaded_once(&env, 16_000, sum(1, 8000) + sum(16_001, 8000)).await;
    let keys = env
        .rows("SELECT key FROM etl_objects ORDER BY key")
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect::<Vec<_>>();
    assert_eq!(keys, ["c/part-000.csv", "c/part-002.csv"]);

    // The next run (straight to moto) loads the new version.
    env.run(&args).await.assert_code(0);
    assert_loaded_once(
        &env,
        24_000,
        sum(1, 8000) + sum(16_001, 8000) + sum(100_001, 8000),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_body_cut_still_loads_because_each_resume_makes_progress() {
    let env = TestEnv::new("resume_all_cut").await;
    let spec = env.spec(PEOPLE_SPEC);
    let (total, id_sum) = upload_people(&env, "a", 2, 8000).await;
    // Every body is cut, the resumed ones too, until less than 64 KiB is left; one resume per break is enough.
    let proxy = FaultProxy::start("resume_all_cut", &["--cut", "1"]);
    let run = env
        .run_with(
            &["process", "--prefix", "a", "--dataset", spec.as_str()],
            &[
                ("AWS_ENDPOINT_URL", proxy.url.as_str()),
                ("ETL_AWS_MAX_ATTEMPTS", "2"),
            ],
        )
        .await;
    run.assert_code(0);
    assert_loaded_once(&env, total, id_sum).await;
    let resumes = run.logs("Resuming the download.");
    assert_eq!(resumes.len(), proxy.faults().len());
    for key in ["a/part-000.csv", "a/part-001.csv"] {
        let offsets: Vec<u64> = resumes
            .iter()
            .filter(|r| r["key"] == key)
            .map(|r| r["offset"].as_u64().unwrap())
            .collect();
        assert!(offsets.len() >= 2, "{key}: {offsets:?}");
        assert!(offsets.is_sorted(), "{key}: {offsets:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_cannot_be_resumed_fails_after_the_configured_attempts() {
    let env = TestEnv::new("resume_refused").await;
    let spec = env.spec(PEOPLE_SPEC);
    upload_people(&env, "f", 1, 8000).await;
    let proxy = FaultProxy::start("resume_refused", &["--cut", "1", "--refuse-ranges"]);
    let run = env
        .run_with(
            &["process", "--prefix", "f", "--dataset", spec.as_str()],
            &[
                ("AWS_ENDPOINT_URL", proxy.url.as_str()),
                ("ETL_AWS_MAX_ATTEMPTS", "3"),
            ],
        )
        .await;
    run.assert_code(1);
    let error = run.error();
    assert!(
        error.contains("download failed: the body broke at byte ")
            && error.contains(" and 2 attempt(s) to resume it failed, last: "),
        "{error}"
    );
    let attempts: Vec<u64> = run
        .logs("Resuming the download.")
        .iter()
        .map(|r| r["attempt"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 2]);
    env.assert_people_empty().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn parquet_range_requests_cut_mid_stream_are_resumed_within_their_range() {
    const ROWS: i64 = 200_000;
    let env = TestEnv::new("resume_parquet").await;
    let spec = env.spec(
        "name = \"t\"\ntable = \"t\"\n[source]\nformat = \"parquet\"\n\
         [[columns]]\nname = \"id\"\ntype = \"bigint\"\n[[columns]]\nname = \"name\"\ntype = \"text\"\n",
    );
    let batch = RecordBatch::try_from_iter([
        (
            "id",
            Arc::new(Int64Array::from_iter_values(1..=ROWS)) as ArrayRef,
        ),
        (
            "name",
            Arc::new(StringArray::from_iter_values((1..=ROWS).map(|i| {
                format!(
                    "{:016x}",
                    i.unsigned_abs().wrapping_mul(0x9E37_79B9_7F4A_7C15)
                )
            }))),
        ),
    ])
    .unwrap();
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(50_000))
        .build();
    let mut file = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut file, batch.schema(), Some(properties)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    env.put("p/part-0.parquet", file).await;
    // Every body is cut half-way, the resumed ones too (the row groups fetched ahead of the decoder as well): each
    // resume must stay inside its range and move on.
    let proxy = FaultProxy::start("resume_parquet", &["--cut", "1.0", "--min-body", "1024"]);
    let run = env
        .run_with(
            &["process", "--prefix", "p", "--dataset", spec.as_str()],
            &[("AWS_ENDPOINT_URL", proxy.url.as_str())],
        )
        .await;
    run.assert_code(0);
    assert_eq!(env.count("SELECT count(*) FROM t").await, ROWS);
    assert_eq!(
        env.count("SELECT sum(id) FROM t").await,
        ROWS * (ROWS + 1) / 2
    );
    assert_eq!(
        env.count("SELECT count(DISTINCT name) FROM t").await,
        ROWS,
        "no byte read twice"
    );
    let resumes = run.logs("Resuming the download.").len();
    assert!(
        resumes >= 5,
        "the footer and all four row groups were cut: {resumes}"
    );
    let loaded = &run.logs("Loaded object.")[0];
    assert_eq!(loaded["resumes"].as_u64(), Some(resumes as u64), "{loaded}");
}
