//! How a long command (seed, rebuild, verify) shows its progress: a bar on a terminal; where
//! none can be drawn (stderr a pipe, a file, a CI log), a plain line every 5 s and one at the
//! end instead, so that no run is silent.

use std::io::Write;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressState, ProgressStyle};

use crate::store::Progress;

/// How often the plain line is written.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// The progress of one command: `what` has done so many `unit`s.
pub struct Meter {
    what: &'static str,
    unit: &'static str,
    bar: ProgressBar,
}

impl Meter {
    /// A meter shown from now (a task of the current tokio runtime writes the plain lines).
    pub fn start(
        what: &'static str,
        unit: &'static str,
    ) -> Result<Meter, indicatif::style::TemplateError> {
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
        let meter = Meter {
            what,
            unit,
            bar: ProgressBar::new(0).with_style(style),
        };
        if meter.bar.is_hidden() {
            let every = Meter {
                bar: meter.bar.clone(),
                ..meter
            };
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(PLAIN_EVERY);
                ticks.tick().await;
                loop {
                    ticks.tick().await;
                    if every.bar.is_finished() {
                        return;
                    }
                    every.plain_line();
                }
            });
        }
        Ok(meter)
    }

    /// The bar itself, for work that counts on it (`seed`).
    pub fn bar(&self) -> ProgressBar {
        self.bar.clone()
    }

    /// Done: the bar leaves the terminal; elsewhere the last plain line says what was done.
    pub fn finish(&self) {
        // Finished first, so that the ticker writes no line after the last.
        self.bar.finish_and_clear();
        if self.bar.is_hidden() {
            self.plain_line();
        }
    }

    fn plain_line(&self) {
        let Meter { what, unit, bar } = self;
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

/// A rebuild's or verify's fold: events folded, of about the log's head.
impl Progress for Meter {
    fn folded(&self, events: u64, head: i64) {
        self.bar.set_length((head.max(0) as u64).max(events));
        self.bar.set_position(events);
    }
}
