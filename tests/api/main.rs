//! tally's integration tests: one binary, one module per concern. Tests that take a `TestApp`
//! run on SQLite always and on PostgreSQL when `TALLY_TEST_POSTGRES_URL` is set (CI sets it,
//! and there an unreachable server fails the tests).

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
