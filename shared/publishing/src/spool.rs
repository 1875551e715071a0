//! Publish requests that arrived while Postgres was unreachable: kept in Redis (a list in
//! the deployment's namespace) and replayed exactly once when Postgres is back, validated
//! in full then, as their user. The replay's marker (`publish_spool_replays`) is written in
//! the transaction that writes the intents, so a second replay of the same request (a
//! crash between commit and removal, two replayers at once, a push sent twice) writes
//! nothing. A refused request is recorded as a `failed` intent: nothing is lost.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    IntentStatus,
    request::{self, PublishRequest, Refusal, Submit},
};
use almanac_shared::{
    Settings, db,
    jobs::NewJob,
    redis_conn::RedisConn,
    store::publish::{self as store, NewIntent},
};

/// A spooled request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Spooled {
    pub id: Uuid,
    pub user: Uuid,
    /// The workspace the request acted in (absent in what an older release spooled: the
    /// person's personal one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<Uuid>,
    pub calendar_id: Uuid,
    pub request: PublishRequest,
    pub request_id: String,
    pub received_at: DateTime<Utc>,
}

impl Spooled {
    /// The person acting in the request's workspace.
    pub fn actor(&self) -> almanac_shared::workspaces::Actor {
        almanac_shared::workspaces::Actor {
            user: self.user,
            workspace: self.workspace.unwrap_or(self.user),
        }
    }
}

fn key(settings: &Settings) -> String {
    settings.redis_key(&["publish", "spool"])
}

/// How many requests each user has spooled (a hash: user id to count), and the bytes of
/// all of them (the field `bytes`, which no user id is spelt as).
fn counts_key(settings: &Settings) -> String {
    settings.redis_key(&["publish", "spool", "counts"])
}

/// Spools `ARGV[1]` for user `ARGV[2]` unless the spool holds `ARGV[4]` requests already,
/// or the user `ARGV[3]`, or it would pass `ARGV[5]` bytes: `1` spooled, `-1` the spool is
/// full, `-2` the user's share is, `-3` the spool's bytes are.
const PUSH: &str = r"
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[4]) then return -1 end
if tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0') >= tonumber(ARGV[3]) then return -2 end
if tonumber(redis.call('HGET', KEYS[2], 'bytes') or '0') + #ARGV[1] > tonumber(ARGV[5]) then return -3 end
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('HINCRBY', KEYS[2], 'bytes', #ARGV[1])
return 1";

/// Removes one spooled request `ARGV[1]` of user `ARGV[2]` (empty when unknown), its count
/// and its bytes.
const REMOVE: &str = r"
local removed = redis.call('LREM', KEYS[1], 1, ARGV[1])
if removed > 0 then
  if ARGV[2] ~= '' and redis.call('HINCRBY', KEYS[2], ARGV[2], -removed) <= 0 then
    redis.call('HDEL', KEYS[2], ARGV[2])
  end
  if redis.call('HINCRBY', KEYS[2], 'bytes', -removed * #ARGV[1]) <= 0 then
    redis.call('HDEL', KEYS[2], 'bytes')
  end
end
if redis.call('LLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[2]) end
return removed";

/// Whether a request was spooled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Spooled,
    /// `PUBLISH_SPOOL_MAX_TOTAL` requests wait already.
    SpoolFull,
    /// The user has `PUBLISH_SPOOL_MAX_PER_USER` requests waiting already.
    UserShareFull,
    /// The request would take the spool past `PUBLISH_SPOOL_MAX_BYTES`.
    SpoolBytesFull,
}

impl Pushed {
    /// Which bound refused the request, as `publish_requests_spool_refused_total` labels it
    /// (`count` or `bytes`); `None` when it was spooled.
    pub fn refused_by(self) -> Option<&'static str> {
        match self {
            Self::Spooled => None,
            Self::SpoolFull | Self::UserShareFull => Some("count"),
            Self::SpoolBytesFull => Some("bytes"),
        }
    }
}

/// Keeps `spooled` until Postgres is back, within the spool's bounds: an unauthenticated
/// outage must not let one user (or all of them) fill Redis.
pub async fn push(
    redis: &RedisConn,
    settings: &Settings,
    spooled: &Spooled,
) -> redis::RedisResult<Pushed> {
    static SCRIPT: std::sync::LazyLock<redis::Script> =
        std::sync::LazyLock::new(|| redis::Script::new(PUSH));
    let mut conn = redis.clone();
    let item = serde_json::to_string(spooled).expect("spooled requests serialise");
    let pushed: i64 = SCRIPT
        .key(key(settings))
        .key(counts_key(settings))
        .arg(item)
        .arg(spooled.user.to_string())
        .arg(settings.publish.spool_max_per_user)
        .arg(settings.publish.spool_max_total)
        .arg(settings.publish.spool_max_bytes)
        .invoke_async(&mut conn)
        .await?;
    Ok(match pushed {
        1 => Pushed::Spooled,
        -2 => Pushed::UserShareFull,
        -3 => Pushed::SpoolBytesFull,
        _ => Pushed::SpoolFull,
    })
}

/// What one replay did.
#[derive(Debug, Default)]
pub struct Replayed {
    /// Requests applied (or recorded refused) now.
    pub applied: usize,
    /// Requests already applied earlier, removed now.
    pub duplicates: usize,
    /// Publish jobs to queue.
    pub jobs: Vec<NewJob>,
}

/// Replays the spooled requests, oldest first, up to `limit`, each as `base` with its own
/// request and spool ids. Stops at the first one that
/// Postgres could not take (it stays for the next replay).
pub async fn replay(
    redis: &RedisConn,
    settings: &Settings,
    pool: &PgPool,
    base: &Submit<'_>,
    limit: usize,
) -> anyhow::Result<Replayed> {
    let mut conn = redis.clone();
    let items: Vec<String> = redis::cmd("LRANGE")
        .arg(key(settings))
        .arg(0)
        .arg(limit.saturating_sub(1) as i64)
        .query_async(&mut conn)
        .await?;
    let mut replayed = Replayed::default();
    for item in items {
        let Ok(spooled) = serde_json::from_str::<Spooled>(&item) else {
            tracing::error!("an unreadable spooled publish request was dropped");
            remove(&mut conn, settings, &item, None).await?;
            continue;
        };
        let run = Submit {
            platforms: base.platforms,
            flags: base.flags,
            cipher: base.cipher,
            pool: base.pool,
            now: base.now,
            request_id: Some(spooled.request_id.clone()),
            spool_id: Some(spooled.id),
        };
        match apply(pool, &run, &spooled).await {
            Ok(Some(jobs)) => {
                replayed.applied += 1;
                replayed.jobs.extend(jobs);
            }
            Ok(None) => replayed.duplicates += 1,
            Err(error) if db::is_unavailable(&error) => return Err(error.into()),
            Err(error) => {
                // Anything else would fail again: recorded as a refusal, so nothing is lost.
                tracing::error!(spool_id = %spooled.id, error = %error, "replaying a spooled publish request failed");
                let refusal = Refusal::Store(error);
                if record_refusal(pool, &spooled, &refusal).await.is_err() {
                    return Ok(replayed);
                }
                replayed.applied += 1;
            }
        }
        remove(&mut conn, settings, &item, Some(spooled.user)).await?;
    }
    Ok(replayed)
}

async fn remove(
    conn: &mut RedisConn,
    settings: &Settings,
    item: &str,
    user: Option<Uuid>,
) -> redis::RedisResult<()> {
    static SCRIPT: std::sync::LazyLock<redis::Script> =
        std::sync::LazyLock::new(|| redis::Script::new(REMOVE));
    SCRIPT
        .key(key(settings))
        .key(counts_key(settings))
        .arg(item)
        .arg(user.map(|u| u.to_string()).unwrap_or_default())
        .invoke_async::<i64>(conn)
        .await
        .map(drop)
}

/// Applies one spooled request as its user: the jobs to queue, or `None` when it had been
/// replayed already.
async fn apply(
    pool: &PgPool,
    run: &Submit<'_>,
    spooled: &Spooled,
) -> sqlx::Result<Option<Vec<NewJob>>> {
    let mut tx = almanac_shared::store::user_tx(pool, spooled.actor()).await?;
    if !store::mark_replayed(&mut tx, spooled.id, spooled.user).await? {
        return Ok(None);
    }
    let outcome = request::submit(
        run,
        &mut tx,
        spooled.user,
        spooled.calendar_id,
        &spooled.request,
    )
    .await;
    match outcome {
        Ok(outcome) => {
            tx.commit().await?;
            tracing::info!(spool_id = %spooled.id, requestId = %spooled.request_id, userId = %spooled.user,
                calendarId = %spooled.calendar_id, intents = outcome.intents.len(), "spooled publish request replayed");
            Ok(Some(outcome.jobs))
        }
        Err(Refusal::Store(error)) => Err(error),
        Err(refusal) => {
            refused(&mut tx, spooled, &refusal).await?;
            tx.commit().await?;
            Ok(Some(Vec::new()))
        }
    }
}

/// Records a refused spooled request (in a transaction of its own, as its user).
async fn record_refusal(pool: &PgPool, spooled: &Spooled, refusal: &Refusal) -> sqlx::Result<()> {
    let mut tx = almanac_shared::store::user_tx(pool, spooled.actor()).await?;
    if store::mark_replayed(&mut tx, spooled.id, spooled.user).await? {
        refused(&mut tx, spooled, refusal).await?;
    }
    tx.commit().await
}

/// One `failed` intent saying why the whole request was refused.
async fn refused(
    conn: &mut sqlx::PgConnection,
    spooled: &Spooled,
    refusal: &Refusal,
) -> sqlx::Result<()> {
    let mut error = refusal.to_json();
    error["spooled"] = json!(true);
    tracing::warn!(spool_id = %spooled.id, requestId = %spooled.request_id, userId = %spooled.user,
        calendarId = %spooled.calendar_id, code = %error["code"], status = "failed", "spooled publish request refused");
    store::insert(
        conn,
        &NewIntent {
            user: spooled.user,
            calendar_id: spooled.calendar_id,
            entry_id: None,
            run_id: None,
            channel: refusal.channel().unwrap_or_else(|| "*".into()),
            account: None,
            mode: spooled.request.mode,
            dry_run: spooled.request.dry_run,
            timing: spooled.request.when,
            publish_at: None,
            timezone: "UTC".into(),
            status: IntentStatus::Failed,
            payload: json!({ "request": spooled.request, "receivedAt": spooled.received_at }),
            error: Some(error),
            spool_id: Some(spooled.id),
            request_id: Some(spooled.request_id.clone()),
            queued: false,
            evergreen_id: None,
        },
    )
    .await
    .map(drop)
}
