//! tally: task activity turned into live dashboard figures.
#![forbid(unsafe_code)]

pub mod domain;
pub mod store;
