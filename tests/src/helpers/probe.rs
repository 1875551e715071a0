//! `probe`: a job kind that exists only in the tests.
//!
//! It is what adding a kind takes, whole (the checklist: `docs/architecture.md`, section
//! 10): this module (a payload type, and the worker's `Job` for it: its start statement,
//! its input and its handler) plus its migration ([`MIGRATION`]: its table, and the ending
//! its rows follow when the job ends otherwise than by the handler, registered by kind).
//! Nothing in the API, the runner, the reconciler, the console or `cancel_job` names it:
//! the one registration is the worker registry's `register::<ProbeJob>()` in the tests'
//! app (`helpers::TestApp::start_worker_with`), which makes it known to the process.
//!
//! Being the tests' own, it can also pause right after its final commit ([`hold`]), so
//! that a test can act in the gap between a job's end in the ledger and its final events.

use almanac_shared::store::jobs::Claim;
use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, Mutex},
};

use almanac_shared::{
    events::Event,
    jobs::{About, JobKind, JobPayload, NewJob, Row, Words},
};
use almanac_worker::job::{Context, Finished, Job, JobContext, JobError, JobResult};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{Notify, Semaphore};
use uuid::Uuid;

use super::TestApp;

/// The kind's migration: its table, and its ending registered for its kind.
pub const MIGRATION: &str = r"
create table probes (
    id      uuid primary key,
    user_id uuid not null,
    status  text not null default 'pending',
    steps   integer not null,
    saved   integer not null default 0
);
create function end_probe_job(p_job_id uuid, p_payload jsonb, p_status text, p_error jsonb)
    returns jsonb
    language sql
    security definer
    set search_path = public, pg_temp
as $$
    update probes set status = p_status
    where id = (p_payload ->> 'probe_id')::uuid and status in ('pending', 'running');
    select jsonb_build_object('probe_id', p.id, 'saved', p.saved)
    from probes p where p.id = (p_payload ->> 'probe_id')::uuid;
$$;
insert into job_kind_endings (kind, ending) values ('probe', 'end_probe_job')
    on conflict (kind) do update set ending = excluded.ending;
";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeJob {
    pub probe_id: Uuid,
}

impl JobPayload for ProbeJob {
    const KIND: JobKind = JobKind::new(&About {
        name: "probe",
        attempts: 3,
        row: Row {
            table: "probes",
            id_field: "probe_id",
            path: None,
        },
        words: Words::Common,
        deadline: None,
    });
    const TYPE: &'static str = "probe.v1";
}

#[derive(Deserialize)]
pub struct Input {
    steps: i32,
}

impl Job for ProbeJob {
    type Input = Input;

    const START: &'static str = "update probes p set status = 'running'
        from claimed where p.id = (claimed.payload ->> 'probe_id')::uuid
        returning claimed.id as claimed_job, p.steps";

    const MISSING: &'static str = "PROBE_MISSING";

    /// Emits a progress event per step, then saves, and its commit's event (`saved`) is
    /// staged for the runner to publish before `done`. Refuses a negative step count.
    async fn run(self, ctx: &JobContext, claim: &Claim, input: Input) -> JobResult {
        if input.steps < 0 {
            return Err(JobError::permanent(
                "PROBE_REFUSED",
                "a probe needs at least zero steps",
            ));
        }
        let total = input.steps as u64 + 1;
        for step in 1..=input.steps as u64 {
            let event = Event::progress(step, total, "probing", format!("step {step}"));
            ctx.emitter.emit_or_log(claim.id, &event).await;
        }
        let saved = Event::progress(total, total, "saved", "the probe's results are saved");
        let staged = ctx.emitter.stage(claim.id, vec![saved]).await;
        let result = json!({ "probe_id": self.probe_id, "saved": input.steps });
        let mut tx = ctx.pool.begin().await.context("opening")?;
        sqlx::query("update probes set status = 'succeeded', saved = steps where id = $1")
            .bind(self.probe_id)
            .execute(&mut *tx)
            .await
            .context("saving the probe")?;
        let events = Some(staged.token);
        if !claim
            .succeed(&mut *tx, &result, events)
            .await
            .context("ending the job")?
        {
            return Ok(None);
        }
        tx.commit().await.context("committing")?;
        pause_after_commit(self.probe_id).await;
        Ok(Some(Finished::succeeded(result).after(staged)))
    }
}

/// A probe held after its final commit until the test opens it.
pub struct Gate {
    reached: Notify,
    open: Semaphore,
}

impl Gate {
    /// Waits until the probe has committed its end and stopped.
    pub async fn reached(&self) {
        self.reached.notified().await;
    }

    pub fn open(&self) {
        self.open.add_permits(1);
    }
}

static GATES: LazyLock<Mutex<HashMap<Uuid, Arc<Gate>>>> = LazyLock::new(Default::default);

/// Holds probe `probe_id` after its final commit (set before submitting it).
pub fn hold(probe_id: Uuid) -> Arc<Gate> {
    let gate = Arc::new(Gate {
        reached: Notify::new(),
        open: Semaphore::new(0),
    });
    GATES.lock().unwrap().insert(probe_id, gate.clone());
    gate
}

async fn pause_after_commit(probe_id: Uuid) {
    let gate = GATES.lock().unwrap().get(&probe_id).cloned();
    if let Some(gate) = gate {
        gate.reached.notify_one();
        let _ = gate.open.acquire().await;
    }
}

impl TestApp {
    /// Installs the probe kind's migration in the test database.
    pub async fn install_probe_kind(&self) {
        sqlx::raw_sql(MIGRATION).execute(&self.db).await.unwrap();
    }

    /// Creates a probe of `steps` steps and its job, and queues it; returns the job's id.
    pub async fn submit_probe(&self, user: Uuid, probe_id: Uuid, steps: i32) -> Uuid {
        let actor = almanac_shared::workspaces::Actor::personal(user);
        self.submit_probe_in(actor, probe_id, steps).await
    }

    /// [`TestApp::submit_probe`] by `actor.user`, working in `actor.workspace`.
    pub async fn submit_probe_in(
        &self,
        actor: almanac_shared::workspaces::Actor,
        probe_id: Uuid,
        steps: i32,
    ) -> Uuid {
        let user = actor.user;
        let job = NewJob::new(actor, &ProbeJob { probe_id });
        let mut tx = self.db.begin().await.unwrap();
        job.insert(&mut *tx).await.unwrap();
        sqlx::query("insert into probes (id, user_id, steps) values ($1, $2, $3)")
            .bind(probe_id)
            .bind(user)
            .bind(steps)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        // As the API does for the jobs it creates.
        almanac_shared::events::Emitter::new(&self.settings, self.redis.clone())
            .emit_first(job.id, &Event::queued(steps.max(0) as u64 + 1))
            .await
            .unwrap();
        self.queue.push(ProbeJob::KIND, job.id, None).await.unwrap();
        job.id
    }

    /// The probe's row: its status and what it saved.
    pub async fn probe(&self, probe_id: Uuid) -> (String, i32) {
        sqlx::query_as("select status, saved from probes where id = $1")
            .bind(probe_id)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }
}
