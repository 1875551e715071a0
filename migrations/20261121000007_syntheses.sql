-- News syntheses (seed 004): themes and their sources, generated syntheses, per-theme
-- schedules, and one email delivery record per (synthesis, recipient).

create table themes (
    id              uuid primary key,
    user_id         uuid not null,
    name            text not null check (char_length(name) between 1 and 200),
    description     text,
    -- [{type: rss | url | text, value}], at most 20.
    sources         jsonb not null default '[]'::jsonb,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);
create index themes_user_idx on themes (user_id, id desc);

create table syntheses (
    id              uuid primary key,
    user_id         uuid not null,
    theme_id        uuid not null references themes (id) on delete cascade,
    job_id          uuid not null references jobs (id),
    status          text not null default 'pending'
                    check (status in ('pending', 'running', 'succeeded', 'failed', 'timeout', 'cancelled')),
    -- `manual` (a user asked) or `schedule` (the scheduler ran the theme's schedule).
    origin          text not null check (origin in ('manual', 'schedule')),
    schedule_id     uuid,
    -- The moment the schedule was due (scheduler's clock); its day is the run's day.
    scheduled_for   timestamptz,
    -- ISO week of the synthesis, `2026-W47`.
    week            text,
    title           text,
    -- [{title, summary, items: [{title, summary, url, source}]}]
    sections        jsonb,
    -- Per source: {type, value, status: ok | failed | skipped, items, error?}
    sources_report  jsonb,
    provider        text,
    model           text,
    tokens_input    integer,
    tokens_output   integer,
    error           jsonb,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);
create index syntheses_theme_idx on syntheses (theme_id, id desc);
-- The scheduler skips users with an active manual generation.
create index syntheses_active_idx on syntheses (user_id) where status in ('pending', 'running');

create table theme_schedules (
    id              uuid primary key,
    theme_id        uuid not null unique references themes (id) on delete cascade,
    user_id         uuid not null,
    enabled         boolean not null default true,
    -- ["mon", ..., "sun"]
    days            jsonb not null default '[]'::jsonb,
    -- HH:MM, UTC.
    time_utc        text not null default '08:00' check (time_utc ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
    -- At most 3 addresses.
    emails          jsonb not null default '[]'::jsonb,
    -- The due moment of the last successful run: at most one per day.
    last_run_at     timestamptz,
    -- The scheduler's bookkeeping: attempts on `attempt_day`, and when the next may start
    -- after a failed one (backoff).
    attempt_day     date,
    attempts_today  integer not null default 0,
    next_attempt_at timestamptz,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);
create index theme_schedules_enabled_idx on theme_schedules (enabled) where enabled;

create table email_deliveries (
    id              uuid primary key,
    user_id         uuid not null,
    synthesis_id    uuid not null references syntheses (id) on delete cascade,
    theme_id        uuid not null references themes (id) on delete cascade,
    recipient       text not null,
    -- pending -> sending -> sent; failed (permanent, or attempts exhausted); unknown (an
    -- attempt died mid-send: not sent again, so nobody gets it twice).
    status          text not null default 'pending'
                    check (status in ('pending', 'sending', 'sent', 'failed', 'unknown')),
    attempts        integer not null default 0,
    job_id          uuid references jobs (id),
    message_id      text not null,
    last_error      jsonb,
    sent_at         timestamptz,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    -- A recipient gets a synthesis once.
    constraint email_deliveries_once unique (synthesis_id, recipient)
);
create index email_deliveries_theme_idx on email_deliveries (theme_id, created_at desc);

alter table themes enable row level security;
alter table syntheses enable row level security;
alter table theme_schedules enable row level security;
alter table email_deliveries enable row level security;

create policy themes_owner on themes
    using (user_id = app_user_id()) with check (user_id = app_user_id());
create policy syntheses_owner on syntheses
    using (user_id = app_user_id()) with check (user_id = app_user_id());
create policy theme_schedules_owner on theme_schedules
    using (user_id = app_user_id()) with check (user_id = app_user_id());
create policy email_deliveries_owner on email_deliveries
    using (user_id = app_user_id()) with check (user_id = app_user_id());

grant select, insert, update, delete on themes to almanac_app;
grant select, insert on syntheses to almanac_app;
grant select, insert, delete on theme_schedules to almanac_app;
grant update (enabled, days, time_utc, emails, updated_at) on theme_schedules to almanac_app;
grant select on email_deliveries to almanac_app;

-- A synthesis ends with its job, however the job ends (as calendar runs do).
create function end_synthesis() returns trigger
    language plpgsql
as $$
begin
    update syntheses
    set status = new.status, error = coalesce(error, new.error), updated_at = now()
    where job_id = new.id and status in ('pending', 'running');
    return new;
end
$$;

create trigger jobs_end_synthesis
    after update of status on jobs
    for each row
    when (new.kind = 'synthesis' and new.status in ('succeeded', 'failed', 'timeout', 'cancelled')
          and old.status is distinct from new.status)
    execute function end_synthesis();

-- A delivery whose job ended without sending is `failed`; one whose attempt died while
-- sending is `unknown` (never sent again: a recipient must not get a synthesis twice).
create function end_email_delivery() returns trigger
    language plpgsql
as $$
begin
    update email_deliveries
    set status = case status when 'sending' then 'unknown' else 'failed' end,
        last_error = coalesce(last_error, new.error), updated_at = now()
    where job_id = new.id and status in ('pending', 'sending');
    return new;
end
$$;

create trigger jobs_end_email_delivery
    after update of status on jobs
    for each row
    when (new.kind = 'email' and new.status in ('failed', 'timeout', 'cancelled')
          and old.status is distinct from new.status)
    execute function end_email_delivery();
