//! `--retry-rejected`: after a rule that rejected rows is fixed, only the objects with rejects load again.

use crate::support::{PEOPLE_SPEC, TestEnv};

/// The people spec with a rule on `score` that turns `7 pts` into `7`, written with `pattern`.
fn points_spec(pattern: &str) -> String {
    PEOPLE_SPEC.replace(
        "null_if = [\"n/a\"]\n",
        &format!("null_if = [\"n/a\"]\nrules = [{{ pattern = '{pattern}', replace = \"$1\" }}]\n"),
    )
}

const TABLE: &str = "SELECT id::text, score::text FROM people ORDER BY people.id";

/// The ledger's current rows: key, rows loaded and rejected.
const LEDGER: &str = "SELECT key, rows_loaded::text, rows_rejected::text FROM etl_objects \
                      WHERE superseded_at IS NULL ORDER BY key";

fn rows(rows: &[[&str; 3]]) -> Vec<Vec<Option<String>>> {
    rows.iter()
        .map(|r| r.iter().map(|v| Some((*v).to_owned())).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_rejected_reloads_only_the_objects_with_rejects() {
    let env = TestEnv::new("retry_rejected").await;
    // The first rule forgets the space in "7 pts": those rows are rejected as not integers.
    let broken = env.spec_named("broken", &points_spec(r"^(\d+)pts$"));
    let fixed = env.spec_named("fixed", &points_spec(r"^(\d+) ?pts$"));
    let header = "id,name,score,joined\n";
    env.put(
        "r/a.csv",
        format!("{header}1,a,1,2024-01-01\n2,b,7 pts,2024-01-01\n3,c,8 pts,\n4,d,4pts,\n"),
    )
    .await;
    env.put(
        "r/b.csv",
        format!("{header}10,e,10,2024-01-01\n11,f,9 pts,\n12,g,,\n"),
    )
    .await;
    env.put("r/c.csv", format!("{header}20,h,5pts,\n21,i,6,\n"))
        .await;
    let first = env
        .run(&["process", "--prefix", "r", "--dataset", &broken])
        .await;
    first.assert_code(0);
    assert_eq!(
        env.rows(LEDGER).await,
        rows(&[
            ["r/a.csv", "2", "2"],
            ["r/b.csv", "2", "1"],
            ["r/c.csv", "2", "0"]
        ])
    );
    assert_eq!(env.count("SELECT count(*) FROM etl_rejects").await, 3);
    let untouched = "SELECT id::text, started_at::text, finished_at::text FROM etl_objects WHERE key = 'r/c.csv'";
    let c_before = env.rows(untouched).await;
    // A new object arrives before the retry: it loads as in any run.
    env.put("r/d.csv", format!("{header}30,j,3 pts,\n")).await;

    let retry = env
        .run_with(
            &["process", "--prefix", "r", "--dataset", &fixed],
            &[("ETL_RETRY_REJECTED", "true")],
        )
        .await;
    retry.assert_code(0);
    let mut loaded: Vec<String> = retry
        .logs("Loaded object.")
        .iter()
        .map(|l| l["key"].as_str().unwrap().to_owned())
        .collect();
    loaded.sort();
    assert_eq!(loaded, ["r/a.csv", "r/b.csv", "r/d.csv"]);
    let mut replaced: Vec<u64> = retry
        .logs("Replaced the previous version's rows.")
        .iter()
        .map(|l| l["replaced"].as_u64().unwrap())
        .collect();
    replaced.sort_unstable();
    assert_eq!(replaced, [2, 2]);

    // Every formerly rejected row is in, nothing twice, no rejects left.
    let expected: Vec<Vec<Option<String>>> = [
        (1, "1"),
        (2, "7"),
        (3, "8"),
        (4, "4"),
        (10, "10"),
        (11, "9"),
        (12, ""),
        (20, "5"),
        (21, "6"),
        (30, "3"),
    ]
    .iter()
    .map(|(id, score)| {
        vec![
            Some(id.to_string()),
            Some((*score).to_owned()).filter(|s| !s.is_empty()),
        ]
    })
    .collect();
    assert_eq!(env.rows(TABLE).await, expected);
    assert_eq!(env.count("SELECT count(*) FROM etl_rejects").await, 0);
    assert_eq!(
        env.rows(LEDGER).await,
        rows(&[
            ["r/a.csv", "4", "0"],
            ["r/b.csv", "3", "0"],
            ["r/c.csv", "2", "0"],
            ["r/d.csv", "1", "0"]
        ])
    );
    // c.csv had no rejects: its ledger row is the same row, never superseded.
    assert_eq!(env.rows(untouched).await, c_before);
    assert_eq!(
        env.count("SELECT count(*) FROM etl_objects WHERE superseded_at IS NOT NULL")
            .await,
        2
    );

    // Nothing has rejects any more: a second retry reads nothing.
    let again = env
        .run(&[
            "process",
            "--prefix",
            "r",
            "--dataset",
            &fixed,
            "--retry-rejected",
        ])
        .await;
    again.assert_code(0);
    assert!(again.logs("Loaded object.").is_empty());
    assert_eq!(again.logs("Skipped objects.")[0]["objects"], 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_rejected_is_a_listing_run_of_its_own() {
    let env = TestEnv::new("retry_flags").await;
    let spec = env.spec(PEOPLE_SPEC);
    let base = ["process", "--dataset", spec.as_str(), "--retry-rejected"];
    let queued = env
        .run(&[&base[..], &["--queue", "http://127.0.0.1:9/q"]].concat())
        .await;
    queued.assert_code(2);
    assert_eq!(
        queued.error(),
        "invalid configuration: --retry-rejected reloads a listing; it does not combine with --queue"
    );
    let both = env.run(&[&base[..], &["--reprocess"]].concat()).await;
    both.assert_code(2);
    assert_eq!(
        both.error(),
        "invalid configuration: --reprocess already reloads every object; drop --retry-rejected"
    );
}
