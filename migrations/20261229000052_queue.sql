-- The posting queue (issue 57): a queued intent is a `scheduled` one placed in one of its
-- channel's slots. Never two in one slot of a channel, whichever process queues them.
-- An evergreen repeat (`evergreen_id`) is an entry published again: it does not follow its
-- entry's time, and an entry may have one unfinished repeat per channel besides the intent
-- that first published it.
alter table publish_intents
    add column queued boolean not null default false,
    add column evergreen_id uuid;

create unique index publish_intents_queue_slot on publish_intents (account, publish_at)
    where queued and status = 'scheduled' and not dry_run;

drop index publish_intents_open;
create unique index publish_intents_open on publish_intents (entry_id, account)
    where not dry_run and status not in ('failed', 'cancelled') and evergreen_id is null;
create unique index publish_intents_open_repeat on publish_intents (entry_id, account)
    where not dry_run and evergreen_id is not null
      and status in ('scheduled', 'publishing', 'unknown');

-- A queued entry moved by hand leaves its slot (which stays empty until the queue is
-- shuffled): its intent follows it, no longer queued. Repeats keep their own time.
create or replace function follow_calendar_entry() returns trigger
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
        update publish_intents set publish_at = new.scheduled_at, queued = false,
            updated_at = now()
        where entry_id = new.id and status = 'scheduled' and timing = 'scheduled'
          and job_id is null and not dry_run and evergreen_id is null;
    end if;
    return new;
end
$$;
