-- How far each projection has applied the event log, and with which version of its code.
-- The live write path projects in the same transaction as its append, so it moves these with
-- every batch; a projection whose version the code has bumped is rebuilt (see src/store/rebuild.rs).
create table projection_checkpoints (
    name       text        primary key,
    version    integer     not null,
    position   bigint      not null,
    updated_at timestamptz not null
);

-- The read models that exist already were projected inline, up to the head of the log.
insert into projection_checkpoints (name, version, position, updated_at)
select name, 1, (select coalesce(max(position), 0) from events), now()
from (values ('tasks'), ('dashboard')) as projections (name);

-- The expiry job deletes keys by age.
create index idempotency_keys_by_age on idempotency_keys (created_at);

-- The last tick each scheduled job ran for: with several servers on one database, the one
-- that moves it runs the tick and the others skip it.
create table job_runs (
    name      text        primary key,
    last_tick timestamptz not null
);
