//! Refactor safety: a rename without a declaration fails generation naming both addresses; a
//! declared rename becomes a `moved` block, and Terraform on moto then plans a move, not a
//! destroy and create. The ledgers of the fixtures are committed beside their toml.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use infra_gen::ledger::{self, History, Ledger, Module, Moved, Removed};
use infra_gen::model::config;

use crate::support::{TempDir, platforms, terraform, terraform_init};

fn infra_gen(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_infra-gen"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// A rename from the ledger's point of view: the committed ledger (written by an older
/// generator) has `aws_s3_bucket.datasets`, the code now emits `aws_s3_bucket.data`.
#[test]
fn an_undeclared_rename_fails_naming_both_addresses_and_a_stale_ledger_fails_check() {
    let dir = TempDir::new("ledger-rename");
    let first = infra_gen(&dir.0, &["gen"]);
    assert!(first.status.success(), "{first:?}");
    let path = dir.0.join("out/addresses.txt");
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.contains("\naws_s3_bucket.data\n"), "{written}");
    assert!(written.contains("\naws_db_instance.main\n"), "{written}");

    let older = written.replace("\naws_s3_bucket.data\n", "\naws_s3_bucket.datasets\n");
    std::fs::write(&path, &older).unwrap();
    let refused = infra_gen(&dir.0, &["gen"]);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let log: serde_json::Value = serde_json::from_slice(&refused.stderr).unwrap();
    let message = log["message"].as_str().unwrap();
    assert!(
        message.contains(
            "aws_s3_bucket.datasets is in the address ledger but no longer generated \
             (new: aws_s3_bucket.data)"
        ),
        "{message}"
    );
    assert!(message.contains("declare it moved or removed"), "{message}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), older, "untouched");

    // A new address the ledger lacks: `gen` adds it, `--check` fails until then.
    let lacking = written.replace("\naws_s3_bucket.data\n", "\n");
    std::fs::write(&path, &lacking).unwrap();
    let check = infra_gen(&dir.0, &["gen", "--check"]);
    assert_eq!(check.status.code(), Some(1), "{check:?}");
    let diff = String::from_utf8(check.stdout).unwrap();
    assert!(diff.contains("+aws_s3_bucket.data\n"), "{diff}");
    assert!(infra_gen(&dir.0, &["gen"]).status.success());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), written);
}

/// Each fixture's ledger is committed beside its toml and must match what it generates now;
/// `INFRA_GEN_UPDATE_LEDGERS=1` rewrites them (after the same checks `gen` makes).
#[test]
fn fixture_ledgers_are_committed_and_current() {
    let update = std::env::var_os("INFRA_GEN_UPDATE_LEDGERS").is_some();
    for (name, platform) in platforms().into_iter().filter(|(n, _)| *n != "default") {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("tests/it/fixtures/{name}.addresses.txt"));
        let doc = infra_gen::document(&platform, &ledger::HISTORY).unwrap();
        let current = Ledger::of(&doc);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        let previous = Ledger::parse(&committed, &path.display().to_string()).unwrap();
        ledger::check(&previous, &current, &ledger::HISTORY, Module::Platform).unwrap();
        if update {
            std::fs::write(&path, current.render()).unwrap();
        } else {
            assert_eq!(
                committed,
                current.render(),
                "{} is stale: INFRA_GEN_UPDATE_LEDGERS=1 cargo test -p infra-gen --test it ledger",
                path.display()
            );
        }
    }
}

/// `moto_server` on a free loopback port (the local platform's `emulator.py` finds the port and
/// waits); stopped by pid on drop.
struct Moto {
    child: Child,
    url: String,
}

/// One of the local platform's scripts in `infra-gen/local/`.
fn local_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("local")
        .join(name)
}

impl Moto {
    fn start(log: &Path) -> Self {
        let port = Command::new("python3")
            .arg(local_script("emulator.py"))
            .arg("port")
            .output()
            .unwrap();
        let port = String::from_utf8(port.stdout).unwrap().trim().to_owned();
        let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.work/venv/bin/moto_server");
        let bin = if venv.exists() {
            venv
        } else {
            PathBuf::from("moto_server")
        };
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port])
            .stdout(std::fs::File::create(log).unwrap())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("moto_server on PATH or in .work/venv");
        let url = format!("http://127.0.0.1:{port}");
        let moto = Self { child, url };
        let waited = Command::new("python3")
            .arg(local_script("emulator.py"))
            .args(["wait-http", &format!("{}/moto-api/", moto.url), "60"])
            .status()
            .unwrap();
        assert!(
            waited.success(),
            "moto_server did not answer on {}",
            moto.url
        );
        moto
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The provider files and only the data bucket of `storage.tf.json` (enough to show what happens
/// to it, and fast: no lifecycle or KMS waits), with `edit` applied to the bucket file,
/// and the local platform's override file pointing them at moto.
fn write_buckets(dir: &Path, files: &infra_gen::Files, moto: &Moto, edit: fn(String) -> String) {
    for name in [
        "versions.tf.json",
        "providers.tf.json",
        "variables.tf.json",
        "backend.tf.json",
    ] {
        std::fs::write(dir.join(name), &files[name]).unwrap();
    }
    let storage: serde_json::Value = serde_json::from_str(&files["storage.tf.json"]).unwrap();
    let buckets = serde_json::json!({
        "resource": { "aws_s3_bucket": { "data": storage["resource"]["aws_s3_bucket"]["data"] } }
    });
    let text = serde_json::to_string_pretty(&buckets).unwrap();
    std::fs::write(dir.join("storage.tf.json"), edit(text)).unwrap();
    let helper = Command::new("python3")
        .arg(local_script("localtf.py"))
        .args(["override", dir.to_str().unwrap(), "ami-00000000", &moto.url])
        .output()
        .unwrap();
    assert!(helper.status.success(), "{helper:?}");
}

#[test]
fn a_declared_rename_emits_a_moved_block_and_terraform_plans_a_move_on_moto() {
    let platform = config::load(None).unwrap();
    let history = History {
        moved: &[Moved {
            from: "aws_s3_bucket.datasets",
            to: "aws_s3_bucket.data",
        }],
        ..History::default()
    };
    let doc = infra_gen::document(&platform, &history).unwrap();
    let before = Ledger::of(&infra_gen::document(&platform, &History::default()).unwrap())
        .render()
        .replace("\naws_s3_bucket.data\n", "\naws_s3_bucket.datasets\n");
    let previous = Ledger::parse(&before, "test").unwrap();
    ledger::check(&previous, &Ledger::of(&doc), &history, Module::Platform).unwrap();
    let files = doc.render().unwrap();
    let blocks: serde_json::Value = serde_json::from_str(&files["history.tf.json"]).unwrap();
    assert_eq!(
        blocks,
        serde_json::json!({"moved": [{"from": "aws_s3_bucket.datasets", "to": "aws_s3_bucket.data"}]})
    );

    // Apply what an older generator emitted: the data bucket at aws_s3_bucket.datasets.
    let dir = TempDir::new("ledger-moto");
    let moto = Moto::start(&dir.0.join("moto.log"));
    let work = dir.0.join("tf");
    std::fs::create_dir_all(&work).unwrap();
    write_buckets(&work, &files, &moto, |text| {
        text.replace("\"data\": {", "\"datasets\": {")
    });
    terraform_init(&work, &[]);
    terraform(&work, &["apply", "-auto-approve", "-no-color"]);

    // The new generator without the moved block would replace the bucket (data loss)...
    write_buckets(&work, &files, &moto, |text| text);
    let replace = terraform(&work, &["plan", "-no-color"]);
    assert!(
        replace.contains("aws_s3_bucket.datasets will be destroyed")
            && replace.contains("aws_s3_bucket.data will be created"),
        "{replace}"
    );
    // ...with it, Terraform moves the state and changes nothing.
    std::fs::write(work.join("history.tf.json"), &files["history.tf.json"]).unwrap();
    let moved = terraform(&work, &["plan", "-no-color"]);
    assert!(
        moved.contains("aws_s3_bucket.datasets has moved to aws_s3_bucket.data"),
        "{moved}"
    );
    assert!(
        moved.contains("0 to add, 0 to change, 0 to destroy"),
        "{moved}"
    );
}

#[test]
fn declarations_become_blocks_only_where_they_apply() {
    let platform = config::load(None).unwrap();
    let history = History {
        moved: &[
            Moved {
                from: "aws_s3_bucket.raw",
                to: "aws_s3_bucket.datasets",
            },
            Moved {
                from: "aws_s3_bucket.datasets",
                to: "aws_s3_bucket.data",
            },
            // Its chain ends at nothing generated here (another configuration's resource).
            Moved {
                from: "aws_iam_role.github_old",
                to: "aws_iam_role.github_plan",
            },
        ],
        removed: &[
            Removed {
                from: "aws_eip.spare",
                destroy: true,
            },
            // Still generated in this configuration: no block.
            Removed {
                from: "aws_vpc.main",
                destroy: false,
            },
        ],
        ..History::default()
    };
    let files = infra_gen::document(&platform, &history)
        .unwrap()
        .render()
        .unwrap();
    let blocks: serde_json::Value = serde_json::from_str(&files["history.tf.json"]).unwrap();
    assert_eq!(
        blocks,
        serde_json::json!({
            "moved": [
                {"from": "aws_s3_bucket.raw", "to": "aws_s3_bucket.datasets"},
                {"from": "aws_s3_bucket.datasets", "to": "aws_s3_bucket.data"},
            ],
            "removed": [{"from": "aws_eip.spare", "lifecycle": {"destroy": true}}],
        })
    );

    let still_there = History {
        moved: &[Moved {
            from: "aws_vpc.main",
            to: "aws_s3_bucket.data",
        }],
        ..History::default()
    };
    let err = infra_gen::document(&platform, &still_there).unwrap_err();
    assert_eq!(
        err.to_string(),
        "aws_vpc.main: declared moved to aws_s3_bucket.data but still generated"
    );
}

/// The plan role's `ReadOnlyAccess` attachment and inline state policy, adopted by the bootstrap
/// module from the platform's state (forgotten there), are destroyed by the bootstrap's next
/// apply, not forgotten a second time: the role must lose `ReadOnlyAccess`.
#[test]
fn the_bootstrap_destroys_the_plan_roles_former_grants() {
    let platform = config::from_str(
        "[delivery]\ngithub_repository = \"o/r\"\nstate_bucket = \"tfstate\"\n",
        "test.toml",
    )
    .unwrap();
    let removed = |files: infra_gen::Files| -> Vec<(String, bool)> {
        let blocks: serde_json::Value = serde_json::from_str(&files["history.tf.json"]).unwrap();
        blocks["removed"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["from"].as_str().unwrap().contains("github_plan"))
            .map(|b| {
                (
                    b["from"].as_str().unwrap().to_owned(),
                    b["lifecycle"]["destroy"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    let bootstrap = removed(infra_gen::generate_bootstrap(&platform).unwrap());
    assert_eq!(
        bootstrap,
        [
            ("aws_iam_role_policy.github_plan".to_owned(), true),
            (
                "aws_iam_role_policy_attachment.github_plan_read_only".to_owned(),
                true
            ),
        ]
    );
    let platform_module = removed(infra_gen::generate(&platform).unwrap());
    assert!(
        platform_module
            .iter()
            .any(|(from, destroy)| from.ends_with("github_plan_read_only") && !destroy),
        "{platform_module:?}"
    );
}

/// On moto, a bootstrap state that holds the plan role's former attachment and inline policy:
/// the platform module's history (forget) would leave them on the role; the bootstrap's own
/// history destroys them. moto loads no AWS managed policy, so a customer managed policy stands
/// in for `ReadOnlyAccess` at the same address: the `removed` block decides by address alone.
#[test]
fn an_existing_bootstrap_plans_the_read_only_attachment_destroyed_on_moto() {
    let platform = config::from_str(
        "[delivery]\ngithub_repository = \"o/r\"\nstate_bucket = \"tfstate\"\n",
        "test.toml",
    )
    .unwrap();
    let bootstrap = infra_gen::generate_bootstrap(&platform).unwrap();
    let platform_files = infra_gen::generate(&platform).unwrap();
    let dir = TempDir::new("ledger-plan-role");
    let moto = Moto::start(&dir.0.join("moto.log"));
    let work = dir.0.join("tf");
    std::fs::create_dir_all(&work).unwrap();
    for name in ["versions.tf.json", "providers.tf.json", "variables.tf.json"] {
        std::fs::write(work.join(name), &bootstrap[name]).unwrap();
    }
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role = serde_json::json!({"name": "demo-github-plan", "assume_role_policy": trust});
    let read_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}"#;
    let older = serde_json::json!({"resource": {
        "aws_iam_role": {"github_plan": role},
        "aws_iam_policy": {"read_only": {"name": "demo-read-only", "policy": read_only}},
        "aws_iam_role_policy_attachment": {"github_plan_read_only": {
            "role": "${aws_iam_role.github_plan.name}",
            "policy_arn": "${aws_iam_policy.read_only.arn}",
        }},
        "aws_iam_role_policy": {"github_plan": {
            "role": "${aws_iam_role.github_plan.name}",
            "policy": read_only,
        }},
    }});
    let write_iam = |doc: &serde_json::Value| {
        std::fs::write(
            work.join("iam.tf.json"),
            serde_json::to_string_pretty(doc).unwrap(),
        )
        .unwrap();
    };
    write_iam(&older);
    let helper = Command::new("python3")
        .arg(local_script("localtf.py"))
        .args([
            "override",
            work.to_str().unwrap(),
            "ami-00000000",
            &moto.url,
        ])
        .output()
        .unwrap();
    assert!(helper.status.success(), "{helper:?}");
    terraform_init(&work, &[]);
    terraform(&work, &["apply", "-auto-approve", "-no-color"]);

    // The new generator no longer declares them; the stand-in policy stays (not the question).
    let newer = serde_json::json!({"resource": {
        "aws_iam_role": {"github_plan": role},
        "aws_iam_policy": {"read_only": {"name": "demo-read-only", "policy": read_only}},
    }});
    write_iam(&newer);
    // What the bootstrap would get from the platform module's (shared) declarations of the two.
    let shared: serde_json::Value =
        serde_json::from_str(&platform_files["history.tf.json"]).unwrap();
    let blocks: Vec<&serde_json::Value> = shared["removed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| {
            b["from"] == "aws_iam_role_policy_attachment.github_plan_read_only"
                || b["from"] == "aws_iam_role_policy.github_plan"
        })
        .collect();
    assert_eq!(blocks.len(), 2);
    std::fs::write(
        work.join("history.tf.json"),
        serde_json::json!({ "removed": blocks }).to_string(),
    )
    .unwrap();
    let forgotten = terraform(&work, &["plan", "-no-color"]);
    assert!(
        forgotten.contains("aws_iam_role_policy_attachment.github_plan_read_only will no longer be managed by Terraform"),
        "{forgotten}"
    );
    assert!(forgotten.contains("0 to destroy"), "{forgotten}");
    std::fs::write(work.join("history.tf.json"), &bootstrap["history.tf.json"]).unwrap();
    let destroyed = terraform(&work, &["plan", "-no-color"]);
    for address in [
        "aws_iam_role_policy_attachment.github_plan_read_only",
        "aws_iam_role_policy.github_plan",
    ] {
        assert!(
            destroyed.contains(&format!("{address} will be destroyed")),
            "{destroyed}"
        );
    }
    assert!(
        destroyed.contains("0 to add, 0 to change, 2 to destroy"),
        "{destroyed}"
    );
}
