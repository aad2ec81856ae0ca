//! Schema evolution: a spec that gains a column adds it to the table (earlier rows read NULL); a changed type or a
//! removed column is refused with one line, and the table stays as it was.

use crate::support::{PEOPLE_SPEC, TestEnv, people};

/// The people spec with one more column at the end.
fn with_country() -> String {
    format!("{PEOPLE_SPEC}[[columns]]\nname = \"country\"\ntype = \"varchar(2)\"\n")
}

/// The `people` table's columns and their types, as PostgreSQL describes them.
async fn columns(env: &TestEnv) -> Vec<Vec<Option<String>>> {
    env.rows(
        "SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute \
         WHERE attrelid = 'people'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
    )
    .await
}

/// A fresh environment whose `people` table holds `n` rows of `p/a.csv`, loaded with the people spec; and the rows.
async fn people_loaded(name: &str, n: i64) -> (TestEnv, Vec<Vec<Option<String>>>) {
    let env = TestEnv::new(name).await;
    let spec = env.spec(PEOPLE_SPEC);
    let (csv, expected) = people(1, n);
    env.put("p/a.csv", csv).await;
    env.run(&["process", "--prefix", "p", "--dataset", &spec])
        .await
        .assert_code(0);
    (env, expected)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_spec_column_is_added_and_only_new_rows_fill_it() {
    let (env, _) = people_loaded("evolve_add", 10).await;

    let wider = env.spec_named("wider", &with_country());
    env.put(
        "p/b.csv",
        "id,name,score,joined,country\n100,ann,1,2024-01-01,GB\n101,bob,2,2024-01-02,\n",
    )
    .await;
    let run = env
        .run(&["process", "--prefix", "p", "--dataset", &wider])
        .await;
    run.assert_code(0);
    let added = run.logs("Added a column.");
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(
        (
            added[0]["table"].as_str(),
            added[0]["column"].as_str(),
            added[0]["column_type"].as_str()
        ),
        (Some("\"people\""), Some("country"), Some("varchar(2)"))
    );
    // a.csv is already loaded and stays as it was; only b.csv loads.
    assert_eq!(run.logs("Loaded object.").len(), 1);
    assert_eq!(
        env.count("SELECT count(*) FROM people WHERE id <= 10 AND country IS NULL")
            .await,
        10
    );
    assert_eq!(
        env.rows("SELECT id::text, country FROM people WHERE id >= 100 ORDER BY id")
            .await,
        [
            [Some("100".to_owned()), Some("GB".to_owned())],
            [Some("101".to_owned()), None]
        ]
    );
    let last = columns(&env).await.pop().unwrap();
    assert_eq!(
        last,
        [
            Some("country".to_owned()),
            Some("character varying(2)".to_owned()),
            Some("f".to_owned())
        ]
    );

    // Idempotent: the next migration finds nothing to add.
    let again = env.run(&["migrate", "--dataset", &wider]).await;
    again.assert_code(0);
    assert!(again.logs("Added a column.").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_type_or_a_removed_column_is_refused_and_the_table_is_untouched() {
    let (env, expected) = people_loaded("evolve_refuse", 5).await;
    let before = columns(&env).await;
    let table = "SELECT id::text, name, score::text, joined::text FROM people ORDER BY people.id";

    // score integer → bigint, and a new column: refused as a whole, so not even the new column is added.
    let changed = env.spec_named(
        "changed",
        &with_country().replace("type = \"integer\"", "type = \"bigint\""),
    );
    let refused = "table \"people\" does not match the dataset spec: column score is integer in the table but \
                   bigint in the spec (etl never changes a column's type: add a new column and backfill it, or \
                   migrate the table by hand)";
    let run = env.run(&["migrate", "--dataset", &changed]).await;
    run.assert_code(2);
    assert_eq!(run.error(), refused);
    assert!(run.logs("Added a column.").is_empty());
    assert_eq!(columns(&env).await, before);

    // `process` migrates first: the same refusal, and nothing is loaded.
    env.put(
        "p/b.csv",
        "id,name,score,joined,country\n100,ann,1,2024-01-01,GB\n",
    )
    .await;
    let run = env
        .run(&["process", "--prefix", "p", "--dataset", &changed])
        .await;
    run.assert_code(2);
    assert_eq!(run.error(), refused);
    assert!(run.logs("Loaded object.").is_empty());
    assert_eq!(columns(&env).await, before);
    assert_eq!(env.rows(table).await, expected);
    assert_eq!(env.count("SELECT count(*) FROM etl_objects").await, 1);

    // A spec without `joined`: refused, the column and its values stay.
    let removed = env.spec_named(
        "removed",
        &PEOPLE_SPEC.replace("[[columns]]\nname = \"joined\"\ntype = \"date\"\n", ""),
    );
    let run = env.run(&["migrate", "--dataset", &removed]).await;
    run.assert_code(2);
    assert_eq!(
        run.error(),
        "table \"people\" does not match the dataset spec: column joined (date) is in the table but not in \
         the spec (etl never drops a column: keep it in the spec, or drop it by hand if its values may go)"
    );
    assert_eq!(columns(&env).await, before);
    assert_eq!(env.rows(table).await, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_migrations_that_add_a_column_both_succeed() {
    let env = TestEnv::new("evolve_concurrent").await;
    let spec = env.spec(PEOPLE_SPEC);
    env.run(&["migrate", "--dataset", &spec])
        .await
        .assert_code(0);
    let wider = env.spec_named("wider", &with_country());
    let args = ["migrate", "--dataset", wider.as_str()];
    let (a, b, c) = tokio::join!(env.run(&args), env.run(&args), env.run(&args));
    for run in [&a, &b, &c] {
        run.assert_code(0);
    }
    let added: usize = [&a, &b, &c]
        .iter()
        .map(|run| run.logs("Added a column.").len())
        .sum();
    assert_eq!(
        added, 1,
        "one migration adds the column, the others find it"
    );
    assert_eq!(
        env.count(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'people'::regclass AND attname = 'country'"
        )
        .await,
        1
    );
}
