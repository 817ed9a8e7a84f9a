//! The MCP endpoint (`/mcp`), spoken as a client of protocol 2025-11-25 speaks it: JSON-RPC
//! POSTs in a session, answers as server-sent events. The same token check as the API, the
//! tools' schemas and hints, and each tool agreeing with the API it calls into.

mod access;
mod conditions;
mod deployment;
mod metrics;
mod owners;
mod resources;
mod session;
mod sharing;
mod stdio;
mod stop;
mod teams;
mod tools;
