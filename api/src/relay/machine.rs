//! A watcher's stream as a state machine: pure transitions that take what happened (a page
//! of the stored stream, a live event or notice from the hub, a timer, the answer of a
//! repair) and give the frames to send and what to do next. The driver
//! (`stream::relay`) does the reading and waiting; nothing here touches Redis or
//! Postgres, so every transition is tested by a table (below).
//!
//! The phases: **catching up** (reading the stored stream page by page after the client's
//! last id), **awaiting the final event** (the ledger says the job ended but the stream
//! lacks its final events: the worker that ended it publishes them just after its commit,
//! so a heartbeat's time is given before they are published from the ledger), **live**
//! (waiting on the hub), and **ended**.

use almanac_shared::{
    events::{self, Event, StoredEvent},
    jobs::{JobRecord, JobStatus},
};
use bytes::Bytes;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use uuid::Uuid;

use super::{
    Relayed,
    framing::Framing,
    vocabulary::{Progress, Vocabulary},
};

/// Events read from Redis per round trip while catching up.
pub(super) const PAGE: usize = 256;

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

/// What the driver does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    /// Read the stored stream's next page after [`Relay::last`].
    ReadPage,
    /// Publish the job's final events as the ledger has them: its worker did not in time.
    Republish,
    /// Read the ended job's ledger row: nothing of its events is kept.
    ReadRecord,
    /// End the calendar run past its deadline.
    Expire,
    /// Wait for the hub, until the timer when one is set.
    Wait(Option<Instant>),
    /// The stream ends, so (its outcome, for `stream_outcomes_total`).
    End(&'static str),
}

/// A transition's result: frames to send, in order, then what to do.
pub(super) struct Step {
    pub frames: Vec<Bytes>,
    pub action: Action,
}

impl Step {
    fn to(action: Action) -> Self {
        Self {
            frames: Vec::new(),
            action,
        }
    }
}

/// One watcher's stream: where it is in its job's events and what it waits for.
pub(super) struct Relay {
    cursor: Cursor,
    /// The first page is still to read (what it lacks means something else then).
    first_read: bool,
    /// The ledger says the job ended.
    ledger_says_ended: bool,
    /// The stream holds events of the job (it may lack the final ones).
    stored: bool,
    /// Until when the final events are left to the worker that ended the job.
    final_wait: Option<Instant>,
    republished: bool,
    /// When to look again at a calendar run that may be past its deadline (boxed: it is
    /// rarely there, and every idle stream would carry its size).
    expiry: Option<Box<Instant>>,
    /// How long a worker is given to publish the final events after its commit.
    grace: std::time::Duration,
}

impl Relay {
    /// A watcher of `job` after the client's id `after`; `ended`: the ledger said the job
    /// had ended when the request came.
    pub(super) fn new(
        job: Uuid,
        after: u64,
        (framing, words): (Framing, Vocabulary),
        ended: bool,
        expiry: Option<Instant>,
        grace: std::time::Duration,
    ) -> Self {
        Self {
            cursor: Cursor {
                job,
                framing,
                words,
                last: after,
                told_truncated: false,
                progress: Progress::default(),
                held: Vec::new(),
            },
            first_read: true,
            ledger_says_ended: ended,
            stored: false,
            final_wait: None,
            republished: false,
            expiry: expiry.map(Box::new),
            grace,
        }
    }

    /// The last id the client was sent.
    pub(super) fn last(&self) -> u64 {
        self.cursor.last
    }

    /// The first step: SSE's reconnection delay, then the stored stream.
    pub(super) fn start(&self) -> Step {
        let mut step = Step::to(Action::ReadPage);
        if self.cursor.framing == Framing::Sse {
            step.frames.push(Bytes::from_static(b"retry: 1000\n\n"));
        }
        step
    }

    /// A page of the stored stream: its events sent (a loss told), then the next page, or
    /// the stream's end, or what the ledger's word calls for.
    pub(super) fn on_page(&mut self, page: events::History, now: Instant) -> Step {
        let first_read = std::mem::take(&mut self.first_read);
        let paged = self.cursor.page(page, first_read, self.ledger_says_ended);
        self.stored = paged.stored;
        let frames = paged.walked.frames;
        let action = match paged.walked.ended {
            Some(outcome) => Action::End(outcome),
            None if paged.more => Action::ReadPage,
            None => self.caught_up(now),
        };
        Step { frames, action }
    }

    /// The stored stream is read to its end: wait, give the worker its time to publish the
    /// final events, publish them from the ledger, or end with the ledger's outcome.
    fn caught_up(&mut self, now: Instant) -> Action {
        if self.ledger_says_ended && self.stored && !self.republished {
            match self.final_wait {
                None => self.final_wait = Some(now + self.grace),
                Some(deadline) if now >= deadline => return Action::Republish,
                Some(_) => {}
            }
            self.wait()
        } else if self.ledger_says_ended {
            // Ended, and nothing of its events is kept (they expired, or Redis lost them):
            // the ledger has the outcome.
            Action::ReadRecord
        } else {
            self.wait()
        }
    }

    fn wait(&self) -> Action {
        let expiry = self.expiry.as_deref().copied();
        Action::Wait(match (self.final_wait, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// A store could not be read or written: said, and the stream ends (the client
    /// resumes with its last id).
    pub(super) fn unreachable(&mut self, store: &str) -> Step {
        metrics::counter!("relay_stream_errors_total").increment(1);
        let error = Event::error(
            "STREAM_ERROR",
            format!("the {store} is unreachable; reconnect with the last id to resume"),
        );
        let cursor = &self.cursor;
        Step {
            frames: vec![
                cursor
                    .words
                    .notice(cursor.framing, cursor.job, cursor.last, &error),
            ],
            action: Action::End("stream_error"),
        }
    }

    /// The final events published from the ledger (`Ok(false)`: the job is gone): read
    /// the stream again, where they now are.
    pub(super) fn on_republished(&mut self, published: Result<bool, ()>) -> Step {
        self.republished = true;
        match published {
            Ok(true) => {
                metrics::counter!("relay_final_events_republished_total").increment(1);
                // Nothing more to wait for: the stream holds them.
                self.final_wait = None;
                Step::to(Action::ReadPage)
            }
            Ok(false) => Step::to(Action::End("gone")),
            Err(()) => self.unreachable("event store"),
        }
    }

    /// The ended job's ledger row: its outcome ends the stream (`None`: the job is gone).
    /// A row that says nothing final (the job was taken up again) leaves it live.
    pub(super) fn on_record(&mut self, record: Result<Option<JobRecord>, ()>) -> Step {
        match record {
            Ok(Some(record)) => match Event::done_from(&record) {
                Some(done) => {
                    let cursor = &self.cursor;
                    let frame = cursor
                        .words
                        .notice(cursor.framing, cursor.job, cursor.last, &done);
                    Step {
                        frames: vec![frame],
                        action: Action::End(record.status.as_str()),
                    }
                }
                None => {
                    self.ledger_says_ended = false;
                    Step::to(self.wait())
                }
            },
            Ok(None) => Step::to(Action::End("gone")),
            Err(()) => self.unreachable("job store"),
        }
    }

    /// A timer went off: the run's deadline (end it), or the final events' grace (read
    /// the stream, then publish them if they are still missing).
    pub(super) fn on_timeout(&mut self, now: Instant) -> Step {
        match self.expiry.as_deref() {
            Some(at) if *at <= now => Step::to(Action::Expire),
            _ => Step::to(Action::ReadPage),
        }
    }

    /// The run past its deadline was ended (`Ok(true)`; its final event published), or
    /// not yet (looked at again in a second, until the final event comes).
    pub(super) fn on_expired(&mut self, expired: Result<bool, ()>) -> Step {
        match expired {
            Ok(true) => {
                self.ledger_says_ended = true;
                self.expiry = None;
            }
            Ok(false) | Err(()) => {
                if let Some(at) = self.expiry.as_deref_mut() {
                    *at += std::time::Duration::from_secs(1);
                }
            }
        }
        Step::to(Action::ReadPage)
    }

    /// What the hub brought: live events (read the stored stream when they leave a hole),
    /// a keep-alive, the ledger's word that the job ended, or the end of the stream.
    pub(super) fn on_received(&mut self, received: Result<Relayed, RecvError>) -> Step {
        let live: &[StoredEvent] = match &received {
            Ok(Relayed::Event(event)) => std::slice::from_ref(&**event),
            Ok(Relayed::Events(events)) => events,
            _ => &[],
        };
        let (walked, mut read_stream) = self.cursor.live(live);
        let mut frames = walked.frames;
        if let Some(outcome) = walked.ended {
            return Step {
                frames,
                action: Action::End(outcome),
            };
        }
        let cursor = &self.cursor;
        match received {
            Ok(Relayed::Event(_) | Relayed::Events(_) | Relayed::Subscribed) => {}
            Ok(Relayed::Resync) => read_stream = true,
            // One ticker in the hub beats for every stream: no timer per stream.
            Ok(Relayed::Heartbeat) => frames.push(cursor.words.keep_alive(
                cursor.framing,
                cursor.last,
                cursor.progress,
            )),
            // The server is shutting down: the client resumes elsewhere.
            Ok(Relayed::Closing) | Err(RecvError::Closed) => {
                return Step {
                    frames,
                    action: Action::End("server_closing"),
                };
            }
            Ok(Relayed::Finished) => {
                read_stream = true;
                self.ledger_says_ended = true;
            }
            Err(RecvError::Lagged(missed)) => {
                metrics::counter!("relay_clients_dropped_total", "reason" => "lag").increment(1);
                tracing::info!(job_id = %cursor.job, missed, "stream closed: the client fell behind");
                let lagged = Event::error(
                    "LAGGED",
                    format!(
                        "this client fell {missed} events behind; reconnect with the last id to resume"
                    ),
                );
                frames.push(
                    cursor
                        .words
                        .notice(cursor.framing, cursor.job, cursor.last, &lagged),
                );
                return Step {
                    frames,
                    action: Action::End("lagged"),
                };
            }
        }
        let action = if read_stream {
            Action::ReadPage
        } else {
            self.wait()
        };
        Step { frames, action }
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, time::Duration};

    use almanac_shared::domain::generation::GenerationJob;
    use almanac_shared::jobs::{JobPayload as _, Lane};
    use chrono::Utc;

    use super::*;

    /// What happens to the machine, in the tables' words.
    enum In {
        /// A page of the stored stream: its events (by id; `done` the final one, `gap` a
        /// lost batch's marker), its oldest and newest ids.
        Page(&'static [(u64, &'static str)], Option<u64>, Option<u64>),
        /// A page of exactly [`PAGE`] progress events from `from` on.
        FullPage(u64),
        PageFailed,
        Live(&'static [(u64, &'static str)]),
        Hub(Relayed),
        Lagged(u64),
        /// A timer, this many seconds after the start.
        Timeout(u64),
        Republished(Result<bool, ()>),
        Record(Result<Option<JobStatus>, ()>),
        Expired(Result<bool, ()>),
    }

    /// The expected step: each frame as `type` or `type#id` (NDJSON), and the action, a
    /// wait's timer in seconds after the start.
    type Out = (&'static [&'static str], Expect);

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Expect {
        ReadPage,
        Republish,
        ReadRecord,
        Expire,
        Wait(Option<u64>),
        End(&'static str),
    }

    fn event(seq: u64, kind: &str) -> StoredEvent {
        let event = match kind {
            "done" => Event::done(JobStatus::Succeeded, None, None),
            "gap" => {
                return StoredEvent {
                    seq,
                    kind: "truncated".into(),
                    data: "{\"type\":\"truncated\"}".into(),
                };
            }
            _ => Event::progress(seq, 10, "generating", "working"),
        };
        StoredEvent::from_event(seq, &event)
    }

    fn record(status: JobStatus) -> JobRecord {
        let now = Utc::now();
        JobRecord {
            id: Uuid::nil(),
            user_id: Uuid::nil(),
            kind: GenerationJob::KIND,
            status,
            attempts: 1,
            max_attempts: 3,
            lane: Lane::Interactive,
            cancel_requested: false,
            error: None,
            result: None,
            created_at: now,
            started_at: Some(now),
            finished_at: status.is_final().then_some(now),
            updated_at: now,
            events_token: None,
        }
    }

    /// Each frame as `type` or `type#id`; a run of more than two frames of one type with
    /// consecutive ids as `type#first..last`.
    fn frame_names(frames: &[Bytes]) -> Vec<String> {
        let mut names: Vec<(String, Option<(u64, u64)>)> = Vec::new();
        for frame in frames {
            let line: serde_json::Value = serde_json::from_slice(frame).unwrap();
            let kind = line["type"].as_str().unwrap().to_owned();
            let id = line["id"].as_u64();
            match (names.last_mut(), id) {
                (Some((last_kind, Some((_, to)))), Some(id))
                    if *last_kind == kind && id == *to + 1 =>
                {
                    *to = id
                }
                _ => names.push((kind, id.map(|id| (id, id)))),
            }
        }
        names
            .into_iter()
            .flat_map(|(kind, ids)| match ids {
                None => vec![kind],
                Some((from, to)) if to > from + 1 => vec![format!("{kind}#{from}..{to}")],
                Some((from, to)) => (from..=to).map(|id| format!("{kind}#{id}")).collect(),
            })
            .collect()
    }

    /// Runs `steps` on a watcher after `after` (`ended`: the ledger said so at the
    /// request; `deadline`: a run's, seconds after the start), checking each step.
    fn run(after: u64, ended: bool, deadline: Option<u64>, steps: &[(In, Out)]) {
        let start = Instant::now();
        let at = |seconds: u64| start + Duration::from_secs(seconds);
        let mut relay = Relay::new(
            Uuid::nil(),
            after,
            (Framing::Ndjson, Vocabulary::Common),
            ended,
            deadline.map(at),
            Duration::from_secs(5),
        );
        // The driver's clock: a timer that went off moves it.
        let mut now = start;
        let first = relay.start();
        assert!(first.frames.is_empty());
        assert_eq!(first.action, Action::ReadPage);
        for (index, (input, (frames, expected))) in steps.iter().enumerate() {
            let step = match input {
                In::Page(events, first, newest) => relay.on_page(
                    events::History {
                        events: events.iter().map(|(seq, kind)| event(*seq, kind)).collect(),
                        first: *first,
                        newest: *newest,
                    },
                    now,
                ),
                In::FullPage(from) => relay.on_page(
                    events::History {
                        events: (*from..*from + PAGE as u64)
                            .map(|s| event(s, "progress"))
                            .collect(),
                        first: Some(1),
                        newest: Some(*from + PAGE as u64 + 10),
                    },
                    now,
                ),
                In::PageFailed => relay.unreachable("event store"),
                In::Live(events) => relay.on_received(Ok(Relayed::Events(Arc::new(
                    events.iter().map(|(seq, kind)| event(*seq, kind)).collect(),
                )))),
                In::Hub(relayed) => relay.on_received(Ok(relayed.clone())),
                In::Lagged(missed) => relay.on_received(Err(RecvError::Lagged(*missed))),
                In::Timeout(seconds) => {
                    now = at(*seconds);
                    relay.on_timeout(now)
                }
                In::Republished(result) => relay.on_republished(*result),
                In::Record(result) => relay.on_record(result.map(|s| s.map(record))),
                In::Expired(result) => relay.on_expired(*result),
            };
            let action = match step.action {
                Action::ReadPage => Expect::ReadPage,
                Action::Republish => Expect::Republish,
                Action::ReadRecord => Expect::ReadRecord,
                Action::Expire => Expect::Expire,
                Action::Wait(until) => Expect::Wait(until.map(|until| (until - start).as_secs())),
                Action::End(outcome) => Expect::End(outcome),
            };
            assert_eq!(
                (frame_names(&step.frames), action),
                (frames.iter().map(|f| f.to_string()).collect(), *expected),
                "step {index}"
            );
        }
    }

    #[test]
    fn catching_up_sends_the_stored_events_then_waits_or_ends_with_the_final_one() {
        // Page after page until a short one, then live; the final event ends the stream.
        run(
            0,
            false,
            None,
            &[
                (In::FullPage(1), (&["progress#1..256"], Expect::ReadPage)),
                (In::Page(&[], Some(1), Some(256)), (&[], Expect::Wait(None))),
                (
                    In::Live(&[(257, "progress"), (258, "done")]),
                    (&["progress#257", "done#258"], Expect::End("succeeded")),
                ),
            ],
        );
        run(
            0,
            false,
            None,
            &[(
                In::Page(&[(1, "progress"), (2, "done")], Some(1), Some(2)),
                (&["progress#1", "done#2"], Expect::End("succeeded")),
            )],
        );
        // A client that saw 1 gets the rest, nothing twice.
        run(
            1,
            false,
            None,
            &[(
                In::Page(&[(2, "progress")], Some(1), Some(2)),
                (&["progress#2"], Expect::Wait(None)),
            )],
        );
    }

    #[test]
    fn a_loss_is_told_once_and_never_passed_over() {
        run(
            0,
            false,
            None,
            &[
                // Trimmed: the oldest kept is 3.
                (
                    In::Page(&[(3, "progress")], Some(3), Some(3)),
                    (&["truncated", "progress#3"], Expect::Wait(None)),
                ),
                // A lost batch's marker, then the next event.
                (
                    In::Live(&[(4, "gap"), (5, "progress")]),
                    (&["truncated", "progress#5"], Expect::Wait(None)),
                ),
                // A hole in the live events: read the stream for what fell in it; the events
                // past the hole wait in hand and go out in order.
                (In::Live(&[(7, "progress")]), (&[], Expect::ReadPage)),
                (
                    In::Page(&[(6, "progress")], Some(1), Some(6)),
                    (&["progress#6", "progress#7"], Expect::Wait(None)),
                ),
            ],
        );
        // Redis lost the stream and numbering started again below the client's id: told,
        // then the new numbering is read from its start.
        run(
            9,
            false,
            None,
            &[
                (
                    In::Page(&[(1, "progress")], Some(1), Some(2)),
                    (&["truncated"], Expect::ReadPage),
                ),
                (
                    In::Page(&[(1, "progress"), (2, "progress")], Some(1), Some(2)),
                    (&["progress#1", "progress#2"], Expect::Wait(None)),
                ),
            ],
        );
    }

    #[test]
    fn an_ended_job_whose_final_events_are_late_gets_them_from_the_ledger() {
        run(
            0,
            true,
            None,
            &[
                // The stream lacks the final events: the worker gets a heartbeat's time.
                (
                    In::Page(&[(1, "progress")], Some(1), Some(1)),
                    (&["progress#1"], Expect::Wait(Some(5))),
                ),
                (In::Timeout(5), (&[], Expect::ReadPage)),
                (In::Page(&[], Some(1), Some(1)), (&[], Expect::Republish)),
                (In::Republished(Ok(true)), (&[], Expect::ReadPage)),
                (
                    In::Page(&[(2, "done")], Some(1), Some(2)),
                    (&["done#2"], Expect::End("succeeded")),
                ),
            ],
        );
        // The job was deleted meanwhile; or Redis does not answer.
        run(
            0,
            true,
            None,
            &[
                (
                    In::Page(&[(1, "progress")], Some(1), Some(1)),
                    (&["progress#1"], Expect::Wait(Some(5))),
                ),
                (In::Timeout(6), (&[], Expect::ReadPage)),
                (In::Page(&[], Some(1), Some(1)), (&[], Expect::Republish)),
                (In::Republished(Ok(false)), (&[], Expect::End("gone"))),
            ],
        );
        run(
            0,
            false,
            None,
            &[
                (In::Hub(Relayed::Finished), (&[], Expect::ReadPage)),
                (
                    In::Page(&[(1, "progress")], Some(1), Some(1)),
                    (&["progress#1"], Expect::Wait(Some(5))),
                ),
                (In::Timeout(5), (&[], Expect::ReadPage)),
                (In::Page(&[], Some(1), Some(1)), (&[], Expect::Republish)),
                (
                    In::Republished(Err(())),
                    (&["error"], Expect::End("stream_error")),
                ),
            ],
        );
    }

    #[test]
    fn an_ended_job_with_nothing_kept_ends_with_the_ledger_s_outcome() {
        run(
            0,
            true,
            None,
            &[
                (
                    In::Page(&[], None, None),
                    (&["truncated"], Expect::ReadRecord),
                ),
                (
                    In::Record(Ok(Some(JobStatus::Failed))),
                    (&["done"], Expect::End("failed")),
                ),
            ],
        );
        run(
            0,
            true,
            None,
            &[
                (
                    In::Page(&[], None, None),
                    (&["truncated"], Expect::ReadRecord),
                ),
                // Taken up again (a retry): live until its events come.
                (
                    In::Record(Ok(Some(JobStatus::Running))),
                    (&[], Expect::Wait(None)),
                ),
            ],
        );
        run(
            0,
            true,
            None,
            &[
                (
                    In::Page(&[], None, None),
                    (&["truncated"], Expect::ReadRecord),
                ),
                (In::Record(Ok(None)), (&[], Expect::End("gone"))),
            ],
        );
        run(
            0,
            true,
            None,
            &[
                (
                    In::Page(&[], None, None),
                    (&["truncated"], Expect::ReadRecord),
                ),
                (
                    In::Record(Err(())),
                    (&["error"], Expect::End("stream_error")),
                ),
            ],
        );
    }

    #[test]
    fn a_run_past_its_deadline_is_ended_and_looked_at_again_until_it_is() {
        run(
            0,
            false,
            Some(30),
            &[
                (
                    In::Page(&[(1, "progress")], Some(1), Some(1)),
                    (&["progress#1"], Expect::Wait(Some(30))),
                ),
                (In::Timeout(30), (&[], Expect::Expire)),
                // Not yet past it by the database's clock: again in a second.
                (In::Expired(Ok(false)), (&[], Expect::ReadPage)),
                (
                    In::Page(&[], Some(1), Some(1)),
                    (&[], Expect::Wait(Some(31))),
                ),
                (In::Timeout(31), (&[], Expect::Expire)),
                (In::Expired(Ok(true)), (&[], Expect::ReadPage)),
                (
                    In::Page(&[(2, "done")], Some(1), Some(2)),
                    (&["done#2"], Expect::End("succeeded")),
                ),
            ],
        );
    }

    #[test]
    fn the_hub_s_notices_keep_the_stream_alive_or_end_it() {
        run(
            0,
            false,
            None,
            &[
                (
                    In::Page(&[(1, "progress")], Some(1), Some(1)),
                    (&["progress#1"], Expect::Wait(None)),
                ),
                (
                    In::Hub(Relayed::Heartbeat),
                    (&["heartbeat"], Expect::Wait(None)),
                ),
                (In::Hub(Relayed::Subscribed), (&[], Expect::Wait(None))),
                (In::Hub(Relayed::Resync), (&[], Expect::ReadPage)),
                (In::Page(&[], Some(1), Some(1)), (&[], Expect::Wait(None))),
                (
                    In::Hub(Relayed::Closing),
                    (&[], Expect::End("server_closing")),
                ),
            ],
        );
        run(
            0,
            false,
            None,
            &[
                (In::Page(&[], Some(1), Some(1)), (&[], Expect::Wait(None))),
                (In::Lagged(7), (&["error"], Expect::End("lagged"))),
            ],
        );
        run(
            0,
            false,
            None,
            &[(In::PageFailed, (&["error"], Expect::End("stream_error")))],
        );
    }
}
