//! What a node tells the others when it commits a batch, as a PostgreSQL notification on
//! [`CHANNEL`]: the batch's position and the users whose figures it changed, or no users when
//! they would not fit (the others then re-read every stream).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The notification channel every node listens on.
pub const CHANNEL: &str = "tally_changes";

/// PostgreSQL refuses a payload of 8,000 bytes or more.
const MAX_PAYLOAD: usize = 7_999;

/// One committed batch, as announced.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct Announcement {
    /// The node that committed it (which needs no telling).
    pub node: Uuid,
    /// The position of its last event.
    pub position: i64,
    /// How many events it appended.
    pub events: i64,
    /// The users whose figures changed; `None` when too many to name.
    pub users: Option<Vec<String>>,
    /// When it was announced, by the announcing node's clock.
    pub at: DateTime<Utc>,
}

impl Announcement {
    /// Whether it announces a rewrite of the read models (`tally rebuild`, `verify --repair`):
    /// no event, no user named.
    pub fn is_rewrite(&self) -> bool {
        self.users.is_none() && self.events == 0
    }
}

/// The payload announcing a batch of `events` events committed by `node` up to `position`
/// that changed the figures of `users`: every user named, or none when that would not fit or
/// anyone's may have changed (`None`: a rebuild, a repair).
pub fn payload(
    node: Uuid,
    position: i64,
    events: usize,
    users: Option<&[&str]>,
    at: DateTime<Utc>,
) -> String {
    #[derive(Serialize)]
    struct Out<'a> {
        node: Uuid,
        position: i64,
        events: usize,
        users: Option<&'a [&'a str]>,
        at: DateTime<Utc>,
    }
    let mut out = Out {
        node,
        position,
        events,
        users,
        at,
    };
    let text = serde_json::to_string(&out).expect("plain data serializes");
    if text.len() <= MAX_PAYLOAD || out.users.is_none() {
        return text;
    }
    out.users = None;
    serde_json::to_string(&out).expect("plain data serializes")
}

/// The announcement in `payload`; `None` for anything else.
pub fn parse(payload: &str) -> Option<Announcement> {
    serde_json::from_str(payload).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_named_while_they_fit_and_left_out_beyond() {
        let node = Uuid::now_v7();
        let at = Utc::now();
        let heard = parse(&payload(node, 7, 2, Some(&["alice", "bob"]), at)).unwrap();
        assert_eq!(heard.users, Some(vec!["alice".into(), "bob".into()]));
        assert_eq!((heard.node, heard.position, heard.events), (node, 7, 2));

        let many: Vec<String> = (0..200).map(|n| format!("user-{n:040}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let text = payload(node, 8, 200, Some(&many), at);
        assert!(text.len() <= MAX_PAYLOAD, "{} bytes", text.len());
        let heard = parse(&text).unwrap();
        assert_eq!((heard.users, heard.position), (None, 8));

        let rewrite = parse(&payload(node, 9, 0, None, at)).unwrap();
        assert_eq!((rewrite.users, rewrite.events), (None, 0));
    }

    #[test]
    fn anything_else_is_not_an_announcement() {
        assert_eq!(parse("hello"), None);
        assert_eq!(parse("{\"position\": 3}"), None);
    }
}
