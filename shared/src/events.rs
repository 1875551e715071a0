//! Job events (ARCHITECTURE.md section 4): one protocol, two framings.
//!
//! A worker (or the API, for `queued` and cancellations) emits typed events per job. Each
//! gets the job's next sequence number from the job's Redis stream (`XADD key 0-*`, so the
//! stream itself is the counter), is kept there (bounded length, expiring
//! `EVENTS_RETENTION_SECS` after the last event), and is published on one channel that
//! every API process relays from. One Lua script does the three steps atomically, which
//! is what lets a subscriber read the history after subscribing with no gap: an event is
//! either in the stream when the history is read, or published after the subscription.
//!
//! Events that report a commit (a batch of suggestions, a calendar's entries or diff) are
//! never lost between Postgres and Redis: they are staged under a token before the commit
//! ([`Emitter::stage`]), the commit records the token in the ledger (`jobs.events_token`),
//! and one script publishes them after it, exactly once whoever calls it: the worker
//! ([`Emitter::publish`]), or, should the worker die first, whoever finds the ledger ahead
//! of the stream ([`Emitter::publish_final`], [`Emitter::publish_staged`]). A job's final
//! event is published by the same script, after whatever its last commit staged, and only
//! if the stream does not already end with it.

use std::{fmt, time::Duration};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::{
    config::Settings,
    jobs::{JobRecord, JobStatus},
    redis_conn::RedisConn,
};

/// The events of a job. Serialised with a `type` tag, which is also the SSE event name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// How far the job got: `completed` of `total` units, in a named stage.
    Progress {
        completed: u64,
        total: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stage: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        /// Seed 004's form of the same progress: the step's name...
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        /// ...and how far, 0-100.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        percent: Option<u8>,
    },
    /// A batch of flashcard suggestions a generation job saved.
    Suggestions {
        generation_id: Uuid,
        batch: u32,
        suggestions: Vec<SuggestionItem>,
    },
    /// A problem worth telling the watcher; the job may still go on (a retried attempt)
    /// or end with `done`.
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        message: String,
    },
    /// One entry a calendar run generated (seed 000), in the `{data, error, meta}`
    /// envelope: `data` the entry, `meta` the run.
    Entry(Envelope),
    /// The changes a calendar regeneration proposes (seed 000): `data` is
    /// `{added, updated, removed, counts}`.
    Diff(Envelope),
    /// The last event of a job: its final status, result and error.
    Done {
        status: JobStatus,
        #[serde(default)]
        result: Option<Value>,
        #[serde(default)]
        error: Option<Value>,
        /// Seed 000's final frame is an envelope whose `data` is the result (a calendar
        /// run's summary)...
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data: Option<Value>,
        /// ...and whose `meta` has `done: true`, and a calendar run's `mode` and ids.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        meta: Option<Value>,
    },
    /// Keep-alive of one connection; never stored.
    Heartbeat {},
    /// Told first when some of the requested events are no longer retained; never stored.
    Truncated {
        /// The last id the client had (0 for none).
        after: u64,
        /// The oldest id still retained, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        first_available: Option<u64>,
    },
}

/// Seed 000's `{data, error, meta}` envelope, as calendar events carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub data: Value,
    #[serde(default)]
    pub error: Option<Value>,
    pub meta: Value,
}

/// One suggestion as a `suggestions` event carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuggestionItem {
    pub id: Uuid,
    pub position: i32,
    pub front: String,
    pub back: String,
}

impl Event {
    /// The `type` tag.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Progress { .. } => "progress",
            Event::Suggestions { .. } => "suggestions",
            Event::Error { .. } => "error",
            Event::Entry(_) => "entry",
            Event::Diff(_) => "diff",
            Event::Done { .. } => "done",
            Event::Heartbeat {} => "heartbeat",
            Event::Truncated { .. } => "truncated",
        }
    }

    /// The final event of a job the ledger says has ended; `None` while it runs.
    pub fn done_from(job: &JobRecord) -> Option<Self> {
        job.status.is_final().then(|| {
            Event::done(
                job.status,
                job.result.as_ref().map(|j| j.0.clone()),
                job.error.as_ref().map(|j| j.0.clone()),
            )
        })
    }

    /// A job's final event. It is also seed 000's final frame: `{data, error, meta}` with
    /// `data` the result (a calendar run's summary) and `meta` `{done: true}` plus the
    /// result's `mode` and ids, so every stream ends the same way whatever its kind.
    pub fn done(status: JobStatus, result: Option<Value>, error: Option<Value>) -> Self {
        let mut meta = serde_json::json!({ "done": true });
        if let Some(result) = &result {
            for field in ["mode", "runId", "calendarId", "version", "persisted"] {
                if let Some(value) = result.get(field) {
                    meta[field] = value.clone();
                }
            }
        }
        Event::Done {
            status,
            data: Some(result.clone().unwrap_or(Value::Null)),
            result,
            error,
            meta: Some(meta),
        }
    }

    /// Every job's first event, emitted (with [`Emitter::emit_first`]) by whoever queues it.
    pub fn queued(total: u64) -> Self {
        Event::progress(0, total, "queued", "waiting for a worker")
    }

    pub fn progress(completed: u64, total: u64, stage: &str, message: impl Into<String>) -> Self {
        Event::Progress {
            completed,
            total,
            stage: Some(stage.to_owned()),
            message: Some(message.into()),
            step: None,
            percent: None,
        }
    }

    /// Progress as seed 004 has it (`{step, message, percent}`), also as `completed` of
    /// 100 in `stage` for every other client.
    pub fn step(step: &str, message: impl Into<String>, percent: u8) -> Self {
        let percent = percent.min(100);
        Event::Progress {
            completed: u64::from(percent),
            total: 100,
            stage: Some(step.to_owned()),
            message: Some(message.into()),
            step: Some(step.to_owned()),
            percent: Some(percent),
        }
    }
}

pub const DONE: &str = "done";

/// An event as stored and relayed: its sequence number, type and JSON (the serialised
/// [`Event`], `type` included). The JSON is passed through untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: u64,
    pub kind: Box<str>,
    pub data: Box<str>,
}

impl StoredEvent {
    pub fn from_event(seq: u64, event: &Event) -> Self {
        Self {
            seq,
            kind: event.kind().into(),
            data: serde_json::to_string(event)
                .expect("events serialise")
                .into(),
        }
    }

    pub fn is_final(&self) -> bool {
        &*self.kind == DONE
    }

    /// The pub/sub message: `<job id> <seq> <type> <json>` (the emit script writes it).
    #[cfg(test)]
    fn encode(&self, job: Uuid) -> String {
        format!("{job} {} {} {}", self.seq, self.kind, self.data)
    }

    /// Reads a pub/sub message; `None` for anything malformed.
    pub fn decode(message: &str) -> Option<(Uuid, Self)> {
        let (job, rest) = message.split_once(' ')?;
        let (seq, rest) = rest.split_once(' ')?;
        let (kind, data) = rest.split_once(' ')?;
        Some((
            job.parse().ok()?,
            Self {
                seq: seq.parse().ok()?,
                kind: kind.into(),
                data: data.into(),
            },
        ))
    }
}

impl fmt::Display for StoredEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} {}", self.seq, self.kind)
    }
}

/// The Redis stream holding a job's events.
pub fn stream_key(settings: &Settings, job: Uuid) -> String {
    settings.redis_key(&["events", &job.to_string()])
}

/// The one channel every event is published on; each API process subscribes once.
pub fn channel(settings: &Settings) -> String {
    settings.redis_key(&["events"])
}

/// When job `job` was created, in Unix milliseconds (0 for an id that is not a UUIDv7).
fn created_ms(job: Uuid) -> u64 {
    job.get_timestamp().map_or(0, |at| {
        let (secs, nanos) = at.to_unix();
        secs * 1000 + u64::from(nanos) / 1_000_000
    })
}

/// The stream key of a job's staged events (see the module's documentation).
fn staged_key(settings: &Settings, job: Uuid) -> String {
    settings.redis_key(&["staged", &job.to_string()])
}

/// Events that report a commit, staged before it under `token`.
#[derive(Debug, Clone, PartialEq)]
pub struct Staged {
    pub token: Uuid,
    pub events: Vec<Event>,
    /// Redis holds them; when it does not (staging failed), publishing sends them along.
    stored: bool,
}

impl Staged {
    /// The events to send with a publish: none when Redis holds them.
    fn fallback(&self) -> &[Event] {
        if self.stored { &[] } else { &self.events }
    }
}

/// What [`Emitter::stage`] keeps in Redis.
#[derive(Serialize, Deserialize)]
struct StagedEntry {
    token: String,
    published: bool,
    /// `[type, JSON]` pairs.
    events: Vec<(String, String)>,
}

/// Appends events to job streams and publishes them.
#[derive(Clone)]
pub struct Emitter {
    conn: RedisConn,
    channel: std::sync::Arc<str>,
    settings: std::sync::Arc<Settings>,
}

/// The id of a new entry of stream `key`: the next number (`0-*`), unless the stream is
/// missing (Redis lost it, or it expired) and the entry is not the job's first event. Then
/// the numbering starts above any number the lost stream can have used: the milliseconds
/// since the job was created (`created_ms`, from its UUIDv7) times 1,000, which no job
/// emitting fewer than 1,000 events a millisecond reaches. So a client resuming after a
/// loss sees its next id jump past its last instead of counting again from 1 over numbers
/// it has seen, and the relay tells it what it missed.
macro_rules! lua_next_id {
    () => {
        r"
local function next_id(key, first, created_ms)
  if first == '1' or redis.call('EXISTS', key) == 1 then return '0-*' end
  local t = redis.call('TIME')
  local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  return '0-' .. string.format('%.0f', math.max(now_ms - tonumber(created_ms), 0) * 1000 + 1)
end"
    };
}

/// Appends one event (`ARGV[4]` its type, `ARGV[5]` its JSON) and publishes it.
///
/// `ARGV[7]` is the emit's nonce: sent again after a reconnect (see `redis_conn`), an
/// emit whose first sending did run finds its nonce on the stream's last entry and
/// returns that entry's number instead of appending the event twice. `ARGV[8]` is `1`
/// for the job's first event, `ARGV[9]` the job's creation in Unix milliseconds.
const EMIT: &str = concat!(
    lua_next_id!(),
    r"
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if last[1] then
  local fields = last[1][2]
  for i = 1, #fields, 2 do
    if fields[i] == 'n' and fields[i + 1] == ARGV[7] then return string.sub(last[1][1], 3) end
  end
end",
    r"
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], next_id(KEYS[1], ARGV[8], ARGV[9]), 't', ARGV[4], 'd', ARGV[5], 'n', ARGV[7])
redis.call('EXPIRE', KEYS[1], ARGV[2])
local seq = string.sub(id, 3)
redis.call('PUBLISH', ARGV[3], ARGV[6] .. ' ' .. seq .. ' ' .. ARGV[4] .. ' ' .. ARGV[5])
return seq"
);

/// Publishes committed events: those staged under the token `ARGV[5]` unless already
/// published (or, when nothing is staged for the job and `ARGV[8]` is `1`, the events in
/// `ARGV[10..]`, which the caller staged in vain), then, when `ARGV[6]` is `1`, the job's
/// final event `ARGV[7]`. A final publish does nothing if the stream already ends with the
/// final event. All appended events go out as one notification. Either way, the token is
/// then marked published, so a repeat of the same call appends nothing. `ARGV[9]` is the
/// job's creation in Unix milliseconds (see `lua_next_id`).
const PUBLISH_COMMITTED: &str = concat!(
    lua_next_id!(),
    r"
if ARGV[6] == '1' then
  local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
  if last[1] then
    local fields = last[1][2]
    for i = 1, #fields, 2 do
      if fields[i] == 't' and fields[i + 1] == 'done' then return 0 end
    end
  end
end
local events = {}
local staged = redis.call('GET', KEYS[2])
if staged then
  local entry = cjson.decode(staged)
  if ARGV[5] ~= '' and entry.token == ARGV[5] and not entry.published then
    for _, event in ipairs(entry.events) do events[#events + 1] = event end
    redis.call('SET', KEYS[2], cjson.encode({token = entry.token, published = true}), 'KEEPTTL')
  end
elseif ARGV[8] == '1' then
  for i = 10, #ARGV, 2 do events[#events + 1] = {ARGV[i], ARGV[i + 1]} end
  redis.call('SET', KEYS[2], cjson.encode({token = ARGV[5], published = true}), 'EX', ARGV[2])
end
if ARGV[6] == '1' then events[#events + 1] = {'done', ARGV[7]} end
if #events == 0 then return 0 end
local lines = {}
local id = next_id(KEYS[1], '0', ARGV[9])
for _, event in ipairs(events) do
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], id, 't', event[1], 'd', event[2])
  lines[#lines + 1] = ARGV[4] .. ' ' .. string.sub(id, 3) .. ' ' .. event[1] .. ' ' .. event[2]
  id = '0-*'
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], table.concat(lines, '\n'))
return #events"
);

impl Emitter {
    pub fn new(settings: &Settings, conn: RedisConn) -> Self {
        Self {
            conn,
            channel: channel(settings).into(),
            settings: std::sync::Arc::new(settings.clone()),
        }
    }

    /// Appends `event` to the job's stream and publishes it; returns its sequence number.
    pub async fn emit(&self, job: Uuid, event: &Event) -> redis::RedisResult<u64> {
        self.emit_numbered(job, event, false).await
    }

    /// Emits the job's first event ([`Event::queued`]), which starts its stream's
    /// numbering at 1.
    pub async fn emit_first(&self, job: Uuid, event: &Event) -> redis::RedisResult<u64> {
        self.emit_numbered(job, event, true).await
    }

    /// [`Emitter::emit_first`], logging instead of failing.
    pub async fn emit_first_or_log(&self, job: Uuid, event: &Event) {
        if let Err(error) = self.emit_first(job, event).await {
            metrics::counter!("events_emit_errors_total").increment(1);
            tracing::warn!(job_id = %job, event = event.kind(), error = %error, "emitting a job event failed");
        }
    }

    async fn emit_numbered(
        &self,
        job: Uuid,
        event: &Event,
        first: bool,
    ) -> redis::RedisResult<u64> {
        let data = serde_json::to_string(event).expect("events serialise");
        let events = &self.settings.events;
        let mut conn = self.conn.clone();
        let seq: String = redis::Script::new(EMIT)
            .key(stream_key(&self.settings, job))
            .arg(events.max_len)
            .arg(events.retention.as_secs().max(1))
            .arg(&*self.channel)
            .arg(event.kind())
            .arg(data)
            .arg(job.to_string())
            .arg(format!("{:016x}", rand::random::<u64>()))
            .arg(if first { "1" } else { "0" })
            .arg(created_ms(job))
            .invoke_async(&mut conn)
            .await?;
        let seq = seq.parse().map_err(|_| {
            redis::RedisError::from((
                redis::ErrorKind::UnexpectedReturnType,
                "event id is not a number",
            ))
        })?;
        metrics::counter!("events_emitted_total", "type" => event.kind()).increment(1);
        Ok(seq)
    }

    /// Stages `events`, which report a commit about to be made, under a fresh token for
    /// that commit to record (`jobs.events_token`). A failure to stage is logged: the
    /// caller still publishes the events itself after the commit, and only a repair after
    /// its death would then miss them.
    pub async fn stage(&self, job: Uuid, events: Vec<Event>) -> Staged {
        let token = Uuid::new_v4();
        let entry = StagedEntry {
            token: token.to_string(),
            published: false,
            events: events
                .iter()
                .map(|e| {
                    (
                        e.kind().to_owned(),
                        serde_json::to_string(e).expect("events serialise"),
                    )
                })
                .collect(),
        };
        let mut conn = self.conn.clone();
        let staged = redis::cmd("SET")
            .arg(staged_key(&self.settings, job))
            .arg(serde_json::to_string(&entry).expect("entries serialise"))
            .arg("EX")
            .arg(self.settings.events.retention.as_secs().max(1))
            .query_async::<()>(&mut conn)
            .await;
        if let Err(error) = &staged {
            metrics::counter!("events_emit_errors_total").increment(1);
            tracing::warn!(job_id = %job, error = %error, "staging a commit's events failed");
        }
        Staged {
            token,
            events,
            stored: staged.is_ok(),
        }
    }

    /// Publishes the events staged for a commit that has been made, exactly once.
    pub async fn publish(&self, job: Uuid, staged: &Staged) {
        if let Err(error) = self
            .publish_committed(job, Some(staged.token), staged.fallback(), None)
            .await
        {
            metrics::counter!("events_emit_errors_total").increment(staged.events.len() as u64);
            tracing::warn!(job_id = %job, error = %error, "publishing a commit's events failed");
        }
    }

    /// Publishes what an earlier attempt staged for a commit it made (`token`, the
    /// ledger's) but did not live to publish.
    pub async fn publish_staged(&self, job: Uuid, token: Uuid) -> redis::RedisResult<u64> {
        self.publish_committed(job, Some(token), &[], None).await
    }

    /// Publishes a job's final event `done`, after the events its last commit staged
    /// (`staged` by the worker that made it; a repairer passes none and the ledger's token)
    /// unless they were published already. Does nothing when the stream already ends with
    /// the final event, so the worker and any repairer may both call it. Returns the number
    /// of events appended.
    pub async fn publish_final(
        &self,
        job: Uuid,
        staged: Option<&Staged>,
        token: Option<Uuid>,
        done: &Event,
    ) -> redis::RedisResult<u64> {
        debug_assert!(matches!(done, Event::Done { .. }));
        let (token, fallback) = match staged {
            Some(staged) => (Some(staged.token), staged.fallback()),
            None => (token, &[][..]),
        };
        self.publish_committed(job, token, fallback, Some(done))
            .await
    }

    /// [`Emitter::publish_final`] for a job the ledger says has ended, as the ledger has
    /// it; `Ok(0)` for a job that has not ended.
    pub async fn publish_final_from(&self, job: &JobRecord) -> redis::RedisResult<u64> {
        match Event::done_from(job) {
            Some(done) => {
                self.publish_final(job.id, None, job.events_token, &done)
                    .await
            }
            None => Ok(0),
        }
    }

    async fn publish_committed(
        &self,
        job: Uuid,
        token: Option<Uuid>,
        fallback: &[Event],
        done: Option<&Event>,
    ) -> redis::RedisResult<u64> {
        let events = &self.settings.events;
        let script = redis::Script::new(PUBLISH_COMMITTED);
        let mut invocation = script.key(stream_key(&self.settings, job));
        invocation
            .key(staged_key(&self.settings, job))
            .arg(events.max_len)
            .arg(events.retention.as_secs().max(1))
            .arg(&*self.channel)
            .arg(job.to_string())
            .arg(token.map(|t| t.to_string()).unwrap_or_default())
            .arg(if done.is_some() { "1" } else { "0" })
            .arg(
                done.map(|d| serde_json::to_string(d).expect("events serialise"))
                    .unwrap_or_default(),
            )
            .arg(if fallback.is_empty() { "0" } else { "1" })
            .arg(created_ms(job));
        for event in fallback {
            invocation
                .arg(event.kind())
                .arg(serde_json::to_string(event).expect("events serialise"));
        }
        let mut conn = self.conn.clone();
        let appended: u64 = invocation.invoke_async(&mut conn).await?;
        if appended > 0 {
            metrics::counter!("events_emitted_total", "type" => "committed").increment(appended);
        }
        Ok(appended)
    }

    /// Emits, logging instead of failing: for callers whose real work is already saved
    /// (a watcher that misses an event still gets the final state from the ledger).
    pub async fn emit_or_log(&self, job: Uuid, event: &Event) {
        if let Err(error) = self.emit(job, event).await {
            metrics::counter!("events_emit_errors_total").increment(1);
            tracing::warn!(job_id = %job, event = event.kind(), error = %error, "emitting a job event failed");
        }
    }
}

/// What the stream holds after a given id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    pub events: Vec<StoredEvent>,
    /// The oldest retained id (`None`: the stream does not exist; it expires after the job).
    pub first: Option<u64>,
    /// The newest id. Lower than an id a client saw means Redis lost the stream and the
    /// numbering started again.
    pub newest: Option<u64>,
}

/// Reads up to `limit` events after `after` (exclusive), oldest first, with the stream's
/// oldest and newest ids, in one round trip.
pub async fn history(
    conn: &RedisConn,
    settings: &Settings,
    job: Uuid,
    after: u64,
    limit: usize,
) -> redis::RedisResult<History> {
    let key = stream_key(settings, job);
    let mut conn = conn.clone();
    let (first, newest, entries): (Vec<redis::Value>, Vec<redis::Value>, Vec<redis::Value>) =
        redis::pipe()
            .cmd("XRANGE")
            .arg(&key)
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(1)
            .cmd("XREVRANGE")
            .arg(&key)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .cmd("XRANGE")
            .arg(&key)
            .arg(format!("(0-{after}"))
            .arg("+")
            .arg("COUNT")
            .arg(limit)
            .query_async(&mut conn)
            .await?;
    Ok(History {
        events: entries.iter().filter_map(parse_entry).collect(),
        first: first.iter().find_map(parse_entry).map(|e| e.seq),
        newest: newest.iter().find_map(parse_entry).map(|e| e.seq),
    })
}

/// The job's latest stored event.
pub async fn last(
    conn: &RedisConn,
    settings: &Settings,
    job: Uuid,
) -> redis::RedisResult<Option<StoredEvent>> {
    let mut conn = conn.clone();
    let entries: Vec<redis::Value> = redis::cmd("XREVRANGE")
        .arg(stream_key(settings, job))
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(&mut conn)
        .await?;
    Ok(entries.iter().find_map(parse_entry))
}

/// One `XRANGE` entry: `[id, [field, value, ...]]`.
fn parse_entry(entry: &redis::Value) -> Option<StoredEvent> {
    let redis::Value::Array(parts) = entry else {
        return None;
    };
    let [id, redis::Value::Array(fields)] = parts.as_slice() else {
        return None;
    };
    let id: String = redis::from_redis_value_ref(id).ok()?;
    let seq = id.strip_prefix("0-")?.parse().ok()?;
    let mut kind = None;
    let mut data = None;
    for pair in fields.chunks(2) {
        let [name, value] = pair else { continue };
        let name: String = redis::from_redis_value_ref(name).ok()?;
        let value: String = redis::from_redis_value_ref(value).ok()?;
        match name.as_str() {
            "t" => kind = Some(value.into_boxed_str()),
            "d" => data = Some(value.into_boxed_str()),
            _ => {}
        }
    }
    Some(StoredEvent {
        seq,
        kind: kind?,
        data: data?,
    })
}

/// Settings of the event relay.
#[derive(Debug, Clone)]
pub struct EventSettings {
    /// Keep-alive interval of an open stream (`HEARTBEAT_SECS`).
    pub heartbeat: Duration,
    /// How long a job's events are kept after its last event (`EVENTS_RETENTION_SECS`).
    pub retention: Duration,
    /// At most this many events are kept per job, oldest dropped first (`EVENTS_MAX_LEN`).
    pub max_len: u64,
    /// Events one stream may fall behind before it is told and closed (`RELAY_BUFFER_EVENTS`).
    pub relay_buffer: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_their_type_tag() {
        let event = Event::progress(1, 3, "generating", "batch 1 of 3");
        let json: Value = serde_json::from_str(&StoredEvent::from_event(4, &event).data).unwrap();
        assert_eq!(json["type"], "progress");
        assert_eq!(json["stage"], "generating");
        assert_eq!(
            serde_json::to_value(Event::Heartbeat {}).unwrap()["type"],
            "heartbeat"
        );
        let done = Event::done(JobStatus::Cancelled, None, None);
        assert_eq!(done.kind(), serde_json::to_value(&done).unwrap()["type"]);
    }

    #[test]
    fn pubsub_messages_round_trip() {
        let job = Uuid::now_v7();
        let event = StoredEvent::from_event(17, &Event::progress(2, 5, "saving", "a b c"));
        let (decoded_job, decoded) = StoredEvent::decode(&event.encode(job)).unwrap();
        assert_eq!(decoded_job, job);
        assert_eq!(decoded, event);
        assert!(StoredEvent::decode("nonsense").is_none());
        assert!(StoredEvent::decode(&format!("{job} x progress {{}}")).is_none());
    }
}
