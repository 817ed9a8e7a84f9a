//! SQL that both backends run word for word, as constants, and the bulk statements a batch
//! writes, built by plain functions from those constants and a run of placeholders. What
//! differs between the backends lives in their own folders (`Backend` in `common/mod.rs`).

/// The head of [`save_responses`]. A key older than the replay window, which lookups no longer
/// see, is overwritten.
pub const SAVE_RESPONSES_HEAD: &str = "insert into idempotency_keys \
     (user_id, key, fingerprint, task_id, version, position, created, created_at, refusal) values";

pub const SAVE_RESPONSES_TAIL: &str = "on conflict (user_id, key) do update set \
     fingerprint = excluded.fingerprint, task_id = excluded.task_id, \
     version = excluded.version, position = excluded.position, created = excluded.created, \
     created_at = excluded.created_at, refusal = excluded.refusal";

/// The columns `rows::task_row` decodes.
macro_rules! task_columns {
    () => {
        "id, owner_id, title, description, status, created_at, updated_at, completed_at, version"
    };
}

/// The columns `rows::recorded_event` decodes.
macro_rules! event_columns {
    () => {
        "position, event_id, stream_id, stream_version, event_type, event_version, payload, \
         actor, recorded_at"
    };
}

/// The columns `rows::stats_row` decodes.
macro_rules! stats_columns {
    () => {
        "user_id, pending, completed, shared_view, shared_edit, created_day, created_day_count, \
         created_week, created_week_count, completed_day, completed_day_count, completed_week, \
         completed_week_count"
    };
}

/// The columns `rows::views_of` decodes: a task `t` joined with one share `s` (or none).
macro_rules! select_task_with_share {
    () => {
        "select t.id, t.owner_id, t.title, t.description, t.status, t.created_at, t.updated_at, \
         t.completed_at, t.version, s.user_id as share_user_id, s.permission as share_permission "
    };
}

/// A task joined with each of its shares (one row with no share when it has none).
pub const LOAD_TASK: &str = concat!(
    select_task_with_share!(),
    "from tasks t left join task_shares s on s.task_id = t.id where t.id = $1 order by s.user_id"
);

pub const LOAD_STATS: &str = concat!(
    "select ",
    stats_columns!(),
    " from dashboard_stats where user_id = $1"
);

/// The upsert of `insert into <stats> (STATS_COLUMNS) values (…), (…)`.
pub const SAVE_STATS_TAIL: &str = "on conflict (user_id) do update set pending = excluded.pending, \
     completed = excluded.completed, shared_view = excluded.shared_view, \
     shared_edit = excluded.shared_edit, created_day = excluded.created_day, \
     created_day_count = excluded.created_day_count, created_week = excluded.created_week, \
     created_week_count = excluded.created_week_count, completed_day = excluded.completed_day, \
     completed_day_count = excluded.completed_day_count, \
     completed_week = excluded.completed_week, completed_week_count = excluded.completed_week_count";

/// The upsert of `insert into <tasks> (TASK_COLUMNS) values (…), (…)`.
pub const UPSERT_TASK_TAIL: &str = "on conflict (id) do update set title = excluded.title, \
     description = excluded.description, status = excluded.status, \
     updated_at = excluded.updated_at, completed_at = excluded.completed_at, \
     version = excluded.version";

pub const TASK_COLUMNS: &str = task_columns!();

pub const STATS_COLUMNS: &str = stats_columns!();

pub const TASK_EVENTS: &str = concat!(
    "select ",
    event_columns!(),
    " from events where stream_id = $1 order by stream_version"
);

pub const EVENTS_AFTER: &str = concat!(
    "select ",
    event_columns!(),
    " from events where position > $1 order by position limit $2"
);

/// Every projection is applied by the live write path, in the transaction of its events.
pub const SAVE_LIVE_CHECKPOINTS: &str =
    "update projection_checkpoints set position = $1, updated_at = $2 where position < $1";

pub const SET_CHECKPOINT: &str = "insert into projection_checkpoints \
     (name, version, position, updated_at) values ($1, $2, $3, $4) \
     on conflict (name) do update set version = excluded.version, \
     position = excluded.position, updated_at = excluded.updated_at";

pub const CHECKPOINTS: &str =
    "select name, version, position, updated_at from projection_checkpoints order by name";

pub const ADD_JOB: &str = "insert into job_runs (name, last_tick) \
     values ($1, '1970-01-01T00:00:00Z') on conflict (name) do nothing";

/// Moves a job's last tick forward; one server's update wins each tick.
pub const CLAIM_TICK: &str =
    "update job_runs set last_tick = $2 where name = $1 and last_tick < $2";

/// One chunk of the day/week roll-over: `$1` is today's day key, `$2` this week's key. Every
/// right-hand side reads the row as it was, so each count is kept only if its key is current.
pub const ROLL_OVER: &str = "update dashboard_stats set \
     created_day_count = case when created_day = $1 then created_day_count else 0 end, \
     completed_day_count = case when completed_day = $1 then completed_day_count else 0 end, \
     created_week_count = case when created_week = $2 then created_week_count else 0 end, \
     completed_week_count = case when completed_week = $2 then completed_week_count else 0 end, \
     created_day = $1, completed_day = $1, created_week = $2, completed_week = $2 \
     where user_id in (select user_id from dashboard_stats \
     where created_day <> $1 or completed_day <> $1 or created_week <> $2 or completed_week <> $2 \
     limit 10000)";

pub const EXPIRE_KEYS: &str = "delete from idempotency_keys where created_at < $1";

pub const SAMPLE_USERS: &str = "select user_id from dashboard_stats order by random() limit $1";

/// The tasks a user's figures count: those they own and those shared with them.
pub const TASKS_OF_USER: &str = concat!(
    "select ",
    task_columns!(),
    " from tasks where owner_id = $1 \
     or id in (select task_id from task_shares where user_id = $1)"
);

pub const SHARES_OF_USER: &str =
    "select task_id, user_id, permission from task_shares where user_id = $1";

pub const HEAD_POSITION: &str = "select coalesce(max(position), 0) as position from events";

/// A page of the caller's own tasks, newest first, each joined with its shares.
/// `$2, $3` are the statuses wanted (the same one twice to filter), `$4` the cursor.
pub const LIST_OWNED: &str = concat!(
    select_task_with_share!(),
    "from (select ",
    task_columns!(),
    " from tasks \
           where owner_id = $1 and status in ($2, $3) and id < $4 order by id desc limit $5) t \
     left join task_shares s on s.task_id = t.id order by t.id desc, s.user_id"
);

/// A page of the tasks shared with the caller, newest first, with the caller's share.
pub const LIST_SHARED: &str = concat!(
    select_task_with_share!(),
    "from task_shares s join tasks t on t.id = s.task_id \
     where s.user_id = $1 and t.status in ($2, $3) and s.task_id < $4 \
     order by s.task_id desc limit $5"
);

/// The events columns a batch inserts, positions included (the writer assigns them).
pub const EVENT_INSERT_COLUMNS: &str = "position, event_id, stream_id, stream_version, \
     event_type, event_version, payload, actor, correlation_id, recorded_at";

pub const SHARE_COLUMNS: &str = "task_id, user_id, permission";

pub const UPSERT_SHARE_TAIL: &str =
    "on conflict (task_id, user_id) do update set permission = excluded.permission";

/// Bind parameters per statement: below SQLite's 32,766 and PostgreSQL's 65,535.
pub const MAX_PARAMETERS: usize = 30_000;

/// How many rows of `columns` values fit in one statement.
pub fn rows_per_statement(columns: usize) -> usize {
    MAX_PARAMETERS / columns
}

/// How a backend writes bind parameters. PostgreSQL wants `$1, $2, …`. SQLite takes those too,
/// but sqlx then maps every `$n` to its index by name, which is quadratic in the number of
/// parameters: with the thousands a bulk statement binds, that lookup was 55% of `tally seed`'s
/// CPU time (perf). Plain `?` binds by position.
#[derive(Clone, Copy, Debug)]
pub enum Params {
    Numbered,
    Positional,
}

impl Params {
    /// `($1, $2), ($3, $4), …`: `rows` tuples of `columns` placeholders, numbered from
    /// `first`.
    pub fn tuples(self, columns: usize, rows: usize, first: usize) -> String {
        let mut sql = String::with_capacity(rows * columns * 5);
        for row in 0..rows {
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            sql.push_str(&self.list(columns, first + row * columns));
            sql.push(')');
        }
        sql
    }

    /// `$1, $2, …`: `count` placeholders, numbered from `first`.
    pub fn list(self, count: usize, first: usize) -> String {
        let mut sql = String::with_capacity(count * 5);
        for n in first..first + count {
            if n > first {
                sql.push_str(", ");
            }
            match self {
                Params::Numbered => {
                    sql.push('$');
                    sql.push_str(&n.to_string());
                }
                Params::Positional => sql.push('?'),
            }
        }
        sql
    }
}

/// Upserts `rows` task rows into `table`.
pub fn upsert_tasks(params: Params, table: &str, rows: usize) -> String {
    let values = params.tuples(9, rows, 1);
    format!("insert into {table} ({TASK_COLUMNS}) values {values} {UPSERT_TASK_TAIL}")
}

pub fn delete_tasks(params: Params, table: &str, ids: usize) -> String {
    format!("delete from {table} where id in ({})", params.list(ids, 1))
}

/// Upserts `rows` share rows into `table`.
pub fn upsert_shares(params: Params, table: &str, rows: usize) -> String {
    let values = params.tuples(3, rows, 1);
    format!("insert into {table} ({SHARE_COLUMNS}) values {values} {UPSERT_SHARE_TAIL}")
}

pub fn delete_shares(params: Params, table: &str, keys: usize) -> String {
    let keys = params.tuples(2, keys, 1);
    format!("delete from {table} where (task_id, user_id) in ({keys})")
}

/// The tasks of `table` among `ids` ids.
pub fn tasks_by_id(params: Params, table: &str, ids: usize) -> String {
    format!(
        "select {TASK_COLUMNS} from {table} where id in ({})",
        params.list(ids, 1)
    )
}

/// The dashboard rows of `table` among `users` user ids.
pub fn stats_of_users(params: Params, table: &str, users: usize) -> String {
    let users = params.list(users, 1);
    format!("select {STATS_COLUMNS} from {table} where user_id in ({users})")
}

/// Upserts `rows` dashboard rows into `table`.
pub fn save_stats(params: Params, table: &str, rows: usize) -> String {
    let values = params.tuples(13, rows, 1);
    format!("insert into {table} ({STATS_COLUMNS}) values {values} {SAVE_STATS_TAIL}")
}

/// `SAVE_RESPONSES_HEAD values (…), (…) SAVE_RESPONSES_TAIL`.
pub fn save_responses(params: Params, rows: usize) -> String {
    let values = params.tuples(9, rows, 1);
    format!("{SAVE_RESPONSES_HEAD} {values} {SAVE_RESPONSES_TAIL}")
}

/// The stored responses under `keys` (user id, key) pairs, not older than the parameter
/// bound last.
pub fn find_responses(params: Params, keys: usize) -> String {
    let pairs = params.tuples(2, keys, 1);
    let cutoff = params.list(1, keys * 2 + 1);
    format!(
        "select user_id, key, fingerprint, task_id, version, position, created, created_at, \
         refusal from idempotency_keys where (user_id, key) in ({pairs}) \
         and created_at >= {cutoff}"
    )
}

/// The newest position of each of `streams` streams: one probe of the
/// `(stream_id, stream_version)` key per stream, whatever the planner knows. `stream_id in (…)
/// group by stream_id` became a scan of the whole log on a PostgreSQL whose statistics lagged
/// behind a bulk load, and `max(position)` walks the position index backwards.
pub fn stream_heads(params: Params, streams: usize) -> String {
    format!(
        "select v.column1 as stream_id, (select position from events \
         where stream_id = v.column1 order by stream_version desc limit 1) as position \
         from (values {}) as v",
        params.tuples(1, streams, 1)
    )
}

/// Appends `rows` events, with the backend's `option` (see `Backend::INSERT_EVENTS_OPTION`).
pub fn append_events(params: Params, option: &str, rows: usize) -> String {
    let values = params.tuples(10, rows, 1);
    format!("insert into events ({EVENT_INSERT_COLUMNS}) {option} values {values}")
}

/// Every row of a read-model table.
pub fn all_of(columns: &str, table: &str) -> String {
    format!("select {columns} from {table}")
}
