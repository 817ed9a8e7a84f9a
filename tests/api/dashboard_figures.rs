//! Every dashboard figure: each route's shape and exact values, a user with nothing, the
//! rounding of `completion_rate`, day and week boundaries moved with the app's clock, and an
//! independent `COUNT(*)` recount over `tasks` and `task_shares` that every answer must equal.

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use serde_json::json;

use crate::support::{Backend, TestApp, TestRequest, on_both_backends, wait_until};

on_both_backends!(
    every_dashboard_route_answers_its_exact_figures,
    a_user_with_no_tasks_gets_zeros_on_every_route,
    completion_rate_is_rounded_to_two_decimals,
    created_counts_follow_the_utc_day_and_the_iso_week,
    a_re_completion_on_a_later_day_moves_completed_today_without_double_counting,
    deleting_a_task_lowers_the_day_and_week_it_was_created_in,
    every_figure_equals_a_recount_after_a_mixed_scenario,
    a_row_changed_by_another_process_shows_within_a_second,
);

/// Every dashboard figure of one user, from the API or from the recount.
#[derive(Debug, PartialEq)]
struct Figures {
    total: i64,
    pending: i64,
    completed: i64,
    shared: i64,
    total_shared: i64,
    view_only: i64,
    can_edit: i64,
    created_today: i64,
    completed_today: i64,
    created_this_week: i64,
    completed_this_week: i64,
    completion_rate: f64,
}

/// The figures `GET /api/dashboard` answers.
async fn dashboard_figures(app: &TestApp, user: &str) -> Figures {
    let body = app.dashboard(user).await;
    let count = |name: &str| {
        body[name]
            .as_i64()
            .unwrap_or_else(|| panic!("{name} in {body}"))
    };
    Figures {
        total: count("total"),
        pending: count("pending"),
        completed: count("completed"),
        shared: count("shared"),
        total_shared: count("total_shared"),
        view_only: count("view_only"),
        can_edit: count("can_edit"),
        created_today: count("created_today"),
        completed_today: count("completed_today"),
        created_this_week: count("created_this_week"),
        completed_this_week: count("completed_this_week"),
        completion_rate: body["completion_rate"].as_f64().unwrap(),
    }
}

/// The figures as the contract defines them, counted with plain SQL over `tasks` and
/// `task_shares` at the app clock's current moment; shares the store's code nothing.
async fn recount(app: &TestApp, user: &str) -> Figures {
    let db = &app.db;
    let total = db
        .scalar("select count(*) from tasks where owner_id = $1", &[user])
        .await;
    let completed = db
        .scalar(
            "select count(*) from tasks where owner_id = $1 and status = 'completed'",
            &[user],
        )
        .await;
    let pending = db
        .scalar(
            "select count(*) from tasks where owner_id = $1 and status = 'pending'",
            &[user],
        )
        .await;
    let view_only = db
        .scalar(
            "select count(*) from task_shares s join tasks t on t.id = s.task_id \
             where s.user_id = $1 and s.permission = 'view'",
            &[user],
        )
        .await;
    let can_edit = db
        .scalar(
            "select count(*) from task_shares s join tasks t on t.id = s.task_id \
             where s.user_id = $1 and s.permission = 'edit'",
            &[user],
        )
        .await;
    // SQLite keeps times as RFC 3339 text, PostgreSQL as timestamptz: compare them as times.
    let (created_between, completed_between) = match db.backend {
        Backend::Sqlite => (
            "select count(*) from tasks where owner_id = $1 \
             and julianday(created_at) >= julianday($2) and julianday(created_at) < julianday($3)",
            "select count(*) from tasks where owner_id = $1 and status = 'completed' \
             and julianday(completed_at) >= julianday($2) \
             and julianday(completed_at) < julianday($3)",
        ),
        Backend::Postgres => (
            "select count(*) from tasks where owner_id = $1 \
             and created_at >= $2::timestamptz and created_at < $3::timestamptz",
            "select count(*) from tasks where owner_id = $1 and status = 'completed' \
             and completed_at >= $2::timestamptz and completed_at < $3::timestamptz",
        ),
    };
    let now = app.clock.now();
    let today = Utc.from_utc_datetime(&now.date_naive().and_hms_opt(0, 0, 0).unwrap());
    let monday = today - Duration::days(now.weekday().num_days_from_monday().into());
    let day = [today, today + Duration::days(1)].map(|at| at.to_rfc3339());
    let week = [monday, monday + Duration::days(7)].map(|at| at.to_rfc3339());
    let between = async |sql, [from, to]: &[String; 2]| db.scalar(sql, &[user, from, to]).await;
    Figures {
        total,
        pending,
        completed,
        shared: view_only + can_edit,
        total_shared: view_only + can_edit,
        view_only,
        can_edit,
        created_today: between(created_between, &day).await,
        completed_today: between(completed_between, &day).await,
        created_this_week: between(created_between, &week).await,
        completed_this_week: between(completed_between, &week).await,
        completion_rate: if total == 0 {
            0.0
        } else {
            format!("{:.2}", 100.0 * completed as f64 / total as f64)
                .parse()
                .unwrap()
        },
    }
}

/// Asserts that each user's dashboard equals the recount, and returns the first user's.
async fn figures_equal_a_recount(app: &TestApp, users: &[&str]) -> Figures {
    let mut figures = Vec::new();
    for user in users {
        let answered = dashboard_figures(app, user).await;
        let recounted = recount(app, user).await;
        assert_eq!(answered, recounted, "{user} at {}", app.clock.now());
        figures.push(answered);
    }
    figures.remove(0)
}

/// A moment of November 2026; the app's clock starts on Wednesday the 25th.
fn at(day: u32, hour: u32, minute: u32, second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, minute, second)
        .unwrap()
}

async fn every_dashboard_route_answers_its_exact_figures(app: TestApp) {
    let tasks = [
        app.create_task("alice", "one").await,
        app.create_task("alice", "two").await,
        app.create_task("alice", "three").await,
    ];
    app.complete_task(&tasks[0], "alice").await;
    app.share(&tasks[0], "alice", "bob", "view").await;
    app.share(&tasks[1], "alice", "bob", "edit").await;
    app.share(&tasks[2], "alice", "bob", "edit").await;

    for route in ["statistics", "activity", "breakdown", "shared"] {
        for user in ["alice", "bob"] {
            let response = app.get(&format!("/api/dashboard/{route}"), user).await;
            assert_eq!(response.status, 200, "{}", response.body);
            insta::assert_json_snapshot!(format!("dashboard_{route}_of_{user}"), response.body);
        }
    }
    let everything = app.dashboard("alice").await;
    insta::assert_json_snapshot!("dashboard_of_alice", everything);
    assert_eq!(everything["completion_rate"], 33.33);
    let bob = app.get("/api/dashboard/shared", "bob").await.body;
    assert_eq!(
        bob,
        json!({ "total_shared": 3, "view_only": 1, "can_edit": 2 })
    );
    figures_equal_a_recount(&app, &["alice", "bob"]).await;
}

async fn a_user_with_no_tasks_gets_zeros_on_every_route(app: TestApp) {
    app.create_task("alice", "someone else's").await;
    for route in ["statistics", "activity", "breakdown", "shared"] {
        let response = app.get(&format!("/api/dashboard/{route}"), "nobody").await;
        assert_eq!(response.status, 200, "{}", response.body);
        let values = response.body.as_object().unwrap().values();
        assert!(
            values.into_iter().all(|v| v.as_f64() == Some(0.0)),
            "{}",
            response.body
        );
    }
    let figures = figures_equal_a_recount(&app, &["nobody"]).await;
    assert_eq!(
        figures.total + figures.shared + figures.created_this_week,
        0
    );
    let empty = app.get("/api/tasks?scope=shared", "nobody").await;
    assert_eq!(empty.body, json!({ "items": [], "next_cursor": null }));
}

async fn completion_rate_is_rounded_to_two_decimals(app: TestApp) {
    let tasks = [
        app.create_task("alice", "one").await,
        app.create_task("alice", "two").await,
        app.create_task("alice", "three").await,
    ];
    app.complete_task(&tasks[0], "alice").await;
    assert_eq!(app.dashboard("alice").await["completion_rate"], 33.33);
    app.complete_task(&tasks[1], "alice").await;
    assert_eq!(app.dashboard("alice").await["completion_rate"], 66.67);
    app.complete_task(&tasks[2], "alice").await;
    assert_eq!(app.dashboard("alice").await["completion_rate"], 100.0);
}

async fn created_counts_follow_the_utc_day_and_the_iso_week(app: TestApp) {
    app.create_task("alice", "on wednesday").await;
    app.create_task("alice", "also on wednesday").await;
    let wednesday = figures_equal_a_recount(&app, &["alice"]).await;
    assert_eq!(
        (wednesday.created_today, wednesday.created_this_week),
        (2, 2)
    );

    app.clock.set(at(25, 23, 59, 59));
    assert_eq!(
        figures_equal_a_recount(&app, &["alice"])
            .await
            .created_today,
        2
    );
    app.clock.set(at(26, 0, 0, 0));
    let thursday = figures_equal_a_recount(&app, &["alice"]).await;
    assert_eq!((thursday.created_today, thursday.created_this_week), (0, 2));
    app.create_task("alice", "on thursday").await;
    let thursday = figures_equal_a_recount(&app, &["alice"]).await;
    assert_eq!((thursday.created_today, thursday.created_this_week), (1, 3));

    app.clock.set(at(29, 23, 59, 59));
    let sunday = figures_equal_a_recount(&app, &["alice"]).await;
    assert_eq!((sunday.created_today, sunday.created_this_week), (0, 3));
    app.clock.set(at(30, 0, 0, 0));
    let monday = figures_equal_a_recount(&app, &["alice"]).await;
    assert_eq!((monday.created_today, monday.created_this_week), (0, 0));
    assert_eq!(monday.total, 3);
}

async fn a_re_completion_on_a_later_day_moves_completed_today_without_double_counting(
    app: TestApp,
) {
    let moved = app.create_task("alice", "done twice").await;
    let stays = app.create_task("alice", "done once").await;
    app.complete_task(&moved, "alice").await;
    app.complete_task(&stays, "alice").await;
    app.reopen_task(&stays, "alice").await;
    app.complete_task(&stays, "alice").await;
    let wednesday = figures_equal_a_recount(&app, &["alice"]).await;
    assert_eq!(
        (wednesday.completed_today, wednesday.completed_this_week),
        (2, 2)
    );

    app.clock.set(at(26, 9, 0, 0));
    app.reopen_task(&moved, "alice").await;
    let reopened = figures_equal_a_recount(&app, &["alice"]).await;
    assert_eq!(
        (reopened.completed_today, reopened.completed_this_week),
        (0, 1)
    );
    app.complete_task(&moved, "alice").await;

    let thursday = figures_equal_a_recount(&app, &["alice"]).await;
    assert_eq!(
        (thursday.completed_today, thursday.completed_this_week),
        (1, 2)
    );
    let task = app.get(&format!("/api/tasks/{moved}"), "alice").await;
    assert_eq!(task.body["completed_at"], "2026-11-26T09:00:00Z");
    app.clock.set(at(27, 12, 0, 0));
    let friday = figures_equal_a_recount(&app, &["alice"]).await;
    assert_eq!((friday.completed_today, friday.completed_this_week), (0, 2));
    app.clock.set(at(30, 8, 0, 0));
    let monday = figures_equal_a_recount(&app, &["alice"]).await;
    assert_eq!((monday.completed_today, monday.completed_this_week), (0, 0));
    assert_eq!(monday.completed, 2);
}

async fn deleting_a_task_lowers_the_day_and_week_it_was_created_in(app: TestApp) {
    let doomed_today = app.create_task("alice", "deleted the same day").await;
    let doomed_later = app.create_task("alice", "deleted the next day").await;
    app.create_task("alice", "kept").await;
    app.delete_task(&doomed_today, "alice").await;
    let wednesday = figures_equal_a_recount(&app, &["alice"]).await;
    assert_eq!(
        (wednesday.created_today, wednesday.created_this_week),
        (2, 2)
    );

    app.clock.set(at(26, 10, 0, 0));
    app.create_task("alice", "on thursday").await;
    app.delete_task(&doomed_later, "alice").await;

    let thursday = figures_equal_a_recount(&app, &["alice"]).await;
    assert_eq!((thursday.created_today, thursday.created_this_week), (1, 2));
    assert_eq!(thursday.total, 2);
}

async fn every_figure_equals_a_recount_after_a_mixed_scenario(app: TestApp) {
    let users = ["alice", "bob", "carol", "dave"];
    let mut alices = Vec::new();
    for n in 1..=4 {
        alices.push(app.create_task("alice", &format!("alice {n}")).await);
    }
    let bobs = [
        app.create_task("bob", "bob 1").await,
        app.create_task("bob", "bob 2").await,
    ];
    app.share(&alices[0], "alice", "bob", "view").await;
    app.share(&alices[1], "alice", "bob", "edit").await;
    app.share(&alices[2], "alice", "carol", "view").await;
    app.share(&bobs[0], "bob", "alice", "edit").await;
    app.complete_task(&alices[0], "alice").await;
    app.complete_task(&alices[1], "bob").await;
    app.reopen_task(&alices[1], "bob").await;
    figures_equal_a_recount(&app, &users).await;

    app.clock.set(at(26, 15, 30, 0));
    alices.push(app.create_task("alice", "alice 5").await);
    app.complete_task(&alices[2], "alice").await;
    app.delete_task(&alices[3], "alice").await;
    app.share(&alices[2], "alice", "carol", "edit").await;
    let unshare = format!("/api/tasks/{}/shares/bob", alices[0]);
    app.send(TestRequest::delete(unshare).user("alice")).await;
    app.complete_task(&bobs[0], "alice").await;
    app.delete_task(&bobs[1], "bob").await;
    app.share(&alices[4], "alice", "dave", "view").await;
    let alice = figures_equal_a_recount(&app, &users).await;
    assert_eq!((alice.total, alice.completed, alice.shared), (4, 2, 1));

    app.clock.set(at(30, 9, 0, 0));
    app.reopen_task(&alices[0], "alice").await;
    app.complete_task(&alices[4], "alice").await;
    app.delete_task(&alices[2], "alice").await;
    let alice = figures_equal_a_recount(&app, &users).await;
    assert_eq!(
        (alice.total, alice.completed, alice.completed_today),
        (3, 1, 1)
    );
}

/// A row written behind the server's back, as `tally verify --repair` run beside it would, is
/// read within a second even right after the same row was read: SQLite's fast path keeps a row
/// it read only until a write of its own process ends or a second passes.
async fn a_row_changed_by_another_process_shows_within_a_second(app: TestApp) {
    app.create_task("ann", "one").await;
    assert_eq!(app.dashboard("ann").await["pending"], 1);
    app.db
        .execute("update dashboard_stats set pending = 7 where user_id = 'ann'")
        .await;
    wait_until("the changed row", async || {
        app.dashboard("ann").await["pending"] == 7
    })
    .await;
}
