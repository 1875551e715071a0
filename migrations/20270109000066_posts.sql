-- One post for every network (docs/posts.md): a post holds the text and media shared by its
-- entries, one entry per connected channel. An entry follows the post's value for each field
-- it has no variant of (`post_own` names those it has); what it publishes stays the entry's
-- own columns, so review, publishing and analytics read entries as before.
create table posts (
    id              uuid primary key,
    workspace_id    uuid not null default app_workspace_id(),
    calendar_id     uuid not null references calendars (id) on delete cascade,
    -- Who made it; `updated_by` who changed it last.
    user_id         uuid not null,
    updated_by      uuid not null,
    title           text not null check (char_length(title) between 1 and 200),
    -- No title was given: it was made from the caption's first line.
    title_derived   boolean not null default false,
    caption         text not null check (char_length(caption) <= 2200),
    hashtags        text[] not null default '{}' check (cardinality(hashtags) <= 30),
    call_to_action  text not null default '' check (char_length(call_to_action) <= 200),
    first_comment   text not null default '' check (char_length(first_comment) <= 2200),
    media_ids       uuid[] not null default '{}' check (cardinality(media_ids) <= 10),
    -- When its entries go, unless one was moved on its own.
    scheduled_at    timestamptz not null,
    -- Counts every change of the shared fields (the post's `ETag` carries it with each
    -- entry's version).
    version         bigint not null default 1,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    -- Deleted: its unpublished entries went with it, its published ones still name it.
    deleted_at      timestamptz
);
create index posts_calendar on posts (calendar_id, scheduled_at);

alter table posts enable row level security;
create policy posts_workspace on posts
    using (workspace_id = app_workspace_id()) with check (workspace_id = app_workspace_id());
grant select, insert, update, delete on posts to almanac_app;

create trigger posts_version before update on posts
    for each row execute function bump_version();
create trigger posts_updated_by before insert or update on posts
    for each row execute function stamp_updated_by();

-- An entry's post and the fields it has a variant of; its first comment (sent by the
-- platforms that take one, counted in what a review approves).
alter table calendar_entries
    add column post_id uuid references posts (id) on delete set null,
    add column post_own text[] not null default '{}'
        check (post_own <@ array['title', 'caption', 'hashtags', 'callToAction', 'mediaIds',
                                 'firstComment']::text[]),
    add column first_comment text not null default ''
        check (char_length(first_comment) <= 2200);
-- One live entry per channel of a post.
create unique index calendar_entries_post_channel on calendar_entries (post_id, channel_id)
    where post_id is not null and deleted_at is null;
create index calendar_entries_post on calendar_entries (post_id) where post_id is not null;

-- What a review approves gains the first comment. Without one the hash is the one before,
-- so that no approval made before this migration is lost.
alter table calendar_entries drop column content_hash;
drop function entry_content_hash(text, text, text[], text, text, uuid[]);
create function entry_content_hash(title text, caption text, hashtags text[],
        call_to_action text, media_url text, media_ids uuid[], first_comment text) returns text
    language sql immutable
    as $$
    select encode(sha256(convert_to(case when first_comment = ''
        then jsonb_build_array(title, caption, to_jsonb(hashtags), call_to_action, media_url,
                               to_jsonb(media_ids))::text
        else jsonb_build_array(title, caption, to_jsonb(hashtags), call_to_action, media_url,
                               to_jsonb(media_ids), first_comment)::text
        end, 'UTF8')), 'hex')
$$;
grant execute on function entry_content_hash(text, text, text[], text, text, uuid[], text)
    to almanac_app;
alter table calendar_entries
    add column content_hash text generated always as (entry_content_hash(title, caption,
        hashtags, call_to_action, media_url, media_ids, first_comment)) stored;

-- A change of the first comment is a change of what is published (`content_version`, the
-- review sent back, the provenance stamped), as a caption's is.
create or replace function entry_content_changed() returns trigger
    language plpgsql
    as $$
begin
    if (new.title, new.caption, new.hashtags, new.call_to_action, new.media_url, new.media_ids,
        new.first_comment)
        is distinct from
       (old.title, old.caption, old.hashtags, old.call_to_action, old.media_url, old.media_ids,
        old.first_comment)
    then
        new.content_version := old.content_version + 1;
        new.approved_version := null;
        new.approved_hash := null;
        if old.review_status in ('approved', 'in_review') then
            new.review_status := 'not_requested';
            new.review_step := null;
        end if;
    end if;
    return new;
end $$;

create or replace function stamp_made_via() returns trigger
    language plpgsql
    as $$
declare
    key_id uuid := nullif(current_setting('request.key', true), '')::uuid;
begin
    if tg_op = 'UPDATE' and (new.title, new.caption, new.hashtags, new.call_to_action,
                             new.media_url, new.media_ids, new.first_comment)
        is not distinct from (old.title, old.caption, old.hashtags, old.call_to_action,
                              old.media_url, old.media_ids, old.first_comment) then
        return new;
    end if;
    new.made_via := coalesce(nullif(current_setting('request.via', true), ''), 'worker');
    new.made_key_name := (select k.name from api_keys k where k.id = key_id);
    return new;
end $$;
