//! The words a stream speaks. Every job's events are stored alike; an organic stream
//! (seed 003) says them in its contract's four types only, live, late or resumed:
//! keep-alives and a retried attempt are `progress` lines, lost history is an `error` with
//! `HISTORY_TRUNCATED`, and the final `done` becomes `complete {status, counts, jobId,
//! error?}`, after exactly one run-level `error` line when the week did not succeed (its
//! code and what was kept), so that a client that reads only the seed's fields sees it. Every organic
//! line carries an `id`: its own sequence number, or for a line that is not stored the id
//! of the last one sent (resuming after it loses nothing).
//!
//! A calendar stream (seed 000) is made of `{data, error, meta}` envelopes: its entries, diff
//! and final frame are envelopes as stored, and every other frame (progress, keep-alive,
//! truncation notice) is given the envelope's three fields beside its own, `meta.done`
//! false, so that a client reading `meta.done` on every frame finds it on every frame. A
//! retried attempt is progress there too: only the final frame says how the run ended.

use almanac_shared::{
    events::{Event, StoredEvent},
    jobs::{JobKind, Words},
};
use bytes::Bytes;
use serde_json::{Value, json};
use uuid::Uuid;

use super::Framing;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vocabulary {
    /// Every kind but calendar and organic: `done` last, `heartbeat` and `truncated`
    /// notices.
    Common,
    /// Seed 000's envelopes, every frame: the common words, each with `data`, `error` and
    /// `meta` (`done` false until the final frame).
    Calendar,
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
    /// The words `kind` says its streams speak.
    pub fn of(kind: JobKind) -> Self {
        match kind.words() {
            Words::Common => Vocabulary::Common,
            Words::Calendar => Vocabulary::Calendar,
            Words::Organic => Vocabulary::Organic,
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
        match self {
            Vocabulary::Common => return framing.stored(event),
            Vocabulary::Calendar => return calendar_stored(framing, event, progress),
            Vocabulary::Organic => {}
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

    /// An event with its id, in these words, for a stream built in-process (not relayed).
    pub fn event(self, framing: Framing, job: Uuid, seq: u64, event: &Event) -> Bytes {
        let stored = StoredEvent::from_event(seq, event);
        self.stored(framing, job, &stored, &mut Progress::default())
    }

    /// An event that is not stored (an error about the stream, the ledger's final event).
    pub(super) fn notice(self, framing: Framing, job: Uuid, last: u64, event: &Event) -> Bytes {
        let value = serde_json::to_value(event).expect("events serialise");
        match self {
            Vocabulary::Common => return framing.notice(event),
            Vocabulary::Calendar => {
                return framing.frame(None, event.kind(), &enveloped(value).to_string());
            }
            Vocabulary::Organic => {}
        }
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
            Vocabulary::Calendar => framing.frame(
                None,
                "heartbeat",
                &enveloped(json!({ "type": "heartbeat" })).to_string(),
            ),
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
            Vocabulary::Calendar => {
                let notice = Event::Truncated {
                    after: last,
                    first_available,
                };
                let value = serde_json::to_value(&notice).expect("events serialise");
                framing.frame(None, "truncated", &enveloped(value).to_string())
            }
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

/// A stored event of a calendar stream: entries, diffs and the final frame pass as they
/// are (envelopes already); progress, and a retried attempt said as progress, get the
/// envelope's fields.
fn calendar_stored(framing: Framing, event: &StoredEvent, progress: &mut Progress) -> Bytes {
    if matches!(&*event.kind, "entry" | "diff" | "done") {
        return framing.stored(event);
    }
    let Ok(line) = serde_json::from_str::<Value>(&event.data) else {
        return framing.stored(event);
    };
    metrics::counter!("relay_events_total").increment(1);
    let (kind, line) = if &*event.kind == "error" && line["retrying"] == true {
        let said = json!({
            "type": "progress",
            "completed": progress.completed,
            "total": progress.total,
            "stage": "retrying",
            "message": line["message"],
        });
        ("progress", said)
    } else {
        if &*event.kind == "progress" {
            progress.completed = line["completed"].as_u64().unwrap_or(progress.completed);
            progress.total = line["total"].as_u64().unwrap_or(progress.total);
        }
        (&*event.kind, line)
    };
    framing.frame(Some(event.seq), kind, &enveloped(line).to_string())
}

/// A calendar frame that is not an envelope, given the envelope's three fields beside its
/// own: `data` what it reports (a progress's counts), `error` a problem it tells (`{code,
/// message}`), `meta` `{done: false}` (the final frame is the only one with `done` true).
fn enveloped(mut line: Value) -> Value {
    if line.get("meta").is_some() {
        return line;
    }
    let (data, error) = match line["type"].as_str().unwrap_or_default() {
        "progress" => {
            let mut data = json!({ "completed": line["completed"], "total": line["total"] });
            for field in ["stage", "message"] {
                if let Some(value) = line.get(field) {
                    data[field] = value.clone();
                }
            }
            (data, Value::Null)
        }
        "error" => (
            Value::Null,
            json!({ "code": line["code"], "message": line["message"] }),
        ),
        "truncated" => (
            Value::Null,
            json!({
                "code": "HISTORY_TRUNCATED",
                "message": "some events of this run are no longer retained; \
                            the saved calendar has its entries",
            }),
        ),
        _ => (Value::Null, Value::Null),
    };
    line["data"] = data;
    line["error"] = error;
    line["meta"] = json!({ "done": false });
    line
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
/// counts, jobId, error?}` plus the run's ids (and `learnedFrom`, the posts its AI was
/// shown). The counts and ids are the job's result
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
    for field in ["runId", "brandProfileId", "weekStart", "learnedFrom"] {
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
    fn every_calendar_frame_is_an_envelope_and_only_the_last_is_done() {
        let job = Uuid::now_v7();
        let words = Vocabulary::Calendar;
        let mut progress = Progress::default();
        let frames = [
            words.stored(
                Framing::Ndjson,
                job,
                &StoredEvent::from_event(1, &Event::queued(14)),
                &mut progress,
            ),
            words.stored(
                Framing::Ndjson,
                job,
                &StoredEvent::from_event(2, &Event::progress(3, 14, "generating", "3 of 14")),
                &mut progress,
            ),
            words.stored(
                Framing::Ndjson,
                job,
                &StoredEvent::from_event(
                    3,
                    &Event::Error {
                        code: Some("AI_PROVIDER_UNAVAILABLE".into()),
                        message: "attempt 1 of 3 failed; retrying".into(),
                        placement_id: None,
                        retrying: true,
                    },
                ),
                &mut progress,
            ),
            words.keep_alive(Framing::Ndjson, 3, progress),
            words.truncated(Framing::Ndjson, 3, Some(5)),
            words.event(
                Framing::Ndjson,
                job,
                6,
                &Event::done(JobStatus::Succeeded, Some(json!({ "entries": 14 })), None),
            ),
        ];
        let lines: Vec<Value> = frames.iter().map(line).collect();
        for frame in &lines {
            for field in ["data", "error", "meta"] {
                assert!(frame.get(field).is_some(), "{field} in {frame}");
            }
        }
        let done: Vec<bool> = lines.iter().map(|l| l["meta"]["done"] == true).collect();
        assert_eq!(done, [false, false, false, false, false, true]);
        // The progress's own fields stay where the web app reads them, and in `data`.
        assert_eq!(lines[1]["completed"], 3);
        assert_eq!(
            lines[1]["data"],
            json!({ "completed": 3, "total": 14, "stage": "generating", "message": "3 of 14" })
        );
        assert_eq!(lines[1]["error"], Value::Null);
        // A retried attempt is progress, with no error: the run goes on.
        assert_eq!(
            (lines[2]["type"].as_str(), lines[2]["id"].as_u64()),
            (Some("progress"), Some(3))
        );
        assert_eq!(lines[2]["data"]["completed"], 3);
        assert_eq!(lines[2]["error"], Value::Null);
        assert_eq!(lines[3]["type"], "heartbeat");
        assert_eq!(lines[4]["error"]["code"], "HISTORY_TRUNCATED");
        assert_eq!(lines[5]["data"]["entries"], 14);
    }

    #[test]
    fn other_streams_keep_their_words() {
        let words = Vocabulary::Common;
        let alive = line(&words.keep_alive(Framing::Ndjson, 3, Progress::default()));
        assert_eq!(alive["type"], "heartbeat");
        assert!(alive.get("id").is_none());
    }
}
