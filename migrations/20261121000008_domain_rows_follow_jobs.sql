-- Domain rows follow their job through one function, called where a job ends otherwise
-- than by its own handler (a cancel before it started, the reconciler after a lost
-- worker, a failed or cancelled attempt), instead of triggers on `jobs`.
--
-- Why: a row trigger with a WHEN clause costs its WHEN expression's parsing on every
-- statement that updates `jobs` (Postgres keeps the prepared expression per statement),
-- and every job updates its ledger row two or three times: three such triggers cost
-- about a tenth of single-row update throughput (pgbench, 4 clients).

drop trigger jobs_end_calendar_run on jobs;
drop trigger jobs_end_synthesis on jobs;
drop trigger jobs_end_email_delivery on jobs;
drop function end_calendar_run();
drop function end_synthesis();
drop function end_email_delivery();

-- Ends the domain row of job `p_job_id` (of `p_kind`) with the job's final status, if it
-- is still active. An email delivery caught mid-send becomes `unknown` (it is never sent
-- again), otherwise `failed`.
create function end_job_domain_rows(p_job_id uuid, p_kind text, p_status text, p_error jsonb)
    returns void
    language plpgsql
    security definer
    set search_path = public, pg_temp
as $$
begin
    if p_kind = 'generation' then
        update ai_generations set status = p_status, error = coalesce(p_error, error),
               updated_at = now()
        where job_id = p_job_id and status in ('pending', 'running');
    elsif p_kind = 'calendar' then
        update calendar_runs set status = p_status, error = coalesce(error, p_error),
               finished_at = now()
        where job_id = p_job_id and status in ('pending', 'running');
    elsif p_kind = 'synthesis' then
        update syntheses set status = p_status, error = coalesce(error, p_error),
               updated_at = now()
        where job_id = p_job_id and status in ('pending', 'running');
    elsif p_kind = 'email' then
        update email_deliveries
        set status = case status when 'sending' then 'unknown' else 'failed' end,
            last_error = coalesce(last_error, p_error), updated_at = now()
        where job_id = p_job_id and status in ('pending', 'sending');
    end if;
end
$$;

revoke all on function end_job_domain_rows(uuid, text, text, jsonb) from public;

-- cancel_job as before, ending the domain row of any kind of pending job.
create or replace function cancel_job(p_job_id uuid)
    returns table (before text, after text)
    language plpgsql
    security definer
    set search_path = public, pg_temp
as $$
declare
    v_before text;
    v_kind text;
    v_error jsonb := jsonb_build_object('code', 'CANCELLED', 'message', 'cancelled before it started');
begin
    select j.status, j.kind into v_before, v_kind from jobs j
    where j.id = p_job_id and j.user_id = app_user_id()
    for update;
    if not found then
        return;
    end if;
    if v_before = 'pending' then
        update jobs set status = 'cancelled', cancel_requested = true, finished_at = now(),
               worker = null, heartbeat_at = null, updated_at = now(), error = v_error
        where id = p_job_id;
        perform end_job_domain_rows(p_job_id, v_kind, 'cancelled', v_error);
        return query select v_before, 'cancelled'::text;
    elsif v_before = 'running' then
        update jobs set cancel_requested = true, updated_at = now() where id = p_job_id;
        return query select v_before, v_before;
    else
        return query select v_before, v_before;
    end if;
end
$$;
