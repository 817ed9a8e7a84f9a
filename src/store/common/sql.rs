//! SQL that both backends run word for word: the column lists every statement shares, the
//! queries of the read side, jobs, rebuild and verify, and the placeholders of bulk statements.
//! A batch's own statements are in `write_tx.rs`, beside the code that runs them; what differs
//! between the backends lives in their own folders (`Backend` in `common/mod.rs`).

use std::fmt::Write;

use crate::store::tables::dashboard_stats::stats_columns;
use crate::store::tables::tasks::task_columns;

/// The columns `rows::recorded_event` decodes.
macro_rules! event_columns {
    () => {
        "position, event_id, stream_id, stream_version, event_type, event_version, payload, \
         actor, recorded_at"
    };
}

/// The columns `rows::views_of` decodes: a task `t` joined with one row `s` of who sees it (or
/// none), of a `kind`: `access` (how the reader sees a task they do not own), `user` (a direct
/// share) or `team` (a team share).
macro_rules! select_task_with_share {
    () => {
        "select t.id, t.owner_id, t.title, t.description, t.status, t.created_at, t.updated_at, \
         t.completed_at, t.version, s.kind as share_kind, s.user_id as share_user_id, \
         s.team_id as share_team_id, s.permission as share_permission"
    };
}

/// How many users a task is shared with, for its owner's reads (`null` for anyone else's).
/// The primary key's (task, user) order makes it a count of one index range.
macro_rules! shares_total_for {
    ($reader:literal) => {
        concat!(
            ", case when t.owner_id = ",
            $reader,
            " then (select count(*) from task_shares c where c.task_id = t.id) end as shares_total "
        )
    };
}

/// A task joined with who sees it as a read shows it (one row with no share when there is
/// nothing to show): for its owner (`$2`) the first `$3` direct shares by user id and the first
/// `$3` team shares by team id, for anyone else how they see it.
pub const LOAD_TASK: &str = concat!(
    select_task_with_share!(),
    shares_total_for!("$2"),
    "from tasks t left join (\
     select 'access' as kind, task_id, user_id, cast(null as uuid) as team_id, permission \
     from task_access where task_id = $1 and user_id = $2 \
     union all select 'user', task_id, user_id, cast(null as uuid), permission from \
     (select task_id, user_id, permission from task_shares where task_id = $1 \
     order by user_id limit $3) f \
     union all select 'team', task_id, cast(null as text), team_id, permission from \
     (select task_id, team_id, permission from task_team_shares where task_id = $1 \
     order by team_id limit $3) g\
     ) s on s.task_id = t.id and (s.kind = 'access' or t.owner_id = $2) \
     where t.id = $1 order by s.kind, s.user_id, s.team_id"
);

/// A team with every member (a team always has one: its admin), by user id.
pub const LOAD_TEAM: &str = "select t.id, t.name, t.created_at, t.version, \
     m.team_id, m.user_id, m.role \
     from teams t join team_members m on m.team_id = t.id where t.id = $1 order by m.user_id";

/// The role of user `$2` in team `$1`: one key of `team_members`.
pub const ROLE_IN_TEAM: &str =
    "select team_id, user_id, role from team_members where team_id = $1 and user_id = $2";

/// A page of the teams of `$1`, by id (oldest first), after team `$2`, with the user's role.
pub const LIST_TEAMS: &str = "select t.id, t.name, t.created_at, t.version, \
     m.team_id, m.user_id, m.role \
     from team_members m join teams t on t.id = m.team_id \
     where m.user_id = $1 and m.team_id > $2 order by m.team_id limit $3";

pub const LOAD_STATS: &str = concat!(
    "select ",
    stats_columns!(),
    " from dashboard_stats where user_id = $1"
);

/// One user's trend rows from day key `$2` to `$3`, oldest first: one range of the primary key.
pub const TREND: &str = "select day, created, completed from daily_stats \
     where user_id = $1 and day >= $2 and day <= $3 order by day";

pub const TASK_EVENTS: &str = concat!(
    "select ",
    event_columns!(),
    " from events where stream_id = $1 and position > $2 order by stream_version limit $3"
);
// Positions and stream versions rise together within a stream (the one writer assigns both),
// so paging by position follows the version order the index gives.

pub const EVENTS_AFTER: &str = concat!(
    "select ",
    event_columns!(),
    " from events where position > $1 order by position limit $2"
);

/// The log stream after stream, for rebuild and verify to fold a task at a time: the events up
/// to position `$4` of the streams after (`$1` stream, `$2` version), through the unique
/// (stream_id, stream_version) index. The parameters appear in their order (rusqlite binds
/// `$n` by appearance).
pub const EVENTS_BY_STREAM: &str = concat!(
    "select ",
    event_columns!(),
    " from events where (stream_id, stream_version) > ($1, $2) and position <= $3 \
     order by stream_id, stream_version limit $4"
);

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

pub const EXPIRE_KEYS: &str = "delete from idempotency_keys where created_at < $1";

pub const SAMPLE_USERS: &str = "select user_id from dashboard_stats order by random() limit $1";

/// The tasks a user's figures count: those they own and those they see through shares.
pub const TASKS_OF_USER: &str = concat!(
    "select ",
    task_columns!(),
    " from tasks where owner_id = $1 \
     or id in (select task_id from task_access where user_id = $1)"
);

pub const ACCESS_OF_USER: &str = "select task_id, user_id, permission, direct, team_view, \
     team_edit from task_access where user_id = $1";

pub const HEAD_POSITION: &str = "select coalesce(max(position), 0) as position from events";

/// The page of the caller's own tasks that `LIST_OWNED` and `LIST_OWNED_LATERAL` share: newest
/// first, `$2, $3` the statuses wanted (the same one twice to filter), `$4` the cursor.
///
/// Written as a range of `tasks_by_owner` (owner, id), not `owner_id = $1 … order by id`: with
/// the owner pinned by an equality, PostgreSQL may walk the primary key backward instead,
/// filtering by owner, for an owner it thinks common, which reads everyone's newer tasks first
/// (1.9 ms for 20 rows of a user owning 45% of 66,000 tasks, 0.03 ms as a range). Ordered by
/// owner too, only that index gives the order without sorting.
macro_rules! owned_page {
    () => {
        concat!(
            "with page as (select ",
            task_columns!(),
            " from tasks \
             where (owner_id, id) < ($1, $4) and owner_id >= $1 and status in ($2, $3) \
             order by owner_id desc, id desc limit $5) "
        )
    };
}

/// A page of the caller's own tasks, each joined with its first `$6` direct shares by user id
/// and first `$6` team shares by team id (SQLite: it has no lateral join; its planner probes
/// the keys the `in` names). Numbering a task's shares reads at most the domain's limits of
/// them, whatever the page.
pub const LIST_OWNED: &str = concat!(
    owned_page!(),
    select_task_with_share!(),
    shares_total_for!("$1"),
    "from page t left join (\
     select 'user' as kind, task_id, user_id, cast(null as uuid) as team_id, permission, \
     row_number() over (partition by task_id order by user_id) as n \
     from task_shares where task_id in (select id from page) \
     union all select 'team', task_id, cast(null as text), team_id, permission, \
     row_number() over (partition by task_id order by team_id) \
     from task_team_shares where task_id in (select id from page)) s \
     on s.task_id = t.id and s.n <= $6 \
     order by t.id desc, s.kind, s.user_id, s.team_id"
);

/// `LIST_OWNED` for PostgreSQL: each task's shares are one range of each share table's key,
/// read per task (a lateral subquery with a limit cannot be flattened). The `in (select id
/// from page)` form became a hash join over every share in the database (PostgreSQL reads
/// the semi-join's cheaper side whole): 2 ms of a 2.4 ms list with 13,000 shares.
pub const LIST_OWNED_LATERAL: &str = concat!(
    owned_page!(),
    select_task_with_share!(),
    shares_total_for!("$1"),
    "from page t left join lateral (\
     (select 'user' as kind, task_id, user_id, cast(null as uuid) as team_id, permission \
     from task_shares where task_id = t.id order by user_id limit $6) \
     union all (select 'team', task_id, cast(null as text), team_id, permission \
     from task_team_shares where task_id = t.id order by team_id limit $6)) s on true \
     order by t.id desc, s.kind, s.user_id, s.team_id"
);

/// A page of the tasks the caller sees without owning them, newest first, each once with the
/// best permission of its paths (a direct share, their teams'): one range of
/// `task_access_by_user`.
pub const LIST_SHARED: &str = concat!(
    select_task_with_share!(),
    ", cast(null as bigint) as shares_total ",
    "from (select 'access' as kind, task_id, user_id, cast(null as uuid) as team_id, permission \
     from task_access where user_id = $1 and task_id < $4) s \
     join tasks t on t.id = s.task_id \
     where t.status in ($2, $3) order by s.task_id desc limit $5"
);

/// A page of the tasks shared with team `$6`, newest first, each with how the caller (`$1`)
/// sees it (none for their own): one range of `task_team_shares_by_team`.
pub const LIST_TEAM: &str = concat!(
    select_task_with_share!(),
    ", cast(null as bigint) as shares_total ",
    "from task_team_shares g join tasks t on t.id = g.task_id \
     left join (select 'access' as kind, task_id, user_id, cast(null as uuid) as team_id, \
     permission from task_access where user_id = $1) s on s.task_id = t.id \
     where g.team_id = $6 and t.status in ($2, $3) and g.task_id < $4 \
     order by g.task_id desc limit $5"
);

/// One team's figures row.
pub const LOAD_TEAM_STATS: &str = "select team_id, members, pending, completed, created_day, \
     created_day_count, created_week, created_week_count, completed_day, completed_day_count, \
     completed_week, completed_week_count from team_stats where team_id = $1";

/// A page of one task's shares by user id: one range of the primary key.
pub const TASK_SHARES: &str = "select task_id, user_id, permission from task_shares \
     where task_id = $1 and user_id > $2 order by user_id limit $3";

/// The events columns a batch inserts, positions included (the writer assigns them).
pub const EVENT_INSERT_COLUMNS: &str = "position, event_id, stream_id, stream_version, \
     event_type, event_version, payload, actor, correlation_id, recorded_at";

/// The columns of `idempotency_keys` that `rows::idempotency_record` decodes.
pub const IDEMPOTENCY_COLUMNS: &str =
    "user_id, key, fingerprint, task_id, version, position, created, created_at, refusal";

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
        let mut sql = String::with_capacity(rows * (columns * 8 + 4));
        for row in 0..rows {
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            self.push_list(&mut sql, columns, first + row * columns);
            sql.push(')');
        }
        sql
    }

    /// `$1, $2, …`: `count` placeholders, numbered from `first`.
    pub fn list(self, count: usize, first: usize) -> String {
        let mut sql = String::with_capacity(count * 8);
        self.push_list(&mut sql, count, first);
        sql
    }

    /// Appends `count` placeholders numbered from `first` to `sql`, allocating nothing else:
    /// a bulk statement has thousands.
    fn push_list(self, sql: &mut String, count: usize, first: usize) {
        for n in first..first + count {
            if n > first {
                sql.push_str(", ");
            }
            match self {
                Params::Numbered => {
                    let _ = write!(sql, "${n}");
                }
                Params::Positional => sql.push('?'),
            }
        }
    }
}
