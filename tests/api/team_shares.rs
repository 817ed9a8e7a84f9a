//! Sharing a task with a team: every member sees it (its owner aside), each task counts once in
//! a user's figures with the best permission of their paths (a direct share and every team of
//! theirs), and joining, leaving, a team's deletion and a task's deletion move every affected
//! member's figures in the command's own transaction, pushed to their live streams.

use projections::Permission;
use serde_json::{Value, json};
use tally::commands::Submission;
use tally::domain::{Command, CommandRequest, TaskCommand, Title, UserId};
use tally::store::Projection;
use uuid::Uuid;

use crate::support::{EventStream, TestApp, TestRequest, on_both_backends};

on_both_backends!(
    a_task_seen_directly_and_through_two_teams_counts_once_with_the_best_permission,
    only_an_owner_in_the_team_shares_and_a_missing_share_is_404,
    a_member_removed_while_streaming_gets_their_figures_pushed,
    a_task_and_a_team_deleted_take_every_members_access_with_them,
    rebuild_and_verify_give_the_access_tables_the_commands_left,
    a_teams_tasks_and_figures_follow_what_is_shared_with_it,
    a_member_joins_and_leaves_a_team_with_thousands_of_shared_tasks,
);

/// Creates the team `name` as `admin` with `members`; answers its id.
async fn team_of(app: &TestApp, admin: &str, name: &str, members: &[&str]) -> String {
    let create = TestRequest::post("/api/teams").user(admin);
    let created = app.send(create.json(json!({ "name": name }))).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let team = created.body["team_id"].as_str().unwrap().to_owned();
    for member in members {
        let add = TestRequest::put(format!("/api/teams/{team}/members/{member}"))
            .user(admin)
            .json(json!({ "role": "member" }));
        let added = app.send(add).await;
        assert_eq!(added.status, 200, "{}", added.body);
    }
    team
}

fn team_share(task: &str, team: &str, by: &str, permission: &str) -> TestRequest {
    TestRequest::put(format!("/api/tasks/{task}/team-shares/{team}"))
        .user(by)
        .json(json!({ "permission": permission }))
}

fn leave(team: &str, member: &str) -> TestRequest {
    TestRequest::delete(format!("/api/teams/{team}/members/{member}")).user(member)
}

async fn ok(app: &TestApp, request: TestRequest) -> Value {
    let answer = app.send(request).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

/// `user`'s (shared, view_only, can_edit), after checking them against a recount of the
/// shares and memberships by `COUNT(DISTINCT …)`.
async fn shared(app: &TestApp, user: &str) -> (i64, i64, i64) {
    let figures = app.dashboard(user).await;
    let counted = app
        .db
        .scalar(
            "select count(distinct t.id) from tasks t where t.owner_id <> $1 and (\
             t.id in (select task_id from task_shares where user_id = $1) or \
             t.id in (select s.task_id from task_team_shares s join team_members m \
             on m.team_id = s.team_id where m.user_id = $1))",
            &[user],
        )
        .await;
    let shared = figures["shared"].as_i64().unwrap();
    assert_eq!(shared, counted, "{user}: {figures}");
    let (view, edit) = (figures["view_only"].as_i64(), figures["can_edit"].as_i64());
    (shared, view.unwrap(), edit.unwrap())
}

/// How `user` sees `task`: its `permission`, or the status when they cannot.
async fn permission(app: &TestApp, task: &str, user: &str) -> String {
    let read = app.get(&format!("/api/tasks/{task}"), user).await;
    match read.status.as_u16() {
        200 => read.body["permission"].as_str().unwrap().to_owned(),
        status => status.to_string(),
    }
}

/// The ids of the tasks `user` sees without owning them, as their list answers.
async fn shared_list(app: &TestApp, user: &str) -> Vec<String> {
    let listed = app.get("/api/tasks?scope=shared", user).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let items = listed.body["items"].as_array().unwrap();
    items
        .iter()
        .map(|task| format!("{}:{}", task["id"].as_str().unwrap(), task["permission"]))
        .collect()
}

async fn a_task_seen_directly_and_through_two_teams_counts_once_with_the_best_permission(
    app: TestApp,
) {
    let ops = team_of(&app, "alice", "ops", &["bob", "carol"]).await;
    let dev = team_of(&app, "alice", "dev", &["bob"]).await;
    let task = app.create_task("alice", "the release notes").await;
    let shared_directly = app.share(&task, "alice", "bob", "view").await;
    assert_eq!(shared_directly.status, 200, "{}", shared_directly.body);
    ok(&app, team_share(&task, &ops, "alice", "view")).await;
    ok(&app, team_share(&task, &dev, "alice", "edit")).await;

    assert_eq!(
        shared(&app, "bob").await,
        (1, 0, 1),
        "three paths, one task"
    );
    assert_eq!(permission(&app, &task, "bob").await, "edit");
    assert_eq!(shared_list(&app, "bob").await, [format!("{task}:\"edit\"")]);
    assert_eq!(shared(&app, "carol").await, (1, 1, 0));
    assert_eq!(permission(&app, &task, "carol").await, "view");
    assert_eq!(
        shared(&app, "alice").await,
        (0, 0, 0),
        "the owner is in both teams"
    );
    let owned = app.get(&format!("/api/tasks/{task}"), "alice").await;
    let mut teams: Vec<(String, String)> = owned.body["team_shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["team_id"].as_str().unwrap().into(),
                s["permission"].as_str().unwrap().into(),
            )
        })
        .collect();
    teams.sort();
    let mut expected = vec![
        (ops.clone(), "view".to_owned()),
        (dev.clone(), "edit".to_owned()),
    ];
    expected.sort();
    assert_eq!(teams, expected);
    // Edit through a team is edit: bob completes it; carol, who may only view, may not.
    let complete = |user: &str| TestRequest::post(format!("/api/tasks/{task}/complete")).user(user);
    app.send(complete("carol"))
        .await
        .assert_problem(403, "forbidden");
    ok(&app, complete("bob")).await;

    // Leaving one of two teams keeps the task through the other and the direct share.
    ok(&app, leave(&dev, "bob")).await;
    assert_eq!(shared(&app, "bob").await, (1, 1, 0));
    assert_eq!(permission(&app, &task, "bob").await, "view");
    // Withdrawing the direct share keeps it through ops; leaving ops too ends it.
    let unshare = TestRequest::delete(format!("/api/tasks/{task}/shares/bob")).user("alice");
    ok(&app, unshare).await;
    assert_eq!(shared(&app, "bob").await, (1, 1, 0));
    ok(&app, leave(&ops, "bob")).await;
    assert_eq!(shared(&app, "bob").await, (0, 0, 0));
    assert_eq!(permission(&app, &task, "bob").await, "404");
    assert!(shared_list(&app, "bob").await.is_empty());
    // Joining again brings it back, with the team's permission now edit.
    ok(&app, team_share(&task, &ops, "alice", "edit")).await;
    let rejoin = TestRequest::put(format!("/api/teams/{ops}/members/bob"))
        .user("alice")
        .json(json!({ "role": "member" }));
    ok(&app, rejoin).await;
    assert_eq!(shared(&app, "bob").await, (1, 0, 1));
    assert_eq!(shared(&app, "carol").await, (1, 0, 1));
    let report = app.store.verify(false, app.clock.now(), &()).await.unwrap();
    assert!(report.is_clean(), "{report:?}");
}

async fn only_an_owner_in_the_team_shares_and_a_missing_share_is_404(app: TestApp) {
    let theirs = team_of(&app, "bob", "theirs", &["carol"]).await;
    let ours = team_of(&app, "alice", "ours", &["bob"]).await;
    let task = app.create_task("alice", "the budget").await;
    let events = app.db.event_count().await;
    // A team the owner is not in is as good as absent; so is one that does not exist.
    app.send(team_share(&task, &theirs, "alice", "view"))
        .await
        .assert_problem(404, "not-found");
    let nowhere = "01900000-0000-7000-8000-000000000abc";
    app.send(team_share(&task, nowhere, "alice", "view"))
        .await
        .assert_problem(404, "not-found");
    app.send(team_share(&task, "not-a-uuid", "alice", "view"))
        .await
        .assert_problem(400, "malformed-request");
    app.send(team_share(&task, &ours, "alice", "admin"))
        .await
        .assert_problem(422, "validation");
    // Only the owner shares, even with edit through the team; a stranger does not see it.
    ok(&app, team_share(&task, &ours, "alice", "edit")).await;
    app.send(team_share(&task, &ours, "bob", "view"))
        .await
        .assert_problem(403, "forbidden");
    app.send(team_share(&task, &ours, "carol", "view"))
        .await
        .assert_problem(404, "not-found");
    let withdraw = |team: &str| {
        TestRequest::delete(format!("/api/tasks/{task}/team-shares/{team}")).user("alice")
    };
    app.send(withdraw(&theirs))
        .await
        .assert_problem(404, "not-found");
    assert_eq!(app.db.event_count().await, events + 1);
    // The same share again changes nothing and answers the task's version.
    let again = ok(&app, team_share(&task, &ours, "alice", "edit")).await;
    assert_eq!(again["version"], 2);
    assert_eq!(app.db.event_count().await, events + 1);
    // Stale If-Match: 412, nothing appended.
    let stale = team_share(&task, &ours, "alice", "view").header("If-Match", "\"1\"");
    app.send(stale)
        .await
        .assert_problem(412, "version-mismatch");
    // The owner may withdraw a team's share after leaving the team.
    let admin = TestRequest::put(format!("/api/teams/{ours}/members/bob"))
        .user("alice")
        .json(json!({ "role": "admin" }));
    ok(&app, admin).await;
    ok(&app, leave(&ours, "alice")).await;
    ok(&app, withdraw(&ours)).await;
    assert_eq!(shared(&app, "bob").await, (0, 0, 0));
    app.send(withdraw(&ours))
        .await
        .assert_problem(404, "not-found");
}

async fn a_member_removed_while_streaming_gets_their_figures_pushed(app: TestApp) {
    let ops = team_of(&app, "alice", "ops", &["bob"]).await;
    let task = app.create_task("alice", "the roadmap").await;
    let stream_of = |user: &str| TestRequest::get("/api/dashboard/stream").user(user);
    let mut stream = EventStream::open(&app.router, stream_of("bob"))
        .await
        .unwrap_or_else(|answer| panic!("the stream did not open: {answer:?}"));
    let (_, first) = stream.next_figures().await;
    assert_eq!(first["shared"], 0);

    let shared_now = ok(&app, team_share(&task, &ops, "alice", "view")).await;
    let (id, figures) = stream.next_figures().await;
    assert_eq!(id, shared_now["position"]);
    assert_eq!(
        (&figures["shared"], &figures["view_only"]),
        (&json!(1), &json!(1))
    );

    let removed = TestRequest::delete(format!("/api/teams/{ops}/members/bob")).user("alice");
    let removed = app.send(removed).await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    let (id, figures) = stream.next_figures().await;
    assert_eq!(id, removed.body["position"]);
    assert_eq!(figures["shared"], 0);
    assert_eq!(figures, app.dashboard("bob").await);
}

async fn a_task_and_a_team_deleted_take_every_members_access_with_them(app: TestApp) {
    let ops = team_of(&app, "alice", "ops", &["bob", "carol"]).await;
    let dev = team_of(&app, "alice", "dev", &["carol"]).await;
    let first = app.create_task("alice", "first").await;
    let second = app.create_task("alice", "second").await;
    for task in [&first, &second] {
        ok(&app, team_share(task, &ops, "alice", "view")).await;
    }
    ok(&app, team_share(&second, &dev, "alice", "edit")).await;
    assert_eq!(shared(&app, "bob").await, (2, 2, 0));
    assert_eq!(shared(&app, "carol").await, (2, 1, 1));

    app.delete_task(&first, "alice").await;
    assert_eq!(shared(&app, "bob").await, (1, 1, 0));
    assert_eq!(shared(&app, "carol").await, (1, 0, 1));

    let deleted = TestRequest::delete(format!("/api/teams/{ops}")).user("alice");
    ok(&app, deleted).await;
    assert_eq!(shared(&app, "bob").await, (0, 0, 0));
    assert_eq!(permission(&app, &second, "bob").await, "404");
    assert_eq!(shared(&app, "carol").await, (1, 0, 1), "still through dev");
    let owned = app.get(&format!("/api/tasks/{second}"), "alice").await;
    assert_eq!(owned.body["team_shares"].as_array().unwrap().len(), 1);
    let state = app.db.stored_state().await;
    assert_eq!(state.team_shares.len(), 1, "{:?}", state.team_shares);
    assert_eq!(state.access.len(), 1, "{:?}", state.access);
    let report = app.store.verify(false, app.clock.now(), &()).await.unwrap();
    assert!(report.is_clean(), "{report:?}");
}

async fn rebuild_and_verify_give_the_access_tables_the_commands_left(app: TestApp) {
    // Streams in an order the rebuild does not fold them in: a team deleted after it was
    // shared with, a member who left, a task shared both ways.
    let gone = team_of(&app, "alice", "gone", &["bob"]).await;
    let kept = team_of(&app, "alice", "kept", &["bob", "carol", "dan"]).await;
    let task = app.create_task("alice", "shared every way").await;
    let other = app.create_task("carol", "carol's own").await;
    let shared_directly = app.share(&task, "alice", "bob", "view").await;
    assert_eq!(shared_directly.status, 200, "{}", shared_directly.body);
    ok(&app, team_share(&task, &gone, "alice", "edit")).await;
    ok(&app, team_share(&task, &kept, "alice", "view")).await;
    ok(&app, team_share(&other, &kept, "carol", "edit")).await;
    ok(&app, leave(&kept, "dan")).await;
    let deleted = TestRequest::delete(format!("/api/teams/{gone}")).user("alice");
    ok(&app, deleted).await;

    let report = app.store.verify(false, app.clock.now(), &()).await.unwrap();
    assert!(report.is_clean(), "{report:?}");
    let before = app.db.stored_state().await;
    assert_eq!(before.team_shares.len(), 2, "{:?}", before.team_shares);
    assert_eq!(
        before.access.len(),
        4,
        "bob and carol, alice and bob: {:?}",
        before.access
    );
    app.db.execute("delete from task_access").await;
    app.db.execute("delete from task_team_shares").await;
    app.db
        .execute("update dashboard_stats set shared_view = 7")
        .await;
    app.store
        .rebuild(&[Projection::Tasks, Projection::Dashboard], &())
        .await
        .unwrap();
    assert_eq!(app.db.stored_state().await, before);

    // Verify names the drift and repairs it.
    app.db
        .execute("delete from task_access where user_id = 'bob'")
        .await;
    app.db
        .execute("update task_team_shares set permission = 'edit' where permission = 'view'")
        .await;
    let found = app.store.verify(false, app.clock.now(), &()).await.unwrap();
    assert_eq!(found.access.missing, 2, "{found:?}");
    assert_eq!(found.team_shares.different, 1, "{found:?}");
    assert!(
        !found.violations.is_empty(),
        "bob's figures count what is gone: {found:?}"
    );
    let repaired = app.store.verify(true, app.clock.now(), &()).await.unwrap();
    assert!(repaired.repaired, "{repaired:?}");
    assert_eq!(app.db.stored_state().await, before);
}

/// A team's figures, after checking them against a count over the stored team shares and
/// tasks.
async fn team_figures(app: &TestApp, team: &str, reader: &str) -> Value {
    let answer = app
        .get(&format!("/api/teams/{team}/dashboard"), reader)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let sql = match app.db.backend {
        crate::support::Backend::Sqlite => {
            "select count(*) from task_team_shares s join tasks t on t.id = s.task_id \
                 where lower(hex(s.team_id)) = replace($1, '-', '') and t.status like $2"
        }
        crate::support::Backend::Postgres => {
            "select count(*) from task_team_shares s join tasks t on t.id = s.task_id \
                 where s.team_id::text = $1 and t.status like $2"
        }
    };
    let total = app.db.scalar(sql, &[team, "%"]).await;
    let completed = app.db.scalar(sql, &[team, "completed"]).await;
    assert_eq!(answer.body["total"], total, "{}", answer.body);
    assert_eq!(answer.body["completed"], completed);
    answer.body
}

async fn a_teams_tasks_and_figures_follow_what_is_shared_with_it(app: TestApp) {
    let ops = team_of(&app, "alice", "ops", &["bob"]).await;
    let first = app.create_task("alice", "alice's").await;
    let second = app.create_task("bob", "bob's").await;
    app.create_task("bob", "not shared").await;
    ok(&app, team_share(&first, &ops, "alice", "edit")).await;
    ok(&app, team_share(&second, &ops, "bob", "view")).await;

    let figures = team_figures(&app, &ops, "bob").await;
    assert_eq!(
        (
            &figures["total"],
            &figures["pending"],
            &figures["created_today"],
            &figures["members"]
        ),
        (&json!(2), &json!(2), &json!(2), &json!(2))
    );
    let listed = app.get(&format!("/api/teams/{ops}/tasks"), "bob").await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let items: Vec<(String, String)> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| {
            (
                task["id"].as_str().unwrap().into(),
                task["permission"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        items,
        [
            (second.clone(), "owner".to_owned()),
            (first.clone(), "edit".to_owned())
        ],
        "newest first, each with the caller's permission"
    );
    assert!(
        listed.body["items"][0].get("shares").is_none(),
        "{}",
        listed.body
    );

    app.complete_task(&first, "bob").await;
    let figures = team_figures(&app, &ops, "alice").await;
    assert_eq!(
        (
            &figures["completed"],
            &figures["completed_today"],
            &figures["completion_rate"]
        ),
        (&json!(1), &json!(1), &json!(50.0))
    );
    let completed = app
        .get(&format!("/api/teams/{ops}/tasks?status=completed"), "alice")
        .await;
    assert_eq!(
        completed.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        completed.body
    );

    let unshare = TestRequest::delete(format!("/api/tasks/{second}/team-shares/{ops}")).user("bob");
    ok(&app, unshare).await;
    let join = TestRequest::put(format!("/api/teams/{ops}/members/carol"))
        .user("alice")
        .json(json!({ "role": "member" }));
    ok(&app, join).await;
    let figures = team_figures(&app, &ops, "carol").await;
    assert_eq!(
        (&figures["total"], &figures["members"]),
        (&json!(1), &json!(3))
    );
    app.delete_task(&first, "alice").await;
    let figures = team_figures(&app, &ops, "carol").await;
    assert_eq!(
        (&figures["total"], &figures["completed"]),
        (&json!(0), &json!(0))
    );

    for route in ["tasks", "dashboard"] {
        app.get(&format!("/api/teams/{ops}/{route}"), "mallory")
            .await
            .assert_problem(404, "not-found");
    }
    let report = app.store.verify(false, app.clock.now(), &()).await.unwrap();
    assert!(report.is_clean(), "{report:?}");
    // A team's row lost behind the service's back comes back with a rebuild of the teams.
    let before = team_figures(&app, &ops, "alice").await;
    app.db
        .execute("update team_stats set members = 9, pending = 4")
        .await;
    let drifted = app.store.verify(false, app.clock.now(), &()).await.unwrap();
    assert_eq!(drifted.team_stats.different, 1, "{drifted:?}");
    app.store.rebuild(&[Projection::Teams], &()).await.unwrap();
    assert_eq!(team_figures(&app, &ops, "alice").await, before);
}

/// Runs `command` on `stream_id` as `actor` straight through the writer (many at once batch).
async fn execute(app: &TestApp, stream_id: Uuid, actor: &str, command: impl Into<Command>) {
    let submission = Submission {
        request: CommandRequest {
            stream_id,
            actor: UserId::parse(actor).unwrap(),
            command: command.into(),
            expected_version: None,
            now: app.clock.now(),
        },
        idempotency: None,
        correlation_id: Uuid::now_v7(),
    };
    app.commands
        .execute(submission)
        .await
        .expect("the command succeeds");
}

/// Thousands of access rows moved by one command, loaded and deleted by key in one statement
/// each: PostgreSQL once ran out of stack on such a statement.
async fn a_member_joins_and_leaves_a_team_with_thousands_of_shared_tasks(app: TestApp) {
    // PostgreSQL ran out of stack at about 8,000 keys in one statement.
    const TASKS: usize = 10_000;
    let ops: Uuid = team_of(&app, "alice", "ops", &[]).await.parse().unwrap();
    let ids: Vec<Uuid> = (0..TASKS).map(|_| Uuid::now_v7()).collect();
    let title = Title::parse("shared with ops").unwrap();
    let creates = ids.iter().map(|id| {
        let create = TaskCommand::Create {
            title: title.clone(),
            description: Default::default(),
        };
        execute(&app, *id, "alice", create)
    });
    futures_util::future::join_all(creates).await;
    let shares = ids.iter().map(|id| {
        let share = TaskCommand::ShareWithTeam {
            team_id: ops,
            permission: Permission::View,
        };
        execute(&app, *id, "alice", share)
    });
    futures_util::future::join_all(shares).await;

    let join = TestRequest::put(format!("/api/teams/{ops}/members/bob"))
        .user("alice")
        .json(json!({ "role": "member" }));
    ok(&app, join).await;
    assert_eq!(shared(&app, "bob").await, (TASKS as i64, TASKS as i64, 0));
    ok(&app, leave(&ops.to_string(), "bob")).await;
    assert_eq!(shared(&app, "bob").await, (0, 0, 0));
    let deleted = TestRequest::delete(format!("/api/teams/{ops}")).user("alice");
    ok(&app, deleted).await;
    assert!(app.db.stored_state().await.team_shares.is_empty());
}
