//! Where events are written in Redis: the per-job streams, the staged events of a commit,
//! and the scripts that append and publish them (see the parent module's documentation).

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Event, channel, job_tag, stream_key};
use crate::{
    config::Settings,
    jobs::JobRecord,
    redis_conn::RedisConn,
    trips::{self, Step},
};

/// When job `job` was created, in Unix milliseconds (0 for an id that is not a UUIDv7).
fn created_ms(job: Uuid) -> u64 {
    job.get_timestamp().map_or(0, |at| {
        let (secs, nanos) = at.to_unix();
        secs * 1000 + u64::from(nanos) / 1_000_000
    })
}

/// The key of the events a job's next commit staged (see the parent module's documentation).
pub fn staged_key(settings: &Settings, job: Uuid) -> String {
    job_tag(settings, job, "staged")
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
    /// `PUBLISH`, or `SPUBLISH` on a cluster.
    publish: &'static str,
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

/// The sequence number of stream `key`'s last entry and the value of its field `name`
/// (both `nil` when the stream is empty or missing).
macro_rules! lua_last_field {
    () => {
        r"
local function last_field(key, name)
  local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
  if not last[1] then return nil, nil end
  local fields = last[1][2]
  for i = 1, #fields, 2 do
    if fields[i] == name then return string.sub(last[1][1], 3), fields[i + 1] end
  end
  return string.sub(last[1][1], 3), nil
end"
    };
}

/// Appends one event (`ARGV[4]` its type, `ARGV[5]` its JSON) and publishes it on the
/// job's channel `ARGV[3]` with the command `ARGV[11]` (`PUBLISH`, or `SPUBLISH` on a
/// cluster, where the channel shares the stream's hash tag and so its shard).
///
/// `ARGV[7]` is the emit's nonce, kept on the entry. `ARGV[10]` is `1` when the emit is
/// sent again after a reconnect (see `redis_conn`): whether its first sending ran is
/// unknown, so it looks for its nonce on the stream's last entry and returns that entry's
/// number instead of appending the event twice (only then: the look costs as much as the
/// append). `ARGV[8]` is `1` for the job's first event, `ARGV[9]` the job's creation in
/// Unix milliseconds.
const EMIT: &str = concat!(
    lua_next_id!(),
    lua_last_field!(),
    r"
if ARGV[10] == '1' then
  local seq, nonce = last_field(KEYS[1], 'n')
  if nonce == ARGV[7] then return seq end
end",
    r"
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], next_id(KEYS[1], ARGV[8], ARGV[9]), 't', ARGV[4], 'd', ARGV[5], 'n', ARGV[7])
redis.call('EXPIRE', KEYS[1], ARGV[2])
local seq = string.sub(id, 3)
redis.call(ARGV[11], ARGV[3], ARGV[6] .. ' ' .. seq .. ' ' .. ARGV[4] .. ' ' .. ARGV[5])
return seq"
);

/// Publishes committed events: those staged under the token `ARGV[5]` unless already
/// published (or, when nothing is staged for the job and `ARGV[8]` is `1`, the events in
/// `ARGV[12..]`, which the caller holds: its staging failed, or Redis lost what it staged),
/// then, when `ARGV[6]` is `1`, the job's final event `ARGV[7]`. A final publish does
/// nothing if the stream already ends with the final event. All appended events go out as
/// one notification. Either way, the token is then marked published, so a repeat of the
/// same call appends nothing. `ARGV[9]` is the job's creation in Unix milliseconds (see
/// `lua_next_id`), `ARGV[11]` the publishing command (as for [`EMIT`]).
///
/// When the token's staged events are gone (Redis lost them: a flush, a restart) and the
/// caller holds none, the batch was committed but cannot be told: `ARGV[10]` says what to
/// do. `ask`: append nothing and return -1 (the worker that staged them sends them along).
/// `gap`: append a `truncated` marker in their place, which every stream reads as a
/// truncation notice, so no stream passes over the lost batch in silence.
const PUBLISH_COMMITTED: &str = concat!(
    lua_next_id!(),
    lua_last_field!(),
    r#"
if ARGV[6] == '1' then
  local _, kind = last_field(KEYS[1], 't')
  if kind == 'done' then return 0 end
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
  for i = 12, #ARGV, 2 do events[#events + 1] = {ARGV[i], ARGV[i + 1]} end
  redis.call('SET', KEYS[2], cjson.encode({token = ARGV[5], published = true}), 'EX', ARGV[2])
elseif ARGV[5] ~= '' then
  if ARGV[10] == 'ask' then return -1 end
  events[1] = {'truncated', '{"type":"truncated","after":0}'}
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
redis.call(ARGV[11], ARGV[3], table.concat(lines, '\n'))
return #events"#
);

impl Emitter {
    pub fn new(settings: &Settings, conn: RedisConn) -> Self {
        Self {
            publish: conn.publish_command(),
            conn,
            settings: std::sync::Arc::new(settings.clone()),
        }
    }

    /// The events' Redis answers a `PING` (a worker's readiness).
    pub async fn ping(&self) -> redis::RedisResult<()> {
        self.conn.ping().await
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
        self.append(job, event.kind(), &data, first).await
    }

    /// Appends an event of a topic that is not a job's (a calendar's live changes,
    /// `kind` its SSE name, `data` its JSON) to the topic's stream and publishes it, as
    /// [`Emitter::emit`] does a job's: the same relay reads and resumes it.
    pub async fn emit_raw(
        &self,
        topic: Uuid,
        kind: &'static str,
        data: &str,
    ) -> redis::RedisResult<u64> {
        self.append(topic, kind, data, false).await
    }

    async fn append(
        &self,
        job: Uuid,
        kind: &'static str,
        data: &str,
        first: bool,
    ) -> redis::RedisResult<u64> {
        static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(EMIT));
        let events = &self.settings.events;
        let (key, channel, nonce) = (
            stream_key(&self.settings, job),
            channel(&self.settings, job),
            format!("{:016x}", rand::random::<u64>()),
        );
        let seq: String = trips::within(
            Step::Events,
            self.conn.invoke_resent(|resent| {
                let mut invocation = SCRIPT.key(&key);
                invocation
                    .arg(events.max_len)
                    .arg(events.retention.as_secs().max(1))
                    .arg(&channel)
                    .arg(kind)
                    .arg(data)
                    .arg(job.to_string())
                    .arg(&nonce)
                    .arg(if first { "1" } else { "0" })
                    .arg(created_ms(job))
                    .arg(if resent { "1" } else { "0" })
                    .arg(self.publish);
                invocation
            }),
        )
        .await?;
        let seq = seq.parse().map_err(|_| {
            redis::RedisError::from((
                redis::ErrorKind::UnexpectedReturnType,
                "event id is not a number",
            ))
        })?;
        metrics::counter!("events_emitted_total", "type" => kind).increment(1);
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
        let staged = trips::within(
            Step::Events,
            redis::cmd("SET")
                .arg(staged_key(&self.settings, job))
                .arg(serde_json::to_string(&entry).expect("entries serialise"))
                .arg("EX")
                .arg(self.settings.events.retention.as_secs().max(1))
                .query_async::<()>(&mut conn),
        )
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
            .publish_committed(job, Some(staged.token), Some(staged), None)
            .await
        {
            metrics::counter!("events_emit_errors_total").increment(staged.events.len() as u64);
            tracing::warn!(job_id = %job, error = %error, "publishing a commit's events failed");
        }
    }

    /// Publishes what an earlier attempt staged for a commit it made (`token`, the
    /// ledger's) but did not live to publish.
    pub async fn publish_staged(&self, job: Uuid, token: Uuid) -> redis::RedisResult<u64> {
        self.publish_committed(job, Some(token), None, None).await
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
        let token = staged.map_or(token, |staged| Some(staged.token));
        self.publish_committed(job, token, staged, Some(done)).await
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

    /// Publishes what a commit staged (see [`PUBLISH_COMMITTED`]). A caller that holds the
    /// events (`staged`) sends them along when Redis lost its copy; one that does not
    /// (a repair after the worker's death) leaves a gap marker in their place.
    async fn publish_committed(
        &self,
        job: Uuid,
        token: Option<Uuid>,
        staged: Option<&Staged>,
        done: Option<&Event>,
    ) -> redis::RedisResult<u64> {
        let fallback = staged.map_or(&[][..], Staged::fallback);
        let lost = self
            .invoke_publish(job, token, fallback, done, staged.is_some())
            .await?;
        if lost >= 0 {
            return Ok(lost as u64);
        }
        // Redis lost what this worker staged (a flush, a restart): it holds them still.
        metrics::counter!("events_restaged_total").increment(1);
        let events = staged.map_or(&[][..], |s| s.events.as_slice());
        let appended = self.invoke_publish(job, token, events, done, false).await?;
        Ok(appended.max(0) as u64)
    }

    async fn invoke_publish(
        &self,
        job: Uuid,
        token: Option<Uuid>,
        fallback: &[Event],
        done: Option<&Event>,
        ask_when_lost: bool,
    ) -> redis::RedisResult<i64> {
        let events = &self.settings.events;
        static SCRIPT: LazyLock<redis::Script> =
            LazyLock::new(|| redis::Script::new(PUBLISH_COMMITTED));
        let mut invocation = SCRIPT.key(stream_key(&self.settings, job));
        invocation
            .key(staged_key(&self.settings, job))
            .arg(events.max_len)
            .arg(events.retention.as_secs().max(1))
            .arg(channel(&self.settings, job))
            .arg(job.to_string())
            .arg(token.map(|t| t.to_string()).unwrap_or_default())
            .arg(if done.is_some() { "1" } else { "0" })
            .arg(
                done.map(|d| serde_json::to_string(d).expect("events serialise"))
                    .unwrap_or_default(),
            )
            .arg(if fallback.is_empty() { "0" } else { "1" })
            .arg(created_ms(job))
            .arg(if ask_when_lost { "ask" } else { "gap" })
            .arg(self.publish);
        for event in fallback {
            invocation
                .arg(event.kind())
                .arg(serde_json::to_string(event).expect("events serialise"));
        }
        let mut conn = self.conn.clone();
        let appended: i64 = trips::within(Step::Events, invocation.invoke_async(&mut conn)).await?;
        if appended > 0 {
            metrics::counter!("events_emitted_total", "type" => "committed")
                .increment(appended as u64);
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

    /// A change of `calendar` on its live stream (`kind` one of [`super::ENTRY_CHANGED`],
    /// [`super::CALENDAR_CHANGED`], [`super::PRESENCE`]; `data` its JSON), logged instead
    /// of failing: the change is made, and the open copies read the calendar again when
    /// they resume.
    pub async fn announce(&self, calendar: Uuid, kind: &'static str, data: &serde_json::Value) {
        if let Err(error) = self.emit_raw(calendar, kind, &data.to_string()).await {
            metrics::counter!("events_emit_errors_total").increment(1);
            tracing::warn!(calendarId = %calendar, event = kind, error = %error, "announcing a calendar change failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`EMIT`] against the Redis `make test` provides (`REDIS_URL`).
    #[tokio::test]
    async fn an_emit_sent_again_appends_only_when_its_first_sending_did_not_run() {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let client = redis::Client::open(url).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let job = Uuid::now_v7();
        let key = format!("almanac-unit:{{{job}}}:stream");
        let script = redis::Script::new(EMIT);
        let mut emit = async |nonce: &str, first: bool, resent: bool| -> String {
            script
                .key(&key)
                .arg(100)
                .arg(60)
                .arg(format!("almanac-unit:{{{job}}}:events"))
                .arg("progress")
                .arg("{}")
                .arg(job.to_string())
                .arg(nonce)
                .arg(if first { "1" } else { "0" })
                .arg(created_ms(job))
                .arg(if resent { "1" } else { "0" })
                .arg("PUBLISH")
                .invoke_async(&mut conn)
                .await
                .unwrap()
        };
        assert_eq!(emit("a", true, false).await, "1");
        // The first sending ran and its answer was lost: the same number, nothing appended.
        assert_eq!(emit("a", true, true).await, "1");
        // The first sending never arrived: the event is appended.
        assert_eq!(emit("b", false, true).await, "2");
        assert_eq!(emit("b", false, true).await, "2");
        let len: u64 = redis::cmd("XLEN")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        let _: () = redis::cmd("DEL")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(len, 2, "no event twice");
    }
}
