//! SQL that both backends run word for word. What differs lives in the backend's own file.

pub const FIND_RESPONSE: &str = "select fingerprint, task_id, version, position, created \
     from idempotency_keys where user_id = $1 and key = $2 and created_at >= $3";

/// Overwrites a key older than the replay window, which `FIND_RESPONSE` no longer sees.
pub const SAVE_RESPONSE: &str = "insert into idempotency_keys \
     (user_id, key, fingerprint, task_id, version, position, created, created_at) \
     values ($1, $2, $3, $4, $5, $6, $7, $8) \
     on conflict (user_id, key) do update set fingerprint = excluded.fingerprint, \
     task_id = excluded.task_id, version = excluded.version, position = excluded.position, \
     created = excluded.created, created_at = excluded.created_at";

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

pub const LOAD_TASK: &str = concat!("select ", task_columns!(), " from tasks where id = $1");

pub const LOAD_SHARES: &str =
    "select task_id, user_id, permission from task_shares where task_id = $1 order by user_id";

pub const STREAM_HEAD: &str = "select coalesce(max(position), 0) from events where stream_id = $1";

pub const APPEND: &str = "insert into events (event_id, stream_id, stream_version, event_type, \
     event_version, payload, actor, correlation_id, causation_id, recorded_at) \
     values ($1, $2, $3, $4, $5, $6, $7, $8, null, $9) returning position";

pub const UPSERT_TASK: &str = "insert into tasks (id, owner_id, title, description, status, \
     created_at, updated_at, completed_at, version) values ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     on conflict (id) do update set title = excluded.title, \
     description = excluded.description, status = excluded.status, \
     updated_at = excluded.updated_at, completed_at = excluded.completed_at, \
     version = excluded.version";

pub const DELETE_TASK: &str = "delete from tasks where id = $1";

pub const UPSERT_SHARE: &str = "insert into task_shares (task_id, user_id, permission) \
     values ($1, $2, $3) on conflict (task_id, user_id) do update set permission = excluded.permission";

pub const DELETE_SHARE: &str = "delete from task_shares where task_id = $1 and user_id = $2";

pub const LOAD_STATS: &str = concat!(
    "select ",
    stats_columns!(),
    " from dashboard_stats where user_id = $1"
);

pub const SAVE_STATS: &str = concat!(
    "insert into dashboard_stats (",
    stats_columns!(),
    ") values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
     on conflict (user_id) do update set pending = excluded.pending, \
     completed = excluded.completed, shared_view = excluded.shared_view, \
     shared_edit = excluded.shared_edit, created_day = excluded.created_day, \
     created_day_count = excluded.created_day_count, created_week = excluded.created_week, \
     created_week_count = excluded.created_week_count, completed_day = excluded.completed_day, \
     completed_day_count = excluded.completed_day_count, \
     completed_week = excluded.completed_week, completed_week_count = excluded.completed_week_count"
);

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

pub const HEAD_POSITION: &str = "select coalesce(max(position), 0) from events";

/// A page of the caller's own tasks, newest first, each joined with its shares.
/// `$2, $3` are the statuses wanted (the same one twice to filter), `$4` the cursor.
pub const LIST_OWNED: &str = concat!(
    "select t.id, t.owner_id, t.title, t.description, t.status, \
     t.created_at, t.updated_at, t.completed_at, t.version, s.user_id as share_user_id, \
     s.permission as share_permission \
     from (select ",
    task_columns!(),
    " from tasks \
           where owner_id = $1 and status in ($2, $3) and id < $4 order by id desc limit $5) t \
     left join task_shares s on s.task_id = t.id order by t.id desc, s.user_id"
);

/// A page of the tasks shared with the caller, newest first, with the caller's share.
pub const LIST_SHARED: &str = "select t.id, t.owner_id, t.title, t.description, t.status, \
     t.created_at, t.updated_at, t.completed_at, t.version, s.user_id as share_user_id, \
     s.permission as share_permission \
     from task_shares s join tasks t on t.id = s.task_id \
     where s.user_id = $1 and t.status in ($2, $3) and s.task_id < $4 \
     order by s.task_id desc limit $5";
