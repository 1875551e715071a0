//! Almanac's HTTP API: authentication, validation, rate limits, and the job-creating and
//! reading endpoints. `main.rs` only parses the command line; the process is built by
//! [`app::Application`] so tests can start the API in-process on port 0. This root only
//! declares the modules and names what other crates use: no module imports it.
#![expect(
    clippy::result_large_err,
    reason = "ApiError carries the JSON envelope; errors are the cold path of a request, so boxing buys nothing"
)]

pub mod admin_session;
pub mod app;
pub mod auth;
pub mod body;
pub mod contacts;
pub mod contract;
pub mod envelope;
pub mod error;
pub mod error_codes;
pub mod flags_cli;
pub mod idempotency;
pub mod if_match;
pub mod mcp;
pub mod middleware;
pub mod nullable;
pub mod origin;
pub mod rate_limit;
pub mod relay;
pub mod responses;
pub mod roles;
pub mod route_table;
pub mod routes;
pub mod scopes;
pub mod server;
pub mod session;
pub mod sign_in;
pub mod state;
pub mod submit;
pub mod text;
pub mod web;

pub use app::{Application, endpoint};
pub use contract::{Apis, openapi_service, openapi_yaml};
