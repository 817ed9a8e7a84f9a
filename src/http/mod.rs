//! The HTTP API: one module per resource, each with its `router()`, merged here with the
//! limits every route shares.

mod bounds;
pub(crate) mod command_path;
pub(crate) mod commands;
mod conditional;
pub(crate) mod consistency;
pub mod cors;
pub(crate) mod dashboard;
pub mod error;
pub(crate) mod extract;
pub(crate) mod history;
mod openapi;
pub mod page;
mod path_params;
pub mod request_id;
mod shares;
mod stream;
mod strict_json;
pub(crate) mod tasks;
pub(crate) mod team_commands;
pub(crate) mod team_figures;
mod team_shares;
pub(crate) mod teams;
pub(crate) mod trend;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{And, DefaultPredicate, Predicate, SizeAbove};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::auth::Authenticator;
use crate::clock::Clock;
use crate::commands::{Commands, Deadlines};
use crate::live::{Hub, StreamLimits};
use crate::store::Store;
use bounds::BoundsLayer;
use error::ApiError;
use request_id::RequestIds;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// How long a read may take before it is answered with a timeout, and a request body may
/// take to arrive.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How the writer, the streams and the rows kept in memory are bounded.
#[derive(Clone, Copy, Debug)]
pub struct Tuning {
    pub deadlines: Deadlines,
    pub streams: StreamLimits,
    /// Memory for dashboard rows kept in memory, where the node hears every change.
    pub read_cache_bytes: u64,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            deadlines: Deadlines::default(),
            streams: StreamLimits::default(),
            read_cache_bytes: u64::from(crate::config::DEFAULT_READ_CACHE_MB) << 20,
        }
    }
}

/// What every handler shares, behind one `Arc`: axum clones the state for every request, and
/// one shared count costs less than one per part. Made by
/// [`Background::start`](crate::background::Background::start), with the tasks it needs.
#[derive(Clone)]
pub struct AppState(Arc<StateParts>);

/// The parts of [`AppState`].
#[derive(Clone)]
pub struct StateParts {
    /// Where reads go.
    pub store: Arc<dyn Store>,
    /// Where commands go.
    pub commands: Arc<Commands>,
    /// Where dashboard streams learn of changes.
    pub hub: Arc<Hub>,
    pub auth: Arc<Authenticator>,
    pub clock: Clock,
    /// Origins allowed to call the API from a browser (none: CORS off).
    pub cors_origins: Vec<HeaderValue>,
    /// Where clients reach this server (`TALLY_PUBLIC_URL`; none: `http://<Host>`).
    pub public_url: Option<crate::config::PublicUrl>,
}

impl std::ops::Deref for AppState {
    type Target = StateParts;

    fn deref(&self) -> &StateParts {
        &self.0
    }
}

impl From<StateParts> for AppState {
    fn from(shared: StateParts) -> Self {
        AppState(Arc::new(shared))
    }
}

impl AppState {
    /// This state, letting `origins` call the API from a browser.
    pub fn with_cors_origins(self, origins: Vec<HeaderValue>) -> Self {
        AppState::from(StateParts {
            cors_origins: origins,
            ..StateParts::clone(&self)
        })
    }

    /// This state, reached by clients at `url` (`TALLY_PUBLIC_URL`).
    pub fn with_public_url(self, url: Option<crate::config::PublicUrl>) -> Self {
        AppState::from(StateParts {
            public_url: url,
            ..StateParts::clone(&self)
        })
    }
}

/// Every API route, each with its description.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(commands::router())
        .merge(tasks::router().layer(compression()))
        .merge(shares::router().layer(compression()))
        .merge(dashboard::router())
        .merge(stream::router())
        .merge(trend::router().layer(compression()))
        .merge(team_commands::router())
        .merge(team_shares::router())
        .merge(team_figures::router())
        .merge(teams::router().layer(compression()))
        .merge(openapi::router().layer(compression()))
}

/// The API's OpenAPI description, as `GET /api/openapi.json` serves it.
pub fn spec() -> utoipa::openapi::OpenApi {
    let mut spec = api().into_openapi();
    openapi::describe_positions(&mut spec);
    spec
}

/// The whole API, with `GET /metrics`.
pub fn router(state: AppState) -> Router {
    app(state, true)
}

/// The whole API without `GET /metrics` (served on an address of its own).
pub fn api_router(state: AppState) -> Router {
    app(state, false)
}

/// `GET /metrics` alone, for a listen address of its own, with the API's refusals and ids.
pub fn metrics_router(state: AppState) -> Router {
    crate::telemetry::install();
    Router::new()
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(RequestIds)
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> Response {
    let text = crate::telemetry::render(state.store.as_ref(), &state.hub, state.clock.now()).await;
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], text).into_response()
}

fn app(state: AppState, with_metrics: bool) -> Router {
    crate::telemetry::install();
    let (api, _) = api().split_for_parts();
    let api = if with_metrics {
        api.route("/metrics", get(metrics))
    } else {
        api
    };
    let cors = (!state.cors_origins.is_empty()).then(|| cors::layer(&state.cors_origins));
    // One stack, applied once: each `Router::layer` boxes every route again, and a boxed
    // route clones itself and boxes its future on every request.
    let layers = ServiceBuilder::new()
        .layer(RequestIds)
        .option_layer(cors)
        .layer(BoundsLayer::new(state.clone()))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    api.merge(openapi::docs().layer(compression()))
        .merge(page::router().layer(compression()))
        // Behind the bounds like the API: a declared oversize body is refused before rmcp
        // reads it. Its event streams are GETs whose answer begins at once, so the bounds'
        // deadline (on the answer's start) does not end them.
        .merge(crate::mcp::router(&state))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(layers)
        .with_state(state)
}

/// Compression (gzip, brotli) of answers over 1 KiB, for the routes whose answers can be large
/// (task lists, the spec, the docs and dashboard pages). Not on the dashboard reads (≈ 300 bytes): the layer
/// would cost each of them and gain nothing.
fn compression() -> CompressionLayer<And<DefaultPredicate, SizeAbove>> {
    CompressionLayer::new().compress_when(DefaultPredicate::new().and(SizeAbove::new(1024)))
}
