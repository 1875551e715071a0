-- The job ledger (ARCHITECTURE.md section 2). Postgres is the source of truth for every
-- job; Redis only carries job ids to workers.
create table jobs (
    id            uuid primary key,
    user_id       uuid not null,
    kind          text not null
                  check (kind in ('generation', 'calendar', 'organic', 'synthesis', 'email', 'publish')),
    status        text not null default 'pending'
                  check (status in ('pending', 'running', 'succeeded', 'failed', 'timeout', 'cancelled')),
    -- Serde-tagged, versioned payload ({"type": "generation.v1", ...}).
    payload       jsonb not null,
    attempts      integer not null default 0 check (attempts >= 0),
    max_attempts  integer not null check (max_attempts > 0),
    -- A retry is not claimed before this time (exponential backoff).
    run_after     timestamptz not null default now(),
    -- When the id was last pushed to Redis; the reconciler pushes again after a while.
    enqueued_at   timestamptz,
    -- The claim: which worker runs the current attempt, and its last sign of life.
    worker        text,
    heartbeat_at  timestamptz,
    cancel_requested boolean not null default false,
    -- W3C trace context of the request that created the job.
    trace_context jsonb not null default '{}'::jsonb,
    result        jsonb,
    error         jsonb,
    created_at    timestamptz not null default now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    updated_at    timestamptz not null default now()
);

-- The reconciler scans only unfinished jobs.
create index jobs_unfinished_idx on jobs (status, run_after) where status in ('pending', 'running');
create index jobs_user_created_idx on jobs (user_id, created_at desc);

alter table jobs enable row level security;
create policy jobs_owner on jobs
    using (user_id = app_user_id())
    with check (user_id = app_user_id());
grant select, insert on jobs to almanac_app;
-- Users may request cancellation, nothing else.
grant update (cancel_requested, updated_at) on jobs to almanac_app;
