-- Evergreen collections (issue 57): entries posted again on their channels whenever a
-- channel's queue has nothing else, no sooner than `min_gap_days` after the entry last
-- went out there. With `variation = 'ai'` each repeat's text is rewritten, and kept on
-- its intent (`payload.variant`), so no text repeats on a channel within the gap.
create table evergreen_collections (
    id              uuid primary key,
    user_id         uuid not null,
    name            text not null check (char_length(name) between 1 and 200),
    channel_ids     uuid[] not null check (cardinality(channel_ids) between 1 and 20),
    entry_ids       uuid[] not null check (cardinality(entry_ids) between 1 and 500),
    min_gap_days    integer not null check (min_gap_days between 1 and 365),
    variation       text not null check (variation in ('none', 'ai')),
    paused          boolean not null default false,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);
create index evergreen_collections_user_idx on evergreen_collections (user_id, id);
create index evergreen_collections_live_idx on evergreen_collections (id) where not paused;

alter table evergreen_collections enable row level security;
create policy evergreen_collections_owner on evergreen_collections
    using (user_id = app_user_id()) with check (user_id = app_user_id());
grant select, insert, update, delete on evergreen_collections to almanac_app;

-- When an entry last went out (or is to) on a channel: what the gap is counted from.
create index publish_intents_entry_account_idx on publish_intents (entry_id, account)
    where not dry_run;
