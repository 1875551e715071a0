//! Posts' metrics (`post_metrics`, issue 58): readings written by the worker (service role),
//! each scheduled one once; read by their owner (row-level security). Each reading is a
//! `post_metrics` job whose domain row is a `post_metric_reads` row: the scheduler's pass
//! makes the due ones ([`schedule_due`]), a person asks for a `manual` one
//! ([`ask_manual`]), and the job ends it ([`end_read`]).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::analytics::{PostMetricsJob, READING_GRACE, Reading, ReadingKind};
use crate::jobs::{Lane, NewJob};

/// The `post_metrics` job's first step: its read `running`, with what reading it needs.
pub const START: &str = "update post_metric_reads r set status = 'running', updated_at = now()
    from claimed, publish_intents i left join platform_accounts a on a.id = i.account
    where r.id = (claimed.payload ->> 'read_id')::uuid and r.job_id = claimed.id
      and i.id = r.intent_id
    returning claimed.id as claimed_job, r.id, r.intent_id, r.user_id, r.reading, i.channel,
        i.account, i.status as intent_status, i.remote_post_id, a.analytics_refused, a.scope";

/// What [`START`] returns.
#[derive(Debug, Deserialize)]
pub struct Read {
    pub id: Uuid,
    pub intent_id: Uuid,
    pub user_id: Uuid,
    pub reading: String,
    pub channel: String,
    pub account: Option<Uuid>,
    pub intent_status: String,
    pub remote_post_id: Option<String>,
    /// Why the channel's numbers cannot be read, when the platform refused.
    pub analytics_refused: Option<String>,
    /// The permissions the channel was granted, as its platform listed them.
    pub scope: Option<String>,
}

/// A reading due: a published post, its owner and which reading.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Due {
    intent_id: Uuid,
    user_id: Uuid,
    workspace_id: Uuid,
    reading: String,
}

/// Makes the readings due at `now` (at most `limit`), each once across the fleet, with
/// their jobs in the `scheduled` lane, in `tx`; returns the jobs' ids, to queue once it
/// commits. A reading is due from its time after publishing for [`READING_GRACE`], on a
/// channel whose numbers the platform did not refuse.
pub async fn schedule_due(
    tx: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<Uuid>> {
    let (readings, after): (Vec<&str>, Vec<i64>) = ReadingKind::SCHEDULED
        .iter()
        .map(|(kind, after)| (kind.as_str(), after.num_seconds()))
        .unzip();
    let due: Vec<Due> = sqlx::query_as(
        "select i.id as intent_id, i.user_id, i.workspace_id, r.reading
         from publish_intents i
         join platform_accounts a on a.id = i.account and a.analytics_refused is null
         cross join unnest($2::text[], $3::bigint[]) as r(reading, after_secs)
         where i.status = 'published' and i.remote_post_id is not null
           and i.published_at > $1 - make_interval(secs => $4 + $5)
           and i.published_at + make_interval(secs => r.after_secs) <= $1
           and i.published_at + make_interval(secs => r.after_secs + $5) > $1
           and not exists (select 1 from post_metric_reads m
                           where m.intent_id = i.id and m.reading = r.reading)
         order by i.published_at + make_interval(secs => r.after_secs)
         limit $6",
    )
    .bind(now)
    .bind(&readings)
    .bind(&after)
    .bind(after.iter().copied().max().unwrap_or_default() as f64)
    .bind(READING_GRACE.num_seconds() as f64)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let mut jobs = Vec::with_capacity(due.len());
    for due in due {
        let read_id = Uuid::now_v7();
        let actor = crate::workspaces::Actor {
            user: due.user_id,
            workspace: due.workspace_id,
        };
        let job = NewJob::new(actor, &PostMetricsJob { read_id }).in_lane(Lane::Scheduled);
        let made = sqlx::query(
            "insert into post_metric_reads (id, intent_id, user_id, reading, job_id)
             values ($1, $2, $3, $4, $5)
             on conflict (intent_id, reading) where reading <> 'manual' do nothing",
        )
        .bind(read_id)
        .bind(due.intent_id)
        .bind(due.user_id)
        .bind(&due.reading)
        .bind(job.id)
        .execute(&mut *tx)
        .await?;
        if made.rows_affected() == 1 {
            job.insert(&mut *tx).await?;
            jobs.push(job.id);
        }
    }
    Ok(jobs)
}

/// What asking for a reading of a post came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// A new `manual` reading, or the one already waiting: its job.
    Job(Uuid),
    /// The caller has no such post.
    Missing,
    /// The post is not (or no longer) published, or has no id at its platform.
    NotPublished(String),
}

/// Asks for a `manual` reading of the caller's post `intent` (in `tx`, as its owner): a
/// reading already waiting is the answer instead of a second one. `request_id` follows the
/// job.
pub async fn ask_manual(
    tx: &mut PgConnection,
    actor: crate::workspaces::Actor,
    intent: Uuid,
    request_id: &str,
) -> sqlx::Result<Asked> {
    let user = actor.user;
    let post: Option<(String, Option<String>)> =
        sqlx::query_as("select status, remote_post_id from publish_intents where id = $1")
            .bind(intent)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((status, remote_post_id)) = post else {
        return Ok(Asked::Missing);
    };
    if status != "published" || remote_post_id.is_none() {
        return Ok(Asked::NotPublished(status));
    }
    let waiting: Option<Uuid> = sqlx::query_scalar(
        "select job_id from post_metric_reads
         where intent_id = $1 and reading = 'manual' and status in ('pending', 'running')
         order by created_at desc limit 1",
    )
    .bind(intent)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(job) = waiting {
        return Ok(Asked::Job(job));
    }
    let read_id = Uuid::now_v7();
    let job = NewJob::new(actor, &PostMetricsJob { read_id }).with_request_id(request_id);
    job.insert(&mut *tx).await?;
    sqlx::query(
        "insert into post_metric_reads (id, intent_id, user_id, reading, job_id)
         values ($1, $2, $3, 'manual', $4)",
    )
    .bind(read_id)
    .bind(intent)
    .bind(user)
    .bind(job.id)
    .execute(&mut *tx)
    .await?;
    Ok(Asked::Job(job.id))
}

/// Ends a read: `measured` or `empty`, or `failed` with why (`error`).
pub async fn end_read(
    conn: &mut PgConnection,
    read: Uuid,
    outcome: Result<&'static str, &serde_json::Value>,
) -> sqlx::Result<()> {
    let (status, outcome, error) = match outcome {
        Ok(outcome) => ("succeeded", Some(outcome), None),
        Err(error) => ("failed", None, Some(sqlx::types::Json(error))),
    };
    sqlx::query(
        "update post_metric_reads set status = $2, outcome = $3, error = $4, updated_at = now()
         where id = $1",
    )
    .bind(read)
    .bind(status)
    .bind(outcome)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

/// The platform refused to give `account`'s numbers (`reason`): no reading is made for it
/// until it connects again.
pub async fn refuse_account(
    conn: &mut PgConnection,
    account: Uuid,
    reason: &str,
) -> sqlx::Result<()> {
    sqlx::query("update platform_accounts set analytics_refused = $2 where id = $1")
        .bind(account)
        .bind(reason)
        .execute(conn)
        .await?;
    Ok(())
}

/// A reading to keep.
#[derive(Debug, Clone)]
pub struct NewReading {
    pub intent_id: Uuid,
    pub user_id: Uuid,
    pub account: Option<Uuid>,
    /// `1h`, `24h`, `7d` or `manual`.
    pub reading: &'static str,
    /// `None`: the platform answered empty.
    pub metrics: Option<Reading>,
    pub reach: Option<u64>,
    pub followers: Option<u64>,
}

fn big(n: Option<u64>) -> Option<i64> {
    n.map(|n| i64::try_from(n).unwrap_or(i64::MAX))
}

/// Keeps a reading: a scheduled one once (`false` when it was already kept).
pub async fn record<'e>(db: impl sqlx::PgExecutor<'e>, new: &NewReading) -> sqlx::Result<bool> {
    let metrics = new.metrics.unwrap_or_default();
    let kept = sqlx::query(
        "insert into post_metrics (id, intent_id, user_id, account, reading, empty, views,
             impressions, likes, comments, shares, saves, reach, followers)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         on conflict (intent_id, reading) where reading <> 'manual' do nothing",
    )
    .bind(Uuid::now_v7())
    .bind(new.intent_id)
    .bind(new.user_id)
    .bind(new.account)
    .bind(new.reading)
    .bind(new.metrics.is_none())
    .bind(big(metrics.views))
    .bind(big(metrics.impressions))
    .bind(big(metrics.likes))
    .bind(big(metrics.comments))
    .bind(big(metrics.shares))
    .bind(big(metrics.saves))
    .bind(big(new.reach))
    .bind(big(new.followers))
    .execute(db)
    .await?;
    Ok(kept.rows_affected() == 1)
}

/// A published post of a channel with the reading that measures it: its 7-day one, else
/// its latest that was not empty.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MeasuredRow {
    pub intent_id: Uuid,
    pub published_at: DateTime<Utc>,
    pub reading: sqlx::types::Json<StoredReading>,
}

impl MeasuredRow {
    /// The post as the best times count it.
    pub fn measured(&self) -> crate::domain::analytics::Measured {
        self.reading.measured(self.published_at)
    }
}

/// The caller's measured posts on `channel`, oldest first.
pub async fn measured(conn: &mut PgConnection, channel: Uuid) -> sqlx::Result<Vec<MeasuredRow>> {
    sqlx::query_as(
        "select distinct on (i.id) i.id as intent_id, i.published_at, to_jsonb(m) as reading
         from publish_intents i
         join post_metrics m on m.intent_id = i.id and not m.empty
         where i.account = $1 and i.status = 'published' and i.published_at is not null
         order by i.id, (m.reading = '7d') desc, m.read_at desc",
    )
    .bind(channel)
    .fetch_all(conn)
    .await
    .map(|mut rows: Vec<MeasuredRow>| {
        rows.sort_by_key(|r| r.published_at);
        rows
    })
}

/// A reading as `post_metrics` keeps it (read from its row as JSON).
#[derive(Debug, Clone, Deserialize)]
pub struct StoredReading {
    pub reading: String,
    pub read_at: DateTime<Utc>,
    pub views: Option<i64>,
    pub impressions: Option<i64>,
    pub likes: Option<i64>,
    pub comments: Option<i64>,
    pub shares: Option<i64>,
    pub saves: Option<i64>,
    pub reach: Option<i64>,
    pub followers: Option<i64>,
}

impl StoredReading {
    /// The reading's counts.
    pub fn counts(&self) -> Reading {
        let n = |v: Option<i64>| v.and_then(|v| u64::try_from(v).ok());
        Reading {
            views: n(self.views),
            impressions: n(self.impressions),
            likes: n(self.likes),
            comments: n(self.comments),
            shares: n(self.shares),
            saves: n(self.saves),
        }
    }

    /// The post as the best times and the rates count it, published at `at`.
    pub fn measured(&self, at: DateTime<Utc>) -> crate::domain::analytics::Measured {
        let counts = self.counts();
        let followers = self.followers.and_then(|v| u64::try_from(v).ok());
        crate::domain::analytics::Measured {
            published_at: at,
            engagements: counts.engagements(),
            reach: counts.reach_base(followers).unwrap_or(0),
            settled: self.reading == ReadingKind::Week.as_str(),
        }
    }
}

/// A published post with its readings, as the analytics list it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PostRow {
    pub intent_id: Uuid,
    pub entry_id: Option<Uuid>,
    pub calendar_id: Uuid,
    pub channel_id: Option<Uuid>,
    pub channel: String,
    pub published_at: DateTime<Utc>,
    pub post_url: Option<String>,
    pub title: Option<String>,
    /// Its latest reading that was not empty.
    pub latest: Option<sqlx::types::Json<StoredReading>>,
    /// Its 7-day reading, when it was not empty.
    pub settled: Option<sqlx::types::Json<StoredReading>>,
    /// Why its numbers could not be read, the last time they could not: `{code, message}`.
    pub problem: Option<sqlx::types::Json<serde_json::Value>>,
}

impl PostRow {
    /// The reading its rate is taken from: the 7-day one, else the latest.
    pub fn measuring(&self) -> Option<&StoredReading> {
        self.settled.as_ref().or(self.latest.as_ref()).map(|r| &r.0)
    }
}

/// The caller's posts published in `[from, until)` (on `channel`, when given), newest
/// first, at most `limit`.
pub async fn posts(
    conn: &mut PgConnection,
    channel: Option<Uuid>,
    (from, until): (DateTime<Utc>, DateTime<Utc>),
    limit: i64,
) -> sqlx::Result<Vec<PostRow>> {
    sqlx::query_as(
        "select i.id as intent_id, i.entry_id, i.calendar_id, i.account as channel_id,
             i.channel, i.published_at, i.post_url, e.title,
             (select to_jsonb(m) from post_metrics m where m.intent_id = i.id and not m.empty
              order by m.read_at desc, m.id desc limit 1) as latest,
             (select to_jsonb(m) from post_metrics m where m.intent_id = i.id and not m.empty
                and m.reading = '7d' limit 1) as settled,
             case when a.analytics_refused is not null
                  then jsonb_build_object('code', 'ANALYTICS_SCOPE_MISSING',
                                          'message', a.analytics_refused)
                  else (select jsonb_build_object('code', r.error ->> 'code',
                                                  'message', r.error ->> 'message')
                        from post_metric_reads r
                        where r.intent_id = i.id and r.status = 'failed'
                          and not exists (select 1 from post_metrics m
                                          where m.intent_id = i.id and m.read_at > r.updated_at)
                        order by r.updated_at desc limit 1)
             end as problem
         from publish_intents i
         left join calendar_entries e on e.id = i.entry_id
         left join platform_accounts a on a.id = i.account
         where i.status = 'published' and i.published_at >= $1 and i.published_at < $2
           and ($3::uuid is null or i.account = $3)
         order by i.published_at desc, i.id desc
         limit $4",
    )
    .bind(from)
    .bind(until)
    .bind(channel)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Where a channel's best times come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Its own posts' 7-day readings.
    History,
    /// Its platform's general defaults.
    Defaults,
}

/// A channel's best times: all 168 cells, best first, read in `timezone`.
#[derive(Debug, Clone)]
pub struct BestTimes {
    pub source: Source,
    pub timezone: chrono_tz::Tz,
    /// Its posts with a 7-day reading.
    pub posts: usize,
    pub cells: Vec<crate::domain::analytics::Cell>,
}

/// The caller's channel `channel`'s best times, in its slots' zone (UTC until set); `None`
/// when the caller has no such channel.
pub async fn best_times(conn: &mut PgConnection, channel: Uuid) -> sqlx::Result<Option<BestTimes>> {
    best_times_in(conn, channel, None).await
}

/// As [`best_times`], read in `zone` when given.
async fn best_times_in(
    conn: &mut PgConnection,
    channel: Uuid,
    zone: Option<chrono_tz::Tz>,
) -> sqlx::Result<Option<BestTimes>> {
    use crate::domain::analytics::{defaults, from_history, settled};
    let account: Option<(String, String)> =
        sqlx::query_as("select platform, slot_timezone from platform_accounts where id = $1")
            .bind(channel)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((platform, slot_zone)) = account else {
        return Ok(None);
    };
    let timezone = zone.unwrap_or_else(|| slot_zone.parse().unwrap_or(chrono_tz::UTC));
    let posts: Vec<_> = measured(conn, channel)
        .await?
        .iter()
        .map(MeasuredRow::measured)
        .collect();
    let (source, cells) = match from_history(&posts, timezone, &platform) {
        Some(cells) => (Source::History, cells),
        None => (Source::Defaults, defaults(&platform)),
    };
    Ok(Some(BestTimes {
        source,
        timezone,
        posts: settled(&posts),
        cells,
    }))
}

/// For each of `channels` (a calendar's channel names) that names exactly one of the
/// caller's connected channels, and whose best times come from its history: its top
/// `per_day` hours of each weekday in `zone`, earliest first (Monday first).
pub async fn learned_times(
    conn: &mut PgConnection,
    channels: &[&str],
    zone: chrono_tz::Tz,
    per_day: usize,
) -> sqlx::Result<std::collections::BTreeMap<String, crate::domain::calendar::WeekTimes>> {
    use crate::domain::analytics::top_hours;
    let connected: Vec<(String, Uuid)> = sqlx::query_as(
        "select platform, id from platform_accounts
         where platform = any($1) and status = 'connected'",
    )
    .bind(channels)
    .fetch_all(&mut *conn)
    .await?;
    let mut learned = std::collections::BTreeMap::new();
    for name in channels {
        let mut matching = connected.iter().filter(|(platform, _)| platform == name);
        let (Some((_, id)), None) = (matching.next(), matching.next()) else {
            continue;
        };
        let Some(best) = best_times_in(conn, *id, Some(zone)).await? else {
            continue;
        };
        if best.source != Source::History {
            continue;
        }
        let week = crate::domain::calendar::WEEK.map(|day| {
            let mut hours = top_hours(&best.cells, day, per_day);
            hours.sort_unstable();
            hours
                .into_iter()
                .filter_map(|hour| chrono::NaiveTime::from_hms_opt(hour, 0, 0))
                .collect()
        });
        learned.insert((*name).to_owned(), week);
    }
    Ok(learned)
}

/// The caller's posts on `channels` (platforms) published in the [`EXAMPLES_SINCE`] before
/// `now` that have a rate, as the AI is shown them.
///
/// [`EXAMPLES_SINCE`]: crate::domain::analytics::EXAMPLES_SINCE
pub async fn rated_posts(
    conn: &mut PgConnection,
    channels: &[&str],
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<crate::domain::analytics::Example>> {
    use crate::domain::analytics::{EXAMPLES_SINCE, Example};
    let span = (now - EXAMPLES_SINCE, now);
    let rows = posts(conn, None, span, 1_000).await?;
    Ok(rows
        .into_iter()
        .filter(|row| channels.contains(&row.channel.as_str()))
        .filter_map(|row| {
            let rate = row.measuring()?.measured(row.published_at).rate()?;
            Some(Example {
                intent_id: row.intent_id,
                channel: row.channel,
                title: row.title.unwrap_or_default(),
                published_at: row.published_at,
                engagement_rate: rate,
            })
        })
        .collect())
}
