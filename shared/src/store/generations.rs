//! Flashcard generations: the request, its job and its idempotency key written in one
//! statement, and the views a user reads.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Postgres, QueryBuilder, types::Json};
use uuid::Uuid;

use super::idempotency::{Earlier, Key};
use super::jobs::Claim;
use crate::{
    ai::ChatResponse,
    domain::RunStatus,
    domain::generation::CardType,
    events::SuggestionItem,
    jobs::{JobStatus, NewJob},
};

/// A generation job's first step, in its claim's statement (`store::jobs::claim`): the
/// generation becomes `running`; its input comes back, with how far an earlier attempt got.
pub const START: &str = "update ai_generations g set status = 'running', updated_at = now()
    from claimed where g.id = (claimed.payload ->> 'generation_id')::uuid
    returning claimed.id as claimed_job, g.id as generation_id, g.source_text, g.model, g.prompt_version, g.batches_done,
        g.reused_from, g.card_types,
        (select count(*) from ai_suggestions s where s.generation_id = g.id) as saved,
        (select coalesce(jsonb_agg(s.front), '[]'::jsonb) from ai_suggestions s
         where s.generation_id = g.id and s.batch = g.batches_done) as fronts";

/// A generation with its suggestion counts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Generation {
    pub id: Uuid,
    pub status: RunStatus,
    /// Only when read one by one.
    pub source_text: Option<String>,
    pub model: Option<String>,
    pub prompt_version: String,
    pub card_types: Vec<CardType>,
    pub tokens_input: Option<i32>,
    pub tokens_output: Option<i32>,
    pub cost_usd: Option<f64>,
    pub ai_metadata: Option<Json<Value>>,
    pub error: Option<Json<Value>>,
    pub job_id: Uuid,
    pub total: i64,
    pub proposed: i64,
    pub accepted: i64,
    pub rejected: i64,
    pub duplicates_skipped: i64,
    /// The earlier generation of the same source whose suggestions this one lists.
    pub reused_from: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The suggestions `s` a generation `g` lists: its own, or for a generation that reused an
/// earlier one, the earlier one's that were still proposed (or were reviewed since).
pub const LISTED: &str = "s.generation_id = coalesce(g.reused_from, g.id)
    and (g.reused_from is null or s.status = 'proposed' or s.updated_at >= g.created_at)";

const COLUMNS: &str = "g.id, g.status, g.model, g.prompt_version, g.card_types, g.tokens_input,
    g.tokens_output, g.cost_usd::float8 as cost_usd, g.ai_metadata, g.error, g.job_id,
    g.created_at, g.updated_at, g.duplicates_skipped::int8 as duplicates_skipped, g.reused_from,
    counts.total, counts.proposed, counts.accepted, counts.rejected";

/// The suggestion counts of `g`, joined as `counts`.
const COUNTS: &str = "cross join lateral (
    select count(*) as total,
           count(*) filter (where s.status = 'proposed') as proposed,
           count(*) filter (where s.status = 'accepted') as accepted,
           count(*) filter (where s.status = 'rejected') as rejected
    from ai_suggestions s where {LISTED}) counts";

fn counted() -> String {
    COUNTS.replace("{LISTED}", LISTED)
}

/// The caller's generations before `cursor` (newest first), at most `limit`, without their
/// source texts.
pub async fn list(
    conn: &mut PgConnection,
    cursor: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<Generation>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {COLUMNS}, null::text as source_text
         from ai_generations g {}
         where ($1::uuid is null or g.id < $1)
         order by g.id desc limit $2",
        counted()
    )))
    .bind(cursor)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// One generation with its source text.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Generation>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {COLUMNS}, g.source_text from ai_generations g {} where g.id = $1",
        counted()
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// What a generation request writes.
pub struct NewGeneration<'a, A> {
    pub job: &'a NewJob,
    pub generation_id: Uuid,
    pub source_text: &'a str,
    pub model: Option<&'a str>,
    pub prompt_version: &'a str,
    /// The earlier generation whose suggestions this one reuses (no AI call).
    pub reused_from: Option<Uuid>,
    /// The card types asked for.
    pub card_types: &'a [CardType],
    /// The request's key and the answer to store with it.
    pub idempotency: Option<(&'a Key, &'a A)>,
}

/// The caller's latest generation of the same source text, prompt version and model made
/// within `days` days that asked the AI itself and succeeded: the one a new request reuses.
pub async fn reusable(
    conn: &mut PgConnection,
    source_text: &str,
    prompt_version: &str,
    model: Option<&str>,
    card_types: &[CardType],
    days: u32,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "select id from ai_generations
         where source_hash = text_sha256($1)
           and prompt_version = $2 and model is not distinct from $3
           and card_types = $5 and status = 'succeeded' and reused_from is null
           and created_at > now() - make_interval(days => $4)
         order by created_at desc limit 1",
    )
    .bind(source_text)
    .bind(prompt_version)
    .bind(model)
    .bind(days as i32)
    .bind(card_types.iter().map(|t| t.as_str()).collect::<Vec<&str>>())
    .fetch_optional(conn)
    .await
}

/// Writes the generation, its job and its key in one statement, as the user under
/// row-level security (migrations 20261121000004 and 20261122000011 explain why this is a
/// function). When the key was used meanwhile, nothing is written and the earlier answer
/// is returned.
pub async fn create<A: Serialize + Sync>(
    pool: &PgPool,
    user: Uuid,
    new: NewGeneration<'_, A>,
) -> sqlx::Result<Option<Earlier>> {
    sqlx::query_as(
        "select * from create_generation($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(user)
    .bind(new.job.id)
    .bind(Json(&new.job.payload))
    .bind(new.job.kind.max_attempts())
    .bind(Json(&new.job.trace_context))
    .bind(new.generation_id)
    .bind(new.source_text)
    .bind(new.model)
    .bind(new.prompt_version)
    .bind(new.idempotency.map(|(key, _)| key.key.as_str()))
    .bind(new.idempotency.map(|(key, _)| key.request_hash.as_str()))
    .bind(new.idempotency.map(|(_, answer)| Json(answer)))
    .bind(new.reused_from)
    .bind(
        new.card_types
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<&str>>(),
    )
    .bind(new.job.lane)
    .fetch_optional(pool)
    .await
}

/// What one statement of a generation saves: cards of the batch `index` whose objects
/// closed together, and at the batch's `end` its call.
pub struct Step<'a> {
    pub index: usize,
    pub cards: &'a [SuggestionItem],
    pub end: Option<End<'a>>,
}

/// The end of a batch: its call's usage (recorded against the user's day too); with
/// `finish` (the job's result and the generation's metadata) the end of the job and the
/// generation.
pub struct End<'a> {
    pub response: &'a ChatResponse,
    pub finish: Option<&'a (Value, Value)>,
}

/// Saves a step if the claim still holds (an end only if its batch is the next one), in
/// one statement. `None` when the claim was lost; with an end, the user's tokens of the
/// day.
pub async fn save_step(
    pool: &PgPool,
    claim: &Claim,
    generation_id: Uuid,
    step: Step<'_>,
    events: Option<Uuid>,
) -> sqlx::Result<Option<Option<i64>>> {
    let mut query = QueryBuilder::<Postgres>::new("with fence as (");
    match &step.end {
        Some(End {
            finish: Some((result, _)),
            ..
        }) => claim.push_finish(&mut query, JobStatus::Succeeded, Some(result), None, events),
        _ => claim.push_alive(&mut query, events),
    }
    query.push(")");
    let cards = step.cards;
    if !cards.is_empty() {
        query
            .push(
                ", inserted as (
                insert into ai_suggestions (id, user_id, generation_id, batch, position, card_type, front, back, status)
                select t.id, ",
            )
            .push_bind(claim.user_id)
            .push(", ")
            .push_bind(generation_id)
            .push(", ")
            .push_bind(step.index as i32)
            .push(", t.position, t.card_type, t.front, t.back, 'proposed' from unnest(")
            .push_bind(cards.iter().map(|s| s.id).collect::<Vec<Uuid>>())
            .push("::uuid[], ")
            .push_bind(cards.iter().map(|s| s.position).collect::<Vec<i32>>())
            .push("::int[], ")
            .push_bind(
                cards
                    .iter()
                    .map(|s| s.card_type.as_str())
                    .collect::<Vec<&str>>(),
            )
            .push("::text[], ")
            .push_bind(cards.iter().map(|s| s.front.clone()).collect::<Vec<String>>())
            .push("::text[], ")
            .push_bind(cards.iter().map(|s| s.back.clone()).collect::<Vec<String>>())
            .push(
                "::text[]) as t(id, position, card_type, front, back)
                where exists (select 1 from fence)
                on conflict (generation_id, position) do nothing)",
            );
    }
    let Some(End { response, finish }) = step.end else {
        query.push(" select (select count(*) from fence), null::bigint");
        let (saved, _): (i64, Option<i64>) = query.build_query_as().fetch_one(pool).await?;
        return Ok((saved == 1).then_some(None));
    };
    query
        .push(
            ", generation as (
            update ai_generations set batches_done = batches_done + 1,
                   tokens_input = coalesce(tokens_input, 0) + ",
        )
        .push_bind(response.usage.input_tokens as i32)
        .push(", tokens_output = coalesce(tokens_output, 0) + ")
        .push_bind(response.usage.output_tokens as i32)
        .push(", cost_usd = coalesce(cost_usd, 0) + ")
        .push_bind(response.cost_usd)
        .push(", updated_at = now()");
    if let Some((_, metadata)) = finish {
        query
            .push(", status = 'succeeded', error = null, ai_metadata = ")
            .push_bind(sqlx::types::Json(metadata));
    }
    query
        .push(" where id = ")
        .push_bind(generation_id)
        .push(" and batches_done = ")
        .push_bind(step.index as i32)
        .push(" and exists (select 1 from fence) returning id), ");
    // The call is recorded whether or not the claim still holds: it was made.
    super::usage::push_record(&mut query, claim.user_id, claim.kind.as_str(), response);
    query.push(" select (select count(*) from generation), ");
    super::usage::push_spent(&mut query, claim.user_id, claim.kind.as_str());
    let (saved, spent): (i64, Option<i64>) = query.build_query_as().fetch_one(pool).await?;
    Ok((saved == 1).then_some(spent))
}

/// The key of each of `cards` (`card_type_key`, in their order), and whether `user` has a
/// card with it already.
///
/// The cards go as one JSON array rather than as arrays to `unnest`: the planner counts the
/// elements of an array it is given, so every call would be planned again for its number of
/// cards (and the key functions inlined again with it), which cost more than the keys.
pub async fn card_keys(
    pool: &PgPool,
    user: Uuid,
    cards: &[(CardType, &str, &str)],
) -> sqlx::Result<Vec<(String, bool)>> {
    let cards: Vec<(&str, &str, &str)> = cards
        .iter()
        .map(|(card_type, front, back)| (card_type.as_str(), *front, *back))
        .collect();
    sqlx::query_as(
        "select t.key, exists (select 1 from cards c where c.user_id = $1 and c.key = t.key)
         from (select card_type_key(c ->> 0, c ->> 1, c ->> 2) as key, i
               from jsonb_array_elements($2) with ordinality as u(c, i)) t
         order by t.i",
    )
    .bind(user)
    .bind(Json(cards))
    .fetch_all(pool)
    .await
}

/// The keys of the suggestions a generation saved so far (an attempt that resumes it).
pub async fn suggestion_keys(pool: &PgPool, generation_id: Uuid) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "select card_type_key(card_type, front, back) from ai_suggestions where generation_id = $1",
    )
    .bind(generation_id)
    .fetch_all(pool)
    .await
}

/// How many suggestions a generation lists.
pub async fn listed(pool: &PgPool, generation_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar(AssertSqlSafe(format!(
        "select count(*) from ai_generations g join ai_suggestions s on {LISTED} where g.id = $1"
    )))
    .bind(generation_id)
    .fetch_one(pool)
    .await
}

/// Counts suggestions a generation left out as duplicates.
pub async fn skipped(pool: &PgPool, generation_id: Uuid, count: usize) -> sqlx::Result<()> {
    sqlx::query(
        "update ai_generations set duplicates_skipped = duplicates_skipped + $2 where id = $1",
    )
    .bind(generation_id)
    .bind(count as i32)
    .execute(pool)
    .await
    .map(drop)
}

/// Ends a generation whose every batch an earlier attempt saved (or whose card limit was
/// reached): the job `succeeded` with `result` and the generation with its `metadata`, in
/// one statement. `false` when the claim was lost.
pub async fn finish(
    pool: &PgPool,
    claim: &Claim,
    generation_id: Uuid,
    result: &Value,
    metadata: &Value,
) -> sqlx::Result<bool> {
    let mut query = QueryBuilder::new("with finished as (");
    claim.push_finish(&mut query, JobStatus::Succeeded, Some(result), None, None);
    query
        .push(
            "), saved as (
            update ai_generations set status = 'succeeded', error = null, updated_at = now(),
                   ai_metadata = ",
        )
        .push_bind(sqlx::types::Json(metadata))
        .push(" where id = ")
        .push_bind(generation_id)
        .push(
            " and exists (select 1 from finished))
         select count(*) from finished",
        );
    let finished: i64 = query.build_query_scalar().fetch_one(pool).await?;
    Ok(finished == 1)
}
