//! The `infra-gen` binary: exit codes, `--check` diffs, env fallbacks, validation messages.

use std::process::{Command, Output};

use crate::support::TempDir;

fn infra_gen(dir: &TempDir, args: &[&str], envs: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_infra-gen"))
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(&dir.0)
        .output()
        .unwrap()
}

#[test]
fn gen_then_check_then_stale_missing_and_extra_files_fail_with_a_diff() {
    let dir = TempDir::new("cli-check");
    let written = infra_gen(&dir, &["gen"], &[]);
    assert!(written.status.success(), "{written:?}");
    assert!(dir.0.join("out/storage.tf.json").exists());
    assert!(dir.0.join("out/bootstrap/state.tf.json").exists());
    let check = infra_gen(&dir, &["gen", "--check"], &[]);
    assert_eq!(check.status.code(), Some(0), "{check:?}");

    std::fs::write(dir.0.join("out/extra.tf.json"), "{}\n").unwrap();
    std::fs::remove_file(dir.0.join("out/outputs.tf.json")).unwrap();
    let stale = dir.0.join("out/storage.tf.json");
    let text = std::fs::read_to_string(&stale)
        .unwrap()
        .replace("\"Enabled\"", "\"Suspended\"");
    std::fs::write(&stale, text).unwrap();
    std::fs::remove_file(dir.0.join("out/bootstrap/state.tf.json")).unwrap();
    // The env fallback of --check.
    let check = infra_gen(&dir, &["gen"], &[("INFRA_GEN_CHECK", "true")]);
    assert_eq!(check.status.code(), Some(1));
    let diff = String::from_utf8(check.stdout).unwrap();
    assert!(
        diff.contains("-          \"status\": \"Suspended\""),
        "{diff}"
    );
    assert!(diff.contains("out/extra.tf.json (on disk)"), "{diff}");
    assert!(diff.contains("out/outputs.tf.json (generated)"), "{diff}");
    assert!(
        diff.contains("out/bootstrap/state.tf.json (generated)"),
        "{diff}"
    );
    // One log line per module, both stale.
    let logs: Vec<serde_json::Value> = String::from_utf8(check.stderr)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(logs.len(), 2, "{logs:?}");
    assert!(logs.iter().all(|l| l["level"] == "error"), "{logs:?}");
}

#[test]
fn an_invalid_config_exits_2_naming_every_field_and_line() {
    let dir = TempDir::new("cli-invalid");
    let config = dir.0.join("custom.toml");
    std::fs::write(
        &config,
        "name = \"x\"\n[database]\nbackup_retention_days = 99\n",
    )
    .unwrap();
    let out = infra_gen(
        &dir,
        &["gen"],
        &[("INFRA_GEN_CONFIG", config.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(2));
    let log: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    let message = log["message"].as_str().unwrap();
    assert!(message.contains("custom.toml:1: name:"), "{message}");
    assert!(
        message.contains("custom.toml:3: database.backup_retention_days: must be 1-35"),
        "{message}"
    );
    assert!(
        !dir.0.join("out").exists(),
        "nothing is written on invalid input"
    );
}

#[test]
fn platform_toml_in_the_working_directory_is_picked_up_and_out_has_an_env_fallback() {
    let dir = TempDir::new("cli-default-config");
    std::fs::write(dir.0.join("platform.toml"), "name = \"acme\"\n").unwrap();
    let out = infra_gen(&dir, &["gen"], &[("INFRA_GEN_OUT", "tf")]);
    assert!(out.status.success(), "{out:?}");
    let storage = std::fs::read_to_string(dir.0.join("tf/storage.tf.json")).unwrap();
    assert!(storage.contains("\"acme-hadrian-ml-data-bucket\""));
}
