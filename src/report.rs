//! What `tally verify` prints: a per-user diff of the drifted figures, then the verdict.

use std::fmt::Write;

use crate::store::{RowDrift, VerifyReport};

/// The report as plain text, one line per finding.
pub fn verify_report(report: &VerifyReport) -> String {
    let mut out = String::new();
    for user in &report.drifted {
        let _ = writeln!(out, "drift: {}", user.user_id);
        for (figure, stored, expected) in &user.figures {
            let _ = writeln!(out, "  {figure}: stored {stored}, the log gives {expected}");
        }
    }
    for (table, drift) in [
        ("tasks", report.tasks),
        ("task_shares", report.shares),
        ("daily_stats", report.daily),
    ] {
        if drift.missing + drift.unexpected + drift.different > 0 {
            let RowDrift {
                missing,
                unexpected,
                different,
            } = drift;
            let _ = writeln!(
                out,
                "drift: {table}: {missing} rows missing, {unexpected} unexpected, {different} different"
            );
        }
    }
    for violation in &report.violations {
        let _ = writeln!(out, "invariant broken: {violation}");
    }
    let verdict = match (report.is_clean(), report.repaired) {
        (true, _) => "no drift",
        (false, true) => "drift found and repaired",
        (false, false) => "drift found (run `tally verify --repair` or `tally rebuild`)",
    };
    let _ = writeln!(
        out,
        "checked {} users up to position {}: {verdict}",
        report.users, report.position
    );
    out
}
