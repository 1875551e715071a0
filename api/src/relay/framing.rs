//! How a stream is written on the wire: SSE (`text/event-stream`: `id`, `event` and `data`
//! lines) or NDJSON (one JSON object a line), and which one a request asks for.

use almanac_shared::events::{Event, StoredEvent};
use bytes::Bytes;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `text/event-stream`: `id`, `event` and `data` lines.
    Sse,
    /// `application/x-ndjson`: one JSON object a line, with `type` and `id`.
    Ndjson,
}

impl Framing {
    /// The framing the client's `Accept` asks for: SSE when it names `text/event-stream`,
    /// NDJSON when it names `application/x-ndjson`, none when it names neither.
    pub fn requested(request: &poem::Request) -> Option<Framing> {
        let accept = request
            .headers()
            .get(poem::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if accept.contains("text/event-stream") {
            Some(Framing::Sse)
        } else if accept.contains("application/x-ndjson") {
            Some(Framing::Ndjson)
        } else {
            None
        }
    }

    /// The documented 200 answer of a stream of `event` objects, in both framings: each
    /// NDJSON line is an `event`; each SSE frame an [`SseFrame`] whose `data` is one.
    pub fn documented(
        description: &'static str,
        event: &'static str,
    ) -> poem_openapi::registry::MetaResponse {
        use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaSchemaRef};
        MetaResponse {
            description,
            status: Some(200),
            status_range: None,
            content: vec![
                MetaMediaType {
                    content_type: Framing::Sse.content_type(),
                    schema: <SseFrame as poem_openapi::types::Type>::schema_ref(),
                },
                MetaMediaType {
                    content_type: Framing::Ndjson.content_type(),
                    schema: MetaSchemaRef::Reference(event.into()),
                },
            ],
            headers: vec![],
        }
    }

    /// A `text/event-stream` answer only (the console's live stream), its frames' data each
    /// a `data` object (documented beside it).
    pub fn documented_sse(description: &'static str) -> poem_openapi::registry::MetaResponse {
        use poem_openapi::registry::{MetaMediaType, MetaResponse};
        MetaResponse {
            description,
            status: Some(200),
            status_range: None,
            content: vec![MetaMediaType {
                content_type: Framing::Sse.content_type(),
                schema: <SseFrame as poem_openapi::types::Type>::schema_ref(),
            }],
            headers: vec![],
        }
    }

    /// Registers what [`Framing::documented`] names.
    pub fn register(registry: &mut poem_openapi::registry::Registry) {
        <SseFrame as poem_openapi::types::Type>::register(registry);
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Framing::Sse => "text/event-stream",
            Framing::Ndjson => "application/x-ndjson",
        }
    }

    /// One event on the wire; `seq` is `None` for events that are not stored (heartbeats,
    /// notices), which therefore do not move an `EventSource`'s last id.
    pub(crate) fn frame(self, seq: Option<u64>, kind: &str, data: &str) -> Bytes {
        let mut out = String::with_capacity(data.len() + kind.len() + 32);
        match self {
            Framing::Sse => {
                if let Some(seq) = seq {
                    out.push_str("id: ");
                    out.push_str(&seq.to_string());
                    out.push('\n');
                }
                out.push_str("event: ");
                out.push_str(kind);
                out.push_str("\ndata: ");
                out.push_str(data);
                out.push_str("\n\n");
            }
            Framing::Ndjson => {
                match (seq, data.strip_prefix('{')) {
                    (Some(seq), Some(rest)) => {
                        out.push_str("{\"id\":");
                        out.push_str(&seq.to_string());
                        out.push(',');
                        out.push_str(rest);
                    }
                    _ => out.push_str(data),
                }
                out.push('\n');
            }
        }
        Bytes::from(out)
    }

    pub(super) fn stored(self, event: &StoredEvent) -> Bytes {
        metrics::counter!("relay_events_total").increment(1);
        self.frame(Some(event.seq), &event.kind, &event.data)
    }

    /// The HTTP response carrying a stream in this framing (unbuffered by proxies).
    pub fn response(self, body: poem::Body) -> poem::Response {
        poem::Response::builder()
            .content_type(self.content_type())
            .header("cache-control", "no-cache")
            .header("x-accel-buffering", "no")
            .body(body)
    }

    pub(super) fn notice(self, event: &Event) -> Bytes {
        let data = serde_json::to_string(event).expect("events serialise");
        self.frame(None, event.kind(), &data)
    }
}

/// One frame of a `text/event-stream` answer as it is on the wire.
#[derive(poem_openapi::Object)]
pub struct SseFrame {
    /// The event's type (`progress`, `entry`, `done`, `heartbeat`, ...).
    pub event: String,
    /// The event itself, as JSON text: the same object an NDJSON line holds.
    pub data: String,
    /// Its sequence number, for `Last-Event-ID`; absent on frames that are not stored
    /// (heartbeats, notices).
    #[oai(skip_serializing_if_is_none)]
    pub id: Option<String>,
}
