//! A request's body as the middleware holds it: limited in size and time, and what the
//! endpoint left unread drained before the answer, so keep-alive survives a refusal.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use futures::{StreamExt, stream::BoxStream};
use poem::{
    Request, Response,
    http::{HeaderValue, StatusCode, header},
};

use crate::route_table::{RouteEntry, route_takes_body};

/// The request body as the endpoint reads it, shared with the middleware, which drains what
/// the endpoint left unread (a request refused before its body was read: 401, 404, 405,
/// 415) so that the connection can serve the client's next request.
#[derive(Clone)]
pub(super) struct SharedBody(Arc<tokio::sync::Mutex<BoxStream<'static, std::io::Result<Bytes>>>>);

/// How long an unread body may take to arrive before the connection is closed instead.
pub(super) const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

impl SharedBody {
    fn wrap(req: &mut Request) -> Self {
        let shared = Self(Arc::new(tokio::sync::Mutex::new(
            req.take_body().into_bytes_stream().boxed(),
        )));
        let reader = shared.clone();
        req.set_body(poem::Body::from_bytes_stream(futures::stream::unfold(
            reader,
            |reader| async move {
                let next = reader.0.lock().await.next().await;
                next.map(|chunk| (chunk, reader))
            },
        )));
        shared
    }

    /// Reads what is left (at most the declared length, which the limit allowed); false
    /// when it could not be, so the connection must close.
    pub(super) async fn drain(&self) -> bool {
        let drained = async {
            let mut stream = self.0.lock().await;
            while let Some(chunk) = stream.next().await {
                if chunk.is_err() {
                    return false;
                }
            }
            true
        };
        tokio::time::timeout(DRAIN_TIMEOUT, drained)
            .await
            .unwrap_or(false)
    }
}

/// The request's body, cut off with an error at `deadline`; `timed_out` tells the
/// middleware that it was, so the answer is 408 whatever the endpoint made of the error.
pub(super) fn body_until(
    body: poem::Body,
    deadline: tokio::time::Instant,
    timed_out: Arc<std::sync::atomic::AtomicBool>,
) -> poem::Body {
    let stream = body.into_bytes_stream().boxed();
    let limited = futures::stream::unfold(Some(stream), move |stream| {
        let timed_out = timed_out.clone();
        async move {
            let mut stream = stream?;
            match tokio::time::timeout_at(deadline, stream.next()).await {
                Ok(Some(chunk)) => Some((chunk, Some(stream))),
                Ok(None) => None,
                Err(_) => {
                    timed_out.store(true, std::sync::atomic::Ordering::Release);
                    let error = std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the request body did not arrive in time",
                    );
                    Some((Err(error), None))
                }
            }
        }
    });
    // Whoever reads it may ask again after its end (the drain does).
    poem::Body::from_bytes_stream(limited.fuse())
}

/// What became of the request's body.
pub(super) enum BodyState {
    /// None declared, or read into memory already.
    Settled,
    /// Declared with a length within the limit (or chunked, for an operation that takes no
    /// body): the endpoint reads it through the share, if its operation takes a body (true).
    Shared(SharedBody, bool),
    /// Refused unread (over the limit).
    Unread,
    /// Read by the operation as it arrives, under limits of its own: never drained.
    Streamed,
}

/// Rejects bodies over `max` bytes with 413: by `Content-Length` when given, otherwise by
/// reading at most `max + 1` bytes of a chunked body. An operation that takes no body
/// ignores one: it is drained (or, over the limit, the connection closes), never refused.
pub(super) async fn limit_body(
    mut req: Request,
    max: Option<usize>,
    route: Option<&'static RouteEntry>,
) -> Result<(Request, BodyState), poem::Error> {
    let Some(max) = max else {
        return Ok((req, BodyState::Streamed));
    };
    let too_large = || poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
    if declared.is_none_or(|len| len == 0) && !chunked {
        return Ok((req, BodyState::Settled));
    }
    let takes_body = route_takes_body(route, req.method().as_str());
    match declared {
        Some(len) if len > max as u64 && takes_body => Err(too_large()),
        Some(len) if len > max as u64 => Ok((req, BodyState::Unread)),
        Some(_) => {
            let shared = SharedBody::wrap(&mut req);
            Ok((req, BodyState::Shared(shared, takes_body)))
        }
        None if !takes_body => {
            let shared = SharedBody::wrap(&mut req);
            Ok((req, BodyState::Shared(shared, false)))
        }
        None => {
            use tokio::io::AsyncReadExt;
            let mut buf = Vec::new();
            req.take_body()
                .into_async_read()
                .take(max as u64 + 1)
                .read_to_end(&mut buf)
                .await
                .map_err(|e| poem::Error::new(e, StatusCode::BAD_REQUEST))?;
            if buf.len() > max {
                return Err(too_large());
            }
            req.set_body(buf);
            Ok((req, BodyState::Settled))
        }
    }
}

/// Whether the request declares a body.
pub(super) fn has_body(req: &Request) -> bool {
    req.headers().contains_key(header::CONTENT_LENGTH)
        || req.headers().contains_key(header::TRANSFER_ENCODING)
}

/// The answer, saying the connection closes after it.
pub(super) fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The size of the request's head as sent: its request line and headers.
pub(super) fn head_bytes(req: &Request) -> usize {
    let target = req.uri().path_and_query().map_or(1, |p| p.as_str().len());
    let line = req.method().as_str().len() + target + " HTTP/1.1\r\n".len() + 1;
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + ": \r\n".len())
        .sum();
    line + headers
}
