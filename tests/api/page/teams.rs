//! The Teams view: a team created and a member added in the page, its last admin kept from
//! leaving, a plain member shown no admin's controls and a command refused (403) said so; a
//! task shared with a team from the list, counted in the team's figures, which stay live by
//! polling when the caller's own figures do not move; a hostile team name and member id shown
//! as text.

use serde_json::{Value, json};

use super::{assert_nothing_injected, click_in_list, create, sign_in, signed_in};
use crate::support::browser::Browser;
use crate::support::process::Server;
use crate::support::{TEST_SECRET, TestRequest};

/// Creates the team `name` as `admin` through the API; answers its id.
async fn create_team(server: &Server, admin: &str, name: &str) -> String {
    let request = TestRequest::post("/api/teams")
        .user(admin)
        .json(json!({ "name": name }));
    let created = server.send(request).await;
    assert_eq!(created.status, 201, "{created:?}");
    created.body["team_id"].as_str().unwrap().to_owned()
}

async fn set_member(server: &Server, team: &str, by: &str, member: &str, role: &str) {
    let request = TestRequest::put(format!("/api/teams/{team}/members/{member}"))
        .user(by)
        .json(json!({ "role": role }));
    let answer = server.send(request).await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

async fn share_with_team(server: &Server, owner: &str, task: &str, team: &str, permission: &str) {
    let request = TestRequest::put(format!("/api/tasks/{task}/team-shares/{team}"))
        .user(owner)
        .json(json!({ "permission": permission }));
    assert_eq!(server.send(request).await.status, 200);
}

async fn complete(server: &Server, user: &str, task: &str) {
    let request = TestRequest::post(format!("/api/tasks/{task}/complete")).user(user);
    assert_eq!(server.send(request).await.status, 200);
}

/// The members of `team` as `reader` reads them through the API: [user id, role] each.
async fn members_read(server: &Server, team: &str, reader: &str) -> Value {
    let read = server
        .send(TestRequest::get(format!("/api/teams/{team}")).user(reader))
        .await;
    assert_eq!(read.status, 200, "{read:?}");
    let members = read.body["members"].as_array().unwrap().iter();
    members.map(|m| json!([m["user_id"], m["role"]])).collect()
}

/// Waits until the open team lists exactly `expected`: [user id, role, the role's text] each.
async fn wait_for_members(browser: &Browser, expected: Value) {
    let script = "return [...document.querySelectorAll('#members [data-user-id]')].map((item) =>
        [item.dataset.userId, item.dataset.role, item.querySelector('.role').textContent])";
    browser
        .wait_until(&format!("the members {expected}"), async || {
            browser.run(script).await == expected
        })
        .await;
}

/// The open team's problem of type `problem`, once shown: its text.
async fn team_problem(browser: &Browser, problem: &str) -> String {
    let shown = format!("#team-notice[data-problem={problem}]:not([hidden])");
    browser.find(&shown).await;
    browser.text("#team-notice span").await.unwrap_or_default()
}

/// Clicks what `css` names in the open team once it is drawn as it now is: a read or command
/// under way draws it anew (its `aria-busy` says so), and a button found before is gone after.
async fn click_in_team(browser: &Browser, css: &str) {
    browser.find("#team:not([aria-busy])").await;
    let element = browser.find(css).await;
    element
        .click()
        .await
        .unwrap_or_else(|error| panic!("click {css}: {error}"));
}

/// Presses a confirming button twice, as a user confirms it.
async fn confirm_in_team(browser: &Browser, css: &str, armed_text: &str) {
    click_in_team(browser, css).await;
    browser.wait_for_text(css, armed_text).await;
    click_in_team(browser, css).await;
}

#[tokio::test]
#[cfg_attr(
    browser_unavailable,
    ignore = "no chromedriver: apt-get install chromium chromium-driver"
)]
async fn a_team_is_created_and_a_member_added_in_the_page_and_its_last_admin_may_not_leave() {
    let (_root, server, browser) = signed_in("alice").await;
    browser
        .wait_for_text("#teams .empty", "You are in no team yet.")
        .await;

    // A name of spaces only: the problem's detail is shown, as the task form shows it.
    let blank = TestRequest::post("/api/teams")
        .user("alice")
        .json(json!({ "name": "   " }));
    let refused = server.send(blank).await;
    assert_eq!(refused.status, 422, "{refused:?}");
    let detail = refused.body["detail"].as_str().unwrap();
    let name = browser.find("#new-team-name").await;
    name.send_keys("   ").await.unwrap();
    let create_team = "#team-create-form button[type=submit]";
    browser.find(create_team).await.click().await.unwrap();
    browser.wait_for_text("#teams-notice span", detail).await;

    name.clear().await.unwrap();
    name.send_keys("Platform").await.unwrap();
    browser.find(create_team).await.click().await.unwrap();
    // Created, listed and opened, with its creator as admin.
    browser.wait_for_text("#team-name", "Platform").await;
    browser
        .wait_for_text("#teams [aria-pressed=true] .team-name", "Platform")
        .await;
    browser.find("#teams-notice[hidden]").await;
    wait_for_members(&browser, json!([["alice", "admin", "Admin"]])).await;

    browser
        .find("#member-user")
        .await
        .send_keys("bob")
        .await
        .unwrap();
    let role = browser.find("#member-role").await;
    role.select_by_value("member").await.unwrap();
    click_in_team(&browser, "#member-form button[type=submit]").await;
    wait_for_members(
        &browser,
        json!([["alice", "admin", "Admin"], ["bob", "member", "Member"]]),
    )
    .await;
    browser
        .wait_for_text("[data-team-figure=members]", "2")
        .await;
    let team = browser
        .run("return document.querySelector('#teams [data-team-id]').dataset.teamId")
        .await;
    let team = team.as_str().unwrap();
    assert_eq!(
        members_read(&server, team, "bob").await,
        json!([["alice", "admin"], ["bob", "member"]])
    );
    // An admin may remove others, not herself: she leaves instead.
    browser
        .find("#members [data-user-id=bob] [data-action=remove]")
        .await;
    let own_remove = "return document.querySelectorAll('#members [data-user-id=alice] [data-action=remove]').length";
    assert_eq!(browser.run(own_remove).await, json!(0));

    // The only admin leaving would leave the team without one: refused, and said so.
    let leave = "#team-actions [data-action=leave]";
    confirm_in_team(&browser, leave, "Confirm leaving").await;
    assert_eq!(
        team_problem(&browser, "last-admin").await,
        "a team keeps at least one admin: make another member an admin first, or delete the team"
    );
    // Still open and hers, and Leave pressable again.
    browser.find(&format!("{leave}:not([disabled])")).await;
    assert_eq!(browser.text(leave).await.as_deref(), Some("Leave team"));
    assert_eq!(
        browser.text("#team-name").await.as_deref(),
        Some("Platform")
    );
    assert_eq!(
        members_read(&server, team, "alice").await,
        json!([["alice", "admin"], ["bob", "member"]])
    );
    browser.close().await;
}

#[tokio::test]
#[cfg_attr(
    browser_unavailable,
    ignore = "no chromedriver: apt-get install chromium chromium-driver"
)]
async fn a_member_sees_no_admin_controls_a_refused_command_says_why_and_anyone_may_leave() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path(), Some(TEST_SECRET)).await;
    let team = create_team(&server, "alice", "crew").await;
    set_member(&server, &team, "alice", "bob", "admin").await;
    let browser = Browser::start().await;
    sign_in(&browser, &root, &server, "alice").await;
    browser
        .find("#teams [data-action=open-team]")
        .await
        .click()
        .await
        .unwrap();
    wait_for_members(
        &browser,
        json!([["alice", "admin", "Admin"], ["bob", "admin", "Admin"]]),
    )
    .await;
    browser.find("#member-form:not([hidden])").await;

    // Bob makes alice a plain member meanwhile: her page still shows an admin's controls, and
    // the server refuses what they ask.
    set_member(&server, &team, "bob", "alice", "member").await;
    let remove_bob = "#members [data-user-id=bob] [data-action=remove]";
    confirm_in_team(&browser, remove_bob, "Confirm remove").await;
    assert_eq!(
        team_problem(&browser, "forbidden").await,
        "only the team's admins may do this; the team is shown as it now is"
    );
    // Shown as it now is: a plain member's view, without an admin's controls.
    wait_for_members(
        &browser,
        json!([["alice", "member", "Member"], ["bob", "admin", "Admin"]]),
    )
    .await;
    browser.find("#member-form[hidden]").await;
    let controls = browser
        .run("return document.querySelectorAll('#members button').length")
        .await;
    assert_eq!(controls, json!(0));
    assert_eq!(
        members_read(&server, &team, "bob").await,
        json!([["alice", "member"], ["bob", "admin"]])
    );

    // A plain member may still leave.
    confirm_in_team(
        &browser,
        "#team-actions [data-action=leave]",
        "Confirm leaving",
    )
    .await;
    browser
        .wait_for_text("#teams-notice span", "You left crew.")
        .await;
    browser.find("#team[hidden]").await;
    browser
        .wait_for_text("#teams .empty", "You are in no team yet.")
        .await;
    assert_eq!(
        members_read(&server, &team, "bob").await,
        json!([["bob", "admin"]])
    );
    browser.close().await;
}

#[tokio::test]
#[cfg_attr(
    browser_unavailable,
    ignore = "no chromedriver: apt-get install chromium chromium-driver"
)]
async fn a_task_shared_with_a_team_in_the_page_counts_in_its_figures_which_stay_live() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path(), Some(TEST_SECRET)).await;
    let team = create_team(&server, "alice", "crew").await;
    set_member(&server, &team, "alice", "bob", "member").await;
    let task = create(&server, "alice", "ship it").await;
    let browser = Browser::start().await;
    sign_in(&browser, &root, &server, "alice").await;
    // Her teams listed, her task offers to share with one.
    let item = format!("[data-task-id='{task}']");
    browser
        .find(&format!("{item} [data-action=share-team]"))
        .await;
    browser
        .find("#teams [data-action=open-team]")
        .await
        .click()
        .await
        .unwrap();
    browser
        .wait_for_text("[data-team-figure=members]", "2")
        .await;
    browser.wait_for_text("[data-team-figure=total]", "0").await;

    click_in_list(&browser, &format!("{item} [data-action=share-team]")).await;
    let form = format!("#team-share-{task}");
    let chosen = browser.find(&format!("{form}-team")).await;
    chosen.select_by_value(&team).await.unwrap();
    let permission = browser.find(&format!("{form}-permission")).await;
    permission.select_by_value("edit").await.unwrap();
    click_in_list(&browser, &format!("{form} button[type=submit]")).await;
    browser
        .wait_for_text(
            &format!("{item} .team-shares li"),
            "Team crew (can edit) Unshare",
        )
        .await;
    let seen_by_bob = server
        .send(TestRequest::get(format!("/api/tasks/{task}")).user("bob"))
        .await;
    assert_eq!(seen_by_bob.status, 200, "{seen_by_bob:?}");
    assert_eq!(seen_by_bob.body["permission"], "edit");
    let owners = server
        .send(TestRequest::get(format!("/api/tasks/{task}")).user("alice"))
        .await;
    assert_eq!(
        owners.body["team_shares"],
        json!([{ "team_id": team, "permission": "edit" }])
    );
    browser.wait_for_text("[data-team-figure=total]", "1").await;
    browser
        .wait_for_text("[data-team-figure=pending]", "1")
        .await;

    // Completed elsewhere: the page's team figures follow without a reload.
    browser.run("window.notReloaded = true").await;
    complete(&server, "alice", &task).await;
    browser
        .wait_for_text("[data-team-figure=completed]", "1")
        .await;
    browser
        .wait_for_text("[data-team-figure=completion_rate]", "100%")
        .await;

    // Bob's own task, shared with the team and completed by him, moves the team's figures
    // and none of alice's own, so her stream says nothing: only the poll brings it.
    let his = create(&server, "bob", "review it").await;
    share_with_team(&server, "bob", &his, &team, "view").await;
    browser.wait_for_text("[data-team-figure=total]", "2").await;
    browser.wait_for_figure("shared", "1").await;
    let own = || server.send(TestRequest::get("/api/dashboard").user("alice"));
    let own_before = own().await.body;
    complete(&server, "bob", &his).await;
    assert_eq!(own().await.body, own_before, "alice's own figures stay put");
    browser
        .wait_for_text("[data-team-figure=completed]", "2")
        .await;
    browser.wait_for_figure("completed", "1").await;
    assert_eq!(
        browser.run("return window.notReloaded === true").await,
        json!(true)
    );
    // While nothing changes, a poll costs a 304.
    let polled_304 = "return performance.getEntriesByType('resource').some((entry) =>
        entry.name.includes('/api/teams/') && entry.name.endsWith('/dashboard')
        && entry.responseStatus === 304)";
    browser
        .wait_until("a poll of the team's figures answered 304", async || {
            browser.run(polled_304).await == json!(true)
        })
        .await;
    browser.close().await;
}

#[tokio::test]
#[cfg_attr(
    browser_unavailable,
    ignore = "no chromedriver: apt-get install chromium chromium-driver"
)]
async fn a_hostile_team_name_and_member_id_are_shown_as_text_and_never_run() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path(), Some(TEST_SECRET)).await;
    let hostile = "<img src=x onerror=\"window.pwned=1\"><script>window.pwned=2</script>";
    let team = create_team(&server, "heidi", hostile).await;
    let task = create(&server, "heidi", "a task").await;
    let browser = Browser::start().await;
    sign_in(&browser, &root, &server, "heidi").await;
    browser.wait_for_text("#teams .team-name", hostile).await;
    browser
        .find("#teams [data-action=open-team]")
        .await
        .click()
        .await
        .unwrap();
    browser.wait_for_text("#team-name", hostile).await;

    // A member id typed in the page goes as one path segment and comes back as text.
    let member = "<img src=y onerror=\"window.pwned=3\"> & ?x=1#";
    browser
        .find("#member-user")
        .await
        .send_keys(member)
        .await
        .unwrap();
    click_in_team(&browser, "#member-form button[type=submit]").await;
    wait_for_members(
        &browser,
        json!([[member, "member", "Member"], ["heidi", "admin", "Admin"]]),
    )
    .await;
    assert_eq!(
        members_read(&server, &team, "heidi").await,
        json!([[member, "member"], ["heidi", "admin"]])
    );

    // The task's share form offers the team by its name.
    let offered = format!(
        "return document.querySelector('#team-share-{task}-team option')?.textContent ?? null"
    );
    browser
        .wait_until("the team offered by name", async || {
            browser.run(&offered).await == json!(hostile)
        })
        .await;
    assert_nothing_injected(&browser, &["#teams-panel", "#tasks"]).await;
    browser.close().await;
}
