//! Teams as a stream of their own: created with the creator as admin, managed by admins, left
//! by members, never without an admin, invisible (404) to anyone outside them, with `If-Match`
//! and `Idempotency-Key` as every command, and their tables rebuilt and verified from the log.

use serde_json::{Value, json};
use tally::store::Projection;

use crate::support::{Backend, TestApp, TestRequest, on_both_backends};

on_both_backends!(
    a_team_begins_with_its_creator_as_admin_and_is_listed_for_its_members,
    admins_manage_members_and_a_member_may_only_leave,
    the_last_admin_can_neither_leave_nor_step_down,
    anyone_outside_a_team_gets_404_on_every_team_route,
    team_commands_take_if_match_and_idempotency_keys,
    names_roles_and_the_1001st_member_are_refused,
    rebuild_and_verify_give_the_team_tables_the_commands_left,
    seeded_teams_have_their_admin_and_members,
    task_and_team_commands_racing_into_one_batch_each_get_their_answer,
);

/// Creates the team `name` as `admin`; answers its id.
async fn create_team(app: &TestApp, admin: &str, name: &str) -> String {
    let create = TestRequest::post("/api/teams").user(admin);
    let created = app.send(create.json(json!({ "name": name }))).await;
    assert_eq!(created.status, 201, "{}", created.body);
    created.body["team_id"].as_str().unwrap().to_owned()
}

fn set_member(team: &str, by: &str, member: &str, role: &str) -> TestRequest {
    TestRequest::put(format!("/api/teams/{team}/members/{member}"))
        .user(by)
        .json(json!({ "role": role }))
}

fn remove_member(team: &str, by: &str, member: &str) -> TestRequest {
    TestRequest::delete(format!("/api/teams/{team}/members/{member}")).user(by)
}

/// The members of `team` as `reader` sees them: (user, role), by user id.
async fn members(app: &TestApp, team: &str, reader: &str) -> Vec<(String, String)> {
    let shown = app.get(&format!("/api/teams/{team}"), reader).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    let listed = shown.body["members"].as_array().unwrap();
    listed
        .iter()
        .map(|m| (text(&m["user_id"]), text(&m["role"])))
        .collect()
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value}"))
        .to_owned()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(user, role)| (user.to_string(), role.to_string()))
        .collect()
}

async fn a_team_begins_with_its_creator_as_admin_and_is_listed_for_its_members(app: TestApp) {
    let create = TestRequest::post("/api/teams").user("alice");
    let created = app.send(create.json(json!({ "name": "Platform" }))).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let team = text(&created.body["team_id"]);
    assert_eq!(created.body["version"], 1);
    assert_eq!(created.body["position"], 1);
    let answer = created.answer();
    assert_eq!(answer["location"], format!("/api/teams/{team}"));
    assert_eq!(answer["etag"], "\"1\"");

    let shown = app.get(&format!("/api/teams/{team}"), "alice").await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert_eq!(shown.body["name"], "Platform");
    assert_eq!(shown.body["role"], "admin");
    assert_eq!(shown.body["version"], 1);
    assert_eq!(shown.headers["etag"], "\"1\"");
    assert_eq!(
        members(&app, &team, "alice").await,
        pairs(&[("alice", "admin")])
    );

    let other = create_team(&app, "bob", "Design").await;
    let joined = app.send(set_member(&other, "bob", "alice", "member")).await;
    assert_eq!(joined.status, 200, "{}", joined.body);
    let listed = app.get("/api/teams", "alice").await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let items = listed.body["items"].as_array().unwrap();
    let seen: Vec<(String, String)> = items
        .iter()
        .map(|t| (text(&t["name"]), text(&t["role"])))
        .collect();
    assert_eq!(seen, pairs(&[("Platform", "admin"), ("Design", "member")]));
    assert!(
        items.iter().all(|t| t.get("members").is_none()),
        "{items:?}"
    );
    assert_eq!(listed.body["next_cursor"], Value::Null);

    // One a page: the cursor walks through them, oldest first.
    let first = app.get("/api/teams?limit=1", "alice").await;
    assert_eq!(first.body["items"][0]["id"], team.as_str());
    let cursor = text(&first.body["next_cursor"]);
    let second = app
        .get(&format!("/api/teams?limit=1&cursor={cursor}"), "alice")
        .await;
    assert_eq!(second.body["items"][0]["id"], other.as_str());
    let carol = app.get("/api/teams", "carol").await;
    assert_eq!(carol.body["items"], json!([]));
}

async fn admins_manage_members_and_a_member_may_only_leave(app: TestApp) {
    let team = create_team(&app, "alice", "ops").await;
    let added = app.send(set_member(&team, "alice", "bob", "member")).await;
    assert_eq!(added.status, 200, "{}", added.body);
    assert_eq!(added.body["version"], 2);
    // The same role again changes nothing and appends nothing.
    let events = app.db.event_count().await;
    let again = app.send(set_member(&team, "alice", "bob", "member")).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["version"], 2);
    assert_eq!(again.body["position"], added.body["position"]);
    assert_eq!(app.db.event_count().await, events);
    assert_eq!(
        members(&app, &team, "bob").await,
        pairs(&[("alice", "admin"), ("bob", "member")])
    );

    // A plain member may not manage the team, whatever they ask.
    let rename = TestRequest::patch(format!("/api/teams/{team}")).user("bob");
    let refused = [
        app.send(set_member(&team, "bob", "carol", "member")).await,
        app.send(set_member(&team, "bob", "bob", "admin")).await,
        app.send(remove_member(&team, "bob", "alice")).await,
        app.send(rename.json(json!({ "name": "mine" }))).await,
        app.send(TestRequest::delete(format!("/api/teams/{team}")).user("bob"))
            .await,
    ];
    for answer in refused {
        answer.assert_problem(403, "forbidden");
    }
    assert_eq!(app.db.event_count().await, events);

    // They may leave, and then the team is gone for them.
    let left = app.send(remove_member(&team, "bob", "bob")).await;
    assert_eq!(left.status, 200, "{}", left.body);
    app.get(&format!("/api/teams/{team}"), "bob")
        .await
        .assert_problem(404, "not-found");
    app.send(remove_member(&team, "alice", "bob"))
        .await
        .assert_problem(404, "not-found");

    // An admin promotes, renames and removes.
    let promoted = app.send(set_member(&team, "alice", "carol", "admin")).await;
    assert_eq!(promoted.status, 200, "{}", promoted.body);
    let rename = TestRequest::patch(format!("/api/teams/{team}")).user("carol");
    let renamed = app.send(rename.json(json!({ "name": "SRE" }))).await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    let removed = app.send(remove_member(&team, "carol", "alice")).await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    let shown = app.get(&format!("/api/teams/{team}"), "carol").await;
    assert_eq!(shown.body["name"], "SRE");
    assert_eq!(
        members(&app, &team, "carol").await,
        pairs(&[("carol", "admin")])
    );
}

async fn the_last_admin_can_neither_leave_nor_step_down(app: TestApp) {
    let team = create_team(&app, "alice", "ops").await;
    let joined = app.send(set_member(&team, "alice", "bob", "member")).await;
    assert_eq!(joined.status, 200, "{}", joined.body);
    let events = app.db.event_count().await;
    app.send(remove_member(&team, "alice", "alice"))
        .await
        .assert_problem(409, "last-admin");
    app.send(set_member(&team, "alice", "alice", "member"))
        .await
        .assert_problem(409, "last-admin");
    assert_eq!(app.db.event_count().await, events);

    // With a second admin, either may go.
    let promoted = app.send(set_member(&team, "alice", "bob", "admin")).await;
    assert_eq!(promoted.status, 200, "{}", promoted.body);
    let stepped_down = app
        .send(set_member(&team, "alice", "alice", "member"))
        .await;
    assert_eq!(stepped_down.status, 200, "{}", stepped_down.body);
    app.send(remove_member(&team, "bob", "bob"))
        .await
        .assert_problem(409, "last-admin");
    // The last admin deletes the team instead.
    let deleted = app
        .send(TestRequest::delete(format!("/api/teams/{team}")).user("bob"))
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    for user in ["alice", "bob"] {
        app.get(&format!("/api/teams/{team}"), user)
            .await
            .assert_problem(404, "not-found");
        let listed = app.get("/api/teams", user).await;
        assert_eq!(listed.body["items"], json!([]), "{user}");
    }
}

async fn anyone_outside_a_team_gets_404_on_every_team_route(app: TestApp) {
    let team = create_team(&app, "alice", "ops").await;
    let missing = uuid::Uuid::now_v7().to_string();
    let before = app.db.stored_state().await;
    for id in [team.as_str(), missing.as_str()] {
        let path = format!("/api/teams/{id}");
        let attempts = [
            TestRequest::get(&path),
            TestRequest::patch(&path).json(json!({ "name": "mine" })),
            TestRequest::delete(&path),
            TestRequest::put(format!("{path}/members/mallory")).json(json!({ "role": "admin" })),
            TestRequest::delete(format!("{path}/members/alice")),
            TestRequest::delete(format!("{path}/members/mallory")),
        ];
        for attempt in attempts {
            app.send(attempt.user("mallory"))
                .await
                .assert_problem(404, "not-found");
        }
    }
    assert_eq!(app.db.stored_state().await, before);
    app.get("/api/teams/not-a-uuid", "alice")
        .await
        .assert_problem(400, "malformed-request");
    app.get("/api/teams?cursor=page-2", "alice")
        .await
        .assert_problem(400, "malformed-request");
}

async fn team_commands_take_if_match_and_idempotency_keys(app: TestApp) {
    let team = create_team(&app, "alice", "ops").await;
    let joined = app.send(set_member(&team, "alice", "bob", "member")).await;
    assert_eq!(joined.status, 200, "{}", joined.body);
    let rename = |version: &str| {
        TestRequest::patch(format!("/api/teams/{team}"))
            .user("alice")
            .header("if-match", version)
            .json(json!({ "name": "dev" }))
    };
    let events = app.db.event_count().await;
    app.send(rename("\"1\""))
        .await
        .assert_problem(412, "version-mismatch");
    let stale_add = set_member(&team, "alice", "carol", "member").header("if-match", "\"1\"");
    app.send(stale_add)
        .await
        .assert_problem(412, "version-mismatch");
    let stale_delete = TestRequest::delete(format!("/api/teams/{team}"))
        .user("alice")
        .header("if-match", "\"9\"");
    app.send(stale_delete)
        .await
        .assert_problem(412, "version-mismatch");
    // A plain member is refused as such, whatever version they name.
    let by_member = remove_member(&team, "bob", "alice").header("if-match", "\"1\"");
    app.send(by_member).await.assert_problem(403, "forbidden");
    assert_eq!(app.db.event_count().await, events);
    let renamed = app.send(rename("\"2\"")).await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    assert_eq!(renamed.body["version"], 3);

    // A refusal is replayed under its key, even once the command would succeed.
    let leave = || remove_member(&team, "alice", "alice").header("idempotency-key", "leave-1");
    let refused = app.send(leave()).await;
    refused.assert_problem(409, "last-admin");
    let promoted = app.send(set_member(&team, "alice", "bob", "admin")).await;
    assert_eq!(promoted.status, 200, "{}", promoted.body);
    assert_eq!(app.send(leave()).await.answer(), refused.answer());
    let still = members(&app, &team, "alice").await;
    assert_eq!(still, pairs(&[("alice", "admin"), ("bob", "admin")]));

    let keyed = || {
        TestRequest::post("/api/teams")
            .user("carol")
            .header("idempotency-key", "team-once")
            .json(json!({ "name": "once" }))
    };
    let first = app.send(keyed()).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let events = app.db.event_count().await;
    let repeated = app.send(keyed()).await;
    assert_eq!(repeated.answer(), first.answer());
    assert_eq!(app.db.event_count().await, events);
    let listed = app.get("/api/teams", "carol").await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    // The same key with another request is refused.
    let other = TestRequest::post("/api/teams")
        .user("carol")
        .header("idempotency-key", "team-once")
        .json(json!({ "name": "twice" }));
    app.send(other)
        .await
        .assert_problem(422, "idempotency-key-reuse");
}

async fn names_roles_and_the_1001st_member_are_refused(app: TestApp) {
    let before = app.db.stored_state().await;
    for name in [
        json!(""),
        json!(" \u{200B} "),
        json!("x".repeat(101)),
        json!("a\nb"),
    ] {
        let create = TestRequest::post("/api/teams").user("alice");
        app.send(create.json(json!({ "name": name })))
            .await
            .assert_problem(422, "validation");
    }
    assert_eq!(app.db.stored_state().await, before);
    let team = create_team(&app, "alice", &"é".repeat(100)).await;
    app.send(set_member(&team, "alice", "bob", "owner"))
        .await
        .assert_problem(422, "validation");

    // 999 more members fill the team, racing in; the 1,001st is refused.
    let joining = (1..=1_000).map(|n| set_member(&team, "alice", &format!("m{n:04}"), "member"));
    let answers = app.send_all_at_once(joining).await;
    let refused: Vec<_> = answers.iter().filter(|a| a.status != 200).collect();
    assert_eq!(refused.len(), 1, "{:?}", refused.iter().map(|a| &a.body));
    refused[0].assert_problem(422, "limit");
    assert_eq!(members(&app, &team, "alice").await.len(), 1_000);
    // A role change is no new member: allowed when full.
    let joined = members(&app, &team, "alice").await;
    let promoted = app
        .send(set_member(&team, "alice", &joined[1].0, "admin"))
        .await;
    assert_eq!(promoted.status, 200, "{}", promoted.body);
}

async fn rebuild_and_verify_give_the_team_tables_the_commands_left(app: TestApp) {
    let kept = create_team(&app, "alice", "kept").await;
    let gone = create_team(&app, "bob", "gone").await;
    for (team, by, member, role) in [
        (&kept, "alice", "bob", "member"),
        (&kept, "alice", "carol", "admin"),
        (&gone, "bob", "alice", "member"),
    ] {
        let answer = app.send(set_member(team, by, member, role)).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let left = app.send(remove_member(&kept, "bob", "bob")).await;
    assert_eq!(left.status, 200, "{}", left.body);
    let deleted = app
        .send(TestRequest::delete(format!("/api/teams/{gone}")).user("bob"))
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    app.create_task("alice", "tasks and teams share one log")
        .await;

    let report = app.store.verify(false, app.clock.now(), &()).await.unwrap();
    assert!(report.is_clean(), "{report:?}");
    let before = app.db.stored_state().await;
    assert_eq!(before.teams.len(), 1, "{:?}", before.teams);
    assert_eq!(before.members.len(), 2, "{:?}", before.members);
    // Rows lost or changed behind the service's back come back with a rebuild of the teams.
    app.db.execute("delete from team_members").await;
    app.db.execute("update teams set name = 'drifted'").await;
    app.store.rebuild(&[Projection::Teams], &()).await.unwrap();
    assert_eq!(app.db.stored_state().await, before);

    // Verify finds and names drift: a membership lost, one changed, a team renamed, and a team
    // and a membership no command made (the latter of a team that does not exist).
    app.db
        .execute("delete from team_members where user_id = 'carol'")
        .await;
    app.db
        .execute("update team_members set role = 'member' where user_id = 'alice'")
        .await;
    app.db.execute("update teams set name = 'drifted'").await;
    let (fake_team, fake_member) = match app.db.backend {
        Backend::Sqlite => (
            "insert into teams select x'01900000000070008000000000000fa4', 'fake', created_at, 1 \
             from teams",
            "insert into team_members values (x'01900000000070008000000000000fa5', 'mallory', 'admin')",
        ),
        Backend::Postgres => (
            "insert into teams select '01900000-0000-7000-8000-000000000fa4', 'fake', created_at, 1 \
             from teams",
            "insert into team_members values ('01900000-0000-7000-8000-000000000fa5', 'mallory', 'admin')",
        ),
    };
    app.db.execute(fake_team).await;
    app.db.execute(fake_member).await;
    let found = app.store.verify(false, app.clock.now(), &()).await.unwrap();
    let drift = |rows: &tally::store::RowDrift| (rows.missing, rows.different, rows.unexpected);
    assert_eq!(drift(&found.members), (1, 1, 1), "{found:?}");
    assert_eq!(drift(&found.teams), (0, 1, 1), "{found:?}");
    let mut violations = found.violations.clone();
    violations.sort();
    assert_eq!(
        violations,
        [
            "mallory is a member of team 01900000-0000-7000-8000-000000000fa5, which does not exist"
                .to_owned(),
            "team 01900000-0000-7000-8000-000000000fa4 has no admin".to_owned(),
            format!("team {kept} has no admin"),
        ]
    );
    let repaired = app.store.verify(true, app.clock.now(), &()).await.unwrap();
    assert!(repaired.repaired, "{repaired:?}");
    assert_eq!(app.db.stored_state().await, before);
}

async fn seeded_teams_have_their_admin_and_members(app: TestApp) {
    let commands = tally::seed::seed_teams(app.commands.clone(), 5, 3, 4)
        .await
        .expect("seed");
    assert_eq!(commands, 3 * 4);
    let listed = app.get("/api/teams", "seed-0").await;
    let items = listed.body["items"].as_array().unwrap();
    let roles: Vec<(String, String)> = items
        .iter()
        .map(|t| (text(&t["name"]), text(&t["role"])))
        .collect();
    // seed-0 made team 0 (with seed-1 … seed-3) and is the last of team 2's (seed-2 … seed-0).
    assert_eq!(
        roles,
        pairs(&[("seed-team-0", "admin"), ("seed-team-2", "member")])
    );
    let team = text(&items[0]["id"]);
    assert_eq!(
        members(&app, &team, "seed-0").await,
        pairs(&[
            ("seed-0", "admin"),
            ("seed-1", "member"),
            ("seed-2", "member"),
            ("seed-3", "member"),
        ])
    );
    let report = app.store.verify(false, app.clock.now(), &()).await.unwrap();
    assert!(report.is_clean(), "{report:?}");
}

/// Task and team commands sent together are committed in the same batches: each is decided
/// against its own stream, and each answer names its own kind of stream.
async fn task_and_team_commands_racing_into_one_batch_each_get_their_answer(app: TestApp) {
    let team = create_team(&app, "alice", "ops").await;
    let task = app.create_task("alice", "ship it").await;
    let members = (0..20).map(|n| set_member(&team, "alice", &format!("m{n:02}"), "member"));
    let edits = (0..20).map(|n| {
        TestRequest::patch(format!("/api/tasks/{task}"))
            .user("alice")
            .json(json!({ "title": format!("ship it, take {n}") }))
    });
    let answers = app.send_all_at_once(members.chain(edits)).await;
    for answer in &answers {
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let teams = answers
        .iter()
        .filter(|a| a.body["team_id"] == team.as_str());
    let tasks = answers
        .iter()
        .filter(|a| a.body["task_id"] == task.as_str());
    assert_eq!((teams.count(), tasks.count()), (20, 20));
    let shown = app.get(&format!("/api/teams/{team}"), "alice").await;
    assert_eq!(shown.body["version"], 21);
    assert_eq!(shown.body["members"].as_array().unwrap().len(), 21);
    let edited = app.get(&format!("/api/tasks/{task}"), "alice").await;
    assert_eq!(edited.body["version"], 21);
    let report = app.store.verify(false, app.clock.now(), &()).await.unwrap();
    assert!(report.is_clean(), "{report:?}");
}
