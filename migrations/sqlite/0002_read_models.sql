-- Read models, written by the projection fold in the same transaction as the events.
create table tasks (
    id           blob    primary key,
    owner_id     text    not null,
    title        text    not null,
    description  text    not null,
    status       text    not null check (status in ('pending', 'completed')),
    created_at   text    not null,
    updated_at   text    not null,
    completed_at text,
    version      integer not null
);

create index tasks_by_owner on tasks (owner_id, id);

create table task_shares (
    task_id    blob not null,
    user_id    text not null,
    permission text not null check (permission in ('view', 'edit')),
    primary key (task_id, user_id)
) without rowid;

create index task_shares_by_user on task_shares (user_id, task_id);

-- One row per user. Each day/week counter carries the key of the day or ISO week it counts
-- (days since 1970-01-01; a week is the key of its Monday); a past key reads as zero.
create table dashboard_stats (
    user_id              text    primary key,
    pending              integer not null,
    completed            integer not null,
    total                integer generated always as (pending + completed) virtual,
    shared_view          integer not null,
    shared_edit          integer not null,
    created_day          integer not null,
    created_day_count    integer not null,
    created_week         integer not null,
    created_week_count   integer not null,
    completed_day        integer not null,
    completed_day_count  integer not null,
    completed_week       integer not null,
    completed_week_count integer not null
) without rowid;
