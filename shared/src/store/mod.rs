//! The SQL of each table family, for the API's handlers: every function runs on the caller's
//! connection, inside the per-user transaction row-level security needs (`db::user_tx`), and
//! reads rows into the caller's type (the API's documented objects derive `sqlx::FromRow`).

pub mod calendars;
pub mod cards;
pub mod flags;
pub mod generations;
pub mod idempotency;
pub mod jobs;
pub mod organic;
pub mod sessions;
pub mod suggestions;
pub mod themes;
pub mod usage;

use sqlx::postgres::PgRow;

/// A type a row reads into.
pub trait Row: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin {}

impl<T: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin> Row for T {}
