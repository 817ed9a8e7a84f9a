//! The `tally` binary: parses the command line and hands over to the library.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
            let progress = FoldProgress::new("rebuild")?;
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
            let progress = FoldProgress::new("verify")?;
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

/// A bar of `unit`s done with a whole-number rate (indicatif's `{per_sec}` shows four decimals).
fn bar_style(prefix: &str, unit: &str) -> Result<ProgressStyle, indicatif::style::TemplateError> {
    Ok(ProgressStyle::with_template(&format!(
        "{prefix}{{bar:40}} {{pos}}/{{len}} {unit}  {{rate}}  eta {{eta}}"
    ))?
    .with_key(
        "rate",
        |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
            let _ = write!(out, "{:.0}/s", state.per_sec());
        },
    ))
}

/// A bar of `unit`s drawn on a terminal; where it cannot be drawn (stderr a pipe or a file),
/// a plain line every 5 s instead, so a long run is never silent.
fn progress_bar(unit: &'static str) -> Result<ProgressBar, indicatif::style::TemplateError> {
    let bar = ProgressBar::new(0).with_style(bar_style("", unit)?);
    if bar.is_hidden() {
        let lines = bar.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(PLAIN_EVERY);
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

/// A rebuild's or verify's progress: a bar of events on a terminal; on anything else (a pipe,
/// a file, a CI log) a plain line on stderr every few seconds, so that a long run is not
/// silent.
struct FoldProgress {
    what: &'static str,
    bar: ProgressBar,
    started: Instant,
    /// When the last plain line was written (none yet: the first fold says so at once).
    said: Mutex<Option<Instant>>,
}

/// How often the plain line is written.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

impl FoldProgress {
    fn new(what: &'static str) -> Result<Self, indicatif::style::TemplateError> {
        let bar = ProgressBar::new(0).with_style(bar_style(&format!("{what}: "), "events")?);
        Ok(FoldProgress {
            what,
            bar,
            started: Instant::now(),
            said: Mutex::new(None),
        })
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for FoldProgress {
    fn folded(&self, events: u64, head: i64) {
        let head = head.max(0) as u64;
        if !self.bar.is_hidden() {
            self.bar.set_length(head.max(events));
            self.bar.set_position(events);
            return;
        }
        let Ok(mut said) = self.said.lock() else {
            return;
        };
        if said.is_some_and(|at| at.elapsed() < PLAIN_EVERY) {
            return;
        }
        *said = Some(Instant::now());
        let seconds = self.started.elapsed().as_secs_f64();
        // Not `eprintln!`: it panics when stderr cannot be written.
        let _ = writeln!(
            std::io::stderr(),
            "{}: {events} of about {head} events folded in {seconds:.0}s ({:.0} events/s)",
            self.what,
            events as f64 / seconds.max(f64::EPSILON),
        );
    }
}
