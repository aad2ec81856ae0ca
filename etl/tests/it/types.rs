//! Binary COPY equivalence: every value etl encodes is stored exactly as PostgreSQL's own text input stores it.
//!
//! The same edge values go through `etl process` (our checks and binary encoder) and through PostgreSQL's parser
//! (an `INSERT` of the same text into a twin table), and the tables are compared value by value. A value either
//! side refuses must be refused by the other too, except the few documented cases where etl is stricter.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::support::TestEnv;

/// Every column type a spec may declare.
const COLUMNS: [(&str, &str); 14] = [
    ("t", "text"),
    ("vc", "varchar(4)"),
    ("i2", "smallint"),
    ("i4", "integer"),
    ("i8", "bigint"),
    ("f4", "real"),
    ("f8", "double precision"),
    ("n52", "numeric(5,2)"),
    ("n", "numeric"),
    ("b", "boolean"),
    ("d", "date"),
    ("ts", "timestamp"),
    ("tz", "timestamptz"),
    ("u", "uuid"),
];

/// Edge values per column, as the CSV field's text (always written quoted, so `""` is the empty string).
const CASES: &[(&str, &[&str])] = &[
    (
        "t",
        &[
            "",
            "plain",
            "multi-byte: é 日本 🎉",
            "tab\tand\\backslash",
            "line\nbreak\r\n",
            "say \"hi\"",
            "  spaces  ",
            "\\N",
        ],
    ),
    (
        "vc",
        &[
            "abcd",
            "äöüß",
            "ab  ",
            "abcd   ",
            "abcde",
            "日本語です",
            "日本語で ",
        ],
    ),
    (
        "i2",
        &[
            "32767", "-32768", "32768", "+7", "007", "-0", "1.0", "", " 42",
        ],
    ),
    (
        "i4",
        &["2147483647", "-2147483648", "2147483648", "1e3", "x"],
    ),
    (
        "i8",
        &[
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
        ],
    ),
    (
        "f4",
        &[
            "3.4028235e38",
            "3.5e38",
            "1e-45",
            "1e-46",
            "-0",
            "NaN",
            "-Infinity",
            "0.1",
            "16777217",
            "1.17549435e-38",
        ],
    ),
    (
        "f8",
        &[
            "1.7976931348623157e308",
            "1e309",
            "4.9e-324",
            "2e-324",
            "1e-400",
            "0e-400",
            "-0",
            "nan",
            "inf",
            "+Infinity",
            "-infinity",
            "0.1",
            ".5",
            "5.",
            "1E+2",
            "0x1p3",
            "1,5",
        ],
    ),
    (
        "n52",
        &[
            "999.99", "999.994", "999.995", "-999.995", "0.005", "-0.005", "-0.004", "-0", "NaN",
            "Infinity", "1e2", "1.5e-2", "12345", "abc", ".",
        ],
    ),
    (
        "n",
        &[
            "0",
            "-0",
            "-0.000",
            "123456789012345678901234567890.123456789",
            "0.00000000000000000001",
            "1e-20",
            "-1.5E+10",
            "1.50e1",
            "NaN",
            "nan",
            "Infinity",
            "-inf",
            "0001.1000",
            ".5",
            "5.",
            "1e",
            "1e-20000",
        ],
    ),
    (
        "b",
        &[
            "t", "TRUE", "tr", "f", "False", "fal", "y", "YES", "n", "No", "on", "ON", "off", "of",
            "1", "0", "o", "yess", "2", " t",
        ],
    ),
    (
        "d",
        &[
            "2024-02-29",
            "2023-02-29",
            "0001-01-01",
            "9999-12-31",
            "2000-01-01",
            "1999-12-31",
            "0000-01-01",
            "0001-01-01 BC",
            "10000-01-01",
            "2024-1-1",
        ],
    ),
    (
        "ts",
        &[
            "2024-03-01 10:00:00",
            "2024-03-01T10:00:00.123456",
            "2024-03-01 10:00:00.1234565",
            "2024-03-01 10:00:00.1234575",
            "2024-03-01 10:00:00.9999995",
            "2024-03-01 10:00:00.0000005",
            "2024-03-01 24:00:00",
            "2024-03-01 23:59:60",
            "2024-03-01 23:59:60.5",
            "2024-03-01 24:00:01",
            "0001-01-01 00:00:00",
            "9999-12-31 23:59:59.999999",
            "2024-03-01",
            "2024-03-01 10:00",
            "2024-03-01 10:00:00+02",
        ],
    ),
    (
        "tz",
        &[
            "2024-03-01T10:00:00Z",
            "2024-03-01 10:00:00+05:30",
            "2024-03-01 10:00:00-0800",
            "2024-03-01 10:00:00.5+14",
            "2024-03-01 10:00:00-15:59",
            "2024-03-01 10:00:00+16",
            "2024-03-01 10:00:00",
            "0001-01-01 00:00:00+01",
            "9999-12-31 23:59:59-15",
            "2024-03-01T10:00:00.25-00:30",
        ],
    ),
    (
        "u",
        &[
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "A0EEBC999C0B4EF8BB6D6BB9BD380A11",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
        ],
    ),
];

/// Values PostgreSQL's text input accepts and etl refuses on purpose (documented in `etl/README.md`).
const STRICTER: &[(&str, &str)] = &[
    ("i2", " 42"),
    ("f8", "0x1p3"),
    ("b", " t"),
    ("d", "0001-01-01 BC"),
    ("d", "10000-01-01"),
    ("d", "2024-1-1"),
    ("ts", "2024-03-01 10:00:00+02"),
    ("u", "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"),
];

fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('"', "\"\""))
}

#[tokio::test(flavor = "multi_thread")]
async fn binary_copy_stores_what_postgres_text_input_stores() {
    let env = TestEnv::new("types").await;
    let mut spec = String::from(
        "name = \"types\"\ntable = \"types\"\n[[columns]]\nname = \"id\"\ntype = \"bigint\"\nnullable = false\n",
    );
    for (name, column_type) in COLUMNS {
        let _ = write!(
            spec,
            "[[columns]]\nname = \"{name}\"\ntype = \"{column_type}\"\n"
        );
    }
    let spec = env.spec(&spec);
    let mut csv = String::from("id");
    for (name, _) in COLUMNS {
        let _ = write!(csv, ",{name}");
    }
    csv.push('\n');
    // Row 1 is all NULL; then one row per case, with only that case's column set.
    let _ = writeln!(csv, "1{}", ",".repeat(COLUMNS.len()));
    let mut cases = BTreeMap::new();
    for (column, values) in CASES {
        let position = COLUMNS.iter().position(|(n, _)| n == column).unwrap();
        for value in *values {
            let id = cases.len() + 2;
            cases.insert(id, (*column, *value));
            let mut fields = vec![String::new(); COLUMNS.len()];
            fields[position] = quote(value);
            let _ = writeln!(csv, "{id},{}", fields.join(","));
        }
    }
    let nul_id = cases.len() + 2;
    let _ = writeln!(
        csv,
        "{nul_id},\"nul\0byte\"{}",
        ",".repeat(COLUMNS.len() - 1)
    );
    env.put("types/all.csv", csv).await;
    env.run(&[
        "process",
        "--prefix",
        "types",
        "--dataset",
        spec.as_str(),
        "--max-rejects",
        "1000",
    ])
    .await
    .assert_code(0);

    // The same text through PostgreSQL's input functions, into a twin table.
    env.db
        .batch_execute("CREATE TABLE twin AS SELECT * FROM types WITH NO DATA; INSERT INTO twin (id) VALUES (1)")
        .await
        .unwrap();
    let mut postgres_ok = BTreeSet::from([1]);
    for (id, (column, value)) in &cases {
        let sql = format!(
            "INSERT INTO twin (id, {column}) VALUES ({id}, '{}')",
            value.replace('\'', "''")
        );
        if env.db.batch_execute(&sql).await.is_ok() {
            postgres_ok.insert(*id);
        }
    }
    let etl_ok: BTreeSet<usize> = env
        .rows("SELECT id FROM types")
        .await
        .into_iter()
        .map(|r| r[0].as_deref().unwrap().parse().unwrap())
        .collect();

    // Accepted by exactly the same values, apart from the documented stricter ones.
    let differ: Vec<(&str, &str, bool)> = cases
        .iter()
        .filter(|(id, _)| etl_ok.contains(id) != postgres_ok.contains(id))
        .map(|(id, (column, value))| (*column, *value, etl_ok.contains(id)))
        .collect();
    let stricter: Vec<(&str, &str, bool)> = STRICTER.iter().map(|(c, v)| (*c, *v, false)).collect();
    assert_eq!(
        differ, stricter,
        "(column, value, etl accepted) where etl and PostgreSQL disagree"
    );
    assert!(!etl_ok.contains(&nul_id));

    // Every value loaded both ways is the same value, and renders as the same text.
    for (column, _) in COLUMNS {
        let different = env
            .rows(&format!(
                "SELECT id, t.{column}::text, w.{column}::text FROM types t JOIN twin w USING (id) \
                 WHERE t.{column} IS DISTINCT FROM w.{column} OR t.{column}::text IS DISTINCT FROM w.{column}::text"
            ))
            .await;
        assert!(
            different.is_empty(),
            "{column}: (id, etl, postgres) {different:?}"
        );
    }
    // A few of the values, to show the comparison is over real values.
    let rendered = env
        .rows(
            "SELECT n52::text FROM types WHERE id IN (SELECT id FROM twin WHERE n52 IN (0.01, -0.01)) ORDER BY n52; \
             SELECT tz::text FROM types WHERE tz = '2024-03-01 04:30:00+00'",
        )
        .await;
    assert_eq!(
        rendered,
        [["-0.01"], ["0.01"], ["2024-03-01 04:30:00+00"]].map(|r| r.map(|v| Some(v.to_owned())))
    );

    // Refused values are rejects naming their line and column.
    let reasons = env
        .rows("SELECT line::text, reason FROM etl_rejects ORDER BY line")
        .await;
    let reason_of = |needle: &str| {
        reasons
            .iter()
            .find(|r| r[1].as_deref().unwrap().contains(needle))
            .map(|r| r[1].clone().unwrap())
    };
    assert_eq!(
        reason_of("999.995").as_deref(),
        Some("column n52: value \"999.995\" is too large for the column's numeric precision")
    );
    assert_eq!(
        reason_of("nul").as_deref(),
        Some("column t: value \"nul\\0byte\" contains a NUL byte")
    );
}
