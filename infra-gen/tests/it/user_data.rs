//! The ETL host's cloud-init document, as the host will receive it: the emitted `user_data`
//! rendered the way Terraform renders it (references replaced by realistic values, `$${` back to
//! `${`), parsed with `PyYAML` (the parser cloud-init itself uses), checked for the keys and files
//! cloud-init expects, validated with `cloud-init schema` when that tool is available, and the
//! setup script checked with shellcheck.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{TempDir, fixtures, platforms};

/// EC2's limit on user data (what Terraform sends: the document gzip-compressed, base64-encoded).
const USER_DATA_LIMIT: usize = 16 * 1024;

/// The Terraform references the document may contain, with long but realistic values.
const REFERENCES: [(&str, &str); 10] = [
    (
        "aws_ssm_parameter.cloudwatch_agent_workers.name",
        "AmazonCloudWatch-acme-production-platform-etl-worker",
    ),
    (
        "aws_sqs_queue.etl_events.url",
        "https://sqs.ap-southeast-2.amazonaws.com/123456789012/acme-production-platform-etl-events",
    ),
    (
        "aws_ecr_repository.etl.repository_url",
        "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/acme-production-platform-etl",
    ),
    (
        "aws_s3_bucket.data.bucket",
        "acme-production-platform-hadrian-ml-data-bucket",
    ),
    (
        "aws_db_instance.main.master_user_secret[0].secret_arn",
        "arn:aws-us-gov:secretsmanager:ap-southeast-2:123456789012:secret:rds!db-0123abcd-4567-89ef-0123-456789abcdef-AbCdEf",
    ),
    (
        "aws_db_instance.main.address",
        "acme-production-platform-postgres.c0123456789a.ap-southeast-2.rds.amazonaws.com",
    ),
    ("aws_db_instance.main.port", "5432"),
    ("data.aws_region.current.name", "ap-southeast-2"),
    (
        "aws_ssm_parameter.cloudwatch_agent.name",
        "AmazonCloudWatch-acme-production-platform-etl-host",
    ),
    (
        "aws_cloudwatch_log_group.etl_containers.name",
        "/hadrian/acme-production-platform/etl",
    ),
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What Terraform makes of a template string: `$${` and `%%{` unescape, `${ref}` is replaced.
/// Panics on a reference the test does not know, so an unescaped shell `${VAR}` cannot hide.
#[track_caller]
fn terraform_render(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find(['$', '%']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("%%{") {
            out.push_str("%{");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let end = after.find('}').expect("closed interpolation");
            let reference = &after[..end];
            let value = REFERENCES
                .iter()
                .find(|(r, _)| *r == reference)
                .unwrap_or_else(|| panic!("unexpected interpolation ${{{reference}}} in user_data"))
                .1;
            out.push_str(value);
            rest = &after[end + 1..];
        } else {
            assert!(
                !tail.starts_with("%{"),
                "unescaped template directive in user_data"
            );
            out.push_str(&tail[..1]);
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The cloud-init document of `role` (`host`, `worker`) as emitted: the local the instance's or the
/// launch template's `base64gzip(...)` user data reads; `None` when there is none (no workers).
pub(crate) fn user_data_template(files: &infra_gen::Files, role: &str) -> Option<String> {
    let compute: Value = serde_json::from_str(&files["compute.tf.json"]).unwrap();
    let local = format!("etl_{role}_user_data");
    let user_data = if role == "host" {
        compute["resource"]["aws_instance"]["etl_host"]["user_data_base64"].clone()
    } else {
        let fleet: Value = serde_json::from_str(files.get("fleet.tf.json")?).unwrap();
        fleet["resource"]["aws_launch_template"]["etl_worker"]["user_data"].clone()
    };
    assert_eq!(
        user_data.as_str()?,
        format!("${{base64gzip(local.{local})}}")
    );
    compute["locals"][&local].as_str().map(str::to_owned)
}

/// What EC2 receives: the rendered document gzip-compressed (as Terraform's `base64gzip` does)
/// and base64-encoded, measured with Python's gzip.
fn sent_size(text: &str) -> usize {
    let script = "import base64, gzip, sys; print(len(base64.b64encode(gzip.compress(sys.stdin.buffer.read()))))";
    python(script, text).trim().parse().unwrap()
}

/// The host's cloud-init document for each fixture, as text and parsed.
fn documents() -> Vec<(&'static str, String, Value)> {
    fixtures()
        .into_iter()
        .map(|(fixture, files)| {
            let template = user_data_template(&files, "host").unwrap();
            let text = terraform_render(&template);
            let parsed = pyyaml(&text);
            (fixture, text, parsed)
        })
        .collect()
}

/// Parses YAML with `PyYAML` (`safe_load`), as cloud-init does, and returns it as JSON.
#[track_caller]
fn pyyaml(text: &str) -> Value {
    let script = "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))";
    serde_json::from_str(&python(script, text)).unwrap()
}

/// Runs a Python script (`INFRA_GEN_PYTHON`, else `python3`; `PyYAML` needed) on `stdin`; its stdout.
#[track_caller]
fn python(script: &str, stdin: &str) -> String {
    let python = std::env::var("INFRA_GEN_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = Command::new(&python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{python} (with PyYAML) is needed: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{python} fails on the document:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A tool from `env` (a path), else the workspace's `.work/` install, else `PATH`.
///
/// A developer without the tool gets a note and the rest of the test; CI (`CI` set, as `.ci/run` and GitHub
/// Actions do) installs every tool through `.ci/setup`, so there a missing one fails the test instead of
/// silently skipping the check.
#[track_caller]
fn tool(env: &str, local: &str, name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    let local = workspace().join(local);
    if local.is_file() {
        return Some(local);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    assert!(
        found.is_some() || std::env::var_os("CI").is_none(),
        "{name} is required on CI ({env}, {} or PATH); .ci/setup installs it",
        local.display()
    );
    found
}

fn file<'a>(doc: &'a Value, path: &str) -> &'a Value {
    doc["write_files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("write_files has no {path}"))
}

fn content<'a>(doc: &'a Value, path: &str) -> &'a str {
    file(doc, path)["content"].as_str().unwrap()
}

#[test]
fn the_document_is_cloud_config_under_the_user_data_limit() {
    for (fixture, text, doc) in documents() {
        assert!(text.starts_with("#cloud-config\n"), "{fixture}");
        let sent = sent_size(&text);
        assert!(
            sent < USER_DATA_LIMIT,
            "{fixture}: {sent} bytes, limit {USER_DATA_LIMIT}"
        );
        assert_eq!(doc["package_update"], true, "{fixture}");
        let packages: Vec<&str> = doc["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        assert_eq!(packages, ["ca-certificates", "curl", "gnupg", "unzip"]);
        let paths: Vec<&str> = doc["write_files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        assert_eq!(
            paths,
            [
                "/etc/hadrian/etl.env",
                "/opt/hadrian/etl/compose.yaml",
                "/opt/hadrian/etl/deploy.sh",
                "/etc/systemd/system/hadrian-etl.service",
                "/etc/systemd/system/hadrian-etl-queue.service",
                "/etc/systemd/system/hadrian-etl.timer",
                "/usr/local/sbin/hadrian-etl-host-setup",
            ]
        );
        for f in doc["write_files"].as_array().unwrap() {
            let executable = f["path"] == "/opt/hadrian/etl/deploy.sh"
                || f["path"] == "/usr/local/sbin/hadrian-etl-host-setup";
            let mode = if executable { "0755" } else { "0644" };
            assert_eq!(f["permissions"], mode, "{fixture}: {}", f["path"]);
            assert_eq!(f["owner"], "root:root");
        }
    }
}

#[test]
fn the_host_files_are_exactly_the_committed_ones() {
    let root = workspace();
    for (fixture, _, doc) in documents() {
        for (path, source) in [
            ("/opt/hadrian/etl/compose.yaml", "etl/deploy/compose.yaml"),
            ("/opt/hadrian/etl/deploy.sh", "etl/deploy/deploy.sh"),
            (
                "/etc/systemd/system/hadrian-etl.service",
                "etl/deploy/hadrian-etl.service",
            ),
            (
                "/etc/systemd/system/hadrian-etl-queue.service",
                "etl/deploy/hadrian-etl-queue.service",
            ),
            (
                "/usr/local/sbin/hadrian-etl-host-setup",
                "infra-gen/templates/etl-host-setup.sh",
            ),
        ] {
            let committed = std::fs::read_to_string(root.join(source)).unwrap();
            assert_eq!(content(&doc, path), committed, "{fixture}: {path}");
        }
    }
}

#[test]
fn the_env_file_and_timer_carry_the_platform_values() {
    for ((fixture, _, doc), (_, platform)) in documents().into_iter().zip(platforms()) {
        let env = content(&doc, "/etc/hadrian/etl.env");
        let lines: Vec<&str> = env.lines().filter(|l| !l.starts_with('#')).collect();
        let db = &platform.database.db_name;
        assert_eq!(
            lines,
            [
                "ETL_BUCKET=acme-production-platform-hadrian-ml-data-bucket".to_owned(),
                "ETL_DB_SECRET_ARN=arn:aws-us-gov:secretsmanager:ap-southeast-2:123456789012:secret:rds!db-0123abcd-4567-89ef-0123-456789abcdef-AbCdEf".to_owned(),
                format!("ETL_DATABASE_URL=postgres://acme-production-platform-postgres.c0123456789a.ap-southeast-2.rds.amazonaws.com:5432/{db}"),
                "AWS_REGION=ap-southeast-2".to_owned(),
                "ETL_LOG_GROUP=/hadrian/acme-production-platform/etl".to_owned(),
                "ETL_QUEUE_URL=https://sqs.ap-southeast-2.amazonaws.com/123456789012/acme-production-platform-etl-events".to_owned(),
                format!("ETL_JOBS={}", if fixture == "full" { 4 } else { 8 }),
            ],
            "{fixture}"
        );
        let timer = content(&doc, "/etc/systemd/system/hadrian-etl.timer");
        let calendar = match fixture {
            "default" => "OnCalendar=*-*-* 00/1:00:00",
            "github" => "OnCalendar=*-*-* 00/24:00:00",
            _ => "OnCalendar=*-*-* *:00/15:00",
        };
        for line in [
            calendar,
            "Persistent=true",
            "Unit=hadrian-etl.service",
            "WantedBy=timers.target",
        ] {
            assert!(timer.lines().any(|l| l == line), "{fixture}: {line}");
        }
        let name = platform.name.to_string();
        assert_eq!(
            doc["runcmd"],
            serde_json::json!([[
                "/usr/local/sbin/hadrian-etl-host-setup",
                "ap-southeast-2",
                "AmazonCloudWatch-acme-production-platform-etl-host",
                "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/acme-production-platform-etl",
                format!("/hadrian/{name}/etl/image-digest"),
                "host",
            ]]),
            "{fixture}"
        );
    }
}

#[test]
fn the_setup_script_installs_and_starts_everything_the_host_needs() {
    let (_, _, doc) = documents().remove(0);
    let script = content(&doc, "/usr/local/sbin/hadrian-etl-host-setup");
    for needed in [
        "set -euo pipefail",
        "https://download.docker.com/linux/ubuntu/gpg",
        "docker_fingerprint=9DC858229FC7DD38854AE2D88D81803C0EBFCD88",
        "https://download.docker.com/linux/ubuntu %s stable",
        "apt-get install -y -q docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin",
        "systemctl enable --now docker.service",
        "https://awscli.amazonaws.com/$bundle",
        "\"$work/aws/install\" --update",
        "https://amazoncloudwatch-agent-$region.s3.$region.amazonaws.com/ubuntu/$arch/latest/amazon-cloudwatch-agent.deb",
        "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl \\\n    -a fetch-config -m ec2 -s -c \"ssm:$agent_parameter\"",
        "systemctl enable --now hadrian-etl.timer",
        "/opt/hadrian/etl/deploy.sh --restore \"$repository_url\" \"$image_parameter\" || restore_failed=1",
        "((restore_failed == 0))",
    ] {
        assert!(script.contains(needed), "setup script lacks {needed:?}");
    }
    // The image is restored after the timer is enabled and before the agent step, whose failure
    // must not hide a restore failure and vice versa.
    let at = |needle: &str| script.find(needle).unwrap();
    assert!(at("enable --now hadrian-etl.timer") < at("/opt/hadrian/etl/deploy.sh --restore"));
    assert!(at("/opt/hadrian/etl/deploy.sh --restore") < at("amazon-cloudwatch-agent-ctl"));
    assert!(at("amazon-cloudwatch-agent-ctl") < at("((restore_failed == 0))"));
    // Ubuntu's docker.io is only ever removed, never installed next to Docker's packages.
    let commands = script.lines().filter(|l| !l.trim_start().starts_with('#'));
    for line in commands.filter(|l| l.contains("docker.io")) {
        assert!(line.trim_start().starts_with("apt-get remove"), "{line}");
    }
    if let Some(shellcheck) = tool(
        "INFRA_GEN_SHELLCHECK",
        ".work/venv/bin/shellcheck",
        "shellcheck",
    ) {
        let dir = TempDir::new("setup-script");
        let path = dir.0.join("hadrian-etl-host-setup");
        std::fs::write(&path, script).unwrap();
        let out = Command::new(shellcheck).arg(&path).output().unwrap();
        assert!(
            out.status.success(),
            "shellcheck:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    } else {
        eprintln!("shellcheck not found (INFRA_GEN_SHELLCHECK or PATH): setup script not linted");
    }
}

#[test]
fn cloud_init_accepts_the_document() {
    let Some(cloud_init) = tool(
        "INFRA_GEN_CLOUD_INIT",
        ".work/cloud-init/cloud-init",
        "cloud-init",
    ) else {
        eprintln!(
            "cloud-init not found (INFRA_GEN_CLOUD_INIT, .work/cloud-init/cloud-init or PATH; \
             install it with infra-gen/scripts/install-cloud-init.sh): schema not validated"
        );
        return;
    };
    for (fixture, text, _) in documents() {
        let dir = TempDir::new("cloud-init");
        let path = dir.0.join("user-data.yaml");
        std::fs::write(&path, &text).unwrap();
        let out = Command::new(&cloud_init)
            .args(["schema", "--config-file"])
            .arg(&path)
            .output()
            .unwrap();
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{fixture}: {report}");
        assert!(report.contains("Valid cloud-config"), "{fixture}: {report}");
    }
}

#[test]
fn the_rendering_helper_refuses_unescaped_shell_variables() {
    assert_eq!(terraform_render("a $${HOME} %%{x} $1"), "a ${HOME} %{x} $1");
    let unescaped = std::panic::catch_unwind(|| terraform_render("echo ${HOME}"));
    assert!(unescaped.is_err());
}

/// Whether `path` matches the agent's `pattern`, where `*` stands for any text without `/`.
fn agent_glob_matches(pattern: &str, path: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == path,
        Some((prefix, rest)) => path.strip_prefix(prefix).is_some_and(|tail| {
            (0..=tail.len())
                .take_while(|&i| !tail[..i].contains('/'))
                .any(|i| agent_glob_matches(rest, &tail[i..]))
        }),
    }
}

#[test]
fn every_log_file_the_host_writes_is_collected_by_the_agent() {
    assert!(agent_glob_matches(
        "/var/log/hadrian/*.log",
        "/var/log/hadrian/x.log"
    ));
    assert!(!agent_glob_matches(
        "/var/log/hadrian/*.log",
        "/var/log/hadrian/a/x.log"
    ));
    assert!(!agent_glob_matches(
        "/var/log/hadrian/*.log",
        "/var/log/hadrian/x.txt"
    ));
    for (fixture, files) in fixtures() {
        let monitoring: Value = serde_json::from_str(&files["monitoring.tf.json"]).unwrap();
        let agent: Value = serde_json::from_str(
            monitoring["resource"]["aws_ssm_parameter"]["cloudwatch_agent"]["value"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        let patterns: Vec<&str> = agent["logs"]["logs_collected"]["files"]["collect_list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["file_path"].as_str().unwrap())
            .collect();
        let text = terraform_render(&user_data_template(&files, "host").unwrap());
        // Every concrete file under /var/log/hadrian that a unit or script on the host names.
        let mut written: Vec<&str> = text
            .match_indices("/var/log/hadrian/")
            .map(|(i, _)| {
                let end = text[i..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || "/._-".contains(c)))
                    .map_or(text.len(), |n| i + n);
                &text[i..end]
            })
            .filter(|path| path.len() > "/var/log/hadrian/".len())
            .collect();
        written.sort_unstable();
        written.dedup();
        assert_eq!(
            written,
            [
                "/var/log/hadrian/deploy.log",
                "/var/log/hadrian/etl-queue.log",
                "/var/log/hadrian/etl-run.log"
            ],
            "{fixture}"
        );
        for path in written {
            assert!(
                patterns.iter().any(|p| agent_glob_matches(p, path)),
                "{fixture}: {path} is written on the host but the agent collects only {patterns:?}"
            );
        }
        let service = content(&pyyaml(&text), "/etc/systemd/system/hadrian-etl.service").to_owned();
        assert!(
            service.lines().any(|l| l == "LogsDirectory=hadrian"),
            "{fixture}"
        );
    }
}

#[test]
fn a_worker_runs_the_host_runtime_with_the_queue_consumer_only() {
    let with_workers: Vec<&str> = platforms()
        .iter()
        .filter(|(_, platform)| platform.etl.workers.is_some())
        .map(|(fixture, _)| *fixture)
        .collect();
    assert!(
        !with_workers.is_empty(),
        "no fixture declares [etl] workers, so no worker's user data would be checked"
    );
    let mut checked = Vec::new();
    for (fixture, files) in fixtures() {
        let Some(template) = user_data_template(&files, "worker") else {
            continue;
        };
        checked.push(fixture);
        let host = terraform_render(&user_data_template(&files, "host").unwrap());
        let worker = terraform_render(&template);
        assert!(sent_size(&worker) < USER_DATA_LIMIT, "{fixture}");
        let (host_doc, worker_doc) = (pyyaml(&host), pyyaml(&worker));
        assert_eq!(
            host_doc["write_files"], worker_doc["write_files"],
            "{fixture}"
        );
        let runcmd = worker_doc["runcmd"][0].as_array().unwrap();
        assert_eq!(runcmd.last().unwrap(), "worker", "{fixture}");
        let host_runcmd = host_doc["runcmd"][0].as_array().unwrap();
        // The same setup, except the agent configuration (the workers' adds the group dimension).
        assert_eq!(runcmd[..2], host_runcmd[..2], "{fixture}");
        assert_eq!(runcmd[3..5], host_runcmd[3..5], "{fixture}");
        assert_eq!(
            runcmd[2],
            "AmazonCloudWatch-acme-production-platform-etl-worker"
        );
    }
    assert_eq!(
        checked, with_workers,
        "exactly the fixtures with workers have a worker launch template"
    );
}
