//! tally's integration tests: one binary, one module per concern. Tests that take a `TestApp`
//! run on both backends (`on_both_backends!`): SQLite, always, and PostgreSQL, chosen thus:
//!
//! - `TALLY_TEST_POSTGRES_URL` set (CI sets it): that server, where each test creates its own
//!   database and drops it when it ends; an unreachable server fails the tests.
//! - otherwise, when PostgreSQL's server binaries are installed (`initdb` and `postgres` on
//!   `PATH`, or under `/usr/lib/postgresql/<version>/bin`): a throwaway server this process
//!   starts on its first PostgreSQL test (as the `postgres` user when run as root), fast and
//!   not durable, stopped and deleted when the process exits.
//! - otherwise the PostgreSQL tests are reported as ignored, with the reason (`build.rs` sets
//!   `cfg(postgres_unavailable)` and warns); under `CI` they run and fail instead.

mod support;

mod auth;
mod commands;
mod concurrency;
mod conformance;
mod crash;
mod errors;
mod idempotency_refusals;
mod in_order;
mod lifecycle;
mod projection_props;
mod queries;
