-- Working together (docs/workspaces.md, "Activity" and "Edit conflicts").
--
-- `activity`: one row per change a request made in a workspace (every non-GET operation
-- that answered 2xx), naming who made it: the person, the API key (its name kept as it
-- was, so a revoked key's changes still read), or the agent (an MCP tool, on the person's
-- or key's behalf). Written by the API's own connection after the operation answered
-- (`crate::middleware::activity`); read by members with `GET /v1/workspaces/{id}/activity`;
-- rows older than `ACTIVITY_RETENTION_DAYS` are swept by the reconciler. A deleted
-- workspace's rows go with it (`delete_workspace` empties every table with a
-- `workspace_id`).
create table activity (
    id            uuid primary key,
    workspace_id  uuid not null,
    at            timestamptz not null default now(),
    -- The person: the caller, a key's maker, or the person an agent acts for.
    actor_id      uuid not null,
    actor_kind    text not null check (actor_kind in ('person', 'key', 'agent')),
    key_id        uuid,
    key_name      text check (char_length(key_name) between 1 and 100),
    -- The MCP tool that made the call (`agent` only).
    tool          text check (char_length(tool) between 1 and 64),
    -- The operation (its `operationId`), its method and route template.
    action        text not null check (char_length(action) between 1 and 64),
    method        text not null check (method in ('POST', 'PUT', 'PATCH', 'DELETE')),
    route         text not null check (char_length(route) between 1 and 200),
    -- What it changed: the path's parameters by name, and `created`, the id of what a
    -- creation made.
    target        jsonb not null default '{}',
    calendar_id   uuid,
    status        smallint not null check (status between 200 and 299),
    request_id    text check (char_length(request_id) <= 128)
);

create index activity_workspace_at on activity (workspace_id, at desc, id desc);
create index activity_at on activity (at);

alter table activity enable row level security;
create policy activity_workspace on activity
    using (workspace_id = app_workspace_id()) with check (workspace_id = app_workspace_id());
grant select on activity to almanac_app;

-- `version`: counts every change of a calendar or an entry (its `ETag`; a `PATCH` with an
-- older `If-Match` is 412 `EDIT_CONFLICT`). A calendar changes with each of its entries
-- (the routes that change an entry touch the calendar) and with each regeneration.
alter table calendars add column version bigint not null default 1;
alter table calendar_entries add column version bigint not null default 1;

create function bump_version() returns trigger
    language plpgsql
    as $$
begin
    if row(new.*) is distinct from row(old.*) then
        new.version := old.version + 1;
    end if;
    return new;
end $$;

create trigger calendars_version before update on calendars
    for each row execute function bump_version();
create trigger calendar_entries_version before update on calendar_entries
    for each row execute function bump_version();
