//! The posting queue (`docs/queue.md`): entries placed in their channel's next free slots.
//!
//! `POST /v1/queue` resolves each entry's channel as a publish request does, then, channel
//! by channel under the channel's queue lock, gives each new entry the first slot after
//! the channel's last queued one (a gap of at least `QUEUE_MIN_GAP_MINUTES` between them),
//! moves the entry there and schedules its publish intent (which follows the entry like any
//! scheduled one). With `notBefore: planned` (the default) an entry takes no slot before
//! its planned day. A slot freed by a removal or a move stays empty until [`pack`] packs
//! the channel's queue again from now; [`actions`] swaps, removes, shuffles, pauses and
//! resumes.

pub mod actions;

pub use actions::{Acted, pause, remove, resume, shuffle, swap};

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{
    IntentStatus, Mode, Options, Platforms, Post, Timing,
    channels::local_state,
    quota::{self, Forecast, Problem},
    request::{Refusal, missing_entries, pick, unknown_channels},
};
use almanac_shared::{
    domain::{calendar::CalendarSpec, publish::slots::Slots},
    store::{
        calendars::{self, Placement, Publishable},
        publish::{self as store, NewIntent, channels::Account, queue},
    },
};

/// What runs the queue's operations.
pub struct Queue<'a> {
    pub platforms: &'a Platforms,
    /// The service-role pool: a quota shared by the app counts every user's posts.
    pub pool: &'a PgPool,
    pub now: DateTime<Utc>,
    /// `QUEUE_MIN_GAP_MINUTES`.
    pub gap: chrono::Duration,
    pub request_id: Option<String>,
}

/// `POST /v1/queue`'s body.
#[derive(Debug, Clone)]
pub struct QueueRequest {
    pub calendar_id: Uuid,
    /// In the order they take the slots.
    pub entry_ids: Vec<Uuid>,
    /// Channel ids choosing among several accounts of one platform.
    pub channels: Vec<Uuid>,
    /// Posts, or drafts where the platform has them.
    pub mode: Mode,
    /// Whether an entry may take a slot before its planned day.
    pub not_before: NotBefore,
}

/// The earliest slot an entry queued may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NotBefore {
    /// Never before the entry's planned day (in its calendar's zone): a post planned for
    /// next week is not pulled into today's slots.
    #[default]
    Planned,
    /// The next free slot, whatever day the entry was planned for.
    Now,
}

/// An entry in its slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub entry_id: Uuid,
    pub channel_id: Uuid,
    pub publish_at: DateTime<Utc>,
}

/// An entry the queue could not place, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unplaced {
    pub entry_id: Uuid,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub queued: Vec<Placed>,
    pub refused: Vec<Unplaced>,
}

/// Queues the request's entries as the user of `conn`'s transaction. A calendar, entry or
/// chosen channel that is not the caller's refuses the whole request; everything else is
/// per entry.
pub async fn add(
    q: &Queue<'_>,
    conn: &mut PgConnection,
    user: Uuid,
    request: &QueueRequest,
) -> Result<Outcome, Refusal> {
    let timezone = calendar_zone(conn, request.calendar_id)
        .await?
        .ok_or(Refusal::NotFound("calendar"))?;
    let ids = once_each(&request.entry_ids);
    let entries =
        calendars::publishable_entries(&mut *conn, request.calendar_id, Some(&ids)).await?;
    missing_entries(&ids, &entries)?;
    let accounts = store::channels::accounts(&mut *conn, &q.platforms.names()).await?;
    unknown_channels(&request.channels, &accounts)?;
    let mut outcome = Outcome::default();
    // Each channel's entries, channels in the order their first entry was asked for.
    let mut groups: Vec<(Account, Vec<&Publishable>)> = Vec::new();
    for id in &ids {
        let entry = entries.iter().find(|e| e.id == *id).expect("checked above");
        let Some(platform) = q.platforms.of_channel(&entry.channel) else {
            outcome.refused.push(Unplaced {
                entry_id: entry.id,
                code: "UNSUPPORTED_CHANNEL".into(),
                message: format!("no adapter publishes to `{}`", entry.channel),
            });
            continue;
        };
        match pick(q.platforms, &accounts, &request.channels, platform) {
            Ok(account) => match groups.iter_mut().find(|(a, _)| a.id == account.id) {
                Some((_, group)) => group.push(entry),
                None => groups.push((account, vec![entry])),
            },
            Err(Refusal::Unprocessable { code, message, .. }) => outcome.refused.push(Unplaced {
                entry_id: entry.id,
                code: code.into(),
                message,
            }),
            Err(other) => return Err(other),
        }
    }
    let placing = Placing {
        q,
        user,
        mode: request.mode,
        not_before: request.not_before,
        calendar_id: request.calendar_id,
        timezone,
    };
    for (account, group) in groups {
        placing
            .channel(conn, &account, &group, &mut outcome)
            .await?;
    }
    Ok(outcome)
}

/// Packs the channel's queue again from now, in its order: the slots freed by removals and
/// moves are filled, and the entries move with their intents. `None` when the caller has
/// no such channel.
pub async fn pack(
    q: &Queue<'_>,
    conn: &mut PgConnection,
    channel: Uuid,
) -> Result<Option<Vec<Placed>>, Refusal> {
    let Some(slots) = channel_slots(conn, channel).await? else {
        return Ok(None);
    };
    queue::lock(conn, channel).await?;
    let rows: Vec<queue::QueuedRow> = queue::list(conn, Some(channel))
        .await?
        .into_iter()
        .filter(|row| row.publish_at > q.now && row.movable())
        .collect();
    let ids: Vec<Uuid> = rows.iter().map(|row| row.intent_id).collect();
    // Those a quota leaves no slot for keep theirs, which the others then leave alone:
    // placed again until every one moved has a slot.
    let mut moving = rows.len();
    let times = loop {
        let taken: Vec<DateTime<Utc>> = rows[moving..].iter().map(|r| r.publish_at).collect();
        let mut forecast = match rows.first() {
            Some(row) => quota_forecast(q, &row.channel, channel, row.mode, &ids[..moving]).await?,
            None => None,
        };
        let times = slots.place_within(q.now, &taken, q.gap, moving, |at| {
            forecast.as_mut().is_none_or(|f| f.take(at))
        });
        if times.len() == moving {
            break times;
        }
        moving = times.len();
    };
    let rows: Vec<&queue::QueuedRow> = rows[..moving].iter().collect();
    actions::retime(conn, &rows, &times).await?;
    Ok(Some(
        rows.iter()
            .zip(times)
            .map(|(row, publish_at)| Placed {
                entry_id: row.entry_id,
                channel_id: channel,
                publish_at,
            })
            .collect(),
    ))
}

/// A request's placing of entries, channel by channel.
struct Placing<'a> {
    q: &'a Queue<'a>,
    user: Uuid,
    mode: Mode,
    not_before: NotBefore,
    calendar_id: Uuid,
    timezone: Tz,
}

impl Placing<'_> {
    /// Places `group`'s entries on `account`'s queue, under its lock.
    async fn channel(
        &self,
        conn: &mut PgConnection,
        account: &Account,
        group: &[&Publishable],
        outcome: &mut Outcome,
    ) -> Result<(), Refusal> {
        let q = self.q;
        let platform = account.platform;
        let all = || group.iter().map(|entry| entry.id);
        if let Err(unusable) = local_state(conn, q.platforms, account.id).await? {
            let message = unusable.message(platform.as_str());
            refuse(outcome, all(), unusable.code(), &message);
            return Ok(());
        }
        let slots = channel_slots(conn, account.id)
            .await?
            .filter(|slots| !slots.slots().is_empty());
        let Some(slots) = slots else {
            let message = format!(
                "the {} channel has no posting slots: set them on the channel first",
                q.platforms.label(platform)
            );
            refuse(outcome, all(), "QUEUE_NO_SLOTS", &message);
            return Ok(());
        };
        queue::lock(conn, account.id).await?;
        let queued = queue::list(conn, Some(account.id)).await?;
        let adapter = q.platforms.registered(platform);
        let options = Options {
            mode: self.mode,
            privacy_level: None,
        };
        // What goes in a new slot: the entries not queued on the channel already, not
        // published there, and valid for the platform.
        let mut to_place: Vec<(&Publishable, Option<Uuid>, Post)> = Vec::new();
        for entry in group {
            if let Some(row) = queued.iter().find(|row| row.entry_id == entry.id) {
                outcome.queued.push(Placed {
                    entry_id: entry.id,
                    channel_id: account.id,
                    publish_at: row.publish_at,
                });
                continue;
            }
            let open = queue::open(conn, entry.id, account.id).await?;
            if let Some(open) = &open
                && (open.status != IntentStatus::Scheduled.as_str() || open.dispatched)
            {
                outcome.refused.push(Unplaced {
                    entry_id: entry.id,
                    code: "ALREADY_PUBLISHED".into(),
                    message: format!(
                        "the entry is already {} on this channel: an evergreen collection can post it again",
                        if open.status == "published" { "published" } else { "being published" }
                    ),
                });
                continue;
            }
            let post = super::uploads::post(entry, adapter, &q.platforms.media);
            if let Some(problem) = adapter.problems(&post, &options).first() {
                outcome.refused.push(Unplaced {
                    entry_id: entry.id,
                    code: problem.code.to_string(),
                    message: problem.message.clone(),
                });
                continue;
            }
            to_place.push((entry, open.map(|o| o.id), post));
        }
        let taken: Vec<DateTime<Utc>> = queued.iter().map(|row| row.publish_at).collect();
        let last = taken.iter().copied().max().unwrap_or(q.now).max(q.now);
        let moving: Vec<Uuid> = to_place.iter().filter_map(|(_, open, _)| *open).collect();
        let mut forecast =
            quota_forecast(q, platform.as_str(), account.id, self.mode, &moving).await?;
        let planned: Vec<_> = to_place.iter().map(|(e, _, _)| e.scheduled_at).collect();
        let times = self.times(&slots, &planned, (last, &taken), forecast.as_mut());
        if times.len() < to_place.len()
            && let Some(quota) = adapter.profile().quota
        {
            let message = format!(
                "{} in every slot of the coming weeks: the entry is not queued",
                quota::full(adapter.label(), &quota)
            );
            let unplaced = to_place[times.len()..].iter().map(|(entry, _, _)| entry.id);
            refuse(outcome, unplaced, "QUOTA_FULL", &message);
        }
        for ((entry, open, post), at) in to_place.into_iter().zip(times) {
            calendars::move_entry(conn, entry.id, &placement(self.timezone, at)).await?;
            calendars::choose_channel(conn, entry.id, account.id).await?;
            let intent = match open {
                Some(id) => id,
                None => {
                    let slotted = Slotted {
                        user: self.user,
                        calendar_id: self.calendar_id,
                        timezone: self.timezone.name(),
                        entry,
                        channel_id: account.id,
                        account_id: &account.account_id,
                        mode: self.mode,
                        at,
                        post: &post,
                    };
                    let new = slotted.intent(q, None, None);
                    store::insert_once(conn, &new).await?.0.id
                }
            };
            queue::enqueue(conn, intent, at, None).await?;
            tracing::info!(requestId = q.request_id.as_deref().unwrap_or(""), userId = %self.user,
                channel = %platform, intentId = %intent, publishAt = %at, "entry queued");
            outcome.queued.push(Placed {
                entry_id: entry.id,
                channel_id: account.id,
                publish_at: at,
            });
        }
        Ok(())
    }
}

impl Placing<'_> {
    /// The slots of entries planned at `planned`, one after the other in that order after
    /// `last` (none of `taken`), each no earlier than its planned day when it must wait for
    /// it, and where the quota has room; as many as found.
    fn times(
        &self,
        slots: &Slots,
        planned: &[DateTime<Utc>],
        (last, taken): (DateTime<Utc>, &[DateTime<Utc>]),
        mut forecast: Option<&mut Forecast>,
    ) -> Vec<DateTime<Utc>> {
        let gap = self.q.gap;
        let mut times: Vec<DateTime<Utc>> = Vec::with_capacity(planned.len());
        for at in planned {
            let previous = times.last().copied().unwrap_or(last);
            let floor = match self.not_before {
                NotBefore::Now => previous,
                // The gap before the day's first slot is the day's own.
                NotBefore::Planned => previous.max(self.day_start(*at) - gap),
            };
            let fits = |at| forecast.as_mut().is_none_or(|f| f.take(at));
            match slots.place_within(floor, taken, gap, 1, fits).first() {
                Some(at) => times.push(*at),
                None => break,
            }
        }
        times
    }

    /// The start of the day of `at` in the calendar's zone.
    fn day_start(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        use chrono::TimeZone;
        let day = at.with_timezone(&self.timezone).date_naive();
        self.timezone
            .from_local_datetime(&day.and_time(chrono::NaiveTime::MIN))
            .earliest()
            .map_or(at, |start| start.with_timezone(&Utc))
    }
}

/// Refuses the entries `ids`, each with `code` and `message`.
fn refuse(outcome: &mut Outcome, ids: impl Iterator<Item = Uuid>, code: &str, message: &str) {
    outcome.refused.extend(ids.map(|entry_id| Unplaced {
        entry_id,
        code: code.to_owned(),
        message: message.to_owned(),
    }));
}

/// An entry's publish in a slot of its channel: queued by a request, or repeated by an
/// evergreen collection.
pub(super) struct Slotted<'a> {
    pub user: Uuid,
    pub calendar_id: Uuid,
    /// The calendar's zone, which the intent is shown in.
    pub timezone: &'a str,
    pub entry: &'a Publishable,
    pub channel_id: Uuid,
    /// The channel's account at the platform.
    pub account_id: &'a str,
    pub mode: Mode,
    pub at: DateTime<Utc>,
    /// The post it sends (a repeat's rewritten text in it).
    pub post: &'a Post,
}

impl Slotted<'_> {
    /// The scheduled intent to write: an evergreen repeat (`evergreen`) is queued as it is
    /// written and keeps its rewrite (`variant`); a request's is queued once written.
    pub(super) fn intent(
        &self,
        q: &Queue<'_>,
        evergreen: Option<Uuid>,
        variant: Option<&str>,
    ) -> NewIntent {
        let adapter = q
            .platforms
            .get(&self.entry.channel)
            .map(|platform| q.platforms.registered(platform));
        let options = Options {
            mode: self.mode,
            privacy_level: None,
        };
        let requests = adapter.map(|a| a.plan(self.account_id, self.post, &options));
        NewIntent {
            user: self.user,
            calendar_id: self.calendar_id,
            entry_id: Some(self.entry.id),
            run_id: self.entry.run_id,
            channel: self.entry.channel.clone(),
            account: Some(self.channel_id),
            mode: self.mode,
            dry_run: false,
            timing: Timing::Scheduled,
            publish_at: Some(self.at),
            timezone: self.timezone.to_owned(),
            status: IntentStatus::Scheduled,
            payload: json!({
                "requests": requests,
                "options": options,
                "post": self.post,
                "variant": variant,
            }),
            error: None,
            spool_id: None,
            request_id: q.request_id.clone(),
            queued: evergreen.is_some(),
            evergreen_id: evergreen,
        }
    }
}

/// The posts the counted quota of `channel`'s platform already holds from now on (the
/// intents `except` left out), to place new ones among; `None` when Almanac counts none.
pub(super) async fn quota_forecast(
    q: &Queue<'_>,
    platform: &str,
    channel: Uuid,
    mode: Mode,
    except: &[Uuid],
) -> sqlx::Result<Option<Forecast>> {
    let Some(platform) = q.platforms.get(platform) else {
        return Ok(None);
    };
    let adapter = q.platforms.registered(platform);
    let Some(quota) = quota::counted(adapter, mode) else {
        return Ok(None);
    };
    let counting = quota::counting(&quota, platform.as_str(), Some(channel));
    let mut conn = q.pool.acquire().await?;
    let since = Forecast::since(&quota, q.now);
    let times = store::quota_times(&mut conn, &counting, since, except).await?;
    Ok(Some(Forecast::new(quota, adapter.label(), times)))
}

/// What stands in the way of each queued entry (`rows`, one channel's, in order) when it
/// is due: a counted quota its slot would exceed (foreseen from the posts before it), else
/// the quota the dispatcher found full when it tried (kept on the intent).
pub async fn problems(
    q: &Queue<'_>,
    rows: &[queue::QueuedRow],
) -> sqlx::Result<Vec<Option<Problem>>> {
    let mut forecasts: HashMap<(Uuid, bool), Option<Forecast>> = HashMap::new();
    let mut problems = Vec::with_capacity(rows.len());
    for row in rows {
        let key = (row.channel_id, row.mode == Mode::Draft);
        if let std::collections::hash_map::Entry::Vacant(slot) = forecasts.entry(key) {
            slot.insert(quota_forecast(q, &row.channel, row.channel_id, row.mode, &[]).await?);
        }
        let foreseen = forecasts[&key]
            .as_ref()
            .and_then(|f| f.problem(row.publish_at));
        problems.push(foreseen.or_else(|| recorded(row)));
    }
    Ok(problems)
}

/// The quota refusal the dispatcher recorded on a queued intent waiting for a place.
fn recorded(row: &queue::QueuedRow) -> Option<Problem> {
    let error = row.error.as_ref()?;
    let code = error["code"].as_str()?;
    if !matches!(code, "DAILY_QUOTA_EXHAUSTED" | "QUOTA_UNREADABLE") {
        return None;
    }
    Some(Problem {
        code: if code == "QUOTA_UNREADABLE" {
            code.to_owned()
        } else {
            "QUOTA_FULL".to_owned()
        },
        message: error["message"].as_str().unwrap_or_default().to_owned(),
        frees_at: error["freesAt"].as_str().and_then(|at| at.parse().ok()),
    })
}

/// The channel's slots; `None` when the caller has no such channel.
pub(super) async fn channel_slots(
    conn: &mut PgConnection,
    channel: Uuid,
) -> sqlx::Result<Option<Slots>> {
    let stored = store::channels::slots(conn, channel).await?;
    Ok(stored.map(|(zone, slots)| {
        Slots::from_stored(&zone, &slots.0).unwrap_or_else(|| Slots::new(chrono_tz::UTC, vec![]))
    }))
}

/// The calendar's time zone; `None` when the caller has no such calendar.
pub(super) async fn calendar_zone(
    conn: &mut PgConnection,
    calendar: Uuid,
) -> sqlx::Result<Option<Tz>> {
    let spec = calendars::request(conn, calendar).await?;
    Ok(spec.map(|spec| {
        CalendarSpec::from_json(&spec)
            .map(|s| s.constraints.timezone)
            .unwrap_or(chrono_tz::UTC)
    }))
}

/// `at` as an entry's local date and time in `zone`.
fn placement(zone: Tz, at: DateTime<Utc>) -> Placement {
    let local = at.with_timezone(&zone);
    Placement {
        date: local.date_naive(),
        time: local.time(),
        scheduled_at: at,
    }
}

/// Each of `ids` once, in the order first given.
pub fn once_each(ids: &[Uuid]) -> Vec<Uuid> {
    let mut seen = std::collections::HashSet::new();
    ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}

/// A channel's posting quota as it stands: the platform's quota (`None` where it documents
/// none), the posts (or drafts) of it Almanac counts in the window up to now, and when a
/// place frees once it is full.
#[derive(Debug, Clone)]
pub struct QuotaState {
    pub quota: Option<super::catalogue::Quota>,
    pub used: u32,
    pub frees_at: Option<DateTime<Utc>>,
    /// In the catalogue's words: whose quota, and that it is full, when it is.
    pub message: Option<String>,
}

impl QuotaState {
    /// A channel whose platform documents no quota.
    fn none() -> Self {
        Self {
            quota: None,
            used: 0,
            frees_at: None,
            message: None,
        }
    }
}

/// The quota of the caller's `channel` now; `None` when the caller has no such channel.
pub async fn quota_state(
    q: &Queue<'_>,
    conn: &mut PgConnection,
    channel: Uuid,
) -> sqlx::Result<Option<QuotaState>> {
    let Some(row) = store::channels::find(conn, channel).await? else {
        return Ok(None);
    };
    let Some(platform) = q.platforms.get(&row.platform) else {
        return Ok(Some(QuotaState::none()));
    };
    let adapter = q.platforms.registered(platform);
    let Some(quota) = adapter.profile().quota else {
        return Ok(Some(QuotaState::none()));
    };
    let counting = quota::counting(&quota, platform.as_str(), Some(channel));
    let window = quota::window(&quota, q.now);
    let mut pool = q.pool.acquire().await?;
    let times: Vec<DateTime<Utc>> = store::quota_times(&mut pool, &counting, window.since, &[])
        .await?
        .into_iter()
        .filter(|at| *at <= q.now)
        .collect();
    let used = u32::try_from(times.len()).unwrap_or(u32::MAX);
    let full = used >= quota.limit;
    let frees_at = full.then(|| match quota.day_of {
        Some(_) => window.until,
        // The post that leaves the moving window first gives its place back.
        None => {
            let oldest = times[times.len() - quota.limit as usize];
            oldest + chrono::Duration::seconds(i64::from(quota.window_secs))
        }
    });
    Ok(Some(QuotaState {
        quota: Some(quota),
        used,
        frees_at,
        message: full.then(|| quota::full(adapter.label(), &quota)),
    }))
}
