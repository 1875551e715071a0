//! The console's wire types: a job as an operator sees it, the filter and its bulk
//! actions' answers, the statistics and a queue's state.

use std::collections::BTreeMap;

use almanac_shared::{
    jobs::{JobKind, JobStatus, Lane},
    store::console::{
        JobDetail, JobFilter, JobLine, attention,
        stats::{self, Stats},
    },
};
use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use serde_json::Value;
use uuid::Uuid;

use super::FlagView;
use crate::envelope::Envelope;

/// What a job's last attempt failed with.
#[derive(Debug, Clone, Object)]
pub struct ConsoleError {
    pub code: String,
    pub message: String,
}

/// A job of any tenant.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ConsoleJob {
    pub id: Uuid,
    pub kind: JobKind,
    pub status: JobStatus,
    pub lane: Lane,
    /// Who made it.
    pub user_id: Uuid,
    /// The workspace (the tenant) it works in.
    pub workspace_id: Uuid,
    /// Attempts started, of `maxAttempts`.
    pub attempts: i32,
    pub max_attempts: i32,
    #[oai(nullable)]
    pub last_error: Option<ConsoleError>,
    /// The id of the request that created it.
    #[oai(nullable)]
    pub request_id: Option<String>,
    pub created_at: DateTime<Utc>,
    #[oai(nullable)]
    pub started_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl From<JobLine> for ConsoleJob {
    fn from(line: JobLine) -> Self {
        let last_error = line.error.map(|error| ConsoleError {
            code: error.0["code"].as_str().unwrap_or("UNKNOWN").to_owned(),
            message: error.0["message"].as_str().unwrap_or_default().to_owned(),
        });
        Self {
            id: line.id,
            kind: line.kind,
            status: line.status,
            lane: line.lane,
            user_id: line.user_id,
            workspace_id: line.workspace_id,
            attempts: line.attempts,
            max_attempts: line.max_attempts,
            last_error,
            request_id: line.request_id,
            created_at: line.created_at,
            started_at: line.started_at,
            finished_at: line.finished_at,
            updated_at: line.updated_at,
        }
    }
}

/// A page of jobs, newest first.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ConsoleJobPage {
    pub items: Vec<ConsoleJob>,
    /// The `cursor` of the next page; null on the last.
    #[oai(nullable)]
    pub next_cursor: Option<Uuid>,
}

/// The row a job works on: its table, its id, and the owner's endpoint that reads it (null
/// where there is none).
#[derive(Debug, Clone, Object)]
pub struct DomainLink {
    pub table: String,
    pub id: Uuid,
    #[oai(nullable)]
    pub path: Option<String>,
}

impl DomainLink {
    /// The domain row a job's payload names (`About::row` of its kind).
    pub fn of(kind: JobKind, payload: &Value) -> Option<Self> {
        let row = kind.row();
        let id = payload[row.id_field].as_str()?.parse::<Uuid>().ok()?;
        Some(Self {
            table: row.table.to_owned(),
            id,
            path: row.path.map(|path| path.replace("{id}", &id.to_string())),
        })
    }
}

/// One event of a job's stream, as its clients received it.
#[derive(Debug, Clone, Object)]
pub struct ConsoleEvent {
    pub seq: u64,
    /// The event's name (`queued`, `progress`, `done`, ...).
    #[oai(rename = "type")]
    pub kind: String,
    pub data: Value,
}

/// One job with what an operator needs to judge it.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ConsoleJobDetail {
    pub job: ConsoleJob,
    /// The payload's versioned type (`generation.v1`, ...); the payload itself is the
    /// tenant's and is not shown.
    #[oai(nullable)]
    pub payload_type: Option<String>,
    #[oai(nullable)]
    pub domain: Option<DomainLink>,
    pub run_after: DateTime<Utc>,
    /// The worker running the current attempt.
    #[oai(nullable)]
    pub worker: Option<String>,
    #[oai(nullable)]
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub cancel_requested: bool,
    /// Its events, oldest first (at most 500).
    pub events: Vec<ConsoleEvent>,
    /// Its events were deleted `EVENTS_RETENTION_SECS` after its last one.
    pub events_expired: bool,
}

impl ConsoleJobDetail {
    pub fn new(detail: JobDetail, events: Vec<ConsoleEvent>, events_expired: bool) -> Self {
        let payload = detail.payload.0;
        let kind = detail.line.kind;
        Self {
            payload_type: payload["type"].as_str().map(str::to_owned),
            domain: DomainLink::of(kind, &payload),
            job: detail.line.into(),
            run_after: detail.run_after,
            worker: detail.worker,
            heartbeat_at: detail.heartbeat_at,
            cancel_requested: detail.cancel_requested,
            events,
            events_expired,
        }
    }
}

/// Which jobs a bulk action takes: the list's filter. A filter that names no field is
/// refused (422) unless `all` is true.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkRequest {
    pub kind: Option<JobKind>,
    pub status: Option<JobStatus>,
    pub lane: Option<Lane>,
    /// A workspace's jobs.
    pub workspace: Option<Uuid>,
    #[oai(validator(pattern = r"^[A-Z][A-Z0-9_]{0,63}$"))]
    pub error_code: Option<String>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub to: Option<DateTime<Utc>>,
    /// A job's id, a workspace's id, or a request's id.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub q: Option<String>,
    /// Count what would happen, change nothing.
    #[oai(default)]
    pub dry_run: bool,
    /// Act on every job when the filter names no field.
    #[oai(default)]
    pub all: bool,
}

impl BulkRequest {
    pub fn filter(&self) -> JobFilter {
        JobFilter {
            kind: self.kind,
            status: self.status,
            lane: self.lane,
            workspace: self.workspace,
            error_code: self.error_code.clone(),
            from: self.from,
            to: self.to,
            q: self.q.clone(),
        }
    }
}

/// What a bulk retry came to (or, in a dry run, would).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct RetryOutcome {
    /// Jobs the filter matched.
    pub matched: u64,
    /// Jobs back to `pending` with a fresh attempt budget.
    pub retried: u64,
    /// Jobs left as they were, by reason: `not_ended_badly` (not `failed`, `timeout` or
    /// `cancelled`), `publish_retried_by_owner`, `calendar_deadline_passed`,
    /// `delivery_unknown` (an email that may have been sent), `superseded` (a later job
    /// or run took its place), `domain_row_gone`, `kind_not_retryable`.
    pub skipped: BTreeMap<String, u64>,
    pub dry_run: bool,
}

/// What a bulk cancel came to (or, in a dry run, would).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CancelOutcome {
    pub matched: u64,
    /// Pending jobs ended `cancelled`, and running ones asked to stop (they end
    /// `cancelled` within a second).
    pub cancelled: u64,
    /// Jobs left as they were, by reason: `ended`.
    pub skipped: BTreeMap<String, u64>,
    pub dry_run: bool,
}

/// A queue's state.
#[derive(Debug, Clone, Object)]
pub struct QueueState {
    pub kind: JobKind,
    /// No worker claims its jobs; submissions are accepted as usual.
    pub paused: bool,
}

/// The statistics' window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Default)]
pub enum StatsWindow {
    #[oai(rename = "15m")]
    Quarter,
    #[oai(rename = "1h")]
    #[default]
    Hour,
    #[oai(rename = "24h")]
    Day,
}

impl StatsWindow {
    pub fn duration(self) -> std::time::Duration {
        std::time::Duration::from_secs(match self {
            StatsWindow::Quarter => 15 * 60,
            StatsWindow::Hour => 3600,
            StatsWindow::Day => 24 * 3600,
        })
    }

    /// How long a step of its throughput is: a minute, or ten for the day (144 steps a
    /// kind rather than 1,440).
    pub fn step(self) -> std::time::Duration {
        std::time::Duration::from_secs(match self {
            StatsWindow::Quarter | StatsWindow::Hour => 60,
            StatsWindow::Day => 600,
        })
    }
}

/// Jobs of a kind in a status: unfinished ones now, finished ones within the window.
#[derive(Debug, Clone, Object)]
pub struct KindStatusCount {
    pub kind: JobKind,
    pub status: JobStatus,
    pub count: i64,
}

/// A kind's jobs that finished in one step of the window (`step` seconds: a minute, or ten
/// for the day), and how many of them failed or timed out.
#[derive(Debug, Clone, Object)]
pub struct ThroughputStep {
    pub kind: JobKind,
    /// The step's start.
    pub at: DateTime<Utc>,
    pub finished: i64,
    pub failed: i64,
}

/// Wait (created to started) and run (started to finished) times, in seconds, of a kind
/// and lane's jobs that finished within the window.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct LaneLatency {
    pub kind: JobKind,
    pub lane: Lane,
    pub jobs: i64,
    pub wait_p50: f64,
    pub wait_p95: f64,
    pub run_p50: f64,
    pub run_p95: f64,
}

/// A kind's unfinished jobs in one lane now.
#[derive(Debug, Clone, Object)]
pub struct LaneLoad {
    pub kind: JobKind,
    pub lane: Lane,
    /// Waiting, retries on their backoff included.
    pub pending: i64,
    /// Waiting and due: what a claim can take now.
    pub ready: i64,
    pub running: i64,
}

/// A tenant's jobs waiting and running now, and its share of all of them.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct TenantShare {
    /// The workspace.
    pub workspace_id: Uuid,
    pub pending: i64,
    pub running: i64,
    /// Of every unfinished job, 0-1.
    pub share: f64,
}

/// The fleet over a window.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ConsoleStats {
    pub window: StatsWindow,
    pub at: DateTime<Utc>,
    /// Every kind of job the deployment runs, one queue each, in the console's order: the
    /// built-in kinds, then those its database ends (`job_kind_endings`).
    pub kinds: Vec<JobKind>,
    /// Queues no worker claims from.
    pub paused: Vec<JobKind>,
    pub counts: Vec<KindStatusCount>,
    /// How many seconds each throughput step covers: 60 for the 15m and 1h windows, 600 for
    /// 24h.
    pub step: i64,
    /// Per step, oldest first.
    pub throughput: Vec<ThroughputStep>,
    pub latency: Vec<LaneLatency>,
    pub lanes: Vec<LaneLoad>,
    /// The 20 workspaces with the most jobs waiting and running.
    pub tenants: Vec<TenantShare>,
    /// Every unfinished job.
    pub unfinished: i64,
}

impl ConsoleStats {
    pub fn new(window: StatsWindow, paused: Vec<JobKind>, stats: Stats) -> Self {
        let total = stats.unfinished.max(1) as f64;
        Self {
            window,
            at: stats.at,
            // A kind this process registered that the deployment's database does not end
            // is no queue of the deployment's (a kind only another process runs).
            kinds: JobKind::known()
                .into_iter()
                .filter(|kind| {
                    JobKind::BUILT_IN.contains(kind)
                        || stats.endings.iter().any(|ending| ending == kind.as_str())
                })
                .collect(),
            paused,
            counts: stats
                .counts
                .into_iter()
                .map(|c| KindStatusCount {
                    kind: c.kind,
                    status: c.status,
                    count: c.count,
                })
                .collect(),
            step: window.step().as_secs() as i64,
            throughput: stats
                .steps
                .into_iter()
                .map(|m| ThroughputStep {
                    kind: m.kind,
                    at: DateTime::from_timestamp(m.at, 0).unwrap_or_default(),
                    finished: m.finished,
                    failed: m.failed,
                })
                .collect(),
            latency: stats.latency.into_iter().map(latency).collect(),
            lanes: stats
                .lanes
                .into_iter()
                .map(|l| LaneLoad {
                    kind: l.kind,
                    lane: l.lane,
                    pending: l.pending,
                    ready: l.ready,
                    running: l.running,
                })
                .collect(),
            tenants: stats
                .tenants
                .into_iter()
                .map(|t| TenantShare {
                    workspace_id: t.workspace_id,
                    pending: t.pending,
                    running: t.running,
                    share: (t.pending + t.running) as f64 / total,
                })
                .collect(),
            unfinished: stats.unfinished,
        }
    }
}

fn latency(l: stats::Latency) -> LaneLatency {
    LaneLatency {
        kind: l.kind,
        lane: l.lane,
        jobs: l.jobs,
        wait_p50: l.wait[0],
        wait_p95: l.wait[1],
        run_p50: l.run[0],
        run_p95: l.run[1],
    }
}

/// What changed in the ledger since the previous frame, by kind: `created`, `started`
/// (and still running), or a final status.
#[derive(Debug, Clone, Object)]
pub struct KindChange {
    pub kind: JobKind,
    pub change: String,
    pub count: i64,
}

/// One frame of `GET /admin/live`, every second: the statistics and what changed.
#[derive(Debug, Clone, Object)]
pub struct LiveFrame {
    pub stats: ConsoleStats,
    pub changes: Vec<KindChange>,
}

/// A webhook endpoint Almanac disabled (its receiver kept failing).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct DisabledEndpoint {
    pub id: Uuid,
    pub user_id: Uuid,
    pub workspace_id: Uuid,
    pub disabled_at: DateTime<Utc>,
    #[oai(nullable)]
    pub reason: Option<String>,
}

/// A channel its owner must connect again (`needs_reauth`), or soon (`reconnectBy`).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ChannelToReconnect {
    pub id: Uuid,
    pub user_id: Uuid,
    pub workspace_id: Uuid,
    pub platform: String,
    pub status: String,
    #[oai(nullable)]
    pub reason: Option<String>,
    #[oai(nullable)]
    pub reconnect_by: Option<DateTime<Utc>>,
}

/// What needs an operator's eye besides the jobs: the feature flags as this process
/// applies them, disabled webhook endpoints and channels to connect again (the 20 newest
/// of each, with their totals).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Attention {
    pub flags: Vec<FlagView>,
    pub disabled_endpoints: i64,
    pub endpoints: Vec<DisabledEndpoint>,
    pub channels_to_reconnect: i64,
    pub channels: Vec<ChannelToReconnect>,
}

impl Attention {
    pub fn new(flags: Vec<FlagView>, found: attention::Attention) -> Self {
        Self {
            flags,
            disabled_endpoints: found.disabled_endpoints,
            endpoints: found
                .endpoints
                .into_iter()
                .map(|e| DisabledEndpoint {
                    id: e.id,
                    user_id: e.user_id,
                    workspace_id: e.workspace_id,
                    disabled_at: e.disabled_at,
                    reason: e.disabled_reason,
                })
                .collect(),
            channels_to_reconnect: found.channels_to_reconnect,
            channels: found
                .channels
                .into_iter()
                .map(|c| ChannelToReconnect {
                    id: c.id,
                    user_id: c.user_id,
                    workspace_id: c.workspace_id,
                    platform: c.platform,
                    status: c.status,
                    reason: c.status_reason,
                    reconnect_by: c.reconnect_by,
                })
                .collect(),
        }
    }
}

crate::enveloped!(
    Attention,
    ConsoleJobPage,
    ConsoleJobDetail,
    RetryOutcome,
    CancelOutcome,
    QueueState,
    ConsoleStats
);

pub type ConsoleJobPageEnvelope = Envelope<ConsoleJobPage>;
pub type ConsoleJobDetailEnvelope = Envelope<ConsoleJobDetail>;
pub type RetryOutcomeEnvelope = Envelope<RetryOutcome>;
pub type CancelOutcomeEnvelope = Envelope<CancelOutcome>;
pub type QueueStateEnvelope = Envelope<QueueState>;
pub type ConsoleStatsEnvelope = Envelope<ConsoleStats>;
pub type AttentionEnvelope = Envelope<Attention>;
