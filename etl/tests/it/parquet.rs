//! The Parquet reader against moto: pyarrow's files (Snappy, ZSTD, gzip; four row groups; every mapped type,
//! NULLs, a list, a struct, a map and a dictionary-encoded column) read through ETag-pinned range requests,
//! compared value by value with the values pyarrow's generator wrote beside them
//! (`etl/tests/fixtures/parquet/gen.py`); a large file's requests and bytes; and the ways a file fails.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use aws_sdk_s3::primitives::ByteStream;
use bytes::{Bytes, BytesMut};
use etl::error::ObjectError;
use etl::record::Record;
use etl::source::parquet::reader::{FOOTER_PREFETCH, HEAD_SPECULATION};
use etl::source::parquet::{Batch, ParquetSource, RowBatchRecords, SpecColumn, open};
use etl::source::{ObjectVersion, head};
use etl::spec::ColumnType;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::ParquetMetaDataReader;
use parquet::file::properties::WriterProperties;
use serde_json::Value;

use crate::support::{TestEnv, repo_root};

/// The fixtures' columns and the spec types they load into (`kind` is dictionary-encoded).
const COLUMNS: [(&str, &str); 17] = [
    ("id", "bigint"),
    ("small", "smallint"),
    ("u32", "bigint"),
    ("f32", "real"),
    ("f64", "double precision"),
    ("dec", "numeric(12,2)"),
    ("name", "text"),
    ("flag", "boolean"),
    ("day", "date"),
    ("ts_ms", "timestamp"),
    ("ts_us_utc", "timestamptz"),
    ("ts_ns_utc", "timestamptz"),
    ("uid", "uuid"),
    ("tags", "text"),
    ("user", "text"),
    ("attrs", "text"),
    ("kind", "text"),
];
const NESTED: [&str; 3] = ["tags", "user", "attrs"];

fn spec(columns: &[(&str, &str)]) -> Vec<SpecColumn> {
    columns
        .iter()
        .map(|(name, t)| SpecColumn {
            name: (*name).to_owned(),
            column_type: ColumnType::parse(t).unwrap(),
        })
        .collect()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(repo_root().join("etl/tests/fixtures/parquet").join(name)).unwrap()
}

async fn upload(env: &TestEnv, key: &str, body: Vec<u8>) -> ObjectVersion {
    env.s3
        .put_object()
        .bucket(&env.bucket)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .unwrap();
    head(&env.s3, &env.bucket, key).await.unwrap().unwrap()
}

/// A row as read: its line and its fields, `None` for NULL.
type Row = (u64, Vec<Option<String>>);

/// Appends a batch's rows to `rows`.
fn push_rows(records: &mut RowBatchRecords, batch: &Batch, rows: &mut Vec<Row>) {
    records
        .for_each_record(&batch.rows, batch.first_line, &mut |r: Record<'_>| {
            let fields = (0..r.fields.len())
                .map(|i| {
                    let (bytes, quoted) = r.field(i);
                    (quoted || !bytes.is_empty())
                        .then(|| String::from_utf8(bytes.to_vec()).unwrap())
                })
                .collect();
            rows.push((r.line, fields));
            Ok(())
        })
        .unwrap();
}

/// Every row.
async fn read_all(source: &mut ParquetSource) -> Vec<Row> {
    let mut records = source.records();
    let mut rows = Vec::new();
    while let Some(batch) = source.next_batch().await.unwrap() {
        push_rows(&mut records, &batch, &mut rows);
    }
    rows
}

/// The values pyarrow's generator wrote beside the `types.*.parquet` fixtures, one JSON object per row.
fn written() -> Vec<Value> {
    std::fs::read_to_string(repo_root().join("etl/tests/fixtures/parquet/expected.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Asserts that `rows` are the first rows pyarrow wrote, numbered from 1, every value stored as written.
fn assert_as_written(what: &str, rows: &[Row], written: &[Value]) {
    assert!(rows.len() <= written.len(), "{what}: {} rows", rows.len());
    for ((line, fields), (want, n)) in rows.iter().zip(written.iter().zip(1..)) {
        assert_eq!(*line, n, "{what}: rows are numbered from 1");
        for ((column, type_name), got) in COLUMNS.iter().zip(fields) {
            let want = want[column].as_str();
            assert_eq!(
                got.as_deref().map(|t| stored(column, type_name, t)),
                want.map(|t| stored(column, type_name, t)),
                "{what} line {line} column {column}: got {got:?}, pyarrow wrote {want:?}"
            );
        }
    }
}

/// The value PostgreSQL would store for `text` in a column of `type_name` (its binary COPY form), or the parsed
/// JSON for a nested column.
fn stored(column: &str, type_name: &str, text: &str) -> Result<Vec<u8>, Value> {
    if NESTED.contains(&column) {
        return Err(serde_json::from_str(text).unwrap());
    }
    let mut out = BytesMut::new();
    ColumnType::parse(type_name)
        .unwrap()
        .encode(text, &mut out)
        .unwrap_or_else(|e| panic!("{column}: {text:?} {e}"));
    Ok(out.to_vec())
}

#[tokio::test(flavor = "multi_thread")]
async fn pyarrow_files_read_by_row_group_through_range_requests() {
    let env = TestEnv::new("parquet_read").await;
    let expected = written();
    for codec in ["snappy", "zstd", "gzip"] {
        let name = format!("types.{codec}.parquet");
        let object = upload(&env, &name, fixture(&name)).await;
        let mut source = open(&env.s3, &object, &spec(&COLUMNS)).await.unwrap();
        assert_eq!((source.rows(), source.row_groups()), (50, 4), "{codec}");
        let rows = read_all(&mut source).await;
        assert_eq!(rows.len(), expected.len(), "{codec}");
        assert_as_written(codec, &rows, &expected);
        // One request for the footer (the last 64 KiB), then one per row group: its column chunks coalesced.
        assert_eq!(source.stats().requests(), 1 + 4, "{codec}");
        assert_eq!(
            source.stats().served().map(|s| s.version_id.as_str()),
            Some("null")
        );
    }
    // Only the spec's columns are fetched: one narrow column reads far fewer bytes than the whole file.
    let object = upload(&env, "narrow.parquet", fixture("types.zstd.parquet")).await;
    let mut source = open(&env.s3, &object, &spec(&[("flag", "boolean")]))
        .await
        .unwrap();
    let footer = source.stats().bytes();
    assert_eq!(read_all(&mut source).await.len(), 50);
    let rows_bytes = source.stats().bytes() - footer;
    assert!(
        rows_bytes < object.size / 8,
        "{rows_bytes} of {}",
        object.size
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_short_mistyped_or_changed_parquet_object_fails_with_one_line() {
    let env = TestEnv::new("parquet_bad").await;
    let columns = spec(&COLUMNS);
    let file = fixture("types.snappy.parquet");

    let cut = upload(&env, "cut.parquet", file[..file.len() / 2].to_vec()).await;
    let err = open(&env.s3, &cut, &columns).await.err().unwrap();
    assert!(matches!(err, ObjectError::Parquet(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "not a readable Parquet file: Invalid Parquet file. Corrupt footer"
    );
    assert!(err.is_bad_input());
    assert!(!err.to_string().contains('\n'), "{err}");

    let csv = upload(&env, "data.csv", b"id,name\n1,x\n".to_vec()).await;
    let err = open(&env.s3, &csv, &columns).await.err().unwrap();
    assert!(
        err.to_string().starts_with("not a readable Parquet file: "),
        "{err}"
    );

    let object = upload(&env, "types.parquet", file.clone()).await;
    let err = open(
        &env.s3,
        &object,
        &spec(&[("id", "bigint"), ("day", "timestamp")]),
    )
    .await
    .err()
    .unwrap();
    assert_eq!(
        err.to_string(),
        "column day: the Parquet file's type Date32 does not load into timestamp"
    );
    let err = open(&env.s3, &object, &spec(&[("uid", "integer")]))
        .await
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "column uid: the Parquet file's type FixedSizeBinary(16) (uuid) does not load into integer"
    );
    let err = open(&env.s3, &object, &spec(&[("gone", "text")]))
        .await
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .starts_with("column gone (text) is not in the Parquet file, which has: id, small, "),
        "{err}"
    );

    // Overwritten after the footer was read: the next range request's If-Match fails, nothing of the new
    // content is read.
    let mut source = open(&env.s3, &object, &columns).await.unwrap();
    upload(&env, "types.parquet", fixture("types.zstd.parquet")).await;
    let err = source.next_batch().await.err().unwrap();
    assert!(matches!(err, ObjectError::Download(_)), "{err}");
    assert!(err.to_string().contains("PreconditionFailed"), "{err}");
}

/// While a row group is decoded the next one's column chunks are fetched, never more than one row group ahead.
/// An object overwritten mid-read still fails at the next range request (If-Match), whether that is the one
/// fetched ahead or the one after: the rows handed out before are the old version's first rows, in order.
#[tokio::test(flavor = "multi_thread")]
async fn the_next_row_group_is_fetched_ahead_and_an_object_changed_mid_read_fails() {
    let env = TestEnv::new("parquet_ahead").await;
    let expected = written();
    let object = upload(&env, "ahead.parquet", fixture("types.snappy.parquet")).await;
    let mut source = open(&env.s3, &object, &spec(&COLUMNS)).await.unwrap();
    let mut records = source.records();
    let mut rows = Vec::new();
    let first = source.next_batch().await.unwrap().unwrap();
    push_rows(&mut records, &first, &mut rows);
    // The footer, the first row group (the decoder asked for it), the second (fetched ahead), and nothing more
    // while no further batch is asked for.
    let deadline = Instant::now() + Duration::from_secs(10);
    while source.stats().requests() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(source.stats().requests(), 3, "one row group ahead");

    upload(&env, "ahead.parquet", fixture("types.zstd.parquet")).await;
    let err = loop {
        match source.next_batch().await {
            Ok(Some(batch)) => push_rows(&mut records, &batch, &mut rows),
            Ok(None) => panic!("read to the end of an object overwritten mid-read"),
            Err(err) => break err,
        }
    };
    assert!(matches!(err, ObjectError::Download(_)), "{err}");
    assert!(err.to_string().contains("PreconditionFailed"), "{err}");
    // The second row group was read before the change or failed; the third, requested after it, failed.
    assert!(
        source.stats().requests() <= 4,
        "{}",
        source.stats().requests()
    );
    assert!(!rows.is_empty() && rows.len() < expected.len());
    assert_as_written("before the change", &rows, &expected);
}

/// A file of several MiB whose row groups hold a large column between the two the spec reads: that column is
/// never fetched (it is wider than `reader::COALESCE_GAP`), so each row group costs two requests, and the bytes
/// fetched are about the projected columns'. Prints the whole path's speed (moto download, decode, convert) with
/// `--nocapture`.
#[tokio::test(flavor = "multi_thread")]
async fn a_large_file_fetches_only_the_spec_columns_a_row_group_at_a_time() {
    const ROWS: i64 = 400_000;
    const GROUP: usize = 100_000;
    let env = TestEnv::new("parquet_large").await;
    let batch = RecordBatch::try_from_iter([
        (
            "id",
            Arc::new(Int64Array::from_iter_values(0..ROWS)) as ArrayRef,
        ),
        (
            "name",
            // 32 pseudo-random hex digits: a row group's chunk stays over a MiB after ZSTD.
            Arc::new(StringArray::from_iter_values((0..ROWS).map(|i| {
                let i = i.unsigned_abs();
                format!(
                    "{:016x}{:016x}",
                    i.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                    i.wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
                )
            }))),
        ),
        (
            "amount",
            Arc::new(Float64Array::from_iter_values(
                (0..ROWS).map(|i| f64::from(u32::try_from(i).unwrap()) / 8.0),
            )),
        ),
    ])
    .unwrap();
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(GROUP))
        .build();
    let mut file = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut file, batch.schema(), Some(properties)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let metadata = ParquetMetaDataReader::new()
        .parse_and_finish(&Bytes::from(file.clone()))
        .unwrap();
    let object = upload(&env, "large.parquet", file).await;
    let started = Instant::now();
    let columns = spec(&[("amount", "double precision"), ("id", "bigint")]);
    let mut source = open(&env.s3, &object, &columns).await.unwrap();
    assert_eq!(source.row_groups(), 4);
    let mut records = source.records();
    let (mut rows, mut last) = (0u64, (0u64, String::new(), String::new()));
    while let Some(batch) = source.next_batch().await.unwrap() {
        records
            .for_each_record(&batch.rows, batch.first_line, &mut |r: Record<'_>| {
                rows += 1;
                let text = |i| String::from_utf8(r.field(i).0.to_vec()).unwrap();
                last = (r.line, text(0), text(1));
                Ok(())
            })
            .unwrap();
    }
    let elapsed = started.elapsed();
    assert_eq!(rows, 400_000);
    assert_eq!(last, (400_000, "49999.875".to_owned(), "399999".to_owned()));
    assert_eq!(source.stats().requests(), 1 + 4 * 2);
    assert!(
        source.stats().bytes() * 2 < object.size,
        "{} of {} bytes",
        source.stats().bytes(),
        object.size
    );
    eprintln!(
        "{rows} rows, {} of {} bytes fetched in {} requests, {elapsed:?}",
        source.stats().bytes(),
        object.size,
        source.stats().requests()
    );

    // Every column: the head requested beside the footer is kept, and the row groups it holds cost no request of
    // their own; one that starts in it and ends past it costs one, for its rest.
    let every = spec(&[
        ("id", "bigint"),
        ("name", "text"),
        ("amount", "double precision"),
    ]);
    let mut source = open(&env.s3, &object, &every).await.unwrap();
    assert_eq!(source.stats().requests(), 2, "the footer and the head");
    let mut rows = 0;
    while let Some(batch) = source.next_batch().await.unwrap() {
        rows += batch.rows.num_rows();
    }
    assert_eq!(rows, 400_000);
    let head_end = (4 + HEAD_SPECULATION).min(object.size - FOOTER_PREFETCH as u64);
    let past_head = metadata
        .row_groups()
        .iter()
        .filter(|group| {
            let (start, len) = group.column(group.num_columns() - 1).byte_range();
            start + len > head_end
        })
        .count();
    assert!(
        past_head < 4,
        "{past_head} of 4 row groups end past the head"
    );
    assert_eq!(source.stats().requests(), 2 + past_head as u64);
}
