//! Prometheus metrics: what the service counts as it works (requests, commands, batches,
//! events, jobs) and what it reads from the store at each scrape (the log's head, each
//! projection's position and lag, pool connections). Every series is named and explained in
//! README's *Metrics* section; [`install`] describes them to Prometheus too.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock, RwLock};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use chrono::{DateTime, Utc};
use metrics::{
    Counter, Histogram, Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge,
    histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::live::Hub;
use crate::store::{ReplicaStatus, Store};

/// Seconds: from a fast read to the slowest answer allowed.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];
/// Commands per committed batch, up to the writer's largest.
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];
/// Seconds a scheduled job may take.
const JOB_BUCKETS: &[f64] = &[0.001, 0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0];

/// Installs the process's recorder (once; later calls return the same handle) and describes
/// every series. Until it runs, whatever is recorded is dropped.
pub fn install() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full("tally_commit_batch_size".into()), BATCH_BUCKETS))
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full("tally_job_duration_seconds".into()), JOB_BUCKETS))
            .expect("bucket lists are not empty")
            .install_recorder()
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "another metrics recorder is installed; /metrics will be empty");
                PrometheusBuilder::new().build_recorder().handle()
            });
        describe();
        gauge!("tally_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        handle
    })
}

fn describe() {
    describe_counter!(
        "tally_http_requests_total",
        "HTTP requests answered, by route template, method and status."
    );
    describe_histogram!(
        "tally_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by route template and method."
    );
    describe_counter!(
        "tally_commands_total",
        "Commands answered over HTTP, by kind and outcome (`applied` or the problem type)."
    );
    describe_counter!(
        "tally_mcp_tool_calls_total",
        "MCP tool calls answered, by tool and outcome (`ok`, `refused`, `protocol-error`)."
    );
    describe_histogram!(
        "tally_mcp_tool_call_duration_seconds",
        Unit::Seconds,
        "Time to answer an MCP tool call, by tool."
    );
    describe_histogram!(
        "tally_commit_batch_size",
        Unit::Count,
        "Commands committed together in one transaction."
    );
    describe_histogram!(
        "tally_commit_duration_seconds",
        Unit::Seconds,
        "Time from a batch's begin to its commit's answer."
    );
    describe_counter!(
        "tally_events_appended_total",
        "Events appended to the log by this process."
    );
    describe_gauge!(
        "tally_head_position",
        "Position of the newest event in the log (read at scrape)."
    );
    describe_gauge!(
        "tally_projection_position",
        "Log position a projection has applied, by projection (read at scrape)."
    );
    describe_gauge!(
        "tally_projection_lag_events",
        "Events in the log a projection has not applied."
    );
    describe_gauge!(
        "tally_projection_lag_seconds",
        "How long a projection that is behind has not moved; 0 when it is level."
    );
    describe_gauge!(
        "tally_database_up",
        "1 when the last scrape could read the database, else 0."
    );
    describe_gauge!(
        "tally_following_changes",
        "1 while this server hears every other server's changes (its LISTEN connection is up; \
         always on SQLite), else 0: dashboard rows are then read from the database."
    );
    describe_gauge!(
        "tally_read_cache_rows",
        "Dashboard rows kept in memory (PostgreSQL; TALLY_READ_CACHE_MB)."
    );
    describe_gauge!(
        "tally_read_cache_bytes",
        Unit::Bytes,
        "What the dashboard rows kept in memory weigh, against TALLY_READ_CACHE_MB."
    );
    describe_counter!(
        "tally_job_runs_total",
        "Scheduled job runs, by job and outcome (`ok`, `failed`)."
    );
    describe_histogram!(
        "tally_job_duration_seconds",
        Unit::Seconds,
        "Time a scheduled job run took, by job."
    );
    describe_gauge!(
        "tally_db_pool_connections",
        "Database pool connections, by pool and state (`in_use`, `idle`)."
    );
    describe_gauge!(
        "tally_streams_open",
        "Dashboard streams (`/api/dashboard/stream`) open on this server."
    );
    describe_counter!(
        "tally_stream_events_total",
        "Dashboard events sent to streams."
    );
    describe_counter!(
        "tally_stream_resyncs_total",
        "Times every stream re-read its figures, by reason: `midnight` (a UTC day began), \
         `changes-unheard` (the log holds events this server was not told of: announcements \
         lost while its listener was away, another process on the SQLite file), \
         `too-many-users` (a batch whose users did not fit in its announcement)."
    );
    describe_histogram!(
        "tally_notification_lag_seconds",
        Unit::Seconds,
        "From another server announcing a batch (just before its commit) to this one hearing \
         it (PostgreSQL; across two clocks, which differ by what NTP leaves)."
    );
    describe_gauge!(
        "tally_replica_taking_reads",
        "1 while a hot standby (`TALLY_DATABASE_READ_URL`) has replayed everything this server \
         knows committed and answers, so reads go to it; 0 while it is behind or unreachable."
    );
    describe_gauge!(
        "tally_replica_reachable",
        "1 when a hot standby answered its last check or read, by replica."
    );
    describe_counter!(
        "tally_replica_reads_total",
        "Reads a hot standby answered, by replica (the others went to the primary)."
    );
    describe_gauge!(
        "tally_replica_behind_events",
        "Events this server knows committed that a hot standby had not replayed at its last \
         check, by replica."
    );
    describe_gauge!(
        "tally_build_info",
        "Always 1; the `version` label says which build runs."
    );
}

/// Dashboard streams open now.
pub fn streams_open(open: usize) {
    gauge!("tally_streams_open").set(open as f64);
}

/// One event sent on a dashboard stream.
pub fn stream_event() {
    counter!("tally_stream_events_total").increment(1);
}

/// Every stream re-reads its figures, for `reason`.
pub fn stream_resync(reason: &'static str) {
    counter!("tally_stream_resyncs_total", "reason" => reason).increment(1);
}

/// Another server's announcement heard `lag` after it was sent.
pub fn notification_lag(lag: Duration) {
    histogram!("tally_notification_lag_seconds").record(lag.as_secs_f64());
}

/// One answered HTTP request; `route` is the matched template (`None` for no route).
pub fn http_request(route: Option<&str>, method: &Method, status: StatusCode, took: Duration) {
    thread_local! {
        /// The series this thread has recorded, by route, then method and status: asking the
        /// registry builds a key and hashes its labels, on every request (3% of a dashboard
        /// read's time in `perf`). Routes, methods and statuses are few: it stays small.
        static SERIES: RefCell<HashMap<String, SeriesOfRoute>> = RefCell::new(HashMap::new());
    }
    let route = route.unwrap_or("unmatched");
    let method = known_method(method);
    SERIES.with_borrow_mut(|series| {
        if !series.contains_key(route) {
            series.insert(route.to_owned(), HashMap::new());
        }
        let of_route = series.get_mut(route).expect("inserted above");
        let recorded = of_route
            .entry((method, status.as_u16()))
            .or_insert_with(|| HttpSeries::new(route, method, status));
        recorded.duration.record(took.as_secs_f64());
        recorded.total.increment(1);
    });
}

/// A route's series, by method and status.
type SeriesOfRoute = HashMap<(&'static str, u16), HttpSeries>;

/// The handles of one route, method and status's series.
struct HttpSeries {
    duration: Histogram,
    total: Counter,
}

impl HttpSeries {
    fn new(route: &str, method: &'static str, status: StatusCode) -> Self {
        // Labels as `&'static str`, so that recording allocates nothing.
        let route = interned(route);
        let status = STATUS_LABELS
            .get(usize::from(status.as_u16()))
            .copied()
            .unwrap_or("other");
        HttpSeries {
            duration: histogram!(
                "tally_http_request_duration_seconds",
                "route" => route,
                "method" => method
            ),
            total: counter!(
                "tally_http_requests_total",
                "route" => route,
                "method" => method,
                "status" => status
            ),
        }
    }
}

/// Every status code's label, made once.
static STATUS_LABELS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    (0..1000)
        .map(|code: u16| &*Box::leak(code.to_string().into_boxed_str()))
        .collect()
});

/// `route` as a `&'static str`: route templates are few and fixed, so each is leaked once.
fn interned(route: &str) -> &'static str {
    static ROUTES: LazyLock<RwLock<HashMap<String, &'static str>>> =
        LazyLock::new(Default::default);
    if let Some(known) = ROUTES.read().expect("route labels").get(route) {
        return known;
    }
    let mut routes = ROUTES.write().expect("route labels");
    routes
        .entry(route.to_owned())
        .or_insert_with(|| Box::leak(route.to_owned().into_boxed_str()))
}

/// A method as a label: the standard ones by name, any other as `other` (a client cannot
/// make new series).
fn known_method(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// One command's answer: `applied`, or the problem type it was refused or failed with.
pub fn command(kind: &'static str, outcome: &'static str) {
    counter!("tally_commands_total", "kind" => kind, "outcome" => outcome).increment(1);
}

/// One MCP tool call: by tool and outcome (`ok`, `refused`: an `isError` result, or
/// `protocol-error`), and its time.
pub fn tool_call(tool: &str, outcome: &'static str, took: Duration) {
    let tool = tool.to_owned();
    counter!("tally_mcp_tool_calls_total", "tool" => tool.clone(), "outcome" => outcome)
        .increment(1);
    histogram!("tally_mcp_tool_call_duration_seconds", "tool" => tool).record(took.as_secs_f64());
}

/// One batch committed: its commands, the events they appended, and its time from begin to
/// the commit's answer.
pub fn batch_committed(commands: usize, events: usize, took: Duration) {
    histogram!("tally_commit_batch_size").record(commands as f64);
    histogram!("tally_commit_duration_seconds").record(took.as_secs_f64());
    counter!("tally_events_appended_total").increment(events as u64);
}

/// One run of a scheduled job.
pub fn job_ran(job: &'static str, ok: bool, took: Duration) {
    let outcome = if ok { "ok" } else { "failed" };
    counter!("tally_job_runs_total", "job" => job, "outcome" => outcome).increment(1);
    histogram!("tally_job_duration_seconds", "job" => job).record(took.as_secs_f64());
}

/// The metrics in Prometheus' text format, with what is read from the store brought up to
/// date first.
pub async fn render(store: &dyn Store, hub: &Hub, now: DateTime<Utc>) -> String {
    let handle = install();
    gauge!("tally_following_changes").set(if hub.is_following() { 1.0 } else { 0.0 });
    if let Some((rows, bytes)) = hub.read_cache_usage() {
        gauge!("tally_read_cache_rows").set(rows as f64);
        gauge!("tally_read_cache_bytes").set(bytes as f64);
    }
    for replica in store.replicas() {
        let name = replica.name.clone();
        let taking_reads = replica.status == ReplicaStatus::Current;
        gauge!("tally_replica_taking_reads", "replica" => name.clone())
            .set(f64::from(u8::from(taking_reads)));
        let reachable = replica.status != ReplicaStatus::Unreachable;
        gauge!("tally_replica_reachable", "replica" => name.clone())
            .set(f64::from(u8::from(reachable)));
        gauge!("tally_replica_behind_events", "replica" => name).set(replica.behind as f64);
    }
    for pool in store.pools() {
        gauge!("tally_db_pool_connections", "pool" => pool.name, "state" => "in_use")
            .set(pool.in_use);
        gauge!("tally_db_pool_connections", "pool" => pool.name, "state" => "idle").set(pool.idle);
    }
    match store.progress().await {
        Ok((head, checkpoints)) => {
            gauge!("tally_database_up").set(1.0);
            gauge!("tally_head_position").set(head as f64);
            for checkpoint in checkpoints {
                let behind = checkpoint.behind(head);
                let stalled = if behind == 0 {
                    0.0
                } else {
                    (now - checkpoint.updated_at).num_milliseconds().max(0) as f64 / 1000.0
                };
                let name = checkpoint.name;
                gauge!("tally_projection_position", "projection" => name.clone())
                    .set(checkpoint.position as f64);
                gauge!("tally_projection_lag_events", "projection" => name.clone())
                    .set(behind as f64);
                gauge!("tally_projection_lag_seconds", "projection" => name).set(stalled);
            }
        }
        Err(error) => {
            tracing::warn!(%error, "metrics cannot read the database");
            gauge!("tally_database_up").set(0.0);
        }
    }
    handle.run_upkeep();
    handle.render()
}
