//! The `tally` binary: parses the command line and hands over to the library.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use tally::auth::Authenticator;
use tally::commands::Commands;
use tally::config::{Cli, CliCommand};
use tally::domain::UserId;
use tally::progress::Meter;
use tally::store::Projection;
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
            let progress = Meter::start("rebuild", "events")?;
            let projections = Projection::chosen(&projection).ok_or("unknown projection")?;
            let report = store.rebuild(&projections, &progress).await?;
            progress.finish();
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
            let progress = Meter::start("verify", "events")?;
            let report = store.verify(repair, chrono::Utc::now(), &progress).await?;
            progress.finish();
            print!("{}", tally::report::verify_report(&report));
            // A repair rewrites rows from the fold; whether that left nothing wrong (an
            // invariant the fold itself breaks is not mended by it) takes a second look.
            let clean = if report.repaired {
                let again = store.verify(false, chrono::Utc::now(), &()).await?;
                if !again.is_clean() {
                    print!(
                        "after the repair:\n{}",
                        tally::report::verify_report(&again)
                    );
                }
                again.is_clean()
            } else {
                report.is_clean()
            };
            store.close().await;
            if !clean {
                return Ok(ExitCode::from(1));
            }
        }
        CliCommand::Mcp { user, database } => {
            let served =
                tally::mcp::stdio::serve(&database, user, tally::server::shutdown_signal()).await;
            // Where stdin is not a pipe (a terminal, a file), it is read on a blocking thread
            // that no stop interrupts, and the runtime would wait for its next line before
            // exiting. Everything is closed by now: the process ends here.
            if let Err(error) = served {
                let _ = writeln!(std::io::stderr(), "tally: {error}");
                std::process::exit(1);
            }
            std::process::exit(0);
        }
        CliCommand::Seed {
            users,
            tasks,
            teams,
            team_size,
            database,
        } => {
            let store = database.open_store().await?;
            let progress = Meter::start("seed", "tasks")?;
            let commands = Arc::new(Commands::start(store.clone()));
            let report = tally::seed::seed(commands.clone(), users, tasks, progress.bar()).await?;
            progress.finish();
            let team_commands =
                tally::seed::seed_teams(commands.clone(), users, teams, team_size).await?;
            commands.close().await;
            store.analyze_after_bulk_load().await;
            store.close().await;
            println!(
                "seeded {} tasks with {} commands in {:.1}s ({:.0} commands/s)",
                report.tasks,
                report.commands,
                report.elapsed.as_secs_f64(),
                report.commands_per_second()
            );
            if teams > 0 {
                println!("seeded {teams} teams with {team_commands} commands");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
