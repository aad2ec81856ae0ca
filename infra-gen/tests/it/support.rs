//! Fixtures and helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use infra_gen::Files;
use infra_gen::model::Platform;
use infra_gen::model::config;
use serde_json::{Value, json};

/// The fixture platforms: the defaults (no file), the defaults with the GitHub CI/CD identity, a
/// production-like file, and every optional feature on (the configuration `just e2e` applies).
pub(crate) fn platforms() -> Vec<(&'static str, Platform)> {
    let fixture = |name: &str| {
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/it/fixtures/{name}.toml")))
    };
    [
        ("default", None),
        ("github", fixture("github")),
        ("production", fixture("production")),
        ("full", fixture("full")),
    ]
    .into_iter()
    .map(|(name, path)| {
        let platform = config::load(path.as_deref()).expect("fixture is valid");
        (name, platform)
    })
    .collect()
}

/// Every fixture platform's generated files.
pub(crate) fn fixtures() -> Vec<(&'static str, Files)> {
    platforms()
        .into_iter()
        .map(|(name, platform)| {
            (
                name,
                infra_gen::generate(&platform).expect("fixture generates"),
            )
        })
        .collect()
}

/// Every fixture platform's two root modules: the platform (named after the fixture) and the
/// bootstrap module (`<fixture>-bootstrap`).
pub(crate) fn modules() -> Vec<(String, Files)> {
    platforms()
        .into_iter()
        .flat_map(|(name, platform)| {
            [
                (
                    name.to_owned(),
                    infra_gen::generate(&platform).expect("fixture generates"),
                ),
                (
                    format!("{name}-bootstrap"),
                    infra_gen::generate_bootstrap(&platform).expect("fixture bootstrap generates"),
                ),
            ]
        })
        .collect()
}

/// A fresh directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(label: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .subsec_nanos();
        let path =
            std::env::temp_dir().join(format!("infra-gen-{label}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create temp dir");
        Self(path)
    }

    pub(crate) fn write_files(&self, files: &Files) {
        for (name, text) in files {
            std::fs::write(self.0.join(name), text).expect("write generated file");
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The local provider mirror: `INFRA_GEN_TF_PLUGIN_DIR`, else the first well-known directory
/// that holds hashicorp/aws; `None` means `terraform init` downloads from the registry.
pub(crate) fn plugin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("INFRA_GEN_TF_PLUGIN_DIR") {
        return Some(PathBuf::from(dir));
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    [
        PathBuf::from("/opt/tf-plugins"),
        home.join(".terraform.d/plugins"),
        PathBuf::from("/usr/share/terraform/plugins"),
    ]
    .into_iter()
    .find(|d| d.join("registry.terraform.io/hashicorp/aws").is_dir())
}

/// `terraform <args>` in `dir` with a project-local CLI config and no prompts; panics with the
/// output when it fails.
#[track_caller]
pub(crate) fn terraform(dir: &Path, args: &[&str]) -> String {
    let cli_config = dir.join(".terraformrc");
    if !cli_config.exists() {
        std::fs::write(&cli_config, "").expect("write CLI config");
    }
    let output = Command::new("terraform")
        .args(args)
        .current_dir(dir)
        .env("TF_CLI_CONFIG_FILE", &cli_config)
        .env("TF_IN_AUTOMATION", "1")
        .env("TF_INPUT", "0")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .expect("terraform is on PATH");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "terraform {args:?} failed in {}:\n{stdout}\n{}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// `terraform init` (offline from the mirror when there is one) with extra arguments.
#[track_caller]
pub(crate) fn terraform_init(dir: &Path, extra: &[&str]) {
    let plugin_arg = plugin_dir().map(|d| format!("-plugin-dir={}", d.display()));
    let mut args = vec!["init", "-input=false", "-no-color"];
    args.extend(plugin_arg.as_deref());
    args.extend(extra);
    terraform(dir, &args);
}

/// Generated files merged into one JSON value per top-level block kind.
pub(crate) fn merged(files: &[String]) -> Value {
    let mut merged = json!({});
    for text in files {
        let doc: Value = serde_json::from_str(text).unwrap();
        for (kind, blocks) in doc.as_object().unwrap() {
            for (key, value) in blocks.as_object().into_iter().flatten() {
                let slot = &mut merged[kind][key];
                match (slot.as_object_mut(), value.as_object()) {
                    (Some(have), Some(more)) => have.extend(more.clone()),
                    _ => *slot = value.clone(),
                }
            }
        }
    }
    merged
}

/// Both modules merged (they share only the provider, its data sources and `region`).
pub(crate) fn generated(toml: &str) -> Value {
    let platform = config::from_str(toml, "test.toml").unwrap();
    let mut files: Vec<String> = infra_gen::generate(&platform)
        .unwrap()
        .into_values()
        .collect();
    files.extend(
        infra_gen::generate_bootstrap(&platform)
            .unwrap()
            .into_values(),
    );
    merged(&files)
}

/// The platform module alone.
pub(crate) fn platform_module(toml: &str) -> Value {
    let platform = config::from_str(toml, "test.toml").unwrap();
    let files: Vec<String> = infra_gen::generate(&platform)
        .unwrap()
        .into_values()
        .collect();
    merged(&files)
}
