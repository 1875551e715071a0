//! One watcher's stream: the stored history after its last id, then live events, with no
//! gap and no duplicate, ending after the job's final event. The transitions are
//! `machine.rs`'s; this driver reads the stored stream, waits on the hub, and runs the
//! repairs (`repairs.rs`) the machine asks for.

use almanac_shared::{
    events,
    jobs::{JobKind, JobRecord},
};
use bytes::Bytes;
use futures::Stream;
use uuid::Uuid;

use super::{
    Deps,
    framing::Framing,
    machine::{Action, PAGE, Relay},
    repairs,
    vocabulary::Vocabulary,
};

/// Counts the stream in `relay_streams_active` while it lives, and when it ends how it
/// ended in `stream_outcomes_total{route, kind, outcome}` (what the alerts on stream errors
/// and timeouts read; `kind` the job's, so a calendar followed on any route counts as one): the job's final status (`succeeded`, `failed`, `timeout`, `cancelled`),
/// `stream_error`, `lagged`, `server_closing`, `gone` (the job no longer exists), or
/// `disconnected` (the client left first).
pub(super) struct Active {
    route: &'static str,
    kind: &'static str,
    outcome: &'static str,
}

impl Active {
    pub(super) fn start(route: &'static str, kind: &'static str) -> Self {
        metrics::gauge!("relay_streams_active").increment(1.0);
        Active {
            route,
            kind,
            outcome: "disconnected",
        }
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        metrics::gauge!("relay_streams_active").decrement(1.0);
        count_outcome(self.route, self.kind, self.outcome);
    }
}

/// `stream_outcomes_total{route, kind, outcome}`: one stream of `route`, following a job
/// of `kind`, ended so.
pub fn count_outcome(route: &'static str, kind: &'static str, outcome: &'static str) {
    metrics::counter!("stream_outcomes_total", "route" => route, "kind" => kind, "outcome" => outcome)
        .increment(1);
}

/// One page of stored events. A connection that just broke (Redis restarted, a network
/// blip) is re-established by the next command, so a failed read is tried twice more.
async fn read_page(state: &Deps, job: Uuid, after: u64) -> redis::RedisResult<events::History> {
    let mut pause = std::time::Duration::from_millis(50);
    let mut tries = 0;
    loop {
        match events::history(&state.redis, &state.settings, job, after, PAGE).await {
            Ok(page) => return Ok(page),
            Err(error) if tries >= 2 => return Err(error),
            Err(_) => {
                tries += 1;
                tokio::time::sleep(pause).await;
                pause *= 4;
            }
        }
    }
}

/// The stream of `job`'s events after `after` (0: from the start), in the words of its
/// kind. `ended` is the job's ledger row when it had already ended as the request arrived;
/// `route` and the job's `kind` label the stream's outcome in the metrics. A calendar run's
/// stream has its `deadline`: a second past it, a run still going is ended `timeout` here
/// (`repairs::expire_run`) and its final event published, worker or not.
pub fn relay(
    state: Deps,
    job: Uuid,
    after: u64,
    ended: Option<JobRecord>,
    words: (Framing, Vocabulary),
    (route, kind): (&'static str, JobKind),
    deadline: Option<chrono::DateTime<chrono::Utc>>,
) -> impl Stream<Item = Bytes> + Send + 'static {
    // When to look again at a run that may be past its deadline.
    let expiry = deadline.map(|at| {
        let left = (at + chrono::Duration::seconds(1) - chrono::Utc::now())
            .to_std()
            .unwrap_or_default();
        tokio::time::Instant::now() + left
    });
    let mut relay = Relay::new(
        job,
        after,
        words,
        ended.is_some(),
        expiry,
        state.settings.jobs.heartbeat,
    );
    // Boxed: it is rarely there, and every idle stream would carry its size.
    let ended = ended.map(Box::new);
    async_stream::stream! {
        let mut active = Active::start(route, kind.as_str());
        // Subscribe first, then read the history: nothing falls between the two. (Boxed:
        // the wait for Redis's confirmation is over before the stream idles, and its size
        // would otherwise stay in every idle stream's state.)
        let mut subscription = Box::pin(state.hub.subscribe(job)).await;
        let mut step = relay.start();
        loop {
            for frame in std::mem::take(&mut step.frames) {
                yield frame;
            }
            step = match step.action {
                Action::End(outcome) => {
                    active.outcome = outcome;
                    return;
                }
                Action::ReadPage => match Box::pin(read_page(&state, job, relay.last())).await {
                    Ok(page) => relay.on_page(page, tokio::time::Instant::now()),
                    Err(error) => {
                        tracing::warn!(job_id = %job, error = %error, "reading job events failed");
                        relay.unreachable("event store")
                    }
                },
                Action::Republish => {
                    let published = Box::pin(repairs::publish_final_from_ledger(&state, job, ended.as_deref())).await;
                    relay.on_republished(published.map_err(|error| {
                        tracing::warn!(job_id = %job, error = %format!("{error:#}"), "publishing a job's final events failed");
                    }))
                }
                Action::ReadRecord => {
                    let record = Box::pin(repairs::ended_record(&state, job, ended.as_deref())).await;
                    relay.on_record(record.map_err(|error| {
                        tracing::warn!(job_id = %job, error = %error, "reading the job failed");
                    }))
                }
                Action::Expire => {
                    let expired = Box::pin(repairs::expire_run(&state, kind, job)).await;
                    relay.on_expired(expired.map_err(|error| {
                        tracing::warn!(job_id = %job, error = %error, "ending a run past its deadline failed; trying again");
                    }))
                }
                // Boxed: a timer would grow every stream's state, though it is rarely there.
                Action::Wait(Some(until)) => match Box::pin(tokio::time::timeout_at(until, subscription.recv())).await {
                    Ok(received) => relay.on_received(received),
                    Err(_) => relay.on_timeout(tokio::time::Instant::now()),
                },
                Action::Wait(None) => relay.on_received(subscription.recv().await),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of what `relay` returns, without calling it.
    fn state_size<R>(
        _: impl FnOnce(
            Deps,
            Uuid,
            u64,
            Option<JobRecord>,
            (Framing, Vocabulary),
            (&'static str, JobKind),
            Option<chrono::DateTime<chrono::Utc>>,
        ) -> R,
    ) -> usize {
        std::mem::size_of::<R>()
    }

    /// An open stream holds its state for as long as it lives, tens of thousands of them
    /// in one process (`make bench`, idle streams): what is rarely there is boxed, so that
    /// the state of an idle one stays small.
    #[test]
    fn an_idle_streams_state_stays_small() {
        let size = state_size(relay);
        eprintln!("a stream's state: {size} bytes");
        assert!(size <= 1024, "a stream's state grew to {size} bytes");
    }
}
