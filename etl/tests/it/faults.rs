//! Concurrency and crashes: two loaders at once, a killed loader, a dropped connection.

use crate::support::{
    PEOPLE_SPEC, TestEnv, assert_loaded_once, upload_people, wait_for_copy, wait_for_no_etl_backend,
};

#[tokio::test(flavor = "multi_thread")]
async fn two_concurrent_loaders_load_each_object_once() {
    let env = TestEnv::new("concurrent").await;
    let spec = env.spec(PEOPLE_SPEC);
    let (total, id_sum) = upload_people(&env, "c", 8, 4000).await;
    // Both migrate at the same time too.
    let args = ["process", "--prefix", "c", "--dataset", spec.as_str()];
    let (a, b) = tokio::join!(env.run(&args), env.run(&args));
    a.assert_code(0);
    b.assert_code(0);
    assert_loaded_once(&env, total, id_sum).await;
    let loaded = a.logs("Loaded object.").len() + b.logs("Loaded object.").len();
    let finished = |run: &crate::support::Run, field: &str| {
        run.logs("Process finished.")[0][field].as_u64().unwrap()
    };
    let skipped = finished(&a, "skipped") + finished(&b, "skipped");
    assert_eq!(
        finished(&a, "loaded") + finished(&b, "loaded"),
        loaded as u64
    );
    assert_eq!(
        (loaded as u64, skipped),
        (8, 8),
        "each object loaded by exactly one loader and skipped by the other"
    );
    assert_eq!(env.count("SELECT count(*) FROM etl_objects").await, 8);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_or_disconnected_load_leaves_nothing_and_a_rerun_loads_everything() {
    let env = TestEnv::new("killed").await;
    let spec = env.spec(PEOPLE_SPEC);
    let (total, id_sum) = upload_people(&env, "k", 1, 400_000).await;
    let args = [
        "process",
        "--prefix",
        "k",
        "--dataset",
        spec.as_str(),
        "--copy-chunk-kib",
        "8",
    ];

    // SIGKILL the loader in the middle of its COPY.
    let mut child = env.command(&args).spawn().unwrap();
    wait_for_copy(&env).await;
    child.kill().await.unwrap();
    wait_for_no_etl_backend(&env).await;
    env.assert_people_empty().await;

    // Drop its connection in the middle of the COPY: the object fails as a runtime error and rolls back.
    let child = env.command(&args).spawn().unwrap();
    let pid = wait_for_copy(&env).await;
    env.db
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();
    let out = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("Object failed, nothing of it was loaded."),
        "{stdout}"
    );
    wait_for_no_etl_backend(&env).await;
    env.assert_people_empty().await;

    env.run(&args).await.assert_code(0);
    assert_loaded_once(&env, total, id_sum).await;
}
