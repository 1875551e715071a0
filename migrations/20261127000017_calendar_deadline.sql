-- Seed 000's 30 s is wall-clock from the request: a service run's deadline is stored when
-- it is accepted (CALENDAR_TIMEOUT_SECS later), so that queue wait and retried attempts
-- count. Legacy runs, which end within their request, have none.
alter table calendar_runs add column deadline_at timestamptz;

-- Ends a calendar run's job `timeout` once its deadline has passed by a second, if it is
-- still pending or running (fenced: nothing else is touched). Any API process serving the
-- run's stream or its poll view calls it, so the final frame comes even with no worker
-- running; a worker that claims the job later finds it ended. Returns whether it ended it.
create function expire_calendar_job(p_job_id uuid)
    returns boolean
    language plpgsql
    security definer
    set search_path = public, pg_temp
as $$
declare
    v_run calendar_runs;
    v_written bigint;
    v_error jsonb;
begin
    select r.* into v_run
    from calendar_runs r join jobs j on j.id = r.job_id
    where r.job_id = p_job_id and j.status in ('pending', 'running')
      and r.deadline_at is not null and r.deadline_at + interval '1 second' <= now()
    for update of j;
    if not found then
        return false;
    end if;
    select count(*) into v_written from calendar_run_entries where run_id = v_run.id;
    v_error := jsonb_build_object('code', 'CALENDAR_TIMEOUT', 'message', format(
        'The calendar took longer than %s s to generate: %s of %s entries were written and saved. Regenerate to complete it.',
        round(extract(epoch from v_run.deadline_at - v_run.created_at)), v_written, v_run.slots));
    update jobs set status = 'timeout', finished_at = now(), worker = null,
           heartbeat_at = null, updated_at = now(), error = v_error
    where id = p_job_id;
    perform end_job_domain_rows(p_job_id, 'timeout', v_error);
    return true;
end
$$;

revoke all on function expire_calendar_job(uuid) from public;
grant execute on function expire_calendar_job(uuid) to almanac_app;
