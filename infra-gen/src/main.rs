//! The `infra-gen` command line: parse flags, load the platform, generate, write or check.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use infra_gen::model::config::{self, ConfigError};
use infra_gen::{Files, GenerateError, generate, generate_bootstrap, write};

/// Typed model of the Hadrian ML data platform that emits Terraform JSON.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate `*.tf.json` files from the platform configuration.
    Gen(GenArgs),
}

#[derive(clap::Args)]
struct GenArgs {
    /// Platform configuration. Without it, ./platform.toml is used when present, else defaults.
    #[arg(long, env = "INFRA_GEN_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory that receives the platform module (only its top-level *.tf.json are managed);
    /// the bootstrap module goes to its `bootstrap/` subdirectory.
    #[arg(long, env = "INFRA_GEN_OUT", value_name = "DIR", default_value = "out")]
    out: PathBuf,
    /// Write nothing; exit 1 with a diff when any file is stale, missing or extra.
    #[arg(long, env = "INFRA_GEN_CHECK")]
    check: bool,
}

/// Exit code for an invalid configuration or a policy violation; 1 is stale output or I/O.
const EXIT_INVALID: u8 = 2;

/// One log line on stderr: plain text on a terminal, a JSON object otherwise (CI, pipes).
fn log(level: &str, message: &str) {
    if std::io::stderr().is_terminal() {
        eprintln!("infra-gen: {message}");
    } else {
        let line = serde_json::json!({ "level": level, "target": "infra-gen", "message": message });
        eprintln!("{line}");
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Command::Gen(args) = cli.command;
    match run(&args) {
        Ok(code) => code,
        Err(err) => {
            let invalid = err.downcast_ref::<ConfigError>().is_some()
                || err
                    .downcast_ref::<GenerateError>()
                    .is_some_and(|e| matches!(e, GenerateError::Policy(_)));
            log("error", &format!("{err:#}"));
            ExitCode::from(if invalid { EXIT_INVALID } else { 1 })
        }
    }
}

fn run(args: &GenArgs) -> anyhow::Result<ExitCode> {
    let default = PathBuf::from("platform.toml");
    let path = args
        .config
        .as_deref()
        .or_else(|| default.exists().then_some(default.as_path()));
    let platform = config::load(path)?;
    let modules = [
        (args.out.clone(), generate(&platform)?),
        (args.out.join("bootstrap"), generate_bootstrap(&platform)?),
    ];
    let mut code = ExitCode::SUCCESS;
    for (dir, files) in &modules {
        if !emit(dir, files, args.check)? {
            code = ExitCode::from(1);
        }
    }
    Ok(code)
}

/// Writes one module's files into `dir`, or with `check` compares them; false when stale.
fn emit(dir: &Path, files: &Files, check: bool) -> anyhow::Result<bool> {
    let out = dir.display();
    if check {
        let diff = write::check(dir, files).context("checking generated files")?;
        if diff.is_empty() {
            log(
                "info",
                &format!("{out} is up to date ({} files)", files.len()),
            );
            return Ok(true);
        }
        print!("{diff}");
        log(
            "error",
            &format!("{out} is stale; run `infra-gen gen` and commit the result"),
        );
        return Ok(false);
    }
    let changed = write::write(dir, files).context("writing generated files")?;
    let summary = format!(
        "wrote {out} ({} files, {} changed)",
        files.len(),
        changed.len()
    );
    log("info", &summary);
    Ok(true)
}
