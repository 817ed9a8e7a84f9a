//! What `tally verify` prints: a per-user diff of the drifted figures, the drifted rows by
//! count with the first of them named, then the verdict.

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
        ("tasks", &report.tasks),
        ("task_shares", &report.shares),
        ("task_team_shares", &report.team_shares),
        ("task_access", &report.access),
        ("team_stats", &report.team_stats),
        ("daily_stats", &report.daily),
        ("teams", &report.teams),
        ("team_members", &report.members),
    ] {
        if drift.is_clean() {
            continue;
        }
        let RowDrift {
            missing,
            unexpected,
            different,
            named,
        } = drift;
        let _ = writeln!(
            out,
            "drift: {table}: {missing} rows missing, {unexpected} unexpected, {different} different"
        );
        let more = drift.count().saturating_sub(named.len());
        let _ = write!(out, "  {}", named.join(", "));
        let _ = match more {
            0 => writeln!(out),
            more => writeln!(out, " and {more} more"),
        };
    }
    for violation in &report.violations {
        let _ = writeln!(out, "invariant broken: {violation}");
    }
    let verdict = match (report.is_clean(), report.repaired) {
        (true, _) => "no drift".to_owned(),
        (false, true) => format!("drift found and repaired ({})", repaired(report)),
        (false, false) => "drift found (run `tally verify --repair` or `tally rebuild`)".to_owned(),
    };
    let _ = writeln!(
        out,
        "checked {} users up to position {}: {verdict}",
        report.users, report.position
    );
    out
}

/// What a repair rewrote, in a few words.
fn repaired(report: &VerifyReport) -> String {
    let rows = |count: usize, what: &str| format!("{count} {what}");
    [
        rows(report.tasks.count(), "task rows"),
        rows(report.shares.count(), "share rows"),
        rows(report.drifted.len(), "users' dashboard figures"),
        rows(report.daily.count(), "trend rows"),
        rows(report.teams.count(), "team rows"),
        rows(report.members.count(), "membership rows"),
    ]
    .join(", ")
}
