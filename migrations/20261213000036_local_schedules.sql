-- Schedules in their reader's time (issue 37): an IANA `timezone` with a local `time_local`
-- (HH:MM). Without a zone, `time_utc` is the time, as seed 004 has it; with one, `time_utc`
-- is not stored (answers give today's UTC equivalent) and the schedule's days, `skipped_day`
-- and `attempt_day` are local days.
alter table theme_schedules
    alter column time_utc drop not null,
    alter column time_utc drop default,
    add column timezone text check (timezone ~ '^[A-Za-z0-9_+/-]{1,64}$'),
    add column time_local text check (time_local ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
    -- The schedule is not due before this instant; null when the scheduler is still to work
    -- it out (a new or edited schedule, a run just ended). The due rule itself is the
    -- scheduler's (Rust, `domain::synthesis::is_due`): this only keeps each tick's reading to
    -- the schedules that may be due.
    add column due_at timestamptz,
    add constraint theme_schedules_one_time check (
        (timezone is null and time_local is null and time_utc is not null)
        or (timezone is not null and time_local is not null and time_utc is null));

create index theme_schedules_due_idx on theme_schedules (due_at nulls first) where enabled;
drop index theme_schedules_enabled_idx;

-- The owner edits the new fields; an edit has the scheduler work out `due_at` again.
grant update (timezone, time_local, due_at) on theme_schedules to almanac_app;
