//! The `infra-gen` command line: parse flags, load the platform, generate, write or check.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use infra_gen::model::config::{self, ConfigError};
use infra_gen::{GenerateError, generate, write};

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
    /// Directory that receives the generated files (only its top-level *.tf.json are managed).
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
    let files = generate(&platform)?;
    let out = args.out.display();
    if args.check {
        let diff = write::check(&args.out, &files).context("checking generated files")?;
        if diff.is_empty() {
            log(
                "info",
                &format!("{out} is up to date ({} files)", files.len()),
            );
            return Ok(ExitCode::SUCCESS);
        }
        print!("{diff}");
        log(
            "error",
            &format!("{out} is stale; run `infra-gen gen` and commit the result"),
        );
        return Ok(ExitCode::from(1));
    }
    let changed = write::write(&args.out, &files).context("writing generated files")?;
    let summary = format!(
        "wrote {out} ({} files, {} changed)",
        files.len(),
        changed.len()
    );
    log("info", &summary);
    Ok(ExitCode::SUCCESS)
}
