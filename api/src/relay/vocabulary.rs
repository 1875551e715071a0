//! The words a stream speaks. Every job's events are stored alike; an organic stream
//! (seed 003) says them in its contract's four types only, live, late or resumed:
//! keep-alives and a retried attempt are `progress` lines, lost history is an `error` with
//! `HISTORY_TRUNCATED`, and the final `done` becomes `complete {status, counts, jobId,
//! error?}`, after exactly one run-level `error` line when the week did not succeed (its
//! code and what was kept), so that a client that reads only the seed's fields sees it. Every organic
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
            return ending(
                framing,
                (event.seq.saturating_sub(1), event.seq),
                job,
                &done,
            );
        }
        if &*event.kind == "error"
            && let Ok(line) = serde_json::from_str::<Value>(&event.data)
            && line["retrying"] == true
        {
            metrics::counter!("relay_events_total").increment(1);
            return framing.frame(
                Some(event.seq),
                "progress",
                &json!({
                    "type": "progress",
                    "completed": progress.completed,
                    "total": progress.total,
                    "message": line["message"],
                })
                .to_string(),
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
            return ending(framing, (last, last), job, &value);
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

/// Seed 003's last line(s) from a job's final `done` event: `complete` (numbered
/// `seq`), after one run-level `error` when the week did not succeed (numbered
/// `before`: the last id sent, as any line that is not stored).
fn ending(framing: Framing, (before, seq): (u64, u64), job: Uuid, done: &Value) -> Bytes {
    let complete = framing.frame(Some(seq), "complete", &complete(job, done).to_string());
    let status = done["status"].as_str().unwrap_or_default();
    if status == "succeeded" {
        return complete;
    }
    let code = done["error"]["code"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| status.to_ascii_uppercase());
    let why = match status {
        "cancelled" => "the week was cancelled".to_owned(),
        "timeout" => "the week ran out of time".to_owned(),
        _ => format!(
            "the week failed: {}",
            done["error"]["message"]
                .as_str()
                .unwrap_or("an unexpected error")
        ),
    };
    let kept = done["result"]["counts"]["placements"].as_u64().unwrap_or(0);
    let error = json!({
        "type": "error",
        "code": code,
        "message": format!(
            "{why}; {kept} placement{} made before it {} kept",
            if kept == 1 { "" } else { "s" },
            if kept == 1 { "is" } else { "are" }
        ),
    });
    let mut out = framing
        .frame(Some(before), "error", &error.to_string())
        .to_vec();
    out.extend_from_slice(&complete);
    Bytes::from(out)
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
        let ended = words.stored(
            Framing::Ndjson,
            job,
            &StoredEvent::from_event(20, &done),
            &mut progress,
        );
        let lines: Vec<Value> = std::str::from_utf8(&ended)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // A week that did not succeed says so in the seed's own words first.
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(
            (lines[0]["type"].as_str(), lines[0]["code"].as_str()),
            (Some("error"), Some("CANCELLED"))
        );
        assert!(lines[0].get("placementId").is_none());
        assert_eq!(
            lines[0]["message"],
            "the week was cancelled; 13 placements made before it are kept"
        );
        assert_eq!(lines[0]["id"], 19);
        let last = &lines[1];
        assert_eq!(last["type"], "complete");
        assert_eq!(last["id"], 20);
        assert_eq!(last["status"], "cancelled");
        assert_eq!(last["counts"]["placements"], 13);
        assert_eq!(last["jobId"], job.to_string());
        assert_eq!(last["error"]["code"], "CANCELLED");
        // A retried attempt is progress, not an error.
        let retry = Event::Error {
            code: Some("AI_PROVIDER_UNAVAILABLE".into()),
            message: "attempt 1 of 3 failed; retrying".into(),
            placement_id: None,
            retrying: true,
        };
        let said = line(&words.stored(
            Framing::Ndjson,
            job,
            &StoredEvent::from_event(21, &retry),
            &mut progress,
        ));
        assert_eq!(
            (
                said["type"].as_str(),
                said["completed"].as_u64(),
                said["id"].as_u64()
            ),
            (Some("progress"), Some(2), Some(21))
        );
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
