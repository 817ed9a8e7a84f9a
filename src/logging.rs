//! Where log lines go and how they look: text for a terminal, or one JSON object per line
//! (`TALLY_LOG_FORMAT=json`) for a log pipeline. Either way a request's lines carry its span
//! (the request id, method and path).

use clap::ValueEnum;
use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// What is logged unless `RUST_LOG` says otherwise: tally's own lines from `info`, other
/// crates' (PostgreSQL notices, the job scheduler's chatter) only from `warn`.
pub const DEFAULT_FILTER: &str = "warn,tally=info";

/// `RUST_LOG` when set, else [`DEFAULT_FILTER`].
pub fn filter_from_env() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
}

/// A subscriber writing `format` lines that pass `filter` to `writer`.
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        // A log line that cannot be written (a full disk) is dropped. By default the
        // subscriber reports the failure with `eprintln!`, which panics on that same broken
        // stderr: the server died at start-up, or its command writer at the first logged error.
        .log_internal_errors(false);
    match format {
        LogFormat::Text => Box::new(builder.finish()),
        LogFormat::Json => Box::new(
            builder
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        ),
    }
}
