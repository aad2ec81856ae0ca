//! `etl ingest --compress`: what lands in S3 decompresses, with an independent decoder, to the local file's exact
//! bytes, on the single-PUT and the multipart path; the output is deterministic, so a rerun skips and a second
//! upload of the same file is the same object.

use std::io::Read;

use sha2::{Digest, Sha256};

use crate::support::{Run, TestEnv, people, servers};

/// Pseudo-random bytes (xorshift64): they do not compress, so 12 MiB make a three-part upload at 5 MiB parts.
fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

/// `etl ingest` of `paths` under `prefix`: gzip through the flag, zstd through the environment fallback.
async fn ingest(env: &TestEnv, codec: &str, prefix: &str, paths: &[String; 2]) -> Run {
    let mut args = vec!["ingest", "--prefix", prefix, "--part-size-mib", "5"];
    args.extend(paths.iter().map(String::as_str));
    if codec == "gzip" {
        args.extend(["--compress", "gzip"]);
        env.run(&args).await
    } else {
        env.run_with(&args, &[("ETL_COMPRESS", codec)]).await
    }
}

async fn stored(env: &TestEnv, key: &str) -> (Vec<u8>, String) {
    let object = env
        .s3
        .get_object()
        .bucket(&env.bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{key}: {e:?}"));
    let etag = object.e_tag().unwrap().to_owned();
    (object.body.collect().await.unwrap().to_vec(), etag)
}

#[tokio::test(flavor = "multi_thread")]
async fn ingest_compress_uploads_what_decompresses_to_the_file_and_a_rerun_skips() {
    let env = TestEnv::new("ingest_compress").await;
    let dir = servers().dir.join("ingest_compress");
    std::fs::create_dir_all(&dir).unwrap();
    let small = dir.join("people.csv");
    std::fs::write(&small, people(1, 2000).0).unwrap();
    let big = dir.join("noise.bin");
    std::fs::write(&big, noise(12 << 20)).unwrap();
    let files = [(small, "people.csv"), (big, "noise.bin")];
    let paths = files.each_ref().map(|(path, _)| path.display().to_string());

    for (codec, suffix) in [("gzip", ".gz"), ("zstd", ".zst")] {
        let first = ingest(&env, codec, &format!("{codec}/"), &paths).await;
        first.assert_code(0);
        assert_eq!(first.logs("Uploaded.").len(), 2, "{}", first.stdout);

        let mut etags = Vec::new();
        for (path, name) in &files {
            let original = std::fs::read(path).unwrap();
            let key = format!("{codec}/{name}{suffix}");
            let (body, etag) = stored(&env, &key).await;
            let mut restored = Vec::new();
            if codec == "gzip" {
                // Deterministic header: modification time 0, no file name.
                assert_eq!(
                    &body[3..8],
                    [0, 0, 0, 0, 0],
                    "{key} header {:?}",
                    &body[..10]
                );
                flate2::read::MultiGzDecoder::new(&body[..])
                    .read_to_end(&mut restored)
                    .unwrap();
            } else {
                restored = zstd::stream::decode_all(&body[..]).unwrap();
            }
            assert!(restored == original, "{key} does not decompress to {name}");
            let head = env
                .s3
                .head_object()
                .bucket(&env.bucket)
                .key(&key)
                .send()
                .await
                .unwrap();
            let metadata = head.metadata().unwrap();
            assert_eq!(metadata["compression"], codec);
            let sha = Sha256::digest(&original)
                .iter()
                .fold(String::new(), |hex, b| hex + &format!("{b:02x}"));
            assert_eq!(metadata["sha256"], sha);
            etags.push(etag);
        }
        // The big file went up in three parts (a multipart ETag ends with the part count).
        assert!(etags[1].ends_with("-3\""), "{etags:?}");

        let rerun = ingest(&env, codec, &format!("{codec}/"), &paths).await;
        rerun.assert_code(0);
        assert_eq!(
            rerun.logs("Unchanged, skipped.").len(),
            2,
            "{}",
            rerun.stdout
        );
        assert!(rerun.logs("Uploaded.").is_empty());

        // The same files under another prefix are the same objects, byte for byte.
        ingest(&env, codec, &format!("{codec}-again/"), &paths)
            .await
            .assert_code(0);
        for ((_, name), etag) in files.iter().zip(&etags) {
            let (_, again) = stored(&env, &format!("{codec}-again/{name}{suffix}")).await;
            assert_eq!(&again, etag, "{name}");
        }
    }
}
