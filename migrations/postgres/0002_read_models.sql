-- Read models, written by the projection fold in the same transaction as the events.
create table tasks (
    id           uuid        primary key,
    owner_id     text        not null,
    title        text        not null,
    description  text        not null,
    status       text        not null check (status in ('pending', 'completed')),
    created_at   timestamptz not null,
    updated_at   timestamptz not null,
    completed_at timestamptz,
    version      bigint      not null
);

create index tasks_by_owner on tasks (owner_id, id);

create table task_shares (
    task_id    uuid not null,
    user_id    text not null,
    permission text not null check (permission in ('view', 'edit')),
    primary key (task_id, user_id)
);

create index task_shares_by_user on task_shares (user_id, task_id);

-- One row per user. Each day/week counter carries the key of the day or ISO week it counts
-- (days since 1970-01-01; a week is the key of its Monday); a past key reads as zero.
create table dashboard_stats (
    user_id              text    primary key,
    pending              bigint  not null,
    completed            bigint  not null,
    total                bigint  generated always as (pending + completed) stored,
    shared_view          bigint  not null,
    shared_edit          bigint  not null,
    created_day          integer not null,
    created_day_count    bigint  not null,
    created_week         integer not null,
    created_week_count   bigint  not null,
    completed_day        integer not null,
    completed_day_count  bigint  not null,
    completed_week       integer not null,
    completed_week_count bigint  not null
);
