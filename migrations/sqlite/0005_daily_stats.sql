-- The dashboard's trend (projections/src/trend.rs): per user and UTC day (days since
-- 1970-01-01), the tasks the user owns that were created that day, and those completed with
-- their latest completion that day. Changes are added to the counts, so a row may come to count
-- nothing (a task created and deleted the same day); it reads as zeros.
create table daily_stats (
    user_id   text    not null,
    day       integer not null,
    created   integer not null,
    completed integer not null,
    primary key (user_id, day)
) without rowid;

-- The counts of the tasks that exist already: COUNT(*) over them, which is what the fold of
-- their events gives.
insert into daily_stats (user_id, day, created, completed)
select owner_id, day, sum(created), sum(completed)
from (
    select owner_id, cast(julianday(date(created_at)) - 2440587.5 as integer) as day,
           1 as created, 0 as completed
    from tasks
    union all
    select owner_id, cast(julianday(date(completed_at)) - 2440587.5 as integer), 0, 1
    from tasks where status = 'completed'
)
group by owner_id, day;

insert into projection_checkpoints (name, version, position, updated_at)
select 'trend', 1, position, strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')
from projection_checkpoints where name = 'tasks';
