-- Runtime feature flags (seed 001, "Flags & Modes" and "Rollback Steps"): an operator
-- overrides CALENDAR_SERVICE_ENABLED and PUBLISH_SERVICE_ENABLED without a restart.
--
-- A flag without a row here takes each process's environment default. Every change is
-- kept in feature_flag_changes (who, when, from, to, note), written by the same statement
-- that changes the flag. Not user-owned: only the service role (the table owner, which
-- the admin endpoints and the `flags` command use) reads or writes them; almanac_app has
-- no grant.

create table feature_flags (
    name        text primary key
                check (name in ('CALENDAR_SERVICE_ENABLED', 'PUBLISH_SERVICE_ENABLED')),
    -- `users`: on for the listed users only (the seed's "enable for limited users").
    state       text not null check (state in ('on', 'off', 'users')),
    users       uuid[] not null default '{}',
    note        text,
    updated_at  timestamptz not null default now(),
    -- `service_role`, `admin-token` or `cli:<operator>`.
    updated_by  text not null,
    check ((state = 'users') = (cardinality(users) > 0))
);

create table feature_flag_changes (
    id          bigint generated always as identity primary key,
    name        text not null,
    actor       text not null,
    at          timestamptz not null default now(),
    -- null: the environment default (no override).
    from_state  text,
    from_users  uuid[],
    to_state    text,
    to_users    uuid[],
    note        text
);
create index feature_flag_changes_name_idx on feature_flag_changes (name, id);

-- Every process LISTENs on `almanac_flags` and reloads the flags when told; the trigger
-- also covers a change made by hand in psql. A missed notification (a dropped listener
-- connection) is healed by each process's periodic reload.
create function feature_flags_notify() returns trigger
    language plpgsql
    as $$
begin
    perform pg_notify('almanac_flags', coalesce(new.name, old.name));
    return null;
end
$$;

create trigger feature_flags_changed
    after insert or update or delete on feature_flags
    for each row execute function feature_flags_notify();
