//! The HTTP server: hyper's HTTP/1.1 connections serving the poem endpoint.
//!
//! poem's own `Server` wraps every connection in hyper's HTTP/1-or-2 detecting builder,
//! which holds about 12 KiB more per connection (measured with an idle event stream:
//! 23.8 KiB per stream through poem's server, 11.9 KiB through this loop). An API process
//! holds thousands of open event streams, so it serves HTTP/1.1 itself; HTTP/2 is for the
//! load balancer in front. Slow request heads time out after 30 s; heads over 32 KiB are
//! answered 431. (Slow bodies are the middleware's: `BODY_TIMEOUT_SECS`.)

use std::{convert::Infallible, future::Future, net::SocketAddr, sync::Arc, time::Duration};

use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use poem::{
    Endpoint,
    endpoint::BoxEndpoint,
    http::uri::Scheme,
    web::{LocalAddr, RemoteAddr},
};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

type Body = http_body_util::combinators::BoxBody<bytes::Bytes, std::io::Error>;

/// The most a request's head may take: 32 KiB.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// Serves `endpoint` on `listener` until `shutdown` completes; then stops accepting, calls
/// `on_shutdown` (which ends long-lived responses such as event streams, whose clients
/// reconnect elsewhere), asks every connection to finish its current response, and waits
/// up to `grace` for them.
pub async fn serve(
    listener: TcpListener,
    endpoint: BoxEndpoint<'static>,
    shutdown: impl Future<Output = ()>,
    on_shutdown: impl FnOnce(),
    grace: Duration,
) {
    let endpoint = Arc::new(endpoint);
    let closing = CancellationToken::new();
    let connections = TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((socket, remote)) => {
                    connections.spawn(connection(socket, remote, endpoint.clone(), closing.clone()));
                }
                Err(error) => {
                    // Out of file descriptors, typically: pause rather than spin.
                    tracing::warn!(error = %error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    on_shutdown();
    closing.cancel();
    connections.close();
    if tokio::time::timeout(grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "connections still open after the shutdown grace; closing them"
        );
    }
}

async fn connection(
    socket: TcpStream,
    remote: SocketAddr,
    endpoint: Arc<BoxEndpoint<'static>>,
    closing: CancellationToken,
) {
    let _ = socket.set_nodelay(true);
    let Ok(local) = socket.local_addr() else {
        return;
    };
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let endpoint = endpoint.clone();
        async move {
            let request = poem::Request::from((
                request,
                LocalAddr(local.into()),
                RemoteAddr(remote.into()),
                Scheme::HTTP,
            ));
            let response = endpoint.get_response(request).await;
            Ok::<_, Infallible>(hyper::Response::<Body>::from(response))
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        // A request head (request line and headers) growing past this while it arrives is
        // answered 431 by hyper and the connection closed; one that arrived whole is
        // measured by the middleware.
        .max_header_size(MAX_HEAD_BYTES);
    let connection = builder
        .serve_connection(TokioIo::new(socket), service)
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        () = closing.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}
