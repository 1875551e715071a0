//! The API's contract, tried from outside: the served document, clients written from
//! it and from the seeds, a fuzzer, strict input, every documented refusal, authentication,
//! isolation between users, API keys and the MCP server.

mod api_keys;
mod auth;
mod document;
mod fuzz;
mod generated_client;
mod isolation;
pub(crate) mod mcp;
mod seed_client;
pub(crate) mod statuses;
mod strict_input;
