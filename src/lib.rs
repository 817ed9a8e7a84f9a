//! tally: task activity turned into live dashboard figures.
#![forbid(unsafe_code)]

pub mod domain;
pub mod store;
pub mod auth;
pub mod clock;
pub mod http;
pub mod config;
pub mod seed;
pub mod server;

pub use server::launch;
