-- A bounded ledger: finished jobs older than `JOB_RETENTION_DAYS` are deleted in small
-- batches by the reconciler (`store::jobs::sweep_finished`), found through a partial index
-- on the finished time. The domain rows keep their `job_id` as history, so the foreign keys
-- that pointed at `jobs` go; no user-facing view needs the job row.
alter table ai_generations drop constraint if exists ai_generations_job_id_fkey;
alter table calendar_runs drop constraint if exists calendar_runs_job_id_fkey;
alter table syntheses drop constraint if exists syntheses_job_id_fkey;
alter table email_deliveries drop constraint if exists email_deliveries_job_id_fkey;
alter table organic_runs drop constraint if exists organic_runs_job_id_fkey;
alter table publish_intents drop constraint if exists publish_intents_job_id_fkey;

create index jobs_finished_idx on jobs (finished_at) where finished_at is not null;
