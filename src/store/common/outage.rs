//! Failing fast while the database cannot be reached. Finding that out takes a pool's whole
//! acquire timeout (the pool retries a refused connection until then); once one caller has
//! found it out, every other caller is answered at once, and one caller every
//! [`PROBE_INTERVAL`] tries the database again, so the store notices as soon as it is back.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::{Database, Pool};

use crate::store::StoreError;

/// How often, while the database is unreachable, one caller tries it again.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// Whether the database was last found unreachable, and when to try it next. `down` lets
/// every read and transaction pass without the lock while the database is reachable (each
/// would otherwise take it twice, on both worker threads).
#[derive(Default)]
pub(crate) struct Outage {
    down: AtomicBool,
    next_probe: Mutex<Option<Instant>>,
}

impl Outage {
    /// Lets a caller try the database: any caller while it is reachable; while it is not, the
    /// first caller after each [`PROBE_INTERVAL`]. Everyone else gets
    /// [`StoreError::Unreachable`] at once.
    pub fn admit(&self) -> Result<(), StoreError> {
        if !self.down.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut next_probe = self.next_probe.lock().expect("outage lock");
        match *next_probe {
            Some(at) if Instant::now() < at => Err(StoreError::Unreachable),
            Some(_) => {
                *next_probe = Some(Instant::now() + PROBE_INTERVAL);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Learns from what a caller admitted on `pool` got: no connection could be opened (the
    /// database is unreachable), or an answer (it is reachable).
    pub fn learn<T, DB: Database>(&self, result: &Result<T, StoreError>, pool: &Pool<DB>) {
        let unreachable = match result {
            Ok(_) => false,
            Err(error) => cannot_connect(error, pool),
            // Any other error came from a database that answered.
        };
        if !unreachable && !self.down.load(Ordering::Acquire) {
            return;
        }
        let mut next_probe = self.next_probe.lock().expect("outage lock");
        match (unreachable, next_probe.is_some()) {
            (true, false) => {
                tracing::warn!("the database is unreachable; answering 503 until it is back");
                *next_probe = Some(Instant::now() + PROBE_INTERVAL);
                self.down.store(true, Ordering::Release);
            }
            (false, true) if result.is_ok() => {
                tracing::info!("the database is reachable again");
                *next_probe = None;
                self.down.store(false, Ordering::Release);
            }
            _ => {}
        }
    }
}

/// Whether `error` says no connection could be opened ([`StoreError::is_connect_failure`]),
/// or the pool timed out with room to open connections (so not merely busy). The pool retries
/// only a refused connection until it times out; the others it answers at once, so without
/// this each caller would try again.
fn cannot_connect<DB: Database>(error: &StoreError, pool: &Pool<DB>) -> bool {
    match error {
        StoreError::Database(sqlx::Error::PoolTimedOut) => {
            pool.size() < pool.options().get_max_connections()
        }
        error => error.is_connect_failure(),
    }
}
