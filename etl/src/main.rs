//! The `etl` binary: parse flags, set up logging and signal handling, run one subcommand, map the outcome to an
//! exit code.

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command, LogFormat};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            error!(error = %e, "Cannot start the async runtime.");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(&cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(error = %format!("{e:#}"), "etl failed.");
            ExitCode::from(exit_code(&e))
        }
    }
}

fn exit_code(error: &anyhow::Error) -> u8 {
    error
        .downcast_ref::<etl::error::Error>()
        .map_or(1, etl::error::Error::exit_code)
}

async fn run(command: &Command) -> anyhow::Result<()> {
    match command {
        Command::Ingest(args) => {
            etl::ingest::ingest(&args.config()).await?;
        }
        Command::Process(args) => {
            let config = args.config()?;
            let shutdown = shutdown_on_signals()?;
            let db = args.db.settings().resolve(&config.aws).await?;
            let engine = etl::process::Engine::start(&config, &db).await?;
            match args.queue_config() {
                Some(queue) => Box::pin(etl::queue::serve(&engine, &queue, shutdown)).await?,
                None => {
                    etl::process::process(&engine, shutdown).await?;
                }
            }
        }
        Command::Migrate(args) => {
            let dataset =
                etl::spec::Dataset::load(&args.dataset.dataset).map_err(etl::error::Error::from)?;
            let db = args.db.settings().resolve(&args.aws_options()).await?;
            let mut client = etl::db::connect(&db)
                .await
                .map_err(etl::error::Error::from)?;
            etl::migrate::migrate(&mut client, &dataset)
                .await
                .map_err(etl::error::Error::from)?;
        }
    }
    Ok(())
}

/// A token that SIGTERM or SIGINT cancels: the run then takes no new work and lets the loads in flight commit or
/// roll back. A second signal exits at once with 128 + its number; PostgreSQL rolls back what was not committed.
fn shutdown_on_signals() -> anyhow::Result<CancellationToken> {
    let mut term = signal(SignalKind::terminate()).context("cannot watch for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch for SIGINT")?;
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let (first, _) = next_signal(&mut term, &mut int).await;
        warn!(
            signal = first,
            "Stopping: no new work; loads in flight commit or roll back. A second signal aborts."
        );
        cancel.cancel();
        let (second, code) = next_signal(&mut term, &mut int).await;
        error!(
            signal = second,
            "Second signal: aborting; uncommitted loads roll back."
        );
        std::process::exit(code);
    });
    Ok(token)
}

/// Waits for SIGTERM or SIGINT; returns its name and the conventional exit code for dying of it.
async fn next_signal(term: &mut Signal, int: &mut Signal) -> (&'static str, i32) {
    tokio::select! {
        _ = term.recv() => ("SIGTERM", 143),
        _ = int.recv() => ("SIGINT", 130),
    }
}

/// JSON lines on stdout when it is not a terminal (CloudWatch, Docker), readable text when it is.
fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("ETL_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stdout().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init();
    } else {
        builder.init();
    }
}
