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
    domain::synthesis::{DeliveryStatus, Section, Synthesis},
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
/// email needs.
pub const START_DELIVERY: &str = "update email_deliveries d
    set status = case when old.status = 'pending' then 'sending' else old.status end,
        attempts = old.attempts + case when old.status = 'pending' then 1 else 0 end,
        updated_at = now()
    from claimed, email_deliveries old
    where d.id = (claimed.payload ->> 'delivery_id')::uuid and old.id = d.id
    returning claimed.id as claimed_job, d.id, old.status as previous, d.recipient, d.message_id,
        (select to_jsonb(y) from (select s.title, s.sections, s.week, s.scheduled_for, s.created_at,
            t.name as theme from syntheses s join themes t on t.id = s.theme_id
            where s.id = d.synthesis_id) y) as synthesis";

/// The condition of a schedule that may run on `$1`'s weekday and has not run since `$2`
/// (the day's start) nor been skipped on `$3` (the day).
const MAY_RUN_TODAY: &str = "s.enabled
    and s.days ? $1
    and (s.last_run_at is null or s.last_run_at < $2)
    and s.skipped_day is distinct from $3";

/// Marks the schedules of `weekday` due by `time` on `day` whose owner has spent `limit`
/// tokens that day as skipped for it, with `reason`; returns them.
pub async fn skip_over_budget(
    tx: &mut Transaction<'static, Postgres>,
    weekday: &str,
    time: &str,
    day: NaiveDate,
    limit: u64,
    reason: &str,
) -> sqlx::Result<Vec<Uuid>> {
    let statement = format!(
        "update theme_schedules s set skipped_day = $3, skip_reason = $6, updated_at = now()
         where {MAY_RUN_TODAY}
           and s.time_utc <= $4
           and (select coalesce(sum(u.tokens_input + u.tokens_output), 0) from ai_usage u
                where u.user_id = s.user_id and u.day = $3) >= $5
         returning s.id"
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(statement))
        .bind(weekday)
        .bind(day_start(day))
        .bind(day)
        .bind(time)
        .bind(limit as i64)
        .bind(reason)
        .fetch_all(&mut **tx)
        .await
}

fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
}

/// A schedule that may run today, as the due rule reads it.
#[derive(Debug, sqlx::FromRow)]
pub struct Candidate {
    pub id: Uuid,
    pub enabled: bool,
    pub days: Json<Vec<String>>,
    pub time_utc: String,
    pub last_run_at: Option<DateTime<Utc>>,
}

/// Locks the schedules that may run on `day` (its `weekday`) at `now`: not run that day,
/// not skipped, their retry's time come (fewer than `max_attempts` that day), their owner
/// generating nothing. Whether each is due is the pure rule's to say.
pub async fn lock_candidates(
    tx: &mut Transaction<'static, Postgres>,
    weekday: &str,
    day: NaiveDate,
    now: DateTime<Utc>,
    max_attempts: i32,
) -> sqlx::Result<Vec<Candidate>> {
    let statement = format!(
        "select s.id, s.enabled, s.days, s.time_utc, s.last_run_at from theme_schedules s
         where {MAY_RUN_TODAY}
           and (s.attempt_day is distinct from $3
                or (s.attempts_today < $4 and (s.next_attempt_at is null or s.next_attempt_at <= $5)))
           and not exists (select 1 from syntheses y
                           where y.user_id = s.user_id and y.status in ('pending', 'running'))
         order by s.time_utc
         limit 100
         for update of s skip locked"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .bind(weekday)
        .bind(day_start(day))
        .bind(day)
        .bind(max_attempts)
        .bind(now)
        .fetch_all(&mut **tx)
        .await
}

/// A schedule claimed for a run.
#[derive(Debug, sqlx::FromRow)]
pub struct ClaimedSchedule {
    pub id: Uuid,
    pub theme_id: Uuid,
    pub user_id: Uuid,
    /// This run's attempt of the day, from 1.
    pub attempts_today: i32,
}

/// Counts an attempt of `day` for each of the schedules `due`.
pub async fn claim_schedules(
    tx: &mut Transaction<'static, Postgres>,
    due: &[Uuid],
    day: NaiveDate,
) -> sqlx::Result<Vec<ClaimedSchedule>> {
    sqlx::query_as(
        "update theme_schedules s
         set attempts_today = case when s.attempt_day = $2 then s.attempts_today + 1 else 1 end,
             attempt_day = $2, updated_at = now()
         where s.id = any($1)
         returning s.id, s.theme_id, s.user_id, s.attempts_today",
    )
    .bind(due)
    .bind(day)
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
    pub provider: &'a str,
    pub model: &'a str,
    pub usage: &'a Usage,
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
                tokens_output = $9, error = null, updated_at = now()
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
    .execute(db)
    .await?;
    Ok(saved.rows_affected() == 1)
}

/// Marks a schedule's run of `scheduled_for` done; returns the schedule's recipients
/// (none when it was deleted meanwhile).
pub async fn mark_schedule_run(
    tx: &mut Transaction<'static, Postgres>,
    schedule_id: Uuid,
    scheduled_for: DateTime<Utc>,
) -> sqlx::Result<Vec<String>> {
    let emails: Option<Json<Vec<String>>> = sqlx::query_scalar(
        "update theme_schedules set last_run_at = $2, next_attempt_at = null, updated_at = now()
         where id = $1 returning emails",
    )
    .bind(schedule_id)
    .bind(scheduled_for)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(emails.map(|e| e.0).unwrap_or_default())
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
