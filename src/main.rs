//! The `tally` binary: parses the command line and hands over to the library.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use tally::auth::Authenticator;
use tally::commands::Commands;
use tally::config::{Cli, CliCommand};
use tally::domain::UserId;
use tally::store::{Progress, Projection};
use tracing_subscriber::util::SubscriberInitExt;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = tally::cli_errors::parse();
    let filter = match tally::logging::filter_from_env() {
        Ok(filter) => filter,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "tally: {error}");
            return ExitCode::from(2);
        }
    };
    // Colours only for a terminal: a log file or a pipe gets plain text.
    let ansi = std::io::stderr().is_terminal();
    let logs = tally::logging::subscriber(cli.log_format, filter, ansi, std::io::stderr);
    // `try_init` also routes the `log` crate's records (some dependencies') into it.
    if logs.try_init().is_err() {
        let _ = writeln!(std::io::stderr(), "tally: logging was already set up");
    }
    match run(cli).await {
        Ok(code) => code,
        Err(error) => {
            // Not `eprintln!`: it panics when stderr cannot be written.
            let _ = writeln!(std::io::stderr(), "tally: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, Box<dyn std::error::Error>> {
    match cli.command {
        CliCommand::Serve(settings) => {
            let listen = settings.listen;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|error| format!("TALLY_LISTEN={listen}: cannot listen there ({error})"))?;
            tally::launch(&settings, listener, tally::server::shutdown_signal()).await?;
        }
        CliCommand::Migrate(database) => {
            let store = database.open_store().await?;
            store.close().await;
            println!("database is up to date");
        }
        CliCommand::Token {
            user,
            ttl,
            link,
            listen,
            keys,
            data_dir,
        } => {
            let auth = Authenticator::from_config(&keys.auth(), &data_dir)?;
            let token = auth.mint(&UserId::parse(&user)?, chrono::Utc::now() + ttl)?;
            if link {
                println!("{}", tally::http::page::sign_in_link(listen, &token));
            } else {
                println!("{token}");
            }
        }
        CliCommand::Rebuild {
            projection,
            database,
        } => {
            let store = database.open_store().await?;
            let progress = progress_bar("events")?;
            let projections = Projection::chosen(&projection).ok_or("unknown projection")?;
            let report = store.rebuild(&projections, &RebuildBar(&progress)).await?;
            progress.finish_and_clear();
            store.close().await;
            println!(
                "rebuilt up to position {}: {} events replayed in {:.1}s ({:.0} events/s)",
                report.position,
                report.events,
                report.elapsed.as_secs_f64(),
                report.events_per_second()
            );
        }
        CliCommand::Verify { repair, database } => {
            let store = database.open_store().await?;
            let report = store.verify(repair, chrono::Utc::now()).await?;
            store.close().await;
            print!("{}", tally::report::verify_report(&report));
            if !report.is_clean() {
                return Ok(ExitCode::from(1));
            }
        }
        CliCommand::Seed {
            users,
            tasks,
            database,
        } => {
            let store = database.open_store().await?;
            let progress = progress_bar("tasks")?;
            let commands = Arc::new(Commands::start(store.clone()));
            let report = tally::seed::seed(commands.clone(), users, tasks, progress).await?;
            commands.close().await;
            store.close().await;
            println!(
                "seeded {} tasks with {} commands in {:.1}s ({:.0} commands/s)",
                report.tasks,
                report.commands,
                report.elapsed.as_secs_f64(),
                report.commands_per_second()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A bar of `unit`s done, with a whole-number rate, drawn on a terminal; where it cannot be
/// drawn (stderr a pipe or a file), a plain line every 5 s instead, so a long run is never
/// silent.
fn progress_bar(unit: &'static str) -> Result<ProgressBar, indicatif::style::TemplateError> {
    let style = ProgressStyle::with_template(&format!(
        "{{bar:40}} {{pos}}/{{len}} {unit}  {{rate}}  eta {{eta}}"
    ))?
    .with_key(
        "rate",
        |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
            let _ = write!(out, "{:.0}/s", state.per_sec());
        },
    );
    let bar = ProgressBar::new(0).with_style(style);
    if bar.is_hidden() {
        let lines = bar.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
            every.tick().await;
            loop {
                every.tick().await;
                if lines.is_finished() {
                    return;
                }
                let _ = writeln!(
                    std::io::stderr(),
                    "tally: {}/{} {unit} ({:.0}/s)",
                    lines.position(),
                    lines.length().unwrap_or(0),
                    lines.per_sec()
                );
            }
        });
    }
    Ok(bar)
}

/// A rebuild's progress as a bar of log positions (or its plain lines, see [`progress_bar`]).
struct RebuildBar<'a>(&'a ProgressBar);

impl Progress for RebuildBar<'_> {
    fn folded(&self, position: i64, head: i64, _events: u64) {
        self.0.set_length(head.max(0) as u64);
        self.0.set_position(position.max(0) as u64);
    }
}
