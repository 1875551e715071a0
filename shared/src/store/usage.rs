//! The SQL of `ai_usage`: what AI calls cost each workspace, per person, UTC day and job
//! kind, recorded as each call ends and read (summed over the workspace's members) for the
//! budget and the usage report.

use chrono::NaiveDate;
use sqlx::{PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::{ai::ChatResponse, workspaces::Actor};

/// Records one AI call's tokens and cost against its maker's day in their workspace;
/// returns the workspace's tokens of the day so far, every kind and member included.
pub async fn record(
    conn: impl PgExecutor<'_>,
    actor: Actor,
    kind: &str,
    response: &ChatResponse,
) -> sqlx::Result<i64> {
    let mut query = QueryBuilder::new("with ");
    push_record(&mut query, actor, kind, response);
    query.push(" select ");
    push_spent(&mut query, actor, kind);
    query.build_query_scalar().fetch_one(conn).await
}

/// `recorded as (...)`: the common table expression that records a call (see [`record`]),
/// for a statement that saves what the call wrote in the same round trip.
pub fn push_record(
    query: &mut QueryBuilder<Postgres>,
    actor: Actor,
    kind: &str,
    response: &ChatResponse,
) {
    query
        .push(
            "recorded as (
            insert into ai_usage as u (workspace_id, user_id, day, kind, calls, tokens_input,
                tokens_output, cost_usd)
            values (",
        )
        .push_bind(actor.workspace)
        .push(", ")
        .push_bind(actor.user)
        .push(", (now() at time zone 'utc')::date, ")
        .push_bind(kind.to_owned())
        .push(", 1, ")
        .push_bind(i64::from(response.usage.input_tokens))
        .push(", ")
        .push_bind(i64::from(response.usage.output_tokens))
        .push(", ")
        .push_bind(response.cost_usd)
        .push(
            ") on conflict (workspace_id, user_id, day, kind) do update set calls = u.calls + 1,
                tokens_input = u.tokens_input + excluded.tokens_input,
                tokens_output = u.tokens_output + excluded.tokens_output,
                cost_usd = u.cost_usd + excluded.cost_usd
            returning tokens_input + tokens_output as tokens)",
        );
}

/// The workspace's tokens of the day after `recorded` (a `bigint` expression).
pub fn push_spent(query: &mut QueryBuilder<Postgres>, actor: Actor, kind: &str) {
    query
        .push(
            "((select tokens from recorded) + coalesce((select sum(tokens_input + tokens_output)
             from ai_usage where workspace_id = ",
        )
        .push_bind(actor.workspace)
        .push(" and day = (now() at time zone 'utc')::date and not (kind = ")
        .push_bind(kind.to_owned())
        .push(" and user_id = ")
        .push_bind(actor.user)
        .push(")")
        .push("), 0))::bigint");
}

/// The workspace's tokens of the current UTC day, every member's.
pub async fn today(conn: impl PgExecutor<'_>, workspace: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "select coalesce(sum(tokens_input + tokens_output), 0)::bigint from ai_usage
         where workspace_id = $1 and day = (now() at time zone 'utc')::date",
    )
    .bind(workspace)
    .fetch_one(conn)
    .await
}

/// One row of the usage report.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DayUsage {
    pub day: NaiveDate,
    pub kind: String,
    pub calls: i32,
    pub tokens_input: i64,
    pub tokens_output: i64,
    pub cost_usd: f64,
}

/// The workspace's usage from `from` to `to` (inclusive), by day (newest first) and kind,
/// every member's summed.
pub async fn report(
    conn: impl PgExecutor<'_>,
    workspace: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> sqlx::Result<Vec<DayUsage>> {
    sqlx::query_as(
        "select day, kind, sum(calls)::int as calls, sum(tokens_input)::bigint as tokens_input,
                sum(tokens_output)::bigint as tokens_output, sum(cost_usd) as cost_usd
         from ai_usage
         where workspace_id = $1 and day between $2 and $3
         group by day, kind order by day desc, kind",
    )
    .bind(workspace)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await
}
