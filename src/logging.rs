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

/// `RUST_LOG` when set, else [`DEFAULT_FILTER`]. A `RUST_LOG` that does not parse is an
/// error, not a silent fallback: whoever set it expects its lines.
pub fn filter_from_env() -> Result<EnvFilter, String> {
    let Some(raw) = std::env::var_os("RUST_LOG") else {
        return Ok(EnvFilter::new(DEFAULT_FILTER));
    };
    let raw = raw.to_string_lossy();
    if raw.trim().is_empty() {
        return Ok(EnvFilter::new(DEFAULT_FILTER));
    }
    EnvFilter::builder().parse(raw.as_ref()).map_err(|error| {
        format!(
            "RUST_LOG={raw:?} is not a log filter ({error}); expected directives such as \
             `info`, `warn,tally=debug` or `tally::http=trace`"
        )
    })
}

/// A subscriber writing `format` lines that pass `filter` to `writer`.
/// `ansi`: colours, for a terminal only (escape codes in a log file are noise).
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    ansi: bool,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi)
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
