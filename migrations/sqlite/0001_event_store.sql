-- The event log: append-only, one stream per task.
create table events (
    position        integer primary key autoincrement,
    event_id        blob    not null unique,
    stream_id       blob    not null,
    stream_version  integer not null,
    event_type      text    not null,
    event_version   integer not null,
    payload         text    not null,
    actor           text    not null,
    correlation_id  blob,
    causation_id    blob,
    recorded_at     text    not null,
    unique (stream_id, stream_version)
);

create trigger events_are_append_only_update before update on events
begin
    select raise(abort, 'events are append-only');
end;

create trigger events_are_append_only_delete before delete on events
begin
    select raise(abort, 'events are append-only');
end;

-- The first response to each idempotent command, replayed for 24 hours.
create table idempotency_keys (
    user_id     text    not null,
    key         text    not null,
    fingerprint text    not null,
    task_id     blob    not null,
    version     integer not null,
    position    integer not null,
    created     integer not null,
    created_at  text    not null,
    primary key (user_id, key)
) without rowid;
