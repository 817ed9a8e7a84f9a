//! The `tally` binary: parses the command line and hands over to the library.

use std::io::Write;
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
    let cli = Cli::parse_naming_variables();
    let logs = tally::logging::subscriber(
        cli.log_format,
        tally::logging::filter_from_env(),
        std::io::stderr,
    );
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
            let listener = tokio::net::TcpListener::bind(settings.listen).await?;
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
            let progress = ProgressBar::new(0).with_style(ProgressStyle::with_template(
                "{bar:40} {pos}/{len} events  {per_sec}  eta {eta}",
            )?);
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
            let progress = ProgressBar::new(0).with_style(ProgressStyle::with_template(
                "{bar:40} {pos}/{len} tasks  {per_sec}  eta {eta}",
            )?);
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

/// A rebuild's progress drawn as a bar of log positions; logged instead where the bar cannot
/// be drawn (stderr not a terminal).
struct RebuildBar<'a>(&'a ProgressBar);

impl Progress for RebuildBar<'_> {
    fn folded(&self, position: i64, head: i64, events: u64) {
        if self.0.is_hidden() {
            return ().folded(position, head, events);
        }
        self.0.set_length(head.max(0) as u64);
        self.0.set_position(position.max(0) as u64);
    }
}
