//! What every integration test shares: a real app on a fresh database of either backend,
//! tokens, requests, and raw views of the stored state.

#![allow(dead_code)]

mod app;
mod database;

pub use app::{TestApp, TestResponse};
pub use database::{Backend, TestDb};

/// Runs each listed `async fn name(app: TestApp)` once per backend, as `sqlite::name` and
/// `postgres::name`.
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
                async fn $name() {
                    if let Some(app) =
                        $crate::support::TestApp::start($crate::support::Backend::Postgres).await
                    {
                        super::$name(app).await;
                    }
                }
            )*
        }
    };
}

pub(crate) use on_both_backends;
