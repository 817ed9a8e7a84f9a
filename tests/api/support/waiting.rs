//! Waiting for something to happen by looking until it has: no test sleeps a fixed time in
//! the hope that it has happened by then.

use std::time::{Duration, Instant};

/// How long a test waits for anything before it fails: generous, so that a slow or busy
/// machine never fails a correct test; a wait that ends does so as soon as it can.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// How often [`wait_until`] looks again.
const POLL: Duration = Duration::from_millis(2);

/// Waits until `condition` holds, looking every couple of milliseconds; fails the test,
/// naming `what` it waited for, if it does not hold within [`PATIENCE`].
pub async fn wait_until(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition().await {
        assert!(
            Instant::now() < deadline,
            "waited {PATIENCE:?} for {what}, in vain"
        );
        tokio::time::sleep(POLL).await;
    }
}
