//! The hub's rules, without a server: what wakes which stream, and what a resume is sent.

use super::*;

fn hub() -> Arc<Hub> {
    Arc::new(Hub::new(StreamLimits::default()))
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
    let hub = hub();
    hub.start_at(10);
    let ann = hub.subscribe("ann", None).unwrap();
    let bob = hub.subscribe("bob", None).unwrap();

    hub.committing().committed(12, 2, ["ann"]);
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
    hub.start_at(0);
    let ann = hub.subscribe("ann", None).unwrap();
    let flight = hub.committing();
    // Committed, in the head, not yet told.
    hub.check_head(1, || panic!("not unheard: in flight"));
    flight.committed(1, 1, ["ann"]);
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
    let hub = hub();
    hub.start_at(5);
    // From before the start: unknown, so at once; from the start itself: it may predate
    // the last midnight this server did not see, so at once too.
    assert!(hub.subscribe("ann", Some(4)).unwrap().sends_at_once());
    assert!(hub.subscribe("ann", Some(5)).unwrap().sends_at_once());

    hub.committing().committed(6, 1, ["ann"]);
    hub.committing().committed(7, 1, ["bob"]);
    assert!(hub.subscribe("ann", Some(5)).unwrap().sends_at_once());
    assert!(!hub.subscribe("ann", Some(6)).unwrap().sends_at_once());
    assert!(!hub.subscribe("ann", Some(7)).unwrap().sends_at_once());

    hub.roll_day(7);
    assert!(hub.subscribe("ann", Some(7)).unwrap().sends_at_once());
    hub.committing().committed(8, 1, ["ann"]);
    assert!(!hub.subscribe("ann", Some(8)).unwrap().sends_at_once());
}

#[test]
fn what_is_published_before_the_start_is_not_kept_and_the_start_still_happens() {
    let hub = hub();
    for n in 0..(MAX_REMEMBERED as i64 + 10) {
        hub.committing()
            .committed(n + 1, 1, [format!("user-{n}").as_str()]);
    }
    assert!(hub.needs_start());
    assert!(hub.start_at(MAX_REMEMBERED as i64 + 10));
    assert!(!hub.start_at(0), "once");
    assert_eq!(hub.known().users.len(), 0);
}

#[test]
fn limits_refuse_and_a_closed_stream_frees_its_place() {
    let hub = Arc::new(Hub::new(StreamLimits {
        per_user: 1,
        per_node: 2,
    }));
    hub.start_at(0);
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

#[tokio::test]
async fn the_streams_of_one_user_share_one_read_per_change() {
    let hub = hub();
    hub.start_at(0);
    let mut tab = hub.subscribe("ann", None).unwrap();
    let mut phone = hub.subscribe("ann", None).unwrap();
    // A stream's first figures are its own: a shared read may predate it.
    assert!(tab.next_change().await.unwrap().shared_read.is_none());
    assert!(phone.next_change().await.unwrap().shared_read.is_none());

    hub.committing().committed(1, 1, ["ann"]);
    let (on_tab, on_phone) = (
        tab.next_change().await.unwrap(),
        phone.next_change().await.unwrap(),
    );
    let shared = on_tab.shared_read.expect("shared by ann's streams");
    assert!(Arc::ptr_eq(&shared, &on_phone.shared_read.unwrap()));
    assert_eq!((on_tab.position, on_phone.position), (1, 1));

    // Each change (midnight too) is read anew.
    hub.roll_day(1);
    let next = tab.next_change().await.unwrap().shared_read.unwrap();
    assert!(!Arc::ptr_eq(&shared, &next));

    // A stream that resumes out of date reads its own figures first, then shares.
    drop((tab, phone));
    hub.committing().committed(2, 1, ["ann"]);
    let mut resumed = hub.subscribe("ann", Some(1)).unwrap();
    let first = resumed.next_change().await.unwrap();
    assert_eq!((first.position, first.shared_read.is_none()), (2, true));
    hub.committing().committed(3, 1, ["ann"]);
    assert!(resumed.next_change().await.unwrap().shared_read.is_some());
}
