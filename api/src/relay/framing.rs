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

/// How a request that may be streamed is answered (`POST /v1/ai/calendar`, and the
/// continuation of a run). Seed 000's endpoint streams: a client
/// that names nothing gets the stream (SSE). `Prefer: respond-async` (RFC 7240) asks for
/// 202 whatever `Accept` says; otherwise `Accept`, ordered by q-value, decides: NDJSON when
/// `application/x-ndjson` ranks first, 202 when `application/json` ranks first and no
/// stream type, `text/*` or `*/*` is acceptable, SSE in every other case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerAs {
    Stream(Framing),
    /// 202, because `Accept` asked only for JSON.
    Async,
    /// 202, because `Prefer: respond-async` asked for it (`Preference-Applied` says so).
    AsyncPreferred,
}

impl AnswerAs {
    pub fn negotiated(request: &poem::Request) -> Self {
        let header = |name| {
            request
                .headers()
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect::<Vec<_>>()
                .join(",")
        };
        let prefers_async = header(poem::http::header::HeaderName::from_static("prefer"))
            .split(',')
            .any(|preference| {
                let token = preference.split(';').next().unwrap_or_default().trim();
                token.eq_ignore_ascii_case("respond-async")
            });
        if prefers_async {
            return AnswerAs::AsyncPreferred;
        }
        Self::by_accept(&header(poem::http::header::ACCEPT))
    }

    /// The answer `Accept` (as sent) asks for.
    pub fn by_accept(accept: &str) -> Self {
        // Media ranges with their q-values, highest first (ties keep the client's order).
        let mut ranges: Vec<(String, f32)> = accept
            .split(',')
            .filter_map(|range| {
                let mut parts = range.split(';');
                let media = parts.next()?.trim().to_ascii_lowercase();
                if media.is_empty() {
                    return None;
                }
                let q = parts
                    .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
                    .find_map(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                Some((media, q))
            })
            .collect();
        ranges.sort_by(|a, b| b.1.total_cmp(&a.1));
        let first = ranges
            .first()
            .filter(|(_, q)| *q > 0.0)
            .map(|(m, _)| m.as_str());
        match first {
            Some("application/x-ndjson") => AnswerAs::Stream(Framing::Ndjson),
            Some("application/json") => {
                let streamable = ranges.iter().any(|(media, q)| {
                    *q > 0.0
                        && matches!(
                            media.as_str(),
                            "text/event-stream" | "application/x-ndjson" | "text/*" | "*/*"
                        )
                });
                if streamable {
                    AnswerAs::Stream(Framing::Sse)
                } else {
                    AnswerAs::Async
                }
            }
            _ => AnswerAs::Stream(Framing::Sse),
        }
    }

    /// The stream's framing; none for 202.
    pub fn framing(self) -> Option<Framing> {
        match self {
            AnswerAs::Stream(framing) => Some(framing),
            AnswerAs::Async | AnswerAs::AsyncPreferred => None,
        }
    }
}

#[cfg(test)]
mod answer_tests {
    use super::*;
    use poem::Request;

    #[test]
    fn the_calendar_streams_unless_json_alone_is_asked_for() {
        let sse = AnswerAs::Stream(Framing::Sse);
        let ndjson = AnswerAs::Stream(Framing::Ndjson);
        for (accept, answer) in [
            ("", sse),
            ("*/*", sse),
            ("text/*", sse),
            ("text/html", sse),
            ("text/event-stream", sse),
            ("application/x-ndjson", ndjson),
            ("application/x-ndjson, text/event-stream", ndjson),
            ("text/event-stream, application/x-ndjson", sse),
            ("application/json;q=0.5, application/x-ndjson", ndjson),
            ("application/json", AnswerAs::Async),
            ("application/json, text/event-stream;q=0", AnswerAs::Async),
            ("application/json, */*;q=0.1", sse),
            ("application/json, text/event-stream", sse),
            ("application/json;q=0.9, text/html;q=0.1", AnswerAs::Async),
            ("Application/JSON", AnswerAs::Async),
        ] {
            assert_eq!(AnswerAs::by_accept(accept), answer, "Accept: {accept}");
        }
    }

    #[test]
    fn prefer_respond_async_wins_over_accept() {
        let request = |prefer: &str, accept: &str| {
            Request::builder()
                .header("prefer", prefer)
                .header("accept", accept)
                .finish()
        };
        assert_eq!(
            AnswerAs::negotiated(&request("respond-async", "text/event-stream")),
            AnswerAs::AsyncPreferred
        );
        assert_eq!(
            AnswerAs::negotiated(&request("wait=10, Respond-Async", "")),
            AnswerAs::AsyncPreferred
        );
        assert_eq!(
            AnswerAs::negotiated(&request("return=minimal", "")),
            AnswerAs::Stream(Framing::Sse)
        );
    }
}
