//! A client for the job event stream: reads SSE or NDJSON frames off a real HTTP response.

use std::{pin::Pin, time::Duration};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde_json::Value;
use uuid::Uuid;

use super::TestApp;

/// One event as the client saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub id: Option<u64>,
    pub kind: String,
    pub data: Value,
}

pub struct EventReader {
    body: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    buffer: String,
    ndjson: bool,
}

/// How a stream is opened.
#[derive(Debug, Clone, Default)]
pub struct Open {
    pub ndjson: bool,
    pub last_event_id: Option<String>,
    pub after: Option<u64>,
    /// Use `?access_token=` instead of the header.
    pub query_token: bool,
}

impl Open {
    /// Resuming with `Last-Event-ID`.
    pub fn resuming(id: &str) -> Self {
        Self {
            last_event_id: Some(id.to_owned()),
            ..Self::default()
        }
    }

    pub fn ndjson() -> Self {
        Self {
            ndjson: true,
            ..Self::default()
        }
    }

    /// The token as `?access_token=`, as a browser's `EventSource` sends it.
    pub fn query_token() -> Self {
        Self {
            query_token: true,
            ..Self::default()
        }
    }
}

impl TestApp {
    /// Opens `GET /v1/jobs/{job}/events` and returns the raw response.
    pub async fn open_events_raw(&self, user: Uuid, job: Uuid, open: &Open) -> reqwest::Response {
        let mut url = format!("{}/v1/jobs/{job}/events?", self.address);
        if let Some(after) = open.after {
            url.push_str(&format!("after={after}&"));
        }
        let mut request = if open.query_token {
            url.push_str(&format!("access_token={}", self.token(user)));
            self.client.get(url)
        } else {
            self.client.get(url).bearer_auth(self.token(user))
        };
        if open.ndjson {
            request = request.header("accept", "application/x-ndjson");
        }
        if let Some(id) = &open.last_event_id {
            request = request.header("last-event-id", id);
        }
        request.send().await.expect("request sent")
    }

    /// Opens the event stream, asserting 200 and the framing's content type.
    pub async fn open_events(&self, user: Uuid, job: Uuid, open: Open) -> EventReader {
        let response = self.open_events_raw(user, job, &open).await;
        assert_eq!(response.status(), 200, "opening the event stream");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let expected = if open.ndjson {
            "application/x-ndjson"
        } else {
            "text/event-stream"
        };
        assert!(content_type.starts_with(expected), "{content_type}");
        EventReader::from_response(response, open.ndjson)
    }
}

impl TestApp {
    /// `POST /v1/jobs/{job}/cancel` as `user`.
    pub async fn cancel(&self, user: Uuid, job: Uuid) -> (u16, Value) {
        let response = self
            .client
            .post(self.url(&format!("/v1/jobs/{job}/cancel")))
            .bearer_auth(self.token(user))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The ledger status of a job.
    pub async fn job_status(&self, job: Uuid) -> String {
        sqlx::query_scalar("select status from jobs where id = $1")
            .bind(job)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    /// Every event of a stream until the server ends it (heartbeats left out).
    pub async fn all_events(&self, user: Uuid, job: Uuid, open: Open) -> Vec<Frame> {
        self.open_events(user, job, open).await.rest().await
    }
}

impl EventReader {
    pub fn from_response(response: reqwest::Response, ndjson: bool) -> Self {
        EventReader {
            body: Box::pin(response.bytes_stream()),
            buffer: String::new(),
            ndjson,
        }
    }

    /// The next frame, heartbeats included; `None` when the server ended the stream.
    /// Fails the test if nothing arrives for 15 s, or the connection fails.
    pub async fn next(&mut self) -> Option<Frame> {
        self.try_next()
            .await
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// [`EventReader::next`], telling a failed or cut connection instead of failing the
    /// test: what a client that reconnects needs.
    pub async fn try_next(&mut self) -> Result<Option<Frame>, String> {
        loop {
            if let Some(frame) = self.parse_one() {
                return Ok(Some(frame));
            }
            let chunk = tokio::time::timeout(Duration::from_secs(15), self.body.next())
                .await
                .map_err(|_| "the stream went silent for 15 s".to_owned())?;
            match chunk {
                Some(Ok(bytes)) => self.buffer.push_str(std::str::from_utf8(&bytes).unwrap()),
                Some(Err(error)) => return Err(format!("stream error: {error}")),
                None if self.buffer.trim().is_empty() => return Ok(None),
                None => return Err(format!("stream ended mid-frame: {:?}", self.buffer)),
            }
        }
    }

    /// The next frame that is not a heartbeat.
    pub async fn next_event(&mut self) -> Option<Frame> {
        loop {
            match self.next().await {
                Some(frame) if frame.kind == "heartbeat" => continue,
                other => return other,
            }
        }
    }

    /// Every non-heartbeat frame until the server ends the stream.
    pub async fn rest(&mut self) -> Vec<Frame> {
        let mut frames = Vec::new();
        while let Some(frame) = self.next_event().await {
            frames.push(frame);
        }
        frames
    }

    fn parse_one(&mut self) -> Option<Frame> {
        if self.ndjson {
            let end = self.buffer.find('\n')?;
            let line: String = self.buffer.drain(..=end).collect();
            let data: Value = serde_json::from_str(line.trim()).expect("an NDJSON line is JSON");
            return Some(Frame {
                id: data["id"].as_u64(),
                kind: data["type"].as_str().expect("a type").to_owned(),
                data,
            });
        }
        loop {
            let end = self.buffer.find("\n\n")?;
            let block: String = self.buffer.drain(..end + 2).collect();
            let (mut id, mut kind, mut data) = (None, None, None);
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = Some(v.parse().expect("numeric id"));
                } else if let Some(v) = line.strip_prefix("event: ") {
                    kind = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str(v).expect("data is JSON"));
                }
            }
            // A block with only `retry:` sets the reconnection delay; no event.
            if let (Some(kind), Some(data)) = (kind, data) {
                return Some(Frame { id, kind, data });
            }
        }
    }
}

/// Frames without their framing: NDJSON repeats the id inside the object.
pub fn plain(frames: &[Frame]) -> Vec<(Option<u64>, String, Value)> {
    frames
        .iter()
        .map(|f| {
            let mut data = f.data.clone();
            data.as_object_mut().unwrap().remove("id");
            (f.id, f.kind.clone(), data)
        })
        .collect()
}

/// The stored events of a complete sequence: ids 1..=n in order, ending with `done`.
pub fn assert_complete(frames: &[Frame]) {
    assert!(!frames.is_empty(), "no events");
    for (i, frame) in frames.iter().enumerate() {
        assert_eq!(
            frame.id,
            Some(i as u64 + 1),
            "ids must be 1, 2, 3...: {frames:#?}"
        );
    }
    assert_eq!(frames.last().unwrap().kind, "done", "{frames:#?}");
    assert_eq!(
        frames.iter().filter(|f| f.kind == "done").count(),
        1,
        "one final event"
    );
}
