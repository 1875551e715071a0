-- The operator console (issue 54, docs/operations.md "The console"): the admin's browser
-- sessions, the record of bulk actions, paused queues, the job search's indexes, and the
-- way a job that ended badly is started again (`restart_<kind>_job`).

-- `almanac_admin` cookies (`POST /app/admin-session`): only the id's SHA-256 digest is
-- kept, for 8 hours. Only the API's own connection reads the table.
create table admin_sessions (
    id_digest   bytea primary key check (octet_length(id_digest) = 32),
    created_at  timestamptz not null default now(),
    expires_at  timestamptz not null
);
create index admin_sessions_expiry on admin_sessions (expires_at);

-- Every bulk retry or cancel an operator made: who, when, the filter, what it came to.
create table admin_actions (
    id          bigint generated always as identity primary key,
    at          timestamptz not null default now(),
    actor       text not null,
    action      text not null check (action in ('retry', 'cancel', 'pause', 'resume')),
    filter      jsonb not null,
    matched     bigint not null default 0,
    acted       bigint not null default 0,
    skipped     jsonb not null default '{}'::jsonb
);

-- A paused kind: submissions are accepted as usual, and no claim takes its jobs
-- (`claim_jobs` below), fleet-wide, from the moment the row commits. Every process learns
-- of a change through the flags' channel (`queue_paused{kind}` on its metrics).
create table queue_pauses (
    kind        text primary key check (kind ~ '^[a-z][a-z0-9_]{0,39}$'),
    paused_at   timestamptz not null default now(),
    paused_by   text not null
);

create function queue_pauses_changed() returns trigger
    language plpgsql
as $$
begin
    perform pg_notify('almanac_flags', 'queues');
    return null;
end
$$;
create trigger queue_pauses_notify after insert or update or delete on queue_pauses
    for each statement execute function queue_pauses_changed();

-- The claim of migration 40 runs only while its kind is not paused. The check comes before
-- the kind's claim lock: a claim that took the lock before the pause committed may still
-- take its jobs; none after.
alter function claim_jobs(text, text, uuid, integer, integer, integer, double precision)
    rename to claim_unpaused_jobs;
create function claim_jobs(
    p_kind       text,
    p_worker     text,
    p_batch      uuid,
    p_most       integer,
    p_key_cap    integer,
    p_user_cap   integer,
    p_aging_secs double precision
) returns table (id uuid, waited double precision)
    language plpgsql
    security invoker
as $$
begin
    if exists (select 1 from queue_pauses q where q.kind = p_kind) then
        return;
    end if;
    return query select c.id, c.waited
                 from claim_unpaused_jobs(p_kind, p_worker, p_batch, p_most, p_key_cap,
                                          p_user_cap, p_aging_secs) c;
end
$$;
revoke execute on function claim_jobs(text, text, uuid, integer, integer, integer,
                                      double precision) from public;
revoke execute on function claim_unpaused_jobs(text, text, uuid, integer, integer, integer,
                                               double precision) from public;

-- The search: a request's id (`q`), and the newest jobs of a status and kind.
create index jobs_request_id_idx on jobs ((trace_context ->> 'x-request-id'));
create index jobs_status_kind_idx on jobs (status, kind, id);
create index jobs_user_id_idx on jobs (user_id, id);

-- The finished jobs of a window, with what the console's statistics read of them, so that
-- they are read from the index alone.
drop index jobs_finished_idx;
create index jobs_finished_idx on jobs (finished_at)
    include (kind, lane, status, created_at, started_at)
    where finished_at is not null;

-- A job that ended `failed`, `timeout` or `cancelled` started again by an operator: its
-- kind's function, registered beside its ending, puts the domain row back to where a new
-- job's would be, and answers why not when it cannot (`null`: it did, or would):
--
--     restart_<kind>_job(p_job_id uuid, p_payload jsonb, p_dry_run boolean) returns text
--
-- Kinds without one (`publish`: intents are retried by their owners; `calendar`: its
-- deadline passed, Continue is the user's) are never started again here.
alter table job_kind_endings add column restart regproc;

create function restart_generation_job(p_job_id uuid, p_payload jsonb, p_dry_run boolean)
    returns text
    language plpgsql
    security definer
    set search_path = public, pg_temp
as $$
begin
    if not exists (select 1 from ai_generations g
                   where g.id = (p_payload ->> 'generation_id')::uuid and g.job_id = p_job_id) then
        return 'domain_row_gone';
    end if;
    if not p_dry_run then
        update ai_generations set status = 'pending', error = null, updated_at = now()
        where id = (p_payload ->> 'generation_id')::uuid;
    end if;
    return null;
end
$$;

create function restart_synthesis_job(p_job_id uuid, p_payload jsonb, p_dry_run boolean)
    returns text
    language plpgsql
    security definer
    set search_path = public, pg_temp
as $$
begin
    if not exists (select 1 from syntheses s
                   where s.id = (p_payload ->> 'synthesis_id')::uuid and s.job_id = p_job_id) then
        return 'domain_row_gone';
    end if;
    if not p_dry_run then
        update syntheses set status = 'pending', error = null, updated_at = now()
        where id = (p_payload ->> 'synthesis_id')::uuid;
    end if;
    return null;
end
$$;

-- Another run of the same brand started meanwhile: that one is the brand's week now.
create function restart_organic_job(p_job_id uuid, p_payload jsonb, p_dry_run boolean)
    returns text
    language plpgsql
    security definer
    set search_path = public, pg_temp
as $$
declare
    v_run organic_runs;
begin
    select * into v_run from organic_runs r
    where r.id = (p_payload ->> 'run_id')::uuid and r.job_id = p_job_id
    for update;
    if not found then
        return 'domain_row_gone';
    end if;
    if exists (select 1 from organic_runs r
               where r.user_id = v_run.user_id and r.brand_id = v_run.brand_id
                 and r.id <> v_run.id and r.status in ('pending', 'running')) then
        return 'superseded';
    end if;
    if not p_dry_run then
        update organic_runs set status = 'pending', finished_at = null where id = v_run.id;
    end if;
    return null;
end
$$;

-- A delivery whose send may have reached the provider (`unknown`) is never sent again,
-- so nobody gets a synthesis twice; one sent since (a later job) is left alone.
create function restart_email_job(p_job_id uuid, p_payload jsonb, p_dry_run boolean)
    returns text
    language plpgsql
    security definer
    set search_path = public, pg_temp
as $$
declare
    v_status text;
begin
    select d.status into v_status from email_deliveries d
    where d.id = (p_payload ->> 'delivery_id')::uuid
    for update;
    if not found then
        return 'domain_row_gone';
    elsif v_status = 'unknown' then
        return 'delivery_unknown';
    elsif v_status <> 'failed' then
        return 'superseded';
    end if;
    if not p_dry_run then
        update email_deliveries set status = 'pending', updated_at = now()
        where id = (p_payload ->> 'delivery_id')::uuid;
    end if;
    return null;
end
$$;

-- A delivery redelivered since has a job of its own.
create function restart_webhook_job(p_job_id uuid, p_payload jsonb, p_dry_run boolean)
    returns text
    language plpgsql
    security definer
    set search_path = public, pg_temp
as $$
declare
    v_delivery webhook_deliveries;
begin
    select * into v_delivery from webhook_deliveries d
    where d.id = (p_payload ->> 'delivery_id')::uuid
    for update;
    if not found then
        return 'domain_row_gone';
    elsif v_delivery.job_id is distinct from p_job_id or v_delivery.status = 'succeeded' then
        return 'superseded';
    end if;
    if not p_dry_run then
        update webhook_deliveries set status = 'pending', next_attempt_at = null,
               updated_at = now()
        where id = v_delivery.id;
    end if;
    return null;
end
$$;

update job_kind_endings set restart = 'restart_generation_job' where kind = 'generation';
update job_kind_endings set restart = 'restart_synthesis_job' where kind = 'synthesis';
update job_kind_endings set restart = 'restart_organic_job' where kind = 'organic';
update job_kind_endings set restart = 'restart_email_job' where kind = 'email';
update job_kind_endings set restart = 'restart_webhook_job' where kind = 'webhook';

revoke all on function restart_generation_job(uuid, jsonb, boolean) from public;
revoke all on function restart_synthesis_job(uuid, jsonb, boolean) from public;
revoke all on function restart_organic_job(uuid, jsonb, boolean) from public;
revoke all on function restart_email_job(uuid, jsonb, boolean) from public;
revoke all on function restart_webhook_job(uuid, jsonb, boolean) from public;

-- Retries the jobs `p_ids` (locked here): each answers why it was skipped, or `null` when
-- it went (or, with `p_dry_run`, would go) back to `pending` with a fresh attempt budget,
-- in the `bulk` lane (people waiting now go first), its domain row following.
create function admin_retry_jobs(p_ids uuid[], p_dry_run boolean)
    returns table (id uuid, kind text, before text, skipped text)
    language plpgsql
    security definer
    set search_path = public, pg_temp
as $$
#variable_conflict use_column
declare
    v_job record;
    v_skip text;
begin
    for v_job in
        select j.id, j.kind, j.status, j.payload, e.restart
        from jobs j left join job_kind_endings e on e.kind = j.kind
        where j.id = any(p_ids)
        order by j.id desc
        for update of j
    loop
        v_skip := case
            when v_job.status not in ('failed', 'timeout', 'cancelled') then 'not_ended_badly'
            when v_job.kind = 'publish' then 'publish_retried_by_owner'
            when v_job.kind = 'calendar' then 'calendar_deadline_passed'
            when v_job.restart is null then 'kind_not_retryable'
        end;
        if v_skip is null then
            execute format('select %s($1, $2, $3)', v_job.restart)
                into v_skip using v_job.id, v_job.payload, p_dry_run;
        end if;
        if v_skip is null and not p_dry_run then
            update jobs j set status = 'pending', attempts = 0, run_after = now(),
                   enqueued_at = now(), worker = null, heartbeat_at = null,
                   cancel_requested = false, result = null, error = null,
                   started_at = null, finished_at = null, lane = 'bulk', claim_batch = null,
                   updated_at = now()
            where j.id = v_job.id;
        end if;
        id := v_job.id;
        kind := v_job.kind;
        before := v_job.status;
        skipped := v_skip;
        return next;
    end loop;
end
$$;

-- Cancels the jobs `p_ids` (locked here): a pending one ends `cancelled` at once (its
-- domain rows following, as `cancel_job` does), a running one is flagged and its worker
-- stops within a second; an ended one is skipped.
create function admin_cancel_jobs(p_ids uuid[], p_dry_run boolean)
    returns table (id uuid, kind text, before text, skipped text)
    language plpgsql
    security definer
    set search_path = public, pg_temp
as $$
#variable_conflict use_column
declare
    v_job record;
    v_error jsonb := jsonb_build_object('code', 'CANCELLED',
                                        'message', 'cancelled by an operator');
begin
    for v_job in
        select j.id, j.kind, j.status from jobs j
        where j.id = any(p_ids)
        order by j.id desc
        for update
    loop
        id := v_job.id;
        kind := v_job.kind;
        before := v_job.status;
        skipped := case when v_job.status in ('pending', 'running') then null else 'ended' end;
        if skipped is null and not p_dry_run then
            if v_job.status = 'pending' then
                update jobs j set status = 'cancelled', cancel_requested = true,
                       finished_at = now(), worker = null, heartbeat_at = null,
                       updated_at = now(), error = v_error
                where j.id = v_job.id;
                perform end_job_domain_rows(v_job.id, 'cancelled', v_error);
            else
                update jobs j set cancel_requested = true, updated_at = now()
                where j.id = v_job.id;
            end if;
        end if;
        return next;
    end loop;
end
$$;

revoke all on function admin_retry_jobs(uuid[], boolean) from public;
revoke all on function admin_cancel_jobs(uuid[], boolean) from public;
