-- A job kind's domain rows follow its job when the job ends otherwise than by its own
-- handler (a cancel before it started, the reconciler after a lost worker, a failed or
-- cancelled attempt). Each kind declares how in its own migration: a function
--
--     end_<kind>_job(p_job_id uuid, p_payload jsonb, p_status text, p_error jsonb) returns jsonb
--
-- that ends the kind's active rows with the job's final status and returns what the job
-- kept (stored as the job's `result` and carried by its final event), registered in
-- `job_kind_endings`. `end_job_domain_rows()` finds it by kind, so adding a kind is its
-- worker module plus its migration: no function here lists the kinds.
--
-- The endings read the domain row's id from the payload (a primary-key lookup) rather
-- than searching the domain tables by job id.

create table job_kind_endings (
    kind    text primary key,
    ending  regproc not null
);

-- Flashcard generations: the row follows the job; the suggestions it saved stay.
create function end_generation_job(p_job_id uuid, p_payload jsonb, p_status text, p_error jsonb)
    returns jsonb
    language sql
    security definer
    set search_path = public, pg_temp
as $$
    update ai_generations set status = p_status, error = coalesce(p_error, error),
           updated_at = now()
    where id = (p_payload ->> 'generation_id')::uuid and status in ('pending', 'running');
    select jsonb_build_object('generation_id', g.id,
               'suggestions', (select count(*) from ai_suggestions s where s.generation_id = g.id))
    from ai_generations g where g.id = (p_payload ->> 'generation_id')::uuid;
$$;

-- A calendar run's summary: the final frame's `data` (seed 000).
create function calendar_run_summary(r calendar_runs) returns jsonb
    language sql
    stable
as $$
    select jsonb_build_object('status', r.status, 'entries', r.entries, 'slots', r.slots,
        'latencyMs', r.latency_ms, 'tokens', r.tokens_input + r.tokens_output, 'runId', r.id,
        'calendarId', r.calendar_id, 'version', r.version, 'mode', r.mode, 'persisted', true,
        'diff', r.diff, 'model', r.model);
$$;

-- Ends a calendar run with its figures (latency since the request, status, error, diff
-- counts) and returns its summary. Used by the calendar job's own finish and by the
-- legacy path, which runs as the user: SECURITY INVOKER, so row-level security applies.
create function finish_calendar_run(p_run_id uuid, p_status text, p_error jsonb, p_diff jsonb)
    returns jsonb
    language sql
    security invoker
as $$
    update calendar_runs set status = p_status, error = p_error, diff = p_diff,
           finished_at = now(),
           latency_ms = (extract(epoch from now() - created_at) * 1000)::bigint
    where id = p_run_id
    returning calendar_run_summary(calendar_runs);
$$;

-- Calendar runs: an active run ends with its job (keeping the entries it saved), so the
-- user can start another; the job keeps the run's summary.
create function end_calendar_job(p_job_id uuid, p_payload jsonb, p_status text, p_error jsonb)
    returns jsonb
    language plpgsql
    security definer
    set search_path = public, pg_temp
as $$
declare
    v_run calendar_runs;
begin
    select * into v_run from calendar_runs where id = (p_payload ->> 'run_id')::uuid;
    if not found then
        return null;
    end if;
    if v_run.status in ('pending', 'running') then
        return finish_calendar_run(v_run.id, p_status, coalesce(v_run.error, p_error), null);
    end if;
    return calendar_run_summary(v_run);
end
$$;

-- Syntheses follow their job.
create function end_synthesis_job(p_job_id uuid, p_payload jsonb, p_status text, p_error jsonb)
    returns jsonb
    language sql
    security definer
    set search_path = public, pg_temp
as $$
    update syntheses set status = p_status, error = coalesce(error, p_error), updated_at = now()
    where id = (p_payload ->> 'synthesis_id')::uuid and status in ('pending', 'running');
    select jsonb_build_object('synthesis_id', (p_payload ->> 'synthesis_id')::uuid);
$$;

-- An email delivery caught mid-send becomes `unknown` (it is never sent again, so nobody
-- gets a synthesis twice), otherwise `failed`.
create function end_email_job(p_job_id uuid, p_payload jsonb, p_status text, p_error jsonb)
    returns jsonb
    language sql
    security definer
    set search_path = public, pg_temp
as $$
    update email_deliveries
    set status = case status when 'sending' then 'unknown' else 'failed' end,
        last_error = coalesce(last_error, p_error), updated_at = now()
    where id = (p_payload ->> 'delivery_id')::uuid and status in ('pending', 'sending');
    select jsonb_build_object('delivery_id', d.id, 'recipient', d.recipient)
    from email_deliveries d where d.id = (p_payload ->> 'delivery_id')::uuid;
$$;

insert into job_kind_endings (kind, ending) values
    ('generation', 'end_generation_job'),
    ('calendar', 'end_calendar_job'),
    ('synthesis', 'end_synthesis_job'),
    ('email', 'end_email_job');

revoke all on function end_generation_job(uuid, jsonb, text, jsonb) from public;
grant execute on function finish_calendar_run(uuid, text, jsonb, jsonb) to almanac_app;
revoke all on function end_calendar_job(uuid, jsonb, text, jsonb) from public;
revoke all on function end_synthesis_job(uuid, jsonb, text, jsonb) from public;
revoke all on function end_email_job(uuid, jsonb, text, jsonb) from public;

-- Replaces the version of migration 8, which listed the kinds. Ends job `p_job_id`'s
-- domain rows through its kind's registered ending, records what the job kept as its
-- `result`, and returns it (null for a kind without domain rows).
drop function end_job_domain_rows(uuid, text, text, jsonb);
create function end_job_domain_rows(p_job_id uuid, p_status text, p_error jsonb)
    returns jsonb
    language plpgsql
    security definer
    set search_path = public, pg_temp
as $$
declare
    v_ending regproc;
    v_payload jsonb;
    v_kept jsonb;
begin
    select e.ending, j.payload into v_ending, v_payload
    from jobs j join job_kind_endings e on e.kind = j.kind
    where j.id = p_job_id;
    if v_ending is null then
        return null;
    end if;
    execute format('select %s($1, $2, $3, $4)', v_ending)
        into v_kept using p_job_id, v_payload, p_status, p_error;
    update jobs set result = v_kept where id = p_job_id and v_kept is not null;
    return v_kept;
end
$$;

revoke all on function end_job_domain_rows(uuid, text, jsonb) from public;

-- cancel_job as before; a pending job's domain rows end through its kind's ending.
create or replace function cancel_job(p_job_id uuid)
    returns table (before text, after text)
    language plpgsql
    security definer
    set search_path = public, pg_temp
as $$
declare
    v_before text;
    v_error jsonb := jsonb_build_object('code', 'CANCELLED', 'message', 'cancelled before it started');
begin
    select j.status into v_before from jobs j
    where j.id = p_job_id and j.user_id = app_user_id()
    for update;
    if not found then
        return;
    end if;
    if v_before = 'pending' then
        update jobs set status = 'cancelled', cancel_requested = true, finished_at = now(),
               worker = null, heartbeat_at = null, updated_at = now(), error = v_error
        where id = p_job_id;
        perform end_job_domain_rows(p_job_id, 'cancelled', v_error);
        return query select v_before, 'cancelled'::text;
    elsif v_before = 'running' then
        update jobs set cancel_requested = true, updated_at = now() where id = p_job_id;
        return query select v_before, v_before;
    else
        return query select v_before, v_before;
    end if;
end
$$;
