//! Running the service: open the store, serve until told to stop, close cleanly.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::auth::Authenticator;
use crate::background::Background;
use crate::clock::Clock;
use crate::config::Settings;
use crate::http::{Tuning, api_router, metrics_router, router};

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Keys(#[from] crate::auth::KeyError),
    #[error("server: {0}")]
    Serve(#[from] std::io::Error),
    #[error("{0}")]
    Settings(String),
    #[error("scheduled jobs: {0}")]
    Jobs(#[from] tokio_cron_scheduler::JobSchedulerError),
}

/// Serves the API on `listener` until `shutdown` completes, then lets in-flight requests and
/// queued commands finish, and answers once every background task has ended. Tests pass a
/// port-0 listener and their own shutdown signal.
pub async fn launch(
    settings: &Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), LaunchError> {
    let address = listener.local_addr()?;
    // Bound before anything starts (and before "serving" is logged), so that a taken address
    // stops the start instead.
    let metrics_listener = bind_metrics(settings, address).await?;
    let auth = Arc::new(Authenticator::from_config(
        &settings.keys.auth(),
        &settings.database.data_dir,
    )?);
    let store = settings
        .database
        .open_store_with_standbys(&settings.database_read_url)
        .await?;
    let clock = Clock::system();
    if settings.max_streams >= settings.max_connections {
        tracing::warn!(
            max_streams = settings.max_streams,
            max_connections = settings.max_connections,
            "streams may take every connection: keep TALLY_MAX_STREAMS below TALLY_MAX_CONNECTIONS"
        );
    }
    let tuning = Tuning {
        streams: settings.stream_limits(),
        read_cache_bytes: u64::from(settings.read_cache_mb) << 20,
        ..Tuning::default()
    };
    let (state, background) =
        Background::start(store.clone(), auth, clock, tuning, Some(settings.jobs())).await?;
    let state = state.with_cors_origins(settings.cors_origins.clone().unwrap_or_default().0);
    let state = state.with_public_url(settings.public_url.clone());
    // Open streams would keep a graceful stop waiting for ever: they end when it begins.
    let hub = state.hub.clone();
    let shutdown = async move {
        shutdown.await;
        hub.close();
    };
    let mut metrics_server = None;
    let browse = crate::http::page::reachable(address);
    tracing::info!(
        %address,
        "serving; dashboard page at http://{browse}/ (`tally token --user NAME --link` signs \
         in), API docs at http://{browse}/docs"
    );
    tracing::info!(database = %without_password(&settings.database.database_url()), "database");
    if settings.keys.jwt_secret.is_none() && settings.keys.jwt_public_key_file.is_none() {
        let secret = settings.database.data_dir.join(crate::auth::SECRET_FILE);
        tracing::info!(
            secret = %secret.display(),
            "tokens are checked against the secret generated here; `tally token --user NAME` \
             (with the same data directory) prints one"
        );
    }
    let app = match metrics_listener {
        None => router(state),
        Some(metrics) => {
            tracing::info!(address = %metrics.local_addr()?, "serving /metrics");
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let serving = crate::connections::serve(
                metrics,
                metrics_router(state.clone()),
                settings.connections(),
                async {
                    let _ = stopped.await;
                },
            );
            metrics_server = Some((tokio::spawn(serving), stop));
            api_router(state)
        }
    };
    crate::connections::serve(listener, app, settings.connections(), shutdown).await;
    if let Some((serving, stop)) = metrics_server {
        let _ = stop.send(());
        let _ = serving.await;
    }
    background.shutdown().await;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The listener of `/metrics` where it has an address of its own: never the API's `address`.
async fn bind_metrics(
    settings: &Settings,
    address: std::net::SocketAddr,
) -> Result<Option<TcpListener>, LaunchError> {
    match settings.metrics_listen {
        None => Ok(None),
        // Port 0 asks for a port of its own each time, so never the API's.
        Some(metrics)
            if metrics.port() != 0 && (metrics == address || metrics == settings.listen) =>
        {
            Err(LaunchError::Settings(format!(
                "TALLY_METRICS_LISTEN={metrics} is the API's own address: give /metrics an \
                 address of its own (another port), or unset it to serve /metrics beside the API"
            )))
        }
        Some(metrics) => TcpListener::bind(metrics).await.map(Some).map_err(|error| {
            LaunchError::Settings(format!(
                "TALLY_METRICS_LISTEN={metrics}: cannot listen there ({error})"
            ))
        }),
    }
}

/// `url` with its password, in the user info or a `password=` parameter, replaced: fit for a
/// log line.
pub(crate) fn without_password(url: &str) -> String {
    let (url, query) = url.split_once('?').unwrap_or((url, ""));
    let query: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            if pair.starts_with("password=") {
                "password=***"
            } else {
                pair
            }
        })
        .collect();
    let url = without_user_password(url);
    if query.is_empty() {
        url
    } else {
        format!("{url}?{}", query.join("&"))
    }
}

fn without_user_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split(':').next().unwrap_or_default();
            let hidden = if user_info.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{}", &rest[authority_end..])
        }
        None => url.to_owned(),
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutdown requested");
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn a_logged_database_url_shows_no_password() {
        assert_eq!(
            without_password("postgres://tally:s3cret@db.example.com:5432/tally?sslmode=require"),
            "postgres://tally:***@db.example.com:5432/tally?sslmode=require"
        );
        assert_eq!(
            without_password("postgres://tally@db/x"),
            "postgres://tally@db/x"
        );
        assert_eq!(
            without_password("sqlite://./data/tally.db"),
            "sqlite://./data/tally.db"
        );
    }
}
