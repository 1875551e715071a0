-- The reconciler ends a generation left `pending` or `running` under a job that ended
-- (issue 73): it looks among the active generations only.
create index ai_generations_active on ai_generations (job_id) where status in ('pending', 'running');
