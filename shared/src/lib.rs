//! Almanac's shared library: domain types and pure rules, database access, the job ledger
//! and its Redis transport, the AI client, configuration and telemetry.

pub mod ai;
pub mod api_keys;
pub mod auth;
pub mod calendars;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod email;
pub mod events;
pub mod fetch;
pub mod flags;
pub mod gather;
pub mod html;
pub mod jobs;
pub mod kinds;
pub mod media;
pub mod oidc;
pub mod permits;
pub mod queue;
pub mod redis_conn;
pub mod shutdown;
pub mod sign_in;
pub mod store;
pub mod telemetry;
pub mod text_enum;
pub mod trips;
pub mod unsubscribe;
pub mod usage;
pub mod webhooks;
pub mod workspaces;

pub use config::Settings;
