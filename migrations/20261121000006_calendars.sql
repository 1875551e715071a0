-- Content calendars (seed 000): calendars, their versioned generation runs, the entries
-- each run generated, the saved entries (with the user's edits), and the changes a
-- regeneration proposes until the user accepts them.

create table calendars (
    id              uuid primary key,
    user_id         uuid not null,
    name            text not null check (char_length(name) between 1 and 200),
    -- The latest request: {channels, cadence, start, end, constraints}.
    request         jsonb not null,
    -- The version of the latest run (0 before the first).
    current_version integer not null default 0,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);
create index calendars_user_idx on calendars (user_id, id desc);

create table calendar_runs (
    id              uuid primary key,
    calendar_id     uuid not null references calendars (id) on delete cascade,
    user_id         uuid not null,
    -- The ledger job of a service run; legacy runs (CALENDAR_SERVICE_ENABLED=false) have none.
    job_id          uuid references jobs (id),
    version         integer not null check (version > 0),
    mode            text not null check (mode in ('service', 'legacy')),
    status          text not null default 'pending'
                    check (status in ('pending', 'running', 'succeeded', 'failed', 'timeout', 'cancelled')),
    request         jsonb not null,
    -- Slots the grid holds, and entries the run generated.
    slots           integer not null,
    entries         integer not null default 0,
    -- The first run of a calendar fills it directly; later runs propose changes.
    applies_directly boolean not null,
    latency_ms      bigint,
    tokens_input    integer not null default 0,
    tokens_output   integer not null default 0,
    provider        text,
    model           text,
    error           jsonb,
    -- A regeneration's change counts {added, updated, removed, conflicts}.
    diff            jsonb,
    created_at      timestamptz not null default now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    constraint calendar_runs_version_key unique (calendar_id, version)
);
-- At most one active generation per user, whichever API replica took the request.
create unique index calendar_runs_one_active on calendar_runs (user_id)
    where status in ('pending', 'running');
create index calendar_runs_job_idx on calendar_runs (job_id);

-- What each run generated, slot by slot (a retried attempt skips what is here).
create table calendar_run_entries (
    run_id          uuid not null references calendar_runs (id) on delete cascade,
    user_id         uuid not null,
    key             text not null,
    -- Order in the grid.
    position        integer not null,
    -- The slot and its content, as the stream carried it.
    entry           jsonb not null,
    primary key (run_id, key)
);

-- The calendar as the user sees it: accepted generated entries, edits, manual entries,
-- and deletions (tombstones, so that a regeneration does not bring them back).
create table calendar_entries (
    id              uuid primary key,
    calendar_id     uuid not null references calendars (id) on delete cascade,
    user_id         uuid not null,
    -- The slot key (`YYYY-MM-DD/<channel>/<n>`), or `manual/<id>` for a manual entry.
    key             text not null,
    channel         text not null,
    local_date      date not null,
    local_time      time not null,
    scheduled_at    timestamptz not null,
    title           text not null,
    caption         text not null default '',
    format          text not null default '',
    hashtags        text[] not null default '{}',
    call_to_action  text not null default '',
    origin          text not null check (origin in ('generated', 'manual')),
    -- The run whose content it holds (none for manual entries).
    run_id          uuid references calendar_runs (id) on delete set null,
    edited          boolean not null default false,
    edited_at       timestamptz,
    deleted_at      timestamptz,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint calendar_entries_key unique (calendar_id, key)
);
create index calendar_entries_schedule_idx on calendar_entries (calendar_id, scheduled_at, key)
    where deleted_at is null;

-- The changes a regeneration proposes; applied when the user accepts them.
create table calendar_changes (
    id              uuid primary key,
    run_id          uuid not null references calendar_runs (id) on delete cascade,
    calendar_id     uuid not null references calendars (id) on delete cascade,
    user_id         uuid not null,
    position        integer not null,
    kind            text not null check (kind in ('added', 'updated', 'removed')),
    key             text not null,
    -- Applying it would overwrite or remove the user's edit.
    conflict        boolean not null,
    before          jsonb,
    after           jsonb,
    applied_at      timestamptz,
    constraint calendar_changes_run_key unique (run_id, key)
);

alter table calendars enable row level security;
alter table calendar_runs enable row level security;
alter table calendar_run_entries enable row level security;
alter table calendar_entries enable row level security;
alter table calendar_changes enable row level security;

create policy calendars_owner on calendars
    using (user_id = app_user_id()) with check (user_id = app_user_id());
create policy calendar_runs_owner on calendar_runs
    using (user_id = app_user_id()) with check (user_id = app_user_id());
create policy calendar_run_entries_owner on calendar_run_entries
    using (user_id = app_user_id()) with check (user_id = app_user_id());
create policy calendar_entries_owner on calendar_entries
    using (user_id = app_user_id()) with check (user_id = app_user_id());
create policy calendar_changes_owner on calendar_changes
    using (user_id = app_user_id()) with check (user_id = app_user_id());

-- Users create calendars and runs, edit entries and accept changes; the legacy path
-- (in the API, as the user) also writes what a worker writes for a service run.
grant select, insert, update on calendars to almanac_app;
grant select, insert, update on calendar_runs to almanac_app;
grant select, insert on calendar_run_entries to almanac_app;
grant select, insert, update, delete on calendar_entries to almanac_app;
grant select, insert, update (applied_at) on calendar_changes to almanac_app;

-- A calendar run ends with its job, whoever ends the job (the worker, a cancel, or the
-- reconciler after a lost worker), so a user is never left blocked by a run that no
-- longer runs. The worker ends its runs itself first, with their figures; this only
-- catches the rest.
create function end_calendar_run() returns trigger
    language plpgsql
as $$
begin
    update calendar_runs
    set status = new.status, error = coalesce(error, new.error), finished_at = now()
    where job_id = new.id and status in ('pending', 'running');
    return new;
end
$$;

create trigger jobs_end_calendar_run
    after update of status on jobs
    for each row
    when (new.kind = 'calendar' and new.status in ('succeeded', 'failed', 'timeout', 'cancelled')
          and old.status is distinct from new.status)
    execute function end_calendar_run();
