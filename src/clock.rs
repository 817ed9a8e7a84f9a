//! Where "now" comes from. Handlers read the time once per request and hand it to the domain;
//! tests swap in a clock they control to cross day and week boundaries.

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};

/// A source of the current time, truncated to microseconds so that both backends store and
/// return exactly the same instant (PostgreSQL keeps microseconds).
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock(Arc::new(Utc::now))
    }

    /// A clock that reads `now` from a function of the caller's.
    pub fn from_fn(now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        Clock(Arc::new(now))
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.0)().trunc_subsecs(6)
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}
