//! tally's integration tests: one binary, one module per behaviour. Where to look:
//!
//! The write side
//! - `commands`: every command's success answer; the commands that change nothing; `If-Match`.
//! - `idempotency`: what an `Idempotency-Key` does: the first answer replayed (refusals too),
//!   reuse for another request refused, keys per user, forgotten after 24 hours, racing repeats.
//! - `concurrency`: commands that race on one task, from many users, from several API nodes.
//! - `commands_in_order`: one client's commands queued back to back are decided as if sent one
//!   at a time.
//! - `shares`: at most 1,000 users a task (422 `limit`); a task's answer and a list page list at
//!   most 50 shares of each task, with `shares_total`.
//!
//! The read side
//! - `queries`: one task, task lists, a task's history, the health check.
//! - `conditional_reads`: `ETag` and `If-None-Match` on dashboard and task reads: 304 until
//!   what the caller sees changes (midnight included); nothing for strangers.
//! - `dashboard_figures`: every dashboard figure, against exact values and a `COUNT(*)` recount.
//! - `trend`: the per-day trend: counts of the tasks as they are now, zeros, the window.
//! - `stream`: the live dashboard stream: first figures at once, every change (midnight
//!   included), bursts coalesced, `Last-Event-ID` resumes, limits, a graceful stop ends it.
//!
//! Refusals
//! - `errors`: every refusal is problem+json and changes nothing stored; one answer of each
//!   problem type, pinned. `errors::malformed_requests`: bodies, media types, sizes, ids,
//!   parameters, headers, unknown routes. `errors::access_and_domain_rules`: tokens, strangers,
//!   viewers and editors, transitions, versions, values.
//! - `authentication`: which tokens open the API under which key configuration; keys at startup.
//!
//! The server
//! - `api_description`: the OpenAPI spec covers every route and method the server answers,
//!   agrees with `docs/API.md` and holds together; the docs page loads nothing from elsewhere.
//! - `page`: the dashboard page's files and policy; in a real Chromium (Debian's `chromium` and
//!   `chromium-driver`; ignored with the reason where absent): sign-in by link, figures, commands,
//!   live changes, shares, a server restart, hostile titles.
//! - `metrics`: `/metrics` of a real server: counters, positions and lag move as they should;
//!   `TALLY_METRICS_LISTEN` moves it to an address of its own.
//! - `request_ids`: ids echoed or made, named in problems, carried by JSON log lines.
//! - `cors_and_compression`: allowed origins pass preflight, others get nothing; large answers
//!   are compressed, dashboard reads are not.
//! - `mcp`: the MCP endpoint for AI assistants: the API's 401 with RFC 9728 metadata, the tools'
//!   schemas and hints, each tool agreeing with the API, idempotent retries, refusals as tool errors.
//! - `settings`: every variable of README's configuration table and every flag of every
//!   subcommand, given to the real binary: plausible values start it, invalid ones are refused
//!   naming the variable, the value and the rule.
//! - `connections`: silent, stalled and idle clients are cut off after the header deadline and
//!   cannot keep others out past it (a real server on a port of its own).
//! - `stalled_readers`: clients that stop reading are cut off after the write timeout and cannot
//!   keep others out past it; a bad `TALLY_WRITE_TIMEOUT` is refused at start.
//!
//! Storage
//! - `conformance`: whole stories every backend must tell alike; a reopened store.
//! - `projection_props`: for any history, the stored figures equal a fresh fold and a recount.
//! - `lifecycle`: rebuild (under load, killed mid-build), verify and repair, checkpoints, the
//!   scheduled jobs.
//! - `outages`: commands out of time, and database connections cancelled and terminated
//!   mid-burst: a 503 was not applied, a 201 is stored, and the write path recovers.
//! - `tls`: PostgreSQL over TLS only, verified as `sslmode` says (a server of its own).
//! - `verify_cli`: `tally verify` on more tasks than one range: drift named by id, progress
//!   on a pipe, a repair that exits 0.
//! - `crash_safety`: a real `tally serve` killed mid-burst loses nothing it acknowledged;
//!   `tally token` opens its API; the first run says where things are; each subcommand's
//!   `--help` lists only its own settings.
//!
//! What they share is in `support`: a real app on a fresh database (`TestApp`), the one request
//! builder (`TestRequest`) and token helper (`token`, signed with `TEST_SECRET`), raw views of
//! what is stored (`TestDb`), waiting for an event (`wait_until`), and `on_both_backends!`.
//!
//! Tests that take a `TestApp` run on both backends (`on_both_backends!`): SQLite, always, and
//! PostgreSQL, chosen thus:
//!
//! - `TALLY_TEST_POSTGRES_URL` set (CI sets it): that server, where each test creates its own
//!   database and drops it when it ends; an unreachable server fails the tests.
//! - with `TALLY_TEST_POSTGRES_DIRECT_URL` set too, `TALLY_TEST_POSTGRES_URL` names a transaction
//!   pooler (`?pgbouncer=true`) in front of that server: the app goes through the pooler, the
//!   test databases and raw views go direct (`.ci/run` runs the suite so a second time).
//! - otherwise, when PostgreSQL's server binaries are installed (`initdb` and `postgres` on
//!   `PATH`, or under `/usr/lib/postgresql/<version>/bin`): a throwaway server this process
//!   starts on its first PostgreSQL test (as the `postgres` user when run as root), fast and
//!   not durable, stopped and deleted when the process exits.
//! - otherwise the PostgreSQL tests are reported as ignored, with the reason (`build.rs` sets
//!   `cfg(postgres_unavailable)` and warns); under `CI` they run and fail instead.
//!
//! insta names a snapshot after the module that takes it (`snapshots/api__<module>__<name>.snap`):
//! a test that moves takes its snapshot file along.

mod support;

// The write side.
mod commands;
mod commands_in_order;
mod concurrency;
mod idempotency;
mod shares;
mod team_shares;
mod teams;

// The read side.
mod conditional_reads;
mod consistency;
mod dashboard_figures;
mod queries;
mod replicas;
mod stream;
mod trend;

// Refusals.
mod authentication;
mod errors;

// The server.
mod api_description;
mod background;
mod connections;
mod cors_and_compression;
mod mcp;
mod metrics;
mod page;
mod request_ids;
mod settings;
mod stalled_readers;

// Storage.
mod conformance;
mod crash_safety;
mod database_outages;
mod lifecycle;
mod outages;
mod projection_props;
mod replay_statistics;
mod tls;
mod verify_cli;
