//! `GET /api/dashboard/trend`: each UTC day's created and completed counts of the caller's
//! tasks as they are now (a delete, a reopen or a later completion moves them), every day of the
//! window with zeros, the window following the clock, and its size checked.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

use crate::support::{TestApp, TestRequest, on_both_backends};

on_both_backends!(
    each_day_counts_the_tasks_as_they_are_now_with_zeros_between,
    the_window_ends_today_and_defaults_to_thirty_days,
    a_window_outside_one_to_366_days_is_refused,
);

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
}

async fn trend(app: &TestApp, user: &str, query: &str) -> Vec<Value> {
    let response = app.get(&format!("/api/dashboard/trend{query}"), user).await;
    assert_eq!(response.status, 200, "{}", response.body);
    response.body["days"].as_array().unwrap().clone()
}

fn day(date: &str, created: i64, completed: i64) -> Value {
    json!({"day": date, "created": created, "completed": completed})
}

async fn each_day_counts_the_tasks_as_they_are_now_with_zeros_between(app: TestApp) {
    app.clock.set(at(23, 10));
    let a = app.create_task("ann", "a").await;
    let b = app.create_task("ann", "b").await;
    app.complete_task(&a, "ann").await;
    app.create_task("bob", "not ann's").await;
    assert_eq!(
        trend(&app, "ann", "?days=2").await,
        [day("2026-11-22", 0, 0), day("2026-11-23", 2, 1)]
    );

    app.clock.set(at(25, 9));
    // A's completion leaves the 23rd; B's lands on the 25th; C comes and goes the same day.
    app.reopen_task(&a, "ann").await;
    app.complete_task(&b, "ann").await;
    let c = app.create_task("ann", "c").await;
    app.delete_task(&c, "ann").await;
    assert_eq!(
        trend(&app, "ann", "?days=3").await,
        [
            day("2026-11-23", 2, 0),
            day("2026-11-24", 0, 0),
            day("2026-11-25", 0, 1)
        ]
    );
    // Deleting B takes it out of the day it was created and the day it was completed.
    app.delete_task(&b, "ann").await;
    assert_eq!(
        trend(&app, "ann", "?days=3").await,
        [
            day("2026-11-23", 1, 0),
            day("2026-11-24", 0, 0),
            day("2026-11-25", 0, 0)
        ]
    );
    assert_eq!(
        trend(&app, "cy", "?days=1").await,
        [day("2026-11-25", 0, 0)]
    );
}

async fn the_window_ends_today_and_defaults_to_thirty_days(app: TestApp) {
    app.clock.set(at(23, 23));
    app.create_task("ann", "late").await;
    let days = trend(&app, "ann", "").await;
    assert_eq!(days.len(), 30);
    assert_eq!(days[0]["day"], "2026-10-25");
    assert_eq!(days[29], day("2026-11-23", 1, 0));

    // At midnight the window moves on a day: yesterday's task is one day further back.
    app.clock.set(at(24, 0));
    assert_eq!(
        trend(&app, "ann", "?days=2").await,
        [day("2026-11-23", 1, 0), day("2026-11-24", 0, 0)]
    );
    let year = trend(&app, "ann", "?days=366").await;
    assert_eq!((year.len(), &year[0]["day"]), (366, &json!("2025-11-24")));
}

async fn a_window_outside_one_to_366_days_is_refused(app: TestApp) {
    for days in ["0", "367", "-1", "ten", "", "1.5"] {
        let response = app
            .get(&format!("/api/dashboard/trend?days={days}"), "ann")
            .await;
        response.assert_problem(400, "malformed-request");
    }
    let response = app.send(TestRequest::get("/api/dashboard/trend")).await;
    response.assert_problem(401, "unauthorized");
}
