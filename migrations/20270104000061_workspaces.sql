-- Workspaces (issue "A team shares a workspace"). Content, channels and keys belong to a
-- workspace; `user_id` stays on every row and means the person who made it. A person's
-- personal workspace has their id as its own, so every existing row is already in the
-- right workspace once `workspace_id` is copied from `user_id`.
create table workspaces (
    id          uuid primary key,
    name        text not null check (length(btrim(name)) between 1 and 80),
    personal    boolean not null default false,
    language    text not null default 'en' check (language in ('en', 'fr')),
    created_by  uuid not null,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    -- A personal workspace is its person's: its id is theirs.
    check (not personal or id = created_by)
);

-- Who belongs to a workspace, and as what. A personal workspace's one member is its
-- person, as `owner`.
create table workspace_members (
    workspace_id  uuid not null references workspaces (id) on delete cascade,
    user_id       uuid not null,
    role          text not null check (role in ('owner', 'admin', 'editor', 'viewer')),
    added_by      uuid,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    primary key (workspace_id, user_id)
);

create index workspace_members_user on workspace_members (user_id);

-- Invitations by email: the link's 256-bit token is kept only as its SHA-256 digest; used
-- once, valid until `expires_at` (`INVITATION_TTL_DAYS`), revocable.
create table workspace_invitations (
    id            uuid primary key,
    workspace_id  uuid not null references workspaces (id) on delete cascade,
    email         text not null
                  check (email = lower(btrim(email)) and length(email) between 3 and 320),
    role          text not null check (role in ('owner', 'admin', 'editor', 'viewer')),
    digest        bytea not null unique check (octet_length(digest) = 32),
    invited_by    uuid not null,
    created_at    timestamptz not null default now(),
    expires_at    timestamptz not null,
    accepted_at   timestamptz,
    accepted_by   uuid,
    revoked_at    timestamptz
);

-- One open invitation per address and workspace: inviting again replaces it.
create unique index workspace_invitations_open
    on workspace_invitations (workspace_id, email)
    where accepted_at is null and revoked_at is null;

-- The API manages workspaces on the service's connection, each statement naming the
-- member it acts for; requests acting as a person never read these tables.
alter table workspaces enable row level security;
alter table workspace_members enable row level security;
alter table workspace_invitations enable row level security;
revoke all on workspaces, workspace_members, workspace_invitations from almanac_app;

-- The workspace a request acts in: set with the person (`store::user_tx`), else the
-- person's personal one.
create or replace function app_workspace_id() returns uuid
    language sql stable
    as $$ select coalesce(nullif(current_setting('request.workspace', true), '')::uuid,
                          app_user_id()) $$;

grant execute on function app_workspace_id() to almanac_app;

-- Every tenant table: `workspace_id`, the personal workspace of the row's maker for what
-- exists, the request's workspace for what a request adds (the workers name it), and
-- row-level security on it. `idempotency_keys` stay a person's own (`Idempotency-Key` is
-- per person) but carry the workspace, so a deleted workspace leaves none behind.
do $$
declare
    t text;
begin
    foreach t in array array[
        'ai_generations', 'ai_suggestions', 'ai_usage', 'api_keys', 'brand_accounts',
        'brand_profiles', 'calendar_changes', 'calendar_entries', 'calendar_feeds',
        'calendar_run_entries', 'calendar_runs', 'calendars', 'cards', 'creative_assets',
        'email_deliveries', 'email_suppressions', 'evergreen_collections', 'idempotency_keys',
        'jobs', 'media', 'oauth_states', 'organic_placements', 'organic_run_items',
        'organic_runs', 'organic_trends', 'organic_week_drafts', 'platform_accounts',
        'post_metric_reads', 'post_metrics', 'publish_intents', 'publish_spool_replays',
        'syntheses', 'synthesis_items', 'theme_schedules', 'themes', 'webhook_attempts',
        'webhook_deliveries', 'webhook_endpoints'
    ] loop
        execute format('alter table %I add column workspace_id uuid', t);
        execute format('update %I set workspace_id = user_id', t);
        execute format(
            'alter table %I alter column workspace_id set not null, '
            'alter column workspace_id set default app_workspace_id()', t);
        if t <> 'idempotency_keys' then
            execute format('drop policy %I on %I', t || '_owner', t);
            execute format(
                'create policy %I on %I using (workspace_id = app_workspace_id()) '
                'with check (workspace_id = app_workspace_id())', t || '_workspace', t);
        end if;
    end loop;
end $$;

-- A row a worker adds under its parent (a run's entries, a digest's items, a delivery's
-- attempts, ...) is in its parent's workspace: a request names its workspace with the
-- person (the column's default), a worker acts as the service with no workspace set, so the
-- row takes its parent's. `TG_ARGV`: the parent's table and the column holding its id. A
-- row naming no workspace and no parent (a writer from before workspaces) is its maker's
-- personal workspace's, as every row was.
create function workspace_of_parent() returns trigger
    language plpgsql
    as $$
begin
    if new.workspace_id is null and tg_nargs = 2 then
        execute format('select workspace_id from %I where id = $1', tg_argv[0])
            into new.workspace_id
            using (to_jsonb(new) ->> tg_argv[1])::uuid;
    end if;
    new.workspace_id := coalesce(new.workspace_id, new.user_id);
    return new;
end $$;

do $$
declare
    child record;
begin
    for child in
        select * from (values
            ('ai_suggestions', 'ai_generations', 'generation_id'),
            ('calendar_entries', 'calendars', 'calendar_id'),
            ('calendar_runs', 'calendars', 'calendar_id'),
            ('calendar_run_entries', 'calendar_runs', 'run_id'),
            ('calendar_changes', 'calendars', 'calendar_id'),
            ('calendar_feeds', 'calendars', 'calendar_id'),
            ('organic_run_items', 'organic_runs', 'run_id'),
            ('organic_placements', 'organic_runs', 'run_id'),
            ('syntheses', 'themes', 'theme_id'),
            ('synthesis_items', 'syntheses', 'synthesis_id'),
            ('email_deliveries', 'syntheses', 'synthesis_id'),
            ('email_suppressions', 'themes', 'theme_id'),
            ('theme_schedules', 'themes', 'theme_id'),
            ('publish_intents', 'calendars', 'calendar_id'),
            ('post_metric_reads', 'publish_intents', 'intent_id'),
            ('post_metrics', 'publish_intents', 'intent_id'),
            ('webhook_deliveries', 'webhook_endpoints', 'endpoint_id'),
            ('webhook_attempts', 'webhook_deliveries', 'delivery_id')
        ) as c (tbl, parent, fk)
    loop
        execute format(
            'create trigger %I before insert on %I for each row '
            'when (new.workspace_id is null) execute function workspace_of_parent(%L, %L)',
            child.tbl || '_workspace', child.tbl, child.parent, child.fk);
    end loop;
    for child in
        select t as tbl from unnest(array[
            'ai_generations', 'ai_usage', 'api_keys', 'brand_accounts', 'brand_profiles',
            'calendars', 'cards', 'creative_assets', 'evergreen_collections',
            'idempotency_keys', 'jobs', 'media', 'oauth_states', 'organic_runs',
            'organic_trends', 'organic_week_drafts', 'platform_accounts',
            'publish_spool_replays', 'themes', 'webhook_endpoints'
        ]) as t
    loop
        execute format(
            'create trigger %I before insert on %I for each row '
            'when (new.workspace_id is null) execute function workspace_of_parent()',
            child.tbl || '_workspace', child.tbl);
    end loop;
end $$;

-- What was unique per person is unique per workspace: a brand, its accounts, trends and
-- weeks, a connected account, a card's sides.
alter table brand_accounts drop constraint brand_accounts_user_id_brand_id_fkey;
alter table organic_runs drop constraint organic_runs_user_id_brand_id_fkey;
alter table organic_placements drop constraint organic_placements_user_id_brand_id_fkey;
alter table organic_week_drafts drop constraint organic_week_drafts_user_id_brand_id_fkey;

alter table brand_profiles drop constraint brand_profiles_pkey,
    add primary key (workspace_id, id);
alter table brand_accounts drop constraint brand_accounts_pkey,
    add primary key (workspace_id, brand_id, account),
    add foreign key (workspace_id, brand_id) references brand_profiles (workspace_id, id)
        on delete cascade;
alter table organic_runs
    add foreign key (workspace_id, brand_id) references brand_profiles (workspace_id, id)
        on delete cascade;
alter table organic_placements drop constraint organic_placements_pkey,
    add primary key (workspace_id, brand_id, week_start, placement_id),
    add foreign key (workspace_id, brand_id) references brand_profiles (workspace_id, id)
        on delete cascade;
alter table organic_week_drafts drop constraint organic_week_drafts_pkey,
    add primary key (workspace_id, brand_id, week_start),
    add foreign key (workspace_id, brand_id) references brand_profiles (workspace_id, id)
        on delete cascade;
alter table organic_trends drop constraint organic_trends_pkey,
    add primary key (workspace_id, id);
alter table creative_assets drop constraint creative_assets_pkey,
    add primary key (workspace_id, id);

drop index organic_runs_one_active;
create unique index organic_runs_one_active on organic_runs (workspace_id, brand_id)
    where status in ('pending', 'running');

alter table platform_accounts drop constraint platform_accounts_key,
    add constraint platform_accounts_key unique (workspace_id, platform, account_id);

drop index cards_user_key;
create unique index cards_workspace_key on cards (workspace_id, key);

-- A day's AI use is counted per person and summed per workspace.
alter table ai_usage drop constraint ai_usage_pkey,
    add primary key (workspace_id, user_id, day, kind);

-- Lists read a workspace's rows, newest first.
drop index ai_generations_reuse_idx;
create index ai_generations_reuse_idx on ai_generations (workspace_id, source_hash, created_at desc);
drop index idx_ai_generations_user_created;
create index ai_generations_workspace_created on ai_generations (workspace_id, created_at desc, id desc);
drop index ai_suggestions_user_status_idx;
create index ai_suggestions_workspace_status on ai_suggestions (workspace_id, status);
drop index api_keys_user;
create index api_keys_workspace on api_keys (workspace_id, created_at);
drop index calendars_user_idx;
create index calendars_workspace on calendars (workspace_id, id desc);
drop index cards_user_created_idx;
create index cards_workspace_created on cards (workspace_id, created_at desc, id desc);
drop index evergreen_collections_user_idx;
create index evergreen_collections_workspace on evergreen_collections (workspace_id, id);
drop index jobs_user_created_idx;
create index jobs_workspace_created on jobs (workspace_id, created_at desc);
drop index jobs_user_id_idx;
create index jobs_workspace_id on jobs (workspace_id, id);
drop index media_user;
create index media_workspace on media (workspace_id, id desc);
drop index organic_placements_week_idx;
create index organic_placements_week on organic_placements (workspace_id, week_start);
drop index publish_intents_user_idx;
create index publish_intents_workspace on publish_intents (workspace_id, id desc);
drop index themes_user_idx;
create index themes_workspace on themes (workspace_id, id desc);
drop index webhook_endpoints_user;
create index webhook_endpoints_workspace on webhook_endpoints (workspace_id, created_at);
create index ai_usage_workspace_day on ai_usage (workspace_id, day);

-- Every person seen so far has their personal workspace.
insert into workspaces (id, name, personal, language, created_by)
select p.id, coalesce(u.name, 'Personal'), true, coalesce(u.language, 'en'), p.id
from (
    select id from users
    union select user_id from jobs
    union select user_id from calendars
    union select user_id from cards
    union select user_id from themes
    union select user_id from platform_accounts
    union select user_id from api_keys
    union select user_id from brand_profiles
    union select user_id from media
    union select user_id from webhook_endpoints
) p
left join users u on u.id = p.id
on conflict do nothing;

insert into workspace_members (workspace_id, user_id, role)
select id, id, 'owner' from workspaces where personal
on conflict do nothing;

-- Deletes a (team) workspace and everything in it: every table with a `workspace_id`.
create function delete_workspace(target uuid) returns void
    language plpgsql
    as $$
declare
    t text;
begin
    for t in
        select c.table_name from information_schema.columns c
        join information_schema.tables tb
          on tb.table_name = c.table_name and tb.table_schema = c.table_schema
        where c.table_schema = current_schema() and c.column_name = 'workspace_id'
          and tb.table_type = 'BASE TABLE'
          and c.table_name not in ('workspace_members', 'workspace_invitations')
    loop
        execute format('delete from %I where workspace_id = $1', t) using target;
    end loop;
    delete from workspaces where id = target;
end $$;

-- A generation's request acts in its workspace: the function sets it with the person, and
-- the job's fair key is the workspace.
drop function create_generation(uuid, uuid, jsonb, integer, jsonb, uuid, text, text, text, text,
                                text, jsonb, uuid, text[], text);

create function create_generation(
    p_user_id        uuid,
    p_job_id         uuid,
    p_job_payload    jsonb,
    p_max_attempts   integer,
    p_trace_context  jsonb,
    p_generation_id  uuid,
    p_source_text    text,
    p_model          text,
    p_prompt_version text,
    p_key            text,
    p_request_hash   text,
    p_response       jsonb,
    p_reused_from    uuid,
    p_card_types     text[],
    p_lane           text,
    p_workspace_id   uuid
) returns table (request_hash text, response jsonb)
    language plpgsql
    security invoker
as $$
begin
    perform set_config('role', 'almanac_app', true),
            set_config('request.jwt.claim.sub', p_user_id::text, true),
            set_config('request.workspace', p_workspace_id::text, true);
    if p_key is not null then
        insert into idempotency_keys as k (user_id, scope, key, request_hash, response_status,
                                           response, expires_at)
        values (p_user_id, 'generations', p_key, p_request_hash, 202, p_response,
                now() + interval '24 hours')
        on conflict (user_id, scope, key) do update
            set request_hash = excluded.request_hash, response = excluded.response,
                created_at = now(), expires_at = excluded.expires_at
            where k.expires_at <= now();
        if not found then
            return query select k.request_hash, k.response from idempotency_keys k
                where k.user_id = p_user_id and k.scope = 'generations' and k.key = p_key;
            return;
        end if;
    end if;
    insert into jobs (id, user_id, workspace_id, kind, status, payload, max_attempts,
                      trace_context, enqueued_at, lane, fairness_key)
    values (p_job_id, p_user_id, p_workspace_id, 'generation', 'pending', p_job_payload,
            p_max_attempts, p_trace_context, now(), p_lane, p_workspace_id);
    insert into ai_generations (id, user_id, job_id, source_text, model, prompt_version, status,
                                reused_from, card_types, source_hash)
    values (p_generation_id, p_user_id, p_job_id, p_source_text, p_model, p_prompt_version,
            'pending', p_reused_from, p_card_types, text_sha256(p_source_text));
end
$$;
