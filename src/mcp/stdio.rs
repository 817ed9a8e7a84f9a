//! `tally mcp --user ID`: the same tools on stdin and stdout, for assistants that launch a
//! local command (Claude Desktop's `command` and `args`). The session acts as that one user
//! throughout, with no token: whoever can start it with this configuration can reach the
//! database (its file, its URL) directly anyway.
//!
//! It runs the command writer, the hub and its follower as `tally serve` does (not the
//! scheduled jobs: those are the server's), so it is one more writer on the store, as
//! `tally seed` beside a server is. Two processes stay safe as two servers do: on PostgreSQL
//! every write transaction takes the writers' advisory lock and announces its batch, which a
//! running server hears on its `LISTEN` and passes to its open streams; on SQLite writes take
//! the file's lock (`begin immediate`, waiting out the other's), a server's dashboard reads see
//! another process's commit within a second, and its follower finds it at the log's head.

use std::future::Future;
use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::service::{QuitReason, ServerInitializeError, serve_server};
use rmcp::transport::Transport;
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::transport::io::stdio_pipes;
use tokio_util::sync::CancellationToken;

use super::answered::Answered;
use super::tools::Tools;
use crate::auth::{AuthConfig, Authenticator};
use crate::background::Background;
use crate::clock::Clock;
use crate::config::Database;
use crate::domain::UserId;
use crate::http::Tuning;
use crate::server::{LaunchError, without_password};

/// Why `tally mcp` could not start or ended with an error.
#[derive(Debug, thiserror::Error)]
pub enum StdioError {
    #[error(transparent)]
    Start(#[from] LaunchError),
    #[error("MCP session: {0}")]
    Session(String),
}

/// Serves one MCP session as `user` on stdin and stdout until the client closes stdin (or
/// `shutdown` completes), then lets the queued commands commit and closes the store.
pub async fn serve(
    database: &Database,
    user: UserId,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StdioError> {
    let store = database.open_store().await.map_err(LaunchError::from)?;
    // The state checks tokens, which nothing here is given: a secret of this process only,
    // never the data directory's (which is not read, nor created where the client starts us).
    let unused_keys = AuthConfig {
        secret: Some(hex::encode(rand::random::<[u8; 32]>())),
        ..AuthConfig::default()
    };
    let auth = Authenticator::from_config(&unused_keys, &database.data_dir);
    let auth = Arc::new(auth.map_err(LaunchError::from)?);
    let started = Background::start(
        store.clone(),
        auth,
        Clock::system(),
        Tuning::default(),
        None,
    )
    .await;
    let (state, background) = match started {
        Ok(started) => started,
        Err(error) => {
            store.close().await;
            return Err(error.into());
        }
    };
    tracing::info!(
        %user,
        database = %without_password(&database.database_url()),
        "serving MCP on stdin and stdout"
    );
    // The stop ends the session as the end of stdin does: nothing more is read, and the tool
    // calls read are answered first (`answered.rs`).
    let stop = CancellationToken::new();
    let on_signal = stop.clone();
    let signal = tokio::spawn(async move {
        shutdown.await;
        on_signal.cancel();
    });
    let transport = Answered::new(stdio_transport(), stop);
    let session = session(Tools::local(state, user), transport).await;
    signal.abort();
    background.shutdown().await;
    store.close().await;
    tracing::info!("stopped");
    session
}

/// Non-blocking pipes where stdin and stdout are pipes (as clients start us): a pending read
/// of stdin ends with the session instead of holding the stop up.
fn stdio_transport() -> impl Transport<RoleServer> {
    let (stdin, stdout) = stdio_pipes();
    AsyncRwTransport::new_server(stdin, stdout)
}

/// The session from the client's `initialize` to the end of stdin (or the stop).
async fn session(
    tools: Tools,
    transport: impl Transport<RoleServer> + 'static,
) -> Result<(), StdioError> {
    let running = match serve_server(tools, transport).await {
        Ok(running) => running,
        Err(ServerInitializeError::ConnectionClosed(_)) => {
            tracing::info!("the session ended before the client initialized it");
            return Ok(());
        }
        Err(error) => return Err(StdioError::Session(error.to_string())),
    };
    match running.waiting().await {
        Ok(QuitReason::JoinError(error)) | Err(error) => Err(StdioError::Session(format!(
            "a task of the session failed: {error}"
        ))),
        // Closed: stdin ended, or the stop.
        Ok(_) => Ok(()),
    }
}
