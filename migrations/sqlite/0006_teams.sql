-- Teams (projections/src/team.rs): each team is a stream of its own in the log; these are its
-- read models, written by the fold in the same transaction as its events. A log from before
-- teams holds no team events, so the empty tables are exactly its fold.
create table teams (
    id         blob    primary key,
    name       text    not null,
    created_at text    not null,
    version    integer not null
) without rowid;

create table team_members (
    team_id blob not null,
    user_id text not null,
    role    text not null check (role in ('member', 'admin')),
    primary key (team_id, user_id)
) without rowid;

-- A user's teams (GET /api/teams).
create index team_members_by_user on team_members (user_id, team_id);

insert into projection_checkpoints (name, version, position, updated_at)
select 'teams', 1, position, strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')
from projection_checkpoints where name = 'tasks';
