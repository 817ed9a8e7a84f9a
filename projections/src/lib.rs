//! tally's read side, as pure functions.
//!
//! The domain events ([`event`]), the read-model rows they produce ([`rows`], [`stats`]) and the
//! one fold from an event plus the prior rows to row changes ([`fold`]). No I/O and no clock:
//! the live write path, `tally rebuild` and `tally verify` all call the same [`fold::project`],
//! so there is exactly one copy of the projection logic. [`changeset`] gathers what a run of
//! events changes, for the store to write in bulk; [`stream_fold`] folds the log task by task
//! for rebuild and verify, and [`recount`] counts stored rows the way `COUNT(*)` would.
#![forbid(unsafe_code)]

pub mod access;
pub mod calendar;
pub mod changeset;
pub mod event;
pub mod fold;
pub mod memory;
pub mod recount;
pub mod rows;
pub mod stats;
pub mod stream_fold;
pub mod team;
pub mod team_stats;
pub mod trend;

pub use access::{Access, AccessRow, Needs};
pub use changeset::Changeset;
pub use event::{Event, Permission, RecordedEvent, TaskEvent};
pub use fold::{RowChanges, ShareChange, TaskChange, project};
pub use memory::ReadModels;
pub use recount::Recount;
pub use rows::{ShareRow, TaskRow, TaskStatus, TaskView, TeamShareRow};
pub use stats::{Bucket, DashboardFigures, DashboardStats, StatsDelta};
pub use stream_fold::{Ended, Settled, StreamFold};
pub use team::{MemberRow, Role, TeamEvent, TeamRow, TeamView};
pub use team_stats::{TeamDelta, TeamFigures, TeamStats};
pub use trend::{DailyRow, DayCounts};
