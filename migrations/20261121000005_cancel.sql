-- Cancellation (ARCHITECTURE.md section 4) and batched flashcard generation.

-- A generation can be cancelled; the batches it saved before stay.
alter table ai_generations drop constraint ai_generations_status_check;
alter table ai_generations add constraint ai_generations_status_check
    check (status in ('pending', 'running', 'succeeded', 'failed', 'cancelled'));
-- Batches of the source text already turned into suggestions: a retried attempt resumes
-- after them.
alter table ai_generations add column batches_done integer not null default 0;

-- Cancels the caller's job. A pending job ends `cancelled` at once (with its domain
-- row); a running one is flagged, and its worker stops it. Returns the status before
-- and after; no row when the job is not the caller's.
--
-- SECURITY DEFINER so that users need no write grant on the ledger's status; the
-- ownership check uses the caller's id exactly as the row policy does.
create function cancel_job(p_job_id uuid)
    returns table (before text, after text)
    language plpgsql
    security definer
    set search_path = public, pg_temp
as $$
declare
    v_before text;
begin
    select j.status into v_before from jobs j
    where j.id = p_job_id and j.user_id = app_user_id()
    for update;
    if not found then
        return;
    end if;
    if v_before = 'pending' then
        update jobs set status = 'cancelled', cancel_requested = true, finished_at = now(),
               worker = null, heartbeat_at = null, updated_at = now(),
               error = jsonb_build_object('code', 'CANCELLED',
                                          'message', 'cancelled before it started')
        where id = p_job_id;
        update ai_generations set status = 'cancelled', updated_at = now()
        where job_id = p_job_id;
        return query select v_before, 'cancelled'::text;
    elsif v_before = 'running' then
        update jobs set cancel_requested = true, updated_at = now() where id = p_job_id;
        return query select v_before, v_before;
    else
        return query select v_before, v_before;
    end if;
end
$$;

revoke all on function cancel_job(uuid) from public;
grant execute on function cancel_job(uuid) to almanac_app;
