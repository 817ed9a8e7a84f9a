//! A second API node in the same process: a store of its own (its own writer, connections and
//! follower) on a test app's database, as another `tally serve` on the same database would be.

use std::sync::Arc;

use axum::Router;
use tally::background::Background;
use tally::http::router;
use tally::live::Hub;
use tally::store::Store;

use super::{TestApp, TestRequest, TestResponse, send_to, serving};

/// An API node: its own store (so its own writer and connections) on the shared database.
pub struct Node {
    pub store: Arc<dyn Store>,
    pub router: Router,
    /// What it knows of changes: its position, whether it follows other nodes' changes.
    pub hub: Arc<Hub>,
    /// Its writer and follower.
    _background: Background,
}

impl Node {
    pub async fn on(app: &TestApp) -> Node {
        let store = app.db.open_store(Default::default()).await;
        let (state, background) = serving(store.clone(), app.auth.clone(), app.clock.clock()).await;
        Node {
            store,
            hub: state.hub.clone(),
            router: router(state),
            _background: background,
        }
    }

    pub async fn send(&self, request: TestRequest) -> TestResponse {
        send_to(&self.router, request).await
    }
}
