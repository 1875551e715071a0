//! What a person does to a channel's queue once it holds posts (`docs/queue.md`): swap two
//! posts' times, take posts out, shuffle the order (the times kept), pause it and resume
//! it. Each runs under the channel's queue lock, moves the entries with their intents, and
//! answers the channel's queue as it is after.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Placed, Queue, Unplaced, calendar_zone, channel_slots, placement, quota_forecast};
use crate::request::Refusal;
use almanac_shared::store::{
    calendars,
    publish::{self as store, queue},
};

/// What an action did: the channel's queue after it, in order, and the entries it could
/// not act on (not in the queue).
#[derive(Debug, Default)]
pub struct Acted {
    pub queue: Vec<Placed>,
    pub refused: Vec<Unplaced>,
}

/// The channel's queued posts still to come, in order, under its lock; `None` when the
/// caller has no such channel.
async fn coming(
    q: &Queue<'_>,
    conn: &mut PgConnection,
    channel: Uuid,
) -> Result<Option<Vec<queue::QueuedRow>>, Refusal> {
    if store::channels::find(conn, channel).await?.is_none() {
        return Ok(None);
    }
    queue::lock(conn, channel).await?;
    let rows = queue::list(conn, Some(channel)).await?;
    Ok(Some(
        rows.into_iter()
            .filter(|row| row.publish_at > q.now && row.movable())
            .collect(),
    ))
}

/// What an action did: the channel's queue as it is now, and the entries it `refused`.
async fn acted(
    conn: &mut PgConnection,
    channel: Uuid,
    refused: Vec<Unplaced>,
) -> Result<Option<Acted>, Refusal> {
    let queue = queue::list(conn, Some(channel))
        .await?
        .into_iter()
        .map(|row| Placed {
            entry_id: row.entry_id,
            channel_id: channel,
            publish_at: row.publish_at,
        })
        .collect();
    Ok(Some(Acted { queue, refused }))
}

/// Gives each of `rows` the time beside it: the intents move (never two in one slot on
/// the way) and so do their entries (an evergreen repeat's entry stays where it is).
pub(super) async fn retime(
    conn: &mut PgConnection,
    rows: &[&queue::QueuedRow],
    times: &[DateTime<Utc>],
) -> Result<(), Refusal> {
    let ids: Vec<Uuid> = rows.iter().map(|row| row.intent_id).collect();
    queue::unslot(conn, &ids, times).await?;
    let mut zones: HashMap<Uuid, Tz> = HashMap::new();
    for (row, at) in rows.iter().zip(times) {
        if row.evergreen_id.is_some() {
            continue;
        }
        let zone = match zones.get(&row.calendar_id) {
            Some(zone) => *zone,
            None => {
                let zone = calendar_zone(conn, row.calendar_id)
                    .await?
                    .unwrap_or(chrono_tz::UTC);
                *zones.entry(row.calendar_id).or_insert(zone)
            }
        };
        calendars::move_entry(conn, row.entry_id, &placement(zone, *at)).await?;
    }
    queue::requeue(conn, &ids).await?;
    Ok(())
}

/// `entry` is not among the channel's posts to come.
fn not_queued(entry_id: Uuid) -> Unplaced {
    Unplaced {
        entry_id,
        code: "NOT_QUEUED".into(),
        message: "the entry is not in this channel's queue (or its time has come)".into(),
    }
}

/// Exchanges the times of the channel's queued posts of entries `a` and `b`; when either
/// is not in the queue (or they are one), nothing moves and it is refused (`NOT_QUEUED`).
pub async fn swap(
    q: &Queue<'_>,
    conn: &mut PgConnection,
    channel: Uuid,
    [a, b]: [Uuid; 2],
) -> Result<Option<Acted>, Refusal> {
    let Some(rows) = coming(q, conn, channel).await? else {
        return Ok(None);
    };
    let find = |entry: Uuid| rows.iter().find(|row| row.entry_id == entry);
    let refused = match (find(a), find(b)) {
        (Some(first), Some(second)) if a != b => {
            retime(
                conn,
                &[first, second],
                &[second.publish_at, first.publish_at],
            )
            .await?;
            Vec::new()
        }
        (Some(_), Some(_)) => vec![Unplaced {
            entry_id: a,
            code: "NOT_QUEUED".into(),
            message: "swap two different posts".into(),
        }],
        (first, second) => [(a, first), (b, second)]
            .into_iter()
            .filter(|(_, row)| row.is_none())
            .map(|(entry, _)| not_queued(entry))
            .collect(),
    };
    acted(conn, channel, refused).await
}

/// Takes the channel's queued posts of `entries` out of the queue: their publishes are
/// cancelled, the entries stay on their calendars as they are. Those not in the queue are
/// refused, each.
pub async fn remove(
    q: &Queue<'_>,
    conn: &mut PgConnection,
    channel: Uuid,
    entries: &[Uuid],
) -> Result<Option<Acted>, Refusal> {
    let Some(rows) = coming(q, conn, channel).await? else {
        return Ok(None);
    };
    let mut refused = Vec::new();
    let mut intents = Vec::new();
    for entry in super::once_each(entries) {
        match rows.iter().find(|row| row.entry_id == entry) {
            Some(row) => intents.push(row.intent_id),
            None => refused.push(not_queued(entry)),
        }
    }
    queue::cancel(conn, &intents).await?;
    tracing::info!(requestId = q.request_id.as_deref().unwrap_or(""), channelId = %channel,
        removed = intents.len(), "posts taken out of the queue");
    acted(conn, channel, refused).await
}

/// A small, seeded random number generator (SplitMix64): the same seed gives the same
/// order, on every machine and version.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The order `0..n` shuffled by `seed` (Fisher-Yates), never the order it was in when
/// there are two or more: a shuffle that changed nothing is turned by one.
pub fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut random = SplitMix(seed);
    for i in (1..n).rev() {
        let j = random.below(i + 1);
        order.swap(i, j);
    }
    if n > 1 && order.iter().enumerate().all(|(i, at)| i == *at) {
        order.rotate_left(1);
    }
    order
}

/// Puts the channel's posts to come in a random order (`seed` repeats one), each taking
/// the time of the post it replaces: the times, and so the slots and quotas, stay as they
/// were.
pub async fn shuffle(
    q: &Queue<'_>,
    conn: &mut PgConnection,
    channel: Uuid,
    seed: u64,
) -> Result<Option<Acted>, Refusal> {
    let Some(rows) = coming(q, conn, channel).await? else {
        return Ok(None);
    };
    let order = shuffled(rows.len(), seed);
    let moved: Vec<&queue::QueuedRow> = order.iter().map(|i| &rows[*i]).collect();
    let times: Vec<DateTime<Utc>> = rows.iter().map(|row| row.publish_at).collect();
    retime(conn, &moved, &times).await?;
    acted(conn, channel, Vec::new()).await
}

/// Pauses the channel's queue: nothing queued on it is sent until it is resumed (the
/// dispatcher leaves its posts alone). `None` when the caller has no such channel.
pub async fn pause(conn: &mut PgConnection, channel: Uuid) -> Result<Option<Acted>, Refusal> {
    if !store::channels::pause_queue(conn, channel, true).await? {
        return Ok(None);
    }
    acted(conn, channel, Vec::new()).await
}

/// Resumes the channel's queue. The posts whose time passed while it was paused take the
/// first free slots from now (the others keep theirs), so nothing goes out late in a
/// burst; a post a full quota leaves no slot for keeps its time and waits for a place.
pub async fn resume(
    q: &Queue<'_>,
    conn: &mut PgConnection,
    channel: Uuid,
) -> Result<Option<Acted>, Refusal> {
    if !store::channels::pause_queue(conn, channel, false).await? {
        return Ok(None);
    }
    queue::lock(conn, channel).await?;
    let rows = queue::list(conn, Some(channel)).await?;
    let (overdue, coming): (Vec<&queue::QueuedRow>, Vec<&queue::QueuedRow>) = rows
        .iter()
        .filter(|row| row.movable())
        .partition(|row| row.publish_at <= q.now);
    if let (Some(first), Some(slots)) = (overdue.first(), channel_slots(conn, channel).await?) {
        let taken: Vec<DateTime<Utc>> = coming.iter().map(|row| row.publish_at).collect();
        let ids: Vec<Uuid> = overdue.iter().map(|row| row.intent_id).collect();
        let mut forecast = quota_forecast(q, &first.channel, channel, first.mode, &ids).await?;
        let times = slots.place_within(q.now, &taken, q.gap, overdue.len(), |at| {
            forecast.as_mut().is_none_or(|f| f.take(at))
        });
        retime(conn, &overdue[..times.len()], &times).await?;
    }
    acted(conn, channel, Vec::new()).await
}
