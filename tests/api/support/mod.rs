//! What every integration test shares: a real app on a fresh database of either backend,
//! tokens, requests, and raw views of the stored state.

#![allow(dead_code)]

mod app;
mod database;

pub use app::{TestApp, TestResponse};
pub use database::{Backend, TestDb};

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
