//! The statements [`Tx`](crate::store::tx::Tx)'s bulk writes send (see `write_tx.rs`) beyond
//! the read models' own (their tables' modules, `store/tables/`), built for a number of rows
//! and a backend's placeholders.

use super::sql::{EVENT_INSERT_COLUMNS, IDEMPOTENCY_COLUMNS, Params};

/// The upsert of [`save_responses`]. A key older than the replay window, which lookups no
/// longer see, is overwritten.
const SAVE_RESPONSES_TAIL: &str = "on conflict (user_id, key) do update set \
     fingerprint = excluded.fingerprint, task_id = excluded.task_id, \
     version = excluded.version, position = excluded.position, created = excluded.created, \
     created_at = excluded.created_at, refusal = excluded.refusal";

/// Every projection is applied by the live write path, in the transaction of its events.
pub(super) const SAVE_LIVE_CHECKPOINTS: &str =
    "update projection_checkpoints set position = $1, updated_at = $2 where position < $1";

/// A write the database must really make (SQLite rewrites the page, PostgreSQL the row, and
/// a standby refuses it) that changes nothing: one checkpoint row rewritten as it is.
pub(super) const PROBE_WRITE: &str =
    "update projection_checkpoints set updated_at = updated_at where name = 'tasks'";

/// One chunk of the day/week roll-over: `$1` is today's day key, `$2` this week's key. Every
/// right-hand side reads the row as it was, so each count is kept only if its key is current.
pub(super) const ROLL_OVER: &str = "update dashboard_stats set \
     created_day_count = case when created_day = $1 then created_day_count else 0 end, \
     completed_day_count = case when completed_day = $1 then completed_day_count else 0 end, \
     created_week_count = case when created_week = $2 then created_week_count else 0 end, \
     completed_week_count = case when completed_week = $2 then completed_week_count else 0 end, \
     created_day = $1, completed_day = $1, created_week = $2, completed_week = $2 \
     where user_id in (select user_id from dashboard_stats \
     where created_day <> $1 or completed_day <> $1 or created_week <> $2 or completed_week <> $2 \
     limit 10000)";

/// Upserts `rows` idempotency records.
pub(super) fn save_responses(params: Params, rows: usize) -> String {
    let values = params.tuples(9, rows, 1);
    format!(
        "insert into idempotency_keys ({IDEMPOTENCY_COLUMNS}) values {values} \
         {SAVE_RESPONSES_TAIL}"
    )
}

/// The stored responses under `keys` (user id, key) pairs.
pub(super) fn find_responses(params: Params, keys: usize) -> String {
    let pairs = params.tuples(2, keys, 1);
    format!("select {IDEMPOTENCY_COLUMNS} from idempotency_keys where (user_id, key) in ({pairs})")
}

/// The newest position of each of `streams` streams: one probe of the
/// `(stream_id, stream_version)` key per stream, whatever the planner knows. `stream_id in (…)
/// group by stream_id` became a scan of the whole log on a PostgreSQL whose statistics lagged
/// behind a bulk load, and `max(position)` walks the position index backwards.
pub(super) fn stream_heads(params: Params, streams: usize) -> String {
    format!(
        "select v.column1 as stream_id, (select position from events \
         where stream_id = v.column1 order by stream_version desc limit 1) as position \
         from (values {}) as v",
        params.tuples(1, streams, 1)
    )
}

/// Appends `rows` events, with the backend's `option` (see `Backend::INSERT_EVENTS_OPTION`).
pub(super) fn append_events(params: Params, option: &str, rows: usize) -> String {
    let values = params.tuples(10, rows, 1);
    format!("insert into events ({EVENT_INSERT_COLUMNS}) {option} values {values}")
}
