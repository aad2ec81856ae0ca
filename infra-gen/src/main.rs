//! The `infra-gen` command line: parse flags, load the platform, generate, write or check, or
//! draw the platform.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use infra_gen::graph::{self, EmbedError, Graph};
use infra_gen::ledger::{self, LEDGER_FILE, Ledger, LedgerError, Module};
use infra_gen::model::Platform;
use infra_gen::model::config::{self, ConfigError};
use infra_gen::tf::Document;
use infra_gen::{Files, GenerateError, bootstrap_document, document, write};

/// Typed model of the Hadrian ML data platform that emits Terraform JSON.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate `*.tf.json` files, the address ledger and the README's platform diagram.
    Gen(GenArgs),
    /// Print a diagram of the generated platform: areas, references and data flow.
    Graph(GraphArgs),
}

#[derive(clap::Args)]
struct ConfigArg {
    /// Platform configuration. Without it, ./platform.toml is used when present, else defaults.
    #[arg(long, env = "INFRA_GEN_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(clap::Args)]
struct GenArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Directory that receives the platform module (its top-level *.tf.json and addresses.txt,
    /// the address ledger, are managed); the bootstrap module goes to its `bootstrap/`
    /// subdirectory, with its own ledger.
    #[arg(long, env = "INFRA_GEN_OUT", value_name = "DIR", default_value = "out")]
    out: PathBuf,
    /// Markdown file whose first fenced mermaid block holds the platform diagram. Default:
    /// ./README.md when it exists and --out is the default `out` (another output directory is
    /// another configuration, whose picture does not belong in the README).
    #[arg(long, env = "INFRA_GEN_README", value_name = "FILE")]
    readme: Option<PathBuf>,
    /// Write nothing; exit 1 with a diff when any file is stale, missing or extra.
    #[arg(long, env = "INFRA_GEN_CHECK")]
    check: bool,
}

#[derive(clap::Args)]
struct GraphArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    format: GraphFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    /// A Mermaid flowchart (GitHub renders it in Markdown).
    Mermaid,
    /// Graphviz DOT (`dot -Tsvg`).
    Dot,
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
    let outcome = match &cli.command {
        Command::Gen(args) => run(args),
        Command::Graph(args) => draw(args),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            let invalid = err.downcast_ref::<ConfigError>().is_some()
                || err.downcast_ref::<LedgerError>().is_some()
                || err.downcast_ref::<EmbedError>().is_some()
                || err
                    .downcast_ref::<GenerateError>()
                    .is_some_and(|e| matches!(e, GenerateError::Policy(_)));
            log("error", &format!("{err:#}"));
            ExitCode::from(if invalid { EXIT_INVALID } else { 1 })
        }
    }
}

fn load(arg: &ConfigArg) -> anyhow::Result<Platform> {
    let default = PathBuf::from("platform.toml");
    let path = arg
        .config
        .as_deref()
        .or_else(|| default.exists().then_some(default.as_path()));
    Ok(config::load(path)?)
}

fn draw(args: &GraphArgs) -> anyhow::Result<ExitCode> {
    let doc = document(&load(&args.config)?, &ledger::HISTORY)?;
    let format = match args.format {
        GraphFormat::Mermaid => graph::Format::Mermaid,
        GraphFormat::Dot => graph::Format::Dot,
    };
    print!("{}", Graph::of(&doc).render(format));
    Ok(ExitCode::SUCCESS)
}

/// The README whose diagram `gen` keeps current, if any (see `GenArgs::readme`).
fn readme_path(args: &GenArgs) -> Option<PathBuf> {
    if let Some(path) = &args.readme {
        return Some(path.clone());
    }
    let default = PathBuf::from("README.md");
    (args.out == Path::new("out") && default.exists()).then_some(default)
}

/// The README's text with its diagram brought up to date.
fn readme(path: &Path, graph: &Graph) -> anyhow::Result<String> {
    let text = write::read_file(path)?;
    let diagram = graph.render(graph::Format::Mermaid);
    Ok(graph::embed(&text, &diagram, &path.display().to_string())?)
}

fn run(args: &GenArgs) -> anyhow::Result<ExitCode> {
    let platform = load(&args.config)?;
    let doc = document(&platform, &ledger::HISTORY)?;
    let readme_text = match readme_path(args) {
        Some(path) => {
            let text = readme(&path, &Graph::of(&doc))?;
            Some((path, text))
        }
        None => None,
    };
    let modules = [
        (args.out.clone(), doc, Module::Platform),
        (
            args.out.join("bootstrap"),
            bootstrap_document(&platform, &ledger::HISTORY)?,
            Module::Bootstrap,
        ),
    ];
    let mut fresh = true;
    for (dir, doc, module) in &modules {
        let files = with_ledger(dir, doc, *module)?;
        fresh &= emit(dir, &files, args.check)?;
    }
    if let Some((path, text)) = &readme_text {
        if args.check {
            let diff = write::check_file(path, text)?;
            if !diff.is_empty() {
                print!("{diff}");
                log(
                    "error",
                    &format!(
                        "{} is stale; run `infra-gen gen` and commit the result",
                        path.display()
                    ),
                );
                fresh = false;
            }
        } else if write::write_file(path, text)? {
            log(
                "info",
                &format!("updated the diagram in {}", path.display()),
            );
        }
    }
    Ok(if fresh {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A module's rendered files plus its address ledger, after checking that no address in the
/// committed ledger vanished undeclared.
fn with_ledger(dir: &Path, doc: &Document, module: Module) -> anyhow::Result<Files> {
    let current = Ledger::of(doc);
    let ledger_path = dir.join(LEDGER_FILE);
    if ledger_path.exists() {
        let text = write::read_file(&ledger_path)?;
        let previous = Ledger::parse(&text, &ledger_path.display().to_string())?;
        ledger::check(&previous, &current, &ledger::HISTORY, module)?;
    }
    let mut files = doc.render().map_err(GenerateError::from)?;
    files.insert(LEDGER_FILE.to_owned(), current.render());
    Ok(files)
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
    log(
        "info",
        &format!(
            "wrote {out} ({} files, {} changed)",
            files.len(),
            changed.len()
        ),
    );
    Ok(true)
}
