-- Team shares and the access they give (projections/src/access.rs). `task_access` holds, for
-- every user who sees a task they do not own, their direct share and how many of their teams
-- share the task for viewing and for editing; `permission` is the best of those paths. Before
-- team shares the only path was the direct share, so the rows start as copies of task_shares.
create table task_team_shares (
    task_id    uuid not null,
    team_id    uuid not null,
    permission text not null check (permission in ('view', 'edit')),
    primary key (task_id, team_id)
);

-- The tasks shared with a team: a member's joining or leaving moves their paths to each.
create index task_team_shares_by_team on task_team_shares (team_id, task_id);

create table task_access (
    task_id    uuid    not null,
    user_id    text    not null,
    permission text    not null check (permission in ('view', 'edit')),
    direct     text    check (direct in ('view', 'edit')),
    team_view  bigint  not null check (team_view >= 0),
    team_edit  bigint  not null check (team_edit >= 0),
    primary key (task_id, user_id)
);

-- The tasks shared with a user (GET /api/tasks?scope=shared, their figures' recount).
create index task_access_by_user on task_access (user_id, task_id);

insert into task_access (task_id, user_id, permission, direct, team_view, team_edit)
select task_id, user_id, permission, permission, 0, 0 from task_shares;
