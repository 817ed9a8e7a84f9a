-- Each team's figures over the tasks shared with it (projections/src/team_stats.rs), kept by the
-- fold like a user's dashboard row. Teams that exist already get a row with their members;
-- nothing could be shared with a team before this.
create table team_stats (
    team_id              uuid    primary key,
    members              bigint  not null,
    pending              bigint  not null,
    completed            bigint  not null,
    created_day          integer not null,
    created_day_count    bigint  not null,
    created_week         integer not null,
    created_week_count   bigint  not null,
    completed_day        integer not null,
    completed_day_count  bigint  not null,
    completed_week       integer not null,
    completed_week_count bigint  not null
);

insert into team_stats
select team_id, count(*), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 from team_members group by team_id;
