-- Live calendar feeds: a calendar's secret address (`/feeds/<token>.ics`), which calendar
-- applications subscribe to without a header. Only the token's SHA-256 digest is kept: the
-- address is shown when it is made, and a new one replaces it.
create table calendar_feeds (
    calendar_id     uuid primary key references calendars (id) on delete cascade,
    user_id         uuid not null,
    token_digest    bytea not null unique check (octet_length(token_digest) = 32),
    created_at      timestamptz not null default now()
);

alter table calendar_feeds enable row level security;
create policy calendar_feeds_owner on calendar_feeds
    using (user_id = app_user_id()) with check (user_id = app_user_id());
grant select, insert, update, delete on calendar_feeds to almanac_app;

-- An entry's revision (iCalendar's SEQUENCE): raised by every change a subscriber would
-- see, its content and time, and its publishing's progress.
alter table calendar_entries add column sequence integer not null default 0;

create function calendar_entry_revised() returns trigger
    language plpgsql
as $$
begin
    new.sequence := old.sequence + 1;
    return new;
end
$$;
create trigger calendar_entries_revised before update on calendar_entries
    for each row
    when ((old.title, old.caption, old.format, old.hashtags, old.call_to_action, old.channel,
           old.scheduled_at, old.local_date, old.local_time, old.media_url, old.deleted_at)
          is distinct from
          (new.title, new.caption, new.format, new.hashtags, new.call_to_action, new.channel,
           new.scheduled_at, new.local_date, new.local_time, new.media_url, new.deleted_at))
    execute function calendar_entry_revised();

create function calendar_entry_publishing_changed() returns trigger
    language plpgsql
    security definer
    set search_path = public, pg_temp
as $$
begin
    update calendar_entries set sequence = sequence + 1 where id = new.entry_id;
    return null;
end
$$;
create trigger publish_intents_revise_entry after update of status on publish_intents
    for each row
    when (not new.dry_run and new.entry_id is not null and old.status is distinct from new.status)
    execute function calendar_entry_publishing_changed();
create trigger publish_intents_revise_entry_inserted after insert on publish_intents
    for each row
    when (not new.dry_run and new.entry_id is not null)
    execute function calendar_entry_publishing_changed();
