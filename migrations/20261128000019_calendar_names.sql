-- A calendar's name is the user's once they set it: a regeneration recomputes only a
-- default name (from the topic, else the channels and dates), never one set by hand.
alter table calendars add column named_by_user boolean not null default false;
