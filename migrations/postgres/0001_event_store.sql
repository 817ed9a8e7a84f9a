-- The event log: append-only, one stream per task. Positions are handed out while the writer
-- holds a transaction-level advisory lock, so they increase in commit order (see
-- src/store/postgres.rs).
create table events (
    position        bigint      generated always as identity primary key,
    event_id        uuid        not null unique,
    stream_id       uuid        not null,
    stream_version  bigint      not null,
    event_type      text        not null,
    event_version   integer     not null,
    payload         jsonb       not null,
    actor           text        not null,
    correlation_id  uuid,
    causation_id    uuid,
    recorded_at     timestamptz not null,
    unique (stream_id, stream_version)
);

create function events_are_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'events are append-only';
end;
$$;

create trigger events_are_append_only before update or delete on events
    for each statement execute function events_are_append_only();

-- The first response to each idempotent command, replayed for 24 hours.
create table idempotency_keys (
    user_id     text        not null,
    key         text        not null,
    fingerprint text        not null,
    task_id     uuid        not null,
    version     bigint      not null,
    position    bigint      not null,
    created     boolean     not null,
    created_at  timestamptz not null,
    primary key (user_id, key)
);
