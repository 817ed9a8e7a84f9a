//! Whether commands can commit: the writer learns it from each batch's answers, and while an
//! outage stops them it commits a probe once a second, so that the health check says
//! `stopped` exactly while commands cannot commit and `accepting` again as soon as they can,
//! with or without commands arriving meanwhile.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::{Instant, timeout_at};

use super::{CommandError, CommandResult};
use crate::store::tx::{Lock, Transactions, finish};

/// How often, while commands cannot commit and none arrive, the writer tries a probe.
pub(super) const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// Whether the last batch (or probe) found that commands cannot commit.
#[derive(Default)]
pub(super) struct CommitOutage {
    stopped: AtomicBool,
}

impl CommitOutage {
    /// Whether commands cannot commit now.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// Learns from one batch's answers: a command committed (commands can commit), or one
    /// was refused by an outage (they cannot). Contention, refusals by the domain and
    /// unknown outcomes say neither.
    pub fn learn(&self, results: &[CommandResult]) {
        if results.iter().any(Result::is_ok) {
            self.recovered();
            return;
        }
        let outage = results.iter().find_map(|result| match result {
            Err(CommandError::Unavailable(error)) if error.is_outage() => Some(error),
            _ => None,
        });
        if let Some(error) = outage
            && !self.stopped.swap(true, Ordering::AcqRel)
        {
            tracing::warn!(%error, "commands cannot commit; probing the database once a second");
        }
    }

    /// Commits a write that changes nothing (see
    /// [`Tx::probe_write`](crate::store::tx::Tx::probe_write)) by `deadline`, and learns from
    /// it.
    pub async fn probe(&self, store: &dyn Transactions, deadline: Instant) {
        let probed = timeout_at(deadline, async {
            let mut tx = store.begin(Lock::Writers).await?;
            let written = tx.probe_write().await;
            finish(tx, written).await
        })
        .await;
        match probed {
            Ok(Ok(())) => self.recovered(),
            Ok(Err(error)) => tracing::debug!(%error, "commands still cannot commit"),
            Err(_) => tracing::debug!("a probe of the database ran out of time"),
        }
    }

    fn recovered(&self) {
        if self.stopped.swap(false, Ordering::AcqRel) {
            tracing::info!("commands commit again");
        }
    }
}
