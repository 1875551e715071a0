//! What a calendar run writes, shared by the worker (service runs) and the API (legacy
//! runs, accepting changes): its entries, its proposed changes, its end. Every function
//! runs on the caller's connection, inside the caller's transaction: as the user under
//! row-level security in the API, as the service role in the worker.

use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, PgConnection};
use uuid::Uuid;

use crate::{
    domain::calendar::{self, Change, DiffCounts, Entry, SavedEntry},
    jobs::JobStatus,
};

/// A calendar job's first step, in its claim's statement (`store::jobs::claim`): the run
/// becomes `running`; its request comes back with the slots an earlier attempt already
/// generated, and for a continuation every slot the calendar has (deleted entries included:
/// they stay deleted), or for a continued regeneration every slot its proposal holds.
pub const START: &str = "update calendar_runs r set status = 'running',
        started_at = coalesce(r.started_at, now())
    from claimed where r.id = (claimed.payload ->> 'run_id')::uuid
    returning claimed.id as claimed_job, r.id, r.calendar_id, r.user_id, r.version, r.request, r.applies_directly,
        r.deadline_at, r.continues, r.proposal_run_id,
        (select coalesce(jsonb_agg(k.key), '[]'::jsonb) from (
            select e.key from calendar_run_entries e where e.run_id = r.id
            union
            select c.key from calendar_entries c
            where r.continues is not null and r.proposal_run_id is null
              and c.calendar_id = r.calendar_id
            union
            select e.key from calendar_run_entries e join calendar_runs p on p.id = e.run_id
            where r.proposal_run_id is not null
              and (p.id = r.proposal_run_id or p.proposal_run_id = r.proposal_run_id)) k)
            as done_keys";

/// A run and whose calendar it fills.
#[derive(Debug, Clone, Copy)]
pub struct RunRef {
    pub id: Uuid,
    pub calendar_id: Uuid,
    pub user_id: Uuid,
}

/// The record definition that reads an entry's JSON (an [`Entry`]) into columns.
const ENTRY_RECORD: &str = r#"e(key text, channel text, date date, "time" time, "scheduledAt" timestamptz,
    title text, caption text, format text, hashtags text[], "callToAction" text)"#;

/// A saved entry (`calendar_entries`, aliased `c`) as an [`Entry`]'s JSON.
pub const ENTRY_JSON: &str = "jsonb_build_object('key', c.key, 'channel', c.channel,
    'date', c.local_date, 'time', c.local_time, 'scheduledAt', c.scheduled_at,
    'title', c.title, 'caption', c.caption, 'format', c.format,
    'hashtags', to_jsonb(c.hashtags), 'callToAction', c.call_to_action)";

/// Saves what a run generated (`(position in the grid, entry)`), skipping slots already
/// saved by an earlier attempt; a run that fills its calendar directly also writes the
/// calendar's entries. Returns how many entries were new.
pub async fn save_run_entries(
    conn: &mut PgConnection,
    run: RunRef,
    applies_directly: bool,
    entries: &[(i32, &Entry)],
    tokens: (u32, u32),
    model: Option<(&str, &str)>,
) -> sqlx::Result<i64> {
    let input: Vec<Value> = entries
        .iter()
        .map(|(position, entry)| json!({ "position": position, "id": Uuid::now_v7(), "entry": entry }))
        .collect();
    let sql = format!(
        "with input as (
            select * from jsonb_to_recordset($4) as t(position int, id uuid, entry jsonb)),
         -- The run's workspace, named once (a worker's statement runs outside a request's
         -- settings, where the parent trigger would look it up for every row).
         run as (select workspace_id from calendar_runs where id = $1),
         saved as (
            insert into calendar_run_entries (run_id, user_id, workspace_id, key, position,
                                              entry)
            select $1, $3, (select workspace_id from run), i.entry ->> 'key', i.position,
                   i.entry
            from input i
            on conflict do nothing
            returning key),
         applied as (
            insert into calendar_entries (id, calendar_id, user_id, workspace_id, key, channel,
                local_date, local_time, scheduled_at, title, caption, format, hashtags,
                call_to_action, origin, run_id)
            select i.id, $2, $3, (select workspace_id from run), e.key, e.channel, e.date, e.time, e.\"scheduledAt\", e.title,
                   coalesce(e.caption, ''), coalesce(e.format, ''), coalesce(e.hashtags, '{{}}'),
                   coalesce(e.\"callToAction\", ''), 'generated', $1
            from input i cross join lateral jsonb_to_record(i.entry) as {ENTRY_RECORD}
            where $5 and i.entry ->> 'key' in (select key from saved)
            on conflict (calendar_id, key) do nothing),
         counted as (
            update calendar_runs set entries = entries + (select count(*) from saved),
                   tokens_input = tokens_input + $6, tokens_output = tokens_output + $7,
                   provider = coalesce($8, provider), model = coalesce($9, model)
            where id = $1)
         select count(*) from saved"
    );
    sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(run.id)
        .bind(run.calendar_id)
        .bind(run.user_id)
        .bind(sqlx::types::Json(&input))
        .bind(applies_directly)
        .bind(tokens.0 as i32)
        .bind(tokens.1 as i32)
        .bind(model.map(|(provider, _)| provider))
        .bind(model.map(|(_, model)| model))
        .fetch_one(conn)
        .await
}

/// Everything a run generated, in grid order.
pub async fn run_entries(conn: &mut PgConnection, run_id: Uuid) -> sqlx::Result<Vec<Entry>> {
    let rows: Vec<sqlx::types::Json<Entry>> = sqlx::query_scalar(
        "select entry from calendar_run_entries where run_id = $1 order by position",
    )
    .bind(run_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|j| j.0).collect())
}

/// The calendar's saved entries, deleted ones (tombstones) included.
pub async fn saved_entries(
    conn: &mut PgConnection,
    calendar_id: Uuid,
) -> sqlx::Result<Vec<SavedEntry>> {
    let rows: Vec<(sqlx::types::Json<Entry>, bool, bool, bool)> =
        sqlx::query_as(AssertSqlSafe(format!(
            "select {ENTRY_JSON}, c.edited, c.deleted_at is not null, c.origin = 'manual'
             from calendar_entries c where c.calendar_id = $1"
        )))
        .bind(calendar_id)
        .fetch_all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(entry, edited, deleted, manual)| SavedEntry {
            entry: entry.0,
            edited,
            deleted,
            manual,
        })
        .collect())
}

/// Stores `changes` as the run's diff: the diff's payload (as its event and the run's view
/// show it) and its counts.
pub async fn store_diff(
    conn: &mut PgConnection,
    run: RunRef,
    changes: Vec<Change>,
) -> sqlx::Result<(Value, DiffCounts)> {
    let counts = calendar::counts(&changes);
    let stored = store_changes(conn, run, changes).await?;
    Ok((crate::calendars::diff_payload(&stored, counts), counts))
}

/// A regeneration's proposal: `generated` diffed against the calendar as saved now
/// (`complete`: the run wrote every slot, so a saved entry it left out is proposed for
/// removal), stored as the run's diff. The API's legacy path and the calendar job both
/// end a regeneration here.
pub async fn propose_changes(
    conn: &mut PgConnection,
    run: RunRef,
    generated: &[Entry],
    complete: bool,
) -> sqlx::Result<(Value, DiffCounts)> {
    let saved = saved_entries(&mut *conn, run.calendar_id).await?;
    let changes = calendar::diff(&saved, generated, complete);
    store_diff(conn, run, changes).await
}

/// What regeneration `$1`'s proposal holds: the entries it and each of its continuations
/// generated.
const PROPOSAL_ENTRIES: &str = "calendar_run_entries e join calendar_runs r on r.id = e.run_id
    where r.id = $1 or r.proposal_run_id = $1";

/// The keys of the slots regeneration `proposal` (with its continuations) has written.
pub async fn proposal_keys(conn: &mut PgConnection, proposal: Uuid) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(AssertSqlSafe(format!(
        "select e.key from {PROPOSAL_ENTRIES}"
    )))
    .bind(proposal)
    .fetch_all(conn)
    .await
}

/// A continued regeneration's end: the proposal's entries (the regeneration's and every
/// continuation's) diffed against the calendar as saved now, and the changes for slots
/// the proposal did not yet hold added to it (`complete`: every slot is now written, so
/// a saved entry the proposal left out is proposed for removal). Returns the changes it
/// added, as the continuing run's diff.
pub async fn extend_proposal(
    conn: &mut PgConnection,
    proposal: RunRef,
    complete: bool,
) -> sqlx::Result<(Value, DiffCounts)> {
    let generated: Vec<sqlx::types::Json<Entry>> = sqlx::query_scalar(AssertSqlSafe(format!(
        "select e.entry from {PROPOSAL_ENTRIES} order by e.position"
    )))
    .bind(proposal.id)
    .fetch_all(&mut *conn)
    .await?;
    let generated: Vec<Entry> = generated.into_iter().map(|j| j.0).collect();
    let (held, next): (Vec<String>, Option<i32>) = sqlx::query_as(
        "select coalesce(array_agg(key), '{}'), max(position) + 1 from calendar_changes
         where run_id = $1",
    )
    .bind(proposal.id)
    .fetch_one(&mut *conn)
    .await?;
    let saved = saved_entries(&mut *conn, proposal.calendar_id).await?;
    let mut changes = calendar::diff(&saved, &generated, complete);
    let held: std::collections::HashSet<String> = held.into_iter().collect();
    changes.retain(|change| !held.contains(&change.key));
    let counts = calendar::counts(&changes);
    let stored = store_changes_from(conn, proposal, changes, next.unwrap_or(0)).await?;
    Ok((crate::calendars::diff_payload(&stored, counts), counts))
}

/// Stores a regeneration's proposed changes; returns them with their ids, in order.
pub async fn store_changes(
    conn: &mut PgConnection,
    run: RunRef,
    changes: Vec<Change>,
) -> sqlx::Result<Vec<(Uuid, Change)>> {
    store_changes_from(conn, run, changes, 0).await
}

/// Stores changes after the `first` positions of the run's proposal.
async fn store_changes_from(
    conn: &mut PgConnection,
    run: RunRef,
    changes: Vec<Change>,
    first: i32,
) -> sqlx::Result<Vec<(Uuid, Change)>> {
    let changes: Vec<(Uuid, Change)> = changes.into_iter().map(|c| (Uuid::now_v7(), c)).collect();
    let input: Vec<Value> = changes
        .iter()
        .enumerate()
        .map(|(position, (id, change))| {
            json!({
                "id": id, "position": first + position as i32, "kind": change.kind, "key": change.key,
                "conflict": change.conflict, "before": change.before, "after": change.after,
            })
        })
        .collect();
    sqlx::query(
        "insert into calendar_changes (id, run_id, calendar_id, user_id, position, kind, key,
             conflict, before, after)
         select t.id, $1, $2, $3, t.position, t.kind, t.key, t.conflict, t.before, t.after
         from jsonb_to_recordset($4) as t(id uuid, position int, kind text, key text,
             conflict boolean, before jsonb, after jsonb)
         on conflict (run_id, key) do nothing",
    )
    .bind(run.id)
    .bind(run.calendar_id)
    .bind(run.user_id)
    .bind(sqlx::types::Json(&input))
    .execute(conn)
    .await?;
    Ok(changes)
}

/// Marks every change of a run applied (a continuation's additions, saved as generated).
pub async fn mark_applied(conn: &mut PgConnection, run_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("update calendar_changes set applied_at = now() where run_id = $1")
        .bind(run_id)
        .execute(conn)
        .await
        .map(drop)
}

/// Which proposed changes to apply.
#[derive(Debug, Clone)]
pub enum Selection {
    /// These changes, conflicts included: the user chose each one.
    Ids(Vec<Uuid>),
    /// Every change that touches no edited or deleted entry.
    AllSafe,
}

/// Applies a run's proposed changes to its calendar (a continued regeneration's proposal,
/// through either run); a change already applied is skipped, so accepting twice changes
/// nothing. Returns the ids applied now.
pub async fn apply_changes(
    conn: &mut PgConnection,
    run: RunRef,
    selection: &Selection,
) -> sqlx::Result<Vec<Uuid>> {
    let ids = match selection {
        Selection::Ids(ids) => Some(ids.as_slice()),
        Selection::AllSafe => None,
    };
    let sql = format!(
        "with chosen as (
            update calendar_changes ch set applied_at = now()
            where ch.run_id = (select coalesce(r.proposal_run_id, r.id) from calendar_runs r
                               where r.id = $1)
              and ch.applied_at is null
              and case when $4::uuid[] is not null then ch.id = any($4)
                  else not ch.conflict and not exists (
                      select 1 from calendar_entries c
                      where c.calendar_id = $2 and c.key = ch.key
                        and (c.edited or c.deleted_at is not null)) end
            returning ch.id, ch.kind, ch.key, ch.after),
         removed as (
            delete from calendar_entries c using chosen ch
            where ch.kind = 'removed' and c.calendar_id = $2 and c.key = ch.key),
         upserted as (
            insert into calendar_entries (id, calendar_id, user_id, key, channel, local_date,
                local_time, scheduled_at, title, caption, format, hashtags, call_to_action,
                origin, run_id)
            select gen_random_uuid(), $2, $3, e.key, e.channel, e.date, e.time, e.\"scheduledAt\",
                   e.title, coalesce(e.caption, ''), coalesce(e.format, ''),
                   coalesce(e.hashtags, '{{}}'), coalesce(e.\"callToAction\", ''), 'generated', $1
            from chosen ch cross join lateral jsonb_to_record(ch.after) as {ENTRY_RECORD}
            where ch.kind in ('added', 'updated')
            on conflict (calendar_id, key) do update set
                channel = excluded.channel, local_date = excluded.local_date,
                local_time = excluded.local_time, scheduled_at = excluded.scheduled_at,
                title = excluded.title, caption = excluded.caption, format = excluded.format,
                hashtags = excluded.hashtags, call_to_action = excluded.call_to_action,
                run_id = excluded.run_id, edited = false, edited_at = null, deleted_at = null,
                updated_at = now()),
         touched as (
            update calendars set updated_at = now()
            where id = $2 and exists (select 1 from chosen))
         select id from chosen"
    );
    sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(run.id)
        .bind(run.calendar_id)
        .bind(run.user_id)
        .bind(ids)
        .fetch_all(conn)
        .await
}

/// How a run ended, for [`finish_run`].
#[derive(Debug, Clone)]
pub struct RunOutcome<'a> {
    pub status: JobStatus,
    pub error: Option<&'a Value>,
    pub diff: Option<DiffCounts>,
}

/// Ends a run with its figures: latency since the request, status, error, diff counts.
/// Returns the run's summary (seed 000's final frame `data`). The SQL function is also
/// the calendar kind's ending when its job ends otherwise (migration `job_kind_endings`).
pub async fn finish_run(
    conn: &mut PgConnection,
    run_id: Uuid,
    outcome: &RunOutcome<'_>,
) -> sqlx::Result<Value> {
    let summary: sqlx::types::Json<Value> =
        sqlx::query_scalar("select finish_calendar_run($1, $2, $3, $4)")
            .bind(run_id)
            .bind(outcome.status)
            .bind(outcome.error.map(sqlx::types::Json))
            .bind(outcome.diff.map(sqlx::types::Json))
            .fetch_one(conn)
            .await?;
    Ok(summary.0)
}
