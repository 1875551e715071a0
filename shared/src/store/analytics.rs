//! Posts' metrics (`post_metrics`, issue 58): readings written by the worker (service role),
//! each scheduled one once; read by their owner (row-level security).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::analytics::Reading;

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
pub async fn record(pool: &PgPool, new: &NewReading) -> sqlx::Result<bool> {
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
    .execute(pool)
    .await?;
    Ok(kept.rows_affected() == 1)
}

/// A published post of a channel with the reading that measures it: its 7-day one, else
/// its latest that was not empty.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MeasuredRow {
    pub intent_id: Uuid,
    pub published_at: DateTime<Utc>,
    pub views: Option<i64>,
    pub impressions: Option<i64>,
    pub likes: Option<i64>,
    pub comments: Option<i64>,
    pub shares: Option<i64>,
    pub saves: Option<i64>,
    pub followers: Option<i64>,
}

impl MeasuredRow {
    /// The row as a reading.
    pub fn reading(&self) -> Reading {
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
}

/// The caller's measured posts on `channel`, oldest first.
pub async fn measured(conn: &mut PgConnection, channel: Uuid) -> sqlx::Result<Vec<MeasuredRow>> {
    sqlx::query_as(
        "select distinct on (i.id) i.id as intent_id, i.published_at, m.views, m.impressions,
             m.likes, m.comments, m.shares, m.saves, m.followers
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
