//! A calendar's live stream (`GET /v1/calendars/{id}/live`): what changes in a calendar,
//! and who has it open, relayed to every open copy through the same hub, Redis streams and
//! resumption as a job's events (the calendar's id is the topic).
//!
//! - `entry.changed` (an entry added, edited or deleted: the entry as it is now, its
//!   version, who changed it) and `calendar.changed` (anything else that changed the
//!   calendar: a rename, a regeneration accepted, a queue or a publish) are appended by the
//!   API once the change answered (`crate::middleware::activity`), as is `entry.review`
//!   (an entry's review asked for or decided: the review as it is now).
//! - `presence` lists the people with the calendar open. Each stream is a member of the
//!   calendar's presence set in Redis, scored by when it lapses; it beats with the hub's
//!   heartbeat and leaves when it ends (the tab closed), and a stream that stopped beating
//!   (its API process died) lapses after [`LAPSE_BEATS`] heartbeats. Every join, leave or
//!   lapse appends the new list.
//! - A new stream (no `Last-Event-ID`) starts with `ready` (`{lastEventId}`, not stored):
//!   what changed after it is relayed, so a client that reads the calendar once `ready`
//!   came misses nothing. A resumed one gets what it missed, or `truncated` when that is no
//!   longer kept (read the calendar again).

use almanac_shared::{
    events::{self, Emitter, StoredEvent},
    store::users,
};
use bytes::Bytes;
use futures::Stream;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::{Deps, Relayed, framing::Framing, machine::PAGE, stream::Active};

pub use events::{CALENDAR_CHANGED, ENTRY_CHANGED, PRESENCE};

/// Heartbeats a stream may miss before it no longer counts as open.
pub const LAPSE_BEATS: u32 = 3;

/// The route label of the stream's metrics.
const ROUTE: &str = "/v1/calendars/{id}/live";

/// The live stream of `calendar` for `viewer`, after the event `after` (0: from now).
pub fn stream(
    deps: Deps,
    emitter: Emitter,
    calendar: Uuid,
    viewer: Uuid,
    after: u64,
) -> impl Stream<Item = Bytes> + Send + 'static {
    async_stream::stream! {
        let _active = Active::start(ROUTE, "calendar");
        let mut subscription = Box::pin(deps.hub.subscribe(calendar)).await;
        let mut last = after;
        if after == 0 {
            let newest = events::last(&deps.redis, &deps.settings, calendar).await;
            last = newest.ok().flatten().map_or(0, |event| event.seq);
            yield Framing::Sse.frame(None, "ready", &json!({ "lastEventId": last }).to_string());
        } else {
            for frame in Box::pin(catch_up(&deps, calendar, &mut last)).await {
                yield frame;
            }
        }
        let presence = Presence {
            deps: deps.clone(),
            emitter,
            calendar,
            member: format!("{viewer}/{}", Uuid::new_v4()),
        };
        Box::pin(presence.join()).await;
        loop {
            match subscription.recv().await {
                Ok(Relayed::Event(event)) => {
                    for frame in fresh(std::slice::from_ref(&*event), &mut last) {
                        yield frame;
                    }
                }
                Ok(Relayed::Events(batch)) => {
                    for frame in fresh(&batch, &mut last) {
                        yield frame;
                    }
                }
                Ok(Relayed::Resync) | Err(RecvError::Lagged(_)) => {
                    for frame in Box::pin(catch_up(&deps, calendar, &mut last)).await {
                        yield frame;
                    }
                }
                Ok(Relayed::Heartbeat) => {
                    Box::pin(presence.beat()).await;
                    yield Framing::Sse.frame(None, "heartbeat", "{}");
                }
                Ok(Relayed::Closing) | Err(RecvError::Closed) => return,
                Ok(Relayed::Finished | Relayed::Subscribed) => {}
            }
        }
    }
}

/// The stored events after `last` (moving it), or `truncated` when some are no longer
/// kept (trimmed, expired, or Redis lost them).
async fn catch_up(deps: &Deps, calendar: Uuid, last: &mut u64) -> Vec<Bytes> {
    let mut frames = Vec::new();
    let mut first_page = true;
    loop {
        let page = match events::history(&deps.redis, &deps.settings, calendar, *last, PAGE).await {
            Ok(page) => page,
            Err(error) => {
                tracing::warn!(calendarId = %calendar, error = %error, "reading a calendar's changes failed");
                frames.push(truncated(*last));
                return frames;
            }
        };
        let lost = page.newest.is_none_or(|newest| newest < *last)
            || page.first.is_some_and(|first| first > *last + 1);
        if first_page && *last > 0 && lost {
            frames.push(truncated(*last));
        }
        first_page = false;
        frames.extend(fresh(&page.events, last));
        if page.events.len() < PAGE {
            return frames;
        }
    }
}

/// The frames of `events` after `last` (moving it): each event once, in order.
fn fresh(events: &[StoredEvent], last: &mut u64) -> Vec<Bytes> {
    let mut frames = Vec::new();
    for event in events {
        if event.seq > *last {
            *last = event.seq;
            frames.push(Framing::Sse.stored(event));
        }
    }
    frames
}

/// Some changes after `after` are no longer kept: read the calendar again.
fn truncated(after: u64) -> Bytes {
    Framing::Sse.frame(None, "truncated", &json!({ "after": after }).to_string())
}

/// One stream's membership of its calendar's presence.
struct Presence {
    deps: Deps,
    emitter: Emitter,
    calendar: Uuid,
    /// `<user id>/<stream id>`: one person may have the calendar open in several tabs.
    member: String,
}

impl Presence {
    fn key(&self) -> String {
        events::presence_key(&self.deps.settings, self.calendar)
    }

    /// When this stream lapses unless it beats again, in Unix milliseconds.
    fn lapse_at(&self) -> i64 {
        let lapse = self.deps.settings.events.heartbeat * LAPSE_BEATS;
        chrono::Utc::now().timestamp_millis() + lapse.as_millis() as i64
    }

    async fn join(&self) {
        if self.touch(false).await.is_some() {
            self.tell().await;
        }
    }

    /// Beats: this stream stays; those that lapsed go, and if any did, everyone is told.
    async fn beat(&self) {
        if self.touch(true).await.is_some_and(|lapsed| lapsed > 0) {
            self.tell().await;
        }
    }

    /// Writes this stream's lapse time (only if it is still a member when `beating`: one
    /// that was pruned joins again), drops the lapsed ones; how many lapsed.
    async fn touch(&self, beating: bool) -> Option<u64> {
        let mut conn = self.deps.redis.clone();
        let key = self.key();
        let now = chrono::Utc::now().timestamp_millis();
        let keep = (self.deps.settings.events.heartbeat * (LAPSE_BEATS + 1)).as_millis() as u64;
        let answer: redis::RedisResult<(u64, u64, u64)> = redis::pipe()
            .atomic()
            .cmd("ZREMRANGEBYSCORE")
            .arg(&key)
            .arg("-inf")
            .arg(now)
            .cmd("ZADD")
            .arg(&key)
            .arg(if beating { "GT" } else { "NX" })
            .arg(self.lapse_at())
            .arg(&self.member)
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(keep)
            .query_async(&mut conn)
            .await;
        match answer {
            Ok((lapsed, _, _)) => Some(lapsed),
            Err(error) => {
                tracing::warn!(calendarId = %self.calendar, error = %error, "updating who has a calendar open failed");
                None
            }
        }
    }

    /// Appends who has the calendar open now.
    async fn tell(&self) {
        tell(&self.deps, &self.emitter, self.calendar).await;
    }
}

impl Drop for Presence {
    /// The stream ended (the tab closed, the client left): it leaves, and everyone is told.
    fn drop(&mut self) {
        let (deps, emitter, calendar) = (self.deps.clone(), self.emitter.clone(), self.calendar);
        let (key, member) = (self.key(), std::mem::take(&mut self.member));
        // Outside a runtime (the process stopping) the member lapses instead.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let mut conn = deps.redis.clone();
            let removed: redis::RedisResult<u64> = redis::cmd("ZREM")
                .arg(&key)
                .arg(&member)
                .query_async(&mut conn)
                .await;
            if matches!(removed, Ok(1)) {
                tell(&deps, &emitter, calendar).await;
            }
        });
    }
}

/// Appends `presence`: the people whose streams of `calendar` have not lapsed, with their
/// names and addresses.
async fn tell(deps: &Deps, emitter: &Emitter, calendar: Uuid) {
    let mut conn = deps.redis.clone();
    let now = chrono::Utc::now().timestamp_millis();
    let members: redis::RedisResult<Vec<String>> = redis::cmd("ZRANGE")
        .arg(events::presence_key(&deps.settings, calendar))
        .arg(format!("({now}"))
        .arg("+inf")
        .arg("BYSCORE")
        .query_async(&mut conn)
        .await;
    let Ok(members) = members else {
        return;
    };
    let mut people: Vec<Uuid> = members
        .iter()
        .filter_map(|member| member.split('/').next()?.parse().ok())
        .collect();
    people.sort_unstable();
    people.dedup();
    let shown = users::shown_as_many(&deps.pool, &people)
        .await
        .unwrap_or_default();
    let viewers: Vec<Value> = people
        .iter()
        .map(|id| {
            let (name, email) = shown
                .iter()
                .find(|(user, ..)| user == id)
                .map(|(_, name, email)| (name.clone(), email.clone()))
                .unwrap_or_default();
            json!({ "userId": id, "name": name, "email": email })
        })
        .collect();
    let data = json!({ "calendarId": calendar, "viewers": viewers });
    emitter.announce(calendar, PRESENCE, &data).await;
}
