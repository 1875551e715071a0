//! The words a stream speaks. Every job's events are stored alike; an organic stream
//! (seed 003) says them in its contract's four types only, live, late or resumed:
//! keep-alives are `progress` lines, lost history is an `error` with `HISTORY_TRUNCATED`,
//! and the final `done` becomes `complete {status, counts, jobId, error?}`. Every organic
//! line carries an `id`: its own sequence number, or for a line that is not stored the id
//! of the last one sent (resuming after it loses nothing).

use almanac_shared::{
    events::{Event, StoredEvent},
    jobs::JobKind,
};
use bytes::Bytes;
use serde_json::{Value, json};
use uuid::Uuid;

use super::Framing;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vocabulary {
    /// Every kind but organic: `done` last, `heartbeat` and `truncated` notices.
    Common,
    /// Seed 003's `progress`, `placement`, `error` and `complete`.
    Organic,
}

/// The last progress an organic stream sent, which its keep-alives repeat.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    completed: u64,
    total: u64,
}

impl Vocabulary {
    pub fn of(kind: JobKind) -> Self {
        match kind {
            JobKind::Organic => Vocabulary::Organic,
            _ => Vocabulary::Common,
        }
    }

    /// A stored event.
    pub(super) fn stored(
        self,
        framing: Framing,
        job: Uuid,
        event: &StoredEvent,
        progress: &mut Progress,
    ) -> Bytes {
        if self == Vocabulary::Common {
            return framing.stored(event);
        }
        if event.is_final() {
            metrics::counter!("relay_events_total").increment(1);
            let done: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
            return framing.frame(
                Some(event.seq),
                "complete",
                &complete(job, &done).to_string(),
            );
        }
        if &*event.kind == "progress"
            && let Ok(line) = serde_json::from_str::<Value>(&event.data)
        {
            progress.completed = line["completed"].as_u64().unwrap_or(progress.completed);
            progress.total = line["total"].as_u64().unwrap_or(progress.total);
        }
        framing.stored(event)
    }

    /// An event that is not stored (an error about the stream, the ledger's final event).
    pub(super) fn notice(self, framing: Framing, job: Uuid, last: u64, event: &Event) -> Bytes {
        if self == Vocabulary::Common {
            return framing.notice(event);
        }
        let value = serde_json::to_value(event).expect("events serialise");
        if event.kind() == "done" {
            // Only the ledger's final event is framed so: the stream held none.
            return framing.frame(Some(last), "complete", &complete(job, &value).to_string());
        }
        framing.frame(Some(last), event.kind(), &value.to_string())
    }

    /// The keep-alive of an idle connection.
    pub(super) fn keep_alive(self, framing: Framing, last: u64, progress: Progress) -> Bytes {
        match self {
            Vocabulary::Common => framing.notice(&Event::Heartbeat {}),
            Vocabulary::Organic => framing.frame(
                Some(last),
                "progress",
                &json!({
                    "type": "progress",
                    "completed": progress.completed,
                    "total": progress.total,
                    "message": "still working",
                })
                .to_string(),
            ),
        }
    }

    /// Told first when events the client asked for are no longer retained.
    pub(super) fn truncated(
        self,
        framing: Framing,
        last: u64,
        first_available: Option<u64>,
    ) -> Bytes {
        match self {
            Vocabulary::Common => framing.notice(&Event::Truncated {
                after: last,
                first_available,
            }),
            Vocabulary::Organic => framing.frame(
                Some(last),
                "error",
                &json!({
                    "type": "error",
                    "code": "HISTORY_TRUNCATED",
                    "message": "events after this id are no longer retained; the saved week \
                                (GET /api/organic/brands/{id}/weeks/{weekStart}) has the placements",
                    "after": last,
                    "firstAvailable": first_available,
                })
                .to_string(),
            ),
        }
    }
}

/// Seed 003's last line from a job's final `done` event: `{type: "complete", status,
/// counts, jobId, error?}` plus the run's ids. The counts and ids are the job's result
/// (the run's summary); `job` names the job when the result does not.
fn complete(job: Uuid, done: &Value) -> Value {
    let result = &done["result"];
    let counts = match &result["counts"] {
        Value::Object(counts) => Value::Object(counts.clone()),
        _ => json!({ "placements": 0, "errors": 0, "adjusted": 0, "autoFilled": 0 }),
    };
    let job_id = match &result["jobId"] {
        Value::String(id) => Value::String(id.clone()),
        _ => Value::String(job.to_string()),
    };
    let mut line = json!({
        "type": "complete",
        "status": done["status"],
        "counts": counts,
        "jobId": job_id,
    });
    for field in ["runId", "brandProfileId", "weekStart"] {
        if let Some(value) = result.get(field) {
            line[field] = value.clone();
        }
    }
    if !done["error"].is_null() {
        line["error"] = done["error"].clone();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use almanac_shared::jobs::JobStatus;

    fn line(bytes: &Bytes) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn organic_streams_speak_seed_003_only() {
        let job = Uuid::now_v7();
        let words = Vocabulary::Organic;
        let mut progress = Progress::default();
        let seen = StoredEvent::from_event(3, &Event::progress(2, 14, "drafting", "2 of 14"));
        words.stored(Framing::Ndjson, job, &seen, &mut progress);
        let alive = line(&words.keep_alive(Framing::Ndjson, 3, progress));
        assert_eq!(
            (alive["type"].as_str(), alive["id"].as_u64()),
            (Some("progress"), Some(3))
        );
        assert_eq!(
            (alive["completed"].as_u64(), alive["total"].as_u64()),
            (Some(2), Some(14))
        );
        let lost = line(&words.truncated(Framing::Ndjson, 5, Some(9)));
        assert_eq!(
            (lost["type"].as_str(), lost["code"].as_str()),
            (Some("error"), Some("HISTORY_TRUNCATED"))
        );
        let result =
            json!({ "counts": { "placements": 13, "errors": 1, "adjusted": 2, "autoFilled": 12 } });
        let done = Event::done(
            JobStatus::Cancelled,
            Some(result),
            Some(json!({ "code": "CANCELLED" })),
        );
        let last = line(&words.stored(
            Framing::Ndjson,
            job,
            &StoredEvent::from_event(20, &done),
            &mut progress,
        ));
        assert_eq!(last["type"], "complete");
        assert_eq!(last["id"], 20);
        assert_eq!(last["status"], "cancelled");
        assert_eq!(last["counts"]["placements"], 13);
        assert_eq!(last["jobId"], job.to_string());
        assert_eq!(last["error"]["code"], "CANCELLED");
        let sse = words.keep_alive(Framing::Sse, 3, progress);
        assert!(
            std::str::from_utf8(&sse)
                .unwrap()
                .starts_with("id: 3\nevent: progress\n")
        );
    }

    #[test]
    fn other_streams_keep_their_words() {
        let words = Vocabulary::Common;
        let alive = line(&words.keep_alive(Framing::Ndjson, 3, Progress::default()));
        assert_eq!(alive["type"], "heartbeat");
        assert!(alive.get("id").is_none());
    }
}
