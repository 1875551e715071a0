//! One watcher's stream: the stored history after its last id, then live events, with no
//! gap and no duplicate, framed as SSE or NDJSON, ending after the job's final event.

use almanac_shared::jobs::JobRecord;
use almanac_shared::store::jobs as ledger;
use almanac_shared::{
    events::{self, Emitter, Event, StoredEvent},
    jobs::{JobKind, JobStatus},
    store::calendars,
};
use bytes::Bytes;
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::{
    Hub, Relayed,
    vocabulary::{Progress, Vocabulary},
};

/// Events read from Redis per round trip while catching up.
const PAGE: usize = 256;

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
    pub(super) fn frame(self, seq: Option<u64>, kind: &str, data: &str) -> Bytes {
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

/// Counts the stream in `relay_streams_active` while it lives, and when it ends how it
/// ended in `stream_outcomes_total{route, kind, outcome}` (what the alerts on stream errors
/// and timeouts read; `kind` the job's, so a calendar followed on any route counts as one): the job's final status (`succeeded`, `failed`, `timeout`, `cancelled`),
/// `stream_error`, `lagged`, `server_closing`, `gone` (the job no longer exists), or
/// `disconnected` (the client left first).
struct Active {
    route: &'static str,
    kind: &'static str,
    outcome: &'static str,
}

impl Active {
    fn start(route: &'static str, kind: &'static str) -> Self {
        metrics::gauge!("relay_streams_active").increment(1.0);
        Active {
            route,
            kind,
            outcome: "disconnected",
        }
    }

    /// Ended by the job's final event, whose status it was.
    fn ended_with(&mut self, status: JobStatus) {
        self.outcome = status.as_str();
    }
}

/// The outcome a stored final event `done` says (its job's status).
fn outcome_of(done: &StoredEvent) -> &'static str {
    #[derive(serde::Deserialize)]
    struct Done {
        status: JobStatus,
    }
    serde_json::from_str::<Done>(&done.data).map_or("ended", |done| done.status.as_str())
}

/// Where one watcher is in its job's events, and what it owes the client: the last id it
/// sent, whether a loss was told since its last event, the progress its keep-alives
/// repeat, and live events held past a hole while the stream is read for what fell in it
/// (should Redis have lost the stream meanwhile, the read cannot give them back). Its walks
/// are pure: they turn events into frames, and say when the final one went.
struct Cursor {
    job: Uuid,
    framing: Framing,
    words: Vocabulary,
    last: u64,
    told_truncated: bool,
    progress: Progress,
    held: Vec<StoredEvent>,
}

/// What a walk made of some events: the frames to send, in order, and the outcome of the
/// final event if it was among them (the stream then ends).
#[derive(Default)]
struct Walked {
    frames: Vec<Bytes>,
    ended: Option<&'static str>,
}

/// A walk over a page of the stored stream.
struct Paged {
    walked: Walked,
    /// Read the next page: this one was full, or Redis lost the stream and its numbering
    /// started again (read from its start).
    more: bool,
    /// The stream holds events of the job.
    stored: bool,
}

impl Cursor {
    /// Tells of a loss (once until an event comes); the next event the client gets is
    /// `next`.
    fn truncated(&mut self, walked: &mut Walked, next: Option<u64>) {
        if !std::mem::replace(&mut self.told_truncated, true) {
            let frame = self.words.truncated(self.framing, self.last, next);
            walked.frames.push(frame);
        }
    }

    /// Sends `event`: `false` when it was the final one.
    fn send(&mut self, walked: &mut Walked, event: &StoredEvent) -> bool {
        let frame = self
            .words
            .stored(self.framing, self.job, event, &mut self.progress);
        walked.frames.push(frame);
        self.told_truncated = false;
        self.last = event.seq;
        if event.is_final() {
            walked.ended = Some(outcome_of(event));
            return false;
        }
        true
    }

    /// Walks a page of the stored stream. `first_read`: the watcher's first page;
    /// `ledger_says_ended`: the job has ended.
    fn page(
        &mut self,
        mut page: events::History,
        first_read: bool,
        ledger_says_ended: bool,
    ) -> Paged {
        let mut walked = Walked::default();
        // Events the client asked for are gone when Redis lost the stream (it is missing,
        // or its numbering started again below the client's id), when the oldest kept one
        // is later than the next the client needs (trimmed, or a stream Redis re-created,
        // whose numbering starts above any the lost one used), or when nothing is kept of
        // a job that has ended.
        let restarted = self.last > 0 && page.newest.is_none_or(|newest| newest < self.last);
        let expired = first_read && page.first.is_none() && ledger_says_ended;
        let stored = page.newest.is_some();
        // Told once until an event comes: a lost stream, then the jump of the new one's
        // numbering past the client's id, are one loss. (A stream trimmed, or re-created
        // above the client's id, shows as a hole before its first event, told below.)
        if restarted || expired {
            self.truncated(&mut walked, page.first);
        }
        if restarted {
            // Read the new numbering from its start.
            self.last = 0;
            return Paged {
                walked,
                more: true,
                stored,
            };
        }
        let more = page.events.len() >= PAGE;
        if !self.held.is_empty() {
            // The live events in hand that this page should cover and does not (the stream
            // they were in is gone) go in their place by number; a re-created stream's
            // numbering starts above the lost one's.
            let upto = if more {
                page.events.last().map_or(0, |e| e.seq)
            } else {
                u64::MAX
            };
            let last = self.last;
            let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held)
                .into_iter()
                .filter(|e| e.seq > last)
                .partition(|e| e.seq <= upto);
            self.held = later;
            for event in now {
                if !page.events.iter().any(|kept| kept.seq == event.seq) {
                    page.events.push(event);
                }
            }
            page.events.sort_by_key(|e| e.seq);
        }
        for (at, event) in page.events.iter().enumerate() {
            // A hole in the numbering, or the marker of a batch Redis lost: said, never
            // passed over. The notice names the next event the client will get (past any
            // markers).
            if event.seq > self.last + 1 || event.is_gap() {
                let next = page.events[at..]
                    .iter()
                    .find(|e| !e.is_gap())
                    .map_or(event.seq + 1, |e| e.seq);
                self.truncated(&mut walked, Some(next));
            }
            if event.is_gap() {
                self.last = event.seq;
                continue;
            }
            if !self.send(&mut walked, event) {
                break;
            }
        }
        Paged {
            walked,
            more,
            stored,
        }
    }

    /// Walks live events; with them, whether the stored stream must be read (a hole: the
    /// events past it are held; or a first event again, which may mean Redis lost the
    /// stream and numbering restarted).
    fn live(&mut self, live: &[StoredEvent]) -> (Walked, bool) {
        let mut walked = Walked::default();
        let mut read_stream = false;
        for (at, event) in live.iter().enumerate() {
            if event.seq <= self.last {
                read_stream = event.seq == 1;
                continue;
            }
            if event.seq > self.last + 1 {
                self.held = live[at..].to_vec();
                read_stream = true;
                break;
            }
            if event.is_gap() {
                self.truncated(&mut walked, Some(event.seq + 1));
                self.last = event.seq;
                continue;
            }
            if !self.send(&mut walked, event) {
                break;
            }
        }
        (walked, read_stream)
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

fn stream_error(
    active: &mut Active,
    (words, framing): (Vocabulary, Framing),
    job: Uuid,
    last: u64,
    message: &str,
) -> Bytes {
    metrics::counter!("relay_stream_errors_total").increment(1);
    active.outcome = "stream_error";
    words.notice(
        framing,
        job,
        last,
        &Event::error(
            "STREAM_ERROR",
            format!("{message}; reconnect with the last id to resume"),
        ),
    )
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

/// The job's ledger row: the ended one the request found, or read now.
async fn ended_record(
    state: &Deps,
    job: Uuid,
    ended: Option<&JobRecord>,
) -> sqlx::Result<Option<JobRecord>> {
    match ended {
        Some(record) => Ok(Some(record.clone())),
        None => ledger::fetch(&state.pool, job).await,
    }
}

/// Publishes the job's final events as the ledger has them (what its last commit staged,
/// then `done`), unless the stream already ends with them. `Ok(false)`: the job is gone.
async fn publish_final_from_ledger(
    state: &Deps,
    job: Uuid,
    ended: Option<&JobRecord>,
) -> anyhow::Result<bool> {
    let Some(record) = ended_record(state, job, ended).await? else {
        return Ok(false);
    };
    Emitter::new(&state.settings, state.redis.clone())
        .publish_final_from(&record)
        .await?;
    Ok(true)
}

/// What a stream keeps while it lives: shared handles only, so that ten thousand idle
/// streams cost little (the API's whole state is larger to clone and to hold).
pub struct Deps {
    pub settings: std::sync::Arc<almanac_shared::Settings>,
    pub redis: almanac_shared::redis_conn::RedisConn,
    pub pool: sqlx::PgPool,
    pub hub: Hub,
}

/// The stream of `job`'s events after `after` (0: from the start), in the words of its
/// kind. `ended` is the job's ledger row when it had already ended as the request arrived;
/// `route` and the job's `kind` label the stream's outcome in the metrics. A calendar run's
/// stream has its `deadline`: a second past it, a run still going is ended `timeout` here
/// (`expire_calendar_job`) and its final event published, worker or not.
pub fn relay(
    state: Deps,
    job: Uuid,
    after: u64,
    ended: Option<JobRecord>,
    (framing, words): (Framing, Vocabulary),
    (route, kind): (&'static str, JobKind),
    deadline: Option<chrono::DateTime<chrono::Utc>>,
) -> impl Stream<Item = Bytes> + Send + 'static {
    // When to look again at a run that may be past its deadline.
    let expiry = deadline.map(|at| {
        let left = (at + chrono::Duration::seconds(1) - chrono::Utc::now())
            .to_std()
            .unwrap_or_default();
        Box::new(tokio::time::Instant::now() + left)
    });
    // Boxed: it is rarely there, and every idle stream would carry its size.
    let ended = ended.map(Box::new);
    async_stream::stream! {
        let mut active = Active::start(route, kind.as_str());
        // Subscribe first, then read the history: nothing falls between the two. (Boxed:
        // the wait for Redis's confirmation is over before the stream idles, and its size
        // would otherwise stay in every idle stream's state.)
        let mut subscription = Box::pin(state.hub.subscribe(job)).await;
        if framing == Framing::Sse {
            yield Bytes::from_static(b"retry: 1000\n\n");
        }
        let mut cursor = Cursor {
            job,
            framing,
            words,
            last: after,
            told_truncated: false,
            progress: Progress::default(),
            held: Vec::new(),
        };
        let mut first_read = true;
        let mut read_stream = true;
        let mut ledger_says_ended = ended.is_some();
        // The stream holds events of the job (it may lack the final ones).
        let mut stored;
        // Until when the final events are left to the worker that ended the job.
        let mut final_wait: Option<tokio::time::Instant> = None;
        let mut republished = false;
        let mut expiry = expiry;
        loop {
            if std::mem::take(&mut read_stream) {
                loop {
                    let page = match Box::pin(read_page(&state, job, cursor.last)).await {
                        Ok(page) => page,
                        Err(error) => {
                            tracing::warn!(job_id = %job, error = %error, "reading job events failed");
                            yield stream_error(&mut active, (words, framing), job, cursor.last, "the event store is unreachable");
                            return;
                        }
                    };
                    let paged = cursor.page(page, std::mem::take(&mut first_read), ledger_says_ended);
                    stored = paged.stored;
                    for frame in paged.walked.frames {
                        yield frame;
                    }
                    if let Some(outcome) = paged.walked.ended {
                        active.outcome = outcome;
                        return;
                    }
                    if !paged.more {
                        break;
                    }
                }
                if ledger_says_ended && stored && !republished {
                    // The ledger is ahead of the stream: the worker that ended the job
                    // publishes its final events just after its commit. Give it a
                    // heartbeat's time, then publish them as the ledger has them (the
                    // same events: what its last commit staged, then `done`).
                    let now = tokio::time::Instant::now();
                    match final_wait {
                        None => {
                            final_wait = Some(now + state.settings.jobs.heartbeat);
                        }
                        Some(deadline) if now >= deadline => {
                            republished = true;
                            match Box::pin(publish_final_from_ledger(&state, job, ended.as_deref())).await {
                                Ok(true) => {}
                                Ok(false) => {
                                    active.outcome = "gone";
                                    return;
                                }
                                Err(error) => {
                                    tracing::warn!(job_id = %job, error = %format!("{error:#}"), "publishing a job's final events failed");
                                    yield stream_error(&mut active, (words, framing), job, cursor.last, "the event store is unreachable");
                                    return;
                                }
                            }
                            metrics::counter!("relay_final_events_republished_total").increment(1);
                            read_stream = true;
                            continue;
                        }
                        Some(_) => {}
                    }
                } else if ledger_says_ended {
                    // Ended, and nothing of its events is kept (they expired, or Redis
                    // lost them): the ledger has the outcome (`Event::done_from`).
                    match Box::pin(ended_record(&state, job, ended.as_deref())).await {
                        Ok(Some(record)) => {
                            // Framed before yielding, so the record is not kept in the
                            // stream's state (every idle stream would carry its size).
                            if let Some(frame) = Event::done_from(&record).map(|done| words.notice(framing, job, cursor.last, &done)) {
                                active.ended_with(record.status);
                                drop(record);
                                yield frame;
                                return;
                            }
                            ledger_says_ended = false;
                        }
                        Ok(None) => {
                            active.outcome = "gone";
                            return;
                        }
                        Err(error) => {
                            tracing::warn!(job_id = %job, error = %error, "reading the job failed");
                            yield stream_error(&mut active, (words, framing), job, cursor.last, "the job store is unreachable");
                            return;
                        }
                    }
                }
            }
            let wake = match (final_wait, expiry.as_deref()) {
                (Some(a), Some(b)) => Some(a.min(*b)),
                (a, b) => a.or(b.copied()),
            };
            let received = match wake {
                // Boxed: a timer would grow every stream's state, though it is rarely there.
                Some(deadline) => match Box::pin(tokio::time::timeout_at(deadline, subscription.recv())).await {
                    Ok(received) => received,
                    Err(_) => {
                        if let Some(at) = expiry.as_deref_mut().filter(|at| **at <= tokio::time::Instant::now()) {
                            match Box::pin(calendars::expire(&state.pool, job)).await {
                                Ok(true) => {
                                    ledger_says_ended = true;
                                    if let Err(error) = Box::pin(publish_final_from_ledger(&state, job, None)).await {
                                        tracing::warn!(job_id = %job, error = %format!("{error:#}"), "publishing a timed-out run's final event failed");
                                    }
                                    expiry = None;
                                }
                                // Ended otherwise, or the database's clock is a moment behind:
                                // looked at again in a second, until the final event comes.
                                Ok(false) => *at += std::time::Duration::from_secs(1),
                                Err(error) => {
                                    tracing::warn!(job_id = %job, error = %error, "ending a run past its deadline failed; trying again");
                                    *at += std::time::Duration::from_secs(1);
                                }
                            }
                        }
                        read_stream = true;
                        continue;
                    }
                },
                None => subscription.recv().await,
            };
            let live: &[StoredEvent] = match &received {
                Ok(Relayed::Event(event)) => std::slice::from_ref(&**event),
                Ok(Relayed::Events(events)) => events,
                _ => &[],
            };
            let (walked, read) = cursor.live(live);
            read_stream = read;
            for frame in walked.frames {
                yield frame;
            }
            if let Some(outcome) = walked.ended {
                active.outcome = outcome;
                return;
            }
            match received {
                Ok(Relayed::Event(_) | Relayed::Events(_) | Relayed::Subscribed) => {}
                Ok(Relayed::Resync) => read_stream = true,
                // One ticker in the hub beats for every stream: no timer per stream.
                Ok(Relayed::Heartbeat) => yield words.keep_alive(framing, cursor.last, cursor.progress),
                // The server is shutting down: the client resumes elsewhere.
                Ok(Relayed::Closing) => {
                    active.outcome = "server_closing";
                    return;
                }
                Ok(Relayed::Finished) => {
                    read_stream = true;
                    ledger_says_ended = true;
                }
                Err(RecvError::Lagged(missed)) => {
                    metrics::counter!("relay_clients_dropped_total", "reason" => "lag").increment(1);
                    active.outcome = "lagged";
                    tracing::info!(job_id = %job, missed, "stream closed: the client fell behind");
                    yield words.notice(framing, job, cursor.last, &Event::error(
                        "LAGGED",
                        format!("this client fell {missed} events behind; reconnect with the last id to resume"),
                    ));
                    return;
                }
                Err(RecvError::Closed) => {
                    active.outcome = "server_closing";
                    return;
                }
            }
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
