//! How a long command (seed, rebuild, verify) shows its progress: a bar on a terminal; where
//! none can be drawn (stderr a pipe, a file, a CI log), a plain line every 5 s instead, so
//! that a long run is never silent.

use std::io::Write;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressState, ProgressStyle};

use crate::store::Progress;

/// How often the plain line is written.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// A bar of `unit`s for `what` (a task of the current tokio runtime writes the plain lines,
/// until the bar is finished).
pub fn bar(
    what: &'static str,
    unit: &'static str,
) -> Result<ProgressBar, indicatif::style::TemplateError> {
    // A whole-number rate: indicatif's `{per_sec}` shows four decimals.
    let style = ProgressStyle::with_template(&format!(
        "{what}: {{bar:40}} {{pos}}/{{len}} {unit}  {{rate}}  eta {{eta}}"
    ))?
    .with_key(
        "rate",
        |state: &ProgressState, out: &mut dyn std::fmt::Write| {
            let _ = write!(out, "{:.0}/s", state.per_sec());
        },
    );
    let bar = ProgressBar::new(0).with_style(style);
    if bar.is_hidden() {
        tokio::spawn(plain_lines(bar.clone(), what, unit));
    }
    Ok(bar)
}

async fn plain_lines(bar: ProgressBar, what: &'static str, unit: &'static str) {
    let mut every = tokio::time::interval(PLAIN_EVERY);
    every.tick().await;
    loop {
        every.tick().await;
        if bar.is_finished() {
            return;
        }
        // Not `eprintln!`: it panics when stderr cannot be written.
        let _ = writeln!(
            std::io::stderr(),
            "{what}: {} of about {} {unit} in {:.0}s ({:.0} {unit}/s)",
            bar.position(),
            bar.length().unwrap_or(0),
            bar.elapsed().as_secs_f64(),
            bar.per_sec()
        );
    }
}

/// A rebuild's or verify's fold, shown on a [`bar`] of events.
pub struct FoldBar(pub ProgressBar);

impl Progress for FoldBar {
    fn folded(&self, events: u64, head: i64) {
        self.0.set_length((head.max(0) as u64).max(events));
        self.0.set_position(events);
    }
}
