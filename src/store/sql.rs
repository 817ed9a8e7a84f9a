//! SQL that both backends run word for word. What differs lives in the backend's own file.

/// `SAVE_RESPONSES_HEAD values (…), (…) SAVE_RESPONSES_TAIL`. A key older than the replay
/// window, which lookups no longer see, is overwritten.
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

/// The events columns a batch inserts, positions included (the writer assigns them).
macro_rules! insert_events {
    ($override:literal) => {
        concat!(
            "insert into events (position, event_id, stream_id, stream_version, event_type, \
             event_version, payload, actor, correlation_id, recorded_at) ",
            $override
        )
    };
}

pub const INSERT_EVENTS_SQLITE: &str = insert_events!("");

/// An identity column takes explicit values only when told to.
pub const INSERT_EVENTS_POSTGRES: &str = insert_events!("overriding system value");

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

pub const HEAD_POSITION: &str = "select coalesce(max(position), 0) from events";

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
