-- What worked (issue 58): an organic run whose AI was shown the user's best and worst recent
-- posts keeps them in its request (`learnedFrom`), and its summary (the `complete` line)
-- names them.
create or replace function organic_run_summary(p_run_id uuid) returns jsonb
    language sql
    stable
as $$
    select jsonb_build_object(
        'runId', r.id, 'jobId', r.job_id, 'brandProfileId', r.brand_id,
        'weekStart', r.week_start, 'status', r.status,
        'counts', jsonb_build_object(
            'placements', count(i.placement_id) filter (where i.outcome = 'placement'),
            'errors', count(i.placement_id) filter (where i.outcome = 'error'),
            'adjusted', count(i.placement_id) filter (where i.outcome = 'placement' and i.adjusted),
            'autoFilled', count(i.placement_id) filter (where i.outcome = 'placement' and i.auto)))
        || case when r.request ? 'learnedFrom'
                then jsonb_build_object('learnedFrom', r.request -> 'learnedFrom')
                else '{}'::jsonb end
    from organic_runs r left join organic_run_items i on i.run_id = r.id
    where r.id = p_run_id
    group by r.id;
$$;
