-- One digest, no repeats (issue 37): every synthesis records the items it was given (a feed's
-- items, pages); a scheduled one leaves out those its schedule's emailed syntheses already
-- carried, matched on any of the item's GUID, normalised link or content hash (feeds rotate
-- GUIDs and edit dates). A run with nothing new sends nothing and says so on a delivery row
-- `skipped` with `reason`, unless the schedule's `send_when_empty` asks for a short mail.

create table synthesis_items (
    synthesis_id    uuid not null references syntheses (id) on delete cascade,
    user_id         uuid not null,
    -- The schedule of a scheduled synthesis; null for a manual one (it excludes nothing).
    schedule_id     uuid references theme_schedules (id) on delete cascade,
    position        integer not null,
    title           text not null,
    guid            text,
    link            text,
    content_hash    text not null,
    primary key (synthesis_id, position)
);
create index synthesis_items_guid_idx on synthesis_items (schedule_id, guid)
    where schedule_id is not null and guid is not null;
create index synthesis_items_link_idx on synthesis_items (schedule_id, link)
    where schedule_id is not null and link is not null;
create index synthesis_items_hash_idx on synthesis_items (schedule_id, content_hash)
    where schedule_id is not null;

alter table synthesis_items enable row level security;
create policy synthesis_items_owner on synthesis_items
    using (user_id = app_user_id()) with check (user_id = app_user_id());
grant select on synthesis_items to almanac_app;

-- Items a scheduled synthesis left out as already sent.
alter table syntheses add column items_left_out integer not null default 0;

alter table theme_schedules add column send_when_empty boolean not null default false;
grant update (send_when_empty) on theme_schedules to almanac_app;

alter table email_deliveries drop constraint email_deliveries_status_check;
alter table email_deliveries add constraint email_deliveries_status_check
    check (status in ('pending', 'sending', 'sent', 'failed', 'unknown', 'skipped'));
-- Why a delivery was `skipped` (`NOTHING_NEW`).
alter table email_deliveries add column reason text;
