//! The throughput ceiling for the load run: a bare axum server with tally's own JWT check that
//! answers a constant dashboard body. tally's read path is reported as a fraction of this.
//!
//! `TALLY_JWT_SECRET=… cargo run --release --example ceiling -- 127.0.0.1:18081`

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tally::auth::{AuthConfig, Authenticator};

const BODY: &str = r#"{"total":1000,"pending":400,"completed":600,"shared":200}"#;

#[tokio::main]
async fn main() {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18081".into());
    let config = AuthConfig {
        secret: std::env::var("TALLY_JWT_SECRET").ok(),
        ..AuthConfig::default()
    };
    let data_dir = std::env::var("TALLY_DATA_DIR").unwrap_or_else(|_| "./data".into());
    let auth = Arc::new(Authenticator::from_config(&config, data_dir.as_ref()).expect("keys"));
    let app = Router::new().route(
        "/api/dashboard/statistics",
        get(move |headers: HeaderMap| {
            let auth = auth.clone();
            async move {
                let token = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.strip_prefix("Bearer "));
                match token.map(|token| auth.verify(token)) {
                    Some(Ok(_)) => {
                        ([(header::CONTENT_TYPE, "application/json")], BODY).into_response()
                    }
                    _ => StatusCode::UNAUTHORIZED.into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(&address).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
