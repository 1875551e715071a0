-- The organic week (seed 003): the brand library (brand profiles, platform accounts linked
-- to brands, trends/questions/events, creative assets), generation runs with what each
-- produced, and the saved week's placements, one per (user, brand, week, placementId).
--
-- Library ids are the client's (seed 003's `brand_123`, `trend-101`, `asset_991`) or
-- generated, unique per user and resource: the primary keys are (user_id, id).

create table brand_profiles (
    user_id         uuid not null,
    id              text not null check (id ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    name            text not null check (char_length(name) between 1 and 200),
    -- IANA; the default time zone of the brand's requests.
    timezone        text not null,
    voice           text,
    guidance        text,
    -- The brand's own hashtags, placed in every placement's `low` tier.
    hashtags        text[] not null default '{}',
    -- The local posting window conflict shifting stays inside.
    window_start    time not null default '07:00',
    window_end      time not null default '22:00',
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    primary key (user_id, id),
    check (window_start < window_end)
);

-- One row per platform account of a user, whichever brands it is linked to. Publishing
-- (seed 001) attaches its credentials to these same rows.
create table platform_accounts (
    id              uuid primary key,
    user_id         uuid not null,
    platform        text not null
                    check (platform in ('instagram', 'linkedin', 'facebook', 'tiktok', 'youtube')),
    account_id      text not null check (char_length(account_id) between 1 and 200),
    handle          text,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint platform_accounts_key unique (user_id, platform, account_id)
);

create table brand_accounts (
    user_id         uuid not null,
    brand_id        text not null,
    account         uuid not null references platform_accounts (id) on delete cascade,
    created_at      timestamptz not null default now(),
    primary key (user_id, brand_id, account),
    foreign key (user_id, brand_id) references brand_profiles (user_id, id) on delete cascade
);
create index brand_accounts_account_idx on brand_accounts (account);

create table organic_trends (
    user_id         uuid not null,
    id              text not null check (id ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    kind            text not null check (kind in ('trend', 'question', 'event')),
    title           text not null check (char_length(title) between 1 and 200),
    description     text,
    keywords        text[] not null default '{}',
    -- Higher first when the preset picks trends.
    priority        integer not null default 0,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    primary key (user_id, id)
);

create table creative_assets (
    user_id         uuid not null,
    id              text not null check (id ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    kind            text not null check (kind in ('image', 'video', 'carousel', 'document')),
    title           text not null check (char_length(title) between 1 and 200),
    tags            text[] not null default '{}',
    url             text,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    primary key (user_id, id)
);

create table organic_runs (
    id              uuid primary key,
    user_id         uuid not null,
    brand_id        text not null,
    week_start      date not null,
    job_id          uuid not null references jobs (id),
    status          text not null default 'pending'
                    check (status in ('pending', 'running', 'succeeded', 'failed', 'timeout', 'cancelled')),
    -- The request as the client sent it (the worker parses it again).
    request         jsonb not null,
    created_at      timestamptz not null default now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    foreign key (user_id, brand_id) references brand_profiles (user_id, id) on delete cascade
);
-- One active generation per brand, whichever API replica took the request.
create unique index organic_runs_one_active on organic_runs (user_id, brand_id)
    where status in ('pending', 'running');
create index organic_runs_job_idx on organic_runs (job_id);

-- What a run produced, placement by placement, as its stream carried it: a retried
-- attempt skips these, and the run's counts are read here.
create table organic_run_items (
    run_id          uuid not null references organic_runs (id) on delete cascade,
    user_id         uuid not null,
    placement_id    text not null,
    outcome         text not null check (outcome in ('placement', 'error')),
    adjusted        boolean not null default false,
    auto            boolean not null default false,
    primary key (run_id, placement_id)
);

-- The saved week.
create table organic_placements (
    user_id         uuid not null,
    brand_id        text not null,
    week_start      date not null,
    placement_id    text not null,
    -- A platform's name or `newsletter`; the account is null for the newsletter.
    platform        text not null,
    account_id      text,
    scheduled_at    timestamptz not null,
    -- The request's time zone, which the placement's day and time of day are read in.
    timezone        text not null,
    -- The placement as the stream carried it (seed 003's shape).
    placement       jsonb not null,
    run_id          uuid references organic_runs (id) on delete set null,
    edited          boolean not null default false,
    edited_at       timestamptz,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    primary key (user_id, brand_id, week_start, placement_id),
    foreign key (user_id, brand_id) references brand_profiles (user_id, id) on delete cascade
);
-- Conflicts are looked up per user and week, across brands sharing an account.
create index organic_placements_week_idx on organic_placements (user_id, week_start);

alter table brand_profiles enable row level security;
alter table platform_accounts enable row level security;
alter table brand_accounts enable row level security;
alter table organic_trends enable row level security;
alter table creative_assets enable row level security;
alter table organic_runs enable row level security;
alter table organic_run_items enable row level security;
alter table organic_placements enable row level security;

create policy brand_profiles_owner on brand_profiles
    using (user_id = app_user_id()) with check (user_id = app_user_id());
create policy platform_accounts_owner on platform_accounts
    using (user_id = app_user_id()) with check (user_id = app_user_id());
create policy brand_accounts_owner on brand_accounts
    using (user_id = app_user_id()) with check (user_id = app_user_id());
create policy organic_trends_owner on organic_trends
    using (user_id = app_user_id()) with check (user_id = app_user_id());
create policy creative_assets_owner on creative_assets
    using (user_id = app_user_id()) with check (user_id = app_user_id());
create policy organic_runs_owner on organic_runs
    using (user_id = app_user_id()) with check (user_id = app_user_id());
create policy organic_run_items_owner on organic_run_items
    using (user_id = app_user_id()) with check (user_id = app_user_id());
create policy organic_placements_owner on organic_placements
    using (user_id = app_user_id()) with check (user_id = app_user_id());

grant select, insert, update, delete on brand_profiles to almanac_app;
grant select, insert, update, delete on platform_accounts to almanac_app;
grant select, insert, delete on brand_accounts to almanac_app;
grant select, insert, update, delete on organic_trends to almanac_app;
grant select, insert, update, delete on creative_assets to almanac_app;
grant select, insert on organic_runs to almanac_app;
grant select on organic_run_items to almanac_app;
grant select on organic_placements to almanac_app;
grant update (scheduled_at, placement, edited, edited_at, updated_at) on organic_placements to almanac_app;

-- A run's summary: the final `complete` line's counts and ids.
create function organic_run_summary(p_run_id uuid) returns jsonb
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
    from organic_runs r left join organic_run_items i on i.run_id = r.id
    where r.id = p_run_id
    group by r.id;
$$;

-- Organic runs end with their job, keeping what they produced; the job keeps the summary.
create function end_organic_job(p_job_id uuid, p_payload jsonb, p_status text, p_error jsonb)
    returns jsonb
    language sql
    security definer
    set search_path = public, pg_temp
as $$
    update organic_runs set status = p_status, finished_at = now()
    where id = (p_payload ->> 'run_id')::uuid and status in ('pending', 'running');
    select organic_run_summary((p_payload ->> 'run_id')::uuid);
$$;

insert into job_kind_endings (kind, ending) values ('organic', 'end_organic_job');
revoke all on function end_organic_job(uuid, jsonb, text, jsonb) from public;
