//! What a publish job writes on its intent: its start, the steps of the one request with an
//! outside effect (marked `sending` before it goes, `accepted` after), checks, and the
//! intent's end. Each write names the intent and the job: only the intent's current job
//! changes it.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool, types::Json};
use uuid::Uuid;

use crate::domain::publish::IntentStatus;

/// A publish job's first step, in its claim's statement (`store::jobs::claim`): a
/// `scheduled` intent becomes `publishing` (one more attempt); the status it had comes back
/// as `previous`. Only the intent's current job may run it.
pub const START: &str = "update publish_intents i
    set status = case when old.status = 'scheduled' then 'publishing' else old.status end,
        attempts = old.attempts + case when old.status in ('scheduled', 'publishing') then 1 else 0 end,
        updated_at = now()
    from claimed, publish_intents old
    where i.id = (claimed.payload ->> 'intent_id')::uuid and old.id = i.id and i.job_id = claimed.id
    returning claimed.id as claimed_job, i.id, old.status as previous, i.user_id, i.calendar_id, i.entry_id, i.run_id,
        i.channel, i.account, i.mode, i.payload, i.remote_id, i.sending_at, i.sent_at,
        i.unknown_since, i.request_id, i.publish_at, i.held_since, i.approved_hash";

/// Marks an intent sending (`$1` the intent, `$2` its job, `$3` what it sends, `$4` the
/// hash of the entry's content it was made from). An intent held to an approval is marked
/// only when that hash is the one approved and its entry is still approved at it: what
/// goes out after this commit is what was approved.
const MARK_SENDING: &str = "update publish_intents i set sending_at = now(),
        payload = jsonb_set(payload, '{sent}', $3), sent_hash = $4, updated_at = now(),
        provenance = (select entry_provenance(e) from calendar_entries e where e.id = i.entry_id)
    where i.id = $1 and i.job_id = $2
      and (i.approved_hash is null
           or (i.approved_hash = $4 and exists (
               select 1 from calendar_entries e
               where e.id = i.entry_id and e.review_status = 'approved'
                 and e.approved_hash = $4)))";

/// What marking an intent sending found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marked {
    Marked,
    /// Its channel's counted quota has no place left.
    QuotaFull,
    /// Its entry is no longer approved at the content it was about to send.
    NotApproved,
}

/// Where a first comment's step found its intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentMark {
    /// Marked now: the comment may go.
    Marked,
    /// Marked by an earlier attempt that stopped before its outcome was kept: it may have
    /// gone, and is never sent again.
    WasMarked,
    /// Its outcome is already kept.
    Done,
}

/// An intent as its job writes it.
#[derive(Debug, Clone, Copy)]
pub struct IntentRun<'a> {
    pub pool: &'a PgPool,
    pub intent: Uuid,
    pub job: Uuid,
}

impl IntentRun<'_> {
    /// Puts an intent nothing was sent for back to `scheduled`, without a job, and held
    /// (publishing was switched off after it was dispatched).
    pub async fn put_back_unsent(&self) -> sqlx::Result<()> {
        sqlx::query(
            "update publish_intents set status = 'scheduled', job_id = null, updated_at = now(),
                 held_since = coalesce(held_since, now())
             where id = $1 and job_id = $2 and status = 'publishing' and sending_at is null
               and sent_at is null",
        )
        .bind(self.intent)
        .bind(self.job)
        .execute(self.pool)
        .await
        .map(drop)
    }

    /// Cancels the intent of an entry deleted before it was published.
    pub async fn cancel_deleted_entry(&self) -> sqlx::Result<()> {
        sqlx::query(
            "update publish_intents set status = 'cancelled', updated_at = now(),
                 error = jsonb_build_object('code', 'ENTRY_DELETED',
                     'message', 'the calendar entry was deleted before it was published')
             where id = $1 and job_id = $2",
        )
        .bind(self.intent)
        .bind(self.job)
        .execute(self.pool)
        .await
        .map(drop)
    }

    /// Records when the intent was last checked.
    pub async fn checked(&self) -> sqlx::Result<()> {
        sqlx::query("update publish_intents set checked_at = now() where id = $1")
            .bind(self.intent)
            .execute(self.pool)
            .await
            .map(drop)
    }

    /// Records a refusal worth another try later; the status stays.
    pub async fn refused_for_now(&self, error: &Value) -> sqlx::Result<()> {
        sqlx::query("update publish_intents set error = $2, updated_at = now() where id = $1")
            .bind(self.intent)
            .bind(Json(error))
            .execute(self.pool)
            .await
            .map(drop)
    }

    /// Records the platform's container (Instagram) or upload id.
    pub async fn remote(&self, remote_id: &str) -> sqlx::Result<()> {
        self.exec_text(
            "update publish_intents set remote_id = $3, updated_at = now() where id = $1 and job_id = $2",
            remote_id,
        )
        .await
    }

    /// Marks the intent sending, with what it sends and the hash of the content it was
    /// made from (`hash`), before the request with an outside effect goes (its own
    /// commit); false when its approval no longer holds (see `MARK_SENDING`).
    pub async fn mark_sending(&self, sent: &Value, hash: Option<&str>) -> sqlx::Result<bool> {
        let marked = sqlx::query(MARK_SENDING)
            .bind(self.intent)
            .bind(self.job)
            .bind(Json(sent))
            .bind(hash)
            .execute(self.pool)
            .await?;
        Ok(marked.rows_affected() == 1)
    }

    /// Marks the intent sending as [`IntentRun::mark_sending`] does, when fewer than
    /// `limit` posts of `channel` (other intents, every user's) went out or may have since
    /// `since`; whether it was marked. The count and the mark are one transaction under one
    /// lock per channel, so two jobs never both take the last place.
    pub async fn mark_sending_within(
        &self,
        (sent, hash): (&Value, Option<&str>),
        counting: &Counting<'_>,
        limit: i64,
        since: DateTime<Utc>,
    ) -> sqlx::Result<Marked> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("select pg_advisory_xact_lock(hashtext($1))")
            .bind(counting.lock_key())
            .execute(&mut *tx)
            .await?;
        let used = quota_used(&mut tx, counting, since, Some(self.intent)).await?;
        if used >= limit {
            return Ok(Marked::QuotaFull);
        }
        let marked = sqlx::query(MARK_SENDING)
            .bind(self.intent)
            .bind(self.job)
            .bind(Json(sent))
            .bind(hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(if marked.rows_affected() == 1 {
            Marked::Marked
        } else {
            Marked::NotApproved
        })
    }

    /// The platform accepted the post as `remote_id`.
    pub async fn accepted(&self, remote_id: &str) -> sqlx::Result<()> {
        self.exec_text(
            "update publish_intents set sent_at = now(), sending_at = null, remote_id = $3,
                 error = null, updated_at = now()
             where id = $1 and job_id = $2",
            remote_id,
        )
        .await
    }

    /// The platform refused the request with an outside effect: nothing was applied.
    pub async fn not_applied(&self, error: &Value) -> sqlx::Result<()> {
        self.exec_json(
            "update publish_intents set sending_at = null, error = $3, updated_at = now()
             where id = $1 and job_id = $2",
            error,
        )
        .await
    }

    /// The answer to the request with an outside effect was lost: `unknown` (since it was
    /// marked sending) until read-only checks resolve it.
    pub async fn unknown(&self, error: &Value) -> sqlx::Result<()> {
        self.exec_json(
            "update publish_intents set status = 'unknown', unknown_since = coalesce(unknown_since, sending_at, now()),
                 error = $3, updated_at = now()
             where id = $1 and job_id = $2",
            error,
        )
        .await
    }

    /// Records a final status (and the post's id); a success clears the last error.
    pub async fn settle(
        &self,
        status: IntentStatus,
        error: Option<&Value>,
        post: (Option<&str>, Option<&str>),
    ) -> sqlx::Result<()> {
        let (post_id, post_url) = post;
        sqlx::query(
            "update publish_intents set status = $3, error = coalesce($4, case when $3 in ('published', 'draft_sent') then null else error end),
                 remote_post_id = coalesce($5, remote_post_id), post_url = coalesce($6, post_url),
                 sending_at = null,
                 published_at = case when $3 in ('published', 'draft_sent') then now() else published_at end,
                 updated_at = now()
             where id = $1 and job_id = $2",
        )
        .bind(self.intent)
        .bind(self.job)
        .bind(status)
        .bind(error.map(Json))
        .bind(post_id)
        .bind(post_url)
        .execute(self.pool)
        .await
        .map(drop)
    }

    /// Marks the first comment sending, in a commit of its own, unless an earlier attempt
    /// did or its outcome is kept.
    pub async fn mark_commenting(&self) -> sqlx::Result<CommentMark> {
        let (was_marked, done): (bool, bool) = sqlx::query_as(
            "with before as (
                 select comment_sending_at, first_comment from publish_intents
                 where id = $1 and job_id = $2 for update)
             update publish_intents i
                 set comment_sending_at = coalesce(b.comment_sending_at, now())
             from before b where i.id = $1
             returning b.comment_sending_at is not null, b.first_comment is not null",
        )
        .bind(self.intent)
        .bind(self.job)
        .fetch_one(self.pool)
        .await?;
        Ok(match (done, was_marked) {
            (true, _) => CommentMark::Done,
            (false, true) => CommentMark::WasMarked,
            (false, false) => CommentMark::Marked,
        })
    }

    /// Keeps the first comment's outcome.
    pub async fn commented(&self, outcome: &Value) -> sqlx::Result<()> {
        sqlx::query(
            "update publish_intents set first_comment = $3, updated_at = now()
             where id = $1 and job_id = $2",
        )
        .bind(self.intent)
        .bind(self.job)
        .bind(Json(outcome))
        .execute(self.pool)
        .await
        .map(drop)
    }

    /// One of the statements above whose `$3` is text.
    async fn exec_text(&self, statement: &'static str, value: &str) -> sqlx::Result<()> {
        sqlx::query(statement)
            .bind(self.intent)
            .bind(self.job)
            .bind(value)
            .execute(self.pool)
            .await
            .map(drop)
    }

    /// One of the statements above whose `$3` is JSON.
    async fn exec_json(&self, statement: &'static str, value: &Value) -> sqlx::Result<()> {
        sqlx::query(statement)
            .bind(self.intent)
            .bind(self.job)
            .bind(Json(value))
            .execute(self.pool)
            .await
            .map(drop)
    }
}

/// Whose posts a quota counts: a platform's (every user's), or one account's; every post,
/// or drafts sent to the account's inbox and not posted from it.
#[derive(Debug, Clone, Copy)]
pub struct Counting<'a> {
    pub channel: &'a str,
    pub account: Option<Uuid>,
    pub drafts: bool,
}

impl Counting<'_> {
    /// The lock under which a place is counted and taken.
    fn lock_key(&self) -> String {
        format!(
            "publish-quota:{}:{}",
            self.channel,
            self.account.map(|a| a.to_string()).unwrap_or_default()
        )
    }
}

/// What a quota counts: a real intent of the platform (the account's, the drafts).
const COUNTED: &str = "channel = $1 and ($2::uuid is null or account = $2) and not dry_run
    and (not $3 or (mode = 'draft' and status in ('scheduled', 'publishing', 'unknown', 'draft_sent')))";

/// The posts `counting` counts that went out or may have since `since`: marked sending,
/// accepted, found unknown or published then (`except` left out).
pub async fn quota_used(
    conn: &mut PgConnection,
    counting: &Counting<'_>,
    since: DateTime<Utc>,
    except: Option<Uuid>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select count(*) from publish_intents
         where {COUNTED} and coalesce(sending_at, sent_at, unknown_since, published_at) >= $4
           and id is distinct from $5"
    )))
    .bind(counting.channel)
    .bind(counting.account)
    .bind(counting.drafts)
    .bind(since)
    .bind(except)
    .fetch_one(conn)
    .await
}

/// The times of the posts `counting` counts from `since` on: those that went out (or may
/// have), and those scheduled (when they are due), in order; `except` left out.
pub async fn quota_times(
    conn: &mut PgConnection,
    counting: &Counting<'_>,
    since: DateTime<Utc>,
    except: &[Uuid],
) -> sqlx::Result<Vec<DateTime<Utc>>> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select at from (
             select coalesce(sending_at, sent_at, unknown_since, published_at,
                             case when status = 'scheduled' then publish_at end) as at
             from publish_intents
             where {COUNTED} and status not in ('failed', 'cancelled') and id <> all($5)
         ) counted
         where at >= $4 order by at"
    )))
    .bind(counting.channel)
    .bind(counting.account)
    .bind(counting.drafts)
    .bind(since)
    .bind(except)
    .fetch_all(conn)
    .await
}
