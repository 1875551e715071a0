//! What the scheduler, the synthesis job and the email job write: a schedule's claim for
//! its day and the synthesis it starts, the synthesis's sections and its end, the email
//! deliveries a scheduled synthesis fans out to, and each delivery's attempts. They run as
//! the service role, on the caller's pool or transaction.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::{PgExecutor, PgPool, Postgres, QueryBuilder, Transaction, types::Json};
use uuid::Uuid;

use super::super::jobs::Claim;
use crate::{
    ai::Usage,
    domain::synthesis::{DeliveryStatus, ItemKeys, Section, SentKeys, Synthesis},
};

/// A synthesis job's first step, in its claim's statement (`store::jobs::claim`): the
/// synthesis becomes `running`; its theme comes back.
pub const START: &str = "update syntheses y set status = 'running', updated_at = now()
    from claimed where y.id = (claimed.payload ->> 'synthesis_id')::uuid
    returning claimed.id as claimed_job, y.id, y.theme_id, y.user_id, y.schedule_id, y.scheduled_for,
        (select t.name from themes t where t.id = y.theme_id) as theme_name,
        (select t.description from themes t where t.id = y.theme_id) as theme_description,
        (select t.sources from themes t where t.id = y.theme_id) as sources,
        y.sections as saved_sections";

/// An email job's first step, in its claim's statement: a `pending` delivery becomes
/// `sending` (one more attempt); the status it had comes back as `previous`, with what the
/// email needs and whether its recipient unsubscribed from the theme's digest since.
pub const START_DELIVERY: &str = "update email_deliveries d
    set status = case when old.status = 'pending' then 'sending' else old.status end,
        attempts = old.attempts + case when old.status = 'pending' then 1 else 0 end,
        updated_at = now()
    from claimed, email_deliveries old
    where d.id = (claimed.payload ->> 'delivery_id')::uuid and old.id = d.id
    returning claimed.id as claimed_job, d.id, old.status as previous, d.recipient, d.message_id,
        exists (select 1 from email_suppressions x
                where x.theme_id = d.theme_id and x.address = lower(d.recipient)) as unsubscribed,
        (select to_jsonb(y) from (select s.title, s.sections, s.week, s.scheduled_for, s.created_at,
            s.schedule_id, t.name as theme from syntheses s join themes t on t.id = s.theme_id
            where s.id = d.synthesis_id) y) as synthesis";

/// A schedule that may be due, as the due rule reads it.
#[derive(Debug, sqlx::FromRow)]
pub struct Candidate {
    pub id: Uuid,
    pub user_id: Uuid,
    pub enabled: bool,
    pub days: Json<Vec<String>>,
    /// `HH:MM`: local with a `timezone`, else UTC.
    pub time: String,
    pub timezone: Option<String>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub skipped_day: Option<NaiveDate>,
}

/// Locks the enabled schedules that may be due at `now`: their `due_at` come (or still to
/// work out), their retry's time come, their owner generating nothing; the earliest due
/// first. Whether each is due is the pure rule's to say.
pub async fn lock_candidates(
    tx: &mut Transaction<'static, Postgres>,
    now: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<Candidate>> {
    sqlx::query_as(
        "select s.id, s.user_id, s.enabled, s.days, coalesce(s.time_local, s.time_utc) as time,
                s.timezone, s.last_run_at, s.skipped_day
         from theme_schedules s
         where s.enabled and (s.due_at is null or s.due_at <= $1)
           and (s.next_attempt_at is null or s.next_attempt_at <= $1)
           and not exists (select 1 from syntheses y
                           where y.user_id = s.user_id and y.status in ('pending', 'running'))
         order by s.due_at nulls first
         limit $2
         for update of s skip locked",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

/// Records when each of the schedules `ids` may next be due (`None`: never, as it stands).
pub async fn set_due(
    tx: &mut Transaction<'static, Postgres>,
    ids: &[Uuid],
    due: &[Option<DateTime<Utc>>],
) -> sqlx::Result<()> {
    sqlx::query(
        "update theme_schedules s set due_at = coalesce(v.due_at, 'infinity')
         from unnest($1::uuid[], $2::timestamptz[]) as v(id, due_at) where s.id = v.id",
    )
    .bind(ids)
    .bind(due)
    .execute(&mut **tx)
    .await
    .map(drop)
}

/// The owners among `users` who have spent `limit` AI tokens on `day` (UTC).
pub async fn over_budget(
    tx: &mut Transaction<'static, Postgres>,
    users: &[Uuid],
    day: NaiveDate,
    limit: u64,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "select u.user_id from ai_usage u
         where u.user_id = any((select $1::uuid[])::uuid[]) and u.day = $2
         group by u.user_id
         having sum(u.tokens_input + u.tokens_output) >= $3",
    )
    .bind(users)
    .bind(day)
    .bind(limit as i64)
    .fetch_all(&mut **tx)
    .await
}

/// A due schedule not started on its `day`, and why; it may next be due at `due_at`.
pub struct Skip {
    pub id: Uuid,
    pub day: NaiveDate,
    pub reason: String,
    pub due_at: Option<DateTime<Utc>>,
}

/// Marks each schedule of `skips` skipped on its day, with its reason.
pub async fn skip_schedules(
    tx: &mut Transaction<'static, Postgres>,
    skips: &[Skip],
) -> sqlx::Result<()> {
    let ids: Vec<Uuid> = skips.iter().map(|s| s.id).collect();
    let days: Vec<NaiveDate> = skips.iter().map(|s| s.day).collect();
    let reasons: Vec<&str> = skips.iter().map(|s| s.reason.as_str()).collect();
    let due: Vec<Option<DateTime<Utc>>> = skips.iter().map(|s| s.due_at).collect();
    sqlx::query(
        "update theme_schedules s set skipped_day = v.day, skip_reason = v.reason,
             due_at = coalesce(v.due_at, 'infinity'), updated_at = now()
         from unnest($1::uuid[], $2::date[], $3::text[], $4::timestamptz[])
             as v(id, day, reason, due_at)
         where s.id = v.id",
    )
    .bind(&ids)
    .bind(&days)
    .bind(&reasons)
    .bind(&due)
    .execute(&mut **tx)
    .await
    .map(drop)
}

/// A schedule claimed for a run.
#[derive(Debug, sqlx::FromRow)]
pub struct ClaimedSchedule {
    pub id: Uuid,
    pub theme_id: Uuid,
    pub user_id: Uuid,
    pub workspace_id: Uuid,
    /// This run's attempt of the day, from 1.
    pub attempts_today: i32,
}

/// Counts an attempt of its day (the schedule's own: local with a zone) for each schedule
/// of `due`.
pub async fn claim_schedules(
    tx: &mut Transaction<'static, Postgres>,
    due: &[(Uuid, NaiveDate)],
) -> sqlx::Result<Vec<ClaimedSchedule>> {
    let ids: Vec<Uuid> = due.iter().map(|(id, _)| *id).collect();
    let days: Vec<NaiveDate> = due.iter().map(|(_, day)| *day).collect();
    sqlx::query_as(
        "update theme_schedules s
         set attempts_today = case when s.attempt_day = v.day then s.attempts_today + 1 else 1 end,
             attempt_day = v.day, updated_at = now()
         from unnest($1::uuid[], $2::date[]) as v(id, day)
         where s.id = v.id
         returning s.id, s.theme_id, s.user_id, s.workspace_id, s.attempts_today",
    )
    .bind(&ids)
    .bind(&days)
    .fetch_all(&mut **tx)
    .await
}

/// Starts a claimed schedule's synthesis for `scheduled_for` (its job already inserted):
/// should the run fail, the next may start at `retry_at`.
pub async fn start_scheduled_synthesis(
    tx: &mut Transaction<'static, Postgres>,
    schedule: &ClaimedSchedule,
    synthesis_id: Uuid,
    job_id: Uuid,
    scheduled_for: DateTime<Utc>,
    retry_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("update theme_schedules set next_attempt_at = $2 where id = $1")
        .bind(schedule.id)
        .bind(retry_at)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "insert into syntheses (id, user_id, theme_id, job_id, origin, schedule_id, scheduled_for)
         values ($1, $2, $3, $4, 'schedule', $5, $6)",
    )
    .bind(synthesis_id)
    .bind(schedule.user_id)
    .bind(schedule.theme_id)
    .bind(job_id)
    .bind(schedule.id)
    .bind(scheduled_for)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Appends sections to the synthesis if the claim still holds, in one statement; `false`
/// when it was lost.
pub async fn save_sections(
    pool: &PgPool,
    claim: &Claim,
    synthesis_id: Uuid,
    sections: &[Section],
) -> sqlx::Result<bool> {
    let mut query = QueryBuilder::<Postgres>::new("with fence as (");
    claim.push_alive(&mut query, None);
    query
        .push(
            "), saved as (
            update syntheses set sections = coalesce(sections, '[]'::jsonb) || ",
        )
        .push_bind(Json(sections.to_vec()))
        .push(", updated_at = now() where id = ")
        .push_bind(synthesis_id)
        .push(" and exists (select 1 from fence)) select count(*) from fence");
    let alive: i64 = query.build_query_scalar().fetch_one(pool).await?;
    Ok(alive == 1)
}

/// What a synthesis's end records.
pub struct SynthesisEnd<'a> {
    pub week: &'a str,
    pub synthesis: &'a Synthesis,
    pub sources_report: &'a [Value],
    /// The AI that wrote it; none when there was nothing new to write about.
    pub provider: Option<&'a str>,
    pub model: Option<&'a str>,
    pub usage: &'a Usage,
    /// Items left out as already sent by the schedule.
    pub items_left_out: usize,
}

/// Saves the written synthesis (`succeeded`); `false` when it was deleted meanwhile.
pub async fn save_synthesis<'e>(
    db: impl PgExecutor<'e>,
    synthesis_id: Uuid,
    written: SynthesisEnd<'_>,
) -> sqlx::Result<bool> {
    let saved = sqlx::query(
        "update syntheses set status = 'succeeded', week = $2, title = $3, sections = $4,
                sources_report = $5, provider = $6, model = $7, tokens_input = $8,
                tokens_output = $9, items_left_out = $10, error = null, updated_at = now()
         where id = $1",
    )
    .bind(synthesis_id)
    .bind(written.week)
    .bind(&written.synthesis.title)
    .bind(Json(&written.synthesis.sections))
    .bind(Json(written.sources_report))
    .bind(written.provider)
    .bind(written.model)
    .bind(written.usage.input_tokens as i32)
    .bind(written.usage.output_tokens as i32)
    .bind(written.items_left_out as i32)
    .execute(db)
    .await?;
    Ok(saved.rows_affected() == 1)
}

/// Records the items a synthesis was given (`schedule_id`: a scheduled one's schedule).
pub async fn record_items(
    tx: &mut Transaction<'static, Postgres>,
    synthesis_id: Uuid,
    schedule_id: Option<Uuid>,
    items: &[(&str, ItemKeys)],
) -> sqlx::Result<()> {
    let titles: Vec<&str> = items.iter().map(|(title, _)| *title).collect();
    let guids: Vec<Option<&str>> = items.iter().map(|(_, k)| k.guid.as_deref()).collect();
    let links: Vec<Option<&str>> = items.iter().map(|(_, k)| k.link.as_deref()).collect();
    let hashes: Vec<&str> = items.iter().map(|(_, k)| k.content_hash.as_str()).collect();
    sqlx::query(
        "insert into synthesis_items (synthesis_id, user_id, schedule_id, position, title, guid,
             link, content_hash)
         select s.id, s.user_id, $2, v.position, v.title, v.guid, v.link, v.content_hash
         from syntheses s,
              unnest($3::text[], $4::text[], $5::text[], $6::text[])
                  with ordinality as v(title, guid, link, content_hash, position)
         where s.id = $1
         on conflict do nothing",
    )
    .bind(synthesis_id)
    .bind(schedule_id)
    .bind(&titles)
    .bind(&guids)
    .bind(&links)
    .bind(&hashes)
    .execute(&mut **tx)
    .await
    .map(drop)
}

/// Which of `items`' keys the emailed syntheses of the schedule already carried (those with
/// a delivery that was, or may have been, sent).
pub async fn sent_keys(
    pool: &PgPool,
    schedule_id: Uuid,
    items: &[ItemKeys],
) -> sqlx::Result<SentKeys> {
    let guids: Vec<&str> = items.iter().filter_map(|k| k.guid.as_deref()).collect();
    let links: Vec<&str> = items.iter().filter_map(|k| k.link.as_deref()).collect();
    let hashes: Vec<&str> = items.iter().map(|k| k.content_hash.as_str()).collect();
    let rows: Vec<(Option<String>, Option<String>, String)> = sqlx::query_as(
        "select i.guid, i.link, i.content_hash from synthesis_items i
         where i.schedule_id = $1
           and (i.guid = any($2) or i.link = any($3) or i.content_hash = any($4))
           and exists (select 1 from email_deliveries d
                       where d.synthesis_id = i.synthesis_id
                         and d.status in ('pending', 'sending', 'sent', 'unknown'))",
    )
    .bind(schedule_id)
    .bind(&guids)
    .bind(&links)
    .bind(&hashes)
    .fetch_all(pool)
    .await?;
    let mut sent = SentKeys::default();
    for (guid, link, content_hash) in rows {
        sent.insert(ItemKeys {
            guid,
            link,
            content_hash,
        });
    }
    Ok(sent)
}

/// A schedule's run marked done: its recipients, and whether a run with nothing new still
/// mails them.
#[derive(Debug, Default)]
pub struct ScheduleRun {
    pub emails: Vec<String>,
    pub send_when_empty: bool,
}

/// Marks a schedule's run of `scheduled_for` done (none when it was deleted meanwhile).
pub async fn mark_schedule_run(
    tx: &mut Transaction<'static, Postgres>,
    schedule_id: Uuid,
    scheduled_for: DateTime<Utc>,
) -> sqlx::Result<ScheduleRun> {
    let run: Option<(Json<Vec<String>>, bool)> = sqlx::query_as(
        "update theme_schedules set last_run_at = $2, next_attempt_at = null, due_at = null,
             updated_at = now()
         where id = $1 returning emails, send_when_empty",
    )
    .bind(schedule_id)
    .bind(scheduled_for)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(run
        .map(|(emails, send_when_empty)| ScheduleRun {
            emails: emails.0,
            send_when_empty,
        })
        .unwrap_or_default())
}

/// Records that a synthesis was not sent to `recipient`, and why (`NOTHING_NEW`).
pub async fn skip_delivery(
    tx: &mut Transaction<'static, Postgres>,
    delivery_id: Uuid,
    synthesis_id: Uuid,
    recipient: &str,
    reason: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into email_deliveries (id, user_id, synthesis_id, theme_id, recipient, status,
             reason, message_id)
         select $1, s.user_id, s.id, s.theme_id, $3, 'skipped', $4, $5 from syntheses s
         where s.id = $2
         on conflict (synthesis_id, recipient) do nothing",
    )
    .bind(delivery_id)
    .bind(synthesis_id)
    .bind(recipient)
    .bind(reason)
    .bind(format!("<{synthesis_id}.{delivery_id}@almanac>"))
    .execute(&mut **tx)
    .await
    .map(drop)
}

/// Creates the delivery of a synthesis to `recipient`, sent by the job `job_id` (inserted
/// first: the delivery refers to it), unless the recipient already has it; in that case
/// the job is deleted again. Returns whether it was created.
pub async fn create_delivery(
    tx: &mut Transaction<'static, Postgres>,
    delivery_id: Uuid,
    synthesis_id: Uuid,
    recipient: &str,
    job_id: Uuid,
) -> sqlx::Result<bool> {
    let created: Option<Uuid> = sqlx::query_scalar(
        "insert into email_deliveries (id, user_id, synthesis_id, theme_id, recipient,
             job_id, message_id)
         select $1, s.user_id, s.id, s.theme_id, $3, $4, $5 from syntheses s where s.id = $2
         on conflict (synthesis_id, recipient) do nothing
         returning id",
    )
    .bind(delivery_id)
    .bind(synthesis_id)
    .bind(recipient)
    .bind(job_id)
    .bind(format!("<{synthesis_id}.{delivery_id}@almanac>"))
    .fetch_optional(&mut **tx)
    .await?;
    if created.is_none() {
        sqlx::query("delete from jobs where id = $1")
            .bind(job_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(created.is_some())
}

/// Records that a delivery was not sent on purpose, and why (`UNSUBSCRIBED`).
pub async fn record_skipped(pool: &PgPool, delivery_id: Uuid, reason: &str) -> sqlx::Result<()> {
    sqlx::query(
        "update email_deliveries set status = 'skipped', reason = $2, updated_at = now()
         where id = $1",
    )
    .bind(delivery_id)
    .bind(reason)
    .execute(pool)
    .await
    .map(drop)
}

/// Records a delivery attempt's outcome (`sent_at` when it was sent); an `error` replaces
/// the last one.
pub async fn record_delivery(
    pool: &PgPool,
    delivery_id: Uuid,
    status: DeliveryStatus,
    error: Option<&Value>,
) -> sqlx::Result<()> {
    sqlx::query(
        "update email_deliveries set status = $2, last_error = coalesce($3, last_error),
                sent_at = case when $2 = 'sent' then now() else sent_at end, updated_at = now()
         where id = $1",
    )
    .bind(delivery_id)
    .bind(status)
    .bind(error.map(Json))
    .execute(pool)
    .await?;
    Ok(())
}
