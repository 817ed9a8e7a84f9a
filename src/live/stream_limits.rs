//! How many dashboard streams a node lets open, and why it refuses one more.

/// How many streams may be open at once.
#[derive(Clone, Copy, Debug)]
pub struct StreamLimits {
    /// On this node, for one user.
    pub per_user: usize,
    /// On this node, for everyone.
    pub per_node: usize,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits {
            per_user: 8,
            per_node: 256,
        }
    }
}

/// Why a stream cannot be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    #[error("this user has {0} dashboard streams open on this server already")]
    UserLimit(usize),
    #[error("this server has {0} dashboard streams open already")]
    NodeLimit(usize),
    #[error("the server is shutting down")]
    Closed,
}
