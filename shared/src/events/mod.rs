//! Job events (docs/architecture.md section 4): one protocol, two framings.
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
//!
//! Should Redis lose the staged events (a flush, a restart without persistence), the
//! worker that staged them still holds them and sends them along; a repairer, which does
//! not, leaves a `truncated` marker in their place. Every stream tells a marker, and any
//! hole in the numbering, as a truncation notice: a committed batch is delivered or
//! covered by a notice, never silently absent.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::{config::Settings, jobs::JobRecord, jobs::JobStatus};

mod history;
mod store;

pub use history::{History, history, last};
pub use store::{Emitter, Staged, staged_key};

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
        /// Seed 003: the placement that could not be made (the others go on).
        #[serde(
            rename = "placementId",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        placement_id: Option<String>,
        /// An attempt failed and the job is tried again: not an end (seed 003's streams say
        /// it as `progress`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        retrying: bool,
    },
    /// One placement of an organic week (seed 003), as saved.
    Placement { placement: Value },
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
    /// `basic` or `cloze` (absent in events written before card types: basic).
    #[serde(default)]
    pub card_type: crate::domain::generation::CardType,
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
            Event::Placement { .. } => "placement",
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
            for field in [
                "mode",
                "runId",
                "calendarId",
                "version",
                "persisted",
                "reason",
                "learnedFrom",
            ] {
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

    /// An `error` about the job as a whole.
    pub fn error(code: &str, message: impl Into<String>) -> Self {
        Event::Error {
            code: Some(code.to_owned()),
            message: message.into(),
            placement_id: None,
            retrying: false,
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

    /// The marker left where a committed batch was lost with Redis's copy of it: streams
    /// tell it as a truncation notice, never as an event.
    pub fn is_gap(&self) -> bool {
        &*self.kind == "truncated"
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

/// The hash tag every Redis key and channel of `job` carries, so that on a Redis Cluster
/// they live on one shard and one script may touch them all: `{<job id>}`.
fn job_tag(settings: &Settings, job: Uuid, what: &str) -> String {
    format!("{}:{{{job}}}:{what}", settings.redis_prefix)
}

/// A calendar's live stream (`GET /v1/calendars/{id}/live`): an entry added, edited or
/// deleted...
pub const ENTRY_CHANGED: &str = "entry.changed";
/// ...another change of the calendar (read it again)...
pub const CALENDAR_CHANGED: &str = "calendar.changed";
/// ...and who has it open now.
pub const PRESENCE: &str = "presence";
/// An entry's review moved (asked for, decided): the review as it is now.
pub const ENTRY_REVIEW: &str = "entry.review";
/// A comment was added to an entry: the comment.
pub const COMMENT_ADDED: &str = "comment.added";
/// A comment was changed (the comment as it is now) or deleted (`comment` null).
pub const COMMENT_CHANGED: &str = "comment.changed";

/// Who has a calendar open (`<prefix>:{<calendar id>}:presence`): a sorted set of the
/// live streams watching it, each scored by when it lapses unless its stream beats again.
pub fn presence_key(settings: &Settings, calendar: Uuid) -> String {
    job_tag(settings, calendar, "presence")
}

/// The Redis stream holding a job's events.
pub fn stream_key(settings: &Settings, job: Uuid) -> String {
    job_tag(settings, job, "stream")
}

/// The job's live channel (`<prefix>:{<job id>}:events`): an API process subscribes to it
/// while it serves a watcher of the job, so each process receives only the events it
/// relays. On a cluster it is a sharded channel, on the shard of the job's stream.
pub fn channel(settings: &Settings, job: Uuid) -> String {
    job_tag(settings, job, "events")
}

/// The job id a live channel's name carries; `None` for any other name.
pub fn channel_job(settings: &Settings, channel: &str) -> Option<Uuid> {
    let rest = channel.strip_prefix(settings.redis_prefix.as_str())?;
    let id = rest.strip_prefix(":{")?.strip_suffix("}:events")?;
    id.parse().ok()
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
