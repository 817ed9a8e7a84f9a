//! What every integration test shares: a real app on a fresh database of either backend
//! ([`TestApp`], run on both by [`on_both_backends!`]), the one request builder
//! ([`TestRequest`]), the one token helper ([`token`]) and its secret, raw views of the stored
//! state ([`TestDb`]), and waiting for an event ([`wait_until`]).

#![allow(dead_code)]

mod app;
pub mod browser;
mod database;
mod events;
pub mod held_port;
pub mod http_client;
mod launched;
mod node;
pub mod process;
pub mod proxy;
mod requests;
mod throwaway;
mod tokens;
mod waiting;

pub use app::{TestApp, serving, started};
pub use database::{Backend, TestDb, ThrowawayServer, replicated_servers, tls_only_server};
pub use events::EventStream;
pub use launched::Launched;
pub use node::Node;
pub use requests::{TestRequest, TestResponse, send_to};
pub use tokens::{TEST_SECRET, claims, signed, test_auth_config, token};
pub use waiting::{PATIENCE, wait_until};

/// Runs each listed `async fn name(app: TestApp)` once per backend, as `sqlite::name` and
/// `postgres::name`. PostgreSQL is `TALLY_TEST_POSTGRES_URL`'s server when it is set, else a
/// throwaway server of this process (see `database::throwaway`); where neither is available
/// (`cfg(postgres_unavailable)`, set by build.rs) the PostgreSQL tests are ignored, with the
/// reason, rather than passing without running.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let app = $crate::support::TestApp::start($crate::support::Backend::Sqlite)
                        .await
                        .expect("sqlite is always available");
                    super::$name(app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                #[cfg_attr(
                    postgres_unavailable,
                    ignore = "PostgreSQL is not available: install its server binaries or set TALLY_TEST_POSTGRES_URL"
                )]
                async fn $name() {
                    let app = $crate::support::TestApp::start($crate::support::Backend::Postgres)
                        .await
                        .expect(
                            "PostgreSQL was available when this test binary was built: \
                             rebuild it (`touch build.rs`) to have its tests ignored",
                        );
                    super::$name(app).await;
                }
            )*
        }
    };
}

pub(crate) use on_both_backends;
