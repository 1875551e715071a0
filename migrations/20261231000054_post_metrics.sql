-- What worked (issue 58): a published post's metrics as its platform reported them, one row
-- per reading (`1h`, `24h` and `7d` after publishing, each once; `manual` ones on demand).
-- A reading the platform answered empty is kept as empty (`empty`), not asked again.
create table post_metrics (
    id              uuid primary key,
    intent_id       uuid not null references publish_intents (id) on delete cascade,
    user_id         uuid not null,
    -- The channel the post went out on.
    account         uuid references platform_accounts (id) on delete set null,
    reading         text not null check (reading in ('1h', '24h', '7d', 'manual')),
    read_at         timestamptz not null default now(),
    empty           boolean not null default false,
    views           bigint check (views >= 0),
    impressions     bigint check (impressions >= 0),
    likes           bigint check (likes >= 0),
    comments        bigint check (comments >= 0),
    shares          bigint check (shares >= 0),
    saves           bigint check (saves >= 0),
    -- The platform's own reach, where it has one.
    reach           bigint check (reach >= 0),
    -- The channel's followers when read (the reach base of last resort).
    followers       bigint check (followers >= 0)
);
create unique index post_metrics_once on post_metrics (intent_id, reading)
    where reading <> 'manual';
create index post_metrics_account_idx on post_metrics (account, read_at desc);

alter table post_metrics enable row level security;
create policy post_metrics_owner on post_metrics
    using (user_id = app_user_id()) with check (user_id = app_user_id());
grant select on post_metrics to almanac_app;
