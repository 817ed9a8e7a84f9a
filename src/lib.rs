//! tally: task activity turned into live dashboard figures.
#![forbid(unsafe_code)]

pub mod auth;
pub mod background;
pub mod cli_errors;
pub mod clock;
pub mod commands;
pub mod config;
pub mod connections;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod live;
pub mod logging;
pub mod mcp;
pub mod progress;
pub mod report;
pub mod seed;
pub mod server;
pub mod store;
pub mod telemetry;

pub use server::launch;
