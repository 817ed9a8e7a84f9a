//! The write side's rules: which command may do what to a task, and which events it produces.
//!
//! Purposefully synchronous and free of I/O: the store loads the task's [`TaskView`], calls
//! [`decide`], and appends what it returns. The clock comes in with the request.

mod decide;
mod error;
mod values;

pub use decide::{
    Command, CommandRequest, ExpectedVersion, MAX_MEMBERS_PER_TEAM, MAX_TEAM_SHARES_PER_TASK,
    Standing, TaskCommand, TeamCommand, decide, decide_team,
};
pub use error::{DomainError, Forbidden, Transition};
pub use values::{Description, InvalidValue, TeamName, Title, UserId};
