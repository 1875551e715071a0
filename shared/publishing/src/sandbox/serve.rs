//! `PLATFORM_SANDBOX=true`: the platforms' fakes under [`PREFIX`] on the API's own port,
//! where the settings point the adapters (`config::publish`). Nothing is recorded beyond
//! what the platforms themselves keep, and that is bounded ([`MOST_KEPT`]).

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use poem::{Body, Endpoint, IntoResponse, Request, Response, http::StatusCode};

use super::{Call, State, route};

/// Where the sandbox answers.
pub const PREFIX: &str = "/sandbox";

/// Whether `path` is the sandbox's.
pub fn serves(path: &str) -> bool {
    path.strip_prefix(PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Of each thing a caller can make (posts, tokens, uploads), at most this many are kept.
const MOST_KEPT: usize = 10_000;

/// How much of a body a route reads (JSON and forms; an upload's bytes are only counted).
const BODY_KEPT: usize = 64 * 1024;

/// The largest body taken (LinkedIn's uploads of the largest video Almanac accepts).
const BODY_MOST: usize = 300 * 1024 * 1024;

/// The sandbox's platforms, reached at `base_url` (`<the API>/sandbox`).
#[derive(Clone)]
pub struct Sandbox(Arc<Mutex<State>>);

impl Sandbox {
    pub fn new(base_url: &str) -> Self {
        let mut state = State::new(base_url);
        state.lenient = true;
        Self(Arc::new(Mutex::new(state)))
    }
}

impl Endpoint for Sandbox {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let target = req.original_uri().clone();
        let path = target.path().strip_prefix(PREFIX).unwrap_or("/");
        let target = match target.query() {
            Some(query) => format!("{path}?{query}"),
            None => path.to_owned(),
        };
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let (kept, len) = match read_body(req.take_body()).await {
            Ok(read) => read,
            Err(status) => return Ok(status.into_response()),
        };
        let Some(call) = Call::read(req.method().as_str(), &target, headers, &kept, len) else {
            return Ok(StatusCode::BAD_REQUEST.into_response());
        };
        let (answer, reply_headers) = {
            let mut state = self.0.lock().expect("the sandbox's state");
            let answer = route(&mut state, &call);
            state.bound(MOST_KEPT);
            (answer, state.take_reply_headers())
        };
        // Dropped and stalled answers are the tests' faults; the sandbox never asks for them.
        let Some((status, json)) = answer.filter(|(status, _)| *status != 0) else {
            return Ok(StatusCode::BAD_GATEWAY.into_response());
        };
        let mut response = Response::builder()
            .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
        for (key, value) in reply_headers {
            response = response.header(key, value);
        }
        Ok(if json.is_null() {
            response.finish()
        } else {
            response
                .content_type("application/json")
                .body(json.to_string())
        })
    }
}

/// The first [`BODY_KEPT`] bytes of `body` and how many arrived in all; 413 past
/// [`BODY_MOST`].
async fn read_body(body: Body) -> Result<(Vec<u8>, usize), StatusCode> {
    let mut stream = body.into_bytes_stream();
    let (mut kept, mut len) = (Vec::new(), 0usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| StatusCode::BAD_REQUEST)?;
        len += chunk.len();
        if len > BODY_MOST {
            return Err(StatusCode::PAYLOAD_TOO_LARGE);
        }
        let room = BODY_KEPT.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..room.min(chunk.len())]);
    }
    Ok((kept, len))
}
