-- What worked (issue 58), its reads: each reading of a post's numbers is a `post_metrics`
-- job (lane `scheduled`), recorded here as its domain row. The scheduler's pass makes the
-- 1-hour, 24-hour and 7-day ones, each once (a unique index, as `post_metrics` keeps each
-- reading once); `POST /v1/analytics/posts/{intentId}/refresh` makes a `manual` one. A read
-- the platform refused keeps why (`error`), and is not tried again.
create table post_metric_reads (
    id          uuid primary key,
    intent_id   uuid not null references publish_intents (id) on delete cascade,
    user_id     uuid not null,
    reading     text not null check (reading in ('1h', '24h', '7d', 'manual')),
    job_id      uuid not null,
    status      text not null default 'pending'
                check (status in ('pending', 'running', 'succeeded', 'failed', 'timeout',
                                  'cancelled')),
    -- What the platform answered: numbers, or nothing yet.
    outcome     text check (outcome in ('measured', 'empty')),
    error       jsonb,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);
create unique index post_metric_reads_once on post_metric_reads (intent_id, reading)
    where reading <> 'manual';
create index post_metric_reads_intent_idx on post_metric_reads (intent_id, created_at desc);

alter table post_metric_reads enable row level security;
create policy post_metric_reads_owner on post_metric_reads
    using (user_id = app_user_id()) with check (user_id = app_user_id());
grant select, insert on post_metric_reads to almanac_app;

-- Why a channel's numbers cannot be read (the platform refused the permission reading
-- needs): shown as "connect again to see analytics", and no read is made for it until it
-- connects again, which clears it.
alter table platform_accounts add column analytics_refused text;

-- The scheduler's pass looks for posts published in the last eight days.
create index publish_intents_published_idx on publish_intents (published_at)
    where status = 'published';

-- A read whose job ended otherwise than by its handler (cancelled, its attempts spent, its
-- worker lost) ends with it.
create function end_post_metrics_job(p_job_id uuid, p_payload jsonb, p_status text,
                                     p_error jsonb)
    returns jsonb
    language sql
    security definer
    set search_path = public, pg_temp
as $$
    update post_metric_reads set status = p_status, error = coalesce(error, p_error),
           updated_at = now()
    where id = (p_payload ->> 'read_id')::uuid and job_id = p_job_id
      and status in ('pending', 'running');
    select jsonb_build_object('read_id', (p_payload ->> 'read_id')::uuid);
$$;
insert into job_kind_endings (kind, ending) values ('post_metrics', 'end_post_metrics_job');
