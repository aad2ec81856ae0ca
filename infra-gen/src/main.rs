//! The `infra-gen` command line: parse flags, load the platform, generate, write or check.

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

/// Exit code for an invalid configuration or a policy violation.
const EXIT_INVALID: u8 = 2;

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
            eprintln!("infra-gen: error: {err:#}");
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
    if args.check {
        let diff = write::check(&args.out, &files).context("checking generated files")?;
        if diff.is_empty() {
            eprintln!(
                "infra-gen: {} is up to date ({} files)",
                args.out.display(),
                files.len()
            );
            return Ok(ExitCode::SUCCESS);
        }
        print!("{diff}");
        eprintln!(
            "infra-gen: {} is stale; run `infra-gen gen` and commit the result",
            args.out.display()
        );
        return Ok(ExitCode::from(1));
    }
    let changed = write::write(&args.out, &files).context("writing generated files")?;
    eprintln!(
        "infra-gen: wrote {} ({} files, {} changed)",
        args.out.display(),
        files.len(),
        changed.len()
    );
    Ok(ExitCode::SUCCESS)
}
