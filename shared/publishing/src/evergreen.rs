//! Evergreen repeats (`docs/queue.md`): when a channel's queue has nothing from now on, the
//! worker's pass queues one entry of each live collection on it again, in the channel's
//! next free slot: the entry that went out there longest ago (one never posted there
//! first), no sooner than `minGapDays` after it last did. With `variation: "ai"` the
//! worker rewrites the text first ([`Repeat::recent_texts`] are those it must not repeat:
//! the channel's within the gap, and every one the entry had there)
//! and [`queue_repeat`] keeps the rewrite on the intent, which publishes it instead of the
//! entry's.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    Mode, Post,
    posting_queue::{Queue, Slotted, calendar_zone, channel_slots, quota_forecast},
};
use almanac_shared::store::{
    calendars::{self, Publishable},
    publish::{
        self as store,
        channels::ChannelRow,
        evergreen::{self, CollectionRow},
        queue,
    },
};

/// A repeat the pass is about to queue.
#[derive(Debug, Clone)]
pub struct Repeat {
    pub collection: Uuid,
    pub channel: ChannelRow,
    pub entry: Publishable,
    pub calendar_id: Uuid,
    pub timezone: String,
    /// The slot.
    pub at: DateTime<Utc>,
    /// The post as the entry makes it now.
    pub post: Post,
    /// The texts that went out (or are to) on the channel within the gap before the slot,
    /// and every text the entry had there: a rewrite repeats none of them.
    pub recent_texts: Vec<String>,
}

/// The repeat of `collection` due on `channel` (one of its channels) under the channel's
/// queue lock, as its owner (`conn`'s transaction): `None` when something else is queued
/// there from now on, the channel has no slot with room, or no entry is eligible.
pub async fn next(
    q: &Queue<'_>,
    conn: &mut PgConnection,
    collection: &CollectionRow,
    channel: Uuid,
) -> sqlx::Result<Option<Repeat>> {
    let Some(row) = store::channels::find(conn, channel).await? else {
        return Ok(None);
    };
    let Some(platform) = q.platforms.get(&row.platform) else {
        return Ok(None);
    };
    if row.status != "connected" {
        return Ok(None);
    }
    let Some(slots) = channel_slots(conn, channel).await? else {
        return Ok(None);
    };
    queue::lock(conn, channel).await?;
    let queued = queue::list(conn, Some(channel)).await?;
    if queued.iter().any(|r| r.publish_at > q.now) {
        return Ok(None);
    }
    let mut forecast = quota_forecast(q, &row.platform, channel, Mode::Publish, &[]).await?;
    let Some(at) = slots
        .place_within(q.now, &[], q.gap, 1, |at| {
            forecast.as_mut().is_none_or(|f| f.take(at))
        })
        .first()
        .copied()
    else {
        return Ok(None);
    };
    let gap = chrono::Duration::days(i64::from(collection.min_gap_days));
    let mut candidates = evergreen::candidates(conn, &collection.entry_ids, channel).await?;
    candidates.retain(|c| !c.open && c.last.is_none_or(|last| at - last >= gap));
    // Never posted there first, then the longest ago; ties in the collection's order.
    let order = |id: Uuid| collection.entry_ids.iter().position(|e| *e == id);
    candidates.sort_by_key(|c| (c.last, order(c.entry_id)));
    let Some(chosen) = candidates.first() else {
        return Ok(None);
    };
    let Some(entry) =
        calendars::publishable_entry(&mut *conn, chosen.entry_id, collection.workspace_id).await?
    else {
        return Ok(None);
    };
    let calendar_id = calendars::entry_calendar(conn, entry.id).await?;
    let timezone = calendar_zone(conn, calendar_id)
        .await?
        .unwrap_or(chrono_tz::UTC);
    let adapter = q.platforms.registered(platform);
    let post = super::uploads::post(&entry, adapter, &q.platforms.media);
    let recent_texts = evergreen::recent_texts(conn, channel, entry.id, at - gap).await?;
    Ok(Some(Repeat {
        collection: collection.id,
        channel: row,
        entry,
        calendar_id,
        timezone: timezone.name().to_owned(),
        at,
        post,
        recent_texts,
    }))
}

/// Queues `repeat` (with `variant`, the rewritten text, when there is one) as its owner;
/// the intent's id.
pub async fn queue_repeat(
    q: &Queue<'_>,
    conn: &mut PgConnection,
    user: Uuid,
    repeat: &Repeat,
    variant: Option<&str>,
) -> sqlx::Result<Uuid> {
    let mut post = repeat.post.clone();
    if let Some(text) = variant {
        post.text = text.to_owned();
    }
    let slotted = Slotted {
        user,
        calendar_id: repeat.calendar_id,
        timezone: &repeat.timezone,
        entry: &repeat.entry,
        channel_id: repeat.channel.id,
        account_id: &repeat.channel.account_id,
        mode: Mode::Publish,
        at: repeat.at,
        post: &post,
    };
    let new = slotted.intent(q, Some(repeat.collection), variant);
    let intent = store::insert(conn, &new).await?;
    tracing::info!(userId = %user, channel = %repeat.channel.platform, intentId = %intent.id,
        evergreenId = %repeat.collection, publishAt = %repeat.at, "evergreen entry queued again");
    Ok(intent.id)
}
