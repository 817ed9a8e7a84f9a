//! The hub's rules, without a server: what wakes which stream, and what a resume is sent.

use super::*;

fn hub() -> Arc<Hub> {
    hub_at(0)
}

/// A hub started when the log's head was `head`.
fn hub_at(head: i64) -> Arc<Hub> {
    Arc::new(Hub::new(StreamLimits::default(), head))
}

/// Dashboard rows of `users`, as a commit leaves them.
fn rows(users: &[&str]) -> Vec<DashboardStats> {
    users
        .iter()
        .map(|user| DashboardStats::empty(user))
        .collect()
}

fn woken(subscription: &Subscription) -> bool {
    subscription.changes.has_changed().unwrap()
}

fn heard(node: Uuid, position: i64, events: i64, users: &[&str]) -> Announcement {
    Announcement {
        node,
        position,
        events,
        users: Some(users.iter().map(|user| user.to_string()).collect()),
        at: chrono::Utc::now(),
    }
}

#[test]
fn events_neither_committed_here_nor_heard_wake_every_stream_once() {
    let hub = hub_at(10);
    let ann = hub.subscribe("ann", None).unwrap();
    let bob = hub.subscribe("bob", None).unwrap();

    hub.committing().committed(12, 2, &rows(&["ann"]));
    hub.heard(&heard(Uuid::now_v7(), 13, 1, &["ann"]));
    hub.check_head(13, || panic!("nothing unheard"));
    assert!(woken(&ann) && !woken(&bob), "only ann's figures changed");

    // Two events nobody told of: everyone re-reads, after the kept rows are forgotten.
    let mut forgot = false;
    hub.check_head(15, || forgot = true);
    assert!(forgot && woken(&bob));
    // Seen once, not again.
    hub.check_head(15, || panic!("already re-read"));
}

#[test]
fn a_check_waits_while_a_commit_of_this_node_is_in_flight() {
    let hub = hub();
    let ann = hub.subscribe("ann", None).unwrap();
    let flight = hub.committing();
    // Committed, in the head, not yet told.
    hub.check_head(1, || panic!("not unheard: in flight"));
    flight.committed(1, 1, &rows(&["ann"]));
    hub.check_head(1, || panic!("told"));
    assert!(woken(&ann));

    // A commit whose outcome was unknown, and that landed, shows as unheard.
    drop(hub.committing());
    let mut forgot = false;
    hub.check_head(2, || forgot = true);
    assert!(forgot);
}

#[test]
fn a_resume_waits_only_when_nothing_changed_since_and_no_day_began() {
    let hub = hub_at(5);
    // From before the start: unknown, so at once; from the start itself: it may predate
    // the last midnight this server did not see, so at once too.
    assert!(hub.subscribe("ann", Some(4)).unwrap().sends_at_once());
    assert!(hub.subscribe("ann", Some(5)).unwrap().sends_at_once());

    hub.committing().committed(6, 1, &rows(&["ann"]));
    hub.committing().committed(7, 1, &rows(&["bob"]));
    assert!(hub.subscribe("ann", Some(5)).unwrap().sends_at_once());
    assert!(!hub.subscribe("ann", Some(6)).unwrap().sends_at_once());
    assert!(!hub.subscribe("ann", Some(7)).unwrap().sends_at_once());

    hub.roll_day(7);
    assert!(hub.subscribe("ann", Some(7)).unwrap().sends_at_once());
    hub.committing().committed(8, 1, &rows(&["ann"]));
    assert!(!hub.subscribe("ann", Some(8)).unwrap().sends_at_once());
}

#[test]
fn limits_refuse_and_a_closed_stream_frees_its_place() {
    let hub = Arc::new(Hub::new(
        StreamLimits {
            per_user: 1,
            per_node: 2,
        },
        0,
    ));
    let first = hub.subscribe("ann", None).unwrap();
    assert_eq!(
        hub.subscribe("ann", None).err(),
        Some(Refused::UserLimit(1))
    );
    let _bob = hub.subscribe("bob", None).unwrap();
    assert_eq!(hub.subscribe("cy", None).err(), Some(Refused::NodeLimit(2)));
    drop(first);
    hub.subscribe("ann", None).unwrap();
    hub.close();
    assert_eq!(hub.subscribe("dee", None).err(), Some(Refused::Closed));
}

#[tokio::test(start_paused = true)]
async fn a_change_committed_here_carries_its_row_and_each_change_one_data_for_all_streams() {
    let hub = hub();
    let mut tab = hub.subscribe("ann", None).unwrap();
    let mut phone = hub.subscribe("ann", None).unwrap();
    // A stream's first figures are its own read: shared data may predate it.
    let first = tab.next_change().await.unwrap();
    assert!(first.shared.is_none());
    phone.next_change().await.unwrap();
    let mut both = async || {
        (
            tab.next_change().await.unwrap(),
            phone.next_change().await.unwrap(),
        )
    };

    // Committed here: the figures come from the row, with no read, made once for both.
    let mut row = DashboardStats::empty("ann");
    row.pending = 3;
    hub.committing().committed(1, 1, std::slice::from_ref(&row));
    let (on_tab, on_phone) = both().await;
    let made = on_tab.shared.expect("shared by ann's streams");
    assert_eq!((on_tab.position, made.row.as_ref()), (1, Some(&row)));
    assert!(Arc::ptr_eq(&made, on_phone.shared.as_ref().unwrap()));

    // Heard from another server: read, once for both.
    hub.heard(&heard(Uuid::now_v7(), 2, 1, &["ann"]));
    let (on_tab, on_phone) = both().await;
    let read = on_tab.shared.expect("shared by ann's streams");
    assert!(read.row.is_none());
    assert!(Arc::ptr_eq(&read, on_phone.shared.as_ref().unwrap()));
    assert!(!Arc::ptr_eq(&read, &made), "new data for a new change");

    // Midnight: read anew, not from a row kept from before.
    hub.committing().committed(3, 1, std::slice::from_ref(&row));
    hub.roll_day(3);
    let (after, _) = both().await;
    let after = after.shared.expect("shared by ann's streams");
    assert!(after.row.is_none() && !Arc::ptr_eq(&read, &after));
}

#[tokio::test(start_paused = true)]
async fn a_burst_reaches_a_stream_as_one_change_a_gap_after_the_last() {
    use super::super::subscription::EVENT_GAP;
    use tokio::time::Instant;

    let hub = hub();
    let mut tab = hub.subscribe("ann", None).unwrap();
    tab.next_change().await.unwrap();

    // A quiet stream is handed a change at once...
    let quiet = Instant::now() + EVENT_GAP;
    tokio::time::sleep_until(quiet).await;
    hub.committing().committed(1, 1, &rows(&["ann"]));
    assert_eq!(tab.next_change().await.unwrap().position, 1);
    assert_eq!(Instant::now(), quiet, "no wait");

    // ...and the ones that follow closely, a gap after it, as the latest of them, even one
    // that came while the stream waited.
    for position in 2..=3 {
        hub.committing().committed(position, 1, &rows(&["ann"]));
    }
    let during_the_wait = async {
        tokio::time::sleep(EVENT_GAP / 2).await;
        hub.committing().committed(4, 1, &rows(&["ann"]));
    };
    let (burst, ()) = tokio::join!(tab.next_change(), during_the_wait);
    assert_eq!(burst.unwrap().position, 4);
    assert_eq!(Instant::now(), quiet + EVENT_GAP);

    // A stop during the wait ends the stream rather than sending once more.
    hub.committing().committed(5, 1, &rows(&["ann"]));
    let stop = {
        let hub = hub.clone();
        async move { hub.close() }
    };
    let (change, ()) = tokio::join!(tab.next_change(), stop);
    assert!(change.is_none());
}

#[test]
fn the_row_kept_for_a_users_streams_goes_with_the_last_of_them() {
    let hub = hub();
    let tab = hub.subscribe("ann", None).unwrap();
    let phone = hub.subscribe("ann", None).unwrap();
    hub.committing().committed(1, 1, &rows(&["ann"]));
    let kept = || {
        let known = hub.known();
        let last = known.users["ann"].borrow();
        (last.position, last.shared.is_some())
    };
    drop(tab);
    assert_eq!(kept(), (1, true), "the phone still needs it");
    drop(phone);
    assert_eq!(kept(), (1, false), "the position stays, for a resume");
}
