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

/// A generation request as [`create`] writes it, owned so that it can wait for the
/// statement of its group.
#[derive(Debug, Clone, Serialize)]
pub struct Submission {
    user_id: Uuid,
    workspace_id: Uuid,
    job_id: Uuid,
    payload: Value,
    max_attempts: i32,
    trace_context: std::collections::HashMap<String, String>,
    generation_id: Uuid,
    source_text: String,
    model: Option<String>,
    prompt_version: String,
    key: Option<String>,
    request_hash: Option<String>,
    response: Option<Value>,
    reused_from: Option<Uuid>,
    card_types: Vec<&'static str>,
    lane: &'static str,
}

impl Submission {
    /// The request `new` (its job names who makes it, and where), its answer serialised
    /// for its idempotency key.
    pub fn new<A: Serialize>(new: NewGeneration<'_, A>) -> Self {
        Self {
            user_id: new.job.user_id,
            workspace_id: new.job.workspace_id,
            job_id: new.job.id,
            payload: new.job.payload.clone(),
            max_attempts: new.job.kind.max_attempts(),
            trace_context: new.job.trace_context.clone(),
            generation_id: new.generation_id,
            source_text: new.source_text.to_owned(),
            model: new.model.map(str::to_owned),
            prompt_version: new.prompt_version.to_owned(),
            key: new.idempotency.map(|(key, _)| key.key.clone()),
            request_hash: new.idempotency.map(|(key, _)| key.request_hash.clone()),
            response: new
                .idempotency
                .map(|(_, answer)| serde_json::to_value(answer).expect("answers serialise")),
            reused_from: new.reused_from,
            card_types: new.card_types.iter().map(|t| t.as_str()).collect(),
            lane: new.job.lane.as_str(),
        }
    }
}

/// Writes each request's generation, job and key, in one statement for all of them: each
/// by `create_generation` as its user under row-level security (migrations
/// 20261121000004 and 20261122000011 explain why this is a function), one after another.
/// Answers, in their order: nothing for a request written, or for one whose key was used
/// meanwhile, the earlier answer (nothing written).
///
/// The requests go as one JSON array (see [`card_keys`]): one plan serves every size of
/// group.
pub async fn create(
    pool: &PgPool,
    submissions: &[Submission],
) -> sqlx::Result<Vec<Option<Earlier>>> {
    let rows: Vec<(i64, Option<String>, Option<Json<Value>>)> = sqlx::query_as(
        "select s.n, g.request_hash, g.response
         from jsonb_array_elements($1) with ordinality as s(r, n)
         left join lateral create_generation((r ->> 'user_id')::uuid, (r ->> 'job_id')::uuid,
             r -> 'payload', (r ->> 'max_attempts')::int, r -> 'trace_context',
             (r ->> 'generation_id')::uuid, r ->> 'source_text', r ->> 'model',
             r ->> 'prompt_version', r ->> 'key', r ->> 'request_hash', r -> 'response',
             (r ->> 'reused_from')::uuid,
             array(select jsonb_array_elements_text(r -> 'card_types')), r ->> 'lane',
             (r ->> 'workspace_id')::uuid) g on true
         order by s.n",
    )
    .bind(Json(submissions))
    .fetch_all(pool)
    .await?;
    let mut answers: Vec<Option<Earlier>> = submissions.iter().map(|_| None).collect();
    for (n, request_hash, response) in rows {
        if let (Some(request_hash), Some(response)) = (request_hash, response)
            && let Some(answer) = usize::try_from(n - 1).ok().and_then(|n| answers.get_mut(n))
        {
            *answer = Some(Earlier {
                request_hash,
                response,
            });
        }
    }
    Ok(answers)
}

/// What one statement of a generation saves before its last batch: cards of the batch
/// `index` whose objects closed together, and at the batch's `end` its call's usage
/// (recorded against the user's day too). The last batch is saved with the end of its
/// job by [`save_last`].
pub struct Step<'a> {
    pub index: usize,
    pub cards: &'a [SuggestionItem],
    pub end: Option<&'a ChatResponse>,
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
    claim.push_alive(&mut query, events);
    query.push(")");
    let cards = step.cards;
    if !cards.is_empty() {
        query
            .push(
                ", inserted as (
                insert into ai_suggestions (id, user_id, workspace_id, generation_id, batch, position,
                                            card_type, front, back, status)
                select t.id, ",
            )
            .push_bind(claim.user_id)
            .push(", ")
            .push_bind(claim.workspace_id)
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
    let Some(response) = step.end else {
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
        .push(", updated_at = now() where id = ")
        .push_bind(generation_id)
        .push(" and batches_done = ")
        .push_bind(step.index as i32)
        .push(" and exists (select 1 from fence) returning id), ");
    // The call is recorded whether or not the claim still holds: it was made.
    super::usage::push_record(&mut query, claim.actor(), claim.kind.as_str(), response);
    query.push(" select (select count(*) from generation), ");
    super::usage::push_spent(&mut query, claim.actor(), claim.kind.as_str());
    let (saved, spent): (i64, Option<i64>) = query.build_query_as().fetch_one(pool).await?;
    Ok((saved == 1).then_some(spent))
}

/// A generation's last batch, saved with the end of its job and of the generation by
/// [`save_last`]: its cards, its call's usage, the job's result and the generation's
/// metadata, and the token its events were staged under.
#[derive(Debug, Clone, Serialize)]
pub struct Last {
    job: Uuid,
    attempt: i32,
    worker: String,
    user_id: Uuid,
    workspace_id: Uuid,
    kind: &'static str,
    generation: Uuid,
    batch: i32,
    cards: Vec<SuggestionItem>,
    tokens_input: i64,
    tokens_output: i64,
    cost_usd: f64,
    result: Value,
    metadata: Value,
    events: Option<Uuid>,
}

impl Last {
    /// The last batch `index` of the generation `generation_id` that `claim` runs.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        claim: &Claim,
        generation_id: Uuid,
        index: usize,
        cards: Vec<SuggestionItem>,
        response: &ChatResponse,
        result: Value,
        metadata: Value,
        events: Option<Uuid>,
    ) -> Self {
        Self {
            job: claim.id,
            attempt: claim.attempt,
            worker: claim.worker.clone(),
            user_id: claim.user_id,
            workspace_id: claim.workspace_id,
            kind: claim.kind.as_str(),
            generation: generation_id,
            batch: index as i32,
            cards,
            tokens_input: i64::from(response.usage.input_tokens),
            tokens_output: i64::from(response.usage.output_tokens),
            cost_usd: response.cost_usd,
            result,
            metadata,
            events,
        }
    }

    /// The job it ends.
    pub fn job(&self) -> Uuid {
        self.job
    }
}

/// Saves the last batches of several generations and ends their jobs and generations, in
/// one statement and one commit, each where its claim still holds: a job ends with its
/// generation, never without it (a batch an earlier attempt saved already is not counted
/// twice). One job's lost claim leaves the others' ends standing. The
/// calls' usage is recorded whether or not the claims held (they were made), once per
/// user and kind, in their order, so that two statements never lock the same days in
/// opposite orders. Answers, in the order of `lasts`: `None` for a job whose claim was
/// lost, else the user's tokens of the day after the statement.
///
/// The generations go as one JSON array (see [`card_keys`]): one plan serves every size
/// of group.
pub async fn save_last(pool: &PgPool, lasts: &[Last]) -> sqlx::Result<Vec<Option<i64>>> {
    let rows: Vec<(Uuid, bool, i64)> = sqlx::query_as(
        "with e as materialized (
            select * from jsonb_to_recordset($1) as e(job uuid, attempt int, worker text,
                user_id uuid, workspace_id uuid, kind text, generation uuid, batch int,
                cards jsonb,
                tokens_input bigint, tokens_output bigint, cost_usd float8, result jsonb,
                metadata jsonb, events uuid)),
         ended as (
            update jobs j set status = 'succeeded', result = e.result, error = null,
                   finished_at = now(), updated_at = now(), heartbeat_at = null,
                   events_token = coalesce(e.events, j.events_token)
            from e
            where j.id = e.job and j.attempts = e.attempt and j.worker = e.worker
              and j.status = 'running'
            returning j.id),
         inserted as (
            insert into ai_suggestions (id, user_id, workspace_id, generation_id, batch,
                                        position, card_type, front, back, status)
            select c.id, e.user_id, e.workspace_id, e.generation, e.batch, c.position,
                   c.card_type, c.front, c.back, 'proposed'
            from e join ended on ended.id = e.job,
                 jsonb_to_recordset(e.cards) as c(id uuid, position int, card_type text,
                                                  front text, back text)
            on conflict (generation_id, position) do nothing),
         generation as (
            update ai_generations g set
                   batches_done = g.batches_done + (g.batches_done = e.batch)::int,
                   tokens_input = coalesce(g.tokens_input, 0)
                       + case when g.batches_done = e.batch then e.tokens_input else 0 end,
                   tokens_output = coalesce(g.tokens_output, 0)
                       + case when g.batches_done = e.batch then e.tokens_output else 0 end,
                   cost_usd = coalesce(g.cost_usd, 0)
                       + case when g.batches_done = e.batch then e.cost_usd else 0 end,
                   updated_at = now(), status = 'succeeded', error = null,
                   ai_metadata = e.metadata
            from e join ended on ended.id = e.job
            where g.id = e.generation
            returning e.job),
         recorded as (
            insert into ai_usage as u (workspace_id, user_id, day, kind, calls, tokens_input,
                                       tokens_output, cost_usd)
            select e.workspace_id, e.user_id, (now() at time zone 'utc')::date, e.kind, count(*),
                   sum(e.tokens_input), sum(e.tokens_output), sum(e.cost_usd)
            from e group by e.workspace_id, e.user_id, e.kind
            order by e.workspace_id, e.user_id, e.kind
            on conflict (workspace_id, user_id, day, kind) do update
                set calls = u.calls + excluded.calls,
                tokens_input = u.tokens_input + excluded.tokens_input,
                tokens_output = u.tokens_output + excluded.tokens_output,
                cost_usd = u.cost_usd + excluded.cost_usd
            returning u.workspace_id, u.user_id, u.kind, u.tokens_input + u.tokens_output as tokens)
         select e.job, exists (select 1 from generation g where g.job = e.job),
                (r.tokens + coalesce((select sum(a.tokens_input + a.tokens_output) from ai_usage a
                    where a.workspace_id = e.workspace_id
                      and a.day = (now() at time zone 'utc')::date
                      and not (a.kind = e.kind and a.user_id = e.user_id)), 0))::bigint
         from e join recorded r
           on r.workspace_id = e.workspace_id and r.user_id = e.user_id and r.kind = e.kind",
    )
    .bind(Json(lasts))
    .fetch_all(pool)
    .await?;
    let saved: std::collections::HashMap<Uuid, Option<i64>> = rows
        .into_iter()
        .map(|(job, saved, spent)| (job, saved.then_some(spent)))
        .collect();
    Ok(lasts
        .iter()
        .map(|last| saved.get(&last.job).copied().flatten())
        .collect())
}

/// The cards of one generation's duplicate check: its workspace's, in their order.
#[derive(Debug, Clone, Serialize)]
pub struct Sides {
    workspace: Uuid,
    /// `[card type, front, back]` each.
    cards: Vec<(&'static str, String, String)>,
}

impl Sides {
    pub fn new<'a>(
        workspace: Uuid,
        cards: impl IntoIterator<Item = (CardType, &'a str, &'a str)>,
    ) -> Self {
        Self {
            workspace,
            cards: cards
                .into_iter()
                .map(|(card_type, front, back)| {
                    (card_type.as_str(), front.to_owned(), back.to_owned())
                })
                .collect(),
        }
    }
}

/// For each of `checks`, in their order: the key of each of its cards (`card_type_key`, in
/// their order), and whether its workspace has a card with it already. One statement for
/// several generations' checks.
///
/// The cards go as one JSON array rather than as arrays to `unnest`: the planner counts the
/// elements of an array it is given, so every call would be planned again for its number of
/// cards (and the key functions inlined again with it), which cost more than the keys.
pub async fn card_keys(pool: &PgPool, checks: &[Sides]) -> sqlx::Result<Vec<Vec<(String, bool)>>> {
    let rows: Vec<(i64, String, bool)> = sqlx::query_as(
        "select t.n, t.key, exists (select 1 from cards c
                                    where c.workspace_id = t.workspace_id and c.key = t.key)
         from (select (a ->> 'workspace')::uuid as workspace_id, n,
                      card_type_key(c ->> 0, c ->> 1, c ->> 2) as key, i
               from jsonb_array_elements($1) with ordinality as u(a, n),
                    jsonb_array_elements(a -> 'cards') with ordinality as v(c, i)) t
         order by t.n, t.i",
    )
    .bind(Json(checks))
    .fetch_all(pool)
    .await?;
    let mut keyed: Vec<Vec<(String, bool)>> = checks
        .iter()
        .map(|check| Vec::with_capacity(check.cards.len()))
        .collect();
    for (n, key, carded) in rows {
        if let Some(check) = usize::try_from(n - 1).ok().and_then(|n| keyed.get_mut(n)) {
            check.push((key, carded));
        }
    }
    Ok(keyed)
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

/// Ends the generations left `pending` or `running` under a job that ended (for at least
/// `settled_for`): each follows its job (a timed-out job's generation `failed`). The
/// reconciler's repair of a generation its job's end missed; how many it ended.
pub async fn end_orphaned(pool: &PgPool, settled_for: std::time::Duration) -> sqlx::Result<u64> {
    sqlx::query(
        "update ai_generations g
         set status = case j.status when 'timeout' then 'failed' else j.status end,
             error = coalesce(g.error, j.error), updated_at = now()
         from jobs j
         where g.status in ('pending', 'running') and j.id = g.job_id
           and j.status in ('succeeded', 'failed', 'timeout', 'cancelled')
           and j.finished_at < now() - make_interval(secs => $1)",
    )
    .bind(settled_for.as_secs_f64())
    .execute(pool)
    .await
    .map(|done| done.rows_affected())
}
