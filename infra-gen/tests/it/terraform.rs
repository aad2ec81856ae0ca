//! The real `terraform` binary on freshly generated output.

use crate::support::{TempDir, fixtures, modules, terraform, terraform_init};

#[test]
fn generated_output_initialises_offline_and_validates() {
    for (fixture, files) in modules() {
        let dir = TempDir::new(&fixture);
        dir.write_files(&files);
        terraform_init(&dir.0, &["-backend=false"]);
        let report = terraform(&dir.0, &["validate", "-json", "-no-color"]);
        let report: serde_json::Value = serde_json::from_str(&report).unwrap();
        assert_eq!(report["valid"], true, "{fixture}: {report:#}");
        assert_eq!(report["warning_count"], 0, "{fixture}: {report:#}");
    }
}

#[test]
fn a_local_run_can_replace_the_s3_backend_with_local_state() {
    let (_, files) = fixtures().remove(0);
    let dir = TempDir::new("local-backend");
    dir.write_files(&files);
    std::fs::write(
        dir.0.join("backend_override.tf.json"),
        r#"{"terraform":{"backend":{"local":{}}}}"#,
    )
    .unwrap();
    terraform_init(&dir.0, &[]);
    assert!(dir.0.join(".terraform/terraform.tfstate").exists());
    let backend = std::fs::read_to_string(dir.0.join(".terraform/terraform.tfstate")).unwrap();
    assert!(backend.contains(r#""type": "local""#), "{backend}");
}
