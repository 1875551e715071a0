//! Every SQL statement of the code, one module per table family, for the API and the worker
//! alike (`tests/src/structure/mod.rs` finds none elsewhere). The API's reads and writes run on
//! the caller's connection, inside the per-user transaction row-level security needs
//! ([`user_tx`]), and read rows into the store's own row types, beside the columns they
//! read (`EntryRow`, `CardRow`, ...; the API converts them to its documented objects with
//! `From`); the jobs' run as the service role, fenced by their claim where they write
//! (`jobs::ledger`). A kind's first step is its family's `START` constant.

pub mod activity;
pub mod analytics;
pub mod anki;
pub mod api_keys;
pub mod calendars;
pub mod cards;
pub mod comments;
pub mod console;
pub mod contacts;
pub mod flags;
pub mod generations;
pub mod idempotency;
pub mod jobs;
pub mod media;
pub mod notifications;
pub mod organic;
pub mod posts;
pub mod publish;
pub mod review;
pub mod review_links;
pub mod sessions;
pub mod sign_in;
pub mod suggestions;
pub mod themes;
pub mod usage;
pub mod users;
pub mod webhook_deliveries;
pub mod webhooks;
pub mod workspaces;

use sqlx::{PgPool, Postgres, Transaction, postgres::PgRow};
use uuid::Uuid;

use crate::workspaces::Actor;

/// The role user requests run as: no BYPASSRLS, so policies always apply.
pub const APP_ROLE: &str = "almanac_app";

/// A type a row reads into.
pub trait Row: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin {}

impl<T: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin> Row for T {}

/// How the request a transaction serves came in, for what it makes to say so
/// (`calendar_entries.made_via`): set around each request by the API, absent in a worker.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    pub via: crate::domain::review::Via,
    /// The API key it came with.
    pub key: Option<Uuid>,
}

tokio::task_local! {
    /// The request's [`Origin`], which [`user_tx`] hands to Postgres.
    pub static ORIGIN: Origin;
}

/// Begins a transaction that acts as `actor` under row-level security: it switches to the
/// application role and sets `request.jwt.claim.sub` (the person, which `app_user_id()`
/// reads, as Supabase's `auth.uid()` does) and `request.workspace` (the workspace, which
/// `app_workspace_id()` and the policies read). The settings end with the transaction. One
/// round trip: they travel with `BEGIN` (the ids are formatted `Uuid`s, so they cannot carry
/// SQL).
pub async fn user_tx(pool: &PgPool, actor: Actor) -> sqlx::Result<Transaction<'static, Postgres>> {
    let Actor { user, workspace } = actor;
    // Words of a closed set and a formatted `Uuid`: nothing a caller typed.
    let (via, key) = ORIGIN
        .try_with(|origin| {
            let key = origin.key.map(|k| k.to_string()).unwrap_or_default();
            (origin.via.as_str(), key)
        })
        .unwrap_or_default();
    pool.begin_with(sqlx::AssertSqlSafe(format!(
        "begin; select set_config('role', '{APP_ROLE}', true), \
         set_config('request.jwt.claim.sub', '{user}', true), \
         set_config('request.workspace', '{workspace}', true), \
         set_config('request.via', '{via}', true), set_config('request.key', '{key}', true)"
    )))
    .await
}

/// Takes, until the transaction ends, the lock that makes another transaction adding to
/// `table` in `workspace` wait: what is counted under it holds until the addition commits.
pub(crate) async fn lock_for_adding(
    conn: &mut sqlx::PgConnection,
    table: &'static str,
    workspace: Uuid,
) -> sqlx::Result<()> {
    sqlx::query("select pg_advisory_xact_lock(hashtextextended($1 || ':' || $2::text, 0))")
        .bind(table)
        .bind(workspace)
        .execute(conn)
        .await
        .map(drop)
}

/// How many rows of the caller's workspace `table` holds (row-level security filters it),
/// holding until the transaction ends the lock that makes another transaction adding one
/// there wait: counted and added in one transaction, a per-workspace limit holds under
/// concurrent requests.
pub(crate) async fn count_for_adding(
    conn: &mut sqlx::PgConnection,
    table: &'static str,
    workspace: Uuid,
) -> sqlx::Result<i64> {
    lock_for_adding(conn, table, workspace).await?;
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
        .fetch_one(conn)
        .await
}

/// One round trip to the database (readiness).
pub async fn ping(pool: &PgPool) -> sqlx::Result<()> {
    sqlx::query("select 1").execute(pool).await.map(drop)
}
