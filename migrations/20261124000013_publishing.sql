-- Publishing (seed 001): channels (the organic issue's platform accounts with encrypted
-- credentials), OAuth connections in progress, publish intents, and the spooled publish
-- requests replayed after Postgres came back.

-- A channel is a platform account with credentials. Tokens are AES-256-GCM ciphertexts
-- (nonce, ciphertext and tag; the row id and the field name are the associated data, so a
-- ciphertext copied to another row or field does not decrypt): unreadable without
-- TOKEN_ENCRYPTION_KEY.
alter table platform_accounts
    add column status text not null default 'disconnected'
        check (status in ('connected', 'needs_reauth', 'disconnected')),
    -- Why the channel needs re-authorisation (the platform's words), for the user.
    add column status_reason text,
    add column access_token bytea,
    add column refresh_token bytea,
    add column token_expires_at timestamptz,
    add column refresh_expires_at timestamptz,
    -- When the access token was issued (Instagram refreshes only tokens a day old).
    add column token_issued_at timestamptz,
    add column scope text,
    add column connected_at timestamptz;

-- An authorisation started by `POST /v1/channels/{platform}/connect`: the callback, which
-- comes without a bearer token, is authenticated by this single-use, expiring state.
create table oauth_states (
    state           text primary key,
    user_id         uuid not null,
    platform        text not null check (platform in ('tiktok', 'instagram')),
    -- PKCE (TikTok): the verifier whose S256 challenge went to the authorize URL.
    code_verifier   text,
    expires_at      timestamptz not null,
    created_at      timestamptz not null default now()
);
create index oauth_states_expiry_idx on oauth_states (expires_at);

-- One intent per entry and channel: the seed's columns (id, calendar_id, run_id, user_id,
-- channel, payload, status, error, created_at) and the lifecycle's.
create table publish_intents (
    id              uuid primary key,
    user_id         uuid not null,
    -- No foreign keys to the calendar or entry: an intent is history, kept when they go,
    -- and a spooled request's refusal names what was asked for.
    calendar_id     uuid not null,
    entry_id        uuid,
    run_id          uuid,
    -- The platform (the entry's channel slug: `tiktok`, `instagram`, `linkedin`...).
    channel         text not null,
    -- The connected account it goes to (the channel's id).
    account         uuid references platform_accounts (id) on delete set null,
    mode            text not null check (mode in ('publish', 'draft')),
    dry_run         boolean not null,
    -- `now`, or `scheduled`: at the entry's time, following the entry when it moves.
    timing          text not null check (timing in ('now', 'scheduled')),
    -- When it publishes: the entry's time, or the moment it was asked for (`now`); none
    -- for a dry run of `now` or a request refused before it was planned.
    publish_at      timestamptz,
    -- The calendar's time zone, so the local time is shown as the user planned it.
    timezone        text not null default 'UTC',
    status          text not null
                    check (status in ('dry_run', 'scheduled', 'publishing', 'published',
                                      'draft_sent', 'failed', 'unknown', 'unconfirmed',
                                      'cancelled')),
    -- The requests a publish sends (method, url, body; secrets masked) and the options.
    payload         jsonb not null default '{}',
    -- {code, message, platformCode?, problems?}: never a bare "failed".
    error           jsonb,
    attempts        integer not null default 0,
    job_id          uuid references jobs (id),
    -- TikTok's publish_id or Instagram's container id, then the published post's id.
    remote_id       text,
    remote_post_id  text,
    -- Set (committed) before the request with an outside effect is sent, cleared when the
    -- platform answered that it was not applied: a later attempt that finds it set does not
    -- send again, it checks.
    sending_at      timestamptz,
    sent_at         timestamptz,
    unknown_since   timestamptz,
    checked_at      timestamptz,
    published_at    timestamptz,
    -- The spooled request this intent was replayed from.
    spool_id        uuid,
    request_id      text,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);
-- At most one unfinished (or published) real intent per entry and channel: a repeated
-- request finds it instead of publishing twice.
create unique index publish_intents_open on publish_intents (entry_id, account)
    where not dry_run and status not in ('failed', 'cancelled');
-- One dry run per entry and channel, refreshed by each dry run.
create unique index publish_intents_dry on publish_intents
    (entry_id, channel, coalesce(account, '00000000-0000-0000-0000-000000000000'::uuid))
    where dry_run;
create index publish_intents_user_idx on publish_intents (user_id, id desc);
create index publish_intents_calendar_idx on publish_intents (calendar_id, id desc);
-- What the dispatcher looks for.
create index publish_intents_due_idx on publish_intents (publish_at)
    where status = 'scheduled' and job_id is null;

-- Spooled requests replayed: one row each, written with the intents in one transaction,
-- so a replay happens once whoever replays and however often.
create table publish_spool_replays (
    spool_id        uuid primary key,
    user_id         uuid not null,
    replayed_at     timestamptz not null default now()
);

alter table oauth_states enable row level security;
alter table publish_intents enable row level security;
alter table publish_spool_replays enable row level security;

create policy oauth_states_owner on oauth_states
    using (user_id = app_user_id()) with check (user_id = app_user_id());
create policy publish_intents_owner on publish_intents
    using (user_id = app_user_id()) with check (user_id = app_user_id());
create policy publish_spool_replays_owner on publish_spool_replays
    using (user_id = app_user_id()) with check (user_id = app_user_id());

grant select, insert, delete on oauth_states to almanac_app;
grant select, insert, update on publish_intents to almanac_app;
grant select, insert on publish_spool_replays to almanac_app;

-- An entry edited or deleted by its owner: its scheduled intents follow it (a moved entry
-- moves its `scheduled` intents; a deleted one cancels them). Runs as the editor, under
-- row-level security.
create function follow_calendar_entry() returns trigger
    language plpgsql
as $$
begin
    if new.deleted_at is not null and old.deleted_at is null then
        update publish_intents
        set status = 'cancelled', updated_at = now(),
            error = jsonb_build_object('code', 'ENTRY_DELETED',
                                       'message', 'the calendar entry was deleted before it was published')
        where entry_id = new.id and status = 'scheduled' and not dry_run;
    elsif new.scheduled_at is distinct from old.scheduled_at then
        update publish_intents set publish_at = new.scheduled_at, updated_at = now()
        where entry_id = new.id and status = 'scheduled' and timing = 'scheduled'
          and job_id is null and not dry_run;
    end if;
    return new;
end
$$;

create trigger calendar_entries_follow
    after update of scheduled_at, deleted_at on calendar_entries
    for each row execute function follow_calendar_entry();

-- Entries gain the media a publish sends (`video_url` / `image_url`).
alter table calendar_entries add column media_url text
    check (media_url is null or char_length(media_url) between 1 and 2048);

-- A publish job that ends otherwise than by its handler (out of attempts, cancelled, its
-- worker lost for good) leaves no intent in between: one that never reached the platform
-- failed (or was cancelled before it started); one that may have reached it is
-- unconfirmed, because only the account can tell.
create function end_publish_job(p_job_id uuid, p_payload jsonb, p_status text, p_error jsonb)
    returns jsonb
    language sql
    security definer
    set search_path = public, pg_temp
as $$
    update publish_intents set
        status = case
            when status = 'unknown' or sending_at is not null or sent_at is not null then 'unconfirmed'
            when status = 'scheduled' and p_status = 'cancelled' then 'cancelled'
            else 'failed' end,
        error = case
            when status = 'unknown' or sending_at is not null or sent_at is not null then
                jsonb_build_object('code', 'PUBLISH_UNCONFIRMED',
                    'message', 'the publish may have reached the platform but could not be confirmed; check the account before retrying')
            else coalesce(p_error, error, jsonb_build_object('code', 'PUBLISH_' || upper(p_status),
                    'message', 'the publish job ended ' || p_status || ' before publishing'))
            end,
        updated_at = now()
    where id = (p_payload ->> 'intent_id')::uuid
      and job_id = p_job_id
      and status in ('scheduled', 'publishing', 'unknown');
    select jsonb_build_object('intent_id', i.id, 'status', i.status)
    from publish_intents i where i.id = (p_payload ->> 'intent_id')::uuid;
$$;

insert into job_kind_endings (kind, ending) values ('publish', 'end_publish_job');
revoke all on function end_publish_job(uuid, jsonb, text, jsonb) from public;
